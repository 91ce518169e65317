-- Search moves to an inverted index beside the database (tantivy, src/search/index.rs):
-- the FTS5 indexes and what kept them go. The new index reads new messages by id and
-- everything else that changes (texts; the case of a document a merge moves; a
-- message's direction, which makes it a note or not) from
-- `search_changes`, filled by the triggers below.
DROP TRIGGER IF EXISTS search_docs_ai;
DROP TRIGGER IF EXISTS search_docs_au;
DROP TRIGGER IF EXISTS search_docs_ad;
DROP TRIGGER IF EXISTS messages_fts_ad;
DROP TRIGGER IF EXISTS messages_fts_au;
DROP TRIGGER IF EXISTS messages_bigrams_au;
DROP TRIGGER IF EXISTS messages_bigrams_ad;
DROP TRIGGER IF EXISTS docs_bigrams_ai;
DROP TRIGGER IF EXISTS docs_bigrams_au;
DROP TRIGGER IF EXISTS docs_bigrams_ad;
DROP TABLE IF EXISTS search_fts;
DROP TABLE IF EXISTS messages_fts;
DROP TABLE IF EXISTS messages_bigrams;
DROP TABLE IF EXISTS docs_bigrams;
DROP TABLE IF EXISTS search_docs_pending;
DROP TABLE IF EXISTS bigrams_pending;
DELETE FROM app_settings WHERE key IN ('fts_messages_upto', 'bigrams_messages_upto');

CREATE TABLE search_changes (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    source TEXT NOT NULL, -- 'message' or 'doc' (search_docs)
    id BIGINT NOT NULL
);

CREATE TRIGGER search_changes_docs_ai AFTER INSERT ON search_docs BEGIN
    INSERT INTO search_changes(source, id) VALUES ('doc', new.id);
END;
CREATE TRIGGER search_changes_docs_au AFTER UPDATE OF body, case_id ON search_docs
WHEN old.body IS NOT new.body OR old.case_id IS NOT new.case_id BEGIN
    INSERT INTO search_changes(source, id) VALUES ('doc', new.id);
END;
CREATE TRIGGER search_changes_docs_ad AFTER DELETE ON search_docs BEGIN
    INSERT INTO search_changes(source, id) VALUES ('doc', old.id);
END;
CREATE TRIGGER search_changes_messages_au AFTER UPDATE OF body_text, case_id, direction ON messages
WHEN old.body_text IS NOT new.body_text OR old.case_id IS NOT new.case_id
  OR old.direction IS NOT new.direction BEGIN
    INSERT INTO search_changes(source, id) VALUES ('message', old.id);
END;
CREATE TRIGGER search_changes_messages_ad AFTER DELETE ON messages BEGIN
    INSERT INTO search_changes(source, id) VALUES ('message', old.id);
END;
