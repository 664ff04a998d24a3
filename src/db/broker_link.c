/*
 * broker_link.c -- frames to and from the broker, and the coroutines that
 * wait for them.
 *
 * A call in flight is a `struct pending` on the waiting coroutine's own
 * stack, hashed by request id.  The read callback finds it by the reply's
 * id, hands it the frame and resumes the coroutine.  Replies whose waiter is
 * gone (cannot happen today: a waiter only leaves by being resumed) are
 * dropped.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>

#include "src/coro.h"
#include "src/log.h"
#include "src/util.h"
#include "src/db/broker_link.h"

#define BUCKETS		256
#define BACKOFF_MIN_MS	20
#define BACKOFF_MAX_MS	2000

struct pending {
	uint32_t id;
	struct coro *coro;
	int done;		/* 1 reply arrived, -1 link lost */
	struct broker_reply *out;
	struct pending *next;
};

static struct {
	struct event_base *base;
	char path[108];
	struct bufferevent *bev;
	int up;
	int stopping;
	uint32_t next_id;
	uint32_t hello_id;
	struct event *retry;
	int backoff_ms;
	struct pending *bucket[BUCKETS];
	int waiting;
	void (*on_up)(void);
} L;

/* Kept apart from L, which broker_link_start() clears. */
static void (*events_cb)(const struct proto_event *);
static void (*events_up_cb)(void);
static void (*revoked_cb)(const struct proto_revoke *);

static void connect_now(void);

uint32_t
broker_link_next_id(void)
{
	if (++L.next_id == 0)
		L.next_id = 1;
	return L.next_id;
}

int
broker_link_up(void)
{
	return L.up;
}

void
broker_reply_free(struct broker_reply *r)
{
	free(r->data);
	r->data = NULL;
}

static void
pending_add(struct pending *p)
{
	struct pending **b = &L.bucket[p->id % BUCKETS];

	p->next = *b;
	*b = p;
	L.waiting++;
}

static struct pending *
pending_take(uint32_t id)
{
	struct pending **pp = &L.bucket[id % BUCKETS];

	for (; *pp; pp = &(*pp)->next) {
		struct pending *p = *pp;

		if (p->id == id) {
			*pp = p->next;
			L.waiting--;
			return p;
		}
	}
	return NULL;
}

static void
schedule_retry(void)
{
	struct timeval tv;

	if (L.stopping)
		return;
	L.backoff_ms = L.backoff_ms ? L.backoff_ms * 2 : BACKOFF_MIN_MS;
	if (L.backoff_ms > BACKOFF_MAX_MS)
		L.backoff_ms = BACKOFF_MAX_MS;
	tv = msec_tv((uint64_t)L.backoff_ms);
	evtimer_add(L.retry, &tv);
}

/* Drop the connection and fail every waiting call. */
static void
link_lost(const char *why)
{
	struct pending *failed = NULL;

	if (L.up)
		log_warn("lost the broker: %s; reconnecting", why);
	else if (L.waiting == 0 && L.backoff_ms >= BACKOFF_MAX_MS)
		log_warn("cannot reach the broker: %s", why);
	if (L.bev) {
		bufferevent_free(L.bev);
		L.bev = NULL;
	}
	L.up = 0;
	/* Collect first: a resumed coroutine may start new calls. */
	for (int i = 0; i < BUCKETS; i++) {
		while (L.bucket[i]) {
			struct pending *p = L.bucket[i];

			L.bucket[i] = p->next;
			p->next = failed;
			failed = p;
		}
	}
	L.waiting = 0;
	schedule_retry();
	while (failed) {
		struct pending *p = failed;

		failed = p->next;
		p->done = -1;
		coro_resume(p->coro);
	}
}

static void
handle_frame(uint8_t *data, const struct proto_frame *f)
{
	struct pending *p;

	if (f->id == L.hello_id && L.hello_id != 0 && !L.up) {
		L.hello_id = 0;
		if (f->type != PT_HELLO_OK) {
			free(data);
			link_lost("handshake refused");
			return;
		}
		L.up = 1;
		L.backoff_ms = 0;
		log_debug("connected to the broker");
		free(data);
		if (L.on_up) {
			void (*cb)(void) = L.on_up;

			L.on_up = NULL;
			cb();
		}
		if (events_up_cb && L.up)
			events_up_cb();
		return;
	}
	if (f->type == PT_EVENT && f->id == 0) {
		struct proto_event ev;

		if (proto_decode_event(f, &ev) < 0) {
			free(data);
			link_lost("malformed event from the broker");
			return;
		}
		if (events_cb)
			events_cb(&ev);
		free(data);
		return;
	}
	if (f->type == PT_REVOKED && f->id == 0) {
		struct proto_revoke rv;

		if (proto_decode_revoke(f, &rv) < 0) {
			free(data);
			link_lost("malformed revocation from the broker");
			return;
		}
		if (revoked_cb)
			revoked_cb(&rv);
		free(data);
		return;
	}
	p = pending_take(f->id);
	if (p == NULL) {
		log_debug("broker reply %u has no waiter", f->id);
		free(data);
		return;
	}
	p->out->data = data;
	p->out->frame = *f;
	p->done = 1;
	coro_resume(p->coro);
}

