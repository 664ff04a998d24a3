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
 * The cursor (http.h) carries the last item's id and sort key, under the
 * tag "<sort><order>" (first letters: "vd" for value desc), so a cursor
 * from another ordering is 400 rather than a page that silently skips
 * items.  Filters may change between pages; the cursor only says where the
 * previous page ended.
 *
 * The page is fetched with limit + 1 rows: the extra row only tells
 * whether a next page exists.  total_value and item_count come with the
 * page's rows, over every matching item (store_vault_page; store_vault_totals
 * only when the page is empty).  The page's answer is written as text with
 * each row's kept holders copied in unparsed ("the page's answer" below);
 * the other answers are built with jansson.
 *
 * Values and totals may pass 2^63 - 1 (docs/API.md "Numbers"): they are
 * read through store_vault_value() and store_vault_total(), which clamp
 * and say so, and an object with a clamped number gets "saturated": true
 * (saturated()).  Nothing here multiplies or adds them itself.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>

#include "src/db/db.h"
#include "src/store/containers.h"
#include "src/store/vault.h"
#include "src/util.h"
#include "worker/router.h"
#include "worker/routes.h"

#define LIMIT_DEFAULT	100
#define LIMIT_MAX	500

/* Indexed by enum vault_sort: the parameter's values, and the page column
 * holding each one's key. */
static const char *const sort_names[] = { "value", "qty", "name", "id" };
static const enum vault_page_col sort_cols[] = {
	VAULT_PAGE_VALUE, VAULT_PAGE_QTY, VAULT_PAGE_SORT_NAME, VAULT_PAGE_ID
};
static const char *const order_names[] = { "asc", "desc" };	/* vq->desc */

static json_t *
text_json(const struct db_result *rows, int i, int col)
{
	const char *s = db_text(rows, i, col);

	return s ? json_string(s) : json_null();
}

/* o, with "saturated": true when one of its numbers was clamped. */
static json_t *
saturated(json_t *o, int sat)
{
	if (sat)
		json_object_set_new(o, "saturated", json_true());
	return o;
}

/* An item id from a path segment: decimal, 0 included, no leading zero;
 * -1 when it is not one (then 404). */
static int64_t
parse_item_id(const char *s)
{
	char *end;
	long long v;

	if (s == NULL || *s < '0' || *s > '9' || (*s == '0' && s[1]))
		return -1;
	errno = 0;
	v = strtoll(s, &end, 10);
	return errno || *end ? -1 : (int64_t)v;
}

/* ---- the page's answer, written as text ---- */

/*
 * A page is the busiest read there is, and most of its answer is the
 * rows' holders, kept as the very JSON text the answer carries (sorted
 * and compact, store/vault_keep.c): so the answer is written straight
 * into one growing buffer, each row's holders copied as they are, in the
 * form and order json_dumps(JSON_COMPACT) gives the same object
 * (http_reply_json), instead of parsing every row's holders and
 * serialising it all again.
 */

/* s as a JSON string, escaped as jansson escapes (docs/API.md strings are
 * UTF-8, which goes as it is), or null. */
static void
put_string(struct evbuffer *b, const char *s)
{
	const char *run;

	if (s == NULL) {
		evbuffer_add(b, "null", 4);
		return;
	}
	evbuffer_add(b, "\"", 1);
	for (run = s; *s; s++) {
		unsigned char c = (unsigned char)*s;
		const char *esc = NULL;
		char u[8];

		if (c >= 0x20 && c != '"' && c != '\\')
			continue;
		evbuffer_add(b, run, (size_t)(s - run));
		switch (c) {
		case '"': esc = "\\\""; break;
		case '\\': esc = "\\\\"; break;
		case '\b': esc = "\\b"; break;
		case '\f': esc = "\\f"; break;
		case '\n': esc = "\\n"; break;
		case '\r': esc = "\\r"; break;
		case '\t': esc = "\\t"; break;
		default:
			snprintf(u, sizeof(u), "\\u%04X", c);
			esc = u;
		}
		evbuffer_add(b, esc, strlen(esc));
		run = s + 1;
	}
	evbuffer_add(b, run, (size_t)(s - run));
	evbuffer_add(b, "\"", 1);
}

/* A vault item from row i of store_vault_page, as the object's text. */
static void
put_item(struct evbuffer *b, const struct db_result *rows, int i)
{
	int64_t qty = db_int(rows, i, VAULT_PAGE_QTY);
	int64_t price = db_int(rows, i, VAULT_PAGE_UNIT_PRICE), value;
	int sat = store_vault_value(qty, price, &value);
	const char *holders = db_text(rows, i, VAULT_PAGE_HOLDERS);

	evbuffer_add_printf(b, "{\"id\":%lld,\"name\":",
	    (long long)db_int(rows, i, VAULT_PAGE_ID));
	put_string(b, db_text(rows, i, VAULT_PAGE_NAME));
	evbuffer_add_printf(b, ",\"qty\":%lld,\"unit_price\":%lld,\"value\":%lld,"
	    "\"holders\":", (long long)qty, (long long)price, (long long)value);
	evbuffer_add(b, holders ? holders : "[]", holders ? strlen(holders) : 2);
	evbuffer_add(b, sat ? ",\"saturated\":true}" : "}", sat ? 18 : 1);
}

