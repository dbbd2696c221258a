package bunstore

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	"github.com/uptrace/bun"

	"github.com/partflow/partflow/parts"
)

// Column kinds of the data tables: every column is a 64-bit integer or
// text, either of them nullable. The same on every engine.
const (
	KindInt  = "int"
	KindText = "text"
)

// Column is a column of a data table.
type Column struct {
	Name     string
	Kind     string // KindInt or KindText
	Nullable bool
}

// Table is one of the tables that hold a deployment's data. Its first
// column is the integer primary key "id".
type Table struct {
	Name    string
	Columns []Column
}

// DataTables are the tables that hold a deployment's data, in the order
// they are copied, dumped and restored. Everything else in the database is
// derived from them by triggers (part_counts, part_changes), belongs to
// the migrations, or is a server's working state (settings: the webhook
// endpoints of several servers sharing PostgreSQL, with their cursors).
// New tables go at the end: an archive made before a table existed
// restores with that table empty.
var DataTables = []Table{
	{"parts", partTableColumns()},
	{"part_events", []Column{{"id", KindInt, false}, {"part_id", KindInt, false}, {"action", KindText, false},
		{"actor", KindText, false}, {"at", KindInt, false}, {"changes", KindText, false},
		{"part_ref", KindText, false}, {"name", KindText, false}, {"category", KindText, false}, {"version", KindInt, false}}},
	{"jobs", []Column{{"id", KindInt, false}, {"part_id", KindInt, false}, {"source", KindText, false},
		{"state", KindText, false}, {"attempts", KindInt, false}, {"error", KindText, false},
		{"created_at", KindInt, false}, {"updated_at", KindInt, false}}},
	// Only each key's SHA-256 digest is stored, never a secret, so a
	// copy or an archive holds nothing that authenticates by itself.
	{"api_keys", []Column{{"id", KindInt, false}, {"name", KindText, false}, {"role", KindText, false},
		{"roles", KindText, false}, {"digest", KindText, false}, {"prefix", KindText, false},
		{"created_at", KindInt, false}, {"expires_at", KindInt, true}, {"revoked_at", KindInt, true},
		{"last_used_at", KindInt, true}}},
}

// partTableColumns describes the parts table from the one column table.
func partTableColumns() []Column {
	var r partRow
	out := make([]Column, len(partColumnTable))
	for i, c := range partColumnTable {
		switch c.field(&r).(type) {
		case *int64:
			out[i] = Column{c.name, KindInt, false}
		case **int64:
			out[i] = Column{c.name, KindInt, true}
		case *string:
			out[i] = Column{c.name, KindText, false}
		case **string:
			out[i] = Column{c.name, KindText, true}
		}
	}
	return out
}

// Row is one row of a data table: a value per column, each an int64, a
// string or nil (NULL).
type Row []any

func (t Table) columnList() string {
	names := make([]string, len(t.Columns))
	for i, c := range t.Columns {
		names[i] = c.Name
	}
	return strings.Join(names, ", ")
}

// scanRow reads one row of t from rs.
func (t Table) scanRow(rs *sql.Rows) (Row, error) {
	ints := make([]sql.NullInt64, len(t.Columns))
	texts := make([]sql.NullString, len(t.Columns))
	dest := make([]any, len(t.Columns))
	for i, c := range t.Columns {
		if c.Kind == KindInt {
			dest[i] = &ints[i]
		} else {
			dest[i] = &texts[i]
		}
	}
	if err := rs.Scan(dest...); err != nil {
		return nil, err
	}
	row := make(Row, len(t.Columns))
	for i, c := range t.Columns {
		switch {
		case c.Kind == KindInt && ints[i].Valid:
			row[i] = ints[i].Int64
		case c.Kind == KindText && texts[i].Valid:
			row[i] = texts[i].String
		}
	}
	return row, nil
}

