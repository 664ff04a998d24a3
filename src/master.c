/*
 * master.c -- fork, supervise, stop and reload the broker and the workers.
 *
 * Children are plain records in one array.  Each child gets a pipe whose
 * write end it uses once to say "ready" (a single byte) after it has set
 * itself up; the master announces READY=1 to systemd only when the broker
 * and every worker of the current generation have done so.
 *
 * Restarts back off: a child that dies within FAST_CRASH_MS of its start
 * counts as a fast crash, and the n-th fast crash in a row delays the
 * respawn by 100 ms * 2^(n-1), capped at 30 s, so a crash loop is reported
 * and slowed instead of spinning.
 *
 * A reload (HUP) forks a new generation of workers with the new config and
 * stops the old generation gracefully once the new one is ready, so the
 * listening sockets (shared by both) never go unserved.
 *
 * Children are tied to the master with PR_SET_PDEATHSIG, so even a
 * SIGKILLed master leaves no orphans behind.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/wait.h>
#include <unistd.h>

#include <event2/event.h>

#include "broker/broker.h"
#include "worker/worker.h"
#include "src/log.h"
#include "src/master.h"
#include "src/metrics.h"
#include "src/proctitle.h"
#include "src/ratelimit.h"
#include "src/db/migrate.h"
#include "src/sdnotify.h"
#include "src/util.h"

#define MAX_CHILDREN	600
#define FAST_CRASH_MS	5000
#define BACKOFF_MAX_MS	30000
#define CRASH_LOOP_AT	5
#define KILL_GRACE_MS	5000

enum child_kind { CHILD_BROKER, CHILD_WORKER };

struct child {
	int used;
	enum child_kind kind;
	int id;			/* worker number, 1..n (0 for the broker) */
	int generation;
	pid_t pid;		/* 0 while waiting to be respawned */
	int ready;
	int retiring;		/* old generation, being stopped */
	int ready_fd;		/* read end of the ready pipe, -1 when done */
	struct event *ready_ev;
	struct event *respawn_ev;
	uint64_t started_ms;
	int fast_crashes;
};

static struct {
	struct config *cfg;
	struct event_base *base;
	struct listeners ls;
	struct child child[MAX_CHILDREN];
	int generation;
	int stopping;
	int reloading;
	int announced_ready;
	pid_t pid;
	int sfd;		/* signalfd */
	struct event *kill_timer;
} M;

static void spawn(struct child *c);

static const char *
child_name(const struct child *c, char *buf, size_t len)
{
	if (c->kind == CHILD_BROKER)
		snprintf(buf, len, "broker");
	else
		snprintf(buf, len, "worker.%d", c->id);
	return buf;
}

static struct child *
child_alloc(enum child_kind kind, int id)
{
	for (int i = 0; i < MAX_CHILDREN; i++) {
		struct child *c = &M.child[i];

		if (c->used)
			continue;
		memset(c, 0, sizeof(*c));
		c->used = 1;
		c->kind = kind;
		c->id = id;
		c->generation = M.generation;
		c->ready_fd = -1;
		return c;
	}
	log_error("too many child processes");
	return NULL;
}

static void
child_release(struct child *c)
{
	if (c->ready_ev)
		event_free(c->ready_ev);
	if (c->respawn_ev)
		event_free(c->respawn_ev);
	if (c->ready_fd >= 0)
		close(c->ready_fd);
	memset(c, 0, sizeof(*c));
	c->ready_fd = -1;
}

static int
count_children(enum child_kind kind, int only_live)
{
	int n = 0;

	for (int i = 0; i < MAX_CHILDREN; i++) {
		const struct child *c = &M.child[i];

		if (c->used && c->kind == kind && (!only_live || c->pid > 0))
			n++;
	}
	return n;
}

static int
current_generation_ready(void)
{
	for (int i = 0; i < MAX_CHILDREN; i++) {
		const struct child *c = &M.child[i];

		if (!c->used || c->retiring)
			continue;
		if (!c->ready)
			return 0;
	}
	return 1;
}

static void
signal_children(int sig, int workers_only, int retiring_only)
{
	for (int i = 0; i < MAX_CHILDREN; i++) {
		const struct child *c = &M.child[i];

		if (!c->used || c->pid <= 0)
			continue;
		if (workers_only && c->kind != CHILD_WORKER)
			continue;
		if (retiring_only && !c->retiring)
			continue;
		kill(c->pid, sig);
	}
}

