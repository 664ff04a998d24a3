/*
 * routes_webhooks.c -- a group's webhooks: /api/v1/groups/{id}/webhooks.
 *
 * Owner and admins manage them (the table's role column: members get 403,
 * strangers 404 from the router), reads with a session or a token, writes
 * with a session.  Everything here sits behind the webhooks feature flag
 * (503 feature_disabled), checked after the role so a stranger still
 * learns nothing.
 *
 * A URL is checked twice.  Here: an absolute http or https URL, and,
 * unless [webhooks] allow_private is on, a host whose every address is
 * public (httpc_probe looks it up without connecting).  At delivery time
 * the address actually connected to is checked again (worker/httpc.h),
 * since what a name resolves to can change after it was accepted.
 *
 * Deliveries are not made here: creating a test delivery queues it in the
 * outbox and kicks the delivery loop (worker/webhooks.h), so a slow
 * receiver never holds up a request.  The answer is 202 with the queued
 * Delivery; its status shows in .../deliveries.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <curl/curl.h>

#include "src/crypto.h"
#include "src/db/db.h"
#include "src/store/webhooks.h"
#include "worker/flags.h"
#include "worker/httpc.h"
#include "worker/router.h"
#include "worker/routes.h"
#include "worker/validate.h"
#include "worker/webhooks.h"
#include "worker/worker.h"

#define FLAG		"webhooks"
#define URL_MAX		2048		/* characters of a webhook URL */
#define PROBE_MAX_MS	5000L		/* looking up a URL's host */
#define SECRET_PREFIX	"whsec_"
#define LIMIT_DEFAULT	50
#define LIMIT_MAX	200

/* The Webhook (docs/API.md "Webhooks") from row i (enum webhook_col). */
static json_t *
webhook_json(const struct db_result *rows, int i)
{
	return json_pack("{s:I,s:s,s:s,s:b,s:o}",
	    "id", (json_int_t)db_int(rows, i, WEBHOOK_ID),
	    "url", db_text(rows, i, WEBHOOK_URL),
	    "format", db_text(rows, i, WEBHOOK_FORMAT),
	    "enabled", db_bool(rows, i, WEBHOOK_ENABLED),
	    "created_at", http_json_time(rows, i, WEBHOOK_CREATED_AT));
}

/* A nullable integer cell as JSON. */
static json_t *
int_or_null(const struct db_result *rows, int i, int col)
{
	return db_isnull(rows, i, col) ? json_null() : json_integer(db_int(rows, i, col));
}

/* The Delivery from row i (enum webhook_delivery_col). */
static json_t *
delivery_json(const struct db_result *rows, int i)
{
	const char *error = db_text(rows, i, WEBHOOK_DELIVERY_LAST_ERROR);

	return json_pack("{s:I,s:o,s:s,s:I,s:o,s:o,s:o,s:o}",
	    "id", (json_int_t)db_int(rows, i, WEBHOOK_DELIVERY_ID),
	    "event_id", int_or_null(rows, i, WEBHOOK_DELIVERY_EVENT_ID),
	    "status", db_text(rows, i, WEBHOOK_DELIVERY_STATUS),
	    "attempts", (json_int_t)db_int(rows, i, WEBHOOK_DELIVERY_ATTEMPTS),
	    "last_status_code", int_or_null(rows, i, WEBHOOK_DELIVERY_LAST_STATUS),
	    "last_error", error ? json_string(error) : json_null(),
	    "next_attempt_at", http_json_time(rows, i, WEBHOOK_DELIVERY_NEXT_ATTEMPT_AT),
	    "delivered_at", http_json_time(rows, i, WEBHOOK_DELIVERY_DELIVERED_AT));
}

/* 0 if url is an absolute http(s) URL with a host; else 422, -1. */
static int
check_url_form(struct req *r, const char *url)
{
	CURLU *h = curl_url();
	char *scheme = NULL, *host = NULL;
	int ok;

	ok = h != NULL && curl_url_set(h, CURLUPART_URL, url, 0) == CURLUE_OK &&
	    curl_url_get(h, CURLUPART_SCHEME, &scheme, 0) == CURLUE_OK &&
	    curl_url_get(h, CURLUPART_HOST, &host, 0) == CURLUE_OK &&
	    (strcmp(scheme, "http") == 0 || strcmp(scheme, "https") == 0) && host[0] != '\0';
	curl_free(scheme);
	curl_free(host);
	curl_url_cleanup(h);
	if (!ok) {
		http_error(r, 422, NULL, "url must be an absolute http or https URL");
		return -1;
	}
	return 0;
}

