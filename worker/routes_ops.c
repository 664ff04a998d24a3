/*
 * routes_ops.c -- health, readiness, metrics, version and pool figures
 * (docs/API.md "Ops and health").
 *
 * /healthz says the process runs; /readyz makes one real database round
 * trip on the configured engine.  The admin-only routes read the shared
 * request metrics (metrics.c), ask the broker for its pool figures, and
 * read the schema version from the database itself (not from what the
 * master migrated at start), so the answer is the database's truth even
 * when another host has migrated it since.
 */
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>
#include <event2/event.h>

#include "src/config.h"
#include "src/coro.h"
#include "src/db/broker_link.h"
#include "src/db/db.h"
#include "src/db/migrate.h"
#include "src/log.h"
#include "src/metrics.h"
#include "src/proto.h"
#include "src/store/demo.h"
#include "worker/router.h"
#include "worker/routes.h"
#include "worker/worker.h"

static void
ops_healthz(struct req *r)
{
	http_reply_json(r, 200, json_pack("{s:s}", "status", "ok"));
}

static void
ops_readyz(struct req *r)
{
	if (!metrics_started()) {
		http_error(r, 503, NULL, "starting: the start-up tasks are still running");
		return;
	}
	if (db_ping() < 0) {
		log_warn("readiness check failed: %s", db_last_error()->message);
		http_error(r, 503, NULL, "database unavailable");
		return;
	}
	http_reply_json(r, 200, json_pack("{s:s,s:s}", "status", "ready",
	    "engine", db_engine_name()));
}

/* The broker's pool figures as a JSON object, or NULL if unreachable. */
static json_t *
pool_stats(void)
{
	struct proto_buf b;
	struct broker_reply rep;
	struct proto_reader rd;
	uint32_t id = broker_link_next_id();
	size_t start;
	json_t *out;
	uint16_t n;
	int rc;

	proto_buf_init(&b);
	start = proto_begin(&b, PT_STATS, id);
	proto_end(&b, start);
	rc = broker_link_call(&b, id, &rep);
	proto_buf_free(&b);
	if (rc < 0)
		return NULL;
	if (rep.frame.type != PT_STATS_REPLY) {
		broker_reply_free(&rep);
		return NULL;
	}
	out = json_object();
	proto_reader_init(&rd, &rep.frame);
	n = proto_get_u16(&rd);
	for (uint16_t i = 0; i < n && !rd.err; i++) {
		const char *name = proto_get_str(&rd, NULL);
		int64_t v = proto_get_i64(&rd);

		if (!rd.err)
			json_object_set_new(out, name, json_integer(v));
	}
	if (proto_reader_done(&rd) < 0) {
		json_decref(out);
		out = NULL;
	}
	broker_reply_free(&rep);
	return out;
}

static void
ops_metrics(struct req *r)
{
	struct evbuffer *buf = evbuffer_new();
	const char *const *names;
	json_t *pool;
	int n, live, pooled;
	uint64_t created;
	unsigned char *text;

	names = router_metric_names(&n);
	metrics_render(buf, names, n);
	coro_stats(&live, &pooled, &created);
	evbuffer_add_printf(buf,
	    "# HELP coffer_coroutines Request coroutines alive in this worker.\n"
	    "# TYPE coffer_coroutines gauge\n"
	    "coffer_coroutines %d\n", live);
	pool = pool_stats();
	if (pool) {
		const char *key;
		json_t *v;

		json_object_foreach(pool, key, v) {
			const char *type = strstr(key, "_total") ? "counter" : "gauge";

			evbuffer_add_printf(buf, "# TYPE coffer_pool_%s %s\ncoffer_pool_%s %lld\n",
			    key, type, key, (long long)json_integer_value(v));
		}
		json_decref(pool);
	}
	evbuffer_add_printf(buf,
	    "# HELP coffer_broker_up Whether this worker's link to the broker is up.\n"
	    "# TYPE coffer_broker_up gauge\n"
	    "coffer_broker_up %d\n", broker_link_up());
	n = (int)evbuffer_get_length(buf);
	text = evbuffer_pullup(buf, -1);
	http_reply_raw(r, 200, "text/plain; version=0.0.4; charset=utf-8", text, (size_t)n);
	evbuffer_free(buf);
}

