-- Included after a bulk load (`\ir`): the indexes drop-indexes.sql
-- dropped, from their own definitions, with their statistics targets
-- (pg_get_indexdef leaves those out).
DO $$ DECLARE r record; BEGIN
  FOR r IN SELECT def FROM seed_indexes LOOP EXECUTE r.def; END LOOP;
  FOR r IN SELECT * FROM seed_targets LOOP
    EXECUTE format('ALTER INDEX %s ALTER COLUMN %s SET STATISTICS %s', r.name, r.attnum, r.target);
  END LOOP;
END $$;
