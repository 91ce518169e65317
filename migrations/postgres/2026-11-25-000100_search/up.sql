-- Full-text search: message bodies are searched in place (a trigram index on
-- messages.body_text); every other searchable text (case subject, R&D note, scope,
-- closure) has a row here, kept in sync by triggers so the ingest code stays unaware
-- of it. The id encodes where the text comes from: source row id * 8 + kind code
-- (0 subject, 1 message, 2 escalation entry, 3 escalation question, 4 closure,
-- 5 scope, 6 bundle), so each trigger finds its row by primary key.
-- Matching is ILIKE per term, served by a pg_trgm GIN index (same results as the
-- SQLite FTS5 trigram index, including Chinese without segmentation).
CREATE EXTENSION IF NOT EXISTS pg_trgm;

CREATE TABLE search_docs (
    id BIGINT PRIMARY KEY,
    case_id BIGINT NOT NULL,
    kind TEXT NOT NULL,
    body TEXT NOT NULL
);
CREATE INDEX search_docs_case ON search_docs(case_id);
CREATE INDEX search_docs_body_trgm ON search_docs USING gin (body gin_trgm_ops);

CREATE FUNCTION search_doc_put(doc_id BIGINT, doc_case BIGINT, doc_kind TEXT, doc_body TEXT)
RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO search_docs(id, case_id, kind, body)
    VALUES (doc_id, doc_case, doc_kind, COALESCE(doc_body, ''))
    ON CONFLICT (id) DO UPDATE SET case_id = EXCLUDED.case_id, kind = EXCLUDED.kind, body = EXCLUDED.body;
END $$;

CREATE FUNCTION search_sync_cases() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        DELETE FROM search_docs WHERE id = OLD.id * 8;
        RETURN OLD;
    END IF;
    IF TG_OP = 'INSERT' OR OLD.subject IS DISTINCT FROM NEW.subject THEN
        PERFORM search_doc_put(NEW.id * 8, NEW.id, 'subject', NEW.subject);
    END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER search_cases AFTER INSERT OR UPDATE OF subject OR DELETE ON cases
    FOR EACH ROW EXECUTE FUNCTION search_sync_cases();

-- Message bodies are searched in place (no copy): a trigram index on messages.
CREATE INDEX messages_body_trgm ON messages USING gin (body_text gin_trgm_ops);

CREATE FUNCTION search_sync_entries() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        DELETE FROM search_docs WHERE id = OLD.id * 8 + 2;
        RETURN OLD;
    END IF;
    PERFORM search_doc_put(NEW.id * 8 + 2, e.case_id, 'note', NEW.body_text)
        FROM escalations e WHERE e.id = NEW.escalation_id;
    RETURN NEW;
END $$;
CREATE TRIGGER search_entries AFTER INSERT OR UPDATE OF body_text, escalation_id OR DELETE ON escalation_entries
    FOR EACH ROW EXECUTE FUNCTION search_sync_entries();

CREATE FUNCTION search_sync_escalations() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        DELETE FROM search_docs WHERE id = OLD.id * 8 + 3;
        RETURN OLD;
    END IF;
    IF TG_OP = 'INSERT' OR OLD.question IS DISTINCT FROM NEW.question OR OLD.case_id IS DISTINCT FROM NEW.case_id THEN
        PERFORM search_doc_put(NEW.id * 8 + 3, NEW.case_id, 'note', NEW.question);
    END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER search_escalations AFTER INSERT OR UPDATE OF question, case_id OR DELETE ON escalations
    FOR EACH ROW EXECUTE FUNCTION search_sync_escalations();

CREATE FUNCTION search_sync_closures() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        DELETE FROM search_docs WHERE id = OLD.id * 8 + 4;
        RETURN OLD;
    END IF;
    PERFORM search_doc_put(NEW.id * 8 + 4, NEW.case_id, 'closure',
        NEW.problem_definition || chr(10) || NEW.resolution || chr(10) || COALESCE(NEW.root_cause, ''));
    RETURN NEW;
END $$;
CREATE TRIGGER search_closures AFTER INSERT OR UPDATE OR DELETE ON closures
    FOR EACH ROW EXECUTE FUNCTION search_sync_closures();

CREATE FUNCTION search_sync_scopes() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        DELETE FROM search_docs WHERE id = OLD.id * 8 + 5;
        RETURN OLD;
    END IF;
    PERFORM search_doc_put(NEW.id * 8 + 5, NEW.case_id, 'note',
        NEW.problem_definition || chr(10) || NEW.problem_scope || chr(10) || COALESCE(NEW.log_instructions, ''));
    RETURN NEW;
END $$;
CREATE TRIGGER search_scopes AFTER INSERT OR UPDATE OR DELETE ON scopes
    FOR EACH ROW EXECUTE FUNCTION search_sync_scopes();

CREATE FUNCTION search_sync_findings() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        DELETE FROM search_docs WHERE id = OLD.id * 8 + 6;
        RETURN OLD;
    END IF;
    PERFORM search_doc_put(NEW.id * 8 + 6, NEW.case_id, 'bundle',
        NEW.entry_path || ' (' || NEW.line || '): ' || NEW.value);
    RETURN NEW;
END $$;
CREATE TRIGGER search_findings AFTER INSERT OR UPDATE OR DELETE ON bundle_findings
    FOR EACH ROW EXECUTE FUNCTION search_sync_findings();

-- Existing data.
INSERT INTO search_docs(id, case_id, kind, body) SELECT id * 8, id, 'subject', subject FROM cases;
INSERT INTO search_docs(id, case_id, kind, body)
    SELECT n.id * 8 + 2, e.case_id, 'note', n.body_text FROM escalation_entries n JOIN escalations e ON e.id = n.escalation_id;
INSERT INTO search_docs(id, case_id, kind, body) SELECT id * 8 + 3, case_id, 'note', question FROM escalations;
INSERT INTO search_docs(id, case_id, kind, body)
    SELECT id * 8 + 4, case_id, 'closure', problem_definition || chr(10) || resolution || chr(10) || COALESCE(root_cause, '') FROM closures;
INSERT INTO search_docs(id, case_id, kind, body)
    SELECT id * 8 + 5, case_id, 'note', problem_definition || chr(10) || problem_scope || chr(10) || COALESCE(log_instructions, '') FROM scopes;
INSERT INTO search_docs(id, case_id, kind, body)
    SELECT id * 8 + 6, case_id, 'bundle', entry_path || ' (' || line || '): ' || value FROM bundle_findings;

-- Reports: weekly counts and ranges over these timestamps.
CREATE INDEX cases_created ON cases(created_at);
CREATE INDEX cases_closed ON cases(closed_at);
CREATE INDEX escalations_opened ON escalations(opened_at);
