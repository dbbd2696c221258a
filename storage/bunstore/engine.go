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
	// indexPart writes the search entry of the part row r (isNew) or
	// rewrites it, inside the transaction that wrote r.
	indexPart(ctx context.Context, s *Store, db bun.IDB, r *partRow, isNew bool) error
	// unindexPart removes the search entry of a deleted part.
	unindexPart(ctx context.Context, s *Store, db bun.IDB, id int64) error
	// search returns the queries that find the parts whose searchable
	// fields contain q ignoring case. none reports that no part can match.
	search(q string) (sq searchQuery, none bool)
	// writeStatements lists the engine's SQL used inside write
	// transactions, to be prepared at Open.
	writeStatements() []string
	// optimize refreshes planner statistics and compacts the search index.
	optimize(ctx context.Context, db bun.IDB) error
}

// searchQuery is a search translated to SQL.
type searchQuery struct {
	// ids selects the ids (one column named id) of the matching parts.
	ids string
	// args are the arguments of ids.
	args []any
}
