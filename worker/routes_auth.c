/*
 * routes_auth.c -- logging in through an OAuth provider, and logging out.
 *
 * The login is the OAuth 2.0 authorization-code flow with state and PKCE
 * (S256), the same for every provider:
 *
 *   /auth/login/{p}     stores (state, verifier, p, redirect_uri, next and
 *                       the hash of a fresh login cookie), sets that cookie
 *                       and 302s to p's authorize URL with state and the
 *                       verifier's challenge;
 *   provider            authenticates the person, 302s back to
 *                       /auth/callback/{p}?code&state;
 *   /auth/callback/{p}  takes the state (single use, same provider), checks
 *                       that this browser holds the state's login cookie,
 *                       exchanges code + verifier at p's token URL and
 *                       reads p's userinfo -- both over real HTTP through
 *                       httpc, the loop never blocks -- then has the store
 *                       create or find the user and open a session in one
 *                       transaction (store_sessions_login), sets the
 *                       cookies and 302s to next.
 *
 * Login CSRF.  A callback URL carries a valid state and code, so on its
 * own it would log in whichever browser opens it: somebody could start a
 * login to their own account and have another person's browser finish it.
 * The login cookie ties the state to the browser that started the login:
 * coffer_login, HttpOnly, SameSite=Lax (the provider's redirect back is a
 * top-level GET, which Lax lets through), Path=/auth/, living as long as
 * the state.  Only its SHA-256 is stored; the callback compares hashes in
 * constant time.  The callback spends the state before it looks at the
 * cookie, so one that fails the check leaves nothing usable behind, for
 * anybody: the browser the state was issued to starts the login again.
 * Every callback expires the cookie.
 *
 * Server-to-server URLs -- the token and userinfo endpoints -- come from
 * the config only: a provider's [oauth.NAME] section, or for the mock
 * provider (mock_provider.c, served by cofferd itself when [auth]
 * mock_provider is on) where this server reaches itself (url_self).  The
 * Host header shapes only what the browser is sent to: the mock's
 * authorize URL and the redirect_uri (url_base).  The redirect_uri is
 * stored with the state, because the exchange must repeat the one the
 * authorize step got, whatever Host the callback arrives with.
 *
 * Whatever comes from outside is taken whole or refused, never cut to fit
 * a buffer: the provider's access token (up to TOKEN_MAX bytes), the
 * client secret file (up to SECRET_FILE_MAX), the subject (up to
 * LOGIN_MAX).  Two rules cut on purpose, as docs/API.md says: a display
 * name longer than [limits] max_name_length is cut to that many
 * characters (a long name is no reason to refuse a login, and the person
 * can rename themselves), and a session keeps at most UA_MAX bytes of
 * User-Agent, as printable ASCII.
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
#include "worker/events.h"
#include "worker/http.h"
#include "worker/httpc.h"
#include "worker/router.h"
#include "worker/routes.h"
#include "worker/url.h"
#include "worker/worker.h"

#define MOCK_CLIENT_ID	"coffer"	/* mock_provider.c's, like a config entry */
#define OUTBOUND_TIMEOUT_MS	10000L
#define LOGIN_COOKIE	"coffer_login"
#define LOGIN_MAX	255		/* provider subjects, bytes */
#define TOKEN_MAX	(16 * 1024)	/* provider access tokens, bytes */
#define SECRET_FILE_MAX	4096		/* client_secret_file, bytes */
#define ERROR_MAX	64		/* a provider's error code we repeat */
#define UA_MAX		255		/* User-Agent kept with a session */
#define NUM_LEN		24		/* any JSON integer, written out */

/* A provider as the flow needs it; the URLs are the provider's own. */
struct provider {
	const char *name;
	const char *client_id;
	const char *secret_file;	/* NULL for the mock */
	const char *scope;
	char *authorize_url;		/* malloc'd, as are the two below */
	char *token_url;
	char *userinfo_url;
};

/* a followed by b (malloc'd). */
static char *
str_join(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b);
	char *s = xmalloc(la + lb + 1);

	memcpy(s, a, la);
	memcpy(s + la, b, lb + 1);
	return s;
}

static void
provider_free(struct provider *p)
{
	free(p->authorize_url);
	free(p->token_url);
	free(p->userinfo_url);
}

