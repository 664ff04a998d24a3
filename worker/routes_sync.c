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
 * it is not the caller's, exactly like one that does not exist) and runs
 * one store call or one transaction.  Container and skills updates are
 * ordered by seq (see store_containers.h): a seq not greater than the
 * stored one answers 200 {"applied": false, "seq": <stored>}.
 *
 * Decisions documented in docs/API.md "Plugin sync":
 *  * an unknown container name in a path is 404 (no such resource); in a
 *    batch body it is 422 naming the field;
 *  * PATCH of a container never synced is 404: a delta needs a base, so
 *    the plugin answers it with a full PUT;
 *  * a skills update may list only some skills; the others are kept.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "src/db/db.h"
#include "src/store/activity.h"
#include "src/store/catalog.h"
#include "src/store/characters.h"
#include "src/store/containers.h"
#include "src/store/skills.h"
#include "src/util.h"
#include "worker/validate.h"
#include "worker/auth.h"
#include "worker/router.h"
#include "worker/routes.h"
#include "worker/worker.h"

#define SEQ_MAX INT64_MAX
#define EVENTS_MAX 50			/* events in one activity POST */
#define EVENT_DATA_MAX 4096		/* bytes of one event's data, compact JSON */
#define EVENT_KIND_MAX 32
#define ACTIVITY_TEXT_MAX 64		/* heartbeat "activity" */
#define WORLD_MAX 65535

/* ---- JSON shapes ---- */

