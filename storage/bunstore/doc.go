// Package bunstore is Partflow's parts.Store on github.com/uptrace/bun over
// SQLite (modernc.org/sqlite: pure Go, no cgo) or PostgreSQL 15+ (package
// pgengine: bun's pgdialect over github.com/jackc/pgx/v5 through its
// database/sql adapter, registered by importing that package).
//
// # Opening
//
//	store, err := bunstore.Open(ctx, "sqlite:///var/lib/partflow/parts.db", nil)
//	store, err := bunstore.Open(ctx, "postgres://pf:secret@db:5432/partflow", nil)
//
// or, through the registry, storage.Open(ctx, url, opts) with a blank import of
// this package (its init registers sqlite://; pgengine's registers the
// PostgreSQL schemes). Accepted URLs:
//
//	sqlite:///abs/path/parts.db   absolute path
//	sqlite://rel/path/parts.db    relative to the working directory
//	sqlite://:memory:             a new private in-memory database
//	postgres://...                PostgreSQL (pgx's URL parameters); also
//	postgresql://... and SQLAlchemy's postgresql+psycopg2://...
//	                              (with pgengine imported)
//
// A file database runs in WAL mode with foreign keys on, a busy timeout
// (Options.BusyTimeout, default 5s) and synchronous=NORMAL by default
// (Options.Synchronous): a committed write survives an application or process
// crash; an OS crash or power loss may lose the last transactions since the
// last checkpoint but never corrupts the file. Use SyncFull when every commit
// must survive power loss (one fsync per write).
//
// Writes go through one connection and every write transaction begins with
// BEGIN IMMEDIATE (modernc's _txlock=immediate), so concurrent Update calls
// queue for the write lock instead of failing halfway with SQLITE_BUSY; a
// lock held longer than the busy timeout by another process gives
// parts.ErrConflict. Reads use a pool of query-only connections and see
// committed data while a write runs.
//
// A :memory: database belongs to one Store and uses a single connection for
// reads and writes (the connection is the database); it disappears on Close.
// Do not call the Store's own read methods from inside an Update function on
// a :memory: store: the one connection is busy with the transaction. Use the
// Tx.
//
// # Schema and migrations
//
// Versioned SQL migrations are embedded (migrations/sqlite) and run by bun's
// migrate package on Open; Store.Migrate runs them on demand and reports what
// ran (the `partflow migrate` command). Migrations are forward only. Row
// structs (rows.go) stay inside this package and are converted to and from
// parts types: times are INTEGER microseconds since the epoch in UTC (exact
// microsecond round trip, numeric order), MiscInfo, Files and Model are JSON
// text, ClaimedDate is nullable. Ids are AUTOINCREMENT, so never reused.
//
// The hot statements (get, insert, update and delete a part, add an event,
// index it, list and count) are fixed SQL with placeholders run through
// prepared statements cached per pool, so SQLite parses and plans them once;
// the rest goes through bun's query builders. FindParts runs its count and
// its page as separate statements, not in one snapshot: a write that commits
// in between can make the total differ from the page by that write.
//
// Counts for Stats and for unfiltered or category-only totals come from a
// part_counts table kept up to date by triggers in the writing transaction,
// so neither scans the parts table. Sorting uses indexes on created_at,
// updated_at, name, part_id and on category plus each of those; other sort
// fields sort the matching rows. Ties are broken by id in the same direction.
//
// # Search
//
// Search is a case-insensitive substring match over the searched fields
// (parts.Field.Search; their columns are read from the field table). All characters, including % and _, are
// literal, and a match never spans two fields. Case is folded with Unicode
// simple case folding, so "ä" finds "Ä" and "σ" finds "Σ" and "ς"; foldings
// that change length such as "ß"/"SS" are not applied.
//
// The store answers searches from an index it keeps in memory (textindex.go):
// each part's folded fields, category and sort keys, and for every trigram
// (three consecutive bytes) of the folded text a compressed bitmap
// (github.com/RoaringBitmap/roaring) of the parts holding it. A query of
// three or more bytes intersects its trigrams' bitmaps, and every candidate
// is checked against its text, so the answer is exact; shorter queries check
// every part. A common word costs about as much as a rare one: at 10,000
// parts either is well under a millisecond. The index counts the matches
// (the total) and, when sorting by created_at, updated_at, id, name or
// part_id, picks the page itself, so only the page's rows are read from
// SQLite; other sort fields let SQLite sort the matching ids. It holds 0.5 to 0.75
// KiB per part (7 MiB at 10,000 parts, 50 MiB at 100,000) and is built on
// the first list or search, or by Warm (0.2 s at 10,000 parts, 2 s at
// 100,000; partflow serve warms it in the background at start).
//
// Triggers record every insert, update and delete of a part in part_changes,
// in the writing transaction. Before each search the index reads the changes
// after the last one it applied (one indexed range read, normally empty) and
// reloads those parts, so it sees the writes of every connection and every
// process using the database file. It starts over when it fell too far behind
// (more changes than 2,000 or a quarter of its parts, whichever is more, or
// changes pruned before it read them); Open and
// Optimize keep the newest 100,000 changes, and so does a trigger every
// 10,000th change. The rows of a page are read after
// the matches were counted: a part changed in between so that it no longer
// matches is left out of the page.
//
// # Pages and the row cache
//
// A page (a list with a limit) first selects only the ids of its parts
// (an index walk for the indexed sort fields reads just the index), then
// their rows. Rows come from a small cache (rowcache.go, up to 2,048 rows)
// when the cached row is of the part's current version: each row is tagged
// with the part's last change as the search index knew it before the row
// was read, and the index catches up with part_changes at the start of the
// request, so a write committed before the request, by any process, is
// always seen. Callers get parts decoded afresh from the cached row, never a
// shared value. Lists without a limit (a whole category) read their rows
// directly.
//
// # PostgreSQL
//
// Reads and writes share one pool (Options.MaxConns, default 16). The tables,
// columns and triggers are SQLite's (pgengine/migrations): BIGINT microsecond
// times, TEXT JSON, identity ids (sequences never hand a number out twice),
// and COLLATE "C" on text so that every sort order is bytewise, as in SQLite
// and the search index, whatever the database's locale. Search is the same
// in-memory index, fed by the same part_changes log.
//
// The index relies on that log's sequence numbers being in commit order
// without gaps, which a PostgreSQL sequence does not give (numbers are taken
// in start order and lost on rollback). So the log's numbers come from one
// counter row, and every write transaction (Update) locks that row first:
// transactions that write parts run one after the other, as SQLite's do, and
// a reader that has seen number n has seen everything committed before it.
// A write waits for the lock up to Options.BusyTimeout (lock_timeout), then
// fails with parts.ErrConflict. NextJob claims with FOR UPDATE SKIP LOCKED
// a job that is queued or whose lease (lease_owner, lease_until) ended, so
// several servers share the queue and a dead server's jobs are taken up.
// Migrations run under a session advisory lock, so several servers starting
// at once migrate exactly once; TryLock gives other work that one server at
// a time does (file GC, log retention, webhook deliveries) a named session
// advisory lock, and Setting / SetSetting / SwapSetting (compare and swap)
// keep small shared values (the webhook state). Optimize runs VACUUM (ANALYZE).
//
// Per-process caches (the search index, the row cache) are validated against
// the shared change log before every read, never trusted by age; a new cache
// must follow the same rule, so that a read on any server that starts after
// a write returned on another sees it.
//
// # Engines
//
// Everything that differs between the engines sits behind the exported
// Engine interface (engine.go); the parts columns are defined once
// (columns.go) and every query and both engines use that list. An engine
// other than SQLite is a package of its own that registers its URL schemes
// on import (RegisterEngine), as pgengine does, so that a program compiles
// only the drivers it imports. A third engine implements Engine, embeds its
// migrations and registers its schemes; the conformance suite
// (parts/partstest) then tells whether it is right.
//
// # Copies and backups
//
// DataTables lists the tables that hold a deployment's data; ReadTables reads
// them in one snapshot, Summaries counts and digests them, WriteRows writes
// rows under their own ids, and LastIDs/SetLastIDs carry the id counters
// over. storage/transfer builds copy, backup and restore on these.
package bunstore
