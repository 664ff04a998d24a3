/*
 * hub.c -- subscriptions, fan-out and the LISTEN connection (see hub.h).
 *
 * Two small hash tables of chained entries, both keyed per worker so a
 * worker's departure can remove exactly its own:
 *	subs	(group, worker) -> streams of that group on that worker
 *	users	(user, worker)  -> streams of that user on that worker
 * A user's total is the sum over the workers in one bucket chain.  The
 * tables hold one entry per (group, worker), not per stream, so fan-out
 * costs one frame per worker whatever the number of streams.
 *
 * The LISTEN connection is a little state machine of its own, apart from
 * the pool's (it runs no worker's statements and must not count against
 * pool_max):
 *
 *	DOWN --(timer)--> CONNECTING --> LISTENING
 *	  ^__________________________________|  (any failure; back-off)
 *
 * While LISTENING, only its socket's read event is armed (and the write
 * event while libpq has bytes to flush).  Outgoing notifications wait in
 * a FIFO and go one pg_notify() at a time; the queue is bounded, and what
 * does not fit, or is queued while the connection is down, is dropped
 * and counted (other hosts miss it; this host already has it).
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>

#include <event2/event.h>
#include <libpq-fe.h>

#include "broker/hub.h"
#include "src/log.h"
#include "src/util.h"

#define BUCKETS			1024
#define CHANNEL			"coffer_events"
#define REVOKE_PREFIX		"R "	/* a notification of a revocation */
#define NOTIFY_MAX		7999	/* bytes of payload PostgreSQL takes */
#define QUEUE_MAX		10000	/* notifications waiting to be sent */
#define BACKOFF_MIN_USEC	100000ull
#define BACKOFF_MAX_USEC	5000000ull
#define CONNECT_TIMEOUT_USEC	10000000ull

struct entry {
	uint64_t key;			/* group or user */
	struct client *c;
	int n;				/* streams */
	struct entry *next;
};

struct note {
	STAILQ_ENTRY(note) link;
	char text[];			/* the payload */
};

enum listen_state { LS_DOWN, LS_CONNECTING, LS_LISTENING };

struct hub {
	struct broker *b;
	struct entry *subs[BUCKETS];
	struct entry *users[BUCKETS];
	struct hub_gauges g;
	struct proto_buf out;

	/* PostgreSQL only */
	int pg_enabled;
	enum listen_state ls;
	PGconn *pg;
	int pid;			/* our backend's pid, to ignore our own */
	struct event *rev, *wev;
	struct event *timer;		/* connect timeout, or the retry back-off */
	uint64_t backoff_usec;
	int busy;			/* a statement is running */
	STAILQ_HEAD(, note) queue;
	int queued;
};

static void listen_open(struct hub *h);
static void listen_lost(struct hub *h, const char *why);
static void listen_io_cb(evutil_socket_t fd, short what, void *arg);

/* ---- the tables ---- */

static struct entry **
find(struct entry **table, uint64_t key, struct client *c)
{
	struct entry **pp = &table[key % BUCKETS];

	for (; *pp; pp = &(*pp)->next)
		if ((*pp)->key == key && (*pp)->c == c)
			return pp;
	return pp;
}

/* Add delta streams to (key, c); the entry goes away at 0. */
static void
count(struct entry **table, uint64_t key, struct client *c, int delta)
{
	struct entry **pp = find(table, key, c), *e = *pp;

	if (e == NULL) {
		if (delta <= 0)
			return;
		e = xcalloc(1, sizeof(*e));
		e->key = key;
		e->c = c;
		*pp = e;
	}
	e->n += delta;
	if (e->n <= 0) {
		*pp = e->next;
		free(e);
	}
}

static int
user_total(const struct hub *h, uint64_t user)
{
	const struct entry *e;
	int n = 0;

	for (e = h->users[user % BUCKETS]; e; e = e->next)
		if (e->key == user)
			n += e->n;
	return n;
}

static void
drop_all(struct entry **table, struct client *c, int64_t *removed)
{
	for (int i = 0; i < BUCKETS; i++) {
		struct entry **pp = &table[i];

		while (*pp) {
			struct entry *e = *pp;

			if (c != NULL && e->c != c) {
				pp = &e->next;
				continue;
			}
			if (removed)
				*removed += e->n;
			*pp = e->next;
			free(e);
		}
	}
}

