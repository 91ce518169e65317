ALTER TABLE cases ADD COLUMN contact_email TEXT;
ALTER TABLE escalations ADD COLUMN help_needed TEXT;
ALTER TABLE escalations ADD COLUMN attachment_ids TEXT NOT NULL DEFAULT '';
ALTER TABLE escalations ADD COLUMN last_activity_at TIMESTAMP;

CREATE TABLE outbox (
    id INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
    case_id BIGINT NOT NULL REFERENCES cases(id),
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
CREATE INDEX outbox_due ON outbox(state, next_attempt_at);
CREATE INDEX outbox_case ON outbox(case_id);
