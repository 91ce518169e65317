-- Every Message-ID a stored message references (In-Reply-To and References), so that
-- a late parent finds the replies that arrived before it, and two replies to a
-- never-received ("ghost") ancestor find each other, whatever the order of arrival.
CREATE TABLE message_refs (
    ref_id TEXT NOT NULL,
    message_row_id BIGINT NOT NULL REFERENCES messages(id) ON DELETE CASCADE,
    PRIMARY KEY (ref_id, message_row_id)
);
CREATE INDEX message_refs_message ON message_refs(message_row_id);

-- The messages already stored: split "in_reply_to refs" on spaces.
INSERT OR IGNORE INTO message_refs (ref_id, message_row_id)
WITH RECURSIVE split(id, own, rest, tok) AS (
    SELECT id, message_id, trim(coalesce(in_reply_to, '') || ' ' || refs) || ' ', NULL FROM messages
    UNION ALL
    SELECT id, own, substr(rest, instr(rest, ' ') + 1), substr(rest, 1, instr(rest, ' ') - 1)
    FROM split WHERE rest <> ''
)
SELECT trim(tok, '<>'), id FROM split
WHERE tok IS NOT NULL AND instr(tok, '@') > 1 AND trim(tok, '<>') <> own;
