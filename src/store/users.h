/*
 * store/users.h -- accounts: the users table and deleting an account.
 *
 * A user is known by (provider, login): login is the provider's stable
 * subject ("alice" for the mock provider's alice), never something the
 * user can change.  The User object (docs/API.md "Resources") is built from
 * the row read by store_users_get(); read it through enum user_col.
 */
#ifndef COFFER_STORE_USERS_H
#define COFFER_STORE_USERS_H

#include <stdint.h>

#include "src/db/db.h"

/*
 * The User row (store_users_get), in SELECT order:
 *	id, login, display_name, created_at, plan, csrf_token
 * csrf_token is NULL unless a session id was given.
 */
enum user_col {
	USER_ID,
	USER_LOGIN,
	USER_DISPLAY_NAME,
	USER_CREATED_AT,
	USER_PLAN,
	USER_CSRF_TOKEN,
};

/*
 * Create the user (provider, login) with display_name, or find it when it
 * exists (keeping the display name it has).  *id gets its id.
 * 0 or -1 (db_last_error()).
 */
int store_users_upsert(const char *provider, const char *login, const char *display_name,
		       int64_t *id);

/* The User row (enum user_col); session_id 0 for no csrf_token.  1 / 0 / -1. */
int store_users_get(int64_t id, int64_t session_id, struct db_result **row);

/*
 * Inside a transaction: lock user id's row, so that what one user may own
 * ([limits] characters_per_user, groups_per_user) is counted and grown by
 * one transaction at a time (PostgreSQL: FOR UPDATE; SQLite: the write
 * transaction already serializes).  Lock order: the user's row before any
 * group's.  1 / 0 (no such user) / -1.
 */
int store_users_lock(int64_t id);

/* Set the display name.  1 / 0 (no such user) / -1. */
int store_users_set_name(int64_t id, const char *display_name);

/*
 * Delete the account and everything it owns, in one transaction.  Each
 * group it owns passes to the longest-standing admin (earliest joined_at),
 * else to the longest-standing member, else is deleted; the foreign keys'
 * cascades remove the rest (sessions, tokens, characters and their items,
 * memberships).  1 / 0 (no such user) / -1.
 */
int store_users_delete(int64_t id);

#endif
