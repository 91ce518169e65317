-- The overdue-escalation scan (every minute) reads the open escalations of live cases
-- only: each escalation carries whether its case is live (not imported history, not
-- merged away), kept by triggers so that no write path can forget it, and the open
-- live ones have an index of their own. Imported history that left escalations open,
-- however large, is not walked.
ALTER TABLE escalations ADD COLUMN live BOOLEAN NOT NULL DEFAULT TRUE;
UPDATE escalations SET live = FALSE
 WHERE case_id IN (SELECT id FROM cases WHERE imported OR merged_into IS NOT NULL);
CREATE INDEX escalations_live_open ON escalations(opened_at) WHERE status = 'open' AND live;

CREATE FUNCTION casebook_case_live(cid BIGINT) RETURNS BOOLEAN
LANGUAGE sql STABLE AS $$
    SELECT COALESCE(
        (SELECT NOT imported AND merged_into IS NULL FROM cases WHERE id = cid), FALSE)
$$;

CREATE FUNCTION casebook_escalations_live() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    NEW.live := casebook_case_live(NEW.case_id);
    RETURN NEW;
END
$$;
CREATE TRIGGER escalations_live BEFORE INSERT OR UPDATE OF case_id ON escalations
    FOR EACH ROW EXECUTE FUNCTION casebook_escalations_live();

CREATE FUNCTION casebook_cases_live() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    now_live BOOLEAN := NOT NEW.imported AND NEW.merged_into IS NULL;
BEGIN
    IF (NOT OLD.imported AND OLD.merged_into IS NULL) IS DISTINCT FROM now_live THEN
        UPDATE escalations SET live = now_live WHERE case_id = NEW.id;
    END IF;
    RETURN NULL;
END
$$;
CREATE TRIGGER cases_live AFTER UPDATE OF imported, merged_into ON cases
    FOR EACH ROW EXECUTE FUNCTION casebook_cases_live();
