/*
 * config.c -- the settings table and the INI parser behind it.
 *
 * `settings[]` is the one place a setting is defined: section, key, type,
 * default, bounds and whether it needs a restart.  Parsing a file is:
 * defaults from the table, then each line overrides one entry, then the
 * cross-setting checks.  [oauth.NAME] sections are the only dynamic part
 * and have their own small table.
 */
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>

#include "src/config.h"
#include "src/crypto.h"
#include "src/listen.h"
#include "src/log.h"
#include "src/util.h"

#ifndef COFFER_DATADIR
#define COFFER_DATADIR "/usr/share"
#endif

enum stype {
	T_STR,		/* free text */
	T_PATH,		/* text; relative values resolved against the file's dir */
	T_LISTEN,	/* listen spec list */
	T_INT,
	T_SIZE,		/* int64 bytes */
	T_DUR,		/* int64 milliseconds */
	T_BOOL,
	T_ENUM,		/* int index into choices */
	T_WORKERS,	/* "auto" (0) or 1..max */
	T_LEVEL,	/* log level */
};

#define S_RESTART 0x01

struct setting {
	const char *section;
	const char *key;
	enum stype type;
	size_t off;
	const char *def;
	int64_t min, max;
	const char *const *choices;
	int flags;
};

static const char *const engines[] = { "sqlite", "postgres", NULL };
static const char *const environments[] = { "production", "development", NULL };

#define F(field) offsetof(struct config, field)
#define KIB 1024LL
#define MIB (1024LL * 1024)
#define GIB (1024LL * 1024 * 1024)
#define SEC 1000LL
#define DAY (86400LL * 1000)

