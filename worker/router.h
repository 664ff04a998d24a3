/*
 * router.h -- the route tables and request dispatch.
 *
 * A route is a method, a path pattern with {name} captures, the listeners
 * it answers on and a handler.  Each area of the API keeps its table beside
 * its handlers (routes_ops.c has routes_ops[], ...); routes.c lists the
 * tables, and that list is the map of the HTTP API.  A route's position in
 * it is also its metrics slot.  A path that
 * matches on another method answers 405 with Allow; a path that matches
 * nothing (or only on the other listener) answers 404.
 *
 * Each route also says who may call it, so the access policy of the whole
 * API reads as the tables: its access (public, a web session, a plugin
 * token, either, or the ops token) and, for routes under a group
 * ("/.../groups/{id}/..."), the least role the caller needs in that group.
 * The router enforces both before the handler runs (worker/auth.h has the
 * answers: 401, 403 for CSRF and roles, 404 for a group the caller is not
 * in), and leaves r->user_id, r->group_id and r->role set.
 *
 * Each matched request runs its handler in a fresh coroutine, so a handler
 * reads straight down: parse, one store call, respond.  The router answers
 * 500 if a handler returns without answering.
 */
#ifndef COFFER_ROUTER_H
#define COFFER_ROUTER_H

#include "worker/http.h"

typedef void (*route_fn)(struct req *r);

/* Who may call a route. */
enum route_access {
	ACCESS_PUBLIC,		/* anyone */
	ACCESS_SESSION,		/* a web session (and X-CSRF-Token on writes) */
	ACCESS_TOKEN,		/* a plugin token */
	ACCESS_USER,		/* a web session or a plugin token */
	ACCESS_OPS,		/* the ops token, when [ops] token_file is set */
};

/* The least role in group {id} (the pattern's first capture); a caller who
 * is not a member gets 404, one with too small a role 403. */
enum route_role { ROLE_NONE, ROLE_MEMBER, ROLE_ADMIN, ROLE_OWNER };

struct route {
	enum evhttp_cmd_type method;
	const char *pattern;		/* "/api/v1/groups/{id}" */
	int listeners;			/* LISTENER_MAIN | LISTENER_ADMIN */
	enum route_access access;
	enum route_role role;
	route_fn handler;
};

/* Every area's table, each ending with an entry whose pattern is NULL;
 * the list ends with NULL (routes.c). */
extern const struct route *const route_tables[];

/* Flatten the tables; once per worker, before serving. */
void router_init(void);

/* Labels for metrics: index 0 is "unmatched", then "GET /healthz"... */
const char *const *router_metric_names(int *n);

/*
 * Match a decoded path against a route pattern.  Returns 1 on a match,
 * with param[0..*nparam) pointing into path at the start of each {name}
 * capture (one non-empty segment, ending at the next '/' or the end of
 * path); at most REQ_MAX_PARAMS captures.  Exported for the fuzz target.
 */
int router_match(const char *pattern, const char *path, const char **param,
		 int *nparam);

/* The evhttp callback; arg is (void *)(intptr_t)enum listener_kind. */
void router_dispatch(struct evhttp_request *ev, void *arg);

#endif
