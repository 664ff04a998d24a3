/*
 * store/sessions.c -- sessions, OAuth states and the mock provider's rows.
 *
 * One SQL text per statement for both engines.  "Take" operations are a
 * single DELETE ... RETURNING, so two requests racing with the same state
 * or code cannot both get it: one deletes the row, the other finds none.
 * Expired rows are purged by the statement that creates new ones (each
 * purge is an indexed range delete), so no background job is needed.
 *
 * The login's user and session are written in one transaction
 * (store_sessions_login), so a failure leaves neither: no user without the
 * session that was being opened for them.  The caller talks to the
 * provider before it, so no transaction is ever held across network I/O.
 */
#include <stdio.h>
#include <string.h>

#include "src/db/db.h"
#include "src/store/store.h"
#include "src/store/sessions.h"
#include "src/store/users.h"

int
store_sessions_create(int64_t user_id, const char *token_hash, const char *csrf,
		      const char *user_agent, int64_t ttl_ms, int64_t *id)
{
	static struct db_stmt *purge, *ins;
	char now[STORE_TIME_LEN], exp[STORE_TIME_LEN];
	struct db_value pp[] = { DB_TEXT(store_time(now, 0)) };
	struct db_value p[] = { DB_INT(user_id), DB_TEXT(token_hash), DB_TEXT(csrf),
	    DB_TEXT(user_agent), DB_TEXT(store_time(exp, ttl_ms)) };
	struct db_result *rows = NULL;

	if (ins == NULL) {
		purge = db_prepare("DELETE FROM sessions WHERE expires_at < $1");
		ins = db_prepare(
		    "INSERT INTO sessions (user_id, token_hash, csrf_token, user_agent, expires_at) "
		    "VALUES ($1, $2, $3, $4, $5) RETURNING id");
	}
	if (db_run(purge, pp, 1, NULL) < 0 || db_run(ins, p, 5, &rows) < 0)
		return -1;
	if (db_nrows(rows) != 1) {
		db_result_free(rows);
		db_set_error(DBE_SQL, "", "session insert returned no row");
		return -1;
	}
	*id = db_int(rows, 0, 0);
	db_result_free(rows);
	return 0;
}

struct login_ctx {
	const struct session_login *in;
	int64_t user_id, session_id;
};

static int
login_tx(void *arg)
{
	struct login_ctx *c = arg;
	const struct session_login *in = c->in;

	if (store_users_upsert(in->provider, in->login, in->display_name, &c->user_id) < 0)
		return -1;
	return store_sessions_create(c->user_id, in->token_hash, in->csrf, in->user_agent,
	    in->ttl_ms, &c->session_id);
}

int
store_sessions_login(const struct session_login *in, int64_t *user_id, int64_t *session_id)
{
	struct login_ctx c = { in, 0, 0 };

	if (db_tx(login_tx, &c) < 0)
		return -1;
	*user_id = c.user_id;
	*session_id = c.session_id;
	return 0;
}

int
store_sessions_lookup(const char *token_hash, struct session_auth *out)
{
	static struct db_stmt *find, *touch;
	char now[STORE_TIME_LEN], stale[STORE_TIME_LEN];
	struct db_value p[] = { DB_TEXT(token_hash), DB_TEXT(store_time(now, 0)),
	    DB_TEXT(store_time(stale, -STORE_TOUCH_MS)) };
	struct db_result *row = NULL;
	int rc;

	if (find == NULL) {
		find = db_prepare(
		    "SELECT id, user_id, csrf_token, last_seen_at < $3 FROM sessions "
		    "WHERE token_hash = $1 AND expires_at > $2");
		touch = db_prepare("UPDATE sessions SET last_seen_at = $2 WHERE id = $1");
	}
	rc = db_get(find, p, 3, &row);
	if (rc != 1)
		return rc;
	out->id = db_int(row, 0, 0);
	out->user_id = db_int(row, 0, 1);
	snprintf(out->csrf, sizeof(out->csrf), "%s", db_text(row, 0, 2));
	if (db_bool(row, 0, 3)) {
		struct db_value pt[] = { DB_INT(out->id), DB_TEXT(now) };

		/* Best effort: a failed touch does not fail the request. */
		(void)db_run(touch, pt, 2, NULL);
	}
	db_result_free(row);
	return 1;
}

int
store_sessions_list(int64_t user_id, struct db_result **rows)
{
	static struct db_stmt *st;
	char now[STORE_TIME_LEN];
	struct db_value p[] = { DB_INT(user_id), DB_TEXT(store_time(now, 0)) };

	/* The columns in enum session_col's order. */
	if (st == NULL)
		st = db_prepare(
		    "SELECT id, created_at, last_seen_at, user_agent FROM sessions "
		    "WHERE user_id = $1 AND expires_at > $2 ORDER BY id DESC");
	return db_all(st, p, 2, rows);
}

int
store_sessions_delete(int64_t user_id, int64_t id)
{
	static struct db_stmt *st;
	struct db_value p[] = { DB_INT(id), DB_INT(user_id) };
	int64_t n;

	if (st == NULL)
		st = db_prepare("DELETE FROM sessions WHERE id = $1 AND user_id = $2");
	n = db_run(st, p, 2, NULL);
	return n < 0 ? -1 : n > 0;
}

