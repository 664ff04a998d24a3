/*
 * events.c -- event streams, their delivery, and publishing (events.h).
 *
 * State, all in one worker:
 *	groups	hash of the groups with a stream open here, each with its
 *		streams; a group's entry lives exactly as long as its streams
 *	jobs	FIFO of work for the delivery coroutine: a received event,
 *		or the replay that makes a new stream live
 * A stream is "pending" from its headers until its replay job ran; events
 * met while pending are skipped (they happened before the stream was
 * live: activity among them is in the replay, the rest is in what the page
 * loaded).  Jobs name streams and groups by id and look them up again after
 * every database call, since a stream can close while the coroutine waits.
 *
 * evhttp owns each stream's request.  When the client goes away, evhttp
 * frees the connection and leaves the request to us, detached (no
 * connection): the next write sees that and frees it with
 * evhttp_send_reply_end().  A stream we end ourselves gets the closing
 * chunk the same way; a slow one has its connection freed at once, since
 * a closing chunk would only queue behind what it does not read.
 *
 * Everything here is set up at the first stream (worker.c knows nothing of
 * it): the broker link's event hooks, the ping timer and the stop signals,
 * which are armed only while a stream is open.  On SIGTERM the streams end
 * at once, so a stopping worker's in-flight count can reach zero.
 */
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/http.h>
#include <jansson.h>

#include "src/coro.h"
#include "src/db/broker_link.h"
#include "src/db/db.h"
#include "src/log.h"
#include "src/metrics.h"
#include "src/proto.h"
#include "src/store/activity.h"
#include "src/store/characters.h"
#include "src/store/sessions.h"
#include "src/store/store.h"
#include "src/store/tokens.h"
#include "src/store/vault.h"
#include "src/util.h"
#include "worker/events.h"
#include "worker/routes.h"
#include "worker/worker.h"

#define BUCKETS		256
#define PING		": ping\n\n"	/* an SSE comment: no NUL on the wire */
#define RECHECK_PINGS	4	/* credentials re-read every 4th ping: a minute by default */

struct egroup;

struct stream {
	TAILQ_ENTRY(stream) glink;	/* in its group */
	TAILQ_ENTRY(stream) link;	/* every stream of the worker */
	struct egroup *g;
	struct evhttp_request *ev;
	int64_t user_id;
	int64_t session_id;		/* what opened it: a web session, */
	int64_t token_id;		/* or a plugin token (0: not that) */
	uint64_t serial;
	int live;			/* replayed: events go out */
	int64_t after;			/* Last-Event-ID, or -1 */
	int64_t last_id;		/* the newest activity id sent */
	int64_t *replayed;		/* ids the replay sent, ascending */
	int nreplayed;
};
TAILQ_HEAD(stream_list, stream);

struct egroup {
	int64_t id;
	struct stream_list streams;
	struct egroup *next;		/* hash chain */
};

enum job_kind { JOB_EVENT, JOB_REPLAY, JOB_RECHECK };

struct job {
	STAILQ_ENTRY(job) link;
	enum job_kind kind;
	int64_t group_id;
	uint64_t serial;		/* JOB_REPLAY: the stream */
	uint8_t ev_kind;		/* JOB_EVENT: enum proto_event_kind */
	int64_t ref;
	char *data;
};

/* How a stream ends. */
enum close_how {
	CLOSE_END,			/* the closing chunk: a clean end */
	CLOSE_GONE,			/* the client already went away */
	CLOSE_DROP,			/* too slow: cut the connection */
};

static struct {
	int ready;
	struct egroup *bucket[BUCKETS];
	struct stream_list all;
	int n;
	uint64_t serial;
	struct event *ping;
	struct event *sig[2];		/* SIGTERM, SIGINT */
	struct event *kick;		/* starts the delivery coroutine */
	unsigned pings;			/* since credentials were last re-read */
	int recheck_queued;
	STAILQ_HEAD(, job) jobs;
	int running;			/* the delivery coroutine exists */
	struct db_session db;		/* its session (coro data) */
	struct evbuffer *chunk;
} E;

static void stream_close(struct stream *s, enum close_how how);
static void on_kick(evutil_socket_t fd, short what, void *arg);

/* ---- groups ---- */

