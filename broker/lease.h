/*
 * lease.h -- transaction leases: a server connection pinned to one worker.
 *
 * BEGIN makes a lease once the server answered the BEGIN; its id is a
 * 64-bit number never reused within the process.  The lease runs its
 * jobs (QUERY, then END) one at a time, in arrival order, on its
 * connection.  A lease ends in one of four ways:
 *
 *	END			COMMIT/ROLLBACK; the connection goes back idle
 *	lease_timeout		rolled back; later use: PE_LEASE_TIMEOUT
 *	connection broke	dead; later use: PE_CONNECTION
 *	worker disconnected	rolled back; nobody can name it any more
 *
 * The ids of leases that ended by timeout or breakage are remembered in a
 * ring of LEASE_GONE_MAX entries so the next use gets the specific error
 * rather than PE_NO_LEASE.  A lease rolled back because of a timeout while
 * a statement was in flight, or whose worker vanished mid-statement,
 * loses its connection (closing it makes the server abort the
 * transaction); the pool opens a replacement.
 */
#ifndef COFFER_LEASE_H
#define COFFER_LEASE_H

#include <stdint.h>
#include <sys/queue.h>

#include "broker/broker.h"

#define LEASE_GONE_MAX	1024

struct pconn;
struct event;

struct lease {
	uint64_t id;
	struct broker *b;
	struct client *owner;
	struct pconn *conn;
	struct job_list queue;		/* QUERY/END not started yet */
	int ending;			/* END accepted: no more jobs */
	uint64_t started_usec;
	struct event *timer;		/* lease_timeout */
	TAILQ_ENTRY(lease) link;
};

struct lease_table {
	TAILQ_HEAD(, lease) all;
	int count;
	uint64_t next_id;
	struct {
		uint64_t id;
		uint64_t owner;		/* client serial */
		uint8_t kind;		/* PE_LEASE_TIMEOUT or PE_CONNECTION */
	} gone[LEASE_GONE_MAX];
	unsigned gone_next;
};

void lease_table_init(struct lease_table *t);

/* BEGIN succeeded on pc for owner: pin pc and start the timeout. */
struct lease *lease_new(struct broker *b, struct client *owner,
			struct pconn *pc);

/* A QUERY or END naming j->lease_id: queue it on the lease, or answer the
 * error (unknown, foreign, ended, timed out, broken) and free j. */
void lease_submit(struct broker *b, struct job *j);

/* The lease's connection is free: start its next queued job, if any. */
void lease_kick(struct lease *l);

/* END completed: unpin the connection and forget the lease. */
void lease_finish(struct lease *l);

/* The connection under l is gone or being reset: fail the queued jobs
 * with kind, remember the id when kind is worth reporting, free l.  The
 * caller has already taken l->conn away. */
void lease_gone(struct lease *l, enum proto_err kind, const char *msg);

/* Worker c disconnected: roll back or discard every lease it held. */
void lease_drop_client(struct broker *b, struct client *c);

/* Shutdown deadline: drop every lease, closing its connection. */
void lease_abort_all(struct broker *b);

#endif