/*
 * Fill p for provider name.  base is where the browser reaches us, for
 * the mock's authorize URL; the callback, which needs no authorize URL,
 * passes NULL.  0, or -1 after answering 404 (no such provider) or 503
 * (the mock provider cannot reach this server, logged by url_self).
 */
static int
provider_find(struct req *r, const char *name, const char *base, struct provider *p)
{
	const struct config *cfg = worker_config();
	char *self;

	memset(p, 0, sizeof(*p));
	if (strcmp(name, "mock") == 0 && cfg->auth_mock_provider) {
		if ((self = url_self()) == NULL) {
			http_error(r, 503, NULL, "the login provider is unavailable");
			return -1;
		}
		p->name = "mock";
		p->client_id = MOCK_CLIENT_ID;
		p->scope = "openid profile";
		if (base != NULL)
			p->authorize_url = str_join(base, "/auth/mock/authorize");
		p->token_url = str_join(self, "/auth/mock/token");
		p->userinfo_url = str_join(self, "/auth/mock/userinfo");
		free(self);
		return 0;
	}
	for (int i = 0; i < cfg->n_oauth; i++) {
		const struct oauth_provider *o = &cfg->oauth[i];

		if (strcmp(o->name, name) != 0)
			continue;
		p->name = o->name;
		p->client_id = o->client_id;
		p->secret_file = o->client_secret_file;
		p->scope = o->scope ? o->scope : "";
		p->authorize_url = xstrdup(o->authorize_url);
		p->token_url = xstrdup(o->token_url);
		p->userinfo_url = xstrdup(o->userinfo_url);
		return 0;
	}
	http_error(r, 404, NULL, "no such login provider");
	return -1;
}

/* Set the login cookie to value for max_age seconds; "" and 0 expire it. */
static void
login_cookie(struct req *r, const char *value, long max_age)
{
	char line[sizeof(LOGIN_COOKIE) + CRYPTO_SECRET_LEN + 96];

	snprintf(line, sizeof(line), "%s=%s; Path=/auth/; Max-Age=%ld; HttpOnly; "
	    "SameSite=Lax%s", LOGIN_COOKIE, value, max_age,
	    worker_config()->cookie_secure ? "; Secure" : "");
	evhttp_add_header(evhttp_request_get_output_headers(r->ev), "Set-Cookie", line);
	explicit_bzero(line, sizeof(line));
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
	for (int i = 0; i < cfg->n_oauth; i++)
		json_array_append_new(list, json_pack("{s:s,s:o}", "name", cfg->oauth[i].name,
		    "login_url", json_sprintf("/auth/login/%s", cfg->oauth[i].name)));
	http_reply_json(r, 200, json_pack("{s:o}", "providers", list));
}

/* ---- GET /auth/login/{provider} ---- */

static void
auth_login(struct req *r)
{
	char state[CRYPTO_SECRET_LEN], verifier[CRYPTO_SECRET_LEN];
	char cookie[CRYPTO_SECRET_LEN], challenge[CRYPTO_SECRET_LEN];
	char cookie_hash[CRYPTO_SHA256_HEX_LEN];
	const char *next = http_query(r, "next"), *v;
	struct oauth_state in;
	struct provider p;
	struct evbuffer *b;
	char *base, *redirect_uri, *url;

	if ((base = url_base(r)) == NULL)
		return;
	if (provider_find(r, r->param[0], base, &p) < 0) {
		free(base);
		return;
	}
	redirect_uri = url_callback(base, p.name);
	free(base);
	if (!url_same_site_path(next))
		next = "/app";
	if (crypto_secret("", state, sizeof(state)) < 0 ||
	    crypto_secret("", verifier, sizeof(verifier)) < 0 ||
	    crypto_secret("", cookie, sizeof(cookie)) < 0) {
		http_error(r, 500, NULL, "internal error");
		goto out;
	}
	crypto_pkce_s256(verifier, challenge);
	crypto_sha256_hex(cookie, strlen(cookie), cookie_hash);
	in = (struct oauth_state){ .state = state, .provider = p.name, .verifier = verifier,
	    .cookie_hash = cookie_hash, .redirect_uri = redirect_uri, .next_path = next };
	if (store_sessions_state_put(&in) < 0) {
		http_db_error(r);
		goto out;
	}
	login_cookie(r, cookie, STORE_OAUTH_TTL_MS / 1000);
	b = evbuffer_new();
	url_start(b, p.authorize_url);
	url_add_param(b, "response_type", "code");
	url_add_param(b, "client_id", p.client_id);
	url_add_param(b, "redirect_uri", redirect_uri);
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
out:
	explicit_bzero(verifier, sizeof(verifier));
	explicit_bzero(cookie, sizeof(cookie));
	free(redirect_uri);
	provider_free(&p);
}

