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

/* Release the multi handle and the timer (worker shutdown). */
void httpc_shutdown(void);

#endif
