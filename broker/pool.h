/*
 * pool.h -- the PostgreSQL server connections of the broker.
 *
 * Between pool_min and pool_max connections, counting those still
 * connecting, never more.  Each connection is driven by libevent events
 * on its libpq socket; libpq runs non-blocking throughout (connect with
 * PQconnectStartParams/PQconnectPoll, send with PQsend*, PQflush until 0,
 * read with PQconsumeInput/PQisBusy/PQgetResult).
 *
 * A connection's life:
 *
 *	CONNECTING -> SETUP (SET statement_timeout) -> IDLE <-> ACTIVE
 *
 * IDLE connections sit in the idle list with only a read event armed (so a
 * server that goes away is noticed without any timer).  ACTIVE ones are
 * either borrowed for one job or pinned to a lease (pc->lease), running at
 * most one job (pc->job) at a time.  A connection only re-enters the idle
 * list outside a transaction (PQTRANS_IDLE): otherwise it is rolled back
 * first, or discarded when its state is unknown.
 *
 * Requests that find no idle connection wait in one FIFO queue; a single
 * timer for the head of the queue enforces pool_timeout.  Failed connects
 * and broken connections are retried after a back-off of 100 ms doubling
 * to 5 s, reset by the next successful connect.
 */
#ifndef COFFER_POOL_H
#define COFFER_POOL_H

#include <libpq-fe.h>
#include <stdint.h>
#include <sys/queue.h>

#include "broker/broker.h"
#include "broker/stmtcache.h"

struct event;

/* Prepared statements kept per server connection (a knob for tests). */
extern unsigned pool_stmtcache_cap;

enum pconn_state {
	PC_CONNECTING,
	PC_SETUP,
	PC_IDLE,
	PC_ACTIVE,
};

enum pconn_step {
	ST_NONE,
	ST_SETUP,		/* SET statement_timeout */
	ST_DEALLOC,		/* DEALLOCATE evicted statements */
	ST_PREPARE,
	ST_EXEC,		/* the job's statement */
};

struct pconn {
	struct pool *pool;
	uint64_t serial;
	enum pconn_state state;
	PGconn *pg;
	int fd;
	struct event *rev;		/* read (persistent once connected) */
	struct event *wev;		/* write, armed while PQflush > 0 */
	struct event *tev;		/* connect timeout */
	struct event *fev;		/* deferred failure */
	char *fail_msg;
	struct lease *lease;		/* pinned to this lease */
	struct job *job;		/* running */
	enum pconn_step step;
	PGresult *res;			/* result of the current step */
	struct stmtcache *sc;
	char prep_name[STMT_NAME_MAX];	/* being prepared (ST_PREPARE) */
	char *dealloc;			/* "DEALLOCATE a; DEALLOCATE b" */
	TAILQ_ENTRY(pconn) link;	/* pool->conns */
	TAILQ_ENTRY(pconn) ilink;	/* pool->idle */
};

struct pool {
	struct broker *b;
	TAILQ_HEAD(, pconn) conns;
	TAILQ_HEAD(, pconn) idle;
	struct job_list waiters;
	int nconns;			/* every pconn, connecting ones too */
	int nwaiting;
	uint64_t serial;
	uint64_t backoff_usec;		/* 0 after a successful connect */
	struct event *retry_ev;		/* back-off timer */
	int retry_pending;
	struct event *wait_ev;		/* pool_timeout of the queue head */
	char last_error[256];		/* last connect failure, or "" */
};

struct pool_gauges {
	int size, idle, busy, leased, waiting, connecting;
};

struct pool *pool_new(struct broker *b);
void pool_free(struct pool *p);

/* Open connections up to what pool_min and the waiters call for. */
void pool_fill(struct pool *p);

/* A QUERY with lease 0 or a BEGIN: run it on an idle connection, or queue
 * it until one is free or pool_timeout passes. */
void pool_submit(struct pool *p, struct job *j);

/* Take a waiting job out of the queue (its worker vanished). */
void pool_unqueue(struct pool *p, struct job *j);

/* Fail every waiter (shutdown). */
void pool_fail_waiters(struct pool *p, enum proto_err kind, const char *msg);

/* Run j on pc, which is pinned to j's lease and has no job running. */
void pool_conn_run(struct pconn *pc, struct job *j);

/* pc has no job and no lease but may be inside a transaction: roll it
 * back if needed and return it to the pool. */
void pool_conn_release(struct pconn *pc);

/*
 * Close pc.  A running job is answered with kind/msg; a lease still on pc
 * is ended with lease_gone(kind).  broken counts it as a broken
 * connection and reopens after back-off; otherwise a replacement is opened
 * at once (pool_min, waiters).
 */
void pool_conn_discard(struct pconn *pc, enum proto_err kind,
		       const char *msg, int broken);

/* Shutdown: close the connections doing nothing (idle, connecting). */
void pool_close_unused(struct pool *p);

/* Shutdown deadline: close every connection, answering running jobs with
 * PE_SHUTDOWN.  Leases must be gone already (lease_abort_all). */
void pool_close_all(struct pool *p, const char *msg);

/* Connections running a job. */
int pool_active_jobs(const struct pool *p);

void pool_gauges(const struct pool *p, struct pool_gauges *g);

#endif
