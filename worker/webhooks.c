/*
 * webhooks.c -- the delivery loop (see webhooks.h).
 *
 * Two kinds of coroutine, both with a db_session first in their data, as
 * db.h requires:
 *
 *   - the look (one at a time per worker): when is the earliest pending
 *     delivery due?  Nothing pending: disarm the timer.  Due later: arm it
 *     for then.  Due now: claim as many as there are free slots
 *     ([webhooks] concurrency) and hand each to a sender.  A kick that
 *     comes while a look runs makes it look once more at the end.
 *   - a sender per claimed delivery: read it, sign it, POST it with
 *     httpc (libcurl multi on this loop, so a slow receiver holds only its
 *     own slot), write the outcome, free the slot and kick.
 *
 * Coroutines are resumed only from the main context (coro.h), so both
 * start from events: kick_ev (made active by webhooks_kick) starts a look,
 * spawn_ev starts the senders a look queued.
 *
 * Retries back off exponentially with jitter: the n-th failure waits a
 * random time between half and all of BACKOFF_FIRST_MS * 4^(n-1), at most
 * BACKOFF_MAX_MS, so receivers coming back are not hit by every delivery
 * at once.  After [webhooks] max_attempts the delivery is failed.  A
 * claim lasts the request's timeout plus CLAIM_MARGIN_MS to write the
 * outcome; a worker that dies meanwhile leaves the delivery to be claimed
 * again when that runs out.  So delivery is at least once: a 2xx that was
 * written is final, one that came just before a crash is sent again.
 *
 * With the webhooks flag off, due deliveries wait: the look re-checks the
 * flag every PAUSE_MS while any is due (and only then).  Delivered rows
 * older than PURGE_AGE_MS are deleted by the look, at most once an hour
 * per worker, in batches; so is activity past its group's plan's days
 * (store/retention.h), at most every RETENTION_EVERY_MS: the look runs
 * after writes that record activity, so this needs no timer of its own.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <event2/event.h>
#include <jansson.h>

#include "src/config.h"
#include "src/coro.h"
#include "src/crypto.h"
#include "src/db/db.h"
#include "src/log.h"
#include "src/store/retention.h"
#include "src/store/webhooks.h"
#include "src/util.h"
#include "worker/flags.h"
#include "worker/httpc.h"
#include "worker/webhooks.h"
#include "worker/worker.h"

#define CLAIM_MARGIN_MS		30000
#define PAUSE_MS		5000		/* flag off, or the database failing */
#define BACKOFF_FIRST_MS	2000
#define BACKOFF_MAX_MS		(6LL * 3600 * 1000)
#define PURGE_EVERY_MS		(3600LL * 1000)
#define PURGE_AGE_MS		(30LL * 86400 * 1000)
#define PURGE_BATCH		1000
#define RETENTION_EVERY_MS	2000
#define RETENTION_BATCH		500
#define TIMER_SLACK_MS		5		/* fire just after "due", not before */
#define DISCORD_MAX		2000		/* characters of a Discord message */

/* A claimed delivery and its sender's session. */
struct job {
	struct db_session db;		/* first: db_session_current() */
	int64_t id, attempts;
	struct job *next;
};

static struct {
	struct db_session db;		/* first: the look's session */
	struct event_base *base;
	struct event *kick_ev, *spawn_ev, *timer;
	struct job *queued;		/* claimed, sender not started yet */
	void (*idle_cb)(void);
	int looking, again;
	int busy;			/* claimed and not finished */
	int stopping;
	uint64_t purged_at;		/* now_msec() of the last purge */
	uint64_t retained_at;		/* ... and of the last activity purge */
} L;

/* ---- what is sent ---- */

/* The json format: the entry with its keys in the order of docs/API.md
 * (PostgreSQL's jsonb keeps its own), any others after them. */
static char *
body_json(json_t *entry)
{
	static const char *const order[] = { "id", "kind", "character", "user_id", "data",
	    "created_at", NULL };
	json_t *out = json_object(), *v;
	const char *k;
	char *s;

	for (int i = 0; order[i]; i++)
		if ((v = json_object_get(entry, order[i])) != NULL)
			json_object_set(out, order[i], v);
	json_object_foreach(entry, k, v)
		if (json_object_get(out, k) == NULL)
			json_object_set(out, k, v);
	s = json_dumps(out, JSON_COMPACT);
	json_decref(out);
	return s;
}

static json_int_t
int_field(json_t *o, const char *k)
{
	return json_integer_value(json_object_get(o, k));
}

