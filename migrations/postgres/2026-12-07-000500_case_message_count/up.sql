-- Each case keeps the count of its messages, so the case page of a long thread need
-- not count them (an index walk of the whole thread). Kept by a trigger, whatever
-- moves a message: ingest, a reply sent from the case, a merge and its undoing.
ALTER TABLE cases ADD COLUMN message_count BIGINT NOT NULL DEFAULT 0;

UPDATE cases c SET message_count = m.n
FROM (SELECT case_id, count(*) AS n FROM messages GROUP BY case_id) m
WHERE m.case_id = c.id;

CREATE FUNCTION messages_count() RETURNS trigger AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        UPDATE cases SET message_count = message_count + 1 WHERE id = NEW.case_id;
    ELSIF TG_OP = 'DELETE' THEN
        UPDATE cases SET message_count = message_count - 1 WHERE id = OLD.case_id;
    ELSIF OLD.case_id IS DISTINCT FROM NEW.case_id THEN
        UPDATE cases SET message_count = message_count - 1 WHERE id = OLD.case_id;
        UPDATE cases SET message_count = message_count + 1 WHERE id = NEW.case_id;
    END IF;
    RETURN NULL;
END
$$ LANGUAGE plpgsql;

CREATE TRIGGER messages_count AFTER INSERT OR UPDATE OF case_id OR DELETE ON messages
FOR EACH ROW EXECUTE FUNCTION messages_count();
