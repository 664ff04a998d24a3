/*
 * http.c -- answering requests: JSON bodies and the error shape of docs/API.md.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>
#include <event2/http.h>

#include "worker/http.h"
#include "src/log.h"
#include "src/util.h"

static const struct {
	int status;
	const char *code;
} error_codes[] = {
	{ 400, "bad_request" },
	{ 401, "unauthorized" },
	{ 403, "forbidden" },
	{ 404, "not_found" },
	{ 405, "method_not_allowed" },
	{ 409, "conflict" },
	{ 413, "payload_too_large" },
	{ 415, "unsupported_media_type" },
	{ 422, "invalid" },
	{ 429, "rate_limited" },
	{ 500, "internal" },
	{ 503, "unavailable" },
};

const char *
http_error_code(int status)
{
	for (size_t i = 0; i < sizeof(error_codes) / sizeof(error_codes[0]); i++)
		if (error_codes[i].status == status)
			return error_codes[i].code;
	return status >= 500 ? "internal" : "bad_request";
}

/* The reason phrase evhttp puts on the status line. */
static const char *
reason(int status)
{
	switch (status) {
	case 200: return "OK";
	case 201: return "Created";
	case 204: return "No Content";
	case 302: return "Found";
	case 304: return "Not Modified";
	case 400: return "Bad Request";
	case 401: return "Unauthorized";
	case 403: return "Forbidden";
	case 404: return "Not Found";
	case 405: return "Method Not Allowed";
	case 409: return "Conflict";
	case 413: return "Payload Too Large";
	case 415: return "Unsupported Media Type";
	case 422: return "Unprocessable Entity";
	case 429: return "Too Many Requests";
	case 500: return "Internal Server Error";
	case 503: return "Service Unavailable";
	default: return "Status";
	}
}

void
http_reply_raw(struct req *r, int status, const char *content_type,
	       const void *data, size_t len)
{
	struct evbuffer *buf;

	if (r->status != 0) {
		log_debug("second answer (%d) to a request already answered with %d",
		    status, r->status);
		return;
	}
	r->status = status;
	if (content_type)
		evhttp_add_header(evhttp_request_get_output_headers(r->ev),
		    "Content-Type", content_type);
	buf = evbuffer_new();
	if (len > 0)
		evbuffer_add(buf, data, len);
	evhttp_send_reply(r->ev, status, reason(status), buf);
	evbuffer_free(buf);
}

void
http_reply_json(struct req *r, int status, json_t *body)
{
	char *text = NULL;

	if (body != NULL) {
		text = json_dumps(body, JSON_COMPACT);
		json_decref(body);
	}
	if (text == NULL) {
		http_reply_raw(r, status, status == 204 ? NULL : "application/json", "", 0);
		return;
	}
	http_reply_raw(r, status, "application/json", text, strlen(text));
	free(text);
}

/*
 * Drop from s, in place, the bytes that are not whole UTF-8 characters.  A
 * message quoting a client's text cut short ("%.64s") or cut by the buffer
 * may end a character half-way, and json_pack() refuses such a string: the
 * error would go out without its body.
 */
static void
utf8_scrub(char *s)
{
	char *out = s;

	while (*s) {
		unsigned char c = (unsigned char)*s;
		size_t n = c < 0xc0 ? 1 : c < 0xe0 ? 2 : c < 0xf0 ? 3 : 4;

		if (strnlen(s, n) == n && utf8_valid(s, n)) {
			memmove(out, s, n);
			out += n;
			s += n;
		} else
			s++;
	}
	*out = '\0';
}

void
http_error(struct req *r, int status, const char *code, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	utf8_scrub(msg);
	if (status == 503 && r->status == 0)
		evhttp_add_header(evhttp_request_get_output_headers(r->ev),
		    "Retry-After", "1");
	http_reply_json(r, status, json_pack("{s:{s:s,s:s}}", "error",
	    "code", code ? code : http_error_code(status), "message", msg));
}

void
http_db_error(struct req *r)
{
	const struct db_error *e = &r->db.err;

	switch (e->kind) {
	case DBE_CONSTRAINT:
		http_error(r, 409, NULL, "conflicts with existing data");
		break;
	case DBE_BUSY:
		log_warn("database busy: %s", e->message);
		http_error(r, 503, NULL, "the database is busy; retry shortly");
		break;
	case DBE_UNAVAILABLE:
		log_warn("database unavailable: %s", e->message);
		http_error(r, 503, NULL, "the database is unavailable; retry shortly");
		break;
	default:
		log_error("database error %s: %s", e->code, e->message);
		http_error(r, 500, NULL, "internal error");
		break;
	}
}

const char *
http_query(struct req *r, const char *name)
{
	return evhttp_find_header(&r->query, name);
}

json_t *
http_json_time(const struct db_result *r, int row, int col)
{
	char buf[40];

	if (db_isnull(r, row, col))
		return json_null();
	return json_string(db_time(r, row, col, buf, sizeof(buf)));
}

int64_t
http_path_id(const char *s)
{
	char *end;
	long long v;

	if (s == NULL || *s < '1' || *s > '9')
		return 0;
	errno = 0;
	v = strtoll(s, &end, 10);
	return errno || *end ? 0 : (int64_t)v;
}
