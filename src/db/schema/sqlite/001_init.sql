-- 001_init.sql (SQLite) -- the first coffer schema: the whole domain of docs/API.md.
--
-- src/db/schema/postgres/001_init.sql is the same schema in PostgreSQL's
-- native types, with identical table, column and index names, so that one
-- SQL text serves both engines wherever the dialects agree.  docs/SCHEMA.md
-- explains the tables and why each index exists.
--
-- Conventions on SQLite:
--  * ids are INTEGER PRIMARY KEY AUTOINCREMENT: an alias of the rowid that
--    is never handed out twice, even after the highest row is deleted.  Ids
--    are public (URLs, activity cursors), so a reused id could make a stale
--    client act on a new row; PostgreSQL identities never reuse either.
--  * times are TEXT in RFC 3339 UTC with milliseconds,
--    'YYYY-MM-DDTHH:MM:SS.sssZ', which is what
--    strftime('%Y-%m-%dT%H:%M:%fZ', 'now') produces.  The width is fixed,
--    so text order is time order; anything that writes a time must use
--    exactly this format or comparisons and ORDER BY go wrong.
--  * booleans are INTEGER 0/1 with a CHECK.  SQL text says TRUE / FALSE or
--    tests the bare column (WHERE is_current), which both engines accept.
--  * JSON is TEXT, checked with json_valid().
--  * enumerations are TEXT with a CHECK listing the values.
--  * tables looked up only by a composite or text key are WITHOUT ROWID:
--    the row lives in the primary-key b-tree, so a key lookup or range
--    scan reads one tree, not an index and then the table.
--
-- Foreign keys are enforced only on connections that set
-- PRAGMA foreign_keys = ON; the engine sets it on every connection.
--
-- The migration runner executes this file in one transaction together with
-- its schema_migrations row: no BEGIN/COMMIT or PRAGMA here.

---------------------------------------------------------------- accounts

-- A person, as known to one OAuth provider.  plan caches the effect of the
-- user's subscription (see subscriptions) so that plan limits are one
-- column away wherever they are checked.
CREATE TABLE users (
	id		INTEGER PRIMARY KEY AUTOINCREMENT,
	provider	TEXT NOT NULL,		-- [oauth.NAME] or 'mock'
	login		TEXT NOT NULL,		-- the provider's stable subject
	display_name	TEXT NOT NULL,
	plan		TEXT NOT NULL DEFAULT 'free'
			CHECK (plan IN ('free', 'premium')),
	created_at	TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
	UNIQUE (provider, login)
);

-- Web sessions.  Only the SHA-256 (hex) of the cookie value is stored, so a
-- copy of the database does not log anybody in.
CREATE TABLE sessions (
	id		INTEGER PRIMARY KEY AUTOINCREMENT,
	user_id		INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
	token_hash	TEXT NOT NULL UNIQUE CHECK (length(token_hash) = 64),
	csrf_token	TEXT NOT NULL,
	user_agent	TEXT,
	created_at	TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
	expires_at	TEXT NOT NULL,
	last_seen_at	TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
);
CREATE INDEX sessions_user_idx ON sessions (user_id);
CREATE INDEX sessions_expires_idx ON sessions (expires_at);	-- purging

-- An OAuth login in progress: written at /auth/login, consumed (deleted)
-- once at /auth/callback, so a replayed state finds nothing.
CREATE TABLE oauth_states (
	state		TEXT PRIMARY KEY,
	provider	TEXT NOT NULL,
	code_verifier	TEXT NOT NULL,		-- PKCE
	next_path	TEXT NOT NULL DEFAULT '/app',
	created_at	TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
) WITHOUT ROWID;
CREATE INDEX oauth_states_created_idx ON oauth_states (created_at);	-- purging

-- The built-in mock OAuth provider keeps its codes and access tokens here,
-- not in memory, because the authorize, token and userinfo calls may land
-- on different workers or hosts.  Codes are single use (deleted on use).
CREATE TABLE mock_oauth_codes (
	code		TEXT PRIMARY KEY,
	client_id	TEXT NOT NULL,
	redirect_uri	TEXT NOT NULL,
	code_challenge	TEXT NOT NULL,
	login		TEXT NOT NULL,
	display_name	TEXT NOT NULL,
	created_at	TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
) WITHOUT ROWID;

CREATE TABLE mock_oauth_tokens (
	access_token	TEXT PRIMARY KEY,
	login		TEXT NOT NULL,
	display_name	TEXT NOT NULL,
	created_at	TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
) WITHOUT ROWID;

