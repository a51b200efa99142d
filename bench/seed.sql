-- Seeds :rows snippets (~1 KB of code each) in one statement.
-- Ids are computable from an ordinal n (1..rows), so wrk and pgbench can pick
-- random existing ids without a lookup table:
--   00000000-0000-4000-8000-<n as 12 hex digits>
-- created_at is one second apart, newest = n = rows (keyset order is real).
-- The code is 160 tokens: 70 % from 24 keywords, 30 % `symN` with N < 5000,
-- so each symN occurs in ~1 % of the rows (the search scenario's terms).
\set ON_ERROR_STOP on
INSERT INTO snippets (id, title, language, code, description, tags, created_at, updated_at)
SELECT ('00000000-0000-4000-8000-' || lpad(to_hex(n), 12, '0'))::uuid,
       'Benchmark snippet ' || n,
       (ARRAY['rust','go','python','javascript','typescript','sql','bash','c'])[1 + n % 8],
       c.code,
       'Seeded for the load test, number ' || n,
       ARRAY['bench', (ARRAY['rust','go','python','javascript','typescript','sql','bash','c'])[1 + n % 8]],
       now() - make_interval(secs => :rows - n),
       now() - make_interval(secs => :rows - n)
FROM generate_series(1, :rows) AS n
CROSS JOIN LATERAL (
    SELECT string_agg(
             CASE WHEN random() < 0.7
                  THEN (ARRAY['fn','let','mut','return','if','else','for','while','match','struct',
                              'impl','pub','use','const','static','async','await','loop','break',
                              'continue','self','true','false','where'])[1 + floor(random() * 24)::int]
                  ELSE 'sym' || floor(random() * 5000)::int
             END,
             CASE WHEN g % 12 = 0 THEN E';\n' ELSE ' ' END) AS code
    FROM generate_series(1, 160) AS g
    WHERE n > 0  -- correlate, so that every row gets its own code
) AS c;
VACUUM (ANALYZE) snippets;
SELECT count(*) AS rows, round(avg(length(code))) AS avg_code_bytes FROM snippets;
