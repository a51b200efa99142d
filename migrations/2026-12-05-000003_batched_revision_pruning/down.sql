-- Back to pruning on every update (2026-12-05-000002_cheaper_update_triggers).

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
