-- 006_vault_holders_order.sql (PostgreSQL) -- kept holders in the answer's
-- order.
--
-- vault_items.holders was kept "in no particular order" (and json_agg's
-- text has spaces), and every vault page parsed and sorted it again.  From
-- now on the store writes it as the page answers it: largest qty first,
-- then character and container bytewise, compact (src/store/vault_keep.c,
-- HOLDERS_OF), so a page copies the text into its answer.  This rewrites
-- the rows kept before, from vault_holders, with the same SQL.

UPDATE vault_items v SET holders = COALESCE((
	SELECT '[' || string_agg('{"character":' || to_json(c.name)::text ||
	    ',"container":' || to_json(h.container)::text || ',"qty":' || h.qty, '},'
	    ORDER BY h.qty DESC, c.name COLLATE "C", h.container COLLATE "C") || '}]'
	FROM vault_holders h JOIN characters c ON c.id = h.character_id
	WHERE h.group_id = v.group_id AND h.item_id = v.item_id
	  AND (v.container = '' OR h.container = v.container)), '[]');
