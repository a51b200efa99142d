DROP INDEX snippets_owner_created_id_idx;
ALTER TABLE snippets DROP COLUMN visibility;
ALTER TABLE snippets DROP COLUMN owner;
DROP TABLE tokens;
DROP TABLE owners;
