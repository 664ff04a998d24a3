/*
 * routes_flags.c -- GET, PUT /api/v1/ops/flags[/{key}] (admin listener).
 *
 * Reads answer from this worker's flag cache (worker/flags.c), the same
 * path every flag-guarded route takes, so what an operator reads here is
 * what the worker enforces; a change is visible on every worker within
 * FLAGS_TTL_MS.  A PUT writes the table and updates this worker's cache.
 */
#include "src/db/db.h"
#include "src/store/flags.h"
#include "worker/validate.h"
#include "worker/flags.h"
#include "worker/routes.h"

/* The one shape of a single flag. */
static json_t *
flag_json(const char *key, int enabled)
{
	return json_pack("{s:s,s:b}", "key", key, "enabled", enabled);
}

static void
flags_list(struct req *r)
{
	json_t *all = flags_json();

	if (all == NULL) {
		http_db_error(r);
		return;
	}
	http_reply_json(r, 200, json_pack("{s:o}", "flags", all));
}

static void
flags_get(struct req *r)
{
	int enabled = 0;

	switch (flags_lookup(r->param[0], &enabled)) {
	case 1:
		http_reply_json(r, 200, flag_json(r->param[0], enabled));
		break;
	case 0:
		http_error(r, 404, NULL, "no feature flag \"%.64s\"", r->param[0]);
		break;
	default:
		http_db_error(r);
		break;
	}
}

static void
flags_put(struct req *r)
{
	static const char *const allowed[] = { "enabled", NULL };
	json_t *body = validate_body(r);
	int enabled = 0;

	if (body == NULL || validate_keys(r, body, allowed) < 0 ||
	    validate_bool(r, body, "enabled", 1, &enabled) < 0)
		goto out;
	switch (store_flags_set(r->param[0], enabled)) {
	case 1:
		flags_note(r->param[0], enabled);
		http_reply_json(r, 200, flag_json(r->param[0], enabled));
		break;
	case 0:
		http_error(r, 404, NULL, "no feature flag \"%.64s\"", r->param[0]);
		break;
	default:
		http_db_error(r);
		break;
	}
out:
	json_decref(body);
}

const struct route routes_flags[] = {
	{ EVHTTP_REQ_GET, "/api/v1/ops/flags", ADMIN, OPS, NONE, flags_list },
	{ EVHTTP_REQ_GET, "/api/v1/ops/flags/{key}", ADMIN, OPS, NONE, flags_get },
	{ EVHTTP_REQ_PUT, "/api/v1/ops/flags/{key}", ADMIN, OPS, NONE, flags_put },
	{ 0 },
};
