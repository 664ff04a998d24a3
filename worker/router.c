/*
 * router.c -- match a request to a route and run it in a coroutine.
 */
#include <stdint.h>
#include <stdio.h>
#include <sys/queue.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>

#include "src/coro.h"
#include "src/log.h"
#include "src/metrics.h"
#include "src/util.h"
#include "worker/validate.h"
#include "worker/auth.h"
#include "worker/inflight.h"
#include "worker/router.h"
#include "worker/routes.h"
#include "worker/worker.h"

static const struct route **flat;	/* every route, in table order */
static int n_routes;

/*
 * The tables' invariants, checked once at start so a wrong row fails loudly
 * rather than opening a route: an admin-listener route is public (health
 * checks) or needs the ops token, and the ops token opens nothing on the
 * main listener; a role needs a user and a group {id} to apply to.
 */
static void
check_policy(const struct route *rt)
{
	int admin = (rt->listeners & LISTENER_ADMIN) != 0;
	int user = rt->access == ACCESS_SESSION || rt->access == ACCESS_TOKEN ||
	    rt->access == ACCESS_USER;

	if (admin && rt->access != ACCESS_PUBLIC && rt->access != ACCESS_OPS)
		log_fatal("route %s: an admin-listener route needs the ops token", rt->pattern);
	if (rt->access == ACCESS_OPS && (rt->listeners & LISTENER_MAIN))
		log_fatal("route %s: the ops token on the main listener", rt->pattern);
	if (rt->role != ROLE_NONE && (!user || strstr(rt->pattern, "/groups/{id}") == NULL))
		log_fatal("route %s: a group role needs a user and a group {id}", rt->pattern);
}

void
router_init(void)
{
	int n = 0, i = 0;

	for (const struct route *const *t = route_tables; *t; t++)
		for (const struct route *rt = *t; rt->pattern; rt++)
			n++;
	if (n + 1 > METRICS_MAX_ROUTES)
		log_fatal("%d routes but only %d metrics slots", n, METRICS_MAX_ROUTES);
	flat = xcalloc((size_t)n, sizeof(*flat));
	for (const struct route *const *t = route_tables; *t; t++)
		for (const struct route *rt = *t; rt->pattern; rt++) {
			check_policy(rt);
			flat[i++] = rt;
		}
	n_routes = n;
}

static const char *
method_name(enum evhttp_cmd_type m)
{
	switch (m) {
	case EVHTTP_REQ_GET: return "GET";
	case EVHTTP_REQ_HEAD: return "HEAD";
	case EVHTTP_REQ_POST: return "POST";
	case EVHTTP_REQ_PUT: return "PUT";
	case EVHTTP_REQ_PATCH: return "PATCH";
	case EVHTTP_REQ_DELETE: return "DELETE";
	case EVHTTP_REQ_OPTIONS: return "OPTIONS";
	default: return "OTHER";
	}
}

const char *const *
router_metric_names(int *n)
{
	static const char **names;

	if (names == NULL) {
		names = xcalloc((size_t)n_routes + 1, sizeof(*names));
		names[0] = "unmatched";
		for (int i = 0; i < n_routes; i++) {
			const char *m;
			size_t len;
			char *s;

			m = method_name(flat[i]->method);
			len = strlen(m) + strlen(flat[i]->pattern) + 2;
			s = xmalloc(len);
			snprintf(s, len, "%s %s", m, flat[i]->pattern);
			names[i + 1] = s;
		}
	}
	*n = n_routes + 1;
	return names;
}

/* See router.h; capture() below copies the captures out of the path. */
int
router_match(const char *pattern, const char *path, const char **param, int *nparam)
{
	const char *p = pattern, *s = path;

	*nparam = 0;
	while (*p && *s) {
		if (*p == '{') {
			const char *pe = strchr(p, '}');
			const char *se = strchr(s, '/');
			size_t n = se ? (size_t)(se - s) : strlen(s);

			if (pe == NULL || n == 0 || *nparam == REQ_MAX_PARAMS)
				return 0;
			param[(*nparam)++] = s;
			p = pe + 1;
			s += n;
			continue;
		}
		if (*p != *s)
			return 0;
		p++;
		s++;
	}
	return *p == '\0' && *s == '\0';
}

/* Turn the captured pointers (into the raw path) into NUL-terminated
 * copies stored in r->path_segs. */
static void
capture(struct req *r, const char **raw, int n)
{
	size_t total = 0;
	char *out;

	for (int i = 0; i < n; i++) {
		const char *e = strchr(raw[i], '/');

		total += (e ? (size_t)(e - raw[i]) : strlen(raw[i])) + 1;
	}
	r->path_segs = out = xmalloc(total + 1);
	for (int i = 0; i < n; i++) {
		const char *e = strchr(raw[i], '/');
		size_t len = e ? (size_t)(e - raw[i]) : strlen(raw[i]);

		memcpy(out, raw[i], len);
		out[len] = '\0';
		r->param[i] = out;
		out += len + 1;
	}
}

static void
req_free(struct req *r)
{
	evhttp_clear_headers(&r->query);
	free(r->path);
	free(r->path_segs);
	free(r);
}

/*
 * The access log's line.  The path is the decoded one without the query
 * string (OAuth codes, states and cursors travel there); a route whose
 * path carries a secret ({code}: a join code) is logged by its pattern.
 */
static void
access_log(const struct req *r, uint64_t usec)
{
	const char *path = r->path ? r->path : "-";

	if (!worker_config()->access_log || log_get_level() < LL_INFO)
		return;
	if (r->route != NULL && strstr(r->route->pattern, "{code}") != NULL)
		path = r->route->pattern;
	log_info("%s %s %d %zu %.1fms", method_name(r->method), path,
	    r->status, r->bytes, (double)usec / 1000.0);
}

