-- Earlier versions count against the owner's bytes quota (issue 30,
-- finding 14): with QUOTA_MAX_BYTES=300000, 30 PATCHes of 95,000 new
-- characters kept 2.9 MB of history for one owner, outside any limit.
-- Now an owner's usage is the bytes of its snippets plus the bytes of
-- every stored revision of them (snippet_bytes() of each), and a PUT or
-- PATCH whose new revision would take the owner past QUOTA_MAX_BYTES is
-- refused. So an owner's stored text, history included, stays within
-- QUOTA_MAX_BYTES (docs/api.md, "Quotas").
--
-- Counted by triggers, as the snippets are (2026-11-30-000001), so every
-- writer counts, the previous release included:
-- 1. The revision trigger (snippets_keep_revision, from
--    2026-12-06-000010) counts what it keeps and what its batch prune
--    deletes, in one upsert of the owner's stripe per update: plain
--    PL/pgSQL, no transition table. Measured with 3,000 committed
--    UPDATEs of one owned snippet, 3 rounds on a shared 2-core machine:
--    statement-level triggers on snippet_revisions doing it all cost
--    ~100 µs more per update (244 vs 142 µs); this way, 195 vs 187 µs
--    without any counting of history, within the noise.
-- 2. Statement-level triggers on snippet_revisions, with transition
--    tables, count what other statements write there: an admin import's
--    many rows, a manual DELETE. They fire only for statements sent by a
--    client (pg_trigger_depth() = 0 when queued), so (1)'s own insert and
--    prune are not counted twice. Each upserts each owner's stripe once
--    per statement, owners in order; the owner is the snippet's, joined.
-- 3. A snippet's delete cascades to its revisions after the row is gone
--    (and from inside a trigger, which (2) skips): a row-level BEFORE
--    DELETE trigger on snippets subtracts the history first, only for a
--    snippet that has one (version > 1).
-- 4. owner_quota_resize (2026-12-05-000001) checks the growth a write
--    really causes: the new row replaces the old one AND the old one is
--    kept as a revision (unless REVISIONS_KEPT is 0), so the owner grows
--    by the new row's bytes. Pruning is not credited in advance (it
--    happens on one write in 16, after the check): a conservative check.
--
-- Expand-only: the previous release calls the same owner_quota_resize with
-- the same arguments and maps the same error; it reads none of this.
-- Owner changes (only by hand in SQL: no API changes an owner) move the
-- snippet's bytes but leave its history counted with the former owner.

CREATE FUNCTION snippet_revisions_count_usage() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        INSERT INTO owner_usage AS u (owner, stripe, snippets, bytes)
        SELECT s.owner, (pg_backend_pid() % 32)::smallint, 0,
               sum(snippet_bytes(r.title, r.description, r.code))
          FROM new_rows r JOIN snippets s ON s.id = r.snippet_id
         WHERE s.owner IS NOT NULL
         GROUP BY s.owner
         ORDER BY s.owner
        ON CONFLICT (owner, stripe) DO UPDATE SET bytes = u.bytes + EXCLUDED.bytes;
    ELSE
        INSERT INTO owner_usage AS u (owner, stripe, snippets, bytes)
        SELECT s.owner, (pg_backend_pid() % 32)::smallint, 0,
               -sum(snippet_bytes(r.title, r.description, r.code))
          FROM old_rows r JOIN snippets s ON s.id = r.snippet_id
         WHERE s.owner IS NOT NULL
         GROUP BY s.owner
         ORDER BY s.owner
        ON CONFLICT (owner, stripe) DO UPDATE SET bytes = u.bytes + EXCLUDED.bytes;
    END IF;
    RETURN NULL;
END
$$;

CREATE TRIGGER snippet_revisions_count_usage_insert
    AFTER INSERT ON snippet_revisions
    REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT
    WHEN (pg_trigger_depth() = 0)
    EXECUTE FUNCTION snippet_revisions_count_usage();
