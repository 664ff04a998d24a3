/*
 * store/activity.h -- the activity feed of a group.
 *
 * An event about a character (items gained or lost, a level-up, a plugin
 * event) is recorded once per group the character is shared in, with one
 * INSERT ... SELECT over group_characters, inside the caller's
 * transaction: an applied sync and its activity commit or roll back
 * together.  A character shared in no group records nothing.  The same
 * transaction queues a webhook delivery of each row for every enabled
 * webhook of its group (store/webhooks.h, the outbox), so what is recorded
 * is delivered and nothing else is.
 *
 * Pages go newest first by id (activity_group_idx): ids only grow, so the
 * keyset "id < cursor" never skips nor repeats a row while new rows arrive.
 */
#ifndef COFFER_STORE_ACTIVITY_H
#define COFFER_STORE_ACTIVITY_H

#include <stdint.h>

#include <jansson.h>

#include "src/db/db.h"

/* Kinds the server writes itself; a plugin may not post these. */
#define ACTIVITY_ITEMS		"items"
#define ACTIVITY_LEVEL_UP	"level_up"

/* How many groups character_id is shared in, or -1. */
int store_activity_groups(int64_t character_id);

/*
 * The entries a write recorded, one per group: what its live events name
 * once it has committed (docs/API.md "Live events").  A struct holding
 * these starts zeroed; free with store_activity_ids_free().
 */
struct store_activity_ids {
	int n, cap;
	struct store_activity_id {
		int64_t group_id;
		int64_t id;		/* the activity id */
	} *v;
};

void store_activity_ids_free(struct store_activity_ids *ids);

/*
 * Record kind with data (a JSON object, not stolen) for every group
 * character_id is shared in, as that character's owner, with the webhook
 * deliveries of those rows; the new entries are added to *ids unless it
 * is NULL.  Returns the rows written (0 when the character is in no
 * group), or -1.
 */
int store_activity_record(int64_t character_id, const char *kind, json_t *data,
			  struct store_activity_ids *ids);

/*
 * Rows of a feed page (store_activity_page, _since, _entry), in SELECT
 * order:
 *	id, kind, character (name or NULL), user_id (or NULL),
 *	data (JSON text), created_at
 */
enum activity_col {
	ACTIVITY_ID,
	ACTIVITY_KIND,
	ACTIVITY_CHARACTER,
	ACTIVITY_USER_ID,
	ACTIVITY_DATA,
	ACTIVITY_CREATED_AT,
};

/* Up to limit rows (enum activity_col) of group_id's feed with
 * id < before, newest first.  0 and *rows, or -1. */
int store_activity_page(int64_t group_id, int64_t before, int limit, struct db_result **rows);

/* The newest limit rows (enum activity_col) of group_id's feed with
 * id > after, newest first: what a reconnecting event stream missed.
 * 0 and *rows, or -1. */
int store_activity_since(int64_t group_id, int64_t after, int limit, struct db_result **rows);

/* Entry id of group_id's feed: one row (enum activity_col), or none when
 * it is gone.  0 and *rows, or -1. */
int store_activity_entry(int64_t group_id, int64_t id, struct db_result **rows);

/* The newest id of group_id's feed (0 when empty) into *id.  0 or -1. */
int store_activity_latest(int64_t group_id, int64_t *id);

#endif
