/*
 * routes_sync.c -- the plugin sync API, the routes under /api/v1/sync.
 *
 * Who may call: the plugin's bearer token for everything; a web session
 * too for the reads (GET characters, containers, state, catalog) and for
 * unlinking a character (the account page does that; CSRF applies).  The
 * other writes take a token only, since only the plugin observes the game.
 *
 * Each handler validates the whole body before touching the database, so a
 * rejected request writes nothing; then it resolves the character (404 when
 * it is not the caller's, exactly like one that does not exist) and makes
 * one store call.  A write is one transaction, opened by the store
 * (src/store/sync.h, which also keeps the lock order).  Messages name the
 * full path of a nested field ("containers.bank.items[3].qty"), through the
 * validate_*_at helpers.  Container and skills updates are ordered by seq
 * (see src/store/containers.h): a seq not greater than the stored one
 * answers 200 {"applied": false, "seq": <stored>}.
 *
 * Decisions documented in docs/API.md "Plugin sync":
 *  * an unknown container name in a path is 404 (no such resource); in a
 *    batch body it is 422 naming the field;
 *  * PATCH of a container never synced is 404: a delta needs a base, so
 *    the plugin answers it with a full PUT;
 *  * a skills update may list only some skills; the others are kept.
 */
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "src/db/db.h"
#include "src/store/activity.h"
#include "src/store/catalog.h"
#include "src/store/characters.h"
#include "src/store/containers.h"
#include "src/store/skills.h"
#include "src/store/sync.h"
#include "src/util.h"
#include "worker/validate.h"
#include "worker/webhooks.h"
#include "worker/auth.h"
#include "worker/router.h"
#include "worker/routes.h"
#include "worker/worker.h"

#define SEQ_MAX INT64_MAX
#define EVENT_DATA_MAX 4096		/* bytes of one event's data, compact JSON */
#define EVENT_KIND_MAX 32
#define ACTIVITY_TEXT_MAX 64		/* heartbeat "activity" */
#define WORLD_MAX 65535

/* ---- JSON shapes ---- */

/* The Character (docs/API.md "Resources") from row i (enum character_col). */
static json_t *
character_json(const struct db_result *rows, int i)
{
	return json_pack("{s:I,s:s,s:o,s:o}",
	    "id", (json_int_t)db_int(rows, i, CHARACTER_ID),
	    "name", db_text(rows, i, CHARACTER_NAME),
	    "created_at", http_json_time(rows, i, CHARACTER_CREATED_AT),
	    "last_sync_at", http_json_time(rows, i, CHARACTER_LAST_SYNC_AT));
}

/* The answer to a container update. */
static json_t *
container_result_json(const struct container_result *c)
{
	if (!c->applied)
		return json_pack("{s:b,s:I}", "applied", 0, "seq", (json_int_t)c->seq);
	return json_pack("{s:b,s:I,s:i,s:i,s:i,s:i}", "applied", 1,
	    "seq", (json_int_t)c->seq, "item_count", c->item_count,
	    "added", c->added, "removed", c->removed, "changed", c->changed);
}

/* The answer to a skills update. */
static json_t *
skills_result_json(const struct skills_result *s)
{
	if (!s->applied)
		return json_pack("{s:b,s:I}", "applied", 0, "seq", (json_int_t)s->seq);
	return json_pack("{s:b,s:I,s:i,s:i}", "applied", 1, "seq", (json_int_t)s->seq,
	    "updated", s->updated, "level_ups", s->level_ups);
}

/* ---- validation of nested parts (messages name the full path) ---- */

/*
 * {"seq", "items": [{"id","qty"}]} (or "changes": [{"id","qty_delta"}] when
 * delta) in the object obj, whose path is where ("" at the top level).
 * *items gets the summed entries (free it).  0, or -1 answered.
 */
static int
parse_state(struct req *r, json_t *obj, const char *where, int delta, int64_t *seq,
	    struct sync_item **items, int *n)
{
	static const char *const put_keys[] = { "seq", "items", NULL };
	static const char *const patch_keys[] = { "seq", "changes", NULL };
	static const char *const item_keys[] = { "id", "qty", NULL };
	static const char *const change_keys[] = { "id", "qty_delta", NULL };
	const char *list = delta ? "changes" : "items";
	const char *qkey = delta ? "qty_delta" : "qty";
	size_t max = (size_t)worker_config()->max_container_items, i;
	json_int_t s, id, qty;
	char *lpath, *at = NULL;
	json_t *arr, *e;
	int rc = -1;

