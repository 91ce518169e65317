-- "Similar closed cases" without walking every case that shares a code: each code and
-- serial row carries whether its case is closed (and not merged away), kept by
-- triggers so that no write path can forget it, and indexed with the code (or the
-- serial's six-character prefix) in front.
ALTER TABLE case_codes ADD COLUMN closed BOOLEAN NOT NULL DEFAULT 0;
ALTER TABLE case_serials ADD COLUMN closed BOOLEAN NOT NULL DEFAULT 0;
ALTER TABLE case_serials ADD COLUMN prefix TEXT NOT NULL DEFAULT '';

UPDATE case_serials SET prefix = substr(serial, 1, 6);
UPDATE case_codes SET closed = 1
 WHERE case_id IN (SELECT id FROM cases WHERE status = 'closed' AND merged_into IS NULL);
UPDATE case_serials SET closed = 1
 WHERE case_id IN (SELECT id FROM cases WHERE status = 'closed' AND merged_into IS NULL);

CREATE INDEX case_codes_closed ON case_codes(code, closed, id);
CREATE INDEX case_serials_closed ON case_serials(prefix, closed, id);
-- The thread's attachments by message (the case page shows a window of the thread).
CREATE INDEX attachments_message ON attachments(message_row_id);

CREATE TRIGGER case_codes_closed_ai AFTER INSERT ON case_codes BEGIN
    UPDATE case_codes SET closed = COALESCE(
        (SELECT status = 'closed' AND merged_into IS NULL FROM cases WHERE id = NEW.case_id), 0)
     WHERE id = NEW.id;
END;
CREATE TRIGGER case_codes_closed_au AFTER UPDATE OF case_id ON case_codes BEGIN
    UPDATE case_codes SET closed = COALESCE(
        (SELECT status = 'closed' AND merged_into IS NULL FROM cases WHERE id = NEW.case_id), 0)
     WHERE id = NEW.id;
END;
CREATE TRIGGER case_serials_closed_ai AFTER INSERT ON case_serials BEGIN
    UPDATE case_serials SET prefix = substr(NEW.serial, 1, 6), closed = COALESCE(
        (SELECT status = 'closed' AND merged_into IS NULL FROM cases WHERE id = NEW.case_id), 0)
     WHERE id = NEW.id;
END;
CREATE TRIGGER case_serials_closed_au AFTER UPDATE OF case_id, serial ON case_serials BEGIN
    UPDATE case_serials SET prefix = substr(NEW.serial, 1, 6), closed = COALESCE(
        (SELECT status = 'closed' AND merged_into IS NULL FROM cases WHERE id = NEW.case_id), 0)
     WHERE id = NEW.id;
END;
CREATE TRIGGER cases_closed_au AFTER UPDATE OF status, merged_into ON cases
WHEN (OLD.status = 'closed' AND OLD.merged_into IS NULL)
     IS NOT (NEW.status = 'closed' AND NEW.merged_into IS NULL)
BEGIN
    UPDATE case_codes SET closed = (NEW.status = 'closed' AND NEW.merged_into IS NULL)
     WHERE case_id = NEW.id;
    UPDATE case_serials SET closed = (NEW.status = 'closed' AND NEW.merged_into IS NULL)
     WHERE case_id = NEW.id;
END;
