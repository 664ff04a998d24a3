/*
 * httpc.c -- libcurl multi driven by libevent, one coroutine per transfer.
 *
 * The state is per process: one CURLM, one evtimer for curl's timeout, and
 * one event per socket curl asks us to watch (kept with curl_multi_assign,
 * so curl hands it back on the next change of that socket).  The timer is
 * armed only while curl wants one, so an idle worker keeps no timer.
 *
 * Flow: httpc_request() adds an easy handle whose CURLOPT_PRIVATE is its
 * struct transfer, then yields.  Socket and timer events call
 * curl_multi_socket_action(); afterwards check_done() reads the finished
 * transfers, detaches their handles and resumes their coroutines.  The
 * coroutine is resumed only from those event callbacks, i.e. from the
 * main context, as coro.h requires.  A transfer ends only through curl
 * (done or timed out by CURLOPT_TIMEOUT_MS), so the coroutine is never
 * left waiting.
 *
 * With deny_private, open_socket() (CURLOPT_OPENSOCKETFUNCTION) vets each
 * address curl tries and counts the ones it refused; when every one was
 * refused, the outcome is HTTPC_PRIVATE rather than a connection error.
 * httpc_probe() uses the same hook to look at addresses without opening
 * any socket at all.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include <curl/curl.h>
#include <event2/event.h>

#include "src/coro.h"
#include "worker/httpc.h"
#include "src/log.h"
#include "src/util.h"

struct transfer {
	struct coro *coro;
	CURLcode result;
	int done;
	char *buf;
	size_t len, cap;
	int too_big;
	int discard;
	int deny_private;
	int probe;		/* look at the addresses, open nothing */
	int addresses;		/* addresses curl tried */
	int refused;		/* of which private */
	char refused_ip[INET6_ADDRSTRLEN];
	char errbuf[CURL_ERROR_SIZE];
};

static struct {
	struct event_base *base;
	CURLM *multi;
	struct event *timer;
} H;

static void check_done(void);

static void
on_timer(evutil_socket_t fd, short what, void *arg)
{
	int running;

	(void)fd;
	(void)what;
	(void)arg;
	curl_multi_socket_action(H.multi, CURL_SOCKET_TIMEOUT, 0, &running);
	check_done();
}

static void
on_socket(evutil_socket_t fd, short what, void *arg)
{
	int running, mask = 0;

	(void)arg;
	if (what & EV_READ)
		mask |= CURL_CSELECT_IN;
	if (what & EV_WRITE)
		mask |= CURL_CSELECT_OUT;
	curl_multi_socket_action(H.multi, fd, mask, &running);
	check_done();
}

/* CURLMOPT_SOCKETFUNCTION: watch s for what curl asks, or stop watching. */
static int
socket_cb(CURL *easy, curl_socket_t s, int what, void *userp, void *socketp)
{
	struct event *ev = socketp;
	short kind = EV_PERSIST;

	(void)easy;
	(void)userp;
	if (what == CURL_POLL_REMOVE) {
		if (ev != NULL) {
			event_free(ev);
			curl_multi_assign(H.multi, s, NULL);
		}
		return 0;
	}
	if (what & CURL_POLL_IN)
		kind |= EV_READ;
	if (what & CURL_POLL_OUT)
		kind |= EV_WRITE;
	if (ev != NULL)
		event_free(ev);
	ev = event_new(H.base, s, kind, on_socket, NULL);
	if (ev == NULL || event_add(ev, NULL) < 0) {
		log_error("httpc: cannot watch a socket");
		if (ev != NULL)
			event_free(ev);
		curl_multi_assign(H.multi, s, NULL);
		return -1;
	}
	curl_multi_assign(H.multi, s, ev);
	return 0;
}

/* CURLMOPT_TIMERFUNCTION: -1 disarms, 0 means as soon as possible. */
static int
timer_cb(CURLM *multi, long timeout_ms, void *userp)
{
	struct timeval tv;

	(void)multi;
	(void)userp;
	if (timeout_ms < 0) {
		evtimer_del(H.timer);
		return 0;
	}
	tv = msec_tv((uint64_t)timeout_ms);
	return evtimer_add(H.timer, &tv) < 0 ? -1 : 0;
}

