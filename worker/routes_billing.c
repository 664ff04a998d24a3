/*
 * routes_billing.c -- plans, subscriptions, checkout and the billing
 * webhook; and the mock billing provider.
 *
 * The subscription changes only through the provider's signed webhook
 * (POST /billing/webhook): the checkout route only opens a checkout at
 * the provider, and cancelling asks the provider, which answers with a
 * subscription.canceled event.  So the flow the tests run is the one a
 * real provider (Stripe-like) would drive.
 *
 * Signatures: Coffer-Signature "t=<unix time>,v1=<hex HMAC-SHA256 of
 * "<t>.<raw body>">" keyed with [billing] webhook_secret_file's contents;
 * a bad one, or a t more than BILLING_TOLERANCE_S away from now, is 400.
 * The signature is over the raw bytes, checked before any parsing.
 *
 * The mock provider ([billing] mock_provider = on; never in production)
 * serves its checkout page under /billing/mock/checkout/{id}.  Paying
 * claims the checkout and sends checkout.completed to our own webhook
 * over HTTP (httpc: libcurl on this worker's loop, to url_self(): the
 * public_url or the first listen address), exactly as a provider would,
 * then sends the browser back to /app/billing?checkout=done.  Its events
 * carry the user id as the checkout's client reference and "created" in
 * Unix milliseconds, by which out-of-order deliveries are told apart
 * (store/billing.h).
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <event2/buffer.h>
#include <event2/http.h>
#include <jansson.h>

#include "src/crypto.h"
#include "src/log.h"
#include "src/store/billing.h"
#include "src/store/plans.h"
#include "src/store/store.h"
#include "src/util.h"
#include "worker/flags.h"
#include "worker/http.h"
#include "worker/httpc.h"
#include "worker/router.h"
#include "worker/routes.h"
#include "worker/url.h"
#include "worker/validate.h"
#include "worker/worker.h"

#define FLAG			"billing"
#define BILLING_TOLERANCE_S	300		/* a signature's age, either way */
#define SECRET_MAX		4096		/* webhook_secret_file, bytes */
#define CHECKOUT_TTL_MS		(3600LL * 1000)
#define CHECKOUT_PREFIX		"cs_"
#define CHECKOUT_ID_LEN		(sizeof(CHECKOUT_PREFIX) + CRYPTO_SECRET_LEN)
#define PERIOD_MS		(30LL * 86400 * 1000)
#define SEND_TIMEOUT_MS		10000
#define SIG_MAX			256		/* the header we read */
#define MAX_EVENT_MS		253402300799999LL	/* 9999-12-31 */

/* ---- the secret ---- */

/*
 * The webhook secret (config.c made sure the file exists and is not
 * world-readable): the file's contents less trailing white space, read
 * once; in development without a file, the mock provider's random one.
 * NULL (logged) when billing is off or the file is unreadable, empty, too
 * large or holds a NUL byte.
 */
static const char *
billing_secret(void)
{
	static char *secret;
	const char *path = worker_config()->webhook_secret_file;
	char buf[SECRET_MAX + 2];
	size_t n;
	FILE *f;

	if (secret != NULL)
		return secret;
	if (path == NULL || path[0] == '\0')
		return worker_config()->billing_dev_secret[0] ?
		    worker_config()->billing_dev_secret : NULL;
	if ((f = fopen(path, "r")) == NULL) {
		log_error("[billing] webhook_secret_file %s: %m", path);
		return NULL;
	}
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r' || buf[n - 1] == ' ' ||
	    buf[n - 1] == '\t'))
		n--;
	if (n == 0 || n > SECRET_MAX || memchr(buf, '\0', n) != NULL) {
		log_error("[billing] webhook_secret_file %s: empty, over %d bytes or binary",
		    path, SECRET_MAX);
		return NULL;
	}
	secret = xstrndup(buf, n);
	return secret;
}