void
hub_drop_client(struct hub *h, struct client *c)
{
	int64_t n = 0;

	if (h == NULL)
		return;
	drop_all(h->subs, c, &n);
	drop_all(h->users, c, NULL);
	h->g.streams -= n;
}

/* ---- fan-out on this host ---- */

static void
fan_out(struct hub *h, const struct proto_event *ev)
{
	const struct entry *e;

	proto_buf_reset(&h->out);
	if (proto_encode_event(&h->out, PT_EVENT, ev) < 0)
		return;
	for (e = h->subs[ev->group_id % BUCKETS]; e; e = e->next)
		if (e->key == ev->group_id)
			broker_send(e->c, &h->out);
}

/*
 * A credential ended: every worker hears of it, since the tables know
 * groups and users, not the session or token a stream was opened with.
 * Revocations are rare, and a worker with no matching stream only reads
 * the frame.
 */
static void
revoke_all(struct hub *h, const struct proto_revoke *rv)
{
	struct client *c;

	proto_buf_reset(&h->out);
	if (proto_encode_revoke(&h->out, PT_REVOKED, rv) < 0)
		return;
	TAILQ_FOREACH(c, &h->b->clients, link)
		if (c->hello && !c->closing)
			broker_send(c, &h->out);
}

/* ---- frames from workers ---- */

int
hub_subscribe(struct hub *h, struct client *c, const struct proto_frame *f)
{
	struct proto_reader r;
	uint64_t group, user;
	uint32_t limit;
	uint8_t flags;
	int total, ok;
	size_t start;

	proto_reader_init(&r, f);
	group = proto_get_u64(&r);
	user = proto_get_u64(&r);
	limit = proto_get_u32(&r);
	flags = proto_get_u8(&r);
	if (proto_reader_done(&r) < 0 || (flags & ~PSF_RESUME))
		return -1;
	total = user_total(h, user);
	ok = (flags & PSF_RESUME) || (uint32_t)total < limit;
	if (ok) {
		count(h->subs, group, c, 1);
		count(h->users, user, c, 1);
		h->g.streams++;
		total++;
	}
	proto_buf_reset(&h->out);
	start = proto_begin(&h->out, PT_SUBSCRIBED, f->id);
	proto_put_u8(&h->out, (uint8_t)ok);
	proto_put_u32(&h->out, (uint32_t)total);
	proto_end(&h->out, start);
	broker_send(c, &h->out);
	return 0;
}

int
hub_unsubscribe(struct hub *h, struct client *c, const struct proto_frame *f)
{
	struct proto_reader r;
	uint64_t group, user;
	struct entry *e;

	proto_reader_init(&r, f);
	group = proto_get_u64(&r);
	user = proto_get_u64(&r);
	if (proto_reader_done(&r) < 0)
		return -1;
	/* Only what was counted: a stale UNSUBSCRIBE after a reconnect must
	 * not take another stream's place. */
	e = *find(h->subs, group, c);
	if (e == NULL)
		return 0;
	count(h->subs, group, c, -1);
	count(h->users, user, c, -1);
	h->g.streams--;
	return 0;
}

static void notify(struct hub *h, const struct proto_event *ev);

int
hub_publish(struct hub *h, const struct proto_frame *f)
{
	struct proto_event ev;

	if (proto_decode_event(f, &ev) < 0)
		return -1;
	h->g.published_total++;
	fan_out(h, &ev);
	if (h->pg_enabled)
		notify(h, &ev);
	return 0;
}

static void notify_revoke(struct hub *h, const struct proto_revoke *rv);

int
hub_revoke(struct hub *h, const struct proto_frame *f)
{
	struct proto_revoke rv;

	if (proto_decode_revoke(f, &rv) < 0)
		return -1;
	revoke_all(h, &rv);
	if (h->pg_enabled)
		notify_revoke(h, &rv);
	return 0;
}