static void
announce_status(void)
{
	int n = config_worker_count(M.cfg);

	sd_notifyf("STATUS=serving with %d worker%s on %s", n, n == 1 ? "" : "s",
	    M.cfg->engine == ENGINE_POSTGRES ? "postgres" : "sqlite");
}

/* Called whenever a child becomes ready. */
static void
check_all_ready(void)
{
	if (M.stopping || !current_generation_ready())
		return;
	if (M.reloading) {
		/* The new generation serves; let the old one finish and go. */
		log_info("reload complete; stopping the previous workers");
		signal_children(SIGTERM, 1, 1);
		M.reloading = 0;
		sd_notifyf("READY=1");
		announce_status();
		return;
	}
	if (!M.announced_ready) {
		M.announced_ready = 1;
		log_info("ready: broker and %d worker%s up", config_worker_count(M.cfg),
		    config_worker_count(M.cfg) == 1 ? "" : "s");
		sd_notifyf("READY=1");
		announce_status();
	}
}

static void
on_ready(evutil_socket_t fd, short what, void *arg)
{
	struct child *c = arg;
	char b;
	ssize_t n;

	(void)what;
	n = read(fd, &b, 1);
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	event_free(c->ready_ev);
	c->ready_ev = NULL;
	close(c->ready_fd);
	c->ready_fd = -1;
	if (n == 1) {
		c->ready = 1;
		check_all_ready();
	}
	/* n == 0: the child exited before it was ready; SIGCHLD handles it. */
}

/* In the child, right after fork: tie our life to the master's and undo the
 * master's signal set-up (blocked signals, read through a signalfd). */
static void
child_setup(const struct child *self)
{
	static const int sigs[] = { SIGTERM, SIGINT, SIGHUP, SIGUSR1, SIGCHLD };
	sigset_t none;
	char name[32];

	prctl(PR_SET_PDEATHSIG, SIGTERM);
	if (getppid() != M.pid)
		_exit(1);	/* the master died before prctl took effect */
	for (size_t i = 0; i < ARRAY_SIZE(sigs); i++)
		signal(sigs[i], SIG_DFL);
	signal(SIGPIPE, SIG_IGN);
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	close(M.sfd);
	log_set_role(child_name(self, name, sizeof(name)));
	if (self->kind == CHILD_BROKER)
		proctitle_set("cofferd: broker");
	else
		proctitle_set("cofferd: worker %d", self->id);
	/* Other children's ready pipes are not ours to hold open. */
	for (int i = 0; i < MAX_CHILDREN; i++)
		if (M.child[i].used && M.child[i].ready_fd >= 0)
			close(M.child[i].ready_fd);
}

static void
close_listeners(struct listeners *ls)
{
	for (int i = 0; i < ls->n_main; i++)
		close(ls->main_fd[i]);
	for (int i = 0; i < ls->n_admin; i++)
		close(ls->admin_fd[i]);
	ls->n_main = ls->n_admin = 0;
}

static void
spawn(struct child *c)
{
	int pfd[2];
	pid_t pid;
	char name[32];

	if (pipe2(pfd, O_CLOEXEC) < 0) {
		log_error("pipe: %m");
		return;
	}
	pid = fork();
	if (pid < 0) {
		log_error("fork %s: %m", child_name(c, name, sizeof(name)));
		close(pfd[0]);
		close(pfd[1]);
		return;
	}
	if (pid == 0) {
		close(pfd[0]);
		child_setup(c);
		if (c->kind == CHILD_BROKER) {
			close_listeners(&M.ls);
			_exit(broker_main(M.cfg, pfd[1]));
		}
		_exit(worker_main(M.cfg, c->id, &M.ls, pfd[1]));
	}
	close(pfd[1]);
	c->pid = pid;
	c->ready = 0;
	c->started_ms = now_msec();
	c->ready_fd = pfd[0];
	c->ready_ev = event_new(M.base, pfd[0], EV_READ | EV_PERSIST, on_ready, c);
	event_add(c->ready_ev, NULL);
	log_debug("started %s (pid %d)", child_name(c, name, sizeof(name)), (int)pid);
}

static void
on_respawn(evutil_socket_t fd, short what, void *arg)
{
	struct child *c = arg;

	(void)fd;
	(void)what;
	if (!M.stopping)
		spawn(c);
}

