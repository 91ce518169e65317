DROP TRIGGER staff_domains_version_ad;
DROP TRIGGER staff_domains_version_au;
DROP TRIGGER staff_domains_version_ai;
DROP TRIGGER users_version_ad;
DROP TRIGGER users_version_au;
DROP TRIGGER users_version_ai;
DROP TABLE directory_version;
