/*
 * test_proto.c -- the worker <-> broker wire codec.
 *
 * Round trips every message type through proto_buf and proto_next, then
 * attacks the decoder: every truncation point of valid frames, bad
 * lengths and types, and hand-made payloads with lying counts.  The
 * decoder must answer -1 without crashing, reading out of bounds or
 * leaking, so this file is meant to run under ASan + UBSan.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "src/proto.h"
#include "tests/unit/test.h"
#include "src/util.h"

/* Parse exactly one whole frame from b; returns proto_next's answer. */
static int
one_frame(const struct proto_buf *b, struct proto_frame *f)
{
	size_t used = 0;
	int rc = proto_next(b->data, b->len, f, &used);

	if (rc == 1 && used != b->len)
		return -2;
	return rc;
}

/* A frame of the given type whose payload is raw bytes. */
static void
raw_frame(struct proto_buf *b, enum proto_type type, const void *p, size_t n)
{
	size_t start;
	size_t i;

	proto_buf_reset(b);
	start = proto_begin(b, type, 7);
	for (i = 0; i < n; i++)
		proto_put_u8(b, ((const uint8_t *)p)[i]);
	proto_end(b, start);
}

TEST(names)
{
	int t;

	for (t = 1; t <= PT_MAX; t++)
		CHECK(strcmp(proto_type_name(t), "UNKNOWN") != 0);
	CHECK_EQ_STR(proto_type_name(0), "UNKNOWN");
	CHECK_EQ_STR(proto_type_name(PT_QUERY), "QUERY");
	CHECK_EQ_STR(proto_err_name(PE_POOL_TIMEOUT), "pool_timeout");
	CHECK_EQ_STR(proto_err_name(99), "unknown");
}

TEST(header_layout)
{
	struct proto_buf b;
	size_t s;

	proto_buf_init(&b);
	s = proto_begin(&b, PT_LEASE, 0x01020304);
	proto_put_u64(&b, 0x1122334455667788ull);
	CHECK_EQ_INT(proto_end(&b, s), 0);
	CHECK_EQ_INT(b.len, 17);
	/* length = 13 bytes after the field, little-endian */
	CHECK(b.data[0] == 13 && b.data[1] == 0 && b.data[2] == 0 && b.data[3] == 0);
	CHECK(b.data[4] == 4 && b.data[5] == 3 && b.data[6] == 2 && b.data[7] == 1);
	CHECK(b.data[8] == PT_LEASE);
	CHECK(b.data[9] == 0x88 && b.data[16] == 0x11);
	proto_buf_free(&b);
}

TEST(hello_round_trip)
{
	struct proto_buf b;
	struct proto_frame f;
	struct proto_reader r;
	size_t s;

	proto_buf_init(&b);
	s = proto_begin(&b, PT_HELLO, 1);
	proto_put_u32(&b, PROTO_VERSION);
	proto_put_u32(&b, 4242);
	CHECK_EQ_INT(proto_end(&b, s), 0);
	CHECK_EQ_INT(one_frame(&b, &f), 1);
	CHECK_EQ_INT(f.type, PT_HELLO);
	CHECK_EQ_INT(f.id, 1);
	CHECK_EQ_INT(f.len, 8);
	proto_reader_init(&r, &f);
	CHECK_EQ_INT(proto_get_u32(&r), PROTO_VERSION);
	CHECK_EQ_INT(proto_get_u32(&r), 4242);
	CHECK_EQ_INT(proto_reader_done(&r), 0);

	proto_buf_reset(&b);
	CHECK_EQ_INT(b.len, 0);
	s = proto_begin(&b, PT_HELLO_OK, 1);
	proto_put_u32(&b, PROTO_VERSION);
	proto_put_u8(&b, 1);
	proto_end(&b, s);
	CHECK_EQ_INT(one_frame(&b, &f), 1);
	CHECK_EQ_INT(f.type, PT_HELLO_OK);
	proto_reader_init(&r, &f);
	CHECK_EQ_INT(proto_get_u32(&r), PROTO_VERSION);
	CHECK_EQ_INT(proto_get_u8(&r), 1);
	CHECK_EQ_INT(proto_reader_done(&r), 0);
	proto_buf_free(&b);
}

