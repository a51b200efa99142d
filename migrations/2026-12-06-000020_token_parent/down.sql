-- Drops the lineage; the index goes with its column.
ALTER TABLE tokens DROP COLUMN parent_id;
