DROP FUNCTION owner_quota_admit(int, text, bigint, bigint, bigint);
-- The row-level trigger back first, in the same transaction: no write in
-- between goes uncounted.
CREATE TRIGGER snippets_count_usage
    AFTER INSERT OR UPDATE OR DELETE ON snippets
    FOR EACH ROW EXECUTE FUNCTION snippets_count_usage();
DROP TRIGGER snippets_count_usage_insert ON snippets;
DROP TRIGGER snippets_count_usage_update ON snippets;
DROP TRIGGER snippets_count_usage_delete ON snippets;
DROP FUNCTION snippets_count_usage_rows();
