/*
 * coro.c -- request coroutines: stacks, pool, switch, sanitizer hooks.
 *
 * See coro.h for the model.  The pieces:
 *
 * Contexts.  The main context (the event loop, on the process stack) and
 * one context per coroutine.  Control only ever moves main -> coroutine
 * (coro_resume) and coroutine -> main (coro_yield, or the coroutine
 * finishing), so the only state besides each coroutine's own is the main
 * context's saved stack pointer and `cur`, the running coroutine.
 *
 * The switch.  On x86_64 and aarch64 (ELF) the switch is coro_switch in
 * coro_switch.S: it saves the callee-saved registers on the old stack and
 * swaps stack pointers, a dozen instructions and no system call.  A
 * suspended context is fully described by its saved stack pointer.
 * Elsewhere, or with -DCORO_UCONTEXT, it is glibc's swapcontext, which is
 * correct everywhere but makes a sigprocmask system call per switch.
 * setjmp/longjmp is not an option: with _FORTIFY_SOURCE longjmp becomes
 * __longjmp_chk, which refuses to jump to another stack.
 *
 * Stacks.  One mapping per coroutine: a PROT_NONE guard page at the low
 * end, then the stack proper, which grows down towards the guard.  An
 * overflow faults on the guard page (SIGSEGV) instead of silently
 * overwriting whatever lies below.  MAP_NORESERVE: a 256 KiB stack costs
 * only the pages a request actually touches.
 *
 * The pool.  A finished coroutine cannot free its own stack -- it is still
 * running on it when it switches away for the last time -- so coro_resume
 * releases it once back in the main context: onto the pool (struct coro
 * and stack together, a LIFO free list, so the most recently used and
 * cache-warm stack is handed out next) or, if the pool is full, unmapped.
 * A worker in steady state therefore neither mmaps nor mallocs to start a
 * request.
 *
 * Sanitizers.  AddressSanitizer tracks "the" stack of the thread; every
 * switch is bracketed by __sanitizer_start_switch_fiber (naming the stack
 * we go to) and __sanitizer_finish_switch_fiber (on arrival), otherwise
 * ASan reports false stack-buffer errors once a coroutine runs.  The main
 * stack's bounds are learnt from the first arrival in a coroutine.  A
 * finishing coroutine passes a NULL fake-stack save on its last switch so
 * ASan drops its fake frames.  Under valgrind each stack is registered
 * (VALGRIND_STACK_REGISTER) so memcheck understands the stack pointer
 * jumping between them.
 *
 * Errors.  Calling the API from the wrong context (yield from main, resume
 * from a coroutine, resume of a running or finished coroutine, yield while
 * forbidden) is a programming error that would corrupt the stacks if it
 * went on: it is logged and the process aborts.  Nothing here logs on the
 * hot path otherwise.
 */

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "src/coro.h"
#include "src/log.h"
#include "src/util.h"

/* Must match the test at the top of coro_switch.S. */
#if (defined(__x86_64__) && !defined(__ILP32__) || defined(__aarch64__)) && \
    defined(__ELF__) && !defined(CORO_UCONTEXT)
#define CORO_ASM_SWITCH 1
#else
#include <ucontext.h>
#endif

/* gcc defines __SANITIZE_ADDRESS__, clang answers __has_feature; the
 * nested #if keeps gcc from parsing __has_feature(...). */
#if defined(__SANITIZE_ADDRESS__)
#define CORO_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define CORO_ASAN 1
#endif
#endif

#ifdef CORO_ASAN
#include <sanitizer/asan_interface.h>
#include <sanitizer/common_interface_defs.h>
#endif

#ifdef HAVE_VALGRIND_VALGRIND_H
#include <valgrind/valgrind.h>
#endif

enum coro_state {
	CORO_READY,		/* created, never resumed */
	CORO_RUNNING,
	CORO_SUSPENDED,		/* yielded */
	CORO_DONE,		/* fn returned; stack still in use until main */
	CORO_POOLED,		/* on the free list */
};