static struct egroup *
group_find(int64_t id)
{
	struct egroup *g;

	for (g = E.bucket[(uint64_t)id % BUCKETS]; g; g = g->next)
		if (g->id == id)
			return g;
	return NULL;
}

static struct egroup *
group_get(int64_t id)
{
	struct egroup *g = group_find(id), **b;

	if (g != NULL)
		return g;
	g = xcalloc(1, sizeof(*g));
	g->id = id;
	TAILQ_INIT(&g->streams);
	b = &E.bucket[(uint64_t)id % BUCKETS];
	g->next = *b;
	*b = g;
	return g;
}

static void
group_drop_if_empty(struct egroup *g)
{
	struct egroup **pp;

	if (!TAILQ_EMPTY(&g->streams))
		return;
	for (pp = &E.bucket[(uint64_t)g->id % BUCKETS]; *pp; pp = &(*pp)->next)
		if (*pp == g) {
			*pp = g->next;
			free(g);
			return;
		}
}

static struct stream *
stream_find(int64_t group_id, uint64_t serial)
{
	struct egroup *g = group_find(group_id);
	struct stream *s;

	if (g == NULL)
		return NULL;
	TAILQ_FOREACH(s, &g->streams, glink)
		if (s->serial == serial)
			return s;
	return NULL;
}

/* ---- the broker ---- */

static void
send_subscription(enum proto_type type, int64_t group_id, int64_t user_id)
{
	struct proto_buf b;
	size_t start;

	proto_buf_init(&b);
	start = proto_begin(&b, type, 0);
	proto_put_u64(&b, (uint64_t)group_id);
	proto_put_u64(&b, (uint64_t)user_id);
	if (type == PT_SUBSCRIBE) {
		proto_put_u32(&b, 0);
		proto_put_u8(&b, PSF_RESUME);
	}
	proto_end(&b, start);
	(void)broker_link_send(&b);	/* down: the broker forgot us anyway */
	proto_buf_free(&b);
}

/*
 * From a coroutine: count a stream of user in group with the broker.
 * 1 accepted, 0 over streams_per_user, -1 no broker.
 */
static int
subscribe(int64_t group_id, int64_t user_id)
{
	struct proto_buf b;
	struct broker_reply rep;
	struct proto_reader rd;
	uint32_t id = broker_link_next_id();
	size_t start;
	uint8_t ok;
	int rc;

	proto_buf_init(&b);
	start = proto_begin(&b, PT_SUBSCRIBE, id);
	proto_put_u64(&b, (uint64_t)group_id);
	proto_put_u64(&b, (uint64_t)user_id);
	proto_put_u32(&b, (uint32_t)worker_config()->streams_per_user);
	proto_put_u8(&b, 0);
	proto_end(&b, start);
	rc = broker_link_call(&b, id, &rep);
	proto_buf_free(&b);
	if (rc < 0)
		return -1;
	proto_reader_init(&rd, &rep.frame);
	ok = proto_get_u8(&rd);
	(void)proto_get_u32(&rd);
	rc = rep.frame.type == PT_SUBSCRIBED && proto_reader_done(&rd) == 0 ? ok != 0 : -1;
	broker_reply_free(&rep);
	return rc;
}

/* The link came back: the broker forgot our streams; count them again. */
static void
on_link_up(void)
{
	struct stream *s;

	TAILQ_FOREACH(s, &E.all, link)
		send_subscription(PT_SUBSCRIBE, s->g->id, s->user_id);
}

static void kick(void);

static void
on_event(const struct proto_event *ev)
{
	struct job *j;

	if (group_find((int64_t)ev->group_id) == NULL)
		return;		/* its last stream here closed meanwhile */
	j = xcalloc(1, sizeof(*j));
	j->kind = JOB_EVENT;
	j->group_id = (int64_t)ev->group_id;
	j->ev_kind = ev->kind;
	j->ref = ev->ref;
	j->data = xstrdup(ev->data);
	STAILQ_INSERT_TAIL(&E.jobs, j, link);
	kick();
}

static int
revoked(const struct stream *s, const struct proto_revoke *rv)
{
	return (rv->user_id == 0 || (uint64_t)s->user_id == rv->user_id) &&
	    (rv->session_id == 0 || (uint64_t)s->session_id == rv->session_id) &&
	    (rv->token_id == 0 || (uint64_t)s->token_id == rv->token_id);
}

