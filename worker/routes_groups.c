/*
 * routes_groups.c -- groups, membership and roles: /api/v1/groups and
 * GET /api/v1/sync/groups.  (The vault is in routes_vault.c.)
 *
 * Who may call what.  Every GET accepts a web session or a plugin token
 * (docs/API.md: tokens read their user's groups); every other
 * method needs a web session with its X-CSRF-Token, so a leaked plugin
 * token cannot join, leave or administer groups (a token there is 403).
 * Then, per group:
 *
 *	any member	read the group, roster, vault; leave; choose which of
 *			their characters they share (PUT members/me)
 *	admin		also rename, see and rotate the join code, remove
 *			plain members
 *	owner		also delete, set roles, remove admins, transfer
 *
 * A caller who is not a member gets 404 on every group route, exactly like
 * an id that does not exist, so ids cannot be probed; a member lacking the
 * role gets 403.  The membership check comes before the body is read, so a
 * stranger learns nothing from a 422 either.
 *
 * The table at the end says so row by row, and the router enforces it
 * before a handler runs (r->group_id, r->role); what is left here are the
 * rules about the *target* of a change (an admin removes plain members
 * only, nobody removes the owner).  Each handler reads straight down: read
 * the body, one store call, answer.  The JSON of a Group is built by
 * group_json() and of a Member by member_json(), used by every route
 * returning one.
 */
#include <string.h>
#include <strings.h>

#include "src/db/db.h"
#include "src/store/characters.h"
#include "src/store/groups.h"
#include "src/store/vault.h"
#include "worker/validate.h"
#include "worker/auth.h"
#include "worker/router.h"
#include "worker/events.h"
#include "worker/routes.h"
#include "worker/worker.h"

#define MAX_CHARS	50	/* characters named in one request */

/*
 * The Group (docs/API.md "Resources") from row i of a store_groups Group
 * result; join_code only for owner and admins.  With tot, a
 * store_vault_totals row, also the summary GET /groups/{id} adds.
 */
static json_t *
group_json(const struct db_result *rows, int i, const struct db_result *tot)
{
	const char *role = db_text(rows, i, GROUP_ROLE);
	json_t *g = json_pack("{s:I,s:s,s:I,s:s,s:I,s:o}",
	    "id", (json_int_t)db_int(rows, i, GROUP_ID),
	    "name", db_text(rows, i, GROUP_NAME),
	    "owner_id", (json_int_t)db_int(rows, i, GROUP_OWNER_ID),
	    "role", role,
	    "member_count", (json_int_t)db_int(rows, i, GROUP_MEMBER_COUNT),
	    "created_at", http_json_time(rows, i, GROUP_CREATED_AT));

	if (strcmp(role, "member") != 0)
		json_object_set_new(g, "join_code",
		    json_string(db_text(rows, i, GROUP_JOIN_CODE)));
	if (tot != NULL) {
		/* The total may pass 2^63 - 1: clamped, and then said
		 * (docs/API.md "Numbers"). */
		int64_t value;
		int sat = store_vault_total(tot, 0, VAULT_TOTALS_TOTAL_VALUE, &value);

		json_object_set_new(g, "item_count",
		    json_integer(db_int(tot, 0, VAULT_TOTALS_ITEM_COUNT)));
		json_object_set_new(g, "total_value", json_integer(value));
		if (sat)
			json_object_set_new(g, "saturated", json_true());
		json_object_set_new(g, "last_sync_at",
		    http_json_time(tot, 0, VAULT_TOTALS_LAST_SYNC_AT));
	}
	return g;
}

/* The last heartbeat of the character in row j of chars, or null. */
static json_t *
presence_json(const struct db_result *chars, int j)
{
	if (db_isnull(chars, j, SHARED_SEEN_AT))
		return json_null();
	return json_pack("{s:o,s:o,s:o}",
	    "world", db_isnull(chars, j, SHARED_WORLD) ? json_null() :
	    json_integer(db_int(chars, j, SHARED_WORLD)),
	    "activity", db_isnull(chars, j, SHARED_ACTIVITY) ? json_null() :
	    json_string(db_text(chars, j, SHARED_ACTIVITY)),
	    "at", http_json_time(chars, j, SHARED_SEEN_AT));
}

