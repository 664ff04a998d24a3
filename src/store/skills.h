/*
 * store/skills.h -- a character's skills (experience per skill).
 *
 * characters.skills_seq orders skill updates as containers.seq orders
 * container updates: an update whose seq is not greater changes nothing.
 * An update lists some or all skills; skills it does not list keep their
 * stored xp (the plugin may send only what changed).  A skill whose level
 * (the game's experience table, levels 1-99) rises over its stored value
 * records a "level_up" activity {"skill", "level", "previous_level", "xp"}
 * in each group the character is shared in; a skill seen for the first
 * time records nothing, so the first sync of a character is quiet.
 */
#ifndef COFFER_STORE_SKILLS_H
#define COFFER_STORE_SKILLS_H

#include <stdint.h>

#include "src/db/db.h"
#include "src/store/activity.h"

#define STORE_SKILL_NAME_MAX	32
#define STORE_SKILL_XP_MAX	200000000
#define STORE_SKILLS_MAX	64	/* skills in one update */

/* 1 if name is 1-32 lower-case ASCII letters, else 0. */
int store_skills_valid_name(const char *name);

/* The level (1-99) that xp reaches. */
int store_skills_level(int64_t xp);

struct skill_xp {
	const char *skill;
	int64_t xp;
};

struct skills_result {
	int applied;		/* 0: the seq was not newer; nothing changed */
	int64_t seq;		/* the stored seq afterwards */
	int updated;		/* skills whose xp changed or that are new */
	int level_ups;
	struct store_activity_ids activity;	/* the "level_up" entries recorded */
};

/*
 * Apply an update of character_id's skills (names unique, valid) if seq is
 * newer than the stored skills_seq; inside the caller's transaction, or its
 * own.  0 with *out set (free out->activity), or -1.
 */
int store_skills_put(int64_t character_id, int64_t seq, const struct skill_xp *v, int n,
		     struct skills_result *out);

/*
 * Rows of a member's skills (store_skills_member), in SELECT order:
 *	character id, character name, skill, xp, updated_at
 * A character without skills has one row with the last three NULL.
 */
enum member_skill_col {
	MEMBER_SKILL_CHARACTER_ID,
	MEMBER_SKILL_CHARACTER,
	MEMBER_SKILL_NAME,
	MEMBER_SKILL_XP,
	MEMBER_SKILL_UPDATED_AT,
};

/*
 * The skills of user_id's characters shared in group_id (enum
 * member_skill_col), by character then skill.  0 or -1.
 */
int store_skills_member(int64_t group_id, int64_t user_id, struct db_result **rows);

#endif