/* ---- the cursor ---- */

/* The cursor tag of vq's sort and order: "vd" for value desc... */
static void
cursor_tag(const struct vault_query *vq, char tag[3])
{
	tag[0] = sort_names[vq->sort][0];
	tag[1] = vq->desc ? 'd' : 'a';
	tag[2] = '\0';
}

/* The cursor after row i of a page, as a new JSON string. */
static json_t *
cursor_json(const struct vault_query *vq, const struct db_result *rows, int i)
{
	enum vault_page_col col = sort_cols[vq->sort];
	char tag[3], num[32];
	const char *key = num;

	cursor_tag(vq, tag);
	if (vq->sort == VAULT_SORT_NAME)
		key = db_text(rows, i, col);
	else
		snprintf(num, sizeof(num), "%lld", (long long)db_int(rows, i, col));
	return http_cursor_json(tag, db_int(rows, i, VAULT_PAGE_ID), key);
}

/*
 * The cursor parameter into vq (after_*, has_cursor); a name key points
 * into c.  0, or -1 after answering 400.
 */
static int
cursor_parse(struct req *r, struct vault_query *vq, struct http_cursor *c)
{
	char tag[3], *end;
	int rc;

	cursor_tag(vq, tag);
	rc = http_query_cursor(r, tag, c);
	if (rc <= 0)
		return rc;
	if (c->key == NULL)
		goto bad;
	if (vq->sort == VAULT_SORT_NAME)
		vq->after_name = c->key;
	else {
		errno = 0;
		vq->after_num = strtoll(c->key, &end, 10);
		if (errno || *end || end == c->key)
			goto bad;
	}
	vq->after_id = c->id;
	vq->has_cursor = 1;
	return 0;
bad:
	http_bad_cursor(r);
	return -1;
}

/*
 * Fill vq from the query string.  0, or -1 after answering 400 naming the
 * parameter.  c holds a decoded name key.
 */
static int
parse_query(struct req *r, struct vault_query *vq, struct http_cursor *c)
{
	const char *s;
	int64_t limit;
	int sort, desc, i;

	if (http_query_enum(r, "sort", sort_names, ARRAY_SIZE(sort_names),
	    VAULT_SORT_VALUE, &sort) < 0 ||
	    http_query_enum(r, "order", order_names, ARRAY_SIZE(order_names), 1,
	    &desc) < 0 ||
	    http_query_int(r, "limit", 1, LIMIT_MAX, LIMIT_DEFAULT, &limit) < 0)
		return -1;
	vq->sort = (enum vault_sort)sort;
	vq->desc = desc;
	vq->limit = (int)limit;
	if ((s = http_query(r, "q")) != NULL && *s) {
		if (strlen(s) > STORE_VAULT_Q_MAX) {
			http_error(r, 400, NULL, "q must be at most %d bytes",
			    STORE_VAULT_Q_MAX);
			return -1;
		}
		vq->q = s;
	}
	if ((s = http_query(r, "container")) != NULL && *s) {
		if ((i = store_containers_index(s)) < 0) {
			http_error(r, 400, NULL, "container must be one of the containers");
			return -1;
		}
		vq->container = store_containers_names[i];
	}
	return cursor_parse(r, vq, c);
}

/* The whole vault answer for group id (see "the page's answer" above). */
static void
reply_vault(struct req *r, int64_t id)
{
	struct vault_query vq = { .group_id = id };
	struct db_result *tot = NULL, *rows = NULL, *head;
	struct http_cursor cursor;
	struct evbuffer *b;
	json_t *next = NULL;
	int64_t count, value;
	int n, sat, hc, vc;

	if (parse_query(r, &vq, &cursor) < 0)
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
		head = rows;
		hc = VAULT_PAGE_ITEM_COUNT;
		vc = VAULT_PAGE_CATALOG_VERSION;
		sat = store_vault_total(rows, 0, VAULT_PAGE_TOTAL_VALUE, &value);
	} else {
		if (store_vault_totals(id, vq.container, vq.q, &tot) < 0) {
			db_result_free(rows);
			http_db_error(r);
			return;
		}
		head = tot;
		hc = VAULT_TOTALS_ITEM_COUNT;
		vc = VAULT_TOTALS_CATALOG_VERSION;
		sat = store_vault_total(tot, 0, VAULT_TOTALS_TOTAL_VALUE, &value);
	}
	count = db_int(head, 0, hc);
	b = evbuffer_new();
	evbuffer_add_printf(b, "{\"group_id\":%lld,\"catalog_version\":", (long long)id);
	put_string(b, db_text(head, 0, vc));
	evbuffer_add_printf(b, ",\"total_value\":%lld,\"item_count\":%lld,\"items\":[",
	    (long long)value, (long long)count);
	for (int i = 0; i < n && i < vq.limit; i++) {
		if (i > 0)
			evbuffer_add(b, ",", 1);
		put_item(b, rows, i);
	}
	evbuffer_add(b, "],\"next_cursor\":", 16);
	if (n > vq.limit)
		next = cursor_json(&vq, rows, vq.limit - 1);
	put_string(b, json_string_value(next));
	evbuffer_add(b, sat ? ",\"saturated\":true}" : "}", sat ? 18 : 1);
	http_reply_raw(r, 200, "application/json", evbuffer_pullup(b, -1),
	    evbuffer_get_length(b));
	evbuffer_free(b);
	json_decref(next);
	db_result_free(tot);
	db_result_free(rows);
}