/* The Member (docs/API.md "Resources") from row i of members, with its rows of chars. */
static json_t *
member_json(const struct db_result *members, int i, const struct db_result *chars)
{
	int64_t uid = db_int(members, i, MEMBER_USER_ID);
	json_t *list = json_array();

	for (int j = 0; j < db_nrows(chars); j++)
		if (db_int(chars, j, SHARED_USER_ID) == uid)
			json_array_append_new(list, json_pack("{s:s,s:o,s:o}",
			    "name", db_text(chars, j, SHARED_NAME),
			    "last_sync_at", http_json_time(chars, j, SHARED_LAST_SYNC_AT),
			    "presence", presence_json(chars, j)));
	return json_pack("{s:I,s:s,s:s,s:o,s:o}",
	    "user_id", (json_int_t)uid,
	    "display_name", db_text(members, i, MEMBER_DISPLAY_NAME),
	    "role", db_text(members, i, MEMBER_ROLE),
	    "joined_at", http_json_time(members, i, MEMBER_JOINED_AT),
	    "characters", list);
}

/*
 * The "characters" field of body: names of the caller's own characters,
 * resolved to ids[] (duplicates, ignoring case, count once).  Missing and
 * not required: *n = 0.  Returns 0, or -1 after answering (422 naming the
 * field).
 */
static int
read_characters(struct req *r, json_t *body, int required, int64_t ids[MAX_CHARS], int *n)
{
	const char *names[MAX_CHARS];
	json_t *arr = NULL, *v;
	size_t i;
	int found;

	*n = 0;
	if (validate_array(r, body, "characters", required, MAX_CHARS, &arr) < 0)
		return -1;
	if (arr == NULL)
		return 0;
	json_array_foreach(arr, i, v) {
		const char *s = json_string_value(v);
		int dup = 0;

		if (s == NULL || !store_characters_valid_name(s)) {
			http_error(r, 422, NULL, "characters[%zu] must be a character name", i);
			return -1;
		}
		for (int j = 0; j < *n && !dup; j++)
			dup = strcasecmp(names[j], s) == 0;
		if (!dup)
			names[(*n)++] = s;
	}
	found = *n ? store_characters_owned(r->user_id, names, *n, ids) : 0;
	if (found < 0) {
		http_db_error(r);
		return -1;
	}
	if (found != *n) {
		http_error(r, 422, NULL,
		    "characters must name your own linked characters");
		return -1;
	}
	return 0;
}

/* Answer status with the Group group_id as the caller sees it; extra
 * adds the summary of GET /groups/{id}. */
static void
reply_group(struct req *r, int status, int64_t group_id, int extra)
{
	struct db_result *row = NULL, *tot = NULL;
	int rc = store_groups_get(group_id, r->user_id, &row);

	if (rc > 0 && extra && store_vault_totals(group_id, NULL, NULL, &tot) < 0)
		rc = -1;
	if (rc < 0)
		http_db_error(r);
	else if (rc == 0)	/* removed meanwhile */
		http_error(r, 404, NULL, "no such group");
	else
		http_reply_json(r, status, group_json(row, 0, tot));
	db_result_free(row);
	db_result_free(tot);
}

/* Answer 200 with user_id's Member entry in group_id. */
static void
reply_member(struct req *r, int64_t group_id, int64_t user_id)
{
	struct db_result *members = NULL, *chars = NULL;

	if (store_groups_roster(group_id, user_id, &members, &chars) < 0) {
		http_db_error(r);
		return;
	}
	if (db_nrows(members) == 1)
		http_reply_json(r, 200, member_json(members, 0, chars));
	else
		http_error(r, 404, NULL, "no such member");
	db_result_free(members);
	db_result_free(chars);
}

/* ---- /api/v1/groups ---- */

/* GET /groups and the plugin's GET /sync/groups: the caller's groups. */
static void
groups_list(struct req *r)
{
	struct db_result *rows = NULL;
	json_t *list;

	if (store_groups_list(r->user_id, &rows) < 0) {
		http_db_error(r);
		return;
	}
	list = json_array();
	for (int i = 0; i < db_nrows(rows); i++)
		json_array_append_new(list, group_json(rows, i, NULL));
	db_result_free(rows);
	http_reply_json(r, 200, json_pack("{s:o}", "groups", list));
}

