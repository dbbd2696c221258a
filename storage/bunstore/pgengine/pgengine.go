package pgengine

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/uptrace/bun"
	"github.com/uptrace/bun/dialect/pgdialect"
	"github.com/uptrace/bun/migrate"

	"github.com/partflow/partflow/parts"
	"github.com/partflow/partflow/storage/bunstore"
)

// Schemes are the URL schemes the engine registers.
var Schemes = []string{"postgres", "postgresql", "postgresql+psycopg2"}

func init() {
	bunstore.RegisterEngine(pgEngine{}, open, Schemes...)
}

//go:embed migrations/*.sql
var migrationFiles embed.FS

// pgEngine is the PostgreSQL engine: bun's pgdialect over pgx (its
// database/sql adapter), one pool for reads and writes.
type pgEngine struct {
	lockTimeout time.Duration
}

var _ bunstore.Engine = pgEngine{}

// migrationLockKey is the advisory lock key migrations run under
// ("partflow" in ASCII).
const migrationLockKey = 0x70617274666c6f77

// open opens one pool for url (any of the Schemes). Reads and writes
// share it: PostgreSQL's MVCC lets reads run beside writes without a
// second pool.
func open(ctx context.Context, url string, o *bunstore.Options) (w, r *bun.DB, eng bunstore.Engine, err error) {
	_, rest, _ := strings.Cut(url, "://")
	cfg, err := pgx.ParseConfig("postgres://" + rest)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("postgres URL: %w", err)
	}
	sqldb := stdlib.OpenDB(*cfg)
	n := o.MaxConns
	if n <= 0 {
		n = 16
	}
	sqldb.SetMaxOpenConns(n)
	sqldb.SetMaxIdleConns(n)
	sqldb.SetConnMaxIdleTime(5 * time.Minute)
	if err := sqldb.PingContext(ctx); err != nil {
		sqldb.Close()
		return nil, nil, nil, err
	}
	busy := o.BusyTimeout
	if busy <= 0 {
		busy = 5 * time.Second
	}
	db := bun.NewDB(sqldb, pgdialect.New())
	return db, db, pgEngine{lockTimeout: busy}, nil
}

// Name is "postgres".
func (pgEngine) Name() string { return "postgres" }

// Migrations returns the embedded migrations/*.sql.
func (pgEngine) Migrations() (*migrate.Migrations, error) {
	return bunstore.MigrationsIn(migrationFiles, "migrations")
}

// LockMigrations takes a session advisory lock on a connection of its own,
// so several servers starting at once migrate one after the other: the
// first runs the migrations, the others find nothing left to run.
func (pgEngine) LockMigrations(ctx context.Context, db *bun.DB) (func(), error) {
	conn, err := db.Conn(ctx)
	if err != nil {
		return nil, err
	}
	if _, err := conn.ExecContext(ctx, "SELECT pg_advisory_lock(?)", int64(migrationLockKey)); err != nil {
		conn.Close()
		return nil, err
	}
	return func() {
		// Closing the session would release the lock too; unlocking keeps
		// the pooled connection clean.
		_, _ = conn.ExecContext(context.Background(), "SELECT pg_advisory_unlock(?)", int64(migrationLockKey))
		conn.Close()
	}, nil
}

// Rebind numbers the ? placeholders: $1, $2, ... (outside quotes).
func (pgEngine) Rebind(query string) string {
	var b strings.Builder
	b.Grow(len(query) + 16)
	n, quoted := 0, false
	for i := 0; i < len(query); i++ {
		c := query[i]
		switch {
		case c == '\'':
			quoted = !quoted
		case c == '?' && !quoted:
			n++
			b.WriteByte('$')
			b.WriteString(strconv.Itoa(n))
			continue
		}
		b.WriteByte(c)
	}
	return b.String()
}

// BeginWrite locks the change counter's row for the whole transaction
// (waiting up to the busy timeout): transactions that write parts run one
// after the other, so the part_changes sequence numbers their triggers take
// are in commit order and without gaps, which lets the search index and
// the row cache of every server follow the log exactly. (A plain sequence
// would hand out numbers in the order transactions start, not commit.)
func (e pgEngine) BeginWrite(ctx context.Context, tx bun.Tx) error {
	_, err := tx.ExecContext(ctx, "SET LOCAL lock_timeout = "+strconv.FormatInt(e.lockTimeout.Milliseconds(), 10)+
		"; SELECT seq FROM part_change_seq WHERE id = 1 FOR UPDATE")
	return err
}

// AfterExplicitID moves table's id sequence to id unless it is past it
// already (it never moves back, so ids stay unused after deletes).
func (pgEngine) AfterExplicitID(ctx context.Context, db bun.IDB, table string, id int64) error {
	_, err := db.ExecContext(ctx,
		"SELECT setval(pg_get_serial_sequence(?, 'id'), greatest(?, nextval(pg_get_serial_sequence(?, 'id')) - 1))",
		table, id, table)
	return err
}

// LastID reads table's identity sequence.
func (pgEngine) LastID(ctx context.Context, db bun.IDB, table string) (int64, error) {
	var id int64
	err := db.QueryRowContext(ctx, "SELECT CASE WHEN is_called THEN last_value ELSE 0 END FROM "+
		pgIdent(table+"_id_seq")).Scan(&id)
	return id, err
}

// pgIdent quotes an identifier.
func pgIdent(s string) string { return pgx.Identifier{s}.Sanitize() }

// IsBusy reports lock timeouts, deadlocks and serialisation failures.
func (pgEngine) IsBusy(err error) bool {
	var pe *pgconn.PgError
	if !errors.As(err, &pe) {
		return false
	}
	switch pe.Code {
	case "55P03", "40001", "40P01": // lock_not_available, serialization_failure, deadlock_detected
		return true
	}
	return false
}

// Fault tells disk_full (53100) and read_only_sql_transaction (25006, e.g.
// a standby).
func (pgEngine) Fault(err error) error {
	var pe *pgconn.PgError
	if !errors.As(err, &pe) {
		return nil
	}
	switch pe.Code {
	case "53100":
		return parts.ErrStorageFull
	case "25006":
		return parts.ErrStorageReadOnly
	}
	return nil
}

// Optimize vacuums and analyzes the database. The counts and the change
// counter, a few rows rewritten by every write and read by every request,
// are rewritten compactly (VACUUM FULL, an instant for so few rows): a bulk
// import in large transactions leaves them megabytes of dead versions that
// a plain VACUUM empties but does not give back, and Stats would read them.
func (pgEngine) Optimize(ctx context.Context, db bun.IDB) error {
	for _, q := range []string{"VACUUM FULL part_counts, part_change_seq", "VACUUM (ANALYZE)"} {
		if _, err := db.ExecContext(ctx, q); err != nil {
			return err
		}
	}
	return nil
}

// Syntax: ids from a JSON array through json_array_elements_text, LIMIT
// NULL for no limit, SKIP LOCKED job claims.
func (pgEngine) Syntax() bunstore.Syntax {
	return bunstore.Syntax{
		IDsFromJSON:    "SELECT CAST(json_array_elements_text(CAST(? AS json)) AS bigint)",
		NoLimit:        nil,
		LockSkipLocked: " FOR UPDATE SKIP LOCKED",
	}
}
