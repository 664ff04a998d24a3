/*
 * store/catalog.c -- loading, rolling back and reading catalog snapshots.
 *
 * A load is one transaction: insert the snapshot row, insert its items,
 * then move the current mark (clear the old one, set the new one: the
 * unique partial index catalog_snapshots_current_key is checked row by
 * row, so the order matters).  Either the whole catalog is current or
 * nothing was written.
 *
 * Items go in batches of BATCH rows per statement.  Binding seven
 * parameters per row would need thousands of placeholders (the SQLite
 * binding map holds 16, the broker protocol 1,000) or SQL text built at run
 * time; instead each batch is ONE text parameter, a JSON array of the
 * already-checked item objects, which the engine expands into rows itself
 * (SQLite json_each, PostgreSQL jsonb_to_recordset).  The statement text is
 * fixed, prepared once, and 12,617 items take 26 round trips.
 *
 * Concurrent loaders (two refreshes, or several hosts starting at once and
 * each loading the default catalog) are serialized: on PostgreSQL by a
 * transaction-level advisory lock taken first thing in the transaction, on
 * SQLite by BEGIN IMMEDIATE.  only_if_empty re-checks under that lock.
 *
 * Checking a document is separate from loading it and touches no database,
 * so the refresh route and the start-up task report the same errors.
 * Ids, prices and high-alchemy values are capped at 2^31 - 1 (the game's
 * own limit).  A vault item's qty is summed over its holders, so qty * price
 * can still pass 2^63 - 1: the vault computes it exactly (store/vault.h).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "src/db/db.h"
#include "src/log.h"
#include "src/store/catalog.h"
#include "src/store/vault_keep.h"
#include "src/store/vault_history.h"
#include "src/util.h"

#define BATCH		500
/* pg_advisory_xact_lock key of catalog writers ("cofcat" in spirit). */
#define CATALOG_LOCK	"7301001"

/*
 * Rows of st_find and st_current, in SELECT order (keep the two in step).
 * They stay inside this file: callers get a struct catalog_snapshot.
 */
#define SNAPSHOT_COLS	"id, version, item_count"
enum snapshot_col {
	SNAPSHOT_ID,
	SNAPSHOT_VERSION,
	SNAPSHOT_ITEM_COUNT,
};

static struct db_stmt *st_lock, *st_any, *st_snap_ins, *st_items_ins,
    *st_clear, *st_mark, *st_find, *st_current;

static void
prepare(void)
{
	if (st_lock)
		return;
	st_lock = db_prepare_dual("SELECT 1",
	    "SELECT pg_advisory_xact_lock(" CATALOG_LOCK ")");
	st_any = db_prepare("SELECT id FROM catalog_snapshots LIMIT 1");
	st_snap_ins = db_prepare(
	    "INSERT INTO catalog_snapshots (version, source, item_count, is_current)"
	    " VALUES ($1, $2, $3, FALSE) RETURNING id");
	st_items_ins = db_prepare_dual(
	    "INSERT INTO catalog_items (snapshot_id, item_id, name, members,"
	    "  tradeable, stackable, highalch, price)"
	    " SELECT $1, json_extract(value, '$.id'), json_extract(value, '$.name'),"
	    "  json_extract(value, '$.members'), json_extract(value, '$.tradeable'),"
	    "  json_extract(value, '$.stackable'), json_extract(value, '$.highalch'),"
	    "  json_extract(value, '$.price')"
	    " FROM json_each($2)",
	    "INSERT INTO catalog_items (snapshot_id, item_id, name, members,"
	    "  tradeable, stackable, highalch, price)"
	    " SELECT $1::bigint, x.id, x.name, x.members, x.tradeable, x.stackable,"
	    "  x.highalch, x.price"
	    " FROM jsonb_to_recordset($2::jsonb) AS x(id integer, name text,"
	    "  members boolean, tradeable boolean, stackable boolean,"
	    "  highalch bigint, price bigint)");
	st_clear = db_prepare("UPDATE catalog_snapshots SET is_current = FALSE"
	    " WHERE is_current");
	st_mark = db_prepare("UPDATE catalog_snapshots SET is_current = TRUE"
	    " WHERE id = $1");
	st_find = db_prepare("SELECT " SNAPSHOT_COLS " FROM catalog_snapshots"
	    " WHERE id = $1");
	st_current = db_prepare("SELECT " SNAPSHOT_COLS " FROM catalog_snapshots"
	    " WHERE is_current");
}

/* ---- checking a document ---- */

/*
 * An open-addressing set of the ids seen so far, so the first duplicate is
 * reported at its own index.  cap is a power of two, at least twice the
 * number of items; slot value 0 means empty, so ids are stored plus one.
 */
struct idset {
	int64_t *slot;
	size_t mask;
};

static void
idset_init(struct idset *s, size_t n)
{
	size_t cap = 16;

	while (cap < 2 * n)
		cap <<= 1;
	s->slot = xcalloc(cap, sizeof(*s->slot));
	s->mask = cap - 1;
}

