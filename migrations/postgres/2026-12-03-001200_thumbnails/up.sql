-- Thumbnails of image attachments, made once (on first view) and kept in the blob
-- store: a PNG re-encoded from the decoded pixels, so no EXIF or other metadata.
CREATE TABLE thumbnails (
    attachment_id BIGINT PRIMARY KEY NOT NULL REFERENCES attachments(id),
    sha256 TEXT NOT NULL,
    width BIGINT NOT NULL,
    height BIGINT NOT NULL
);
