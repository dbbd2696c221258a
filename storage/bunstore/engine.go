package bunstore

import (
	"context"
	"fmt"
	"io/fs"
	"slices"
	"strings"
	"sync"

	"github.com/uptrace/bun"
	"github.com/uptrace/bun/migrate"

	"github.com/partflow/partflow/parts"
	"github.com/partflow/partflow/storage"
)

// Engine is everything that differs between the SQL engines the Store runs
// on: opening, migrations, placeholders, write serialisation, error
// classification and a few fragments of syntax. The rest of the package is
// portable SQL over the one column table (columns.go). The SQLite engine
// lives in sqlite.go and is always there; the PostgreSQL engine is package
// pgengine, which registers itself on import (RegisterEngine), so that a
// program that does not import it does not compile its driver. A third
// engine is a package like pgengine: it implements this interface, embeds
// migrations creating the same tables and triggers (a part_changes row per
// write of a part, in commit order; part_counts kept by triggers), and
// registers its URL schemes. The conformance suite (parts/partstest) then
// tells whether it is right.
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
	// Fault returns parts.ErrStorageFull or parts.ErrStorageReadOnly when
	// err means the database is full or read-only, and nil otherwise.
	Fault(err error) error
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

// OpenFunc opens the database at url (as the caller gave it, scheme
// included) for an engine. It returns the pool writes go through, the pool
// reads go through (the same pool when the engine needs only one) and the
// Engine.
type OpenFunc func(ctx context.Context, url string, o *Options) (w, r *bun.DB, eng Engine, err error)

// The registered engines: each URL scheme's opener, and every engine for
// classifying errors (mapErr, storageFault), which see no store.
var engines struct {
	sync.RWMutex
	open map[string]OpenFunc
	all  []Engine
}

// RegisterEngine makes Open, and storage.Open through the storage
// registry, accept URLs of the given schemes (lower case), opening them
// with open. eng classifies the engine's errors (IsBusy, Fault) for every
// store; its zero value must do. An engine package calls it from its init
// function, as a database/sql driver registers itself, and programs choose
// the engines they compile with blank imports:
//
//	import _ "github.com/partflow/partflow/storage/bunstore/pgengine" // postgres://
//
// Registering a scheme twice panics.
func RegisterEngine(eng Engine, open OpenFunc, schemes ...string) {
	engines.Lock()
	defer engines.Unlock()
	if engines.open == nil {
		engines.open = map[string]OpenFunc{}
	}
	for _, scheme := range schemes {
		if _, dup := engines.open[scheme]; dup {
			panic("bunstore: RegisterEngine called twice for scheme " + scheme)
		}
		engines.open[scheme] = open
		storage.Register(scheme, func(ctx context.Context, url string, o *storage.Options) (parts.Store, error) {
			opts := &Options{}
			if o != nil {
				opts.Now, opts.Logger = o.Now, o.Logger
			}
			return Open(ctx, url, opts)
		})
	}
	engines.all = append(engines.all, eng)
}

// Schemes returns the URL schemes Open accepts: those of the engines
// registered so far, sorted.
func Schemes() []string {
	engines.RLock()
	defer engines.RUnlock()
	out := make([]string, 0, len(engines.open))
	for scheme := range engines.open {
		out = append(out, scheme)
	}
	slices.Sort(out)
	return out
}

// openerFor returns the opener registered for url's scheme, or an error
// naming the known schemes.
func openerFor(url string) (OpenFunc, error) {
	scheme, _, _ := strings.Cut(url, "://")
	engines.RLock()
	open := engines.open[strings.ToLower(scheme)]
	engines.RUnlock()
	if open != nil {
		return open, nil
	}
	hint := ""
	if strings.HasPrefix(strings.ToLower(scheme), "postgres") {
		hint = " (PostgreSQL needs a blank import of github.com/partflow/partflow/storage/bunstore/pgengine)"
	}
	return nil, fmt.Errorf("unknown scheme %q, want one of %s%s", scheme, strings.Join(Schemes(), ", "), hint)
}

// anyEngine reports whether fn holds for one of the registered engines.
func anyEngine(fn func(Engine) bool) bool {
	engines.RLock()
	defer engines.RUnlock()
	return slices.ContainsFunc(engines.all, fn)
}

// MigrationsIn returns the versioned SQL migrations in directory dir of
// fsys (an engine's embedded files), for Engine.Migrations.
func MigrationsIn(fsys fs.FS, dir string) (*migrate.Migrations, error) {
	sub, err := fs.Sub(fsys, dir)
	if err != nil {
		return nil, err
	}
	ms := migrate.NewMigrations()
	if err := ms.Discover(sub); err != nil {
		return nil, err
	}
	return ms, nil
}
