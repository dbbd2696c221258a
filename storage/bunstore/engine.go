package bunstore

import (
	"context"

	"github.com/uptrace/bun"
	"github.com/uptrace/bun/migrate"
)

// engine is what differs between SQL dialects: migrations, search indexing
// and the search query. Everything else in the package is portable SQL
// through bun. The SQLite engine lives in the sqlite*.go files; a PostgreSQL
// engine would live in postgres*.go files (see doc.go).
type engine interface {
	// migrations returns the dialect's embedded migrations.
	migrations() (*migrate.Migrations, error)
	// indexPart writes (or rewrites) the search entry of the part row r,
	// inside the transaction that wrote r.
	indexPart(ctx context.Context, db bun.IDB, r *partRow) error
	// unindexPart removes the search entry of a deleted part.
	unindexPart(ctx context.Context, db bun.IDB, id int64) error
	// searchIDs returns a query selecting the ids (one column) of the parts
	// whose searchable fields contain q ignoring case, and its arguments.
	// none reports that no part can match q.
	searchIDs(q string) (query string, args []any, none bool)
	// optimize refreshes planner statistics and compacts the search index.
	optimize(ctx context.Context, db bun.IDB) error
}
