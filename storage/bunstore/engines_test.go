package bunstore_test

import (
	"context"
	"path/filepath"
	"slices"
	"strconv"
	"sync"
	"testing"

	"github.com/partflow/partflow/internal/pgtest"
	"github.com/partflow/partflow/parts"
	"github.com/partflow/partflow/storage/bunstore"
	_ "github.com/partflow/partflow/storage/bunstore/pgengine" // postgres://
)

// engineURLs gives a new, empty database of each engine.
var engineURLs = map[string]func(t *testing.T) string{
	"sqlite":   func(t *testing.T) string { return "sqlite://" + filepath.Join(t.TempDir(), "parts.db") },
	"postgres": func(t *testing.T) string { return pgtest.NewDatabase(t) },
}

// onEachEngine runs fn on a new database of each engine.
func onEachEngine(t *testing.T, fn func(t *testing.T, url string)) {
	for _, name := range []string{"sqlite", "postgres"} {
		t.Run(name, func(t *testing.T) { fn(t, engineURLs[name](t)) })
	}
}

// TestPartColumnsMatchTheSchema checks each engine's parts table against
// the one column table the store's queries are built from.
func TestPartColumnsMatchTheSchema(t *testing.T) {
	onEachEngine(t, func(t *testing.T, url string) {
		s, err := bunstore.Open(t.Context(), url, nil)
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		rows, err := s.DB().QueryContext(t.Context(), "SELECT * FROM parts WHERE 1 = 0")
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		got, err := rows.Columns()
		if err != nil {
			t.Fatal(err)
		}
		if want := bunstore.PartColumns(); !slices.Equal(got, want) {
			t.Fatalf("%s parts table has columns %v, the column table %v", s.Engine(), got, want)
		}
	})
}

// TestConcurrentOpensMigrateOnce opens several stores on one new
// PostgreSQL database at once, as several servers starting together would:
// every open succeeds, and the migrations are recorded exactly once.
func TestConcurrentOpensMigrateOnce(t *testing.T) {
	url := pgtest.NewDatabase(t)
	const n = 5
	var wg sync.WaitGroup
	stores := make([]*bunstore.Store, n)
	errs := make([]error, n)
	for i := range n {
		wg.Go(func() { stores[i], errs[i] = bunstore.Open(t.Context(), url, nil) })
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("open %d: %v", i, err)
		}
		defer stores[i].Close()
	}
	var applied, distinct int
	err := stores[0].DB().QueryRowContext(t.Context(), "SELECT count(*), count(DISTINCT name) FROM bun_migrations").Scan(&applied, &distinct)
	if err != nil {
		t.Fatal(err)
	}
	if applied == 0 || applied != distinct {
		t.Fatalf("bun_migrations holds %d rows for %d migrations; want each once", applied, distinct)
	}
	// Every store works on the one schema.
	for i, s := range stores {
		if _, err := parts.NewService(s, nil).CreatePart(t.Context(), newPart("M-"+string(rune('A'+i)), "Mount", ""), "t"); err != nil {
			t.Fatalf("store %d: %v", i, err)
		}
	}
	st, err := stores[n-1].Stats(t.Context())
	if err != nil || st.Total != n {
		t.Fatalf("stats after %d creates through %d stores: %+v, %v", n, n, st, err)
	}
}

// TestOptimizeKeepsData runs Optimize on each engine after writes in one
// large transaction and checks that counts and searches are unchanged.
func TestOptimizeKeepsData(t *testing.T) {
	onEachEngine(t, func(t *testing.T, url string) {
		ctx := t.Context()
		s, err := bunstore.Open(ctx, url, nil)
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		err = s.Update(ctx, func(ctx context.Context, tx parts.Tx) error {
			for i := range 50 {
				p := newPart("O-"+strconv.Itoa(i), "Optimized plate", "")
				p.Category, p.Status, p.Version, p.Model = parts.CategoryReview, parts.StatusPending, 1, parts.Model{State: parts.ModelNone}
				if err := tx.CreatePart(ctx, p); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		if err := s.Optimize(ctx); err != nil {
			t.Fatalf("Optimize on %s: %v", s.Engine(), err)
		}
		st, err := s.Stats(ctx)
		if err != nil || st.Total != 50 || st.ByCategory[parts.CategoryReview] != 50 {
			t.Fatalf("stats after Optimize: %+v, %v", st, err)
		}
		if got := searchIDs(t, parts.NewService(s, nil), "optimized", ""); len(got) != 50 {
			t.Fatalf("search after Optimize found %d parts, want 50", len(got))
		}
	})
}

// TestMigrationState reports every embedded migration applied after Open,
// on each engine.
func TestMigrationState(t *testing.T) {
	onEachEngine(t, func(t *testing.T, url string) {
		s, err := bunstore.Open(t.Context(), url, nil)
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		applied, pending, err := s.MigrationState(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		first := map[string]string{"sqlite": "20260601000001_schema", "postgres": "20261206000001_schema"}[s.Engine()]
		if len(applied) == 0 || applied[0] != first || len(pending) != 0 {
			t.Fatalf("%s: applied %v, pending %v; want all applied from %s", s.Engine(), applied, pending, first)
		}
	})
}