/* The hex HMAC-SHA256 of "<t>.<body>" into hex. */
static void
billing_mac(const char *secret, long long t, const char *body, size_t len,
	    char hex[2 * CRYPTO_SHA256_BYTES + 1])
{
	unsigned char mac[CRYPTO_SHA256_BYTES];
	char prefix[32];
	size_t pn = (size_t)snprintf(prefix, sizeof(prefix), "%lld.", t);
	char *msg = xmalloc(pn + len + 1);

	memcpy(msg, prefix, pn);
	memcpy(msg + pn, body, len);
	crypto_hmac_sha256(secret, strlen(secret), msg, pn + len, mac);
	crypto_hex(mac, sizeof(mac), hex);
	free(msg);
}

/* ---- plans and subscription ---- */

static json_t *
plan_json(const struct store_plan *p)
{
	return json_pack("{s:s,s:i,s:i,s:i,s:b,s:i,s:s,s:s}",
	    "name", p->name, "members_per_group", p->members_per_group,
	    "activity_days", p->activity_days, "webhooks_per_group", p->webhooks_per_group,
	    "history_export", p->history, "price", p->price_cents, "currency", "usd",
	    "interval", "month");
}

/* GET /api/v1/billing/plans */
static void
billing_plans(struct req *r)
{
	json_t *list = json_array();
	const struct store_plan *p;

	for (int i = 0; (p = store_plans_at(i)) != NULL; i++)
		json_array_append_new(list, plan_json(p));
	http_reply_json(r, 200, json_pack("{s:o}", "plans", list));
}

/* Answer the caller's subscription with status. */
static void
reply_subscription(struct req *r, int status)
{
	struct db_result *row = NULL;
	int rc = store_billing_subscription(r->user_id, &row);

	if (rc < 0)
		http_db_error(r);
	else if (rc == 0)
		http_error(r, 401, NULL, "no such user");
	else
		http_reply_json(r, status, json_pack("{s:s,s:s,s:o}",
		    "plan", db_text(row, 0, BILLING_SUB_PLAN),
		    "status", db_text(row, 0, BILLING_SUB_STATUS),
		    "current_period_end", http_json_time(row, 0, BILLING_SUB_PERIOD_END)));
	db_result_free(row);
}

/* GET /api/v1/billing/subscription */
static void
billing_subscription(struct req *r)
{
	reply_subscription(r, 200);
}

/* 0 when billing can take payments, else -1 after answering 503. */
static int
billing_available(struct req *r)
{
	if (flags_require(r, FLAG) < 0)
		return -1;
	if (!worker_config()->billing_mock_provider || billing_secret() == NULL) {
		http_error(r, 503, "feature_disabled", "no billing provider is configured");
		return -1;
	}
	return 0;
}

/* POST /api/v1/billing/checkout {"plan": "premium"} */
static void
billing_checkout(struct req *r)
{
	static const char *const allowed[] = { "plan", NULL };
	char id[CHECKOUT_ID_LEN];
	const char *plan = NULL;
	char *base, *url;
	json_t *body;
	int rc;

	if (billing_available(r) < 0 || (body = validate_body(r)) == NULL)
		return;
	if (validate_keys(r, body, allowed) < 0 ||
	    validate_string(r, body, "plan", 1, 1, 32, &plan) < 0)
		goto out;
	if (strcmp(plan, "premium") != 0) {
		http_error(r, 422, NULL, "plan: only \"premium\" can be bought");
		goto out;
	}
	if ((base = url_base(r)) == NULL)
		goto out;
	if (crypto_secret(CHECKOUT_PREFIX, id, sizeof(id)) < 0) {
		http_error(r, 500, NULL, "internal error");
		free(base);
		goto out;
	}
	rc = store_billing_checkout_create(id, r->user_id, plan, CHECKOUT_TTL_MS);
	if (rc < 0)
		http_db_error(r);
	else if (rc == STORE_BILLING_CHECKOUT_ALREADY)
		http_error(r, 409, NULL, "already subscribed to %s", plan);
	else {
		size_t n = strlen(base) + strlen(id) + 32;

		url = xmalloc(n);
		snprintf(url, n, "%s/billing/mock/checkout/%s", base, id);
		http_reply_json(r, 201, json_pack("{s:s,s:s}", "checkout_url", url,
		    "checkout_id", id));
		free(url);
	}
	free(base);
out:
	json_decref(body);
}

