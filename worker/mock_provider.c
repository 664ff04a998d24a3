/*
 * mock_provider.c -- a built-in OAuth provider for development and tests.
 *
 * With [auth] mock_provider = on, cofferd serves an OAuth 2.0 provider of
 * its own under /auth/mock/: authorize (GET shows a login form, POST takes
 * it), token and userinfo.  The login flow (routes_auth.c) calls it over
 * HTTP exactly like a real provider, so the whole flow -- state, PKCE,
 * code exchange, userinfo -- runs in every test.  When the option is off,
 * each of these routes answers 404 as if it did not exist.
 *
 * Its client id is "coffer" (routes_auth.c names the same for the mock
 * provider) and it has no secret.  It approves at once whoever login_hint
 * names, which becomes the provider's subject, so it must never be on in
 * production; `name` sets the display name.  It redirects only to our own
 * /auth/callback/mock, so it is no open redirector either.
 *
 * Its authorization codes and access tokens live in the database
 * (store/sessions.h), not in memory, because its authorize, token and
 * userinfo calls may reach different workers.
 *
 * Its access tokens are long on purpose: MOCK_TOKEN_PARTS random secrets
 * joined by dots, over a kilobyte, about the size of the JWTs real
 * providers hand out.  Every login through the mock thus proves that the
 * login flow carries a long token whole, which a short one never would.
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <event2/buffer.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>

#include "src/crypto.h"
#include "src/db/db.h"
#include "src/store/sessions.h"
#include "src/util.h"
#include "worker/http.h"
#include "worker/router.h"
#include "worker/routes.h"
#include "worker/url.h"
#include "worker/worker.h"

#define MOCK_CLIENT_ID	"coffer"
#define MOCK_LOGIN_MAX	64	/* the form's maxlength */
#define MOCK_TOKEN_PARTS	24
#define MOCK_TOKEN_LEN	(MOCK_TOKEN_PARTS * CRYPTO_SECRET_LEN)	/* with the NUL */

/* Answer 404 unless the mock provider is on. */
static int
mock_enabled(struct req *r)
{
	if (worker_config()->auth_mock_provider)
		return 1;
	http_error(r, 404, NULL, "no such resource");
	return 0;
}

static void
hidden(struct evbuffer *b, const char *name, const char *value)
{
	evbuffer_add_printf(b, "<input type=\"hidden\" name=\"%s\" value=\"", name);
	http_html_escape(b, value);
	evbuffer_add(b, "\">\n", 3);
}

/* The login form, carrying the authorize request's parameters in q over
 * to its POST. */
static void
mock_form(struct req *r, struct evkeyvalq *q)
{
	static const char *const keep[] = { "response_type", "client_id", "redirect_uri",
	    "state", "code_challenge", "code_challenge_method", "scope", NULL };
	struct evbuffer *b = evbuffer_new();
	size_t n;

	evbuffer_add_printf(b, "<!doctype html>\n<html><head><meta charset=\"utf-8\">"
	    "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
	    "<title>Mock login</title></head><body>\n<h1>Mock OAuth provider</h1>\n"
	    "<p>For development only: whoever you name here is logged in.</p>\n"
	    "<form method=\"post\" action=\"/auth/mock/authorize\">\n");
	for (int i = 0; keep[i]; i++) {
		const char *v = evhttp_find_header(q, keep[i]);

		if (v)
			hidden(b, keep[i], v);
	}
	evbuffer_add_printf(b, "<label>Login <input name=\"login_hint\" required "
	    "maxlength=\"%d\" pattern=\"[A-Za-z0-9._@-]+\"></label>\n"
	    "<label>Display name <input name=\"name\" maxlength=\"64\"></label>\n"
	    "<button type=\"submit\">Log in</button>\n</form>\n</body></html>\n",
	    MOCK_LOGIN_MAX);
	n = evbuffer_get_length(b);
	evhttp_add_header(evhttp_request_get_output_headers(r->ev), "Cache-Control", "no-store");
	http_reply_raw(r, 200, "text/html; charset=utf-8", evbuffer_pullup(b, -1), n);
	evbuffer_free(b);
}