static void
schedule_respawn(struct child *c)
{
	uint64_t lived = now_msec() - c->started_ms;
	uint64_t delay = 0;
	char name[32];
	struct timeval tv;

	if (lived < FAST_CRASH_MS)
		c->fast_crashes++;
	else
		c->fast_crashes = 0;
	if (c->fast_crashes > 0) {
		int shift = c->fast_crashes - 1 < 16 ? c->fast_crashes - 1 : 16;

		delay = 100u << shift;
		if (delay > BACKOFF_MAX_MS)
			delay = BACKOFF_MAX_MS;
	}
	if (c->fast_crashes >= CRASH_LOOP_AT)
		log_error("%s is crash-looping: %d fast exits in a row; next start in %llu ms",
		    child_name(c, name, sizeof(name)), c->fast_crashes,
		    (unsigned long long)delay);
	if (c->respawn_ev == NULL)
		c->respawn_ev = evtimer_new(M.base, on_respawn, c);
	tv = msec_tv((uint64_t)delay);
	evtimer_add(c->respawn_ev, &tv);
}

static void
log_exit(const struct child *c, pid_t pid, int status)
{
	char name[32];
	int expected = M.stopping || c->retiring;

	child_name(c, name, sizeof(name));
	if (WIFEXITED(status) && WEXITSTATUS(status) == 0 && expected)
		log_info("%s (pid %d) exited", name, (int)pid);
	else if (WIFEXITED(status))
		log_msg(expected ? LL_INFO : LL_ERROR, "%s (pid %d) exited with status %d",
		    name, (int)pid, WEXITSTATUS(status));
	else if (WIFSIGNALED(status))
		log_msg(expected ? LL_WARN : LL_ERROR, "%s (pid %d) killed by signal %d (SIG%s)%s",
		    name, (int)pid, WTERMSIG(status), sigabbrev_np(WTERMSIG(status)),
		    WCOREDUMP(status) ? ", core dumped" : "");
}

static void
finish_stop_if_done(void)
{
	pid_t broker = 0;

	if (!M.stopping)
		return;
	if (count_children(CHILD_WORKER, 1) > 0)
		return;
	for (int i = 0; i < MAX_CHILDREN; i++)
		if (M.child[i].used && M.child[i].kind == CHILD_BROKER)
			broker = M.child[i].pid;
	if (broker > 0) {
		kill(broker, SIGTERM);
		return;
	}
	event_base_loopbreak(M.base);
}

static void
reap(void)
{
	pid_t pid;
	int status;

	while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
		struct child *c = NULL;

		for (int i = 0; i < MAX_CHILDREN; i++)
			if (M.child[i].used && M.child[i].pid == pid)
				c = &M.child[i];
		if (c == NULL)
			continue;
		log_exit(c, pid, status);
		c->pid = 0;
		if (c->ready_ev) {
			event_free(c->ready_ev);
			c->ready_ev = NULL;
			close(c->ready_fd);
			c->ready_fd = -1;
		}
		if (M.stopping || c->retiring) {
			child_release(c);
			continue;
		}
		if (c->kind == CHILD_WORKER)
			metrics_worker_restart();
		c->ready = 0;
		schedule_respawn(c);
	}
	finish_stop_if_done();
}

static void
on_kill_timer(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	(void)arg;
	log_warn("children still running %lld ms after the stop; killing them",
	    (long long)(M.cfg->shutdown_timeout + KILL_GRACE_MS));
	for (int i = 0; i < MAX_CHILDREN; i++)
		if (M.child[i].used && M.child[i].pid > 0)
			kill(M.child[i].pid, SIGKILL);
}

static void
start_stop(int sig)
{
	struct timeval tv;
	int64_t ms = M.cfg->shutdown_timeout + KILL_GRACE_MS;

	if (M.stopping)
		return;
	M.stopping = 1;
	log_info("received SIG%s; stopping gracefully (up to %lld ms)", sigabbrev_np(sig),
	    (long long)M.cfg->shutdown_timeout);
	sd_notifyf("STOPPING=1\nSTATUS=stopping");
	close_listeners(&M.ls);
	for (int i = 0; i < MAX_CHILDREN; i++) {
		struct child *c = &M.child[i];

		if (c->used && c->pid == 0)
			child_release(c);	/* waiting for a respawn */
	}
	signal_children(SIGTERM, 1, 0);
	tv = msec_tv((uint64_t)ms);
	M.kill_timer = evtimer_new(M.base, on_kill_timer, NULL);
	evtimer_add(M.kill_timer, &tv);
	finish_stop_if_done();
}

