package bunstore

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"net/url"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/uptrace/bun"
	"github.com/uptrace/bun/dialect/sqlitedialect"
	"github.com/uptrace/bun/migrate"
	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/partflow/partflow/parts"
)

//go:embed migrations/sqlite/*.sql
var sqliteMigrationFiles embed.FS

// sqliteEngine is the SQLite engine.
type sqliteEngine struct{}

var _ Engine = sqliteEngine{}

func (sqliteEngine) Name() string { return "sqlite" }

func (sqliteEngine) Migrations() (*migrate.Migrations, error) {
	return MigrationsIn(sqliteMigrationFiles, "migrations/sqlite")
}

// openSQLiteURL opens a sqlite:// URL (see Open).
func openSQLiteURL(ctx context.Context, url string, o *Options) (w, r *bun.DB, eng Engine, err error) {
	_, path, _ := strings.Cut(url, "://")
	if path == "" {
		return nil, nil, nil, errors.New("empty database path")
	}
	return openSQLite(ctx, path, o)
}

// openSQLite opens the write and read pools for path (":memory:", or a file
// path). For :memory: both are the same single-connection pool.
func openSQLite(ctx context.Context, path string, o *Options) (w, r *bun.DB, eng Engine, err error) {
	busy := o.BusyTimeout
	if busy <= 0 {
		busy = 5 * time.Second
	}
	cache := o.CacheSizeKiB
	if cache <= 0 {
		cache = 2 << 10
	}
	sync := o.Synchronous
	if sync == "" {
		sync = SyncNormal
	}
	switch sync {
	case SyncOff, SyncNormal, SyncFull, SyncExtra:
	default:
		return nil, nil, nil, fmt.Errorf("unknown synchronous setting %q", sync)
	}
	common := url.Values{}
	common.Add("_pragma", "busy_timeout("+strconv.FormatInt(busy.Milliseconds(), 10)+")")
	common.Add("_pragma", "foreign_keys(1)")
	common.Add("_pragma", "cache_size(-"+strconv.Itoa(cache)+")")
	common.Add("_pragma", "temp_store(memory)")
	if o.MaxPageCount > 0 {
		common.Add("_pragma", "max_page_count("+strconv.FormatInt(o.MaxPageCount, 10)+")")
	}

	if path == ":memory:" {
		// One connection: the connection is the database.
		q := cloneValues(common)
		q.Set("_txlock", "immediate")
		db, err := openPool(ctx, ":memory:?"+q.Encode(), 1)
		if err != nil {
			return nil, nil, nil, err
		}
		return db, db, sqliteEngine{}, nil
	}

	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, nil, nil, err
	}
	name := "file:" + (&url.URL{Path: abs}).EscapedPath()

	wq := cloneValues(common)
	wq.Set("_txlock", "immediate")
	wq.Add("_pragma", "journal_mode(WAL)")
	wq.Add("_pragma", "synchronous("+string(sync)+")")
	w, err = openPool(ctx, name+"?"+wq.Encode(), 1)
	if err != nil {
		return nil, nil, nil, err
	}
	n := o.ReadConns
	if n <= 0 {
		n = 4
	}
	rq := cloneValues(common)
	rq.Add("_pragma", "query_only(1)")
	r, err = openPool(ctx, name+"?"+rq.Encode(), n)
	if err != nil {
		w.Close()
		return nil, nil, nil, err
	}
	return w, r, sqliteEngine{}, nil
}

func cloneValues(v url.Values) url.Values {
	out := url.Values{}
	for k, vs := range v {
		out[k] = append([]string(nil), vs...)
	}
	return out
}

func openPool(ctx context.Context, dsn string, conns int) (*bun.DB, error) {
	sqldb, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, err
	}
	sqldb.SetMaxOpenConns(conns)
	sqldb.SetMaxIdleConns(conns)
	sqldb.SetConnMaxLifetime(0)
	sqldb.SetConnMaxIdleTime(0)
	if err := sqldb.PingContext(ctx); err != nil {
		sqldb.Close()
		return nil, err
	}
	return bun.NewDB(sqldb, sqlitedialect.New()), nil
}

// IsBusy reports whether err is SQLite's "database is locked/busy" after the
// busy timeout ran out.
func (sqliteEngine) IsBusy(err error) bool {
	var se *sqlite.Error
	if !errors.As(err, &se) {
		return false
	}
	code := se.Code() & 0xff
	return code == sqlite3.SQLITE_BUSY || code == sqlite3.SQLITE_LOCKED
}

// Fault tells "database or disk is full" (SQLITE_FULL, also when
// max_page_count is reached) and "attempt to write a readonly database"
// (SQLITE_READONLY).
func (sqliteEngine) Fault(err error) error {
	var se *sqlite.Error
	if !errors.As(err, &se) {
		return nil
	}
	switch se.Code() & 0xff {
	case sqlite3.SQLITE_FULL:
		return parts.ErrStorageFull
	case sqlite3.SQLITE_READONLY:
		return parts.ErrStorageReadOnly
	}
	return nil
}

// LockMigrations does nothing: a file has one writer at a time, and the
// migrations of one Open run in transactions.
func (sqliteEngine) LockMigrations(context.Context, *bun.DB) (func(), error) { return func() {}, nil }

// Rebind keeps the ? placeholders, which are SQLite's.
func (sqliteEngine) Rebind(query string) string { return query }

// BeginWrite does nothing: every write transaction began with BEGIN
// IMMEDIATE (_txlock=immediate), which takes the database's one write lock.
func (sqliteEngine) BeginWrite(context.Context, bun.Tx) error { return nil }

// AfterExplicitID raises table's AUTOINCREMENT counter to id (inserts
// above it raise it themselves; a copy sets a deleted row's id).
func (sqliteEngine) AfterExplicitID(ctx context.Context, db bun.IDB, table string, id int64) error {
	res, err := db.ExecContext(ctx, "UPDATE sqlite_sequence SET seq = max(seq, ?) WHERE name = ?", id, table)
	if err != nil {
		return err
	}
	if n, err := res.RowsAffected(); err != nil || n == 1 {
		return err
	}
	_, err = db.ExecContext(ctx, "INSERT INTO sqlite_sequence (name, seq) VALUES (?, ?)", table, id)
	return err
}

func (sqliteEngine) LastID(ctx context.Context, db bun.IDB, table string) (int64, error) {
	var id int64
	err := db.QueryRowContext(ctx, "SELECT coalesce(max(seq), 0) FROM sqlite_sequence WHERE name = ?", table).Scan(&id)
	return id, err
}

func (sqliteEngine) Syntax() Syntax {
	return Syntax{IDsFromJSON: "SELECT value FROM json_each(?)", NoLimit: int64(-1), Unindexed: "+"}
}

func (sqliteEngine) Optimize(ctx context.Context, db bun.IDB) error {
	// 0x10002: analyze every table that might benefit, even on a new connection.
	_, err := db.ExecContext(ctx, "PRAGMA optimize = 0x10002")
	return err
}
