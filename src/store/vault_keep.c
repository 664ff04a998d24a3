/*
 * store/vault_keep.c -- the writes that keep the vault, and the verifier.
 *
 * See vault_keep.h for when each runs and what it locks, and docs/SCHEMA.md
 * "The kept vault" for the tables.  Every change comes down to apply():
 * a list of changed holdings of one character, applied to one group as a
 * diff, never a rebuild:
 *  1. vault_holders: upsert the holdings still held, delete those gone;
 *  2. vault_items: add each delta to its container's row and to the
 *     whole vault's row ('') with one upsert, priced from the current
 *     snapshot when the row is new, its holders JSON rebuilt from step 1's
 *     rows (HOLDERS_OF); it hands back each row's new qty and
 *     price, from which this file knows which rows appeared (qty equals
 *     the delta), which reached zero (deleted by one more statement), and
 *     how much value moved;
 *  3. vault_totals: add the count and value moved, per container and for
 *     the whole vault, with exact arithmetic (value deltas are 128-bit
 *     here and travel as decimal text; PostgreSQL adds numeric, SQLite
 *     dec_add()).
 * The upserts of steps 1 and 2 only write while group_characters still
 * holds (group, character), read by the statement itself: that is what
 * lets an unshare run without the character's lock (vault_keep.h).
 *
 * Bulk rows travel as one JSON text parameter, as in containers.c.
 * Statements are prepared once per process; MUL_SAT is vault.c's clamped
 * product.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "src/db/db.h"
#include "src/store/containers.h"
#include "src/store/vault_keep.h"
#include "src/util.h"

#define CURRENT_SNAPSHOT "(SELECT id FROM catalog_snapshots WHERE is_current)"
#define MAX_I64 "9223372036854775807"
#define LITE_MUL_SAT(A, B)	"mul_sat(" A ", " B ")"
#define PG_MUL_SAT(A, B)	"LEAST((" A ")::numeric * (" B "), " MAX_I64 ")::bigint"

/*
 * The holders of item I of group G within container C ('' for all), as
 * the JSON text vault_items.holders keeps: read from vault_holders, which
 * the same transaction updated first.  The text is the answer's own: in
 * the API's order (largest qty first, then character and container
 * bytewise) and compact, {"character":...,"container":...,"qty":...}
 * separated by ",", so a page splices it into its answer unparsed
 * (routes_vault.c).  Character and container names are ASCII letters,
 * digits, space, - and _, which need no escape; to_json() and json_quote()
 * quote them all the same.  SQLite aggregates the rows of an ordered
 * subquery in its order (a subquery with ORDER BY under an aggregate is
 * never flattened); PostgreSQL says ORDER BY in the aggregate.  Migration
 * 006 rewrote the rows kept before in this form.
 */
#define HOLDERS_FROM "FROM vault_holders h JOIN characters c ON c.id = h.character_id "
#define HOLDERS_WHERE(G, I, C) \
	"WHERE h.group_id = " G " AND h.item_id = " I \
	" AND (" C " = '' OR h.container = " C ")"
#define LITE_HOLDERS_OF(G, I, C) \
	"(SELECT '[' || COALESCE(group_concat(j, ','), '') || ']' FROM " \
	"(SELECT json_object('character', c.name, 'container', h.container, 'qty', h.qty) AS j " \
	HOLDERS_FROM HOLDERS_WHERE(G, I, C) \
	" ORDER BY h.qty DESC, c.name COLLATE BINARY, h.container COLLATE BINARY))"
#define PG_HOLDERS_OF(G, I, C) \
	"COALESCE((SELECT '[' || string_agg('{\"character\":' || to_json(c.name)::text || " \
	"',\"container\":' || to_json(h.container)::text || ',\"qty\":' || h.qty, '},' " \
	"ORDER BY h.qty DESC, c.name COLLATE \"C\", h.container COLLATE \"C\") || '}]' " \
	HOLDERS_FROM HOLDERS_WHERE(G, I, C) "), '[]')"

/* The pair is (still) shared: the guard of every adding write. */
#define SHARED(G, C) \
	"EXISTS (SELECT 1 FROM group_characters WHERE group_id = " G \
	" AND character_id = " C ")"

/* ---- small helpers ---- */

/* A growing string. */
struct buf {
	char *s;
	size_t len, cap;
};

