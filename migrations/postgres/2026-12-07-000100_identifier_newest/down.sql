DROP INDEX case_codes_code;
CREATE INDEX case_codes_code ON case_codes(code);
DROP INDEX case_serials_serial;
CREATE INDEX case_serials_serial ON case_serials(serial);
