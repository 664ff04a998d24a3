/*
 * store/vault_history.h -- a group's vault total, one row per UTC day.
 *
 * vault_daily holds, per group and day of the store's clock (store.h),
 * the whole vault's total value and item count as they stood after the
 * day's last change.  The writers that change the kept totals call in
 * the same transaction: a sync (store_vault_history_character, for the
 * groups the character is shared in) and a catalog switch
 * (store_vault_history_catalog, for every group).  Each is one
 * INSERT ... SELECT from vault_totals' whole-vault rows with
 * ON CONFLICT (group_id, day) DO UPDATE ... WHERE the numbers differ: a
 * primary-key probe per group, and no write at all when a sync left the
 * total as it was.
 *
 * Rows are kept for every group whatever its plan, so history is there
 * the day a group's owner upgrades, and a downgrade only stops serving it
 * (store_vault_history_allowed).  Rows older than the longest history any
 * plan serves are deleted in small batches by store_vault_history_purge(),
 * from the activity retention pass (store/retention.h).  A total past 2^63 - 1 is stored as
 * 2^63 - 1 (the route says "saturated").
 */
#ifndef COFFER_STORE_VAULT_HISTORY_H
#define COFFER_STORE_VAULT_HISTORY_H

#include <stdint.h>

#include "src/db/db.h"

#define STORE_VAULT_HISTORY_MAX_DAYS	365

/* Rows of store_vault_history_list, oldest first, in SELECT order:
 *	day ('YYYY-MM-DD'), total_value, item_count */
enum vault_history_col {
	VAULT_HISTORY_DAY,
	VAULT_HISTORY_TOTAL_VALUE,
	VAULT_HISTORY_ITEM_COUNT,
};

/* In the sync's transaction: today's row of every group character_id is
 * shared in.  0 or -1. */
int store_vault_history_character(int64_t character_id);

/* In the catalog switch's transaction, after the reprice: today's row of
 * every group.  0 or -1. */
int store_vault_history_catalog(void);

/* 1 if group_id's owner's plan serves history and export, 0 if not (or
 * no such group), -1. */
int store_vault_history_allowed(int64_t group_id);

/*
 * The last days days (1..STORE_VAULT_HISTORY_MAX_DAYS, today included)
 * of group_id (enum vault_history_col), when its owner's plan serves
 * history: 1 and *rows, 0 when it does not, -1.
 */
int store_vault_history_list(int64_t group_id, int days, struct db_result **rows);

/* Delete up to limit rows older than the last keep_days days (today
 * included).  The number deleted, or -1. */
int store_vault_history_purge(int keep_days, int limit);

#endif
