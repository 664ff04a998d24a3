/*
 * store/demo.h -- development data: the demo seed and the wipe.
 *
 * Both are for [server] environment = development (the caller checks);
 * neither touches the catalog snapshots or the feature flags.
 */
#ifndef COFFER_STORE_DEMO_H
#define COFFER_STORE_DEMO_H

#include <stdint.h>

#include <jansson.h>

struct demo_result {
	int users;
	int characters;
	int64_t group_id;
	int64_t items;		/* container_items rows written */
};

/*
 * Seed the demo users (alice, bob, carol: provider "mock", login = the
 * mock provider's login_hint), their characters, banks and inventories
 * priced from the current catalog, and the group "Demo Clan" (join code
 * DEMXCLAN2345) owned by alice with bob and carol as members.  One
 * transaction; done once per database (app_meta key "demo_seeded",
 * checked under a lock, so hosts starting together seed once).
 * 1 seeded (*out set), 0 already seeded, -1 error (db_last_error()).
 */
int store_demo_seed(struct demo_result *out);

/*
 * Delete every row of runtime data (users and all they own, groups,
 * activity, sessions, tokens, OAuth and billing state, app_meta facts
 * other than the catalog's) in one transaction.  Catalog snapshots and
 * feature flags stay.  0 with *counts = {"table": rows deleted, ...}, or
 * -1 (db_last_error()).
 */
int store_demo_wipe(json_t **counts);

/*
 * Development only: write app_meta row key (value "held"), inside the
 * caller's transaction when there is one.  The tests use it to see whether
 * the work of a transaction whose worker died was committed.  0 or -1.
 */
int store_demo_mark(const char *key);

#endif
