-- Per-person API keys: only the SHA-256 of each secret is stored (hex).
-- Times are microseconds since the epoch, like every other table.
CREATE TABLE api_keys (
	id           INTEGER PRIMARY KEY AUTOINCREMENT,
	name         TEXT    NOT NULL,
	role         TEXT    NOT NULL,
	roles        TEXT    NOT NULL DEFAULT '[]',
	digest       TEXT    NOT NULL UNIQUE,
	prefix       TEXT    NOT NULL,
	created_at   INTEGER NOT NULL,
	expires_at   INTEGER,
	revoked_at   INTEGER,
	last_used_at INTEGER
);
--bun:split
CREATE UNIQUE INDEX api_keys_live_name ON api_keys (name) WHERE revoked_at IS NULL;
