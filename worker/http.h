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
 *
 * Query parameters are read the same way on every route: http_query_int()
 * and http_query_enum() take an absent parameter as its default and answer
 * anything else that is not valid with 400 bad_request naming it (the
 * request line, not a body, is wrong).  Paged lists hand out cursors made
 * by http_cursor_json() and read them back with http_query_cursor(): a
 * cursor says where the previous page ended, as
 *	<tag><id>[:<hex of key>]
 * the last row's id and, for lists sorted by something else, its sort key;
 * the tag names the list and its ordering, so a cursor from another
 * ordering is refused rather than resuming at the wrong place.  Clients
 * treat cursors as opaque (docs/API.md).
 */
#ifndef COFFER_HTTP_H
#define COFFER_HTTP_H

#include <stdint.h>

#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <jansson.h>

#include "src/db/db.h"

#define REQ_MAX_PARAMS 4

#define HTTP_CURSOR_KEY_MAX 1100	/* bytes of a cursor's sort key */

enum listener_kind { LISTENER_MAIN = 1, LISTENER_ADMIN = 2 };

struct route;
struct flight;

struct req {
	struct db_session db;		/* first: see above */
	struct evhttp_request *ev;
	const struct route *route;
	int route_index;
	enum listener_kind listener;
	enum evhttp_cmd_type method;
	char *path;			/* decoded path, without the query */
	struct evkeyvalq query;		/* decoded query string */
	const char *param[REQ_MAX_PARAMS];	/* {name} captures, into path_segs */
	char *path_segs;		/* storage for param[] */
	int status;			/* the status sent, 0 until answered */
	size_t bytes;			/* the body's length, for the access log */
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
struct evbuffer;

/* Append s to b HTML-escaped (& < > " '), for text and attribute values
 * of the pages cofferd writes itself (the mock providers'). */
void http_html_escape(struct evbuffer *b, const char *s);

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

/*
 * The integer query parameter name, from min to max, into *out; dflt when
 * it is absent.  0, or -1 after answering 400 "name must be an integer
 * from min to max".
 */
int http_query_int(struct req *r, const char *name, int64_t min, int64_t max,
		   int64_t dflt, int64_t *out);

/*
 * The query parameter name as one of names[0..n), its index into *out;
 * dflt when it is absent.  0, or -1 after answering 400 "name must be a,
 * b or c".
 */
int http_query_enum(struct req *r, const char *name, const char *const *names,
		    size_t n, int dflt, int *out);

/* Where the previous page ended, from a cursor (see above). */
struct http_cursor {
	int64_t id;			/* the last row's id, >= 0 */
	const char *key;		/* its sort key, or NULL; into buf */
	char buf[HTTP_CURSOR_KEY_MAX + 1];
};

/* The cursor resuming after the row id with sort key key (NULL: none) of
 * the list tag (letters), as a new JSON string. */
json_t *http_cursor_json(const char *tag, int64_t id, const char *key);

/*
 * The "cursor" query parameter, made by http_cursor_json() with the same
 * tag, into *c.  1, or 0 when it is absent or "" (the first page), or -1
 * after answering 400 (http_bad_cursor).
 */
int http_query_cursor(struct req *r, const char *tag, struct http_cursor *c);

/* Answer 400: the cursor is not one this server gave for this list (also
 * for callers finding its id or key out of place). */
void http_bad_cursor(struct req *r);

#endif
