DROP TRIGGER cases_live ON cases;
DROP FUNCTION casebook_cases_live();
DROP TRIGGER escalations_live ON escalations;
DROP FUNCTION casebook_escalations_live();
DROP FUNCTION casebook_case_live(BIGINT);
DROP INDEX escalations_live_open;
ALTER TABLE escalations DROP COLUMN live;