static void
spawn_workers(void)
{
	int n = config_worker_count(M.cfg);

	metrics_set_workers(n);
	for (int id = 1; id <= n; id++) {
		struct child *c = child_alloc(CHILD_WORKER, id);

		if (c)
			spawn(c);
	}
}

static void
reload(void)
{
	struct config *fresh = xcalloc(1, sizeof(*fresh));
	char err[CONFIG_ERR_MAX], restart[512];
	struct timespec ts;

	log_info("received SIGHUP; reloading %s", M.cfg->path);
	if (config_load(fresh, M.cfg->path, err, sizeof(err)) < 0) {
		log_error("reload failed, keeping the running configuration: %s", err);
		free(fresh);
		return;
	}
	clock_gettime(CLOCK_MONOTONIC, &ts);
	sd_notifyf("RELOADING=1\nMONOTONIC_USEC=%llu\nSTATUS=reloading",
	    (unsigned long long)ts.tv_sec * 1000000ull + (unsigned long long)ts.tv_nsec / 1000);
	if (config_restart_needed(M.cfg, fresh, restart, sizeof(restart)) > 0) {
		log_warn("these settings changed but only take effect after a restart: %s",
		    restart);
		/* Keep what the running sockets and broker were built from. */
		free(fresh->listen);
		fresh->listen = xstrdup(M.cfg->listen);
		free(fresh->admin_listen);
		fresh->admin_listen = xstrdup(M.cfg->admin_listen);
		free(fresh->runtime_dir);
		fresh->runtime_dir = xstrdup(M.cfg->runtime_dir);
		fresh->engine = M.cfg->engine;
		free(fresh->sqlite_path);
		fresh->sqlite_path = xstrdup(M.cfg->sqlite_path);
		free(fresh->postgres_dsn);
		fresh->postgres_dsn = xstrdup(M.cfg->postgres_dsn);
		fresh->pool_min = M.cfg->pool_min;
		fresh->pool_max = M.cfg->pool_max;
	}
	config_free(M.cfg);
	free(M.cfg);
	M.cfg = fresh;
	log_set_level((enum log_level)M.cfg->log_level);
	if (log_open(M.cfg->log_file) < 0)
		log_error("log_file %s: %m", M.cfg->log_file);

	/* Old workers retire once the new generation is ready. */
	for (int i = 0; i < MAX_CHILDREN; i++) {
		struct child *c = &M.child[i];

		if (!c->used || c->kind != CHILD_WORKER)
			continue;
		if (c->pid == 0)
			child_release(c);
		else
			c->retiring = 1;
	}
	M.generation++;
	M.reloading = 1;
	signal_children(SIGHUP, 0, 0);	/* the broker re-reads what it can */
	spawn_workers();
}

static void
handle_signal(int sig)
{
	switch (sig) {
	case SIGTERM:
	case SIGINT:
		start_stop((int)sig);
		break;
	case SIGHUP:
		if (M.stopping)
			break;
		/* Retiring workers must not be HUPed into anything: they are
		 * already on their way out. */
		signal_children(SIGTERM, 1, 1);
		reload();
		break;
	case SIGUSR1:
		log_info("received SIGUSR1; reopening the log file");
		if (log_reopen() < 0)
			log_error("reopen log file: %m");
		signal_children(SIGUSR1, 0, 0);
		break;
	case SIGCHLD:
		reap();
		break;
	}
}

/*
 * Signals reach the master through a signalfd rather than libevent's
 * signal events: libevent keeps its signal state in a process global that
 * children would inherit along with the master's event base, and each
 * child sets up its own.  The signals stay blocked in the master; children
 * unblock them after fork.
 */
static void
on_signalfd(evutil_socket_t fd, short what, void *arg)
{
	struct signalfd_siginfo si;

	(void)what;
	(void)arg;
	while (read(fd, &si, sizeof(si)) == (ssize_t)sizeof(si))
		handle_signal((int)si.ssi_signo);
}

