DROP TABLE person_keys;
DROP TABLE people;
