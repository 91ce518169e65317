-- PostgreSQL keeps its pg_trgm index on messages.body_text current on insert; nothing to defer.
SELECT 1;
