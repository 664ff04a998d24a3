/*
 * accept_bench.c -- one shared listening socket vs. SO_REUSEPORT per worker.
 *
 *	accept_bench shared|reuseport PORT WORKERS SECONDS
 *
 * Forks WORKERS libevent/evhttp processes answering every request with a
 * small 200, either all accepting on one socket opened before the fork
 * (what cofferd does) or each on its own SO_REUSEPORT socket.  Drive it
 * with wrk for the throughput; at the end it prints how many connections
 * each worker accepted (kept in shared memory).  Used for the "listening
 * sockets" section of bench/RESULTS.md.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/listener.h>

#define MAX_WORKERS 16

static long *accepted;
static int me;

static int
open_socket(int port, int reuseport)
{
	struct sockaddr_in sin;
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0), one = 1;

	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (reuseport)
		setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one));
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_port = htons((unsigned short)port);
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (bind(fd, (struct sockaddr *)&sin, sizeof(sin)) < 0 || listen(fd, 1024) < 0) {
		perror("bind/listen");
		exit(1);
	}
	return fd;
}

static void
answer(struct evhttp_request *req, void *arg)
{
	struct evbuffer *b = evbuffer_new();

	(void)arg;
	evbuffer_add(b, "{\"status\":\"ok\"}", 15);
	evhttp_send_reply(req, 200, "OK", b);
	evbuffer_free(b);
}

/* evhttp asks for a bufferevent once per accepted connection: count it. */
static struct bufferevent *
new_conn(struct event_base *base, void *arg)
{
	(void)arg;
	__atomic_fetch_add(&accepted[me], 1, __ATOMIC_RELAXED);
	return bufferevent_socket_new(base, -1, BEV_OPT_CLOSE_ON_FREE);
}

static void
stop(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	event_base_loopbreak(arg);
}

int
main(int argc, char **argv)
{
	int reuseport, port, n, secs, shared_fd = -1;
	pid_t pids[MAX_WORKERS];

	if (argc != 5)
		return 2;
	reuseport = strcmp(argv[1], "reuseport") == 0;
	port = atoi(argv[2]);
	n = atoi(argv[3]);
	secs = atoi(argv[4]);
	if (n < 1 || n > MAX_WORKERS)
		return 2;
	accepted = mmap(NULL, sizeof(long) * MAX_WORKERS, PROT_READ | PROT_WRITE,
	    MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (!reuseport)
		shared_fd = open_socket(port, 0);
	for (int i = 0; i < n; i++) {
		if ((pids[i] = fork()) == 0) {
			struct event_base *base = event_base_new();
			struct evhttp *http = evhttp_new(base);
			struct timeval tv = { secs, 0 };
			int fd = reuseport ? open_socket(port, 1) : shared_fd;

			prctl(PR_SET_PDEATHSIG, SIGTERM);
			me = i;
			evhttp_set_gencb(http, answer, NULL);
			evhttp_set_bevcb(http, new_conn, NULL);
			evhttp_accept_socket_with_handle(http, fd);
			event_base_once(base, -1, EV_TIMEOUT, stop, base, &tv);
			event_base_dispatch(base);
			_exit(0);
		}
	}
	for (int i = 0; i < n; i++)
		waitpid(pids[i], NULL, 0);
	printf("%s: connections per worker:", argv[1]);
	for (int i = 0; i < n; i++)
		printf(" %ld", accepted[i]);
	printf("\n");
	return 0;
}