TEST(query_round_trip_params)
{
	static const char bin[] = { 'a', 0, 'b', (char)0xff, 0 };
	struct proto_buf b;
	struct proto_frame f;
	struct proto_reader r;
	const char *sql, *v;
	uint32_t sqllen;
	int32_t n;
	size_t s;
	int i;

	proto_buf_init(&b);
	s = proto_begin(&b, PT_QUERY, 99);
	proto_put_u64(&b, UINT64_MAX);
	proto_put_u8(&b, 0);
	proto_put_str(&b, "SELECT $1, $2, $3, $4");
	proto_put_u16(&b, 4);
	proto_put_cell(&b, NULL, 0);		/* SQL NULL */
	proto_put_cell(&b, "", 0);		/* empty, not NULL */
	proto_put_cell(&b, bin, sizeof(bin));	/* binary, embedded NULs */
	proto_put_cell(&b, "hello", -1);	/* strlen */
	CHECK_EQ_INT(proto_end(&b, s), 0);

	CHECK_EQ_INT(one_frame(&b, &f), 1);
	CHECK_EQ_INT(f.id, 99);
	proto_reader_init(&r, &f);
	CHECK(proto_get_u64(&r) == UINT64_MAX);
	CHECK_EQ_INT(proto_get_u8(&r), 0);
	sql = proto_get_str(&r, &sqllen);
	CHECK_EQ_STR(sql, "SELECT $1, $2, $3, $4");
	CHECK_EQ_INT(sqllen, strlen("SELECT $1, $2, $3, $4"));
	CHECK_EQ_INT(proto_get_u16(&r), 4);
	CHECK_EQ_INT(proto_get_cell(&r, &v, &n), 0);
	CHECK(v == NULL && n == -1);
	CHECK_EQ_INT(proto_get_cell(&r, &v, &n), 0);
	CHECK(v != NULL && n == 0 && v[0] == '\0');
	CHECK_EQ_INT(proto_get_cell(&r, &v, &n), 0);
	CHECK(n == (int32_t)sizeof(bin) && memcmp(v, bin, sizeof(bin)) == 0);
	CHECK(v[n] == '\0');
	CHECK_EQ_INT(proto_get_cell(&r, &v, &n), 0);
	CHECK_EQ_INT(n, 5);
	CHECK_EQ_STR(v, "hello");
	CHECK_EQ_INT(proto_reader_done(&r), 0);

	/* the most parameters a query may carry */
	proto_buf_reset(&b);
	s = proto_begin(&b, PT_QUERY, 100);
	proto_put_u64(&b, 0);
	proto_put_u8(&b, PQF_SCRIPT);
	proto_put_str(&b, NULL);			/* NULL = "" */
	proto_put_u16(&b, PROTO_MAX_PARAMS);
	for (i = 0; i < PROTO_MAX_PARAMS; i++) {
		char tmp[16];

		snprintf(tmp, sizeof(tmp), "%d", i);
		proto_put_cell(&b, i % 7 == 0 ? NULL : tmp, -1);
	}
	CHECK_EQ_INT(proto_end(&b, s), 0);
	CHECK_EQ_INT(one_frame(&b, &f), 1);
	proto_reader_init(&r, &f);
	CHECK(proto_get_u64(&r) == 0);
	CHECK_EQ_INT(proto_get_u8(&r), PQF_SCRIPT);
	CHECK_EQ_STR(proto_get_str(&r, &sqllen), "");
	CHECK_EQ_INT(sqllen, 0);
	CHECK_EQ_INT(proto_get_u16(&r), PROTO_MAX_PARAMS);
	for (i = 0; i < PROTO_MAX_PARAMS; i++) {
		char tmp[16];

		snprintf(tmp, sizeof(tmp), "%d", i);
		CHECK_EQ_INT(proto_get_cell(&r, &v, &n), 0);
		if (i % 7 == 0)
			CHECK(v == NULL && n == -1);
		else
			CHECK(v != NULL && strcmp(v, tmp) == 0);
	}
	CHECK_EQ_INT(proto_reader_done(&r), 0);
	proto_buf_free(&b);
}

/* Encode a RESULT of nrows x 3 columns; cell (i, j) is derived from i, j. */
static void
encode_result(struct proto_buf *b, uint32_t nrows)
{
	size_t s = proto_begin(b, PT_RESULT, 5);
	uint32_t i;

	proto_put_u64(b, nrows);
	proto_put_u16(b, 3);
	proto_put_str(b, "id");
	proto_put_u32(b, 20);
	proto_put_str(b, "");		/* anonymous column */
	proto_put_u32(b, 25);
	proto_put_str(b, "blob");
	proto_put_u32(b, 17);
	proto_put_u32(b, nrows);
	for (i = 0; i < nrows; i++) {
		char tmp[32];
		char bin[3] = { 0, (char)i, 0 };

		snprintf(tmp, sizeof(tmp), "%u", i);
		proto_put_cell(b, tmp, -1);
		proto_put_cell(b, i % 2 ? NULL : "", 0);
		proto_put_cell(b, bin, 3);
	}
	CHECK_EQ_INT(proto_end(b, s), 0);
}

static void
check_result(const struct proto_result *res, uint32_t nrows)
{
	uint32_t i;

	CHECK(res->changes == nrows);
	CHECK_EQ_INT(res->ncols, 3);
	CHECK_EQ_INT(res->nrows, nrows);
	CHECK_EQ_STR(res->colnames[0], "id");
	CHECK_EQ_STR(res->colnames[1], "");
	CHECK_EQ_STR(res->colnames[2], "blob");
	CHECK_EQ_INT(res->coltypes[0], 20);
	CHECK_EQ_INT(res->coltypes[1], 25);
	CHECK_EQ_INT(res->coltypes[2], 17);
	for (i = 0; i < nrows; i++) {
		char tmp[32];

		snprintf(tmp, sizeof(tmp), "%u", i);
		CHECK_EQ_STR(res->cells[i * 3], tmp);
		CHECK_EQ_INT(res->lens[i * 3], strlen(tmp));
		if (i % 2) {
			CHECK(res->cells[i * 3 + 1] == NULL);
			CHECK_EQ_INT(res->lens[i * 3 + 1], -1);
		} else {
			CHECK(res->cells[i * 3 + 1] != NULL);
			CHECK_EQ_INT(res->lens[i * 3 + 1], 0);
		}
		CHECK_EQ_INT(res->lens[i * 3 + 2], 3);
		CHECK(res->cells[i * 3 + 2][0] == 0 &&
		    (uint8_t)res->cells[i * 3 + 2][1] == (uint8_t)i);
	}
}

