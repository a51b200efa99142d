CREATE INDEX IF NOT EXISTS snippets_filters_idx ON snippets USING gin (language, tags, search);
DROP INDEX IF EXISTS snippets_owner_filters_idx;
DROP INDEX IF EXISTS snippets_public_owner_created_id_idx;
DROP INDEX IF EXISTS snippets_public_created_id_idx;
DROP INDEX IF EXISTS snippets_public_filters_idx;
