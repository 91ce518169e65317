-- Every customer name a case has carried. The queue's customer filter matches the typed
-- words against these names (a short table) and reaches the cases through
-- `cases_customer`, where it walked every case. Names are never removed: one that no case
-- carries any more matches no case.
CREATE TABLE customers (
    name TEXT PRIMARY KEY
);
INSERT INTO customers (name)
    SELECT DISTINCT customer FROM cases WHERE customer IS NOT NULL AND customer <> ''
    ON CONFLICT DO NOTHING;
-- A name already kept costs one index probe and no write (no row lock to wait on).
CREATE FUNCTION customers_keep() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.customer IS NOT NULL AND NEW.customer <> ''
        AND NOT EXISTS (SELECT 1 FROM customers WHERE name = NEW.customer) THEN
        INSERT INTO customers (name) VALUES (NEW.customer) ON CONFLICT DO NOTHING;
    END IF;
    RETURN NULL;
END
$$;
CREATE TRIGGER customers_keep AFTER INSERT OR UPDATE OF customer ON cases
    FOR EACH ROW EXECUTE FUNCTION customers_keep();
