// Package transfer moves a deployment's data between stores and keeps it:
// Copy copies the database (SQLite to PostgreSQL and back) and the files
// (file:// to s3:// and back), Backup writes both to one archive and Restore
// reads it back into an empty store of either engine.
//
// What is moved: the data tables of storage/bunstore (parts with their ids,
// their history, conversion jobs, API keys as their digests; see
// bunstore.DataTables) row for row, and every object of the file store
// (uploads and converted models). Counts and the search index's change log
// are derived by the target's triggers. Not moved: the webhook endpoints
// (a server's working state, with signing secrets) and anything outside
// the database and file store.
//
// # Copy
//
// Copy is resumable and safe to run twice: each table is copied in id order
// in batches of one transaction each, starting above the largest id the
// target has, so a copy killed halfway continues where it stopped and a
// second run copies nothing (a target holding rows that are not the
// source's, up to the same ids, is refused before anything is written); a
// file is copied unless the target holds an
// object of the same size and SHA-256 (a file store's Put is atomic, so a
// killed copy leaves no half file). It then verifies: every table's row
// count and a SHA-256 over its rows must match, and every file's SHA-256
// read back from the target must match the source's. Copy a deployment whose
// server is stopped (or read-only): rows changed at the source after they
// were copied are not copied again, and the verification reports them.
//
// # Backup and restore
//
// A backup is a gzip-compressed tar archive: the rows of every table
// (tables/<name>.jsonl, one JSON array per row), every file (files/<key>),
// and manifest.json with the format, each table's count and SHA-256 and each
// file's size and SHA-256. The rows are read in one snapshot of the database
// (one read-only transaction), so a backup taken while the server runs is
// consistent; files are listed after the snapshot, so every file the
// snapshot's parts reference is there (files uploaded meanwhile may be too).
// Restore first reads the whole archive and verifies every checksum, then
// writes into the target, which must be empty unless Force is set (rows
// whose ids the target has already are then skipped, as when resuming), and
// finally verifies the target against the manifest.
package transfer
