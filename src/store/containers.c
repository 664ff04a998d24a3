/*
 * store/containers.c -- the containers and container_items tables.
 *
 * See containers.h for the shape of an update.  Bulk rows travel as
 * one JSON text parameter ("[[id, qty], ...]" or "[id, ...]") unpacked by
 * the engine (SQLite json_each, PostgreSQL jsonb_array_elements), which is
 * the one place the dialects differ here; PostgreSQL also needs explicit
 * casts where a parameter only appears in a select list.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "src/db/db.h"
#include "src/store/store.h"
#include "src/store/activity.h"
#include "src/store/characters.h"
#include "src/store/containers.h"
#include "src/store/users.h"
#include "src/store/vault_keep.h"
#include "src/util.h"

/* How many gained and how many lost items one activity entry lists (the
 * most valuable first); the counts and values cover all of them. */
#define ACTIVITY_ITEMS_LISTED 20

const char *const store_containers_names[STORE_CONTAINERS_N + 1] = {
	"inventory", "equipment", "bank", "group_storage", "seed_vault",
	"rune_pouch", "quiver", "looting_bag", "potion_storage", NULL,
};

int
store_containers_index(const char *name)
{
	for (int i = 0; name && store_containers_names[i]; i++)
		if (strcmp(name, store_containers_names[i]) == 0)
			return i;
	return -1;
}

static int
cmp_id(const void *a, const void *b)
{
	const struct sync_item *x = a, *y = b;

	return (x->id > y->id) - (x->id < y->id);
}

int
store_containers_sum(struct sync_item *items, int n, int allow_negative)
{
	int out = 0;

	if (n == 0)
		return 0;
	qsort(items, (size_t)n, sizeof(*items), cmp_id);
	for (int i = 1; i < n; i++) {
		if (items[i].id == items[out].id) {
			/* Each qty is at most 2^31-1 and n is bounded, so the sum
			 * cannot leave int64 before the check. */
			items[out].qty += items[i].qty;
			if (!allow_negative && items[out].qty > STORE_QTY_MAX)
				return -1;
		} else
			items[++out] = items[i];
	}
	return out + 1;
}

/* ---- JSON parameters ---- */

/* "[[id,qty],...]" of items (qty from the array, or the delta). */
static char *
pairs_json(const struct sync_item *v, int n)
{
	size_t cap = 2 + (size_t)n * 48, len = 0;
	char *s = xmalloc(cap);

	s[len++] = '[';
	for (int i = 0; i < n; i++)
		len += (size_t)snprintf(s + len, cap - len, "%s[%lld,%lld]", i ? "," : "",
		    (long long)v[i].id, (long long)v[i].qty);
	s[len++] = ']';
	s[len] = '\0';
	return s;
}

/* "[id,...]" of items. */
static char *
ids_json(const struct sync_item *v, int n)
{
	size_t cap = 2 + (size_t)n * 24, len = 0;
	char *s = xmalloc(cap);

	s[len++] = '[';
	for (int i = 0; i < n; i++)
		len += (size_t)snprintf(s + len, cap - len, "%s%lld", i ? "," : "",
		    (long long)v[i].id);
	s[len++] = ']';
	s[len] = '\0';
	return s;
}

/* ---- statements ---- */

/*
 * Lock the container row, creating it with seq -1 if it is new; *seq gets
 * the stored seq.  With newseq >= 0, a stored seq that is already newseq
 * or newer is answered without locking or writing anything: a retried or
 * reordered update then costs one read (a stored seq only grows, so the
 * answer cannot go stale).  0 or -1.
 */
