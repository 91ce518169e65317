ALTER TABLE attachments ADD COLUMN bundle_status TEXT;
ALTER TABLE attachments ADD COLUMN bundle_note TEXT;

CREATE TABLE bundle_entries (
    id INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
    attachment_id BIGINT NOT NULL REFERENCES attachments(id),
    path TEXT NOT NULL,
    size BIGINT NOT NULL,
    compressed_size BIGINT NOT NULL,
    is_text BOOLEAN NOT NULL,
    depth BIGINT NOT NULL
);
CREATE INDEX bundle_entries_att ON bundle_entries(attachment_id);

CREATE TABLE bundle_findings (
    id INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
    case_id BIGINT NOT NULL REFERENCES cases(id),
    attachment_id BIGINT NOT NULL REFERENCES attachments(id),
    entry_path TEXT NOT NULL,
    line BIGINT NOT NULL,
    kind TEXT NOT NULL,
    value TEXT NOT NULL
);
CREATE INDEX bundle_findings_case ON bundle_findings(case_id);
