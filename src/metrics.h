/*
 * metrics.h -- request counters and latency histograms shared by every
 * worker, rendered in the Prometheus text format.
 *
 * The master maps one anonymous MAP_SHARED region before it forks, so every
 * worker (including respawned ones) increments the same counters with
 * relaxed atomic adds, and whichever worker serves /metrics sums nothing:
 * it just reads.  No IPC, no timers, and counters survive worker restarts
 * as Prometheus expects of a counter.
 *
 * Routes are identified by their index in the router's table; index 0 is
 * reserved for requests that matched no route.
 */
#ifndef COFFER_METRICS_H
#define COFFER_METRICS_H

#include <stdint.h>

struct evbuffer;

#define METRICS_MAX_ROUTES	160
#define METRICS_ROUTE_UNMATCHED	0

/* Master, before forking anything.  Returns 0 or -1 (mmap failed). */
int metrics_init(void);

void metrics_request(int route, int status, uint64_t usec);
void metrics_worker_restart(void);
void metrics_set_workers(int n);
/* The start-up tasks are done (worker 1 says so once, for every worker's
 * /readyz and for the master's READY=1); and whether they are. */
void metrics_set_started(void);
int metrics_started(void);

/* Live events (worker/events.h), summed over every worker. */
enum metrics_event {
	METRICS_EVENT_STREAMS,		/* gauge: event streams open */
	METRICS_EVENT_PUBLISHED,	/* events this host's writes published */
	METRICS_EVENT_DELIVERED,	/* events written to a stream */
	METRICS_EVENT_SLOW_READERS,	/* streams dropped past max_buffer */
	METRICS_EVENT_N,
};
void metrics_event(enum metrics_event what, int64_t delta);

/* Append the exposition text.  names[i] is route i's label value
 * ("GET /api/v1/groups/{id}"); nroutes entries. */
void metrics_render(struct evbuffer *out, const char *const *names, int nroutes);

#endif
