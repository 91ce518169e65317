DROP TRIGGER search_docs_ad;
DROP TRIGGER search_docs_au;
DROP TRIGGER search_docs_ai;
-- What was pending goes into the index before the triggers index in place again.
INSERT INTO search_fts(rowid, body)
    SELECT d.id, d.body FROM search_docs d JOIN search_docs_pending p ON p.id = d.id;
DROP TABLE search_docs_pending;
CREATE TRIGGER search_docs_ai AFTER INSERT ON search_docs BEGIN
    INSERT INTO search_fts(rowid, body) VALUES (new.id, new.body);
END;
CREATE TRIGGER search_docs_ad AFTER DELETE ON search_docs BEGIN
    INSERT INTO search_fts(search_fts, rowid, body) VALUES ('delete', old.id, old.body);
END;
CREATE TRIGGER search_docs_au AFTER UPDATE ON search_docs BEGIN
    INSERT INTO search_fts(search_fts, rowid, body) VALUES ('delete', old.id, old.body);
    INSERT INTO search_fts(rowid, body) VALUES (new.id, new.body);
END;
