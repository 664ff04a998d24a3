-- 006_vault_holders_order.sql (SQLite) -- kept holders in the answer's order.
--
-- vault_items.holders was kept "in no particular order", and every vault
-- page parsed and sorted it again.  From now on the store writes it as the
-- page answers it: largest qty first, then character and container
-- bytewise, compact (src/store/vault_keep.c, HOLDERS_OF), so a page copies
-- the text into its answer.  This rewrites the rows kept before, from
-- vault_holders, with the same SQL.  A subquery with ORDER BY under an
-- aggregate is never flattened, so group_concat() sees its rows in order.

UPDATE vault_items SET holders = (
	SELECT '[' || COALESCE(group_concat(j, ','), '') || ']'
	FROM (SELECT json_object('character', c.name, 'container', h.container,
		    'qty', h.qty) AS j
	      FROM vault_holders h JOIN characters c ON c.id = h.character_id
	      WHERE h.group_id = vault_items.group_id
		AND h.item_id = vault_items.item_id
		AND (vault_items.container = '' OR h.container = vault_items.container)
	      ORDER BY h.qty DESC, c.name COLLATE BINARY, h.container COLLATE BINARY));