/* The Character (docs/API.md "Resources") from row i (STORE_CHARACTER columns). */
static json_t *
character_json(const struct db_result *rows, int i)
{
	return json_pack("{s:I,s:s,s:o,s:o}",
	    "id", (json_int_t)db_int(rows, i, 0),
	    "name", db_text(rows, i, 1),
	    "created_at", http_json_time(rows, i, 2),
	    "last_sync_at", http_json_time(rows, i, 3));
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

static int
check_keys(struct req *r, json_t *obj, const char *where, const char *const *allowed)
{
	const char *k;
	json_t *v;

	json_object_foreach(obj, k, v) {
		int ok = 0;

		for (const char *const *a = allowed; *a; a++)
			ok |= strcmp(*a, k) == 0;
		if (!ok) {
			http_error(r, 422, NULL, "unknown field \"%s%s%.64s\"", where,
			    *where ? "." : "", k);
			return -1;
		}
	}
	return 0;
}

/* An integer member key of obj in min..max (required). */
static int
check_int(struct req *r, json_t *obj, const char *where, const char *key,
	  json_int_t min, json_int_t max, int64_t *out)
{
	json_t *v = json_object_get(obj, key);

	if (v == NULL || json_is_null(v)) {
		http_error(r, 422, NULL, "%s%s%s is required", where, *where ? "." : "", key);
		return -1;
	}
	if (!json_is_integer(v) || json_integer_value(v) < min || json_integer_value(v) > max) {
		http_error(r, 422, NULL, "%s%s%s must be an integer from %lld to %lld", where,
		    *where ? "." : "", key, (long long)min, (long long)max);
		return -1;
	}
	*out = json_integer_value(v);
	return 0;
}

/*
 * {"seq", "items": [{"id","qty"}]} (or "changes": [{"id","qty_delta"}] when
 * delta) at obj, named where ("" at the top level).  *items gets the summed
 * entries (free it).  0, or -1 answered.
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
	char at[96];
	json_t *arr, *e;

	*items = NULL;
	if (!json_is_object(obj)) {
		http_error(r, 422, NULL, "%s must be an object", *where ? where : "body");
		return -1;
	}
	if (check_keys(r, obj, where, delta ? patch_keys : put_keys) < 0 ||
	    check_int(r, obj, where, "seq", 0, SEQ_MAX, seq) < 0)
		return -1;
	arr = json_object_get(obj, list);
	if (arr == NULL || json_is_null(arr) || !json_is_array(arr)) {
		http_error(r, 422, NULL, "%s%s%s must be an array", where, *where ? "." : "", list);
		return -1;
	}
	if (json_array_size(arr) > max) {
		http_error(r, 422, NULL, "%s%s%s has more than %zu entries", where,
		    *where ? "." : "", list, max);
		return -1;
	}
	*items = xcalloc(json_array_size(arr) + 1, sizeof(**items));
	json_array_foreach(arr, i, e) {
		snprintf(at, sizeof(at), "%s%s%s[%zu]", where, *where ? "." : "", list, i);
		if (!json_is_object(e)) {
			http_error(r, 422, NULL, "%s must be an object", at);
			goto fail;
		}
		if (check_keys(r, e, at, delta ? change_keys : item_keys) < 0 ||
		    check_int(r, e, at, "id", 0, STORE_ITEM_ID_MAX, &(*items)[i].id) < 0 ||
		    check_int(r, e, at, qkey, delta ? -STORE_QTY_MAX : 1, STORE_QTY_MAX,
		    &(*items)[i].qty) < 0)
			goto fail;
	}
	*n = store_containers_sum(*items, (int)json_array_size(arr), delta);
	if (*n < 0) {
		http_error(r, 422, NULL, "%s%s%s: the summed qty of one id exceeds %d", where,
		    *where ? "." : "", list, STORE_QTY_MAX);
		goto fail;
	}
	return 0;
fail:
	free(*items);
	*items = NULL;
	return -1;
}

/* {"seq", "skills": {"attack": xp, ...}} at obj.  *v points into obj. */
static int
parse_skills(struct req *r, json_t *obj, const char *where, int64_t *seq,
	     struct skill_xp **v, int *n)
{
	static const char *const keys[] = { "seq", "skills", NULL };
	const char *k;
	json_t *map, *x;
	char at[96];

	*v = NULL;
	if (!json_is_object(obj)) {
		http_error(r, 422, NULL, "%s must be an object", *where ? where : "body");
		return -1;
	}
	if (check_keys(r, obj, where, keys) < 0 ||
	    check_int(r, obj, where, "seq", 0, SEQ_MAX, seq) < 0)
		return -1;
	map = json_object_get(obj, "skills");
	if (!json_is_object(map)) {
		http_error(r, 422, NULL, "%s%sskills must be an object", where, *where ? "." : "");
		return -1;
	}
	if (json_object_size(map) > STORE_SKILLS_MAX) {
		http_error(r, 422, NULL, "%s%sskills has more than %d entries", where,
		    *where ? "." : "", STORE_SKILLS_MAX);
		return -1;
	}
	*v = xcalloc(json_object_size(map) + 1, sizeof(**v));
	*n = 0;
	snprintf(at, sizeof(at), "%s%sskills", where, *where ? "." : "");
	json_object_foreach(map, k, x) {
		if (!store_skills_valid_name(k)) {
			http_error(r, 422, NULL, "%s: \"%.40s\" is not a skill name "
			    "(1 to %d lower-case letters)", at, k, STORE_SKILL_NAME_MAX);
			goto fail;
		}
		if (check_int(r, map, at, k, 0, STORE_SKILL_XP_MAX, &(*v)[*n].xp) < 0)
			goto fail;
		(*v)[(*n)++].skill = k;
	}
	return 0;
fail:
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
	rc = store_characters_link(r->user_id, name, &row);
	if (rc < 0)
		http_db_error(r);
	else if (rc == STORE_LINK_TAKEN)
		http_error(r, 409, NULL, "the character is linked to another account");
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

struct container_tx {
	int64_t character_id;
	const char *container;
	int64_t seq;
	struct sync_item *items;
	int n, delta, patch_rc;
	struct container_result res;
};

static int
container_tx(void *arg)
{
	struct container_tx *t = arg;

	if (!t->delta)
		return store_containers_put(t->character_id, t->container, t->seq, t->items,
		    t->n, &t->res);
	t->patch_rc = store_containers_patch(t->character_id, t->container, t->seq, t->items,
	    t->n, worker_config()->max_container_items, &t->res);
	return t->patch_rc == STORE_PATCH_OK ? 0 : -1;
}

/* PUT (full state) and PATCH (delta) of a container. */
static void
container_write(struct req *r, int delta)
{
	struct container_tx t = { .delta = delta, .patch_rc = STORE_PATCH_OK };
	json_t *body;
	int ci;

	body = validate_body(r);
	if (body == NULL)
		return;
	if ((ci = path_container(r, r->param[1])) < 0 ||
	    parse_state(r, body, "", delta, &t.seq, &t.items, &t.n) < 0 ||
	    my_character(r, r->param[0], &t.character_id) < 0)
		goto out;
	t.container = store_containers_names[ci];
	if (db_tx(container_tx, &t) == 0)
		http_reply_json(r, 200, container_result_json(&t.res));
	else if (t.patch_rc == STORE_PATCH_UNKNOWN)
		http_error(r, 404, NULL, "the container was never synced; send a full PUT");
	else if (t.patch_rc == STORE_PATCH_OVERFLOW)
		http_error(r, 422, NULL, "changes: a quantity would exceed %d", STORE_QTY_MAX);
	else if (t.patch_rc == STORE_PATCH_TOO_MANY)
		http_error(r, 422, NULL, "changes: the container would hold more than %d items",
		    worker_config()->max_container_items);
	else
		http_db_error(r);
out:
	free(t.items);
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
		if (!db_isnull(rows, i, 2))
			json_array_append_new(items, json_pack("{s:I,s:I}",
			    "id", (json_int_t)db_int(rows, i, 2),
			    "qty", (json_int_t)db_int(rows, i, 3)));
	out = json_pack("{s:s,s:I,s:o,s:o}", "container", store_containers_names[ci],
	    "seq", (json_int_t)db_int(rows, 0, 0), "items", items,
	    "updated_at", http_json_time(rows, 0, 1));
	db_result_free(rows);
	http_reply_json(r, 200, out);
}

/* ---- skills ---- */

struct skills_tx {
	int64_t character_id, seq;
	struct skill_xp *v;
	int n;
	struct skills_result res;
};

static void
skills_put(struct req *r)
{
	struct skills_tx t = { 0 };
	json_t *body;

	body = validate_body(r);
	if (body == NULL)
		return;
	if (parse_skills(r, body, "", &t.seq, &t.v, &t.n) < 0 ||
	    my_character(r, r->param[0], &t.character_id) < 0)
		goto out;
	if (store_skills_put(t.character_id, t.seq, t.v, t.n, &t.res) < 0)
		http_db_error(r);
	else
		http_reply_json(r, 200, skills_result_json(&t.res));
out:
	free(t.v);
	json_decref(body);
}

/* ---- plugin events ---- */

struct events_tx {
	int64_t character_id;
	json_t *events;
	int rows;
};

static int
events_tx(void *arg)
{
	struct events_tx *t = arg;
	size_t i;
	json_t *e;

	json_array_foreach(t->events, i, e) {
		json_t *data = json_object_get(e, "data");
		json_t *empty = data && !json_is_null(data) ? NULL : json_object();
		int rc = store_activity_record(t->character_id,
		    json_string_value(json_object_get(e, "kind")), empty ? empty : data);

		json_decref(empty);
		if (rc < 0)
			return -1;
		t->rows += rc;
	}
	return 0;
}

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
	struct events_tx t = { 0 };
	json_t *body, *e;
	char at[32];
	size_t i;

	body = validate_body(r);
	if (body == NULL)
		return;
	if (validate_keys(r, body, allowed) < 0 ||
	    validate_array(r, body, "events", 1, EVENTS_MAX, &t.events) < 0)
		goto out;
	json_array_foreach(t.events, i, e) {
		const char *kind;
		json_t *data;
		char *text;
		size_t len;

		snprintf(at, sizeof(at), "events[%zu]", i);
		if (!json_is_object(e)) {
			http_error(r, 422, NULL, "%s must be an object", at);
			goto out;
		}
		if (check_keys(r, e, at, event_keys) < 0)
			goto out;
		kind = json_string_value(json_object_get(e, "kind"));
		if (!valid_kind(kind) || strcmp(kind, ACTIVITY_ITEMS) == 0 ||
		    strcmp(kind, ACTIVITY_LEVEL_UP) == 0) {
			http_error(r, 422, NULL, "%s.kind must be 1 to %d of a-z, 0-9 and '_' "
			    "(not \"%s\" or \"%s\", which the server writes)", at,
			    EVENT_KIND_MAX, ACTIVITY_ITEMS, ACTIVITY_LEVEL_UP);
			goto out;
		}
		data = json_object_get(e, "data");
		if (data != NULL && !json_is_null(data) && !json_is_object(data)) {
			http_error(r, 422, NULL, "%s.data must be an object", at);
			goto out;
		}
		text = json_is_object(data) ? json_dumps(data, JSON_COMPACT) : NULL;
		len = text ? strlen(text) : 0;
		free(text);
		if (len > EVENT_DATA_MAX) {
			http_error(r, 422, NULL, "%s.data is larger than %d bytes", at,
			    EVENT_DATA_MAX);
			goto out;
		}
	}
	if (my_character(r, r->param[0], &t.character_id) < 0)
		goto out;
	if (db_tx(events_tx, &t) < 0)
		http_db_error(r);
	else
		http_reply_json(r, 200, json_pack("{s:i,s:i}", "events",
		    (int)json_array_size(t.events), "recorded", t.rows));
out:
	json_decref(body);
}

/* ---- batch ---- */

/* A batch, indexed like store_containers_names. */
struct batch_tx {
	int64_t character_id;
	int64_t seq[STORE_CONTAINERS_N];
	struct sync_item *items[STORE_CONTAINERS_N];
	int n[STORE_CONTAINERS_N];
	int present[STORE_CONTAINERS_N];
	struct container_result res[STORE_CONTAINERS_N];
	int has_skills;
	int64_t skills_seq;
	struct skill_xp *skills;
	int nskills;
	struct skills_result skills_res;
};

static int
batch_tx(void *arg)
{
	struct batch_tx *t = arg;

	/* store_containers_names order: the lock order of every writer. */
	for (int i = 0; store_containers_names[i]; i++)
		if (t->present[i] && store_containers_put(t->character_id,
		    store_containers_names[i], t->seq[i], t->items[i], t->n[i], &t->res[i]) < 0)
			return -1;
	if (t->has_skills && store_skills_put(t->character_id, t->skills_seq, t->skills,
	    t->nskills, &t->skills_res) < 0)
		return -1;
	return 0;
}

static void
batch(struct req *r)
{
	static const char *const allowed[] = { "character", "containers", "skills", NULL };
	struct batch_tx t;
	json_t *body, *containers, *v, *out, *results;
	const char *name, *k;
	char at[64];

	memset(&t, 0, sizeof(t));
	body = validate_body(r);
	if (body == NULL)
		return;
	if (validate_keys(r, body, allowed) < 0 ||
	    validate_string(r, body, "character", 1, 1, STORE_CHARACTER_NAME_MAX, &name) < 0)
		goto out;
	containers = json_object_get(body, "containers");
	if (containers != NULL && !json_is_null(containers) && !json_is_object(containers)) {
		http_error(r, 422, NULL, "containers must be an object");
		goto out;
	}
	json_object_foreach(containers, k, v) {
		int ci = store_containers_index(k);

		if (ci < 0) {
			http_error(r, 422, NULL, "containers.%.32s is not a container", k);
			goto out;
		}
		snprintf(at, sizeof(at), "containers.%s", k);
		if (parse_state(r, v, at, 0, &t.seq[ci], &t.items[ci], &t.n[ci]) < 0)
			goto out;
		t.present[ci] = 1;
	}
	v = json_object_get(body, "skills");
	if (v != NULL && !json_is_null(v)) {
		if (parse_skills(r, v, "skills", &t.skills_seq, &t.skills, &t.nskills) < 0)
			goto out;
		t.has_skills = 1;
	}
	if (my_character(r, name, &t.character_id) < 0)
		goto out;
	if (db_tx(batch_tx, &t) < 0) {
		http_db_error(r);
		goto out;
	}
	results = json_object();
	for (int i = 0; store_containers_names[i]; i++)
		if (t.present[i])
			json_object_set_new(results, store_containers_names[i],
			    container_result_json(&t.res[i]));
	out = json_pack("{s:s,s:o}", "character", name, "containers", results);
	if (t.has_skills)
		json_object_set_new(out, "skills", skills_result_json(&t.skills_res));
	http_reply_json(r, 200, out);
out:
	for (int i = 0; i < STORE_CONTAINERS_N; i++)
		free(t.items[i]);
	free(t.skills);
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
		const char *name = db_text(rows, i, 0);

		if (last == NULL || strcmp(last, name) != 0) {
			cur = json_pack("{s:s,s:o,s:I}", "name", name, "containers", json_object(),
			    "skills_seq", (json_int_t)db_int(rows, i, 1));
			json_array_append_new(list, cur);
			last = name;
		}
		if (!db_isnull(rows, i, 2))
			json_object_set_new(json_object_get(cur, "containers"), db_text(rows, i, 2),
			    json_integer(db_int(rows, i, 3)));
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
		    "id", (json_int_t)db_int(rows, i, 0), "name", db_text(rows, i, 1),
		    "members", db_bool(rows, i, 2), "tradeable", db_bool(rows, i, 3),
		    "stackable", db_bool(rows, i, 4), "highalch", (json_int_t)db_int(rows, i, 5),
		    "price", (json_int_t)db_int(rows, i, 6)));
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
