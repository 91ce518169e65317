-- The queue's default view is every case not closed, newest activity first. A partial
-- index over just those cases serves both its count and its first page without
-- walking the closed ones (most cases, once a team has history).
CREATE INDEX cases_active_updated ON cases(updated_at, id) WHERE status <> 'closed';
