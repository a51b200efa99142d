DROP FUNCTION owner_quota_resize(int, text, bigint, bigint, bigint);
