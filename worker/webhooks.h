/*
 * webhooks.h -- a worker's webhook delivery loop.
 *
 * Deliveries wait in the database (the outbox, src/store/webhooks.h);
 * every worker of every host may send them, each claimed by one.  A worker
 * looks for due deliveries only when told to:
 *
 *   - webhooks_kick(), after the commit of a write that recorded activity
 *     (the handlers of worker/routes_sync.c), after a test delivery was
 *     queued, at start and whenever the broker link comes up; it is also
 *     the call to make when another host says it queued something (a
 *     broker notification), since it only means "look now";
 *   - its retry timer, armed for the earliest pending delivery, and only
 *     while one is pending.
 *
 * With nothing to deliver no timer is armed and the worker sleeps.
 */
#ifndef COFFER_WEBHOOKS_H
#define COFFER_WEBHOOKS_H

struct event_base;

/* Once per worker, after fork; idle_cb (may be NULL) is called whenever
 * the last delivery in flight ends after webhooks_stop(). */
void webhooks_start(struct event_base *base, void (*idle_cb)(void));

/*
 * Look for due deliveries soon: from the event loop, never inside the
 * caller, so it costs a handler nothing.  Safe anywhere (a request's
 * coroutine, the main context) and as often as wanted: kicks while a look
 * is running make one more look, no more.
 */
void webhooks_kick(void);

/* Claim nothing more (graceful stop); deliveries in flight go on. */
void webhooks_stop(void);

/* Deliveries in flight in this worker. */
int webhooks_busy(void);

/* Free the loop's events (after the event loop has ended). */
void webhooks_shutdown(void);

#endif
