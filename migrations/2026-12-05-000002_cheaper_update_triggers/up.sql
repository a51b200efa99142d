-- Two triggers that every PUT and PATCH fires, made cheaper
-- (docs/performance.md, "Batched revision pruning": PostgreSQL CPU per
-- update 440 → 350 µs, bench/pgcost.py, 8 clients).
--
-- 1. The revision trigger pruned on every update: an index range DELETE
--    on snippet_revisions, 70 µs, though nothing is older than the cap
--    until a snippet has more versions than it keeps (most never do).
-- 2. Usage on update: the statement-level trigger made every UPDATE
--    capture its old and new rows in transition tables and run an
--    aggregate, to find that a PUT of the same size moves nothing. The
--    row-level function (from 2026-11-30-000002_usage_stripes, kept for
--    down migrations) runs only when the owner or the size changes, which
--    its WHEN clause tells from the row itself, sizes computed inline (a
--    SQL function in WHEN is executed, not inlined). Row-level is safe
--    here: the server's UPDATEs write one row each, so the per-row stripe
--    upsert of a many-row statement (the quadratic case the
--    statement-level triggers fixed, for INSERT) does not arise; a manual
--    many-row UPDATE stays correct, only slower.
--
-- Expand-only: the previous release sends the same statements; triggers
-- are the database's own.

CREATE OR REPLACE FUNCTION snippets_keep_revision() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    kept bigint := coalesce(nullif(current_setting('snippetd.revisions_kept', true), '')::bigint, 100);
BEGIN
    IF kept > 0 THEN
        INSERT INTO snippet_revisions
               (snippet_id, version, title, language, code, description, tags, updated_at)
        VALUES (OLD.id, OLD.version, OLD.title, OLD.language, OLD.code,
                OLD.description, OLD.tags, OLD.updated_at);
    END IF;
    -- Versions start at 1: below the cap there is nothing to prune.
    IF OLD.version > kept THEN
        DELETE FROM snippet_revisions
         WHERE snippet_id = OLD.id AND version <= OLD.version - kept;
    END IF;
    RETURN NULL;
END
$$;

DROP TRIGGER snippets_count_usage_update ON snippets;
CREATE TRIGGER snippets_count_usage_update
    AFTER UPDATE ON snippets
    FOR EACH ROW
    WHEN (OLD.owner IS DISTINCT FROM NEW.owner
          OR octet_length(OLD.title) + coalesce(octet_length(OLD.description), 0) + octet_length(OLD.code)
             <> octet_length(NEW.title) + coalesce(octet_length(NEW.description), 0) + octet_length(NEW.code))
    EXECUTE FUNCTION snippets_count_usage();
