ALTER TABLE mailboxes DROP COLUMN oauth_expires_at;
ALTER TABLE mailboxes DROP COLUMN oauth_access_enc;
ALTER TABLE mailboxes DROP COLUMN oauth_refresh_enc;
ALTER TABLE mailboxes DROP COLUMN oauth_client_secret_enc;
ALTER TABLE mailboxes DROP COLUMN oauth_client_id;
ALTER TABLE mailboxes DROP COLUMN oauth_token_url;
ALTER TABLE mailboxes DROP COLUMN auth;