TEST(result_round_trip)
{
	static const uint32_t counts[] = { 0, 1, 2, 5000 };
	struct proto_buf b;
	struct proto_frame f;
	struct proto_result res;
	size_t k;

	proto_buf_init(&b);
	for (k = 0; k < ARRAY_SIZE(counts); k++) {
		proto_buf_reset(&b);
		encode_result(&b, counts[k]);
		CHECK_EQ_INT(one_frame(&b, &f), 1);
		CHECK_EQ_INT(proto_decode_result(&f, &res), 0);
		check_result(&res, counts[k]);
		if (counts[k] == 0)
			CHECK(res.cells == NULL && res.lens == NULL);
		proto_result_free(&res);
		CHECK(res.colnames == NULL && res.cells == NULL);
	}

	/* END's reply: no columns, no rows */
	proto_buf_reset(&b);
	{
		size_t s = proto_begin(&b, PT_RESULT, 6);

		proto_put_u64(&b, 0);
		proto_put_u16(&b, 0);
		proto_put_u32(&b, 0);
		proto_end(&b, s);
	}
	CHECK_EQ_INT(one_frame(&b, &f), 1);
	CHECK_EQ_INT(proto_decode_result(&f, &res), 0);
	CHECK(res.ncols == 0 && res.nrows == 0 && res.changes == 0);
	CHECK(res.colnames == NULL && res.cells == NULL);
	proto_result_free(&res);

	/* the wrong frame type is not a RESULT */
	raw_frame(&b, PT_ERROR, "", 0);
	CHECK_EQ_INT(one_frame(&b, &f), 1);
	CHECK_EQ_INT(proto_decode_result(&f, &res), -1);
	proto_buf_free(&b);
}

TEST(error_round_trip)
{
	struct proto_buf b;
	struct proto_frame f;
	struct proto_error e;
	char *big;

	proto_buf_init(&b);
	proto_encode_error(&b, 3, PE_SQL, "42601", "syntax error at or near \"SELEC\"");
	CHECK_EQ_INT(one_frame(&b, &f), 1);
	CHECK_EQ_INT(f.id, 3);
	CHECK_EQ_INT(proto_decode_error(&f, &e), 0);
	CHECK_EQ_INT(e.kind, PE_SQL);
	CHECK_EQ_STR(e.sqlstate, "42601");
	CHECK_EQ_STR(e.message, "syntax error at or near \"SELEC\"");

	proto_buf_reset(&b);
	proto_encode_error(&b, 4, PE_POOL_TIMEOUT, NULL, NULL);
	CHECK_EQ_INT(one_frame(&b, &f), 1);
	CHECK_EQ_INT(proto_decode_error(&f, &e), 0);
	CHECK_EQ_INT(e.kind, PE_POOL_TIMEOUT);
	CHECK_EQ_STR(e.sqlstate, "");
	CHECK_EQ_STR(e.message, "");

	/* a huge message is cut, never dropped */
	big = malloc(1 << 20);
	memset(big, 'x', (1 << 20) - 1);
	big[(1 << 20) - 1] = '\0';
	proto_buf_reset(&b);
	proto_encode_error(&b, 5, PE_CONNECTION, "", big);
	CHECK_EQ_INT(one_frame(&b, &f), 1);
	CHECK_EQ_INT(proto_decode_error(&f, &e), 0);
	CHECK(strlen(e.message) > 0 && strlen(e.message) < (1 << 20) - 1);
	free(big);

	/* kind out of range, and the wrong frame type */
	raw_frame(&b, PT_ERROR, "\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00", 11);
	CHECK_EQ_INT(one_frame(&b, &f), 1);
	CHECK_EQ_INT(proto_decode_error(&f, &e), -1);
	raw_frame(&b, PT_ERROR, "\x09\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00", 11);
	CHECK_EQ_INT(one_frame(&b, &f), 1);
	CHECK_EQ_INT(proto_decode_error(&f, &e), -1);
	raw_frame(&b, PT_ERROR, "\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00", 11);
	CHECK_EQ_INT(one_frame(&b, &f), 1);
	CHECK_EQ_INT(proto_decode_error(&f, &e), 0);
	raw_frame(&b, PT_RESULT, "\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00", 11);
	CHECK_EQ_INT(one_frame(&b, &f), 1);
	CHECK_EQ_INT(proto_decode_error(&f, &e), -1);
	proto_buf_free(&b);
}

TEST(lease_messages_round_trip)
{
	struct proto_buf b;
	struct proto_frame f;
	struct proto_reader r;
	size_t s, used, off;
	int n;

	/* BEGIN, LEASE, END and STATS back to back in one buffer */
	proto_buf_init(&b);
	s = proto_begin(&b, PT_BEGIN, 10);
	proto_put_u8(&b, 0);
	proto_end(&b, s);
	s = proto_begin(&b, PT_LEASE, 10);
	proto_put_u64(&b, 1ull << 40);
	proto_end(&b, s);
	s = proto_begin(&b, PT_END, 11);
	proto_put_u64(&b, 1ull << 40);
	proto_put_u8(&b, 1);
	proto_end(&b, s);
	s = proto_begin(&b, PT_STATS, 12);
	proto_end(&b, s);

	off = 0;
	n = 0;
	while (proto_next(b.data + off, b.len - off, &f, &used) == 1) {
		proto_reader_init(&r, &f);
		switch (n) {
		case 0:
			CHECK_EQ_INT(f.type, PT_BEGIN);
			CHECK_EQ_INT(f.id, 10);
			CHECK_EQ_INT(proto_get_u8(&r), 0);
			break;
		case 1:
			CHECK_EQ_INT(f.type, PT_LEASE);
			CHECK(proto_get_u64(&r) == 1ull << 40);
			break;
		case 2:
			CHECK_EQ_INT(f.type, PT_END);
			CHECK_EQ_INT(f.id, 11);
			CHECK(proto_get_u64(&r) == 1ull << 40);
			CHECK_EQ_INT(proto_get_u8(&r), 1);
			break;
		case 3:
			CHECK_EQ_INT(f.type, PT_STATS);
			CHECK_EQ_INT(f.len, 0);
			break;
		}
		CHECK_EQ_INT(proto_reader_done(&r), 0);
		off += used;
		n++;
	}
	CHECK_EQ_INT(n, 4);
	CHECK_EQ_INT(off, b.len);
	proto_buf_free(&b);
}

