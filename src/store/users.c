/*
 * store/users.c -- the users table.
 *
 * Every statement is one SQL text for both engines.  Times are bound as
 * text in the schema's format (store_time), which PostgreSQL parses
 * as timestamptz and SQLite compares as text.
 */
#include <stdio.h>
#include <sys/time.h>
#include <time.h>

#include "src/db/db.h"
#include "src/store/store.h"
#include "src/store/users.h"
#include "src/store/vault_keep.h"

int
store_users_lock(int64_t id)
{
	static struct db_stmt *st;
	struct db_value p[] = { DB_INT(id) };
	struct db_result *row = NULL;
	int rc;

	if (st == NULL)
		st = db_prepare_dual("SELECT id FROM users WHERE id = $1",
		    "SELECT id FROM users WHERE id = $1 FOR UPDATE");
	rc = db_get(st, p, 1, &row);
	db_result_free(row);
	return rc;
}

int
store_users_upsert(const char *provider, const char *login, const char *display_name,
		   int64_t *id)
{
	static struct db_stmt *st;
	struct db_value p[] = { DB_TEXT(provider), DB_TEXT(login), DB_TEXT(display_name) };
	struct db_result *rows = NULL;

	if (st == NULL)
		st = db_prepare(
		    "INSERT INTO users (provider, login, display_name) VALUES ($1, $2, $3) "
		    /* A no-op update, so RETURNING has the row; the display name
		     * is the provider's only at sign-up: afterwards it is the
		     * user's own (PATCH /api/v1/me), not reset at each login. */
		    "ON CONFLICT (provider, login) DO UPDATE SET login = excluded.login "
		    "RETURNING id");
	if (db_run(st, p, 3, &rows) < 0)
		return -1;
	if (db_nrows(rows) != 1) {
		db_result_free(rows);
		db_set_error(DBE_SQL, "", "users upsert returned no row");
		return -1;
	}
	*id = db_int(rows, 0, 0);
	db_result_free(rows);
	return 0;
}

int
store_users_get(int64_t id, int64_t session_id, struct db_result **row)
{
	static struct db_stmt *st;
	struct db_value p[] = { DB_INT(id), DB_INT(session_id) };

	/* The columns in enum user_col's order. */
	if (st == NULL)
		st = db_prepare(
		    "SELECT u.id, u.login, u.display_name, u.created_at, u.plan, s.csrf_token "
		    "FROM users u LEFT JOIN sessions s ON s.id = $2 AND s.user_id = u.id "
		    "WHERE u.id = $1");
	return db_get(st, p, 2, row);
}

int
store_users_set_name(int64_t id, const char *display_name)
{
	static struct db_stmt *st;
	struct db_value p[] = { DB_INT(id), DB_TEXT(display_name) };
	int64_t n;

	if (st == NULL)
		st = db_prepare("UPDATE users SET display_name = $2 WHERE id = $1");
	n = db_run(st, p, 2, NULL);
	return n < 0 ? -1 : n > 0;
}

/* Pass group gid from the departing owner uid to its successor, or delete
 * it when nobody else is in it.  0 or -1. */
static int
pass_group(int64_t gid, int64_t uid)
{
	static struct db_stmt *successor, *drop_owner, *promote, *set_owner, *drop_group;
	struct db_value pg[] = { DB_INT(gid), DB_INT(uid) };
	struct db_result *row = NULL;
	int64_t heir;
	int rc;

	if (successor == NULL) {
		successor = db_prepare(
		    "SELECT user_id FROM group_members WHERE group_id = $1 AND user_id <> $2 "
		    "ORDER BY CASE WHEN role = 'admin' THEN 0 ELSE 1 END, joined_at, user_id "
		    "LIMIT 1");
		drop_owner = db_prepare(
		    "DELETE FROM group_members WHERE group_id = $1 AND user_id = $2");
		promote = db_prepare(
		    "UPDATE group_members SET role = 'owner' WHERE group_id = $1 AND user_id = $2");
		set_owner = db_prepare("UPDATE groups SET owner_id = $2 WHERE id = $1");
		drop_group = db_prepare("DELETE FROM groups WHERE id = $1");
	}
	rc = db_get(successor, pg, 2, &row);
	if (rc < 0)
		return -1;
	if (rc == 0)
		return db_run(drop_group, pg, 1, NULL) < 0 ? -1 : 0;
	heir = db_int(row, 0, 0);
	db_result_free(row);
	{
		struct db_value ph[] = { DB_INT(gid), DB_INT(heir) };

		/* group_members_owner_key allows one owner: the old one goes
		 * first. */
		if (db_run(drop_owner, pg, 2, NULL) < 0 ||
		    db_run(promote, ph, 2, NULL) < 0 ||
		    db_run(set_owner, ph, 2, NULL) < 0)
			return -1;
	}
	return 0;
}

struct delete_ctx {
	int64_t id;
	int found;
};

static int
delete_tx(void *arg)
{
	static struct db_stmt *owned, *del;
	struct delete_ctx *c = arg;
	struct db_value p[] = { DB_INT(c->id) };
	struct db_result *rows = NULL;
	int64_t n;

	if (owned == NULL) {
		owned = db_prepare("SELECT id FROM groups WHERE owner_id = $1 ORDER BY id");
		del = db_prepare("DELETE FROM users WHERE id = $1");
	}
	/* The user's row, then their characters and groups: the lock
	 * order of every writer (store/vault_keep.h).  Their characters
	 * leave every group's kept vault before anything is deleted. */
	if (store_users_lock(c->id) < 0 || store_vault_detach(c->id, 0) < 0)
		return -1;
	if (db_all(owned, p, 1, &rows) < 0)
		return -1;
	for (int i = 0; i < db_nrows(rows); i++)
		if (pass_group(db_int(rows, i, 0), c->id) < 0) {
			db_result_free(rows);
			return -1;
		}
	db_result_free(rows);
	n = db_run(del, p, 1, NULL);
	if (n < 0)
		return -1;
	c->found = n > 0;
	return 0;
}

int
store_users_delete(int64_t id)
{
	struct delete_ctx c = { id, 0 };

	if (db_tx(delete_tx, &c) < 0)
		return -1;
	return c.found;
}
