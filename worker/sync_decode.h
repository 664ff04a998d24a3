/*
 * sync_decode.h -- the bodies of the plugin sync writes, checked and
 * decoded.
 *
 * What a sync handler (worker/routes_sync.c) does before its first query:
 * the whole body is checked here, so a rejected request writes nothing, and
 * decoded into the plain inputs of the store calls (src/store/sync.h).  The
 * functions answer a bad body themselves, through the validate_* helpers
 * (422 naming the full path of the field, docs/API.md "Plugin sync"), and
 * return -1; on success they return 0 and the caller owns what they filled.
 * Keeping them apart from the handlers lets the fuzz target
 * (tests/fuzz/fuzz_json.c) run them without a database.
 */
#ifndef COFFER_SYNC_DECODE_H
#define COFFER_SYNC_DECODE_H

#include <stdint.h>

#include <jansson.h>

#include "src/store/sync.h"
#include "worker/http.h"

#define SYNC_EVENT_DATA_MAX	4096	/* bytes of one event's data, compact JSON */
#define SYNC_EVENT_KIND_MAX	32

/*
 * {"seq", "items": [{"id","qty"}]} (or "changes": [{"id","qty_delta"}] when
 * delta) in the object obj, whose path is where ("" at the top level), at
 * most max_items entries.  *items gets the entries summed by id (free it),
 * *n their count.
 */
int sync_decode_state(struct req *r, json_t *obj, const char *where, int delta,
		      int max_items, int64_t *seq, struct sync_item **items, int *n);

/*
 * {"seq", "skills": {"attack": xp, ...}} in the object obj, whose path is
 * where.  *v (free it; its names point into obj) gets *n entries.
 */
int sync_decode_skills(struct req *r, json_t *obj, const char *where, int64_t *seq,
		       struct skill_xp **v, int *n);

/* The events of an activity POST; kinds and datas point into the body. */
struct sync_events {
	int n;
	const char **kinds;
	json_t **datas;		/* NULL for an event without data */
};

/* {"events": [{"kind", "data"}]}.  Free ev with sync_events_free, whatever
 * the result. */
int sync_decode_events(struct req *r, json_t *body, int max_events,
			struct sync_events *ev);
void sync_events_free(struct sync_events *ev);

/*
 * {"character", "containers": {name: state}, "skills": skills} into b
 * (all but b->character_id, which the caller resolves from *character, a
 * string in body).  Free b with sync_batch_free, whatever the result.
 */
int sync_decode_batch(struct req *r, json_t *body, int max_items, const char **character,
		      struct store_sync_batch *b);
void sync_batch_free(struct store_sync_batch *b);

#endif