static void
on_read(struct bufferevent *bev, void *arg)
{
	struct evbuffer *in = bufferevent_get_input(bev);

	(void)arg;
	while (L.bev == bev) {
		uint8_t hdr[PROTO_HEADER_SIZE], *data;
		size_t avail = evbuffer_get_length(in), consumed;
		uint32_t len;
		struct proto_frame f;

		if (avail < PROTO_HEADER_SIZE)
			return;
		evbuffer_copyout(in, hdr, sizeof(hdr));
		len = (uint32_t)hdr[0] | (uint32_t)hdr[1] << 8 |
		    (uint32_t)hdr[2] << 16 | (uint32_t)hdr[3] << 24;
		if (len < 5 || len > PROTO_MAX_FRAME) {
			link_lost("malformed frame from the broker");
			return;
		}
		if (avail < (size_t)len + 4)
			return;
		data = xmalloc((size_t)len + 4);
		evbuffer_remove(in, data, (size_t)len + 4);
		if (proto_next(data, (size_t)len + 4, &f, &consumed) != 1) {
			free(data);
			link_lost("malformed frame from the broker");
			return;
		}
		handle_frame(data, &f);
	}
}

static void
on_event(struct bufferevent *bev, short what, void *arg)
{
	(void)arg;
	if (bev != L.bev)
		return;
	if (what & BEV_EVENT_CONNECTED) {
		struct proto_buf b;
		size_t start;

		proto_buf_init(&b);
		L.hello_id = broker_link_next_id();
		start = proto_begin(&b, PT_HELLO, L.hello_id);
		proto_put_u32(&b, PROTO_VERSION);
		proto_put_u32(&b, (uint32_t)getpid());
		proto_end(&b, start);
		bufferevent_write(bev, b.data, b.len);
		proto_buf_free(&b);
		return;
	}
	if (what & (BEV_EVENT_EOF | BEV_EVENT_ERROR)) {
		if (!L.up && L.bev) {
			/* Still connecting: the broker is not listening yet. */
			bufferevent_free(L.bev);
			L.bev = NULL;
			schedule_retry();
			return;
		}
		link_lost(what & BEV_EVENT_EOF ? "connection closed" : strerror(errno));
	}
}

static void
connect_now(void)
{
	struct sockaddr_un sun;

	L.bev = bufferevent_socket_new(L.base, -1, BEV_OPT_CLOSE_ON_FREE);
	bufferevent_setcb(L.bev, on_read, NULL, on_event, NULL);
	bufferevent_enable(L.bev, EV_READ | EV_WRITE);
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	memcpy(sun.sun_path, L.path, sizeof(sun.sun_path) - 1);
	if (bufferevent_socket_connect(L.bev, (struct sockaddr *)&sun, sizeof(sun)) < 0) {
		bufferevent_free(L.bev);
		L.bev = NULL;
		schedule_retry();
	}
}

static void
on_retry(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	(void)arg;
	if (L.bev == NULL && !L.stopping)
		connect_now();
}

void
broker_link_start(struct event_base *base, const char *socket_path,
		  void (*on_up)(void))
{
	memset(&L, 0, sizeof(L));
	L.base = base;
	L.on_up = on_up;
	snprintf(L.path, sizeof(L.path), "%s", socket_path);
	L.retry = evtimer_new(base, on_retry, NULL);
	connect_now();
}

void
broker_link_stop(void)
{
	L.stopping = 1;
	if (L.retry) {
		event_free(L.retry);
		L.retry = NULL;
	}
	if (L.bev) {
		bufferevent_free(L.bev);
		L.bev = NULL;
	}
	L.up = 0;
}

int
broker_link_call(const struct proto_buf *buf, uint32_t id, struct broker_reply *out)
{
	struct pending p;

	out->data = NULL;
	if (!L.up || coro_current() == NULL)
		return -1;
	if (bufferevent_write(L.bev, buf->data, buf->len) < 0)
		return -1;
	memset(&p, 0, sizeof(p));
	p.id = id;
	p.coro = coro_current();
	p.out = out;
	pending_add(&p);
	while (p.done == 0)
		coro_yield();
	return p.done == 1 ? 0 : -1;
}

int
broker_link_send(const struct proto_buf *buf)
{
	if (!L.up || buf->len == 0)
		return -1;
	return bufferevent_write(L.bev, buf->data, buf->len) < 0 ? -1 : 0;
}

void
broker_link_events(void (*event_cb)(const struct proto_event *ev), void (*up_cb)(void))
{
	events_cb = event_cb;
	events_up_cb = up_cb;
}

void
broker_link_revocations(void (*cb)(const struct proto_revoke *rv))
{
	revoked_cb = cb;
}