/* 1 if id was already present, else adds it and returns 0. */
static int
idset_add(struct idset *s, int64_t id)
{
	size_t h = (size_t)((uint64_t)(id + 1) * 0x9e3779b97f4a7c15ULL >> 17) & s->mask;

	while (s->slot[h] != 0) {
		if (s->slot[h] == id + 1)
			return 1;
		h = (h + 1) & s->mask;
	}
	s->slot[h] = id + 1;
	return 0;
}

static const char *const item_keys[] = { "id", "name", "members", "tradeable",
	"stackable", "highalch", "price", NULL };

static int
check_int(json_t *item, size_t i, const char *key, json_int_t max, char *err,
	  size_t errlen)
{
	json_t *v = json_object_get(item, key);

	if (v == NULL || json_is_null(v)) {
		snprintf(err, errlen, "items[%zu].%s is required", i, key);
		return -1;
	}
	if (!json_is_integer(v) || json_integer_value(v) < 0 ||
	    json_integer_value(v) > max) {
		snprintf(err, errlen, "items[%zu].%s must be an integer from 0 to %lld",
		    i, key, (long long)max);
		return -1;
	}
	return 0;
}

static int
check_item(json_t *item, size_t i, struct idset *ids, char *err, size_t errlen)
{
	static const char *const bools[] = { "members", "tradeable", "stackable" };
	const char *k;
	json_t *v;
	size_t n;

	if (!json_is_object(item)) {
		snprintf(err, errlen, "items[%zu] must be an object", i);
		return -1;
	}
	json_object_foreach(item, k, v) {
		const char *const *a;

		for (a = item_keys; *a && strcmp(*a, k) != 0; a++)
			;
		if (*a == NULL) {
			snprintf(err, errlen, "items[%zu] has an unknown field \"%.64s\"", i, k);
			return -1;
		}
	}
	if (check_int(item, i, "id", INT32_MAX, err, errlen) < 0)
		return -1;
	if (idset_add(ids, json_integer_value(json_object_get(item, "id")))) {
		snprintf(err, errlen, "items[%zu].id %lld appears twice", i,
		    (long long)json_integer_value(json_object_get(item, "id")));
		return -1;
	}
	v = json_object_get(item, "name");
	if (v == NULL || json_is_null(v)) {
		snprintf(err, errlen, "items[%zu].name is required", i);
		return -1;
	}
	n = json_is_string(v) ? utf8_len(json_string_value(v)) : 0;
	if (n < 1 || n > CATALOG_NAME_MAX) {
		snprintf(err, errlen, "items[%zu].name must be a string of 1 to %d characters",
		    i, CATALOG_NAME_MAX);
		return -1;
	}
	for (size_t b = 0; b < ARRAY_SIZE(bools); b++) {
		v = json_object_get(item, bools[b]);
		if (v == NULL || !json_is_boolean(v)) {
			snprintf(err, errlen, "items[%zu].%s must be true or false", i, bools[b]);
			return -1;
		}
	}
	if (check_int(item, i, "highalch", INT32_MAX, err, errlen) < 0 ||
	    check_int(item, i, "price", INT32_MAX, err, errlen) < 0)
		return -1;
	return 0;
}

static int
check_string(json_t *doc, const char *key, int required, size_t max, char *err,
	     size_t errlen)
{
	json_t *v = json_object_get(doc, key);
	size_t n;

	if (v == NULL || json_is_null(v)) {
		if (!required)
			return 0;
		snprintf(err, errlen, "%s is required", key);
		return -1;
	}
	n = json_is_string(v) ? utf8_len(json_string_value(v)) : 0;
	if (n < 1 || n > max) {
		snprintf(err, errlen, "%s must be a string of 1 to %zu characters", key, max);
		return -1;
	}
	return 0;
}

int
store_catalog_check(json_t *doc, char *err, size_t errlen)
{
	json_t *items, *item;
	struct idset ids;
	const char *k;
	json_t *v;
	size_t i;
	int rc = 0;

	if (!json_is_object(doc)) {
		snprintf(err, errlen, "the catalog must be a JSON object");
		return -1;
	}
	json_object_foreach(doc, k, v) {
		if (strcmp(k, "version") != 0 && strcmp(k, "source") != 0 &&
		    strcmp(k, "items") != 0) {
			snprintf(err, errlen, "unknown field \"%.64s\"", k);
			return -1;
		}
	}
	if (check_string(doc, "version", 1, CATALOG_VERSION_MAX, err, errlen) < 0 ||
	    check_string(doc, "source", 0, CATALOG_SOURCE_MAX, err, errlen) < 0)
		return -1;
	items = json_object_get(doc, "items");
	if (items == NULL || json_is_null(items)) {
		snprintf(err, errlen, "items is required");
		return -1;
	}
	if (!json_is_array(items) || json_array_size(items) < 1 ||
	    json_array_size(items) > CATALOG_ITEMS_MAX) {
		snprintf(err, errlen, "items must be an array of 1 to %d items",
		    CATALOG_ITEMS_MAX);
		return -1;
	}
	idset_init(&ids, json_array_size(items));
	json_array_foreach(items, i, item) {
		if (check_item(item, i, &ids, err, errlen) < 0) {
			rc = -1;
			break;
		}
	}
	free(ids.slot);
	return rc;
}

