/*
 * routes.c -- the map of the HTTP API: every area's route table.
 *
 * Each table lives beside its handlers.  Patterns never overlap, so the
 * order only decides the metrics slots; append new tables at the end.
 */
#include <stddef.h>

#include "worker/router.h"
#include "worker/routes.h"

const struct route *const route_tables[] = {
	routes_ops,
	routes_internal,
	routes_flags,
	routes_auth,
	routes_mock,
	routes_me,
	routes_sync,
	routes_activity,
	routes_groups,
	routes_vault,
	routes_web,
	routes_events,
	routes_webhooks,
	routes_billing,
	routes_export,
	routes_compat,
	NULL,
};