static void
vault_get(struct req *r)
{
	reply_vault(r, r->group_id);
}

static void
vault_item(struct req *r)
{
	struct db_result *holders = NULL, *item = NULL;
	int64_t id = r->group_id, item_id, qty = 0, price, value, held;
	json_t *list;
	int sat;

	item_id = parse_item_id(r->param[1]);
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
		/* Each holding is below 2^31, so the sum fits 64 bits; checked
		 * all the same. */
		held = db_int(holders, i, VAULT_HOLDER_QTY);
		if (__builtin_add_overflow(qty, held, &qty))
			qty = INT64_MAX;
		json_array_append_new(list, json_pack("{s:s,s:I,s:s,s:I,s:o}",
		    "character", db_text(holders, i, VAULT_HOLDER_CHARACTER),
		    "user_id", (json_int_t)db_int(holders, i, VAULT_HOLDER_USER_ID),
		    "container", db_text(holders, i, VAULT_HOLDER_CONTAINER),
		    "qty", (json_int_t)held,
		    "held_since", http_json_time(holders, i, VAULT_HOLDER_HELD_SINCE)));
	}
	price = db_int(item, 0, VAULT_ITEM_UNIT_PRICE);
	sat = store_vault_value(qty, price, &value);
	http_reply_json(r, 200, saturated(json_pack("{s:I,s:o,s:I,s:o,s:I,s:I,s:I,s:o}",
	    "group_id", (json_int_t)id,
	    "catalog_version", text_json(item, 0, VAULT_ITEM_CATALOG_VERSION),
	    "id", (json_int_t)item_id,
	    "name", text_json(item, 0, VAULT_ITEM_NAME),
	    "unit_price", (json_int_t)price,
	    "qty", (json_int_t)qty,
	    "value", (json_int_t)value,
	    "holders", list), sat));
	db_result_free(holders);
	db_result_free(item);
}

static void
vault_summary(struct req *r)
{
	struct db_result *tot = NULL, *members = NULL, *conts = NULL;
	int64_t id = r->group_id, value;
	json_t *ml, *cl;
	int sat;

	if (store_vault_totals(id, NULL, NULL, &tot) < 0 ||
	    store_vault_summary(id, &members, &conts) < 0) {
		db_result_free(tot);
		http_db_error(r);
		return;
	}
	ml = json_array();
	for (int i = 0; i < db_nrows(members); i++) {
		sat = store_vault_total(members, i, VAULT_MEMBER_TOTAL_VALUE, &value);
		json_array_append_new(ml, saturated(json_pack("{s:I,s:s,s:I,s:I}",
		    "user_id", (json_int_t)db_int(members, i, VAULT_MEMBER_USER_ID),
		    "display_name", db_text(members, i, VAULT_MEMBER_DISPLAY_NAME),
		    "item_count", (json_int_t)db_int(members, i, VAULT_MEMBER_ITEM_COUNT),
		    "total_value", (json_int_t)value), sat));
	}
	cl = json_array();
	for (int i = 0; i < db_nrows(conts); i++) {
		sat = store_vault_total(conts, i, VAULT_CONTAINER_TOTAL_VALUE, &value);
		json_array_append_new(cl, saturated(json_pack("{s:s,s:I,s:I}",
		    "container", db_text(conts, i, VAULT_CONTAINER_NAME),
		    "item_count", (json_int_t)db_int(conts, i, VAULT_CONTAINER_ITEM_COUNT),
		    "total_value", (json_int_t)value), sat));
	}
	sat = store_vault_total(tot, 0, VAULT_TOTALS_TOTAL_VALUE, &value);
	http_reply_json(r, 200, saturated(json_pack("{s:I,s:o,s:I,s:I,s:o,s:o}",
	    "group_id", (json_int_t)id,
	    "catalog_version", text_json(tot, 0, VAULT_TOTALS_CATALOG_VERSION),
	    "total_value", (json_int_t)value,
	    "item_count", (json_int_t)db_int(tot, 0, VAULT_TOTALS_ITEM_COUNT),
	    "members", ml,
	    "containers", cl), sat));
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
