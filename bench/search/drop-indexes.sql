-- Included by seed.sql and load-code.sql (`\ir`): every index but the
-- primary key is dropped for a bulk load, its definition and statistics
-- targets kept for rebuild-indexes.sql (minutes instead of hours, and the
-- scripts work against any schema version).
CREATE TEMP TABLE seed_indexes AS
  SELECT indexrelid::regclass::text AS name, pg_get_indexdef(indexrelid) AS def
    FROM pg_index WHERE indrelid = 'snippets'::regclass AND NOT indisprimary;
CREATE TEMP TABLE seed_targets AS
  SELECT a.attrelid::regclass::text AS name, a.attnum, a.attstattarget AS target
    FROM pg_attribute a JOIN pg_index i ON i.indexrelid = a.attrelid
   WHERE i.indrelid = 'snippets'::regclass AND NOT i.indisprimary AND a.attstattarget > 0;
DO $$ DECLARE r record; BEGIN
  FOR r IN SELECT name FROM seed_indexes LOOP EXECUTE 'DROP INDEX ' || r.name; END LOOP;
END $$;
