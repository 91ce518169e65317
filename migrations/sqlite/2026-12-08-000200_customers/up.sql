-- Every customer name a case has carried. The queue's customer filter matches the typed
-- words against these names (a short table) and reaches the cases through
-- `cases_customer`, where it walked every case. Names are never removed: one that no case
-- carries any more matches no case.
CREATE TABLE customers (
    name TEXT PRIMARY KEY NOT NULL
) WITHOUT ROWID;
INSERT OR IGNORE INTO customers (name)
    SELECT DISTINCT customer FROM cases WHERE customer IS NOT NULL AND customer <> '';
CREATE TRIGGER customers_ai AFTER INSERT ON cases
    WHEN NEW.customer IS NOT NULL AND NEW.customer <> ''
BEGIN
    INSERT OR IGNORE INTO customers (name) VALUES (NEW.customer);
END;
CREATE TRIGGER customers_au AFTER UPDATE OF customer ON cases
    WHEN NEW.customer IS NOT NULL AND NEW.customer <> ''
BEGIN
    INSERT OR IGNORE INTO customers (name) VALUES (NEW.customer);
END;
