-- updated_at changes on every write, so its indexes are rewritten by every
-- claim, edit and workflow action. One index on updated_at is enough: a
-- category's most recently updated parts walk it and skip the other
-- categories (each holds about a quarter of the parts).
DROP INDEX parts_category_updated_at;
