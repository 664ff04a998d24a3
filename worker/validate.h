/*
 * validate.h -- the one way to read a request body and its fields.
 *
 * Every helper here either succeeds or answers the request itself with the
 * error shape of docs/API.md "Errors" and returns failure, so a handler reads:
 *
 *	json_t *body = validate_body(r);
 *	if (body == NULL || validate_keys(r, body, allowed) < 0 ||
 *	    validate_string(r, body, "name", 1, 1, 64, &name) < 0)
 *		goto out;	(the request is answered; write nothing)
 *
 * Status codes: 415 wrong content type, 413 too large, 400 malformed JSON,
 * bad UTF-8 or nesting deeper than [limits] max_json_depth, 422 a field of
 * the wrong type or out of range (the message names the field).
 */
#ifndef COFFER_VALIDATE_H
#define COFFER_VALIDATE_H

#include <jansson.h>

#include "worker/http.h"

/* Limits the helpers enforce; the worker sets them from its config. */
struct validate_limits {
	size_t max_body;		/* main listener */
	size_t max_body_admin;		/* admin listener (catalog uploads) */
	int max_depth;
};
void validate_set_limits(const struct validate_limits *l);

/* 1 after answering 413 when r's body is over its listener's limit, else 0.
 * The router asks before any handler runs. */
int validate_body_too_large(struct req *r);

/* The body as a JSON object (new reference), or NULL (answered). */
json_t *validate_body(struct req *r);

/* 422 naming the first key of obj not in allowed (a NULL-terminated list). */
int validate_keys(struct req *r, json_t *obj, const char *const *allowed);

/*
 * A string field of minlen..maxlen characters (code points).  *out points
 * into obj.  Missing: 422 when required, else 0 with *out = NULL.
 */
int validate_string(struct req *r, json_t *obj, const char *key, int required,
		    size_t minlen, size_t maxlen, const char **out);

/* An integer field in min..max; missing as above (then *out unchanged). */
int validate_int(struct req *r, json_t *obj, const char *key, int required,
		 json_int_t min, json_int_t max, json_int_t *out);

/* A boolean field; missing as above. */
int validate_bool(struct req *r, json_t *obj, const char *key, int required, int *out);

/* An array field (borrowed reference in *out); missing as above. */
int validate_array(struct req *r, json_t *obj, const char *key, int required,
		   size_t maxlen, json_t **out);

#endif