/* ---- the mock provider's side ---- */

/*
 * Send one event of type for user_id to our webhook, signed, over HTTP
 * from this coroutine.  0 when it answered 2xx, else -1 (logged).
 */
static int
mock_send(const char *type, int64_t user_id, const char *checkout_id, const char *sub_id)
{
	char evid[sizeof("evt_") + CRYPTO_SECRET_LEN], cus[48], sub[64];
	char hex[2 * CRYPTO_SHA256_BYTES + 1], sig_h[SIG_MAX];
	const char *headers[] = { "Content-Type: application/json", sig_h, NULL };
	const char *secret = billing_secret();
	int64_t now = store_now_ms();
	long long t = (long long)time(NULL);
	struct httpc_call c;
	char *self, *url, *body;
	json_t *ev, *data;
	size_t n;
	int rc;

	if (secret == NULL || crypto_secret("evt_", evid, sizeof(evid)) < 0 ||
	    (self = url_self()) == NULL)
		return -1;
	snprintf(cus, sizeof(cus), "cus_%" PRId64, user_id);
	if (sub_id == NULL) {
		snprintf(sub, sizeof(sub), "sub_%" PRId64 "_%" PRId64, user_id, now);
		sub_id = sub;
	}
	data = json_pack("{s:I,s:s,s:s,s:s,s:I}", "user_id", (json_int_t)user_id,
	    "customer_id", cus, "subscription_id", sub_id, "plan", "premium",
	    "current_period_end", (json_int_t)((now + PERIOD_MS) / 1000));
	if (checkout_id != NULL)
		json_object_set_new(data, "checkout_id", json_string(checkout_id));
	ev = json_pack("{s:s,s:s,s:I,s:o}", "id", evid, "type", type, "created",
	    (json_int_t)now, "data", data);
	body = json_dumps(ev, JSON_COMPACT);
	json_decref(ev);
	billing_mac(secret, t, body, strlen(body), hex);
	snprintf(sig_h, sizeof(sig_h), "Coffer-Signature: t=%lld,v1=%s", t, hex);
	n = strlen(self) + 32;
	url = xmalloc(n);
	snprintf(url, n, "%s/billing/webhook", self);

	memset(&c, 0, sizeof(c));
	c.method = "POST";
	c.url = url;
	c.headers = headers;
	c.body = body;
	c.body_len = strlen(body);
	c.timeout_ms = SEND_TIMEOUT_MS;
	c.discard_response = 1;
	rc = httpc_call(&c);
	if (rc != HTTPC_OK || c.status < 200 || c.status >= 300) {
		log_warn("billing: mock provider: %s to %s: %s (HTTP %ld)", type, url,
		    rc == HTTPC_OK ? "refused" : c.error, c.status);
		rc = -1;
	} else
		rc = 0;
	free(url);
	free(self);
	free(body);
	return rc;
}

/* Answer 404 unless the mock provider is on. */
static int
mock_enabled(struct req *r)
{
	if (worker_config()->billing_mock_provider && billing_secret() != NULL)
		return 1;
	http_error(r, 404, NULL, "no such resource");
	return 0;
}

