-- A staff action recognised in live mail whose sender is not a verified staff identity
-- (closure, scope, escalation, answer): shown to staff as a one-click proposal.
ALTER TABLE messages ADD COLUMN proposal TEXT;
-- Replies to our notices are matched to the notice by its Message-ID.
CREATE INDEX outbox_message_id ON outbox(message_id);
-- A mailbox that only receives mail your own MTA accepted from authenticated staff:
-- staff mail read from it counts as verified.
ALTER TABLE mailboxes ADD COLUMN internal BOOLEAN NOT NULL DEFAULT FALSE;
-- "My cases" and "who holds cases" are index lookups, not walks over every case.
CREATE INDEX cases_assignee ON cases(assignee_id, updated_at);
