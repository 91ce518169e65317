-- Saved report views, optionally mailed every Monday.
CREATE TABLE report_views (
    id BIGSERIAL PRIMARY KEY,
    user_id BIGINT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    query TEXT NOT NULL,
    language TEXT NOT NULL,
    weekly BOOLEAN NOT NULL DEFAULT false,
    last_sent_at TIMESTAMP,
    created_at TIMESTAMP NOT NULL
);
CREATE INDEX report_views_user ON report_views(user_id, id);
CREATE INDEX report_views_weekly ON report_views(weekly, last_sent_at);

-- Mail that belongs to no case (the weekly report): the outbox's case becomes optional.
ALTER TABLE outbox ALTER COLUMN case_id DROP NOT NULL;
