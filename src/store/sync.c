/*
 * store/sync.c -- the transactions of the plugin sync API.
 *
 * Each public function packs its arguments into a context and runs one
 * db_tx over it; the callbacks only sequence calls into containers.c,
 * skills.c and activity.c, which do the SQL.  An outcome that is not a
 * database error (a patch refused after its row was locked) travels in
 * the context and makes the callback fail, so the transaction rolls back
 * and the context, not db_last_error(), says why.
 */
#include <string.h>

#include <jansson.h>

#include "src/db/db.h"
#include "src/store/activity.h"
#include "src/store/containers.h"
#include "src/store/skills.h"
#include "src/store/sync.h"
#include "src/store/vault_history.h"

/* ---- one container ---- */

struct container_ctx {
	int64_t character_id;
	const char *container;
	int64_t seq;
	const struct sync_item *items;
	int n, delta, max_items;
	int outcome;			/* enum store_sync_container */
	struct container_result *out;
};

static int
container_tx(void *arg)
{
	struct container_ctx *c = arg;
	int rc;

	if (!c->delta)
		return store_containers_put(c->character_id, c->container, c->seq, c->items,
		    c->n, c->out) < 0 ? -1 : store_vault_history_character(c->character_id);
	rc = store_containers_patch(c->character_id, c->container, c->seq, c->items, c->n,
	    c->max_items, c->out);
	switch (rc) {
	case STORE_PATCH_OK:
		return store_vault_history_character(c->character_id);
	case STORE_PATCH_UNKNOWN:
		c->outcome = STORE_SYNC_NEVER_SYNCED;
		break;
	case STORE_PATCH_OVERFLOW:
		c->outcome = STORE_SYNC_OVERFLOW;
		break;
	case STORE_PATCH_TOO_MANY:
		c->outcome = STORE_SYNC_TOO_MANY;
		break;
	}
	return -1;
}

int
store_sync_container(int64_t character_id, const char *container, int64_t seq,
		     const struct sync_item *items, int n, int delta, int max_items,
		     struct container_result *out)
{
	struct container_ctx c = { character_id, container, seq, items, n, delta, max_items,
	    STORE_SYNC_OK, out };

	memset(out, 0, sizeof(*out));
	if (db_tx(container_tx, &c) == 0)
		return STORE_SYNC_OK;
	store_activity_ids_free(&out->activity);	/* rolled back */
	/* db_tx fails for a refusal too (failing is how the callback rolls
	 * back): the context tells the two apart. */
	return c.outcome != STORE_SYNC_OK ? c.outcome : -1;
}

/* ---- plugin events ---- */

struct events_ctx {
	int64_t character_id;
	const char *const *kinds;
	json_t *const *datas;
	int n, recorded;
	struct store_activity_ids *ids;
};

static int
events_tx(void *arg)
{
	struct events_ctx *c = arg;

	for (int i = 0; i < c->n; i++) {
		json_t *empty = c->datas[i] ? NULL : json_object();
		int rc = store_activity_record(c->character_id, c->kinds[i],
		    empty ? empty : c->datas[i], c->ids);

		json_decref(empty);
		if (rc < 0)
			return -1;
		c->recorded += rc;
	}
	return 0;
}

int
store_sync_events(int64_t character_id, const char *const *kinds, json_t *const *datas,
		  int n, int *recorded, struct store_activity_ids *ids)
{
	struct events_ctx c = { character_id, kinds, datas, n, 0, ids };

	if (db_tx(events_tx, &c) < 0) {
		store_activity_ids_free(ids);	/* rolled back */
		return -1;
	}
	*recorded = c.recorded;
	return 0;
}

/* ---- batch ---- */

struct batch_ctx {
	const struct store_sync_batch *b;
	struct container_result *res;
	struct skills_result *skills_res;
};

static int
batch_tx(void *arg)
{
	struct batch_ctx *c = arg;

	return store_sync_batch_in_tx(c->b, c->res, c->skills_res);
}

int
store_sync_batch_in_tx(const struct store_sync_batch *b, struct container_result *res,
		       struct skills_result *skills_res)
{
	/* The lock order of sync.h: every container by index, then the
	 * character row, which the updates and skills take. */
	for (int i = 0; store_containers_names[i]; i++)
		if (b->containers[i].present &&
		    store_containers_lock(b->character_id, store_containers_names[i]) < 0)
			return -1;
	for (int i = 0; store_containers_names[i]; i++) {
		const struct store_sync_state *s = &b->containers[i];

		if (s->present && store_containers_put(b->character_id,
		    store_containers_names[i], s->seq, s->items, s->n, &res[i]) < 0)
			return -1;
	}
	if (b->has_skills && store_skills_put(b->character_id, b->skills_seq, b->skills,
	    b->nskills, skills_res) < 0)
		return -1;
	return store_vault_history_character(b->character_id);
}

int
store_sync_batch(const struct store_sync_batch *b,
		 struct container_result res[STORE_CONTAINERS_N],
		 struct skills_result *skills_res)
{
	struct batch_ctx c = { b, res, skills_res };

	memset(res, 0, STORE_CONTAINERS_N * sizeof(*res));
	memset(skills_res, 0, sizeof(*skills_res));
	if (db_tx(batch_tx, &c) == 0)
		return 0;
	/* Rolled back: the entries named are gone. */
	for (int i = 0; i < STORE_CONTAINERS_N; i++)
		store_activity_ids_free(&res[i].activity);
	store_activity_ids_free(&skills_res->activity);
	return -1;
}
