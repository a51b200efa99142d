-- Issue 34's comparison: :pages public snippets of 100 lines (~4 KB of
-- Rust each), ids 00000000-0000-4000-9000-<n as 12 hex digits>, read as
-- JSON (scenario json100, GET /snippets/{id}) and as the page for people
-- (scenario page100, GET /s/{id}) in the same run.
\set ON_ERROR_STOP on
INSERT INTO snippets (id, title, language, code, description, tags, created_at, updated_at)
SELECT ('00000000-0000-4000-9000-' || lpad(to_hex(n), 12, '0'))::uuid,
       'A hundred lines ' || n,
       'rust',
       (SELECT string_agg(format('    let v%s = compute(%s, "line %s"); // step %s', g, g * n, g, g), E'\n')
          FROM generate_series(1, 100) AS g) || E'\n',
       'One hundred lines for the page benchmark, number ' || n,
       ARRAY['bench', 'pages'],
       now() - interval '1 day' - make_interval(secs => n),
       now() - interval '1 day' - make_interval(secs => n)
FROM generate_series(1, :pages) AS n;
