/*
 * routes_web.c -- the web pages and their static assets.
 *
 * The pages are a single-page application without a build step: every
 * page path (/, /login, /app, /app/groups/{id}, ...) answers the same
 * small HTML shell, app.html, and /static/app.js looks at location.pathname
 * to draw that page from the JSON API with fetch().  So the server side
 * knows nothing about groups or vaults here: no database access, no
 * templating, no data ever inserted into HTML by C -- the script inserts
 * data with textContent only.  Which paths are pages is still decided
 * here.  An unknown path is a JSON 404 like everywhere else, except for a
 * browser navigating (GET or HEAD, Accept naming text/html, outside the
 * API prefixes): it gets 404.html, a page a person can read, with the
 * same 404 status (routes_web_not_found, called by the router).
 *
 * The assets live in worker/static/ and are compiled into the binary by
 * build-aux/embed-static.sh (static_files[], generated as static_files.c),
 * so a page always matches the daemon serving it and nothing is read from
 * disk at run time.
 *
 * Caching: /static/{name} is public for an hour; the HTML shell is
 * "no-cache" (always revalidated), so a new deploy's shell is seen at once.
 * Both carry a strong ETag -- a 64-bit FNV-1a hash of the content,
 * computed once per worker on first use (the content never changes while
 * the binary runs) -- and answer 304 to a matching If-None-Match.
 *
 * Security headers on every answer here: a Content-Security-Policy that
 * allows only our own scripts, styles and fetches (no inline script or
 * style, no framing), nosniff, same-origin referrers and
 * X-Frame-Options: DENY for browsers without frame-ancestors.
 */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <event2/http.h>
#include <event2/keyvalq_struct.h>

#include "worker/http.h"
#include "src/util.h"
#include "worker/router.h"
#include "worker/routes.h"

/* Defined by the generated static_files.c (build-aux/embed-static.sh);
 * the list ends with an entry whose name is NULL. */
struct static_file {
	const char *name;
	const char *content_type;
	const unsigned char *data;
	size_t len;
};
extern const struct static_file static_files[];

#define SHELL_NAME	"app.html"
#define NOT_FOUND_NAME	"404.html"
#define ETAG_LEN	19	/* '"' + 16 hex digits + '"' + NUL */

#define CSP	"default-src 'self'; script-src 'self'; style-src 'self'; " \
		"img-src 'self' data:; connect-src 'self'; object-src 'none'; " \
		"base-uri 'none'; form-action 'self'; frame-ancestors 'none'"

static char (*etags)[ETAG_LEN];		/* per static_files[] entry, lazily */

static size_t
static_count(void)
{
	size_t n = 0;

	while (static_files[n].name != NULL)
		n++;
	return n;
}

/* The file's ETag, quoted: its FNV-1a hash, computed on first use. */
static const char *
etag_of(size_t i)
{
	uint64_t h = 0xcbf29ce484222325ULL;
	const struct static_file *f = &static_files[i];

	if (etags == NULL)
		etags = xcalloc(static_count(), sizeof(*etags));
	if (etags[i][0] != '\0')
		return etags[i];
	for (size_t k = 0; k < f->len; k++) {
		h ^= f->data[k];
		h *= 0x100000001b3ULL;
	}
	snprintf(etags[i], ETAG_LEN, "\"%016llx\"", (unsigned long long)h);
	return etags[i];
}

/* Index of the asset called name, or -1. */
static long
static_find(const char *name)
{
	for (size_t i = 0; static_files[i].name != NULL; i++)
		if (strcmp(static_files[i].name, name) == 0)
			return (long)i;
	return -1;
}

/*
 * Does If-None-Match (a comma-separated list of entity tags, possibly
 * weak, or "*") match etag?  GET uses the weak comparison (RFC 9110
 * 13.1.2), so a W/ prefix is ignored.
 */
static int
etag_matches(const char *header, const char *etag)
{
	size_t elen = strlen(etag);
	const char *p = header;

	while (*p != '\0') {
		const char *end;
		size_t n;

		p += strspn(p, " \t,");
		if (*p == '\0')
			break;
		end = p + strcspn(p, ",");
		n = (size_t)(end - p);
		while (n > 0 && (p[n - 1] == ' ' || p[n - 1] == '\t'))
			n--;
		if (n >= 2 && strncmp(p, "W/", 2) == 0) {
			p += 2;
			n -= 2;
		}
		if ((n == 1 && *p == '*') || (n == elen && memcmp(p, etag, n) == 0))
			return 1;
		p = end;
	}
	return 0;
}

