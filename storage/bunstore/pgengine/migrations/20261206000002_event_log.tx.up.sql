-- The change log (issue 13) is part_events itself. Every write transaction
-- first locks the change counter's row (Engine.BeginWrite), so identity ids
-- taken by event inserts are in commit order (a rolled-back transaction
-- leaves a hole, never a late arrival). Events also carry the part's
-- partId (part_ref), name, category and version after the change.
ALTER TABLE part_events
	ADD COLUMN part_ref TEXT NOT NULL DEFAULT '',
	ADD COLUMN name TEXT NOT NULL DEFAULT '',
	ADD COLUMN category TEXT NOT NULL DEFAULT '',
	ADD COLUMN version BIGINT NOT NULL DEFAULT 0;
--bun:split
CREATE INDEX part_events_category ON part_events (category, id);
--bun:split
-- Retention: every event with id <= horizon has been pruned.
CREATE TABLE event_log (
	id      BIGINT PRIMARY KEY CHECK (id = 1),
	horizon BIGINT NOT NULL
);
--bun:split
INSERT INTO event_log (id, horizon) VALUES (1, 0);
