-- Reply templates: shared (owner_id NULL) or one user's own; optionally for one error
-- code (its knowledge page holds them, and cases carrying it suggest them).
CREATE TABLE canned_replies (
    id INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
    owner_id BIGINT REFERENCES users(id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    language TEXT NOT NULL,
    code TEXT,
    body TEXT NOT NULL,
    created_by TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL
);
CREATE INDEX canned_replies_owner ON canned_replies(owner_id, name);
CREATE INDEX canned_replies_code ON canned_replies(code);