/* The "url" field of body, checked as the top of the file says, into
 * *url (NULL when missing and not required).  0, or -1 answered. */
static int
read_url(struct req *r, json_t *body, int required, const char **url)
{
	const struct config *cfg = worker_config();
	long wait = cfg->webhook_timeout < PROBE_MAX_MS ? (long)cfg->webhook_timeout :
	    PROBE_MAX_MS;

	if (validate_string(r, body, "url", required, 1, URL_MAX, url) < 0)
		return -1;
	if (*url == NULL)
		return 0;
	if (check_url_form(r, *url) < 0)
		return -1;
	if (cfg->webhook_allow_private)
		return 0;
	if (httpc_init(worker_base()) < 0) {
		http_error(r, 503, NULL, "cannot look up the url's host now; retry shortly");
		return -1;
	}
	switch (httpc_probe(*url, wait)) {
	case HTTPC_OK:
		return 0;
	case HTTPC_PRIVATE:
		http_error(r, 422, NULL, "url must not resolve to a loopback, private, "
		    "link-local or multicast address");
		return -1;
	default:
		http_error(r, 422, NULL, "url: its host name does not resolve");
		return -1;
	}
}

/* The "format" field of body into *format (NULL when missing). */
static int
read_format(struct req *r, json_t *body, const char **format)
{
	if (validate_string(r, body, "format", 0, 1, 16, format) < 0)
		return -1;
	if (*format != NULL && strcmp(*format, "json") != 0 &&
	    strcmp(*format, "discord") != 0) {
		http_error(r, 422, NULL, "format must be \"json\" or \"discord\"");
		return -1;
	}
	return 0;
}

/* ---- the routes: the router set r->group_id ---- */

static void
webhooks_list(struct req *r)
{
	struct db_result *rows = NULL;
	json_t *list;

	if (flags_require(r, FLAG) < 0)
		return;
	if (store_webhooks_list(r->group_id, &rows) < 0) {
		http_db_error(r);
		return;
	}
	list = json_array();
	for (int i = 0; i < db_nrows(rows); i++)
		json_array_append_new(list, webhook_json(rows, i));
	db_result_free(rows);
	http_reply_json(r, 200, json_pack("{s:o}", "webhooks", list));
}

static void
webhooks_create(struct req *r)
{
	static const char *const allowed[] = { "url", "format", NULL };
	char secret[sizeof(SECRET_PREFIX) + CRYPTO_SECRET_LEN];
	const struct store_plan *plan = NULL;
	struct db_result *row = NULL;
	const char *url, *format;
	json_t *body, *out;
	int rc;

	if (flags_require(r, FLAG) < 0 || (body = validate_body(r)) == NULL)
		return;
	if (validate_keys(r, body, allowed) < 0 || read_format(r, body, &format) < 0 ||
	    read_url(r, body, 1, &url) < 0)
		goto out;
	if (crypto_secret(SECRET_PREFIX, secret, sizeof(secret)) < 0) {
		http_error(r, 500, NULL, "internal error");
		goto out;
	}
	rc = store_webhooks_create(r->group_id, url, format ? format : "json", secret,
	    &plan, &row);
	if (rc == STORE_WEBHOOKS_OK) {
		out = webhook_json(row, 0);
		json_object_set_new(out, "secret", json_string(secret));
		http_reply_json(r, 201, out);
	} else if (rc == STORE_WEBHOOKS_LIMIT)
		http_error(r, 422, NULL, "the group owner's %s plan allows %d webhook%s per "
		    "group", plan->name, plan->webhooks_per_group,
		    plan->webhooks_per_group == 1 ? "" : "s");
	else if (rc == STORE_WEBHOOKS_NO_GROUP)
		http_error(r, 404, NULL, "no such group");
	else
		http_db_error(r);
	db_result_free(row);
out:
	json_decref(body);
}

static void
webhook_patch(struct req *r)
{
	static const char *const allowed[] = { "url", "format", "enabled", NULL };
	const struct store_plan *plan = NULL;
	struct db_result *row = NULL;
	const char *url, *format;
	int64_t id = http_path_id(r->param[1]);
	int enabled = -1, rc;
	json_t *body;

	if (flags_require(r, FLAG) < 0 || (body = validate_body(r)) == NULL)
		return;
	if (validate_keys(r, body, allowed) < 0 || read_format(r, body, &format) < 0 ||
	    validate_bool(r, body, "enabled", 0, &enabled) < 0 ||
	    read_url(r, body, 0, &url) < 0)
		goto out;
	rc = id ? store_webhooks_update(r->group_id, id, url, format, enabled, &plan,
	    &row) : 0;
	if (rc < 0)
		http_db_error(r);
	else if (rc == 0)
		http_error(r, 404, NULL, "no such webhook");
	else if (rc == 2)
		http_error(r, 422, NULL, "enabled: the group owner's %s plan allows %d enabled "
		    "webhook%s per group", plan->name, plan->webhooks_per_group,
		    plan->webhooks_per_group == 1 ? "" : "s");
	else
		http_reply_json(r, 200, webhook_json(row, 0));
	db_result_free(row);
out:
	json_decref(body);
}

