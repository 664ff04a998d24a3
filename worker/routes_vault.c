/*
 * routes_vault.c -- a group's vault: GET /api/v1/groups/{id}/vault (and
 * the same for the plugin at /api/v1/sync/groups/{id}/vault), one item's
 * holders, and the totals by member and by container.
 *
 * Every route here is a read: a web session or a plugin token, and the
 * caller must be a member of the group (else 404, like a group that does
 * not exist; see routes_groups.c).  Any member may read the vault.
 *
 * Query parameters of the vault (all optional; anything malformed or out
 * of range is 400 bad_request naming the parameter, since it is the
 * request line, not a body, that is wrong):
 *	sort	value (default) | qty | name | id
 *	order	desc (default) | asc; ties are always by id ascending
 *	limit	1..500, default 100
 *	q	case-insensitive substring of the item name (at most
 *		STORE_VAULT_Q_MAX bytes; "" means no filter)
 *	container  one of the containers (docs/API.md "Resources") ("" means all)
 *	cursor	the next_cursor of the previous page
 * The cursor is the hex of "<sort><order>:<id>:<key>" (the last item's
 * sort key and id): opaque to clients, and checked against the request's
 * sort and order, so a cursor from another ordering is 400 rather than a
 * page that silently skips items.  Filters may change between pages; the
 * cursor only says where the previous page ended.
 *
 * The page is fetched with limit + 1 rows: the extra row only tells
 * whether a next page exists.  total_value and item_count come from one
 * window over every matching item in the same statement (store_vault_page;
 * store_vault_totals only when the page is empty).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "src/crypto.h"
#include "src/db/db.h"
#include "src/store/groups.h"
#include "src/store/vault.h"
#include "src/util.h"
#include "worker/auth.h"
#include "worker/router.h"
#include "worker/routes.h"

#define LIMIT_DEFAULT	100
#define LIMIT_MAX	500
/* A cursor's plain text: sort, order, id and a key of at most 255 code
 * points of a lower-cased name (4 bytes each at worst); its hex twice that. */
#define PLAIN_MAX	1100
#define CURSOR_MAX	(2 * PLAIN_MAX)

static const char *const sort_names[] = { "value", "qty", "name", "id" };
static const char *const containers[] = { "inventory", "equipment", "bank",
	"group_storage", "seed_vault", "rune_pouch", "quiver", "looting_bag" };

static json_t *
text_json(const struct db_result *rows, int i, int col)
{
	const char *s = db_text(rows, i, col);

	return s ? json_string(s) : json_null();
}

/* A positive decimal id (or, with zero_ok, also 0) from a path segment;
 * -1 when it is not one (then 404). */
static int64_t
parse_id(const char *s, int zero_ok)
{
	char *end;
	long long v;

	if (s == NULL || *s < '0' || *s > '9' || (*s == '0' && (s[1] || !zero_ok)))
		return -1;
	errno = 0;
	v = strtoll(s, &end, 10);
	return errno || *end ? -1 : (int64_t)v;
}

/* ---- holders, sorted: largest first, then by character and container ---- */

static int
holder_cmp(const void *a, const void *b)
{
	json_t *x = *(json_t *const *)a, *y = *(json_t *const *)b;
	json_int_t qx = json_integer_value(json_object_get(x, "qty"));
	json_int_t qy = json_integer_value(json_object_get(y, "qty"));
	int c;

	if (qx != qy)
		return qx > qy ? -1 : 1;
	c = strcmp(json_string_value(json_object_get(x, "character")),
	    json_string_value(json_object_get(y, "character")));
	if (c)
		return c;
	return strcmp(json_string_value(json_object_get(x, "container")),
	    json_string_value(json_object_get(y, "container")));
}