/* GET /billing/mock/checkout/{id}: the plan, its price and a Pay button. */
static void
mock_checkout_page(struct req *r)
{
	struct db_result *row = NULL;
	const struct store_plan *p;
	const char *status;
	struct evbuffer *b;
	int rc;

	if (!mock_enabled(r))
		return;
	rc = store_billing_checkout_get(r->param[0], &row);
	if (rc < 0) {
		http_db_error(r);
		return;
	}
	if (rc == 0) {
		http_error(r, 404, NULL, "no such checkout");
		return;
	}
	p = store_plans_get(db_text(row, 0, BILLING_CHECKOUT_PLAN));
	status = db_text(row, 0, BILLING_CHECKOUT_STATUS);
	b = evbuffer_new();
	evbuffer_add_printf(b, "<!doctype html>\n<html><head><meta charset=\"utf-8\">"
	    "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
	    "<title>Mock checkout</title></head><body>\n<h1>Mock billing provider</h1>\n"
	    "<p>For development only: paying here charges nothing.</p>\n<p>Plan: <b>");
	http_html_escape(b, p->name);
	evbuffer_add_printf(b, "</b>, $%d.%02d a month</p>\n", p->price_cents / 100,
	    p->price_cents % 100);
	if (strcmp(status, "open") == 0) {
		evbuffer_add_printf(b, "<form method=\"post\" action=\"/billing/mock/checkout/");
		http_html_escape(b, db_text(row, 0, BILLING_CHECKOUT_ID));
		evbuffer_add_printf(b, "/complete\">\n<button type=\"submit\">Pay</button>\n"
		    "</form>\n");
	} else {
		evbuffer_add_printf(b, "<p>This checkout is ");
		http_html_escape(b, status);
		evbuffer_add_printf(b, ".</p>\n");
	}
	evbuffer_add_printf(b, "</body></html>\n");
	evhttp_add_header(evhttp_request_get_output_headers(r->ev), "Cache-Control", "no-store");
	http_reply_raw(r, 200, "text/html; charset=utf-8", evbuffer_pullup(b, -1),
	    evbuffer_get_length(b));
	evbuffer_free(b);
	db_result_free(row);
}

/* POST /billing/mock/checkout/{id}/complete: take payment, tell our
 * webhook, send the browser back. */
static void
mock_checkout_complete(struct req *r)
{
	struct db_result *row = NULL;
	int rc;

	if (!mock_enabled(r))
		return;
	rc = store_billing_checkout_claim(r->param[0], &row);
	if (rc < 0) {
		http_db_error(r);
		return;
	}
	if (rc == 0) {
		http_error(r, 409, NULL, "the checkout is not open (paid, expired or unknown)");
		return;
	}
	if (mock_send("checkout.completed", db_int(row, 0, BILLING_CHECKOUT_USER_ID),
	    r->param[0], NULL) < 0) {
		/* Not delivered: the payment did not happen, Pay may be tried again. */
		if (store_billing_checkout_reopen(r->param[0]) < 0)
			log_warn("billing: checkout %s stays claimed: %s", r->param[0],
			    db_last_error()->message);
		evhttp_add_header(evhttp_request_get_output_headers(r->ev), "Retry-After", "5");
		http_error(r, 503, NULL, "the payment could not be confirmed; try again");
	} else
		url_redirect(r, "/app/billing?checkout=done");
	db_result_free(row);
}

/* POST /api/v1/billing/cancel: the provider cancels, its event
 * downgrades. */
static void
billing_cancel(struct req *r)
{
	struct db_result *row = NULL;
	const char *status;
	int rc;

	if (billing_available(r) < 0)
		return;
	rc = store_billing_subscription(r->user_id, &row);
	if (rc <= 0) {
		if (rc < 0)
			http_db_error(r);
		else
			http_error(r, 401, NULL, "no such user");
		return;
	}
	status = db_text(row, 0, BILLING_SUB_STATUS);
	if (strcmp(status, "active") != 0 && strcmp(status, "past_due") != 0)
		http_error(r, 409, NULL, "no subscription to cancel");
	else if (mock_send("subscription.canceled", r->user_id, NULL,
	    db_text(row, 0, BILLING_SUB_PROVIDER_ID)) < 0) {
		evhttp_add_header(evhttp_request_get_output_headers(r->ev), "Retry-After", "5");
		http_error(r, 503, NULL, "the billing provider could not be reached");
	} else
		reply_subscription(r, 200);
	db_result_free(row);
}

