DROP TRIGGER staff_domains_version ON staff_domains;
DROP TRIGGER users_version ON users;
DROP FUNCTION casebook_directory_changed();
DROP TABLE directory_version;