void
hub_gauges(const struct hub *h, struct hub_gauges *g)
{
	memset(g, 0, sizeof(*g));
	if (h == NULL)
		return;
	*g = h->g;
	g->groups = 0;
	for (int i = 0; i < BUCKETS; i++)
		for (const struct entry *e = h->subs[i]; e; e = e->next)
			g->groups++;
	g->listen_connections = h->ls == LS_LISTENING;
}

/* ---- the LISTEN connection ---- */

static void
listen_free_io(struct hub *h)
{
	if (h->rev)
		event_free(h->rev);
	if (h->wev)
		event_free(h->wev);
	h->rev = h->wev = NULL;
}

static void
queue_clear(struct hub *h)
{
	struct note *n;

	while ((n = STAILQ_FIRST(&h->queue)) != NULL) {
		STAILQ_REMOVE_HEAD(&h->queue, link);
		free(n);
		h->g.notify_dropped_total++;
	}
	h->queued = 0;
}

static void
retry_cb(evutil_socket_t fd, short what, void *arg)
{
	struct hub *h = arg;

	(void)fd;
	(void)what;
	if (h->ls == LS_CONNECTING) {
		listen_lost(h, "connection attempt timed out");
		return;
	}
	if (h->ls == LS_DOWN && h->pg_enabled)
		listen_open(h);
}

/* Drop the connection and try again after the back-off. */
static void
listen_lost(struct hub *h, const char *why)
{
	struct timeval tv;
	char msg[256];
	size_t n;

	snprintf(msg, sizeof(msg), "%s", why && *why ? why : "unknown error");
	n = strlen(msg);
	while (n > 0 && (msg[n - 1] == '\n' || msg[n - 1] == ' '))
		msg[--n] = '\0';
	for (char *p = msg; *p; p++)
		if (*p == '\n' || *p == '\t')
			*p = ' ';
	if (h->ls == LS_LISTENING)
		log_warn("events: lost the LISTEN connection: %s; reconnecting", msg);
	else
		log_warn("events: cannot open the LISTEN connection: %s", msg);
	h->b->st.connections_broken_total++;
	listen_free_io(h);
	PQfinish(h->pg);
	h->pg = NULL;
	h->busy = 0;
	h->ls = LS_DOWN;
	queue_clear(h);
	evtimer_del(h->timer);
	if (!h->pg_enabled)
		return;
	h->backoff_usec = h->backoff_usec ? h->backoff_usec * 2 : BACKOFF_MIN_USEC;
	if (h->backoff_usec > BACKOFF_MAX_USEC)
		h->backoff_usec = BACKOFF_MAX_USEC;
	tv = usec_tv(h->backoff_usec);
	evtimer_add(h->timer, &tv);
}

/* While connecting: wait once for what libpq asked for. */
static void
listen_watch(struct hub *h, short what)
{
	int fd = PQsocket(h->pg);

	listen_free_io(h);
	if (fd < 0) {
		listen_lost(h, PQerrorMessage(h->pg));
		return;
	}
	h->rev = event_new(h->b->base, fd, what, listen_io_cb, h);
	event_add(h->rev, NULL);
}

static void
listen_flush(struct hub *h)
{
	int r = PQflush(h->pg);

	if (r < 0)
		listen_lost(h, PQerrorMessage(h->pg));
	else if (r > 0)
		event_add(h->wev, NULL);
	else
		event_del(h->wev);
}

/* Start the next pg_notify() if nothing runs. */
static void
send_next(struct hub *h)
{
	struct note *n;
	const char *params[1];

	if (h->ls != LS_LISTENING || h->busy || (n = STAILQ_FIRST(&h->queue)) == NULL)
		return;
	STAILQ_REMOVE_HEAD(&h->queue, link);
	h->queued--;
	params[0] = n->text;
	if (!PQsendQueryParams(h->pg, "SELECT pg_notify('" CHANNEL "', $1)", 1, NULL,
	    params, NULL, NULL, 0)) {
		free(n);
		listen_lost(h, PQerrorMessage(h->pg));
		return;
	}
	free(n);
	h->busy = 1;
	listen_flush(h);
}

