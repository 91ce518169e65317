DROP TRIGGER customers_au;
DROP TRIGGER customers_ai;
DROP TABLE customers;
