/*
 * broker.c -- the broker's entry point, its socket, and its workers.
 *
 * broker_main() builds one event loop, listens on runtime_dir/broker.sock
 * (mode 0600: the umask is tightened around bind, and every peer must
 * also pass an SO_PEERCRED uid check), writes one byte to ready_fd and
 * runs until stopped.
 *
 * Each worker connection is a bufferevent.  Input is cut into frames with
 * proto_next(); a frame is handled while it still sits in the input buffer
 * (evbuffer_pullup makes it contiguous) and drained afterwards.  The first
 * frame must be a HELLO of our protocol version.  A protocol violation is
 * answered with ERROR PE_PROTOCOL when the frame's id is known, then the
 * worker is detached at once (its leases rolled back, its waiting requests
 * dropped) and the socket is closed once that answer is flushed.  Replies
 * only ever go through the bufferevent's output buffer, so the loop never
 * blocks on a slow worker.
 *
 * Signals arrive as libevent signal events:
 *	TERM, INT	graceful stop: refuse new work, let running statements
 *			and open leases finish for up to shutdown_timeout, then
 *			roll back what is left (a second signal: at once)
 *	HUP		reload the settings a running broker can change
 *	USR1		reopen the log file
 *
 * Live events (SUBSCRIBE, UNSUBSCRIBE, PUBLISH, REVOKE) go to the hub (hub.h).
 *
 * When idle the broker arms no timer: only the listener, the worker
 * sockets, the idle server connections' and the LISTEN connection's read
 * events are waited on.
 */
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/listener.h>

#include "broker/broker.h"
#include "broker/hub.h"
#include "src/config.h"
#include "broker/lease.h"
#include "src/log.h"
#include "broker/pool.h"
#include "src/proto.h"
#include "src/util.h"

/* How long a worker that broke the protocol gets to read our answer. */
#define CLOSE_FLUSH_SEC		5
/* After accept() failed (EMFILE...), pause the listener this long. */
#define ACCEPT_PAUSE_MSEC	1000

struct listen_state {
	struct evconnlistener *lev;
	struct event *pause_ev;
	char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
	dev_t dev;
	ino_t ino;
};

static struct listen_state lst;
static struct event *shutdown_ev;

static void client_close(struct client *c);
static void client_maybe_free(struct client *c);

/* ---- jobs and replies ---- */

struct job *
broker_job_new(struct client *c, enum job_kind kind, uint32_t reqid)
{
	struct job *j = xcalloc(1, sizeof(*j));

	j->kind = kind;
	j->reqid = reqid;
	j->client = c;
	if (c)
		TAILQ_INSERT_TAIL(&c->jobs, j, clink);
	return j;
}

void
broker_job_free(struct job *j)
{
	if (j == NULL)
		return;
	if (j->client)
		TAILQ_REMOVE(&j->client->jobs, j, clink);
	free(j->sql);
	free(j->params);
	free(j);
}

void
broker_send(struct client *c, const struct proto_buf *frame)
{
	if (c == NULL || c->closing)
		return;
	bufferevent_write(c->bev, frame->data, frame->len);
}

void
broker_send_error(struct client *c, uint32_t reqid, enum proto_err kind,
		  const char *sqlstate, const char *msg)
{
	struct broker *b;

	if (c == NULL || c->closing)
		return;
	b = c->b;
	b->st.errors_total++;
	proto_buf_reset(&b->out);
	proto_encode_error(&b->out, reqid, kind, sqlstate, msg);
	broker_send(c, &b->out);
}

void
broker_reply_error(struct job *j, enum proto_err kind,
		   const char *sqlstate, const char *msg)
{
	broker_send_error(j->client, j->reqid, kind, sqlstate, msg);
}

/* ---- shutdown ---- */

