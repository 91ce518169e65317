-- Cases an import filed out of their own time order, to be re-read in that order once
-- the import has committed. Written in the transaction that filed the message, so a
-- run that is killed leaves them for the next run (which re-reads every case here at
-- its end), instead of losing them with the process.
CREATE TABLE import_rereads (
    case_id BIGINT PRIMARY KEY NOT NULL,
    marked_at TIMESTAMP NOT NULL
);