/* ---- the webhook ---- */

/* Check r's Coffer-Signature over body[0..len).  0, or -1 after answering
 * 400. */
static int
check_signature(struct req *r, const char *secret, const char *body, size_t len)
{
	const char *h = evhttp_find_header(evhttp_request_get_input_headers(r->ev),
	    "Coffer-Signature");
	char buf[SIG_MAX], hex[2 * CRYPTO_SHA256_BYTES + 1], *part, *save = NULL, *end;
	const char *v1 = NULL;
	long long t = -1;

	if (h == NULL || strlen(h) >= sizeof(buf)) {
		http_error(r, 400, NULL, "a Coffer-Signature header is required");
		return -1;
	}
	snprintf(buf, sizeof(buf), "%s", h);
	for (part = strtok_r(buf, ",", &save); part; part = strtok_r(NULL, ",", &save)) {
		if (strncmp(part, "t=", 2) == 0 && part[2] >= '0' && part[2] <= '9' &&
		    strlen(part) <= 2 + 12) {
			t = strtoll(part + 2, &end, 10);
			if (*end != '\0')
				t = -1;
		} else if (strncmp(part, "v1=", 3) == 0)
			v1 = part + 3;
	}
	if (t < 0 || v1 == NULL) {
		http_error(r, 400, NULL, "Coffer-Signature must be t=<unix time>,v1=<hex>");
		return -1;
	}
	if (llabs((long long)time(NULL) - t) > BILLING_TOLERANCE_S) {
		http_error(r, 400, NULL, "the signature is stale (over 5 minutes old)");
		return -1;
	}
	billing_mac(secret, t, body, len, hex);
	if (!crypto_streq(hex, v1)) {
		http_error(r, 400, NULL, "the signature does not match");
		return -1;
	}
	return 0;
}

static const char *const event_types[] = {
	[BILLING_CHECKOUT_COMPLETED] = "checkout.completed",
	[BILLING_SUBSCRIPTION_RENEWED] = "subscription.renewed",
	[BILLING_SUBSCRIPTION_PAST_DUE] = "subscription.past_due",
	[BILLING_SUBSCRIPTION_CANCELED] = "subscription.canceled",
};

/* A string member of o, or NULL when absent; -1 when present and not a
 * string of 1..200 bytes. */
static int
opt_string(json_t *o, const char *key, const char **out)
{
	json_t *v = json_object_get(o, key);

	*out = NULL;
	if (v == NULL || json_is_null(v))
		return 0;
	if (!json_is_string(v) || json_string_length(v) < 1 || json_string_length(v) > 200)
		return -1;
	*out = json_string_value(v);
	return 0;
}

/*
 * Read the event doc into e: 1 a known type, 0 another type (ignored),
 * or -1 after answering 400.
 */
static int
read_event(struct req *r, json_t *doc, struct billing_event *e)
{
	json_t *data = json_object_get(doc, "data");
	json_t *created = json_object_get(doc, "created");
	json_t *user = json_object_get(data, "user_id");
	json_t *end = json_object_get(data, "current_period_end");
	const char *type = json_string_value(json_object_get(doc, "type"));
	size_t i;

	if (opt_string(doc, "id", &e->event_id) < 0 || e->event_id == NULL || type == NULL ||
	    !json_is_integer(created) || json_integer_value(created) < 0 ||
	    json_integer_value(created) > MAX_EVENT_MS || !json_is_object(data)) {
		http_error(r, 400, NULL, "an event needs id, type, created (Unix ms) and data");
		return -1;
	}
	for (i = 0; i < sizeof(event_types) / sizeof(event_types[0]); i++)
		if (strcmp(type, event_types[i]) == 0)
			break;
	if (i == sizeof(event_types) / sizeof(event_types[0]))
		return 0;
	if (!json_is_integer(user) || json_integer_value(user) <= 0 ||
	    (end != NULL && (!json_is_integer(end) || json_integer_value(end) < 0 ||
	    json_integer_value(end) > MAX_EVENT_MS / 1000)) ||
	    opt_string(data, "subscription_id", &e->subscription_id) < 0 ||
	    opt_string(data, "customer_id", &e->customer_id) < 0 ||
	    opt_string(data, "checkout_id", &e->checkout_id) < 0) {
		http_error(r, 400, NULL, "data needs user_id, and current_period_end (Unix time), "
		    "subscription_id, customer_id and checkout_id are optional");
		return -1;
	}
	e->provider = "mock";
	e->type = (enum billing_event_type)i;
	e->type_name = event_types[i];
	e->created_ms = json_integer_value(created);
	e->user_id = json_integer_value(user);
	e->period_end_ms = end ? json_integer_value(end) * 1000 : 0;
	return 1;
}

