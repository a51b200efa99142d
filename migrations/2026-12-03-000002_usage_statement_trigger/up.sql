-- Usage counted once per statement, and a POST's quota check in its insert
-- (docs/performance.md, "Quota checks inside the writing statement").
--
-- 1. The row-level trigger upserted the writer's stripe once per row: one
--    statement inserting 100,000 rows of one owner updated the same stripe
--    row 100,000 times in one transaction, each update walking the chain
--    of its earlier versions (quadratic: 9.5 minutes). And two transactions
--    writing several owners upserted their stripe rows in row order, so two
--    of them sharing a stripe could deadlock. Statement-level triggers with
--    transition tables aggregate per owner and upsert each (owner, stripe)
--    once, in owner order.
-- 2. owner_quota_admit: the quota lock, the usage sum and the check in one
--    function that the insert calls for its owner column, so a checked
--    POST is one statement (it was BEGIN, the lock, the sum, the insert,
--    COMMIT). VOLATILE PL/pgSQL: in READ COMMITTED its sum takes a new
--    snapshot after the lock is granted, so it sees what the previous
--    holder committed.
--
-- Expand-only: the previous release takes the same advisory lock (class
-- 'QUOT', hashtext(owner)) and sums the same stripes; the row-level
-- function stays for down.sql.

CREATE FUNCTION snippets_count_usage_rows() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        INSERT INTO owner_usage AS u (owner, stripe, snippets, bytes)
        SELECT owner, (pg_backend_pid() % 32)::smallint, count(*),
               sum(snippet_bytes(title, description, code))
          FROM new_rows
         WHERE owner IS NOT NULL
         GROUP BY owner
         ORDER BY owner
        ON CONFLICT (owner, stripe) DO UPDATE
           SET snippets = u.snippets + EXCLUDED.snippets, bytes = u.bytes + EXCLUDED.bytes;
    ELSIF TG_OP = 'DELETE' THEN
        INSERT INTO owner_usage AS u (owner, stripe, snippets, bytes)
        SELECT owner, (pg_backend_pid() % 32)::smallint, -count(*),
               -sum(snippet_bytes(title, description, code))
          FROM old_rows
         WHERE owner IS NOT NULL
         GROUP BY owner
         ORDER BY owner
        ON CONFLICT (owner, stripe) DO UPDATE
           SET snippets = u.snippets + EXCLUDED.snippets, bytes = u.bytes + EXCLUDED.bytes;
    ELSE
        -- An update: the new rows count, the old ones uncount; an owner
        -- whose totals do not move (most updates) is not written at all.
        INSERT INTO owner_usage AS u (owner, stripe, snippets, bytes)
        SELECT owner, (pg_backend_pid() % 32)::smallint, sum(n), sum(b)
          FROM (SELECT owner, 1 AS n, snippet_bytes(title, description, code) AS b
                  FROM new_rows
                UNION ALL
                SELECT owner, -1, -snippet_bytes(title, description, code)
                  FROM old_rows) AS moved
         WHERE owner IS NOT NULL
         GROUP BY owner
        HAVING sum(n) <> 0 OR sum(b) <> 0
         ORDER BY owner
        ON CONFLICT (owner, stripe) DO UPDATE
           SET snippets = u.snippets + EXCLUDED.snippets, bytes = u.bytes + EXCLUDED.bytes;
    END IF;
    RETURN NULL;
END
$$;

-- Created before the row-level trigger is dropped, in this migration's
-- transaction: CREATE TRIGGER locks out writers until the commit, so no
-- row is counted twice or missed.
CREATE TRIGGER snippets_count_usage_insert
    AFTER INSERT ON snippets
    REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION snippets_count_usage_rows();
CREATE TRIGGER snippets_count_usage_update
    AFTER UPDATE ON snippets
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION snippets_count_usage_rows();
CREATE TRIGGER snippets_count_usage_delete
    AFTER DELETE ON snippets
    REFERENCING OLD TABLE AS old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION snippets_count_usage_rows();
DROP TRIGGER snippets_count_usage ON snippets;

-- `who` if one more snippet of `size` bytes keeps the owner within the
-- limits, else an error 'snippetd: quota exceeded' whose DETAIL is the
-- usage without it ("snippets bytes"). The advisory lock is held until
-- the caller's transaction ends (src/snippets/quota.rs).
CREATE FUNCTION owner_quota_admit(lock_class int, who text, size bigint,
                                  max_snippets bigint, max_bytes bigint)
RETURNS text LANGUAGE plpgsql VOLATILE AS $$
DECLARE
    n bigint;
    b bigint;
BEGIN
    PERFORM pg_advisory_xact_lock(lock_class, hashtext(who));
    SELECT coalesce(sum(snippets), 0), coalesce(sum(bytes), 0) INTO n, b
      FROM owner_usage WHERE owner = who;
    IF n + 1 > max_snippets OR (size > 0 AND b + size > max_bytes) THEN
        RAISE EXCEPTION 'snippetd: quota exceeded' USING DETAIL = n || ' ' || b;
    END IF;
    RETURN who;
END
$$;