static const struct setting settings[] = {
	{ "server", "listen", T_LISTEN, F(listen), "127.0.0.1:8080", 0, 0, NULL, S_RESTART },
	{ "server", "admin_listen", T_LISTEN, F(admin_listen), "127.0.0.1:8081", 0, 0, NULL, S_RESTART },
	{ "server", "public_url", T_STR, F(public_url), "", 0, 0, NULL, 0 },
	{ "server", "workers", T_WORKERS, F(workers), "auto", 1, 256, NULL, 0 },
	{ "server", "environment", T_ENUM, F(environment), "production", 0, 0, environments, 0 },
	{ "server", "max_body_size", T_SIZE, F(max_body_size), "1M", KIB, GIB, NULL, 0 },
	{ "server", "request_timeout", T_DUR, F(request_timeout), "30s", SEC, DAY, NULL, 0 },
	{ "server", "keepalive_timeout", T_DUR, F(keepalive_timeout), "60s", SEC, DAY, NULL, 0 },
	{ "server", "shutdown_timeout", T_DUR, F(shutdown_timeout), "30s", 0, DAY, NULL, 0 },
	{ "server", "runtime_dir", T_PATH, F(runtime_dir), "/run/coffer", 0, 0, NULL, S_RESTART },
	{ "server", "log_level", T_LEVEL, F(log_level), "info", 0, 0, NULL, 0 },
	{ "server", "log_file", T_PATH, F(log_file), "", 0, 0, NULL, 0 },
	{ "server", "access_log", T_BOOL, F(access_log), "on", 0, 0, NULL, 0 },

	{ "limits", "max_container_items", T_INT, F(max_container_items), "2000", 1, 100000, NULL, 0 },
	{ "limits", "max_name_length", T_INT, F(max_name_length), "64", 1, 1024, NULL, 0 },
	{ "limits", "max_json_depth", T_INT, F(max_json_depth), "32", 2, 1000, NULL, 0 },
	{ "limits", "characters_per_user", T_INT, F(characters_per_user), "20", 1, 10000, NULL, 0 },
	{ "limits", "groups_per_user", T_INT, F(groups_per_user), "20", 1, 10000, NULL, 0 },
	{ "limits", "activity_per_request", T_INT, F(activity_per_request), "100", 1, 100000, NULL, 0 },
	{ "limits", "streams_per_user", T_INT, F(streams_per_user), "8", 1, 10000, NULL, 0 },
	{ "limits", "token_rate", T_INT, F(token_rate), "10", 0, 1000000, NULL, 0 },
	{ "limits", "token_burst", T_INT, F(token_burst), "60", 1, 1000000, NULL, 0 },
	{ "limits", "session_rate", T_INT, F(session_rate), "20", 0, 1000000, NULL, 0 },
	{ "limits", "session_burst", T_INT, F(session_burst), "100", 1, 1000000, NULL, 0 },
	{ "limits", "address_rate", T_INT, F(address_rate), "50", 0, 1000000, NULL, 0 },
	{ "limits", "address_burst", T_INT, F(address_burst), "200", 1, 1000000, NULL, 0 },

	{ "database", "engine", T_ENUM, F(engine), "sqlite", 0, 0, engines, S_RESTART },
	{ "database", "sqlite_path", T_PATH, F(sqlite_path), "/var/lib/coffer/coffer.db", 0, 0, NULL, S_RESTART },
	{ "database", "sqlite_busy_timeout", T_DUR, F(sqlite_busy_timeout), "5s", 0, 10 * 60 * SEC, NULL, 0 },
	{ "database", "postgres_dsn", T_STR, F(postgres_dsn), "", 0, 0, NULL, S_RESTART },
	{ "database", "pool_min", T_INT, F(pool_min), "2", 0, 1000, NULL, S_RESTART },
	{ "database", "pool_max", T_INT, F(pool_max), "10", 1, 1000, NULL, S_RESTART },
	{ "database", "pool_timeout", T_DUR, F(pool_timeout), "5s", 1, 10 * 60 * SEC, NULL, 0 },
	{ "database", "lease_timeout", T_DUR, F(lease_timeout), "30s", 1, DAY, NULL, 0 },
	{ "database", "statement_timeout", T_DUR, F(statement_timeout), "30s", 0, DAY, NULL, 0 },

	{ "auth", "mock_provider", T_BOOL, F(auth_mock_provider), "off", 0, 0, NULL, 0 },
	{ "auth", "cookie_secure", T_BOOL, F(cookie_secure), "off", 0, 0, NULL, 0 },
	{ "auth", "session_ttl", T_DUR, F(session_ttl), "30d", 60 * SEC, 3650 * DAY, NULL, 0 },

	{ "ops", "token_file", T_PATH, F(ops_token_file), "", 0, 0, NULL, 0 },

	{ "billing", "mock_provider", T_BOOL, F(billing_mock_provider), "off", 0, 0, NULL, 0 },
	{ "billing", "webhook_secret_file", T_PATH, F(webhook_secret_file), "", 0, 0, NULL, 0 },

	{ "webhooks", "max_attempts", T_INT, F(webhook_max_attempts), "8", 1, 100, NULL, 0 },
	{ "webhooks", "timeout", T_DUR, F(webhook_timeout), "10s", 100, 10 * 60 * SEC, NULL, 0 },
	{ "webhooks", "concurrency", T_INT, F(webhook_concurrency), "4", 1, 64, NULL, 0 },
	{ "webhooks", "allow_private", T_BOOL, F(webhook_allow_private), "off", 0, 0, NULL, 0 },

	{ "events", "max_buffer", T_SIZE, F(events_max_buffer), "1M", KIB, GIB, NULL, 0 },
	{ "events", "ping_interval", T_DUR, F(events_ping_interval), "15s", 100, 3600 * SEC, NULL, 0 },

	{ "catalog", "path", T_PATH, F(catalog_path), COFFER_DATADIR "/coffer/item-catalog.json", 0, 0, NULL, S_RESTART },

	{ "dev", "seed_demo", T_BOOL, F(seed_demo), "off", 0, 0, NULL, 0 },
	{ "dev", "clock_offset", T_DUR, F(clock_offset), "0", 0, 3650 * DAY, NULL, 0 },
};
#define N_SETTINGS ARRAY_SIZE(settings)

/* The keys of an [oauth.NAME] section. */
struct oauth_key {
	const char *key;
	size_t off;
	int required;
	int is_path;
};
#define O(field) offsetof(struct oauth_provider, field)
static const struct oauth_key oauth_keys[] = {
	{ "client_id", O(client_id), 1, 0 },
	{ "client_secret_file", O(client_secret_file), 1, 1 },
	{ "authorize_url", O(authorize_url), 1, 0 },
	{ "token_url", O(token_url), 1, 0 },
	{ "userinfo_url", O(userinfo_url), 1, 0 },
	{ "scope", O(scope), 0, 0 },
};

/* ---- value parsers ---- */

