/*
 * routes.c -- the map of the HTTP API.
 *
 * Order matters only for metrics (a route's index is its metrics slot);
 * patterns never overlap, so any order matches the same way.  Appending is
 * always safe.
 */
#include "router.h"
#include "routes.h"

#define MAIN	LISTENER_MAIN
#define ADMIN	LISTENER_ADMIN
#define BOTH	(LISTENER_MAIN | LISTENER_ADMIN)

const struct route routes[] = {
	/* ops and health (routes_ops.c) */
	{ EVHTTP_REQ_GET, "/healthz", BOTH, ops_healthz },
	{ EVHTTP_REQ_GET, "/readyz", BOTH, ops_readyz },
	{ EVHTTP_REQ_GET, "/metrics", ADMIN, ops_metrics },
	{ EVHTTP_REQ_GET, "/api/v1/ops/version", ADMIN, ops_version },
	{ EVHTTP_REQ_GET, "/api/v1/ops/pool", ADMIN, ops_pool },
	{ EVHTTP_REQ_POST, "/internal/dev/sleep", ADMIN, ops_dev_sleep },
};

const int n_routes = sizeof(routes) / sizeof(routes[0]);
