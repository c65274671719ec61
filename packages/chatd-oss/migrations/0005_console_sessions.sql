-- Console sessions (issue 22 item 8): signing in to the web console with an API token mints a separate
-- token of kind 'session' that expires (expires_at, moved forward on use) and that sign-out revokes, so
-- the browser's cookie never holds the API token itself. Existing tokens are API tokens that never expire.
ALTER TABLE api_tokens
  ADD COLUMN kind       text NOT NULL DEFAULT 'api' CHECK (kind IN ('api', 'session')),
  ADD COLUMN expires_at timestamptz,
  ADD CONSTRAINT api_tokens_session_expires CHECK (kind <> 'session' OR expires_at IS NOT NULL);
