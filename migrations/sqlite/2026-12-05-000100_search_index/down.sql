-- The FTS5 indexes are not rebuilt: run the earlier Casebook's migrations from an
-- empty database, or restore a backup taken before this one.
DROP TRIGGER search_changes_messages_ad;
DROP TRIGGER search_changes_messages_au;
DROP TRIGGER search_changes_docs_ad;
DROP TRIGGER search_changes_docs_au;
DROP TRIGGER search_changes_docs_ai;
DROP TABLE search_changes;