static int
lock_container(int64_t character_id, const char *container, const char *now,
	       int64_t newseq, int64_t *seq)
{
	static struct db_stmt *peek, *ins, *sel;
	struct db_value p[] = { DB_INT(character_id), DB_TEXT(container), DB_TEXT(now) };
	struct db_result *row = NULL;
	int rc;

	if (ins == NULL) {
		peek = db_prepare(
		    "SELECT seq FROM containers WHERE character_id = $1 AND container = $2");
		ins = db_prepare(
		    "INSERT INTO containers (character_id, container, seq, updated_at) "
		    "VALUES ($1, $2, -1, $3) ON CONFLICT DO NOTHING");
		sel = db_prepare_dual(
		    "SELECT seq FROM containers WHERE character_id = $1 AND container = $2",
		    "SELECT seq FROM containers WHERE character_id = $1 AND container = $2 "
		    "FOR UPDATE");
	}
	if ((rc = db_get(peek, p, 2, &row)) < 0)
		return -1;
	if (rc == 1) {
		*seq = db_int(row, 0, 0);
		db_result_free(row);
		row = NULL;
		if (newseq >= 0 && newseq <= *seq)
			return 0;
	} else if (db_run(ins, p, 3, NULL) < 0)
		return -1;
	rc = db_get(sel, p, 2, &row);
	if (rc < 0)
		return -1;
	if (rc == 0) {
		db_set_error(DBE_CONSTRAINT, "", "container row vanished under its lock");
		return -1;
	}
	*seq = db_int(row, 0, 0);
	db_result_free(row);
	return 0;
}

int
store_containers_lock(int64_t character_id, const char *container)
{
	char now[STORE_TIME_LEN];
	int64_t seq;

	return lock_container(character_id, container, store_time(now, 0), -1, &seq);
}

/* The stored items, by id, into *items (free it).  0 or -1. */
static int
load_items(int64_t character_id, const char *container, struct sync_item **items, int *n)
{
	static struct db_stmt *st;
	struct db_value p[] = { DB_INT(character_id), DB_TEXT(container) };
	struct db_result *rows = NULL;

	if (st == NULL)
		st = db_prepare(
		    "SELECT item_id, qty FROM container_items "
		    "WHERE character_id = $1 AND container = $2 ORDER BY item_id");
	if (db_all(st, p, 2, &rows) < 0)
		return -1;
	*n = db_nrows(rows);
	*items = xcalloc((size_t)*n + 1, sizeof(**items));
	for (int i = 0; i < *n; i++) {
		(*items)[i].id = db_int(rows, i, 0);
		(*items)[i].qty = db_int(rows, i, 1);
	}
	db_result_free(rows);
	return 0;
}

static int
upsert_items(int64_t character_id, const char *container, const struct sync_item *v, int n,
	     const char *now)
{
	static struct db_stmt *st;
	char *json;
	int64_t rc;

	if (n == 0)
		return 0;
	if (st == NULL)
		st = db_prepare_dual(
		    "INSERT INTO container_items (character_id, container, item_id, qty, held_since) "
		    "SELECT $1, $2, json_extract(value, '$[0]'), json_extract(value, '$[1]'), $4 "
		    "FROM json_each($3) WHERE true "
		    "ON CONFLICT (character_id, container, item_id) DO UPDATE SET qty = excluded.qty",
		    "INSERT INTO container_items (character_id, container, item_id, qty, held_since) "
		    "SELECT $1::bigint, $2::text, (e->>0)::integer, (e->>1)::bigint, "
		    "$4::timestamptz FROM jsonb_array_elements($3::jsonb) e "
		    "ON CONFLICT (character_id, container, item_id) DO UPDATE SET qty = excluded.qty");
	json = pairs_json(v, n);
	{
		struct db_value p[] = { DB_INT(character_id), DB_TEXT(container), DB_TEXT(json),
		    DB_TEXT(now) };

		rc = db_run(st, p, 4, NULL);
	}
	free(json);
	return rc < 0 ? -1 : 0;
}

static int
delete_items(int64_t character_id, const char *container, const struct sync_item *v, int n)
{
	static struct db_stmt *st;
	char *json;
	int64_t rc;

	if (n == 0)
		return 0;
	if (st == NULL)
		st = db_prepare_dual(
		    "DELETE FROM container_items WHERE character_id = $1 AND container = $2 "
		    "AND item_id IN (SELECT value FROM json_each($3))",
		    "DELETE FROM container_items WHERE character_id = $1 AND container = $2 "
		    "AND item_id IN (SELECT jsonb_array_elements_text($3::jsonb)::integer)");
	json = ids_json(v, n);
	{
		struct db_value p[] = { DB_INT(character_id), DB_TEXT(container), DB_TEXT(json) };

		rc = db_run(st, p, 3, NULL);
	}
	free(json);
	return rc < 0 ? -1 : 0;
}

