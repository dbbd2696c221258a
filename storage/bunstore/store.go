package bunstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"log/slog"
	neturl "net/url"
	"strings"
	"time"

	"github.com/uptrace/bun"
	"github.com/uptrace/bun/migrate"

	"github.com/partflow/partflow/parts"
)

func init() {
	RegisterEngine(sqliteEngine{}, openSQLiteURL, "sqlite")
}

// Synchronous is SQLite's synchronous setting: how hard a commit pushes data
// to stable storage.
type Synchronous string

// The synchronous settings. See https://sqlite.org/pragma.html#pragma_synchronous.
const (
	// SyncNormal (the default) under WAL: a commit is durable once the
	// transaction returns as far as the application or the process crashing
	// is concerned; a power loss or OS crash may roll back the last
	// transactions before a checkpoint, but never corrupts the database.
	SyncNormal Synchronous = "NORMAL"
	// SyncFull syncs the WAL on every commit: durable across power loss,
	// at the cost of one fsync per write (typically 1-10 ms on disks).
	SyncFull Synchronous = "FULL"
	// SyncExtra is SyncFull plus a directory sync on journal changes.
	SyncExtra Synchronous = "EXTRA"
	// SyncOff never syncs: fastest; a power loss can corrupt the database.
	// Only for throwaway data.
	SyncOff Synchronous = "OFF"
)

// Options configure a Store. A nil *Options gives the defaults.
type Options struct {
	// Now is the clock for the times the store sets itself (job state
	// changes, jobs enqueued without CreatedAt); default time.Now.
	Now func() time.Time
	// Logger receives the store's logs (migrations run); default discards.
	Logger *slog.Logger
	// Synchronous is the durability setting of a file database; default
	// SyncNormal. It has no effect on :memory: databases.
	Synchronous Synchronous
	// BusyTimeout is how long a statement waits for a lock held by another
	// connection or process before failing with ErrConflict; default 5s.
	BusyTimeout time.Duration
	// ReadConns is the number of connections for reads of a file
	// database; default 4. Writes always use one connection.
	ReadConns int
	// CacheSizeKiB is SQLite's page cache per connection; default 2048
	// (2 MiB, so five connections stay within 10 MiB). Pages not in it come
	// from the operating system's file cache; the rows of the pages people
	// look at most are in the store's row cache anyway.
	CacheSizeKiB int
	// MaxConns is the size of a PostgreSQL store's connection pool (reads
	// and writes share it); default 16. BusyTimeout is its lock timeout.
	MaxConns int
	// MaxPageCount, when positive, caps the database at that many pages
	// (SQLite's max_page_count; pages are 4 KiB): a quota. Writes that
	// would grow it further fail with a *parts.StorageError matching
	// parts.ErrStorageFull, as on a full disk; reads go on working.
	MaxPageCount int64
}

// Store is a parts.Store on bun over SQLite or PostgreSQL. It is safe for
// concurrent use.
//
// A file database has one write connection (every write transaction starts
// with BEGIN IMMEDIATE, so writers queue for the lock instead of failing
// midway) and a pool of read-only connections; WAL lets reads proceed while a
// write is in progress. A :memory: database is private to its Store and uses a
// single connection for everything, so it stays one database for the Store's
// lifetime; its reads and writes take turns.
type Store struct {
	w, r   *bun.DB
	wstmts *stmtCache
	rstmts *stmtCache
	eng    Engine
	syn    Syntax
	text   textIndex
	rows   rowCache
	now    func() time.Time
	log    *slog.Logger
	// onePool: reads and writes share one pool (SQLite :memory:, PostgreSQL).
	onePool bool
	locks   localLocks
}

var _ parts.Store = (*Store)(nil)
var _ parts.ChangeCounter = (*Store)(nil)

