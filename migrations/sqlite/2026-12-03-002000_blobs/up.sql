-- The embedded default keeps stored files in the data dir's blobs/ (one machine); the
-- table exists so that both engines have the same schema (see the PostgreSQL one).
CREATE TABLE blobs (
    sha256 TEXT PRIMARY KEY NOT NULL,
    bytes BLOB NOT NULL,
    size BIGINT NOT NULL,
    created_at TIMESTAMP NOT NULL
);
