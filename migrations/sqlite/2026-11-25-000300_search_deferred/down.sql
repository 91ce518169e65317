DROP TRIGGER messages_fts_ad;
DROP TRIGGER messages_fts_au;
DELETE FROM app_settings WHERE key = 'fts_messages_upto';
CREATE TRIGGER messages_fts_ai AFTER INSERT ON messages BEGIN
    INSERT INTO messages_fts(rowid, body_text) VALUES (new.id, new.body_text);
END;
CREATE TRIGGER messages_fts_ad AFTER DELETE ON messages BEGIN
    INSERT INTO messages_fts(messages_fts, rowid, body_text) VALUES ('delete', old.id, old.body_text);
END;
CREATE TRIGGER messages_fts_au AFTER UPDATE OF body_text ON messages
WHEN old.body_text IS NOT new.body_text BEGIN
    INSERT INTO messages_fts(messages_fts, rowid, body_text) VALUES ('delete', old.id, old.body_text);
    INSERT INTO messages_fts(rowid, body_text) VALUES (new.id, new.body_text);
END;