-- Bearer tokens for the game-client plugin; only the SHA-256 is stored.
-- A revoked token keeps its row (revoked_at set) and stops authenticating.
CREATE TABLE plugin_tokens (
	id		INTEGER PRIMARY KEY AUTOINCREMENT,
	user_id		INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
	label		TEXT NOT NULL,
	token_hash	TEXT NOT NULL UNIQUE CHECK (length(token_hash) = 64),
	created_at	TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
	last_used_at	TEXT,
	revoked_at	TEXT
);
CREATE INDEX plugin_tokens_user_idx ON plugin_tokens (user_id);

---------------------------------------------------------------- characters

-- A game character, owned by one user.  The name is unique ignoring case:
-- the column collates NOCASE, so "name = ?" compares without case and uses
-- characters_name_key.  (docs/API.md limits names to ASCII letters, digits, space,
-- '-' and '_', which is all NOCASE folds.)  UNIQUE (user_id, id) is the
-- target of group_characters' foreign key (a shared character belongs to
-- the sharing member) and lists a user's characters.  skills_seq orders
-- the plugin's skill updates as containers.seq orders container updates.
CREATE TABLE characters (
	id		INTEGER PRIMARY KEY AUTOINCREMENT,
	user_id		INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
	name		TEXT NOT NULL COLLATE NOCASE
			CHECK (length(name) BETWEEN 1 AND 12),
	skills_seq	INTEGER NOT NULL DEFAULT 0,
	created_at	TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
	last_sync_at	TEXT,
	UNIQUE (user_id, id)
);
CREATE UNIQUE INDEX characters_name_key ON characters (name COLLATE NOCASE);

-- One row per synced container: the last applied seq.  A PUT whose seq is
-- not greater than this one changes nothing.
CREATE TABLE containers (
	character_id	INTEGER NOT NULL REFERENCES characters (id) ON DELETE CASCADE,
	container	TEXT NOT NULL CHECK (container IN ('inventory', 'equipment',
			    'bank', 'group_storage', 'seed_vault', 'rune_pouch',
			    'quiver', 'looting_bag')),
	seq		INTEGER NOT NULL,
	updated_at	TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
	PRIMARY KEY (character_id, container)
) WITHOUT ROWID;

-- The items of a container, duplicates already summed.  The primary key
-- leads with character_id, so the vault reads every item of a character
-- with one range scan.  held_since is set when the item appears and kept
-- while it stays (upserts update qty only): the vault's "since when".
CREATE TABLE container_items (
	character_id	INTEGER NOT NULL,
	container	TEXT NOT NULL,
	item_id		INTEGER NOT NULL CHECK (item_id >= 0),
	qty		INTEGER NOT NULL CHECK (qty > 0),
	held_since	TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
	PRIMARY KEY (character_id, container, item_id),
	FOREIGN KEY (character_id, container)
	    REFERENCES containers (character_id, container) ON DELETE CASCADE
) WITHOUT ROWID;

CREATE TABLE skills (
	character_id	INTEGER NOT NULL REFERENCES characters (id) ON DELETE CASCADE,
	skill		TEXT NOT NULL,
	xp		INTEGER NOT NULL CHECK (xp >= 0),
	updated_at	TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
	PRIMARY KEY (character_id, skill)
) WITHOUT ROWID;

-- Online presence from the plugin's heartbeat; one row per character,
-- overwritten by each heartbeat.  Online means a recent seen_at.
CREATE TABLE presence (
	character_id	INTEGER PRIMARY KEY REFERENCES characters (id) ON DELETE CASCADE,
	world		INTEGER,
	activity	TEXT,
	seen_at		TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
);

---------------------------------------------------------------- groups

-- owner_id duplicates the group_members row whose role is 'owner' (kept
-- in step by the store, in one transaction) so listing a user's owned
-- groups and reading the owner's plan need no join.  Deleting the owner's
-- account deletes the groups it still owns; the store first passes them to
-- an admin where docs/API.md says so.
CREATE TABLE groups (
	id		INTEGER PRIMARY KEY AUTOINCREMENT,
	name		TEXT NOT NULL,
	owner_id	INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
	join_code	TEXT NOT NULL UNIQUE,
	created_at	TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
);
CREATE INDEX groups_owner_idx ON groups (owner_id);

-- At most one owner per group (group_members_owner_key): a transfer must
-- demote the old owner before promoting the new one.
CREATE TABLE group_members (
	group_id	INTEGER NOT NULL REFERENCES groups (id) ON DELETE CASCADE,
	user_id		INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
	role		TEXT NOT NULL DEFAULT 'member'
			CHECK (role IN ('owner', 'admin', 'member')),
	joined_at	TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
	PRIMARY KEY (group_id, user_id)
) WITHOUT ROWID;
CREATE INDEX group_members_user_idx ON group_members (user_id);	-- my groups
CREATE UNIQUE INDEX group_members_owner_key ON group_members (group_id)
    WHERE role = 'owner';

