-- Each engineer's own signature under the mail they send (replies, scope, closure);
-- without one, their name and the organisation of --mail-from sign.
CREATE TABLE signatures (
    user_id BIGINT PRIMARY KEY NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    body TEXT NOT NULL,
    updated_at TIMESTAMP NOT NULL
);