	*items = NULL;
	if (validate_keys_at(r, where, obj, delta ? patch_keys : put_keys) < 0 ||
	    validate_int_at(r, where, obj, "seq", 1, 0, SEQ_MAX, &s) < 0 ||
	    validate_array_at(r, where, obj, list, VALIDATE_TYPED, max, &arr) < 0)
		return -1;
	*seq = s;
	lpath = validate_path(where, list);
	*items = xcalloc(json_array_size(arr) + 1, sizeof(**items));
	json_array_foreach(arr, i, e) {
		free(at);
		at = validate_path_index(lpath, i);
		if (!json_is_object(e)) {
			http_error(r, 422, NULL, "%s must be an object", at);
			goto out;
		}
		if (validate_keys_at(r, at, e, delta ? change_keys : item_keys) < 0 ||
		    validate_int_at(r, at, e, "id", 1, 0, STORE_ITEM_ID_MAX, &id) < 0 ||
		    validate_int_at(r, at, e, qkey, 1, delta ? -STORE_QTY_MAX : 1,
		    STORE_QTY_MAX, &qty) < 0)
			goto out;
		(*items)[i] = (struct sync_item){ id, qty };
	}
	*n = store_containers_sum(*items, (int)json_array_size(arr), delta);
	if (*n < 0) {
		http_error(r, 422, NULL, "%s: the summed qty of one id exceeds %d", lpath,
		    STORE_QTY_MAX);
		goto out;
	}
	rc = 0;
out:
	if (rc < 0) {
		free(*items);
		*items = NULL;
	}
	free(at);
	free(lpath);
	return rc;
}

/*
 * {"seq", "skills": {"attack": xp, ...}} in the object obj, whose path is
 * where.  *v (free it) points into obj.  0, or -1 answered.
 */
static int
parse_skills(struct req *r, json_t *obj, const char *where, int64_t *seq,
	     struct skill_xp **v, int *n)
{
	static const char *const keys[] = { "seq", "skills", NULL };
	const char *k;
	json_int_t s, xp;
	json_t *map, *x;
	char *at;

	*v = NULL;
	if (validate_keys_at(r, where, obj, keys) < 0 ||
	    validate_int_at(r, where, obj, "seq", 1, 0, SEQ_MAX, &s) < 0 ||
	    validate_object_at(r, where, obj, "skills", VALIDATE_TYPED, STORE_SKILLS_MAX,
	    &map) < 0)
		return -1;
	*seq = s;
	*v = xcalloc(json_object_size(map) + 1, sizeof(**v));
	*n = 0;
	at = validate_path(where, "skills");
	json_object_foreach(map, k, x) {
		/* Checked first: a valid name (at most STORE_SKILL_NAME_MAX
		 * bytes) is named whole below; an invalid one is cut on purpose. */
		if (!store_skills_valid_name(k)) {
			http_error(r, 422, NULL, "%s: \"%.40s\" is not a skill name "
			    "(1 to %d lower-case letters)", at, k, STORE_SKILL_NAME_MAX);
			goto fail;
		}
		if (validate_int_at(r, at, map, k, 1, 0, STORE_SKILL_XP_MAX, &xp) < 0)
			goto fail;
		(*v)[*n].skill = k;
		(*v)[(*n)++].xp = xp;
	}
	free(at);
	return 0;
fail:
	free(at);
	free(*v);
	*v = NULL;
	return -1;
}

/* ---- common steps ---- */

/* The id of the caller's character name; answers 404 (or the database
 * error) itself.  0 or -1. */
static int
my_character(struct req *r, const char *name, int64_t *id)
{
	int rc = store_characters_find(r->user_id, name, id, NULL);

	if (rc < 0)
		http_db_error(r);
	else if (rc == 0)
		http_error(r, 404, NULL, "no such character");
	return rc == 1 ? 0 : -1;
}

/* The container named by a path parameter, or -1 after answering 404. */
static int
path_container(struct req *r, const char *name)
{
	int i = store_containers_index(name);

	if (i < 0)
		http_error(r, 404, NULL, "no such container");
	return i;
}

/* ---- characters ---- */