static void
listener_close(void)
{
	struct stat sb;

	if (lst.lev == NULL)
		return;
	evconnlistener_free(lst.lev);
	lst.lev = NULL;
	if (lst.pause_ev)
		event_free(lst.pause_ev);
	lst.pause_ev = NULL;
	/* Only remove the socket if it is still ours, not a successor's. */
	if (stat(lst.path, &sb) == 0 && sb.st_dev == lst.dev &&
	    sb.st_ino == lst.ino)
		unlink(lst.path);
}

void
broker_check_drained(struct broker *b)
{
	struct client *c;

	if (!b->stopping)
		return;
	if (!b->exiting) {
		if (b->leases->count > 0 ||
		    (b->pool && pool_active_jobs(b->pool) > 0))
			return;
		b->exiting = 1;
		if (b->pool)
			pool_close_all(b->pool, "the broker is stopping");
		log_info("drained: no open transaction lease or statement "
		    "left");
	}
	/* Let the last answers reach their workers before leaving. */
	TAILQ_FOREACH(c, &b->clients, link)
		if (evbuffer_get_length(bufferevent_get_output(c->bev)) > 0)
			return;
	event_base_loopexit(b->base, NULL);
}

/* Past shutdown_timeout (or a second signal): roll back what is left. */
static void
broker_force_stop(struct broker *b)
{
	struct timeval tv = { 1, 0 };
	int n = b->leases->count;

	if (n)
		log_warn("rolling back %d open transaction lease%s", n,
		    n == 1 ? "" : "s");
	b->exiting = 1;
	lease_abort_all(b);
	if (b->pool)
		pool_close_all(b->pool, "the broker is stopping");
	/* One more second for the answers to drain, then go regardless. */
	event_base_loopexit(b->base, &tv);
	broker_check_drained(b);
}

static void
shutdown_timeout_cb(evutil_socket_t fd, short what, void *arg)
{
	struct broker *b = arg;

	(void)fd;
	(void)what;
	log_warn("shutdown_timeout (%lld ms) reached",
	    (long long)b->cfg->shutdown_timeout);
	broker_force_stop(b);
}

static void
broker_stop(struct broker *b)
{
	struct timeval tv;

	if (b->stopping) {
		log_info("second stop signal: stopping now");
		broker_force_stop(b);
		return;
	}
	b->stopping = 1;
	log_info("stopping: waiting up to %lld ms for %d open transaction "
	    "lease%s", (long long)b->cfg->shutdown_timeout, b->leases->count,
	    b->leases->count == 1 ? "" : "s");
	listener_close();
	hub_stop(b->hub);
	if (b->pool) {
		pool_fail_waiters(b->pool, PE_SHUTDOWN,
		    "the broker is stopping");
		pool_close_unused(b->pool);
	}
	tv = msec_tv((uint64_t)b->cfg->shutdown_timeout);
	evtimer_add(shutdown_ev, &tv);
	broker_check_drained(b);
}

/* ---- signals ---- */

static void
reload(struct broker *b)
{
	struct config fresh, *cfg = b->cfg;
	char err[CONFIG_ERR_MAX], changed[512];

	if (config_load(&fresh, cfg->path, err, sizeof(err)) < 0) {
		log_error("reload failed, keeping the current settings: %s",
		    err);
		return;
	}
	if (config_restart_needed(cfg, &fresh, changed, sizeof(changed)) > 0)
		log_warn("reload: changed settings that need a restart: %s",
		    changed);
	if (fresh.log_level != cfg->log_level) {
		log_set_level((enum log_level)fresh.log_level);
		cfg->log_level = fresh.log_level;
	}
#define APPLY(field, what) do {						\
	if (fresh.field != cfg->field) {				\
		log_info("reload: " #field " %lld -> %lld ms%s",	\
		    (long long)cfg->field, (long long)fresh.field, what); \
		cfg->field = fresh.field;				\
	}								\
} while (0)
	APPLY(pool_timeout, "");
	APPLY(lease_timeout, " (new leases)");
	APPLY(statement_timeout, " (new server connections)");
#undef APPLY
	config_free(&fresh);
	log_info("configuration reloaded");
}