/* ---- GET /auth/callback/{provider} ---- */

/*
 * The client secret of p into *out (malloc'd; NULL when p has none): its
 * client_secret_file, whole, less trailing white space.  0, or -1
 * (logged) when the file cannot be read, is larger than SECRET_FILE_MAX,
 * holds a NUL byte or is empty: a cut or garbled secret would only have
 * the provider refuse every login, with nothing in our log to say why.
 */
static int
client_secret(const struct provider *p, char **out)
{
	char too_big[48];
	const char *why = NULL;
	char *buf;
	size_t n;
	FILE *f;

	*out = NULL;
	if (p->secret_file == NULL || p->secret_file[0] == '\0')
		return 0;
	if ((f = fopen(p->secret_file, "r")) == NULL) {
		log_error("[oauth.%s] client_secret_file %s: %m", p->name, p->secret_file);
		return -1;
	}
	buf = xmalloc(SECRET_FILE_MAX + 2);
	n = fread(buf, 1, SECRET_FILE_MAX + 1, f);
	if (ferror(f))
		why = "cannot be read";
	else if (n > SECRET_FILE_MAX) {
		snprintf(too_big, sizeof(too_big), "is larger than %d bytes", SECRET_FILE_MAX);
		why = too_big;
	}
	else if (memchr(buf, '\0', n) != NULL)
		why = "holds a NUL byte";
	fclose(f);
	while (why == NULL && n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r' ||
	    buf[n - 1] == ' ' || buf[n - 1] == '\t'))
		n--;
	if (why == NULL && n == 0)
		why = "is empty";
	if (why != NULL) {
		log_error("[oauth.%s] client_secret_file %s %s", p->name, p->secret_file, why);
		explicit_bzero(buf, SECRET_FILE_MAX + 2);
		free(buf);
		return -1;
	}
	buf[n] = '\0';
	*out = buf;
	return 0;
}

/* POST a form or GET with a bearer token; the JSON object answered with
 * a 2xx, or NULL with *status (0 when no HTTP answer came). */
static json_t *
fetch_json(const char *method, const char *url, const char *bearer_tok, const char *form,
	   long *status)
{
	static const char bearer[] = "Authorization: Bearer ";
	const char *hdr[4];
	char *auth = NULL, *body = NULL;
	size_t len = 0;
	json_t *j;
	int n = 0;

	hdr[n++] = "Accept: application/json";
	if (form != NULL)
		hdr[n++] = "Content-Type: application/x-www-form-urlencoded";
	if (bearer_tok != NULL) {
		/* As long as the token is: providers' JWTs run to kilobytes. */
		auth = str_join(bearer, bearer_tok);
		hdr[n++] = auth;
	}
	hdr[n] = NULL;
	if (httpc_init(worker_base()) < 0 ||
	    httpc_request(method, url, hdr, form, form ? strlen(form) : 0,
	    OUTBOUND_TIMEOUT_MS, status, &body, &len) < 0) {
		*status = 0;
		j = NULL;
		goto out;
	}
	j = *status / 100 == 2 ? json_loadb(body, len, 0, NULL) : NULL;
	if (*status / 100 == 2 && !json_is_object(j)) {
		log_warn("oauth: %s answered %ld without a JSON object", url, *status);
		json_decref(j);
		j = NULL;
		*status = 502;
	}
out:
	if (auth != NULL) {
		explicit_bzero(auth, strlen(auth));
		free(auth);
	}
	free(body);
	return j;
}

/* 1 if tok can go into an Authorization header: 1 to TOKEN_MAX visible
 * ASCII characters (RFC 6750's b64token is narrower still). */
