/*
 * routes_me.c -- the caller's own account: /api/v1/me and its tokens and
 * sessions.
 *
 * Who may call what: every GET here accepts a web session or a plugin
 * token (a token reads, docs/API.md "Who may call what"); everything that changes the account
 * -- PATCH and DELETE /me, creating and revoking tokens, ending sessions --
 * needs a web session with its X-CSRF-Token, so a leaked plugin token
 * cannot mint more tokens or delete the account.  A token used there gets
 * 403 forbidden.
 *
 * Ids of tokens and sessions that are not the caller's answer 404, exactly
 * like ids that do not exist.  The JSON shape of each resource is built in
 * one function below (user_json, token_json, session_json).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "src/crypto.h"
#include "src/db/db.h"
#include "src/store/sessions.h"
#include "src/store/tokens.h"
#include "src/store/users.h"
#include "worker/validate.h"
#include "worker/auth.h"
#include "worker/events.h"
#include "worker/router.h"
#include "worker/routes.h"
#include "worker/worker.h"

/* The User (docs/API.md "Resources") from store_users_get's row;
 * csrf_token when present. */
static json_t *
user_json(const struct db_result *row)
{
	json_t *u = json_pack("{s:I,s:s,s:s,s:o,s:s}",
	    "id", (json_int_t)db_int(row, 0, USER_ID),
	    "login", db_text(row, 0, USER_LOGIN),
	    "display_name", db_text(row, 0, USER_DISPLAY_NAME),
	    "created_at", http_json_time(row, 0, USER_CREATED_AT),
	    "plan", db_text(row, 0, USER_PLAN));

	if (!db_isnull(row, 0, USER_CSRF_TOKEN))
		json_object_set_new(u, "csrf_token",
		    json_string(db_text(row, 0, USER_CSRF_TOKEN)));
	return u;
}

/* The Token (docs/API.md "Resources") from row i of a store_tokens result. */
static json_t *
token_json(const struct db_result *rows, int i)
{
	return json_pack("{s:I,s:s,s:o,s:o}",
	    "id", (json_int_t)db_int(rows, i, TOKEN_ID),
	    "label", db_text(rows, i, TOKEN_LABEL),
	    "created_at", http_json_time(rows, i, TOKEN_CREATED_AT),
	    "last_used_at", http_json_time(rows, i, TOKEN_LAST_USED_AT));
}

/* A session from row i of store_sessions_list; current marks the
 * caller's own. */
static json_t *
session_json(const struct db_result *rows, int i, int64_t current)
{
	const char *ua = db_text(rows, i, SESSION_USER_AGENT);

	return json_pack("{s:I,s:o,s:o,s:o,s:b}",
	    "id", (json_int_t)db_int(rows, i, SESSION_ID),
	    "created_at", http_json_time(rows, i, SESSION_CREATED_AT),
	    "last_seen_at", http_json_time(rows, i, SESSION_LAST_SEEN_AT),
	    "user_agent", ua ? json_string(ua) : json_null(),
	    "current", db_int(rows, i, SESSION_ID) == current);
}

/* Answer 200 with the caller's User. */
static void
reply_me(struct req *r, int status)
{
	struct db_result *row = NULL;
	int rc = store_users_get(r->user_id, r->session_id, &row);

	if (rc < 0)
		http_db_error(r);
	else if (rc == 0)	/* deleted under a live credential */
		http_error(r, 401, NULL, "authentication required");
	else
		http_reply_json(r, status, user_json(row));
	db_result_free(row);
}

static void
me_get(struct req *r)
{
	reply_me(r, 200);
}

static void
me_patch(struct req *r)
{
	static const char *const allowed[] = { "display_name", NULL };
	const char *name;
	json_t *body;
	int rc;

	body = validate_body(r);
	if (body == NULL)
		return;
	if (validate_keys(r, body, allowed) < 0 ||
	    validate_string(r, body, "display_name", 1, 1,
	    (size_t)worker_config()->max_name_length, &name) < 0)
		goto out;
	rc = store_users_set_name(r->user_id, name);
	if (rc < 0)
		http_db_error(r);
	else
		reply_me(r, 200);
out:
	json_decref(body);
}

static void
me_delete(struct req *r)
{
	if (store_users_delete(r->user_id) < 0) {
		http_db_error(r);
		return;
	}
	events_publish_revoked(r->user_id, 0, 0);
	auth_clear_cookies(r);
	http_reply_json(r, 204, NULL);
}

