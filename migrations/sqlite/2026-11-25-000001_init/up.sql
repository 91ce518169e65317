CREATE TABLE app_settings (
    key TEXT PRIMARY KEY NOT NULL,
    value TEXT NOT NULL
);

CREATE TABLE users (
    id INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
    email TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL,
    aliases TEXT NOT NULL DEFAULT '',
    role TEXT NOT NULL,
    password_hash TEXT NOT NULL,
    disabled BOOLEAN NOT NULL DEFAULT 0,
    session_epoch BIGINT NOT NULL DEFAULT 0,
    created_at TIMESTAMP NOT NULL
);

CREATE TABLE api_tokens (
    id INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
    user_id BIGINT NOT NULL REFERENCES users(id),
    token_hash TEXT NOT NULL UNIQUE,
    created_at TIMESTAMP NOT NULL,
    last_used_at TIMESTAMP
);

CREATE TABLE login_attempts (
    key TEXT PRIMARY KEY NOT NULL,
    window_start TIMESTAMP NOT NULL,
    failures BIGINT NOT NULL
);

CREATE TABLE raw_messages (
    id INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
    sha256 TEXT NOT NULL UNIQUE,
    size BIGINT NOT NULL,
    source TEXT NOT NULL,
    received_at TIMESTAMP NOT NULL
);

CREATE TABLE cases (
    id INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
    number TEXT NOT NULL UNIQUE,
    subject TEXT NOT NULL,
    customer TEXT,
    oem TEXT,
    status TEXT NOT NULL,
    priority TEXT NOT NULL DEFAULT 'normal',
    tracking_token TEXT NOT NULL UNIQUE,
    assignee_id BIGINT REFERENCES users(id),
    language TEXT NOT NULL DEFAULT 'zh-CN',
    parent_case_id BIGINT REFERENCES cases(id),
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL,
    first_customer_at TIMESTAMP,
    first_response_at TIMESTAMP,
    closed_at TIMESTAMP
);
CREATE INDEX cases_status_updated ON cases(status, updated_at);
CREATE INDEX cases_updated ON cases(updated_at);

CREATE TABLE messages (
    id INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
    case_id BIGINT NOT NULL REFERENCES cases(id),
    raw_id BIGINT REFERENCES raw_messages(id),
    message_id TEXT NOT NULL,
    content_hash TEXT NOT NULL,
    reuses_id_of BIGINT REFERENCES messages(id),
    in_reply_to TEXT,
    refs TEXT NOT NULL DEFAULT '',
    thread_key TEXT,
    from_name TEXT NOT NULL,
    from_address TEXT NOT NULL,
    to_addrs TEXT NOT NULL DEFAULT '',
    subject TEXT NOT NULL,
    sent_at TIMESTAMP NOT NULL,
    received_at TIMESTAMP NOT NULL,
    direction TEXT NOT NULL,
    is_auto_reply BOOLEAN NOT NULL DEFAULT 0,
    body_text TEXT NOT NULL,
    source TEXT NOT NULL
);
CREATE UNIQUE INDEX messages_id_content ON messages(message_id, content_hash);
CREATE INDEX messages_case_sent ON messages(case_id, sent_at);
CREATE INDEX messages_thread_key ON messages(thread_key);

CREATE TABLE attachments (
    id INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
    message_row_id BIGINT NOT NULL REFERENCES messages(id),
    case_id BIGINT NOT NULL REFERENCES cases(id),
    filename TEXT NOT NULL,
    content_type TEXT NOT NULL,
    size BIGINT NOT NULL,
    sha256 TEXT NOT NULL,
    is_tnef BOOLEAN NOT NULL DEFAULT 0
);
CREATE INDEX attachments_case ON attachments(case_id);

CREATE TABLE case_codes (
    id INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
    case_id BIGINT NOT NULL REFERENCES cases(id),
    code TEXT NOT NULL,
    found_in TEXT NOT NULL,
    UNIQUE(case_id, code)
);
CREATE INDEX case_codes_code ON case_codes(code);

CREATE TABLE case_serials (
    id INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
    case_id BIGINT NOT NULL REFERENCES cases(id),
    serial TEXT NOT NULL,
    kind TEXT NOT NULL,
    UNIQUE(case_id, serial)
);
CREATE INDEX case_serials_serial ON case_serials(serial);

CREATE TABLE scopes (
    id INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
    case_id BIGINT NOT NULL REFERENCES cases(id),
    problem_definition TEXT NOT NULL,
    problem_scope TEXT NOT NULL,
    log_instructions TEXT,
    author TEXT NOT NULL,
    message_row_id BIGINT REFERENCES messages(id),
    created_at TIMESTAMP NOT NULL
);
CREATE INDEX scopes_case ON scopes(case_id);

CREATE TABLE closures (
    id INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
    case_id BIGINT NOT NULL REFERENCES cases(id),
    problem_definition TEXT NOT NULL,
    resolution TEXT NOT NULL,
    root_cause TEXT,
    customer_agreed BOOLEAN NOT NULL DEFAULT 0,
    author TEXT NOT NULL,
    message_row_id BIGINT REFERENCES messages(id),
    created_at TIMESTAMP NOT NULL
);
CREATE INDEX closures_case ON closures(case_id);

CREATE TABLE escalations (
    id INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
    case_id BIGINT NOT NULL REFERENCES cases(id),
    status TEXT NOT NULL,
    question TEXT NOT NULL,
    serial_number TEXT,
    opened_by TEXT NOT NULL,
    message_row_id BIGINT REFERENCES messages(id),
    opened_at TIMESTAMP NOT NULL,
    first_answered_at TIMESTAMP,
    closed_at TIMESTAMP
);
CREATE INDEX escalations_case ON escalations(case_id);
CREATE INDEX escalations_status ON escalations(status, opened_at);

CREATE TABLE escalation_entries (
    id INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
    escalation_id BIGINT NOT NULL REFERENCES escalations(id),
    kind TEXT NOT NULL,
    author_name TEXT NOT NULL,
    body_text TEXT NOT NULL,
    message_row_id BIGINT REFERENCES messages(id),
    created_at TIMESTAMP NOT NULL
);
CREATE INDEX escalation_entries_esc ON escalation_entries(escalation_id);

CREATE TABLE quarantine (
    id INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
    raw_id BIGINT NOT NULL REFERENCES raw_messages(id),
    source TEXT NOT NULL,
    reason TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL,
    resolved_at TIMESTAMP,
    resolution TEXT
);

CREATE TABLE audit_events (
    id INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
    case_id BIGINT REFERENCES cases(id),
    actor TEXT NOT NULL,
    action TEXT NOT NULL,
    detail TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL
);
CREATE INDEX audit_events_case ON audit_events(case_id, created_at);
