/*
 * store/characters.h -- game characters and their link to a user.
 *
 * A character belongs to one user; its name is unique ignoring case (the
 * schema's characters_name_key), so linking "zezima" when "Zezima" is
 * someone else's is a conflict.  Names are looked up ignoring case on both
 * engines (SQLite: the NOCASE column; PostgreSQL: lower(name)).
 *
 * Rows are read through the column enums below, never by number; each
 * enum lists its columns in the order of the SELECT in characters.c.
 */
#ifndef COFFER_STORE_CHARACTERS_H
#define COFFER_STORE_CHARACTERS_H

#include <stdint.h>

#include "src/db/db.h"

#define STORE_CHARACTER_NAME_MAX 12

/*
 * Rows for the Character object of docs/API.md "Resources"
 * (store_characters_link, _list):
 *	id, name, created_at, last_sync_at
 */
enum character_col {
	CHARACTER_ID,
	CHARACTER_NAME,
	CHARACTER_CREATED_AT,
	CHARACTER_LAST_SYNC_AT,
};

/*
 * Rows of store_characters_state (GET /sync/state):
 *	name, skills_seq, container, seq
 * container and seq are NULL for a character with no synced container.
 */
enum character_state_col {
	CHARACTER_STATE_NAME,
	CHARACTER_STATE_SKILLS_SEQ,
	CHARACTER_STATE_CONTAINER,
	CHARACTER_STATE_SEQ,
};

/* 1 if name is a valid character name (1-12 of letters, digits, space,
 * '-', '_'), else 0. */
int store_characters_valid_name(const char *name);

/*
 * Resolve character names (case-insensitive) to the ids of user_id's
 * characters, in order.  Returns how many were found (names not found or
 * not the user's are skipped: compare the count with n to answer 422
 * "unknown character"), or -1 on a database error.
 */
int store_characters_owned(int64_t user_id, const char *const *names, int n, int64_t *ids);

enum store_link {
	STORE_LINK_TAKEN = 0,		/* another user's character */
	STORE_LINK_CREATED = 1,
	STORE_LINK_EXISTS = 2,		/* already user_id's */
	STORE_LINK_LIMIT = 3,		/* user_id has max_characters already */
};

/*
 * Link name to user_id: create it, or find it when it is already theirs;
 * a new one only while the user has fewer than max_characters ([limits]
 * characters_per_user), counted under store_users_lock in one
 * transaction.  *row gets a Character row (enum character_col) for
 * CREATED and EXISTS, else NULL.  Returns an enum store_link, or -1.
 */
int store_characters_link(int64_t user_id, const char *name, int max_characters,
			  struct db_result **row);

/* user_id's characters, oldest first (enum character_col).  0 or -1. */
int store_characters_list(int64_t user_id, struct db_result **rows);

/* The id (and stored spelling, when name_out is not NULL) of user_id's
 * character name.  1 / 0 (no such character, or not theirs) / -1. */
int store_characters_find(int64_t user_id, const char *name, int64_t *id,
			  char name_out[STORE_CHARACTER_NAME_MAX + 1]);

/* Delete user_id's character name and, through the cascades, all of its
 * data.  1 / 0 / -1. */
int store_characters_delete(int64_t user_id, const char *name);

/*
 * Lock the character's row against concurrent writers of its own columns
 * (PostgreSQL: FOR NO KEY UPDATE, which leaves foreign-key checks of other
 * tables free; SQLite: the transaction's write lock already serializes).
 * Inside a transaction.  *skills_seq gets the stored skills seq.  1 / 0 / -1.
 */
int store_characters_lock(int64_t id, int64_t *skills_seq);

/* Set last_sync_at (and skills_seq when skills_seq >= 0).  0 or -1. */
int store_characters_touch(int64_t id, const char *now, int64_t skills_seq);

/*
 * Every character of user_id with its synced containers, for GET
 * /sync/state: rows (enum character_state_col), by character id then
 * container; a character with no container has one row with NULL
 * container columns.  0 or -1.
 */
int store_characters_state(int64_t user_id, struct db_result **rows);

/* Upsert the character's presence row (world may be < 0 for NULL,
 * activity NULL).  0 or -1. */
int store_characters_presence(int64_t id, int64_t world, const char *activity);

/*
 * Rows of the groups a character is shared in (store_characters_groups),
 * in SELECT order:
 *	group_id
 */
enum character_group_col {
	CHARACTER_GROUP_ID,
};

/* The groups character id is shared in (enum character_group_col), by
 * id: where its live events go.  0 and *rows, or -1. */
int store_characters_groups(int64_t id, struct db_result **rows);

#endif