static void
ops_version(struct req *r)
{
	int schema;

	if (migrate_version(&schema) < 0) {
		http_db_error(r);
		return;
	}
	http_reply_json(r, 200, json_pack("{s:s,s:s,s:s,s:i}", "version", PACKAGE_VERSION,
	    "build", __DATE__ " " __TIME__, "engine", db_engine_name(),
	    "schema_version", schema));
}

static void
ops_pool(struct req *r)
{
	json_t *pool = pool_stats();

	if (pool == NULL) {
		http_error(r, 503, NULL, "the broker is not reachable");
		return;
	}
	http_reply_json(r, 200, json_pack("{s:s,s:o}", "engine", db_engine_name(),
	    "pool", pool));
}

static void
wake(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	coro_resume(arg);
}

/* Wait ms milliseconds without blocking the loop. */
static void
nap(long ms)
{
	struct timeval tv = { ms / 1000, (ms % 1000) * 1000 };
	struct event *ev = evtimer_new(worker_base(), wake, coro_current());

	evtimer_add(ev, &tv);
	coro_yield();
	event_free(ev);
}

struct held {
	const char *mark;
	long ms;
};

/* A transaction that writes a mark and then holds its lease for a while. */
static int
hold_lease(void *arg)
{
	struct held *h = arg;

	if (store_demo_mark(h->mark) < 0)
		return -1;
	nap(h->ms);
	return 0;
}

/*
 * POST /internal/dev/sleep?ms=N[&hold=MARK] (development only): wait N ms
 * without blocking the loop, then make one database round trip and
 * answer.  The tests use it as a slow in-flight request and to see
 * request_timeout.  With hold=MARK (PostgreSQL only) the wait happens
 * inside a transaction that first wrote app_meta row MARK, holding a
 * broker lease: what becomes of it when the worker dies is the test.
 * (On SQLite a transaction must never wait: that would hold the one write
 * lock of every process.)
 */
static void
ops_dev_sleep(struct req *r)
{
	const char *ms = http_query(r, "ms"), *mark = http_query(r, "hold");
	long v = ms ? strtol(ms, NULL, 10) : 0;

	if (worker_config()->environment != ENV_DEVELOPMENT) {
		http_error(r, 403, NULL, "only in the development environment");
		return;
	}
	if (v < 0 || v > 60000) {
		http_error(r, 422, "invalid", "ms must be 0-60000");
		return;
	}
	if (mark != NULL) {
		struct held h = { mark, v };

		if (db_engine() != ENGINE_POSTGRES || *mark == '\0' || strlen(mark) > 64) {
			http_error(r, 422, "invalid", "hold takes a mark of 1-64 bytes, on PostgreSQL only");
			return;
		}
		if (db_tx(hold_lease, &h) < 0) {
			http_db_error(r);
			return;
		}
	} else
		nap(v);
	if (db_ping() < 0) {
		http_db_error(r);
		return;
	}
	http_reply_json(r, 200, json_pack("{s:i}", "slept_ms", (int)v));
}

const struct route routes_ops[] = {
	{ EVHTTP_REQ_GET, "/healthz", BOTH, PUBLIC, NONE, ops_healthz },
	{ EVHTTP_REQ_GET, "/readyz", BOTH, PUBLIC, NONE, ops_readyz },
	{ EVHTTP_REQ_GET, "/metrics", ADMIN, OPS, NONE, ops_metrics },
	{ EVHTTP_REQ_GET, "/api/v1/ops/version", ADMIN, OPS, NONE, ops_version },
	{ EVHTTP_REQ_GET, "/api/v1/ops/pool", ADMIN, OPS, NONE, ops_pool },
	{ EVHTTP_REQ_POST, "/internal/dev/sleep", ADMIN, OPS, NONE, ops_dev_sleep },
	{ 0 },
};
