package bunstore

import (
	"context"

	"github.com/uptrace/bun"
	"github.com/uptrace/bun/migrate"
)

// Engine is everything that differs between the SQL engines the Store runs
// on: opening, migrations, placeholders, write serialisation, error
// classification and a few fragments of syntax. The rest of the package is
// portable SQL over the one column table (columns.go). The SQLite engine
// lives in sqlite.go, the PostgreSQL engine in postgres.go; a third engine
// implements this interface, adds migrations/<engine>/*.sql creating the
// same tables and triggers (a part_changes row per write of a part, in
// commit order; part_counts kept by triggers), and accepts its URLs in Open.
// The conformance suite (parts/partstest) then tells whether it is right.
type Engine interface {
	// Name is the engine's name as reported by Store.Engine ("sqlite",
	// "postgres").
	Name() string
	// Migrations returns the engine's embedded, versioned migrations.
	Migrations() (*migrate.Migrations, error)
	// LockMigrations keeps other processes from migrating the same
	// database until unlock is called (several servers starting at once
	// migrate exactly once).
	LockMigrations(ctx context.Context, db *bun.DB) (unlock func(), err error)
	// Rebind turns the ? placeholders of the package's fixed SQL into the
	// engine's ($1, $2, ... for PostgreSQL). Queries hold no ? in literals.
	Rebind(query string) string
	// BeginWrite runs first in every write transaction (Store.Update). It
	// must serialise the transactions that write parts, so that the
	// part_changes sequence numbers they take are in commit order without
	// gaps (the search index relies on that).
	BeginWrite(ctx context.Context, tx bun.Tx) error
	// AfterExplicitID runs after rows were inserted into table ("parts",
	// "part_events", "jobs") under ids of their own (an import, a copy, a
	// restore), the largest being id, so that generated ids continue above
	// it and never reuse one.
	AfterExplicitID(ctx context.Context, tx bun.IDB, table string, id int64) error
	// LastID returns the largest id table ever handed out (0 if none),
	// deleted rows included: a copy carries it over so that the target
	// never reuses an id either.
	LastID(ctx context.Context, db bun.IDB, table string) (int64, error)
	// IsBusy reports whether err means a lock could not be had in time
	// (reported as parts.ErrConflict).
	IsBusy(err error) bool
	// Optimize refreshes the planner's statistics.
	Optimize(ctx context.Context, db bun.IDB) error
	// Syntax returns the engine's fragments of SQL.
	Syntax() Syntax
}

// Syntax holds the fragments of SQL an Engine spells its own way.
type Syntax struct {
	// IDsFromJSON is a subquery selecting the ids of a JSON array
	// parameter: "SELECT value FROM json_each(?)".
	IDsFromJSON string
	// NoLimit is the LIMIT argument meaning "no limit" (-1, or nil for
	// LIMIT NULL).
	NoLimit any
	// LockSkipLocked ends the subquery that picks the next job, so that
	// concurrent claimers skip a job another one is claiming ("" when the
	// engine serialises writes anyway).
	LockSkipLocked string
	// Unindexed prefixes a column in an equality filter to keep the planner
	// from filtering by that column's index when walking another index is
	// better ("+" in SQLite; "" when the planner chooses well itself).
	Unindexed string
}
