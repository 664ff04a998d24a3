/*
 * store/tokens.c -- the plugin_tokens table.
 *
 * The lookup is one indexed read (plugin_tokens token_hash key); the
 * last_used_at refresh is a separate write taken only when the stored
 * time is over a minute old, decided by the read itself.
 */
#include "src/db/db.h"
#include "src/store/store.h"
#include "src/store/sessions.h"
#include "src/store/tokens.h"
#include "src/store/users.h"

/* The Token row, in enum token_col's order. */
#define TOKEN_COLS "id, label, created_at, last_used_at"

int
store_tokens_create(int64_t user_id, const char *label, const char *token_hash,
		    struct db_result **row)
{
	static struct db_stmt *st;
	struct db_value p[] = { DB_INT(user_id), DB_TEXT(label), DB_TEXT(token_hash) };
	struct db_result *rows = NULL;

	if (st == NULL)
		st = db_prepare(
		    "INSERT INTO plugin_tokens (user_id, label, token_hash) VALUES ($1, $2, $3) "
		    "RETURNING " TOKEN_COLS);
	if (db_run(st, p, 3, &rows) < 0)
		return -1;
	if (db_nrows(rows) != 1) {
		db_result_free(rows);
		db_set_error(DBE_SQL, "", "token insert returned no row");
		return -1;
	}
	*row = rows;
	return 0;
}

int
store_tokens_list(int64_t user_id, struct db_result **rows)
{
	static struct db_stmt *st;
	struct db_value p[] = { DB_INT(user_id) };

	if (st == NULL)
		st = db_prepare(
		    "SELECT " TOKEN_COLS " FROM plugin_tokens "
		    "WHERE user_id = $1 AND revoked_at IS NULL ORDER BY id");
	return db_all(st, p, 1, rows);
}

int
store_tokens_revoke(int64_t user_id, int64_t id)
{
	static struct db_stmt *st;
	char now[STORE_TIME_LEN];
	struct db_value p[] = { DB_INT(id), DB_INT(user_id), DB_TEXT(store_time(now, 0)) };
	int64_t n;

	if (st == NULL)
		st = db_prepare(
		    "UPDATE plugin_tokens SET revoked_at = $3 "
		    "WHERE id = $1 AND user_id = $2 AND revoked_at IS NULL");
	n = db_run(st, p, 3, NULL);
	return n < 0 ? -1 : n > 0;
}

int
store_tokens_lookup(const char *token_hash, int64_t *token_id, int64_t *user_id)
{
	static struct db_stmt *find, *touch;
	char now[STORE_TIME_LEN], stale[STORE_TIME_LEN];
	struct db_value p[] = { DB_TEXT(token_hash),
	    DB_TEXT(store_time(stale, -STORE_TOUCH_MS)) };
	struct db_result *row = NULL;
	int rc;

	if (find == NULL) {
		find = db_prepare(
		    "SELECT id, user_id, last_used_at IS NULL OR last_used_at < $2 "
		    "FROM plugin_tokens WHERE token_hash = $1 AND revoked_at IS NULL");
		touch = db_prepare("UPDATE plugin_tokens SET last_used_at = $2 WHERE id = $1");
	}
	rc = db_get(find, p, 2, &row);
	if (rc != 1)
		return rc;
	*token_id = db_int(row, 0, 0);
	*user_id = db_int(row, 0, 1);
	if (db_bool(row, 0, 2)) {
		struct db_value pt[] = { DB_INT(*token_id), DB_TEXT(store_time(now, 0)) };

		/* Best effort: a failed touch does not fail the request. */
		(void)db_run(touch, pt, 2, NULL);
	}
	db_result_free(row);
	return 1;
}
