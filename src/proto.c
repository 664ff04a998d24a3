/*
 * proto.c -- encoder and decoder of the worker <-> broker frames.
 *
 * The layout is described in proto.h.  Two rules shape this file:
 *
 *  - Writing never fails half-way.  A frame is appended to a growable
 *    buffer field by field (proto_begin reserves the header, proto_end
 *    patches the length); the only check is the size limit, which
 *    proto_end enforces by removing the whole frame, so a buffer never
 *    holds a partial frame.
 *
 *  - Reading trusts nothing.  Every length read from the wire is compared
 *    with the bytes that remain before it is used, strings must end in
 *    their NUL, and counts that size an allocation (the cells of a
 *    RESULT) are checked against the smallest encoding those items could
 *    have, so a hostile count cannot make us allocate more than a small
 *    multiple of the frame that carried it.  A failed getter latches
 *    r->err and returns 0/NULL; callers check proto_reader_done() once.
 *
 * Integers are little-endian, written byte by byte so the code does not
 * depend on the host's order or on alignment.
 */
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "src/proto.h"
#include "src/util.h"

/* Longest error message put on the wire; longer ones are cut.  Keeps
 * proto_encode_error() from ever hitting the frame limit. */
#define PROTO_MAX_ERRMSG	8192

const char *
proto_type_name(int type)
{
	switch (type) {
	case PT_HELLO:		return "HELLO";
	case PT_HELLO_OK:	return "HELLO_OK";
	case PT_QUERY:		return "QUERY";
	case PT_RESULT:		return "RESULT";
	case PT_ERROR:		return "ERROR";
	case PT_BEGIN:		return "BEGIN";
	case PT_LEASE:		return "LEASE";
	case PT_END:		return "END";
	case PT_STATS:		return "STATS";
	case PT_STATS_REPLY:	return "STATS_REPLY";
	case PT_SUBSCRIBE:	return "SUBSCRIBE";
	case PT_SUBSCRIBED:	return "SUBSCRIBED";
	case PT_UNSUBSCRIBE:	return "UNSUBSCRIBE";
	case PT_PUBLISH:	return "PUBLISH";
	case PT_EVENT:		return "EVENT";
	case PT_REVOKE:		return "REVOKE";
	case PT_REVOKED:	return "REVOKED";
	}
	return "UNKNOWN";
}

const char *
proto_err_name(int kind)
{
	switch (kind) {
	case PE_SQL:		return "sql";
	case PE_POOL_TIMEOUT:	return "pool_timeout";
	case PE_LEASE_TIMEOUT:	return "lease_timeout";
	case PE_NO_LEASE:	return "no_lease";
	case PE_CONNECTION:	return "connection";
	case PE_SHUTDOWN:	return "shutdown";
	case PE_PROTOCOL:	return "protocol";
	case PE_UNAVAILABLE:	return "unavailable";
	}
	return "unknown";
}

/* ---- writing ---- */

void
proto_buf_init(struct proto_buf *b)
{
	b->data = NULL;
	b->len = 0;
	b->cap = 0;
}

void
proto_buf_free(struct proto_buf *b)
{
	free(b->data);
	proto_buf_init(b);
}

void
proto_buf_reset(struct proto_buf *b)
{
	b->len = 0;
}

/* Make room for n more bytes and return where they go. */
static uint8_t *
buf_extend(struct proto_buf *b, size_t n)
{
	uint8_t *p;
	size_t cap;

	if (b->cap - b->len < n) {
		cap = b->cap ? b->cap : 256;
		while (cap - b->len < n)
			cap *= 2;
		b->data = xrealloc(b->data, cap);
		b->cap = cap;
	}
	p = b->data + b->len;
	b->len += n;
	return p;
}