static void
check_done(void)
{
	CURLMsg *msg;
	int left;

	while ((msg = curl_multi_info_read(H.multi, &left)) != NULL) {
		struct transfer *t = NULL;

		if (msg->msg != CURLMSG_DONE)
			continue;
		curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&t);
		t->result = msg->data.result;
		t->done = 1;
		curl_multi_remove_handle(H.multi, msg->easy_handle);
		/* The coroutine cleans up the easy handle; it may add new
		 * transfers, which curl allows between info_read calls. */
		coro_resume(t->coro);
	}
}

static size_t
write_cb(char *data, size_t size, size_t nmemb, void *userp)
{
	struct transfer *t = userp;
	size_t n = size * nmemb;

	if (t->discard)
		return n;
	if (t->len + n > HTTPC_MAX_RESPONSE) {
		t->too_big = 1;
		return 0;		/* curl fails the transfer */
	}
	if (t->len + n + 1 > t->cap) {
		t->cap = (t->len + n + 1) * 2;
		t->buf = xrealloc(t->buf, t->cap);
	}
	memcpy(t->buf + t->len, data, n);
	t->len += n;
	t->buf[t->len] = '\0';
	return n;
}

int
httpc_init(struct event_base *base)
{
	static int global_done;

	if (H.multi != NULL && H.base == base)
		return 0;
	if (H.multi != NULL)
		httpc_shutdown();
	if (!global_done) {
		if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
			log_error("httpc: curl_global_init failed");
			return -1;
		}
		global_done = 1;
	}
	H.base = base;
	H.multi = curl_multi_init();
	H.timer = evtimer_new(base, on_timer, NULL);
	if (H.multi == NULL || H.timer == NULL) {
		log_error("httpc: cannot set up the curl multi handle");
		httpc_shutdown();
		return -1;
	}
	curl_multi_setopt(H.multi, CURLMOPT_SOCKETFUNCTION, socket_cb);
	curl_multi_setopt(H.multi, CURLMOPT_TIMERFUNCTION, timer_cb);
	return 0;
}

void
httpc_shutdown(void)
{
	if (H.multi != NULL)
		curl_multi_cleanup(H.multi);
	if (H.timer != NULL)
		event_free(H.timer);
	memset(&H, 0, sizeof(H));
}

/* 1 if the IPv4 address a (host order) is not public. */
static int
v4_private(uint32_t a)
{
	static const struct { uint32_t net, mask; } nets[] = {
		{ 0x00000000, 0xff000000 },	/* 0/8 "this network" */
		{ 0x0a000000, 0xff000000 },	/* 10/8 */
		{ 0x64400000, 0xffc00000 },	/* 100.64/10 shared (CGNAT) */
		{ 0x7f000000, 0xff000000 },	/* 127/8 loopback */
		{ 0xa9fe0000, 0xffff0000 },	/* 169.254/16 link-local */
		{ 0xac100000, 0xfff00000 },	/* 172.16/12 */
		{ 0xc0000000, 0xffffff00 },	/* 192.0.0/24 protocol assignments */
		{ 0xc0a80000, 0xffff0000 },	/* 192.168/16 */
		{ 0xc6120000, 0xfffe0000 },	/* 198.18/15 benchmarking */
		{ 0xe0000000, 0xf0000000 },	/* 224/4 multicast */
		{ 0xf0000000, 0xf0000000 },	/* 240/4 reserved, broadcast */
	};

	for (size_t i = 0; i < ARRAY_SIZE(nets); i++)
		if ((a & nets[i].mask) == nets[i].net)
			return 1;
	return 0;
}

