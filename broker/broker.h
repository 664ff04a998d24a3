/*
 * broker.h -- the broker process: one owner for every PostgreSQL connection.
 *
 * The master forks the broker and calls broker_main() in the child.  The
 * broker listens on runtime_dir/broker.sock; each HTTP worker connects
 * once and sends frames (src/proto.h).  A statement outside a transaction
 * borrows any idle server connection for its duration; BEGIN pins one to
 * a lease until END.  Everything runs on one libevent loop and libpq in
 * non-blocking mode, so no worker can stall another.
 *
 * The pieces:
 *	broker.c	entry, listener, signals, worker connections, framing
 *	pool.c		server connections, waiters, running statements
 *	lease.c		transaction leases, lease timeouts
 *	stmtcache.c	prepared statements per server connection
 *	hub.c		live events: subscriptions, fan-out, LISTEN/NOTIFY
 *
 * Ownership rules shared by those files:
 *  - A job is one worker request that needs a server connection (QUERY,
 *    BEGIN, END) or an internal ROLLBACK.  It lives in exactly one place
 *    (job->where): the pool's wait queue, a lease's queue, or running on a
 *    connection; whoever takes it out of there frees it after replying.
 *  - job->client is NULL when nobody waits for the answer (internal work,
 *    or the worker disconnected): replies to it are dropped.
 *  - Nothing frees a connection, lease or client from inside a libpq or
 *    bufferevent call that its caller still depends on; failures found
 *    while sending are reported through a deferred event.
 */
#ifndef COFFER_BROKER_H
#define COFFER_BROKER_H

#include <stdint.h>
#include <sys/queue.h>
#include <sys/types.h>

#include "src/config.h"
#include "src/proto.h"

/* Runs the broker until SIGTERM/SIGINT; returns the process exit status. */
int broker_main(struct config *cfg, int ready_fd);

/* ---- internal to broker/ ---- */

struct event_base;
struct bufferevent;
struct pool;
struct lease;
struct hub;

enum job_kind {
	JOB_QUERY,
	JOB_BEGIN,
	JOB_END,
	JOB_ROLLBACK,		/* internal: no reply */
};

enum job_where {
	JW_NONE,
	JW_POOLQ,		/* waiting for an idle connection */
	JW_LEASEQ,		/* waiting for its lease's connection */
	JW_RUNNING,		/* on a connection (pconn->job) */
};

struct job {
	enum job_kind kind;
	enum job_where where;
	struct client *client;		/* NULL: answer nobody */
	uint32_t reqid;
	uint64_t lease_id;
	uint8_t flags;			/* PQF_* */
	uint8_t commit;			/* END */
	char *sql;
	uint16_t nparams;
	const char **params;		/* text, NULL = SQL NULL */
	uint64_t queued_usec;		/* JW_POOLQ */
	uint64_t deadline_usec;
	TAILQ_ENTRY(job) qlink;		/* pool or lease queue */
	TAILQ_ENTRY(job) clink;		/* client->jobs */
};
TAILQ_HEAD(job_list, job);

struct client {
	struct broker *b;
	struct bufferevent *bev;
	uint64_t serial;		/* never reused: owner of a lease */
	pid_t pid;			/* from HELLO */
	int hello;
	int closing;			/* detached; freed once output drains */
	struct job_list jobs;		/* every job that may answer us */
	TAILQ_ENTRY(client) link;
};

/* Counters; gauges are computed from the live state when asked. */
struct broker_stats {
	int64_t statements_total;
	int64_t errors_total;
	int64_t wait_count_total;
	int64_t wait_usec_total;
	int64_t wait_usec_max;
	int64_t pool_timeouts_total;
	int64_t lease_timeouts_total;
	int64_t connections_opened_total;
	int64_t connections_broken_total;
	int64_t prepares_total;
};

struct broker {
	struct event_base *base;
	struct config *cfg;
	struct pool *pool;		/* NULL when engine = sqlite */
	struct lease_table *leases;
	struct hub *hub;		/* live events */
	struct broker_stats st;
	struct proto_buf out;		/* scratch for building replies */
	TAILQ_HEAD(, client) clients;
	int nworkers;			/* clients past HELLO */
	uint64_t client_serial;
	int stopping;			/* SIGTERM seen */
	int exiting;			/* drained; flushing the outputs */
};

struct job *broker_job_new(struct client *c, enum job_kind kind,
			   uint32_t reqid);
void broker_job_free(struct job *j);

/* Queue a finished frame (e.g. built in b->out) for c; c NULL or closing:
 * dropped.  Never writes synchronously, never frees c. */
void broker_send(struct client *c, const struct proto_buf *frame);
void broker_send_error(struct client *c, uint32_t reqid, enum proto_err kind,
		       const char *sqlstate, const char *msg);
/* The same for the worker waiting on j, if any. */
void broker_reply_error(struct job *j, enum proto_err kind,
			const char *sqlstate, const char *msg);

/* Called whenever a lease ends or a connection finishes work: during a
 * shutdown, exits the loop once nothing is left to wait for. */
void broker_check_drained(struct broker *b);

#endif
