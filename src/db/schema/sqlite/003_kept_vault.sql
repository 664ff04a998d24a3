-- 003_kept_vault.sql (SQLite) -- the vault is kept, not recomputed.
--
-- A vault page used to sum every item row the group's members hold, on
-- every read.  These three tables keep the result instead; every write
-- that changes a group's vault changes them in the same transaction
-- (src/store/vault_keep.c), and a verifier recomputes them from
-- container_items and compares (store_vault_verify).  docs/SCHEMA.md "The
-- kept vault" explains what a page reads.
--
--  * vault_holders: one row per (group, item, character, container), the
--    character's quantity: a copy of container_items for each group the
--    character is shared in, keyed by item, from which each changed item's
--    holders (below) are rebuilt.
--  * vault_items: per group and item, the summed qty, priced from the
--    current catalog snapshot (unit_price, name; value = qty * unit_price
--    clamped to 2^63 - 1, the sort key; sname = lower(COALESCE(name, '')),
--    the name key; holders, its vault_holders rows as the JSON array the
--    page answers, {"character", "container", "qty"} in no particular
--    order).  container '' is the whole vault; each real container has its
--    own rows too, for the container filter.  The default order (value
--    descending, ties by item_id ascending) has its own index, so the
--    default page is one index range read; the primary key serves the id
--    order; the other orders keep the top rows of a group's container
--    (a top-N sort of its items, never of its holdings).  Every index is
--    written by every sync that changes an item, twice (the container's
--    row and the whole vault's), so there are no more of them.
--  * vault_totals: per group and container ('' again for the whole vault),
--    the item count and the exact total value.  total_value has no type
--    affinity: an INTEGER while it fits 64 bits, else its decimal TEXT,
--    like the sum_mul() function the store adds them with (dec_add()).
--
-- No foreign key to characters or container_items: the store maintains
-- these rows itself.  A deleted group takes its rows along.

CREATE TABLE vault_holders (
	group_id	INTEGER NOT NULL REFERENCES groups (id) ON DELETE CASCADE,
	item_id		INTEGER NOT NULL,
	character_id	INTEGER NOT NULL,
	container	TEXT NOT NULL,
	qty		INTEGER NOT NULL,
	PRIMARY KEY (group_id, item_id, character_id, container)
) WITHOUT ROWID;

CREATE TABLE vault_items (
	group_id	INTEGER NOT NULL REFERENCES groups (id) ON DELETE CASCADE,
	container	TEXT NOT NULL,		-- '' for the whole vault
	item_id		INTEGER NOT NULL,
	qty		INTEGER NOT NULL,
	unit_price	INTEGER NOT NULL,
	value		INTEGER NOT NULL,	-- qty * unit_price, at most 2^63 - 1
	name		TEXT,			-- NULL: the catalog lacks the id
	sname		TEXT NOT NULL,		-- lower(COALESCE(name, ''))
	holders		TEXT NOT NULL,		-- JSON: its vault_holders rows
	PRIMARY KEY (group_id, container, item_id)
) WITHOUT ROWID;
CREATE INDEX vault_items_value_desc ON vault_items (group_id, container, value DESC, item_id);

CREATE TABLE vault_totals (
	group_id	INTEGER NOT NULL REFERENCES groups (id) ON DELETE CASCADE,
	container	TEXT NOT NULL,		-- '' for the whole vault
	item_count	INTEGER NOT NULL,
	total_value	NOT NULL,		-- INTEGER, or decimal TEXT past 2^63 - 1
	PRIMARY KEY (group_id, container)
) WITHOUT ROWID;

-- Backfill: everything below rebuilds the three tables from the container
-- rows of every shared character, priced from the current snapshot
-- (bench/gen_data.py runs it again after loading its data).  The migration
-- runner's connection has none of the engine's SQL functions, so the exact
-- arithmetic is spelled out: a value is clamped by comparing qty with
-- 2^63 - 1 / price first, and a total is summed from each holding's value
-- (below 2^62: both factors are below 2^31) split into its high and low 31
-- bits, then put together in base 10^9 when it passes 64 bits.

INSERT INTO vault_holders (group_id, item_id, character_id, container, qty)
SELECT gc.group_id, ci.item_id, ci.character_id, ci.container, ci.qty
FROM group_characters gc JOIN container_items ci ON ci.character_id = gc.character_id;

INSERT INTO vault_items (group_id, container, item_id, qty, unit_price, value, name, sname,
	holders)
SELECT s.group_id, s.container, s.item_id, s.qty, COALESCE(ca.price, 0),
	CASE WHEN COALESCE(ca.price, 0) > 0 AND s.qty > 9223372036854775807 / ca.price
	    THEN 9223372036854775807 ELSE s.qty * COALESCE(ca.price, 0) END,
	ca.name, lower(COALESCE(ca.name, '')), s.holders
FROM (SELECT h.group_id AS group_id, h.container AS container, h.item_id AS item_id,
	SUM(h.qty) AS qty, json_group_array(json_object('character', c.name,
	    'container', h.container, 'qty', h.qty)) AS holders
	FROM vault_holders h JOIN characters c ON c.id = h.character_id
	GROUP BY h.group_id, h.container, h.item_id
      UNION ALL
      SELECT h.group_id, '', h.item_id, SUM(h.qty), json_group_array(json_object(
	    'character', c.name, 'container', h.container, 'qty', h.qty))
	FROM vault_holders h JOIN characters c ON c.id = h.character_id
	GROUP BY h.group_id, h.item_id) s
LEFT JOIN catalog_snapshots cs ON cs.is_current
LEFT JOIN catalog_items ca ON ca.snapshot_id = cs.id AND ca.item_id = s.item_id;

INSERT INTO vault_totals (group_id, container, item_count, total_value)
SELECT group_id, container, n,
	CASE WHEN hi <= (9223372036854775807 - lo) / 2147483648 THEN hi * 2147483648 + lo
	ELSE CAST((hi / 1000000000) * 2147483648 +
	    ((hi % 1000000000) * 2147483648 + lo) / 1000000000 AS TEXT) ||
	    substr('00000000' || (((hi % 1000000000) * 2147483648 + lo) % 1000000000), -9)
	END
FROM (SELECT h.group_id AS group_id,
	CASE WHEN k.whole THEN '' ELSE h.container END AS container,
	COUNT(DISTINCT h.item_id) AS n,
	SUM((h.qty * COALESCE(ca.price, 0)) >> 31) AS hi,
	SUM((h.qty * COALESCE(ca.price, 0)) & 2147483647) AS lo
      FROM vault_holders h
      CROSS JOIN (SELECT 0 AS whole UNION ALL SELECT 1) k
      LEFT JOIN catalog_snapshots cs ON cs.is_current
      LEFT JOIN catalog_items ca ON ca.snapshot_id = cs.id AND ca.item_id = h.item_id
      GROUP BY 1, 2) t;
