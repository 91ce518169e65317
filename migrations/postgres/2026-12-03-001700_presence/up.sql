-- "A colleague is replying": who has the reply box of a case open and typing, and when
-- they were last seen doing it. Rows are few (one per person per case) and short-lived.
CREATE TABLE presence (
    case_id BIGINT NOT NULL REFERENCES cases(id),
    user_id BIGINT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    seen_at TIMESTAMP NOT NULL,
    PRIMARY KEY (case_id, user_id)
);
CREATE INDEX presence_seen ON presence(seen_at);

-- A digest that is not due yet holds its notifications until this time, so that they
-- no longer stand in front of the mail that is due.
ALTER TABLE notifications ADD COLUMN hold_until TIMESTAMP;
-- A user's notifications not mailed yet (the digest's hold), without their history.
CREATE INDEX notifications_user_unmailed ON notifications(user_id, mailed_at);
