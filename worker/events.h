/*
 * events.h -- live events: a worker's Server-Sent Events streams, and the
 * calls that publish what a committed write changed (docs/API.md "Live
 * events").
 *
 * Publishing.  A handler whose store call committed a change a dashboard
 * shows calls one events_publish_*() right after it, never inside the
 * transaction, so no stream ever hears of a write that rolled back.  The
 * event goes to the broker (PUBLISH), which hands it to every worker with a
 * stream open for the group, on this host and, on PostgreSQL, on the
 * others (broker/hub.h).  An event names what changed; what needs the
 * database to show (the vault totals, the activity entry as the feed lists
 * it) is read by the receiving worker, once per worker however many
 * streams it has, and only by workers that have streams: a write nobody
 * watches costs one frame.
 *
 * Streams.  A stream is an evhttp request answered with a chunked 200
 * that never ends on its own; the handler's coroutine is gone once the
 * headers are out, so a stream costs a small struct, not a coroutine.
 * Streams are kept per group; everything written to them is written on
 * the worker's loop by one delivery coroutine that takes received events
 * (and new streams' replays) in arrival order, so a stream sees a group's
 * events in the order the broker passed them on.
 *
 * Event ids.  An activity event's id is its activity id.  Every other
 * event carries the newest activity id the stream has seen (at first the
 * group's newest entry when the stream opened), so whatever event a client
 * saw last, its Last-Event-ID names the activity it has: a reconnecting
 * stream first gets the entries after it (at most EVENTS_REPLAY_MAX, the
 * newest), then live events.
 *
 * Closing.  A stream ends when its client goes away (noticed at the next
 * write, the ping at the latest), when its user leaves or is removed from
 * the group or the group is deleted (a roster event), when it reads so
 * slowly that more than [events] max_buffer would be queued (dropped and
 * counted), and when the worker stops.  With streams open a worker arms
 * one timer, the ping ([events] ping_interval); with none, no timer.
 *
 * A stream also ends with the credential that opened it.  Each remembers
 * its user and the session or token the router found; a handler that
 * ends one (a token revoked, a logout or a session ended, the account
 * deleted) calls events_publish_revoked() after the commit, which the
 * broker hands to every worker of every host, and each closes the
 * streams that match.  What no request announces -- a session expiring,
 * or a credential that ended while its stream was being opened or while
 * the broker (or its LISTEN connection) was down -- is caught at a ping:
 * at every fourth one (a minute at the default ping_interval) the worker
 * re-reads the live sessions and tokens of the users it has streams of.
 */
#ifndef COFFER_WORKER_EVENTS_H
#define COFFER_WORKER_EVENTS_H

#include <stdint.h>

#include "src/store/activity.h"
#include "src/store/containers.h"
#include "worker/http.h"

#define EVENTS_REPLAY_MAX	500	/* activity entries a reconnect replays */
#define EVENTS_GROUP_GONE	(-1)	/* events_publish_roster: the group is deleted */

/*
 * Answer r (a member of r->group_id) with an event stream, replaying the
 * activity after last_event_id first (-1: none given).  Answers 429 past
 * [limits] streams_per_user, 503 without the broker.
 */
void events_stream(struct req *r, int64_t last_event_id);

/* A container sync of character committed (res as the store left it):
 * vault and activity events for each group that saw it. */
void events_publish_container(const char *character, const char *container,
			      const struct container_result *res);

/* Activity entries were recorded. */
void events_publish_activity(const struct store_activity_ids *ids);

/* Members, roles or shared characters of group_id changed; left is the
 * user who left or was removed (their streams close), 0 for nobody, or
 * EVENTS_GROUP_GONE (every stream of the group closes). */
void events_publish_roster(int64_t group_id, int64_t left);

/* A credential ended: close the streams it opened, everywhere.  0 matches
 * any: (user, 0, 0) is every stream of user (the account is deleted),
 * (user, session, 0) those of a web session, (user, 0, token) those of a
 * plugin token. */
void events_publish_revoked(int64_t user_id, int64_t session_id, int64_t token_id);

/* A heartbeat of character character_id (world < 0 and activity NULL
 * when not given): a presence event for each group it is shared in.
 * From a handler's coroutine (it reads the groups). */
void events_publish_presence(int64_t character_id, const char *character, int64_t world,
			     const char *activity);

#endif
