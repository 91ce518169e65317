DROP INDEX outbox_message_id;
ALTER TABLE messages DROP COLUMN proposal;
