DROP TRIGGER messages_count_au;
DROP TRIGGER messages_count_ad;
DROP TRIGGER messages_count_ai;
ALTER TABLE cases DROP COLUMN message_count;
