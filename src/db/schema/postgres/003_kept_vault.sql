-- 003_kept_vault.sql (PostgreSQL) -- the vault is kept, not recomputed.
--
-- The same tables as src/db/schema/sqlite/003_kept_vault.sql, whose
-- comments explain them.  Differences: sname collates "C", so its order
-- and its indexes are bytewise like SQLite's; total_value is numeric
-- (exact, any size); the backfill can say qty::numeric * price.
--
-- vault_holders and vault_items change on every sync that changes an item;
-- their indexed columns change with it, so no update is HOT and no
-- fillfactor is set.

CREATE TABLE vault_holders (
	group_id	bigint NOT NULL REFERENCES groups (id) ON DELETE CASCADE,
	item_id		integer NOT NULL,
	character_id	bigint NOT NULL,
	container	text NOT NULL,
	qty		bigint NOT NULL,
	PRIMARY KEY (group_id, item_id, character_id, container)
);

CREATE TABLE vault_items (
	group_id	bigint NOT NULL REFERENCES groups (id) ON DELETE CASCADE,
	container	text NOT NULL,		-- '' for the whole vault
	item_id		integer NOT NULL,
	qty		bigint NOT NULL,
	unit_price	bigint NOT NULL,
	value		bigint NOT NULL,	-- qty * unit_price, at most 2^63 - 1
	name		text,			-- NULL: the catalog lacks the id
	sname		text COLLATE "C" NOT NULL, -- lower(COALESCE(name, ''))
	holders		text NOT NULL,		-- JSON: its vault_holders rows
	PRIMARY KEY (group_id, container, item_id)
);
CREATE INDEX vault_items_value_desc ON vault_items (group_id, container, value DESC, item_id);

CREATE TABLE vault_totals (
	group_id	bigint NOT NULL REFERENCES groups (id) ON DELETE CASCADE,
	container	text NOT NULL,		-- '' for the whole vault
	item_count	bigint NOT NULL,
	total_value	numeric NOT NULL,
	PRIMARY KEY (group_id, container)
);

-- Backfill: everything below rebuilds the three tables from the container
-- rows of every shared character, priced from the current snapshot
-- (bench/gen_data.py runs it again after loading its data).

INSERT INTO vault_holders (group_id, item_id, character_id, container, qty)
SELECT gc.group_id, ci.item_id, ci.character_id, ci.container, ci.qty
FROM group_characters gc JOIN container_items ci ON ci.character_id = gc.character_id;

INSERT INTO vault_items (group_id, container, item_id, qty, unit_price, value, name, sname,
	holders)
SELECT s.group_id, s.container, s.item_id, s.qty, COALESCE(ca.price, 0),
	LEAST(s.qty::numeric * COALESCE(ca.price, 0), 9223372036854775807)::bigint,
	ca.name, lower(COALESCE(ca.name, '')), s.holders
FROM (SELECT h.group_id, h.container, h.item_id, SUM(h.qty)::bigint AS qty,
	json_agg(json_build_object('character', c.name, 'container', h.container,
	    'qty', h.qty))::text AS holders
	FROM vault_holders h JOIN characters c ON c.id = h.character_id
	GROUP BY h.group_id, h.container, h.item_id
      UNION ALL
      SELECT h.group_id, '', h.item_id, SUM(h.qty)::bigint,
	json_agg(json_build_object('character', c.name, 'container', h.container,
	    'qty', h.qty))::text
	FROM vault_holders h JOIN characters c ON c.id = h.character_id
	GROUP BY h.group_id, h.item_id) s
LEFT JOIN catalog_snapshots cs ON cs.is_current
LEFT JOIN catalog_items ca ON ca.snapshot_id = cs.id AND ca.item_id = s.item_id;

INSERT INTO vault_totals (group_id, container, item_count, total_value)
SELECT group_id, container, COUNT(*), SUM(qty::numeric * unit_price)
FROM vault_items GROUP BY group_id, container;

ANALYZE vault_holders;
ANALYZE vault_items;
ANALYZE vault_totals;
