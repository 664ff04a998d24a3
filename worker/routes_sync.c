/*
 * routes_sync.c -- the plugin sync API, the routes under /api/v1/sync.
 *
 * Who may call: the plugin's bearer token for everything; a web session
 * too for the reads (GET characters, containers, state, catalog) and for
 * unlinking a character (the account page does that; CSRF applies).  The
 * other writes take a token only, since only the plugin observes the game.
 *
 * Each handler validates the whole body before touching the database, so a
 * rejected request writes nothing (worker/sync_decode.c decodes the sync
 * bodies); then it resolves the character (404 when it is not the
 * caller's, exactly like one that does not exist) and makes one store
 * call.  A write is one transaction, opened by the store (src/store/sync.h,
 * which also keeps the lock order).  Messages name the full path of a
 * nested field ("containers.bank.items[3].qty"), through the
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
#include "src/store/catalog.h"
#include "src/store/characters.h"
#include "src/store/containers.h"
#include "src/store/skills.h"
#include "src/store/sync.h"
#include "src/util.h"
#include "worker/validate.h"
#include "worker/webhooks.h"
#include "worker/auth.h"
#include "worker/events.h"
#include "worker/router.h"
#include "worker/routes.h"
#include "worker/sync_decode.h"
#include "worker/worker.h"

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
	    sync_decode_state(r, body, "", delta, max, &seq, &items, &n) < 0 ||
	    my_character(r, r->param[0], &character_id) < 0)
		goto out;
	rc = store_sync_container(character_id, store_containers_names[ci], seq, items, n,
	    delta, max, &res);
	if (rc == STORE_SYNC_OK) {
		if (res.applied)
			webhooks_kick();	/* it may have recorded activity */
		http_reply_json(r, 200, container_result_json(&res));
		events_publish_container(r->param[0], store_containers_names[ci], &res);
		store_activity_ids_free(&res.activity);
	} else if (rc == STORE_SYNC_NEVER_SYNCED)
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
	if (sync_decode_skills(r, body, "", &seq, &v, &n) < 0 ||
	    my_character(r, r->param[0], &character_id) < 0)
		goto out;
	/* One statement sequence in its own transaction (src/store/skills.h). */
	if (store_skills_put(character_id, seq, v, n, &res) < 0)
		http_db_error(r);
	else {
		if (res.level_ups > 0)
			webhooks_kick();
		http_reply_json(r, 200, skills_result_json(&res));
		events_publish_activity(&res.activity);
		store_activity_ids_free(&res.activity);
	}
out:
	free(v);
	json_decref(body);
}

/* ---- plugin events ---- */

static void
activity_post(struct req *r)
{
	struct store_activity_ids ids = { 0 };
	struct sync_events ev;
	int64_t character_id;
	json_t *body;
	int recorded;

	body = validate_body(r);
	if (body == NULL)
		return;
	if (sync_decode_events(r, body, worker_config()->activity_per_request, &ev) < 0 ||
	    my_character(r, r->param[0], &character_id) < 0)
		goto out;
	if (store_sync_events(character_id, ev.kinds, ev.datas, ev.n, &recorded, &ids) < 0)
		http_db_error(r);
	else {
		if (recorded > 0)
			webhooks_kick();
		http_reply_json(r, 200, json_pack("{s:i,s:i}", "events", ev.n,
		    "recorded", recorded));
		events_publish_activity(&ids);
		store_activity_ids_free(&ids);
	}
out:
	sync_events_free(&ev);
	json_decref(body);
}

/* ---- batch ---- */

static void
batch(struct req *r)
{
	struct container_result res[STORE_CONTAINERS_N];
	struct skills_result skills_res;
	struct store_sync_batch b;
	json_t *body, *out, *results;
	const char *name;

	body = validate_body(r);
	if (body == NULL)
		return;
	if (sync_decode_batch(r, body, worker_config()->max_container_items, &name, &b) < 0 ||
	    my_character(r, name, &b.character_id) < 0)
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
	for (int i = 0; store_containers_names[i]; i++) {
		events_publish_container(name, store_containers_names[i], &res[i]);
		store_activity_ids_free(&res[i].activity);
	}
	events_publish_activity(&skills_res.activity);
	store_activity_ids_free(&skills_res.activity);
out:
	sync_batch_free(&b);
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
	else {
		http_reply_json(r, 204, NULL);
		events_publish_presence(id, name, world, activity);
	}
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
