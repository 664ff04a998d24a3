/*
 * worker.c -- set up and run one HTTP worker process.
 *
 * Stopping (SIGTERM from the master): stop accepting at once, let the
 * requests in flight finish (their responses carry Connection: close) and
 * the webhook deliveries in flight too (no new ones are claimed), and
 * leave the loop when none is left or shutdown_timeout has passed.
 * Idle keep-alive connections are closed when evhttp is freed.
 */
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>
#include <event2/http.h>
#include <event2/listener.h>

#include "src/coro.h"
#include "src/db/broker_link.h"
#include "src/db/db.h"
#include "src/log.h"
#include "src/metrics.h"
#include "src/store/store.h"
#include "src/util.h"
#include "worker/inflight.h"
#include "worker/router.h"
#include "worker/startup.h"
#include "worker/validate.h"
#include "worker/webhooks.h"
#include "worker/worker.h"

/* Catalog uploads go to the admin listener; the default catalog is ~1.4 MB. */
#define ADMIN_MAX_BODY (64 * 1024 * 1024)

static struct {
	struct config *cfg;
	int id;
	struct event_base *base;
	struct evhttp *http[2];		/* main, admin */
	struct evhttp_bound_socket *bound[2 * LISTEN_MAX];
	int nbound;
	int nmain;		/* bound[0..nmain) belong to http[0] */
	int ready_fd;
	int link_up, tasks_done;	/* both, to report ready (report_ready) */
	int stopping;
	struct event *stop_timer;
} W;

int
worker_stopping(void)
{
	return W.stopping;
}

const struct config *
worker_config(void)
{
	return W.cfg;
}

struct event_base *
worker_base(void)
{
	return W.base;
}

/*
 * Ready means able to serve every route, so the master's READY=1 waits for
 * each worker's first handshake with the broker, and for the start-up
 * tasks: worker 1 reports only once they are done.
 */
static void
report_ready(void)
{
	if (W.ready_fd < 0 || !W.link_up || !W.tasks_done)
		return;
	if (write(W.ready_fd, "r", 1) != 1)
		log_warn("ready pipe: %m");
	close(W.ready_fd);
	W.ready_fd = -1;
	log_debug("serving");
}

/* Also each reconnection: deliveries may have come due while the link
 * was down. */
static void
on_broker_up(void)
{
	W.link_up = 1;
	report_ready();
	webhooks_kick();
}

void
worker_startup_done(void)
{
	W.tasks_done = 1;
	report_ready();
}

/* Requests and webhook deliveries both finish before a stopping worker
 * exits; each calls this when its count drops to zero. */
static void
on_idle(void)
{
	if (W.stopping && inflight_count() == 0 && webhooks_busy() == 0)
		event_base_loopbreak(W.base);
}

static void
on_stop_timeout(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	(void)arg;
	log_warn("%d request%s and %d webhook deliver%s still running after "
	    "shutdown_timeout; exiting anyway", inflight_count(),
	    inflight_count() == 1 ? "" : "s", webhooks_busy(),
	    webhooks_busy() == 1 ? "y" : "ies");
	event_base_loopbreak(W.base);
}

/* Deleting a bound socket frees its listener, which closes our copy of
 * the socket; the master and the other workers hold their own. */
static void
stop_accepting(void)
{
	for (int i = 0; i < W.nbound; i++) {
		struct evhttp *http = W.http[i < W.nmain ? 0 : 1];

		evhttp_del_accept_socket(http, W.bound[i]);
	}
	W.nbound = 0;
}

static void
on_signal(evutil_socket_t sig, short what, void *arg)
{
	struct timeval tv;

	(void)what;
	(void)arg;
	if (sig == SIGUSR1) {
		if (log_reopen() < 0)
			log_error("reopen log file: %m");
		return;
	}
	if (W.stopping)
		return;
	W.stopping = 1;
	log_debug("stopping: %d request%s, %d webhook deliver%s in flight",
	    inflight_count(), inflight_count() == 1 ? "" : "s", webhooks_busy(),
	    webhooks_busy() == 1 ? "y" : "ies");
	stop_accepting();
	webhooks_stop();
	if (inflight_count() == 0 && webhooks_busy() == 0) {
		event_base_loopbreak(W.base);
		return;
	}
	tv = msec_tv((uint64_t)W.cfg->shutdown_timeout);
	W.stop_timer = evtimer_new(W.base, on_stop_timeout, NULL);
	evtimer_add(W.stop_timer, &tv);
}

