-- 002_login_binding.sql (SQLite) -- bind each login in progress to its browser.
--
-- /auth/login now sets a short-lived cookie, coffer_login, on the browser
-- that starts a login, and the login's row keeps the SHA-256 (hex) of its
-- value: the callback must come from a browser holding that cookie, so a
-- callback URL cannot log somebody else's browser in (docs/API.md, "GET
-- /auth/callback/{provider}").  The row also keeps the redirect_uri sent
-- to the provider's authorize step, which the code exchange must repeat
-- exactly; the callback no longer works it out again from its own Host
-- header.
--
-- A row written before this migration has neither and could never be
-- finished, so the table is rebuilt empty instead of altered: a login
-- that was in progress during the upgrade is simply started again.  No
-- other table refers to oauth_states.
DROP TABLE oauth_states;
CREATE TABLE oauth_states (
	state		TEXT PRIMARY KEY,
	provider	TEXT NOT NULL,
	code_verifier	TEXT NOT NULL,		-- PKCE
	cookie_hash	TEXT NOT NULL CHECK (length(cookie_hash) = 64),
	redirect_uri	TEXT NOT NULL,
	next_path	TEXT NOT NULL DEFAULT '/app',
	created_at	TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
) WITHOUT ROWID;
CREATE INDEX oauth_states_created_idx ON oauth_states (created_at);	-- purging