static void
buf_printf(struct buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void
buf_printf(struct buf *b, const char *fmt, ...)
{
	va_list ap;
	int n;

	for (;;) {
		va_start(ap, fmt);
		n = vsnprintf(b->s ? b->s + b->len : NULL, b->s ? b->cap - b->len : 0, fmt, ap);
		va_end(ap);
		if (b->s && (size_t)n < b->cap - b->len)
			break;
		b->cap = (b->cap + (size_t)n + 1) * 2;
		b->s = xrealloc(b->s, b->cap);
	}
	b->len += (size_t)n;
}

/* v as decimal digits into out (48 bytes is enough for any 128-bit). */
static const char *
i128_text(__int128 v, char out[48])
{
	unsigned __int128 u = v < 0 ? -(unsigned __int128)v : (unsigned __int128)v;
	char *p = out + 47;

	*p = '\0';
	do {
		*--p = (char)('0' + (int)(u % 10));
		u /= 10;
	} while (u != 0);
	if (v < 0)
		*--p = '-';
	return p;
}

/* One row delta of vault_items: container "" is the whole vault. */
struct row_delta {
	const char *container;
	int64_t item_id, dq;
};

static int
cmp_row(const void *a, const void *b)
{
	const struct row_delta *x = a, *y = b;
	int c = strcmp(x->container, y->container);

	if (c)
		return c;
	return (x->item_id > y->item_id) - (x->item_id < y->item_id);
}

static int
cmp_change_item(const void *a, const void *b)
{
	const struct vault_change *x = a, *y = b;

	return (x->item_id > y->item_id) - (x->item_id < y->item_id);
}

/* The per-container totals being moved: index STORE_CONTAINERS_N is ''. */
struct moved {
	int64_t count[STORE_CONTAINERS_N + 1];
	__int128 value[STORE_CONTAINERS_N + 1];
	int touched[STORE_CONTAINERS_N + 1];
};

static int
container_slot(const char *name)
{
	return *name == '\0' ? STORE_CONTAINERS_N : store_containers_index(name);
}

/* ---- statements ---- */

static struct db_stmt *st_hold_up, *st_hold_del, *st_items_up, *st_items_del, *st_totals;

static void
prepare(void)
{
	if (st_hold_up)
		return;
	st_hold_up = db_prepare_dual(
	    "INSERT INTO vault_holders (group_id, item_id, character_id, container, qty) "
	    "SELECT $1, json_extract(value, '$[1]'), $2, json_extract(value, '$[0]'), "
	    "json_extract(value, '$[2]') FROM json_each($3) WHERE " SHARED("$1", "$2") " "
	    "ON CONFLICT (group_id, item_id, character_id, container) "
	    "DO UPDATE SET qty = excluded.qty",
	    "INSERT INTO vault_holders (group_id, item_id, character_id, container, qty) "
	    "SELECT $1::bigint, (e->>1)::integer, $2::bigint, e->>0, (e->>2)::bigint "
	    "FROM jsonb_array_elements($3::jsonb) e WHERE " SHARED("$1", "$2") " "
	    "ON CONFLICT (group_id, item_id, character_id, container) "
	    "DO UPDATE SET qty = excluded.qty");
	st_hold_del = db_prepare_dual(
	    "DELETE FROM vault_holders WHERE group_id = $1 AND character_id = $2 "
	    "AND (item_id, container) IN (SELECT json_extract(value, '$[1]'), "
	    "json_extract(value, '$[0]') FROM json_each($3))",
	    "DELETE FROM vault_holders h USING jsonb_array_elements($3::jsonb) e "
	    "WHERE h.group_id = $1 AND h.item_id = (e->>1)::integer "
	    "AND h.character_id = $2 AND h.container = e->>0");
	/* Columns handed back: container, item_id, qty, unit_price. */
	st_items_up = db_prepare_dual(
	    "INSERT INTO vault_items (group_id, container, item_id, qty, unit_price, value, "
	    "name, sname, holders) "
	    "SELECT $1, d.c, d.i, d.q, COALESCE(ca.price, 0), "
	    LITE_MUL_SAT("d.q", "COALESCE(ca.price, 0)") ", ca.name, "
	    "lower(COALESCE(ca.name, '')), " LITE_HOLDERS_OF("$1", "d.i", "d.c") " "
	    "FROM (SELECT json_extract(value, '$[0]') AS c, json_extract(value, '$[1]') AS i, "
	    "json_extract(value, '$[2]') AS q FROM json_each($2)) d "
	    "LEFT JOIN catalog_items ca ON ca.snapshot_id = " CURRENT_SNAPSHOT
	    " AND ca.item_id = d.i WHERE " SHARED("$1", "$3") " "
	    "ON CONFLICT (group_id, container, item_id) DO UPDATE SET "
	    "qty = qty + excluded.qty, value = " LITE_MUL_SAT("qty + excluded.qty", "unit_price")
	    ", holders = excluded.holders RETURNING container, item_id, qty, unit_price",
	    "INSERT INTO vault_items AS v (group_id, container, item_id, qty, unit_price, "
	    "value, name, sname, holders) "
	    "SELECT $1::bigint, d.c, d.i, d.q, COALESCE(ca.price, 0), "
	    PG_MUL_SAT("d.q", "COALESCE(ca.price, 0)") ", ca.name, "
	    "lower(COALESCE(ca.name, '')), " PG_HOLDERS_OF("$1", "d.i", "d.c") " "
	    "FROM (SELECT e->>0 AS c, (e->>1)::integer AS i, (e->>2)::bigint AS q "
	    "FROM jsonb_array_elements($2::jsonb) e) d "
	    /* One key lookup per row: a plain join was planned as a hash
	     * join over the whole snapshot (12,617 rows, 2 ms), the jsonb
	     * rows being estimated at 100.  OFFSET 0 keeps the planner from
	     * flattening the LATERAL subquery back into that join. */
	    "LEFT JOIN LATERAL (SELECT price, name FROM catalog_items "
	    "WHERE snapshot_id = " CURRENT_SNAPSHOT " AND item_id = d.i OFFSET 0) ca ON true "
	    "WHERE " SHARED("$1", "$3") " "
	    "ON CONFLICT (group_id, container, item_id) DO UPDATE SET "
	    "qty = v.qty + excluded.qty, value = " PG_MUL_SAT("v.qty + excluded.qty", "v.unit_price")
	    ", holders = excluded.holders "
	    "RETURNING v.container, v.item_id, v.qty, v.unit_price");
	st_items_del = db_prepare_dual(
	    "DELETE FROM vault_items WHERE group_id = $1 AND qty <= 0 "
	    "AND (container, item_id) IN (SELECT json_extract(value, '$[0]'), "
	    "json_extract(value, '$[1]') FROM json_each($2))",
	    "DELETE FROM vault_items v USING jsonb_array_elements($2::jsonb) e "
	    "WHERE v.group_id = $1 AND v.container = e->>0 "
	    "AND v.item_id = (e->>1)::integer AND v.qty <= 0");
	st_totals = db_prepare_dual(
	    "INSERT INTO vault_totals (group_id, container, item_count, total_value) "
	    "SELECT $1, json_extract(value, '$[0]'), json_extract(value, '$[1]'), "
	    "dec_add(0, json_extract(value, '$[2]')) FROM json_each($2) WHERE true "
	    "ON CONFLICT (group_id, container) DO UPDATE SET "
	    "item_count = item_count + excluded.item_count, "
	    "total_value = dec_add(total_value, excluded.total_value)",
	    "INSERT INTO vault_totals AS t (group_id, container, item_count, total_value) "
	    "SELECT $1::bigint, e->>0, (e->>1)::bigint, (e->>2)::numeric "
	    "FROM jsonb_array_elements($2::jsonb) e "
	    "ON CONFLICT (group_id, container) DO UPDATE SET "
	    "item_count = t.item_count + excluded.item_count, "
	    "total_value = t.total_value + excluded.total_value");
}

/* ---- apply: the diff of one character's holdings to one group ---- */

/* Step 1: the holders. */
static int
apply_holders(int64_t group_id, int64_t character_id, const struct vault_change *v, int n)
{
	struct buf up = { 0 }, del = { 0 };
	int nup = 0, ndel = 0, rc = 0;

	buf_printf(&up, "[");
	buf_printf(&del, "[");
	for (int i = 0; i < n; i++) {
		const char *c = store_containers_names[v[i].container];

		if (v[i].qty > 0)
			buf_printf(&up, "%s[\"%s\",%lld,%lld]", nup++ ? "," : "", c,
			    (long long)v[i].item_id, (long long)v[i].qty);
		else
			buf_printf(&del, "%s[\"%s\",%lld]", ndel++ ? "," : "", c,
			    (long long)v[i].item_id);
	}
	buf_printf(&up, "]");
	buf_printf(&del, "]");
	{
		struct db_value pu[] = { DB_INT(group_id), DB_INT(character_id), DB_TEXT(up.s) };
		struct db_value pd[] = { DB_INT(group_id), DB_INT(character_id), DB_TEXT(del.s) };

		if ((nup && db_run(st_hold_up, pu, 3, NULL) < 0) ||
		    (ndel && db_run(st_hold_del, pd, 3, NULL) < 0))
			rc = -1;
	}
	free(up.s);
	free(del.s);
	return rc;
}

/*
 * The row deltas of v: one per change, plus one per item for the whole
 * vault (the sum over its containers, when not zero); sorted by
 * (container, item) for bsearch.  Returns how many, into *out (free it).
 */
static int
row_deltas(const struct vault_change *v, int n, struct row_delta **out)
{
	struct vault_change *byitem = xcalloc((size_t)n + 1, sizeof(*byitem));
	struct row_delta *d = xcalloc(2 * (size_t)n + 1, sizeof(*d));
	int nd = 0;

	memcpy(byitem, v, (size_t)n * sizeof(*v));
	qsort(byitem, (size_t)n, sizeof(*byitem), cmp_change_item);
	for (int i = 0; i < n; i++)
		d[nd++] = (struct row_delta){ store_containers_names[v[i].container],
		    v[i].item_id, v[i].dq };
	for (int i = 0; i < n;) {
		int64_t sum = 0;
		int j;

		for (j = i; j < n && byitem[j].item_id == byitem[i].item_id; j++)
			sum += byitem[j].dq;
		if (sum != 0)
			d[nd++] = (struct row_delta){ "", byitem[i].item_id, sum };
		i = j;
	}
	free(byitem);
	qsort(d, (size_t)nd, sizeof(*d), cmp_row);
	*out = d;
	return nd;
}

/*
 * Step 2: the items.  The upsert hands back each row's new qty and price;
 * m gets the count and value moved, *gone the JSON keys of the rows that
 * reached zero (NULL when none).
 */
static int
apply_items(int64_t group_id, int64_t character_id, const struct row_delta *d, int nd,
	    struct moved *m, char **gone)
{
	struct buf js = { 0 }, del = { 0 };
	struct db_result *rows = NULL;
	int ndel = 0;

	buf_printf(&js, "[");
	for (int i = 0; i < nd; i++)
		buf_printf(&js, "%s[\"%s\",%lld,%lld]", i ? "," : "", d[i].container,
		    (long long)d[i].item_id, (long long)d[i].dq);
	buf_printf(&js, "]");
	{
		struct db_value p[] = { DB_INT(group_id), DB_TEXT(js.s), DB_INT(character_id) };
		int64_t rc = db_run(st_items_up, p, 3, &rows);

		free(js.s);
		if (rc < 0)
			return -1;
	}
	buf_printf(&del, "[");
	for (int r = 0; r < db_nrows(rows); r++) {
		struct row_delta key = { db_text(rows, r, 0), db_int(rows, r, 1), 0 };
		const struct row_delta *hit = bsearch(&key, d, (size_t)nd, sizeof(*d), cmp_row);
		int64_t qty = db_int(rows, r, 2), price = db_int(rows, r, 3);
		int slot = container_slot(key.container);

		if (hit == NULL || slot < 0) {
			db_result_free(rows);
			free(del.s);
			db_set_error(DBE_SQL, "", "vault upsert returned an unknown row");
			return -1;
		}
		m->touched[slot] = 1;
		m->value[slot] += (__int128)hit->dq * price;
		if (qty <= 0) {
			m->count[slot]--;
			buf_printf(&del, "%s[\"%s\",%lld]", ndel++ ? "," : "", key.container,
			    (long long)key.item_id);
		} else if (qty == hit->dq)
			m->count[slot]++;
	}
	db_result_free(rows);
	buf_printf(&del, "]");
	if (ndel == 0) {
		free(del.s);
		del.s = NULL;
	}
	*gone = del.s;
	return 0;
}

/* Step 3: the totals. */
static int
apply_totals(int64_t group_id, const struct moved *m)
{
	struct buf js = { 0 };
	char num[48];
	int n = 0, rc;

	buf_printf(&js, "[");
	for (int s = 0; s <= STORE_CONTAINERS_N; s++) {
		if (!m->touched[s])
			continue;
		buf_printf(&js, "%s[\"%s\",%lld,\"%s\"]", n++ ? "," : "",
		    s == STORE_CONTAINERS_N ? "" : store_containers_names[s],
		    (long long)m->count[s], i128_text(m->value[s], num));
	}
	buf_printf(&js, "]");
	rc = 0;
	if (n > 0) {
		struct db_value p[] = { DB_INT(group_id), DB_TEXT(js.s) };

		rc = db_run(st_totals, p, 2, NULL) < 0 ? -1 : 0;
	}
	free(js.s);
	return rc;
}

/* Apply v[0..n) of character_id to group_id (steps 1-3 above). */
static int
apply(int64_t group_id, int64_t character_id, const struct vault_change *v, int n)
{
	struct row_delta *d = NULL;
	struct moved m;
	char *gone = NULL;
	int nd, rc = -1;

	if (n == 0)
		return 0;
	prepare();
	memset(&m, 0, sizeof(m));
	if (apply_holders(group_id, character_id, v, n) < 0)
		return -1;
	nd = row_deltas(v, n, &d);
	if (nd > 0 && apply_items(group_id, character_id, d, nd, &m, &gone) < 0)
		goto out;
	if (gone) {
		struct db_value p[] = { DB_INT(group_id), DB_TEXT(gone) };

		if (db_run(st_items_del, p, 2, NULL) < 0)
			goto out;
	}
	rc = apply_totals(group_id, &m);
out:
	free(d);
	free(gone);
	return rc;
}

/* ---- the callers' entry points ---- */

int
store_vault_lock(int64_t group_id)
{
	static struct db_stmt *st;
	struct db_value p[] = { DB_INT(group_id) };
	struct db_result *row = NULL;
	int rc;

	if (st == NULL)
		st = db_prepare_dual("SELECT id FROM groups WHERE id = $1",
		    "SELECT id FROM groups WHERE id = $1 FOR NO KEY UPDATE");
	rc = db_get(st, p, 1, &row);
	db_result_free(row);
	return rc;
}

int
store_vault_character_changed(int64_t character_id, const struct vault_change *v, int n)
{
	static struct db_stmt *st;
	struct db_value p[] = { DB_INT(character_id) };
	struct db_result *groups = NULL;
	int rc = 0;

	if (n == 0)
		return 0;
	/* The groups' locks, by id.  Membership may change while this
	 * waits; apply() rereads it under the locks. */
	if (st == NULL)
		st = db_prepare_dual(
		    "SELECT group_id FROM group_characters WHERE character_id = $1 "
		    "ORDER BY group_id",
		    "SELECT g.id FROM groups g WHERE g.id IN (SELECT group_id "
		    "FROM group_characters WHERE character_id = $1) "
		    "ORDER BY g.id FOR NO KEY UPDATE OF g");
	if (db_all(st, p, 1, &groups) < 0)
		return -1;
	for (int i = 0; i < db_nrows(groups) && rc == 0; i++)
		rc = apply(db_int(groups, i, 0), character_id, v, n);
	db_result_free(groups);
	return rc;
}

/* Everything character_id holds, as changes of sign +1 (share) or -1. */
static int
holdings(int64_t character_id, int sign, struct vault_change **out, int *n)
{
	static struct db_stmt *st;
	struct db_value p[] = { DB_INT(character_id) };
	struct db_result *rows = NULL;

	if (st == NULL)
		st = db_prepare("SELECT container, item_id, qty FROM container_items "
		    "WHERE character_id = $1");
	if (db_all(st, p, 1, &rows) < 0)
		return -1;
	*n = 0;
	*out = xcalloc((size_t)db_nrows(rows) + 1, sizeof(**out));
	for (int i = 0; i < db_nrows(rows); i++) {
		int c = store_containers_index(db_text(rows, i, 0));
		int64_t qty = db_int(rows, i, 2);

		if (c < 0)
			continue;	/* the schema's CHECK makes this impossible */
		(*out)[(*n)++] = (struct vault_change){ c, db_int(rows, i, 1),
		    sign * qty, sign > 0 ? qty : 0 };
	}
	db_result_free(rows);
	return 0;
}

static int
share_sign(int64_t group_id, int64_t character_id, int sign)
{
	struct vault_change *v = NULL;
	int n, rc;

	if (holdings(character_id, sign, &v, &n) < 0)
		return -1;
	rc = apply(group_id, character_id, v, n);
	free(v);
	return rc;
}

int
store_vault_share(int64_t group_id, int64_t character_id)
{
	return share_sign(group_id, character_id, 1);
}

int
store_vault_unshare(int64_t group_id, int64_t character_id)
{
	return share_sign(group_id, character_id, -1);
}

int
store_vault_detach(int64_t user_id, int64_t character_id)
{
	static struct db_stmt *chars, *pairs, *unshare;
	struct db_value p[] = { DB_INT(user_id), DB_INT(character_id) };
	struct db_result *rows = NULL;
	int rc = 0;

	if (chars == NULL) {
		/* FOR UPDATE, not NO KEY: the caller deletes these rows. */
		chars = db_prepare_dual(
		    "SELECT id FROM characters WHERE user_id = $1 OR id = $2 ORDER BY id",
		    "SELECT id FROM characters WHERE user_id = $1 OR id = $2 "
		    "ORDER BY id FOR UPDATE");
		pairs = db_prepare("SELECT gc.group_id, gc.character_id "
		    "FROM characters c JOIN group_characters gc ON gc.character_id = c.id "
		    "WHERE c.user_id = $1 OR c.id = $2 ORDER BY gc.group_id, gc.character_id");
		unshare = db_prepare("DELETE FROM group_characters "
		    "WHERE group_id = $1 AND character_id = $2");
	}
	if (db_all(chars, p, 2, &rows) < 0)
		return -1;
	db_result_free(rows);
	/* The groups' locks by id, then the pairs again under them: an
	 * unshare may have run meanwhile; nothing can be shared (the
	 * characters are locked). */
	if (db_all(pairs, p, 2, &rows) < 0)
		return -1;
	for (int i = 0; i < db_nrows(rows) && rc == 0; i++)
		if (i == 0 || db_int(rows, i, 0) != db_int(rows, i - 1, 0))
			rc = store_vault_lock(db_int(rows, i, 0)) < 0 ? -1 : 0;
	db_result_free(rows);
	if (rc < 0 || db_all(pairs, p, 2, &rows) < 0)
		return -1;
	for (int i = 0; i < db_nrows(rows) && rc == 0; i++) {
		struct db_value pp[] = { DB_INT(db_int(rows, i, 0)), DB_INT(db_int(rows, i, 1)) };

		if (store_vault_unshare(pp[0].i, pp[1].i) < 0 || db_run(unshare, pp, 2, NULL) < 0)
			rc = -1;
	}
	db_result_free(rows);
	return rc;
}

/* ---- repricing ---- */

int
store_vault_reprice(void)
{
	static struct db_stmt *lock, *priced, *unpriced, *totals;
	struct db_result *row = NULL;

	if (lock == NULL) {
		lock = db_prepare_dual("SELECT 1",
		    "SELECT count(*) FROM (SELECT id FROM groups ORDER BY id "
		    "FOR NO KEY UPDATE) g");
		priced = db_prepare_dual(
		    "UPDATE vault_items SET unit_price = ca.price, name = ca.name, "
		    "sname = lower(ca.name), value = " LITE_MUL_SAT("vault_items.qty", "ca.price")
		    " FROM catalog_items ca WHERE ca.snapshot_id = " CURRENT_SNAPSHOT
		    " AND ca.item_id = vault_items.item_id "
		    "AND (vault_items.unit_price <> ca.price OR vault_items.name IS NOT ca.name)",
		    "UPDATE vault_items v SET unit_price = ca.price, name = ca.name, "
		    "sname = lower(ca.name), value = " PG_MUL_SAT("v.qty", "ca.price")
		    " FROM catalog_items ca WHERE ca.snapshot_id = " CURRENT_SNAPSHOT
		    " AND ca.item_id = v.item_id "
		    "AND (v.unit_price <> ca.price OR v.name IS DISTINCT FROM ca.name)");
		unpriced = db_prepare(
		    "UPDATE vault_items SET unit_price = 0, value = 0, name = NULL, sname = '' "
		    "WHERE (unit_price <> 0 OR name IS NOT NULL) AND NOT EXISTS (SELECT 1 "
		    "FROM catalog_items ca WHERE ca.snapshot_id = " CURRENT_SNAPSHOT
		    " AND ca.item_id = vault_items.item_id)");
		/* Every totals row: the count is unchanged, the value is
		 * the sum of its rows' new values. */
		totals = db_prepare_dual(
		    "UPDATE vault_totals SET total_value = (SELECT "
		    "COALESCE(sum_mul(v.qty, v.unit_price), 0) FROM vault_items v "
		    "WHERE v.group_id = vault_totals.group_id "
		    "AND v.container = vault_totals.container)",
		    "UPDATE vault_totals t SET total_value = (SELECT "
		    "COALESCE(SUM(v.qty::numeric * v.unit_price), 0) FROM vault_items v "
		    "WHERE v.group_id = t.group_id AND v.container = t.container)");
	}
	if (db_get(lock, NULL, 0, &row) < 0)
		return -1;
	db_result_free(row);
	if (db_run(priced, NULL, 0, NULL) < 0 || db_run(unpriced, NULL, 0, NULL) < 0 ||
	    db_run(totals, NULL, 0, NULL) < 0)
		return -1;
	return 0;
}

/* ---- recomputing: rebuild and verify ---- */

/*
 * What the kept rows of group $1 (0: every group) should be, recomputed
 * from the container rows: EXP_HOLDERS and EXP_ITEMS (the columns of
 * vault_holders and vault_items in table order, but for holders),
 * EXP_TOTALS, and EXP_HELD: each vault_items row's holders as rows
 * (group_id, container, item_id, character name, holder's container,
 * qty), compared as a set since the JSON's order is none.
 */
#define IN_GROUP(COL)	"(CAST($1 AS BIGINT) = 0 OR " COL " = $1)"
#define EXP_HOLDERS \
	"SELECT gc.group_id AS group_id, ci.item_id AS item_id, " \
	"ci.character_id AS character_id, ci.container AS container, ci.qty AS qty " \
	"FROM group_characters gc JOIN container_items ci " \
	"ON ci.character_id = gc.character_id WHERE " IN_GROUP("gc.group_id")
#define EXP_ITEMS(MUL_SAT, SNAME, HOLDERS) \
	"SELECT s.group_id AS group_id, s.container AS container, s.item_id AS item_id, " \
	"s.qty AS qty, COALESCE(ca.price, 0) AS unit_price, " \
	MUL_SAT("s.qty", "COALESCE(ca.price, 0)") " AS value, ca.name AS name, " \
	SNAME " AS sname" HOLDERS " " \
	"FROM (SELECT group_id, container, item_id, SUM(qty) AS qty FROM (" EXP_HOLDERS ") h " \
	"GROUP BY group_id, container, item_id UNION ALL " \
	"SELECT group_id, '', item_id, SUM(qty) FROM (" EXP_HOLDERS ") h " \
	"GROUP BY group_id, item_id) s " \
	"LEFT JOIN catalog_items ca ON ca.snapshot_id = " CURRENT_SNAPSHOT \
	" AND ca.item_id = s.item_id"
#define LITE_SNAME	"lower(COALESCE(ca.name, ''))"
#define PG_SNAME	"lower(COALESCE(ca.name, '')) COLLATE \"C\""
#define LITE_EXP_ITEMS(HOLDERS)	EXP_ITEMS(LITE_MUL_SAT, LITE_SNAME, HOLDERS)
#define PG_EXP_ITEMS(HOLDERS) \
	"SELECT group_id, container, item_id, qty::bigint, unit_price, value, name, sname" \
	HOLDERS " FROM (" EXP_ITEMS(PG_MUL_SAT, PG_SNAME, "") ") s"
#define EXP_TOTALS(ITEMS, SUM_MUL) \
	"SELECT group_id, container, COUNT(*) AS item_count, " SUM_MUL " AS total_value " \
	"FROM (" ITEMS ") i GROUP BY group_id, container"
#define LITE_EXP_TOTALS	EXP_TOTALS(LITE_EXP_ITEMS(""), "sum_mul(qty, unit_price)")
#define PG_EXP_TOTALS	EXP_TOTALS(PG_EXP_ITEMS(""), "SUM(qty::numeric * unit_price)")
/* One SELECT around the UNION ALL: "A EXCEPT B UNION ALL C" would be
 * "(A EXCEPT B) UNION ALL C". */
#define EXP_HELD \
	"SELECT * FROM (SELECT h.group_id, h.container AS vc, h.item_id, c.name, " \
	"h.container, h.qty " \
	"FROM (" EXP_HOLDERS ") h JOIN characters c ON c.id = h.character_id UNION ALL " \
	"SELECT h.group_id, '', h.item_id, c.name, h.container, h.qty " \
	"FROM (" EXP_HOLDERS ") h JOIN characters c ON c.id = h.character_id) eh"

/* The kept rows of group $1 (0: all), columns as above. */
#define KEPT_HOLDERS \
	"SELECT group_id, item_id, character_id, container, qty FROM vault_holders " \
	"WHERE " IN_GROUP("group_id")
#define KEPT_ITEMS \
	"SELECT group_id, container, item_id, qty, unit_price, value, name, sname " \
	"FROM vault_items WHERE " IN_GROUP("group_id")
/* A totals row left at zero by removals is the same as none. */
#define KEPT_TOTALS \
	"SELECT group_id, container, item_count, total_value FROM vault_totals " \
	"WHERE " IN_GROUP("group_id") " AND (item_count <> 0 OR total_value <> 0)"
#define LITE_KEPT_HELD \
	"SELECT v.group_id, v.container, v.item_id, json_extract(j.value, '$.character'), " \
	"json_extract(j.value, '$.container'), json_extract(j.value, '$.qty') " \
	"FROM vault_items v, json_each(v.holders) j WHERE " IN_GROUP("v.group_id")
#define PG_KEPT_HELD \
	"SELECT v.group_id, v.container, v.item_id, e->>'character', e->>'container', " \
	"(e->>'qty')::bigint FROM vault_items v " \
	"CROSS JOIN LATERAL json_array_elements(v.holders::json) e " \
	"WHERE " IN_GROUP("v.group_id")

/* Rows whose holders text is not what HOLDERS_OF writes from the kept
 * holders (the rows above compare it as a set; a page answers it as it
 * is, so its order and form matter too). */
#define TEXT_DIFF(HOLDERS_OF) \
	"SELECT v.group_id FROM vault_items v WHERE " IN_GROUP("v.group_id") \
	" AND v.holders <> " HOLDERS_OF("v.group_id", "v.item_id", "v.container")

/* The group ids in A but not B, as a subquery. */
#define DIFF(A, B)	"SELECT group_id FROM (" A " EXCEPT " B ") d"

#define VERIFY_SQL(EI, ET, KH, TD) \
	"SELECT DISTINCT group_id FROM (" TD " UNION ALL " \
	DIFF(EXP_HOLDERS, KEPT_HOLDERS) " UNION ALL " DIFF(KEPT_HOLDERS, EXP_HOLDERS) \
	" UNION ALL " DIFF(EI, KEPT_ITEMS) " UNION ALL " DIFF(KEPT_ITEMS, EI) \
	" UNION ALL " DIFF(ET, KEPT_TOTALS) " UNION ALL " DIFF(KEPT_TOTALS, ET) \
	" UNION ALL " DIFF(EXP_HELD, KH) " UNION ALL " DIFF(KH, EXP_HELD) \
	") x ORDER BY group_id"

int
store_vault_rebuild(int64_t group_id)
{
	static struct db_stmt *del[3], *ins[3];
	static const char *const tables[3] = { "vault_holders", "vault_items", "vault_totals" };
	struct db_value p[] = { DB_INT(group_id) };

	if (del[0] == NULL) {
		for (int i = 0; i < 3; i++) {
			char sql[128];

			snprintf(sql, sizeof(sql), "DELETE FROM %s WHERE group_id = $1", tables[i]);
			del[i] = db_prepare(xstrdup(sql));	/* lives for the process */
		}
		ins[0] = db_prepare("INSERT INTO vault_holders " EXP_HOLDERS);
		ins[1] = db_prepare_dual("INSERT INTO vault_items " LITE_EXP_ITEMS(
		    ", " LITE_HOLDERS_OF("s.group_id", "s.item_id", "s.container")),
		    "INSERT INTO vault_items " PG_EXP_ITEMS(
		    ", " PG_HOLDERS_OF("s.group_id", "s.item_id", "s.container")));
		ins[2] = db_prepare_dual("INSERT INTO vault_totals " EXP_TOTALS(KEPT_ITEMS,
		    "sum_mul(qty, unit_price)"),
		    "INSERT INTO vault_totals " EXP_TOTALS(KEPT_ITEMS,
		    "SUM(qty::numeric * unit_price)"));
	}
	if (group_id <= 0) {
		db_set_error(DBE_MISUSE, "", "vault rebuild of group %lld", (long long)group_id);
		return -1;
	}
	for (int i = 0; i < 3; i++)
		if (db_run(del[i], p, 1, NULL) < 0)
			return -1;
	for (int i = 0; i < 3; i++)
		if (db_run(ins[i], p, 1, NULL) < 0)
			return -1;
	return 0;
}

int
store_vault_verify(int64_t group_id, struct db_result **differ, int64_t *checked)
{
	static struct db_stmt *st, *count;
	struct db_value p[] = { DB_INT(group_id) };
	struct db_result *row = NULL;

	if (st == NULL) {
		st = db_prepare_dual(
		    VERIFY_SQL(LITE_EXP_ITEMS(""), LITE_EXP_TOTALS, LITE_KEPT_HELD,
		    TEXT_DIFF(LITE_HOLDERS_OF)),
		    VERIFY_SQL(PG_EXP_ITEMS(""), PG_EXP_TOTALS, PG_KEPT_HELD,
		    TEXT_DIFF(PG_HOLDERS_OF)));
		count = db_prepare("SELECT COUNT(*) FROM groups WHERE " IN_GROUP("id"));
	}
	*differ = NULL;
	if (db_get(count, p, 1, &row) != 1)
		return -1;
	*checked = db_int(row, 0, 0);
	db_result_free(row);
	return db_all(st, p, 1, differ);
}
