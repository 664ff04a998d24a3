/*
 * store/catalog.h -- item catalog snapshots.
 *
 * A catalog document is {"version", "source"?, "items": [{"id", "name",
 * "members", "tradeable", "stackable", "highalch", "price"}, ...]}: the
 * body of POST /internal/catalog/refresh and the format of the file named
 * by [catalog] path.  Each load becomes a new snapshot, made current in the
 * transaction that loads it; old snapshots are kept so a rollback can make
 * one current again.
 */
#ifndef COFFER_STORE_CATALOG_H
#define COFFER_STORE_CATALOG_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

/* Longest version string, in code points (bytes fit in version[]). */
#define CATALOG_VERSION_MAX	100
#define CATALOG_SOURCE_MAX	200
#define CATALOG_NAME_MAX	255
#define CATALOG_ITEMS_MAX	1000000

struct catalog_snapshot {
	int64_t id;
	char version[4 * CATALOG_VERSION_MAX + 1];
	int64_t item_count;
};

/*
 * Check a catalog document without touching the database: 0, or -1 with
 * the first problem in err ("items[3].price must be an integer from 0 to
 * ..."), items checked in order.  Ids are unique within the document.
 */
int store_catalog_check(json_t *doc, char *err, size_t errlen);

/*
 * Load a checked document as a new snapshot and make it current, in one
 * transaction (or inside the caller's).  With only_if_empty, nothing is
 * done when any snapshot exists (checked under the loader's lock, so hosts
 * starting together load once).  1 loaded (*out set), 0 skipped, -1 error
 * (db_last_error()).
 */
int store_catalog_load(json_t *doc, int only_if_empty, struct catalog_snapshot *out);

/* Make snapshot id current again: 1 (*out set), 0 unknown id, -1 error. */
int store_catalog_rollback(int64_t id, struct catalog_snapshot *out);

/* The current snapshot: 1 (*out set), 0 none, -1 error. */
int store_catalog_current(struct catalog_snapshot *out);

/* Whether any snapshot exists: 1, 0, or -1 on error. */
int store_catalog_exists(void);

#endif
