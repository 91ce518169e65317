DROP TRIGGER docs_bigrams_ad;
DROP TRIGGER docs_bigrams_au;
DROP TRIGGER docs_bigrams_ai;
DROP TRIGGER messages_bigrams_ad;
DROP TRIGGER messages_bigrams_au;
DROP TABLE bigrams_pending;
DELETE FROM app_settings WHERE key = 'bigrams_messages_upto';
DROP TABLE docs_bigrams;
DROP TABLE messages_bigrams;