CREATE TRIGGER snippet_revisions_count_usage_delete
    AFTER DELETE ON snippet_revisions
    REFERENCING OLD TABLE AS old_rows
    FOR EACH STATEMENT
    WHEN (pg_trigger_depth() = 0)
    EXECUTE FUNCTION snippet_revisions_count_usage();

-- (1): 2026-12-06-000010's function, counting what it keeps and prunes.
CREATE OR REPLACE FUNCTION snippets_keep_revision() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    kept bigint := coalesce(nullif(current_setting('snippetd.revisions_kept', true), '')::bigint, 100);
    b bigint := 0;
    pruned bigint;
BEGIN
    IF kept > 0 THEN
        INSERT INTO snippet_revisions
               (snippet_id, version, title, language, code, description, tags, updated_at,
                visibility)
        VALUES (OLD.id, OLD.version, OLD.title, OLD.language, OLD.code,
                OLD.description, OLD.tags, OLD.updated_at, OLD.visibility);
        b := snippet_bytes(OLD.title, OLD.description, OLD.code);
    END IF;
    -- Versions start at 1: below the cap there is nothing to prune; above
    -- it, one update in 16 prunes for the other 15.
    IF OLD.version > kept AND OLD.version % 16 = 0 THEN
        WITH gone AS (
            DELETE FROM snippet_revisions
             WHERE snippet_id = OLD.id AND version <= OLD.version - kept
            RETURNING snippet_bytes(title, description, code) AS n
        )
        SELECT coalesce(sum(n), 0) INTO pruned FROM gone;
        b := b - pruned;
    END IF;
    IF b <> 0 AND NEW.owner IS NOT NULL THEN
        INSERT INTO owner_usage AS u (owner, stripe, snippets, bytes)
        VALUES (NEW.owner, (pg_backend_pid() % 32)::smallint, 0, b)
        ON CONFLICT (owner, stripe) DO UPDATE SET bytes = u.bytes + EXCLUDED.bytes;
    END IF;
    RETURN NULL;
END
$$;

-- (3): the history of a deleted snippet, uncounted before the cascade.
CREATE FUNCTION snippets_uncount_history() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    b bigint;
BEGIN
    SELECT sum(snippet_bytes(title, description, code)) INTO b
      FROM snippet_revisions WHERE snippet_id = OLD.id;
    IF b IS NOT NULL THEN
        INSERT INTO owner_usage AS u (owner, stripe, snippets, bytes)
        VALUES (OLD.owner, (pg_backend_pid() % 32)::smallint, 0, -b)
        ON CONFLICT (owner, stripe) DO UPDATE SET bytes = u.bytes + EXCLUDED.bytes;
    END IF;
    RETURN OLD;
END
$$;

CREATE TRIGGER snippets_uncount_history
    BEFORE DELETE ON snippets
    FOR EACH ROW
    WHEN (OLD.owner IS NOT NULL AND OLD.version > 1)
    EXECUTE FUNCTION snippets_uncount_history();

-- (4): the function of 2026-12-05-000001, growth as the write causes it.
CREATE OR REPLACE FUNCTION owner_quota_resize(lock_class int, who text, new_bytes bigint,
                                              old_bytes bigint, max_bytes bigint)
RETURNS text LANGUAGE plpgsql VOLATILE AS $$
DECLARE
    kept bigint := coalesce(nullif(current_setting('snippetd.revisions_kept', true), '')::bigint, 100);
    -- The new row replaces the old; the old stays as a revision if kept.
    grow bigint := new_bytes - CASE WHEN kept > 0 THEN 0 ELSE old_bytes END;
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

-- The history already stored, counted once: the triggers above exist now
-- and lock out writers of both tables until this transaction commits.
INSERT INTO owner_usage AS u (owner, stripe, snippets, bytes)
SELECT s.owner, 0, 0, sum(snippet_bytes(r.title, r.description, r.code))
  FROM snippet_revisions r JOIN snippets s ON s.id = r.snippet_id
 WHERE s.owner IS NOT NULL
 GROUP BY s.owner
ON CONFLICT (owner, stripe) DO UPDATE SET bytes = u.bytes + EXCLUDED.bytes;
