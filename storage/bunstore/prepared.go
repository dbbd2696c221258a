package bunstore

import (
	"context"
	"database/sql"
	"fmt"
	"sync"

	"github.com/uptrace/bun"
)

// bun formats arguments into the SQL text, so every call is a new statement
// for SQLite to parse and plan (and, for inserts into parts, to compile the
// triggers). The hot paths below instead run fixed SQL with ? placeholders
// through prepared statements cached per pool; SQLite then reuses the
// compiled program. The SQL is written with ? placeholders; the engine
// rebinds them ($n for PostgreSQL) when a statement is prepared.

// stmtCache holds the prepared statements of one pool.
type stmtCache struct {
	db     *sql.DB
	rebind func(string) string
	mu     sync.Mutex
	m      map[string]*sql.Stmt
}

func newStmtCache(db *bun.DB, rebind func(string) string) *stmtCache {
	return &stmtCache{db: db.DB, rebind: rebind, m: map[string]*sql.Stmt{}}
}

// get returns the cached statement for query, preparing it on first use.
// The lock is not held while preparing, which may wait for a connection.
func (c *stmtCache) get(ctx context.Context, query string) (*sql.Stmt, error) {
	if st, ok := c.lookup(query); ok {
		return st, nil
	}
	st, err := c.db.PrepareContext(ctx, c.rebind(query))
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if prev, ok := c.m[query]; ok {
		st.Close()
		return prev, nil
	}
	c.m[query] = st
	return st, nil
}

func (c *stmtCache) close() {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, st := range c.m {
		st.Close()
	}
	c.m = map[string]*sql.Stmt{}
}

// writeStatements are prepared on the write connection at Open: inside a
// write transaction that connection is busy, so nothing new can be prepared
// on the pool then.
var writeStatements = []string{qSelectPart, qInsertPart, qUpdatePart, qDeletePart, qPartVersion, qInsertEvent}

// prepare prepares queries in the cache up front.
func (c *stmtCache) prepare(ctx context.Context, queries ...string) error {
	for _, q := range queries {
		if _, err := c.get(ctx, q); err != nil {
			return fmt.Errorf("prepare %q: %w", q, err)
		}
	}
	return nil
}

// lookup returns the cached statement for query, if any, without preparing.
func (c *stmtCache) lookup(query string) (*sql.Stmt, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	st, ok := c.m[query]
	return st, ok
}

// stmt returns the prepared statement for query on db. In a write
// transaction it is a statement prepared at Open, bound to the transaction
// (or, for a query not prepared at Open, one prepared on the transaction's
// connection for this transaction only); on a pool it is the pool's cached
// statement.
func (s *Store) stmt(ctx context.Context, db bun.IDB, query string) (*sql.Stmt, error) {
	switch d := db.(type) {
	case bun.Tx:
		if st, ok := s.wstmts.lookup(query); ok {
			return d.StmtContext(ctx, st), nil
		}
		return d.PrepareContext(ctx, s.eng.Rebind(query))
	case *bun.DB:
		if d == s.w {
			return s.wstmts.get(ctx, query)
		}
		return s.rstmts.get(ctx, query)
	}
	return nil, fmt.Errorf("bunstore: unexpected database handle %T", db)
}

func (s *Store) exec(ctx context.Context, db bun.IDB, query string, args ...any) (sql.Result, error) {
	st, err := s.stmt(ctx, db, query)
	if err != nil {
		return nil, err
	}
	return st.ExecContext(ctx, args...)
}

func (s *Store) query(ctx context.Context, db bun.IDB, query string, args ...any) (*sql.Rows, error) {
	st, err := s.stmt(ctx, db, query)
	if err != nil {
		return nil, err
	}
	return st.QueryContext(ctx, args...)
}

func (s *Store) queryRow(ctx context.Context, db bun.IDB, query string, args ...any) (*sql.Row, error) {
	st, err := s.stmt(ctx, db, query)
	if err != nil {
		return nil, err
	}
	return st.QueryRowContext(ctx, args...), nil
}

var (
	qDeletePart  = "DELETE FROM parts WHERE id = ? AND version = ?"
	qPartVersion = "SELECT version FROM parts WHERE id = ?"
	qInsertEvent = "INSERT INTO part_events (part_id, action, actor, at, changes, part_ref, name, category, version) " +
		"VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id"
	qSelectEvents = "SELECT " + eventColumns + " FROM part_events WHERE part_id = ? ORDER BY id"
	qCounts       = "SELECT kind, key, n FROM part_counts"
	qCount        = "SELECT CAST(coalesce(sum(n), 0) AS BIGINT) FROM part_counts WHERE kind = ? AND key = ?"
)
