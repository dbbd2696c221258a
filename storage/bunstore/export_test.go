package bunstore

import (
	"context"

	"github.com/uptrace/bun/migrate"
)

// SortSearchesInSQL makes every search sort its matches in SQLite instead of
// in the search index (on) or lets the index sort what it can again (off),
// and returns a function that restores the previous choice. Tests use it to
// check that both ways agree.
func SortSearchesInSQL(on bool) (restore func()) {
	old := sqlSortOnly
	sqlSortOnly = on
	return func() { sqlSortOnly = old }
}

// SetMaxChangeBatch sets the most changes the search index applies one by
// one before it reloads everything, and returns a function that restores it.
func SetMaxChangeBatch(n int) (restore func()) {
	old := maxChangeBatch
	maxChangeBatch = n
	return func() { maxChangeBatch = old }
}

// MigrateTo creates or upgrades the file database at path with the embedded
// migrations up to and including the one whose name starts with last, as an
// older release would have left it.
func MigrateTo(ctx context.Context, path, last string) error {
	all, err := sqliteEngine{}.Migrations()
	if err != nil {
		return err
	}
	some := migrate.NewMigrations()
	for _, m := range all.Sorted() {
		if m.Name <= last {
			some.Add(m)
		}
	}
	w, r, _, err := openSQLite(ctx, path, &Options{})
	if err != nil {
		return err
	}
	defer r.Close()
	defer w.Close()
	m := migrate.NewMigrator(w, some, migrate.WithTableName("bun_migrations"),
		migrate.WithLocksTableName("bun_migration_locks"), migrate.WithMarkAppliedOnSuccess(true))
	if err := m.Init(ctx); err != nil {
		return err
	}
	_, err = m.Migrate(ctx)
	return err
}

// StorageFault is storageFault, for tests of the PostgreSQL mapping without
// a full PostgreSQL disk.
var StorageFault = storageFault
