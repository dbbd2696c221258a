-- Counts over all parts, kept up to date by triggers in the writing
-- transaction so that Stats and unfiltered totals never scan the parts table.
-- kind is 'total' (key ''), 'category', 'status' or 'assigned' (key 'yes'/'no').
CREATE TABLE part_counts (
	kind TEXT    NOT NULL,
	key  TEXT    NOT NULL,
	n    INTEGER NOT NULL,
	PRIMARY KEY (kind, key)
) WITHOUT ROWID;
--bun:split
INSERT INTO part_counts (kind, key, n)
SELECT 'total', '', count(*) FROM parts WHERE true
UNION ALL SELECT 'category', category, count(*) FROM parts GROUP BY category
UNION ALL SELECT 'status', status, count(*) FROM parts GROUP BY status
UNION ALL SELECT 'assigned', CASE WHEN assigned = '' THEN 'no' ELSE 'yes' END, count(*) FROM parts GROUP BY 2;
--bun:split
CREATE TRIGGER parts_count_insert AFTER INSERT ON parts BEGIN
	INSERT INTO part_counts (kind, key, n) VALUES
		('total', '', 1),
		('category', NEW.category, 1),
		('status', NEW.status, 1),
		('assigned', CASE WHEN NEW.assigned = '' THEN 'no' ELSE 'yes' END, 1)
	ON CONFLICT (kind, key) DO UPDATE SET n = n + excluded.n;
END;
--bun:split
CREATE TRIGGER parts_count_delete AFTER DELETE ON parts BEGIN
	INSERT INTO part_counts (kind, key, n) VALUES
		('total', '', -1),
		('category', OLD.category, -1),
		('status', OLD.status, -1),
		('assigned', CASE WHEN OLD.assigned = '' THEN 'no' ELSE 'yes' END, -1)
	ON CONFLICT (kind, key) DO UPDATE SET n = n + excluded.n;
END;
--bun:split
CREATE TRIGGER parts_count_update AFTER UPDATE OF category, status, assigned ON parts
WHEN OLD.category IS NOT NEW.category OR OLD.status IS NOT NEW.status
	OR (OLD.assigned = '') IS NOT (NEW.assigned = '')
BEGIN
	INSERT INTO part_counts (kind, key, n) VALUES
		('category', OLD.category, -1),
		('category', NEW.category, 1),
		('status', OLD.status, -1),
		('status', NEW.status, 1),
		('assigned', CASE WHEN OLD.assigned = '' THEN 'no' ELSE 'yes' END, -1),
		('assigned', CASE WHEN NEW.assigned = '' THEN 'no' ELSE 'yes' END, 1)
	ON CONFLICT (kind, key) DO UPDATE SET n = n + excluded.n;
END;
