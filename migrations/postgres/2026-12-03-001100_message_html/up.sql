-- HTML mail as the case page shows it: the message's HTML part cleaned at arrival
-- (`mail::html::sanitize`), split from its quoted history, with inline images as placeholders for their attachment,
-- and how many remote images were removed. Messages without an HTML part have no row.
CREATE TABLE message_html (
    message_row_id BIGINT PRIMARY KEY NOT NULL REFERENCES messages(id),
    html TEXT NOT NULL,
    -- The quoted history of a reply (folded on the page), cleaned the same way.
    quoted TEXT,
    blocked_images BIGINT NOT NULL DEFAULT 0
);
