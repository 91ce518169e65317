-- "Similar closed cases" without walking every case that shares a code: each code and
-- serial row carries whether its case is closed (and not merged away), kept by
-- triggers so that no write path can forget it, and indexed with the code (or the
-- serial's six-character prefix) in front.
ALTER TABLE case_codes ADD COLUMN closed BOOLEAN NOT NULL DEFAULT FALSE;
ALTER TABLE case_serials ADD COLUMN closed BOOLEAN NOT NULL DEFAULT FALSE;
ALTER TABLE case_serials ADD COLUMN prefix TEXT NOT NULL DEFAULT '';

UPDATE case_serials SET prefix = substr(serial, 1, 6);
UPDATE case_codes SET closed = TRUE
 WHERE case_id IN (SELECT id FROM cases WHERE status = 'closed' AND merged_into IS NULL);
UPDATE case_serials SET closed = TRUE
 WHERE case_id IN (SELECT id FROM cases WHERE status = 'closed' AND merged_into IS NULL);

CREATE INDEX case_codes_closed ON case_codes(code, closed, id);
CREATE INDEX case_serials_closed ON case_serials(prefix, closed, id);
-- The thread's attachments by message (the case page shows a window of the thread).
CREATE INDEX attachments_message ON attachments(message_row_id);

CREATE FUNCTION casebook_case_closed(cid BIGINT) RETURNS BOOLEAN
LANGUAGE sql STABLE AS $$
    SELECT COALESCE(
        (SELECT status = 'closed' AND merged_into IS NULL FROM cases WHERE id = cid), FALSE)
$$;

CREATE FUNCTION casebook_case_codes_closed() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    NEW.closed := casebook_case_closed(NEW.case_id);
    RETURN NEW;
END
$$;
CREATE TRIGGER case_codes_closed BEFORE INSERT OR UPDATE OF case_id ON case_codes
    FOR EACH ROW EXECUTE FUNCTION casebook_case_codes_closed();

CREATE FUNCTION casebook_case_serials_closed() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    NEW.closed := casebook_case_closed(NEW.case_id);
    NEW.prefix := substr(NEW.serial, 1, 6);
    RETURN NEW;
END
$$;
CREATE TRIGGER case_serials_closed BEFORE INSERT OR UPDATE OF case_id, serial ON case_serials
    FOR EACH ROW EXECUTE FUNCTION casebook_case_serials_closed();

CREATE FUNCTION casebook_cases_closed() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    now_closed BOOLEAN := NEW.status = 'closed' AND NEW.merged_into IS NULL;
BEGIN
    IF (OLD.status = 'closed' AND OLD.merged_into IS NULL) IS DISTINCT FROM now_closed THEN
        UPDATE case_codes SET closed = now_closed WHERE case_id = NEW.id;
        UPDATE case_serials SET closed = now_closed WHERE case_id = NEW.id;
    END IF;
    RETURN NULL;
END
$$;
CREATE TRIGGER cases_closed AFTER UPDATE OF status, merged_into ON cases
    FOR EACH ROW EXECUTE FUNCTION casebook_cases_closed();
