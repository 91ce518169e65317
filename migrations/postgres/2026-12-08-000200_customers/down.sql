DROP TRIGGER customers_keep ON cases;
DROP FUNCTION customers_keep();
DROP TABLE customers;
