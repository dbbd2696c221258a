-- Named values shared by every server on the database (issue 15): e.g. the
-- webhook endpoints with their cursors and delivery logs, so the server
-- that delivers them can change without losing its place.
CREATE TABLE settings (
	name  TEXT PRIMARY KEY,
	value TEXT NOT NULL
);
