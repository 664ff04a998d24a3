/*
 * fuzz_proto.c -- libFuzzer target: the worker <-> broker frame codec.
 *
 * The input is a byte stream as either side reads it from the socket
 * (src/proto.h).  Frames are taken off it with proto_next() as the broker
 * and the worker do, and each is decoded by the grammar of its type: the
 * RESULT and ERROR decoders of src/proto.c, and for the other types the
 * getters in the order the broker (broker/broker.c) and the worker
 * (src/db/) read them.  Besides not crashing, the codec must:
 *
 *  - judge a frame the same on any prefix: a prefix of a frame that
 *    proto_next() takes is never refused (the broker judges a header
 *    before the body arrives), and one it refuses is refused whatever
 *    follows;
 *  - hand back strings and cells that are NUL-terminated inside the frame;
 *  - encode what it decoded back into the same bytes (or, for RESULT,
 *    whose column names are read without their length, into a frame that
 *    decodes to the same result).
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "src/proto.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* A broken promise is a bug like a crash: abort, so libFuzzer keeps the
 * input. */
static void
check(int ok)
{
	if (!ok)
		abort();
}

/* p[0..n] is inside frame f and ends in its NUL. */
static void
check_inside(const struct proto_frame *f, const char *p, size_t n)
{
	const uint8_t *u = (const uint8_t *)p;

	check(u >= f->payload && u + n < f->payload + f->len + 1);
	check(p[n] == '\0');
}

/* The frame f (at raw, size bytes with its header) re-encoded from b must
 * be the same bytes. */
static void
check_same(const uint8_t *raw, size_t size, struct proto_buf *b, size_t start)
{
	check(proto_end(b, start) == 0);
	check(b->len == size && memcmp(b->data, raw, size) == 0);
}

static void
result_roundtrip(const struct proto_frame *f, const struct proto_result *res)
{
	struct proto_result again;
	struct proto_frame g;
	struct proto_buf b;
	size_t start, used, ncells = (size_t)res->ncols * res->nrows;

	proto_buf_init(&b);
	start = proto_begin(&b, PT_RESULT, f->id);
	proto_put_u64(&b, res->changes);
	proto_put_u16(&b, res->ncols);
	for (size_t i = 0; i < res->ncols; i++) {
		proto_put_str(&b, res->colnames[i]);
		proto_put_u32(&b, res->coltypes[i]);
	}
	proto_put_u32(&b, res->nrows);
	for (size_t i = 0; i < ncells; i++)
		proto_put_cell(&b, res->cells[i], res->lens[i]);
	check(proto_end(&b, start) == 0);
	check(proto_next(b.data, b.len, &g, &used) == 1 && used == b.len);
	check(proto_decode_result(&g, &again) == 0);
	check(again.changes == res->changes && again.ncols == res->ncols &&
	    again.nrows == res->nrows);
	for (size_t i = 0; i < res->ncols; i++)
		check(strcmp(again.colnames[i], res->colnames[i]) == 0 &&
		    again.coltypes[i] == res->coltypes[i]);
	for (size_t i = 0; i < ncells; i++) {
		check(again.lens[i] == res->lens[i]);
		check((again.cells[i] == NULL) == (res->cells[i] == NULL));
		if (res->cells[i])
			check(memcmp(again.cells[i], res->cells[i],
			    (size_t)res->lens[i]) == 0);
	}
	proto_result_free(&again);
	proto_buf_free(&b);
}

static void
decode_result(const struct proto_frame *f)
{
	struct proto_result res;
	size_t ncells;

	if (proto_decode_result(f, &res) < 0) {
		check(res.colnames == NULL && res.cells == NULL && res.ncols == 0);
		return;
	}
	ncells = (size_t)res.ncols * res.nrows;
	for (size_t i = 0; i < res.ncols; i++)
		check_inside(f, res.colnames[i], strlen(res.colnames[i]));
	for (size_t i = 0; i < ncells; i++) {
		check(res.lens[i] >= -1);
		check((res.lens[i] == -1) == (res.cells[i] == NULL));
		if (res.cells[i])
			check_inside(f, res.cells[i], (size_t)res.lens[i]);
	}
	result_roundtrip(f, &res);
	proto_result_free(&res);
}

static void
decode_error(const struct proto_frame *f, const uint8_t *raw, size_t size)
{
	struct proto_error e;
	struct proto_buf b;

	if (proto_decode_error(f, &e) < 0) {
		check(e.sqlstate == NULL && e.message == NULL);
		return;
	}
	check(e.kind >= PE_SQL && e.kind <= PE_UNAVAILABLE);
	check(strcmp(proto_err_name(e.kind), "unknown") != 0);
	check_inside(f, e.sqlstate, strlen(e.sqlstate));
	check_inside(f, e.message, strlen(e.message));
	/* proto_encode_error() writes C strings and cuts long messages, so
	 * only a frame it could have written comes back byte for byte. */
	proto_buf_init(&b);
	proto_encode_error(&b, f->id, e.kind, e.sqlstate, e.message);
	if (strlen(e.message) <= 8192 &&
	    size == (size_t)PROTO_HEADER_SIZE + 1 + 4 + strlen(e.sqlstate) + 1 + 4 +
	    strlen(e.message) + 1)
		check(b.len == size && memcmp(b.data, raw, size) == 0);
	proto_buf_free(&b);
}

