DROP TABLE case_links;
DROP TABLE merges;
DROP INDEX cases_merged_into;
ALTER TABLE cases DROP COLUMN merged_into;
