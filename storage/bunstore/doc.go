// Package bunstore is Partflow's parts.Store on github.com/uptrace/bun over
// SQLite (modernc.org/sqlite: pure Go, no cgo).
//
// # Opening
//
//	store, err := bunstore.Open(ctx, "sqlite:///var/lib/partflow/parts.db", nil)
//
// or, through the registry, storage.Open(ctx, url, opts) with a blank import of
// this package (its init registers the "sqlite" scheme). Accepted URLs:
//
//	sqlite:///abs/path/parts.db   absolute path
//	sqlite://rel/path/parts.db    relative to the working directory
//	sqlite://:memory:             a new private in-memory database
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
// Search is a case-insensitive substring match over part_id, name, notes,
// subsystem, assigned and material. The store keeps case-folded copies of
// these fields (Unicode simple case folding, so "ä" finds "Ä" and "σ" finds
// "Σ" and "ς"; foldings that change length such as "ß"/"SS" are not applied)
// in two FTS5 tables with the trigram tokenizer, written in the same
// transaction as the part: parts_search_notes holds the notes, which are
// most of the text and rarely change, and parts_search_fields the short
// fields, so a claim or an edit of a name rewrites only the short entry, and
// a status change rewrites neither. A search matches either table. Queries of three or more characters are an FTS5
// phrase, which the trigram index answers without reading every row; shorter
// queries (one or two characters) cannot use trigrams and scan the folded
// copies with instr(). All characters, including % and _, are literal, and a
// match never spans two fields.
//
// A search runs its match once: one statement returns the ids of all
// matches as a single comma-separated value (a row per id would cost more
// than the match itself), and their number is the total. With up to 2,000
// matches, SQLite sorts only those ids and reads the rows of the page. With
// more, and a sort field that has an index (created_at, updated_at, name,
// part_id, and id without a category filter), the store walks that index in
// order and probes each id against the sorted match set until the page is
// full, then reads just the page's rows: at a 20% match rate a page of 50
// looks at about 250 index entries. A walk that reads more than 10,000
// entries and four per match without filling the page, and a search without
// a limit, leave the walk to SQLite, which probes a temporary index of the
// matches.
//
// # Adding PostgreSQL
//
// Everything dialect-specific sits behind the small engine interface
// (engine.go) and in sqlite-named files: migrations, search indexing and the
// search query. To add PostgreSQL in this package: write postgres.go with an
// engine (bun's pgdialect over pgx or lib/pq, one pool; SELECT ... FOR UPDATE
// SKIP LOCKED in NextJob's subquery), migrations/postgres/*.sql with the same
// tables, the part_counts triggers as plpgsql trigger functions, and a
// pg_trgm GIN index over the folded search columns (or over lower() of the
// fields), rebind the ? placeholders of the fixed statements (prepared.go) to
// $n, then accept postgres:// URLs in Open and register the scheme. The
// conformance suite (parts/partstest) then tells you whether it is right.
package bunstore