static void
tokens_list(struct req *r)
{
	struct db_result *rows = NULL;
	json_t *list;

	if (store_tokens_list(r->user_id, &rows) < 0) {
		http_db_error(r);
		return;
	}
	list = json_array();
	for (int i = 0; i < db_nrows(rows); i++)
		json_array_append_new(list, token_json(rows, i));
	db_result_free(rows);
	http_reply_json(r, 200, json_pack("{s:o}", "tokens", list));
}

static void
tokens_create(struct req *r)
{
	static const char *const allowed[] = { "label", NULL };
	char token[sizeof(STORE_TOKEN_PREFIX) + CRYPTO_SECRET_LEN];
	char hash[CRYPTO_SHA256_HEX_LEN];
	struct db_result *row = NULL;
	const char *label;
	json_t *body, *out;

	body = validate_body(r);
	if (body == NULL)
		return;
	if (validate_keys(r, body, allowed) < 0 ||
	    validate_string(r, body, "label", 1, 1,
	    (size_t)worker_config()->max_name_length, &label) < 0)
		goto out;
	if (crypto_secret(STORE_TOKEN_PREFIX, token, sizeof(token)) < 0) {
		http_error(r, 500, NULL, "internal error");
		goto out;
	}
	crypto_sha256_hex(token, strlen(token), hash);
	if (store_tokens_create(r->user_id, label, hash, &row) < 0) {
		http_db_error(r);
		goto out;
	}
	out = token_json(row, 0);
	json_object_set_new(out, "token", json_string(token));
	db_result_free(row);
	http_reply_json(r, 201, out);
out:
	explicit_bzero(token, sizeof(token));
	json_decref(body);
}

static void
tokens_delete(struct req *r)
{
	int64_t id;
	int rc;

	id = http_path_id(r->param[0]);
	rc = id ? store_tokens_revoke(r->user_id, id) : 0;
	if (rc < 0)
		http_db_error(r);
	else if (rc == 0)
		http_error(r, 404, NULL, "no such token");
	else {
		events_publish_revoked(r->user_id, 0, id);
		http_reply_json(r, 204, NULL);
	}
}

static void
sessions_list(struct req *r)
{
	struct db_result *rows = NULL;
	json_t *list;

	if (store_sessions_list(r->user_id, &rows) < 0) {
		http_db_error(r);
		return;
	}
	list = json_array();
	for (int i = 0; i < db_nrows(rows); i++)
		json_array_append_new(list, session_json(rows, i, r->session_id));
	db_result_free(rows);
	http_reply_json(r, 200, json_pack("{s:o}", "sessions", list));
}

static void
sessions_delete(struct req *r)
{
	int64_t id;
	int rc;

	id = http_path_id(r->param[0]);
	rc = id ? store_sessions_delete(r->user_id, id) : 0;
	if (rc < 0) {
		http_db_error(r);
		return;
	}
	if (rc == 0) {
		http_error(r, 404, NULL, "no such session");
		return;
	}
	events_publish_revoked(r->user_id, id, 0);
	if (id == r->session_id)	/* ending this very session: a logout */
		auth_clear_cookies(r);
	http_reply_json(r, 204, NULL);
}

const struct route routes_me[] = {
	{ EVHTTP_REQ_GET, "/api/v1/me", MAIN, USER, NONE, me_get },
	{ EVHTTP_REQ_PATCH, "/api/v1/me", MAIN, SESSION, NONE, me_patch },
	{ EVHTTP_REQ_DELETE, "/api/v1/me", MAIN, SESSION, NONE, me_delete },
	{ EVHTTP_REQ_GET, "/api/v1/me/tokens", MAIN, USER, NONE, tokens_list },
	{ EVHTTP_REQ_POST, "/api/v1/me/tokens", MAIN, SESSION, NONE, tokens_create },
	{ EVHTTP_REQ_DELETE, "/api/v1/me/tokens/{id}", MAIN, SESSION, NONE, tokens_delete },
	{ EVHTTP_REQ_GET, "/api/v1/me/sessions", MAIN, USER, NONE, sessions_list },
	{ EVHTTP_REQ_DELETE, "/api/v1/me/sessions/{id}", MAIN, SESSION, NONE, sessions_delete },
	{ 0 },
};
