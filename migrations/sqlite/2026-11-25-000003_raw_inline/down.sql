ALTER TABLE raw_messages DROP COLUMN data;
