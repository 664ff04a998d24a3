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
#include "worker/router.h"
#include "worker/worker.h"

static int inflight;
static void (*idle_cb)(void);
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

int
router_inflight(void)
{
	return inflight;
}

void
router_set_idle_cb(void (*cb)(void))
{
	idle_cb = cb;
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

			switch (flat[i]->method) {
			case EVHTTP_REQ_POST: m = "POST"; break;
			case EVHTTP_REQ_PUT: m = "PUT"; break;
			case EVHTTP_REQ_PATCH: m = "PATCH"; break;
			case EVHTTP_REQ_DELETE: m = "DELETE"; break;
			default: m = "GET"; break;
			}
			len = strlen(m) + strlen(flat[i]->pattern) + 2;
			s = xmalloc(len);
			snprintf(s, len, "%s %s", m, flat[i]->pattern);
			names[i + 1] = s;
		}
	}
	*n = n_routes + 1;
	return names;
}

/*
 * Match path against pattern; fills r->param[] with pointers into segs
 * (a writable copy of the path split at '/').  Returns 1 on a match.
 */
static int
match(const char *pattern, const char *path, const char **param, int *nparam)
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

static void
req_finish(struct req *r)
{
	if (r->status == 0)
		http_error(r, 500, NULL, "internal error");
	metrics_request(r->route_index, r->status, now_usec() - r->start_usec);
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

/*
 * A request counts as in flight from dispatch until evhttp has written its
 * whole response, so a stopping worker never frees a connection with a
 * reply still in its buffer.  (If the client vanishes mid-response evhttp
 * never calls this; the stop then waits for shutdown_timeout instead.)
 */
static void
on_complete(struct evhttp_request *ev, void *arg)
{
	(void)ev;
	(void)arg;
	if (--inflight == 0 && idle_cb)
		idle_cb();
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

void
router_dispatch(struct evhttp_request *ev, void *arg)
{
	enum listener_kind kind = (enum listener_kind)(intptr_t)arg;
	const struct evhttp_uri *uri = evhttp_request_get_evhttp_uri(ev);
	enum evhttp_cmd_type method = evhttp_request_get_command(ev);
	const char *raw_path = uri ? evhttp_uri_get_path(uri) : NULL;
	const char *raw[REQ_MAX_PARAMS];
	struct req *r;
	struct coro *c;
	int allowed = 0, nparam;

	inflight++;
	evhttp_request_set_on_complete_cb(ev, on_complete, NULL);
	r = xcalloc(1, sizeof(*r));
	r->ev = ev;
	r->listener = kind;
	r->start_usec = now_usec();
	TAILQ_INIT(&r->query);
	if (worker_stopping())
		evhttp_add_header(evhttp_request_get_output_headers(ev), "Connection", "close");
	if (raw_path != NULL) {
		size_t n = 0;

		r->path = evhttp_uridecode(raw_path, 0, &n);
		if (r->path != NULL && n != strlen(r->path)) {	/* an encoded NUL */
			free(r->path);
			r->path = NULL;
		}
	}
	if (r->path == NULL) {
		http_error(r, 400, NULL, "malformed request path");
		req_finish(r);
		return;
	}
	if (uri && evhttp_uri_get_query(uri) &&
	    evhttp_parse_query_str(evhttp_uri_get_query(uri), &r->query) < 0) {
		http_error(r, 400, NULL, "malformed query string");
		req_finish(r);
		return;
	}
	for (int i = 0; i < n_routes; i++) {
		const struct route *rt = flat[i];

		if (!(rt->listeners & kind) || !match(rt->pattern, r->path, raw, &nparam))
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
		} else
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