static void
signal_cb(evutil_socket_t sig, short what, void *arg)
{
	struct broker *b = arg;

	(void)what;
	switch (sig) {
	case SIGTERM:
	case SIGINT:
		broker_stop(b);
		break;
	case SIGHUP:
		reload(b);
		break;
	case SIGUSR1:
		if (log_reopen() < 0)
			log_error("cannot reopen the log file: %s",
			    strerror(errno));
		break;
	}
}

/* ---- frames from workers ---- */

static uint32_t
le32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
	    (uint32_t)p[3] << 24;
}

/* Answer PE_PROTOCOL (when the frame's id is known) and drop the worker. */
static void
client_violation(struct client *c, const struct proto_frame *f,
		 const char *why)
{
	log_warn("worker pid %d broke the protocol (%s): closing its "
	    "connection", (int)c->pid, why);
	if (f)
		broker_send_error(c, f->id, PE_PROTOCOL, NULL, why);
	client_close(c);
}

static void
send_stats(struct client *c, uint32_t reqid)
{
	struct broker *b = c->b;
	const struct broker_stats *st = &b->st;
	struct pool_gauges g;
	struct hub_gauges hg;
	struct proto_buf *out = &b->out;
	int pg = b->pool != NULL;
	size_t start, i;

	memset(&g, 0, sizeof(g));
	if (pg)
		pool_gauges(b->pool, &g);
	hub_gauges(b->hub, &hg);
	{
		/* The worker exports each as coffer_pool_<name>. */
		const struct {
			const char *name;
			int64_t value;
		} v[] = {
			{ "size", g.size },
			{ "idle", g.idle },
			{ "busy", g.busy },
			{ "leased", g.leased },
			{ "waiting", g.waiting },
			{ "connecting", g.connecting },
			{ "max", pg ? b->cfg->pool_max : 0 },
			{ "min", pg ? b->cfg->pool_min : 0 },
			{ "statements_total", st->statements_total },
			{ "errors_total", st->errors_total },
			{ "wait_count_total", st->wait_count_total },
			{ "wait_usec_total", st->wait_usec_total },
			{ "wait_usec_max", st->wait_usec_max },
			{ "pool_timeouts_total", st->pool_timeouts_total },
			{ "lease_timeouts_total", st->lease_timeouts_total },
			{ "connections_opened_total",
			    st->connections_opened_total },
			{ "connections_broken_total",
			    st->connections_broken_total },
			{ "prepares_total", st->prepares_total },
			{ "workers", b->nworkers },
			{ "listen_connections", hg.listen_connections },
			{ "event_streams", hg.streams },
			{ "event_groups", hg.groups },
			{ "events_remote_total", hg.remote_total },
			{ "notify_dropped_total", hg.notify_dropped_total },
		};

		proto_buf_reset(out);
		start = proto_begin(out, PT_STATS_REPLY, reqid);
		proto_put_u16(out, (uint16_t)ARRAY_SIZE(v));
		for (i = 0; i < ARRAY_SIZE(v); i++) {
			proto_put_str(out, v[i].name);
			proto_put_i64(out, v[i].value);
		}
		proto_end(out, start);
	}
	broker_send(c, out);
}

static int
no_pool(struct client *c, struct job *j)
{
	if (c->b->pool)
		return 0;
	broker_reply_error(j, PE_UNAVAILABLE, NULL,
	    "broker has no PostgreSQL pool (engine = sqlite)");
	broker_job_free(j);
	return 1;
}

