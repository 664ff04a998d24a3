/*
 * ratelimit.c -- token buckets in shared memory.
 *
 * Amounts are kept in millionths of a request, so refilling is integer
 * arithmetic on microseconds of the monotonic clock (the same clock in
 * every process).  Each slot has its own spin lock: the critical section
 * is a few instructions and workers are few, so a lock never waits long,
 * and a worker that dies holding one is impossible short of a crash inside
 * those instructions.
 */
#include <string.h>
#include <sys/mman.h>

#include "src/log.h"
#include "src/ratelimit.h"
#include "src/util.h"

#define SLOTS	65536		/* power of two; 32 bytes each */
#define PROBES	8		/* slots a key may use */
#define ONE	1000000LL	/* one request */

struct slot {
	uint64_t key;		/* 0: never used */
	int64_t level;		/* what the bucket held at `at` */
	uint64_t at;		/* now_usec() of the last update */
	uint32_t lock;
	uint32_t pad;
};

static struct slot *slots;

int
ratelimit_init(void)
{
	void *p = mmap(NULL, SLOTS * sizeof(struct slot), PROT_READ | PROT_WRITE,
	    MAP_SHARED | MAP_ANONYMOUS, -1, 0);

	if (p == MAP_FAILED) {
		log_error("rate limits: mmap: %m");
		return -1;
	}
	slots = p;
	return 0;
}

/* FNV-1a, then the kind in the top bits so kinds never share a bucket. */
uint64_t
ratelimit_key(enum ratelimit_kind kind, int64_t id, const char *address)
{
	uint64_t h = 1469598103934665603ULL;

	if (address != NULL)
		for (const unsigned char *p = (const unsigned char *)address; *p; p++)
			h = (h ^ *p) * 1099511628211ULL;
	else
		h = (uint64_t)id;
	h = (h & 0x3fffffffffffffffULL) | (uint64_t)kind << 62;
	return h ? h : 1;
}

static void
lock(struct slot *s)
{
	while (__atomic_exchange_n(&s->lock, 1, __ATOMIC_ACQUIRE))
		while (__atomic_load_n(&s->lock, __ATOMIC_RELAXED))
			;
}

static void
unlock(struct slot *s)
{
	__atomic_store_n(&s->lock, 0, __ATOMIC_RELEASE);
}

/* What s holds at now, capped at cap. */
static int64_t
level_at(const struct slot *s, uint64_t now, int rate, int64_t cap)
{
	uint64_t dt = now > s->at ? now - s->at : 0;
	int64_t lvl;

	/* dt * rate overflows only after ~290 years at the largest rate. */
	if (dt > (uint64_t)cap)
		return cap;
	lvl = s->level + (int64_t)dt * rate;
	return lvl > cap ? cap : lvl;
}

/* The locked slot for key: its own, a free or full one, or the stalest. */
static struct slot *
find(uint64_t key, uint64_t now, int rate, int64_t cap)
{
	struct slot *victim = NULL;
	uint64_t start = key * 0x9e3779b97f4a7c15ULL;

	for (int i = 0; i < PROBES; i++) {
		struct slot *s = &slots[(start + (uint64_t)i) & (SLOTS - 1)];

		lock(s);
		if (s->key == key)
			goto found;
		if (s->key == 0 || level_at(s, now, rate, cap) >= cap) {
			s->key = key;
			s->level = cap;
			s->at = now;
			goto found;
		}
		if (victim == NULL || s->at < victim->at) {
			if (victim != NULL)
				unlock(victim);
			victim = s;
			continue;
		}
		unlock(s);
		continue;
found:
		if (victim != NULL)
			unlock(victim);
		return s;
	}
	victim->key = key;
	victim->level = cap;
	victim->at = now;
	return victim;
}

int
ratelimit_take(uint64_t key, int rate, int burst)
{
	int64_t cap = (int64_t)burst * ONE, lvl;
	uint64_t now = now_usec();
	struct slot *s;
	int wait = 0;

	if (rate <= 0 || slots == NULL)
		return 0;
	s = find(key, now, rate, cap);
	lvl = level_at(s, now, rate, cap);
	if (lvl >= ONE)
		lvl -= ONE;
	else
		wait = (int)((ONE - lvl + (int64_t)rate * ONE - 1) / ((int64_t)rate * ONE));
	s->level = lvl;
	s->at = now;
	unlock(s);
	return wait > 0 ? (wait < 1 ? 1 : wait) : 0;
}