TEST(stats_reply_round_trip)
{
	struct proto_buf b;
	struct proto_frame f;
	struct proto_reader r;
	size_t s;

	proto_buf_init(&b);
	s = proto_begin(&b, PT_STATS_REPLY, 12);
	proto_put_u16(&b, 3);
	proto_put_str(&b, "size");
	proto_put_i64(&b, 4);
	proto_put_str(&b, "wait_usec_max");
	proto_put_i64(&b, INT64_MAX);
	proto_put_str(&b, "neg");
	proto_put_i64(&b, -5);
	proto_end(&b, s);
	CHECK_EQ_INT(one_frame(&b, &f), 1);
	proto_reader_init(&r, &f);
	CHECK_EQ_INT(proto_get_u16(&r), 3);
	CHECK_EQ_STR(proto_get_str(&r, NULL), "size");
	CHECK(proto_get_i64(&r) == 4);
	CHECK_EQ_STR(proto_get_str(&r, NULL), "wait_usec_max");
	CHECK(proto_get_i64(&r) == INT64_MAX);
	CHECK_EQ_STR(proto_get_str(&r, NULL), "neg");
	CHECK(proto_get_i64(&r) == -5);
	CHECK_EQ_INT(proto_reader_done(&r), 0);
	proto_buf_free(&b);
}

/* Every strict prefix of a valid frame needs more bytes. */
TEST(next_truncated_frames)
{
	struct proto_buf b;
	struct proto_frame f;
	size_t used, cut;
	int bad = 0;

	proto_buf_init(&b);
	encode_result(&b, 3);
	for (cut = 0; cut < b.len; cut++) {
		uint8_t *copy = malloc(cut ? cut : 1);	/* exact size for ASan */

		memcpy(copy, b.data, cut);
		if (proto_next(copy, cut, &f, &used) != 0)
			bad++;
		free(copy);
	}
	CHECK_EQ_INT(bad, 0);
	CHECK_EQ_INT(proto_next(b.data, b.len, &f, &used), 1);
	CHECK_EQ_INT(used, b.len);
	proto_buf_free(&b);
}

TEST(next_bad_frames)
{
	uint8_t h[PROTO_HEADER_SIZE + 4] = { 0 };
	struct proto_frame f;
	size_t used;
	uint32_t len;

	/* length < 5: rejected as soon as the length is readable */
	for (len = 0; len < 5; len++) {
		h[0] = (uint8_t)len;
		CHECK_EQ_INT(proto_next(h, 4, &f, &used), -1);
		CHECK_EQ_INT(proto_next(h, sizeof(h), &f, &used), -1);
	}
	/* length > PROTO_MAX_FRAME */
	len = PROTO_MAX_FRAME + 1;
	h[0] = (uint8_t)len;
	h[1] = (uint8_t)(len >> 8);
	h[2] = (uint8_t)(len >> 16);
	h[3] = (uint8_t)(len >> 24);
	CHECK_EQ_INT(proto_next(h, 4, &f, &used), -1);
	memset(h, 0xff, 4);
	CHECK_EQ_INT(proto_next(h, 4, &f, &used), -1);
	/* PROTO_MAX_FRAME itself is legal: just incomplete */
	len = PROTO_MAX_FRAME;
	h[0] = (uint8_t)len;
	h[1] = (uint8_t)(len >> 8);
	h[2] = (uint8_t)(len >> 16);
	h[3] = (uint8_t)(len >> 24);
	h[8] = PT_QUERY;
	CHECK_EQ_INT(proto_next(h, sizeof(h), &f, &used), 0);

	/* unknown types, judged from the header alone */
	memset(h, 0, sizeof(h));
	h[0] = 5;
	h[8] = 0;
	CHECK_EQ_INT(proto_next(h, PROTO_HEADER_SIZE, &f, &used), -1);
	h[8] = PT_MAX + 1;
	CHECK_EQ_INT(proto_next(h, PROTO_HEADER_SIZE, &f, &used), -1);
	h[8] = 255;
	CHECK_EQ_INT(proto_next(h, PROTO_HEADER_SIZE, &f, &used), -1);
	h[0] = 100;		/* incomplete, but the type is already wrong */
	CHECK_EQ_INT(proto_next(h, PROTO_HEADER_SIZE, &f, &used), -1);
	h[0] = 5;
	h[8] = PT_STATS;
	CHECK_EQ_INT(proto_next(h, PROTO_HEADER_SIZE, &f, &used), 1);
	CHECK_EQ_INT(used, PROTO_HEADER_SIZE);
	CHECK_EQ_INT(f.len, 0);
}

