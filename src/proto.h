/*
 * proto.h -- the worker <-> broker wire protocol, shared by both sides.
 *
 * Workers talk to the broker over one Unix stream socket each
 * (runtime_dir/broker.sock).  Traffic is a sequence of frames:
 *
 *	u32 length	bytes after this field (so >= 5)
 *	u32 id		request id chosen by the worker; replies echo it
 *	u8  type	enum proto_type
 *	... payload	length - 5 bytes
 *
 * Integers are little-endian.  A string is u32 n, n bytes, then a NUL that
 * the decoder checks, so decoded strings are C strings pointing into the
 * frame (no copy).  A cell (a parameter or a result value) is i32 n, with
 * -1 for SQL NULL, else n bytes and a NUL.  Values travel in PostgreSQL's
 * text format.
 *
 * Many requests may be in flight on one socket; the broker answers each
 * with exactly one reply frame carrying the same id, in any order.  A frame
 * longer than PROTO_MAX_FRAME, of an unknown type, or whose payload does not
 * decode exactly is a protocol error: the receiver drops the connection
 * (the broker then rolls back that worker's leases).
 *
 * Messages (w = worker, b = broker):
 *
 *  HELLO      w->b  u32 version, u32 worker pid
 *  HELLO_OK   b->w  u32 version, u8 engine (enum db_engine)
 *  QUERY      w->b  u64 lease (0: borrow any idle connection), u8 flags
 *                   (PQF_*), str sql, u16 nparams, nparams cells.  Without
 *                   flags the statement is prepared once per server
 *                   connection and reused; PQF_CUSTOM_PLAN sends it
 *                   unnamed instead, so PostgreSQL plans it with the actual
 *                   parameters every time (for queries whose best plan
 *                   depends on them, where a cached generic plan is slow)
 *  RESULT     b->w  u64 rows changed, u16 ncols, ncols x (str name,
 *                   u32 type oid), u32 nrows, nrows*ncols cells (row-major)
 *  ERROR      b->w  u8 kind (enum proto_err), str sqlstate ("" if none),
 *                   str message
 *  BEGIN      w->b  u8 flags (reserved, 0)           -> LEASE or ERROR
 *  LEASE      b->w  u64 lease id (never 0)
 *  END        w->b  u64 lease, u8 commit (1) or rollback (0)
 *                   -> RESULT (no columns) or ERROR
 *  STATS      w->b  (empty)                          -> STATS_REPLY
 *  STATS_REPLY b->w u16 n, n x (str name, i64 value)
 *
 * Live events (docs/API.md "Live events"; broker/hub.h has the design):
 *
 *  SUBSCRIBE  w->b  u64 group, u64 user, u32 limit, u8 flags (PSF_*)
 *                   -> SUBSCRIBED.  One per open stream: the broker counts
 *                   a user's streams across its workers and refuses one
 *                   past limit (PSF_RESUME: counted, never refused)
 *  SUBSCRIBED b->w  u8 accepted (1, or 0 over the limit), u32 the user's
 *                   streams afterwards
 *  UNSUBSCRIBE w->b u64 group, u64 user  (one-way: no reply)
 *  PUBLISH    w->b  event (below)        (one-way: no reply)
 *  EVENT      b->w  event, id 0: an event for a group this worker has a
 *                   stream of, sent without being asked
 *  REVOKE     w->b  u64 user, u64 session, u64 token  (one-way: no reply).
 *                   A credential ended (a token revoked, a session ended,
 *                   an account deleted): the streams it opened must close.
 *                   0 matches any; not all three are 0
 *  REVOKED    b->w  the same, id 0: sent to every worker, asked or not,
 *                   since a stream's credential is not what the broker
 *                   keeps track of
 *
 * An event is u64 group, u8 kind (enum proto_event_kind), i64 ref, str
 * data.  ref is the activity id of an activity event, the user who left
 * of a roster event (-1: the group is gone, 0: nobody left), else 0.  data
 * is the event's JSON text, or "" when the receiver loads it by ref.
 *
 * Reply to HELLO with a version other than PROTO_VERSION: ERROR kind
 * PE_PROTOCOL, then the broker closes the connection.
 */
