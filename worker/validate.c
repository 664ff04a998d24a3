/*
 * validate.c -- request bodies and fields, with the errors of docs/API.md "Errors".
 *
 * Every field helper is written once, in its _at form, and the plain form
 * calls it with at "" (validate_int alone keeps a body of its own, for its
 * older wording: see validate.h).  A message names the field as at + "." +
 * key, or key alone at the top level, which the "%s%s%s" formats below
 * spell with SEP(at).  Keys in messages are the caller's own field names,
 * except an unknown key, which is the client's and is cut to 64 bytes, so
 * a message stays well inside http_error's buffer.
 */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include <event2/buffer.h>
#include <event2/http.h>

#include "src/util.h"
#include "worker/validate.h"

static struct validate_limits limits = { 1024 * 1024, 64 * 1024 * 1024, 32 };

void
validate_set_limits(const struct validate_limits *l)
{
	limits = *l;
}

static int
depth(json_t *v)
{
	int d = 0;

	if (json_is_object(v)) {
		const char *k;
		json_t *e;

		json_object_foreach(v, k, e) {
			int c = depth(e);

			if (c > d)
				d = c;
		}
		return d + 1;
	}
	if (json_is_array(v)) {
		size_t i;
		json_t *e;

		json_array_foreach(v, i, e) {
			int c = depth(e);

			if (c > d)
				d = c;
		}
		return d + 1;
	}
	return 0;
}

int
validate_body_too_large(struct req *r)
{
	size_t len = evbuffer_get_length(evhttp_request_get_input_buffer(r->ev));
	size_t max = r->listener == LISTENER_ADMIN ? limits.max_body_admin : limits.max_body;

	if (len <= max)
		return 0;
	http_error(r, 413, NULL, "the body is larger than %zu bytes", max);
	return 1;
}

json_t *
validate_body(struct req *r)
{
	const char *ct = evhttp_find_header(evhttp_request_get_input_headers(r->ev),
	    "Content-Type");
	struct evbuffer *in = evhttp_request_get_input_buffer(r->ev);
	size_t len = evbuffer_get_length(in);
	json_error_t jerr;
	json_t *body;

	if (ct == NULL || strncasecmp(ct, "application/json", 16) != 0 ||
	    (ct[16] != '\0' && ct[16] != ';' && ct[16] != ' ')) {
		http_error(r, 415, NULL, "expected Content-Type: application/json");
		return NULL;
	}
	if (len == 0) {
		http_error(r, 400, NULL, "a JSON body is required");
		return NULL;
	}
	/* jansson rejects invalid UTF-8 and \u0000 by default. */
	body = json_loadb((const char *)evbuffer_pullup(in, -1), len, JSON_REJECT_DUPLICATES,
	    &jerr);
	if (body == NULL) {
		http_error(r, 400, NULL, "malformed JSON: %s (line %d, column %d)", jerr.text,
		    jerr.line, jerr.column);
		return NULL;
	}
	if (depth(body) > limits.max_depth) {
		json_decref(body);
		http_error(r, 400, NULL, "JSON nested deeper than %d levels", limits.max_depth);
		return NULL;
	}
	if (!json_is_object(body)) {
		json_decref(body);
		http_error(r, 400, NULL, "the body must be a JSON object");
		return NULL;
	}
	return body;
}

char *
validate_path(const char *at, const char *key)
{
	size_t len = strlen(at) + 1 + strlen(key) + 1;
	char *s = xmalloc(len);

	snprintf(s, len, "%s%s%s", at, *at ? "." : "", key);
	return s;
}

char *
validate_path_index(const char *at, size_t i)
{
	/* "[" + the digits of SIZE_MAX (at most 20) + "]" + NUL. */
	size_t len = strlen(at) + 23;
	char *s = xmalloc(len);

	snprintf(s, len, "%s[%zu]", at, i);
	return s;
}

/* The separator between at and a key: none at the top level. */
#define SEP(at) (*(at) ? "." : "")

int
validate_keys(struct req *r, json_t *obj, const char *const *allowed)
{
	return validate_keys_at(r, "", obj, allowed);
}

int
validate_keys_at(struct req *r, const char *at, json_t *obj, const char *const *allowed)
{
	const char *k;
	json_t *v;

	json_object_foreach(obj, k, v) {
		int ok = 0;

		for (const char *const *a = allowed; *a; a++)
			if (strcmp(*a, k) == 0)
				ok = 1;
		if (!ok) {
			http_error(r, 422, NULL, "unknown field \"%s%s%.64s\"", at, SEP(at), k);
			return -1;
		}
	}
	return 0;
}

/*
 * Look key up; 1 present, 0 absent and optional, -1 absent and required
 * (answered).  With VALIDATE_TYPED an absent field is 1 with *v NULL, which
 * every type check below refuses.
 */