struct coro {
	/* Saved context while not running. */
#ifdef CORO_ASM_SWITCH
	void *sp;
#else
	ucontext_t uc;
#endif
	enum coro_state state;
	coro_fn fn;
	void *arg;
	void *data;
	int no_yield;		/* coro_forbid_yield count */

	char *map;		/* the mapping: guard page, then the stack */
	size_t map_size;
	char *stack_lo;		/* lowest usable byte, just above the guard */
	size_t stack_size;	/* usable bytes */
#ifdef CORO_ASAN
	void *asan_fake;	/* ASan fake-stack save while switched away */
#endif
#ifdef HAVE_VALGRIND_VALGRIND_H
	unsigned vg_id;
#endif
	struct coro *next;	/* pool free list */
};

static size_t page_size;
static size_t stack_size = CORO_STACK_DEFAULT;
static int pool_max;

static struct coro *pool;	/* LIFO free list */
static int pool_len;
static int live;		/* created, not yet released */
static uint64_t created;	/* stacks ever mapped */

static struct coro *cur;	/* running coroutine, NULL in main */

#ifdef CORO_ASM_SWITCH
static void *main_sp;
void coro_switch(void **save_sp, void *new_sp)
	__attribute__((visibility("hidden")));
void coro_boot(void) __attribute__((visibility("hidden")));
#else
static ucontext_t main_uc;
#endif

#ifdef CORO_ASAN
static const void *main_stack_lo;	/* learnt on arrival in a coroutine */
static size_t main_stack_size;
static void *main_asan_fake;
#endif

static void coro_main(struct coro *c) __attribute__((noreturn));

static size_t
round_up(size_t n, size_t to)
{
	return (n + to - 1) / to * to;
}

static void
stack_unmap(struct coro *c)
{
#ifdef HAVE_VALGRIND_VALGRIND_H
	VALGRIND_STACK_DEREGISTER(c->vg_id);
#endif
	if (munmap(c->map, c->map_size) == -1)
		log_error("coro: munmap: %s", strerror(errno));
	free(c);
}

static void
pool_drain(void)
{
	struct coro *c;

	while ((c = pool) != NULL) {
		pool = c->next;
		stack_unmap(c);
	}
	pool_len = 0;
}

void
coro_shutdown(void)
{
	if (live > 0)
		log_error("coro: shutdown with %d coroutines live", live);
	pool_drain();
}

void
coro_init(size_t size, int max)
{
	long ps;

	ps = sysconf(_SC_PAGESIZE);
	page_size = ps > 0 ? (size_t)ps : 4096;
	if (size == 0)
		size = CORO_STACK_DEFAULT;
	if (size < CORO_STACK_MIN)
		size = CORO_STACK_MIN;
	/* Pooled stacks of another size would be handed out with the wrong
	 * size; live ones are unmapped when they finish (see release). */
	pool_drain();
	stack_size = round_up(size, page_size);
	pool_max = max > 0 ? max : 0;
}

/* A fresh mapping with its guard page; NULL if the kernel says no. */
static struct coro *
stack_map(void)
{
	struct coro *c;
	size_t map_size;
	char *map;

	if (page_size == 0)
		coro_init(0, 0);	/* used without coro_init: defaults */
	map_size = stack_size + page_size;
	map = mmap(NULL, map_size, PROT_READ | PROT_WRITE,
	    MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_STACK, -1, 0);
	if (map == MAP_FAILED) {
		log_error("coro: mmap of a %zu byte stack: %s", map_size,
		    strerror(errno));
		return NULL;
	}
	if (mprotect(map, page_size, PROT_NONE) == -1) {
		log_error("coro: mprotect of a stack guard page: %s",
		    strerror(errno));
		munmap(map, map_size);
		return NULL;
	}
	c = xcalloc(1, sizeof(*c));
	c->map = map;
	c->map_size = map_size;
	c->stack_lo = map + page_size;
	c->stack_size = stack_size;
#ifdef HAVE_VALGRIND_VALGRIND_H
	c->vg_id = VALGRIND_STACK_REGISTER(c->stack_lo,
	    c->stack_lo + c->stack_size);
#endif
	created++;
	return c;
}

