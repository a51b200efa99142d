-- The million-row search data set (issue 17, goal 6): `psql -v rows=N -f`.
-- Deterministic: every value is a hash of the row number (hashint8, stable
-- across PostgreSQL versions), no random(). Skew is Zipf-like: rank k of N
-- is drawn as floor(exp(u * ln(N + 1))), P(k) ~ 1/k.
--
-- Languages (30), tags (300, 1-4 a row) and words (2,000; 3 in the title,
-- 12 in the code, plus ~1 KB of shared boilerplate) are ranked per row and
-- then rotated by the row's language, so each language has its own popular
-- tags and words: a tag popular in one language is rare in the others.
-- That gives the pairs this benchmark is about, each filter common and
-- their intersection small (see search.sh for the pairs it asks for).
--
-- Indexes other than the primary key are dropped for the load and rebuilt
-- from their own definitions afterwards (minutes instead of hours), so the
-- script works against any schema version.
\set ON_ERROR_STOP 1
SET maintenance_work_mem = '512MB';
SET synchronous_commit = off;

\ir drop-indexes.sql

-- u(g, salt) in [0, 1); zipf(n, u) in 1..n.
CREATE FUNCTION pg_temp.u(g bigint, salt int) RETURNS float8 LANGUAGE sql IMMUTABLE AS
  $$ SELECT (hashint8(g * 64 + salt)::bigint + 2147483648) / 4294967296.0 $$;
CREATE FUNCTION pg_temp.zipf(n int, u float8) RETURNS int LANGUAGE sql IMMUTABLE AS
  $$ SELECT least(n, floor(exp(u * ln(n + 1)))::int) $$;

INSERT INTO snippets (id, title, language, code, description, tags, created_at, updated_at, visibility)
SELECT md5('snippet' || g)::uuid,
       w[1] || ' ' || w[2] || ' ' || w[3],
       'lang' || lpad(lang::text, 2, '0'),
       array_to_string(w[4:15], ' ') || E'\n'
         || 'fn main() { let value = compute(input); if value > limit { return error; } '
         || repeat('for item in items { total += item.size; log(item); } ', 17)
         || 'println(total); }',
       CASE WHEN g % 4 = 0 THEN 'example number ' || g END,
       t,
       timestamptz '2026-12-01 00:00:00+00' - make_interval(secs => g),
       timestamptz '2026-12-01 00:00:00+00' - make_interval(secs => g),
       'public'
FROM (SELECT g, pg_temp.zipf(30, pg_temp.u(g, 0)) AS lang FROM generate_series(1, :rows) AS g) r
CROSS JOIN LATERAL (
  SELECT array_agg('tag' || lpad(((pg_temp.zipf(300, pg_temp.u(g, 1 + k)) - 1 + 37 * (lang - 1)) % 300 + 1)::text, 3, '0')
                   ORDER BY k) AS t0
    FROM generate_series(1, 1 + (hashint8(g * 64 + 9) & 3)) AS k
) tg
CROSS JOIN LATERAL (SELECT ARRAY(SELECT DISTINCT x FROM unnest(t0) x ORDER BY x) AS t) td
CROSS JOIN LATERAL (
  SELECT array_agg('word' || lpad(((pg_temp.zipf(2000, pg_temp.u(g, 16 + k)) - 1 + 101 * (lang - 1)) % 2000 + 1)::text, 4, '0')
                   ORDER BY k) AS w
    FROM generate_series(1, 15) AS k
) wd;

\ir rebuild-indexes.sql
VACUUM ANALYZE snippets;
