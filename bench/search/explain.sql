-- bench/search.sh explain: the search probe snippetd sends first for each
-- combination that needs it (positions of up to 1,000 matches), planned
-- for its values (as snippetd now asks), then the plain page for scale.
\set ON_ERROR_STOP 1
\pset pager off
SET jit = off;
\echo == language_tag
EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) SELECT created_at, id FROM snippets
 WHERE (expires_at IS NULL OR expires_at > now()) AND visibility = 'public'
   AND language = 'lang02' AND tags @> '{tag001}' LIMIT 1000;
\echo == tag_word
EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) SELECT created_at, id FROM snippets
 WHERE (expires_at IS NULL OR expires_at > now()) AND visibility = 'public'
   AND tags @> '{tag001}' AND search @@ websearch_to_tsquery('simple', 'word1011') LIMIT 1000;
\echo == word_language
EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) SELECT created_at, id FROM snippets
 WHERE (expires_at IS NULL OR expires_at > now()) AND visibility = 'public'
   AND language = 'lang01' AND search @@ websearch_to_tsquery('simple', 'word1011') LIMIT 1000;
\echo == all_three
EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) SELECT created_at, id FROM snippets
 WHERE (expires_at IS NULL OR expires_at > now()) AND visibility = 'public'
   AND language = 'lang01' AND tags @> '{tag001}' AND search @@ websearch_to_tsquery('simple', 'word1011') LIMIT 1000;
\echo == tag (60,000 matches: the probe stops at 1,000)
EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) SELECT created_at, id FROM snippets
 WHERE (expires_at IS NULL OR expires_at > now()) AND visibility = 'public'
   AND tags @> '{tag001}' LIMIT 1000;