/* The one line a Discord channel shows for entry. */
static void
discord_line(json_t *entry, char *buf, size_t len)
{
	json_t *data = json_object_get(entry, "data");
	const char *kind = json_string_value(json_object_get(entry, "kind"));
	const char *who = json_string_value(json_object_get(entry, "character"));
	const char *s;
	size_t n;

	if (kind == NULL)
		kind = "event";
	if (who == NULL)
		who = "The group";
	if (strcmp(kind, "test") == 0) {
		snprintf(buf, len, "coffer: test delivery; this webhook works");
	} else if (strcmp(kind, "level_up") == 0) {
		snprintf(buf, len, "%s reached level %" JSON_INTEGER_FORMAT " in %s",
		    who, int_field(data, "level"),
		    (s = json_string_value(json_object_get(data, "skill"))) ? s : "a skill");
	} else if (strcmp(kind, "items") == 0) {
		json_int_t g = int_field(data, "gained_count"), l = int_field(data, "lost_count");

		n = (size_t)snprintf(buf, len, "%s", who);
		if (g > 0 && n < len)
			n += (size_t)snprintf(buf + n, len - n, " gained %" JSON_INTEGER_FORMAT
			    " item%s (%" JSON_INTEGER_FORMAT " gp)", g, g == 1 ? "" : "s",
			    int_field(data, "gained_value"));
		if (l > 0 && n < len)
			n += (size_t)snprintf(buf + n, len - n, "%s lost %" JSON_INTEGER_FORMAT
			    " item%s (%" JSON_INTEGER_FORMAT " gp)", g > 0 ? " and" : "", l,
			    l == 1 ? "" : "s", int_field(data, "lost_value"));
		if (n < len)
			snprintf(buf + n, len - n, " in %s",
			    (s = json_string_value(json_object_get(data, "container"))) ? s :
			    "a container");
	} else {
		snprintf(buf, len, "%s: %s", who, kind);
	}
	/* One line, whatever a plugin put in a name. */
	for (char *p = buf; *p; p++)
		if (*p == '\n' || *p == '\r')
			*p = ' ';
}

/* The body of a delivery from its payload, in format ("json",
 * "discord"); NULL when the payload does not parse. */
static char *
delivery_body(const char *payload, const char *format)
{
	json_t *entry = json_loads(payload, 0, NULL);
	char line[DISCORD_MAX + 1];
	char *body;

	if (entry == NULL)
		return NULL;
	if (strcmp(format, "discord") == 0) {
		json_t *o;

		discord_line(entry, line, sizeof(line));
		o = json_pack("{s:s}", "content", line);
		body = o ? json_dumps(o, JSON_COMPACT) : NULL;
		json_decref(o);
	} else
		body = body_json(entry);
	json_decref(entry);
	return body;
}

/* "t=<unix time>,v1=<hex HMAC-SHA256 of "<t>.<body>">" into out. */
static void
sign(const char *secret, const char *body, char *out, size_t len)
{
	unsigned char mac[CRYPTO_SHA256_BYTES];
	char hex[2 * CRYPTO_SHA256_BYTES + 1], *msg;
	long long t = (long long)time(NULL);
	size_t n = strlen(body) + 32;

	msg = xmalloc(n);
	snprintf(msg, n, "%lld.%s", t, body);
	crypto_hmac_sha256(secret, strlen(secret), msg, strlen(msg), mac);
	crypto_hex(mac, sizeof(mac), hex);
	snprintf(out, len, "t=%lld,v1=%s", t, hex);
	free(msg);
}

/* ---- one delivery ---- */

/* The pause before the attempt after the attempts-th, or -1: no more. */
static int64_t
backoff(int64_t attempts)
{
	int64_t d = BACKOFF_FIRST_MS;
	uint32_t r = 0;

	if (attempts >= worker_config()->webhook_max_attempts)
		return -1;
	for (int64_t i = 1; i < attempts && d < BACKOFF_MAX_MS; i++)
		d *= 4;
	if (d > BACKOFF_MAX_MS)
		d = BACKOFF_MAX_MS;
	if (crypto_random(&r, sizeof(r)) < 0)
		r = 0;
	return d / 2 + (int64_t)(r % (uint32_t)(d / 2 + 1));
}

/*
 * Write what became of job j's attempt: delivered on a 2xx status, else
 * failed with error, for good when final or out of attempts, else due
 * again after the back-off.
 */
static void
record(const struct job *j, long status, const char *error, int final)
{
	int rc;