static int
set_seq(int64_t character_id, const char *container, int64_t seq, const char *now)
{
	static struct db_stmt *st;
	struct db_value p[] = { DB_INT(character_id), DB_TEXT(container), DB_INT(seq),
	    DB_TEXT(now) };

	if (st == NULL)
		st = db_prepare(
		    "UPDATE containers SET seq = $3, updated_at = $4 "
		    "WHERE character_id = $1 AND container = $2");
	return db_run(st, p, 4, NULL) < 0 ? -1 : 0;
}

/* Names and prices, from the current snapshot, of the ids in v: rows
 * (item_id, name, price) by id.  0 or -1. */
static int
prices(const struct sync_item *v, int n, struct db_result **rows)
{
	static struct db_stmt *st;
	char *json = ids_json(v, n);
	struct db_value p[] = { DB_TEXT(json) };
	int rc;

	if (st == NULL)
		st = db_prepare_dual(
		    "SELECT item_id, name, price FROM catalog_items "
		    "WHERE snapshot_id = (SELECT id FROM catalog_snapshots WHERE is_current) "
		    "AND item_id IN (SELECT value FROM json_each($1)) ORDER BY item_id",
		    /* One key lookup per id, where "IN (SELECT ...)" was
		     * planned as a hash join over the whole snapshot (2 ms
		     * of every sync); OFFSET 0 keeps the LATERAL subquery
		     * from being flattened back into that join. */
		    "SELECT ca.item_id, ca.name, ca.price "
		    "FROM (SELECT DISTINCT e::integer AS id "
		    "FROM jsonb_array_elements_text($1::jsonb) e) d "
		    "JOIN LATERAL (SELECT item_id, name, price FROM catalog_items "
		    "WHERE snapshot_id = (SELECT id FROM catalog_snapshots WHERE is_current) "
		    "AND item_id = d.id OFFSET 0) ca ON true ORDER BY ca.item_id");
	rc = db_all(st, p, 1, rows);
	free(json);
	return rc;
}

/* ---- activity ---- */

struct priced {
	int64_t id, qty, value;		/* qty > 0: the size of the gain or loss */
	const char *name;		/* NULL when the catalog lacks the id */
};

static int
cmp_value(const void *a, const void *b)
{
	const struct priced *x = a, *y = b;

	if (x->value != y->value)
		return x->value < y->value ? 1 : -1;
	return (x->id > y->id) - (x->id < y->id);
}

static int64_t
add_sat(int64_t a, int64_t b)
{
	return a > INT64_MAX - b ? INT64_MAX : a + b;
}

/* {"gained" or "lost": [...], "*_count", "*_value"} for v into data. */
static void
priced_json(json_t *data, const char *key, struct priced *v, int n)
{
	char k[32];
	json_t *list = json_array();
	int64_t total = 0;

	qsort(v, (size_t)n, sizeof(*v), cmp_value);
	for (int i = 0; i < n; i++) {
		total = add_sat(total, v[i].value);
		if (i < ACTIVITY_ITEMS_LISTED)
			json_array_append_new(list, json_pack("{s:I,s:o,s:I,s:I}",
			    "id", (json_int_t)v[i].id,
			    "name", v[i].name ? json_string(v[i].name) : json_null(),
			    "qty", (json_int_t)v[i].qty, "value", (json_int_t)v[i].value));
	}
	json_object_set_new(data, key, list);
	snprintf(k, sizeof(k), "%s_count", key);
	json_object_set_new(data, k, json_integer(n));
	snprintf(k, sizeof(k), "%s_value", key);
	json_object_set_new(data, k, json_integer(total));
}

/*
 * Record the "items" activity of deltas (by id, non-zero) in container:
 * {"container", "gained": [{"id","name","qty","value"}], "gained_count",
 * "gained_value", "lost": [...], "lost_count", "lost_value"}.  Nothing when
 * the character is in no group.  0 or -1.
 */
