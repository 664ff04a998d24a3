/*
 * store/characters.h -- game characters and their link to a user.
 *
 * A character belongs to one user; its name is unique ignoring case (the
 * schema's characters_name_key), so linking "zezima" when "Zezima" is
 * someone else's is a conflict.  Names are looked up ignoring case on both
 * engines (SQLite: the NOCASE column; PostgreSQL: lower(name)).
 *
 * Rows returned for the Character object (docs/API.md "Resources") have the columns
 *	id, name, created_at, last_sync_at
 * (STORE_CHARACTER_COLS), in that order.
 */
#ifndef COFFER_STORE_CHARACTERS_H
#define COFFER_STORE_CHARACTERS_H

#include <stdint.h>

#include "src/db/db.h"

#define STORE_CHARACTER_NAME_MAX 12

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
};

/*
 * Link name to user_id: create it, or find it when it is already theirs.
 * *row gets the Character columns (not for STORE_LINK_TAKEN).  Returns an
 * enum store_link, or -1.
 */
int store_characters_link(int64_t user_id, const char *name, struct db_result **row);

/* user_id's characters, oldest first (Character columns).  0 or -1. */
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
 * /sync/state: rows (name, skills_seq, container, seq), by character id
 * then container; a character with no container has one row with NULL
 * container columns.  0 or -1.
 */
int store_characters_state(int64_t user_id, struct db_result **rows);

/* Upsert the character's presence row (world may be < 0 for NULL,
 * activity NULL).  0 or -1. */
int store_characters_presence(int64_t id, int64_t world, const char *activity);

#endif