-- Which of a member's characters are shared in a group.  The two composite
-- foreign keys state the invariant "a shared character belongs to a member
-- of the group": removing the member, or deleting the character, unshares
-- it.  The primary key (group_id, character_id) is the first step of the
-- vault: all characters of one group, read from the index alone.
CREATE TABLE group_characters (
	group_id	INTEGER NOT NULL,
	user_id		INTEGER NOT NULL,
	character_id	INTEGER NOT NULL,
	shared_at	TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
	PRIMARY KEY (group_id, character_id),
	FOREIGN KEY (group_id, user_id)
	    REFERENCES group_members (group_id, user_id) ON DELETE CASCADE,
	FOREIGN KEY (user_id, character_id)
	    REFERENCES characters (user_id, id) ON DELETE CASCADE
) WITHOUT ROWID;
-- A character's groups (a sync records activity in each); also the child
-- key index of the characters foreign key.
CREATE INDEX group_characters_character_idx ON group_characters (character_id);

-- The feed.  Pages go newest first by id (activity_group_idx): ids only
-- grow, so "id < cursor" pages never skip or repeat a row.  data is the
-- kind-specific JSON (items gained/lost with values, level-ups, plugin
-- events, roster changes).
CREATE TABLE activity (
	id		INTEGER PRIMARY KEY AUTOINCREMENT,
	group_id	INTEGER NOT NULL REFERENCES groups (id) ON DELETE CASCADE,
	character_id	INTEGER REFERENCES characters (id) ON DELETE CASCADE,
	user_id		INTEGER REFERENCES users (id) ON DELETE CASCADE,
	kind		TEXT NOT NULL CHECK (length(kind) > 0),
	data		TEXT NOT NULL DEFAULT '{}' CHECK (json_valid(data)),
	created_at	TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
);
CREATE INDEX activity_group_idx ON activity (group_id, id);
CREATE INDEX activity_character_idx ON activity (character_id);	-- FK cascade
CREATE INDEX activity_user_idx ON activity (user_id);		-- FK cascade
CREATE INDEX activity_created_idx ON activity (created_at);	-- retention

-- Daily total value of a group's vault (premium history), one row per
-- group and UTC day ('YYYY-MM-DD').
CREATE TABLE vault_daily (
	group_id	INTEGER NOT NULL REFERENCES groups (id) ON DELETE CASCADE,
	day		TEXT NOT NULL,
	total_value	INTEGER NOT NULL,
	item_count	INTEGER NOT NULL,
	PRIMARY KEY (group_id, day)
) WITHOUT ROWID;

---------------------------------------------------------------- catalog

-- Each catalog load is a snapshot; refresh adds one, rollback moves the
-- current mark.  catalog_snapshots_current_key allows at most one current
-- snapshot; the loader makes one current in the transaction that loads it.
-- A unique index is checked row by row, so switching takes two statements:
-- clear the old mark, then set the new one.
CREATE TABLE catalog_snapshots (
	id		INTEGER PRIMARY KEY AUTOINCREMENT,
	version		TEXT NOT NULL,
	source		TEXT,
	item_count	INTEGER NOT NULL DEFAULT 0,
	is_current	INTEGER NOT NULL DEFAULT 0 CHECK (is_current IN (0, 1)),
	created_at	TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
);
CREATE UNIQUE INDEX catalog_snapshots_current_key ON catalog_snapshots (is_current)
    WHERE is_current;

-- The vault joins container items to the current snapshot on this primary
-- key (snapshot_id, item_id): one lookup per distinct item.
CREATE TABLE catalog_items (
	snapshot_id	INTEGER NOT NULL REFERENCES catalog_snapshots (id) ON DELETE CASCADE,
	item_id		INTEGER NOT NULL CHECK (item_id >= 0),
	name		TEXT NOT NULL,
	members		INTEGER NOT NULL DEFAULT 0 CHECK (members IN (0, 1)),
	tradeable	INTEGER NOT NULL DEFAULT 0 CHECK (tradeable IN (0, 1)),
	stackable	INTEGER NOT NULL DEFAULT 0 CHECK (stackable IN (0, 1)),
	highalch	INTEGER NOT NULL DEFAULT 0,
	price		INTEGER NOT NULL DEFAULT 0,
	PRIMARY KEY (snapshot_id, item_id)
) WITHOUT ROWID;

---------------------------------------------------------------- webhooks

CREATE TABLE webhooks (
	id		INTEGER PRIMARY KEY AUTOINCREMENT,
	group_id	INTEGER NOT NULL REFERENCES groups (id) ON DELETE CASCADE,
	url		TEXT NOT NULL,
	format		TEXT NOT NULL DEFAULT 'json'
			CHECK (format IN ('json', 'discord')),
	secret		TEXT NOT NULL,		-- HMAC key of the signature
	enabled		INTEGER NOT NULL DEFAULT 1 CHECK (enabled IN (0, 1)),
	created_at	TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
);
CREATE INDEX webhooks_group_idx ON webhooks (group_id);

