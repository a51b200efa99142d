-- History out of the quota again: uncount it, drop its triggers, and the
-- quota check of 2026-12-05-000001_quota_resize.

DROP TRIGGER snippets_uncount_history ON snippets;
DROP FUNCTION snippets_uncount_history();
DROP TRIGGER snippet_revisions_count_usage_insert ON snippet_revisions;
DROP TRIGGER snippet_revisions_count_usage_delete ON snippet_revisions;
DROP FUNCTION snippet_revisions_count_usage();

-- 2026-12-06-000010_revision_visibility's revision trigger.
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
    IF OLD.version > kept AND OLD.version % 16 = 0 THEN
        DELETE FROM snippet_revisions
         WHERE snippet_id = OLD.id AND version <= OLD.version - kept;
    END IF;
    RETURN NULL;
END
$$;

INSERT INTO owner_usage AS u (owner, stripe, snippets, bytes)
SELECT s.owner, 0, 0, -sum(snippet_bytes(r.title, r.description, r.code))
  FROM snippet_revisions r JOIN snippets s ON s.id = r.snippet_id
 WHERE s.owner IS NOT NULL
 GROUP BY s.owner
ON CONFLICT (owner, stripe) DO UPDATE SET bytes = u.bytes + EXCLUDED.bytes;

CREATE OR REPLACE FUNCTION owner_quota_resize(lock_class int, who text, new_bytes bigint,
                                              old_bytes bigint, max_bytes bigint)
RETURNS text LANGUAGE plpgsql VOLATILE AS $$
DECLARE
    grow bigint := new_bytes - old_bytes;
    n bigint;
    b bigint;
BEGIN
    IF grow > 0 THEN
        PERFORM pg_advisory_xact_lock(lock_class, hashtext(who));
        SELECT coalesce(sum(snippets), 0), coalesce(sum(bytes), 0) INTO n, b
          FROM owner_usage WHERE owner = who;
        IF b + grow > max_bytes THEN
            RAISE EXCEPTION 'snippetd: quota exceeded' USING DETAIL = n || ' ' || b;
        END IF;
    END IF;
    RETURN who;
END
$$;