static void
handle_query(struct client *c, const struct proto_frame *f)
{
	static const char *vals[PROTO_MAX_PARAMS];
	static int32_t lens[PROTO_MAX_PARAMS];
	struct proto_reader r;
	struct job *j;
	const char *sql;
	uint32_t sqllen;
	uint64_t lease;
	uint8_t flags;
	uint16_t n, i;
	size_t size;
	char *p, msg[80];

	proto_reader_init(&r, f);
	lease = proto_get_u64(&r);
	flags = proto_get_u8(&r);
	sql = proto_get_str(&r, &sqllen);
	n = proto_get_u16(&r);
	if (r.err || n > PROTO_MAX_PARAMS) {
		client_violation(c, f, "malformed QUERY");
		return;
	}
	size = (size_t)sqllen + 1;
	for (i = 0; i < n; i++) {
		if (proto_get_cell(&r, &vals[i], &lens[i]) < 0)
			break;
		if (vals[i])
			size += (size_t)lens[i] + 1;
	}
	if (proto_reader_done(&r) < 0) {
		client_violation(c, f, "malformed QUERY");
		return;
	}
	if ((flags & ~(PQF_SCRIPT | PQF_CUSTOM_PLAN)) ||
	    ((flags & PQF_SCRIPT) && (n > 0 || (flags & PQF_CUSTOM_PLAN)))) {
		client_violation(c, f, "bad QUERY flags");
		return;
	}
	j = broker_job_new(c, JOB_QUERY, f->id);
	j->lease_id = lease;
	j->flags = flags;
	j->nparams = n;
	if (no_pool(c, j))
		return;
	/* Text parameters travel as C strings to libpq: a NUL inside one
	 * would silently cut it.  That is bad data, not a bad frame. */
	for (i = 0; i < n; i++) {
		if (vals[i] && memchr(vals[i], '\0', (size_t)lens[i])) {
			snprintf(msg, sizeof(msg), "parameter $%u contains a "
			    "NUL byte", (unsigned)i + 1);
			broker_reply_error(j, PE_SQL, "22021", msg);
			broker_job_free(j);
			return;
		}
	}
	/* One block for the SQL and the parameters: the frame goes away. */
	p = j->sql = xmalloc(size);
	memcpy(p, sql, (size_t)sqllen + 1);
	p += sqllen + 1;
	if (n)
		j->params = xcalloc(n, sizeof(*j->params));
	for (i = 0; i < n; i++) {
		if (vals[i] == NULL)
			continue;
		memcpy(p, vals[i], (size_t)lens[i] + 1);
		j->params[i] = p;
		p += lens[i] + 1;
	}
	log_debug("worker pid %d: query #%u lease %" PRIu64, (int)c->pid,
	    f->id, lease);
	if (lease == 0)
		pool_submit(c->b->pool, j);
	else
		lease_submit(c->b, j);
}

static void
handle_frame(struct client *c, const struct proto_frame *f)
{
	struct broker *b = c->b;
	struct proto_reader r;
	struct proto_buf *out = &b->out;
	struct job *j;
	uint32_t version, pid;
	uint64_t lease;
	uint8_t commit;
	size_t start;
	char msg[96];

	proto_reader_init(&r, f);
	if (!c->hello) {
		if (f->type != PT_HELLO) {
			client_violation(c, f, "the first frame must be HELLO");
			return;
		}
		version = proto_get_u32(&r);
		pid = proto_get_u32(&r);
		if (proto_reader_done(&r) < 0) {
			client_violation(c, f, "malformed HELLO");
			return;
		}
		c->pid = (pid_t)pid;
		if (version != PROTO_VERSION) {
			snprintf(msg, sizeof(msg), "protocol version %u is not "
			    "supported (the broker speaks %d)", version,
			    PROTO_VERSION);
			client_violation(c, f, msg);
			return;
		}
		c->hello = 1;
		b->nworkers++;
		log_info("worker pid %d connected", (int)c->pid);
		proto_buf_reset(out);
		start = proto_begin(out, PT_HELLO_OK, f->id);
		proto_put_u32(out, PROTO_VERSION);
		proto_put_u8(out, (uint8_t)b->cfg->engine);
		proto_end(out, start);
		broker_send(c, out);
		return;
	}
	switch (f->type) {
	case PT_QUERY:
		handle_query(c, f);
		break;
	case PT_BEGIN:
		(void)proto_get_u8(&r);		/* flags: reserved */
		if (proto_reader_done(&r) < 0) {
			client_violation(c, f, "malformed BEGIN");
			return;
		}
		j = broker_job_new(c, JOB_BEGIN, f->id);
		if (!no_pool(c, j))
			pool_submit(b->pool, j);
		break;
	case PT_END:
		lease = proto_get_u64(&r);
		commit = proto_get_u8(&r);
		if (proto_reader_done(&r) < 0 || commit > 1) {
			client_violation(c, f, "malformed END");
			return;
		}
		j = broker_job_new(c, JOB_END, f->id);
		j->lease_id = lease;
		j->commit = commit;
		if (!no_pool(c, j))
			lease_submit(b, j);
		break;
	case PT_STATS:
		if (proto_reader_done(&r) < 0) {
			client_violation(c, f, "malformed STATS");
			return;
		}
		send_stats(c, f->id);
		break;
	case PT_SUBSCRIBE:
		if (hub_subscribe(b->hub, c, f) < 0)
			client_violation(c, f, "malformed SUBSCRIBE");
		break;
	case PT_UNSUBSCRIBE:
		if (hub_unsubscribe(b->hub, c, f) < 0)
			client_violation(c, f, "malformed UNSUBSCRIBE");
		break;
	case PT_PUBLISH:
		if (hub_publish(b->hub, f) < 0)
			client_violation(c, f, "malformed PUBLISH");
		break;
	case PT_REVOKE:
		if (hub_revoke(b->hub, f) < 0)
			client_violation(c, f, "malformed REVOKE");
		break;
	default:
		snprintf(msg, sizeof(msg), "unexpected %s frame",
		    proto_type_name(f->type));
		client_violation(c, f, msg);
		break;
	}
}

