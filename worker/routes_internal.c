/*
 * routes_internal.c -- operator routes of the admin listener: catalog
 * refresh and rollback, the kept vault's verifier, and the
 * development-only wipe.
 *
 * A refresh body is a whole catalog (megabytes; the admin listener's body
 * cap allows it).  It is checked in full before anything is written, so a
 * bad item answers 422 naming its index and field and the current catalog
 * stays as it was.
 */
#include "src/config.h"
#include "src/db/db.h"
#include "src/log.h"
#include "src/store/catalog.h"
#include "src/store/demo.h"
#include "src/store/vault_keep.h"
#include "worker/validate.h"
#include "worker/routes.h"
#include "worker/worker.h"

/* The one shape of a snapshot in responses. */
static json_t *
snapshot_json(const struct catalog_snapshot *s)
{
	return json_pack("{s:I,s:s,s:I}", "snapshot_id", (json_int_t)s->id,
	    "version", s->version, "item_count", (json_int_t)s->item_count);
}

static void
catalog_refresh(struct req *r)
{
	json_t *body = validate_body(r);
	struct catalog_snapshot snap;
	char err[256];

	if (body == NULL)
		return;
	if (store_catalog_check(body, err, sizeof(err)) < 0) {
		http_error(r, 422, NULL, "%s", err);
	} else if (store_catalog_load(body, 0, &snap) < 0) {
		http_db_error(r);
	} else {
		log_info("catalog: loaded %s (%lld items) as snapshot %lld", snap.version,
		    (long long)snap.item_count, (long long)snap.id);
		http_reply_json(r, 200, snapshot_json(&snap));
	}
	json_decref(body);
}

static void
catalog_rollback(struct req *r)
{
	static const char *const allowed[] = { "snapshot_id", NULL };
	json_t *body = validate_body(r);
	struct catalog_snapshot snap;
	json_int_t id = 0;

	if (body == NULL || validate_keys(r, body, allowed) < 0 ||
	    validate_int(r, body, "snapshot_id", 1, 1, INT64_MAX, &id) < 0)
		goto out;
	switch (store_catalog_rollback(id, &snap)) {
	case 1:
		log_info("catalog: snapshot %lld (%s) is current again", (long long)snap.id,
		    snap.version);
		http_reply_json(r, 200, snapshot_json(&snap));
		break;
	case 0:
		http_error(r, 404, NULL, "no catalog snapshot %lld", (long long)id);
		break;
	default:
		http_db_error(r);
		break;
	}
out:
	json_decref(body);
}

/*
 * Recompute the kept vault of one group ({"group_id": N}) or of every
 * group ({}) from the container rows and compare (store_vault_verify):
 * {"checked": groups compared, "differ": [group ids]}.  A difference is a
 * bug in the vault's maintenance, so it is logged too.  Read-only; on a
 * large installation verifying every group reads every item row.
 */
static void
vault_verify(struct req *r)
{
	static const char *const allowed[] = { "group_id", NULL };
	json_t *body = validate_body(r), *list;
	struct db_result *differ = NULL;
	json_int_t id = 0;
	int64_t checked = 0;
	int n;

	if (body == NULL || validate_keys(r, body, allowed) < 0 ||
	    validate_int(r, body, "group_id", 0, 1, INT64_MAX, &id) < 0)
		goto out;
	if (store_vault_verify(id, &differ, &checked) < 0) {
		http_db_error(r);
		goto out;
	}
	list = json_array();
	n = db_nrows(differ);
	for (int i = 0; i < n; i++)
		json_array_append_new(list,
		    json_integer(db_int(differ, i, VAULT_VERIFY_GROUP_ID)));
	if (n > 0)
		log_warn("vault: %d of %lld groups differ from their container rows", n,
		    (long long)checked);
	http_reply_json(r, 200, json_pack("{s:I,s:o}", "checked", (json_int_t)checked,
	    "differ", list));
	db_result_free(differ);
out:
	json_decref(body);
}

/* Development only: back to an empty installation, catalog and flags kept. */
static void
dev_wipe(struct req *r)
{
	json_t *counts;

	if (worker_config()->environment != ENV_DEVELOPMENT) {
		http_error(r, 403, NULL, "only in the development environment");
		return;
	}
	if (store_demo_wipe(&counts) < 0) {
		http_db_error(r);
		return;
	}
	log_info("dev: wiped all runtime data");
	http_reply_json(r, 200, json_pack("{s:o}", "deleted", counts));
}

const struct route routes_internal[] = {
	{ EVHTTP_REQ_POST, "/internal/catalog/refresh", ADMIN, OPS, NONE, catalog_refresh },
	{ EVHTTP_REQ_POST, "/internal/catalog/rollback", ADMIN, OPS, NONE, catalog_rollback },
	{ EVHTTP_REQ_POST, "/internal/vault/verify", ADMIN, OPS, NONE, vault_verify },
	{ EVHTTP_REQ_POST, "/internal/dev/wipe", ADMIN, OPS, NONE, dev_wipe },
	{ 0 },
};
