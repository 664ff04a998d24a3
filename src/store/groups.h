/*
 * store/groups.h -- groups, their members and the characters they share.
 *
 * A group has one owner (groups.owner_id and the group_members row whose
 * role is 'owner', always changed together in one transaction), admins and
 * members.  Each member shares some of their characters in the group
 * (group_characters); the vault (store/vault.h) sums what those characters
 * hold, and is kept: every change here that shares or unshares a
 * character changes the kept vault in the same transaction
 * (store/vault_keep.h, whose lock order every function here follows).
 * The schema's foreign keys do the rest of the cleaning: deleting a group
 * takes its members, shares and kept vault along.
 *
 * The rows handed back are named by the enums below (group_col,
 * member_col, shared_col), so no caller counts columns.
 *
 * Join codes are STORE_GROUPS_CODE_LEN characters from an alphabet without
 * look-alikes (no 0/O, 1/I), from the kernel's CSPRNG: 60 bits, so they
 * cannot be guessed; unique (a collision, however unlikely, is retried
 * with a fresh code).  Codes are compared in upper case.
 */
#ifndef COFFER_STORE_GROUPS_H
#define COFFER_STORE_GROUPS_H

#include <stdint.h>

#include "src/db/db.h"
#include "src/store/plans.h"

#define STORE_GROUPS_CODE_LEN	12

/*
 * Rows for the Group object, docs/API.md "Resources" (store_groups_get,
 * _list), in SELECT order (GROUP_COLS in groups.c):
 *	id, name, owner_id, role, member_count, created_at, join_code
 * where role is the caller's.
 */
enum group_col {
	GROUP_ID,
	GROUP_NAME,
	GROUP_OWNER_ID,
	GROUP_ROLE,
	GROUP_MEMBER_COUNT,
	GROUP_CREATED_AT,
	GROUP_JOIN_CODE,
};

/*
 * Rows for a Member, the roster entry (store_groups_roster's members), in
 * SELECT order:
 *	user_id, display_name, role, joined_at
 */
enum member_col {
	MEMBER_USER_ID,
	MEMBER_DISPLAY_NAME,
	MEMBER_ROLE,
	MEMBER_JOINED_AT,
};

/*
 * Rows for the characters the members share (store_groups_roster's
 * chars), by member, in SELECT order:
 *	user_id, name, last_sync_at, seen_at, world, activity
 * The last three are the character's last heartbeat (the presence row):
 * all NULL when it never sent one; world and activity also NULL when that
 * heartbeat left them out.
 */
enum shared_col {
	SHARED_USER_ID,
	SHARED_NAME,
	SHARED_LAST_SYNC_AT,
	SHARED_SEEN_AT,
	SHARED_WORLD,
	SHARED_ACTIVITY,
};

/* Outcomes of store_groups_join besides -1 (a database error). */
enum store_join {
	STORE_JOIN_OK = 0,
	STORE_JOIN_NO_CODE,		/* no group has that code: 404 */
	STORE_JOIN_MEMBER,		/* already a member: 409 */
	STORE_JOIN_FULL,		/* the owner's plan limit is reached: 422 */
	STORE_JOIN_LIMIT,		/* the caller is in max_groups groups: 422 */
};

/* Outcomes of store_groups_create besides -1. */
enum store_create {
	STORE_CREATE_OK = 0,
	STORE_CREATE_LIMIT,		/* the caller is in max_groups groups: 422 */
};

/* Outcomes of store_groups_transfer besides -1. */
enum store_transfer {
	STORE_TRANSFER_OK = 0,
	STORE_TRANSFER_NOT_MEMBER,	/* the target is not a member: 404 */
	STORE_TRANSFER_NOT_OWNER,	/* the caller is no longer the owner: 403 */
	STORE_TRANSFER_SELF,		/* the target already owns it: 409 */
};

/*
 * 1 and role ("owner", "admin" or "member") when user_id is a member of
 * group_id; 0 when not, or when there is no such group; -1 on a database
 * error.
 */
int store_groups_role(int64_t group_id, int64_t user_id, char role[8]);

