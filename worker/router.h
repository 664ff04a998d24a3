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
 * Each matched request runs its handler in a fresh coroutine, so a handler
 * reads straight down: parse, authorize, one store call or transaction,
 * respond.  The router answers 500 if a handler returns without answering.
 */
#ifndef COFFER_ROUTER_H
#define COFFER_ROUTER_H

#include "worker/http.h"

typedef void (*route_fn)(struct req *r);

struct route {
	enum evhttp_cmd_type method;
	const char *pattern;		/* "/api/v1/groups/{id}" */
	int listeners;			/* LISTENER_MAIN | LISTENER_ADMIN */
	route_fn handler;
};

/* Every area's table, each ending with an entry whose pattern is NULL;
 * the list ends with NULL (routes.c). */
extern const struct route *const route_tables[];

/* Flatten the tables; once per worker, before serving. */
void router_init(void);

/* Labels for metrics: index 0 is "unmatched", then "GET /healthz"... */
const char *const *router_metric_names(int *n);

/* The evhttp callback; arg is (void *)(intptr_t)enum listener_kind. */
void router_dispatch(struct evhttp_request *ev, void *arg);

/* Requests not yet fully answered (for graceful stop). */
int router_inflight(void);
/* Called whenever inflight drops to zero. */
void router_set_idle_cb(void (*cb)(void));

#endif