#ifndef COFFER_PROTO_H
#define COFFER_PROTO_H

#include <stddef.h>
#include <stdint.h>

#define PROTO_VERSION		1
#define PROTO_HEADER_SIZE	9
#define PROTO_MAX_FRAME		(32u << 20)	/* length field limit */
#define PROTO_MAX_PARAMS	1000

enum proto_type {
	PT_HELLO = 1,
	PT_HELLO_OK = 2,
	PT_QUERY = 3,
	PT_RESULT = 4,
	PT_ERROR = 5,
	PT_BEGIN = 6,
	PT_LEASE = 7,
	PT_END = 8,
	PT_STATS = 9,
	PT_STATS_REPLY = 10,
	PT_SUBSCRIBE = 11,
	PT_SUBSCRIBED = 12,
	PT_UNSUBSCRIBE = 13,
	PT_PUBLISH = 14,
	PT_EVENT = 15,
	PT_REVOKE = 16,
	PT_REVOKED = 17,
};
#define PT_MAX PT_REVOKED

/* SUBSCRIBE flags */
#define PSF_RESUME	0x01	/* re-sent after the link came back: never refused */

/* What a live event is about (docs/API.md "Live events"). */
enum proto_event_kind {
	PEV_VAULT = 1,
	PEV_ACTIVITY = 2,
	PEV_ROSTER = 3,
	PEV_PRESENCE = 4,
};
#define PEV_MAX PEV_PRESENCE

/* Longest data of one event (the SSE line it becomes). */
#define PROTO_EVENT_DATA_MAX	(64u << 10)

/* QUERY flags */
#define PQF_SCRIPT	0x01	/* simple-protocol script: no params, not prepared */
#define PQF_CUSTOM_PLAN	0x02	/* unnamed statement, planned for these very values */

enum proto_err {
	PE_SQL = 1,		/* the server rejected the statement; sqlstate set */
	PE_POOL_TIMEOUT = 2,	/* no connection free within pool_timeout */
	PE_LEASE_TIMEOUT = 3,	/* the lease outlived lease_timeout; rolled back */
	PE_NO_LEASE = 4,	/* unknown, ended or foreign lease id */
	PE_CONNECTION = 5,	/* the server connection broke during the call */
	PE_SHUTDOWN = 6,	/* the broker is stopping */
	PE_PROTOCOL = 7,	/* malformed request */
	PE_UNAVAILABLE = 8,	/* no server connection could be opened */
};

const char *proto_type_name(int type);
const char *proto_err_name(int kind);

/* ---- writing ---- */

struct proto_buf {
	uint8_t *data;
	size_t len;
	size_t cap;
};

void proto_buf_init(struct proto_buf *b);
void proto_buf_free(struct proto_buf *b);
void proto_buf_reset(struct proto_buf *b);	/* len = 0, keeps memory */

/* Start a frame at the end of b; returns its offset for proto_end(). */
size_t proto_begin(struct proto_buf *b, enum proto_type type, uint32_t id);
void proto_put_u8(struct proto_buf *b, uint8_t v);
void proto_put_u16(struct proto_buf *b, uint16_t v);
void proto_put_u32(struct proto_buf *b, uint32_t v);
void proto_put_u64(struct proto_buf *b, uint64_t v);
void proto_put_i64(struct proto_buf *b, int64_t v);
void proto_put_str(struct proto_buf *b, const char *s);	/* NULL = "" */
void proto_put_strn(struct proto_buf *b, const char *s, size_t n);
void proto_put_cell(struct proto_buf *b, const char *v, int32_t n); /* v NULL: SQL NULL */
/* Patch the length of the frame started at start.  Returns 0, or -1 when
 * the frame exceeds PROTO_MAX_FRAME, in which case it is removed from b. */
int proto_end(struct proto_buf *b, size_t start);