static void
put_le(uint8_t *p, uint64_t v, int n)
{
	int i;

	for (i = 0; i < n; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static uint64_t
get_le(const uint8_t *p, int n)
{
	uint64_t v = 0;
	int i;

	for (i = n - 1; i >= 0; i--)
		v = (v << 8) | p[i];
	return v;
}

size_t
proto_begin(struct proto_buf *b, enum proto_type type, uint32_t id)
{
	size_t start = b->len;
	uint8_t *p = buf_extend(b, PROTO_HEADER_SIZE);

	put_le(p, 0, 4);		/* patched by proto_end */
	put_le(p + 4, id, 4);
	p[8] = (uint8_t)type;
	return start;
}

void
proto_put_u8(struct proto_buf *b, uint8_t v)
{
	*buf_extend(b, 1) = v;
}

void
proto_put_u16(struct proto_buf *b, uint16_t v)
{
	put_le(buf_extend(b, 2), v, 2);
}

void
proto_put_u32(struct proto_buf *b, uint32_t v)
{
	put_le(buf_extend(b, 4), v, 4);
}

void
proto_put_u64(struct proto_buf *b, uint64_t v)
{
	put_le(buf_extend(b, 8), v, 8);
}

void
proto_put_i64(struct proto_buf *b, int64_t v)
{
	put_le(buf_extend(b, 8), (uint64_t)v, 8);
}

void
proto_put_str(struct proto_buf *b, const char *s)
{
	if (s == NULL)
		s = "";
	proto_put_strn(b, s, strlen(s));
}

/*
 * A string longer than 4 GiB cannot be described by its u32 length; clamp
 * the length so the frame stays self-consistent, and proto_end() rejects
 * it anyway because it is past PROTO_MAX_FRAME.
 */
void
proto_put_strn(struct proto_buf *b, const char *s, size_t n)
{
	uint8_t *p;

	if (n > PROTO_MAX_FRAME)
		n = PROTO_MAX_FRAME;
	p = buf_extend(b, 4 + n + 1);
	put_le(p, n, 4);
	if (n)
		memcpy(p + 4, s, n);
	p[4 + n] = '\0';
}

/* v NULL writes SQL NULL; a negative n with a non-NULL v means strlen(v). */
void
proto_put_cell(struct proto_buf *b, const char *v, int32_t n)
{
	uint8_t *p;

	if (v == NULL) {
		put_le(buf_extend(b, 4), (uint32_t)-1, 4);
		return;
	}
	if (n < 0) {
		size_t len = strlen(v);

		n = (int32_t)(len > PROTO_MAX_FRAME ? PROTO_MAX_FRAME : len);
	}
	p = buf_extend(b, 4 + (size_t)n + 1);
	put_le(p, (uint32_t)n, 4);
	if (n)
		memcpy(p + 4, v, (size_t)n);
	p[4 + n] = '\0';
}

int
proto_end(struct proto_buf *b, size_t start)
{
	size_t len = b->len - start - 4;

	if (len > PROTO_MAX_FRAME) {
		b->len = start;
		return -1;
	}
	put_le(b->data + start, len, 4);
	return 0;
}

/* ---- reading ---- */

int
proto_next(const uint8_t *data, size_t avail, struct proto_frame *f,
	   size_t *consumed)
{
	uint32_t len;
	uint8_t type;

	if (avail < 4)
		return 0;
	len = (uint32_t)get_le(data, 4);
	if (len < PROTO_HEADER_SIZE - 4 || len > PROTO_MAX_FRAME)
		return -1;
	/* Judge the type as soon as it is here, not after 32 MiB arrive. */
	if (avail < PROTO_HEADER_SIZE)
		return 0;
	type = data[8];
	if (type < 1 || type > PT_MAX)
		return -1;
	if (avail - 4 < len)
		return 0;
	f->id = (uint32_t)get_le(data + 4, 4);
	f->type = type;
	f->payload = data + PROTO_HEADER_SIZE;
	f->len = len - (PROTO_HEADER_SIZE - 4);
	*consumed = (size_t)len + 4;
	return 1;
}

void
proto_reader_init(struct proto_reader *r, const struct proto_frame *f)
{
	r->p = f->payload;
	r->end = f->payload + f->len;
	r->err = 0;
}

/* Take n bytes, or latch the error and return NULL. */
static const uint8_t *
take(struct proto_reader *r, size_t n)
{
	const uint8_t *p;

	if (r->err || (size_t)(r->end - r->p) < n) {
		r->err = 1;
		return NULL;
	}
	p = r->p;
	r->p += n;
	return p;
}

uint8_t
proto_get_u8(struct proto_reader *r)
{
	const uint8_t *p = take(r, 1);

	return p ? p[0] : 0;
}

uint16_t
proto_get_u16(struct proto_reader *r)
{
	const uint8_t *p = take(r, 2);

	return p ? (uint16_t)get_le(p, 2) : 0;
}

uint32_t
proto_get_u32(struct proto_reader *r)
{
	const uint8_t *p = take(r, 4);

	return p ? (uint32_t)get_le(p, 4) : 0;
}

uint64_t
proto_get_u64(struct proto_reader *r)
{
	const uint8_t *p = take(r, 8);

	return p ? get_le(p, 8) : 0;
}

int64_t
proto_get_i64(struct proto_reader *r)
{
	const uint8_t *p = take(r, 8);

	return p ? (int64_t)get_le(p, 8) : 0;
}

/* n bytes followed by the NUL that makes them a C string. */
static const char *
take_cstr(struct proto_reader *r, uint32_t n)
{
	const uint8_t *p;

	if (r->err || n == UINT32_MAX) {
		r->err = 1;
		return NULL;
	}
	p = take(r, (size_t)n + 1);
	if (p == NULL)
		return NULL;
	if (p[n] != '\0') {
		r->err = 1;
		return NULL;
	}
	return (const char *)p;
}

const char *
proto_get_str(struct proto_reader *r, uint32_t *len)
{
	uint32_t n = proto_get_u32(r);
	const char *s = take_cstr(r, n);

	if (len)
		*len = s ? n : 0;
	return s;
}

int
proto_get_cell(struct proto_reader *r, const char **v, int32_t *n)
{
	int32_t len = (int32_t)proto_get_u32(r);

	*v = NULL;
	*n = -1;
	if (r->err || len < -1) {
		r->err = 1;
		return -1;
	}
	if (len == -1)
		return 0;
	*v = take_cstr(r, (uint32_t)len);
	if (*v == NULL)
		return -1;
	*n = len;
	return 0;
}

int
proto_reader_done(const struct proto_reader *r)
{
	return r->err || r->p != r->end ? -1 : 0;
}

/* ---- whole messages ---- */

void
proto_result_free(struct proto_result *r)
{
	free(r->colnames);
	free(r->coltypes);
	free(r->cells);
	free(r->lens);
	memset(r, 0, sizeof(*r));
}

int
proto_decode_result(const struct proto_frame *f, struct proto_result *out)
{
	struct proto_reader r;
	uint64_t ncells;
	size_t i;

	memset(out, 0, sizeof(*out));
	if (f->type != PT_RESULT)
		return -1;
	proto_reader_init(&r, f);
	out->changes = proto_get_u64(&r);
	out->ncols = proto_get_u16(&r);
	/* A column is at least 9 bytes (empty name + oid): bound the
	 * allocation by the frame before making it. */
	if (r.err || (uint64_t)out->ncols * 9 > (uint64_t)(r.end - r.p))
		goto bad;
	if (out->ncols) {
		out->colnames = xcalloc(out->ncols, sizeof(*out->colnames));
		out->coltypes = xcalloc(out->ncols, sizeof(*out->coltypes));
	}
	for (i = 0; i < out->ncols; i++) {
		out->colnames[i] = proto_get_str(&r, NULL);
		out->coltypes[i] = proto_get_u32(&r);
	}
	out->nrows = proto_get_u32(&r);
	if (r.err)
		goto bad;
	/* u16 * u32 fits in 64 bits; a cell is at least 4 bytes. */
	ncells = (uint64_t)out->ncols * out->nrows;
	if (ncells > (uint64_t)(r.end - r.p) / 4)
		goto bad;
	if (ncells) {
		out->cells = xcalloc((size_t)ncells, sizeof(*out->cells));
		out->lens = xcalloc((size_t)ncells, sizeof(*out->lens));
	}
	for (i = 0; i < ncells; i++)
		if (proto_get_cell(&r, &out->cells[i], &out->lens[i]) < 0)
			goto bad;
	if (proto_reader_done(&r) < 0)
		goto bad;
	return 0;
bad:
	proto_result_free(out);
	return -1;
}

int
proto_decode_error(const struct proto_frame *f, struct proto_error *out)
{
	struct proto_reader r;

	memset(out, 0, sizeof(*out));
	if (f->type != PT_ERROR)
		return -1;
	proto_reader_init(&r, f);
	out->kind = proto_get_u8(&r);
	out->sqlstate = proto_get_str(&r, NULL);
	out->message = proto_get_str(&r, NULL);
	if (proto_reader_done(&r) < 0 || out->kind < PE_SQL ||
	    out->kind > PE_UNAVAILABLE) {
		memset(out, 0, sizeof(*out));
		return -1;
	}
	return 0;
}

void
proto_encode_error(struct proto_buf *b, uint32_t id, enum proto_err kind,
		   const char *sqlstate, const char *message)
{
	size_t start = proto_begin(b, PT_ERROR, id);
	size_t n;

	if (message == NULL)
		message = "";
	n = strlen(message);
	if (n > PROTO_MAX_ERRMSG)
		n = PROTO_MAX_ERRMSG;
	proto_put_u8(b, (uint8_t)kind);
	proto_put_str(b, sqlstate);
	proto_put_strn(b, message, n);
	(void)proto_end(b, start);	/* cannot exceed the limit */
}

/* ---- live events ---- */

const char *
proto_event_name(int kind)
{
	switch (kind) {
	case PEV_VAULT:		return "vault";
	case PEV_ACTIVITY:	return "activity";
	case PEV_ROSTER:	return "roster";
	case PEV_PRESENCE:	return "presence";
	}
	return NULL;
}

int
proto_encode_event(struct proto_buf *b, enum proto_type type,
		   const struct proto_event *ev)
{
	size_t start;

	if (ev->len > PROTO_EVENT_DATA_MAX)
		return -1;
	start = proto_begin(b, type, 0);
	proto_put_u64(b, ev->group_id);
	proto_put_u8(b, ev->kind);
	proto_put_i64(b, ev->ref);
	proto_put_strn(b, ev->data ? ev->data : "", ev->data ? ev->len : 0);
	return proto_end(b, start);
}

int
proto_decode_event(const struct proto_frame *f, struct proto_event *out)
{
	struct proto_reader r;

	memset(out, 0, sizeof(*out));
	if (f->type != PT_PUBLISH && f->type != PT_EVENT)
		return -1;
	proto_reader_init(&r, f);
	out->group_id = proto_get_u64(&r);
	out->kind = proto_get_u8(&r);
	out->ref = proto_get_i64(&r);
	out->data = proto_get_str(&r, &out->len);
	/* The data becomes one SSE line: no line break may hide in it. */
	if (proto_reader_done(&r) < 0 || proto_event_name(out->kind) == NULL ||
	    out->len > PROTO_EVENT_DATA_MAX || strlen(out->data) != out->len ||
	    strpbrk(out->data, "\r\n") != NULL) {
		memset(out, 0, sizeof(*out));
		return -1;
	}
	return 0;
}

int
proto_encode_revoke(struct proto_buf *b, enum proto_type type,
		    const struct proto_revoke *rv)
{
	size_t start;

	if (rv->user_id == 0 && rv->session_id == 0 && rv->token_id == 0)
		return -1;
	start = proto_begin(b, type, 0);
	proto_put_u64(b, rv->user_id);
	proto_put_u64(b, rv->session_id);
	proto_put_u64(b, rv->token_id);
	return proto_end(b, start);
}

int
proto_decode_revoke(const struct proto_frame *f, struct proto_revoke *out)
{
	struct proto_reader r;

	memset(out, 0, sizeof(*out));
	if (f->type != PT_REVOKE && f->type != PT_REVOKED)
		return -1;
	proto_reader_init(&r, f);
	out->user_id = proto_get_u64(&r);
	out->session_id = proto_get_u64(&r);
	out->token_id = proto_get_u64(&r);
	if (proto_reader_done(&r) < 0 ||
	    (out->user_id == 0 && out->session_id == 0 && out->token_id == 0)) {
		memset(out, 0, sizeof(*out));
		return -1;
	}
	return 0;
}
