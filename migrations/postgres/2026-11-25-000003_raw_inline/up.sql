ALTER TABLE raw_messages ADD COLUMN data BYTEA;