// TableSummary describes the contents of a data table: its rows, its
// largest id and a SHA-256 over every row in id order (the same rows give
// the same digest on every engine).
type TableSummary struct {
	Table  string `json:"table"`
	Rows   int64  `json:"rows"`
	MaxID  int64  `json:"maxId"`
	SHA256 string `json:"sha256"`
	// LastID is the largest id the table ever handed out, deleted rows
	// included (at least MaxID).
	LastID int64 `json:"lastId"`
}

// Digest accumulates a TableSummary from rows given in id order.
type Digest struct {
	sum TableSummary
	h   interface {
		Write([]byte) (int, error)
		Sum([]byte) []byte
	}
}

// NewDigest starts the summary of table.
func NewDigest(table string) *Digest {
	return &Digest{sum: TableSummary{Table: table}, h: sha256.New()}
}

// Add adds the next row.
func (d *Digest) Add(row Row) error {
	b, err := json.Marshal(row)
	if err != nil {
		return err
	}
	d.h.Write(append(b, '\n'))
	d.sum.Rows++
	if id, ok := row[0].(int64); ok {
		d.sum.MaxID = max(d.sum.MaxID, id)
	}
	return nil
}

// Summary returns the summary of the rows added so far.
func (d *Digest) Summary() TableSummary {
	s := d.sum
	s.SHA256 = hex.EncodeToString(d.h.Sum(nil))
	return s
}

// ReadTables reads the rows of every data table with an id above after[table]
// in id order, all in one snapshot of the database (one read-only
// transaction), so a copy or a backup taken while the server writes is
// consistent. fn is called with each row; an error from it stops the read.
func (s *Store) ReadTables(ctx context.Context, after map[string]int64, fn func(t Table, row Row) error) error {
	opts := &sql.TxOptions{ReadOnly: true, Isolation: sql.LevelRepeatableRead}
	if s.eng.Name() == "sqlite" {
		opts = &sql.TxOptions{} // a read transaction on a WAL file is a snapshot
	}
	tx, err := s.r.BeginTx(ctx, opts)
	if err != nil {
		return fmt.Errorf("bunstore: read tables: %w", mapErr(ctx, err))
	}
	defer tx.Rollback()
	for _, t := range DataTables {
		if err := readTable(ctx, tx, t, after[t.Name], fn); err != nil {
			return fmt.Errorf("bunstore: read %s: %w", t.Name, mapErr(ctx, err))
		}
	}
	return nil
}

func readTable(ctx context.Context, tx bun.Tx, t Table, after int64, fn func(Table, Row) error) error {
	rs, err := tx.Tx.QueryContext(ctx, "SELECT "+t.columnList()+" FROM "+t.Name+" WHERE id > "+fmt.Sprint(after)+" ORDER BY id")
	if err != nil {
		return err
	}
	defer rs.Close()
	for rs.Next() {
		row, err := t.scanRow(rs)
		if err != nil {
			return err
		}
		if err := fn(t, row); err != nil {
			return err
		}
	}
	return rs.Err()
}

// Summaries returns the summary of every data table, read in one snapshot.
func (s *Store) Summaries(ctx context.Context) ([]TableSummary, error) {
	ds := map[string]*Digest{}
	err := s.ReadTables(ctx, nil, func(t Table, row Row) error {
		if ds[t.Name] == nil {
			ds[t.Name] = NewDigest(t.Name)
		}
		return ds[t.Name].Add(row)
	})
	if err != nil {
		return nil, err
	}
	last, err := s.LastIDs(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]TableSummary, len(DataTables))
	for i, t := range DataTables {
		d := ds[t.Name]
		if d == nil {
			d = NewDigest(t.Name)
		}
		out[i] = d.Summary()
		out[i].LastID = max(last[t.Name], out[i].MaxID)
	}
	return out, nil
}

// LastIDs returns the largest id each data table ever handed out (0 when
// none), deleted rows included.
func (s *Store) LastIDs(ctx context.Context) (map[string]int64, error) {
	out := map[string]int64{}
	for _, t := range DataTables {
		id, err := s.eng.LastID(ctx, s.r, t.Name)
		if err != nil {
			return nil, fmt.Errorf("bunstore: last id of %s: %w", t.Name, mapErr(ctx, err))
		}
		out[t.Name] = id
	}
	return out, nil
}