static int
parse_int64(const char *s, int64_t *out, const char **rest)
{
	char *end;
	long long v;

	if (!isdigit((unsigned char)*s))
		return -1;
	errno = 0;
	v = strtoll(s, &end, 10);
	if (errno)
		return -1;
	*out = v;
	*rest = end;
	return 0;
}

int
config_parse_size(const char *s, int64_t *out)
{
	const char *unit;
	int64_t v, mul = 1;

	if (parse_int64(s, &v, &unit) < 0)
		return -1;
	if (strcmp(unit, "") == 0 || strcmp(unit, "B") == 0)
		mul = 1;
	else if (strcmp(unit, "K") == 0 || strcmp(unit, "k") == 0)
		mul = KIB;
	else if (strcmp(unit, "M") == 0)
		mul = MIB;
	else if (strcmp(unit, "G") == 0)
		mul = GIB;
	else
		return -1;
	if (v > INT64_MAX / mul)
		return -1;
	*out = v * mul;
	return 0;
}

int
config_parse_duration(const char *s, int64_t *out_ms)
{
	const char *unit;
	int64_t v, mul;

	if (parse_int64(s, &v, &unit) < 0)
		return -1;
	if (strcmp(unit, "ms") == 0)
		mul = 1;
	else if (strcmp(unit, "") == 0 || strcmp(unit, "s") == 0)
		mul = SEC;
	else if (strcmp(unit, "m") == 0)
		mul = 60 * SEC;
	else if (strcmp(unit, "h") == 0)
		mul = 3600 * SEC;
	else if (strcmp(unit, "d") == 0)
		mul = DAY;
	else
		return -1;
	if (v > INT64_MAX / mul)
		return -1;
	*out_ms = v * mul;
	return 0;
}

int
config_parse_bool(const char *s, int *out)
{
	static const char *const yes[] = { "on", "yes", "true", "1" };
	static const char *const no[] = { "off", "no", "false", "0" };

	for (size_t i = 0; i < ARRAY_SIZE(yes); i++) {
		if (strcasecmp(s, yes[i]) == 0) {
			*out = 1;
			return 0;
		}
		if (strcasecmp(s, no[i]) == 0) {
			*out = 0;
			return 0;
		}
	}
	return -1;
}

/* ---- parser state ---- */

struct parser {
	struct config *cfg;
	const char *name;	/* file name for messages */
	char *dir;		/* its directory, for relative paths */
	int line;
	char *err;
	size_t errlen;
	int set_line[N_SETTINGS];	/* where each setting was given, 0 = default */
	struct oauth_provider *oauth;	/* current [oauth.NAME], or NULL */
	int oauth_seen[8];		/* keys given in the current one */
	int oauth_line[CONFIG_MAX_OAUTH];
	const char *section;		/* current section name (points into settings) */
	char section_buf[80];
};

static int
fail(struct parser *p, int line, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (line > 0)
		n = snprintf(p->err, p->errlen, "%s:%d: ", p->name, line);
	else
		n = snprintf(p->err, p->errlen, "%s: ", p->name);
	if (n < 0 || (size_t)n >= p->errlen)
		return -1;
	va_start(ap, fmt);
	vsnprintf(p->err + n, p->errlen - (size_t)n, fmt, ap);
	va_end(ap);
	return -1;
}

static char **
str_field(struct config *cfg, const struct setting *s)
{
	return (char **)((char *)cfg + s->off);
}

static char *
resolve_path(const struct parser *p, const char *v)
{
	char *out;
	size_t n;

	if (v[0] == '\0' || v[0] == '/' || p->dir == NULL)
		return xstrdup(v);
	n = strlen(p->dir) + strlen(v) + 2;
	out = xmalloc(n);
	snprintf(out, n, "%s/%s", p->dir, v);
	return out;
}

