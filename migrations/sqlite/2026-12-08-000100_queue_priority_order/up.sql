-- The queue sorted by priority (`?sort=priority`), of any status: walked in this
-- index's order and stopped after a page, where before every case was sorted. The
-- expression is the one `cases::list` orders by, character for character.
CREATE INDEX cases_priority ON cases(
    (CASE priority WHEN 'urgent' THEN 0 WHEN 'high' THEN 1 WHEN 'normal' THEN 2 ELSE 3 END),
    updated_at DESC,
    id DESC
);
