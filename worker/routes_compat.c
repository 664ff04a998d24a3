/*
 * routes_compat.c -- the Group Ironmen Tracker API (docs/API.md "Group
 * Ironmen Tracker compatibility"): the routes the RuneLite plugin "Group
 * Ironmen Tracker" and its site call on a self-hosted server, answered
 * from coffer's store, and the claim that shows such a group on coffer.
 *
 * These routes speak that API, not coffer's: errors are plain text (the
 * site shows them as they are; 401 has an empty body), every answer
 * allows any origin, bodies are read whatever their Content-Type and
 * capped at COMPAT_BODY_MAX.  The router sees them as public routes (its
 * per-address limit applies); the group's token is checked here, since it
 * travels as the raw Authorization header and names a compat group, not
 * a coffer user.  A wrong token for a group counts against a bucket of
 * that group and token (not the address, which many players may share):
 * past COMPAT_FAIL_BURST failures it answers 429 with Retry-After.
 *
 * Handlers read as elsewhere: parse and validate everything, one store
 * call (src/store/compat.h), answer, then publish the live events of what
 * was committed.
 */
#include <ctype.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <event2/buffer.h>

#include "src/crypto.h"
#include "src/log.h"
#include "src/ratelimit.h"
#include "src/store/catalog.h"
#include "src/store/compat.h"
#include "src/store/containers.h"
#include "src/util.h"
#include "worker/events.h"
#include "worker/router.h"
#include "worker/routes.h"
#include "worker/validate.h"
#include "worker/webhooks.h"
#include "worker/worker.h"

#define COMPAT_BODY_MAX		100000
#define COMPAT_FAIL_RATE	1	/* failed tokens per second, per group and token */
#define COMPAT_FAIL_BURST	10
#define TEXT_PLAIN		"text/plain; charset=utf-8"

/* ---- answers ---- */

static void
cors(struct req *r)
{
	evhttp_add_header(evhttp_request_get_output_headers(r->ev),
	    "Access-Control-Allow-Origin", "*");
}