/* Store v into setting s; -1 with the reason in why. */
static int
set_value(struct parser *p, const struct setting *s, const char *v,
	  char *why, size_t whylen)
{
	struct config *cfg = p->cfg;
	void *field = (char *)cfg + s->off;
	struct listen_addr addrs[LISTEN_MAX];
	int64_t n;
	int b;
	enum log_level lvl;

	switch (s->type) {
	case T_STR:
	case T_PATH:
	case T_LISTEN:
		if (s->type == T_LISTEN &&
		    listen_parse(v, addrs, LISTEN_MAX, why, whylen) < 0)
			return -1;
		free(*str_field(cfg, s));
		*str_field(cfg, s) = s->type == T_PATH ? resolve_path(p, v) : xstrdup(v);
		return 0;
	case T_INT:
	case T_SIZE:
	case T_DUR:
		if (s->type == T_INT) {
			const char *rest;

			if (parse_int64(v, &n, &rest) < 0 || *rest != '\0') {
				snprintf(why, whylen, "expected a whole number");
				return -1;
			}
		} else if (s->type == T_SIZE && config_parse_size(v, &n) < 0) {
			snprintf(why, whylen, "expected a size like 512K, 1M or 2G");
			return -1;
		} else if (s->type == T_DUR && config_parse_duration(v, &n) < 0) {
			snprintf(why, whylen, "expected a duration like 500ms, 30s, 5m, 1h or 7d");
			return -1;
		}
		if (n < s->min || n > s->max) {
			if (s->type == T_DUR)
				snprintf(why, whylen, "out of range (%lldms to %lldms)",
				    (long long)s->min, (long long)s->max);
			else
				snprintf(why, whylen, "out of range (%lld to %lld)",
				    (long long)s->min, (long long)s->max);
			return -1;
		}
		if (s->type == T_INT)
			*(int *)field = (int)n;
		else
			*(int64_t *)field = n;
		return 0;
	case T_BOOL:
		if (config_parse_bool(v, &b) < 0) {
			snprintf(why, whylen, "expected on or off");
			return -1;
		}
		*(int *)field = b;
		return 0;
	case T_ENUM:
		for (int i = 0; s->choices[i]; i++) {
			if (strcmp(v, s->choices[i]) == 0) {
				*(int *)field = i;
				return 0;
			}
		}
		snprintf(why, whylen, "expected %s or %s", s->choices[0], s->choices[1]);
		return -1;
	case T_WORKERS: {
		const char *rest;

		if (strcmp(v, "auto") == 0) {
			*(int *)field = 0;
			return 0;
		}
		if (parse_int64(v, &n, &rest) < 0 || *rest != '\0' ||
		    n < s->min || n > s->max) {
			snprintf(why, whylen, "expected auto or a count from %lld to %lld",
			    (long long)s->min, (long long)s->max);
			return -1;
		}
		*(int *)field = (int)n;
		return 0;
	}
	case T_LEVEL:
		if (log_level_parse(v, &lvl) < 0) {
			snprintf(why, whylen, "expected error, warn, info or debug");
			return -1;
		}
		*(int *)field = (int)lvl;
		return 0;
	}
	return -1;
}

void
config_defaults(struct config *cfg)
{
	struct parser p;
	char why[CONFIG_ERR_MAX];

	memset(cfg, 0, sizeof(*cfg));
	memset(&p, 0, sizeof(p));
	p.cfg = cfg;
	for (size_t i = 0; i < N_SETTINGS; i++) {
		if (set_value(&p, &settings[i], settings[i].def, why, sizeof(why)) < 0) {
			/* A bad built-in default is a programming error. */
			log_error("default of %s.%s: %s", settings[i].section,
			    settings[i].key, why);
			abort();
		}
	}
}

/* ---- line handling ---- */

static char *
trim(char *s)
{
	char *e;

	while (isspace((unsigned char)*s))
		s++;
	e = s + strlen(s);
	while (e > s && isspace((unsigned char)e[-1]))
		*--e = '\0';
	return s;
}

static int
is_known_section(const char *name)
{
	for (size_t i = 0; i < N_SETTINGS; i++)
		if (strcmp(settings[i].section, name) == 0)
			return 1;
	return 0;
}

static int
start_section(struct parser *p, char *name)
{
	struct config *cfg = p->cfg;

	p->oauth = NULL;
	p->section = NULL;
	if (strncmp(name, "oauth.", 6) == 0) {
		const char *pn = name + 6;

		if (*pn == '\0' || strspn(pn, "abcdefghijklmnopqrstuvwxyz0123456789_-") != strlen(pn))
			return fail(p, p->line, "provider name \"%s\": use lower-case letters, digits, - and _", pn);
		if (strcmp(pn, "mock") == 0)
			return fail(p, p->line, "\"mock\" is the built-in provider ([auth] mock_provider)");
		for (int i = 0; i < cfg->n_oauth; i++)
			if (strcmp(cfg->oauth[i].name, pn) == 0)
				return fail(p, p->line, "section [oauth.%s] given twice", pn);
		if (cfg->n_oauth == CONFIG_MAX_OAUTH)
			return fail(p, p->line, "at most %d [oauth.*] sections", CONFIG_MAX_OAUTH);
		p->oauth_line[cfg->n_oauth] = p->line;
		p->oauth = &cfg->oauth[cfg->n_oauth++];
		memset(p->oauth_seen, 0, sizeof(p->oauth_seen));
		p->oauth->name = xstrdup(pn);
		p->oauth->scope = xstrdup("openid profile");
		return 0;
	}
	if (!is_known_section(name))
		return fail(p, p->line, "unknown section [%s]", name);
	snprintf(p->section_buf, sizeof(p->section_buf), "%s", name);
	p->section = p->section_buf;
	return 0;
}

