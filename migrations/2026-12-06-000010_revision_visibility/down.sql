-- Back to revisions without their visibility
-- (2026-12-05-000003_batched_revision_pruning's function).

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
    IF OLD.version > kept AND OLD.version % 16 = 0 THEN
        DELETE FROM snippet_revisions
         WHERE snippet_id = OLD.id AND version <= OLD.version - kept;
    END IF;
    RETURN NULL;
END
$$;

ALTER TABLE snippet_revisions DROP CONSTRAINT snippet_revisions_visibility_values;
ALTER TABLE snippet_revisions DROP COLUMN visibility;
