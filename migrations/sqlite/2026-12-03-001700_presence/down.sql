DROP TABLE presence;
ALTER TABLE notifications DROP COLUMN hold_until;
