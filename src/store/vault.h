/*
 * store/vault.h -- a group's vault: every item of every container of every
 * character its members share, summed per item id and priced from the
 * current catalog snapshot.
 *
 * The vault is kept, not recomputed (docs/SCHEMA.md "The kept vault"):
 * vault_items holds each group's summed items (per container and for the
 * whole vault), vault_holders who holds them, vault_totals the count and
 * exact total, all maintained by the writes themselves (vault_keep.h).  A
 * page is one range of one index of vault_items plus the holders of its
 * rows, so its cost does not grow with the vault; only a name filter (q)
 * reads every row of the group, to total what matches.  An item id
 * missing from the catalog has a NULL name and price 0, and still counts.
 *
 * Pages are keyset-paginated on (sort key, id): ties by id ascending
 * whatever the order, so the pair is unique and "rows after the last one
 * seen" visits every item exactly once even across pages.  The name key is
 * lower(COALESCE(name, '')) compared bytewise (PostgreSQL: COLLATE "C"),
 * the same on both engines; items without a name sort as "".
 *
 * Numbers (docs/API.md "Numbers"): qty fits 64 bits, but a value qty *
 * unit_price and any total may not.  A page's value column is clamped to
 * 2^63 - 1 (it is a sort key); the answer's value comes from
 * store_vault_value(), which also says whether it was clamped.  Total
 * columns hold the exact sum, which may be wider than 64 bits: read them
 * with store_vault_total(), never db_int().
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
 * The totals row (store_vault_totals), in SELECT order:
 *	item_count, total_value, catalog_version, last_sync_at
 * catalog_version is NULL when no catalog is loaded, last_sync_at the
 * latest of the shared characters (NULL when none synced).  total_value
 * is exact: store_vault_total().
 */
enum vault_totals_col {
	VAULT_TOTALS_ITEM_COUNT,
	VAULT_TOTALS_TOTAL_VALUE,
	VAULT_TOTALS_CATALOG_VERSION,
	VAULT_TOTALS_LAST_SYNC_AT,
};

/*
 * Totals over every item matching the filters (container, q: NULL for
 * none), one row (enum vault_totals_col).  0 or -1.
 */
int store_vault_totals(int64_t group_id, const char *container, const char *q,
		       struct db_result **row);

/*
 * The rows of a page (store_vault_page), in SELECT order (PAGE_SQL in
 * vault.c; keep the two in step):
 *	id, name, qty, unit_price, value, sort_name, holders,
 *	item_count, total_value, catalog_version
 * holders is a JSON array text of {"character", "container", "qty"} within
 * the container filter, exactly as the answer carries it: compact, largest
 * qty first, then character and container bytewise (vault_keep.c), so the
 * caller copies it as it is.
 * sort_name is the name key a cursor carries.  The last three are the same
 * on every row: item_count and total_value cover every matching item, not
 * just the page.  value is clamped to 2^63 - 1 (the sort key: answer
 * store_vault_value() of qty and unit_price); total_value is exact
 * (store_vault_total()).
 */
enum vault_page_col {
	VAULT_PAGE_ID,
	VAULT_PAGE_NAME,
	VAULT_PAGE_QTY,
	VAULT_PAGE_UNIT_PRICE,
	VAULT_PAGE_VALUE,
	VAULT_PAGE_SORT_NAME,
	VAULT_PAGE_HOLDERS,
	VAULT_PAGE_ITEM_COUNT,
	VAULT_PAGE_TOTAL_VALUE,
	VAULT_PAGE_CATALOG_VERSION,
};

/*
 * One page in the requested order, up to vq->limit rows (enum
 * vault_page_col).  An empty page has no row to carry the totals: ask
 * store_vault_totals() then.  0 or -1.
 */
int store_vault_page(const struct vault_query *vq, struct db_result **rows);

/*
 * Who holds an item (store_vault_item's holders), in SELECT order
 * (store_vault_item's statement):
 *	character, user_id, container, qty, held_since
 */
enum vault_holder_col {
	VAULT_HOLDER_CHARACTER,
	VAULT_HOLDER_USER_ID,
	VAULT_HOLDER_CONTAINER,
	VAULT_HOLDER_QTY,
	VAULT_HOLDER_HELD_SINCE,
};

/*
 * The item itself (store_vault_item's item), in SELECT order:
 *	name, unit_price, catalog_version
 * name NULL and price 0 for an id the catalog lacks.
 */
enum vault_item_col {
	VAULT_ITEM_NAME,
	VAULT_ITEM_UNIT_PRICE,
	VAULT_ITEM_CATALOG_VERSION,
};

/*
 * Who holds item_id in the group: rows of enum vault_holder_col, largest
 * holding first; *item gets one row of enum vault_item_col.
 * 0 or -1 (then nothing to free).
 */
int store_vault_item(int64_t group_id, int64_t item_id, struct db_result **holders,
		     struct db_result **item);

/*
 * Totals by member (store_vault_summary's members), in SELECT order:
 *	user_id, display_name, item_count, total_value
 * total_value is exact (store_vault_total()).
 */
enum vault_member_col {
	VAULT_MEMBER_USER_ID,
	VAULT_MEMBER_DISPLAY_NAME,
	VAULT_MEMBER_ITEM_COUNT,
	VAULT_MEMBER_TOTAL_VALUE,
};

/*
 * Totals by container (store_vault_summary's containers), in SELECT order:
 *	container, item_count, total_value
 * total_value is exact (store_vault_total()).
 */
enum vault_container_col {
	VAULT_CONTAINER_NAME,
	VAULT_CONTAINER_ITEM_COUNT,
	VAULT_CONTAINER_TOTAL_VALUE,
};

/*
 * Totals by member (every member, also those sharing nothing; enum
 * vault_member_col) and by container (enum vault_container_col), each
 * largest value first (as answered: clamped, so totals past 2^63 - 1 tie
 * and go by user id or container).  item_count counts distinct item ids.
 * 0 or -1 (then nothing to free).
 */
int store_vault_summary(int64_t group_id, struct db_result **members,
			struct db_result **containers);

/*
 * The value qty * unit_price as answered into *value: exact up to 2^63 - 1,
 * else 2^63 - 1.  1 when it was clamped (the object then says
 * "saturated": true), else 0.
 */
int store_vault_value(int64_t qty, int64_t unit_price, int64_t *value);

/*
 * An exact total column (total_value of any row above) as answered into
 * *total, clamped like store_vault_value(); 1 when it was clamped, else 0.
 */
int store_vault_total(const struct db_result *rows, int row, int col, int64_t *total);

#endif