/* A credential ended, here or on another worker or host: the streams it
 * opened end now, on the loop (jobs look their streams up again). */
static void
on_revoked(const struct proto_revoke *rv)
{
	struct stream *s, *next;

	for (s = TAILQ_FIRST(&E.all); s != NULL; s = next) {
		next = TAILQ_NEXT(s, link);
		if (revoked(s, rv))
			stream_close(s, CLOSE_END);
	}
}

/* ---- writing ---- */

/*
 * Queue text on s.  0, or -1 when s is gone: its client left, or more than
 * max_buffer would be queued, and s was closed (do not use it).
 */
static int
stream_write(struct stream *s, const char *text, size_t len)
{
	struct evhttp_connection *conn = evhttp_request_get_connection(s->ev);
	struct evbuffer *out;

	if (conn == NULL) {
		stream_close(s, CLOSE_GONE);
		return -1;
	}
	out = bufferevent_get_output(evhttp_connection_get_bufferevent(conn));
	if ((int64_t)(evbuffer_get_length(out) + len) > worker_config()->events_max_buffer) {
		log_info("events: dropped a stream of user %" PRId64 " in group %" PRId64
		    ": it reads too slowly", s->user_id, s->g->id);
		metrics_event(METRICS_EVENT_SLOW_READERS, 1);
		stream_close(s, CLOSE_DROP);
		return -1;
	}
	evbuffer_add(E.chunk, text, len);
	evhttp_send_reply_chunk(s->ev, E.chunk);
	evbuffer_drain(E.chunk, evbuffer_get_length(E.chunk));
	return 0;
}

/* One event: "id", "event", "data" lines and the blank line. */
static int
stream_event(struct stream *s, int64_t id, const char *name, const char *data)
{
	char *text;
	int n, rc;

	n = asprintf(&text, "id: %" PRId64 "\nevent: %s\ndata: %s\n\n", id, name, data);
	if (n < 0)
		return 0;
	rc = stream_write(s, text, (size_t)n);
	free(text);
	if (rc == 0)
		metrics_event(METRICS_EVENT_DELIVERED, 1);
	return rc;
}

static int
replayed(const struct stream *s, int64_t id)
{
	int lo = 0, hi = s->nreplayed - 1;

	while (lo <= hi) {
		int mid = (lo + hi) / 2;

		if (s->replayed[mid] == id)
			return 1;
		if (s->replayed[mid] < id)
			lo = mid + 1;
		else
			hi = mid - 1;
	}
	return 0;
}

/* ---- streams ---- */

static void
on_ping(evutil_socket_t fd, short what, void *arg)
{
	struct stream *s, *next;
	struct job *j;

	(void)fd;
	(void)what;
	(void)arg;
	for (s = TAILQ_FIRST(&E.all); s != NULL; s = next) {
		next = TAILQ_NEXT(s, link);
		(void)stream_write(s, PING, sizeof(PING) - 1);
	}
	/* Sessions expire with no request to say so: re-read them now and
	 * then, the delivery coroutine's way (it may wait). */
	if (E.n > 0 && !E.recheck_queued && ++E.pings >= RECHECK_PINGS) {
		j = xcalloc(1, sizeof(*j));
		j->kind = JOB_RECHECK;
		STAILQ_INSERT_TAIL(&E.jobs, j, link);
		E.recheck_queued = 1;
		kick();
	}
}

static void
close_all(void)
{
	while (!TAILQ_EMPTY(&E.all))
		stream_close(TAILQ_FIRST(&E.all), CLOSE_END);
}

/* The worker is stopping: its streams must not hold it up. */
static void
on_stop_signal(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	(void)arg;
	close_all();
}

static void
timers_arm(int on)
{
	struct timeval tv = msec_tv((uint64_t)worker_config()->events_ping_interval);

	if (on) {
		evtimer_add(E.ping, &tv);
		for (size_t i = 0; i < ARRAY_SIZE(E.sig); i++)
			event_add(E.sig[i], NULL);
	} else {
		evtimer_del(E.ping);
		for (size_t i = 0; i < ARRAY_SIZE(E.sig); i++)
			event_del(E.sig[i]);
	}
}

