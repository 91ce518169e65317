CREATE TABLE activation_records (
    id BIGSERIAL PRIMARY KEY,
    fingerprint TEXT NOT NULL UNIQUE,
    serial_number TEXT NOT NULL,
    product_key TEXT,
    machine_serial TEXT,
    oem TEXT,
    customer TEXT,
    product TEXT,
    activated_at TIMESTAMP,
    method TEXT,
    result TEXT,
    error_code TEXT,
    source TEXT NOT NULL,
    imported_at TIMESTAMP NOT NULL
);
CREATE INDEX activation_records_serial ON activation_records(serial_number);
CREATE INDEX activation_records_machine ON activation_records(machine_serial);

CREATE TABLE code_notes (
    code TEXT PRIMARY KEY NOT NULL,
    note TEXT NOT NULL,
    updated_by TEXT NOT NULL,
    updated_at TIMESTAMP NOT NULL
);
