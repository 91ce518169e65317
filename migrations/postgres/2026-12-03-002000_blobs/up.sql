-- Stored files (raw mail over 256 KiB, attachments, thumbnails) in the database, so
-- that every server on it can read every byte. Content-addressed like the blob
-- directory; EXTERNAL storage: most of it is compressed already (zip, PNG, JPEG).
CREATE TABLE blobs (
    sha256 TEXT PRIMARY KEY NOT NULL,
    bytes BYTEA NOT NULL,
    size BIGINT NOT NULL,
    created_at TIMESTAMP NOT NULL
);
ALTER TABLE blobs ALTER COLUMN bytes SET STORAGE EXTERNAL;
