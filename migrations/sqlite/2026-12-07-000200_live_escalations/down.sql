DROP TRIGGER cases_live_au;
DROP TRIGGER escalations_live_au;
DROP TRIGGER escalations_live_ai;
DROP INDEX escalations_live_open;
ALTER TABLE escalations DROP COLUMN live;
