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
INSERT INTO message_refs (ref_id, message_row_id)
SELECT DISTINCT btrim(t, '<>'), m.id
FROM messages m, unnest(string_to_array(coalesce(m.in_reply_to, '') || ' ' || m.refs, ' ')) AS t
WHERE position('@' in t) > 1 AND btrim(t, '<>') <> m.message_id
ON CONFLICT DO NOTHING;
