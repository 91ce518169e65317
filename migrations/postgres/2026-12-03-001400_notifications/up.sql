-- What a user is told about: a customer replied, R&D answered, a mention...
-- user_id NULL: the team address (an unassigned case nobody watches).
CREATE TABLE notifications (
    id BIGSERIAL PRIMARY KEY,
    user_id BIGINT REFERENCES users(id) ON DELETE CASCADE,
    case_id BIGINT NOT NULL REFERENCES cases(id),
    kind TEXT NOT NULL,
    message_row_id BIGINT REFERENCES messages(id),
    actor TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL,
    read_at TIMESTAMP,
    -- When the mail went to the outbox (or was decided against: mail_state says which).
    mailed_at TIMESTAMP,
    mail_state TEXT
);
CREATE INDEX notifications_user ON notifications(user_id, id);
CREATE INDEX notifications_unread ON notifications(user_id, read_at);
CREATE INDEX notifications_unmailed ON notifications(mailed_at, id);
CREATE INDEX notifications_case ON notifications(case_id, kind, created_at);

CREATE TABLE watchers (
    case_id BIGINT NOT NULL REFERENCES cases(id),
    user_id BIGINT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    created_at TIMESTAMP NOT NULL,
    PRIMARY KEY (case_id, user_id)
);
CREATE INDEX watchers_user ON watchers(user_id);

-- Per-user preferences: the language of mail sent to them, each event on or off, and a
-- digest every N minutes instead of one mail per event (0).
CREATE TABLE user_prefs (
    user_id BIGINT PRIMARY KEY NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    language TEXT NOT NULL,
    notify_customer_reply BOOLEAN NOT NULL DEFAULT true,
    notify_rnd_answer BOOLEAN NOT NULL DEFAULT true,
    notify_mention BOOLEAN NOT NULL DEFAULT true,
    notify_sla BOOLEAN NOT NULL DEFAULT true,
    notify_overdue BOOLEAN NOT NULL DEFAULT true,
    digest_minutes BIGINT NOT NULL DEFAULT 0
);

-- Live cases still waiting for a first response (the SLA warning's scan).
CREATE INDEX cases_awaiting_response ON cases(first_customer_at) WHERE first_response_at IS NULL AND NOT imported AND status <> 'closed';
