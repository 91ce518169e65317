DROP INDEX notifications_user_unmailed;
DROP TABLE presence;
ALTER TABLE notifications DROP COLUMN hold_until;
