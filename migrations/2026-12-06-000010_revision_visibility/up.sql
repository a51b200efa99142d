-- Each revision records the visibility the snippet had while that version
-- was current (issue 30, finding 11): a snippet made public must not
-- publish what it said while it was private or unlisted. Reads decide
-- with access::can_read_version (src/snippets/access.rs); docs/api.md,
-- "Revisions and visibility".
--
-- Expand-only. The previous release names its columns in every INSERT and
-- SELECT: it never reads the column, and its imports get the default.
-- The trigger is the database's own, so the previous release's PUTs and
-- PATCHes record the visibility too. While it still serves (a rolling
-- deploy) it shows every revision as before; the fix holds once the last
-- old task is gone.
--
-- The default, 'private', is what revisions written before this migration
-- become: their visibility was never recorded, and only the owner and
-- admins could have read them had it been private. Conservative: history
-- older than this release is the owner's (and admins') only. Adding a
-- column with a constant default rewrites nothing; the CHECK is NOT VALID
-- so that adding it scans nothing either (every existing row holds the
-- default, and new rows are checked).
ALTER TABLE snippet_revisions ADD COLUMN visibility text NOT NULL DEFAULT 'private';
ALTER TABLE snippet_revisions ADD CONSTRAINT snippet_revisions_visibility_values
    CHECK (visibility IN ('public', 'unlisted', 'private')) NOT VALID;

-- 2026-12-05-000003_batched_revision_pruning's function, with the column.
CREATE OR REPLACE FUNCTION snippets_keep_revision() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    kept bigint := coalesce(nullif(current_setting('snippetd.revisions_kept', true), '')::bigint, 100);
BEGIN
    IF kept > 0 THEN
        INSERT INTO snippet_revisions
               (snippet_id, version, title, language, code, description, tags, updated_at,
                visibility)
        VALUES (OLD.id, OLD.version, OLD.title, OLD.language, OLD.code,
                OLD.description, OLD.tags, OLD.updated_at, OLD.visibility);
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
