DROP TRIGGER snippets_count_usage ON snippets;
DROP FUNCTION snippets_count_usage();
DROP FUNCTION snippet_bytes(text, text, text);
DROP TABLE owner_usage;