/* ---- worker connections ---- */

static void
client_free(struct client *c)
{
	struct broker *b = c->b;

	TAILQ_REMOVE(&b->clients, c, link);
	bufferevent_free(c->bev);
	free(c);
	broker_check_drained(b);
}

/*
 * Detach c from everything that could answer it: roll back its leases,
 * drop its waiting requests, orphan its running ones (their answers are
 * dropped).  The socket stays open until the output is flushed.
 */
static void
client_close(struct client *c)
{
	struct broker *b = c->b;
	struct job *j;
	struct timeval tv = { CLOSE_FLUSH_SEC, 0 };

	if (c->closing)
		return;
	c->closing = 1;
	bufferevent_disable(c->bev, EV_READ);
	bufferevent_set_timeouts(c->bev, NULL, &tv);
	lease_drop_client(b, c);
	hub_drop_client(b->hub, c);
	while ((j = TAILQ_FIRST(&c->jobs)) != NULL) {
		TAILQ_REMOVE(&c->jobs, j, clink);
		j->client = NULL;
		if (j->where == JW_POOLQ) {
			pool_unqueue(b->pool, j);
			broker_job_free(j);
		}
	}
	if (c->hello) {
		b->nworkers--;
		log_info("worker pid %d disconnected", (int)c->pid);
	}
}

static void
client_maybe_free(struct client *c)
{
	if (evbuffer_get_length(bufferevent_get_output(c->bev)) == 0)
		client_free(c);
}

static void
client_read_cb(struct bufferevent *bev, void *arg)
{
	struct client *c = arg;
	struct evbuffer *in = bufferevent_get_input(bev);
	struct proto_frame f;
	uint8_t hdr[PROTO_HEADER_SIZE];
	size_t avail, n, used, total;
	uint8_t *data;

	while (!c->closing) {
		avail = evbuffer_get_length(in);
		if (avail < 4)
			break;
		n = avail < sizeof(hdr) ? avail : sizeof(hdr);
		evbuffer_copyout(in, hdr, n);
		/* Judge the header before waiting for a huge body. */
		if (proto_next(hdr, n, &f, &used) < 0) {
			client_violation(c, NULL, "bad frame header");
			break;
		}
		total = (size_t)le32(hdr) + 4;
		if (avail < total)
			break;
		data = evbuffer_pullup(in, (ev_ssize_t)total);
		if (data == NULL || proto_next(data, total, &f, &used) != 1) {
			client_violation(c, NULL, "bad frame");
			break;
		}
		handle_frame(c, &f);
		evbuffer_drain(in, total);
	}
	if (c->closing)
		client_maybe_free(c);
}