	if (status >= 200 && status < 300)
		rc = store_webhooks_delivered(j->id, status);
	else
		rc = store_webhooks_failed(j->id, j->attempts, status, error,
		    final ? -1 : backoff(j->attempts));
	if (rc < 0)
		log_warn("webhooks: delivery %" PRId64 ": cannot record the outcome (%s); "
		    "it is sent again when its claim runs out", j->id, db_last_error()->message);
	else if (rc == 0)
		log_debug("webhooks: delivery %" PRId64 " changed meanwhile", j->id);
}

/* Send the claimed delivery j once. */
static void
deliver(struct job *j)
{
	const struct config *cfg = worker_config();
	struct db_result *row = NULL;
	struct httpc_call c;
	char event_h[64], id_h[64], sig_h[160], sig[112], error[HTTPC_ERROR_MAX + 16];
	const char *headers[] = { "Content-Type: application/json", event_h, id_h, sig_h,
	    NULL };
	char *body;
	int rc;

	rc = store_webhooks_job(j->id, &row);
	if (rc <= 0) {		/* deleted, disabled, or no database: see the claim */
		if (rc < 0)
			log_warn("webhooks: delivery %" PRId64 ": %s", j->id,
			    db_last_error()->message);
		return;
	}
	if (j->attempts > cfg->webhook_max_attempts) {
		/* Its last claim ran out with no outcome (a worker died). */
		record(j, 0, "gave up: the last attempt's outcome was lost", 1);
		goto out;
	}
	body = delivery_body(db_text(row, 0, WEBHOOK_JOB_PAYLOAD),
	    db_text(row, 0, WEBHOOK_JOB_FORMAT));
	if (body == NULL) {
		record(j, 0, "the payload does not parse", 1);
		goto out;
	}
	snprintf(event_h, sizeof(event_h), "Coffer-Event: %s",
	    db_text(row, 0, WEBHOOK_JOB_EVENT));
	snprintf(id_h, sizeof(id_h), "Coffer-Delivery: %" PRId64, j->id);
	sign(db_text(row, 0, WEBHOOK_JOB_SECRET), body, sig, sizeof(sig));
	snprintf(sig_h, sizeof(sig_h), "Coffer-Signature: %s", sig);

	memset(&c, 0, sizeof(c));
	c.method = "POST";
	c.url = db_text(row, 0, WEBHOOK_JOB_URL);
	c.headers = headers;
	c.body = body;
	c.body_len = strlen(body);
	c.timeout_ms = (long)cfg->webhook_timeout;
	c.deny_private = !cfg->webhook_allow_private;
	c.discard_response = 1;
	rc = httpc_call(&c);
	if (rc == HTTPC_OK)
		snprintf(error, sizeof(error), "HTTP %ld", c.status);
	else
		snprintf(error, sizeof(error), "%s", c.error);
	log_debug("webhooks: delivery %" PRId64 " attempt %" PRId64 " to %s: %s", j->id,
	    j->attempts, c.url, error);
	/* A private address stays private: no retry. */
	record(j, rc == HTTPC_OK ? c.status : 0, error, rc == HTTPC_PRIVATE);
	free(body);
out:
	db_result_free(row);
}

/* Job j is over (sent or not): free its slot. */
static void
job_done(struct job *j)
{
	free(j);
	L.busy--;
	if (L.stopping) {
		if (L.busy == 0 && L.idle_cb != NULL)
			L.idle_cb();
	} else
		webhooks_kick();	/* a slot is free */
}

static void
sender(void *arg)
{
	deliver(arg);
	job_done(arg);
}

static void
on_spawn(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	(void)arg;
	while (L.queued != NULL) {
		struct job *j = L.queued;
		struct coro *c;

		L.queued = j->next;
		c = coro_create(sender, j);
		if (c == NULL) {	/* logged; the claim runs out, it is retried */
			job_done(j);
			continue;
		}
		coro_set_data(c, j);
		coro_resume(c);
	}
}

/* ---- the look ---- */

static void
arm(int64_t ms)
{
	struct timeval tv = msec_tv((uint64_t)(ms < 0 ? 0 : ms) + TIMER_SLACK_MS);

	evtimer_add(L.timer, &tv);
}

static void
purge(void)
{
	int n;

	if (L.purged_at != 0 && now_msec() - L.purged_at < PURGE_EVERY_MS)
		return;
	L.purged_at = now_msec();
	n = store_webhooks_purge(PURGE_AGE_MS, PURGE_BATCH);
	if (n < 0)
		log_warn("webhooks: purging old deliveries: %s", db_last_error()->message);
	else if (n > 0)
		log_info("webhooks: purged %d deliveries older than 30 days", n);
	if (n == PURGE_BATCH)
		L.purged_at = 0;	/* more left: again on the next look */
}

/*
 * Activity past its plan's days (store/retention.h): at most every
 * RETENTION_EVERY_MS per worker, on a look -- so only after writes --
 * and at once again while batches come back full.
 */