static void
webhook_delete(struct req *r)
{
	int64_t id = http_path_id(r->param[1]);
	int rc;

	if (flags_require(r, FLAG) < 0)
		return;
	rc = id ? store_webhooks_delete(r->group_id, id) : 0;
	if (rc < 0)
		http_db_error(r);
	else if (rc == 0)
		http_error(r, 404, NULL, "no such webhook");
	else
		http_reply_json(r, 204, NULL);
}

/* A test event, shaped like an activity entry so receivers parse it the
 * same way (docs/API.md "Webhooks"). */
static char *
test_payload(struct req *r, int64_t id)
{
	char at[32];
	time_t now = time(NULL);
	struct tm tm;
	json_t *o;
	char *s;

	gmtime_r(&now, &tm);
	strftime(at, sizeof(at), "%Y-%m-%dT%H:%M:%SZ", &tm);
	o = json_pack("{s:n,s:s,s:n,s:I,s:{s:I},s:s}", "id", "kind", "test", "character",
	    "user_id", (json_int_t)r->user_id, "data", "webhook_id", (json_int_t)id,
	    "created_at", at);
	s = o ? json_dumps(o, JSON_COMPACT) : NULL;
	json_decref(o);
	return s;
}

static void
webhook_test(struct req *r)
{
	struct db_result *row = NULL;
	int64_t id = http_path_id(r->param[1]);
	char *payload;
	int rc;

	if (flags_require(r, FLAG) < 0)
		return;
	if (id == 0) {
		http_error(r, 404, NULL, "no such webhook");
		return;
	}
	payload = test_payload(r, id);
	rc = payload ? store_webhooks_test(r->group_id, id, payload, &row) : -1;
	if (rc < 0)
		http_db_error(r);
	else if (rc == 0)
		http_error(r, 404, NULL, "no such webhook");
	else {
		webhooks_kick();
		http_reply_json(r, 202, delivery_json(row, 0));
	}
	db_result_free(row);
	free(payload);
}

static void
webhook_deliveries(struct req *r)
{
	struct db_result *rows = NULL;
	int64_t id = http_path_id(r->param[1]), limit;
	json_t *list;
	int rc;

	if (flags_require(r, FLAG) < 0 ||
	    http_query_int(r, "limit", 1, LIMIT_MAX, LIMIT_DEFAULT, &limit) < 0)
		return;
	rc = id ? store_webhooks_deliveries(r->group_id, id, (int)limit, &rows) : 0;
	if (rc < 0) {
		http_db_error(r);
		return;
	}
	if (rc == 0) {
		http_error(r, 404, NULL, "no such webhook");
		return;
	}
	list = json_array();
	for (int i = 0; i < db_nrows(rows); i++)
		json_array_append_new(list, delivery_json(rows, i));
	db_result_free(rows);
	http_reply_json(r, 200, json_pack("{s:o}", "deliveries", list));
}

const struct route routes_webhooks[] = {
	{ EVHTTP_REQ_GET, "/api/v1/groups/{id}/webhooks", MAIN, USER, ADMINS, webhooks_list },
	{ EVHTTP_REQ_POST, "/api/v1/groups/{id}/webhooks",
	    MAIN, SESSION, ADMINS, webhooks_create },
	{ EVHTTP_REQ_PATCH, "/api/v1/groups/{id}/webhooks/{wid}",
	    MAIN, SESSION, ADMINS, webhook_patch },
	{ EVHTTP_REQ_DELETE, "/api/v1/groups/{id}/webhooks/{wid}",
	    MAIN, SESSION, ADMINS, webhook_delete },
	{ EVHTTP_REQ_POST, "/api/v1/groups/{id}/webhooks/{wid}/test",
	    MAIN, SESSION, ADMINS, webhook_test },
	{ EVHTTP_REQ_GET, "/api/v1/groups/{id}/webhooks/{wid}/deliveries",
	    MAIN, USER, ADMINS, webhook_deliveries },
	{ 0 },
};
