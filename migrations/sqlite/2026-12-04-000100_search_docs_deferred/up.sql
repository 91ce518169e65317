-- New search documents (subjects, R&D notes, scopes, closures, bundle findings) reach
-- their FTS5 index through the search indexer, as message bodies do, instead of a
-- trigger inside the writing transaction: FTS5 writes its pending index data to disk
-- at every savepoint and statement journal of that transaction, which made 19 % of a
-- bulk ingest's time. Until the indexer has seen a document it is listed here, and
-- search matches it with LIKE (as messages above `fts_messages_upto`).
CREATE TABLE search_docs_pending (
    id INTEGER PRIMARY KEY NOT NULL
);

DROP TRIGGER search_docs_ai;
DROP TRIGGER search_docs_au;
DROP TRIGGER search_docs_ad;

CREATE TRIGGER search_docs_ai AFTER INSERT ON search_docs BEGIN
    INSERT OR IGNORE INTO search_docs_pending(id) VALUES (new.id);
END;
-- A document the index holds is re-indexed at once (its old text is needed to take it
-- out); a pending one is indexed with whatever text it has when the indexer comes.
CREATE TRIGGER search_docs_au AFTER UPDATE ON search_docs
WHEN NOT EXISTS (SELECT 1 FROM search_docs_pending WHERE id = old.id) BEGIN
    INSERT INTO search_fts(search_fts, rowid, body) VALUES ('delete', old.id, old.body);
    INSERT INTO search_fts(rowid, body) VALUES (new.id, new.body);
END;
-- In this order: out of the index if it is there, then off the pending list.
CREATE TRIGGER search_docs_ad AFTER DELETE ON search_docs BEGIN
    INSERT INTO search_fts(search_fts, rowid, body)
        SELECT 'delete', old.id, old.body
        WHERE NOT EXISTS (SELECT 1 FROM search_docs_pending WHERE id = old.id);
    DELETE FROM search_docs_pending WHERE id = old.id;
END;
