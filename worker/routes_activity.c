/*
 * routes_activity.c -- a group's activity feed and its members' skills.
 *
 * Both are reads for the group's members, by web session or plugin token
 * (docs/API.md "Who may call what": a token reads its user's groups).  A group the caller does
 * not belong to answers 404, exactly like one that does not exist
 * (store_groups_role), and so does a user_id that is not a member.
 *
 * The feed pages newest first with an opaque cursor: the id of the last
 * entry of the page, so the next page is "id < cursor" (activity_group_idx)
 * and new entries arriving meanwhile never shift it: following next_cursor
 * visits every entry that existed at the first page exactly once.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "src/db/db.h"
#include "src/store/activity.h"
#include "src/store/groups.h"
#include "src/store/skills.h"
#include "worker/validate.h"
#include "worker/auth.h"
#include "worker/router.h"
#include "worker/routes.h"

#define TIME_BUF 40
#define FEED_DEFAULT 50
#define FEED_MAX 200
#define CURSOR_PREFIX "a"

/* One feed entry from row i of store_activity_page. */
static json_t *
activity_json(const struct db_result *rows, int i)
{
	const char *text = db_text(rows, i, 4);
	json_t *data = text ? json_loads(text, 0, NULL) : NULL;

	return json_pack("{s:I,s:s,s:o,s:o,s:o,s:o}",
	    "id", (json_int_t)db_int(rows, i, 0),
	    "kind", db_text(rows, i, 1),
	    "character", db_isnull(rows, i, 2) ? json_null() : json_string(db_text(rows, i, 2)),
	    "user_id", db_isnull(rows, i, 3) ? json_null() : json_integer(db_int(rows, i, 3)),
	    "data", data ? data : json_object(),
	    "created_at", http_json_time(rows, i, 5));
}

static void
feed(struct req *r)
{
	const char *limit_s = http_query(r, "limit"), *cursor = http_query(r, "cursor");
	struct db_result *rows = NULL;
	int64_t group_id, before = INT64_MAX, limit = FEED_DEFAULT;
	json_t *list, *next = json_null();
	int n;

	if (limit_s != NULL) {
		limit = http_path_id(limit_s);
		if (limit < 1 || limit > FEED_MAX) {
			http_error(r, 400, NULL, "limit must be an integer from 1 to %d", FEED_MAX);
			return;
		}
	}
	if (cursor != NULL && *cursor != '\0') {
		before = strncmp(cursor, CURSOR_PREFIX, strlen(CURSOR_PREFIX)) == 0 ?
		    http_path_id(cursor + strlen(CURSOR_PREFIX)) : 0;
		if (before == 0) {
			http_error(r, 400, NULL, "cursor is not one this server gave");
			return;
		}
	}
	group_id = r->group_id;
	/* One more than the page: whether another page follows. */
	if (store_activity_page(group_id, before, (int)limit + 1, &rows) < 0) {
		http_db_error(r);
		return;
	}
	n = db_nrows(rows);
	list = json_array();
	for (int i = 0; i < n && i < limit; i++)
		json_array_append_new(list, activity_json(rows, i));
	if (n > limit) {
		char buf[32];

		snprintf(buf, sizeof(buf), CURSOR_PREFIX "%" PRId64, db_int(rows, limit - 1, 0));
		next = json_string(buf);
	}
	db_result_free(rows);
	http_reply_json(r, 200, json_pack("{s:o,s:o}", "activity", list, "next_cursor", next));
}

static void
member_skills(struct req *r)
{
	struct db_result *rows = NULL;
	int64_t group_id, user_id, last = 0;
	json_t *list, *cur = NULL;
	char role[8], buf[TIME_BUF], latest[TIME_BUF];
	int rc;

	group_id = r->group_id;
	user_id = http_path_id(r->param[1]);
	rc = user_id ? store_groups_role(group_id, user_id, role) : 0;
	if (rc < 0) {
		http_db_error(r);
		return;
	}
	if (rc == 0) {
		http_error(r, 404, NULL, "no such member");
		return;
	}
	if (store_skills_member(group_id, user_id, &rows) < 0) {
		http_db_error(r);
		return;
	}
	list = json_array();
	latest[0] = '\0';
	for (int i = 0; i < db_nrows(rows); i++) {
		if (cur == NULL || db_int(rows, i, 0) != last) {
			cur = json_pack("{s:s,s:o,s:n}", "name", db_text(rows, i, 1),
			    "skills", json_object(), "updated_at");
			json_array_append_new(list, cur);
			last = db_int(rows, i, 0);
			latest[0] = '\0';
		}
		if (db_isnull(rows, i, 2))
			continue;
		json_object_set_new(json_object_get(cur, "skills"), db_text(rows, i, 2),
		    json_pack("{s:I,s:i}", "xp", (json_int_t)db_int(rows, i, 3),
		    "level", store_skills_level(db_int(rows, i, 3))));
		/* RFC 3339 UTC of one width sorts as text: keep the newest. */
		db_time(rows, i, 4, buf, sizeof(buf));
		if (strcmp(buf, latest) > 0) {
			snprintf(latest, sizeof(latest), "%s", buf);
			json_object_set_new(cur, "updated_at", json_string(latest));
		}
	}
	db_result_free(rows);
	http_reply_json(r, 200, json_pack("{s:o}", "characters", list));
}

const struct route routes_activity[] = {
	{ EVHTTP_REQ_GET, "/api/v1/groups/{id}/activity", MAIN, USER, MEMBER, feed },
	{ EVHTTP_REQ_GET, "/api/v1/groups/{id}/members/{user_id}/skills",
	    MAIN, USER, MEMBER, member_skills },
	{ 0 },
};