/* 422 for a caller who belongs to as many groups as [limits] allows
 * (routes.h). */
void
routes_groups_limit(struct req *r)
{
	http_error(r, 422, NULL, "you belong to %d groups, the most allowed "
	    "([limits] groups_per_user); leave one first", worker_config()->groups_per_user);
}

static void
groups_create(struct req *r)
{
	static const char *const allowed[] = { "name", "characters", NULL };
	int64_t ids[MAX_CHARS], group_id;
	const char *name;
	json_t *body;
	int n, rc;

	body = validate_body(r);
	if (body == NULL)
		return;
	if (validate_keys(r, body, allowed) < 0 ||
	    validate_string(r, body, "name", 1, 1,
	    (size_t)worker_config()->max_name_length, &name) < 0 ||
	    read_characters(r, body, 0, ids, &n) < 0)
		goto out;
	rc = store_groups_create(r->user_id, name, ids, n, worker_config()->groups_per_user,
	    &group_id);
	if (rc == STORE_CREATE_OK)
		reply_group(r, 201, group_id, 0);
	else if (rc == STORE_CREATE_LIMIT)
		routes_groups_limit(r);
	else
		http_db_error(r);
out:
	json_decref(body);
}

static void
groups_join(struct req *r)
{
	static const char *const allowed[] = { "code", "characters", NULL };
	char code[STORE_GROUPS_CODE_LEN + 1];
	int64_t ids[MAX_CHARS], group_id = 0;
	const struct store_plan *plan = NULL;
	const char *typed;
	json_t *body;
	int n, rc;

	body = validate_body(r);
	if (body == NULL)
		return;
	if (validate_keys(r, body, allowed) < 0 ||
	    validate_string(r, body, "code", 1, 1, 64, &typed) < 0 ||
	    read_characters(r, body, 0, ids, &n) < 0)
		goto out;
	rc = store_groups_code_normalize(typed, code) < 0 ? STORE_JOIN_NO_CODE :
	    store_groups_join(code, r->user_id, ids, n, worker_config()->groups_per_user,
	    &group_id, &plan);
	switch (rc) {
	case STORE_JOIN_OK:
		reply_group(r, 200, group_id, 0);
		events_publish_roster(group_id, 0);
		break;
	case STORE_JOIN_NO_CODE:
		http_error(r, 404, NULL, "no group has this join code");
		break;
	case STORE_JOIN_MEMBER:
		http_error(r, 409, NULL, "you are already a member of this group");
		break;
	case STORE_JOIN_FULL:
		http_error(r, 422, NULL, "the group is full: its owner's %s plan allows %d "
		    "members per group", plan->name, plan->members_per_group);
		break;
	case STORE_JOIN_LIMIT:
		routes_groups_limit(r);
		break;
	default:
		http_db_error(r);
	}
out:
	json_decref(body);
}

/* ---- /api/v1/groups/{id}: the router set r->group_id and r->role ---- */

static void
group_get(struct req *r)
{
	reply_group(r, 200, r->group_id, 1);
}

static void
group_patch(struct req *r)
{
	static const char *const allowed[] = { "name", NULL };
	const char *name;
	json_t *body;

	body = validate_body(r);
	if (body == NULL)
		return;
	if (validate_keys(r, body, allowed) < 0 ||
	    validate_string(r, body, "name", 1, 1,
	    (size_t)worker_config()->max_name_length, &name) < 0)
		goto out;
	/* Deleted meanwhile: reply_group answers 404. */
	if (store_groups_rename(r->group_id, name) < 0)
		http_db_error(r);
	else
		reply_group(r, 200, r->group_id, 0);
out:
	json_decref(body);
}

static void
group_delete(struct req *r)
{
	if (store_groups_delete(r->group_id) < 0)
		http_db_error(r);
	else {
		http_reply_json(r, 204, NULL);
		events_publish_roster(r->group_id, EVENTS_GROUP_GONE);
	}
}