TEST(end_rejects_oversized)
{
	struct proto_buf b;
	size_t s, keep;
	char *big;
	struct proto_frame f;
	size_t used;

	proto_buf_init(&b);
	s = proto_begin(&b, PT_STATS, 1);
	proto_end(&b, s);
	keep = b.len;

	big = calloc(1, PROTO_MAX_FRAME);
	s = proto_begin(&b, PT_QUERY, 2);
	proto_put_u64(&b, 0);
	proto_put_u8(&b, 0);
	proto_put_strn(&b, big, PROTO_MAX_FRAME - 100);
	proto_put_strn(&b, big, 200);
	CHECK_EQ_INT(proto_end(&b, s), -1);
	CHECK_EQ_INT(b.len, keep);	/* removed, earlier frame intact */
	CHECK_EQ_INT(proto_next(b.data, b.len, &f, &used), 1);
	CHECK_EQ_INT(used, keep);

	/* exactly at the limit is fine: id+type+lease+flags+str = 19 + n */
	proto_buf_reset(&b);
	s = proto_begin(&b, PT_QUERY, 3);
	proto_put_u64(&b, 0);
	proto_put_u8(&b, 0);
	proto_put_strn(&b, big, PROTO_MAX_FRAME - 5 - 9 - 5);
	CHECK_EQ_INT(proto_end(&b, s), 0);
	CHECK_EQ_INT(b.len, (size_t)PROTO_MAX_FRAME + 4);
	CHECK_EQ_INT(one_frame(&b, &f), 1);
	free(big);
	proto_buf_free(&b);
}

/* Getters past the end latch the error and return zeros. */
TEST(reader_past_end)
{
	struct proto_frame f = { 0, PT_STATS, (const uint8_t *)"\x01\x02\x03", 3 };
	struct proto_reader r;
	const char *v;
	int32_t n;
	uint32_t len = 77;

	proto_reader_init(&r, &f);
	CHECK_EQ_INT(proto_get_u16(&r), 0x0201);
	CHECK_EQ_INT(proto_get_u16(&r), 0);
	CHECK(r.err);
	CHECK_EQ_INT(proto_get_u8(&r), 0);	/* latched even though 1 byte is left */
	CHECK(proto_get_str(&r, &len) == NULL);
	CHECK_EQ_INT(len, 0);
	CHECK_EQ_INT(proto_get_cell(&r, &v, &n), -1);
	CHECK_EQ_INT(proto_reader_done(&r), -1);

	/* all consumed but not done: trailing byte */
	proto_reader_init(&r, &f);
	proto_get_u16(&r);
	CHECK_EQ_INT(proto_reader_done(&r), -1);
	proto_get_u8(&r);
	CHECK_EQ_INT(proto_reader_done(&r), 0);
}

TEST(bad_strings_and_cells)
{
	struct proto_frame f = { 0, PT_QUERY, NULL, 0 };
	struct proto_reader r;
	const char *v;
	int32_t n;

	/* string without its NUL */
	f.payload = (const uint8_t *)"\x02\x00\x00\x00" "abX";
	f.len = 7;
	proto_reader_init(&r, &f);
	CHECK(proto_get_str(&r, NULL) == NULL);
	CHECK_EQ_INT(proto_reader_done(&r), -1);
	/* string length past the end */
	f.payload = (const uint8_t *)"\x09\x00\x00\x00" "ab";
	f.len = 7;
	proto_reader_init(&r, &f);
	CHECK(proto_get_str(&r, NULL) == NULL);
	/* string length 0xffffffff (n + 1 wraps in 32 bits) */
	f.payload = (const uint8_t *)"\xff\xff\xff\xff" "ab";
	f.len = 7;
	proto_reader_init(&r, &f);
	CHECK(proto_get_str(&r, NULL) == NULL);
	/* cell length -2 */
	f.payload = (const uint8_t *)"\xfe\xff\xff\xff";
	f.len = 4;
	proto_reader_init(&r, &f);
	CHECK_EQ_INT(proto_get_cell(&r, &v, &n), -1);
	CHECK(v == NULL);
	/* cell length INT32_MIN */
	f.payload = (const uint8_t *)"\x00\x00\x00\x80";
	proto_reader_init(&r, &f);
	CHECK_EQ_INT(proto_get_cell(&r, &v, &n), -1);
	/* cell past the end */
	f.payload = (const uint8_t *)"\x05\x00\x00\x00" "ab";
	f.len = 7;
	proto_reader_init(&r, &f);
	CHECK_EQ_INT(proto_get_cell(&r, &v, &n), -1);
	/* cell missing its NUL */
	f.payload = (const uint8_t *)"\x02\x00\x00\x00" "abc";
	f.len = 7;
	proto_reader_init(&r, &f);
	CHECK_EQ_INT(proto_get_cell(&r, &v, &n), -1);
	/* cell with a NUL-terminated body: fine */
	f.payload = (const uint8_t *)"\x02\x00\x00\x00" "ab";
	f.len = 7;
	proto_reader_init(&r, &f);
	CHECK_EQ_INT(proto_get_cell(&r, &v, &n), 0);
	CHECK_EQ_INT(n, 2);
	CHECK_EQ_INT(proto_reader_done(&r), 0);
}

