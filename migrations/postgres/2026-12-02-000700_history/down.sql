ALTER TABLE cases DROP COLUMN imported;
