/*
 * lease.c -- transaction leases (see lease.h for their life).
 *
 * There are never more leases than pool_max, so the table is a plain list
 * searched linearly.  Ids start from the wall clock shifted left by 20
 * bits, then count up: unique within the process by construction, and
 * unlikely to match an id a worker still holds from a previous broker.
 *
 * Invariants: l->conn->lease == l while the lease lives; every job in
 * l->queue belongs to l->owner and is JW_LEASEQ; once l->ending is set no
 * job joins the queue, and the END job is the last one in it.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>

#include <event2/event.h>

#include "broker/broker.h"
#include "src/config.h"
#include "broker/lease.h"
#include "src/log.h"
#include "broker/pool.h"
#include "src/util.h"

void
lease_table_init(struct lease_table *t)
{
	memset(t, 0, sizeof(*t));
	TAILQ_INIT(&t->all);
	t->next_id = ((uint64_t)time(NULL) << 20) | 1;
}

static void
lease_free(struct lease *l)
{
	struct lease_table *t = l->b->leases;

	TAILQ_REMOVE(&t->all, l, link);
	t->count--;
	if (l->timer)
		event_free(l->timer);
	free(l);
}

static void
lease_timeout_cb(evutil_socket_t fd, short what, void *arg)
{
	struct lease *l = arg;
	struct broker *b = l->b;
	struct pconn *pc = l->conn;
	struct job *running = pc->job;
	char msg[160];

	(void)fd;
	(void)what;
	/* COMMIT/ROLLBACK already in flight: its outcome is the answer. */
	if (running && running->kind == JOB_END)
		return;
	b->st.lease_timeouts_total++;
	snprintf(msg, sizeof(msg), "transaction lease %" PRIu64 " exceeded "
	    "lease_timeout (%lld ms) and was rolled back", l->id,
	    (long long)b->cfg->lease_timeout);
	log_warn("%s (worker pid %d%s)", msg, (int)l->owner->pid,
	    running ? ", statement in flight: connection closed" : "");
	pc->lease = NULL;
	l->conn = NULL;
	lease_gone(l, PE_LEASE_TIMEOUT, msg);
	if (running)
		pool_conn_discard(pc, PE_LEASE_TIMEOUT, msg, 0);
	else
		pool_conn_release(pc);
}

struct lease *
lease_new(struct broker *b, struct client *owner, struct pconn *pc)
{
	struct lease_table *t = b->leases;
	struct lease *l = xcalloc(1, sizeof(*l));
	struct timeval tv;

	l->id = t->next_id++;
	l->b = b;
	l->owner = owner;
	l->conn = pc;
	pc->lease = l;
	TAILQ_INIT(&l->queue);
	l->started_usec = now_usec();
	if (b->cfg->lease_timeout > 0) {
		l->timer = evtimer_new(b->base, lease_timeout_cb, l);
		tv = msec_tv((uint64_t)b->cfg->lease_timeout);
		evtimer_add(l->timer, &tv);
	}
	TAILQ_INSERT_TAIL(&t->all, l, link);
	t->count++;
	log_debug("lease %" PRIu64 " for worker pid %d on server connection %"
	    PRIu64, l->id, (int)owner->pid, pc->serial);
	return l;
}

static struct lease *
lease_find(struct lease_table *t, uint64_t id)
{
	struct lease *l;

	TAILQ_FOREACH(l, &t->all, link)
		if (l->id == id)
			return l;
	return NULL;
}

/* How a lease that is no longer in the table ended, for its owner. */
static int
gone_kind(const struct lease_table *t, uint64_t id, uint64_t owner)
{
	unsigned i;

	for (i = 0; i < LEASE_GONE_MAX; i++)
		if (t->gone[i].id == id && t->gone[i].owner == owner)
			return t->gone[i].kind;
	return PE_NO_LEASE;
}

