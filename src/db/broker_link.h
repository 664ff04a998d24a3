/*
 * broker_link.h -- a worker's connection to the broker.
 *
 * One Unix stream socket per worker carries every request of every
 * coroutine, each frame tagged with its own id.  broker_link_call() sends a
 * frame and yields the calling coroutine; the reply (matched by id) resumes
 * it.  If the link drops, every waiting call fails at once with
 * PE_UNAVAILABLE (the request answers 503) and the link reconnects with
 * back-off; a timer is armed only while disconnected.
 *
 * Live events use the same socket: one-way frames (PUBLISH, UNSUBSCRIBE)
 * go out with broker_link_send(), and EVENT frames the broker sends
 * unasked go to the callback given to broker_link_events(), on the event
 * loop.  Since the broker forgets a worker's subscriptions when the link
 * drops, the same hook is told each time a handshake completes, to
 * subscribe again.  REVOKED frames (a credential ended) go to their own
 * callback the same way.
 */
#ifndef COFFER_BROKER_LINK_H
#define COFFER_BROKER_LINK_H

#include <stdint.h>

#include "src/proto.h"

struct event_base;

struct broker_reply {
	uint8_t *data;			/* the whole frame; free with broker_reply_free */
	struct proto_frame frame;
};

/* on_up, if not NULL, runs once: when the first handshake completes. */
void broker_link_start(struct event_base *base, const char *socket_path,
		       void (*on_up)(void));
void broker_link_stop(void);
int broker_link_up(void);	/* connected and past the handshake */

/* An id for the next frame. */
uint32_t broker_link_next_id(void);

/*
 * From a coroutine: send the frame(s) in buf, whose reply carries id, and
 * wait for it.  Returns 0 with *out set, or -1 when the link is down or
 * dropped before the reply came (nothing to free then).
 */
int broker_link_call(const struct proto_buf *buf, uint32_t id, struct broker_reply *out);
void broker_reply_free(struct broker_reply *r);

/* Queue the frame(s) in buf, which expect no reply.  0, or -1 when the
 * link is down (nothing sent). */
int broker_link_send(const struct proto_buf *buf);

/* on_event gets each EVENT frame (ev points into it: copy what is kept);
 * on_up runs after every handshake, the first one included. */
void broker_link_events(void (*on_event)(const struct proto_event *ev),
			void (*on_up)(void));
/* on_revoked gets each REVOKED frame, on the event loop. */
void broker_link_revocations(void (*on_revoked)(const struct proto_revoke *rv));

#endif