static void
characters_link(struct req *r)
{
	static const char *const allowed[] = { "name", NULL };
	struct db_result *row = NULL;
	const char *name;
	json_t *body;
	int rc;

	body = validate_body(r);
	if (body == NULL)
		return;
	if (validate_keys(r, body, allowed) < 0 ||
	    validate_string(r, body, "name", 1, 1, STORE_CHARACTER_NAME_MAX, &name) < 0)
		goto out;
	if (!store_characters_valid_name(name)) {
		http_error(r, 422, NULL, "name must be 1 to 12 letters, digits, spaces, "
		    "'-' or '_'");
		goto out;
	}
	rc = store_characters_link(r->user_id, name, worker_config()->characters_per_user, &row);
	if (rc < 0)
		http_db_error(r);
	else if (rc == STORE_LINK_TAKEN)
		http_error(r, 409, NULL, "the character is linked to another account");
	else if (rc == STORE_LINK_LIMIT)
		http_error(r, 422, NULL, "your account has %d characters, the most allowed "
		    "([limits] characters_per_user); unlink one first",
		    worker_config()->characters_per_user);
	else
		http_reply_json(r, rc == STORE_LINK_CREATED ? 201 : 200, character_json(row, 0));
	db_result_free(row);
out:
	json_decref(body);
}

static void
characters_list(struct req *r)
{
	struct db_result *rows = NULL;
	json_t *list;

	if (store_characters_list(r->user_id, &rows) < 0) {
		http_db_error(r);
		return;
	}
	list = json_array();
	for (int i = 0; i < db_nrows(rows); i++)
		json_array_append_new(list, character_json(rows, i));
	db_result_free(rows);
	http_reply_json(r, 200, json_pack("{s:o}", "characters", list));
}

static void
characters_delete(struct req *r)
{
	int rc;

	rc = store_characters_delete(r->user_id, r->param[0]);
	if (rc < 0)
		http_db_error(r);
	else if (rc == 0)
		http_error(r, 404, NULL, "no such character");
	else
		http_reply_json(r, 204, NULL);
}

/* ---- containers ---- */

/* PUT (full state) and PATCH (delta) of a container. */
static void
container_write(struct req *r, int delta)
{
	int max = worker_config()->max_container_items;
	struct sync_item *items = NULL;
	struct container_result res;
	int64_t character_id, seq;
	json_t *body;
	int ci, n, rc;

	body = validate_body(r);
	if (body == NULL)
		return;
	if ((ci = path_container(r, r->param[1])) < 0 ||
	    parse_state(r, body, "", delta, &seq, &items, &n) < 0 ||
	    my_character(r, r->param[0], &character_id) < 0)
		goto out;
	rc = store_sync_container(character_id, store_containers_names[ci], seq, items, n,
	    delta, max, &res);
	if (rc == STORE_SYNC_OK && res.applied)
		webhooks_kick();	/* it may have recorded activity */
	if (rc == STORE_SYNC_OK)
		http_reply_json(r, 200, container_result_json(&res));
	else if (rc == STORE_SYNC_NEVER_SYNCED)
		http_error(r, 404, NULL, "the container was never synced; send a full PUT");
	else if (rc == STORE_SYNC_OVERFLOW)
		http_error(r, 422, NULL, "changes: a quantity would exceed %d", STORE_QTY_MAX);
	else if (rc == STORE_SYNC_TOO_MANY)
		http_error(r, 422, NULL, "changes: the container would hold more than %d items",
		    max);
	else
		http_db_error(r);
out:
	free(items);
	json_decref(body);
}

static void
container_put(struct req *r)
{
	container_write(r, 0);
}

static void
container_patch(struct req *r)
{
	container_write(r, 1);
}

static void
container_get(struct req *r)
{
	struct db_result *rows = NULL;
	int64_t character_id;
	json_t *items, *out;
	int ci, rc;

	if ((ci = path_container(r, r->param[1])) < 0 ||
	    my_character(r, r->param[0], &character_id) < 0)
		return;
	rc = store_containers_get(character_id, store_containers_names[ci], &rows);
	if (rc < 0) {
		http_db_error(r);
		return;
	}
	if (rc == 0) {
		http_error(r, 404, NULL, "the container was never synced");
		return;
	}
	items = json_array();
	for (int i = 0; i < db_nrows(rows); i++)
		if (!db_isnull(rows, i, CONTAINER_ITEM_ID))
			json_array_append_new(items, json_pack("{s:I,s:I}",
			    "id", (json_int_t)db_int(rows, i, CONTAINER_ITEM_ID),
			    "qty", (json_int_t)db_int(rows, i, CONTAINER_QTY)));
	out = json_pack("{s:s,s:I,s:o,s:o}", "container", store_containers_names[ci],
	    "seq", (json_int_t)db_int(rows, 0, CONTAINER_SEQ), "items", items,
	    "updated_at", http_json_time(rows, 0, CONTAINER_UPDATED_AT));
	db_result_free(rows);
	http_reply_json(r, 200, out);
}