int
store_sessions_state_put(const struct oauth_state *in)
{
	static struct db_stmt *purge, *ins;
	char old[STORE_TIME_LEN];
	struct db_value pp[] = { DB_TEXT(store_time(old, -STORE_OAUTH_TTL_MS)) };
	struct db_value p[] = { DB_TEXT(in->state), DB_TEXT(in->provider),
	    DB_TEXT(in->verifier), DB_TEXT(in->cookie_hash), DB_TEXT(in->redirect_uri),
	    DB_TEXT(in->next_path) };

	if (ins == NULL) {
		purge = db_prepare("DELETE FROM oauth_states WHERE created_at < $1");
		ins = db_prepare(
		    "INSERT INTO oauth_states (state, provider, code_verifier, cookie_hash, "
		    "redirect_uri, next_path) VALUES ($1, $2, $3, $4, $5, $6)");
	}
	if (db_run(purge, pp, 1, NULL) < 0 || db_run(ins, p, 6, NULL) < 0)
		return -1;
	return 0;
}

/* DELETE ... RETURNING as a 1 / 0 / -1 single-row take. */
static int
take(struct db_stmt *st, const struct db_value *p, int n, struct db_result **row)
{
	struct db_result *rows = NULL;

	if (db_run(st, p, n, &rows) < 0)
		return -1;
	if (db_nrows(rows) == 0) {
		db_result_free(rows);
		return 0;
	}
	*row = rows;
	return 1;
}

int
store_sessions_state_take(const char *state, struct db_result **row)
{
	static struct db_stmt *st;
	char old[STORE_TIME_LEN];
	struct db_value p[] = { DB_TEXT(state), DB_TEXT(store_time(old, -STORE_OAUTH_TTL_MS)) };

	/* RETURNING in enum oauth_state_col's order. */
	if (st == NULL)
		st = db_prepare(
		    "DELETE FROM oauth_states WHERE state = $1 AND created_at >= $2 "
		    "RETURNING provider, code_verifier, cookie_hash, redirect_uri, next_path");
	return take(st, p, 2, row);
}

int
store_sessions_mock_code_put(const char *code, const char *client_id,
			     const char *redirect_uri, const char *challenge,
			     const char *login, const char *display_name)
{
	static struct db_stmt *purge, *ins;
	char old[STORE_TIME_LEN];
	struct db_value pp[] = { DB_TEXT(store_time(old, -STORE_OAUTH_TTL_MS)) };
	struct db_value p[] = { DB_TEXT(code), DB_TEXT(client_id), DB_TEXT(redirect_uri),
	    DB_TEXT(challenge), DB_TEXT(login), DB_TEXT(display_name) };

	if (ins == NULL) {
		purge = db_prepare("DELETE FROM mock_oauth_codes WHERE created_at < $1");
		ins = db_prepare(
		    "INSERT INTO mock_oauth_codes (code, client_id, redirect_uri, code_challenge, "
		    "login, display_name) VALUES ($1, $2, $3, $4, $5, $6)");
	}
	if (db_run(purge, pp, 1, NULL) < 0 || db_run(ins, p, 6, NULL) < 0)
		return -1;
	return 0;
}

int
store_sessions_mock_code_take(const char *code, struct db_result **row)
{
	static struct db_stmt *st;
	char old[STORE_TIME_LEN];
	struct db_value p[] = { DB_TEXT(code), DB_TEXT(store_time(old, -STORE_OAUTH_TTL_MS)) };

	/* RETURNING in enum mock_code_col's order. */
	if (st == NULL)
		st = db_prepare(
		    "DELETE FROM mock_oauth_codes WHERE code = $1 AND created_at >= $2 "
		    "RETURNING client_id, redirect_uri, code_challenge, login, display_name");
	return take(st, p, 2, row);
}

int
store_sessions_mock_token_put(const char *token_hash, const char *login,
			      const char *display_name)
{
	static struct db_stmt *purge, *ins;
	char old[STORE_TIME_LEN];
	struct db_value pp[] = { DB_TEXT(store_time(old, -STORE_MOCK_TOKEN_TTL_MS)) };
	struct db_value p[] = { DB_TEXT(token_hash), DB_TEXT(login), DB_TEXT(display_name) };

	if (ins == NULL) {
		purge = db_prepare("DELETE FROM mock_oauth_tokens WHERE created_at < $1");
		ins = db_prepare(
		    "INSERT INTO mock_oauth_tokens (access_token, login, display_name) "
		    "VALUES ($1, $2, $3)");
	}
	if (db_run(purge, pp, 1, NULL) < 0 || db_run(ins, p, 3, NULL) < 0)
		return -1;
	return 0;
}

int
store_sessions_mock_token_get(const char *token_hash, struct db_result **row)
{
	static struct db_stmt *st;
	char old[STORE_TIME_LEN];
	struct db_value p[] = { DB_TEXT(token_hash),
	    DB_TEXT(store_time(old, -STORE_MOCK_TOKEN_TTL_MS)) };

	/* The columns in enum mock_token_col's order. */
	if (st == NULL)
		st = db_prepare(
		    "SELECT login, display_name FROM mock_oauth_tokens "
		    "WHERE access_token = $1 AND created_at >= $2");
	return db_get(st, p, 2, row);
}
