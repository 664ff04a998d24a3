/*
 * router.h -- the route table and request dispatch.
 *
 * A route is a method, a path pattern with {name} captures, the listeners
 * it answers on and a handler.  The table (routes.c) is the map of the HTTP
 * API; its order is also the index of each route's metrics.  A path that
 * matches on another method answers 405 with Allow; a path that matches
 * nothing (or only on the other listener) answers 404.
 *
 * Each matched request runs its handler in a fresh coroutine, so a handler
 * reads straight down: parse, authorize, one store call or transaction,
 * respond.  The router answers 500 if a handler returns without answering.
 */
#ifndef COFFER_ROUTER_H
#define COFFER_ROUTER_H

#include "../src/http.h"

typedef void (*route_fn)(struct req *r);

struct route {
	enum evhttp_cmd_type method;
	const char *pattern;		/* "/api/v1/groups/{id}" */
	int listeners;			/* LISTENER_MAIN | LISTENER_ADMIN */
	route_fn handler;
};

extern const struct route routes[];
extern const int n_routes;

/* Labels for metrics: index 0 is "unmatched", then "GET /healthz"... */
const char *const *router_metric_names(int *n);

/* The evhttp callback; arg is (void *)(intptr_t)enum listener_kind. */
void router_dispatch(struct evhttp_request *ev, void *arg);

/* Requests not yet fully answered (for graceful stop). */
int router_inflight(void);
/* Called whenever inflight drops to zero. */
void router_set_idle_cb(void (*cb)(void));

#endif
