-- Full-text search: message bodies are indexed in place (messages_fts below); every
-- other searchable text (case subject, R&D note, scope, closure) has a row here, kept
-- in sync by triggers so the ingest code stays unaware of it. The id encodes where the text comes from: source row id * 8 + kind code
-- (0 subject, 1 message, 2 escalation entry, 3 escalation question, 4 closure,
-- 5 scope, 6 bundle), so each trigger finds its row by primary key.
CREATE TABLE search_docs (
    id INTEGER PRIMARY KEY NOT NULL,
    case_id BIGINT NOT NULL,
    kind TEXT NOT NULL,
    body TEXT NOT NULL
);
CREATE INDEX search_docs_case ON search_docs(case_id);

-- External-content FTS5 index over search_docs.body; the trigram tokenizer serves
-- `LIKE '%term%'` for terms of 3 characters or more (Chinese without segmentation,
-- error codes, serials), case-insensitive. detail=none keeps only document ids per
-- trigram (half the size, twice the insert speed of detail=full); SQLite checks each
-- candidate against the text. Shorter terms use LIKE on search_docs.
CREATE VIRTUAL TABLE search_fts USING fts5(
    body,
    content='search_docs',
    content_rowid='id',
    tokenize='trigram',
    detail=none
);

CREATE TRIGGER search_docs_ai AFTER INSERT ON search_docs BEGIN
    INSERT INTO search_fts(rowid, body) VALUES (new.id, new.body);
END;
CREATE TRIGGER search_docs_ad AFTER DELETE ON search_docs BEGIN
    INSERT INTO search_fts(search_fts, rowid, body) VALUES ('delete', old.id, old.body);
END;
CREATE TRIGGER search_docs_au AFTER UPDATE ON search_docs BEGIN
    INSERT INTO search_fts(search_fts, rowid, body) VALUES ('delete', old.id, old.body);
    INSERT INTO search_fts(rowid, body) VALUES (new.id, new.body);
END;

-- cases.subject -> kind 0
CREATE TRIGGER search_cases_ai AFTER INSERT ON cases BEGIN
    INSERT INTO search_docs(id, case_id, kind, body) VALUES (new.id * 8, new.id, 'subject', new.subject);
END;
CREATE TRIGGER search_cases_au AFTER UPDATE OF subject ON cases
WHEN old.subject IS NOT new.subject BEGIN
    UPDATE search_docs SET body = new.subject WHERE id = new.id * 8;
END;
CREATE TRIGGER search_cases_ad AFTER DELETE ON cases BEGIN
    DELETE FROM search_docs WHERE id = old.id * 8;
END;

-- Message bodies are indexed in place: an external-content FTS5 index over
-- messages.body_text (no copy of the text), same tokenizer. As a search document a
-- message is id * 8 + 1, kind 'message' ('note' for internal notes).
CREATE VIRTUAL TABLE messages_fts USING fts5(
    body_text,
    content='messages',
    content_rowid='id',
    tokenize='trigram',
    detail=none
);
CREATE TRIGGER messages_fts_ai AFTER INSERT ON messages BEGIN
    INSERT INTO messages_fts(rowid, body_text) VALUES (new.id, new.body_text);
END;
CREATE TRIGGER messages_fts_ad AFTER DELETE ON messages BEGIN
    INSERT INTO messages_fts(messages_fts, rowid, body_text) VALUES ('delete', old.id, old.body_text);
END;
CREATE TRIGGER messages_fts_au AFTER UPDATE OF body_text ON messages
WHEN old.body_text IS NOT new.body_text BEGIN
    INSERT INTO messages_fts(messages_fts, rowid, body_text) VALUES ('delete', old.id, old.body_text);
    INSERT INTO messages_fts(rowid, body_text) VALUES (new.id, new.body_text);
END;

-- escalation_entries.body_text (R&D answers, follow-ups) -> kind 2
CREATE TRIGGER search_entries_ai AFTER INSERT ON escalation_entries BEGIN
    INSERT INTO search_docs(id, case_id, kind, body)
    SELECT new.id * 8 + 2, e.case_id, 'note', new.body_text FROM escalations e WHERE e.id = new.escalation_id;
END;
CREATE TRIGGER search_entries_au AFTER UPDATE OF body_text ON escalation_entries
WHEN old.body_text IS NOT new.body_text BEGIN
    UPDATE search_docs SET body = new.body_text WHERE id = new.id * 8 + 2;
END;
CREATE TRIGGER search_entries_ad AFTER DELETE ON escalation_entries BEGIN
    DELETE FROM search_docs WHERE id = old.id * 8 + 2;
END;

