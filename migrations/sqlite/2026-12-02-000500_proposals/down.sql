DROP INDEX cases_assignee;
ALTER TABLE mailboxes DROP COLUMN internal;
DROP INDEX outbox_message_id;
ALTER TABLE messages DROP COLUMN proposal;
