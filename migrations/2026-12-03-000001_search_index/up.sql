-- One GIN index for every search filter (issue 17, goal 6). btree_gin lets
-- `language = $1` live in a GIN index next to `tags @> $2` and
-- `search @@ $3`, so a search that combines them intersects the posting
-- lists inside one index scan, skipping through the long lists with the
-- short ones, instead of ANDing two or three bitmaps of 100,000+ rows each
-- (docs/performance.md, "Search at a million rows": 124 ms -> 2 ms for a
-- language and a tag that each match many rows and rarely meet).
--
-- btree_gin is a trusted extension (PostgreSQL 13+): the database owner may
-- create it; RDS allows it. The index also serves each filter alone (GIN
-- has no leading-column rule), so it replaces the two single-column GINs.
-- Expand-only for readers: the previous release's statements stay valid.
--
-- On a large table, build it first without blocking writes, under the
-- same name, and this migration keeps it:
--   CREATE INDEX CONCURRENTLY snippets_filters_idx ON snippets
--     USING gin (language, tags, search);
CREATE EXTENSION IF NOT EXISTS btree_gin;
CREATE INDEX IF NOT EXISTS snippets_filters_idx ON snippets USING gin (language, tags, search);
DROP INDEX IF EXISTS snippets_tags_idx;
DROP INDEX IF EXISTS snippets_search_idx;
