-- Every sender seen in received mail, kept by a background pass over the messages not
-- yet counted (never by ingest itself): how many messages and cases, first and last
-- seen. Keyed like person_keys ("addr:<address>", or "name:<name>" for mail without an
-- address). A flag, not a watermark: ids commit out of order under concurrent writers.
ALTER TABLE messages ADD COLUMN counted BOOLEAN NOT NULL DEFAULT FALSE;
CREATE INDEX messages_uncounted ON messages(id) WHERE NOT counted;
CREATE TABLE senders (
    key TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    address TEXT,
    messages BIGINT NOT NULL,
    cases BIGINT NOT NULL,
    last_case_id BIGINT,
    first_seen TIMESTAMP NOT NULL,
    last_seen TIMESTAMP NOT NULL
);
CREATE INDEX senders_last_seen ON senders(last_seen, key);
-- Which cases a sender wrote in (counts each case once; lists the cases to re-analyse
-- when the sender's side changes).
CREATE TABLE sender_cases (
    sender_key TEXT NOT NULL,
    case_id BIGINT NOT NULL,
    PRIMARY KEY (sender_key, case_id)
);
-- Domains an admin marked as staff on /people (beside --staff-domains).
CREATE TABLE staff_domains (
    domain TEXT PRIMARY KEY,
    added_by TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL
);
-- Re-analysis of cases from their stored mail after who-is-who changed, with progress.
-- scope: "keys:<key> <key>…", "domain:<domain>", "case:<id>" or "all".
CREATE TABLE reanalysis_jobs (
    id BIGSERIAL PRIMARY KEY,
    scope TEXT NOT NULL,
    reason TEXT NOT NULL,
    actor TEXT NOT NULL,
    state TEXT NOT NULL,
    total BIGINT NOT NULL,
    done BIGINT NOT NULL,
    changed BIGINT NOT NULL,
    error TEXT,
    created_at TIMESTAMP NOT NULL,
    finished_at TIMESTAMP
);
CREATE INDEX reanalysis_jobs_state ON reanalysis_jobs(state, id);
CREATE TABLE reanalysis_queue (
    job_id BIGINT NOT NULL,
    case_id BIGINT NOT NULL,
    PRIMARY KEY (job_id, case_id)
);