static void
client_write_cb(struct bufferevent *bev, void *arg)
{
	struct client *c = arg;

	(void)bev;
	if (c->closing)
		client_maybe_free(c);
	else if (c->b->exiting)
		broker_check_drained(c->b);
}

static void
client_event_cb(struct bufferevent *bev, short what, void *arg)
{
	struct client *c = arg;

	(void)bev;
	if (what & BEV_EVENT_ERROR)
		log_debug("worker pid %d: %s", (int)c->pid, strerror(errno));
	if (what & (BEV_EVENT_EOF | BEV_EVENT_ERROR | BEV_EVENT_TIMEOUT)) {
		client_close(c);
		client_free(c);
	}
}

static void
accept_cb(struct evconnlistener *lev, evutil_socket_t fd,
	  struct sockaddr *sa, int salen, void *arg)
{
	struct broker *b = arg;
	struct client *c;
	struct ucred cr;
	socklen_t len = sizeof(cr);

	(void)lev;
	(void)sa;
	(void)salen;
	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cr, &len) < 0 ||
	    cr.uid != geteuid()) {
		log_warn("rejected a broker connection from uid %d pid %d: "
		    "not our uid", len == sizeof(cr) ? (int)cr.uid : -1,
		    len == sizeof(cr) ? (int)cr.pid : -1);
		close(fd);
		return;
	}
	c = xcalloc(1, sizeof(*c));
	c->b = b;
	c->serial = ++b->client_serial;
	c->pid = cr.pid;
	TAILQ_INIT(&c->jobs);
	c->bev = bufferevent_socket_new(b->base, fd, BEV_OPT_CLOSE_ON_FREE);
	if (c->bev == NULL) {
		log_error("bufferevent_socket_new failed");
		close(fd);
		free(c);
		return;
	}
	TAILQ_INSERT_TAIL(&b->clients, c, link);
	bufferevent_setcb(c->bev, client_read_cb, client_write_cb,
	    client_event_cb, c);
	bufferevent_enable(c->bev, EV_READ | EV_WRITE);
}

static void
accept_resume_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	(void)arg;
	if (lst.lev)
		evconnlistener_enable(lst.lev);
}

/* accept() failed (EMFILE, ENFILE...): the listening socket stays
 * readable, so pause instead of spinning. */
static void
accept_error_cb(struct evconnlistener *lev, void *arg)
{
	struct timeval tv = { 0, ACCEPT_PAUSE_MSEC * 1000 };

	(void)arg;
	log_warn("accept on the broker socket failed: %s; pausing",
	    strerror(errno));
	evconnlistener_disable(lev);
	event_add(lst.pause_ev, &tv);
}

static int
listen_unix(struct broker *b, char *err, size_t errlen)
{
	struct sockaddr_un sa;
	struct stat sb;
	mode_t old;
	int fd, rc;

	memset(&sa, 0, sizeof(sa));
	sa.sun_family = AF_UNIX;
	if ((size_t)snprintf(lst.path, sizeof(lst.path), "%s/broker.sock",
	    b->cfg->runtime_dir) >= sizeof(lst.path)) {
		snprintf(err, errlen, "socket path %s/broker.sock is too long",
		    b->cfg->runtime_dir);
		return -1;
	}
	memcpy(sa.sun_path, lst.path, sizeof(lst.path));
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		snprintf(err, errlen, "socket: %s", strerror(errno));
		return -1;
	}
	if (unlink(lst.path) < 0 && errno != ENOENT) {
		snprintf(err, errlen, "cannot remove stale %s: %s", lst.path,
		    strerror(errno));
		close(fd);
		return -1;
	}
	old = umask(0177);
	rc = bind(fd, (struct sockaddr *)&sa, sizeof(sa));
	umask(old);
	if (rc < 0 || listen(fd, SOMAXCONN) < 0 || stat(lst.path, &sb) < 0) {
		snprintf(err, errlen, "cannot listen on %s: %s", lst.path,
		    strerror(errno));
		close(fd);
		return -1;
	}
	lst.dev = sb.st_dev;
	lst.ino = sb.st_ino;
	lst.lev = evconnlistener_new(b->base, accept_cb, b,
	    LEV_OPT_CLOSE_ON_FREE | LEV_OPT_CLOSE_ON_EXEC, 0, fd);
	if (lst.lev == NULL) {
		snprintf(err, errlen, "evconnlistener_new failed");
		close(fd);
		unlink(lst.path);
		return -1;
	}
	evconnlistener_set_error_cb(lst.lev, accept_error_cb);
	lst.pause_ev = evtimer_new(b->base, accept_resume_cb, NULL);
	return 0;
}

