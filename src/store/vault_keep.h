/*
 * store/vault_keep.h -- keeping the vault: the writes that maintain
 * vault_holders, vault_items and vault_totals (docs/SCHEMA.md "The kept
 * vault"), and the verifier that recomputes them.
 *
 * Every function here runs inside the caller's transaction, the one that
 * changes what the vault sums, so a vault is never seen half-updated and
 * a failed write leaves it as it was.
 *
 * Locks (PostgreSQL; SQLite's BEGIN IMMEDIATE already serializes every
 * writer).  A group's vault has one lock, its groups row taken FOR NO KEY
 * UPDATE (store_vault_lock): every writer of a group's kept rows holds it,
 * so they never interleave and their row locks cannot deadlock.  The
 * order, after the sync's container rows (store/sync.h):
 *	user row -> character rows (by id) -> group rows (by id)
 * Adding a character's holdings to a group (store_vault_share) needs the
 * character's row locked first, so that no sync of it commits between
 * reading its items and the group seeing the share; a sync holds that row
 * from its first write on.  Taking them away (store_vault_unshare) needs
 * only the group: a sync that locked the group afterwards finds the
 * character no longer shared, because every change here is applied only
 * while group_characters still holds the pair, read after the lock.
 */
#ifndef COFFER_STORE_VAULT_KEEP_H
#define COFFER_STORE_VAULT_KEEP_H

#include <stdint.h>

#include "src/db/db.h"

/* One changed holding of a character: in container (an index of
 * store_containers_names), item_id went from qty - dq to qty (0: gone). */
struct vault_change {
	int container;
	int64_t item_id;
	int64_t dq;		/* non-zero */
	int64_t qty;
};

/* Lock group_id's vault (see above).  1 / 0 (no such group) / -1. */
int store_vault_lock(int64_t group_id);

/*
 * A sync changed character_id's holdings by v[0..n): lock every group the
 * character is shared in (by id) and apply the change to each.  The caller
 * holds the character's row.  0 or -1.
 */
int store_vault_character_changed(int64_t character_id, const struct vault_change *v,
				  int n);

/*
 * character_id was just shared in group_id (its group_characters row
 * inserted): add everything it holds.  The caller holds the character's
 * row and the group's lock.  0 or -1.
 */
int store_vault_share(int64_t group_id, int64_t character_id);

/*
 * character_id is about to be unshared from group_id (its
 * group_characters row still there): take away everything it holds.  The
 * caller holds the group's lock.  0 or -1.
 */
int store_vault_unshare(int64_t group_id, int64_t character_id);

/*
 * Take character_id (user_id 0), or every character of user_id
 * (character_id 0), out of every group it is shared in: lock those
 * characters and groups in the order above, take their holdings away and
 * delete the group_characters rows.  Before deleting the character or the
 * user.  0 or -1.
 */
int store_vault_detach(int64_t user_id, int64_t character_id);

/*
 * Reprice every kept row from the current catalog snapshot and retotal,
 * after the current mark moved (load or rollback), in the same
 * transaction.  Locks every group.  0 or -1.
 */
int store_vault_reprice(void);

/* Recompute group_id's kept rows from the container rows.  0 or -1. */
int store_vault_rebuild(int64_t group_id);

/* The rows of store_vault_verify's *differ, in SELECT order: group_id. */
enum vault_verify_col {
	VAULT_VERIFY_GROUP_ID,
};

/*
 * Recompute the vault of group_id (0: every group) from the container
 * rows and compare with the kept one: *differ gets the groups whose kept
 * rows differ (enum vault_verify_col, by id; free it) and *checked how
 * many groups were compared.  Read-only.  0 or -1.
 */
int store_vault_verify(int64_t group_id, struct db_result **differ, int64_t *checked);

#endif
