-- 002_login_binding.sql (PostgreSQL) -- bind each login in progress to its browser.
--
-- The same change as src/db/schema/sqlite/002_login_binding.sql, whose
-- comments explain it: oauth_states gains cookie_hash (the SHA-256 of the
-- browser's coffer_login cookie) and redirect_uri, and is rebuilt empty,
-- since a login in progress from before could never be finished.
DROP TABLE oauth_states;
CREATE TABLE oauth_states (
	state		text PRIMARY KEY,
	provider	text NOT NULL,
	code_verifier	text NOT NULL,
	cookie_hash	text NOT NULL CHECK (length(cookie_hash) = 64),
	redirect_uri	text NOT NULL,
	next_path	text NOT NULL DEFAULT '/app',
	created_at	timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX oauth_states_created_idx ON oauth_states (created_at);
