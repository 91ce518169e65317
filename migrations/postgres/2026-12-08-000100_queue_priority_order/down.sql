DROP INDEX cases_active_priority;
