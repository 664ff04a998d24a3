/*
 * http.c -- answering requests: JSON bodies and the error shape of
 * docs/API.md; reading query parameters and cursors, so every route
 * accepts and refuses them alike.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>
#include <event2/http.h>

#include "worker/http.h"
#include "src/crypto.h"
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
	r->bytes = len;
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
	json_t *body;
	char *msg;
	va_list ap;
	int n;

	/* Formatted whole, so no cut of ours ends inside a UTF-8 character,
	 * which JSON cannot carry. */
	va_start(ap, fmt);
	n = vasprintf(&msg, fmt, ap);
	va_end(ap);
	if (n < 0)
		msg = NULL;
	else
		utf8_scrub(msg);	/* a "%.64s" of a client's text may end mid-character */
	if (status == 503 && r->status == 0)
		evhttp_add_header(evhttp_request_get_output_headers(r->ev),
		    "Retry-After", "1");
	if (code == NULL)
		code = http_error_code(status);
	body = json_pack("{s:{s:s,s:s}}", "error", "code", code, "message",
	    msg ? msg : "out of memory");
	if (body == NULL)	/* msg held text that is not UTF-8: a bug here */
		body = json_pack("{s:{s:s,s:s}}", "error", "code", code, "message", code);
	free(msg);
	http_reply_json(r, status, body);
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

int
http_query_int(struct req *r, const char *name, int64_t min, int64_t max,
	       int64_t dflt, int64_t *out)
{
	const char *s = http_query(r, name);
	long long v = 0;
	char *end;
	int ok;

	*out = dflt;
	if (s == NULL)
		return 0;
	/* Decimal digits after an optional minus: strtoll alone would also
	 * take leading blanks and a plus sign. */
	ok = *s == '-' || (*s >= '0' && *s <= '9');
	if (ok) {
		errno = 0;
		v = strtoll(s, &end, 10);
		ok = errno == 0 && end != s && *end == '\0' && v >= min && v <= max;
	}
	if (!ok) {
		http_error(r, 400, NULL, "%s must be an integer from %lld to %lld",
		    name, (long long)min, (long long)max);
		return -1;
	}
	*out = (int64_t)v;
	return 0;
}

int
http_query_enum(struct req *r, const char *name, const char *const *names,
		size_t n, int dflt, int *out)
{
	const char *s = http_query(r, name);
	char list[256];
	size_t len = 0;

	*out = dflt;
	if (s == NULL)
		return 0;
	for (size_t i = 0; i < n; i++)
		if (strcmp(s, names[i]) == 0) {
			*out = (int)i;
			return 0;
		}
	/* "a, b or c" */
	list[0] = '\0';
	for (size_t i = 0; i < n && len < sizeof(list); i++)
		len += (size_t)snprintf(list + len, sizeof(list) - len, "%s%s",
		    i == 0 ? "" : i + 1 == n ? " or " : ", ", names[i]);
	http_error(r, 400, NULL, "%s must be %s", name, list);
	return -1;
}

/* ---- cursors: <tag><id>[:<hex of key>] ---- */

json_t *
http_cursor_json(const char *tag, int64_t id, const char *key)
{
	size_t klen = key ? strlen(key) : 0, len;
	char *text;
	json_t *out;

	/* A key longer than HTTP_CURSOR_KEY_MAX would be refused when it
	 * comes back; sort keys are names, far shorter. */
	len = strlen(tag) + 21 + 1 + 2 * klen + 1;
	text = xmalloc(len);
	snprintf(text, len, "%s%lld%s", tag, (long long)id, key ? ":" : "");
	if (key != NULL)
		crypto_hex(key, klen, text + strlen(text));
	out = json_string(text);
	free(text);
	return out;
}

static int
hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

void
http_bad_cursor(struct req *r)
{
	http_error(r, 400, NULL, "cursor is not one this server gave for this query");
}

int
http_query_cursor(struct req *r, const char *tag, struct http_cursor *c)
{
	const char *s = http_query(r, "cursor"), *p;
	size_t tlen = strlen(tag), n;
	char *end;

	c->id = 0;
	c->key = NULL;
	c->buf[0] = '\0';
	if (s == NULL || *s == '\0')
		return 0;
	p = s + tlen;
	/* Only the spelling the encoder writes: digits, no sign, no leading
	 * zero. */
	if (strncmp(s, tag, tlen) != 0 || *p < '0' || *p > '9')
		goto bad;
	errno = 0;
	c->id = strtoll(p, &end, 10);
	if (errno || (*p == '0' && end - p > 1))
		goto bad;
	if (*end == '\0')
		return 1;
	if (*end != ':')
		goto bad;
	p = end + 1;
	n = strlen(p);
	if (n % 2 || n / 2 > HTTP_CURSOR_KEY_MAX)
		goto bad;
	for (size_t i = 0; i < n / 2; i++) {
		int hi = hexval(p[2 * i]), lo = hexval(p[2 * i + 1]);

		/* No NUL inside: the key is a C string. */
		if (hi < 0 || lo < 0 || (hi == 0 && lo == 0))
			goto bad;
		c->buf[i] = (char)(hi << 4 | lo);
	}
	c->buf[n / 2] = '\0';
	/* The key goes to the database as text, which must be UTF-8. */
	if (!utf8_valid(c->buf, n / 2))
		goto bad;
	c->key = c->buf;
	return 1;
bad:
	http_bad_cursor(r);
	return -1;
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

void
http_html_escape(struct evbuffer *b, const char *s)
{
	for (; s && *s; s++) {
		switch (*s) {
		case '&': evbuffer_add(b, "&amp;", 5); break;
		case '<': evbuffer_add(b, "&lt;", 4); break;
		case '>': evbuffer_add(b, "&gt;", 4); break;
		case '"': evbuffer_add(b, "&quot;", 6); break;
		case '\'': evbuffer_add(b, "&#39;", 5); break;
		default: evbuffer_add(b, s, 1); break;
		}
	}
}
