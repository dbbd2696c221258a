-- Search moves out of SQLite into an index the store keeps in memory
-- (textindex.go): trigram postings over the folded text, every candidate
-- checked against the text, so matches are exact and a common word costs
-- about as little as a rare one. The store learns what changed, also from
-- other processes writing the same file, from part_changes: a row per
-- insert, update and delete of a part, in the writing transaction. (The
-- index also keeps the category and the sort keys, and updated_at changes
-- on every update.) Sequence numbers are never reused (AUTOINCREMENT).
CREATE TABLE part_changes (
	seq     INTEGER PRIMARY KEY AUTOINCREMENT,
	part_id INTEGER NOT NULL
);
--bun:split
CREATE TRIGGER part_changes_insert AFTER INSERT ON parts BEGIN
	INSERT INTO part_changes (part_id) VALUES (NEW.id);
END;
--bun:split
CREATE TRIGGER part_changes_delete AFTER DELETE ON parts BEGIN
	INSERT INTO part_changes (part_id) VALUES (OLD.id);
END;
--bun:split
CREATE TRIGGER part_changes_update AFTER UPDATE ON parts BEGIN
	INSERT INTO part_changes (part_id) VALUES (NEW.id);
END;
--bun:split
DROP TABLE parts_search_fields;
--bun:split
DROP TABLE parts_search_notes;
--bun:split
-- Keep the log bounded on a long-running server: every 10,000th change
-- deletes all but the newest 100,000 (an index further behind reloads).
CREATE TRIGGER part_changes_prune AFTER INSERT ON part_changes WHEN NEW.seq % 10000 = 0 BEGIN
	DELETE FROM part_changes WHERE seq <= NEW.seq - 100000;
END;
