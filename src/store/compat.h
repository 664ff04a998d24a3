/*
 * store/compat.h -- the Group Ironmen Tracker compatibility API's data.
 *
 * A compat group (POST /api/create-group) is a coffer group owned by a
 * user of its own (provider 'compat'), until a coffer account claims it;
 * each member name is a coffer character of that user, named '#' and its
 * id (coffer names are at most 12 characters and unique everywhere; the
 * member's own name, up to 16, lives in compat_members).  docs/SCHEMA.md
 * "Group Ironmen Tracker compatibility" says why.
 *
 * A member's fields are kept as the plugin sent them, one row each
 * (compat_fields) with the time it last changed (RFC 3339 with
 * microseconds).  The containers among them are also written through
 * the sync store (store_sync_batch_in_tx), in the same transaction, so the
 * kept vault, activity and webhooks see a compat update like any sync.
 *
 * Lock order of an update: the @SHARED member's row (when shared_bank is
 * sent), the member's row, then each one's sync batch in sync.h's order.
 * Every writer of a member locks its compat_members row first, so two
 * updates of one member run one after the other.
 */
#ifndef COFFER_STORE_COMPAT_H
#define COFFER_STORE_COMPAT_H

#include <stdint.h>

#include <jansson.h>

#include "src/db/db.h"
#include "src/store/characters.h"
#include "src/store/containers.h"
#include "src/store/skills.h"

#define STORE_COMPAT_NAME_MAX	16	/* group and member names */
#define STORE_COMPAT_MEMBERS_MAX 5	/* not counting @SHARED */
#define STORE_COMPAT_SHARED	"@SHARED"
#define STORE_COMPAT_TIME_LEN	28	/* "YYYY-MM-DDTHH:MM:SS.uuuuuuZ" + NUL */

/* 1 if name is 1-16 of [A-Za-z0-9 _-] and not only spaces. */
int store_compat_valid_name(const char *name);

/* t (microseconds since the epoch) as "YYYY-MM-DDTHH:MM:SS.uuuuuuZ". */
const char *store_compat_time(char buf[STORE_COMPAT_TIME_LEN], int64_t t);

struct compat_group {
	int64_t id;		/* compat_groups.id */
	int64_t group_id;	/* the coffer group */
};

/*
 * The group named name whose token hashes to token_hash (hex), comparing
 * the hashes in constant time.  1 with *g set, 0 none, -1.
 */
int store_compat_find(const char *name, const char *token_hash, struct compat_group *g);

/*
 * Create the group name with the members names[0..n) (valid, distinct
 * ignoring case) and @SHARED.  0 with *g set, or -1.
 */
int store_compat_create(const char *name, const char *token_hash, const char *const *names,
			int n, struct compat_group *g);

enum store_compat_outcome {
	STORE_COMPAT_OK = 0,
	STORE_COMPAT_NO_MEMBER,		/* the name is not a member */
	STORE_COMPAT_TAKEN,		/* the new name is a member already */
	STORE_COMPAT_FULL,		/* STORE_COMPAT_MEMBERS_MAX members already */
	STORE_COMPAT_OVERFLOW,		/* an item's summed quantity is too large */
	STORE_COMPAT_TOO_MANY,		/* the merged log or bank would be too long */
};

/* Add, delete or rename a member (names valid).  An outcome, or -1. */
int store_compat_add_member(const struct compat_group *g, const char *name);
int store_compat_delete_member(const struct compat_group *g, const char *name);
int store_compat_rename_member(const struct compat_group *g, const char *from, const char *to);

/* 1 if name is a member of g (ignoring case), 0 if not, -1. */
int store_compat_is_member(const struct compat_group *g, const char *name);

/*
 * Rows of store_compat_data, in SELECT order:
 *	name, last_updated, field, value
 * one row per member field changed at or after since, by member (in the
 * order they joined) then field; a member with none has one row with
 * field and value NULL (and last_updated NULL if it never had data).
 * value is JSON text.  collection_log_v2 is left out (see its route).
 */
enum compat_data_col {
	COMPAT_DATA_NAME,
	COMPAT_DATA_LAST_UPDATED,
	COMPAT_DATA_FIELD,
	COMPAT_DATA_VALUE,
};

/* What changed in g at or after since (STORE_COMPAT_TIME_LEN text).  0 or -1. */
int store_compat_data(const struct compat_group *g, const char *since, struct db_result **rows);

/*
 * Rows of store_compat_field, in SELECT order:
 *	name, value, updated_at
 * one per member of g in the order they joined, value and updated_at NULL
 * when it never sent the field.
 */
enum compat_field_col {
	COMPAT_FIELD_NAME,
	COMPAT_FIELD_VALUE,
	COMPAT_FIELD_UPDATED_AT,
};

/* The field of every member of g.  0 or -1. */
int store_compat_field(const struct compat_group *g, const char *field, struct db_result **rows);

/* What an update wrote, for the live events after the commit. */
struct compat_update_result {
	int found;			/* 0: not a member, nothing written */
	char character[STORE_CHARACTER_NAME_MAX + 1];	/* the member's '#id' */
	char shared_character[STORE_CHARACTER_NAME_MAX + 1];	/* "" if untouched */
	struct container_result res[STORE_CONTAINERS_N];
	struct container_result shared_res[STORE_CONTAINERS_N];
	struct skills_result skills;
};

/* Free the activity ids of a result. */
void store_compat_update_free(struct compat_update_result *out);

/*
 * Apply the member name's validated fields (an object of the plugin's
 * field names; not stolen) at time now (microseconds): store each one
 * whose value changed (only those get the new time), and write
 * the containers and skills that changed through the sync store.  An
 * outcome (STORE_COMPAT_OK also when the name is not a member:
 * out->found 0), or -1.  After STORE_COMPAT_OK the caller calls
 * store_compat_update_free.
 */
int store_compat_update(const struct compat_group *g, const char *name, json_t *fields,
			int64_t now, struct compat_update_result *out);

enum store_compat_claim {
	STORE_CLAIM_OK = 0,
	STORE_CLAIM_UNKNOWN,		/* no such name and token */
	STORE_CLAIM_TAKEN,		/* claimed by another account */
	STORE_CLAIM_LIMIT,		/* user_id is in max_groups groups already */
};

/*
 * Make user_id the owner of the coffer group of the compat group name with
 * token_hash (the compat owner stays a member: the characters are its).
 * Claiming one's own group again is STORE_CLAIM_OK; a first claim by a
 * user who already belongs to max_groups groups ([limits] groups_per_user,
 * store_groups_room) is STORE_CLAIM_LIMIT and changes nothing.  An outcome
 * with *group_id set, or -1.
 */
int store_compat_claim(const char *name, const char *token_hash, int64_t user_id,
		       int max_groups, int64_t *group_id);

#endif
