/*
 * routes_auth.c -- OAuth login, the built-in mock provider, logout.
 *
 * The login is the OAuth 2.0 authorization-code flow with state and PKCE
 * (S256), the same for every provider:
 *
 *   /auth/login/{p}     stores (state, verifier, p, next) and 302s to p's
 *                       authorize URL with state and the verifier's
 *                       challenge;
 *   provider            authenticates the person, 302s back to
 *                       /auth/callback/{p}?code&state;
 *   /auth/callback/{p}  takes the state (single use, same provider),
 *                       exchanges code + verifier at p's token URL and
 *                       reads p's userinfo -- both over real HTTP through
 *                       httpc, the loop never blocks -- then creates or
 *                       updates the user and a session in one
 *                       transaction, sets the cookies and 302s to next.
 *
 * The mock provider ([auth] mock_provider = on) is served by cofferd
 * itself under /auth/mock/ and is called over HTTP like a real one, with
 * the URLs built like redirect_uri: [server] public_url, or http://<Host>.
 * Its client id is "coffer" and it has no secret.  It approves at once
 * whoever is named by login_hint (the provider's subject), so it must
 * never be on in production; `name` sets the display name.
 *
 * "next" is only ever a same-site path: it must start with a single "/"
 * and hold printable ASCII without a backslash (browsers read "/\" like
 * "//"), else it becomes /app.  That closes the open redirect.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/queue.h>

#include <event2/buffer.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>

#include "src/config.h"
#include "src/crypto.h"
#include "src/db/db.h"
#include "worker/httpc.h"
#include "src/log.h"
#include "src/store/sessions.h"
#include "src/store/users.h"
#include "src/util.h"
#include "worker/validate.h"
#include "worker/auth.h"
#include "worker/router.h"
#include "worker/routes.h"
#include "worker/worker.h"

#define MOCK_CLIENT_ID	"coffer"
#define BASE_MAX	512
#define NEXT_MAX	512
#define FORM_MAX	(16 * 1024)
#define OUTBOUND_TIMEOUT_MS	10000L
#define LOGIN_MAX	255	/* provider subjects */

/* A provider as the flow needs it (the mock's URLs point at ourselves). */
struct provider {
	const char *name;
	const char *client_id;
	const char *secret_file;	/* NULL for the mock */
	char authorize_url[BASE_MAX + 64];
	char token_url[BASE_MAX + 64];
	char userinfo_url[BASE_MAX + 64];
	const char *scope;
};

/*
 * Where users reach us: [server] public_url without a trailing '/', or
 * http://<Host>.  The Host header is checked to hold only host-name
 * characters, since it ends up in redirects.  0, or -1 (answered 400).
 */
static int
base_url(struct req *r, char *buf, size_t len)
{
	const char *pub = worker_config()->public_url;
	const char *host;
	size_t n;

	if (pub != NULL && pub[0] != '\0') {
		n = strlen(pub);
		while (n > 0 && pub[n - 1] == '/')
			n--;
		snprintf(buf, len, "%.*s", (int)n, pub);
		return 0;
	}
	host = evhttp_find_header(evhttp_request_get_input_headers(r->ev), "Host");
	if (host == NULL || host[0] == '\0' || strlen(host) > 255 ||
	    strspn(host, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
	    "0123456789.-:[]") != strlen(host)) {
		http_error(r, 400, NULL, "missing or malformed Host header");
		return -1;
	}
	snprintf(buf, len, "http://%s", host);
	return 0;
}

