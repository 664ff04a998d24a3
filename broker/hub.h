/*
 * hub.h -- the broker as the hub of live events (docs/API.md "Live
 * events").
 *
 * A worker that has an event stream open for a group tells the broker
 * (SUBSCRIBE, one per stream; UNSUBSCRIBE when it closes).  The hub keeps,
 * per group, which workers hold streams and how many, so an event goes
 * only to the workers that need it, each receiving it once whatever its
 * number of streams; the worker fans it out to its own streams.  The same
 * table counts each user's streams across the workers of this host, which
 * is how [limits] streams_per_user holds for the whole host and not per
 * worker.  A worker that disconnects takes its subscriptions and counts
 * with it; the worker re-subscribes its streams when the link is back.
 *
 * A write that changes what a dashboard shows is published by the worker
 * that made it, after its transaction committed (PUBLISH).  The hub hands
 * it to every subscribed worker, the publisher included.
 *
 * A credential that ends (a token revoked, a session ended, an account
 * deleted) is published the same way after its commit (REVOKE), and the
 * hub hands it to every worker (REVOKED), with streams or not: the table
 * knows groups and users, not the session or token a stream was opened
 * with, and revocations are rare.  Each worker closes its own streams
 * that the credential opened.
 *
 * On PostgreSQL, other hosts may share the database and hold streams of
 * their own, so the hub also keeps one connection outside the pool that
 * LISTENs on the channel "coffer_events" and sends each local event there
 * with pg_notify(), on that same connection, in order.  A notification
 * from its own session is the hub's own event coming back and is ignored;
 * another host's is fanned out like a local one (a revocation travels as
 * "R user session token", to every worker).  NOTIFY carries at most
 * 8,000 bytes: a larger event travels without its data, as a reference
 * the receiving worker loads from the database (activity events always
 * travel that way: ref is the activity id).  The connection reconnects
 * with back-off after a failure, with a timer armed only while it is
 * down; events published meanwhile reach this host only.  It is counted
 * in the pool figures (STATS "listen_connections", and in
 * connections_opened_total / connections_broken_total).
 */
#ifndef COFFER_BROKER_HUB_H
#define COFFER_BROKER_HUB_H

#include <stdint.h>

#include "broker/broker.h"
#include "src/proto.h"

struct hub;

struct hub_gauges {
	int64_t streams;		/* open on this host */
	int64_t groups;			/* with a stream open */
	int64_t listen_connections;	/* 1 while LISTEN is up */
	int64_t published_total;	/* PUBLISH frames from workers */
	int64_t remote_total;		/* events from other hosts */
	int64_t notify_dropped_total;	/* not sent to other hosts */
};

/* A hub for b; on PostgreSQL it starts the LISTEN connection. */
struct hub *hub_new(struct broker *b);
void hub_free(struct hub *h);
/* Stop talking to PostgreSQL (shutdown); local fan-out goes on. */
void hub_stop(struct hub *h);

/* The frames of broker/broker.c's dispatch; each answers (or reports a
 * protocol violation by returning -1). */
int hub_subscribe(struct hub *h, struct client *c, const struct proto_frame *f);
int hub_unsubscribe(struct hub *h, struct client *c, const struct proto_frame *f);
int hub_publish(struct hub *h, const struct proto_frame *f);
int hub_revoke(struct hub *h, const struct proto_frame *f);

/* c disconnected: forget its subscriptions and counts. */
void hub_drop_client(struct hub *h, struct client *c);

void hub_gauges(const struct hub *h, struct hub_gauges *g);

#endif
