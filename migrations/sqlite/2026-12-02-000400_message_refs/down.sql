DROP TABLE message_refs;
