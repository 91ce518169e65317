-- API tokens: an optional expiry and a scope ('full': the owner's role; 'inbound':
-- only POST /api/mail/inbound). Revoked tokens are deleted.
ALTER TABLE api_tokens ADD COLUMN expires_at TIMESTAMP;
ALTER TABLE api_tokens ADD COLUMN scope TEXT NOT NULL DEFAULT 'full';
CREATE INDEX api_tokens_user ON api_tokens (user_id);
