/*
 * inflight.c -- counting requests until both sides are done with them.
 *
 * The flights are a short list (one entry per request being served, and
 * HTTP/1.1 without pipelining has at most one per connection), so a
 * connection's close finds its entry by a linear walk.
 */
#include <stdlib.h>
#include <sys/queue.h>

#include <event2/http.h>

#include "src/util.h"
#include "worker/inflight.h"

struct flight {
	TAILQ_ENTRY(flight) entry;
	struct evhttp_connection *conn;	/* NULL once the connection is done */
	int handler_done;
	int reply_done;
	void (*closed_cb)(void *);	/* inflight_on_close */
	void *closed_arg;
};

static TAILQ_HEAD(, flight) flights = TAILQ_HEAD_INITIALIZER(flights);
static int count;
static void (*idle_cb)(void);

static void
maybe_land(struct flight *f)
{
	if (!f->handler_done || !f->reply_done)
		return;
	TAILQ_REMOVE(&flights, f, entry);
	free(f);
	if (--count == 0 && idle_cb)
		idle_cb();
}

static void
on_complete(struct evhttp_request *ev, void *arg)
{
	struct flight *f = arg;

	(void)ev;
	f->reply_done = 1;
	f->conn = NULL;
	maybe_land(f);
}

/* evhttp frees a closing connection's requests without completing them. */
static void
on_close(struct evhttp_connection *conn, void *arg)
{
	struct flight *f, *next;

	(void)arg;
	for (f = TAILQ_FIRST(&flights); f != NULL; f = next) {
		next = TAILQ_NEXT(f, entry);
		if (f->conn == conn && !f->reply_done) {
			f->reply_done = 1;
			f->conn = NULL;
			if (f->closed_cb != NULL)
				f->closed_cb(f->closed_arg);
			else
				maybe_land(f);
		}
	}
}

struct flight *
inflight_begin(struct evhttp_request *ev)
{
	struct flight *f = xcalloc(1, sizeof(*f));

	f->conn = evhttp_request_get_connection(ev);
	TAILQ_INSERT_TAIL(&flights, f, entry);
	count++;
	evhttp_request_set_on_complete_cb(ev, on_complete, f);
	if (f->conn != NULL)
		evhttp_connection_set_closecb(f->conn, on_close, NULL);
	else
		f->reply_done = 1;
	return f;
}

void
inflight_on_close(struct flight *f, void (*cb)(void *), void *arg)
{
	f->closed_cb = cb;
	f->closed_arg = arg;
}

void
inflight_handler_done(struct flight *f)
{
	f->handler_done = 1;
	maybe_land(f);
}

int
inflight_count(void)
{
	return count;
}

void
inflight_set_idle_cb(void (*cb)(void))
{
	idle_cb = cb;
}