/* A provider subject we accept: 1-64 of [A-Za-z0-9._@-]. */
static int
mock_login_ok(const char *s)
{
	size_t n = strlen(s);

	return n >= 1 && n <= MOCK_LOGIN_MAX && strspn(s, "abcdefghijklmnopqrstuvwxyz"
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._@-") == n;
}

/* 1 if name is valid UTF-8 of at most [limits] max_name_length code points. */
static int
mock_name_ok(const char *name)
{
	json_t *check = json_string(name);	/* NULL when not valid UTF-8 */
	int ok = check != NULL &&
	    utf8_len(name) <= (size_t)worker_config()->max_name_length;

	json_decref(check);
	return ok;
}

/*
 * Check the authorize request in q; 0, or -1 after answering 400.  The
 * redirect_uri must be exactly our own callback for the mock.
 */
static int
mock_authorize_check(struct req *r, struct evkeyvalq *q)
{
	const char *rt = evhttp_find_header(q, "response_type");
	const char *cid = evhttp_find_header(q, "client_id");
	const char *uri = evhttp_find_header(q, "redirect_uri");
	const char *state = evhttp_find_header(q, "state");
	const char *ch = evhttp_find_header(q, "code_challenge");
	const char *chm = evhttp_find_header(q, "code_challenge_method");
	char *base, *want;
	int same;

	if (rt == NULL || strcmp(rt, "code") != 0 || cid == NULL ||
	    strcmp(cid, MOCK_CLIENT_ID) != 0) {
		http_error(r, 400, NULL, "response_type must be code and client_id %s",
		    MOCK_CLIENT_ID);
		return -1;
	}
	if ((base = url_base(r)) == NULL)
		return -1;
	want = url_callback(base, "mock");
	free(base);
	same = uri != NULL && strcmp(uri, want) == 0;
	if (!same)
		http_error(r, 400, NULL, "redirect_uri must be %s", want);
	free(want);
	if (!same)
		return -1;
	if (state == NULL || state[0] == '\0' || strlen(state) > 256 || ch == NULL ||
	    strlen(ch) != CRYPTO_SECRET_LEN - 1 || chm == NULL || strcmp(chm, "S256") != 0) {
		http_error(r, 400, NULL, "state, and a code_challenge with method S256, are required");
		return -1;
	}
	return 0;
}

/* GET and POST /auth/mock/authorize: q holds the request's parameters.
 * Without a login_hint, the form asks for one. */
static void
mock_authorize(struct req *r, struct evkeyvalq *q)
{
	const char *login = evhttp_find_header(q, "login_hint");
	const char *name = evhttp_find_header(q, "name");
	char code[CRYPTO_SECRET_LEN];
	struct evbuffer *b;
	char *url;

	if (mock_authorize_check(r, q) < 0)
		return;
	if (login == NULL || login[0] == '\0') {
		mock_form(r, q);
		return;
	}
	if (!mock_login_ok(login)) {
		http_error(r, 400, NULL, "login_hint must be 1-64 of A-Z a-z 0-9 . _ @ -");
		return;
	}
	if (name == NULL || name[0] == '\0')
		name = login;
	if (!mock_name_ok(name)) {
		http_error(r, 400, NULL, "name must be 1-%d characters of UTF-8",
		    worker_config()->max_name_length);
		return;
	}
	if (crypto_secret("", code, sizeof(code)) < 0) {
		http_error(r, 500, NULL, "internal error");
		return;
	}
	if (store_sessions_mock_code_put(code, evhttp_find_header(q, "client_id"),
	    evhttp_find_header(q, "redirect_uri"), evhttp_find_header(q, "code_challenge"),
	    login, name) < 0) {
		http_db_error(r);
		return;
	}
	b = evbuffer_new();
	url_start(b, evhttp_find_header(q, "redirect_uri"));
	url_add_param(b, "code", code);
	url_add_param(b, "state", evhttp_find_header(q, "state"));
	url = url_string(b);
	evbuffer_free(b);
	url_redirect(r, url);
	free(url);
}

static void
mock_authorize_get(struct req *r)
{
	if (mock_enabled(r))
		mock_authorize(r, &r->query);
}

static void
mock_authorize_post(struct req *r)
{
	struct evkeyvalq form;

	if (!mock_enabled(r) || url_form_parse(r, &form) < 0)
		return;
	mock_authorize(r, &form);
	evhttp_clear_headers(&form);
}

/* Token endpoint errors: the shape of docs/API.md "Errors", with OAuth's
 * error name. */
static void
invalid_grant(struct req *r, const char *why)
{
	http_error(r, 400, NULL, "invalid_grant: %s", why);
}

/* 1 if the code's row (enum mock_code_col) was issued to client cid for
 * redirect uri, with the challenge of verifier. */
static int
mock_code_matches(const struct db_result *row, const char *cid, const char *uri,
		  const char *verifier)
{
	char challenge[CRYPTO_SECRET_LEN];

	crypto_pkce_s256(verifier, challenge);
	return strcmp(db_text(row, 0, MOCK_CODE_CLIENT_ID), cid) == 0 &&
	    strcmp(db_text(row, 0, MOCK_CODE_REDIRECT_URI), uri) == 0 &&
	    crypto_streq(db_text(row, 0, MOCK_CODE_CHALLENGE), challenge);
}

/* A new access token into token (MOCK_TOKEN_LEN bytes): MOCK_TOKEN_PARTS
 * secrets joined by dots.  0 or -1. */
static int
mock_new_token(char *token)
{
	char *p = token;

	for (int i = 0; i < MOCK_TOKEN_PARTS; i++) {
		if (i > 0)
			*p++ = '.';
		if (crypto_secret("", p, CRYPTO_SECRET_LEN) < 0)
			return -1;
		p += CRYPTO_SECRET_LEN - 1;
	}
	return 0;
}

/* POST /auth/mock/token */
static void
mock_token(struct req *r)
{
	char token[MOCK_TOKEN_LEN], hash[CRYPTO_SHA256_HEX_LEN];
	struct evkeyvalq f;
	struct db_result *row = NULL;
	const char *gt, *code, *uri, *cid, *verifier;
	int rc;

	if (!mock_enabled(r) || url_form_parse(r, &f) < 0)
		return;
	gt = evhttp_find_header(&f, "grant_type");
	code = evhttp_find_header(&f, "code");
	uri = evhttp_find_header(&f, "redirect_uri");
	cid = evhttp_find_header(&f, "client_id");
	verifier = evhttp_find_header(&f, "code_verifier");
	if (gt == NULL || strcmp(gt, "authorization_code") != 0 || code == NULL ||
	    uri == NULL || cid == NULL || verifier == NULL) {
		http_error(r, 400, NULL, "grant_type=authorization_code, code, redirect_uri, "
		    "client_id and code_verifier are required");
		goto out;
	}
	/* The code is consumed whatever follows: a code is tried once. */
	rc = store_sessions_mock_code_take(code, &row);
	if (rc < 0) {
		http_db_error(r);
		goto out;
	}
	if (rc == 0) {
		invalid_grant(r, "unknown, used or expired code");
		goto out;
	}
	if (strlen(verifier) < 43 || strlen(verifier) > 128) {
		invalid_grant(r, "code_verifier must be 43-128 characters");
		goto out;
	}
	if (!mock_code_matches(row, cid, uri, verifier)) {
		invalid_grant(r, "client_id, redirect_uri or code_verifier does not match");
		goto out;
	}
	if (mock_new_token(token) < 0) {
		http_error(r, 500, NULL, "internal error");
		goto out;
	}
	crypto_sha256_hex(token, strlen(token), hash);
	if (store_sessions_mock_token_put(hash, db_text(row, 0, MOCK_CODE_LOGIN),
	    db_text(row, 0, MOCK_CODE_DISPLAY_NAME)) < 0) {
		http_db_error(r);
		goto out;
	}
	evhttp_add_header(evhttp_request_get_output_headers(r->ev), "Cache-Control", "no-store");
	http_reply_json(r, 200, json_pack("{s:s,s:s,s:i}", "access_token", token,
	    "token_type", "bearer", "expires_in", STORE_MOCK_TOKEN_TTL_MS / 1000));
out:
	db_result_free(row);
	evhttp_clear_headers(&f);
}

/* GET /auth/mock/userinfo */
static void
mock_userinfo(struct req *r)
{
	const char *h = evhttp_find_header(evhttp_request_get_input_headers(r->ev),
	    "Authorization");
	char hash[CRYPTO_SHA256_HEX_LEN];
	struct db_result *row = NULL;
	int rc;

	if (!mock_enabled(r))
		return;
	if (h == NULL || strncasecmp(h, "Bearer ", 7) != 0 ||
	    strlen(h + 7) >= MOCK_TOKEN_LEN) {
		http_error(r, 401, NULL, "a bearer access token is required");
		return;
	}
	crypto_sha256_hex(h + 7, strlen(h + 7), hash);
	rc = store_sessions_mock_token_get(hash, &row);
	if (rc < 0) {
		http_db_error(r);
		return;
	}
	if (rc == 0) {
		http_error(r, 401, NULL, "invalid or expired access token");
		return;
	}
	http_reply_json(r, 200, json_pack("{s:s,s:s}",
	    "sub", db_text(row, 0, MOCK_TOKEN_LOGIN),
	    "name", db_text(row, 0, MOCK_TOKEN_DISPLAY_NAME)));
	db_result_free(row);
}

const struct route routes_mock[] = {
	{ EVHTTP_REQ_GET, "/auth/mock/authorize", MAIN, PUBLIC, NONE, mock_authorize_get },
	{ EVHTTP_REQ_POST, "/auth/mock/authorize", MAIN, PUBLIC, NONE, mock_authorize_post },
	{ EVHTTP_REQ_POST, "/auth/mock/token", MAIN, PUBLIC, NONE, mock_token },
	{ EVHTTP_REQ_GET, "/auth/mock/userinfo", MAIN, PUBLIC, NONE, mock_userinfo },
	{ 0 },
};