#ifdef CORO_ASM_SWITCH
/*
 * Lay out the frame coro_switch pops (see coro_switch.S) so that the first
 * switch "returns" into coro_boot, which calls coro_main(c).  After the
 * pops and the ret the stack pointer sits at the 16-byte aligned top, so
 * coro_boot's call enters coro_main with the alignment the ABI expects.
 */
static void
ctx_make(struct coro *c)
{
	uintptr_t top;
	uint64_t *f;

	top = ((uintptr_t)c->stack_lo + c->stack_size) & ~(uintptr_t)15;
#if defined(__x86_64__)
	f = (uint64_t *)top - 8;
	/* MXCSR and x87 control word at their ABI initial values: all
	 * exceptions masked, round to nearest, x87 extended precision. */
	f[0] = 0x1f80 | (uint64_t)0x037f << 32;
	f[1] = 0;				/* r15 */
	f[2] = 0;				/* r14 */
	f[3] = (uintptr_t)coro_main;		/* r13: entry */
	f[4] = (uintptr_t)c;			/* r12: its argument */
	f[5] = 0;				/* rbx */
	f[6] = 0;				/* rbp: ends frame chains */
	f[7] = (uintptr_t)coro_boot;		/* return address */
#else /* __aarch64__ */
	f = (uint64_t *)top - 20;
	memset(f, 0, 20 * sizeof(*f));
	f[0] = (uintptr_t)c;			/* x19: argument */
	f[1] = (uintptr_t)coro_main;		/* x20: entry */
	f[10] = 0;				/* x29: ends frame chains */
	f[11] = (uintptr_t)coro_boot;		/* x30: return address */
#endif
	c->sp = f;
}

static inline void
ctx_to_coro(struct coro *c)
{
	coro_switch(&main_sp, c->sp);
}

static inline void
ctx_to_main(struct coro *c)
{
	coro_switch(&c->sp, main_sp);
}
#else /* ucontext fallback */
static void
uc_entry(void)
{
	/* makecontext passes only ints; the coroutine is `cur`. */
	coro_main(cur);
}

static void
ctx_make(struct coro *c)
{
	if (getcontext(&c->uc) == -1) {
		log_error("coro: getcontext: %s", strerror(errno));
		abort();
	}
	c->uc.uc_stack.ss_sp = c->stack_lo;
	c->uc.uc_stack.ss_size = c->stack_size;
	c->uc.uc_link = NULL;		/* coro_main never returns */
	makecontext(&c->uc, uc_entry, 0);
}

static inline void
ctx_to_coro(struct coro *c)
{
	swapcontext(&main_uc, &c->uc);
}

static inline void
ctx_to_main(struct coro *c)
{
	swapcontext(&c->uc, &main_uc);
}
#endif

/*
 * ASan hooks around each switch.  `dying` is set on a coroutine's last
 * switch: a NULL save tells ASan to free the coroutine's fake stack.
 */
static inline void
asan_leave_main(struct coro *c)
{
#ifdef CORO_ASAN
	__sanitizer_start_switch_fiber(&main_asan_fake, c->stack_lo,
	    c->stack_size);
#else
	(void)c;
#endif
}

static inline void
asan_enter_main(void)
{
#ifdef CORO_ASAN
	__sanitizer_finish_switch_fiber(main_asan_fake, NULL, NULL);
#endif
}

static inline void
asan_leave_coro(struct coro *c, int dying)
{
#ifdef CORO_ASAN
	__sanitizer_start_switch_fiber(dying ? NULL : &c->asan_fake,
	    main_stack_lo, main_stack_size);
#else
	(void)c;
	(void)dying;
#endif
}