/* ---- skills ---- */

static void
skills_put(struct req *r)
{
	struct skill_xp *v = NULL;
	struct skills_result res;
	int64_t character_id, seq;
	json_t *body;
	int n;

	body = validate_body(r);
	if (body == NULL)
		return;
	if (parse_skills(r, body, "", &seq, &v, &n) < 0 ||
	    my_character(r, r->param[0], &character_id) < 0)
		goto out;
	/* One statement sequence in its own transaction (src/store/skills.h). */
	if (store_skills_put(character_id, seq, v, n, &res) < 0) {
		http_db_error(r);
		goto out;
	}
	if (res.level_ups > 0)
		webhooks_kick();
	http_reply_json(r, 200, skills_result_json(&res));
out:
	free(v);
	json_decref(body);
}

/* ---- plugin events ---- */

/* 1 if kind is 1-32 of [a-z0-9_] starting with a letter, else 0. */
static int
valid_kind(const char *kind)
{
	size_t n = 0;

	if (kind == NULL || *kind < 'a' || *kind > 'z')
		return 0;
	for (const char *p = kind; *p; p++, n++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '_'))
			return 0;
	return n <= EVENT_KIND_MAX;
}

static void
activity_post(struct req *r)
{
	static const char *const allowed[] = { "events", NULL };
	static const char *const event_keys[] = { "kind", "data", NULL };
	const char **kinds = NULL;
	json_t *body, *events, *e, **datas = NULL;
	int64_t character_id;
	char *at = NULL;
	int recorded;
	size_t i;

	body = validate_body(r);
	if (body == NULL)
		return;
	if (validate_keys(r, body, allowed) < 0 ||
	    validate_array(r, body, "events", 1,
	    (size_t)worker_config()->activity_per_request, &events) < 0)
		goto out;
	kinds = xcalloc(json_array_size(events) + 1, sizeof(*kinds));
	datas = xcalloc(json_array_size(events) + 1, sizeof(*datas));
	json_array_foreach(events, i, e) {
		char *text;
		size_t len;

		free(at);
		at = validate_path_index("events", i);
		if (!json_is_object(e)) {
			http_error(r, 422, NULL, "%s must be an object", at);
			goto out;
		}
		if (validate_keys_at(r, at, e, event_keys) < 0)
			goto out;
		kinds[i] = json_string_value(json_object_get(e, "kind"));
		if (!valid_kind(kinds[i]) || strcmp(kinds[i], ACTIVITY_ITEMS) == 0 ||
		    strcmp(kinds[i], ACTIVITY_LEVEL_UP) == 0) {
			http_error(r, 422, NULL, "%s.kind must be 1 to %d of a-z, 0-9 and '_' "
			    "(not \"%s\" or \"%s\", which the server writes)", at,
			    EVENT_KIND_MAX, ACTIVITY_ITEMS, ACTIVITY_LEVEL_UP);
			goto out;
		}
		if (validate_object_at(r, at, e, "data", 0, SIZE_MAX, &datas[i]) < 0)
			goto out;
		text = datas[i] ? json_dumps(datas[i], JSON_COMPACT) : NULL;
		len = text ? strlen(text) : 0;
		free(text);
		if (len > EVENT_DATA_MAX) {
			http_error(r, 422, NULL, "%s.data is larger than %d bytes", at,
			    EVENT_DATA_MAX);
			goto out;
		}
	}
	if (my_character(r, r->param[0], &character_id) < 0)
		goto out;
	if (store_sync_events(character_id, kinds, datas, (int)json_array_size(events),
	    &recorded) < 0) {
		http_db_error(r);
		goto out;
	}
	if (recorded > 0)
		webhooks_kick();
	http_reply_json(r, 200, json_pack("{s:i,s:i}", "events",
	    (int)json_array_size(events), "recorded", recorded));
out:
	free(at);
	free(kinds);
	free(datas);
	json_decref(body);
}

/* ---- batch ---- */