/* A new join code (STORE_GROUPS_CODE_LEN + NUL).  0, or -1 (logged). */
int store_groups_new_code(char code[STORE_GROUPS_CODE_LEN + 1]);

/*
 * Turn a code typed by a user into the stored form (upper case) in out.
 * 0, or -1 when it cannot be a code at all (wrong length or alphabet).
 */
int store_groups_code_normalize(const char *in, char out[STORE_GROUPS_CODE_LEN + 1]);

/*
 * Create a group owned by user_id, sharing the characters ids[0..n) (the
 * caller checked they are the user's), in one transaction, unless user_id
 * already belongs to max_groups groups ([limits] groups_per_user, counted
 * under store_users_lock).  *group_id gets the new id.  An enum
 * store_create, or -1.
 */
int store_groups_create(int64_t user_id, const char *name, const int64_t *ids, int n,
			int max_groups, int64_t *group_id);

/*
 * In a writer's transaction: lock user_id's row and tell whether they may
 * belong to one group more ([limits] groups_per_user, max_groups): 1 yes,
 * 0 no (they are in max_groups already), -1 a database error.  Creating,
 * joining and claiming a group (store/compat.h) all check it.
 */
int store_groups_room(int64_t user_id, int max_groups);

/* The Group row (enum group_col) of group_id as user_id sees it.
 * 1 / 0 (not a member) / -1. */
int store_groups_get(int64_t group_id, int64_t user_id, struct db_result **row);

/* user_id's groups, oldest membership first (enum group_col).  0 or -1. */
int store_groups_list(int64_t user_id, struct db_result **rows);

/* Rename.  1 / 0 (no such group) / -1. */
int store_groups_rename(int64_t group_id, const char *name);

/* Delete the group and everything hanging off it.  1 / 0 / -1. */
int store_groups_delete(int64_t group_id);

/*
 * Join the group whose code is code (normalized), sharing ids[0..n), in
 * one transaction that decides the plan limit under a lock on the group
 * (PostgreSQL: SELECT ... FOR UPDATE; SQLite: BEGIN IMMEDIATE), so
 * concurrent joins never pass it; and the caller's own limit, max_groups
 * memberships, under store_users_lock.  *group_id gets the group's id,
 * *plan (STORE_JOIN_FULL) the owner's plan whose limit was reached.
 * An enum store_join, or -1.
 */
int store_groups_join(const char *code, int64_t user_id, const int64_t *ids, int n,
		      int max_groups, int64_t *group_id, const struct store_plan **plan);

/*
 * Remove user_id from the group unless they are its owner (then 0); with
 * members_only, only when their role is 'member'.  Their shared characters
 * go with them.  1 / 0 / -1.
 */
int store_groups_remove(int64_t group_id, int64_t user_id, int members_only);

/* Members (user_id 0: all, oldest first; enum member_col) and the
 * characters they share (enum shared_col).  0 or -1 (then nothing to
 * free). */
int store_groups_roster(int64_t group_id, int64_t user_id, struct db_result **members,
			struct db_result **chars);

/* Share exactly ids[0..n) of user_id's characters in the group, in one
 * transaction (characters already shared keep their shared_at).
 * 1 / 0 (not a member) / -1. */
int store_groups_share(int64_t group_id, int64_t user_id, const int64_t *ids, int n);

/* Set a non-owner member's role ("admin" or "member").  1 / 0 (no such
 * member, or the owner) / -1. */
int store_groups_set_role(int64_t group_id, int64_t user_id, const char *role);

/*
 * Pass ownership from from_user to to_user (a member), who becomes owner;
 * from_user becomes admin.  One transaction.  An enum store_transfer, or -1.
 */
int store_groups_transfer(int64_t group_id, int64_t from_user, int64_t to_user);

/* The join code into code.  1 / 0 / -1. */
int store_groups_code(int64_t group_id, char code[STORE_GROUPS_CODE_LEN + 1]);

/* Replace the join code with a fresh one (into code); the old code stops
 * working at once.  1 / 0 / -1. */
int store_groups_rotate_code(int64_t group_id, char code[STORE_GROUPS_CODE_LEN + 1]);

#endif
