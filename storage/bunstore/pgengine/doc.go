// Package pgengine is bunstore's PostgreSQL engine (15 or newer): bun's
// pgdialect over github.com/jackc/pgx/v5 through its database/sql adapter,
// with its own embedded migrations (migrations/*.sql) creating the same
// tables and triggers as SQLite's.
//
// Importing the package registers its URL schemes (Schemes: postgres://,
// postgresql:// and SQLAlchemy's postgresql+psycopg2://) with bunstore.Open
// and the storage registry, as a database/sql driver registers itself:
//
//	import (
//		"github.com/partflow/partflow/storage"
//		_ "github.com/partflow/partflow/storage/bunstore/pgengine" // postgres://
//	)
//
//	store, err := storage.Open(ctx, "postgres://pf:secret@db:5432/partflow", nil)
//
// A program that stores its parts in SQLite only does not import it, and so
// does not compile pgx. How the store runs on PostgreSQL (one pool, the
// change counter row that orders writes, advisory locks, SKIP LOCKED job
// claims) is described in package bunstore's documentation.
package pgengine