/* Queue one notification of hl + dl bytes (head, then data). */
static void
note_push(struct hub *h, const char *head, size_t hl, const char *data, size_t dl)
{
	struct note *n;

	if (h->ls != LS_LISTENING || h->queued >= QUEUE_MAX) {
		h->g.notify_dropped_total++;
		return;
	}
	n = xmalloc(sizeof(*n) + hl + dl + 1);
	memcpy(n->text, head, hl);
	memcpy(n->text + hl, data, dl);
	n->text[hl + dl] = '\0';
	STAILQ_INSERT_TAIL(&h->queue, n, link);
	h->queued++;
	send_next(h);
}

/* "group kind ref data": data may be empty (a reference). */
static void
notify(struct hub *h, const struct proto_event *ev)
{
	char head[80];
	size_t hl, dl;

	hl = (size_t)snprintf(head, sizeof(head), "%" PRIu64 " %u %" PRId64 " ",
	    ev->group_id, (unsigned)ev->kind, ev->ref);
	dl = ev->len;
	if (hl + dl > NOTIFY_MAX)
		dl = 0;		/* too large: the receivers load it by ref */
	note_push(h, head, hl, ev->data, dl);
}

/* "R user session token": an event's payload starts with a digit, so
 * the two never mix. */
static void
notify_revoke(struct hub *h, const struct proto_revoke *rv)
{
	char text[80];
	int n;

	n = snprintf(text, sizeof(text), REVOKE_PREFIX "%" PRIu64 " %" PRIu64 " %" PRIu64,
	    rv->user_id, rv->session_id, rv->token_id);
	note_push(h, text, (size_t)n, "", 0);
}

/* Another host's revocation ("user session token"): tell our workers. */
static void
received_revoke(struct hub *h, const char *text)
{
	struct proto_revoke rv;
	unsigned long long user, session, token;
	int used = 0;

	if (sscanf(text, "%llu %llu %llu%n", &user, &session, &token, &used) != 3 ||
	    text[used] != '\0' || (user == 0 && session == 0 && token == 0)) {
		log_warn("events: ignored a malformed notification");
		return;
	}
	rv.user_id = user;
	rv.session_id = session;
	rv.token_id = token;
	revoke_all(h, &rv);
}

/* Another host's event: parse and hand it to our workers. */
static void
received(struct hub *h, const PGnotify *nt)
{
	struct proto_event ev;
	unsigned long long group;
	unsigned kind;
	long long ref;
	int used = 0;

	if (nt->be_pid == h->pid || strcmp(nt->relname, CHANNEL) != 0)
		return;		/* our own event, already delivered */
	if (strncmp(nt->extra, REVOKE_PREFIX, strlen(REVOKE_PREFIX)) == 0) {
		received_revoke(h, nt->extra + strlen(REVOKE_PREFIX));
		return;
	}
	if (sscanf(nt->extra, "%llu %u %lld %n", &group, &kind, &ref, &used) != 3 ||
	    used == 0 || proto_event_name((int)kind) == NULL) {
		log_warn("events: ignored a malformed notification");
		return;
	}
	ev.group_id = group;
	ev.kind = (uint8_t)kind;
	ev.ref = ref;
	ev.data = nt->extra + used;
	ev.len = (uint32_t)strlen(ev.data);
	if (strpbrk(ev.data, "\r\n") != NULL) {
		log_warn("events: ignored a malformed notification");
		return;
	}
	h->g.remote_total++;
	fan_out(h, &ev);
}

/* Read what arrived: statement results, then notifications. */
static void
listen_read(struct hub *h)
{
	PGnotify *nt;
	PGresult *res;

	if (!PQconsumeInput(h->pg)) {
		listen_lost(h, PQerrorMessage(h->pg));
		return;
	}
	while (h->busy && !PQisBusy(h->pg)) {
		res = PQgetResult(h->pg);
		if (res == NULL) {
			h->busy = 0;
			break;
		}
		if (PQresultStatus(res) != PGRES_COMMAND_OK &&
		    PQresultStatus(res) != PGRES_TUPLES_OK)
			log_warn("events: %s", PQresultErrorMessage(res));
		PQclear(res);
	}
	while ((nt = PQnotifies(h->pg)) != NULL) {
		received(h, nt);
		PQfreemem(nt);
	}
	if (PQstatus(h->pg) == CONNECTION_BAD) {
		listen_lost(h, PQerrorMessage(h->pg));
		return;
	}
	send_next(h);
}

