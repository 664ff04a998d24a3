/*
 * sync_decode.c -- check and decode the sync bodies (see sync_decode.h).
 *
 * The order of the checks is the order of the messages a client sees for a
 * body with several faults, so it follows the body: unknown keys first,
 * then each field in the order docs/API.md lists it, then the entries of a
 * list in their order.  Every message names the full path of the field
 * ("containers.bank.items[3].qty") through the validate_*_at helpers.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "src/store/activity.h"
#include "src/store/characters.h"
#include "src/util.h"
#include "worker/sync_decode.h"
#include "worker/validate.h"

#define SEQ_MAX INT64_MAX

int
sync_decode_state(struct req *r, json_t *obj, const char *where, int delta,
		  int max_items, int64_t *seq, struct sync_item **items, int *n)
{
	static const char *const put_keys[] = { "seq", "items", NULL };
	static const char *const patch_keys[] = { "seq", "changes", NULL };
	static const char *const item_keys[] = { "id", "qty", NULL };
	static const char *const change_keys[] = { "id", "qty_delta", NULL };
	const char *list = delta ? "changes" : "items";
	const char *qkey = delta ? "qty_delta" : "qty";
	size_t max = (size_t)max_items, i;
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

int
sync_decode_skills(struct req *r, json_t *obj, const char *where, int64_t *seq,
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
	return n <= SYNC_EVENT_KIND_MAX;
}

int
sync_decode_events(struct req *r, json_t *body, int max_events, struct sync_events *ev)
{
	static const char *const allowed[] = { "events", NULL };
	static const char *const event_keys[] = { "kind", "data", NULL };
	json_t *events, *e;
	char *at = NULL;
	int rc = -1;
	size_t i;

	memset(ev, 0, sizeof(*ev));
	if (validate_keys(r, body, allowed) < 0 ||
	    validate_array(r, body, "events", 1, (size_t)max_events, &events) < 0)
		return -1;
	ev->kinds = xcalloc(json_array_size(events) + 1, sizeof(*ev->kinds));
	ev->datas = xcalloc(json_array_size(events) + 1, sizeof(*ev->datas));
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
		ev->kinds[i] = json_string_value(json_object_get(e, "kind"));
		if (!valid_kind(ev->kinds[i]) || strcmp(ev->kinds[i], ACTIVITY_ITEMS) == 0 ||
		    strcmp(ev->kinds[i], ACTIVITY_LEVEL_UP) == 0) {
			http_error(r, 422, NULL, "%s.kind must be 1 to %d of a-z, 0-9 and '_' "
			    "(not \"%s\" or \"%s\", which the server writes)", at,
			    SYNC_EVENT_KIND_MAX, ACTIVITY_ITEMS, ACTIVITY_LEVEL_UP);
			goto out;
		}
		if (validate_object_at(r, at, e, "data", 0, SIZE_MAX, &ev->datas[i]) < 0)
			goto out;
		text = ev->datas[i] ? json_dumps(ev->datas[i], JSON_COMPACT) : NULL;
		len = text ? strlen(text) : 0;
		free(text);
		if (len > SYNC_EVENT_DATA_MAX) {
			http_error(r, 422, NULL, "%s.data is larger than %d bytes", at,
			    SYNC_EVENT_DATA_MAX);
			goto out;
		}
	}
	ev->n = (int)json_array_size(events);
	rc = 0;
out:
	free(at);
	return rc;
}

void
sync_events_free(struct sync_events *ev)
{
	free(ev->kinds);
	free(ev->datas);
	memset(ev, 0, sizeof(*ev));
}

int
sync_decode_batch(struct req *r, json_t *body, int max_items, const char **character,
		  struct store_sync_batch *b)
{
	static const char *const allowed[] = { "character", "containers", "skills", NULL };
	json_t *containers, *skills, *v;
	const char *k;

	memset(b, 0, sizeof(*b));
	if (validate_keys(r, body, allowed) < 0 ||
	    validate_string(r, body, "character", 1, 1, STORE_CHARACTER_NAME_MAX,
	    character) < 0 ||
	    validate_object_at(r, "", body, "containers", 0, SIZE_MAX, &containers) < 0)
		return -1;
	json_object_foreach(containers, k, v) {
		int ci = store_containers_index(k), rc;
		struct store_sync_state *st;
		json_t *state;
		char *at;

		if (ci < 0) {
			http_error(r, 422, NULL, "containers.%.32s is not a container", k);
			return -1;
		}
		if (validate_object_at(r, "containers", containers, k, VALIDATE_TYPED, SIZE_MAX,
		    &state) < 0)
			return -1;
		st = &b->containers[ci];
		at = validate_path("containers", k);
		rc = sync_decode_state(r, state, at, 0, max_items, &st->seq, &st->items,
		    &st->n);
		free(at);
		if (rc < 0)
			return -1;
		st->present = 1;
	}
	if (validate_object_at(r, "", body, "skills", 0, SIZE_MAX, &skills) < 0)
		return -1;
	if (skills != NULL) {
		if (sync_decode_skills(r, skills, "skills", &b->skills_seq, &b->skills,
		    &b->nskills) < 0)
			return -1;
		b->has_skills = 1;
	}
	return 0;
}

void
sync_batch_free(struct store_sync_batch *b)
{
	for (int i = 0; i < STORE_CONTAINERS_N; i++)
		free(b->containers[i].items);
	free(b->skills);
	memset(b, 0, sizeof(*b));
}