static int
record_items(int64_t character_id, const char *container, const struct sync_item *d, int n,
	     struct store_activity_ids *ids)
{
	struct db_result *rows = NULL;
	struct priced *gained, *lost;
	int ng = 0, nl = 0, j = 0, rc;
	json_t *data;

	if (n == 0)
		return 0;
	rc = store_activity_groups(character_id);
	if (rc <= 0)
		return rc;
	if (prices(d, n, &rows) < 0)
		return -1;
	gained = xcalloc((size_t)n, sizeof(*gained));
	lost = xcalloc((size_t)n, sizeof(*lost));
	for (int i = 0; i < n; i++) {
		struct priced *p = d[i].qty > 0 ? &gained[ng++] : &lost[nl++];
		int64_t price = 0;

		while (j < db_nrows(rows) && db_int(rows, j, 0) < d[i].id)
			j++;
		p->name = NULL;
		if (j < db_nrows(rows) && db_int(rows, j, 0) == d[i].id) {
			p->name = db_text(rows, j, 1);
			price = db_int(rows, j, 2);
		}
		p->id = d[i].id;
		p->qty = d[i].qty > 0 ? d[i].qty : -d[i].qty;
		/* qty < 2^32 and price < 2^31: the product fits. */
		p->value = p->qty * price;
	}
	data = json_pack("{s:s}", "container", container);
	priced_json(data, "gained", gained, ng);
	priced_json(data, "lost", lost, nl);
	rc = store_activity_record(character_id, ACTIVITY_ITEMS, data, ids);
	json_decref(data);
	free(gained);
	free(lost);
	db_result_free(rows);
	return rc < 0 ? -1 : 0;
}

/* ---- the update ---- */

/*
 * Turn old (stored) into new, both by id with unique ids: write the
 * difference, the seq, last_sync_at, the activity and the kept vault of
 * every group the character is in (after last_sync_at, which takes the
 * character's row: vault_keep.h); fill *out.
 */
static int
apply(int64_t character_id, const char *container, int64_t seq,
      const struct sync_item *old, int nold, const struct sync_item *new, int nnew,
      const char *now, struct container_result *out)
{
	struct sync_item *up = xcalloc((size_t)nnew + 1, sizeof(*up));
	struct sync_item *del = xcalloc((size_t)nold + 1, sizeof(*del));
	struct sync_item *delta = xcalloc((size_t)(nold + nnew) + 1, sizeof(*delta));
	struct vault_change *vc = xcalloc((size_t)(nold + nnew) + 1, sizeof(*vc));
	int nup = 0, ndel = 0, nd = 0, i = 0, j = 0, rc = -1;
	int ci = store_containers_index(container);

	memset(out, 0, sizeof(*out));
	while (i < nold || j < nnew) {
		if (j == nnew || (i < nold && old[i].id < new[j].id)) {
			del[ndel++] = old[i];
			vc[nd] = (struct vault_change){ ci, old[i].id, -old[i].qty, 0 };
			delta[nd++] = (struct sync_item){ old[i].id, -old[i].qty };
			out->removed++;
			i++;
		} else if (i == nold || new[j].id < old[i].id) {
			up[nup++] = new[j];
			vc[nd] = (struct vault_change){ ci, new[j].id, new[j].qty, new[j].qty };
			delta[nd++] = new[j];
			out->added++;
			j++;
		} else {
			if (new[j].qty != old[i].qty) {
				up[nup++] = new[j];
				vc[nd] = (struct vault_change){ ci, new[j].id,
				    new[j].qty - old[i].qty, new[j].qty };
				delta[nd++] = (struct sync_item){ new[j].id, new[j].qty - old[i].qty };
				out->changed++;
			}
			i++;
			j++;
		}
	}
	if (delete_items(character_id, container, del, ndel) < 0 ||
	    upsert_items(character_id, container, up, nup, now) < 0 ||
	    set_seq(character_id, container, seq, now) < 0 ||
	    store_characters_touch(character_id, now, -1) < 0 ||
	    store_vault_character_changed(character_id, vc, nd) < 0 ||
	    record_items(character_id, container, delta, nd, &out->activity) < 0)
		goto out;
	out->applied = 1;
	out->seq = seq;
	out->item_count = nnew;
	rc = 0;
out:
	free(up);
	free(del);
	free(delta);
	free(vc);
	return rc;
}