/* The caller leaves the group; also DELETE members/{their own id}. */
static void
group_leave(struct req *r)
{
	int rc;

	if (strcmp(r->role, "owner") == 0) {
		http_error(r, 409, NULL, "the owner must transfer the group before leaving");
		return;
	}
	rc = store_groups_remove(r->group_id, r->user_id, 0);
	if (rc < 0)
		http_db_error(r);
	else if (rc == 0)	/* made owner meanwhile */
		http_error(r, 409, NULL, "the owner must transfer the group before leaving");
	else {
		http_reply_json(r, 204, NULL);
		events_publish_roster(r->group_id, r->user_id);
	}
}

/* ---- roster and members ---- */

static void
group_roster(struct req *r)
{
	struct db_result *members = NULL, *chars = NULL;
	json_t *list;

	if (store_groups_roster(r->group_id, 0, &members, &chars) < 0) {
		http_db_error(r);
		return;
	}
	list = json_array();
	for (int i = 0; i < db_nrows(members); i++)
		json_array_append_new(list, member_json(members, i, chars));
	db_result_free(members);
	db_result_free(chars);
	http_reply_json(r, 200, json_pack("{s:o}", "members", list));
}

static void
members_me_put(struct req *r)
{
	static const char *const allowed[] = { "characters", NULL };
	int64_t ids[MAX_CHARS];
	json_t *body;
	int n, rc;

	body = validate_body(r);
	if (body == NULL)
		return;
	if (validate_keys(r, body, allowed) < 0 || read_characters(r, body, 1, ids, &n) < 0)
		goto out;
	rc = store_groups_share(r->group_id, r->user_id, ids, n);
	if (rc < 0)
		http_db_error(r);
	else if (rc == 0)	/* removed meanwhile */
		http_error(r, 404, NULL, "no such group");
	else {
		reply_member(r, r->group_id, r->user_id);
		events_publish_roster(r->group_id, 0);
	}
out:
	json_decref(body);
}

/* Only the owner gets here (the route's role), so naming oneself is
 * naming the owner. */
static void
member_patch(struct req *r)
{
	static const char *const allowed[] = { "role", NULL };
	const char *new_role;
	json_t *body;
	int64_t uid;
	int rc;

	body = validate_body(r);
	if (body == NULL)
		return;
	if (validate_keys(r, body, allowed) < 0 ||
	    validate_string(r, body, "role", 1, 1, 16, &new_role) < 0)
		goto out;
	if (strcmp(new_role, "admin") != 0 && strcmp(new_role, "member") != 0) {
		http_error(r, 422, NULL, "role must be \"admin\" or \"member\"");
		goto out;
	}
	uid = http_path_id(r->param[1]);
	if (uid == r->user_id) {
		http_error(r, 409, NULL, "the owner's role changes only by a transfer");
		goto out;
	}
	rc = uid ? store_groups_set_role(r->group_id, uid, new_role) : 0;
	if (rc < 0)
		http_db_error(r);
	else if (rc == 0)
		http_error(r, 404, NULL, "no such member");
	else {
		reply_member(r, r->group_id, uid);
		events_publish_roster(r->group_id, 0);
	}
out:
	json_decref(body);
}

/*
 * Remove a member: the owner removes anyone but themselves (409: transfer
 * first), an admin removes plain members, and anyone may name themselves,
 * which is leaving.  The route lets every member in; the rest is here.
 */
static void
member_delete(struct req *r)
{
	char target[8];
	int64_t uid;
	int rc, admin;

	uid = http_path_id(r->param[1]);
	if (uid == r->user_id) {
		group_leave(r);
		return;
	}
	if (!auth_role_at_least(r->role, ROLE_ADMIN)) {
		http_error(r, 403, NULL, "your role in this group does not allow this");
		return;
	}
	rc = uid ? store_groups_role(r->group_id, uid, target) : 0;
	if (rc < 0) {
		http_db_error(r);
		return;
	}
	if (rc == 0) {
		http_error(r, 404, NULL, "no such member");
		return;
	}
	admin = strcmp(r->role, "admin") == 0;
	if (admin && strcmp(target, "member") != 0) {
		http_error(r, 403, NULL, "admins may remove members only");
		return;
	}
	rc = store_groups_remove(r->group_id, uid, admin);
	if (rc < 0)
		http_db_error(r);
	else if (rc == 0)	/* left, or promoted, meanwhile */
		http_error(r, 409, NULL, "the member changed meanwhile; try again");
	else {
		http_reply_json(r, 204, NULL);
		events_publish_roster(r->group_id, uid);
	}
}

