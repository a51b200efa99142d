ALTER TABLE snippets DROP COLUMN forked_from_version;
ALTER TABLE snippets DROP COLUMN forked_from_id;
DROP TRIGGER snippets_keep_revision ON snippets;
DROP FUNCTION snippets_keep_revision();
DROP TABLE snippet_revisions;