static void
stream_close(struct stream *s, enum close_how how)
{
	struct evhttp_connection *conn = evhttp_request_get_connection(s->ev);
	struct timeval tv;

	send_subscription(PT_UNSUBSCRIBE, s->g->id, s->user_id);
	TAILQ_REMOVE(&s->g->streams, s, glink);
	TAILQ_REMOVE(&E.all, s, link);
	group_drop_if_empty(s->g);
	if (--E.n == 0)
		timers_arm(0);
	metrics_event(METRICS_EVENT_STREAMS, -1);
	if (conn == NULL || how == CLOSE_GONE) {
		/* Detached (the client left): this frees the request. */
		evhttp_send_reply_end(s->ev);
	} else if (how == CLOSE_DROP) {
		evhttp_connection_free(conn);	/* frees the request too */
	} else {
		/* The connection may carry more requests: give it back its
		 * keep-alive timeouts. */
		tv = msec_tv((uint64_t)worker_config()->keepalive_timeout);
		bufferevent_set_timeouts(evhttp_connection_get_bufferevent(conn), &tv, &tv);
		evhttp_send_reply_end(s->ev);
	}
	free(s->replayed);
	free(s);
}

/* Free the streams of user (0: any) whose client went away. */
static void
sweep(int64_t user_id)
{
	struct stream *s, *next;

	for (s = TAILQ_FIRST(&E.all); s != NULL; s = next) {
		next = TAILQ_NEXT(s, link);
		if ((user_id == 0 || s->user_id == user_id) &&
		    evhttp_request_get_connection(s->ev) == NULL)
			stream_close(s, CLOSE_GONE);
	}
}

static void
setup(void)
{
	struct event_base *base = worker_base();
	static const int sigs[] = { SIGTERM, SIGINT };

	if (E.ready)
		return;
	E.ready = 1;
	TAILQ_INIT(&E.all);
	STAILQ_INIT(&E.jobs);
	E.chunk = evbuffer_new();
	E.ping = event_new(base, -1, EV_PERSIST, on_ping, NULL);
	for (size_t i = 0; i < ARRAY_SIZE(sigs); i++)
		E.sig[i] = evsignal_new(base, sigs[i], on_stop_signal, NULL);
	E.kick = event_new(base, -1, 0, on_kick, NULL);
	broker_link_events(on_event, on_link_up);
	broker_link_revocations(on_revoked);
}

/* ---- delivery ---- */

static char *
dump(json_t *v)
{
	char *text = v ? json_dumps(v, JSON_COMPACT) : NULL;

	json_decref(v);
	return text;
}

/* Make a pending stream live: the activity it missed, or its starting id. */
static void
replay(const struct job *j)
{
	struct db_result *rows = NULL;
	struct stream *s = stream_find(j->group_id, j->serial);
	int64_t latest = 0;
	int rc, n;

	if (s == NULL)
		return;
	if (s->after < 0)
		rc = store_activity_latest(j->group_id, &latest);
	else
		rc = store_activity_since(j->group_id, s->after, EVENTS_REPLAY_MAX, &rows);
	/* The stream may have closed while we waited. */
	if ((s = stream_find(j->group_id, j->serial)) == NULL)
		goto out;
	if (rc < 0) {
		/* Ended: the client reconnects and tries again. */
		log_warn("events: cannot start a stream: %s", db_last_error()->message);
		stream_close(s, CLOSE_END);
		goto out;
	}
	s->live = 1;
	if (s->after < 0) {
		s->last_id = latest;
		goto out;
	}
	s->last_id = s->after;
	n = db_nrows(rows);
	if (n > 0)
		s->replayed = xcalloc((size_t)n, sizeof(*s->replayed));
	/* Newest first from the store: oldest first on the stream. */
	for (int i = n - 1; i >= 0; i--) {
		int64_t id = db_int(rows, i, ACTIVITY_ID);
		char *text = dump(routes_activity_json(rows, i));

		if (text == NULL)
			continue;
		s->replayed[s->nreplayed++] = id;
		if (id > s->last_id)
			s->last_id = id;
		rc = stream_event(s, id, "activity", text);
		free(text);
		if (rc < 0)
			break;		/* s is gone */
	}
out:
	db_result_free(rows);
}

/* The data of a received event as its streams get it, or NULL to skip it;
 * *id gets an activity event's id.  May wait for the database. */