/* A plain-text answer (msg may be ""). */
static void
text(struct req *r, int status, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void
text(struct req *r, int status, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	cors(r);
	http_reply_raw(r, status, msg[0] ? TEXT_PLAIN : NULL, msg, strlen(msg));
}

static void
json(struct req *r, int status, json_t *body)
{
	cors(r);
	http_reply_json(r, status, body);
}

/* Answer from the request's database error, as http_db_error does, in
 * plain text: 409 a conflict (a racing create of one name), 503 busy or
 * unavailable (the plugin tries again), else 500. */
static void
db_failed(struct req *r)
{
	const struct db_error *e = &r->db.err;

	switch (e->kind) {
	case DBE_CONSTRAINT:
		text(r, 409, "Conflicts with existing data");
		break;
	case DBE_BUSY:
	case DBE_UNAVAILABLE:
		log_warn("compat: database busy or unavailable: %s", e->message);
		evhttp_add_header(evhttp_request_get_output_headers(r->ev), "Retry-After", "1");
		text(r, 503, "The database is busy; retry shortly");
		break;
	default:
		log_error("compat: database error %s: %s", e->code, e->message);
		text(r, 500, "Database error");
		break;
	}
}

static void
preflight(struct req *r)
{
	struct evkeyvalq *h = evhttp_request_get_output_headers(r->ev);

	evhttp_add_header(h, "Access-Control-Allow-Methods", "GET, POST, PUT, DELETE, OPTIONS");
	evhttp_add_header(h, "Access-Control-Allow-Headers", "Authorization, Content-Type");
	evhttp_add_header(h, "Access-Control-Max-Age", "86400");
	text(r, 204, "%s", "");
}

/* ---- requests ---- */

/* The body as a JSON object (new reference), or NULL (answered). */
static json_t *
body_object(struct req *r)
{
	struct evbuffer *in = evhttp_request_get_input_buffer(r->ev);
	size_t len = evbuffer_get_length(in);
	json_error_t err;
	json_t *body;

	if (len > COMPAT_BODY_MAX) {
		text(r, 413, "Request body is larger than %d bytes", COMPAT_BODY_MAX);
		return NULL;
	}
	body = json_loadb((const char *)evbuffer_pullup(in, -1), len, 0, &err);
	if (body == NULL) {
		text(r, 400, "Json deserialize error: %s", err.text);
		return NULL;
	}
	if (!json_is_object(body)) {
		json_decref(body);
		text(r, 400, "Json deserialize error: expected an object");
		return NULL;
	}
	return body;
}

/* A string field of body, or NULL after answering 400. */
static const char *
body_string(struct req *r, json_t *body, const char *key)
{
	const char *s = json_string_value(json_object_get(body, key));

	if (s == NULL)
		text(r, 400, "Json deserialize error: %s must be a string", key);
	return s;
}

/*
 * The group of the path's {group} and the Authorization header, into *g.
 * 0 found; 1 the demo group "_" (demo_ok only; *g zeroed); -1 answered:
 * 400 without the header, 401 (empty) for a wrong name or token, 429
 * after too many of those for one group and token.
 */
static int
group_auth(struct req *r, int demo_ok, struct compat_group *g)
{
	const char *name = r->param[0];
	const char *token = evhttp_find_header(evhttp_request_get_input_headers(r->ev),
	    "Authorization");
	char hash[CRYPTO_SHA256_HEX_LEN], key[STORE_COMPAT_NAME_MAX + 80], secs[16];
	int rc, wait;

	memset(g, 0, sizeof(*g));
	if (strcmp(name, "_") == 0 && demo_ok)
		return 1;
	if (token == NULL) {
		text(r, 400, "Authorization header missing from request");
		return -1;
	}
	if (strlen(name) > STORE_COMPAT_NAME_MAX) {
		text(r, 401, "%s", "");		/* no group has such a name */
		return -1;
	}
	crypto_sha256_hex(token, strlen(token), hash);
	rc = store_compat_find(name, hash, g);
	if (rc < 0) {
		db_failed(r);
		return -1;
	}
	if (rc == 1)
		return 0;
	/* An address bucket under a key no address can have. */
	snprintf(key, sizeof(key), "compat:%s:%s", name, hash);
	wait = ratelimit_take(ratelimit_key(RL_ADDRESS, 0, key), COMPAT_FAIL_RATE,
	    COMPAT_FAIL_BURST);
	if (wait > 0) {
		snprintf(secs, sizeof(secs), "%d", wait);
		evhttp_add_header(evhttp_request_get_output_headers(r->ev), "Retry-After", secs);
		text(r, 429, "Too many failed attempts; retry in %d s", wait);
		return -1;
	}
	text(r, 401, "%s", "");
	return -1;
}

/* A member name from the body's key: valid, or NULL after answering 400. */
static const char *
member_name(struct req *r, json_t *body, const char *key)
{
	const char *s = body_string(r, body, key);

	if (s != NULL && !store_compat_valid_name(s)) {
		text(r, 400, "Member name must be 1 to 16 letters, digits, spaces, '-' or '_'");
		return NULL;
	}
	return s;
}

/* ---- unauthenticated ---- */

static void
captcha_enabled(struct req *r)
{
	json(r, 200, json_pack("{s:b,s:s}", "enabled", 0, "sitekey", ""));
}

static void
ge_prices(struct req *r)
{
	struct catalog_snapshot snap;
	struct db_result *rows = NULL;
	json_t *out = json_object();
	char id[24];
	int rc;

	rc = store_catalog_current(&snap);
	if (rc == 1 && store_containers_catalog(snap.id, &rows) < 0)
		rc = -1;
	if (rc < 0) {
		json_decref(out);
		db_failed(r);
		return;
	}
	for (int i = 0; i < db_nrows(rows); i++) {
		snprintf(id, sizeof(id), "%" PRId64, db_int(rows, i, CATALOG_ITEM_ID));
		json_object_set_new(out, id, json_integer(db_int(rows, i, CATALOG_ITEM_PRICE)));
	}
	db_result_free(rows);
	evhttp_add_header(evhttp_request_get_output_headers(r->ev), "Cache-Control",
	    "public, max-age=86400");
	json(r, 200, out);
}

/* The trimmed copy of s (spaces at either end), in buf. */
static const char *
trim(const char *s, char *buf, size_t len)
{
	size_t n;

	while (*s == ' ')
		s++;
	n = strlen(s);
	while (n > 0 && s[n - 1] == ' ')
		n--;
	if (n >= len)
		n = len - 1;	/* longer than any valid name: still invalid */
	memcpy(buf, s, n);
	buf[n] = '\0';
	return buf;
}

/* A random version 4 UUID, the token's form upstream. */
static int
new_token(char out[37])
{
	unsigned char b[16];
	char hex[33];

	if (crypto_random(b, sizeof(b)) < 0)
		return -1;
	b[6] = (b[6] & 0x0f) | 0x40;
	b[8] = (b[8] & 0x3f) | 0x80;
	crypto_hex(b, sizeof(b), hex);
	snprintf(out, 37, "%.8s-%.4s-%.4s-%.4s-%.12s", hex, hex + 8, hex + 12, hex + 16,
	    hex + 20);
	return 0;
}

static void
create_group(struct req *r)
{
	const char *names[STORE_COMPAT_MEMBERS_MAX];
	char name[STORE_COMPAT_NAME_MAX + 2], token[37], hash[CRYPTO_SHA256_HEX_LEN];
	struct compat_group g;
	json_t *body, *list, *v, *kept;
	const char *s;
	size_t i;
	int n = 0;

	if ((body = body_object(r)) == NULL)
		return;
	if ((s = body_string(r, body, "name")) == NULL)
		goto out;
	trim(s, name, sizeof(name));
	if (!store_compat_valid_name(name)) {
		text(r, 400, "Group name must be 1 to 16 letters, digits, spaces, '-' or '_'");
		goto out;
	}
	if (strcmp(name, "_") == 0) {
		text(r, 400, "The group name _ is reserved");
		goto out;
	}
	list = json_object_get(body, "member_names");
	if (!json_is_array(list)) {
		text(r, 400, "Json deserialize error: member_names must be an array");
		goto out;
	}
	json_array_foreach(list, i, v) {
		if ((s = json_string_value(v)) == NULL) {
			text(r, 400, "Json deserialize error: member_names must hold strings");
			goto out;
		}
		if (s[strspn(s, " ")] == '\0')
			continue;	/* the site pads the list with "" */
		if (n == STORE_COMPAT_MEMBERS_MAX) {
			text(r, 400, "A group has at most %d members", STORE_COMPAT_MEMBERS_MAX);
			goto out;
		}
		if (!store_compat_valid_name(s)) {
			text(r, 400, "Member name must be 1 to 16 letters, digits, spaces, "
			    "'-' or '_'");
			goto out;
		}
		for (int j = 0; j < n; j++)
			if (strcasecmp(names[j], s) == 0) {
				text(r, 400, "Member names must be unique");
				goto out;
			}
		names[n++] = s;
	}
	if (new_token(token) < 0) {
		text(r, 500, "No randomness");
		goto out;
	}
	crypto_sha256_hex(token, strlen(token), hash);
	if (store_compat_create(name, hash, names, n, &g) < 0) {
		db_failed(r);
		goto out;
	}
	kept = json_array();
	for (int j = 0; j < n; j++)
		json_array_append_new(kept, json_string(names[j]));
	json(r, 201, json_pack("{s:s,s:o,s:s}", "name", name, "member_names", kept,
	    "token", token));
out:
	json_decref(body);
}

/* ---- members ---- */

/* Answer a member change's outcome (ok: the status of success). */
static void
member_answer(struct req *r, const struct compat_group *g, int rc, int ok)
{
	switch (rc) {
	case STORE_COMPAT_OK:
		text(r, ok, "%s", "");
		events_publish_roster(g->group_id, 0);
		break;
	case STORE_COMPAT_FULL:
		text(r, 400, "Group has already reached the maximum amount of players");
		break;
	case STORE_COMPAT_TAKEN:
		text(r, 400, "Member already exists");
		break;
	case STORE_COMPAT_NO_MEMBER:
		text(r, 400, "Member does not exist");
		break;
	default:
		db_failed(r);
		break;
	}
}

enum member_change { MEMBER_ADD, MEMBER_DELETE, MEMBER_RENAME };

/* add-group-member {"name"}, delete-group-member {"name"} and
 * rename-group-member {"original_name", "new_name"}. */
static void
member_change(struct req *r, enum member_change what)
{
	const char *name, *to = NULL;
	struct compat_group g;
	json_t *body;

	if (group_auth(r, 0, &g) < 0 || (body = body_object(r)) == NULL)
		return;
	name = member_name(r, body, what == MEMBER_RENAME ? "original_name" : "name");
	if (name != NULL && what == MEMBER_RENAME)
		to = member_name(r, body, "new_name");
	if (name != NULL && what == MEMBER_ADD)
		member_answer(r, &g, store_compat_add_member(&g, name), 201);
	else if (name != NULL && what == MEMBER_DELETE)
		member_answer(r, &g, store_compat_delete_member(&g, name), 200);
	else if (to != NULL)
		member_answer(r, &g, store_compat_rename_member(&g, name, to), 200);
	json_decref(body);
}

static void
add_member(struct req *r)
{
	member_change(r, MEMBER_ADD);
}

static void
delete_member(struct req *r)
{
	member_change(r, MEMBER_DELETE);
}

static void
rename_member(struct req *r)
{
	member_change(r, MEMBER_RENAME);
}

/* ---- update-group-member ---- */

/* A field of the update: a flat integer array of min..max elements in
 * lo..hi; items: (item id, quantity) pairs, so of even length. */
static const struct field {
	const char *name;
	size_t min, max;
	int items;
	json_int_t lo, hi;
} fields[] = {
	{ "stats", 7, 7, 0, INT32_MIN, INT32_MAX },
	{ "coordinates", 3, 4, 0, INT32_MIN, INT32_MAX },
	{ "skills", 23, 24, 0, INT32_MIN, INT32_MAX },
	{ "quests", 0, 250, 0, 0, 255 },
	{ "inventory", 56, 56, 1, INT32_MIN, INT32_MAX },
	{ "equipment", 28, 28, 1, INT32_MIN, INT32_MAX },
	{ "bank", 0, 3000, 1, INT32_MIN, INT32_MAX },
	{ "shared_bank", 0, 1000, 1, INT32_MIN, INT32_MAX },
	{ "rune_pouch", 6, 8, 1, INT32_MIN, INT32_MAX },
	{ "seed_vault", 0, 500, 1, INT32_MIN, INT32_MAX },
	{ "deposited", 0, 200, 1, INT32_MIN, INT32_MAX },
	{ "diary_vars", 0, 62, 0, INT32_MIN, INT32_MAX },
	{ "collection_log_v2", 0, 4000, 1, INT32_MIN, INT32_MAX },
	{ "potion_storage", 0, 400, 1, INT32_MIN, INT32_MAX },
	{ "quiver", 0, 2, 1, INT32_MIN, INT32_MAX },
};
#define NFIELDS (sizeof(fields) / sizeof(fields[0]))

/* Check field f of body (present, not null).  0, or -1 after 400. */
static int
check_field(struct req *r, const struct field *f, json_t *v)
{
	size_t n = json_array_size(v), i;
	json_t *e;

	if (!json_is_array(v)) {
		text(r, 400, "Json deserialize error: %s must be an array of integers", f->name);
		return -1;
	}
	json_array_foreach(v, i, e)
		if (!json_is_integer(e) || json_integer_value(e) < f->lo ||
		    json_integer_value(e) > f->hi) {
			text(r, 400, "Json deserialize error: %s must hold integers from %"
			    JSON_INTEGER_FORMAT " to %" JSON_INTEGER_FORMAT, f->name, f->lo, f->hi);
			return -1;
		}
	if (n < f->min || n > f->max) {
		text(r, 400, "%s length violated range constraint %zu..=%zu actual=%zu", f->name,
		    f->min, f->max, n);
		return -1;
	}
	if (f->items && n % 2 != 0) {
		text(r, 400, "%s must have an even number of elements (item-id/quantity pairs), "
		    "got %zu", f->name, n);
		return -1;
	}
	return 0;
}

/* The fields of an update this server keeps, validated, as a new object
 * (unknown fields dropped), or NULL after 400. */
static json_t *
update_fields(struct req *r, json_t *body)
{
	json_t *out = json_object(), *v;

	for (size_t i = 0; i < NFIELDS; i++) {
		v = json_object_get(body, fields[i].name);
		if (v == NULL || json_is_null(v))
			continue;
		if (check_field(r, &fields[i], v) < 0) {
			json_decref(out);
			return NULL;
		}
		json_object_set(out, fields[i].name, v);
	}
	v = json_object_get(body, "interacting");
	if (v != NULL && !json_is_null(v)) {
		if (!json_is_object(v)) {
			json_decref(out);
			text(r, 400, "Json deserialize error: interacting must be an object");
			return NULL;
		}
		json_object_set(out, "interacting", v);
	}
	return out;
}

/* The live events and webhooks of a committed update. */
static void
publish_update(struct compat_update_result *res)
{
	webhooks_kick();	/* it may have recorded activity */
	for (int i = 0; store_containers_names[i]; i++) {
		events_publish_container(res->character, store_containers_names[i], &res->res[i]);
		if (res->shared_character[0])
			events_publish_container(res->shared_character, store_containers_names[i],
			    &res->shared_res[i]);
	}
	events_publish_activity(&res->skills.activity);
}

static void
update_member(struct req *r)
{
	struct compat_update_result res;
	struct compat_group g;
	json_t *body, *f = NULL;
	const char *name;
	int rc;

	if (group_auth(r, 0, &g) < 0 || (body = body_object(r)) == NULL)
		return;
	if ((name = body_string(r, body, "name")) == NULL ||
	    (f = update_fields(r, body)) == NULL)
		goto out;
	rc = store_compat_update(&g, name, f, (int64_t)now_usec(), &res);
	if (rc == STORE_COMPAT_OK) {
		text(r, 200, "%s", "");
		publish_update(&res);
		store_compat_update_free(&res);
	} else if (rc == STORE_COMPAT_OVERFLOW)
		text(r, 400, "An item's total quantity exceeds %d", STORE_QTY_MAX);
	else if (rc == STORE_COMPAT_TOO_MANY)
		text(r, 400, "The merged collection log or bank would be too long");
	else
		db_failed(r);
out:
	json_decref(f);
	json_decref(body);
}

/* ---- reads ---- */

/*
 * An RFC 3339 time ("2024-01-02T03:04:05.678Z", any fraction, Z or an
 * offset) as the microsecond text of store_compat_time, in out.  0 or -1.
 */
static int
parse_time(const char *s, char out[STORE_COMPAT_TIME_LEN])
{
	int y, mo, d, h, mi, sec, off = 0, used = 0;
	int64_t usec = 0, scale = 100000;
	struct tm tm;
	time_t t;

	if (sscanf(s, "%4d-%2d-%2d%*1[Tt ]%2d:%2d:%2d%n", &y, &mo, &d, &h, &mi, &sec,
	    &used) != 6 || used != 19)
		return -1;
	s += used;
	if (*s == '.') {
		if (!isdigit((unsigned char)s[1]))
			return -1;
		for (s++; isdigit((unsigned char)*s); s++, scale /= 10)
			usec += (*s - '0') * scale;
	}
	if (*s == 'Z' || *s == 'z')
		s++;
	else if ((*s == '+' || *s == '-') && isdigit((unsigned char)s[1]) &&
	    isdigit((unsigned char)s[2]) && s[3] == ':' && isdigit((unsigned char)s[4]) &&
	    isdigit((unsigned char)s[5])) {
		off = ((s[1] - '0') * 10 + (s[2] - '0')) * 3600 +
		    ((s[4] - '0') * 10 + (s[5] - '0')) * 60;
		if (*s == '-')
			off = -off;
		s += 6;
	} else
		return -1;
	if (*s != '\0' || y < 1 || mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 ||
	    mi > 59 || sec > 60)
		return -1;
	memset(&tm, 0, sizeof(tm));
	tm.tm_year = y - 1900;
	tm.tm_mon = mo - 1;
	tm.tm_mday = d;
	tm.tm_hour = h;
	tm.tm_min = mi;
	tm.tm_sec = sec;
	t = timegm(&tm) - off;
	if (t < 0)
		t = 0, usec = 0;	/* before every stored time */
	store_compat_time(out, (int64_t)t * 1000000 + usec);
	return 0;
}

/* Row i's value column col as JSON (a new reference; null if unreadable). */
static json_t *
value_json(const struct db_result *rows, int i, int col)
{
	json_t *v = json_loads(db_text(rows, i, col), JSON_DECODE_ANY, NULL);

	return v ? v : json_null();
}

/* s as a JSON string, appended to out. */
static void
add_quoted(struct evbuffer *out, const char *s)
{
	json_t *j = json_string(s);
	char *t = j ? json_dumps(j, JSON_ENCODE_ANY) : NULL;

	evbuffer_add_printf(out, "%s", t ? t : "null");
	free(t);
	json_decref(j);
}

/* Close the member object open in out, with its last_updated if any. */
static void
close_member(struct evbuffer *out, const char *last_updated)
{
	if (last_updated) {
		evbuffer_add_printf(out, ",\"last_updated\":");
		add_quoted(out, last_updated);
	}
	evbuffer_add(out, "}", 1);
}

/*
 * The answer is written as text, each field's stored JSON copied as it
 * is: the site's first poll carries every field of every member (five
 * full banks are some 150 KB), which parsing and encoding again would
 * only slow down.
 */
static void
group_data(struct req *r)
{
	const char *from = http_query(r, "from_time"), *cur = NULL, *last = NULL;
	char since[STORE_COMPAT_TIME_LEN];
	struct db_result *rows = NULL;
	struct compat_group g;
	struct evbuffer *out;

	if (group_auth(r, 1, &g) < 0)
		return;
	if (from == NULL || parse_time(from, since) < 0) {
		text(r, 400, "from_time must be an RFC 3339 time");
		return;
	}
	if (g.id != 0 && store_compat_data(&g, since, &rows) < 0) {
		db_failed(r);
		return;
	}
	out = evbuffer_new();
	evbuffer_add(out, "[", 1);
	for (int i = 0; i < db_nrows(rows); i++) {
		const char *name = db_text(rows, i, COMPAT_DATA_NAME);

		/* Rows come by member: a new name starts its object. */
		if (cur == NULL || strcmp(cur, name) != 0) {
			if (cur != NULL) {
				close_member(out, last);
				evbuffer_add(out, ",", 1);
			}
			evbuffer_add_printf(out, "{\"name\":");
			add_quoted(out, name);
			cur = name;
		}
		last = db_text(rows, i, COMPAT_DATA_LAST_UPDATED);
		if (!db_isnull(rows, i, COMPAT_DATA_FIELD)) {
			evbuffer_add(out, ",", 1);
			add_quoted(out, db_text(rows, i, COMPAT_DATA_FIELD));
			evbuffer_add_printf(out, ":%s", db_text(rows, i, COMPAT_DATA_VALUE));
		}
	}
	if (cur != NULL)
		close_member(out, last);
	evbuffer_add(out, "]", 1);
	cors(r);
	http_reply_raw(r, 200, "application/json", evbuffer_pullup(out, -1),
	    evbuffer_get_length(out));
	evbuffer_free(out);
	db_result_free(rows);
}

/* The field of every member of g (none for the demo group) into *rows.
 * 0, or -1 after 500. */
static int
member_field(struct req *r, const struct compat_group *g, const char *field,
	     struct db_result **rows)
{
	*rows = NULL;
	if (g->id != 0 && store_compat_field(g, field, rows) < 0) {
		db_failed(r);
		return -1;
	}
	return 0;
}

static void
skill_data(struct req *r)
{
	static const char *const periods[] = { "Day", "Week", "Month", "Year" };
	const char *period = http_query(r, "period");
	struct compat_group g;
	struct db_result *rows;
	json_t *out;
	size_t p;

	if (group_auth(r, 1, &g) < 0)
		return;
	for (p = 0; period && p < 4 && strcmp(period, periods[p]) != 0; p++)
		;
	if (period == NULL || p == 4) {
		text(r, 400, "period must be Day, Week, Month or Year");
		return;
	}
	if (member_field(r, &g, "skills", &rows) < 0)
		return;
	/* Coffer keeps no 30-minute history here: the current skills, at
	 * the time they last changed, are the one point of any period. */
	out = json_array();
	for (int i = 0; i < db_nrows(rows); i++) {
		const char *name = db_text(rows, i, COMPAT_FIELD_NAME);
		json_t *points = json_array();

		if (strcmp(name, STORE_COMPAT_SHARED) == 0) {
			json_decref(points);
			continue;
		}
		if (!db_isnull(rows, i, COMPAT_FIELD_VALUE))
			json_array_append_new(points, json_pack("{s:s,s:o}",
			    "time", db_text(rows, i, COMPAT_FIELD_UPDATED_AT),
			    "data", value_json(rows, i, COMPAT_FIELD_VALUE)));
		json_array_append_new(out, json_pack("{s:s,s:o}", "name", name,
		    "skill_data", points));
	}
	db_result_free(rows);
	json(r, 200, out);
}

static void
collection_log(struct req *r)
{
	struct compat_group g;
	struct db_result *rows;
	json_t *out;

	if (group_auth(r, 1, &g) < 0 || member_field(r, &g, "collection_log_v2", &rows) < 0)
		return;
	out = json_array();
	for (int i = 0; i < db_nrows(rows); i++)
		if (!db_isnull(rows, i, COMPAT_FIELD_VALUE))
			json_array_append_new(out, json_pack("{s:s,s:o}", "name",
			    db_text(rows, i, COMPAT_FIELD_NAME), "collection_log_v2",
			    value_json(rows, i, COMPAT_FIELD_VALUE)));
	db_result_free(rows);
	json(r, 200, out);
}

static void
logged_in(struct req *r)
{
	struct compat_group g;

	if (group_auth(r, 0, &g) == 0)
		text(r, 200, "%s", "");
}

static void
in_group(struct req *r)
{
	const char *name = http_query(r, "member_name");
	struct compat_group g;
	int rc;

	if (group_auth(r, 0, &g) < 0)
		return;
	if (name == NULL) {
		text(r, 400, "member_name is required");
		return;
	}
	rc = store_compat_is_member(&g, name);
	if (rc < 0)
		db_failed(r);
	else if (rc == 0)
		text(r, 401, "Player is not a member of this group");
	else
		text(r, 200, "%s", "");
}

/* ---- claim (coffer's API: coffer's error shape) ---- */

static void
claim(struct req *r)
{
	static const char *const allowed[] = { "name", "token", NULL };
	char hash[CRYPTO_SHA256_HEX_LEN];
	const char *name, *token;
	int64_t group_id;
	json_t *body;
	int rc;

	if ((body = validate_body(r)) == NULL)
		return;
	if (validate_keys(r, body, allowed) < 0 ||
	    validate_string(r, body, "name", 1, 1, STORE_COMPAT_NAME_MAX, &name) < 0 ||
	    validate_string(r, body, "token", 1, 1, 128, &token) < 0)
		goto out;
	crypto_sha256_hex(token, strlen(token), hash);
	rc = store_compat_claim(name, hash, r->user_id, worker_config()->groups_per_user,
	    &group_id);
	if (rc < 0)
		http_db_error(r);
	else if (rc == STORE_CLAIM_UNKNOWN)
		http_error(r, 404, NULL, "no Group Ironmen Tracker group has that name and token");
	else if (rc == STORE_CLAIM_TAKEN)
		http_error(r, 409, NULL, "the group was claimed by another account");
	else if (rc == STORE_CLAIM_LIMIT)
		routes_groups_limit(r);
	else {
		http_reply_json(r, 200, json_pack("{s:I,s:s}", "group_id", (json_int_t)group_id,
		    "name", name));
		events_publish_roster(group_id, 0);
	}
out:
	json_decref(body);
}

#define G "/api/group/{group}/"

const struct route routes_compat[] = {
	{ EVHTTP_REQ_OPTIONS, "/api/{action}", MAIN, PUBLIC, NONE, preflight },
	{ EVHTTP_REQ_OPTIONS, G "{action}", MAIN, PUBLIC, NONE, preflight },
	{ EVHTTP_REQ_POST, "/api/create-group", MAIN, PUBLIC, NONE, create_group },
	{ EVHTTP_REQ_GET, "/api/captcha-enabled", MAIN, PUBLIC, NONE, captcha_enabled },
	{ EVHTTP_REQ_GET, "/api/ge-prices", MAIN, PUBLIC, NONE, ge_prices },
	{ EVHTTP_REQ_POST, G "add-group-member", MAIN, PUBLIC, NONE, add_member },
	{ EVHTTP_REQ_DELETE, G "delete-group-member", MAIN, PUBLIC, NONE, delete_member },
	{ EVHTTP_REQ_PUT, G "rename-group-member", MAIN, PUBLIC, NONE, rename_member },
	{ EVHTTP_REQ_POST, G "update-group-member", MAIN, PUBLIC, NONE, update_member },
	{ EVHTTP_REQ_GET, G "get-group-data", MAIN, PUBLIC, NONE, group_data },
	{ EVHTTP_REQ_GET, G "get-skill-data", MAIN, PUBLIC, NONE, skill_data },
	{ EVHTTP_REQ_GET, G "am-i-logged-in", MAIN, PUBLIC, NONE, logged_in },
	{ EVHTTP_REQ_GET, G "am-i-in-group", MAIN, PUBLIC, NONE, in_group },
	{ EVHTTP_REQ_GET, G "collection-log", MAIN, PUBLIC, NONE, collection_log },
	{ EVHTTP_REQ_POST, "/api/v1/groups/claim", MAIN, USER, NONE, claim },
	{ 0 },
};
