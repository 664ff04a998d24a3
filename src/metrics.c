/*
 * metrics.c -- the shared counters behind /metrics.
 */
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>

#include <event2/buffer.h>

#include "src/log.h"
#include "src/metrics.h"

/* Upper bounds of the latency buckets, in microseconds (+Inf is implicit). */
static const uint64_t bucket_usec[] = {
	500, 1000, 2500, 5000, 10000, 25000, 50000, 100000, 250000,
	500000, 1000000, 2500000, 5000000, 10000000,
};
#define N_BUCKETS (sizeof(bucket_usec) / sizeof(bucket_usec[0]))

struct route_stats {
	uint64_t status[500];		/* index: HTTP status - 100 */
	uint64_t bucket[N_BUCKETS + 1];	/* non-cumulative; last is +Inf */
	uint64_t sum_usec;
	uint64_t count;
};

struct shared {
	uint64_t worker_restarts;
	uint64_t workers;
	uint64_t started;		/* the start-up tasks are done */
	uint64_t event[METRICS_EVENT_N];	/* enum metrics_event */
	struct route_stats route[METRICS_MAX_ROUTES];
};

static struct shared *shm;

int
metrics_init(void)
{
	void *p = mmap(NULL, sizeof(*shm), PROT_READ | PROT_WRITE,
	    MAP_SHARED | MAP_ANONYMOUS, -1, 0);

	if (p == MAP_FAILED) {
		log_error("metrics: mmap: %m");
		return -1;
	}
	shm = p;
	return 0;
}

static void
add(uint64_t *p, uint64_t v)
{
	__atomic_fetch_add(p, v, __ATOMIC_RELAXED);
}

static uint64_t
load(const uint64_t *p)
{
	return __atomic_load_n(p, __ATOMIC_RELAXED);
}

void
metrics_request(int route, int status, uint64_t usec)
{
	struct route_stats *rs;
	size_t b;

	if (shm == NULL || route < 0 || route >= METRICS_MAX_ROUTES)
		return;
	rs = &shm->route[route];
	if (status >= 100 && status < 600)
		add(&rs->status[status - 100], 1);
	for (b = 0; b < N_BUCKETS && usec > bucket_usec[b]; b++)
		;
	add(&rs->bucket[b], 1);
	add(&rs->sum_usec, usec);
	add(&rs->count, 1);
}

void
metrics_worker_restart(void)
{
	if (shm)
		add(&shm->worker_restarts, 1);
}

void
metrics_set_workers(int n)
{
	if (shm)
		__atomic_store_n(&shm->workers, (uint64_t)n, __ATOMIC_RELAXED);
}

void
metrics_set_started(void)
{
	if (shm)
		__atomic_store_n(&shm->started, 1, __ATOMIC_RELEASE);
}

int
metrics_started(void)
{
	return shm ? (int)__atomic_load_n(&shm->started, __ATOMIC_ACQUIRE) : 0;
}

void
metrics_event(enum metrics_event what, int64_t delta)
{
	/* The gauge goes down too: unsigned wrap-around adds a negative. */
	if (shm && what < METRICS_EVENT_N)
		add(&shm->event[what], (uint64_t)delta);
}

void
metrics_render(struct evbuffer *out, const char *const *names, int nroutes)
{
	if (shm == NULL)
		return;
	evbuffer_add_printf(out,
	    "# HELP coffer_http_requests_total HTTP requests by route and status.\n"
	    "# TYPE coffer_http_requests_total counter\n");
	for (int r = 0; r < nroutes && r < METRICS_MAX_ROUTES; r++) {
		for (int s = 0; s < 500; s++) {
			uint64_t v = load(&shm->route[r].status[s]);

			if (v)
				evbuffer_add_printf(out,
				    "coffer_http_requests_total{route=\"%s\",status=\"%d\"} %llu\n",
				    names[r], s + 100, (unsigned long long)v);
		}
	}
	evbuffer_add_printf(out,
	    "# HELP coffer_http_request_duration_seconds Time to produce a response.\n"
	    "# TYPE coffer_http_request_duration_seconds histogram\n");
	for (int r = 0; r < nroutes && r < METRICS_MAX_ROUTES; r++) {
		const struct route_stats *rs = &shm->route[r];
		uint64_t cum = 0, count = load(&rs->count);

		if (count == 0)
			continue;
		for (size_t b = 0; b < N_BUCKETS; b++) {
			cum += load(&rs->bucket[b]);
			evbuffer_add_printf(out,
			    "coffer_http_request_duration_seconds_bucket{route=\"%s\",le=\"%g\"} %llu\n",
			    names[r], (double)bucket_usec[b] / 1e6, (unsigned long long)cum);
		}
		evbuffer_add_printf(out,
		    "coffer_http_request_duration_seconds_bucket{route=\"%s\",le=\"+Inf\"} %llu\n"
		    "coffer_http_request_duration_seconds_sum{route=\"%s\"} %.6f\n"
		    "coffer_http_request_duration_seconds_count{route=\"%s\"} %llu\n",
		    names[r], (unsigned long long)count, names[r],
		    (double)load(&rs->sum_usec) / 1e6, names[r], (unsigned long long)count);
	}
	evbuffer_add_printf(out,
	    "# HELP coffer_worker_restarts_total Worker processes respawned after dying.\n"
	    "# TYPE coffer_worker_restarts_total counter\n"
	    "coffer_worker_restarts_total %llu\n"
	    "# HELP coffer_workers HTTP worker processes configured.\n"
	    "# TYPE coffer_workers gauge\n"
	    "coffer_workers %llu\n"
	    "# HELP coffer_started 1 once the start-up tasks (default catalog, demo data) are done.\n"
	    "# TYPE coffer_started gauge\n"
	    "coffer_started %llu\n",
	    (unsigned long long)load(&shm->worker_restarts),
	    (unsigned long long)load(&shm->workers),
	    (unsigned long long)load(&shm->started));
	evbuffer_add_printf(out,
	    "# HELP coffer_event_streams Live event streams open, in every worker.\n"
	    "# TYPE coffer_event_streams gauge\n"
	    "coffer_event_streams %lld\n"
	    "# HELP coffer_events_published_total Live events published by this host's writes.\n"
	    "# TYPE coffer_events_published_total counter\n"
	    "coffer_events_published_total %llu\n"
	    "# HELP coffer_events_delivered_total Live events written to a stream.\n"
	    "# TYPE coffer_events_delivered_total counter\n"
	    "coffer_events_delivered_total %llu\n"
	    "# HELP coffer_event_slow_readers_total Streams dropped for reading too slowly.\n"
	    "# TYPE coffer_event_slow_readers_total counter\n"
	    "coffer_event_slow_readers_total %llu\n",
	    (long long)load(&shm->event[METRICS_EVENT_STREAMS]),
	    (unsigned long long)load(&shm->event[METRICS_EVENT_PUBLISHED]),
	    (unsigned long long)load(&shm->event[METRICS_EVENT_DELIVERED]),
	    (unsigned long long)load(&shm->event[METRICS_EVENT_SLOW_READERS]));
}
