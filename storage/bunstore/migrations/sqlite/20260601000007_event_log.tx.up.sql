-- The change log (issue 13) is part_events itself: its AUTOINCREMENT id,
-- assigned inside the writing transaction while SQLite's single writer
-- holds the lock, is a store-wide sequence in commit order, so a reader
-- after a cursor never sees an event before an earlier one commits. Events
-- now also carry the part's partId (part_ref), name, category and version
-- after the change; older events keep empty values.
ALTER TABLE part_events ADD COLUMN part_ref TEXT NOT NULL DEFAULT '';
--bun:split
ALTER TABLE part_events ADD COLUMN name TEXT NOT NULL DEFAULT '';
--bun:split
ALTER TABLE part_events ADD COLUMN category TEXT NOT NULL DEFAULT '';
--bun:split
ALTER TABLE part_events ADD COLUMN version INTEGER NOT NULL DEFAULT 0;
--bun:split
CREATE INDEX part_events_category ON part_events (category, id);
--bun:split
-- Retention: every event with id <= horizon has been pruned; a reader
-- whose cursor is below it gets ErrCursorExpired.
CREATE TABLE event_log (
	id      INTEGER PRIMARY KEY CHECK (id = 1),
	horizon INTEGER NOT NULL
);
--bun:split
INSERT INTO event_log (id, horizon) VALUES (1, 0);
