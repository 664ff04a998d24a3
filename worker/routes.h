/*
 * routes.h -- every area's route table.
 */
#ifndef COFFER_ROUTES_H
#define COFFER_ROUTES_H

#include "worker/router.h"

#define MAIN	LISTENER_MAIN
#define ADMIN	LISTENER_ADMIN
#define BOTH	(LISTENER_MAIN | LISTENER_ADMIN)

/* Short names for the tables' access and role columns (router.h). */
#define PUBLIC	ACCESS_PUBLIC
#define SESSION	ACCESS_SESSION
#define TOKEN	ACCESS_TOKEN
#define USER	ACCESS_USER
#define OPS	ACCESS_OPS
#define NONE	ROLE_NONE
#define MEMBER	ROLE_MEMBER
#define ADMINS	ROLE_ADMIN	/* owner or admin */
#define OWNER	ROLE_OWNER

extern const struct route routes_ops[];		/* routes_ops.c */
extern const struct route routes_internal[];	/* routes_internal.c */
extern const struct route routes_flags[];	/* routes_flags.c */
extern const struct route routes_auth[];	/* routes_auth.c */
extern const struct route routes_mock[];	/* mock_provider.c */
extern const struct route routes_me[];		/* routes_me.c */
extern const struct route routes_sync[];	/* routes_sync.c */
extern const struct route routes_activity[];	/* routes_activity.c */
extern const struct route routes_groups[];	/* routes_groups.c */
extern const struct route routes_vault[];	/* routes_vault.c */
extern const struct route routes_web[];		/* routes_web.c */
int routes_web_not_found(struct req *);	/* routes_web.c: HTML 404 for browsers */
extern const struct route routes_events[];	/* routes_events.c */
extern const struct route routes_webhooks[];	/* routes_webhooks.c */
extern const struct route routes_billing[];	/* routes_billing.c */
extern const struct route routes_export[];	/* routes_export.c */
extern const struct route routes_compat[];	/* routes_compat.c */

/* 422 for a caller who belongs to as many groups as [limits]
 * groups_per_user allows: creating, joining and claiming a group. */
void routes_groups_limit(struct req *r);	/* routes_groups.c */

/*
 * An activity entry (enum activity_col row i) as GET .../activity lists
 * it: the one shape the feed and the live events' activity share.
 */
json_t *routes_activity_json(const struct db_result *rows, int i);

#endif