void
lease_submit(struct broker *b, struct job *j)
{
	struct lease *l = lease_find(b->leases, j->lease_id);
	char msg[128];
	int kind;

	if (l == NULL || l->owner != j->client || l->ending) {
		kind = l ? PE_NO_LEASE : gone_kind(b->leases, j->lease_id,
		    j->client->serial);
		if (kind == PE_LEASE_TIMEOUT)
			snprintf(msg, sizeof(msg), "transaction lease %" PRIu64
			    " was rolled back after lease_timeout",
			    j->lease_id);
		else if (kind == PE_CONNECTION)
			snprintf(msg, sizeof(msg), "transaction lease %" PRIu64
			    " lost its server connection", j->lease_id);
		else if (l && l->owner == j->client)
			snprintf(msg, sizeof(msg), "transaction lease %" PRIu64
			    " is ending", j->lease_id);
		else
			snprintf(msg, sizeof(msg), "no transaction lease %"
			    PRIu64, j->lease_id);
		broker_reply_error(j, kind, NULL, msg);
		broker_job_free(j);
		return;
	}
	if (j->kind == JOB_END)
		l->ending = 1;
	j->where = JW_LEASEQ;
	TAILQ_INSERT_TAIL(&l->queue, j, qlink);
	lease_kick(l);
}

void
lease_kick(struct lease *l)
{
	struct job *j;

	if (l->conn == NULL || l->conn->job != NULL)
		return;
	if ((j = TAILQ_FIRST(&l->queue)) == NULL)
		return;
	TAILQ_REMOVE(&l->queue, j, qlink);
	j->where = JW_NONE;
	pool_conn_run(l->conn, j);
}

void
lease_finish(struct lease *l)
{
	log_debug("lease %" PRIu64 " ended after %" PRIu64 " ms", l->id,
	    (now_usec() - l->started_usec) / 1000);
	if (l->conn)
		l->conn->lease = NULL;
	l->conn = NULL;
	lease_gone(l, PE_NO_LEASE, "transaction lease ended");
}

void
lease_gone(struct lease *l, enum proto_err kind, const char *msg)
{
	struct lease_table *t = l->b->leases;
	struct job *j;

	while ((j = TAILQ_FIRST(&l->queue)) != NULL) {
		TAILQ_REMOVE(&l->queue, j, qlink);
		j->where = JW_NONE;
		broker_reply_error(j, kind, NULL, msg);
		broker_job_free(j);
	}
	if (kind == PE_LEASE_TIMEOUT || kind == PE_CONNECTION) {
		t->gone[t->gone_next].id = l->id;
		t->gone[t->gone_next].owner = l->owner->serial;
		t->gone[t->gone_next].kind = (uint8_t)kind;
		t->gone_next = (t->gone_next + 1) % LEASE_GONE_MAX;
	}
	lease_free(l);
}

void
lease_drop_client(struct broker *b, struct client *c)
{
	struct lease *l, *next;
	struct pconn *pc;
	int running, n = 0;

	for (l = TAILQ_FIRST(&b->leases->all); l; l = next) {
		next = TAILQ_NEXT(l, link);
		if (l->owner != c)
			continue;
		pc = l->conn;
		running = pc->job != NULL;
		pc->lease = NULL;
		l->conn = NULL;
		lease_gone(l, PE_NO_LEASE, "worker disconnected");
		/* A statement in flight may hold locks for long: closing the
		 * connection is the one sure way to end it at once. */
		if (running)
			pool_conn_discard(pc, PE_CONNECTION, "worker "
			    "disconnected during a transaction", 0);
		else
			pool_conn_release(pc);
		n++;
	}
	if (n)
		log_info("worker pid %d disconnected holding %d transaction "
		    "lease%s: rolled back", (int)c->pid, n, n == 1 ? "" : "s");
}

void
lease_abort_all(struct broker *b)
{
	struct lease *l;
	struct pconn *pc;
	const char *msg = "the broker is stopping; transaction rolled back";

	while ((l = TAILQ_FIRST(&b->leases->all)) != NULL) {
		pc = l->conn;
		pc->lease = NULL;
		l->conn = NULL;
		lease_gone(l, PE_SHUTDOWN, msg);
		pool_conn_discard(pc, PE_SHUTDOWN, msg, 0);
	}
}
