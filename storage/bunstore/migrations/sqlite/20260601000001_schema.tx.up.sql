-- Parts, their history and conversion jobs. Times are INTEGER microseconds
-- since the Unix epoch, UTC (exact microsecond round trip, portable, and they
-- sort numerically). JSON columns hold TEXT. AUTOINCREMENT keeps ids from ever
-- being reused after a delete.
CREATE TABLE parts (
	id           INTEGER PRIMARY KEY AUTOINCREMENT,
	part_id      TEXT    NOT NULL,
	name         TEXT    NOT NULL DEFAULT '',
	type         TEXT    NOT NULL DEFAULT '',
	material     TEXT    NOT NULL DEFAULT '',
	subsystem    TEXT    NOT NULL DEFAULT '',
	assigned     TEXT    NOT NULL DEFAULT '',
	status       TEXT    NOT NULL,
	category     TEXT    NOT NULL,
	amount       INTEGER NOT NULL,
	notes        TEXT    NOT NULL DEFAULT '',
	file         TEXT    NOT NULL DEFAULT '',
	onshape_url  TEXT    NOT NULL DEFAULT '',
	misc_info    TEXT,
	claimed_date INTEGER,
	created_at   INTEGER NOT NULL,
	updated_at   INTEGER NOT NULL,
	version      INTEGER NOT NULL,
	files        TEXT,
	model        TEXT    NOT NULL DEFAULT '{}'
);
--bun:split
-- Sort indexes. SQLite appends the rowid (id) to every index, so each of
-- these also serves "ORDER BY <field> <dir>, id <dir>".
CREATE INDEX parts_created_at ON parts (created_at);
--bun:split
CREATE INDEX parts_updated_at ON parts (updated_at);
--bun:split
CREATE INDEX parts_name ON parts (name);
--bun:split
CREATE INDEX parts_part_id ON parts (part_id);
--bun:split
CREATE INDEX parts_category_created_at ON parts (category, created_at);
--bun:split
CREATE INDEX parts_category_updated_at ON parts (category, updated_at);
--bun:split
CREATE INDEX parts_category_name ON parts (category, name);
--bun:split
CREATE INDEX parts_category_part_id ON parts (category, part_id);
--bun:split
-- History outlives its part, so part_id has no foreign key.
CREATE TABLE part_events (
	id      INTEGER PRIMARY KEY AUTOINCREMENT,
	part_id INTEGER NOT NULL,
	action  TEXT    NOT NULL,
	actor   TEXT    NOT NULL DEFAULT '',
	at      INTEGER NOT NULL,
	changes TEXT    NOT NULL DEFAULT '[]'
);
--bun:split
CREATE INDEX part_events_part_id ON part_events (part_id, id);
--bun:split
CREATE TABLE jobs (
	id         INTEGER PRIMARY KEY AUTOINCREMENT,
	part_id    INTEGER NOT NULL,
	source     TEXT    NOT NULL DEFAULT '',
	state      TEXT    NOT NULL,
	attempts   INTEGER NOT NULL DEFAULT 0,
	error      TEXT    NOT NULL DEFAULT '',
	created_at INTEGER NOT NULL,
	updated_at INTEGER NOT NULL
);
--bun:split
CREATE INDEX jobs_state_created_at ON jobs (state, created_at);
