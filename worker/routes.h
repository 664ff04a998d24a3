/*
 * routes.h -- every handler, grouped by the file that holds it.
 */
#ifndef COFFER_ROUTES_H
#define COFFER_ROUTES_H

#include "../src/http.h"

/* routes_ops.c */
void ops_healthz(struct req *r);
void ops_readyz(struct req *r);
void ops_metrics(struct req *r);
void ops_version(struct req *r);
void ops_pool(struct req *r);
void ops_dev_sleep(struct req *r);

#endif
