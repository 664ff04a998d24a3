/*
 * routes_events.c -- a group's live events (docs/API.md "Live events").
 *
 * One route, for members (web session or plugin token; a stranger gets
 * 404 from the router like for every group route), behind the "events"
 * feature flag.  The stream itself is worker/events.c's: this file reads
 * the request.  HEAD answers the headers alone, since a stream that never
 * ends has no length to report.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>

#include <event2/http.h>

#include "worker/events.h"
#include "worker/flags.h"
#include "worker/router.h"
#include "worker/routes.h"

/* Last-Event-ID as the id to replay after, or -1 when absent or not an
 * id this server gives (then the stream starts from now). */
static int64_t
last_event_id(struct req *r)
{
	const char *h = evhttp_find_header(evhttp_request_get_input_headers(r->ev),
	    "Last-Event-ID");
	long long v;
	char *end;

	if (h == NULL || *h < '0' || *h > '9')
		return -1;
	errno = 0;
	v = strtoll(h, &end, 10);
	return errno || *end != '\0' ? -1 : (int64_t)v;
}

static void
group_events(struct req *r)
{
	if (flags_require(r, "events") < 0)
		return;
	if (r->method == EVHTTP_REQ_HEAD) {
		evhttp_add_header(evhttp_request_get_output_headers(r->ev), "Cache-Control",
		    "no-store");
		http_reply_raw(r, 200, "text/event-stream", "", 0);
		return;
	}
	events_stream(r, last_event_id(r));
}

const struct route routes_events[] = {
	{ EVHTTP_REQ_GET, "/api/v1/groups/{id}/events", MAIN, USER, MEMBER, group_events },
	{ 0 },
};
