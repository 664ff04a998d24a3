/*
 * url.c -- building URLs to this server, queries, form bodies, redirects.
 *
 * Queries and form bodies are built in an evbuffer, one parameter at a
 * time, each value URL-encoded by evhttp, so no caller sizes a buffer for
 * input it does not control, and no base URL is cut to fit a buffer.
 * Everything here is plain HTTP: which URLs the login flow needs is
 * routes_auth.c's business.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/queue.h>

#include <event2/buffer.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>

#include "src/listen.h"
#include "src/log.h"
#include "src/util.h"
#include "worker/http.h"
#include "worker/url.h"
#include "worker/worker.h"

/* public_url without its trailing '/'s (malloc'd), or NULL when unset. */
static char *
public_base(void)
{
	const char *pub = worker_config()->public_url;
	size_t n;

	if (pub == NULL || pub[0] == '\0')
		return NULL;
	n = strlen(pub);
	while (n > 0 && pub[n - 1] == '/')
		n--;
	return xstrndup(pub, n);
}

char *
url_base(struct req *r)
{
	static const char scheme[] = "http://";
	const char *host;
	char *s;

	if ((s = public_base()) != NULL)
		return s;
	host = evhttp_find_header(evhttp_request_get_input_headers(r->ev), "Host");
	if (host == NULL || host[0] == '\0' || strlen(host) > 255 ||
	    strspn(host, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
	    "0123456789.-:[]") != strlen(host)) {
		http_error(r, 400, NULL, "missing or malformed Host header");
		return NULL;
	}
	s = xmalloc(sizeof(scheme) + strlen(host));
	memcpy(s, scheme, sizeof(scheme) - 1);
	memcpy(s + sizeof(scheme) - 1, host, strlen(host) + 1);
	return s;
}

char *
url_self(void)
{
	struct listen_addr a[LISTEN_MAX], *tcp = NULL;
	char err[256], addr[sizeof(a[0].host) + 16], *s;
	size_t len;
	int n;

	if ((s = public_base()) != NULL)
		return s;
	/* The config was validated at load, so this parses. */
	n = listen_parse(worker_config()->listen, a, LISTEN_MAX, err, sizeof(err));
	for (int i = 0; i < n && tcp == NULL; i++)
		if (!a[i].is_unix)
			tcp = &a[i];
	if (tcp == NULL) {
		log_error("url: this server cannot reach itself: [server] listen has no "
		    "host:port address; set [server] public_url");
		return NULL;
	}
	/* A wildcard listener is reached through the loopback address. */
	if (strcmp(tcp->host, "0.0.0.0") == 0)
		snprintf(tcp->host, sizeof(tcp->host), "127.0.0.1");
	else if (strcmp(tcp->host, "::") == 0)
		snprintf(tcp->host, sizeof(tcp->host), "::1");
	listen_format(tcp, addr, sizeof(addr));
	len = sizeof("http://") + strlen(addr);
	s = xmalloc(len);
	snprintf(s, len, "http://%s", addr);
	return s;
}

char *
url_callback(const char *base, const char *provider)
{
	static const char path[] = "/auth/callback/";
	size_t n = strlen(base) + sizeof(path) + strlen(provider);
	char *s = xmalloc(n);

	snprintf(s, n, "%s%s%s", base, path, provider);
	return s;
}

int
url_same_site_path(const char *path)
{
	if (path == NULL || path[0] != '/' || path[1] == '/' || strlen(path) > URL_PATH_MAX)
		return 0;
	for (const char *p = path; *p; p++)
		if (*p <= 0x20 || *p >= 0x7f || *p == '\\')
			return 0;
	return 1;
}

void
url_start(struct evbuffer *b, const char *url)
{
	evbuffer_add_printf(b, "%s%c", url, strchr(url, '?') ? '&' : '?');
}

void
url_add_param(struct evbuffer *b, const char *name, const char *value)
{
	char *enc = evhttp_uriencode(value, -1, 0);
	size_t len = evbuffer_get_length(b);
	char last = len ? (char)evbuffer_pullup(b, -1)[len - 1] : '?';

	evbuffer_add_printf(b, "%s%s=%s", last == '?' || last == '&' ? "" : "&", name,
	    enc ? enc : "");
	free(enc);
}

char *
url_string(struct evbuffer *b)
{
	size_t n = evbuffer_get_length(b);
	char *s = xmalloc(n + 1);

	evbuffer_remove(b, s, n);
	s[n] = '\0';
	return s;
}

void
url_redirect(struct req *r, const char *location)
{
	struct evkeyvalq *h = evhttp_request_get_output_headers(r->ev);

	evhttp_add_header(h, "Location", location);
	evhttp_add_header(h, "Cache-Control", "no-store");
	http_reply_raw(r, 302, NULL, "", 0);
}

int
url_form_parse(struct req *r, struct evkeyvalq *q)
{
	const char *ct = evhttp_find_header(evhttp_request_get_input_headers(r->ev),
	    "Content-Type");
	struct evbuffer *in = evhttp_request_get_input_buffer(r->ev);
	size_t len = evbuffer_get_length(in);
	char *s;
	int rc;

	TAILQ_INIT(q);
	if (ct == NULL || strncasecmp(ct, "application/x-www-form-urlencoded", 33) != 0) {
		http_error(r, 415, NULL, "expected Content-Type: application/x-www-form-urlencoded");
		return -1;
	}
	if (len > URL_FORM_MAX) {
		http_error(r, 413, NULL, "the form is larger than %d bytes", URL_FORM_MAX);
		return -1;
	}
	s = xmalloc(len + 1);
	evbuffer_copyout(in, s, len);
	s[len] = '\0';
	rc = evhttp_parse_query_str(s, q);
	free(s);
	if (rc < 0) {
		evhttp_clear_headers(q);
		http_error(r, 400, NULL, "malformed form body");
		return -1;
	}
	return 0;
}