static inline void
asan_enter_coro(struct coro *c)
{
#ifdef CORO_ASAN
	/* NULL on first entry: there is no fake stack to restore yet. */
	__sanitizer_finish_switch_fiber(c ? c->asan_fake : NULL,
	    &main_stack_lo, &main_stack_size);
#else
	(void)c;
#endif
}

/* First and only frame of every coroutine. */
static void
coro_main(struct coro *c)
{
	asan_enter_coro(NULL);
	c->fn(c->arg);
	c->state = CORO_DONE;
	cur = NULL;
	asan_leave_coro(c, 1);
	ctx_to_main(c);
	/* coro_resume never switches to a finished coroutine. */
	log_error("coro: finished coroutine resumed");
	abort();
}

struct coro *
coro_create(coro_fn fn, void *arg)
{
	struct coro *c;

	if ((c = pool) != NULL) {
		pool = c->next;
		pool_len--;
	} else if ((c = stack_map()) == NULL)
		return NULL;
	c->state = CORO_READY;
	c->fn = fn;
	c->arg = arg;
	c->data = NULL;
	c->no_yield = 0;
	c->next = NULL;
#ifdef CORO_ASAN
	c->asan_fake = NULL;
#endif
	ctx_make(c);
	live++;
	return c;
}

/* Back in main after c finished: pool its stack or unmap it. */
static void
release(struct coro *c)
{
	live--;
#ifdef CORO_ASAN
	/* Frames that never returned (coro_main, the switch) leave their
	 * redzones poisoned; the next coroutine must start clean. */
	ASAN_UNPOISON_MEMORY_REGION(c->stack_lo, c->stack_size);
#endif
	if (pool_len >= pool_max || c->stack_size != stack_size) {
		stack_unmap(c);
		return;
	}
	c->state = CORO_POOLED;
	c->next = pool;
	pool = c;
	pool_len++;
}

int
coro_resume(struct coro *c)
{
	if (cur != NULL) {
		log_error("coro: coro_resume called inside a coroutine");
		abort();
	}
	if (c->state != CORO_READY && c->state != CORO_SUSPENDED) {
		log_error("coro: resume of a coroutine that is not suspended "
		    "(state %d)", (int)c->state);
		abort();
	}
	c->state = CORO_RUNNING;
	cur = c;
	asan_leave_main(c);
	ctx_to_coro(c);
	asan_enter_main();
	/* cur was reset by coro_yield or coro_main. */
	if (c->state == CORO_DONE) {
		release(c);
		return 0;
	}
	return 1;
}

void
coro_yield(void)
{
	struct coro *c = cur;

	if (c == NULL) {
		log_error("coro: coro_yield called in the main context");
		abort();
	}
	if (c->no_yield > 0) {
		log_error("coro: coro_yield while yielding is forbidden "
		    "(a SQLite transaction is open?)");
		abort();
	}
	c->state = CORO_SUSPENDED;
	cur = NULL;
	asan_leave_coro(c, 0);
	ctx_to_main(c);
	asan_enter_coro(c);
}

struct coro *
coro_current(void)
{
	return cur;
}

void
coro_set_data(struct coro *c, void *data)
{
	c->data = data;
}

void *
coro_get_data(const struct coro *c)
{
	return c != NULL ? c->data : NULL;
}

void
coro_forbid_yield(int delta)
{
	if (cur == NULL)
		return;
	cur->no_yield += delta;
	if (cur->no_yield < 0) {
		log_error("coro: coro_forbid_yield count went negative");
		abort();
	}
}

void
coro_stats(int *live_out, int *pooled_out, uint64_t *created_out)
{
	if (live_out != NULL)
		*live_out = live;
	if (pooled_out != NULL)
		*pooled_out = pool_len;
	if (created_out != NULL)
		*created_out = created;
}
