/*
 * startup.c -- the start-up tasks of worker 1 (see startup.h).
 *
 * The tasks use the database interface, which on PostgreSQL yields to the
 * event loop, so they run in a coroutine whose data is a struct with a
 * db_session first (the same contract a request's struct req keeps).
 *
 * On PostgreSQL the broker link comes up only once the event loop runs.
 * Rather than adding a hook to broker_link, an evtimer retries with a back-
 * off from 50 ms doubling to 2 s until broker_link_up(); it exists only
 * during start-up and is freed when the tasks begin, so an idle worker
 * still has no timer armed.  SQLite needs no wait.
 *
 * Failures are logged and not retried: the service runs without the
 * default catalog (vault values are 0) or the demo data, and a restart
 * tries again.
 */
#include <malloc.h>
#include <string.h>

#include <event2/event.h>

#include "src/db/broker_link.h"
#include "src/config.h"
#include "src/coro.h"
#include "src/db/db.h"
#include "src/log.h"
#include "src/metrics.h"
#include "src/store/catalog.h"
#include "src/store/demo.h"
#include "src/util.h"
#include "worker/startup.h"
#include "worker/worker.h"

#define BACKOFF_FIRST_MS	50
#define BACKOFF_MAX_MS		2000

static struct {
	struct db_session db;	/* first: db_session_current() finds it */
	struct event *timer;
	int backoff_ms;
} S;

/* (a) The default catalog, when there is no snapshot at all. */
static void
load_default_catalog(const char *path)
{
	struct catalog_snapshot snap;
	json_error_t jerr;
	json_t *doc;
	char err[256];
	uint64_t t0;
	int rc;

	rc = store_catalog_exists();
	if (rc != 0) {
		if (rc < 0)
			log_error("catalog: cannot check for snapshots: %s",
			    db_last_error()->message);
		else
			log_info("catalog: a snapshot exists; default catalog not loaded");
		return;
	}
	if (path == NULL || path[0] == '\0') {
		log_info("catalog: no [catalog] path set; starting without a catalog");
		return;
	}
	t0 = now_msec();
	doc = json_load_file(path, JSON_REJECT_DUPLICATES, &jerr);
	if (doc == NULL) {
		log_error("catalog: %s:%d: %s", path, jerr.line, jerr.text);
		return;
	}
	if (store_catalog_check(doc, err, sizeof(err)) < 0) {
		log_error("catalog: %s: %s", path, err);
		json_decref(doc);
		return;
	}
	rc = store_catalog_load(doc, 1, &snap);
	json_decref(doc);
	if (rc < 0)
		log_error("catalog: loading %s failed: %s", path, db_last_error()->message);
	else if (rc == 0)
		log_info("catalog: another process loaded a snapshot first; not loaded");
	else
		log_info("catalog: loaded default catalog %s (%lld items) as snapshot %lld"
		    " in %llu ms", snap.version, (long long)snap.item_count,
		    (long long)snap.id, (unsigned long long)(now_msec() - t0));
}

/* (b) The demo data. */
static void
seed_demo(void)
{
	struct demo_result res;
	uint64_t t0 = now_msec();

	switch (store_demo_seed(&res)) {
	case 1:
		log_info("demo: seeded %d users, %d characters, group %lld, %lld container"
		    " items in %llu ms", res.users, res.characters, (long long)res.group_id,
		    (long long)res.items, (unsigned long long)(now_msec() - t0));
		break;
	case 0:
		log_info("demo: already seeded");
		break;
	default:
		log_error("demo: seeding failed: %s", db_last_error()->message);
		break;
	}
}

static void
run_tasks(void *arg)
{
	const struct config *cfg = worker_config();

	(void)arg;
	load_default_catalog(cfg->catalog_path);
	if (cfg->seed_demo)
		seed_demo();
	/* The catalog's JSON came and went in many small blocks: give the
	 * freed pages back, so worker 1 idles as small as the others. */
	malloc_trim(0);
	metrics_set_started();
	worker_startup_done();
	log_info("startup: tasks done");
}

static void
try_start(evutil_socket_t fd, short what, void *arg)
{
	struct coro *c;

	(void)fd;
	(void)what;
	(void)arg;
	if (db_engine() == ENGINE_POSTGRES && !broker_link_up()) {
		struct timeval tv = msec_tv((uint64_t)S.backoff_ms);

		evtimer_add(S.timer, &tv);
		S.backoff_ms = S.backoff_ms * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS :
		    S.backoff_ms * 2;
		return;
	}
	event_free(S.timer);
	S.timer = NULL;
	c = coro_create(run_tasks, NULL);
	if (c == NULL) {
		log_error("startup: cannot create a coroutine; tasks skipped");
		metrics_set_started();
		worker_startup_done();
		return;
	}
	coro_set_data(c, &S);
	coro_resume(c);
}

void
startup_run(int worker_id)
{
	if (worker_id != 1)
		return;
	memset(&S, 0, sizeof(S));
	S.backoff_ms = BACKOFF_FIRST_MS;
	S.timer = evtimer_new(worker_base(), try_start, NULL);
	try_start(-1, 0, NULL);
}