-- The outbox: one row per delivery, written in the transaction that
-- records the event, so an event is never lost nor sent without being
-- recorded.  A deliverer claims due rows (status 'pending', next_attempt_at
-- passed) and pushes next_attempt_at past its timeout before sending, so a
-- deliverer that dies leaves the row due again.  'delivered' is final:
-- a row acknowledged with a 2xx is never claimed again.
CREATE TABLE webhook_deliveries (
	id		INTEGER PRIMARY KEY AUTOINCREMENT,
	webhook_id	INTEGER NOT NULL REFERENCES webhooks (id) ON DELETE CASCADE,
	event		TEXT NOT NULL,		-- event kind, e.g. 'activity', 'test'
	payload		TEXT NOT NULL CHECK (json_valid(payload)),
	status		TEXT NOT NULL DEFAULT 'pending'
			CHECK (status IN ('pending', 'delivered', 'failed')),
	attempts	INTEGER NOT NULL DEFAULT 0 CHECK (attempts >= 0),
	next_attempt_at	TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
	last_status	INTEGER,		-- HTTP status of the last attempt
	last_error	TEXT,
	created_at	TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
	delivered_at	TEXT
);
CREATE INDEX webhook_deliveries_webhook_idx ON webhook_deliveries (webhook_id, id);
-- Only pending rows are indexed: the claim query reads due rows in
-- next_attempt_at order however many finished rows the table holds.
CREATE INDEX webhook_deliveries_due_idx ON webhook_deliveries (next_attempt_at)
    WHERE status = 'pending';

---------------------------------------------------------------- billing

-- One row per user who ever started a checkout.  users.plan is updated in
-- the same transaction as this row.
CREATE TABLE subscriptions (
	user_id		INTEGER PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
	plan		TEXT NOT NULL DEFAULT 'free'
			CHECK (plan IN ('free', 'premium')),
	status		TEXT NOT NULL DEFAULT 'none'
			CHECK (status IN ('none', 'active', 'past_due', 'canceled')),
	current_period_end TEXT,
	provider	TEXT NOT NULL DEFAULT 'mock',
	provider_customer_id TEXT,
	provider_subscription_id TEXT,
	created_at	TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
	updated_at	TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
);
-- Provider webhooks name the subscription; NULLs (no subscription yet) do
-- not collide.
CREATE UNIQUE INDEX subscriptions_provider_key
    ON subscriptions (provider, provider_subscription_id);

-- Every provider webhook event received.  The unique key makes each event
-- take effect once: the handler inserts with ON CONFLICT DO NOTHING
-- RETURNING id and applies the event only when a row came back, in the
-- same transaction.
CREATE TABLE billing_events (
	id		INTEGER PRIMARY KEY AUTOINCREMENT,
	provider	TEXT NOT NULL,
	event_id	TEXT NOT NULL,
	event_type	TEXT NOT NULL,
	payload		TEXT NOT NULL CHECK (json_valid(payload)),
	received_at	TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
	UNIQUE (provider, event_id)
);

-- Checkouts of the mock billing provider; id is the random string in
-- /billing/mock/checkout/{id}.
CREATE TABLE checkout_sessions (
	id		TEXT PRIMARY KEY,
	user_id		INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
	plan		TEXT NOT NULL CHECK (plan IN ('free', 'premium')),
	status		TEXT NOT NULL DEFAULT 'open'
			CHECK (status IN ('open', 'completed', 'expired', 'canceled')),
	created_at	TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
	expires_at	TEXT,
	completed_at	TEXT
) WITHOUT ROWID;
CREATE INDEX checkout_sessions_user_idx ON checkout_sessions (user_id);

---------------------------------------------------------------- operations

-- Feature flags; workers re-read them (cheaply: max(updated_at)) often
-- enough that a change is seen everywhere within 2 s.
CREATE TABLE feature_flags (
	key		TEXT PRIMARY KEY,
	enabled		INTEGER NOT NULL DEFAULT 1 CHECK (enabled IN (0, 1)),
	updated_at	TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
) WITHOUT ROWID;

INSERT INTO feature_flags (key, enabled) VALUES
	('webhooks', TRUE),
	('billing', TRUE),
	('events', TRUE),
	('history', TRUE),
	('export', TRUE);

-- Small facts about this installation (e.g. that the default catalog or
-- the demo data was loaded), so first-start work happens once.
CREATE TABLE app_meta (
	key		TEXT PRIMARY KEY,
	value		TEXT NOT NULL,
	updated_at	TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
) WITHOUT ROWID;
