/*
 * routes_activity.c -- a group's activity feed and its members' skills.
 *
 * Both are reads for the group's members, by web session or plugin token
 * (docs/API.md "Who may call what": a token reads its user's groups).  A
 * group the caller does not belong to answers 404 from the router, exactly
 * like one that does not exist, and so does a user_id that is not a member
 * (member_skills asks store_groups_role).
 *
 * The feed pages newest first with an opaque cursor (http.h): the id of
 * the last entry of the page, so the next page is "id < cursor"
 * (activity_group_idx) and new entries arriving meanwhile never shift it:
 * following next_cursor visits every entry that existed at the first page
 * exactly once.
 */
#include <stdio.h>
#include <string.h>

#include "src/db/db.h"
#include "src/store/activity.h"
#include "src/store/groups.h"
#include "src/store/skills.h"
#include "worker/router.h"
#include "worker/routes.h"

#define TIME_BUF 40
#define LIMIT_DEFAULT 50
#define LIMIT_MAX 200
#define CURSOR_TAG "a"	/* "a1234": docs/API.md shows it */

json_t *
routes_activity_json(const struct db_result *rows, int i)
{
	const char *text = db_text(rows, i, ACTIVITY_DATA);
	json_t *data = text ? json_loads(text, 0, NULL) : NULL;

	return json_pack("{s:I,s:s,s:o,s:o,s:o,s:o}",
	    "id", (json_int_t)db_int(rows, i, ACTIVITY_ID),
	    "kind", db_text(rows, i, ACTIVITY_KIND),
	    "character", db_isnull(rows, i, ACTIVITY_CHARACTER) ? json_null() :
	    json_string(db_text(rows, i, ACTIVITY_CHARACTER)),
	    "user_id", db_isnull(rows, i, ACTIVITY_USER_ID) ? json_null() :
	    json_integer(db_int(rows, i, ACTIVITY_USER_ID)),
	    "data", data ? data : json_object(),
	    "created_at", http_json_time(rows, i, ACTIVITY_CREATED_AT));
}

static void
feed(struct req *r)
{
	struct db_result *rows = NULL;
	struct http_cursor cursor;
	int64_t before = INT64_MAX, limit;
	json_t *list, *next = json_null();
	int n, rc;

	if (http_query_int(r, "limit", 1, LIMIT_MAX, LIMIT_DEFAULT, &limit) < 0 ||
	    (rc = http_query_cursor(r, CURSOR_TAG, &cursor)) < 0)
		return;
	if (rc == 1) {
		/* Ids start at 1: "id < 0" is no page this server gave. */
		if (cursor.id < 1 || cursor.key != NULL) {
			http_bad_cursor(r);
			return;
		}
		before = cursor.id;
	}
	/* One more than the page: whether another page follows. */
	if (store_activity_page(r->group_id, before, (int)limit + 1, &rows) < 0) {
		http_db_error(r);
		return;
	}
	n = db_nrows(rows);
	list = json_array();
	for (int i = 0; i < n && i < limit; i++)
		json_array_append_new(list, routes_activity_json(rows, i));
	if (n > limit)
		next = http_cursor_json(CURSOR_TAG, db_int(rows, (int)limit - 1, ACTIVITY_ID),
		    NULL);
	db_result_free(rows);
	http_reply_json(r, 200, json_pack("{s:o,s:o}", "activity", list, "next_cursor", next));
}

static void
member_skills(struct req *r)
{
	struct db_result *rows = NULL;
	int64_t group_id = r->group_id, user_id, last = 0;
	json_t *list, *cur = NULL;
	char role[8], buf[TIME_BUF], latest[TIME_BUF];
	int rc;

	/* The router checked the caller; the member named must be one too. */
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
		int64_t xp;

		if (cur == NULL || db_int(rows, i, MEMBER_SKILL_CHARACTER_ID) != last) {
			cur = json_pack("{s:s,s:o,s:n}",
			    "name", db_text(rows, i, MEMBER_SKILL_CHARACTER),
			    "skills", json_object(), "updated_at");
			json_array_append_new(list, cur);
			last = db_int(rows, i, MEMBER_SKILL_CHARACTER_ID);
			latest[0] = '\0';
		}
		if (db_isnull(rows, i, MEMBER_SKILL_NAME))
			continue;
		xp = db_int(rows, i, MEMBER_SKILL_XP);
		json_object_set_new(json_object_get(cur, "skills"),
		    db_text(rows, i, MEMBER_SKILL_NAME),
		    json_pack("{s:I,s:i}", "xp", (json_int_t)xp,
		    "level", store_skills_level(xp)));
		/* RFC 3339 UTC of one width sorts as text: keep the newest. */
		db_time(rows, i, MEMBER_SKILL_UPDATED_AT, buf, sizeof(buf));
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
