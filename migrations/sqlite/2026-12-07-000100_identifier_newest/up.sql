-- Search reads the newest cases carrying an error code or a serial (an exact hit):
-- with the id and the case in the index that read is a range of it, newest first,
-- never a sort of every row of a common code (a sixth of all cases carry one).
DROP INDEX case_codes_code;
CREATE INDEX case_codes_code ON case_codes(code, id, case_id);
DROP INDEX case_serials_serial;
CREATE INDEX case_serials_serial ON case_serials(serial, id, case_id);
