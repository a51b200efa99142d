-- Searches read only the rows the caller may see (issue 31).
--
-- A search for everyone (no owner, or another owner's snippets) filters
-- on `visibility = 'public'`, written as a literal (src/snippets/sql.rs,
-- PublicOnly) so that the partial indexes below serve it: their entries
-- are public rows only, so the time such a search takes cannot depend on
-- what private or unlisted rows contain. Its text filter is
-- `(search || ''::tsvector) @@ ...`, the same match as `search @@ ...`
-- written as the public index's expression: only that index serves it,
-- and ANALYZE keeps statistics of an index expression over the index's
-- rows alone, so the word frequencies snippetd reads to pick a plan
-- (src/snippets/words.rs) are those of public rows, not of private ones.
--
-- Every other search (an owner's own snippets, an admin's) uses the GIN
-- index over all rows, which now has `owner` too (btree_gin): one owner's
-- search intersects inside one index scan instead of reading everyone's
-- matches and dropping the others' rows from the heap. GIN has no
-- leading-column rule, so it serves every statement the old
-- (language, tags, search) index served: it replaces it.
--
-- The btree indexes give the walks in page order (a plain page, a walk of
-- the newest rows, one owner's public page) the same property.
--
-- On a large table, build them first without blocking writes, under the
-- same names, and this migration keeps them, e.g.
--   CREATE INDEX CONCURRENTLY snippets_public_filters_idx ON snippets
--     USING gin (owner, language, tags, (search || ''::tsvector))
--     WHERE visibility = 'public';
CREATE INDEX IF NOT EXISTS snippets_public_filters_idx ON snippets
  USING gin (owner, language, tags, (search || ''::tsvector)) WHERE visibility = 'public';
-- Statistics of 10,000 words (the default keeps 1,000): at a million
-- rows a word they do not list is then in fewer than ~4,400 public rows,
-- few enough to sort (src/snippets/list.rs, SEARCH_SORT_LIMIT), where
-- the default left up to ~13,600 unknown. ANALYZE samples 300,000 rows
-- for it: 23 s at a million rows, when autovacuum decides (10 % changed).
ALTER INDEX snippets_public_filters_idx ALTER COLUMN 4 SET STATISTICS 1000;
CREATE INDEX IF NOT EXISTS snippets_owner_filters_idx ON snippets
  USING gin (owner, language, tags, search);
DROP INDEX IF EXISTS snippets_filters_idx;
CREATE INDEX IF NOT EXISTS snippets_public_created_id_idx ON snippets
  (created_at DESC, id DESC) WHERE visibility = 'public';
CREATE INDEX IF NOT EXISTS snippets_public_owner_created_id_idx ON snippets
  (owner, created_at DESC, id DESC) WHERE visibility = 'public';