/* QUERY, as broker/broker.c handle_query() reads it. */
static void
decode_query(const struct proto_frame *f, const uint8_t *raw, size_t size)
{
	static const char *vals[PROTO_MAX_PARAMS];
	static int32_t lens[PROTO_MAX_PARAMS];
	struct proto_reader r;
	struct proto_buf b;
	const char *sql;
	uint32_t sqllen;
	uint64_t lease;
	uint8_t flags;
	uint16_t n, i;
	size_t start;

	proto_reader_init(&r, f);
	lease = proto_get_u64(&r);
	flags = proto_get_u8(&r);
	sql = proto_get_str(&r, &sqllen);
	n = proto_get_u16(&r);
	if (r.err || n > PROTO_MAX_PARAMS)
		return;
	check_inside(f, sql, sqllen);
	for (i = 0; i < n; i++) {
		if (proto_get_cell(&r, &vals[i], &lens[i]) < 0)
			return;
		if (vals[i])
			check_inside(f, vals[i], (size_t)lens[i]);
	}
	if (proto_reader_done(&r) < 0)
		return;
	proto_buf_init(&b);
	start = proto_begin(&b, PT_QUERY, f->id);
	proto_put_u64(&b, lease);
	proto_put_u8(&b, flags);
	proto_put_strn(&b, sql, sqllen);
	proto_put_u16(&b, n);
	for (i = 0; i < n; i++)
		proto_put_cell(&b, vals[i], vals[i] ? lens[i] : -1);
	check_same(raw, size, &b, start);
	proto_buf_free(&b);
}

/* STATS_REPLY: u16 n, n x (str name, i64 value). */
static void
decode_stats(const struct proto_frame *f, const uint8_t *raw, size_t size)
{
	struct proto_reader r;
	struct proto_buf b;
	size_t start;
	uint16_t n;

	proto_reader_init(&r, f);
	proto_buf_init(&b);
	n = proto_get_u16(&r);
	start = proto_begin(&b, PT_STATS_REPLY, f->id);
	proto_put_u16(&b, n);
	for (uint16_t i = 0; i < n && !r.err; i++) {
		uint32_t len;
		const char *name = proto_get_str(&r, &len);
		int64_t v = proto_get_i64(&r);

		if (name == NULL)
			break;
		check_inside(f, name, len);
		proto_put_strn(&b, name, len);
		proto_put_i64(&b, v);
	}
	if (proto_reader_done(&r) == 0)
		check_same(raw, size, &b, start);
	proto_buf_free(&b);
}

/* The fixed-size messages: the integer widths of each, in order. */
static void
decode_fixed(const struct proto_frame *f, const uint8_t *raw, size_t size,
	     const int *widths, int nwidths)
{
	struct proto_reader r;
	struct proto_buf b;
	size_t start;

	proto_reader_init(&r, f);
	proto_buf_init(&b);
	start = proto_begin(&b, (enum proto_type)f->type, f->id);
	for (int i = 0; i < nwidths; i++) {
		switch (widths[i]) {
		case 1: proto_put_u8(&b, proto_get_u8(&r)); break;
		case 4: proto_put_u32(&b, proto_get_u32(&r)); break;
		case 8: proto_put_u64(&b, proto_get_u64(&r)); break;
		}
	}
	if (proto_reader_done(&r) == 0)
		check_same(raw, size, &b, start);
	proto_buf_free(&b);
}

static void
decode_frame(const struct proto_frame *f, const uint8_t *raw, size_t size)
{
	static const int hello[] = { 4, 4 }, hello_ok[] = { 4, 1 }, begin[] = { 1 },
	    lease[] = { 8 }, end[] = { 8, 1 };

	check(strcmp(proto_type_name(f->type), "UNKNOWN") != 0);
	switch (f->type) {
	case PT_HELLO: decode_fixed(f, raw, size, hello, 2); break;
	case PT_HELLO_OK: decode_fixed(f, raw, size, hello_ok, 2); break;
	case PT_QUERY: decode_query(f, raw, size); break;
	case PT_RESULT: decode_result(f); break;
	case PT_ERROR: decode_error(f, raw, size); break;
	case PT_BEGIN: decode_fixed(f, raw, size, begin, 1); break;
	case PT_LEASE: decode_fixed(f, raw, size, lease, 1); break;
	case PT_END: decode_fixed(f, raw, size, end, 2); break;
	case PT_STATS: decode_fixed(f, raw, size, NULL, 0); break;
	case PT_STATS_REPLY: decode_stats(f, raw, size); break;
	}
	/* Both decoders refuse a frame of the other types. */
	if (f->type != PT_RESULT) {
		struct proto_result res;

		check(proto_decode_result(f, &res) < 0);
	}
	if (f->type != PT_ERROR) {
		struct proto_error e;

		check(proto_decode_error(f, &e) < 0);
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct proto_frame f, g;
	size_t used, used2;
	int rc;

	while (size > 0) {
		rc = proto_next(data, size, &f, &used);
		/* A prefix of a frame that is taken is never refused, and a
		 * refused prefix means a refused frame. */
		for (size_t k = 0; k < (rc == 1 ? used : size) && k <= PROTO_HEADER_SIZE; k++) {
			int prc = proto_next(data, k, &g, &used2);

			check(rc != 1 || prc == 0);
			check(prc != -1 || rc == -1);
		}
		if (rc <= 0)
			break;
		check(used >= PROTO_HEADER_SIZE && used <= size);
		check(f.payload == data + PROTO_HEADER_SIZE &&
		    f.len == used - PROTO_HEADER_SIZE);
		decode_frame(&f, data, used);
		data += used;
		size -= used;
	}
	return 0;
}