int
httpc_addr_private(const struct sockaddr *sa)
{
	static const uint8_t mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };
	static const uint8_t nat64[12] = { 0, 0x64, 0xff, 0x9b, 0, 0, 0, 0, 0, 0, 0, 0 };
	const uint8_t *b;

	if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *in = (const struct sockaddr_in *)(const void *)sa;

		return v4_private(ntohl(in->sin_addr.s_addr));
	}
	if (sa->sa_family != AF_INET6)
		return 1;
	b = ((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr.s6_addr;
	if (memcmp(b, mapped, 12) == 0 || memcmp(b, nat64, 12) == 0)
		return v4_private((uint32_t)b[12] << 24 | (uint32_t)b[13] << 16 |
		    (uint32_t)b[14] << 8 | b[15]);
	return (b[0] == 0 && memcmp(b, b + 1, 11) == 0) ||	/* ::/96: ::, ::1, compat */
	    (b[0] & 0xfe) == 0xfc ||			/* fc00::/7 unique local */
	    (b[0] == 0xfe && (b[1] & 0xc0) == 0x80) ||	/* fe80::/10 link-local */
	    (b[0] == 0xfe && (b[1] & 0xc0) == 0xc0) ||	/* fec0::/10 site-local */
	    b[0] == 0xff;				/* ff00::/8 multicast */
}

/* CURLOPT_OPENSOCKETFUNCTION: vet the address curl is about to connect
 * to (see the top of the file). */
static curl_socket_t
open_socket(void *clientp, curlsocktype purpose, struct curl_sockaddr *a)
{
	struct transfer *t = clientp;

	if (purpose == CURLSOCKTYPE_IPCXN) {
		t->addresses++;
		if ((t->deny_private || t->probe) && httpc_addr_private(&a->addr)) {
			if (t->refused++ == 0) {
				const void *ip = a->family == AF_INET6 ?
				    (const void *)&((struct sockaddr_in6 *)(void *)&a->addr)->sin6_addr :
				    (const void *)&((struct sockaddr_in *)(void *)&a->addr)->sin_addr;

				if (inet_ntop(a->family, ip, t->refused_ip,
				    sizeof(t->refused_ip)) == NULL)
					t->refused_ip[0] = '\0';
			}
			return CURL_SOCKET_BAD;
		}
	}
	if (t->probe)
		return CURL_SOCKET_BAD;
	return socket(a->family, a->socktype | SOCK_CLOEXEC, a->protocol);
}

/* Run the transfer easy (set up by the caller) until it ends. */
static int
run(CURL *easy, struct transfer *t)
{
	t->coro = coro_current();
	curl_easy_setopt(easy, CURLOPT_PRIVATE, (char *)t);
	curl_easy_setopt(easy, CURLOPT_ERRORBUFFER, t->errbuf);
	curl_easy_setopt(easy, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(easy, CURLOPT_OPENSOCKETFUNCTION, open_socket);
	curl_easy_setopt(easy, CURLOPT_OPENSOCKETDATA, t);
	if (curl_multi_add_handle(H.multi, easy) != CURLM_OK)
		return -1;
	while (!t->done)
		coro_yield();
	return 0;
}

/* The outcome of a finished transfer t, with c->error filled when it
 * is not HTTPC_OK. */
static int
outcome(const struct transfer *t, struct httpc_call *c)
{
	if (t->result == CURLE_OK)
		return HTTPC_OK;
	if (t->refused > 0 && t->refused == t->addresses) {
		snprintf(c->error, sizeof(c->error), "refused: %s is not a public address",
		    t->refused_ip);
		return HTTPC_PRIVATE;
	}
	snprintf(c->error, sizeof(c->error), "%s", t->too_big ? "response too large" :
	    t->errbuf[0] ? t->errbuf : curl_easy_strerror(t->result));
	if (t->result == CURLE_OPERATION_TIMEDOUT)
		return HTTPC_TIMEOUT;
	if (t->result == CURLE_COULDNT_RESOLVE_HOST)
		return HTTPC_UNRESOLVED;
	return HTTPC_FAILED;
}

int
httpc_call(struct httpc_call *c)
{
	struct transfer t;
	struct curl_slist *hl = NULL;
	CURL *easy;
	int rc;

	c->status = 0;
	c->resp_body = NULL;
	c->resp_len = 0;
	c->error[0] = '\0';
	if (H.multi == NULL || coro_current() == NULL) {
		snprintf(c->error, sizeof(c->error), "httpc: not initialised or not in a coroutine");
		return HTTPC_FAILED;
	}
	memset(&t, 0, sizeof(t));
	t.discard = c->discard_response;
	t.deny_private = c->deny_private;
	easy = curl_easy_init();
	if (easy == NULL) {
		snprintf(c->error, sizeof(c->error), "curl_easy_init failed");
		return HTTPC_FAILED;
	}
	for (const char *const *h = c->headers; h && *h; h++)
		hl = curl_slist_append(hl, *h);
	/* No "Expect: 100-continue" round trip for small bodies. */
	hl = curl_slist_append(hl, "Expect:");
	curl_easy_setopt(easy, CURLOPT_URL, c->url);
	curl_easy_setopt(easy, CURLOPT_CUSTOMREQUEST, c->method);
	curl_easy_setopt(easy, CURLOPT_HTTPHEADER, hl);
	curl_easy_setopt(easy, CURLOPT_WRITEFUNCTION, write_cb);
	curl_easy_setopt(easy, CURLOPT_WRITEDATA, &t);
	curl_easy_setopt(easy, CURLOPT_TIMEOUT_MS, c->timeout_ms);
	curl_easy_setopt(easy, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(easy, CURLOPT_USERAGENT, "cofferd/" PACKAGE_VERSION);
	if (c->deny_private)
		curl_easy_setopt(easy, CURLOPT_PROXY, "");
	if (c->body != NULL) {
		curl_easy_setopt(easy, CURLOPT_POSTFIELDS, c->body);
		curl_easy_setopt(easy, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)c->body_len);
	} else if (strcmp(c->method, "GET") == 0)
		curl_easy_setopt(easy, CURLOPT_HTTPGET, 1L);
	if (run(easy, &t) < 0) {
		snprintf(c->error, sizeof(c->error), "cannot start a transfer");
		rc = HTTPC_FAILED;
		goto out;
	}
	rc = outcome(&t, c);
	if (rc != HTTPC_OK)
		goto out;
	curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &c->status);
	if (!t.discard) {
		c->resp_body = t.buf ? t.buf : xstrdup("");
		c->resp_len = t.len;
		t.buf = NULL;
	}
out:
	curl_easy_cleanup(easy);
	curl_slist_free_all(hl);
	free(t.buf);
	return rc;
}

int
httpc_probe(const char *url, long timeout_ms)
{
	struct httpc_call c;
	struct transfer t;
	CURL *easy;
	int rc;

	if (H.multi == NULL || coro_current() == NULL)
		return HTTPC_FAILED;
	memset(&t, 0, sizeof(t));
	memset(&c, 0, sizeof(c));
	t.probe = 1;
	easy = curl_easy_init();
	if (easy == NULL)
		return HTTPC_FAILED;
	curl_easy_setopt(easy, CURLOPT_URL, url);
	curl_easy_setopt(easy, CURLOPT_CONNECT_ONLY, 1L);
	curl_easy_setopt(easy, CURLOPT_TIMEOUT_MS, timeout_ms);
	curl_easy_setopt(easy, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(easy, CURLOPT_PROXY, "");
	if (run(easy, &t) < 0)
		rc = HTTPC_FAILED;
	else if (t.refused > 0)
		rc = HTTPC_PRIVATE;
	else if (t.addresses > 0)
		rc = HTTPC_OK;		/* seen, all public; none was opened */
	else
		rc = outcome(&t, &c) == HTTPC_UNRESOLVED ? HTTPC_UNRESOLVED : HTTPC_FAILED;
	curl_easy_cleanup(easy);
	return rc;
}

int
httpc_request(const char *method, const char *url, const char *const *headers,
	      const char *body, size_t body_len, long timeout_ms, long *status,
	      char **resp_body, size_t *resp_len)
{
	struct httpc_call c;

	memset(&c, 0, sizeof(c));
	c.method = method;
	c.url = url;
	c.headers = headers;
	c.body = body;
	c.body_len = body_len;
	c.timeout_ms = timeout_ms;
	if (httpc_call(&c) != HTTPC_OK) {
		log_warn("httpc: %s %s: %s", method, url, c.error);
		*status = 0;
		*resp_body = NULL;
		*resp_len = 0;
		return -1;
	}
	*status = c.status;
	*resp_body = c.resp_body;
	*resp_len = c.resp_len;
	return 0;
}