static int
set_oauth(struct parser *p, const char *key, const char *val)
{
	for (size_t i = 0; i < ARRAY_SIZE(oauth_keys); i++) {
		char **f;

		if (strcmp(oauth_keys[i].key, key) != 0)
			continue;
		f = (char **)((char *)p->oauth + oauth_keys[i].off);
		if (p->oauth_seen[i])
			return fail(p, p->line, "%s given twice in [oauth.%s]", key, p->oauth->name);
		p->oauth_seen[i] = 1;
		if (!oauth_keys[i].is_path && strcmp(key, "scope") != 0 &&
		    strstr(key, "_url") != NULL && strncmp(val, "https://", 8) != 0 &&
		    strncmp(val, "http://localhost", 16) != 0 && strncmp(val, "http://127.0.0.1", 16) != 0)
			return fail(p, p->line, "%s must be an https:// URL", key);
		free(*f);
		*f = oauth_keys[i].is_path ? resolve_path(p, val) : xstrdup(val);
		return 0;
	}
	return fail(p, p->line, "unknown key \"%s\" in [oauth.%s]", key, p->oauth->name);
}

static int
set_setting(struct parser *p, const char *key, const char *val)
{
	char why[CONFIG_ERR_MAX];

	for (size_t i = 0; i < N_SETTINGS; i++) {
		const struct setting *s = &settings[i];

		if (strcmp(s->section, p->section) != 0 || strcmp(s->key, key) != 0)
			continue;
		if (p->set_line[i])
			return fail(p, p->line, "%s is already set on line %d", key, p->set_line[i]);
		if (set_value(p, s, val, why, sizeof(why)) < 0)
			return fail(p, p->line, "%s = %s: %s", key, val, why);
		p->set_line[i] = p->line;
		return 0;
	}
	return fail(p, p->line, "unknown key \"%s\" in [%s]", key, p->section);
}

static int
parse_line(struct parser *p, char *line)
{
	char *s = trim(line), *eq, *key, *val;
	size_t vn;

	if (*s == '\0' || *s == '#' || *s == ';')
		return 0;
	if (*s == '[') {
		char *close = strchr(s, ']');

		if (close == NULL || trim(close + 1)[0] != '\0')
			return fail(p, p->line, "malformed section header");
		*close = '\0';
		return start_section(p, trim(s + 1));
	}
	eq = strchr(s, '=');
	if (eq == NULL)
		return fail(p, p->line, "expected key = value");
	*eq = '\0';
	key = trim(s);
	val = trim(eq + 1);
	vn = strlen(val);
	if (vn >= 2 && val[0] == '"' && val[vn - 1] == '"') {
		val[vn - 1] = '\0';
		val++;
	}
	if (*key == '\0')
		return fail(p, p->line, "missing key before =");
	if (p->oauth)
		return set_oauth(p, key, val);
	if (p->section == NULL)
		return fail(p, p->line, "\"%s\" outside of any [section]", key);
	return set_setting(p, key, val);
}

static int
setting_line(const struct parser *p, const char *key)
{
	for (size_t i = 0; i < N_SETTINGS; i++)
		if (strcmp(settings[i].key, key) == 0)
			return p->set_line[i];
	return 0;
}

/* The line that set [section] key, or 0. */
static int
section_line(const struct parser *p, const char *section, const char *key)
{
	for (size_t i = 0; i < N_SETTINGS; i++)
		if (strcmp(settings[i].section, section) == 0 &&
		    strcmp(settings[i].key, key) == 0)
			return p->set_line[i];
	return 0;
}

/*
 * Billing is on with the mock provider or a webhook secret: the secret
 * file must then exist and be no one else's to read, since whoever knows
 * it can grant premium plans.  In development the mock provider may run
 * without one, on a random secret made here (config.h).
 */