static char *
event_data(const struct job *j, int64_t *id)
{
	struct db_result *rows = NULL;
	json_t *v;
	char *text = NULL;

	*id = 0;
	switch (j->ev_kind) {
	case PEV_VAULT:
		/* The totals now, which are those after the write or later. */
		v = json_loads(j->data, 0, NULL);
		if (!json_is_object(v) || store_vault_totals(j->group_id, NULL, NULL, &rows) < 0) {
			if (v != NULL)
				log_warn("events: vault totals: %s", db_last_error()->message);
			json_decref(v);
			break;
		}
		json_object_set_new(v, "total_value",
		    json_integer(db_int(rows, 0, VAULT_TOTALS_TOTAL_VALUE)));
		json_object_set_new(v, "item_count",
		    json_integer(db_int(rows, 0, VAULT_TOTALS_ITEM_COUNT)));
		text = dump(v);
		break;
	case PEV_ACTIVITY:
		/* Always by reference: the entry as the feed has it. */
		if (store_activity_entry(j->group_id, j->ref, &rows) < 0)
			log_warn("events: activity entry: %s", db_last_error()->message);
		else if (db_nrows(rows) == 1) {
			text = dump(routes_activity_json(rows, 0));
			*id = j->ref;
		}
		break;
	default:
		text = j->data[0] ? xstrdup(j->data) : NULL;
		break;
	}
	db_result_free(rows);
	return text;
}

/* Write a received event to the live streams of its group. */
static void
deliver(const struct job *j)
{
	const char *name = proto_event_name(j->ev_kind);
	struct stream *s, *next;
	struct egroup *g;
	int64_t id;
	char *text;

	if (group_find(j->group_id) == NULL)
		return;
	text = event_data(j, &id);
	if (j->ev_kind == PEV_ROSTER && j->ref > 0 && (g = group_find(j->group_id)) != NULL) {
		/* Who left hears no more of the group. */
		for (s = TAILQ_FIRST(&g->streams); s != NULL; s = next) {
			next = TAILQ_NEXT(s, glink);
			if (s->user_id == j->ref)
				stream_close(s, CLOSE_END);
		}
	}
	if (text != NULL && (g = group_find(j->group_id)) != NULL) {
		for (s = TAILQ_FIRST(&g->streams); s != NULL; s = next) {
			next = TAILQ_NEXT(s, glink);
			if (!s->live)
				continue;
			if (id > 0) {
				if (s->replayed != NULL && replayed(s, id))
					continue;
				if (id > s->last_id)
					s->last_id = id;
			}
			/* Closing s here leaves next valid: one stream at a time. */
			(void)stream_event(s, id > 0 ? id : s->last_id, name, text);
		}
	}
	free(text);
	/* A deleted group: its entry goes with its last stream. */
	if (j->ev_kind == PEV_ROSTER && j->ref == EVENTS_GROUP_GONE)
		while ((g = group_find(j->group_id)) != NULL)
			stream_close(TAILQ_FIRST(&g->streams), CLOSE_END);
}

/* Does a stream of user use a session (token 0) or a token (1)? */
static int
uses(int64_t user_id, int token)
{
	struct stream *s;

	TAILQ_FOREACH(s, &E.all, link)
		if (s->user_id == user_id && (token ? s->token_id : s->session_id) != 0)
			return 1;
	return 0;
}

/* Close user's streams whose session (token 0) or token (1) is not among
 * the live ones in rows, column col.  Streams newer than serial opened
 * after the read began, perhaps with a credential it could not see. */
static void
close_unlisted(int64_t user_id, int token, uint64_t serial, const struct db_result *rows,
	       int col)
{
	struct stream *s, *next;
	int64_t id;
	int i;

	for (s = TAILQ_FIRST(&E.all); s != NULL; s = next) {
		next = TAILQ_NEXT(s, link);
		id = token ? s->token_id : s->session_id;
		if (s->user_id != user_id || id == 0 || s->serial > serial)
			continue;
		for (i = 0; i < db_nrows(rows); i++)
			if (db_int(rows, i, col) == id)
				break;
		if (i == db_nrows(rows))
			stream_close(s, CLOSE_END);
	}
}

static int
cmp_id(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

	return (x > y) - (x < y);
}

/*
 * Close the streams whose credential ended unannounced: a session that
 * expired, or one that ended while its stream was being opened (before
 * the stream could hear of it), or while the broker was away.  The store
 * lists a user's live sessions and tokens, so this reads once per user
 * with streams here, every RECHECK_PINGS pings.  A failed read closes
 * nothing.
 */