static void
batch(struct req *r)
{
	static const char *const allowed[] = { "character", "containers", "skills", NULL };
	struct container_result res[STORE_CONTAINERS_N];
	struct skills_result skills_res;
	struct store_sync_batch b;
	json_t *body, *containers, *skills, *v, *out, *results;
	const char *name, *k;

	memset(&b, 0, sizeof(b));
	body = validate_body(r);
	if (body == NULL)
		return;
	if (validate_keys(r, body, allowed) < 0 ||
	    validate_string(r, body, "character", 1, 1, STORE_CHARACTER_NAME_MAX, &name) < 0 ||
	    validate_object_at(r, "", body, "containers", 0, SIZE_MAX, &containers) < 0)
		goto out;
	json_object_foreach(containers, k, v) {
		int ci = store_containers_index(k), rc;
		struct store_sync_state *st;
		json_t *state;
		char *at;

		if (ci < 0) {
			http_error(r, 422, NULL, "containers.%.32s is not a container", k);
			goto out;
		}
		if (validate_object_at(r, "containers", containers, k, VALIDATE_TYPED, SIZE_MAX,
		    &state) < 0)
			goto out;
		st = &b.containers[ci];
		at = validate_path("containers", k);
		rc = parse_state(r, state, at, 0, &st->seq, &st->items, &st->n);
		free(at);
		if (rc < 0)
			goto out;
		st->present = 1;
	}
	if (validate_object_at(r, "", body, "skills", 0, SIZE_MAX, &skills) < 0)
		goto out;
	if (skills != NULL) {
		if (parse_skills(r, skills, "skills", &b.skills_seq, &b.skills, &b.nskills) < 0)
			goto out;
		b.has_skills = 1;
	}
	if (my_character(r, name, &b.character_id) < 0)
		goto out;
	if (store_sync_batch(&b, res, &skills_res) < 0) {
		http_db_error(r);
		goto out;
	}
	webhooks_kick();	/* it may have recorded activity */
	results = json_object();
	for (int i = 0; store_containers_names[i]; i++)
		if (b.containers[i].present)
			json_object_set_new(results, store_containers_names[i],
			    container_result_json(&res[i]));
	out = json_pack("{s:s,s:o}", "character", name, "containers", results);
	if (b.has_skills)
		json_object_set_new(out, "skills", skills_result_json(&skills_res));
	http_reply_json(r, 200, out);
out:
	for (int i = 0; i < STORE_CONTAINERS_N; i++)
		free(b.containers[i].items);
	free(b.skills);
	json_decref(body);
}

/* ---- state, heartbeat, catalog ---- */

static void
state(struct req *r)
{
	struct db_result *rows = NULL;
	json_t *list = NULL, *cur = NULL;
	const char *last = NULL;

	if (store_characters_state(r->user_id, &rows) < 0) {
		http_db_error(r);
		return;
	}
	list = json_array();
	for (int i = 0; i < db_nrows(rows); i++) {
		const char *name = db_text(rows, i, CHARACTER_STATE_NAME);

		if (last == NULL || strcmp(last, name) != 0) {
			cur = json_pack("{s:s,s:o,s:I}", "name", name, "containers", json_object(),
			    "skills_seq",
			    (json_int_t)db_int(rows, i, CHARACTER_STATE_SKILLS_SEQ));
			json_array_append_new(list, cur);
			last = name;
		}
		if (!db_isnull(rows, i, CHARACTER_STATE_CONTAINER))
			json_object_set_new(json_object_get(cur, "containers"),
			    db_text(rows, i, CHARACTER_STATE_CONTAINER),
			    json_integer(db_int(rows, i, CHARACTER_STATE_SEQ)));
	}
	http_reply_json(r, 200, json_pack("{s:o}", "characters", list));
	db_result_free(rows);
}

static void
heartbeat(struct req *r)
{
	static const char *const allowed[] = { "character", "world", "activity", NULL };
	const char *name, *activity;
	json_int_t world = -1;
	int64_t id;
	json_t *body;

	body = validate_body(r);
	if (body == NULL)
		return;
	if (validate_keys(r, body, allowed) < 0 ||
	    validate_string(r, body, "character", 1, 1, STORE_CHARACTER_NAME_MAX, &name) < 0 ||
	    validate_int(r, body, "world", 0, 0, WORLD_MAX, &world) < 0 ||
	    validate_string(r, body, "activity", 0, 0, ACTIVITY_TEXT_MAX, &activity) < 0 ||
	    my_character(r, name, &id) < 0)
		goto out;
	if (store_characters_presence(id, world, activity) < 0)
		http_db_error(r);
	else
		http_reply_json(r, 204, NULL);
out:
	json_decref(body);
}

