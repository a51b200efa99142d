DROP TRIGGER snippets_count_usage_update ON snippets;
CREATE TRIGGER snippets_count_usage_update
    AFTER UPDATE ON snippets
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION snippets_count_usage_rows();

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
    -- The oldest beyond the cap: an index range, usually one row or none.
    DELETE FROM snippet_revisions
     WHERE snippet_id = OLD.id AND version <= OLD.version - kept;
    RETURN NULL;
END
$$;
