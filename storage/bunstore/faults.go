package bunstore

import (
	"errors"

	"github.com/jackc/pgx/v5/pgconn"
	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/partflow/partflow/parts"
)

// dbName names the database in storage faults.
const dbName = "the database"

// storageFault turns a database's "full" and "read-only" errors into a
// *parts.StorageError and returns other errors unchanged. SQLite: "database
// or disk is full" (SQLITE_FULL, also when max_page_count is reached) and
// "attempt to write a readonly database" (SQLITE_READONLY). PostgreSQL:
// disk_full (53100) and read_only_sql_transaction (25006, e.g. a standby).
func storageFault(err error) error {
	if err == nil {
		return nil
	}
	var fault error
	var se *sqlite.Error
	var pe *pgconn.PgError
	switch {
	case errors.As(err, &se):
		switch se.Code() & 0xff {
		case sqlite3.SQLITE_FULL:
			fault = parts.ErrStorageFull
		case sqlite3.SQLITE_READONLY:
			fault = parts.ErrStorageReadOnly
		}
	case errors.As(err, &pe):
		switch pe.Code {
		case "53100":
			fault = parts.ErrStorageFull
		case "25006":
			fault = parts.ErrStorageReadOnly
		}
	}
	if fault == nil {
		return err
	}
	return &parts.StorageError{Store: dbName, Fault: fault, Err: err}
}
