package bunstore_test

import (
	"testing"

	"github.com/partflow/partflow/internal/pgtest"
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