static int
check_billing(struct parser *p)
{
	const struct config *cfg = p->cfg;
	const char *f = cfg->webhook_secret_file;
	struct stat st;

	unsigned char key[32];

	if (!cfg->billing_mock_provider && (f == NULL || f[0] == '\0'))
		return 0;
	if ((f == NULL || f[0] == '\0') && cfg->environment == ENV_DEVELOPMENT) {
		/* Nothing outside this process tree calls the mock. */
		if (crypto_random(key, sizeof(key)) < 0)
			return fail(p, section_line(p, "billing", "mock_provider"),
			    "no randomness for the mock provider's secret");
		crypto_hex(key, sizeof(key), p->cfg->billing_dev_secret);
		return 0;
	}
	if (f == NULL || f[0] == '\0')
		return fail(p, section_line(p, "billing", "mock_provider"), "[billing] mock_provider = on "
		    "needs [billing] webhook_secret_file (or environment = development)");
	if (stat(f, &st) < 0)
		return fail(p, setting_line(p, "webhook_secret_file"), "webhook_secret_file %s: %s",
		    f, strerror(errno));
	if (!S_ISREG(st.st_mode))
		return fail(p, setting_line(p, "webhook_secret_file"),
		    "webhook_secret_file %s is not a regular file", f);
	if (st.st_mode & S_IROTH)
		return fail(p, setting_line(p, "webhook_secret_file"), "webhook_secret_file %s is "
		    "world-readable: chmod o-r it", f);
	return 0;
}

/* Checks that involve more than one setting. */
static int
check_whole(struct parser *p)
{
	struct config *cfg = p->cfg;

	if (cfg->pool_min > cfg->pool_max) {
		int l = setting_line(p, "pool_min");
		int l2 = setting_line(p, "pool_max");

		return fail(p, l > l2 ? l : l2, "pool_min (%d) is greater than pool_max (%d)",
		    cfg->pool_min, cfg->pool_max);
	}
	if (cfg->engine == ENGINE_POSTGRES && cfg->postgres_dsn[0] == '\0')
		return fail(p, setting_line(p, "engine"),
		    "engine = postgres needs [database] postgres_dsn");
	if (cfg->listen[0] == '\0')
		return fail(p, setting_line(p, "listen"), "listen must name at least one address");
	/* The broker's socket is runtime_dir/broker.sock, and a Unix socket
	 * path has room for 107 bytes: refuse rather than cut it. */
	if (strlen(cfg->runtime_dir) + strlen("/broker.sock") > 107)
		return fail(p, setting_line(p, "runtime_dir"), "runtime_dir is too long for a "
		    "socket path (%zu bytes; at most 95)", strlen(cfg->runtime_dir));
	/* Without a token the admin routes trust whoever can connect. */
	if ((cfg->ops_token_file == NULL || cfg->ops_token_file[0] == '\0') &&
	    !listen_all_loopback(cfg->admin_listen))
		return fail(p, setting_line(p, "admin_listen"), "admin_listen = %s is reachable "
		    "from other hosts: set [ops] token_file, or listen on loopback or unix:",
		    cfg->admin_listen);
	if (cfg->clock_offset != 0 && cfg->environment == ENV_PRODUCTION)
		return fail(p, setting_line(p, "clock_offset"),
		    "clock_offset is for tests: not with environment = production");
	if (check_billing(p) < 0)
		return -1;
	for (int i = 0; i < cfg->n_oauth; i++) {
		for (size_t k = 0; k < ARRAY_SIZE(oauth_keys); k++) {
			char **f = (char **)((char *)&cfg->oauth[i] + oauth_keys[k].off);

			if (oauth_keys[k].required && (*f == NULL || **f == '\0'))
				return fail(p, p->oauth_line[i], "[oauth.%s] needs %s",
				    cfg->oauth[i].name, oauth_keys[k].key);
		}
	}
	return 0;
}

