/*
 * url.h -- URLs we send people to, and the forms and queries on the way.
 *
 * The login flow (routes_auth.c) and the mock provider (mock_provider.c)
 * both build absolute URLs to this server, add URL-encoded parameters to
 * queries and form bodies, read form bodies and answer with redirects;
 * the helpers for that live here, beside the HTTP reply helpers.
 *
 * Where users reach us (url_base) is [server] public_url, or else
 * http://<Host>; the Host header is checked first, since it ends up in
 * redirects.  That is right for what the browser is sent to, and only for
 * that: where this server reaches itself (url_self), as the login flow
 * reaches the mock provider, comes from the config alone, so a forged Host
 * header cannot point a server-to-server request elsewhere.  A "next"
 * path is followed only when it is a same-site path (url_same_site_path),
 * which closes the open redirect.
 *
 * The bases are built at the size they need (malloc'd): a public_url or
 * Host header is never cut to fit a buffer.
 */
#ifndef COFFER_URL_H
#define COFFER_URL_H

#include <stddef.h>

#include <event2/buffer.h>
#include <event2/keyvalq_struct.h>

#include "worker/http.h"

#define URL_PATH_MAX	512		/* longest "next" path we follow */
#define URL_FORM_MAX	(16 * 1024)	/* longest form body we read */

/*
 * Where users reach us (malloc'd): [server] public_url without a trailing
 * '/', or http://<Host> when the Host header holds only host-name
 * characters (at most 255).  NULL after answering 400.
 */
char *url_base(struct req *r);

/*
 * Where this server reaches its own main listener, from the config only
 * (malloc'd): [server] public_url without a trailing '/', else
 * http://<the first host:port address of [server] listen>, a wildcard
 * address (0.0.0.0, [::]) read as the loopback one.  NULL, logged, when
 * listen has only unix: sockets, which outbound HTTP (httpc) does not
 * reach.
 */
char *url_self(void);

/* base + "/auth/callback/" + provider, the OAuth redirect_uri (malloc'd). */
char *url_callback(const char *base, const char *provider);

/* 1 if path is a same-site path we may redirect to: a single leading "/",
 * then printable ASCII without a backslash (browsers read "/\" like
 * "//"), at most URL_PATH_MAX bytes.  Else 0. */
int url_same_site_path(const char *path);

/* Start a URL in b whose query url_add_param() then extends. */
void url_start(struct evbuffer *b, const char *url);

/* Append name=value, URL-encoded, to a query or form body in b, with a
 * '&' unless b is empty or ends in '?' or '&'. */
void url_add_param(struct evbuffer *b, const char *name, const char *value);

/* Drain b into a string (malloc'd). */
char *url_string(struct evbuffer *b);

/* Answer 302 to location, not to be cached. */
void url_redirect(struct req *r, const char *location);

/*
 * Parse r's application/x-www-form-urlencoded body (at most URL_FORM_MAX
 * bytes) into q, which this initialises; clear it with
 * evhttp_clear_headers.  0, or -1 after answering 415, 413 or 400 (q is
 * then empty).
 */
int url_form_parse(struct req *r, struct evkeyvalq *q);

#endif
