package bunstore_test

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/partflow/partflow/parts"
	"github.com/partflow/partflow/storage/bunstore"
)

// TestSearchPlansAgree runs the same searches with the page chosen by the
// search index and by SQLite, and checks each page and total against a
// brute-force answer computed in Go.
func TestSearchPlansAgree(t *testing.T) {
	ctx := t.Context()
	s, err := bunstore.Open(ctx, "sqlite://:memory:", nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })

	// 240 parts; every third mentions "alpha" in some field, a few
	// "zeta"; created_at, updated_at and name have many ties so that the
	// id tie-break matters.
	base := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	categories := []parts.Category{parts.CategoryReview, parts.CategoryCNC, parts.CategoryHand, parts.CategoryCompleted}
	var all []*parts.Part
	err = s.Update(ctx, func(ctx context.Context, tx parts.Tx) error {
		for i := range 240 {
			p := &parts.Part{
				PartID:    fmt.Sprintf("P-%03d", (i*37)%240),
				Name:      []string{"Plate", "Shaft", "Hub", "Gear"}[i%4],
				Material:  []string{"Steel", "Delrin", "PLA"}[i%3],
				Subsystem: "Drive",
				Amount:    1,
				Category:  categories[i%4],
				Status:    parts.StatusPending,
				CreatedAt: base.Add(time.Duration(i/3) * time.Hour),
				UpdatedAt: base.Add(time.Duration((i*7)%50) * time.Minute),
				Version:   1,
				Model:     parts.Model{State: parts.ModelNone},
			}
			switch {
			case i%3 == 0:
				p.Notes = "Cut from Alpha stock."
			case i%3 == 1 && i%2 == 0:
				p.Name += " ALPHA"
			case i%29 == 0:
				p.Notes = "zeta"
			}
			if err := tx.CreatePart(ctx, p); err != nil {
				return err
			}
			all = append(all, p)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}

	key := map[parts.SortField]func(p *parts.Part) string{
		parts.SortCreatedAt: func(p *parts.Part) string { return p.CreatedAt.Format(stamp) },
		parts.SortUpdatedAt: func(p *parts.Part) string { return p.UpdatedAt.Format(stamp) },
		parts.SortName:      func(p *parts.Part) string { return p.Name },
		parts.SortPartID:    func(p *parts.Part) string { return p.PartID },
		parts.SortID:        func(p *parts.Part) string { return fmt.Sprintf("%09d", p.ID) },
		parts.SortMaterial:  func(p *parts.Part) string { return p.Material },
	}
	want := func(f parts.Filter) ([]int64, int) {
		var m []*parts.Part
		q := strings.ToLower(f.Search)
		for _, p := range all {
			text := strings.ToLower(strings.Join([]string{p.PartID, p.Name, p.Notes, p.Subsystem, p.Assigned, p.Material}, "\x00"))
			if strings.Contains(text, q) && (f.Category == "" || p.Category == f.Category) {
				m = append(m, p)
			}
		}
		slices.SortFunc(m, func(a, b *parts.Part) int {
			c := cmp.Or(cmp.Compare(key[f.SortBy](a), key[f.SortBy](b)), cmp.Compare(a.ID, b.ID))
			if !f.Asc {
				c = -c
			}
			return c
		})
		total := len(m)
		m = m[min(f.Offset, len(m)):]
		if f.Limit > 0 {
			m = m[:min(f.Limit, len(m))]
		}
		ids := []int64{}
		for _, p := range m {
			ids = append(ids, p.ID)
		}
		return ids, total
	}

	for _, inSQL := range []bool{false, true} {
		t.Run(fmt.Sprintf("sorted in SQL %v", inSQL), func(t *testing.T) {
			defer bunstore.SortSearchesInSQL(inSQL)()
			for _, search := range []string{"alpha", "ZETA", "al", "nothing-like-this"} {
				for sortBy := range key {
					for _, cat := range []parts.Category{"", parts.CategoryCNC} {
						for _, asc := range []bool{false, true} {
							for _, page := range [][2]int{{7, 0}, {7, 5}, {50, 30}, {0, 0}, {0, 12}, {5, 1000}} {
								f := parts.Filter{Search: search, Category: cat, SortBy: sortBy, Asc: asc, Limit: page[0], Offset: page[1]}
								ps, total, err := s.FindParts(ctx, f)
								if err != nil {
									t.Fatalf("%+v: %v", f, err)
								}
								ids := []int64{}
								for _, p := range ps {
									ids = append(ids, p.ID)
								}
								wantIDs, wantTotal := want(f)
								if total != wantTotal || !slices.Equal(ids, wantIDs) {
									t.Errorf("%+v: got total %d ids %v, want %d %v", f, total, ids, wantTotal, wantIDs)
								}
								checkVersions(t, s, f, ps, total)
							}
						}
					}
				}
			}
		})
	}
}

// stamp formats times so that string order is time order.
const stamp = "2006-01-02T15:04:05.000000"

// checkVersions checks that FindVersions lists the parts FindParts gave for
// f, in order, at their versions, with the same total, or is unsupported.
func checkVersions(t *testing.T, s *bunstore.Store, f parts.Filter, ps []*parts.Part, total int) {
	t.Helper()
	vs, n, err := s.FindVersions(context.Background(), f)
	if errors.Is(err, errors.ErrUnsupported) {
		return
	}
	if err != nil {
		t.Fatalf("FindVersions(%+v): %v", f, err)
	}
	want := make([]parts.PartVersion, len(ps))
	for i, p := range ps {
		want[i] = parts.PartVersion{ID: p.ID, Version: p.Version}
	}
	if n != total || !slices.Equal(vs, want) {
		t.Errorf("FindVersions(%+v) = %v total %d, want %v total %d", f, vs, n, want, total)
	}
}