static int
field(struct req *r, const char *at, json_t *obj, const char *key, int required, json_t **v)
{
	*v = json_object_get(obj, key);
	if (*v != NULL && !json_is_null(*v))
		return 1;
	*v = NULL;
	if (required == VALIDATE_TYPED)
		return 1;
	if (required) {
		http_error(r, 422, NULL, "%s%s%s is required", at, SEP(at), key);
		return -1;
	}
	return 0;
}

int
validate_string(struct req *r, json_t *obj, const char *key, int required,
		size_t minlen, size_t maxlen, const char **out)
{
	return validate_string_at(r, "", obj, key, required, minlen, maxlen, out);
}

int
validate_string_at(struct req *r, const char *at, json_t *obj, const char *key,
		   int required, size_t minlen, size_t maxlen, const char **out)
{
	json_t *v;
	int rc = field(r, at, obj, key, required, &v);
	size_t n;

	*out = NULL;
	if (rc <= 0)
		return rc;
	if (!json_is_string(v)) {
		http_error(r, 422, NULL, "%s%s%s must be a string", at, SEP(at), key);
		return -1;
	}
	n = utf8_len(json_string_value(v));
	if (n < minlen || n > maxlen) {
		http_error(r, 422, NULL, "%s%s%s must be %zu to %zu characters", at, SEP(at),
		    key, minlen, maxlen);
		return -1;
	}
	*out = json_string_value(v);
	return 0;
}

int
validate_int(struct req *r, json_t *obj, const char *key, int required,
	     json_int_t min, json_int_t max, json_int_t *out)
{
	json_t *v;
	int rc = field(r, "", obj, key, required, &v);

	if (rc <= 0)
		return rc;
	if (!json_is_integer(v)) {
		http_error(r, 422, NULL, "%s must be an integer", key);
		return -1;
	}
	if (json_integer_value(v) < min || json_integer_value(v) > max) {
		http_error(r, 422, NULL, "%s must be from %lld to %lld", key,
		    (long long)min, (long long)max);
		return -1;
	}
	*out = json_integer_value(v);
	return 0;
}

int
validate_int_at(struct req *r, const char *at, json_t *obj, const char *key, int required,
		json_int_t min, json_int_t max, json_int_t *out)
{
	json_t *v;
	int rc = field(r, at, obj, key, required, &v);

	if (rc <= 0)
		return rc;
	if (!json_is_integer(v) || json_integer_value(v) < min || json_integer_value(v) > max) {
		http_error(r, 422, NULL, "%s%s%s must be an integer from %lld to %lld", at,
		    SEP(at), key, (long long)min, (long long)max);
		return -1;
	}
	*out = json_integer_value(v);
	return 0;
}

int
validate_bool(struct req *r, json_t *obj, const char *key, int required, int *out)
{
	return validate_bool_at(r, "", obj, key, required, out);
}

int
validate_bool_at(struct req *r, const char *at, json_t *obj, const char *key, int required,
		 int *out)
{
	json_t *v;
	int rc = field(r, at, obj, key, required, &v);

	if (rc <= 0)
		return rc;
	if (!json_is_boolean(v)) {
		http_error(r, 422, NULL, "%s%s%s must be true or false", at, SEP(at), key);
		return -1;
	}
	*out = json_is_true(v);
	return 0;
}

int
validate_array(struct req *r, json_t *obj, const char *key, int required,
	       size_t maxlen, json_t **out)
{
	return validate_array_at(r, "", obj, key, required, maxlen, out);
}

int
validate_array_at(struct req *r, const char *at, json_t *obj, const char *key, int required,
		  size_t maxlen, json_t **out)
{
	json_t *v;
	int rc = field(r, at, obj, key, required, &v);

	*out = NULL;
	if (rc <= 0)
		return rc;
	if (!json_is_array(v)) {
		http_error(r, 422, NULL, "%s%s%s must be an array", at, SEP(at), key);
		return -1;
	}
	if (json_array_size(v) > maxlen) {
		http_error(r, 422, NULL, "%s%s%s has more than %zu entries", at, SEP(at), key,
		    maxlen);
		return -1;
	}
	*out = v;
	return 0;
}

int
validate_object_at(struct req *r, const char *at, json_t *obj, const char *key, int required,
		   size_t maxlen, json_t **out)
{
	json_t *v;
	int rc = field(r, at, obj, key, required, &v);

	*out = NULL;
	if (rc <= 0)
		return rc;
	if (!json_is_object(v)) {
		http_error(r, 422, NULL, "%s%s%s must be an object", at, SEP(at), key);
		return -1;
	}
	if (json_object_size(v) > maxlen) {
		http_error(r, 422, NULL, "%s%s%s has more than %zu entries", at, SEP(at), key,
		    maxlen);
		return -1;
	}
	*out = v;
	return 0;
}
