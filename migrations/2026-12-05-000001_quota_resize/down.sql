DROP FUNCTION owner_quota_admit_after(int, text, bigint, bigint, bigint, bigint, bigint);
DROP FUNCTION owner_quota_resize(int, text, bigint, bigint, bigint);
