-- The real-code data set (issue 31): `psql -v corpus=FILE -f`, FILE from
-- bench/search/corpus.py. Indexes other than the primary key are dropped
-- for the load and rebuilt from their own definitions afterwards, as
-- seed.sql does, so the script works against any schema version.
\set ON_ERROR_STOP 1
SET maintenance_work_mem = '1GB';
SET synchronous_commit = off;

INSERT INTO owners (handle)
  SELECT 'owner' || lpad(g::text, 2, '0') FROM generate_series(1, 50) g
  ON CONFLICT DO NOTHING;

\ir drop-indexes.sql

\set copy '\\copy snippets (id, title, language, code, description, tags, created_at, updated_at, owner, visibility) FROM ' :'corpus'
:copy

\ir rebuild-indexes.sql
VACUUM ANALYZE snippets;