/* 1 if the If-None-Match header lists etag (or is "*"). */
static int
etag_matches(struct req *r, const char *etag)
{
	const char *h = evhttp_find_header(evhttp_request_get_input_headers(r->ev),
	    "If-None-Match");

	return h != NULL && (strcmp(h, "*") == 0 || strstr(h, etag) != NULL);
}

static void
catalog(struct req *r)
{
	struct catalog_snapshot snap;
	struct db_result *rows = NULL;
	const char *full = http_query(r, "full");
	char etag[40];
	json_t *items;
	int rc;

	rc = store_catalog_current(&snap);
	if (rc < 0) {
		http_db_error(r);
		return;
	}
	if (rc == 0) {
		http_error(r, 404, NULL, "no catalog is loaded");
		return;
	}
	if (full == NULL || strcmp(full, "1") != 0) {
		http_reply_json(r, 200, json_pack("{s:I,s:s,s:I}",
		    "snapshot_id", (json_int_t)snap.id, "version", snap.version,
		    "item_count", (json_int_t)snap.item_count));
		return;
	}
	/* The snapshot id names its contents for good: snapshots never change. */
	snprintf(etag, sizeof(etag), "\"catalog-%" PRId64 "\"", snap.id);
	evhttp_add_header(evhttp_request_get_output_headers(r->ev), "ETag", etag);
	evhttp_add_header(evhttp_request_get_output_headers(r->ev), "Cache-Control",
	    "no-cache");
	if (etag_matches(r, etag)) {
		http_reply_raw(r, 304, NULL, "", 0);
		return;
	}
	if (store_containers_catalog(snap.id, &rows) < 0) {
		http_db_error(r);
		return;
	}
	items = json_array();
	for (int i = 0; i < db_nrows(rows); i++)
		json_array_append_new(items, json_pack("{s:I,s:s,s:b,s:b,s:b,s:I,s:I}",
		    "id", (json_int_t)db_int(rows, i, CATALOG_ITEM_ID),
		    "name", db_text(rows, i, CATALOG_ITEM_NAME),
		    "members", db_bool(rows, i, CATALOG_ITEM_MEMBERS),
		    "tradeable", db_bool(rows, i, CATALOG_ITEM_TRADEABLE),
		    "stackable", db_bool(rows, i, CATALOG_ITEM_STACKABLE),
		    "highalch", (json_int_t)db_int(rows, i, CATALOG_ITEM_HIGHALCH),
		    "price", (json_int_t)db_int(rows, i, CATALOG_ITEM_PRICE)));
	db_result_free(rows);
	http_reply_json(r, 200, json_pack("{s:I,s:s,s:I,s:o}", "snapshot_id",
	    (json_int_t)snap.id, "version", snap.version, "item_count",
	    (json_int_t)snap.item_count, "items", items));
}

const struct route routes_sync[] = {
	{ EVHTTP_REQ_POST, "/api/v1/sync/characters", MAIN, TOKEN, NONE, characters_link },
	{ EVHTTP_REQ_GET, "/api/v1/sync/characters", MAIN, USER, NONE, characters_list },
	{ EVHTTP_REQ_DELETE, "/api/v1/sync/characters/{name}",
	    MAIN, USER, NONE, characters_delete },
	{ EVHTTP_REQ_PUT, "/api/v1/sync/characters/{name}/containers/{container}",
	    MAIN, TOKEN, NONE, container_put },
	{ EVHTTP_REQ_PATCH, "/api/v1/sync/characters/{name}/containers/{container}",
	    MAIN, TOKEN, NONE, container_patch },
	{ EVHTTP_REQ_GET, "/api/v1/sync/characters/{name}/containers/{container}",
	    MAIN, USER, NONE, container_get },
	{ EVHTTP_REQ_PUT, "/api/v1/sync/characters/{name}/skills",
	    MAIN, TOKEN, NONE, skills_put },
	{ EVHTTP_REQ_POST, "/api/v1/sync/characters/{name}/activity",
	    MAIN, TOKEN, NONE, activity_post },
	{ EVHTTP_REQ_POST, "/api/v1/sync/batch", MAIN, TOKEN, NONE, batch },
	{ EVHTTP_REQ_GET, "/api/v1/sync/state", MAIN, USER, NONE, state },
	{ EVHTTP_REQ_POST, "/api/v1/sync/heartbeat", MAIN, TOKEN, NONE, heartbeat },
	{ EVHTTP_REQ_GET, "/api/v1/sync/catalog", MAIN, USER, NONE, catalog },
	{ 0 },
};
