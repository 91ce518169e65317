DROP INDEX case_codes_closed;
CREATE INDEX case_codes_closed ON case_codes(code, closed, id);
DROP INDEX case_serials_closed;
CREATE INDEX case_serials_closed ON case_serials(prefix, closed, id);