/* ---- reading ---- */

struct proto_frame {
	uint32_t id;
	uint8_t type;
	const uint8_t *payload;
	uint32_t len;		/* payload bytes */
};

/*
 * Look for one complete frame at the start of data.  Returns 1 with *f set
 * and *consumed = its total size; 0 when more bytes are needed; -1 when the
 * bytes cannot be a valid frame (length < 5 or > PROTO_MAX_FRAME, unknown
 * type).  f->payload points into data.
 */
int proto_next(const uint8_t *data, size_t avail, struct proto_frame *f,
	       size_t *consumed);

/* A cursor over a payload.  Getters past the end set err and return 0/NULL;
 * check proto_reader_done() once at the end. */
struct proto_reader {
	const uint8_t *p;
	const uint8_t *end;
	int err;
};

void proto_reader_init(struct proto_reader *r, const struct proto_frame *f);
uint8_t proto_get_u8(struct proto_reader *r);
uint16_t proto_get_u16(struct proto_reader *r);
uint32_t proto_get_u32(struct proto_reader *r);
uint64_t proto_get_u64(struct proto_reader *r);
int64_t proto_get_i64(struct proto_reader *r);
const char *proto_get_str(struct proto_reader *r, uint32_t *len); /* len may be NULL */
/* Returns 0 and *v (NULL for SQL NULL) / *n (-1 for NULL); -1 on error. */
int proto_get_cell(struct proto_reader *r, const char **v, int32_t *n);
/* 0 when no getter failed and every byte was consumed, else -1. */
int proto_reader_done(const struct proto_reader *r);

/* ---- whole messages used on both sides ---- */

struct proto_result {
	uint64_t changes;
	uint16_t ncols;
	uint32_t nrows;
	const char **colnames;		/* ncols, into the frame */
	uint32_t *coltypes;		/* ncols, PostgreSQL type oids */
	const char **cells;		/* nrows * ncols, NULL = SQL NULL */
	int32_t *lens;			/* nrows * ncols, -1 = SQL NULL */
};

/* Decode a RESULT frame.  The strings point into f's bytes, which must
 * outlive out.  Returns 0, or -1 when malformed (out is then freed). */
int proto_decode_result(const struct proto_frame *f, struct proto_result *out);
void proto_result_free(struct proto_result *r);

struct proto_error {
	uint8_t kind;
	const char *sqlstate;
	const char *message;
};

int proto_decode_error(const struct proto_frame *f, struct proto_error *out);
void proto_encode_error(struct proto_buf *b, uint32_t id, enum proto_err kind,
			const char *sqlstate, const char *message);


struct proto_event {
	uint64_t group_id;
	uint8_t kind;			/* enum proto_event_kind */
	int64_t ref;
	const char *data;		/* JSON text or ""; into the frame */
	uint32_t len;
};

/* Append a PUBLISH or EVENT frame (id 0) of ev.  0, or -1 when data is
 * longer than PROTO_EVENT_DATA_MAX (nothing appended). */
int proto_encode_event(struct proto_buf *b, enum proto_type type,
		       const struct proto_event *ev);
/* Decode a PUBLISH or EVENT frame.  0, or -1 when malformed (an unknown
 * kind, data too long or not a C string). */
int proto_decode_event(const struct proto_frame *f, struct proto_event *out);

const char *proto_event_name(int kind);	/* "vault"... or NULL */

/* A credential that ended; 0 matches any (REVOKE, REVOKED). */
struct proto_revoke {
	uint64_t user_id;
	uint64_t session_id;
	uint64_t token_id;
};

/* Append a REVOKE or REVOKED frame (id 0) of rv.  0, or -1 when all three
 * ids are 0 (it would match every stream; nothing appended). */
int proto_encode_revoke(struct proto_buf *b, enum proto_type type,
			const struct proto_revoke *rv);
/* Decode a REVOKE or REVOKED frame.  0, or -1 when malformed. */
int proto_decode_revoke(const struct proto_frame *f, struct proto_revoke *out);

#endif
