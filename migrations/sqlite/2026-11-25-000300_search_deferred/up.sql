-- Message bodies are indexed in batches instead of by a trigger per message: bulk
-- ingest no longer pays the trigram tokenizer on its write path. `search::catch_up`
-- indexes every message with an id above the mark below; searches call it first (so
-- results are always complete) and `casebook serve` runs it every two seconds.
DROP TRIGGER messages_fts_ai;
DROP TRIGGER messages_fts_ad;
DROP TRIGGER messages_fts_au;
INSERT INTO app_settings(key, value)
    SELECT 'fts_messages_upto', CAST(COALESCE(MAX(id), 0) AS TEXT) FROM messages;
-- Rows not yet indexed must not be 'deleted' from the index.
CREATE TRIGGER messages_fts_ad AFTER DELETE ON messages
WHEN old.id <= (SELECT CAST(value AS INTEGER) FROM app_settings WHERE key = 'fts_messages_upto') BEGIN
    INSERT INTO messages_fts(messages_fts, rowid, body_text) VALUES ('delete', old.id, old.body_text);
END;
CREATE TRIGGER messages_fts_au AFTER UPDATE OF body_text ON messages
WHEN old.body_text IS NOT new.body_text
 AND old.id <= (SELECT CAST(value AS INTEGER) FROM app_settings WHERE key = 'fts_messages_upto') BEGIN
    INSERT INTO messages_fts(messages_fts, rowid, body_text) VALUES ('delete', old.id, old.body_text);
    INSERT INTO messages_fts(rowid, body_text) VALUES (new.id, new.body_text);
END;
