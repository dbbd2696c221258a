package bunstore

import (
	"context"

	"github.com/uptrace/bun"
	"github.com/uptrace/bun/migrate"
)

// engine is what differs between SQL dialects: migrations and
// maintenance. Everything else in the package is portable SQL
// through bun. The SQLite engine lives in the sqlite*.go files; a PostgreSQL
// engine would live in postgres*.go files (see doc.go).
type engine interface {
	// migrations returns the dialect's embedded migrations.
	migrations() (*migrate.Migrations, error)
	// writeStatements lists the engine's SQL used inside write
	// transactions, to be prepared at Open.
	writeStatements() []string
	// optimize refreshes planner statistics.
	optimize(ctx context.Context, db bun.IDB) error
}
