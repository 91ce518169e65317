DROP TABLE outbox;
ALTER TABLE escalations DROP COLUMN last_activity_at;
ALTER TABLE escalations DROP COLUMN attachment_ids;
ALTER TABLE escalations DROP COLUMN help_needed;
ALTER TABLE cases DROP COLUMN contact_email;
