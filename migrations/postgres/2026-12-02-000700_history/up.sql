-- Imported history keeps its own clock: a case that came in through an import (the CLI,
-- the admin upload) is judged by the thread's own times, never by today's, until live
-- mail or a reply makes it live work.
ALTER TABLE cases ADD COLUMN imported BOOLEAN NOT NULL DEFAULT FALSE;
-- Cases stored before: imported when no message of theirs arrived live or went out.
UPDATE cases SET imported = TRUE WHERE NOT EXISTS (
    SELECT 1 FROM messages m WHERE m.case_id = cases.id AND (
        m.source = 'inbound' OR m.source LIKE 'inbound#%' OR m.source LIKE 'inbound:%'
        OR m.source LIKE 'imap:%' OR m.source LIKE 'imap-internal:%'
        OR m.source LIKE 'outbox:%')
);
