/*
 * config.h -- cofferd.conf: the settings and their one parser.
 *
 * The file is INI: [section], key = value, comments starting with # or ;.
 * Every setting is described once, in the table in config.c (section, key,
 * type, default, bounds, whether a reload can change it); the parser, the
 * defaults and `cofferd -t` all work from that table, so a setting cannot
 * exist in one place and be missing from another.  etc/cofferd.conf and
 * man/cofferd.conf.5 document the same table for people.
 *
 * Values: sizes take K, M, G (powers of 1024); durations take ms, s, m, h,
 * d (a bare number is seconds); booleans are on/off (also yes/no,
 * true/false, 1/0).  An unknown section or key, a repeated key or a bad
 * value is an error "FILE:LINE: message".  Cross-setting checks (pool_min
 * <= pool_max, a postgres_dsn when engine = postgres) report the line of
 * the setting that breaks them.
 *
 * A struct config owns its strings; config_free() releases them.  Each
 * process keeps the struct it was forked with; a reload (SIGHUP) parses a
 * fresh one and only swaps it in when it is valid.
 */
#ifndef COFFER_CONFIG_H
#define COFFER_CONFIG_H

#include <stddef.h>
#include <stdint.h>

#define CONFIG_ERR_MAX 512
#define CONFIG_MAX_LISTEN 8
#define CONFIG_MAX_OAUTH 8

enum db_engine { ENGINE_SQLITE = 0, ENGINE_POSTGRES = 1 };
enum environment { ENV_PRODUCTION = 0, ENV_DEVELOPMENT = 1 };

struct oauth_provider {
	char *name;			/* the NAME of [oauth.NAME] */
	char *client_id;
	char *client_secret_file;
	char *authorize_url;
	char *token_url;
	char *userinfo_url;
	char *scope;
};

struct config {
	char *path;			/* the file this was read from */

	/* [server] */
	char *listen;			/* "host:port" or "unix:/path", comma-separated */
	char *admin_listen;		/* same form; "" disables the admin listener */
	char *public_url;		/* "" = taken from the request's Host */
	int workers;			/* 0 = auto (number of CPUs) */
	enum environment environment;
	int64_t max_body_size;		/* bytes */
	int64_t request_timeout;	/* milliseconds, as are all durations */
	int64_t keepalive_timeout;
	int64_t shutdown_timeout;
	char *runtime_dir;
	int log_level;			/* enum log_level */
	char *log_file;			/* "" = stderr */
	int access_log;			/* a line per request, at info */

	/* [limits] */
	int max_container_items;
	int max_name_length;
	int max_json_depth;
	int characters_per_user;
	int groups_per_user;
	int activity_per_request;
	int streams_per_user;		/* open event streams, per host */
	int token_rate, token_burst;	/* requests per second; 0 rate: off */
	int session_rate, session_burst;
	int address_rate, address_burst;

	/* [database] */
	enum db_engine engine;
	char *sqlite_path;
	int64_t sqlite_busy_timeout;
	char *postgres_dsn;
	int pool_min;
	int pool_max;
	int64_t pool_timeout;
	int64_t lease_timeout;
	int64_t statement_timeout;	/* 0 = none */

	/* [auth] */
	int auth_mock_provider;
	int cookie_secure;
	int64_t session_ttl;
	struct oauth_provider oauth[CONFIG_MAX_OAUTH];
	int n_oauth;

	/* [ops] */
	char *ops_token_file;

	/* [billing] */
	int billing_mock_provider;
	char *webhook_secret_file;
	/* The mock provider's secret when no file is set (development only):
	 * random per load, so the workers forked with this struct share it. */
	char billing_dev_secret[65];

	/* [webhooks] */
	int webhook_max_attempts;
	int64_t webhook_timeout;
	int webhook_concurrency;
	int webhook_allow_private;	/* deliver to non-public addresses */

	/* [events] */
	int64_t events_max_buffer;	/* bytes queued to one stream */
	int64_t events_ping_interval;

	/* [catalog] */
	char *catalog_path;

	/* [dev] */
	int seed_demo;
	int64_t clock_offset;		/* ms added to the store's clock */
};

/* Fill cfg with every default (no file read).  Used by tests and as the
 * starting point of config_load. */
void config_defaults(struct config *cfg);

/*
 * Read and validate path into cfg.  Returns 0, or -1 with "FILE:LINE: what"
 * (or "FILE: what" for errors not tied to a line) in err.  On failure cfg is
 * left freed and zeroed.
 */
int config_load(struct config *cfg, const char *path, char *err, size_t errlen);

/* Same, from a string (for unit tests); name stands in for the file name. */
int config_load_string(struct config *cfg, const char *name, const char *text,
		       char *err, size_t errlen);

void config_free(struct config *cfg);

/*
 * After a reload: write to buf a comma-separated list of the settings that
 * differ between old and new but only take effect after a restart ("" when
 * none).  Returns the number of such settings.
 */
int config_restart_needed(const struct config *old, const struct config *new,
			  char *buf, size_t len);

/* Number of HTTP workers to run: cfg->workers, or the CPU count for auto. */
int config_worker_count(const struct config *cfg);

/* Value parsers, shared with anything else that reads sizes or durations. */
int config_parse_size(const char *s, int64_t *out);	/* 0 ok, -1 bad */
int config_parse_duration(const char *s, int64_t *out_ms);
int config_parse_bool(const char *s, int *out);

#endif