static int
open_all_listeners(void)
{
	struct listen_addr addrs[LISTEN_MAX];
	char err[512], name[300];
	int n;

	n = listen_parse(M.cfg->listen, addrs, LISTEN_MAX, err, sizeof(err));
	for (int i = 0; i < n; i++) {
		int fd = listen_open(&addrs[i], 0666, err, sizeof(err));

		if (fd < 0) {
			log_error("listen: %s", err);
			return -1;
		}
		M.ls.main_fd[M.ls.n_main++] = fd;
		listen_format(&addrs[i], name, sizeof(name));
		log_info("listening on %s", name);
	}
	/* The admin listener can flip flags and wipe data: its socket file
	 * is the owner's alone. */
	n = listen_parse(M.cfg->admin_listen, addrs, LISTEN_MAX, err, sizeof(err));
	for (int i = 0; i < n; i++) {
		int fd = listen_open(&addrs[i], 0600, err, sizeof(err));

		if (fd < 0) {
			log_error("admin_listen: %s", err);
			return -1;
		}
		M.ls.admin_fd[M.ls.n_admin++] = fd;
		listen_format(&addrs[i], name, sizeof(name));
		log_info("admin listener on %s", name);
	}
	return 0;
}

static int
prepare_database(void)
{
	char err[1024];
	int version = 0;

	if (M.cfg->engine == ENGINE_SQLITE) {
		char *dir = xstrdup(M.cfg->sqlite_path);
		char *slash = strrchr(dir, '/');

		if (slash && slash != dir) {
			*slash = '\0';
			if (mkdir_p(dir, 0750) < 0)
				log_warn("create %s: %m", dir);
		}
		free(dir);
		if (migrate_sqlite(M.cfg->sqlite_path, &version, err, sizeof(err)) < 0) {
			log_error("database: %s", err);
			return -1;
		}
	} else if (migrate_postgres(M.cfg->postgres_dsn, &version, err, sizeof(err)) < 0) {
		log_error("database: %s", err);
		return -1;
	}
	log_info("database: %s, schema version %d",
	    M.cfg->engine == ENGINE_SQLITE ? "sqlite" : "postgres", version);
	return 0;
}

int
master_run(struct config *cfg)
{
	static const int sigs[] = { SIGTERM, SIGINT, SIGHUP, SIGUSR1, SIGCHLD };
	struct event *sigev;
	struct child *broker;
	sigset_t mask;
	int sfd;

	memset(&M, 0, sizeof(M));
	M.cfg = cfg;
	M.pid = getpid();
	for (int i = 0; i < MAX_CHILDREN; i++)
		M.child[i].ready_fd = -1;
	log_set_role("master");
	proctitle_set("cofferd: master");
	log_set_level((enum log_level)cfg->log_level);
	if (log_open(cfg->log_file) < 0) {
		log_error("log_file %s: %m", cfg->log_file);
		return 1;
	}
	signal(SIGPIPE, SIG_IGN);
	log_info("cofferd %s starting (config %s)", PACKAGE_VERSION, cfg->path);

	if (mkdir_p(cfg->runtime_dir, 0750) < 0) {
		log_error("runtime_dir %s: %m", cfg->runtime_dir);
		return 1;
	}
	if (prepare_database() < 0 || open_all_listeners() < 0 || metrics_init() < 0 ||
	    ratelimit_init() < 0)
		return 1;

	M.base = event_base_new();
	if (M.base == NULL) {
		log_error("event_base_new failed");
		return 1;
	}
	sigemptyset(&mask);
	for (size_t i = 0; i < ARRAY_SIZE(sigs); i++)
		sigaddset(&mask, sigs[i]);
	sigprocmask(SIG_BLOCK, &mask, NULL);
	M.sfd = sfd = signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC);
	if (sfd < 0) {
		log_error("signalfd: %m");
		return 1;
	}
	sigev = event_new(M.base, sfd, EV_READ | EV_PERSIST, on_signalfd, NULL);
	event_add(sigev, NULL);

	broker = child_alloc(CHILD_BROKER, 0);
	spawn(broker);
	spawn_workers();
	event_base_dispatch(M.base);

	log_info("stopped");
	event_free(sigev);
	close(sfd);
	for (int i = 0; i < MAX_CHILDREN; i++)
		if (M.child[i].used)
			child_release(&M.child[i]);
	if (M.kill_timer)
		event_free(M.kill_timer);
	event_base_free(M.base);
	config_free(M.cfg);
	free(M.cfg);
	return 0;
}
