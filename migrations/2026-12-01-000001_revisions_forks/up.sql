-- Revisions and forks (issue 16).
--
-- Expand-only: the previous release keeps serving on this schema during a
-- rolling deploy. It names its columns in every INSERT and SELECT, so the
-- new `snippets` columns stay NULL in its rows (not a fork), and its PUTs
-- and PATCHes keep their history too: the revision is written by a trigger,
-- in the statement that updates the row, whoever runs it.

-- What a snippet was at each earlier version: the state an update replaced.
-- The current version is the `snippets` row itself.
CREATE TABLE snippet_revisions (
    snippet_id  uuid        NOT NULL REFERENCES snippets (id) ON DELETE CASCADE,
    version     bigint      NOT NULL,
    title       text        NOT NULL,
    language    text        NOT NULL,
    code        text        NOT NULL,
    description text,
    tags        text[]      NOT NULL,
    updated_at  timestamptz NOT NULL,
    -- Newest first within one snippet: the list's keyset order, the single
    -- revision's lookup and the pruning's range.
    PRIMARY KEY (snippet_id, version)
);

-- How many earlier versions to keep per snippet comes from the session
-- (`REVISIONS_KEPT`, sent as `-c snippetd.revisions_kept=N` when the
-- server connects: no extra round trip); a session without it (the
-- previous release) keeps 100, the setting's default. 0 keeps none.
CREATE FUNCTION snippets_keep_revision() RETURNS trigger LANGUAGE plpgsql AS $$
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

-- Only writes that make a new version (every PUT and PATCH bumps it).
CREATE TRIGGER snippets_keep_revision
    AFTER UPDATE ON snippets
    FOR EACH ROW
    WHEN (OLD.version IS DISTINCT FROM NEW.version)
    EXECUTE FUNCTION snippets_keep_revision();

-- A fork's source and the version it was copied from; NULL for snippets
-- that are not forks. No foreign key: a fork outlives its source (the
-- source may be deleted or made private; the fork keeps saying where it
-- came from, which its owner already knew).
ALTER TABLE snippets ADD COLUMN forked_from_id uuid;
ALTER TABLE snippets ADD COLUMN forked_from_version bigint;
