/*
 * auth.h -- who is calling: web sessions, plugin tokens, the ops token.
 *
 * Handlers never call these: the router runs auth_route() on each request
 * before its handler, from the route's access and role (router.h).
 *
 * Sessions: cookie coffer_session.  For any method but GET and HEAD a
 * session-authenticated request must also carry X-CSRF-Token equal to the
 * session's CSRF token (compared in constant time), else 403 forbidden.
 * Plugin tokens: "Authorization: Bearer cfr_..."; no CSRF check, since a
 * browser never sends that header on its own.  When the request carries
 * a bearer token, the token decides (a cookie next to it is ignored).
 */
#ifndef COFFER_AUTH_H
#define COFFER_AUTH_H

#include "worker/http.h"
#include "worker/router.h"

#define AUTH_SESSION	1
#define AUTH_TOKEN	2

#define AUTH_SESSION_COOKIE	"coffer_session"
#define AUTH_CSRF_COOKIE	"coffer_csrf"

/*
 * Authorize r for its route: authenticate as the route's access says, then
 * check the caller's role in group {id} when the route names one.  0, or
 * -1 after answering (see auth_require, auth_require_ops and
 * auth_group_role).
 */
int auth_route(struct req *r);

/*
 * Authenticate r by the means in flags; sets r->user_id and r->session_id
 * or r->token_id.  Returns 0, or -1 after answering 401 unauthorized
 * (missing, invalid, expired or revoked credentials), 403 forbidden (CSRF
 * header missing or wrong; a plugin token where only a session is
 * accepted) or a database error.
 */
int auth_require(struct req *r, int flags);

/*
 * The admin listener's ops token ([ops] token_file).  When a token file is
 * set, every ACCESS_OPS route needs
 * "Authorization: Bearer <the file's contents, trimmed>".  The file is
 * read once per worker, at first use.  Returns 0 (allowed), or -1 after
 * answering 401 (or 503 when the file cannot be read).
 */
int auth_require_ops(struct req *r);

/*
 * Set coffer_session (HttpOnly) and coffer_csrf (readable by scripts, so
 * pages can echo it in X-CSRF-Token): Path=/, SameSite=Lax, Max-Age =
 * [auth] session_ttl, Secure when [auth] cookie_secure.  auth_clear_cookies
 * expires both (Max-Age=0).
 */
void auth_set_cookies(struct req *r, const char *session, const char *csrf);
void auth_clear_cookies(struct req *r);

/* The value of cookie name in r's Cookie header into buf; 0, or -1 when
 * absent or longer than len - 1. */
int auth_cookie(struct req *r, const char *name, char *buf, size_t len);

/*
 * After auth_require: the group named by r->param[0] into r->group_id and
 * the caller's role in it ("owner", "admin", "member") into r->role, if
 * the caller belongs to it with at least role least.  0, or -1 after
 * answering: 404 for a group that does not exist and for one the caller is
 * not in alike, so nobody can probe which ids exist; 403 for too small a
 * role.
 */
int auth_group_role(struct req *r, enum route_role least);

/* 1 if role ("owner", "admin", "member") is at least least, else 0. */
int auth_role_at_least(const char *role, enum route_role least);

#endif