// SetLastIDs raises the largest id each table handed out to at least
// last[table], so that new rows get ids above it (a copy of a database
// whose newest rows were deleted must not hand their ids out again). It
// also raises the change log's retention horizon below the oldest copied
// event, so that a cursor into events the source had pruned gets
// ErrCursorExpired on the copy too, never a silent gap.
func (s *Store) SetLastIDs(ctx context.Context, last map[string]int64) error {
	return s.Update(ctx, func(ctx context.Context, ptx parts.Tx) error {
		tx := ptx.(*txn)
		for _, t := range DataTables {
			if id := last[t.Name]; id > 0 {
				if err := s.eng.AfterExplicitID(ctx, tx.db, t.Name, id); err != nil {
					return fmt.Errorf("bunstore: set last id of %s: %w", t.Name, mapErr(ctx, err))
				}
			}
		}
		if _, err := s.exec(ctx, tx.db, qLogRaiseHorizon, last["part_events"], last["part_events"]); err != nil {
			return fmt.Errorf("bunstore: set the event horizon: %w", mapErr(ctx, err))
		}
		return nil
	})
}

// MaxIDs returns the largest id of every data table (0 when empty): where
// a resumed copy or restore continues.
func (s *Store) MaxIDs(ctx context.Context) (map[string]int64, error) {
	out := map[string]int64{}
	for _, t := range DataTables {
		var id int64
		if err := s.r.QueryRowContext(ctx, "SELECT coalesce(max(id), 0) FROM "+t.Name).Scan(&id); err != nil {
			return nil, fmt.Errorf("bunstore: max id of %s: %w", t.Name, mapErr(ctx, err))
		}
		out[t.Name] = id
	}
	return out, nil
}

// WriteRows inserts rows of table, keeping their ids, in one write
// transaction: all of them or none. Rows must have ids above every id in
// the table (see MaxIDs). The triggers keep the counts and the change log
// current, so the store's search index and stats follow.
func (s *Store) WriteRows(ctx context.Context, table string, rows []Row) error {
	i := slices.IndexFunc(DataTables, func(t Table) bool { return t.Name == table })
	if i < 0 {
		return fmt.Errorf("bunstore: write rows: unknown table %q", table)
	}
	t := DataTables[i]
	var last int64
	for _, row := range rows {
		if len(row) != len(t.Columns) {
			return fmt.Errorf("bunstore: write %s: row of %d values for %d columns", table, len(row), len(t.Columns))
		}
		id, ok := row[0].(int64)
		if !ok {
			return fmt.Errorf("bunstore: write %s: row id %v is not an integer", table, row[0])
		}
		last = max(last, id)
	}
	err := s.Update(ctx, func(ctx context.Context, ptx parts.Tx) error {
		tx := ptx.(*txn)
		for chunk := range slices.Chunk(rows, rowsPerInsert) {
			if err := insertRows(ctx, tx.db.(bun.Tx), s.eng, t, chunk); err != nil {
				return mapErr(ctx, err)
			}
		}
		if last > 0 {
			return s.eng.AfterExplicitID(ctx, tx.db, t.Name, last)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("bunstore: write %s: %w", table, err)
	}
	return nil
}

// rowsPerInsert is how many rows one INSERT statement writes: few round
// trips, and well within every engine's limit on parameters.
const rowsPerInsert = 100

// insertRows writes rows with one multi-row INSERT.
func insertRows(ctx context.Context, tx bun.Tx, eng Engine, t Table, rows []Row) error {
	var b strings.Builder
	b.WriteString("INSERT INTO " + t.Name + " (" + t.columnList() + ") VALUES ")
	one := "(" + placeholders(len(t.Columns)) + ")"
	args := make([]any, 0, len(rows)*len(t.Columns))
	for i, row := range rows {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(one)
		args = append(args, row...)
	}
	_, err := tx.Tx.ExecContext(ctx, eng.Rebind(b.String()), args...)
	return err
}
