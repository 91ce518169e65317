DROP INDEX cases_priority;
