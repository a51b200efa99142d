DROP INDEX snippets_expires_at_idx;
ALTER TABLE snippets DROP COLUMN expires_at;
