-- The overdue-escalation scan (every minute) reads the open escalations of live cases
-- only: each escalation carries whether its case is live (not imported history, not
-- merged away), kept by triggers so that no write path can forget it, and the open
-- live ones have an index of their own. Imported history that left escalations open,
-- however large, is not walked.
ALTER TABLE escalations ADD COLUMN live BOOLEAN NOT NULL DEFAULT 1;
UPDATE escalations SET live = 0
 WHERE case_id IN (SELECT id FROM cases WHERE imported = 1 OR merged_into IS NOT NULL);
CREATE INDEX escalations_live_open ON escalations(opened_at) WHERE status = 'open' AND live = 1;

CREATE TRIGGER escalations_live_ai AFTER INSERT ON escalations BEGIN
    UPDATE escalations SET live = COALESCE(
        (SELECT imported = 0 AND merged_into IS NULL FROM cases WHERE id = NEW.case_id), 0)
     WHERE id = NEW.id;
END;
CREATE TRIGGER escalations_live_au AFTER UPDATE OF case_id ON escalations BEGIN
    UPDATE escalations SET live = COALESCE(
        (SELECT imported = 0 AND merged_into IS NULL FROM cases WHERE id = NEW.case_id), 0)
     WHERE id = NEW.id;
END;
CREATE TRIGGER cases_live_au AFTER UPDATE OF imported, merged_into ON cases
WHEN (OLD.imported = 0 AND OLD.merged_into IS NULL)
     IS NOT (NEW.imported = 0 AND NEW.merged_into IS NULL)
BEGIN
    UPDATE escalations SET live = (NEW.imported = 0 AND NEW.merged_into IS NULL)
     WHERE case_id = NEW.id;
END;