static void
tell_ready(int fd)
{
	ssize_t n;

	if (fd < 0)
		return;
	do
		n = write(fd, "1", 1);
	while (n < 0 && errno == EINTR);
	if (n != 1)
		log_warn("cannot signal readiness: %s", strerror(errno));
	close(fd);
}

int
broker_main(struct config *cfg, int ready_fd)
{
	static const int sigs[] = { SIGTERM, SIGINT, SIGHUP, SIGUSR1 };
	struct event *sigev[ARRAY_SIZE(sigs)] = { 0 };
	struct lease_table *leases;
	struct broker b;
	struct client *c;
	char err[256];
	size_t i;
	int status = 1;

	memset(&b, 0, sizeof(b));
	memset(&lst, 0, sizeof(lst));
	b.cfg = cfg;
	TAILQ_INIT(&b.clients);
	proto_buf_init(&b.out);
	leases = xmalloc(sizeof(*leases));
	lease_table_init(leases);
	b.leases = leases;
	signal(SIGPIPE, SIG_IGN);

	b.base = event_base_new();
	if (b.base == NULL) {
		log_error("cannot create the event loop");
		goto out;
	}
	if (listen_unix(&b, err, sizeof(err)) < 0) {
		log_error("%s", err);
		goto out;
	}
	for (i = 0; i < ARRAY_SIZE(sigs); i++) {
		sigev[i] = evsignal_new(b.base, sigs[i], signal_cb, &b);
		event_add(sigev[i], NULL);
	}
	shutdown_ev = evtimer_new(b.base, shutdown_timeout_cb, &b);
	b.hub = hub_new(&b);
	if (cfg->engine == ENGINE_POSTGRES) {
		b.pool = pool_new(&b);
		pool_fill(b.pool);
		log_info("listening on %s; PostgreSQL pool %d..%d", lst.path,
		    cfg->pool_min, cfg->pool_max);
	} else {
		log_info("listening on %s; engine sqlite: no PostgreSQL pool",
		    lst.path);
	}
	tell_ready(ready_fd);
	ready_fd = -1;

	event_base_dispatch(b.base);

	/* Tear down without starting anything new. */
	b.stopping = b.exiting = 1;
	while ((c = TAILQ_FIRST(&b.clients)) != NULL) {
		client_close(c);
		TAILQ_REMOVE(&b.clients, c, link);
		bufferevent_free(c->bev);
		free(c);
	}
	lease_abort_all(&b);
	pool_free(b.pool);
	hub_free(b.hub);
	b.hub = NULL;
	status = 0;
	log_info("stopped");
out:
	listener_close();
	for (i = 0; i < ARRAY_SIZE(sigs); i++)
		if (sigev[i])
			event_free(sigev[i]);
	if (shutdown_ev)
		event_free(shutdown_ev);
	shutdown_ev = NULL;
	if (b.base)
		event_base_free(b.base);
	free(leases);
	proto_buf_free(&b.out);
	if (ready_fd >= 0)
		close(ready_fd);
	return status;
}
