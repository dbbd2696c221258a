package partstest

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/partflow/partflow/parts"
)

// RunStore runs the parts.Store conformance suite. newStore must return a new,
// empty store each time it is called; RunStore closes every store it gets.
func RunStore(t *testing.T, newStore func(t *testing.T) parts.Store) {
	t.Helper()
	tests := []struct {
		name string
		fn   func(t *testing.T, e *env)
	}{
		{"created part round-trips every field", testRoundTrip},
		{"missing part gives ErrNotFound", testNotFound},
		{"stale version gives ErrConflict and writes nothing", testStaleVersion},
		{"failed Update rolls back and returns fn's error", testRollback},
		{"ids are not reused after delete", testNoIDReuse},
		{"imported parts keep their ids and new ids go above them", testImportIDs},
		{"racing claims have exactly one winner", testRacingClaims},
		{"concurrent updates lose nothing", testConcurrentUpdates},
		{"category filter returns only that category", testCategoryFilter},
		{"search matches case-insensitive substrings literally", testSearch},
		{"search follows updates and deletes", testSearchFollowsWrites},
		{"search covers exactly the searched fields", testSearchedFields},
		{"every sort order pages stably", testSortAndPaging},
		{"totals count every match before paging", testTotals},
		{"stats follow creates updates and deletes", testStats},
		{"history is oldest first with the changes", testHistory},
		{"jobs are claimed oldest first exactly once", testJobs},
		{"concurrent NextJob never hands out a job twice", testJobsConcurrent},
		{"times are UTC with microsecond precision", testTimes},
		{"cancelled context gives an error", testCancelled},
		{"returned parts are copies", testNoAliasing},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := closedAtEnd(t, newStore(t))
			clk := &clock{t: time.Date(2025, 3, 14, 9, 26, 53, 589793000, time.FixedZone("UTC+5:30", 5*3600+1800))}
			e := &env{ctx: t.Context(), store: s, svc: parts.NewService(s, &parts.Options{Now: clk.now}), clk: clk}
			tc.fn(t, e)
		})
	}
}

// closedAtEnd closes s when t ends, failing t if Close fails, and returns s.
func closedAtEnd(t *testing.T, s parts.Store) parts.Store {
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return s
}

type env struct {
	ctx   context.Context
	store parts.Store
	svc   *parts.Service
	clk   *clock
}

// clock is a deterministic clock in a non-UTC zone that advances by a little
// over a second, with sub-microsecond digits, on every reading.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(time.Second + 1234*time.Microsecond + 567*time.Nanosecond)
	return c.t
}

// sample returns a valid new part.
func sample(i int) *parts.Part {
	return &parts.Part{
		PartID:    fmt.Sprintf("P-%03d", i),
		Name:      fmt.Sprintf("bracket %d", i),
		Type:      parts.TypeCNC,
		Material:  "aluminum",
		Subsystem: "drive",
		Amount:    1 + i%4,
	}
}

func (e *env) create(t *testing.T, p *parts.Part) *parts.Part {
	t.Helper()
	out, err := e.svc.CreatePart(e.ctx, p, "tester")
	if err != nil {
		t.Fatalf("CreatePart(%s): %v", p.PartID, err)
	}
	return out
}

// put stores p as it is, straight through a Tx, and returns its id.
func (e *env) put(t *testing.T, p *parts.Part) int64 {
	t.Helper()
	err := e.store.Update(e.ctx, func(ctx context.Context, tx parts.Tx) error {
		return tx.CreatePart(ctx, p)
	})
	if err != nil {
		t.Fatalf("Tx.CreatePart: %v", err)
	}
	return p.ID
}

func (e *env) get(t *testing.T, id int64) *parts.Part {
	t.Helper()
	p, err := e.store.FindPartByID(e.ctx, id)
	if err != nil {
		t.Fatalf("FindPartByID(%d): %v", id, err)
	}
	return p
}

func (e *env) find(t *testing.T, f parts.Filter) ([]*parts.Part, int) {
	t.Helper()
	ps, n, err := e.svc.FindParts(e.ctx, f)
	if err != nil {
		t.Fatalf("FindParts(%+v): %v", f, err)
	}
	return ps, n
}

func ids(ps []*parts.Part) []int64 {
	out := make([]int64, len(ps))
	for i, p := range ps {
		out[i] = p.ID
	}
	return out
}

func partIDs(ps []*parts.Part) []string {
	out := make([]string, len(ps))
	for i, p := range ps {
		out[i] = p.PartID
	}
	slices.Sort(out)
	return out
}

// full returns a part with every field set, times in a non-UTC zone.
func full() *parts.Part {
	zone := time.FixedZone("UTC-7", -7*3600)
	claimed := time.Date(2024, 2, 29, 23, 59, 58, 123456000, zone)
	p := &parts.Part{
		PartID: "FULL-1", Name: "Gearbox housing", Type: parts.TypeHand, Material: "6061-T6 aluminium",
		Subsystem: "drivetrain", Assigned: "Ada", Status: parts.StatusInProgress, Category: parts.CategoryHand,
		Amount: 3, Notes: "Deburr all edges.\nCheck the bore: Ø22 H7.", File: "housing.step",
		OnshapeURL: "https://cad.onshape.com/documents/abc",
		MiscInfo: map[string]any{
			"reviewer": "Grace",
			"handWorkers": []any{
				map[string]any{"name": "Ada", "timestamp": "2024-02-29T23:59:58Z"},
			},
			"nested": map[string]any{"depth": 2.5, "ok": true, "list": []any{"a", 1.0}},
		},
		ClaimedDate: &claimed,
		CreatedAt:   time.Date(2024, 1, 2, 3, 4, 5, 678901000, zone),
		UpdatedAt:   time.Date(2024, 3, 1, 0, 0, 0, 1000, zone),
		Version:     7,
		Files: []parts.File{
			{Name: "housing.step", OriginalName: "Housing v2.STEP", Kind: parts.FileCAD, Key: "parts/1/cad/housing.step",
				Size: 12345, SHA256: strings.Repeat("ab", 32), ContentType: "application/step",
				UploadedAt: time.Date(2024, 3, 1, 0, 0, 0, 999000, zone)},
			{Name: "view_3.png", Kind: parts.FileView, View: 3, Key: "parts/1/views/3.png", Size: 99,
				SHA256: strings.Repeat("cd", 32), ContentType: "image/png", UploadedAt: time.Date(2024, 3, 1, 1, 0, 0, 0, time.UTC)},
		},
		Model: parts.Model{State: parts.ModelFailed, Error: "bad STEP", Source: strings.Repeat("ab", 32)},
	}
	// A plain field added after this suite was written is set too.
	for _, f := range parts.Fields() {
		if f.Kind != parts.FieldInt && *f.Text(p) == "" {
			*f.Text(p) = "some " + f.Label
		}
	}
	return p
}

// inUTC returns a copy of p with every time in UTC, the form stores return.
func inUTC(p *parts.Part) *parts.Part {
	c := p.Clone()
	c.CreatedAt, c.UpdatedAt = c.CreatedAt.UTC(), c.UpdatedAt.UTC()
	if c.ClaimedDate != nil {
		t := c.ClaimedDate.UTC()
		c.ClaimedDate = &t
	}
	for i := range c.Files {
		c.Files[i].UploadedAt = c.Files[i].UploadedAt.UTC()
	}
	return c
}