static int
token_ok(const char *tok)
{
	size_t n = strlen(tok);

	if (n == 0 || n > TOKEN_MAX)
		return 0;
	for (size_t i = 0; i < n; i++)
		if (tok[i] < 0x21 || tok[i] > 0x7e)
			return 0;
	return 1;
}

/* A member of o as text: a non-empty string as it is, an integer written
 * out into num (NUM_LEN bytes).  NULL when it is neither. */
static const char *
json_text(json_t *o, const char *key, char *num)
{
	json_t *v = json_object_get(o, key);

	if (json_is_string(v) && json_string_length(v) > 0)
		return json_string_value(v);
	if (json_is_integer(v)) {
		snprintf(num, NUM_LEN, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
		return num;
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

/* The User-Agent, as at most UA_MAX bytes of printable ASCII (the rule
 * docs/API.md gives for a session's user_agent). */
static char *
user_agent(struct req *r)
{
	const char *ua = evhttp_find_header(evhttp_request_get_input_headers(r->ev),
	    "User-Agent");
	char *s;

	if (ua == NULL)
		return NULL;
	s = xstrndup(ua, UA_MAX);
	for (char *p = s; *p; p++)
		if (*p < 0x20 || *p > 0x7e)
			*p = '?';
	return s;
}

/* Exchange the code and read the user: the userinfo object, or NULL after
 * answering.  redirect_uri is the one the authorize step was given. */
static json_t *
exchange(struct req *r, const struct provider *p, const char *redirect_uri,
	 const char *code, const char *verifier)
{
	struct evbuffer *b;
	char *secret, *form;
	json_t *tok, *at, *info;
	long status;

	if (client_secret(p, &secret) < 0) {
		http_error(r, 500, NULL, "the login provider is misconfigured");
		return NULL;
	}
	b = evbuffer_new();
	evbuffer_add_printf(b, "grant_type=authorization_code");
	url_add_param(b, "code", code);
	url_add_param(b, "redirect_uri", redirect_uri);
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
	at = json_object_get(tok, "access_token");
	if (!json_is_string(at) || !token_ok(json_string_value(at))) {
		if (json_is_string(at))
			log_warn("oauth: %s sent an access token that is empty, longer than "
			    "%d bytes or not visible ASCII", p->token_url, TOKEN_MAX);
		else
			log_warn("oauth: %s sent no access token", p->token_url);
		json_decref(tok);
		http_error(r, 503, NULL, "the login provider sent no usable access token");
		return NULL;
	}
	info = fetch_json("GET", p->userinfo_url, json_string_value(at), NULL, &status);
	json_decref(tok);
	if (info == NULL)
		http_error(r, status >= 400 && status < 500 ? 400 : 503, NULL,
		    "cannot read the user from the login provider (HTTP %ld)", status);
	return info;
}

/*
 * The person userinfo names, into *login and *name (malloc'd): the
 * provider's subject ("sub", else "id"), whole, and a display name
 * ("name", else "login", else the subject) cut to [limits]
 * max_name_length characters, the documented rule.  0, or -1 after
 * answering 503: no subject, or one over LOGIN_MAX bytes, which would
 * name a different account if it were cut.
 */
static int
person(struct req *r, json_t *info, char **login, char **name)
{
	size_t max = (size_t)worker_config()->max_name_length;
	char sub_num[NUM_LEN], name_num[NUM_LEN];
	const char *sub, *dn;

	if ((sub = json_text(info, "sub", sub_num)) == NULL &&
	    (sub = json_text(info, "id", sub_num)) == NULL) {
		http_error(r, 503, NULL, "the login provider sent no subject");
		return -1;
	}
	if (strlen(sub) > LOGIN_MAX) {
		log_warn("oauth: a subject of %zu bytes, over %d", strlen(sub), LOGIN_MAX);
		http_error(r, 503, NULL, "the login provider sent a subject longer than %d "
		    "bytes", LOGIN_MAX);
		return -1;
	}
	if ((dn = json_text(info, "name", name_num)) == NULL &&
	    (dn = json_text(info, "login", name_num)) == NULL)
		dn = sub;
	*login = xstrdup(sub);
	*name = xstrdup(dn);
	if (utf8_len(*name) > max) {
		utf8_truncate(*name, max);
		log_info("login: the display name from the provider is cut to %zu characters",
		    max);
	}
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

/* The provider sent error= instead of a code: 400, repeating its error
 * code only when it looks like one (RFC 6749 4.1.2.1), never cut. */
static void
provider_refused(struct req *r, const char *error)
{
	size_t n = strlen(error);

	for (size_t i = 0; i < n && n <= ERROR_MAX; i++)
		if (error[i] < 0x20 || error[i] > 0x7e || error[i] == '"' ||
		    error[i] == '\\') {
			n = 0;
			break;
		}
	if (n == 0 || n > ERROR_MAX)
		http_error(r, 400, NULL, "the provider refused the login");
	else
		http_error(r, 400, NULL, "the provider refused the login: %s", error);
}

/*
 * 1 if r comes from the browser the state row (enum oauth_state_col) was
 * issued to, which holds the login cookie hashing to its cookie_hash;
 * else 0 after answering 400.
 */
static int
same_browser(struct req *r, const struct db_result *st, const char *provider)
{
	char cookie[CRYPTO_SECRET_LEN], hash[CRYPTO_SHA256_HEX_LEN];
	int have, same;

	/* A cookie of any other length is not one we set. */
	have = auth_cookie(r, LOGIN_COOKIE, cookie, sizeof(cookie)) == 0 &&
	    strlen(cookie) == CRYPTO_SECRET_LEN - 1;
	if (have)
		crypto_sha256_hex(cookie, strlen(cookie), hash);
	explicit_bzero(cookie, sizeof(cookie));
	same = have && crypto_streq(hash, db_text(st, 0, OAUTH_STATE_COOKIE_HASH));
	if (same)
		return 1;
	log_warn("login: a %s callback from a browser %s; refused", provider,
	    have ? "that did not start that login" : "without the login cookie");
	http_error(r, 400, NULL, "this login was not started in this browser (%s); start "
	    "the login again", have ? "the login cookie does not match" :
	    "no login cookie");
	return 0;
}

static void
auth_callback(struct req *r)
{
	const char *code = http_query(r, "code"), *state = http_query(r, "state");
	const char *next;
	char *login = NULL, *name = NULL;
	struct db_result *st = NULL;
	struct provider p;
	json_t *info = NULL;
	int rc;

	if (provider_find(r, r->param[0], NULL, &p) < 0)
		return;
	/* Whatever follows, this browser's login attempt ends here. */
	login_cookie(r, "", 0);
	if (http_query(r, "error") != NULL) {
		provider_refused(r, http_query(r, "error"));
		goto out;
	}
	if (code == NULL || code[0] == '\0' || state == NULL || state[0] == '\0' ||
	    strlen(code) > 1024 || strlen(state) > 256) {
		http_error(r, 400, NULL, "code and state are required");
		goto out;
	}
	rc = store_sessions_state_take(state, &st);
	if (rc < 0) {
		http_db_error(r);
		goto out;
	}
	if (rc == 0 || strcmp(db_text(st, 0, OAUTH_STATE_PROVIDER), p.name) != 0) {
		http_error(r, 400, NULL, "unknown, used or expired state; start the login again");
		goto out;
	}
	/* The state is spent: a browser that fails this check used it up. */
	if (!same_browser(r, st, p.name))
		goto out;
	/* Network I/O here, before the store's transaction. */
	info = exchange(r, &p, db_text(st, 0, OAUTH_STATE_REDIRECT_URI), code,
	    db_text(st, 0, OAUTH_STATE_CODE_VERIFIER));
	if (info == NULL || person(r, info, &login, &name) < 0 ||
	    open_session(r, p.name, login, name) < 0)
		goto out;
	next = db_text(st, 0, OAUTH_STATE_NEXT_PATH);
	url_redirect(r, url_same_site_path(next) ? next : "/app");
out:
	free(login);
	free(name);
	json_decref(info);
	db_result_free(st);
	provider_free(&p);
}

/* ---- POST /auth/logout ---- */

static void
auth_logout(struct req *r)
{
	if (store_sessions_delete(r->user_id, r->session_id) < 0) {
		http_db_error(r);
		return;
	}
	events_publish_revoked(r->user_id, r->session_id, 0);
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