-- escalations.question -> kind 3
CREATE TRIGGER search_escalations_ai AFTER INSERT ON escalations BEGIN
    INSERT INTO search_docs(id, case_id, kind, body) VALUES (new.id * 8 + 3, new.case_id, 'note', new.question);
END;
CREATE TRIGGER search_escalations_au AFTER UPDATE OF question, case_id ON escalations
WHEN old.question IS NOT new.question OR old.case_id IS NOT new.case_id BEGIN
    UPDATE search_docs SET body = new.question, case_id = new.case_id WHERE id = new.id * 8 + 3;
END;
CREATE TRIGGER search_escalations_ad AFTER DELETE ON escalations BEGIN
    DELETE FROM search_docs WHERE id = old.id * 8 + 3;
END;

-- closures -> kind 4
CREATE TRIGGER search_closures_ai AFTER INSERT ON closures BEGIN
    INSERT INTO search_docs(id, case_id, kind, body) VALUES (new.id * 8 + 4, new.case_id, 'closure',
        new.problem_definition || char(10) || new.resolution || char(10) || COALESCE(new.root_cause, ''));
END;
CREATE TRIGGER search_closures_au AFTER UPDATE ON closures BEGIN
    UPDATE search_docs SET case_id = new.case_id, body =
        new.problem_definition || char(10) || new.resolution || char(10) || COALESCE(new.root_cause, '')
    WHERE id = new.id * 8 + 4;
END;
CREATE TRIGGER search_closures_ad AFTER DELETE ON closures BEGIN
    DELETE FROM search_docs WHERE id = old.id * 8 + 4;
END;

-- scopes -> kind 5
CREATE TRIGGER search_scopes_ai AFTER INSERT ON scopes BEGIN
    INSERT INTO search_docs(id, case_id, kind, body) VALUES (new.id * 8 + 5, new.case_id, 'note',
        new.problem_definition || char(10) || new.problem_scope || char(10) || COALESCE(new.log_instructions, ''));
END;
CREATE TRIGGER search_scopes_au AFTER UPDATE ON scopes BEGIN
    UPDATE search_docs SET case_id = new.case_id, body =
        new.problem_definition || char(10) || new.problem_scope || char(10) || COALESCE(new.log_instructions, '')
    WHERE id = new.id * 8 + 5;
END;
CREATE TRIGGER search_scopes_ad AFTER DELETE ON scopes BEGIN
    DELETE FROM search_docs WHERE id = old.id * 8 + 5;
END;

-- bundle_findings (codes, serials, timestamps found in uploaded log bundles) -> kind 6
CREATE TRIGGER search_findings_ai AFTER INSERT ON bundle_findings BEGIN
    INSERT INTO search_docs(id, case_id, kind, body) VALUES (new.id * 8 + 6, new.case_id, 'bundle',
        new.entry_path || ' (' || new.line || '): ' || new.value);
END;
CREATE TRIGGER search_findings_au AFTER UPDATE ON bundle_findings BEGIN
    UPDATE search_docs SET case_id = new.case_id,
        body = new.entry_path || ' (' || new.line || '): ' || new.value
    WHERE id = new.id * 8 + 6;
END;
CREATE TRIGGER search_findings_ad AFTER DELETE ON bundle_findings BEGIN
    DELETE FROM search_docs WHERE id = old.id * 8 + 6;
END;

-- Existing data (the triggers on search_docs fill its FTS index).
INSERT INTO messages_fts(messages_fts) VALUES ('rebuild');
INSERT INTO search_docs(id, case_id, kind, body) SELECT id * 8, id, 'subject', subject FROM cases;
INSERT INTO search_docs(id, case_id, kind, body)
    SELECT n.id * 8 + 2, e.case_id, 'note', n.body_text FROM escalation_entries n JOIN escalations e ON e.id = n.escalation_id;
INSERT INTO search_docs(id, case_id, kind, body) SELECT id * 8 + 3, case_id, 'note', question FROM escalations;
INSERT INTO search_docs(id, case_id, kind, body)
    SELECT id * 8 + 4, case_id, 'closure', problem_definition || char(10) || resolution || char(10) || COALESCE(root_cause, '') FROM closures;
INSERT INTO search_docs(id, case_id, kind, body)
    SELECT id * 8 + 5, case_id, 'note', problem_definition || char(10) || problem_scope || char(10) || COALESCE(log_instructions, '') FROM scopes;
INSERT INTO search_docs(id, case_id, kind, body)
    SELECT id * 8 + 6, case_id, 'bundle', entry_path || ' (' || line || '): ' || value FROM bundle_findings;

-- Reports: weekly counts and ranges over these timestamps.
CREATE INDEX cases_created ON cases(created_at);
CREATE INDEX cases_closed ON cases(closed_at);
CREATE INDEX escalations_opened ON escalations(opened_at);