static void
req_finish(struct req *r)
{
	uint64_t usec;

	if (r->status == 0)
		http_error(r, 500, NULL, "internal error");
	usec = now_usec() - r->start_usec;
	metrics_request(r->route_index, r->status, usec);
	access_log(r, usec);
	inflight_handler_done(r->flight);
	req_free(r);
}

static void
run_request(void *arg)
{
	struct req *r = arg;

	/* auth_route answers the request when it refuses. */
	if (auth_route(r) == 0)
		r->route->handler(r);
	req_finish(r);
}

static void
add_allow(struct req *r, int methods)
{
	static const struct {
		int m;
		const char *name;
	} names[] = {
		{ EVHTTP_REQ_GET, "GET" }, { EVHTTP_REQ_HEAD, "HEAD" },
		{ EVHTTP_REQ_POST, "POST" }, { EVHTTP_REQ_PUT, "PUT" },
		{ EVHTTP_REQ_PATCH, "PATCH" }, { EVHTTP_REQ_DELETE, "DELETE" },
	};
	char allow[64] = "";

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		if (!(methods & names[i].m))
			continue;
		if (allow[0])
			strcat(allow, ", ");
		strcat(allow, names[i].name);
	}
	evhttp_add_header(evhttp_request_get_output_headers(r->ev), "Allow", allow);
}

/* 1 if the request carries Content-Length more than once. */
static int
repeated_length(struct evhttp_request *ev)
{
	struct evkeyval *h;
	int n = 0;

	TAILQ_FOREACH(h, evhttp_request_get_input_headers(ev), next)
		if (evutil_ascii_strcasecmp(h->key, "Content-Length") == 0)
			n++;
	return n > 1;
}

/* 1 if every key and value of q is valid UTF-8. */
static int
query_utf8(const struct evkeyvalq *q)
{
	const struct evkeyval *kv;

	TAILQ_FOREACH(kv, q, next)
		if (!utf8_valid(kv->key, strlen(kv->key)) ||
		    !utf8_valid(kv->value, strlen(kv->value)))
			return 0;
	return 1;
}

/*
 * Decode the request target into r->path and r->query.  NULL, or what is
 * wrong with it (answered 400): the framing, a path or query that does not
 * decode, an encoded NUL (which would cut a C string short without a
 * word), text that is not UTF-8.
 */
static const char *
read_target(struct req *r, const struct evhttp_uri *uri)
{
	const char *raw_path = uri ? evhttp_uri_get_path(uri) : NULL;
	const char *raw_query = uri ? evhttp_uri_get_query(uri) : NULL;
	size_t n = 0;

	if (repeated_length(r->ev))
		return "more than one Content-Length header";
	if (raw_path == NULL || (r->path = evhttp_uridecode(raw_path, 0, &n)) == NULL ||
	    n != strlen(r->path))
		return "malformed request path";
	if (!utf8_valid(r->path, n))
		return "the request path is not valid UTF-8";
	if (raw_query == NULL)
		return NULL;
	if (strstr(raw_query, "%00") != NULL || evhttp_parse_query_str(raw_query, &r->query) < 0)
		return "malformed query string";
	if (!query_utf8(&r->query))
		return "the query string is not valid UTF-8";
	return NULL;
}

void
router_dispatch(struct evhttp_request *ev, void *arg)
{
	enum listener_kind kind = (enum listener_kind)(intptr_t)arg;
	const struct evhttp_uri *uri = evhttp_request_get_evhttp_uri(ev);
	enum evhttp_cmd_type method = evhttp_request_get_command(ev);
	const char *raw[REQ_MAX_PARAMS], *bad;
	struct req *r;
	struct coro *c;
	int allowed = 0, nparam;

	r = xcalloc(1, sizeof(*r));
	r->flight = inflight_begin(ev);
	r->ev = ev;
	r->method = method;
	r->listener = kind;
	r->start_usec = now_usec();
	TAILQ_INIT(&r->query);
	if (worker_stopping())
		evhttp_add_header(evhttp_request_get_output_headers(ev), "Connection", "close");
	if ((bad = read_target(r, uri)) != NULL) {
		/* A request framed two ways may hide a second one in its body:
		 * answer and close, never read on. */
		if (strstr(bad, "Content-Length"))
			evhttp_add_header(evhttp_request_get_output_headers(ev), "Connection",
			    "close");
		http_error(r, 400, NULL, "%s", bad);
		req_finish(r);
		return;
	}
	for (int i = 0; i < n_routes; i++) {
		const struct route *rt = flat[i];

		if (!(rt->listeners & kind) || !router_match(rt->pattern, r->path, raw, &nparam))
			continue;
		if (rt->method != method &&
		    !(rt->method == EVHTTP_REQ_GET && method == EVHTTP_REQ_HEAD)) {
			allowed |= rt->method;
			continue;
		}
		r->route = rt;
		r->route_index = i + 1;
		capture(r, raw, nparam);
		break;
	}
	if (r->route == NULL) {
		if (allowed) {
			add_allow(r, allowed);
			http_error(r, 405, NULL, "method not allowed");
		} else if (!routes_web_not_found(r))
			http_error(r, 404, NULL, "no such resource");
		req_finish(r);
		return;
	}
	if (validate_body_too_large(r)) {
		req_finish(r);
		return;
	}
	c = coro_create(run_request, r);
	if (c == NULL) {
		http_error(r, 503, NULL, "server overloaded");
		req_finish(r);
		return;
	}
	r->db.deadline_usec = r->start_usec +
	    (uint64_t)worker_config()->request_timeout * 1000u;
	coro_set_data(c, r);		/* the db_session is r's first member */
	coro_resume(c);
}
