-- A customer's page: their cases, newest activity first.
CREATE INDEX cases_customer ON cases(customer, updated_at);
