DROP INDEX cases_customer;
