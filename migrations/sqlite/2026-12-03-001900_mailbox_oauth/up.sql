-- XOAUTH2 for hosted mailboxes that no longer take passwords (Microsoft 365, Gmail):
-- the token endpoint, the client, and the refresh and access tokens, the secrets
-- encrypted like passwords.
ALTER TABLE mailboxes ADD COLUMN auth TEXT NOT NULL DEFAULT 'password';
ALTER TABLE mailboxes ADD COLUMN oauth_token_url TEXT;
ALTER TABLE mailboxes ADD COLUMN oauth_client_id TEXT;
ALTER TABLE mailboxes ADD COLUMN oauth_client_secret_enc TEXT;
ALTER TABLE mailboxes ADD COLUMN oauth_refresh_enc TEXT;
ALTER TABLE mailboxes ADD COLUMN oauth_access_enc TEXT;
ALTER TABLE mailboxes ADD COLUMN oauth_expires_at TIMESTAMP;
