DROP TRIGGER messages_count ON messages;
DROP FUNCTION messages_count();
ALTER TABLE cases DROP COLUMN message_count;