static void
listen_ready(struct hub *h)
{
	int fd = PQsocket(h->pg);

	evtimer_del(h->timer);
	if (PQsetnonblocking(h->pg, 1) != 0) {
		listen_lost(h, PQerrorMessage(h->pg));
		return;
	}
	listen_free_io(h);
	h->rev = event_new(h->b->base, fd, EV_READ | EV_PERSIST, listen_io_cb, h);
	h->wev = event_new(h->b->base, fd, EV_WRITE | EV_PERSIST, listen_io_cb, h);
	event_add(h->rev, NULL);
	h->ls = LS_LISTENING;
	h->pid = PQbackendPID(h->pg);
	h->backoff_usec = 0;
	h->b->st.connections_opened_total++;
	log_info("events: LISTEN connection open (channel " CHANNEL ")");
	if (!PQsendQuery(h->pg, "LISTEN " CHANNEL)) {
		listen_lost(h, PQerrorMessage(h->pg));
		return;
	}
	h->busy = 1;
	listen_flush(h);
}

static void
listen_io_cb(evutil_socket_t fd, short what, void *arg)
{
	struct hub *h = arg;

	(void)fd;
	if (h->ls == LS_CONNECTING) {
		switch (PQconnectPoll(h->pg)) {
		case PGRES_POLLING_READING:
			listen_watch(h, EV_READ);
			break;
		case PGRES_POLLING_WRITING:
			listen_watch(h, EV_WRITE);
			break;
		case PGRES_POLLING_OK:
			listen_ready(h);
			break;
		default:
			listen_lost(h, PQerrorMessage(h->pg));
			break;
		}
		return;
	}
	if (h->ls != LS_LISTENING)
		return;
	if (what & EV_WRITE) {
		listen_flush(h);
		if (h->ls != LS_LISTENING)
			return;
	}
	if (what & EV_READ)
		listen_read(h);
}

static void
listen_open(struct hub *h)
{
	const char *keys[] = { "dbname", "application_name", NULL };
	const char *vals[] = { h->b->cfg->postgres_dsn, "cofferd-listen", NULL };
	struct timeval tv;

	h->pg = PQconnectStartParams(keys, vals, 1);
	if (h->pg == NULL || PQstatus(h->pg) == CONNECTION_BAD) {
		h->ls = LS_CONNECTING;
		listen_lost(h, h->pg ? PQerrorMessage(h->pg) : "out of memory");
		return;
	}
	h->ls = LS_CONNECTING;
	tv = usec_tv(CONNECT_TIMEOUT_USEC);
	evtimer_add(h->timer, &tv);
	/* libpq: behave as if PQconnectPoll had said PGRES_POLLING_WRITING. */
	listen_watch(h, EV_WRITE);
}

/* ---- life ---- */

struct hub *
hub_new(struct broker *b)
{
	struct hub *h = xcalloc(1, sizeof(*h));

	h->b = b;
	proto_buf_init(&h->out);
	STAILQ_INIT(&h->queue);
	h->ls = LS_DOWN;
	if (b->cfg->engine == ENGINE_POSTGRES) {
		h->pg_enabled = 1;
		h->timer = evtimer_new(b->base, retry_cb, h);
		listen_open(h);
	}
	return h;
}

void
hub_stop(struct hub *h)
{
	if (h == NULL || !h->pg_enabled)
		return;
	h->pg_enabled = 0;
	if (h->timer)
		evtimer_del(h->timer);
	listen_free_io(h);
	PQfinish(h->pg);
	h->pg = NULL;
	h->busy = 0;
	h->ls = LS_DOWN;
	queue_clear(h);
}

void
hub_free(struct hub *h)
{
	if (h == NULL)
		return;
	hub_stop(h);
	if (h->timer)
		event_free(h->timer);
	drop_all(h->subs, NULL, NULL);
	drop_all(h->users, NULL, NULL);
	proto_buf_free(&h->out);
	free(h);
}