/* ---- loading ---- */

static void
snapshot_from_row(const struct db_result *row, struct catalog_snapshot *out)
{
	const char *version = db_text(row, 0, SNAPSHOT_VERSION);

	out->id = db_int(row, 0, SNAPSHOT_ID);
	snprintf(out->version, sizeof(out->version), "%s", version ? version : "");
	out->item_count = db_int(row, 0, SNAPSHOT_ITEM_COUNT);
}

/* The current mark moves to id: clear first, then set (see the top). */
static int
make_current(int64_t id)
{
	struct db_value p[] = { DB_INT(id) };

	if (db_run(st_clear, NULL, 0, NULL) < 0 || db_run(st_mark, p, 1, NULL) < 0)
		return -1;
	return 0;
}

static int
lock(void)
{
	struct db_result *row = NULL;

	if (db_all(st_lock, NULL, 0, &row) < 0)
		return -1;
	db_result_free(row);
	return 0;
}

static int
insert_items(int64_t snap, json_t *items)
{
	size_t n = json_array_size(items);

	for (size_t at = 0; at < n; at += BATCH) {
		json_t *batch = json_array();
		char *text;
		int64_t rc;

		for (size_t i = at; i < n && i < at + BATCH; i++)
			json_array_append(batch, json_array_get(items, i));
		text = json_dumps(batch, JSON_COMPACT);
		json_decref(batch);
		if (text == NULL) {
			db_set_error(DBE_MISUSE, "", "catalog batch: json_dumps failed");
			return -1;
		}
		{
			struct db_value p[] = { DB_INT(snap), DB_TEXT(text) };

			rc = db_run(st_items_ins, p, 2, NULL);
		}
		free(text);
		if (rc < 0)
			return -1;
	}
	return 0;
}

struct load {
	json_t *doc;
	int only_if_empty;
	int loaded;
	struct catalog_snapshot *out;
};

static int
load_tx(void *arg)
{
	struct load *l = arg;
	json_t *items = json_object_get(l->doc, "items");
	const char *version = json_string_value(json_object_get(l->doc, "version"));
	struct db_value p[] = { DB_TEXT(version),
	    DB_TEXT(json_string_value(json_object_get(l->doc, "source"))),
	    DB_INT(json_array_size(items)) };
	struct db_result *row = NULL;
	int64_t snap;

	if (lock() < 0)
		return -1;
	if (l->only_if_empty) {
		int rc = db_get(st_any, NULL, 0, &row);

		db_result_free(row);
		if (rc != 0)
			return rc < 0 ? -1 : 0;		/* one exists: nothing to do */
	}
	if (db_run(st_snap_ins, p, 3, &row) < 0)
		return -1;
	snap = db_int(row, 0, 0);
	db_result_free(row);
	if (insert_items(snap, items) < 0 || make_current(snap) < 0 ||
	    store_vault_reprice() < 0 || store_vault_history_catalog() < 0)
		return -1;
	l->out->id = snap;
	snprintf(l->out->version, sizeof(l->out->version), "%s", version);
	l->out->item_count = (int64_t)json_array_size(items);
	l->loaded = 1;
	return 0;
}

int
store_catalog_load(json_t *doc, int only_if_empty, struct catalog_snapshot *out)
{
	struct load l = { doc, only_if_empty, 0, out };

	prepare();
	if (db_tx(load_tx, &l) < 0)
		return -1;
	return l.loaded;
}

struct rollback {
	int64_t id;
	int found;
	struct catalog_snapshot *out;
};

static int
rollback_tx(void *arg)
{
	struct rollback *rb = arg;
	struct db_value p[] = { DB_INT(rb->id) };
	struct db_result *row = NULL;
	int rc;

	if (lock() < 0)
		return -1;
	rc = db_get(st_find, p, 1, &row);
	if (rc <= 0)
		return rc;		/* unknown: commit nothing-written */
	snapshot_from_row(row, rb->out);
	db_result_free(row);
	rb->found = 1;
	return make_current(rb->id) < 0 || store_vault_reprice() < 0 ||
	    store_vault_history_catalog() < 0 ? -1 : 0;
}

int
store_catalog_rollback(int64_t id, struct catalog_snapshot *out)
{
	struct rollback rb = { id, 0, out };

	prepare();
	if (db_tx(rollback_tx, &rb) < 0)
		return -1;
	return rb.found;
}

int
store_catalog_current(struct catalog_snapshot *out)
{
	struct db_result *row = NULL;
	int rc;

	prepare();
	rc = db_get(st_current, NULL, 0, &row);
	if (rc == 1) {
		snapshot_from_row(row, out);
		db_result_free(row);
	}
	return rc;
}

int
store_catalog_exists(void)
{
	struct db_result *row = NULL;
	int rc;

	prepare();
	rc = db_get(st_any, NULL, 0, &row);
	db_result_free(row);
	return rc;
}