/* POST /billing/webhook */
static void
billing_webhook(struct req *r)
{
	static const char *const outcomes[] = {
		[STORE_BILLING_APPLIED] = "applied",
		[STORE_BILLING_DUPLICATE] = "duplicate",
		[STORE_BILLING_STALE] = "stale",
		[STORE_BILLING_NO_USER] = "unknown_user",
	};
	struct evbuffer *in = evhttp_request_get_input_buffer(r->ev);
	size_t len = evbuffer_get_length(in);
	const char *secret = billing_secret();
	struct billing_event e;
	const char *body;
	char *payload;
	json_t *doc;
	int rc;

	if (secret == NULL) {
		http_error(r, 404, NULL, "no such resource");
		return;
	}
	if (validate_body_too_large(r))
		return;
	body = (const char *)evbuffer_pullup(in, -1);
	if (check_signature(r, secret, body ? body : "", len) < 0)
		return;
	doc = json_loadb(body ? body : "", len, JSON_REJECT_DUPLICATES, NULL);
	if (!json_is_object(doc)) {
		http_error(r, 400, NULL, "the body is not a JSON object");
		json_decref(doc);
		return;
	}
	memset(&e, 0, sizeof(e));
	rc = read_event(r, doc, &e);
	if (rc == 0)
		http_reply_json(r, 200, json_pack("{s:b,s:s}", "received", 1, "outcome",
		    "ignored"));
	if (rc <= 0) {
		json_decref(doc);
		return;
	}
	payload = json_dumps(doc, JSON_COMPACT);
	e.payload = payload;
	rc = store_billing_apply(&e);
	if (rc < 0)
		http_db_error(r);
	else {
		log_info("billing: event %s (%s, user %" PRId64 "): %s", e.event_id, e.type_name,
		    e.user_id, outcomes[rc]);
		http_reply_json(r, 200, json_pack("{s:b,s:s}", "received", 1, "outcome",
		    outcomes[rc]));
	}
	free(payload);
	json_decref(doc);
}

const struct route routes_billing[] = {
	{ EVHTTP_REQ_GET, "/api/v1/billing/plans", MAIN, PUBLIC, NONE, billing_plans },
	{ EVHTTP_REQ_GET, "/api/v1/billing/subscription", MAIN, SESSION, NONE,
	    billing_subscription },
	{ EVHTTP_REQ_POST, "/api/v1/billing/checkout", MAIN, SESSION, NONE, billing_checkout },
	{ EVHTTP_REQ_POST, "/api/v1/billing/cancel", MAIN, SESSION, NONE, billing_cancel },
	{ EVHTTP_REQ_POST, "/billing/webhook", MAIN, PUBLIC, NONE, billing_webhook },
	{ EVHTTP_REQ_GET, "/billing/mock/checkout/{id}", MAIN, PUBLIC, NONE,
	    mock_checkout_page },
	{ EVHTTP_REQ_POST, "/billing/mock/checkout/{id}/complete", MAIN, PUBLIC, NONE,
	    mock_checkout_complete },
	{ 0 },
};
