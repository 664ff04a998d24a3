/*
 * store/sync.h -- one plugin sync request, one transaction.
 *
 * Every write of the sync API (docs/API.md "Plugin sync") is one call
 * here, and each call is one transaction: a container update, a batch of
 * containers and skills, or a list of plugin events commits whole or not
 * at all, so a rejected or failed request leaves nothing behind.  The
 * caller has validated its input and resolved the character (the
 * caller's own); what is left to decide needs the stored rows and is
 * decided here.
 *
 * Lock order.  Every writer of a character's sync state takes its locks
 * in one order, so two concurrent requests for one character queue
 * instead of deadlocking:
 *  1. container rows, in store_containers_names order, whatever order the
 *     body listed them in;
 *  2. the character row (each container update touches last_sync_at;
 *     a skills update locks it for skills_seq), so skills come last;
 *  3. the vault of each group the character is shared in
 *     (store/vault_keep.h), when a container's items changed.
 * A batch locks all of its containers before it updates any: updating
 * one takes the character row, and a batch that then waited for its next
 * container would hold that row against a single update of the same
 * container, which waits for the character row in turn (a deadlock that
 * PostgreSQL breaks by failing one of the two).
 */
#ifndef COFFER_STORE_SYNC_H
#define COFFER_STORE_SYNC_H

#include <stdint.h>

#include <jansson.h>

#include "src/store/containers.h"
#include "src/store/skills.h"

/* Outcomes of store_sync_container besides -1 (a database error). */
enum store_sync_container {
	STORE_SYNC_OK = 0,		/* *out set (applied or not) */
	STORE_SYNC_NEVER_SYNCED,	/* a delta for a container never synced */
	STORE_SYNC_OVERFLOW,		/* a quantity would exceed STORE_QTY_MAX */
	STORE_SYNC_TOO_MANY,		/* the container would hold more than max_items */
};

/*
 * Replace (delta 0: PUT) or patch (delta 1: PATCH) container of
 * character_id with items (summed by id, see store_containers_sum), if
 * seq is newer than the stored one; max_items bounds the patched state.
 * Anything but STORE_SYNC_OK rolls back, so a refused patch does not leave
 * behind the container row it locked.  Returns an enum store_sync_container,
 * or -1.  After STORE_SYNC_OK the caller frees out->activity.
 */
int store_sync_container(int64_t character_id, const char *container, int64_t seq,
			 const struct sync_item *items, int n, int delta, int max_items,
			 struct container_result *out);

/*
 * Record n plugin events of character_id: kinds[i] with datas[i] (a JSON
 * object, not stolen; NULL for {}), in each group the character is shared
 * in.  All or none.  *recorded gets the rows written, *ids (starting
 * zeroed; the caller frees it) their groups and ids.  0 or -1.
 */
int store_sync_events(int64_t character_id, const char *const *kinds, json_t *const *datas,
		      int n, int *recorded, struct store_activity_ids *ids);

/* One container of a batch: full state, summed by id (see store_containers_put). */
struct store_sync_state {
	int present;			/* 0: the batch leaves this container alone */
	int64_t seq;
	struct sync_item *items;	/* the caller's */
	int n;
};

/* A batch: containers indexed like store_containers_names, then skills. */
struct store_sync_batch {
	int64_t character_id;
	struct store_sync_state containers[STORE_CONTAINERS_N];
	int has_skills;
	int64_t skills_seq;
	struct skill_xp *skills;	/* the caller's; names unique and valid */
	int nskills;
};

/*
 * Apply a batch in the lock order above, in one transaction.  res[i] is
 * set for each present container i, *skills_res when has_skills.  0 or -1
 * (then nothing was written).  After 0 the caller frees each res[i].activity
 * and skills_res->activity (all zeroed when not set).
 */
int store_sync_batch(const struct store_sync_batch *b,
		     struct container_result res[STORE_CONTAINERS_N],
		     struct skills_result *skills_res);

/*
 * The body of store_sync_batch, inside the caller's transaction, for a
 * writer that commits a batch together with rows of its own (the Group
 * Ironmen Tracker API, src/store/compat.c).  res and *skills_res start
 * zeroed; on -1 the caller rolls back and frees their activity.
 */
int store_sync_batch_in_tx(const struct store_sync_batch *b, struct container_result *res,
			   struct skills_result *skills_res);

#endif
