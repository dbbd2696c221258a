-- Notes are most of the searchable text but rarely change; claims, edits of
-- names and assignees happen all the time. Keeping notes in an index of their
-- own means a claim rewrites only the short fields' entry, which halves the
-- cost of a claim. A search matches either index (a match never spans two
-- fields, as before).
CREATE VIRTUAL TABLE parts_search_fields USING fts5 (
	part_id, name, subsystem, assigned, material,
	tokenize = 'trigram case_sensitive 1'
);
CREATE VIRTUAL TABLE parts_search_notes USING fts5 (
	notes,
	tokenize = 'trigram case_sensitive 1'
);
INSERT INTO parts_search_fields (rowid, part_id, name, subsystem, assigned, material)
	SELECT rowid, part_id, name, subsystem, assigned, material FROM parts_search;
INSERT INTO parts_search_notes (rowid, notes) SELECT rowid, notes FROM parts_search;
DROP TABLE parts_search;
