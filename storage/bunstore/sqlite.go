package bunstore

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"path/filepath"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/uptrace/bun"
	"github.com/uptrace/bun/dialect/sqlitedialect"
	"github.com/uptrace/bun/migrate"
	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

//go:embed migrations/sqlite/*.sql
var sqliteMigrationFiles embed.FS

// sqliteEngine is the SQLite engine: FTS5 trigram search.
type sqliteEngine struct{}

func (sqliteEngine) migrations() (*migrate.Migrations, error) {
	sub, err := fs.Sub(sqliteMigrationFiles, "migrations/sqlite")
	if err != nil {
		return nil, err
	}
	ms := migrate.NewMigrations()
	if err := ms.Discover(sub); err != nil {
		return nil, err
	}
	return ms, nil
}

// openSQLite opens the write and read pools for path (":memory:", or a file
// path). For :memory: both are the same single-connection pool.
func openSQLite(ctx context.Context, path string, o *Options) (w, r *bun.DB, eng engine, err error) {
	busy := o.BusyTimeout
	if busy <= 0 {
		busy = 5 * time.Second
	}
	cache := o.CacheSizeKiB
	if cache <= 0 {
		cache = 16 << 10
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

// isBusy reports whether err is SQLite's "database is locked/busy" after the
// busy timeout ran out.
func isBusy(err error) bool {
	var se *sqlite.Error
	if !errors.As(err, &se) {
		return false
	}
	code := se.Code() & 0xff
	return code == sqlite3.SQLITE_BUSY || code == sqlite3.SQLITE_LOCKED
}

// The searchable fields: the short ones in parts_search_fields (column
// order), the notes alone in parts_search_notes.
const fieldColumns = "part_id, name, subsystem, assigned, material"

const (
	qUnindexFields = "DELETE FROM parts_search_fields WHERE rowid = ?"
	qUnindexNotes  = "DELETE FROM parts_search_notes WHERE rowid = ?"
	qIndexFields   = "INSERT INTO parts_search_fields (rowid, " + fieldColumns + ") VALUES (?, ?, ?, ?, ?, ?)"
	qIndexNotes    = "INSERT INTO parts_search_notes (rowid, notes) VALUES (?, ?)"
	// The updates rewrite an index entry only when its text changed: FTS5
	// turns an UPDATE into a delete and an insert of the whole entry.
	qReindexFields = "UPDATE parts_search_fields SET part_id = ?1, name = ?2, subsystem = ?3, assigned = ?4, material = ?5 " +
		"WHERE rowid = ?6 AND NOT (part_id = ?1 AND name = ?2 AND subsystem = ?3 AND assigned = ?4 AND material = ?5)"
	qReindexNotes = "UPDATE parts_search_notes SET notes = ?1 WHERE rowid = ?2 AND notes <> ?1"
)

func (sqliteEngine) writeStatements() []string {
	return []string{qUnindexFields, qUnindexNotes, qIndexFields, qIndexNotes, qReindexFields, qReindexNotes}
}

func (sqliteEngine) indexPart(ctx context.Context, s *Store, db bun.IDB, r *partRow, isNew bool) error {
	fields := []any{fold(r.PartID), fold(r.Name), fold(r.Subsystem), fold(r.Assigned), fold(r.Material)}
	notes := fold(r.Notes)
	if !isNew {
		if _, err := s.exec(ctx, db, qReindexFields, append(fields, r.ID)...); err != nil {
			return err
		}
		_, err := s.exec(ctx, db, qReindexNotes, notes, r.ID)
		return err
	}
	if _, err := s.exec(ctx, db, qIndexFields, append([]any{r.ID}, fields...)...); err != nil {
		return err
	}
	_, err := s.exec(ctx, db, qIndexNotes, r.ID, notes)
	return err
}

func (sqliteEngine) unindexPart(ctx context.Context, s *Store, db bun.IDB, id int64) error {
	if _, err := s.exec(ctx, db, qUnindexFields, id); err != nil {
		return err
	}
	_, err := s.exec(ctx, db, qUnindexNotes, id)
	return err
}

// search matches q against the folded copies in the two search indexes. Queries of
// three or more characters use the trigram index (a quoted FTS5 phrase is a
// substring match; inside quotes every character but '"' is literal, and '"'
// is doubled). Shorter queries cannot use trigrams and scan the folded
// copies with instr, which treats every character literally.
func (sqliteEngine) search(q string) (searchQuery, bool) {
	if strings.ContainsRune(q, 0) {
		return searchQuery{}, true // stored text never holds NUL
	}
	f := fold(q)
	if utf8.RuneCountInString(f) >= 3 {
		phrase := `"` + strings.ReplaceAll(f, `"`, `""`) + `"`
		return searchQuery{
			ids: "SELECT rowid AS id FROM parts_search_fields WHERE parts_search_fields MATCH ? " +
				"UNION SELECT rowid AS id FROM parts_search_notes WHERE parts_search_notes MATCH ? ORDER BY id",
			args: []any{phrase, phrase},
		}, false
	}
	var cond strings.Builder
	var args []any
	for i, c := range strings.Split(fieldColumns, ", ") {
		if i > 0 {
			cond.WriteString(" OR ")
		}
		cond.WriteString("instr(" + c + ", ?) > 0")
		args = append(args, f)
	}
	return searchQuery{
		ids: "SELECT rowid AS id FROM parts_search_fields WHERE " + cond.String() +
			" UNION SELECT rowid AS id FROM parts_search_notes WHERE instr(notes, ?) > 0 ORDER BY id",
		args: append(args, f),
	}, false
}

func (sqliteEngine) optimize(ctx context.Context, db bun.IDB) error {
	for _, t := range []string{"parts_search_fields", "parts_search_notes"} {
		if _, err := db.ExecContext(ctx, "INSERT INTO "+t+" ("+t+") VALUES ('optimize')"); err != nil {
			return err
		}
	}
	// 0x10002: analyze every table that might benefit, even on a new connection.
	_, err := db.ExecContext(ctx, "PRAGMA optimize = 0x10002")
	return err
}
