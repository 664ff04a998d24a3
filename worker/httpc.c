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
 */
#include <stdlib.h>
#include <string.h>

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

int
httpc_request(const char *method, const char *url, const char *const *headers,
	      const char *body, size_t body_len, long timeout_ms, long *status,
	      char **resp_body, size_t *resp_len)
{
	struct transfer t;
	struct curl_slist *hl = NULL;
	CURL *easy;
	int rc = -1;

	*resp_body = NULL;
	*resp_len = 0;
	*status = 0;
	if (H.multi == NULL || coro_current() == NULL) {
		log_error("httpc: not initialised or not called from a coroutine");
		return -1;
	}
	memset(&t, 0, sizeof(t));
	t.coro = coro_current();
	easy = curl_easy_init();
	if (easy == NULL) {
		log_error("httpc: curl_easy_init failed");
		return -1;
	}
	for (const char *const *h = headers; h && *h; h++)
		hl = curl_slist_append(hl, *h);
	/* No "Expect: 100-continue" round trip for small bodies. */
	hl = curl_slist_append(hl, "Expect:");
	curl_easy_setopt(easy, CURLOPT_URL, url);
	curl_easy_setopt(easy, CURLOPT_CUSTOMREQUEST, method);
	curl_easy_setopt(easy, CURLOPT_HTTPHEADER, hl);
	curl_easy_setopt(easy, CURLOPT_PRIVATE, (char *)&t);
	curl_easy_setopt(easy, CURLOPT_WRITEFUNCTION, write_cb);
	curl_easy_setopt(easy, CURLOPT_WRITEDATA, &t);
	curl_easy_setopt(easy, CURLOPT_ERRORBUFFER, t.errbuf);
	curl_easy_setopt(easy, CURLOPT_TIMEOUT_MS, timeout_ms);
	curl_easy_setopt(easy, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(easy, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(easy, CURLOPT_USERAGENT, "cofferd/" PACKAGE_VERSION);
	if (body != NULL) {
		curl_easy_setopt(easy, CURLOPT_POSTFIELDS, body);
		curl_easy_setopt(easy, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)body_len);
	} else if (strcmp(method, "GET") == 0)
		curl_easy_setopt(easy, CURLOPT_HTTPGET, 1L);
	if (curl_multi_add_handle(H.multi, easy) != CURLM_OK) {
		log_error("httpc: cannot start a transfer to %s", url);
		goto out;
	}
	while (!t.done)
		coro_yield();
	if (t.result != CURLE_OK) {
		log_warn("httpc: %s %s: %s", method, url, t.too_big ? "response too large" :
		    t.errbuf[0] ? t.errbuf : curl_easy_strerror(t.result));
		goto out;
	}
	curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, status);
	*resp_body = t.buf ? t.buf : xstrdup("");
	*resp_len = t.len;
	t.buf = NULL;
	rc = 0;
out:
	curl_easy_cleanup(easy);
	curl_slist_free_all(hl);
	free(t.buf);
	return rc;
}
