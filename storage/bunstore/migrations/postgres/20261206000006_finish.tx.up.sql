-- A part's surface finish.
ALTER TABLE parts ADD COLUMN finish TEXT NOT NULL DEFAULT '';
