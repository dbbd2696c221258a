-- A part's coating (throwaway), searched and sortable.
ALTER TABLE parts ADD COLUMN coating TEXT NOT NULL DEFAULT '';
CREATE INDEX parts_coating ON parts (coating);
