/*
 * routes_auth.c -- logging in through an OAuth provider, and logging out.
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
 *                       httpc, the loop never blocks -- then has the store
 *                       create or find the user and open a session in one
 *                       transaction (store_sessions_login), sets the
 *                       cookies and 302s to next.
 *
 * The providers are the [oauth.*] sections, plus the mock provider when
 * [auth] mock_provider is on: that one is served by cofferd itself
 * (mock_provider.c) and called over HTTP like a real one, its URLs built
 * from where users reach us, like redirect_uri (url_base).
 *
 * "next" is only ever a same-site path (url_same_site_path), else it
 * becomes /app.  That closes the open redirect.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>
#include <event2/http.h>

#include "src/config.h"
#include "src/crypto.h"
#include "src/db/db.h"
#include "src/log.h"
#include "src/store/sessions.h"
#include "src/util.h"
#include "worker/auth.h"
#include "worker/http.h"
#include "worker/httpc.h"
#include "worker/router.h"
#include "worker/routes.h"
#include "worker/url.h"
#include "worker/worker.h"

#define MOCK_CLIENT_ID	"coffer"	/* mock_provider.c's, like a config entry */
#define OUTBOUND_TIMEOUT_MS	10000L
#define LOGIN_MAX	255	/* provider subjects */

/* A provider as the flow needs it (the mock's URLs point at ourselves). */
struct provider {
	const char *name;
	const char *client_id;
	const char *secret_file;	/* NULL for the mock */
	char authorize_url[URL_BASE_MAX + 64];
	char token_url[URL_BASE_MAX + 64];
	char userinfo_url[URL_BASE_MAX + 64];
	const char *scope;
};

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
	char base[URL_BASE_MAX], state[CRYPTO_SECRET_LEN], verifier[CRYPTO_SECRET_LEN];
	char challenge[CRYPTO_SECRET_LEN];
	const char *next = http_query(r, "next"), *v;
	struct provider p;
	struct evbuffer *b;
	char *redirect_uri, *url;

	if (url_base(r, base, sizeof(base)) < 0)
		return;
	if (provider_find(r->param[0], base, &p) < 0) {
		http_error(r, 404, NULL, "no such login provider");
		return;
	}
	if (!url_same_site_path(next))
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
	redirect_uri = url_callback(base, p.name);
	b = evbuffer_new();
	url_start(b, p.authorize_url);
	url_add_param(b, "response_type", "code");
	url_add_param(b, "client_id", p.client_id);
	url_add_param(b, "redirect_uri", redirect_uri);
	free(redirect_uri);
	url_add_param(b, "state", state);
	url_add_param(b, "code_challenge", challenge);
	url_add_param(b, "code_challenge_method", "S256");
	if (p.scope[0])
		url_add_param(b, "scope", p.scope);
	if ((v = http_query(r, "login_hint")) != NULL)
		url_add_param(b, "login_hint", v);
	if ((v = http_query(r, "name")) != NULL)
		url_add_param(b, "name", v);
	url = url_string(b);
	evbuffer_free(b);
	url_redirect(r, url);
	free(url);
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

/* Exchange the code and read the user: *info is the userinfo object, or
 * NULL after answering. */
static json_t *
exchange(struct req *r, const struct provider *p, const char *base, const char *code,
	 const char *verifier)
{
	char *secret = client_secret(p), *redirect_uri = url_callback(base, p->name), *form;
	struct evbuffer *b = evbuffer_new();
	json_t *tok, *info;
	long status;

	evbuffer_add_printf(b, "grant_type=authorization_code");
	url_add_param(b, "code", code);
	url_add_param(b, "redirect_uri", redirect_uri);
	free(redirect_uri);
	url_add_param(b, "client_id", p->client_id);
	url_add_param(b, "code_verifier", verifier);
	if (secret != NULL) {
		url_add_param(b, "client_secret", secret);
		explicit_bzero(secret, strlen(secret));
		free(secret);
	}
	form = url_string(b);
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

/*
 * The person userinfo names: the provider's subject into login ("sub",
 * else "id") and a display name into name ("name", else "login", else the
 * subject), cut to [limits] max_name_length.  0, or -1 without a subject.
 */
static int
person(json_t *info, char *login, size_t login_len, char *name, size_t name_len)
{
	if (json_text(info, "sub", login, login_len) == NULL &&
	    json_text(info, "id", login, login_len) == NULL)
		return -1;
	if (json_text(info, "name", name, name_len) == NULL &&
	    json_text(info, "login", name, name_len) == NULL)
		snprintf(name, name_len, "%s", login);
	utf8_truncate(name, (size_t)worker_config()->max_name_length);
	return 0;
}

/* Log (provider, login) in: the store creates or finds the user and opens
 * a session, and the cookies carry it.  0, or -1 after answering. */
static int
open_session(struct req *r, const char *provider, const char *login, const char *name)
{
	char session[CRYPTO_SECRET_LEN], csrf[CRYPTO_SECRET_LEN];
	char hash[CRYPTO_SHA256_HEX_LEN];
	struct session_login in;
	int64_t user_id, session_id;
	char *ua;
	int rc;

	if (crypto_secret("", session, sizeof(session)) < 0 ||
	    crypto_secret("", csrf, sizeof(csrf)) < 0) {
		explicit_bzero(session, sizeof(session));
		http_error(r, 500, NULL, "internal error");
		return -1;
	}
	crypto_sha256_hex(session, strlen(session), hash);
	ua = user_agent(r);
	in = (struct session_login){ .provider = provider, .login = login,
	    .display_name = name, .token_hash = hash, .csrf = csrf, .user_agent = ua,
	    .ttl_ms = worker_config()->session_ttl };
	rc = store_sessions_login(&in, &user_id, &session_id);
	free(ua);
	if (rc < 0) {
		http_db_error(r);
	} else {
		log_info("login: user %lld (%s:%s), session %lld", (long long)user_id,
		    provider, login, (long long)session_id);
		auth_set_cookies(r, session, csrf);
	}
	explicit_bzero(session, sizeof(session));
	return rc;
}

static void
auth_callback(struct req *r)
{
	char base[URL_BASE_MAX], login[LOGIN_MAX + 1], name[512];
	const char *code = http_query(r, "code"), *state = http_query(r, "state");
	const char *next;
	struct db_result *st = NULL;
	struct provider p;
	json_t *info = NULL;
	int rc;

	if (url_base(r, base, sizeof(base)) < 0)
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
	if (rc == 0 || strcmp(db_text(st, 0, OAUTH_STATE_PROVIDER), p.name) != 0) {
		http_error(r, 400, NULL, "unknown, used or expired state; start the login again");
		goto out;
	}
	/* Network I/O here, before the store's transaction. */
	info = exchange(r, &p, base, code, db_text(st, 0, OAUTH_STATE_CODE_VERIFIER));
	if (info == NULL)
		goto out;
	if (person(info, login, sizeof(login), name, sizeof(name)) < 0) {
		http_error(r, 503, NULL, "the login provider sent no subject");
		goto out;
	}
	if (open_session(r, p.name, login, name) < 0)
		goto out;
	next = db_text(st, 0, OAUTH_STATE_NEXT_PATH);
	url_redirect(r, url_same_site_path(next) ? next : "/app");
out:
	json_decref(info);
	db_result_free(st);
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
	{ EVHTTP_REQ_POST, "/auth/logout", MAIN, SESSION, NONE, auth_logout },
	{ 0 },
};
