/*
 * http.h -- the request context and the one way to answer a request.
 *
 * Every request runs in its own coroutine; `struct req` is that
 * coroutine's data.  Its first member is the database session, so code far
 * below the handler finds the request's transaction through the running
 * coroutine alone (see db.h) without the request being passed down.
 *
 * Responses: http_reply_json() for bodies, http_error() for the error
 * shape of docs/API.md "Errors" {"error": {"code", "message"}}.  A request is answered at
 * most once; later answers are ignored (and logged at debug), which lets
 * the router add a 500 when a handler returned without answering.
 */
#ifndef COFFER_HTTP_H
#define COFFER_HTTP_H

#include <stdint.h>

#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <jansson.h>

#include "src/db/db.h"

#define REQ_MAX_PARAMS 4

enum listener_kind { LISTENER_MAIN = 1, LISTENER_ADMIN = 2 };

struct route;
struct flight;

struct req {
	struct db_session db;		/* first: see above */
	struct evhttp_request *ev;
	const struct route *route;
	int route_index;
	enum listener_kind listener;
	char *path;			/* decoded path, without the query */
	struct evkeyvalq query;		/* decoded query string */
	const char *param[REQ_MAX_PARAMS];	/* {name} captures, into path_segs */
	char *path_segs;		/* storage for param[] */
	int status;			/* the status sent, 0 until answered */
	struct flight *flight;		/* its place in the in-flight count */
	uint64_t start_usec;

	/* Set by the router from the route's access and role (router.h). */
	int64_t user_id;		/* 0 when not authenticated */
	int64_t session_id;		/* the web session, or 0 */
	int64_t token_id;		/* the plugin token, or 0 */
	int64_t group_id;		/* group {id} of a route with a role */
	char role[8];			/* the caller's role in it: "owner"... */
};

/* Answer with a JSON body (stolen; may be NULL for 204). */
void http_reply_json(struct req *r, int status, json_t *body);
/* Answer with the error shape of docs/API.md "Errors"; code from the status unless given. */
void http_error(struct req *r, int status, const char *code, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
/* Answer with a non-JSON body (bytes copied). */
void http_reply_raw(struct req *r, int status, const char *content_type,
		    const void *data, size_t len);
/* Answer from the request's last database error (r->db.err, see db.h):
 * 409, 503 + Retry-After, or 500. */
void http_db_error(struct req *r);

/* The standard code for an error status ("not_found" for 404...). */
const char *http_error_code(int status);

/* A timestamp cell as an RFC 3339 UTC JSON string, or null. */
json_t *http_json_time(const struct db_result *r, int row, int col);

/* A positive decimal id from a path segment, or 0 when it is not one (the
 * caller answers 404: an id that cannot exist is simply not found). */
int64_t http_path_id(const char *s);

/* A query-string parameter, or NULL. */
const char *http_query(struct req *r, const char *name);

#endif