int
store_containers_put(int64_t character_id, const char *container, int64_t seq,
		     const struct sync_item *items, int n, struct container_result *out)
{
	char now[STORE_TIME_LEN];
	struct sync_item *old = NULL;
	int64_t stored;
	int nold, rc;

	store_time(now, 0);
	if (lock_container(character_id, container, now, seq, &stored) < 0)
		return -1;
	if (seq <= stored) {
		memset(out, 0, sizeof(*out));
		out->seq = stored;
		return 0;
	}
	if (load_items(character_id, container, &old, &nold) < 0)
		return -1;
	rc = apply(character_id, container, seq, old, nold, items, n, now, out);
	free(old);
	return rc;
}

int
store_containers_patch(int64_t character_id, const char *container, int64_t seq,
		       const struct sync_item *deltas, int n, int max_items,
		       struct container_result *out)
{
	char now[STORE_TIME_LEN];
	struct sync_item *old = NULL, *new;
	int64_t stored;
	int nold, nnew = 0, i = 0, j = 0, rc;

	store_time(now, 0);
	if (lock_container(character_id, container, now, seq, &stored) < 0)
		return -1;
	if (stored < 0)
		return STORE_PATCH_UNKNOWN;	/* the caller rolls the new row back */
	if (seq <= stored) {
		memset(out, 0, sizeof(*out));
		out->seq = stored;
		return STORE_PATCH_OK;
	}
	if (load_items(character_id, container, &old, &nold) < 0)
		return -1;
	/* Merge old and deltas (both by id) into the new state. */
	new = xcalloc((size_t)(nold + n) + 1, sizeof(*new));
	rc = STORE_PATCH_OK;
	while (i < nold || j < n) {
		struct sync_item it;

		if (j == n || (i < nold && old[i].id < deltas[j].id))
			it = old[i++];
		else if (i == nold || deltas[j].id < old[i].id)
			it = deltas[j++];
		else {
			it = (struct sync_item){ old[i].id, old[i].qty + deltas[j].qty };
			i++;
			j++;
		}
		if (it.qty > STORE_QTY_MAX)
			rc = STORE_PATCH_OVERFLOW;
		else if (it.qty > 0)
			new[nnew++] = it;
	}
	if (rc == STORE_PATCH_OK && nnew > max_items)
		rc = STORE_PATCH_TOO_MANY;
	if (rc == STORE_PATCH_OK &&
	    apply(character_id, container, seq, old, nold, new, nnew, now, out) < 0)
		rc = -1;
	free(old);
	free(new);
	return rc;
}

int
store_containers_get(int64_t character_id, const char *container, struct db_result **rows)
{
	static struct db_stmt *st;
	struct db_value p[] = { DB_INT(character_id), DB_TEXT(container) };

	/* One statement, so seq and items come from one snapshot.  The
	 * columns of enum container_col, in its order. */
	if (st == NULL)
		st = db_prepare(
		    "SELECT ct.seq, ct.updated_at, ci.item_id, ci.qty FROM containers ct "
		    "LEFT JOIN container_items ci ON ci.character_id = ct.character_id "
		    "AND ci.container = ct.container "
		    "WHERE ct.character_id = $1 AND ct.container = $2 ORDER BY ci.item_id");
	if (db_all(st, p, 2, rows) < 0)
		return -1;
	if (db_nrows(*rows) == 0) {
		db_result_free(*rows);
		*rows = NULL;
		return 0;
	}
	return 1;
}

int
store_containers_catalog(int64_t snapshot_id, struct db_result **rows)
{
	static struct db_stmt *st;
	struct db_value p[] = { DB_INT(snapshot_id) };

	/* The columns of enum catalog_item_col, in its order. */
	if (st == NULL)
		st = db_prepare(
		    "SELECT item_id, name, members, tradeable, stackable, highalch, price "
		    "FROM catalog_items WHERE snapshot_id = $1 ORDER BY item_id");
	return db_all(st, p, 1, rows);
}