/* Fill p for provider name; 0, or -1 when unknown (not answered). */
static int
provider_find(const char *name, const char *base, struct provider *p)
{
	const struct config *cfg = worker_config();

	memset(p, 0, sizeof(*p));
	if (strcmp(name, "mock") == 0) {
		if (!cfg->auth_mock_provider)
			return -1;
		p->name = "mock";
		p->client_id = MOCK_CLIENT_ID;
		snprintf(p->authorize_url, sizeof(p->authorize_url), "%s/auth/mock/authorize", base);
		snprintf(p->token_url, sizeof(p->token_url), "%s/auth/mock/token", base);
		snprintf(p->userinfo_url, sizeof(p->userinfo_url), "%s/auth/mock/userinfo", base);
		p->scope = "openid profile";
		return 0;
	}
	for (int i = 0; i < cfg->n_oauth; i++) {
		const struct oauth_provider *o = &cfg->oauth[i];

		if (strcmp(o->name, name) != 0)
			continue;
		p->name = o->name;
		p->client_id = o->client_id;
		p->secret_file = o->client_secret_file;
		snprintf(p->authorize_url, sizeof(p->authorize_url), "%s", o->authorize_url);
		snprintf(p->token_url, sizeof(p->token_url), "%s", o->token_url);
		snprintf(p->userinfo_url, sizeof(p->userinfo_url), "%s", o->userinfo_url);
		p->scope = o->scope ? o->scope : "";
		return 0;
	}
	return -1;
}

/* Start a URL whose query add_param() then extends. */
static void
url_start(struct evbuffer *b, const char *url)
{
	evbuffer_add_printf(b, "%s%c", url, strchr(url, '?') ? '&' : '?');
}

/*
 * Append name=value, URL-encoded, to a query or form body in b, with a
 * '&' unless b is empty or ends in '?' or '&' (see url_start).
 */
static void
add_param(struct evbuffer *b, const char *name, const char *value)
{
	char *enc = evhttp_uriencode(value, -1, 0);
	size_t len = evbuffer_get_length(b);
	char last = len ? (char)evbuffer_pullup(b, -1)[len - 1] : '?';

	evbuffer_add_printf(b, "%s%s=%s", last == '?' || last == '&' ? "" : "&", name,
	    enc ? enc : "");
	free(enc);
}

/* The buffer's contents as a string (malloc'd). */
static char *
buf_string(struct evbuffer *b)
{
	size_t n = evbuffer_get_length(b);
	char *s = xmalloc(n + 1);

	evbuffer_remove(b, s, n);
	s[n] = '\0';
	return s;
}

static void
redirect(struct req *r, const char *location)
{
	evhttp_add_header(evhttp_request_get_output_headers(r->ev), "Location", location);
	evhttp_add_header(evhttp_request_get_output_headers(r->ev), "Cache-Control", "no-store");
	http_reply_raw(r, 302, NULL, "", 0);
}

/* 1 if next is a same-site path we may redirect to. */
static int
next_ok(const char *next)
{
	if (next == NULL || next[0] != '/' || next[1] == '/' || strlen(next) > NEXT_MAX)
		return 0;
	for (const char *p = next; *p; p++)
		if (*p <= 0x20 || *p >= 0x7f || *p == '\\')
			return 0;
	return 1;
}

/* ---- GET /auth/providers ---- */

static void
auth_providers(struct req *r)
{
	const struct config *cfg = worker_config();
	json_t *list = json_array();

	if (cfg->auth_mock_provider)
		json_array_append_new(list, json_pack("{s:s,s:s}", "name", "mock",
		    "login_url", "/auth/login/mock"));
	for (int i = 0; i < cfg->n_oauth; i++) {
		char url[256];

		snprintf(url, sizeof(url), "/auth/login/%s", cfg->oauth[i].name);
		json_array_append_new(list, json_pack("{s:s,s:s}", "name", cfg->oauth[i].name,
		    "login_url", url));
	}
	http_reply_json(r, 200, json_pack("{s:o}", "providers", list));
}

/* ---- GET /auth/login/{provider} ---- */