static void
group_transfer(struct req *r)
{
	static const char *const allowed[] = { "user_id", NULL };
	json_int_t uid = 0;
	json_t *body;

	body = validate_body(r);
	if (body == NULL)
		return;
	if (validate_keys(r, body, allowed) < 0 ||
	    validate_int(r, body, "user_id", 1, 1, INT64_MAX, &uid) < 0)
		goto out;
	switch (store_groups_transfer(r->group_id, r->user_id, uid)) {
	case STORE_TRANSFER_OK:
		reply_group(r, 200, r->group_id, 0);
		events_publish_roster(r->group_id, 0);
		break;
	case STORE_TRANSFER_NOT_MEMBER:
		http_error(r, 422, NULL, "user_id must be a member of the group");
		break;
	case STORE_TRANSFER_SELF:
		http_error(r, 409, NULL, "user_id already owns the group");
		break;
	case STORE_TRANSFER_NOT_OWNER:
		http_error(r, 403, NULL, "only the owner may transfer the group");
		break;
	default:
		http_db_error(r);
	}
out:
	json_decref(body);
}

/* ---- join codes ---- */

/* Answer a join code store call's rc and code. */
static void
reply_code(struct req *r, int rc, const char *code)
{
	if (rc < 0)
		http_db_error(r);
	else if (rc == 0)	/* deleted meanwhile */
		http_error(r, 404, NULL, "no such group");
	else
		http_reply_json(r, 200, json_pack("{s:s}", "join_code", code));
}

static void
code_get(struct req *r)
{
	char code[STORE_GROUPS_CODE_LEN + 1];

	reply_code(r, store_groups_code(r->group_id, code), code);
}

static void
code_rotate(struct req *r)
{
	char code[STORE_GROUPS_CODE_LEN + 1];

	reply_code(r, store_groups_rotate_code(r->group_id, code), code);
}

const struct route routes_groups[] = {
	{ EVHTTP_REQ_GET, "/api/v1/groups", MAIN, USER, NONE, groups_list },
	{ EVHTTP_REQ_POST, "/api/v1/groups", MAIN, SESSION, NONE, groups_create },
	{ EVHTTP_REQ_POST, "/api/v1/groups/join", MAIN, SESSION, NONE, groups_join },
	{ EVHTTP_REQ_GET, "/api/v1/groups/{id}", MAIN, USER, MEMBER, group_get },
	{ EVHTTP_REQ_PATCH, "/api/v1/groups/{id}", MAIN, SESSION, ADMINS, group_patch },
	{ EVHTTP_REQ_DELETE, "/api/v1/groups/{id}", MAIN, SESSION, OWNER, group_delete },
	{ EVHTTP_REQ_POST, "/api/v1/groups/{id}/leave", MAIN, SESSION, MEMBER, group_leave },
	{ EVHTTP_REQ_GET, "/api/v1/groups/{id}/roster", MAIN, USER, MEMBER, group_roster },
	{ EVHTTP_REQ_PUT, "/api/v1/groups/{id}/members/me",
	    MAIN, SESSION, MEMBER, members_me_put },
	{ EVHTTP_REQ_PATCH, "/api/v1/groups/{id}/members/{user_id}",
	    MAIN, SESSION, OWNER, member_patch },
	{ EVHTTP_REQ_DELETE, "/api/v1/groups/{id}/members/{user_id}",
	    MAIN, SESSION, MEMBER, member_delete },
	{ EVHTTP_REQ_POST, "/api/v1/groups/{id}/transfer",
	    MAIN, SESSION, OWNER, group_transfer },
	{ EVHTTP_REQ_GET, "/api/v1/groups/{id}/join-code", MAIN, USER, ADMINS, code_get },
	{ EVHTTP_REQ_POST, "/api/v1/groups/{id}/join-code/rotate",
	    MAIN, SESSION, ADMINS, code_rotate },
	{ EVHTTP_REQ_GET, "/api/v1/sync/groups", MAIN, USER, NONE, groups_list },
	{ 0 },
};
