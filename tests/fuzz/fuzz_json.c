/*
 * fuzz_json.c -- libFuzzer target: the JSON request decoders.
 *
 * The input is a request body sent with Content-Type: application/json.
 * It goes through validate_body() (worker/validate.c), as every handler
 * does first, and a body it takes goes through each decoder of the sync
 * writes (worker/sync_decode.c): a container PUT and PATCH, a skills PUT,
 * an activity POST and a batch.  They answer a bad body themselves, so the
 * request is a real evhttp request without a connection; this file
 * provides evhttp_send_reply(), which the program's own definition takes
 * over from libevent's, to catch the answer instead of sending it (without
 * a connection libevent would free the request).
 *
 * Besides not crashing, the decoders must keep their promises
 * (worker/validate.h, worker/sync_decode.h): a failure is answered exactly
 * once, with the error shape of docs/API.md "Errors" (a JSON object whose
 * error.code matches the status and whose error.message is a string); a
 * success answers nothing and hands back values inside their bounds.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>

#include <event2/buffer.h>
#include <event2/http.h>
#include <jansson.h>

#include "worker/http.h"
#include "worker/sync_decode.h"

#define FUZZ_EVENTS_MAX 100	/* [limits] activity_per_request, by default */
#include "worker/validate.h"

#define MAX_ITEMS 16	/* [limits] max_container_items, small to reach it */

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct {
	int n;			/* answers given */
	int status;
	char body[2048];
	size_t len;
} answer;

/* A broken promise is a bug like a crash: abort, so libFuzzer keeps the
 * input. */
static void
check(int ok)
{
	if (!ok)
		abort();
}

/* Takes the place of libevent's (see above): record, send nothing. */
void
evhttp_send_reply(struct evhttp_request *req, int code, const char *reason,
		  struct evbuffer *databuf)
{
	size_t len = databuf ? evbuffer_get_length(databuf) : 0;

	(void)req;
	(void)reason;
	answer.n++;
	answer.status = code;
	answer.len = len < sizeof(answer.body) ? len : sizeof(answer.body);
	if (answer.len)
		evbuffer_copyout(databuf, answer.body, answer.len);
}

static void
forget_answer(struct req *r)
{
	memset(&answer, 0, sizeof(answer));
	r->status = 0;
}

/* The request failed: exactly one answer, status want (0: any 4xx), in the
 * error shape. */
static void
check_refused(struct req *r, int want)
{
	json_t *body, *code, *msg;

	check(answer.n == 1 && r->status == answer.status);
	check(want ? answer.status == want : answer.status >= 400 && answer.status < 500);
	check(answer.len < sizeof(answer.body));
	body = json_loadb(answer.body, answer.len, 0, NULL);
	check(body != NULL);
	code = json_object_get(json_object_get(body, "error"), "code");
	msg = json_object_get(json_object_get(body, "error"), "message");
	check(json_is_string(code) &&
	    strcmp(json_string_value(code), http_error_code(answer.status)) == 0);
	check(json_is_string(msg) && json_string_length(msg) > 0);
	json_decref(body);
	forget_answer(r);
}

static void
check_accepted(struct req *r)
{
	check(answer.n == 0 && r->status == 0);
}

static void
check_items(const struct sync_item *items, int n, int delta)
{
	check(n >= 0 && n <= MAX_ITEMS);
	for (int i = 0; i < n; i++) {
		check(items[i].id >= 0 && items[i].id <= STORE_ITEM_ID_MAX);
		check(i == 0 || items[i - 1].id < items[i].id);
		if (!delta)
			check(items[i].qty >= 1 && items[i].qty <= STORE_QTY_MAX);
	}
}

static void
check_skills(const struct skill_xp *v, int n)
{
	check(n >= 0 && n <= STORE_SKILLS_MAX);
	for (int i = 0; i < n; i++) {
		check(store_skills_valid_name(v[i].skill));
		check(v[i].xp >= 0 && v[i].xp <= STORE_SKILL_XP_MAX);
	}
}

static void
state(struct req *r, json_t *body, int delta)
{
	struct sync_item *items = NULL;
	int64_t seq = -1;
	int n = -1;

	if (sync_decode_state(r, body, "", delta, MAX_ITEMS, &seq, &items, &n) < 0) {
		check(items == NULL);
		check_refused(r, 422);
		return;
	}
	check_accepted(r);
	check(seq >= 0);
	check_items(items, n, delta);
	free(items);
}

static void
skills(struct req *r, json_t *body)
{
	struct skill_xp *v = NULL;
	int64_t seq = -1;
	int n = -1;

	if (sync_decode_skills(r, body, "", &seq, &v, &n) < 0) {
		check(v == NULL);
		check_refused(r, 422);
		return;
	}
	check_accepted(r);
	check(seq >= 0);
	check_skills(v, n);
	free(v);
}

static void
events(struct req *r, json_t *body)
{
	struct sync_events ev;

	if (sync_decode_events(r, body, FUZZ_EVENTS_MAX, &ev) < 0) {
		check_refused(r, 422);
	} else {
		check_accepted(r);
		check(ev.n >= 0 && ev.n <= FUZZ_EVENTS_MAX);
		for (int i = 0; i < ev.n; i++)
			check(ev.kinds[i] != NULL && strlen(ev.kinds[i]) <= SYNC_EVENT_KIND_MAX &&
			    (ev.datas[i] == NULL || json_is_object(ev.datas[i])));
	}
	sync_events_free(&ev);
}

static void
batch(struct req *r, json_t *body)
{
	struct store_sync_batch b;
	const char *name = NULL;

	if (sync_decode_batch(r, body, MAX_ITEMS, &name, &b) < 0) {
		check_refused(r, 422);
	} else {
		check_accepted(r);
		check(name != NULL && name[0] != '\0');
		for (int i = 0; i < STORE_CONTAINERS_N; i++) {
			if (!b.containers[i].present)
				continue;
			check(b.containers[i].seq >= 0);
			check_items(b.containers[i].items, b.containers[i].n, 0);
		}
		if (b.has_skills)
			check_skills(b.skills, b.nskills);
	}
	sync_batch_free(&b);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct req r;
	json_t *body;

	memset(&r, 0, sizeof(r));
	TAILQ_INIT(&r.query);
	r.listener = LISTENER_MAIN;
	r.ev = evhttp_request_new(NULL, NULL);
	evhttp_add_header(evhttp_request_get_input_headers(r.ev), "Content-Type",
	    "application/json");
	evbuffer_add(evhttp_request_get_input_buffer(r.ev), data, size);
	forget_answer(&r);

	body = validate_body(&r);
	if (body == NULL) {
		check_refused(&r, 0);
	} else {
		check_accepted(&r);
		check(json_is_object(body));
		state(&r, body, 0);
		state(&r, body, 1);
		skills(&r, body);
		events(&r, body);
		batch(&r, body);
		json_decref(body);
	}
	evhttp_request_free(r.ev);
	return 0;
}
