-- Two-character Chinese words (激活, 日志, 蓝屏) are the commonest Chinese queries, and
-- the trigram indexes cannot serve them: they were a LIKE scan of every message (0.6 s
-- at 1,000,000 messages for a rare word). These contentless FTS5 indexes hold, for each
-- document, its pairs of adjacent CJK characters as words ("激活失败" → 激活 活失 失败),
-- made in Rust by the search indexer (`search::catch_up`); a two-character CJK term is
-- one index lookup. No text is stored twice (content='').
CREATE VIRTUAL TABLE messages_bigrams USING fts5(
    grams, content='', contentless_delete=1, detail=none, tokenize='unicode61'
);
CREATE VIRTUAL TABLE docs_bigrams USING fts5(
    grams, content='', contentless_delete=1, detail=none, tokenize='unicode61'
);
-- Messages are indexed up to this id, in batches (as messages_fts); later ones, and
-- documents listed below, are matched with LIKE until the indexer has seen them.
INSERT INTO app_settings(key, value) VALUES ('bigrams_messages_upto', '0');
-- Documents whose text changed or went since the indexer saw them.
CREATE TABLE bigrams_pending (
    source TEXT NOT NULL, -- 'message' or 'doc' (search_docs)
    id BIGINT NOT NULL,
    PRIMARY KEY (source, id)
) WITHOUT ROWID;
CREATE TRIGGER messages_bigrams_au AFTER UPDATE OF body_text ON messages
WHEN old.body_text IS NOT new.body_text
 AND old.id <= (SELECT CAST(value AS INTEGER) FROM app_settings WHERE key = 'bigrams_messages_upto') BEGIN
    INSERT OR IGNORE INTO bigrams_pending(source, id) VALUES ('message', old.id);
END;
CREATE TRIGGER messages_bigrams_ad AFTER DELETE ON messages
WHEN old.id <= (SELECT CAST(value AS INTEGER) FROM app_settings WHERE key = 'bigrams_messages_upto') BEGIN
    INSERT OR IGNORE INTO bigrams_pending(source, id) VALUES ('message', old.id);
END;
CREATE TRIGGER docs_bigrams_ai AFTER INSERT ON search_docs BEGIN
    INSERT OR IGNORE INTO bigrams_pending(source, id) VALUES ('doc', new.id);
END;
-- Only a changed text (a merge moves documents to another case: their words stay).
CREATE TRIGGER docs_bigrams_au AFTER UPDATE OF body ON search_docs
WHEN old.body IS NOT new.body BEGIN
    INSERT OR IGNORE INTO bigrams_pending(source, id) VALUES ('doc', new.id);
END;
CREATE TRIGGER docs_bigrams_ad AFTER DELETE ON search_docs BEGIN
    INSERT OR IGNORE INTO bigrams_pending(source, id) VALUES ('doc', old.id);
END;
-- What exists already: the indexer works through it in the background.
INSERT INTO bigrams_pending(source, id) SELECT 'doc', id FROM search_docs;
