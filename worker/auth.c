/*
 * auth.c -- authenticating requests.
 *
 * Secrets are never compared in the database by value: the presented
 * secret is hashed (SHA-256) and the hash looked up through its unique
 * index, so timing reveals nothing about stored secrets, and the CSRF and
 * ops tokens, which are compared in memory, go through crypto_streq().
 */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "src/crypto.h"
#include "src/log.h"
#include "src/ratelimit.h"
#include "src/store/sessions.h"
#include "src/store/tokens.h"
#include "src/util.h"
#include "src/store/groups.h"
#include "worker/auth.h"
#include "worker/worker.h"

/* Longest credential we bother hashing; anything longer is not ours. */
#define CRED_MAX 256

int
auth_cookie(struct req *r, const char *name, char *buf, size_t len)
{
	const char *h = evhttp_find_header(evhttp_request_get_input_headers(r->ev), "Cookie");
	size_t nlen = strlen(name);

	if (h == NULL)
		return -1;
	/* "a=1; b=2": pairs separated by ';' and optional spaces. */
	while (*h) {
		const char *end;
		size_t vlen;

		while (*h == ' ' || *h == ';')
			h++;
		end = strchr(h, ';');
		if (end == NULL)
			end = h + strlen(h);
		if ((size_t)(end - h) > nlen && strncmp(h, name, nlen) == 0 && h[nlen] == '=') {
			h += nlen + 1;
			vlen = (size_t)(end - h);
			while (vlen > 0 && h[vlen - 1] == ' ')
				vlen--;
			if (vlen + 1 > len)
				return -1;
			memcpy(buf, h, vlen);
			buf[vlen] = '\0';
			return 0;
		}
		h = end;
	}
	return -1;
}

static void
set_cookie(struct req *r, const char *name, const char *value, long max_age, int httponly)
{
	char line[256];

	snprintf(line, sizeof(line), "%s=%s; Path=/; Max-Age=%ld; SameSite=Lax%s%s", name,
	    value, max_age, httponly ? "; HttpOnly" : "",
	    worker_config()->cookie_secure ? "; Secure" : "");
	evhttp_add_header(evhttp_request_get_output_headers(r->ev), "Set-Cookie", line);
}

void
auth_set_cookies(struct req *r, const char *session, const char *csrf)
{
	long ttl = (long)(worker_config()->session_ttl / 1000);

	set_cookie(r, AUTH_SESSION_COOKIE, session, ttl, 1);
	set_cookie(r, AUTH_CSRF_COOKIE, csrf, ttl, 0);
}

void
auth_clear_cookies(struct req *r)
{
	set_cookie(r, AUTH_SESSION_COOKIE, "", 0, 1);
	set_cookie(r, AUTH_CSRF_COOKIE, "", 0, 0);
}

/*
 * 1 after answering 429 when r's bucket of kind (id for tokens and
 * sessions; the client address otherwise) is empty, else 0.  Routes served
 * on the admin listener -- the ops routes and the health probes, which a
 * load balancer polls -- are never limited.
 */
static int
rate_limited(struct req *r, enum ratelimit_kind kind, int64_t id)
{
	const struct config *cfg = worker_config();
	const char *addr = NULL;
	ev_uint16_t port;
	int rate, burst, wait;
	char secs[16];

	if (r->route->listeners & LISTENER_ADMIN)
		return 0;
	switch (kind) {
	case RL_TOKEN:
		rate = cfg->token_rate, burst = cfg->token_burst;
		break;
	case RL_SESSION:
		rate = cfg->session_rate, burst = cfg->session_burst;
		break;
	default:
		rate = cfg->address_rate, burst = cfg->address_burst;
		evhttp_connection_get_peer(evhttp_request_get_connection(r->ev),
		    (char **)&addr, &port);
		break;
	}
	if (kind == RL_ADDRESS && addr == NULL)
		addr = "";
	wait = ratelimit_take(ratelimit_key(kind, id, addr), rate, burst);
	if (wait == 0)
		return 0;
	snprintf(secs, sizeof(secs), "%d", wait);
	evhttp_add_header(evhttp_request_get_output_headers(r->ev), "Retry-After", secs);
	http_error(r, 429, NULL, "too many requests; retry in %d s", wait);
	return 1;
}

/* Refuse r's credentials with status, unless its address is over its rate,
 * which answers 429 instead: guessing tokens costs the guesser's budget. */
static int
refuse(struct req *r, int status, const char *msg)
{
	if (!rate_limited(r, RL_ADDRESS, 0))
		http_error(r, status, NULL, "%s", msg);
	return -1;
}

/* The bearer credential of r, or NULL (no or another Authorization). */
static const char *
bearer(struct req *r)
{
	const char *h = evhttp_find_header(evhttp_request_get_input_headers(r->ev),
	    "Authorization");

	if (h == NULL || strncasecmp(h, "Bearer ", 7) != 0)
		return NULL;
	h += 7;
	while (*h == ' ')
		h++;
	return h;
}

static int
by_token(struct req *r, const char *tok, int flags)
{
	char hash[CRYPTO_SHA256_HEX_LEN];
	int64_t token_id, user_id;
	int rc;

	if (strncmp(tok, STORE_TOKEN_PREFIX, strlen(STORE_TOKEN_PREFIX)) != 0 ||
	    strlen(tok) > CRED_MAX)
		return refuse(r, 401, "invalid bearer token");
	crypto_sha256_hex(tok, strlen(tok), hash);
	rc = store_tokens_lookup(hash, &token_id, &user_id);
	if (rc < 0) {
		http_db_error(r);
		return -1;
	}
	if (rc == 0)
		return refuse(r, 401, "invalid or revoked token");
	if (!(flags & AUTH_TOKEN))
		return refuse(r, 403, "a plugin token cannot do this; use a web session");
	r->user_id = user_id;
	r->token_id = token_id;
	return 0;
}

