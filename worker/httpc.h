/*
 * httpc.h -- outbound HTTP from a worker without blocking its loop.
 *
 * libcurl's multi interface is driven by the worker's libevent loop: curl
 * tells us which sockets to watch (CURLMOPT_SOCKETFUNCTION) and when it
 * next needs a timeout (CURLMOPT_TIMERFUNCTION); we turn those into
 * events, and each event hands control back to curl_multi_socket_action().
 * A request's coroutine yields while its transfer runs and is resumed when
 * curl reports it done, so code calling httpc_request() reads straight
 * down like a blocking call while the worker goes on serving others.
 *
 * Never call it inside a db_tx() callback: a SQLite transaction must not
 * yield (see db.h).
 *
 * Requests to addresses users chose (webhooks) set deny_private: curl
 * then opens its sockets through our CURLOPT_OPENSOCKETFUNCTION, which
 * sees each address curl is about to connect to -- after DNS, for every
 * address it tries -- and refuses loopback, private, link-local, multicast
 * and other non-public ones.  Checking the address connected to, not the
 * name, is what keeps a name that resolves differently at delivery time
 * (DNS rebinding) from reaching inside.  Such requests also ignore proxy
 * settings from the environment, since a proxy would connect for us.
 */
#ifndef COFFER_HTTPC_H
#define COFFER_HTTPC_H

#include <stddef.h>

struct event_base;

/* Largest response body kept; a longer one fails the request. */
#define HTTPC_MAX_RESPONSE	(1024 * 1024)

/*
 * Bind httpc to this process's event loop (each worker after fork).
 * Idempotent; curl_global_init runs once per process on the first call.
 * Returns 0 or -1 (logged).
 */
int httpc_init(struct event_base *base);

/*
 * From a coroutine only: send method url with headers (a NULL-terminated
 * list of "Name: value", may be NULL) and body (may be NULL), wait at most
 * timeout_ms, and return 0 with *status and the response body (*resp_body,
 * NUL-terminated, free() it; *resp_len its length) -- whatever the status.
 * Returns -1 (logged) when no HTTP response came back: connection refused,
 * timeout, a body over HTTPC_MAX_RESPONSE.  Redirects are not followed.
 */
int httpc_request(const char *method, const char *url, const char *const *headers,
		  const char *body, size_t body_len, long timeout_ms, long *status,
		  char **resp_body, size_t *resp_len);

/* What became of an httpc_call. */
enum httpc_outcome {
	HTTPC_OK = 0,		/* an HTTP answer came (any status); for
				 * httpc_probe: the host is public */
	HTTPC_FAILED,		/* no answer: refused, reset, too large... */
	HTTPC_TIMEOUT,		/* no answer within the timeout */
	HTTPC_PRIVATE,		/* every address was refused (deny_private) */
	HTTPC_UNRESOLVED,	/* the host name did not resolve */
};

#define HTTPC_ERROR_MAX	256

struct httpc_call {
	/* What to send; as httpc_request. */
	const char *method;
	const char *url;
	const char *const *headers;
	const char *body;
	size_t body_len;
	long timeout_ms;
	int deny_private;	/* see above */
	int discard_response;	/* read the body and keep none of it */

	/* The answer, on HTTPC_OK. */
	long status;
	char *resp_body;	/* NUL-terminated, free() it; NULL if discarded */
	size_t resp_len;
	/* Otherwise why, for people (never NULL-length on failure). */
	char error[HTTPC_ERROR_MAX];
};

/*
 * From a coroutine only: make the request c describes and fill in its
 * answer.  Returns its enum httpc_outcome.  Nothing is logged: the caller
 * decides how loud a failure is.
 */
int httpc_call(struct httpc_call *c);

/*
 * From a coroutine only: resolve url's host, without connecting, within
 * timeout_ms.  HTTPC_OK when every address is public, HTTPC_PRIVATE when
 * one is not (a name that can point inside is refused whole),
 * HTTPC_UNRESOLVED, or HTTPC_FAILED.
 */
int httpc_probe(const char *url, long timeout_ms);

struct sockaddr;

/* 1 if sa (AF_INET or AF_INET6) is not a public unicast address:
 * loopback, private, shared (CGNAT), link-local, multicast, unspecified,
 * reserved; IPv4-mapped and NAT64 addresses by their IPv4 part. */
int httpc_addr_private(const struct sockaddr *sa);

/* Release the multi handle and the timer (worker shutdown). */
void httpc_shutdown(void);

#endif