static struct evhttp *
serve(const int *fds, int n, enum listener_kind kind)
{
	struct evhttp *http;
	struct timeval tv;

	if (n == 0)
		return NULL;
	http = evhttp_new(W.base);
	evhttp_set_allowed_methods(http, EVHTTP_REQ_GET | EVHTTP_REQ_HEAD |
	    EVHTTP_REQ_POST | EVHTTP_REQ_PUT | EVHTTP_REQ_PATCH | EVHTTP_REQ_DELETE |
	    EVHTTP_REQ_OPTIONS);	/* CORS preflights of the compat API */
	evhttp_set_max_headers_size(http, 64 * 1024);
	/*
	 * evhttp buffers whole bodies, so it must cap them; but its own 413
	 * is an HTML page.  Its cap is therefore a backstop at four times the
	 * limit, and the router answers bodies between the limit and the cap
	 * with the JSON error (validate_body_too_large).  The admin listener
	 * takes catalogs, larger than any client request.
	 */
	evhttp_set_max_body_size(http, 4 * (kind == LISTENER_ADMIN ?
	    ADMIN_MAX_BODY : (ev_ssize_t)W.cfg->max_body_size));
	tv = msec_tv((uint64_t)W.cfg->keepalive_timeout);
	evhttp_set_timeout_tv(http, &tv);
	evhttp_set_gencb(http, router_dispatch, (void *)(intptr_t)kind);
	for (int i = 0; i < n; i++) {
		/* Our own descriptor: the listener closes it when freed. */
		int fd = dup(fds[i]);
		struct evhttp_bound_socket *bs = NULL;

		if (fd >= 0)
			bs = evhttp_accept_socket_with_handle(http, fd);
		if (bs == NULL)
			log_fatal("cannot accept on inherited socket %d: %m", fds[i]);
		W.bound[W.nbound++] = bs;
	}
	return http;
}

int
worker_main(struct config *cfg, int id, const struct listeners *ls, int ready_fd)
{
	static const int sigs[] = { SIGTERM, SIGINT, SIGUSR1 };
	struct event *sigev[3];
	char sock[512];

	memset(&W, 0, sizeof(W));
	W.cfg = cfg;
	store_clock_set(cfg->clock_offset);
	W.id = id;
	signal(SIGHUP, SIG_IGN);	/* the master replaces workers instead */
	W.base = event_base_new();
	if (W.base == NULL)
		log_fatal("event_base_new failed");
	for (size_t i = 0; i < ARRAY_SIZE(sigs); i++) {
		sigev[i] = evsignal_new(W.base, sigs[i], on_signal, NULL);
		event_add(sigev[i], NULL);
	}
	coro_init(0, 256);
	if (db_init(cfg, W.base) < 0)
		return 1;
	snprintf(sock, sizeof(sock), "%s/broker.sock", cfg->runtime_dir);
	W.ready_fd = ready_fd;
	W.tasks_done = id != 1 || metrics_started();
	broker_link_start(W.base, sock, on_broker_up);
	{
		struct validate_limits vl = { (size_t)cfg->max_body_size, ADMIN_MAX_BODY,
		    cfg->max_json_depth };

		validate_set_limits(&vl);
	}
	router_init();
	webhooks_start(W.base, on_idle);
	startup_run(id);
	inflight_set_idle_cb(on_idle);

	/* The master's copies stay open in the master; ours are dup'ed. */
	W.http[0] = serve(ls->main_fd, ls->n_main, LISTENER_MAIN);
	W.nmain = W.nbound;
	W.http[1] = serve(ls->admin_fd, ls->n_admin, LISTENER_ADMIN);
	for (int i = 0; i < ls->n_main; i++)
		close(ls->main_fd[i]);
	for (int i = 0; i < ls->n_admin; i++)
		close(ls->admin_fd[i]);

	event_base_dispatch(W.base);

	for (int i = 0; i < 2; i++)
		if (W.http[i])
			evhttp_free(W.http[i]);
	webhooks_shutdown();
	broker_link_stop();
	db_shutdown();
	if (W.stop_timer)
		event_free(W.stop_timer);
	for (size_t i = 0; i < ARRAY_SIZE(sigs); i++)
		event_free(sigev[i]);
	event_base_free(W.base);
	return 0;
}
