-- A counter of changes to the staff directory (users, staff domains), kept by
-- triggers: the live mail writer keeps the directory in memory and reads it again only
-- when this moved, whoever changed it (another process, another server).
CREATE TABLE directory_version (
    id INTEGER PRIMARY KEY NOT NULL CHECK (id = 1),
    n BIGINT NOT NULL
);
INSERT INTO directory_version (id, n) VALUES (1, 0);
CREATE TRIGGER users_version_ai AFTER INSERT ON users BEGIN
    UPDATE directory_version SET n = n + 1 WHERE id = 1;
END;
CREATE TRIGGER users_version_au AFTER UPDATE ON users BEGIN
    UPDATE directory_version SET n = n + 1 WHERE id = 1;
END;
CREATE TRIGGER users_version_ad AFTER DELETE ON users BEGIN
    UPDATE directory_version SET n = n + 1 WHERE id = 1;
END;
CREATE TRIGGER staff_domains_version_ai AFTER INSERT ON staff_domains BEGIN
    UPDATE directory_version SET n = n + 1 WHERE id = 1;
END;
CREATE TRIGGER staff_domains_version_au AFTER UPDATE ON staff_domains BEGIN
    UPDATE directory_version SET n = n + 1 WHERE id = 1;
END;
CREATE TRIGGER staff_domains_version_ad AFTER DELETE ON staff_domains BEGIN
    UPDATE directory_version SET n = n + 1 WHERE id = 1;
END;
