DROP TABLE bundle_findings;
DROP TABLE bundle_entries;
ALTER TABLE attachments DROP COLUMN bundle_note;
ALTER TABLE attachments DROP COLUMN bundle_status;