static void
auth_login(struct req *r)
{
	char base[BASE_MAX], state[CRYPTO_SECRET_LEN], verifier[CRYPTO_SECRET_LEN];
	char challenge[CRYPTO_SECRET_LEN], redirect_uri[BASE_MAX + 64];
	const char *next = http_query(r, "next"), *v;
	struct provider p;
	struct evbuffer *b;
	char *url;

	if (base_url(r, base, sizeof(base)) < 0)
		return;
	if (provider_find(r->param[0], base, &p) < 0) {
		http_error(r, 404, NULL, "no such login provider");
		return;
	}
	if (!next_ok(next))
		next = "/app";
	if (crypto_secret("", state, sizeof(state)) < 0 ||
	    crypto_secret("", verifier, sizeof(verifier)) < 0) {
		http_error(r, 500, NULL, "internal error");
		return;
	}
	crypto_pkce_s256(verifier, challenge);
	if (store_sessions_state_put(state, p.name, verifier, next) < 0) {
		http_db_error(r);
		return;
	}
	snprintf(redirect_uri, sizeof(redirect_uri), "%s/auth/callback/%s", base, p.name);
	b = evbuffer_new();
	url_start(b, p.authorize_url);
	add_param(b, "response_type", "code");
	add_param(b, "client_id", p.client_id);
	add_param(b, "redirect_uri", redirect_uri);
	add_param(b, "state", state);
	add_param(b, "code_challenge", challenge);
	add_param(b, "code_challenge_method", "S256");
	if (p.scope[0])
		add_param(b, "scope", p.scope);
	if ((v = http_query(r, "login_hint")) != NULL)
		add_param(b, "login_hint", v);
	if ((v = http_query(r, "name")) != NULL)
		add_param(b, "name", v);
	url = buf_string(b);
	evbuffer_free(b);
	redirect(r, url);
	free(url);
}

/* ---- the mock provider ---- */

/* Answer 404 unless the mock provider is on. */
static int
mock_enabled(struct req *r)
{
	if (worker_config()->auth_mock_provider)
		return 1;
	http_error(r, 404, NULL, "no such resource");
	return 0;
}

/*
 * Parse an application/x-www-form-urlencoded body into q (initialised
 * here; clear it with evhttp_clear_headers).  0, or -1 answered.
 */
static int
form_parse(struct req *r, struct evkeyvalq *q)
{
	const char *ct = evhttp_find_header(evhttp_request_get_input_headers(r->ev),
	    "Content-Type");
	struct evbuffer *in = evhttp_request_get_input_buffer(r->ev);
	size_t len = evbuffer_get_length(in);
	char *s;
	int rc;

	TAILQ_INIT(q);
	if (ct == NULL || strncasecmp(ct, "application/x-www-form-urlencoded", 33) != 0) {
		http_error(r, 415, NULL, "expected Content-Type: application/x-www-form-urlencoded");
		return -1;
	}
	if (len > FORM_MAX) {
		http_error(r, 413, NULL, "the form is larger than %d bytes", FORM_MAX);
		return -1;
	}
	s = xmalloc(len + 1);
	evbuffer_copyout(in, s, len);
	s[len] = '\0';
	rc = evhttp_parse_query_str(s, q);
	free(s);
	if (rc < 0) {
		evhttp_clear_headers(q);
		http_error(r, 400, NULL, "malformed form body");
		return -1;
	}
	return 0;
}

/* HTML-escape s into b. */
static void
html_escape(struct evbuffer *b, const char *s)
{
	for (; s && *s; s++) {
		switch (*s) {
		case '&': evbuffer_add(b, "&amp;", 5); break;
		case '<': evbuffer_add(b, "&lt;", 4); break;
		case '>': evbuffer_add(b, "&gt;", 4); break;
		case '"': evbuffer_add(b, "&quot;", 6); break;
		case '\'': evbuffer_add(b, "&#39;", 5); break;
		default: evbuffer_add(b, s, 1); break;
		}
	}
}

static void
hidden(struct evbuffer *b, const char *name, const char *value)
{
	evbuffer_add_printf(b, "<input type=\"hidden\" name=\"%s\" value=\"", name);
	html_escape(b, value);
	evbuffer_add(b, "\">\n", 3);
}