static void
recheck(void)
{
	struct db_result *rows = NULL;
	struct stream *s;
	int64_t *users;
	uint64_t serial;
	int n = 0, rc;

	E.recheck_queued = 0;
	E.pings = 0;
	if (E.n == 0)
		return;
	users = xcalloc((size_t)E.n, sizeof(*users));
	TAILQ_FOREACH(s, &E.all, link)
		users[n++] = s->user_id;
	qsort(users, (size_t)n, sizeof(*users), cmp_id);
	for (int i = 0; i < n; i++) {
		if (i > 0 && users[i] == users[i - 1])
			continue;
		for (int token = 0; token <= 1; token++) {
			if (!uses(users[i], token))
				continue;
			E.db.deadline_usec = now_usec() +
			    (uint64_t)worker_config()->request_timeout * 1000u;
			serial = E.serial;
			rc = token ? store_tokens_list(users[i], &rows) :
			    store_sessions_list(users[i], &rows);
			if (rc < 0)
				log_warn("events: cannot re-read credentials: %s",
				    db_last_error()->message);
			else
				close_unlisted(users[i], token, serial, rows,
				    token ? TOKEN_ID : SESSION_ID);
			db_result_free(rows);
			rows = NULL;
		}
	}
	free(users);
}

static void
delivery_loop(void *arg)
{
	struct job *j;

	(void)arg;
	while ((j = STAILQ_FIRST(&E.jobs)) != NULL) {
		STAILQ_REMOVE_HEAD(&E.jobs, link);
		E.db.deadline_usec = now_usec() +
		    (uint64_t)worker_config()->request_timeout * 1000u;
		if (j->kind == JOB_REPLAY)
			replay(j);
		else if (j->kind == JOB_RECHECK)
			recheck();
		else
			deliver(j);
		free(j->data);
		free(j);
	}
	E.running = 0;
}

static void
on_kick(evutil_socket_t fd, short what, void *arg)
{
	struct coro *c;

	(void)fd;
	(void)what;
	(void)arg;
	if (E.running || STAILQ_EMPTY(&E.jobs))
		return;
	c = coro_create(delivery_loop, NULL);
	if (c == NULL) {
		/* Out of memory for a stack: try again on the next event. */
		log_warn("events: cannot start the delivery coroutine");
		return;
	}
	memset(&E.db, 0, sizeof(E.db));
	coro_set_data(c, &E.db);
	E.running = 1;
	coro_resume(c);
}

/* Start the delivery coroutine on the next loop turn (from a coroutine
 * too, which may not resume another). */
static void
kick(void)
{
	if (!E.running)
		event_active(E.kick, EV_TIMEOUT, 1);
}

/* ---- opening a stream ---- */

void
events_stream(struct req *r, int64_t last_event_id)
{
	struct evkeyvalq *hdrs = evhttp_request_get_output_headers(r->ev);
	struct evhttp_connection *conn;
	struct stream *s;
	struct job *j;
	int rc;

	if (worker_stopping()) {
		http_error(r, 503, NULL, "the server is stopping");
		return;
	}
	setup();
	sweep(r->user_id);
	rc = subscribe(r->group_id, r->user_id);
	if (rc < 0) {
		http_error(r, 503, NULL, "live events are unavailable; retry shortly");
		return;
	}
	if (rc == 0) {
		http_error(r, 429, NULL, "you have %d event streams open, the most allowed "
		    "([limits] streams_per_user)", worker_config()->streams_per_user);
		return;
	}
	conn = evhttp_request_get_connection(r->ev);
	if (conn == NULL || worker_stopping()) {
		/* Gone or stopping while the broker answered. */
		send_subscription(PT_UNSUBSCRIBE, r->group_id, r->user_id);
		http_error(r, 503, NULL, "the server is stopping");
		return;
	}
	s = xcalloc(1, sizeof(*s));
	s->g = group_get(r->group_id);
	s->ev = r->ev;
	s->user_id = r->user_id;
	s->session_id = r->session_id;
	s->token_id = r->token_id;
	s->serial = ++E.serial;
	s->after = last_event_id;
	TAILQ_INSERT_TAIL(&s->g->streams, s, glink);
	TAILQ_INSERT_TAIL(&E.all, s, link);
	if (E.n++ == 0)
		timers_arm(1);
	metrics_event(METRICS_EVENT_STREAMS, 1);
	evhttp_add_header(hdrs, "Content-Type", "text/event-stream");
	evhttp_add_header(hdrs, "Cache-Control", "no-store");
	evhttp_add_header(hdrs, "X-Accel-Buffering", "no");	/* nginx: do not buffer */
	evhttp_send_reply_start(r->ev, 200, "OK");
	r->status = 200;
	/* A stream is quiet between pings: no keep-alive timeout applies. */
	bufferevent_set_timeouts(evhttp_connection_get_bufferevent(conn), NULL, NULL);
	j = xcalloc(1, sizeof(*j));
	j->kind = JOB_REPLAY;
	j->group_id = r->group_id;
	j->serial = s->serial;
	STAILQ_INSERT_TAIL(&E.jobs, j, link);
	kick();
}