/* The holders array from the JSON text the page query built. */
static json_t *
holders_json(const char *text)
{
	json_t *arr = text ? json_loads(text, 0, NULL) : NULL;
	size_t n;

	if (!json_is_array(arr)) {
		json_decref(arr);
		return json_array();
	}
	n = json_array_size(arr);
	if (n > 1) {
		json_t **v = xcalloc(n, sizeof(*v));
		json_t *sorted = json_array();

		for (size_t i = 0; i < n; i++)
			v[i] = json_array_get(arr, i);
		qsort(v, n, sizeof(*v), holder_cmp);
		for (size_t i = 0; i < n; i++)
			json_array_append(sorted, v[i]);
		free(v);
		json_decref(arr);
		arr = sorted;
	}
	return arr;
}

/* A vault item from row i of store_vault_page. */
static json_t *
item_json(const struct db_result *rows, int i)
{
	return json_pack("{s:I,s:o,s:I,s:I,s:I,s:o}",
	    "id", (json_int_t)db_int(rows, i, 0),
	    "name", text_json(rows, i, 1),
	    "qty", (json_int_t)db_int(rows, i, 2),
	    "unit_price", (json_int_t)db_int(rows, i, 3),
	    "value", (json_int_t)db_int(rows, i, 4),
	    "holders", holders_json(db_text(rows, i, 6)));
}

/* ---- the cursor ---- */

/* The cursor after row i of a page, as a new JSON string. */
static json_t *
cursor_json(const struct vault_query *vq, const struct db_result *rows, int i)
{
	char plain[PLAIN_MAX], *hex;
	size_t n;
	json_t *out;
	char key[32];

	if (vq->sort == VAULT_SORT_NAME)
		n = (size_t)snprintf(plain, sizeof(plain), "%c%c:%lld:%s",
		    sort_names[vq->sort][0], vq->desc ? 'd' : 'a',
		    (long long)db_int(rows, i, 0), db_text(rows, i, 5));
	else {
		snprintf(key, sizeof(key), "%lld", (long long)db_int(rows, i,
		    vq->sort == VAULT_SORT_VALUE ? 4 : vq->sort == VAULT_SORT_QTY ? 2 : 0));
		n = (size_t)snprintf(plain, sizeof(plain), "%c%c:%lld:%s",
		    sort_names[vq->sort][0], vq->desc ? 'd' : 'a',
		    (long long)db_int(rows, i, 0), key);
	}
	if (n >= sizeof(plain))
		n = sizeof(plain) - 1;
	hex = xmalloc(2 * n + 1);
	crypto_hex(plain, n, hex);
	out = json_string(hex);
	free(hex);
	return out;
}

static int
hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

/*
 * Decode cursor into vq (after_*, has_cursor); name keys go into buf.
 * 0, or -1 when it is not a cursor of this sort and order.
 */
static int
cursor_parse(const char *cursor, struct vault_query *vq, char *buf, size_t len)
{
	size_t n = strlen(cursor);
	char *id, *key, *end;

	if (n == 0 || n % 2 || n > CURSOR_MAX || n / 2 >= len)
		return -1;
	for (size_t i = 0; i < n / 2; i++) {
		int hi = hexval(cursor[2 * i]), lo = hexval(cursor[2 * i + 1]);

		if (hi < 0 || lo < 0 || (hi == 0 && lo == 0))
			return -1;
		buf[i] = (char)(hi << 4 | lo);
	}
	buf[n / 2] = '\0';
	if (n / 2 < 5 || buf[0] != sort_names[vq->sort][0] ||
	    buf[1] != (vq->desc ? 'd' : 'a') || buf[2] != ':')
		return -1;
	id = buf + 3;
	key = strchr(id, ':');
	if (key == NULL)
		return -1;
	*key++ = '\0';
	errno = 0;
	vq->after_id = strtoll(id, &end, 10);
	if (errno || *end || end == id || vq->after_id < 0)
		return -1;
	if (vq->sort == VAULT_SORT_NAME)
		vq->after_name = key;
	else {
		vq->after_num = strtoll(key, &end, 10);
		if (errno || *end || end == key)
			return -1;
	}
	vq->has_cursor = 1;
	return 0;
}

/*
 * Fill vq from the query string.  0, or -1 after answering 400 naming the
 * parameter.  cursor_buf holds a decoded name key.
 */
