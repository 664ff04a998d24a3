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
 *
 * Nested fields: each field helper has an _at form taking at, the path of
 * obj inside the body ("" for the body itself, "containers.bank",
 * "items[3]"), so the message names the full path:
 *
 *	containers.bank.items[3].qty must be an integer from 1 to 2147483647
 *
 * The plain form is the _at form with at "" (validate_int keeps wording
 * of its own, see below).  validate_path() and validate_path_index() build
 * the paths.
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

/*
 * required, for every field helper: 0 the field may be missing (or null),
 * 1 a missing field is 422 "<path> is required", VALIDATE_TYPED a missing
 * field is 422 as a field of the wrong type ("<path> must be an array"),
 * the wording the sync API has always used for its item lists and skills.
 */
#define VALIDATE_TYPED	2

/*
 * New strings (free them) naming member key of at ("containers.bank" and
 * "items" give "containers.bank.items"; at "" gives "items"), and element
 * i of the array at ("items[3]").  Sized from their inputs, so a message
 * never names a shortened path.
 */
char *validate_path(const char *at, const char *key);
char *validate_path_index(const char *at, size_t i);

/* 422 naming the first key of obj not in allowed (a NULL-terminated list). */
int validate_keys(struct req *r, json_t *obj, const char *const *allowed);
int validate_keys_at(struct req *r, const char *at, json_t *obj,
		     const char *const *allowed);

/*
 * A string field of minlen..maxlen characters (code points).  *out points
 * into obj.  Missing: 422 when required, else 0 with *out = NULL.
 */
int validate_string(struct req *r, json_t *obj, const char *key, int required,
		    size_t minlen, size_t maxlen, const char **out);
int validate_string_at(struct req *r, const char *at, json_t *obj, const char *key,
		       int required, size_t minlen, size_t maxlen, const char **out);

/*
 * An integer field in min..max; missing as above (then *out unchanged).
 * The messages differ in wording only: validate_int, at the top level of
 * the routes that have always used it, says "<key> must be an integer" or
 * "<key> must be from <min> to <max>"; validate_int_at says "<path> must
 * be an integer from <min> to <max>" for both (the wording of docs/API.md),
 * at the top level too.
 */
int validate_int(struct req *r, json_t *obj, const char *key, int required,
		 json_int_t min, json_int_t max, json_int_t *out);
int validate_int_at(struct req *r, const char *at, json_t *obj, const char *key,
		    int required, json_int_t min, json_int_t max, json_int_t *out);

/* A boolean field; missing as above. */
int validate_bool(struct req *r, json_t *obj, const char *key, int required, int *out);
int validate_bool_at(struct req *r, const char *at, json_t *obj, const char *key,
		     int required, int *out);

/* An array field of at most maxlen entries (borrowed reference in *out,
 * NULL when missing); missing as above. */
int validate_array(struct req *r, json_t *obj, const char *key, int required,
		   size_t maxlen, json_t **out);
int validate_array_at(struct req *r, const char *at, json_t *obj, const char *key,
		      int required, size_t maxlen, json_t **out);

/* An object field of at most maxlen members; as validate_array_at. */
int validate_object_at(struct req *r, const char *at, json_t *obj, const char *key,
		       int required, size_t maxlen, json_t **out);

#endif