/* ---- publishing ---- */

static void
publish(int64_t group_id, enum proto_event_kind kind, int64_t ref, const char *data)
{
	struct proto_event ev = { (uint64_t)group_id, (uint8_t)kind, ref, data,
	    data ? (uint32_t)strlen(data) : 0 };
	struct proto_buf b;

	proto_buf_init(&b);
	if (proto_encode_event(&b, PT_PUBLISH, &ev) == 0 && broker_link_send(&b) == 0)
		metrics_event(METRICS_EVENT_PUBLISHED, 1);
	else
		log_debug("events: a %s event of group %" PRId64 " was not published",
		    proto_event_name(kind), group_id);
	proto_buf_free(&b);
}

void
events_publish_activity(const struct store_activity_ids *ids)
{
	for (int i = 0; i < ids->n; i++)
		publish(ids->v[i].group_id, PEV_ACTIVITY, ids->v[i].id, NULL);
}

void
events_publish_container(const char *character, const char *container,
			 const struct container_result *res)
{
	const struct store_activity_ids *ids = &res->activity;

	if (!res->applied)
		return;
	/* The "items" entries name every group that saw a change. */
	for (int i = 0; i < ids->n; i++) {
		char *text = dump(json_pack("{s:I,s:s,s:s,s:I}",
		    "group_id", (json_int_t)ids->v[i].group_id, "character", character,
		    "container", container, "seq", (json_int_t)res->seq));

		if (text != NULL)
			publish(ids->v[i].group_id, PEV_VAULT, 0, text);
		free(text);
	}
	events_publish_activity(ids);
}

void
events_publish_roster(int64_t group_id, int64_t left)
{
	char *text = dump(json_pack("{s:I}", "group_id", (json_int_t)group_id));

	publish(group_id, PEV_ROSTER, left, text);
	free(text);
}

void
events_publish_presence(int64_t character_id, const char *character, int64_t world,
			const char *activity)
{
	struct db_result *rows = NULL;
	char now[STORE_TIME_LEN];
	char *text;

	/* Nobody to tell, or the heartbeat is answered anyway. */
	if (!broker_link_up() || store_characters_groups(character_id, &rows) < 0)
		return;
	if (db_nrows(rows) > 0) {
		text = dump(json_pack("{s:s,s:o,s:o,s:s}", "character", character,
		    "world", world < 0 ? json_null() : json_integer(world),
		    "activity", activity ? json_string(activity) : json_null(),
		    "at", store_time(now, 0)));
		for (int i = 0; text != NULL && i < db_nrows(rows); i++)
			publish(db_int(rows, i, CHARACTER_GROUP_ID), PEV_PRESENCE, 0, text);
		free(text);
	}
	db_result_free(rows);
}

void
events_publish_revoked(int64_t user_id, int64_t session_id, int64_t token_id)
{
	struct proto_revoke rv = { (uint64_t)user_id, (uint64_t)session_id,
	    (uint64_t)token_id };
	struct proto_buf b;

	proto_buf_init(&b);
	/* Not sent (the broker is away): the streams close at the next
	 * recheck instead. */
	if (proto_encode_revoke(&b, PT_REVOKE, &rv) < 0 || broker_link_send(&b) < 0)
		log_debug("events: the end of a credential of user %" PRId64
		    " was not published", user_id);
	proto_buf_free(&b);
}