static int
parse_query(struct req *r, struct vault_query *vq, char *cursor_buf, size_t len)
{
	const char *s;
	char *end;
	long v;

	vq->sort = VAULT_SORT_VALUE;
	vq->desc = 1;
	vq->limit = LIMIT_DEFAULT;
	if ((s = http_query(r, "sort")) != NULL) {
		size_t i;

		for (i = 0; i < ARRAY_SIZE(sort_names) && strcmp(s, sort_names[i]); i++)
			;
		if (i == ARRAY_SIZE(sort_names)) {
			http_error(r, 400, NULL, "sort must be value, qty, name or id");
			return -1;
		}
		vq->sort = (enum vault_sort)i;
	}
	if ((s = http_query(r, "order")) != NULL) {
		if (strcmp(s, "asc") && strcmp(s, "desc")) {
			http_error(r, 400, NULL, "order must be asc or desc");
			return -1;
		}
		vq->desc = strcmp(s, "desc") == 0;
	}
	if ((s = http_query(r, "limit")) != NULL) {
		errno = 0;
		v = strtol(s, &end, 10);
		if (errno || *end || end == s || v < 1 || v > LIMIT_MAX) {
			http_error(r, 400, NULL, "limit must be an integer from 1 to %d",
			    LIMIT_MAX);
			return -1;
		}
		vq->limit = (int)v;
	}
	if ((s = http_query(r, "q")) != NULL && *s) {
		if (strlen(s) > STORE_VAULT_Q_MAX) {
			http_error(r, 400, NULL, "q must be at most %d bytes",
			    STORE_VAULT_Q_MAX);
			return -1;
		}
		vq->q = s;
	}
	if ((s = http_query(r, "container")) != NULL && *s) {
		size_t i;

		for (i = 0; i < ARRAY_SIZE(containers) && strcmp(s, containers[i]); i++)
			;
		if (i == ARRAY_SIZE(containers)) {
			http_error(r, 400, NULL, "container must be one of the containers");
			return -1;
		}
		vq->container = containers[i];
	}
	if ((s = http_query(r, "cursor")) != NULL && *s &&
	    cursor_parse(s, vq, cursor_buf, len) < 0) {
		http_error(r, 400, NULL, "cursor is not a cursor of this sort and order");
		return -1;
	}
	return 0;
}

/* The whole vault answer for group id. */
static void
reply_vault(struct req *r, int64_t id)
{
	struct vault_query vq = { .group_id = id };
	struct db_result *tot = NULL, *rows = NULL;
	char cursor_buf[PLAIN_MAX + 1];
	json_t *items, *next, *version;
	int64_t count, value;
	int n;

	if (parse_query(r, &vq, cursor_buf, sizeof(cursor_buf)) < 0)
		return;
	vq.limit++;		/* one more: is there a next page? */
	if (store_vault_page(&vq, &rows) < 0) {
		http_db_error(r);
		return;
	}
	vq.limit--;
	n = db_nrows(rows);
	if (n > 0) {
		/* Every row carries the totals over all matches. */
		count = db_int(rows, 0, 7);
		value = db_int(rows, 0, 8);
		version = text_json(rows, 0, 9);
	} else {
		if (store_vault_totals(id, vq.container, vq.q, &tot) < 0) {
			db_result_free(rows);
			http_db_error(r);
			return;
		}
		count = db_int(tot, 0, 0);
		value = db_int(tot, 0, 1);
		version = text_json(tot, 0, 2);
	}
	items = json_array();
	for (int i = 0; i < n && i < vq.limit; i++)
		json_array_append_new(items, item_json(rows, i));
	next = n > vq.limit ? cursor_json(&vq, rows, vq.limit - 1) : json_null();
	http_reply_json(r, 200, json_pack("{s:I,s:o,s:I,s:I,s:o,s:o}",
	    "group_id", (json_int_t)id,
	    "catalog_version", version,
	    "total_value", (json_int_t)value,
	    "item_count", (json_int_t)count,
	    "items", items,
	    "next_cursor", next));
	db_result_free(tot);
	db_result_free(rows);
}

