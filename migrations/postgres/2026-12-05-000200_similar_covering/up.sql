-- "Similar closed cases" reads the case ids of the newest closed cases sharing a code
-- or a serial prefix: with case_id in the index that read never visits the table.
DROP INDEX case_codes_closed;
CREATE INDEX case_codes_closed ON case_codes(code, closed, id, case_id);
DROP INDEX case_serials_closed;
CREATE INDEX case_serials_closed ON case_serials(prefix, closed, id, case_id);
