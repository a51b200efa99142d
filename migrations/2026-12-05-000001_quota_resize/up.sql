-- Quota checks inside the statement that writes, for the writes that
-- still took a transaction around them (docs/performance.md, "Quota checks
-- inside the writing statement").
--
-- owner_quota_resize: a checked PUT or PATCH in one statement. The owner
-- column's value in the UPDATE's SET is owner_quota_resize(…), which takes
-- the owner's quota lock, sums the usage and refuses a row that grows the
-- owner past the bytes limit. It replaces BEGIN, the lock, the sum before,
-- the sum after and COMMIT.
--
-- `old_bytes` is snippet_bytes() of the row being replaced, computed in
-- the SET; an update never changes the snippet count.
-- As quota::check: only growth past the limit is refused, so a shrinking
-- write passes even above a lowered limit, and takes no lock: it can only
-- make a concurrent check's sum too high, never too low. VOLATILE PL/pgSQL, like
-- owner_quota_admit: in READ COMMITTED its sum takes a new snapshot after
-- the lock is granted. Expand-only: the previous release takes the same
-- advisory lock and sums the same stripes.
CREATE FUNCTION owner_quota_resize(lock_class int, who text, new_bytes bigint,
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

-- A create's check when earlier rows of the same owner go in the same
-- statement (src/snippets/creates.rs coalesces concurrent creates into one
-- INSERT): `before_n` rows of `before_b` bytes ahead of this one, which
-- the usage sum cannot see yet (the usage trigger runs after the
-- statement). The rows of one owner are adjacent and the first takes the
-- lock, so the sum and the rows ahead are all there is. Same error as
-- owner_quota_admit, with the usage as this row saw it.
CREATE FUNCTION owner_quota_admit_after(lock_class int, who text, size bigint,
                                        before_n bigint, before_b bigint,
                                        max_snippets bigint, max_bytes bigint)
RETURNS text LANGUAGE plpgsql VOLATILE AS $$
DECLARE
    n bigint;
    b bigint;
BEGIN
    PERFORM pg_advisory_xact_lock(lock_class, hashtext(who));
    SELECT coalesce(sum(snippets), 0) + before_n, coalesce(sum(bytes), 0) + before_b INTO n, b
      FROM owner_usage WHERE owner = who;
    IF n + 1 > max_snippets OR (size > 0 AND b + size > max_bytes) THEN
        RAISE EXCEPTION 'snippetd: quota exceeded' USING DETAIL = n || ' ' || b;
    END IF;
    RETURN who;
END
$$;