static void
vault_get(struct req *r)
{
	int64_t id;

	id = r->group_id;
	reply_vault(r, id);
}

static void
vault_item(struct req *r)
{
	struct db_result *holders = NULL, *item = NULL;
	int64_t id, item_id, qty = 0, price;
	json_t *list;

	id = r->group_id;
	item_id = parse_id(r->param[1], 1);
	if (item_id < 0 || item_id > INT32_MAX) {
		http_error(r, 404, NULL, "no such item");
		return;
	}
	if (store_vault_item(id, item_id, &holders, &item) < 0) {
		http_db_error(r);
		return;
	}
	list = json_array();
	for (int i = 0; i < db_nrows(holders); i++) {
		qty += db_int(holders, i, 3);
		json_array_append_new(list, json_pack("{s:s,s:I,s:s,s:I,s:o}",
		    "character", db_text(holders, i, 0),
		    "user_id", (json_int_t)db_int(holders, i, 1),
		    "container", db_text(holders, i, 2),
		    "qty", (json_int_t)db_int(holders, i, 3),
		    "held_since", http_json_time(holders, i, 4)));
	}
	price = db_int(item, 0, 1);
	http_reply_json(r, 200, json_pack("{s:I,s:o,s:I,s:o,s:I,s:I,s:I,s:o}",
	    "group_id", (json_int_t)id,
	    "catalog_version", text_json(item, 0, 2),
	    "id", (json_int_t)item_id,
	    "name", text_json(item, 0, 0),
	    "unit_price", (json_int_t)price,
	    "qty", (json_int_t)qty,
	    "value", (json_int_t)(qty * price),
	    "holders", list));
	db_result_free(holders);
	db_result_free(item);
}

static void
vault_summary(struct req *r)
{
	struct db_result *tot = NULL, *members = NULL, *conts = NULL;
	json_t *ml, *cl;
	int64_t id;

	id = r->group_id;
	if (store_vault_totals(id, NULL, NULL, &tot) < 0 ||
	    store_vault_summary(id, &members, &conts) < 0) {
		db_result_free(tot);
		http_db_error(r);
		return;
	}
	ml = json_array();
	for (int i = 0; i < db_nrows(members); i++)
		json_array_append_new(ml, json_pack("{s:I,s:s,s:I,s:I}",
		    "user_id", (json_int_t)db_int(members, i, 0),
		    "display_name", db_text(members, i, 1),
		    "item_count", (json_int_t)db_int(members, i, 2),
		    "total_value", (json_int_t)db_int(members, i, 3)));
	cl = json_array();
	for (int i = 0; i < db_nrows(conts); i++)
		json_array_append_new(cl, json_pack("{s:s,s:I,s:I}",
		    "container", db_text(conts, i, 0),
		    "item_count", (json_int_t)db_int(conts, i, 1),
		    "total_value", (json_int_t)db_int(conts, i, 2)));
	http_reply_json(r, 200, json_pack("{s:I,s:o,s:I,s:I,s:o,s:o}",
	    "group_id", (json_int_t)id,
	    "catalog_version", text_json(tot, 0, 2),
	    "total_value", (json_int_t)db_int(tot, 0, 1),
	    "item_count", (json_int_t)db_int(tot, 0, 0),
	    "members", ml,
	    "containers", cl));
	db_result_free(tot);
	db_result_free(members);
	db_result_free(conts);
}

const struct route routes_vault[] = {
	{ EVHTTP_REQ_GET, "/api/v1/groups/{id}/vault", MAIN, USER, MEMBER, vault_get },
	{ EVHTTP_REQ_GET, "/api/v1/groups/{id}/vault/items/{item_id}",
	    MAIN, USER, MEMBER, vault_item },
	{ EVHTTP_REQ_GET, "/api/v1/groups/{id}/vault/summary",
	    MAIN, USER, MEMBER, vault_summary },
	{ EVHTTP_REQ_GET, "/api/v1/sync/groups/{id}/vault", MAIN, USER, MEMBER, vault_get },
	{ 0 },
};
