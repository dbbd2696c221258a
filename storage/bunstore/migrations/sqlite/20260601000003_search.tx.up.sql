-- Substring search: an FTS5 trigram index over the six searchable fields.
-- The store writes case-folded copies of the fields (Go's Unicode simple case
-- folding, see fold.go) in the same transaction as the part, so matching is
-- case-insensitive for every script and the index compares folded text
-- exactly (case_sensitive 1). rowid is the part's id.
CREATE VIRTUAL TABLE parts_search USING fts5 (
	part_id, name, notes, subsystem, assigned, material,
	tokenize = 'trigram case_sensitive 1'
);
