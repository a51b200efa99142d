-- Old revisions pruned in batches of 16 instead of one on every update
-- (docs/performance.md, "Batched revision pruning"). Once a snippet has more
-- versions than REVISIONS_KEPT, each update used to run an index range
-- DELETE for the one revision that fell out of the cap. Now the update
-- that writes a version divisible by 16 deletes everything beyond the
-- cap at once, so up to 15 revisions past it stay stored a while. Reads
-- never show them: the API filters on `version >= current - REVISIONS_KEPT`
-- (src/snippets/revisions.rs), so what a client sees is unchanged.
--
-- Expand-only: the previous release sends the same statements. While it
-- still serves (a rolling deploy), it lists the few stored revisions past
-- the cap too: older versions, shown a little longer, nothing lost.

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
    -- Versions start at 1: below the cap there is nothing to prune; above
    -- it, one update in 16 prunes for the other 15.
    IF OLD.version > kept AND OLD.version % 16 = 0 THEN
        DELETE FROM snippet_revisions
         WHERE snippet_id = OLD.id AND version <= OLD.version - kept;
    END IF;
    RETURN NULL;
END
$$;
