-- The words the real-code cases search for, picked from the data itself
-- (bench/search.sh pick): `psql -At -f`, one NAME=value line each.
-- Candidates come from a 0.2 % sample of rows; each is then counted
-- through the GIN index. Deterministic for the same data (REPEATABLE).
\set ON_ERROR_STOP 1
SET jit = off;
CREATE TEMP TABLE cand AS
  SELECT DISTINCT w, s.visibility, s.language
    FROM snippets s TABLESAMPLE SYSTEM (0.2) REPEATABLE (31),
         unnest(tsvector_to_array(s.search)) w
   WHERE w ~ '^[a-z][a-z0-9]{5,24}$';
CREATE TEMP TABLE counted AS
  SELECT w, visibility, language,
         (SELECT count(*) FROM snippets x WHERE x.search @@ to_tsquery('simple', w)) AS n,
         (SELECT count(*) FROM snippets x WHERE x.search @@ to_tsquery('simple', w)
             AND x.visibility = 'public') AS public_n
    FROM (SELECT * FROM cand ORDER BY md5(w) LIMIT 3000) c;
-- A real identifier in 8-15 rows, all public.
SELECT 'RARE=' || w FROM counted WHERE n BETWEEN 8 AND 15 AND public_n = n ORDER BY md5(w) LIMIT 1;
-- A second one, for `or` and two-word cases.
SELECT 'RARE2=' || w FROM counted WHERE n BETWEEN 8 AND 15 AND public_n = n ORDER BY md5(w) OFFSET 1 LIMIT 1;
-- A word of a Python snippet that is rare among Python snippets.
SELECT 'PYRARE=' || w FROM counted c WHERE language = 'python' AND n BETWEEN 5 AND 40
   AND (SELECT count(*) FROM snippets x WHERE x.search @@ to_tsquery('simple', c.w)
          AND x.language = 'python' AND x.visibility = 'public') BETWEEN 3 AND 15
 ORDER BY md5(w) LIMIT 1;
-- A word in no public row, from private rows (overlapping pieces share
-- most words, so few are in private rows alone; none that search shows),
-- from a sample of private rows.
SELECT 'PRIVATE=' || w FROM (
  SELECT w, (SELECT count(*) FROM snippets x WHERE x.search @@ to_tsquery('simple', p.w)) AS n,
         (SELECT count(*) FROM snippets x WHERE x.search @@ to_tsquery('simple', p.w)
             AND x.visibility = 'public') AS seen
    FROM (SELECT w FROM (SELECT DISTINCT w FROM snippets s TABLESAMPLE SYSTEM (2) REPEATABLE (5),
                 unnest(tsvector_to_array(s.search)) w
           WHERE s.visibility = 'private' AND w ~ '^[a-z][a-z0-9]{5,24}$') d
           ORDER BY md5(w) LIMIT 4000) p) c
 WHERE seen = 0 ORDER BY n DESC, w LIMIT 1;
-- Words in no row: identifiers of the right shape, checked absent.
SELECT 'ABSENT=' || w FROM (SELECT 'qz' || substr(md5(g::text), 1, 8) AS w FROM generate_series(1, 50) g) a
 WHERE NOT EXISTS (SELECT 1 FROM snippets x WHERE x.search @@ to_tsquery('simple', a.w)) LIMIT 1;
SELECT 'ABSENT2=' || w FROM (SELECT 'vx' || substr(md5(g::text), 1, 8) AS w FROM generate_series(1, 50) g) a
 WHERE NOT EXISTS (SELECT 1 FROM snippets x WHERE x.search @@ to_tsquery('simple', a.w)) LIMIT 1;
-- A common tag and the owner with the most private rows.
SELECT 'TAG=' || t FROM (SELECT unnest(tags) t FROM snippets TABLESAMPLE SYSTEM (1) REPEATABLE (7)) x
 GROUP BY t ORDER BY count(*) DESC LIMIT 1;
SELECT 'OWNER=' || owner FROM snippets WHERE visibility = 'private' GROUP BY owner ORDER BY count(*) DESC LIMIT 1;
