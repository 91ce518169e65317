DROP TABLE code_notes;
DROP TABLE activation_records;