int
config_load_string(struct config *cfg, const char *name, const char *text,
		   char *err, size_t errlen)
{
	struct parser p;
	char *copy, *line, *next;
	const char *slash;
	char *dir;
	int rc = 0;

	config_defaults(cfg);
	memset(&p, 0, sizeof(p));
	p.cfg = cfg;
	p.name = name;
	p.err = err;
	p.errlen = errlen;
	/* Relative paths follow the file, not the current directory, so the
	 * same file works from any directory (and under systemd). */
	slash = strrchr(name, '/');
	dir = slash ? xstrndup(name, (size_t)(slash - name) + (slash == name)) : xstrdup(".");
	p.dir = realpath(dir, NULL);
	if (p.dir == NULL)
		p.dir = dir;
	else
		free(dir);
	cfg->path = xstrdup(name);

	copy = xstrdup(text);
	for (line = copy; line != NULL && rc == 0; line = next) {
		next = strchr(line, '\n');
		if (next)
			*next++ = '\0';
		p.line++;
		if (strlen(line) > 4096)
			rc = fail(&p, p.line, "line too long");
		else
			rc = parse_line(&p, line);
	}
	if (rc == 0)
		rc = check_whole(&p);
	free(copy);
	free(p.dir);
	if (rc < 0)
		config_free(cfg);
	return rc;
}

int
config_load(struct config *cfg, const char *path, char *err, size_t errlen)
{
	FILE *f;
	char *text;
	long size;
	int rc;

	f = fopen(path, "r");
	if (f == NULL) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		memset(cfg, 0, sizeof(*cfg));
		return -1;
	}
	if (fseek(f, 0, SEEK_END) < 0 || (size = ftell(f)) < 0 || size > 1024 * 1024 ||
	    fseek(f, 0, SEEK_SET) < 0) {
		snprintf(err, errlen, "%s: unreadable or larger than 1 MiB", path);
		fclose(f);
		memset(cfg, 0, sizeof(*cfg));
		return -1;
	}
	text = xmalloc((size_t)size + 1);
	if (fread(text, 1, (size_t)size, f) != (size_t)size) {
		snprintf(err, errlen, "%s: read error", path);
		fclose(f);
		free(text);
		memset(cfg, 0, sizeof(*cfg));
		return -1;
	}
	fclose(f);
	text[size] = '\0';
	if (memchr(text, '\0', (size_t)size) != NULL) {
		snprintf(err, errlen, "%s: not a text file", path);
		free(text);
		memset(cfg, 0, sizeof(*cfg));
		return -1;
	}
	rc = config_load_string(cfg, path, text, err, errlen);
	free(text);
	return rc;
}

void
config_free(struct config *cfg)
{
	for (size_t i = 0; i < N_SETTINGS; i++) {
		enum stype t = settings[i].type;

		if (t == T_STR || t == T_PATH || t == T_LISTEN)
			free(*str_field(cfg, &settings[i]));
	}
	for (int i = 0; i < cfg->n_oauth; i++)
		for (size_t k = 0; k < ARRAY_SIZE(oauth_keys); k++)
			free(*(char **)((char *)&cfg->oauth[i] + oauth_keys[k].off));
	for (int i = 0; i < cfg->n_oauth; i++)
		free(cfg->oauth[i].name);
	free(cfg->path);
	memset(cfg, 0, sizeof(*cfg));
}

static int
setting_equal(const struct config *a, const struct config *b, const struct setting *s)
{
	const char *pa = (const char *)a + s->off, *pb = (const char *)b + s->off;

	switch (s->type) {
	case T_STR:
	case T_PATH:
	case T_LISTEN:
		return strcmp(*(char *const *)pa, *(char *const *)pb) == 0;
	case T_SIZE:
	case T_DUR:
		return *(const int64_t *)pa == *(const int64_t *)pb;
	default:
		return *(const int *)pa == *(const int *)pb;
	}
}

int
config_restart_needed(const struct config *old, const struct config *new,
		      char *buf, size_t len)
{
	int n = 0;
	size_t used = 0;

	if (len > 0)
		buf[0] = '\0';
	for (size_t i = 0; i < N_SETTINGS; i++) {
		const struct setting *s = &settings[i];

		if (!(s->flags & S_RESTART) || setting_equal(old, new, s))
			continue;
		if (used < len) {
			int w = snprintf(buf + used, len - used, "%s%s.%s",
			    n ? ", " : "", s->section, s->key);
			if (w > 0)
				used += (size_t)w;
		}
		n++;
	}
	return n;
}

int
config_worker_count(const struct config *cfg)
{
	long n;

	if (cfg->workers > 0)
		return cfg->workers;
	n = sysconf(_SC_NPROCESSORS_ONLN);
	if (n < 1)
		n = 1;
	if (n > 256)
		n = 256;
	return (int)n;
}
