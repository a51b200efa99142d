-- bench/search.sh explain (BENCH_DATA=code): the slow shapes of issue 31,
-- as PostgreSQL alone plans them (before) and as snippetd now sends them
-- (after). psql variables: rare, absent, private (bench/search.sh pick).
\set ON_ERROR_STOP 1
\pset pager off
SET jit = off;
\echo == before: a rare word, planned for its values (the walk in page order)
EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) SELECT id FROM snippets
 WHERE (expires_at IS NULL OR expires_at > now()) AND visibility = 'public'
   AND search @@ websearch_to_tsquery('simple', :'rare')
 ORDER BY created_at DESC, id DESC LIMIT 21;
\echo == after: a rare word (the statistics bound it): GIN of public rows, sorted
EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) SELECT id FROM snippets
 WHERE (expires_at IS NULL OR expires_at > now()) AND visibility = 'public'
   AND (search || ''::tsvector) @@ websearch_to_tsquery('simple', :'rare')
 ORDER BY (created_at + interval '0 s') DESC, id DESC LIMIT 21;
\echo == after: a word only in private rows: the same index, no entry
EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) SELECT id FROM snippets
 WHERE (expires_at IS NULL OR expires_at > now()) AND visibility = 'public'
   AND (search || ''::tsvector) @@ websearch_to_tsquery('simple', :'private')
 ORDER BY (created_at + interval '0 s') DESC, id DESC LIMIT 21;
\echo == after: two mid words that rarely meet: the probe
EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) SELECT created_at, id FROM snippets
 WHERE (expires_at IS NULL OR expires_at > now()) AND visibility = 'public'
   AND (search || ''::tsvector) @@ websearch_to_tsquery('simple', 'socket timeout')
 LIMIT 5000;
\echo == after: a common word: the bounded walk, stopped after a page
EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) SELECT id FROM (
  SELECT snippets.* FROM snippets
   WHERE (expires_at IS NULL OR expires_at > now()) AND visibility = 'public'
   ORDER BY created_at DESC, id DESC LIMIT 288) AS snippets
 WHERE setweight(search, 'D') @@ websearch_to_tsquery('simple', 'self')
 ORDER BY created_at DESC, id DESC LIMIT 21;
