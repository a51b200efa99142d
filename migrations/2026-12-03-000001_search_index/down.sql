CREATE INDEX IF NOT EXISTS snippets_tags_idx ON snippets USING gin (tags);
CREATE INDEX IF NOT EXISTS snippets_search_idx ON snippets USING gin (search);
DROP INDEX IF EXISTS snippets_filters_idx;
-- btree_gin stays: another object may use it, and it costs nothing unused.
