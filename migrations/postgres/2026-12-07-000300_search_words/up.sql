-- Word search on an index of words (issue 15). Every message body and every other
-- searchable text keeps its words in `words` (a tsvector, a GIN index): the runs of
-- word characters of at most 100 characters with their ASCII letters in lower case,
-- and every pair of CJK characters in a row
-- (`search::words::pg_words`); a text over 60,000 characters keeps the one word `~`
-- instead (a tsvector holds at most 1 MB), and every search checks it. A search term
-- is first narrowed to the rows that hold all of its words (`@@`, the index), and its
-- regular expression decides among them: for a rare word the index finds the few
-- rows, for a common one the planner walks the newest rows and stops at the limit.
-- Ingest writes a message's words itself; what arrives without them
-- (replies and notes written in Casebook, other texts, rows from before) gets them
-- from `casebook_tsv`, the same set computed here (a test holds the two equal).
CREATE FUNCTION casebook_words(t TEXT) RETURNS TEXT[]
LANGUAGE sql IMMUTABLE PARALLEL SAFE STRICT AS $f$
SELECT array_remove(regexp_split_to_array(translate(regexp_replace(t, '[^\x01-/:-@\[-`{-\x7F\u0080-\u00BF\u00D7\u00F7\u2000-\u2BFF\u3000-\u303F\u30FB\uFE30-\uFE4F\uFF00-\uFF0F\uFF1A-\uFF20\uFF3B-\uFF40\uFF5B-\uFF65\uFFF0-\uFFFF\U0001F000-\U0001FAFF\u3040-\u30FF\u3400-\u4DBF\u4E00-\u9FFF\uAC00-\uD7AF\uF900-\uFAFF\U00020000-\U0003134F]{101,}', ' ', 'g'), 'ABCDEFGHIJKLMNOPQRSTUVWXYZ', 'abcdefghijklmnopqrstuvwxyz'), '[\x01-/:-@\[-`{-\x7F\u0080-\u00BF\u00D7\u00F7\u2000-\u2BFF\u3000-\u303F\u30FB\uFE30-\uFE4F\uFF00-\uFF0F\uFF1A-\uFF20\uFF3B-\uFF40\uFF5B-\uFF65\uFFF0-\uFFFF\U0001F000-\U0001FAFF\u3040-\u30FF\u3400-\u4DBF\u4E00-\u9FFF\uAC00-\uD7AF\uF900-\uFAFF\U00020000-\U0003134F]+') || regexp_split_to_array(regexp_replace(regexp_replace(regexp_replace(t, '[^\u3040-\u30FA\u30FC-\u30FF\u3400-\u4DBF\u4E00-\u9FFF\uAC00-\uD7AF\uF900-\uFAFF\U00020000-\U0003134F]+', ' ', 'g'), '([\u3040-\u30FA\u30FC-\u30FF\u3400-\u4DBF\u4E00-\u9FFF\uAC00-\uD7AF\uF900-\uFAFF\U00020000-\U0003134F])(?=[\u3040-\u30FA\u30FC-\u30FF\u3400-\u4DBF\u4E00-\u9FFF\uAC00-\uD7AF\uF900-\uFAFF\U00020000-\U0003134F])', '\1 \1', 'g'), '(^| )[\u3040-\u30FA\u30FC-\u30FF\u3400-\u4DBF\u4E00-\u9FFF\uAC00-\uD7AF\uF900-\uFAFF\U00020000-\U0003134F](?= |$)', '\1', 'g'), ' '), '')
$f$;

CREATE FUNCTION casebook_tsv(t TEXT) RETURNS tsvector
LANGUAGE sql IMMUTABLE PARALLEL SAFE STRICT AS $f$
SELECT CASE WHEN char_length(t) > 60000 THEN '~'::tsvector
            ELSE array_to_tsvector(casebook_words(t)) END
$f$;

ALTER TABLE messages ADD COLUMN words tsvector;
ALTER TABLE search_docs ADD COLUMN words tsvector;
UPDATE messages SET words = casebook_tsv(body_text);
UPDATE search_docs SET words = casebook_tsv(body);

CREATE FUNCTION casebook_message_words() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    NEW.words := casebook_tsv(NEW.body_text);
    RETURN NEW;
END $$;
CREATE TRIGGER messages_words_insert BEFORE INSERT ON messages
    FOR EACH ROW WHEN (NEW.words IS NULL) EXECUTE FUNCTION casebook_message_words();
CREATE TRIGGER messages_words_update BEFORE UPDATE OF body_text ON messages
    FOR EACH ROW WHEN (NEW.body_text IS DISTINCT FROM OLD.body_text
                       AND NEW.words IS NOT DISTINCT FROM OLD.words)
    EXECUTE FUNCTION casebook_message_words();

CREATE FUNCTION casebook_doc_words() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    NEW.words := casebook_tsv(NEW.body);
    RETURN NEW;
END $$;
CREATE TRIGGER search_docs_words_insert BEFORE INSERT ON search_docs
    FOR EACH ROW EXECUTE FUNCTION casebook_doc_words();
CREATE TRIGGER search_docs_words_update BEFORE UPDATE OF body ON search_docs
    FOR EACH ROW WHEN (NEW.body IS DISTINCT FROM OLD.body) EXECUTE FUNCTION casebook_doc_words();

-- The trigram indexes served what the words now serve, and cost ingest more than
-- the words do (a trigram per character).
DROP INDEX messages_body_trgm;
DROP INDEX search_docs_body_trgm;
CREATE INDEX messages_words ON messages USING gin (words);
CREATE INDEX search_docs_words ON search_docs USING gin (words);
ANALYZE messages;
ANALYZE search_docs;
