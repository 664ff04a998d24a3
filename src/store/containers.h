/*
 * store/containers.h -- a character's synced containers and their items.
 *
 * A container's state is a set of (item id, qty) with the ids unique: the
 * sync body may repeat an id (unstackable items) and store_containers_sum
 * folds the repeats before anything is stored.  Each container row keeps
 * the last applied seq; an update whose seq is not greater than it changes
 * nothing, so a retried or reordered request is harmless.
 *
 * store_containers_put and store_containers_patch must run inside a
 * transaction, which store_sync_* (sync.h) opens, so a batch of several
 * containers and the skills commits as one.  Each one:
 *  0. reads the stored seq without a lock: an update whose seq is not
 *     newer is answered from it alone, and writes nothing;
 *  1. locks the container row, creating it with seq -1 when it is new
 *     (INSERT ... ON CONFLICT DO NOTHING, then on PostgreSQL SELECT ...
 *     FOR UPDATE; SQLite's BEGIN IMMEDIATE already serializes writers), so
 *     racing updates of one container run one after the other and never
 *     collide on a duplicate key.  Every accepted seq is >= 0, so a new row
 *     is always overwritten by the update that created it, and a rolled
 *     back transaction takes the row with it;
 *  2. reads the stored items, diffs them against the new state and writes
 *     only the difference (one upsert and one delete statement, each
 *     taking the rows as a JSON array, so a 2,000-item bank costs a few
 *     round trips, not thousands);
 *  3. updates seq and updated_at, the character's last_sync_at, the kept
 *     vault of each group the character is shared in (store/vault_keep.h),
 *     and records an "items" activity (gained and lost, priced from the
 *     current catalog snapshot) in each of those groups.  An update that
 *     changes no item writes only the seq, updated_at and last_sync_at
 *     (the seq must move, or an older update arriving later would apply).
 * Lock order is container rows (callers go in store_containers_names
 * order), then the character row, the same for every writer; sync.h
 * states it for all callers.  Since an update touches the character row
 * (step 3), a caller updating several containers locks them all first
 * (store_containers_lock), so it never waits for a container while
 * holding the character row.
 */
#ifndef COFFER_STORE_CONTAINERS_H
#define COFFER_STORE_CONTAINERS_H

#include <stdint.h>

#include "src/db/db.h"
#include "src/store/activity.h"

#define STORE_QTY_MAX		2147483647	/* one stack, and a summed id */
#define STORE_ITEM_ID_MAX	2147483647

#define STORE_CONTAINERS_N	9

/* The STORE_CONTAINERS_N containers of docs/API.md "Resources", in the lock order; then NULL. */
extern const char *const store_containers_names[];

/* The index of name in store_containers_names, or -1 if unknown. */
int store_containers_index(const char *name);

struct sync_item {
	int64_t id;
	int64_t qty;		/* a quantity, or a delta for PATCH */
};

struct container_result {
	int applied;		/* 0: the seq was not newer; nothing changed */
	int64_t seq;		/* the stored seq afterwards */
	int item_count;		/* distinct ids afterwards */
	int added, removed, changed;
	struct store_activity_ids activity;	/* the "items" entries recorded */
};

/*
 * Sort items by id and sum the repeats, in place.  Returns the number of
 * distinct ids, or -1 when a sum exceeds STORE_QTY_MAX (with
 * allow_negative, for deltas, the sums may be anything in int64 range and
 * zero sums are kept).
 */
int store_containers_sum(struct sync_item *items, int n, int allow_negative);

/*
 * Lock the container row (step 1 above), creating it with seq -1 when it
 * is new; updating it later in the same transaction takes the lock again
 * for free.  Inside a transaction.  0 or -1.
 */
int store_containers_lock(int64_t character_id, const char *container);

/*
 * Replace the container's state with items (summed, see above) if seq is
 * newer than the stored one.  character_id is the caller's, already
 * checked.  Inside a transaction.  0 with *out set, or -1.
 */
int store_containers_put(int64_t character_id, const char *container, int64_t seq,
			 const struct sync_item *items, int n, struct container_result *out);

enum store_patch {
	STORE_PATCH_OK = 1,		/* *out set (applied or not) */
	STORE_PATCH_UNKNOWN = 0,	/* never synced: nothing to patch */
	STORE_PATCH_OVERFLOW = 2,	/* a quantity would exceed STORE_QTY_MAX */
	STORE_PATCH_TOO_MANY = 3,	/* more than max_items distinct ids */
};

/*
 * Apply deltas (summed by id, see store_containers_sum) to the stored state
 * if seq is newer: a quantity reaching 0 or less removes the item.  Returns
 * an enum store_patch, or -1.  Inside a transaction; anything but
 * STORE_PATCH_OK leaves it to be rolled back by the caller.
 */
int store_containers_patch(int64_t character_id, const char *container, int64_t seq,
			   const struct sync_item *deltas, int n, int max_items,
			   struct container_result *out);

/*
 * Rows of store_containers_get, in the order of its SELECT:
 *	seq, updated_at, item_id, qty
 * seq and updated_at are the container's, repeated on every row.
 */
enum container_col {
	CONTAINER_SEQ,
	CONTAINER_UPDATED_AT,
	CONTAINER_ITEM_ID,
	CONTAINER_QTY,
};

/*
 * The stored container: rows (enum container_col), ordered by item id, one
 * row with NULL item columns when it is empty.  1 / 0 (never synced) / -1.
 */
int store_containers_get(int64_t character_id, const char *container, struct db_result **rows);

/*
 * Rows of store_containers_catalog (the catalog item of docs/API.md
 * "Plugin sync"), in the order of its SELECT:
 *	id, name, members, tradeable, stackable, highalch, price
 */
enum catalog_item_col {
	CATALOG_ITEM_ID,
	CATALOG_ITEM_NAME,
	CATALOG_ITEM_MEMBERS,
	CATALOG_ITEM_TRADEABLE,
	CATALOG_ITEM_STACKABLE,
	CATALOG_ITEM_HIGHALCH,
	CATALOG_ITEM_PRICE,
};

/*
 * The current catalog's items for the sync API: rows (enum
 * catalog_item_col) of snapshot_id, by id.  0 or -1.
 */
int store_containers_catalog(int64_t snapshot_id, struct db_result **rows);

#endif