static void
mock_form(struct req *r, struct evkeyvalq *q)
{
	static const char *const keep[] = { "response_type", "client_id", "redirect_uri",
	    "state", "code_challenge", "code_challenge_method", "scope", NULL };
	struct evbuffer *b = evbuffer_new();
	size_t n;

	evbuffer_add_printf(b, "<!doctype html>\n<html><head><meta charset=\"utf-8\">"
	    "<title>Mock login</title></head><body>\n<h1>Mock OAuth provider</h1>\n"
	    "<p>For development only: whoever you name here is logged in.</p>\n"
	    "<form method=\"post\" action=\"/auth/mock/authorize\">\n");
	for (int i = 0; keep[i]; i++) {
		const char *v = evhttp_find_header(q, keep[i]);

		if (v)
			hidden(b, keep[i], v);
	}
	evbuffer_add_printf(b, "<label>Login <input name=\"login_hint\" required "
	    "maxlength=\"64\" pattern=\"[A-Za-z0-9._@-]+\"></label>\n"
	    "<label>Display name <input name=\"name\" maxlength=\"64\"></label>\n"
	    "<button type=\"submit\">Log in</button>\n</form>\n</body></html>\n");
	n = evbuffer_get_length(b);
	evhttp_add_header(evhttp_request_get_output_headers(r->ev), "Cache-Control", "no-store");
	http_reply_raw(r, 200, "text/html; charset=utf-8", evbuffer_pullup(b, -1), n);
	evbuffer_free(b);
}

