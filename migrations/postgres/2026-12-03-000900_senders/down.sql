DROP TABLE reanalysis_queue;
DROP TABLE reanalysis_jobs;
DROP TABLE staff_domains;
DROP TABLE sender_cases;
DROP TABLE senders;
