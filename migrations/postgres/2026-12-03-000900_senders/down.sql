DROP TABLE reanalysis_queue;
DROP TABLE reanalysis_jobs;
DROP TABLE staff_domains;
DROP TABLE sender_cases;
DROP TABLE senders;
DROP INDEX messages_uncounted;
ALTER TABLE messages DROP COLUMN counted;