/* A provider subject we accept from the mock: 1-64 of [A-Za-z0-9._@-]. */
static int
mock_login_ok(const char *s)
{
	size_t n = strlen(s);

	return n >= 1 && n <= 64 && strspn(s, "abcdefghijklmnopqrstuvwxyz"
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._@-") == n;
}

/* GET and POST /auth/mock/authorize: q holds the request's parameters. */
static void
mock_authorize(struct req *r, struct evkeyvalq *q)
{
	char base[BASE_MAX], want_uri[BASE_MAX + 64], code[CRYPTO_SECRET_LEN];
	const char *rt = evhttp_find_header(q, "response_type");
	const char *cid = evhttp_find_header(q, "client_id");
	const char *uri = evhttp_find_header(q, "redirect_uri");
	const char *state = evhttp_find_header(q, "state");
	const char *ch = evhttp_find_header(q, "code_challenge");
	const char *chm = evhttp_find_header(q, "code_challenge_method");
	const char *login = evhttp_find_header(q, "login_hint");
	const char *name = evhttp_find_header(q, "name");
	struct evbuffer *b;
	json_t *check;
	char *url;

	if (base_url(r, base, sizeof(base)) < 0)
		return;
	snprintf(want_uri, sizeof(want_uri), "%s/auth/callback/mock", base);
	if (rt == NULL || strcmp(rt, "code") != 0 || cid == NULL ||
	    strcmp(cid, MOCK_CLIENT_ID) != 0) {
		http_error(r, 400, NULL, "response_type must be code and client_id %s",
		    MOCK_CLIENT_ID);
		return;
	}
	/* Only our own callback: the mock is no open redirector either. */
	if (uri == NULL || strcmp(uri, want_uri) != 0) {
		http_error(r, 400, NULL, "redirect_uri must be %s", want_uri);
		return;
	}
	if (state == NULL || state[0] == '\0' || strlen(state) > 256 || ch == NULL ||
	    strlen(ch) != CRYPTO_SECRET_LEN - 1 || chm == NULL || strcmp(chm, "S256") != 0) {
		http_error(r, 400, NULL, "state, and a code_challenge with method S256, are required");
		return;
	}
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
	check = json_string(name);	/* NULL when not valid UTF-8 */
	if (check == NULL ||
	    utf8_len(name) > (size_t)worker_config()->max_name_length) {
		json_decref(check);
		http_error(r, 400, NULL, "name must be 1-%d characters of UTF-8",
		    worker_config()->max_name_length);
		return;
	}
	json_decref(check);
	if (crypto_secret("", code, sizeof(code)) < 0) {
		http_error(r, 500, NULL, "internal error");
		return;
	}
	if (store_sessions_mock_code_put(code, cid, uri, ch, login, name) < 0) {
		http_db_error(r);
		return;
	}
	b = evbuffer_new();
	url_start(b, uri);
	add_param(b, "code", code);
	add_param(b, "state", state);
	url = buf_string(b);
	evbuffer_free(b);
	redirect(r, url);
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

	if (!mock_enabled(r) || form_parse(r, &form) < 0)
		return;
	mock_authorize(r, &form);
	evhttp_clear_headers(&form);
}

/* Token endpoint errors: the shape of docs/API.md "Errors", with OAuth's error name. */
static void
invalid_grant(struct req *r, const char *why)
{
	http_error(r, 400, NULL, "invalid_grant: %s", why);
}

/* POST /auth/mock/token */
static void
mock_token(struct req *r)
{
	char challenge[CRYPTO_SECRET_LEN], token[CRYPTO_SECRET_LEN];
	char hash[CRYPTO_SHA256_HEX_LEN];
	struct evkeyvalq f;
	struct db_result *row = NULL;
	const char *gt, *code, *uri, *cid, *verifier;
	int rc;

	if (!mock_enabled(r) || form_parse(r, &f) < 0)
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
	crypto_pkce_s256(verifier, challenge);
	if (strcmp(db_text(row, 0, 0), cid) != 0 || strcmp(db_text(row, 0, 1), uri) != 0 ||
	    !crypto_streq(db_text(row, 0, 2), challenge)) {
		invalid_grant(r, "client_id, redirect_uri or code_verifier does not match");
		goto out;
	}
	if (crypto_secret("", token, sizeof(token)) < 0) {
		http_error(r, 500, NULL, "internal error");
		goto out;
	}
	crypto_sha256_hex(token, strlen(token), hash);
	if (store_sessions_mock_token_put(hash, db_text(row, 0, 3), db_text(row, 0, 4)) < 0) {
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
	if (h == NULL || strncasecmp(h, "Bearer ", 7) != 0 || strlen(h + 7) > 256) {
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
	http_reply_json(r, 200, json_pack("{s:s,s:s}", "sub", db_text(row, 0, 0),
	    "name", db_text(row, 0, 1)));
	db_result_free(row);
}

/* ---- GET /auth/callback/{provider} ---- */

/* The client secret of p, read from its file (trimmed), or NULL. */
static char *
client_secret(const struct provider *p)
{
	char buf[512];
	size_t n;
	FILE *f;

	if (p->secret_file == NULL || p->secret_file[0] == '\0')
		return NULL;
	f = fopen(p->secret_file, "r");
	if (f == NULL) {
		log_error("[oauth.%s] client_secret_file %s: %m", p->name, p->secret_file);
		return NULL;
	}
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r' || buf[n - 1] == ' '))
		n--;
	buf[n] = '\0';
	return xstrdup(buf);
}

/* POST a form or GET with a bearer token; the JSON object answered with
 * a 2xx, or NULL with *status (0 when no HTTP answer came). */
static json_t *
fetch_json(const char *method, const char *url, const char *bearer_tok, const char *form,
	   long *status)
{
	char auth[600];
	const char *hdr[4];
	char *body = NULL;
	size_t len = 0;
	json_t *j;
	int n = 0;

	hdr[n++] = "Accept: application/json";
	if (form != NULL)
		hdr[n++] = "Content-Type: application/x-www-form-urlencoded";
	if (bearer_tok != NULL) {
		snprintf(auth, sizeof(auth), "Authorization: Bearer %s", bearer_tok);
		hdr[n++] = auth;
	}
	hdr[n] = NULL;
	if (httpc_init(worker_base()) < 0 ||
	    httpc_request(method, url, hdr, form, form ? strlen(form) : 0,
	    OUTBOUND_TIMEOUT_MS, status, &body, &len) < 0) {
		*status = 0;
		return NULL;
	}
	j = *status / 100 == 2 ? json_loadb(body, len, 0, NULL) : NULL;
	if (*status / 100 == 2 && !json_is_object(j)) {
		log_warn("oauth: %s answered %ld without a JSON object", url, *status);
		json_decref(j);
		j = NULL;
		*status = 502;
	}
	free(body);
	return j;
}

/* A string or integer member of o as text into buf, or NULL. */
static const char *
json_text(json_t *o, const char *key, char *buf, size_t len)
{
	json_t *v = json_object_get(o, key);

	if (json_is_string(v) && json_string_length(v) > 0) {
		snprintf(buf, len, "%s", json_string_value(v));
		return strlen(json_string_value(v)) < len ? buf : NULL;
	}
	if (json_is_integer(v)) {
		snprintf(buf, len, "%lld", (long long)json_integer_value(v));
		return buf;
	}
	return NULL;
}

/* Cut s to at most max code points (s is valid UTF-8). */
static void
utf8_truncate(char *s, size_t max)
{
	size_t cps = 0;

	for (char *p = s; *p; p++)
		if (((unsigned char)*p & 0xc0) != 0x80 && cps++ == max) {
			*p = '\0';
			return;
		}
}

/* The User-Agent, reduced to printable ASCII and 255 bytes. */
static char *
user_agent(struct req *r)
{
	const char *ua = evhttp_find_header(evhttp_request_get_input_headers(r->ev),
	    "User-Agent");
	char *s;

	if (ua == NULL)
		return NULL;
	s = xstrndup(ua, 255);
	for (char *p = s; *p; p++)
		if (*p < 0x20 || *p > 0x7e)
			*p = '?';
	return s;
}

struct login_ctx {
	const char *provider, *login, *name, *token_hash, *csrf, *user_agent;
	int64_t user_id, session_id;
};

static int
login_tx(void *arg)
{
	struct login_ctx *c = arg;

	if (store_users_upsert(c->provider, c->login, c->name, &c->user_id) < 0)
		return -1;
	return store_sessions_create(c->user_id, c->token_hash, c->csrf, c->user_agent,
	    worker_config()->session_ttl, &c->session_id);
}

/* Exchange the code and read the user: *info is the userinfo object, or
 * NULL after answering. */
static json_t *
exchange(struct req *r, const struct provider *p, const char *base, const char *code,
	 const char *verifier)
{
	char redirect_uri[BASE_MAX + 64];
	char *secret = client_secret(p), *form;
	struct evbuffer *b = evbuffer_new();
	json_t *tok, *info;
	long status;

	snprintf(redirect_uri, sizeof(redirect_uri), "%s/auth/callback/%s", base, p->name);
	evbuffer_add_printf(b, "grant_type=authorization_code");
	add_param(b, "code", code);
	add_param(b, "redirect_uri", redirect_uri);
	add_param(b, "client_id", p->client_id);
	add_param(b, "code_verifier", verifier);
	if (secret != NULL) {
		add_param(b, "client_secret", secret);
		explicit_bzero(secret, strlen(secret));
		free(secret);
	}
	form = buf_string(b);
	evbuffer_free(b);
	tok = fetch_json("POST", p->token_url, NULL, form, &status);
	explicit_bzero(form, strlen(form));
	free(form);
	if (tok == NULL) {
		if (status >= 400 && status < 500)
			http_error(r, 400, NULL, "the provider refused the code (HTTP %ld)", status);
		else
			http_error(r, 503, NULL, "the login provider is unavailable");
		return NULL;
	}
	if (!json_is_string(json_object_get(tok, "access_token"))) {
		json_decref(tok);
		http_error(r, 503, NULL, "the login provider sent no access token");
		return NULL;
	}
	info = fetch_json("GET", p->userinfo_url,
	    json_string_value(json_object_get(tok, "access_token")), NULL, &status);
	json_decref(tok);
	if (info == NULL)
		http_error(r, status >= 400 && status < 500 ? 400 : 503, NULL,
		    "cannot read the user from the login provider (HTTP %ld)", status);
	return info;
}

static void
auth_callback(struct req *r)
{
	char base[BASE_MAX], login[LOGIN_MAX + 1], name[512];
	char session[CRYPTO_SECRET_LEN], csrf[CRYPTO_SECRET_LEN];
	char hash[CRYPTO_SHA256_HEX_LEN];
	const char *code = http_query(r, "code"), *state = http_query(r, "state");
	struct db_result *st = NULL;
	struct login_ctx c;
	struct provider p;
	json_t *info = NULL;
	char *ua = NULL, *next = NULL;
	int rc;

	if (base_url(r, base, sizeof(base)) < 0)
		return;
	if (provider_find(r->param[0], base, &p) < 0) {
		http_error(r, 404, NULL, "no such login provider");
		return;
	}
	if (http_query(r, "error") != NULL) {
		http_error(r, 400, NULL, "the provider refused the login: %.100s",
		    http_query(r, "error"));
		return;
	}
	if (code == NULL || code[0] == '\0' || state == NULL || state[0] == '\0' ||
	    strlen(code) > 1024 || strlen(state) > 256) {
		http_error(r, 400, NULL, "code and state are required");
		return;
	}
	rc = store_sessions_state_take(state, &st);
	if (rc < 0) {
		http_db_error(r);
		return;
	}
	if (rc == 0 || strcmp(db_text(st, 0, 0), p.name) != 0) {
		http_error(r, 400, NULL, "unknown, used or expired state; start the login again");
		goto out;
	}
	next = xstrdup(db_text(st, 0, 2));
	/* Network I/O here, outside any transaction. */
	info = exchange(r, &p, base, code, db_text(st, 0, 1));
	if (info == NULL)
		goto out;
	if (json_text(info, "sub", login, sizeof(login)) == NULL &&
	    json_text(info, "id", login, sizeof(login)) == NULL) {
		http_error(r, 503, NULL, "the login provider sent no subject");
		goto out;
	}
	if (json_text(info, "name", name, sizeof(name)) == NULL &&
	    json_text(info, "login", name, sizeof(name)) == NULL)
		snprintf(name, sizeof(name), "%s", login);
	utf8_truncate(name, (size_t)worker_config()->max_name_length);
	if (crypto_secret("", session, sizeof(session)) < 0 ||
	    crypto_secret("", csrf, sizeof(csrf)) < 0) {
		http_error(r, 500, NULL, "internal error");
		goto out;
	}
	crypto_sha256_hex(session, strlen(session), hash);
	ua = user_agent(r);
	memset(&c, 0, sizeof(c));
	c.provider = p.name;
	c.login = login;
	c.name = name;
	c.token_hash = hash;
	c.csrf = csrf;
	c.user_agent = ua;
	if (db_tx(login_tx, &c) < 0) {
		http_db_error(r);
		goto out;
	}
	log_info("login: user %lld (%s:%s), session %lld", (long long)c.user_id, p.name,
	    login, (long long)c.session_id);
	auth_set_cookies(r, session, csrf);
	redirect(r, next_ok(next) ? next : "/app");
out:
	explicit_bzero(session, sizeof(session));
	json_decref(info);
	db_result_free(st);
	free(next);
	free(ua);
}

/* ---- POST /auth/logout ---- */

static void
auth_logout(struct req *r)
{
	if (store_sessions_delete(r->user_id, r->session_id) < 0) {
		http_db_error(r);
		return;
	}
	auth_clear_cookies(r);
	http_reply_json(r, 204, NULL);
}

const struct route routes_auth[] = {
	{ EVHTTP_REQ_GET, "/auth/providers", MAIN, PUBLIC, NONE, auth_providers },
	{ EVHTTP_REQ_GET, "/auth/login/{provider}", MAIN, PUBLIC, NONE, auth_login },
	{ EVHTTP_REQ_GET, "/auth/callback/{provider}", MAIN, PUBLIC, NONE, auth_callback },
	{ EVHTTP_REQ_GET, "/auth/mock/authorize", MAIN, PUBLIC, NONE, mock_authorize_get },
	{ EVHTTP_REQ_POST, "/auth/mock/authorize", MAIN, PUBLIC, NONE, mock_authorize_post },
	{ EVHTTP_REQ_POST, "/auth/mock/token", MAIN, PUBLIC, NONE, mock_token },
	{ EVHTTP_REQ_GET, "/auth/mock/userinfo", MAIN, PUBLIC, NONE, mock_userinfo },
	{ EVHTTP_REQ_POST, "/auth/logout", MAIN, SESSION, NONE, auth_logout },
	{ 0 },
};
