-- 005_compat.sql (SQLite) -- the Group Ironmen Tracker compatibility API.
--
-- docs/SCHEMA.md "Group Ironmen Tracker compatibility" explains the model;
-- in short:
--  * compat_groups: a group created through POST /api/create-group.  It
--    is a coffer group (group_id) owned, until an account claims it, by a
--    user of its own (owner_user_id, provider 'compat') who also owns the
--    members' characters.  Names are not unique: a group is found by name
--    and token together; only the SHA-256 (hex) of the token is kept.
--  * compat_members: one per member name (1-16 characters, unique in its
--    group ignoring case), each a coffer character (character_id) whose
--    own name is '#' and its id, since coffer names are at most 12
--    characters and unique across the installation.  last_updated is the
--    newest change of any of its fields.
--  * compat_fields: one row per member and field the plugin sent (stats,
--    bank, ...): the value as JSON text and the time it last changed, in
--    microseconds ('YYYY-MM-DDTHH:MM:SS.uuuuuuZ', fixed width, so text
--    order is time order on both engines).  A row per field, not one
--    document per member, so a plugin's update (a few small fields, once
--    a second) rewrites only those, and a site's poll (what changed since
--    from_time) reads only what changed.
--  * the 'potion_storage' container kind.  SQLite cannot alter a CHECK, so
--    containers is rebuilt the documented way (the runner has foreign keys
--    off and checks them before the commit), and container_items, its only
--    child, with it: both are copied aside, dropped and created again, so
--    every row, held_since and key stays as it was and the child's foreign
--    key names the new parent.

CREATE TABLE compat_groups (
	id		INTEGER PRIMARY KEY AUTOINCREMENT,
	group_id	INTEGER NOT NULL UNIQUE REFERENCES groups (id) ON DELETE CASCADE,
	owner_user_id	INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
	name		TEXT NOT NULL CHECK (length(name) BETWEEN 1 AND 16),
	token_hash	TEXT NOT NULL CHECK (length(token_hash) = 64),
	claimed_by	INTEGER REFERENCES users (id) ON DELETE SET NULL,
	created_at	TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
);
CREATE INDEX compat_groups_name_idx ON compat_groups (name);
CREATE INDEX compat_groups_owner_idx ON compat_groups (owner_user_id);
CREATE INDEX compat_groups_claimed_idx ON compat_groups (claimed_by);

CREATE TABLE compat_members (
	id		INTEGER PRIMARY KEY AUTOINCREMENT,
	compat_group_id	INTEGER NOT NULL REFERENCES compat_groups (id) ON DELETE CASCADE,
	character_id	INTEGER NOT NULL UNIQUE REFERENCES characters (id) ON DELETE CASCADE,
	name		TEXT NOT NULL COLLATE NOCASE CHECK (length(name) BETWEEN 1 AND 16),
	last_updated	TEXT,			-- the newest of its fields' updated_at
	UNIQUE (compat_group_id, name)
);

CREATE TABLE compat_fields (
	member_id	INTEGER NOT NULL REFERENCES compat_members (id) ON DELETE CASCADE,
	field		TEXT NOT NULL,
	value		TEXT NOT NULL,		-- JSON, as the store wrote it
	updated_at	TEXT NOT NULL,		-- microseconds, fixed width
	PRIMARY KEY (member_id, field)
) WITHOUT ROWID;

CREATE TABLE compat_copy_containers AS SELECT * FROM containers;
CREATE TABLE compat_copy_items AS SELECT * FROM container_items;
DROP TABLE container_items;
DROP TABLE containers;

CREATE TABLE containers (
	character_id	INTEGER NOT NULL REFERENCES characters (id) ON DELETE CASCADE,
	container	TEXT NOT NULL CHECK (container IN ('inventory', 'equipment',
			    'bank', 'group_storage', 'seed_vault', 'rune_pouch',
			    'quiver', 'looting_bag', 'potion_storage')),
	seq		INTEGER NOT NULL,
	updated_at	TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
	PRIMARY KEY (character_id, container)
) WITHOUT ROWID;

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

INSERT INTO containers (character_id, container, seq, updated_at)
SELECT character_id, container, seq, updated_at FROM compat_copy_containers;
INSERT INTO container_items (character_id, container, item_id, qty, held_since)
SELECT character_id, container, item_id, qty, held_since FROM compat_copy_items;
DROP TABLE compat_copy_items;
DROP TABLE compat_copy_containers;