static int
by_session(struct req *r, const char *cookie)
{
	char hash[CRYPTO_SHA256_HEX_LEN];
	struct session_auth s;
	enum evhttp_cmd_type m = evhttp_request_get_command(r->ev);
	const char *csrf;
	int rc;

	crypto_sha256_hex(cookie, strlen(cookie), hash);
	rc = store_sessions_lookup(hash, &s);
	if (rc < 0) {
		http_db_error(r);
		return -1;
	}
	if (rc == 0)
		return refuse(r, 401, "the session is invalid or expired; log in again");
	if (m != EVHTTP_REQ_GET && m != EVHTTP_REQ_HEAD) {
		csrf = evhttp_find_header(evhttp_request_get_input_headers(r->ev),
		    "X-CSRF-Token");
		if (csrf == NULL || !crypto_streq(csrf, s.csrf))
			return refuse(r, 403, "missing or wrong X-CSRF-Token header");
	}
	r->user_id = s.user_id;
	r->session_id = s.id;
	return 0;
}

int
auth_require(struct req *r, int flags)
{
	char cookie[CRED_MAX];
	const char *tok = bearer(r);

	r->user_id = r->session_id = r->token_id = 0;
	if (tok != NULL)
		return by_token(r, tok, flags);
	if ((flags & AUTH_SESSION) &&
	    auth_cookie(r, AUTH_SESSION_COOKIE, cookie, sizeof(cookie)) == 0 && cookie[0])
		return by_session(r, cookie);
	return refuse(r, 401, "authentication required");
}

/*
 * Read [ops] token_file once: 1 loaded, -1 unreadable or empty.  A failed
 * read is not remembered, so fixing the file needs no restart.
 */
static int
ops_token(const char **out)
{
	static char *token;
	char buf[CRED_MAX + 2];
	size_t n, start = 0;
	FILE *f;

	if (token == NULL) {
		f = fopen(worker_config()->ops_token_file, "r");
		if (f == NULL) {
			log_error("[ops] token_file %s: %s", worker_config()->ops_token_file,
			    strerror(errno));
			return -1;
		}
		n = fread(buf, 1, sizeof(buf) - 1, f);
		fclose(f);
		buf[n] = '\0';
		while (n > 0 && isspace((unsigned char)buf[n - 1]))
			buf[--n] = '\0';
		while (isspace((unsigned char)buf[start]))
			start++;
		if (buf[start] == '\0' || n > CRED_MAX) {
			log_error("[ops] token_file %s: empty or longer than %d bytes",
			    worker_config()->ops_token_file, CRED_MAX);
			return -1;
		}
		token = xstrdup(buf + start);
		explicit_bzero(buf, sizeof(buf));
	}
	*out = token;
	return 1;
}

int
auth_require_ops(struct req *r)
{
	const char *want, *got;

	if (worker_config()->ops_token_file == NULL || worker_config()->ops_token_file[0] == '\0')
		return 0;
	if (ops_token(&want) < 0) {
		http_error(r, 503, NULL, "the ops token is not available");
		return -1;
	}
	got = bearer(r);
	if (got == NULL || !crypto_streq(got, want)) {
		http_error(r, 401, NULL, "ops token required");
		return -1;
	}
	return 0;
}

int
auth_role_at_least(const char *role, enum route_role least)
{
	enum route_role have = strcmp(role, "owner") == 0 ? ROLE_OWNER :
	    strcmp(role, "admin") == 0 ? ROLE_ADMIN : ROLE_MEMBER;

	return have >= least;
}

int
auth_group_role(struct req *r, enum route_role least)
{
	int64_t id = http_path_id(r->param[0]);
	int rc = id ? store_groups_role(id, r->user_id, r->role) : 0;

	if (rc < 0) {
		http_db_error(r);
		return -1;
	}
	if (rc == 0) {
		http_error(r, 404, NULL, "no such group");
		return -1;
	}
	if (!auth_role_at_least(r->role, least)) {
		http_error(r, 403, NULL, "your role in this group does not allow this");
		return -1;
	}
	r->group_id = id;
	return 0;
}

int
auth_route(struct req *r)
{
	const struct route *rt = r->route;
	int rc;

	switch (rt->access) {
	case ACCESS_PUBLIC:
		rc = rate_limited(r, RL_ADDRESS, 0) ? -1 : 0;
		break;
	case ACCESS_SESSION:
		rc = auth_require(r, AUTH_SESSION);
		break;
	case ACCESS_TOKEN:
		rc = auth_require(r, AUTH_TOKEN);
		break;
	case ACCESS_USER:
		rc = auth_require(r, AUTH_SESSION | AUTH_TOKEN);
		break;
	case ACCESS_OPS:
		rc = auth_require_ops(r);
		break;
	default:
		rc = -1;
		http_error(r, 500, NULL, "internal error");
		break;
	}
	if (rc == 0 && r->token_id && rate_limited(r, RL_TOKEN, r->token_id))
		rc = -1;
	else if (rc == 0 && r->session_id && rate_limited(r, RL_SESSION, r->session_id))
		rc = -1;
	if (rc == 0 && rt->role != ROLE_NONE)
		rc = auth_group_role(r, rt->role);
	return rc;
}
