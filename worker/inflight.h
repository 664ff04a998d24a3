/*
 * inflight.h -- the requests a worker still owes something to.
 *
 * A request is in flight from dispatch until two things are over: its
 * handler's coroutine has ended (its transaction committed or rolled
 * back), and evhttp is done with its connection's reply (written whole, or
 * the connection closed).  A graceful stop and a reload's old workers wait
 * for the count to reach zero, so it must never stay up for a client that
 * went away: evhttp calls a request's completion callback only when the
 * reply was written, so a connection that closes first ends its request's
 * flight through the connection's close callback instead.
 */
#ifndef COFFER_WORKER_INFLIGHT_H
#define COFFER_WORKER_INFLIGHT_H

#include <event2/http.h>

struct flight;

/* Start counting ev (hooks its completion and its connection's close). */
struct flight *inflight_begin(struct evhttp_request *ev);
/*
 * Call cb(arg) when the request's connection closes before its reply was
 * written (its handler still running: a streamed reply waiting for the
 * client); NULL cb to stop.  A handler that waits for its client sets it,
 * so a client that goes away wakes it at once.
 */
void inflight_on_close(struct flight *f, void (*cb)(void *), void *arg);
/* The request's coroutine has ended (or it was answered without one). */
void inflight_handler_done(struct flight *f);

/* Requests in flight. */
int inflight_count(void);
/* Called whenever the count drops to zero. */
void inflight_set_idle_cb(void (*cb)(void));

#endif
