DROP TABLE import_rereads;