static void
add_security_headers(struct req *r)
{
	struct evkeyvalq *h = evhttp_request_get_output_headers(r->ev);

	evhttp_add_header(h, "Content-Security-Policy", CSP);
	evhttp_add_header(h, "X-Content-Type-Options", "nosniff");
	evhttp_add_header(h, "Referrer-Policy", "same-origin");
	evhttp_add_header(h, "X-Frame-Options", "DENY");
}

/* Answer with asset i: 200 with its body, or 304 when the client has it. */
static void
serve(struct req *r, size_t i, const char *cache_control)
{
	const struct static_file *f = &static_files[i];
	struct evkeyvalq *h = evhttp_request_get_output_headers(r->ev);
	const char *inm = evhttp_find_header(evhttp_request_get_input_headers(r->ev),
	    "If-None-Match");
	const char *etag = etag_of(i);

	add_security_headers(r);
	evhttp_add_header(h, "Cache-Control", cache_control);
	evhttp_add_header(h, "ETag", etag);
	if (inm != NULL && etag_matches(inm, etag)) {
		http_reply_raw(r, 304, NULL, NULL, 0);
		return;
	}
	http_reply_raw(r, 200, f->content_type, f->data, f->len);
}

/* GET /static/{name} */
static void
web_static(struct req *r)
{
	long i = static_find(r->param[0]);

	if (i < 0) {
		http_error(r, 404, NULL, "no such file");
		return;
	}
	serve(r, (size_t)i, "public, max-age=3600");
}

/* GET on every page path: the HTML shell; app.js draws the page. */
static void
web_page(struct req *r)
{
	long i = static_find(SHELL_NAME);

	if (i < 0) {		/* only if the build lost the file */
		http_error(r, 500, NULL, "internal error");
		return;
	}
	serve(r, (size_t)i, "no-cache");
}

/* Paths under these prefixes are the API's: their 404 stays JSON. */
static const char *const api_prefixes[] = {
	"/api/", "/auth/", "/internal/", "/billing/", "/static/", "/metrics", "/healthz",
	"/readyz", NULL
};

/*
 * The router found no route for r.  A browser's page request on the main
 * listener (GET or HEAD, Accept naming text/html, not under an API
 * prefix) gets the HTML 404 page and 1 is returned; otherwise 0 and the
 * caller answers JSON.
 */
int
routes_web_not_found(struct req *r)
{
	const char *accept = evhttp_find_header(evhttp_request_get_input_headers(r->ev),
	    "Accept");
	long i;

	if (r->listener != LISTENER_MAIN)	/* the admin listener is for tools */
		return 0;
	if (r->method != EVHTTP_REQ_GET && r->method != EVHTTP_REQ_HEAD)
		return 0;
	if (accept == NULL || strstr(accept, "text/html") == NULL)
		return 0;
	for (size_t k = 0; api_prefixes[k] != NULL; k++)
		if (strncmp(r->path, api_prefixes[k], strlen(api_prefixes[k])) == 0)
			return 0;
	if ((i = static_find(NOT_FOUND_NAME)) < 0)
		return 0;
	add_security_headers(r);
	evhttp_add_header(evhttp_request_get_output_headers(r->ev), "Cache-Control",
	    "no-cache");
	http_reply_raw(r, 404, static_files[i].content_type, static_files[i].data,
	    static_files[i].len);
	return 1;
}

const struct route routes_web[] = {
	{ EVHTTP_REQ_GET, "/", MAIN, PUBLIC, NONE, web_page },
	{ EVHTTP_REQ_GET, "/login", MAIN, PUBLIC, NONE, web_page },
	{ EVHTTP_REQ_GET, "/app", MAIN, PUBLIC, NONE, web_page },
	{ EVHTTP_REQ_GET, "/app/groups/{id}", MAIN, PUBLIC, NONE, web_page },
	{ EVHTTP_REQ_GET, "/app/groups/{id}/activity", MAIN, PUBLIC, NONE, web_page },
	{ EVHTTP_REQ_GET, "/app/groups/{id}/settings", MAIN, PUBLIC, NONE, web_page },
	{ EVHTTP_REQ_GET, "/app/account", MAIN, PUBLIC, NONE, web_page },
	{ EVHTTP_REQ_GET, "/app/billing", MAIN, PUBLIC, NONE, web_page },
	{ EVHTTP_REQ_GET, "/join/{code}", MAIN, PUBLIC, NONE, web_page },
	{ EVHTTP_REQ_GET, "/static/{name}", MAIN, PUBLIC, NONE, web_static },
	{ 0 },
};
