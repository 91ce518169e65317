-- A counter of changes to the staff directory (users, staff domains), kept by
-- triggers: the live mail writer keeps the directory in memory and reads it again only
-- when this moved, whoever changed it (another process, another server).
CREATE TABLE directory_version (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    n BIGINT NOT NULL
);
INSERT INTO directory_version (id, n) VALUES (1, 0);
CREATE FUNCTION casebook_directory_changed() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    UPDATE directory_version SET n = n + 1 WHERE id = 1;
    RETURN NULL;
END
$$;
CREATE TRIGGER users_version AFTER INSERT OR UPDATE OR DELETE ON users
    FOR EACH STATEMENT EXECUTE FUNCTION casebook_directory_changed();
CREATE TRIGGER staff_domains_version AFTER INSERT OR UPDATE OR DELETE ON staff_domains
    FOR EACH STATEMENT EXECUTE FUNCTION casebook_directory_changed();