/* Every truncation of a RESULT payload, and trailing garbage. */
TEST(result_truncated_and_trailing)
{
	struct proto_buf b;
	struct proto_frame f, g;
	struct proto_result res;
	uint8_t *copy;
	uint32_t cut;
	int bad = 0;

	proto_buf_init(&b);
	encode_result(&b, 4);
	CHECK_EQ_INT(one_frame(&b, &f), 1);
	for (cut = 0; cut < f.len; cut++) {
		copy = malloc(cut ? cut : 1);
		memcpy(copy, f.payload, cut);
		g = f;
		g.payload = copy;
		g.len = cut;
		if (proto_decode_result(&g, &res) != -1)
			bad++;
		if (res.cells != NULL || res.colnames != NULL)
			bad++;
		free(copy);
	}
	CHECK_EQ_INT(bad, 0);

	copy = malloc(f.len + 1);
	memcpy(copy, f.payload, f.len);
	copy[f.len] = 0;
	g = f;
	g.payload = copy;
	g.len = f.len + 1;
	CHECK_EQ_INT(proto_decode_result(&g, &res), -1);
	free(copy);
	proto_buf_free(&b);
}

/* Counts that promise more than the frame holds. */
TEST(result_lying_counts)
{
	struct proto_buf b;
	struct proto_frame f;
	struct proto_result res;
	size_t s;

	proto_buf_init(&b);
	/* ncols 65535 with nothing after */
	s = proto_begin(&b, PT_RESULT, 1);
	proto_put_u64(&b, 0);
	proto_put_u16(&b, 65535);
	proto_put_u32(&b, 0);
	proto_end(&b, s);
	CHECK_EQ_INT(one_frame(&b, &f), 1);
	CHECK_EQ_INT(proto_decode_result(&f, &res), -1);

	/* 65535 columns x 0xffffffff rows: 2^48 cells in a tiny frame */
	proto_buf_reset(&b);
	s = proto_begin(&b, PT_RESULT, 1);
	proto_put_u64(&b, 0);
	proto_put_u16(&b, 65535);
	for (int i = 0; i < 65535; i++) {
		proto_put_str(&b, "");
		proto_put_u32(&b, 0);
	}
	proto_put_u32(&b, UINT32_MAX);
	proto_put_cell(&b, "x", 1);
	proto_end(&b, s);
	CHECK_EQ_INT(one_frame(&b, &f), 1);
	CHECK_EQ_INT(proto_decode_result(&f, &res), -1);
	CHECK(res.colnames == NULL && res.cells == NULL);

	/* one column, nrows one more than the cells present */
	proto_buf_reset(&b);
	s = proto_begin(&b, PT_RESULT, 1);
	proto_put_u64(&b, 0);
	proto_put_u16(&b, 1);
	proto_put_str(&b, "a");
	proto_put_u32(&b, 23);
	proto_put_u32(&b, 3);
	proto_put_cell(&b, "1", 1);
	proto_put_cell(&b, NULL, 0);
	proto_put_u32(&b, 0xffffffff);	/* looks like a NULL cell ... */
	proto_put_u32(&b, 0xffffffff);	/* ... and one more: 3 cells, 1 extra */
	proto_end(&b, s);
	CHECK_EQ_INT(one_frame(&b, &f), 1);
	CHECK_EQ_INT(proto_decode_result(&f, &res), -1);	/* trailing */

	/* a cell length < -1 in the middle of a result */
	proto_buf_reset(&b);
	s = proto_begin(&b, PT_RESULT, 1);
	proto_put_u64(&b, 0);
	proto_put_u16(&b, 1);
	proto_put_str(&b, "a");
	proto_put_u32(&b, 23);
	proto_put_u32(&b, 2);
	proto_put_cell(&b, "1", 1);
	proto_put_u32(&b, (uint32_t)-7);
	proto_end(&b, s);
	CHECK_EQ_INT(one_frame(&b, &f), 1);
	CHECK_EQ_INT(proto_decode_result(&f, &res), -1);

	/* a column name without NUL */
	proto_buf_reset(&b);
	s = proto_begin(&b, PT_RESULT, 1);
	proto_put_u64(&b, 0);
	proto_put_u16(&b, 1);
	proto_put_u32(&b, 1);
	proto_put_u8(&b, 'a');
	proto_put_u8(&b, 'b');
	proto_put_u32(&b, 23);
	proto_put_u32(&b, 0);
	proto_end(&b, s);
	CHECK_EQ_INT(one_frame(&b, &f), 1);
	CHECK_EQ_INT(proto_decode_result(&f, &res), -1);
	proto_buf_free(&b);
}

TEST(error_truncated_and_trailing)
{
	struct proto_buf b;
	struct proto_frame f, g;
	struct proto_error e;
	uint8_t *copy;
	uint32_t cut;
	int bad = 0;

	proto_buf_init(&b);
	proto_encode_error(&b, 1, PE_SQL, "40001", "could not serialize access");
	CHECK_EQ_INT(one_frame(&b, &f), 1);
	for (cut = 0; cut < f.len; cut++) {
		copy = malloc(cut ? cut : 1);
		memcpy(copy, f.payload, cut);
		g = f;
		g.payload = copy;
		g.len = cut;
		if (proto_decode_error(&g, &e) != -1)
			bad++;
		free(copy);
	}
	CHECK_EQ_INT(bad, 0);
	copy = malloc(f.len + 3);
	memcpy(copy, f.payload, f.len);
	memcpy(copy + f.len, "abc", 3);
	g = f;
	g.payload = copy;
	g.len = f.len + 3;
	CHECK_EQ_INT(proto_decode_error(&g, &e), -1);
	free(copy);
	proto_buf_free(&b);
}

