DROP INDEX cases_active_updated;
