package bunstore_test

import (
	"context"
	"testing"
	"time"

	"github.com/partflow/partflow/internal/pgtest"
	"github.com/partflow/partflow/parts"
	"github.com/partflow/partflow/storage/bunstore"
)

// TestTryLockHasOneHolder: a named lock has one holder at a time, across
// stores on one PostgreSQL database (as across servers) and within one
// SQLite store; other names are independent, and a release frees it.
func TestTryLockHasOneHolder(t *testing.T) {
	pg := pgtest.NewDatabase(t)
	sqlite := "sqlite://" + t.TempDir() + "/parts.db"
	for name, urls := range map[string][2]string{"postgres": {pg, pg}, "sqlite": {sqlite, sqlite}} {
		t.Run(name, func(t *testing.T) {
			ctx := t.Context()
			a, err := bunstore.Open(ctx, urls[0], nil)
			if err != nil {
				t.Fatal(err)
			}
			defer a.Close()
			b := a
			if name == "postgres" {
				if b, err = bunstore.Open(ctx, urls[1], nil); err != nil {
					t.Fatal(err)
				}
				defer b.Close()
			}
			release, _, ok, err := a.TryLock(ctx, "gc")
			if err != nil || !ok {
				t.Fatalf("first TryLock = %v, %v; want the lock", ok, err)
			}
			if _, _, ok, err := b.TryLock(ctx, "gc"); err != nil || ok {
				t.Fatalf("second TryLock while held = %v, %v; want not ok", ok, err)
			}
			other, _, ok, err := b.TryLock(ctx, "webhooks")
			if err != nil || !ok {
				t.Fatalf("TryLock of another name = %v, %v; want the lock", ok, err)
			}
			other()
			release()
			again, _, ok, err := b.TryLock(ctx, "gc")
			if err != nil || !ok {
				t.Fatalf("TryLock after release = %v, %v; want the lock", ok, err)
			}
			again()
		})
	}
}

func TestSettingsAndJobCounts(t *testing.T) {
	onEachEngine(t, func(t *testing.T, url string) {
		ctx := t.Context()
		s, err := bunstore.Open(ctx, url, nil)
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		if v, err := s.Setting(ctx, "webhooks"); err != nil || v != nil {
			t.Fatalf("unset setting = %q, %v; want nil", v, err)
		}
		for _, want := range []string{`{"a":1}`, `{"a":2}`} {
			if err := s.SetSetting(ctx, "webhooks", []byte(want)); err != nil {
				t.Fatal(err)
			}
			if v, err := s.Setting(ctx, "webhooks"); err != nil || string(v) != want {
				t.Fatalf("setting = %q, %v; want %s", v, err, want)
			}
		}
		// A swap from a value no longer stored loses; from the current one wins.
		for _, c := range []struct {
			name, old, value string
			nilOld, want     bool
		}{
			{"webhooks", "", `{"a":3}`, true, false},
			{"webhooks", `{"a":1}`, `{"a":3}`, false, false},
			{"webhooks", `{"a":2}`, `{"a":3}`, false, true},
			{"fresh", "", `{"b":1}`, true, true},
		} {
			old := []byte(c.old)
			if c.nilOld {
				old = nil
			}
			if ok, err := s.SwapSetting(ctx, c.name, old, []byte(c.value)); err != nil || ok != c.want {
				t.Fatalf("SwapSetting(%s, %q) = %v, %v; want %v", c.name, c.old, ok, err, c.want)
			}
		}
		if v, _ := s.Setting(ctx, "webhooks"); string(v) != `{"a":3}` {
			t.Fatalf("after swaps setting = %q", v)
		}
		err = s.Update(ctx, func(ctx context.Context, tx parts.Tx) error {
			for i := range 3 {
				if err := tx.EnqueueJob(ctx, &parts.Job{PartID: int64(i + 1), Source: "x"}); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		now := time.Now()
		if _, err := s.NextJob(ctx, parts.Lease{Owner: "a", Now: now, Until: now.Add(time.Minute)}); err != nil {
			t.Fatal(err)
		}
		counts, err := s.JobCounts(ctx)
		if err != nil || counts["queued"] != 2 || counts["running"] != 1 || len(counts) != 2 {
			t.Errorf("JobCounts = %v, %v; want 2 queued, 1 running", counts, err)
		}
	})
}