TEST(event_round_trip)
{
	static const char data[] = "{\"group_id\":7,\"character\":\"Zezima\"}";
	struct proto_event ev = { 7, PEV_VAULT, 0, data, sizeof(data) - 1 }, out;
	struct proto_buf b;
	struct proto_frame f;

	proto_buf_init(&b);
	CHECK_EQ_INT(proto_encode_event(&b, PT_PUBLISH, &ev), 0);
	CHECK_EQ_INT(one_frame(&b, &f), 1);
	CHECK_EQ_INT(f.type, PT_PUBLISH);
	CHECK_EQ_INT(f.id, 0);
	CHECK_EQ_INT(proto_decode_event(&f, &out), 0);
	CHECK(out.group_id == 7 && out.kind == PEV_VAULT && out.ref == 0);
	CHECK_EQ_INT(out.len, sizeof(data) - 1);
	CHECK_EQ_STR(out.data, data);

	/* A reference: no data, a negative ref survives. */
	proto_buf_reset(&b);
	ev = (struct proto_event){ UINT64_MAX, PEV_ROSTER, -1, NULL, 0 };
	CHECK_EQ_INT(proto_encode_event(&b, PT_EVENT, &ev), 0);
	CHECK_EQ_INT(one_frame(&b, &f), 1);
	CHECK_EQ_INT(proto_decode_event(&f, &out), 0);
	CHECK(out.group_id == UINT64_MAX && out.kind == PEV_ROSTER && out.ref == -1);
	CHECK_EQ_STR(out.data, "");
	CHECK_EQ_STR(proto_event_name(PEV_PRESENCE), "presence");
	CHECK(proto_event_name(0) == NULL);

	/* Another frame type is not an event. */
	proto_buf_reset(&b);
	raw_frame(&b, PT_STATS, "", 0);
	CHECK_EQ_INT(one_frame(&b, &f), 1);
	CHECK_EQ_INT(proto_decode_event(&f, &out), -1);
	proto_buf_free(&b);
}

TEST(event_refused)
{
	struct proto_event ev = { 1, PEV_ACTIVITY, 5, NULL, 0 }, out;
	struct proto_buf b;
	struct proto_frame f;
	char *big;
	size_t s;

	proto_buf_init(&b);
	/* Longer than an event may be: nothing written. */
	big = xmalloc(PROTO_EVENT_DATA_MAX + 2);
	memset(big, 'x', PROTO_EVENT_DATA_MAX + 1);
	big[PROTO_EVENT_DATA_MAX + 1] = '\0';
	ev.data = big;
	ev.len = PROTO_EVENT_DATA_MAX + 1;
	CHECK_EQ_INT(proto_encode_event(&b, PT_PUBLISH, &ev), -1);
	CHECK_EQ_INT(b.len, 0);
	free(big);

	/* An unknown kind, a line break or a NUL in the data. */
	{
		static const struct {
			uint8_t kind;
			const char *data;
			uint32_t len;
		} bad[] = {
			{ 0, "{}", 2 }, { PEV_MAX + 1, "{}", 2 },
			{ PEV_VAULT, "{\n}", 3 }, { PEV_VAULT, "{\r}", 3 },
			{ PEV_VAULT, "{\0}", 3 },
		};

		for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
			proto_buf_reset(&b);
			s = proto_begin(&b, PT_EVENT, 0);
			proto_put_u64(&b, 1);
			proto_put_u8(&b, bad[i].kind);
			proto_put_i64(&b, 0);
			proto_put_strn(&b, bad[i].data, bad[i].len);
			CHECK_EQ_INT(proto_end(&b, s), 0);
			CHECK_EQ_INT(one_frame(&b, &f), 1);
			CHECK_EQ_INT(proto_decode_event(&f, &out), -1);
			CHECK(out.data == NULL);
		}
	}
	proto_buf_free(&b);
}

TEST(event_truncated_and_trailing)
{
	struct proto_event ev = { 42, PEV_PRESENCE, 0, "{\"at\":1}", 8 }, out;
	struct proto_buf b;
	struct proto_frame f, g;
	uint8_t *copy;
	int bad = 0;

	proto_buf_init(&b);
	CHECK_EQ_INT(proto_encode_event(&b, PT_EVENT, &ev), 0);
	CHECK_EQ_INT(one_frame(&b, &f), 1);
	/* Every shorter payload is refused. */
	for (uint32_t n = 0; n < f.len; n++) {
		copy = malloc(n + 1);
		memcpy(copy, f.payload, n);
		g = f;
		g.payload = copy;
		g.len = n;
		if (proto_decode_event(&g, &out) != -1)
			bad++;
		free(copy);
	}
	CHECK_EQ_INT(bad, 0);
	/* And so is one with bytes after it. */
	copy = malloc(f.len + 1);
	memcpy(copy, f.payload, f.len);
	copy[f.len] = 0;
	g = f;
	g.payload = copy;
	g.len = f.len + 1;
	CHECK_EQ_INT(proto_decode_event(&g, &out), -1);
	free(copy);
	proto_buf_free(&b);
}

