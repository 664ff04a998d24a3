/*
 * store/vault.h -- a group's vault: every item of every container of every
 * character its members share, summed per item id and priced from the
 * current catalog snapshot.
 *
 * The vault is computed by the database on each read (GROUP BY over
 * group_characters -> container_items -> catalog_items, all primary-key
 * lookups; see docs/SCHEMA.md "Verified plans"), never cached, so it is
 * always exactly what the last syncs stored.  An item id missing from the
 * catalog has a NULL name and price 0, and still counts.
 *
 * Pages are keyset-paginated on (sort key, id): ties by id ascending
 * whatever the order, so the pair is unique and "rows after the last one
 * seen" visits every item exactly once even across pages.  The name key is
 * lower(COALESCE(name, '')) compared bytewise (PostgreSQL: COLLATE "C"),
 * the same on both engines; items without a name sort as "".
 */
#ifndef COFFER_STORE_VAULT_H
#define COFFER_STORE_VAULT_H

#include <stdint.h>

#include "src/db/db.h"

#define STORE_VAULT_Q_MAX	100	/* longest q filter, in bytes */

enum vault_sort { VAULT_SORT_VALUE, VAULT_SORT_QTY, VAULT_SORT_NAME, VAULT_SORT_ID };

struct vault_query {
	int64_t group_id;
	const char *container;		/* NULL: every container */
	const char *q;			/* NULL: every item; else a name substring */
	enum vault_sort sort;
	int desc;
	int limit;			/* rows to return */
	int has_cursor;			/* resume after (after_key, after_id) */
	int64_t after_num;		/* the key for value, qty and id */
	const char *after_name;		/* the key for name */
	int64_t after_id;
};

/*
 * Totals over every item matching the filters (container, q: NULL for
 * none), one row: item_count, total_value, catalog_version (NULL when no
 * catalog is loaded), last_sync_at (the latest of the shared characters;
 * NULL when none synced).  0 or -1.
 */
int store_vault_totals(int64_t group_id, const char *container, const char *q,
		       struct db_result **row);

/*
 * One page in the requested order, up to vq->limit rows:
 *	id, name, qty, unit_price, value, sort_name, holders,
 *	item_count, total_value, catalog_version
 * holders is a JSON array text of {"character", "container", "qty"} (in no
 * particular order; the caller sorts), within the container filter.
 * sort_name is the name key a cursor carries.  The last three are the same
 * on every row: item_count and total_value cover every matching item, not
 * just the page.  An empty page has no row to carry them: ask
 * store_vault_totals() then.  0 or -1.
 */
int store_vault_page(const struct vault_query *vq, struct db_result **rows);

/*
 * Who holds item_id in the group: rows of
 *	character, user_id, container, qty, held_since
 * largest holding first; *item gets one row: name, unit_price,
 * catalog_version (name NULL and price 0 for an id the catalog lacks).
 * 0 or -1 (then nothing to free).
 */
int store_vault_item(int64_t group_id, int64_t item_id, struct db_result **holders,
		     struct db_result **item);

/*
 * Totals by member (every member, also those sharing nothing):
 *	user_id, display_name, item_count, total_value
 * and by container:
 *	container, item_count, total_value
 * each largest value first.  item_count counts distinct item ids.
 * 0 or -1 (then nothing to free).
 */
int store_vault_summary(int64_t group_id, struct db_result **members,
			struct db_result **containers);

#endif