// Open opens (creating if needed) the database at url and runs any pending
// migrations. Accepted URLs:
//
//	sqlite:///abs/path/parts.db   an absolute path
//	sqlite://rel/path/parts.db    a path relative to the working directory
//	sqlite://:memory:             a new, private in-memory database
//
// and, with package pgengine imported (it registers them):
//
//	postgres://user:pass@host:5432/db?sslmode=disable
//	postgresql://...             the same (also postgresql+psycopg2://,
//	                             SQLAlchemy's spelling)
//
// The directory of a file database must exist. The path is taken literally
// (no query parameters; '?' and '%' are part of the name). A PostgreSQL URL
// takes pgx's parameters (host=/socket/dir, sslmode, ...). Another scheme
// gives an error listing the registered ones.
func Open(ctx context.Context, url string, opts *Options) (*Store, error) {
	if opts == nil {
		opts = &Options{}
	}
	s := &Store{now: opts.Now, log: opts.Logger}
	if s.now == nil {
		s.now = time.Now
	}
	if s.log == nil {
		s.log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	open, err := openerFor(url)
	if err != nil {
		return nil, fmt.Errorf("bunstore: open %q: %w", redactURL(url), err)
	}
	if s.w, s.r, s.eng, err = open(ctx, url, opts); err != nil {
		return nil, fmt.Errorf("bunstore: open %s: %w", redactURL(url), err)
	}
	if err := s.init(ctx); err != nil {
		s.Close()
		return nil, fmt.Errorf("bunstore: open %s: %w", redactURL(url), err)
	}
	return s, nil
}

// init migrates the database and prepares the store's statements.
func (s *Store) init(ctx context.Context) error {
	s.syn = s.eng.Syntax()
	s.onePool = s.w == s.r
	s.wstmts, s.rstmts = newStmtCache(s.w, s.eng.Rebind), newStmtCache(s.r, s.eng.Rebind)
	if s.onePool {
		s.rstmts = s.wstmts
	}
	if _, err := s.Migrate(ctx); err != nil {
		return err
	}
	if err := s.wstmts.prepare(ctx, writeStatements...); err != nil {
		return err
	}
	if err := s.pruneChanges(ctx, s.w); err != nil {
		return fmt.Errorf("prune changes: %w", mapErr(ctx, err))
	}
	return nil
}

// redactURL hides a password in a database URL, keeping errors safe to log.
func redactURL(raw string) string {
	u, err := neturl.Parse(raw)
	if err != nil || u.User == nil {
		if i := strings.LastIndex(raw, "@"); i >= 0 {
			return "…" + raw[i:]
		}
		return raw
	}
	if _, ok := u.User.Password(); ok {
		u.User = neturl.UserPassword(u.User.Username(), "xxxxx")
	}
	return u.String()
}

// Engine returns the name of the store's SQL engine: "sqlite" or "postgres".
func (s *Store) Engine() string { return s.eng.Name() }

// Close releases the store's connections. A :memory: database is gone after Close.
func (s *Store) Close() error {
	var errs []error
	if s.rstmts != nil {
		s.rstmts.close()
		s.wstmts.close()
	}
	if s.r != nil && s.r != s.w {
		errs = append(errs, s.r.Close())
	}
	if s.w != nil {
		errs = append(errs, s.w.Close())
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("bunstore: close: %w", err)
	}
	return nil
}

// Migrate runs the embedded migrations that have not run yet and returns their
// names ("20260601000001_schema", ...) in the order they ran; none gives an
// empty list. Open calls it, so it is only needed to report what ran (the
// `partflow migrate` command).
func (s *Store) Migrate(ctx context.Context) ([]string, error) {
	ms, err := s.eng.Migrations()
	if err != nil {
		return nil, fmt.Errorf("migrate: %w", err)
	}
	unlock, err := s.eng.LockMigrations(ctx, s.w)
	if err != nil {
		return nil, fmt.Errorf("migrate: lock: %w", mapErr(ctx, err))
	}
	defer unlock()
	m := s.migrator(ms)
	if err := m.Init(ctx); err != nil {
		return nil, fmt.Errorf("migrate: init: %w", mapErr(ctx, err))
	}
	g, err := m.Migrate(ctx)
	if err != nil {
		return nil, fmt.Errorf("migrate: %w", mapErr(ctx, err))
	}
	var ran []string
	for _, mig := range g.Migrations {
		ran = append(ran, mig.Name+"_"+mig.Comment)
	}
	if len(ran) > 0 {
		s.log.Info("database migrated", "migrations", ran)
	}
	return ran, nil
}

func (s *Store) migrator(ms *migrate.Migrations) *migrate.Migrator {
	return migrate.NewMigrator(s.w, ms, migrate.WithTableName("bun_migrations"),
		migrate.WithLocksTableName("bun_migration_locks"), migrate.WithMarkAppliedOnSuccess(true))
}

// MigrationState returns the names of the embedded migrations the database
// has applied and of those it has not, each in order.
func (s *Store) MigrationState(ctx context.Context) (applied, pending []string, err error) {
	ms, err := s.eng.Migrations()
	if err != nil {
		return nil, nil, fmt.Errorf("migration state: %w", err)
	}
	all, err := s.migrator(ms).MigrationsWithStatus(ctx)
	if err != nil {
		return nil, nil, fmt.Errorf("migration state: %w", mapErr(ctx, err))
	}
	for _, m := range all {
		if m.IsApplied() {
			applied = append(applied, m.Name+"_"+m.Comment)
		} else {
			pending = append(pending, m.Name+"_"+m.Comment)
		}
	}
	return applied, pending, nil
}

// Optimize updates the query planner's statistics and prunes the change log
// of the search index. Run it after bulk imports, and now and then (say daily)
// on a busy database; it takes the write lock while it runs.
func (s *Store) Optimize(ctx context.Context) error {
	if err := s.pruneChanges(ctx, s.w); err != nil {
		return fmt.Errorf("bunstore: optimize: %w", mapErr(ctx, err))
	}
	if err := s.eng.Optimize(ctx, s.w); err != nil {
		return fmt.Errorf("bunstore: optimize: %w", mapErr(ctx, err))
	}
	return nil
}

// mapErr turns driver errors into the parts sentinels: no rows is
// ErrNotFound, a lock that stayed busy is ErrConflict, and any error on a
// cancelled or expired context wraps the context's error.
func mapErr(ctx context.Context, err error) error {
	if err == nil {
		return nil
	}
	if cerr := ctx.Err(); cerr != nil && !errors.Is(err, cerr) {
		return fmt.Errorf("%w (%v)", cerr, err)
	}
	if errors.Is(err, sql.ErrNoRows) {
		return parts.ErrNotFound
	}
	if anyEngine(func(e Engine) bool { return e.IsBusy(err) }) {
		return fmt.Errorf("%w: database is busy: %v", parts.ErrConflict, err)
	}
	return storageFault(err)
}

// FindPartByID returns the part, or an error wrapping parts.ErrNotFound.
func (s *Store) FindPartByID(ctx context.Context, id int64) (*parts.Part, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	return s.findPart(ctx, s.r, id)
}

func (s *Store) findPart(ctx context.Context, db bun.IDB, id int64) (*parts.Part, error) {
	var r partRow
	row, err := s.queryRow(ctx, db, qSelectPart, id)
	if err == nil {
		err = row.Scan(r.fields()...)
	}
	if err != nil {
		return nil, fmt.Errorf("part %d: %w", id, mapErr(ctx, err))
	}
	return r.toPart()
}

// sortColumns maps sort fields to columns; it doubles as the whitelist. A
// sort field is named as its column (parts.SortFields).
var sortColumns = func() map[parts.SortField]string {
	out := map[parts.SortField]string{}
	for _, f := range parts.SortFields {
		out[f] = string(f)
	}
	return out
}()

// FindParts returns one page of the parts matching f and the number of all
// matches. Ties are broken by id in the sort direction.
func (s *Store) FindParts(ctx context.Context, f parts.Filter) ([]*parts.Part, int, error) {
	if err := ctx.Err(); err != nil {
		return nil, 0, err
	}
	if f.SortBy == "" {
		f.SortBy = parts.SortCreatedAt
	}
	col, ok := sortColumns[f.SortBy]
	if !ok {
		return nil, 0, &parts.ValidationError{Field: "sort_by", Reason: fmt.Sprintf("unknown sort field %q", f.SortBy)}
	}
	if f.Limit < 0 || f.Offset < 0 {
		return nil, 0, &parts.ValidationError{Field: "limit", Reason: "limit and offset must not be negative"}
	}
	out, total, err := s.findParts(ctx, s.r, f, col)
	if err != nil {
		return nil, 0, fmt.Errorf("find parts: %w", mapErr(ctx, err))
	}
	return out, total, nil
}

// Stats returns counts over all parts from the counts table the database keeps
// up to date on every write; it does not scan parts.
func (s *Store) Stats(ctx context.Context) (*parts.Stats, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	type count struct {
		Kind, Key string
		N         int
	}
	var rows []count
	rs, err := s.query(ctx, s.r, qCounts)
	if err != nil {
		return nil, fmt.Errorf("stats: %w", mapErr(ctx, err))
	}
	defer rs.Close()
	for rs.Next() {
		var c count
		if err := rs.Scan(&c.Kind, &c.Key, &c.N); err != nil {
			return nil, fmt.Errorf("stats: %w", mapErr(ctx, err))
		}
		rows = append(rows, c)
	}
	if err := rs.Err(); err != nil {
		return nil, fmt.Errorf("stats: %w", mapErr(ctx, err))
	}
	st := &parts.Stats{ByCategory: map[parts.Category]int{}, ByStatus: map[parts.Status]int{}}
	for _, c := range parts.Categories {
		st.ByCategory[c] = 0
	}
	for _, x := range parts.Statuses {
		st.ByStatus[x] = 0
	}
	for _, r := range rows {
		switch r.Kind {
		case "total":
			st.Total = r.N
		case "category":
			if r.N != 0 || parts.Category(r.Key).Valid() {
				st.ByCategory[parts.Category(r.Key)] = r.N
			}
		case "status":
			if r.N != 0 || parts.Status(r.Key).Valid() {
				st.ByStatus[parts.Status(r.Key)] = r.N
			}
		case "assigned":
			if r.Key == "yes" {
				st.Assigned = r.N
			} else {
				st.Unassigned = r.N
			}
		}
	}
	return st, nil
}

// FindEvents returns a part's history, oldest first; an unknown id gives an
// empty list.
func (s *Store) FindEvents(ctx context.Context, partID int64) ([]*parts.Event, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	rs, err := s.query(ctx, s.r, qSelectEvents, partID)
	if err != nil {
		return nil, fmt.Errorf("events of part %d: %w", partID, mapErr(ctx, err))
	}
	defer rs.Close()
	out := []*parts.Event{}
	for rs.Next() {
		var r eventRow
		if err := rs.Scan(r.fields()...); err != nil {
			return nil, fmt.Errorf("events of part %d: %w", partID, mapErr(ctx, err))
		}
		e, err := r.toEvent()
		if err != nil {
			return nil, err
		}
		out = append(out, e)
	}
	if err := rs.Err(); err != nil {
		return nil, fmt.Errorf("events of part %d: %w", partID, mapErr(ctx, err))
	}
	return out, nil
}

// Update runs fn in one write transaction (BEGIN IMMEDIATE: it waits for the
// write lock up front). An error from fn rolls back and is returned unchanged.
func (s *Store) Update(ctx context.Context, fn func(ctx context.Context, tx parts.Tx) error) (err error) {
	if err := ctx.Err(); err != nil {
		return err
	}
	btx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("begin: %w", mapErr(ctx, err))
	}
	done := false
	defer func() {
		if !done {
			_ = btx.Rollback()
		}
	}()
	if err := s.eng.BeginWrite(ctx, btx); err != nil {
		return fmt.Errorf("begin: %w", mapErr(ctx, err))
	}
	if err := fn(ctx, &txn{db: btx, s: s}); err != nil {
		done = true
		_ = btx.Rollback()
		return storageFault(err)
	}
	done = true
	if err := btx.Commit(); err != nil {
		return fmt.Errorf("commit: %w", mapErr(ctx, err))
	}
	return nil
}

func (s *Store) clock() time.Time { return s.now().UTC().Truncate(time.Microsecond) }

// DB returns the database handle the store writes through (for tools that
// read or copy tables, and tests). Writing parts through it bypasses the
// store's rules and, on PostgreSQL, its write serialisation: don't.
func (s *Store) DB() *sql.DB { return s.w.DB }
