-- Saved report views, optionally mailed every Monday.
CREATE TABLE report_views (
    id INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
    user_id BIGINT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    query TEXT NOT NULL,
    language TEXT NOT NULL,
    weekly BOOLEAN NOT NULL DEFAULT 0,
    last_sent_at TIMESTAMP,
    created_at TIMESTAMP NOT NULL
);
CREATE INDEX report_views_user ON report_views(user_id, id);
CREATE INDEX report_views_weekly ON report_views(weekly, last_sent_at);

-- Mail that belongs to no case (the weekly report): the outbox's case becomes optional.
CREATE TABLE outbox_new (
    id INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
    case_id BIGINT REFERENCES cases(id),
    message_row_id BIGINT REFERENCES messages(id),
    kind TEXT NOT NULL,
    message_id TEXT NOT NULL UNIQUE,
    envelope_from TEXT NOT NULL,
    envelope_to TEXT NOT NULL,
    subject TEXT NOT NULL,
    raw TEXT NOT NULL,
    state TEXT NOT NULL,
    attempts BIGINT NOT NULL DEFAULT 0,
    next_attempt_at TIMESTAMP NOT NULL,
    last_error TEXT,
    claimed_by TEXT,
    claimed_at TIMESTAMP,
    sent_at TIMESTAMP,
    created_at TIMESTAMP NOT NULL
);
INSERT INTO outbox_new (id, case_id, message_row_id, kind, message_id, envelope_from,
    envelope_to, subject, raw, state, attempts, next_attempt_at, last_error, claimed_by,
    claimed_at, sent_at, created_at)
SELECT id, case_id, message_row_id, kind, message_id, envelope_from, envelope_to, subject,
    raw, state, attempts, next_attempt_at, last_error, claimed_by, claimed_at, sent_at,
    created_at
FROM outbox;
DROP TABLE outbox;
ALTER TABLE outbox_new RENAME TO outbox;
CREATE INDEX outbox_due ON outbox(state, next_attempt_at);
CREATE INDEX outbox_case ON outbox(case_id);
CREATE INDEX outbox_message_id ON outbox(message_id);
