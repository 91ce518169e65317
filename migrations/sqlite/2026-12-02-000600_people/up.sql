-- People Casebook has worked out from threads (who wrote a scope definition, a closure
-- summary, an escalation request, an R&D signature, an answer to an escalation): the
-- side a sender without an account is on, with the evidence. Accounts, aliases and
-- staff domains win over these; only imported history is structured by them.
CREATE TABLE people (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    name TEXT NOT NULL,
    address TEXT,
    side TEXT NOT NULL,
    evidence TEXT NOT NULL,
    case_id BIGINT REFERENCES cases(id) ON DELETE SET NULL,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL
);
-- Every way a person is named: "addr:<address>", "name:<display name or signature name>".
CREATE TABLE person_keys (
    key TEXT PRIMARY KEY,
    person_id BIGINT NOT NULL REFERENCES people(id) ON DELETE CASCADE
);
CREATE INDEX person_keys_person ON person_keys(person_id);
