-- Each case keeps the count of its messages, so the case page of a long thread need
-- not count them (an index walk of the whole thread: a tenth of the first screen of a
-- case of 2,000 messages). Kept by triggers, whatever moves a message: ingest, a reply
-- sent from the case, a merge and its undoing.
ALTER TABLE cases ADD COLUMN message_count BIGINT NOT NULL DEFAULT 0;

UPDATE cases SET message_count = (SELECT count(*) FROM messages WHERE messages.case_id = cases.id);

CREATE TRIGGER messages_count_ai AFTER INSERT ON messages BEGIN
    UPDATE cases SET message_count = message_count + 1 WHERE id = new.case_id;
END;

CREATE TRIGGER messages_count_ad AFTER DELETE ON messages BEGIN
    UPDATE cases SET message_count = message_count - 1 WHERE id = old.case_id;
END;

CREATE TRIGGER messages_count_au AFTER UPDATE OF case_id ON messages
WHEN old.case_id IS NOT new.case_id BEGIN
    UPDATE cases SET message_count = message_count - 1 WHERE id = old.case_id;
    UPDATE cases SET message_count = message_count + 1 WHERE id = new.case_id;
END;