TEST(subscribe_round_trip)
{
	struct proto_buf b;
	struct proto_frame f;
	struct proto_reader r;
	size_t s;

	proto_buf_init(&b);
	s = proto_begin(&b, PT_SUBSCRIBE, 9);
	proto_put_u64(&b, 3);
	proto_put_u64(&b, 77);
	proto_put_u32(&b, 8);
	proto_put_u8(&b, PSF_RESUME);
	CHECK_EQ_INT(proto_end(&b, s), 0);
	s = proto_begin(&b, PT_SUBSCRIBED, 9);
	proto_put_u8(&b, 1);
	proto_put_u32(&b, 2);
	CHECK_EQ_INT(proto_end(&b, s), 0);
	{
		size_t used;

		CHECK_EQ_INT(proto_next(b.data, b.len, &f, &used), 1);
		CHECK_EQ_INT(f.type, PT_SUBSCRIBE);
		proto_reader_init(&r, &f);
		CHECK(proto_get_u64(&r) == 3 && proto_get_u64(&r) == 77);
		CHECK_EQ_INT(proto_get_u32(&r), 8);
		CHECK_EQ_INT(proto_get_u8(&r), PSF_RESUME);
		CHECK_EQ_INT(proto_reader_done(&r), 0);
		CHECK_EQ_INT(proto_next(b.data + used, b.len - used, &f, &used), 1);
		CHECK_EQ_INT(f.type, PT_SUBSCRIBED);
		CHECK_EQ_STR(proto_type_name(PT_SUBSCRIBED), "SUBSCRIBED");
		CHECK_EQ_STR(proto_type_name(PT_UNSUBSCRIBE), "UNSUBSCRIBE");
	}
	proto_buf_free(&b);
}

TEST(revoke_round_trip)
{
	static const uint8_t zeros[24];
	struct proto_revoke rv = { 12, 0, UINT64_MAX }, out;
	struct proto_buf b;
	struct proto_frame f, g;
	uint8_t *copy;
	int bad = 0;

	proto_buf_init(&b);
	CHECK_EQ_INT(proto_encode_revoke(&b, PT_REVOKE, &rv), 0);
	CHECK_EQ_INT(one_frame(&b, &f), 1);
	CHECK_EQ_INT(f.type, PT_REVOKE);
	CHECK_EQ_INT(f.id, 0);
	CHECK_EQ_INT(f.len, 24);
	CHECK_EQ_INT(proto_decode_revoke(&f, &out), 0);
	CHECK(out.user_id == 12 && out.session_id == 0 && out.token_id == UINT64_MAX);
	CHECK_EQ_STR(proto_type_name(PT_REVOKE), "REVOKE");
	CHECK_EQ_STR(proto_type_name(PT_REVOKED), "REVOKED");

	/* Every shorter payload is refused, and one with bytes after it. */
	for (uint32_t n = 0; n <= f.len + 1; n++) {
		if (n == f.len)
			continue;
		copy = calloc(1, n + 1);
		memcpy(copy, f.payload, n < f.len ? n : f.len);
		g = f;
		g.payload = copy;
		g.len = n;
		if (proto_decode_revoke(&g, &out) != -1)
			bad++;
		free(copy);
	}
	CHECK_EQ_INT(bad, 0);

	/* Matching every stream is not a revocation: not written, not read. */
	proto_buf_reset(&b);
	rv = (struct proto_revoke){ 0, 0, 0 };
	CHECK_EQ_INT(proto_encode_revoke(&b, PT_REVOKED, &rv), -1);
	CHECK_EQ_INT(b.len, 0);
	raw_frame(&b, PT_REVOKED, zeros, sizeof(zeros));
	CHECK_EQ_INT(one_frame(&b, &f), 1);
	CHECK_EQ_INT(proto_decode_revoke(&f, &out), -1);

	/* An event is not a revocation, nor the other way round. */
	proto_buf_reset(&b);
	rv = (struct proto_revoke){ 0, 5, 0 };
	CHECK_EQ_INT(proto_encode_revoke(&b, PT_REVOKED, &rv), 0);
	CHECK_EQ_INT(one_frame(&b, &f), 1);
	CHECK_EQ_INT(proto_decode_revoke(&f, &out), 0);
	CHECK(out.session_id == 5);
	{
		struct proto_event ev;

		CHECK_EQ_INT(proto_decode_event(&f, &ev), -1);
	}
	proto_buf_reset(&b);
	raw_frame(&b, PT_PUBLISH, "", 0);
	CHECK_EQ_INT(one_frame(&b, &f), 1);
	CHECK_EQ_INT(proto_decode_revoke(&f, &out), -1);
	proto_buf_free(&b);
}

int
main(void)
{
	RUN(names);
	RUN(header_layout);
	RUN(hello_round_trip);
	RUN(query_round_trip_params);
	RUN(result_round_trip);
	RUN(error_round_trip);
	RUN(lease_messages_round_trip);
	RUN(stats_reply_round_trip);
	RUN(next_truncated_frames);
	RUN(next_bad_frames);
	RUN(end_rejects_oversized);
	RUN(reader_past_end);
	RUN(bad_strings_and_cells);
	RUN(result_truncated_and_trailing);
	RUN(result_lying_counts);
	RUN(error_truncated_and_trailing);
	RUN(event_round_trip);
	RUN(event_refused);
	RUN(event_truncated_and_trailing);
	RUN(subscribe_round_trip);
	RUN(revoke_round_trip);
	return test_done();
}