static void
retention(void)
{
	int n;

	if (L.retained_at != 0 && now_msec() - L.retained_at < RETENTION_EVERY_MS)
		return;
	L.retained_at = now_msec();
	n = store_retention_purge(RETENTION_BATCH);
	if (n < 0)
		log_warn("retention: purging old activity: %s", db_last_error()->message);
	else if (n > 0)
		log_info("retention: purged %d rows of activity and vault history past "
		    "what the plans keep", n);
	if (n >= RETENTION_BATCH) {
		L.retained_at = 0;
		L.again = 1;
	}
}

/* Claim what is due into free slots; 1 when the look should run again. */
static int
look_once(void)
{
	struct db_result *rows = NULL;
	int64_t in_ms;
	int rc, free_slots, n;

	purge();
	retention();
	rc = store_webhooks_next_due(&in_ms);
	if (rc < 0) {
		log_warn("webhooks: %s", db_last_error()->message);
		arm(PAUSE_MS);
		return 0;
	}
	if (rc == 0) {
		evtimer_del(L.timer);
		return 0;
	}
	if (in_ms > 0) {
		arm(in_ms);
		return 0;
	}
	if (!flags_enabled("webhooks")) {
		arm(PAUSE_MS);
		return 0;
	}
	free_slots = worker_config()->webhook_concurrency - L.busy;
	if (free_slots <= 0)
		return 0;		/* each sender kicks when it ends */
	n = store_webhooks_claim(free_slots,
	    worker_config()->webhook_timeout + CLAIM_MARGIN_MS, &rows);
	if (n < 0) {
		log_warn("webhooks: claiming deliveries: %s", db_last_error()->message);
		arm(PAUSE_MS);
		return 0;
	}
	for (int i = 0; i < db_nrows(rows); i++) {
		struct job *j = xcalloc(1, sizeof(*j));

		j->id = db_int(rows, i, WEBHOOK_CLAIM_ID);
		j->attempts = db_int(rows, i, WEBHOOK_CLAIM_ATTEMPTS);
		j->next = L.queued;
		L.queued = j;
		L.busy++;
	}
	db_result_free(rows);
	if (n > 0)
		event_active(L.spawn_ev, EV_TIMEOUT, 0);
	/* Fewer than asked: nothing else is due now; look again to arm the
	 * timer for what comes next.  All slots taken: senders kick. */
	return n < free_slots;
}

static void
look(void *arg)
{
	(void)arg;
	do
		L.again = 0;
	while ((look_once() || L.again) && !L.stopping);
	L.looking = 0;
}

static void
on_kick(evutil_socket_t fd, short what, void *arg)
{
	struct coro *c;

	(void)fd;
	(void)what;
	(void)arg;
	if (L.stopping)
		return;
	if (L.looking) {
		L.again = 1;
		return;
	}
	c = coro_create(look, NULL);
	if (c == NULL) {
		arm(PAUSE_MS);
		return;
	}
	L.looking = 1;
	coro_set_data(c, &L);
	coro_resume(c);
}

/* ---- the interface ---- */

void
webhooks_start(struct event_base *base, void (*idle_cb)(void))
{
	memset(&L, 0, sizeof(L));
	L.base = base;
	L.idle_cb = idle_cb;
	L.kick_ev = event_new(base, -1, 0, on_kick, NULL);
	L.spawn_ev = event_new(base, -1, 0, on_spawn, NULL);
	L.timer = evtimer_new(base, on_kick, NULL);
	if (L.kick_ev == NULL || L.spawn_ev == NULL || L.timer == NULL)
		log_fatal("webhooks: cannot create events");
	if (httpc_init(base) < 0)
		log_error("webhooks: no outbound HTTP; deliveries wait for another worker");
}

void
webhooks_kick(void)
{
	if (L.kick_ev != NULL && !L.stopping)
		event_active(L.kick_ev, EV_TIMEOUT, 0);
}

void
webhooks_stop(void)
{
	L.stopping = 1;
	if (L.timer != NULL)
		evtimer_del(L.timer);
}

int
webhooks_busy(void)
{
	return L.busy;
}

void
webhooks_shutdown(void)
{
	if (L.kick_ev != NULL)
		event_free(L.kick_ev);
	if (L.spawn_ev != NULL)
		event_free(L.spawn_ev);
	if (L.timer != NULL)
		event_free(L.timer);
	while (L.queued != NULL) {
		struct job *j = L.queued;

		L.queued = j->next;
		free(j);
	}
	L.kick_ev = L.spawn_ev = L.timer = NULL;
}
