/*
 * test_config.c -- the config parser: units, bounds, unknown keys, line
 * numbers, cross-setting checks, reload comparison.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "src/config.h"
#include "tests/unit/test.h"

static char err[CONFIG_ERR_MAX];

static int
load(struct config *c, const char *text)
{
	err[0] = '\0';
	return config_load_string(c, "/etc/coffer/test.conf", text, err, sizeof(err));
}

/* Loading must fail with exactly this message. */
static int
fails_with(const char *text, const char *msg)
{
	struct config c;

	if (load(&c, text) == 0) {
		config_free(&c);
		printf("# accepted: %s\n", text);
		return 0;
	}
	if (strcmp(err, msg) != 0) {
		printf("# got:  %s\n# want: %s\n", err, msg);
		return 0;
	}
	return 1;
}

TEST(defaults_match_the_documented_values)
{
	struct config c;

	CHECK(load(&c, "") == 0);
	CHECK_EQ_STR(c.listen, "127.0.0.1:8080");
	CHECK_EQ_STR(c.admin_listen, "127.0.0.1:8081");
	CHECK_EQ_INT(c.workers, 0);
	CHECK_EQ_INT(c.max_body_size, 1024 * 1024);
	CHECK_EQ_INT(c.shutdown_timeout, 30000);
	CHECK_EQ_INT(c.engine, ENGINE_SQLITE);
	CHECK_EQ_INT(c.pool_min, 2);
	CHECK_EQ_INT(c.pool_max, 10);
	CHECK_EQ_INT(c.session_ttl, 30LL * 86400 * 1000);
	CHECK_EQ_INT(c.max_container_items, 2000);
	CHECK_EQ_INT(c.auth_mock_provider, 0);
	config_free(&c);
}

TEST(sizes_and_durations_take_units)
{
	int64_t v;

	CHECK(config_parse_size("512", &v) == 0 && v == 512);
	CHECK(config_parse_size("4K", &v) == 0 && v == 4096);
	CHECK(config_parse_size("2M", &v) == 0 && v == 2 * 1024 * 1024);
	CHECK(config_parse_size("1G", &v) == 0 && v == 1024LL * 1024 * 1024);
	CHECK(config_parse_size("1.5M", &v) < 0);
	CHECK(config_parse_size("-1", &v) < 0);
	CHECK(config_parse_size("M", &v) < 0);
	CHECK(config_parse_size("3T", &v) < 0);
	CHECK(config_parse_duration("250ms", &v) == 0 && v == 250);
	CHECK(config_parse_duration("30", &v) == 0 && v == 30000);
	CHECK(config_parse_duration("30s", &v) == 0 && v == 30000);
	CHECK(config_parse_duration("5m", &v) == 0 && v == 300000);
	CHECK(config_parse_duration("2h", &v) == 0 && v == 7200000);
	CHECK(config_parse_duration("7d", &v) == 0 && v == 7LL * 86400000);
	CHECK(config_parse_duration("5 s", &v) < 0);
	CHECK(config_parse_duration("99999999999999999999d", &v) < 0);
}

TEST(values_are_parsed_into_the_struct)
{
	struct config c;
	const char *text =
	    "# comment\n"
	    "; another\n"
	    "[server]\n"
	    "listen = 0.0.0.0:9000, unix:/run/coffer/http.sock\n"
	    "workers = 3\n"
	    "max_body_size = 64K\n"
	    "shutdown_timeout = 1500ms\n"
	    "log_level = debug\n"
	    "environment = development\n"
	    "[database]\n"
	    "engine = postgres\n"
	    "postgres_dsn = \"host=/tmp dbname=coffer\"\n"
	    "pool_min = 0\n"
	    "pool_max = 1\n"
	    "[auth]\n"
	    "mock_provider = yes\n"
	    "[dev]\n"
	    "seed_demo = on\n";

	CHECK(load(&c, text) == 0);
	CHECK_EQ_STR(c.listen, "0.0.0.0:9000, unix:/run/coffer/http.sock");
	CHECK_EQ_INT(c.workers, 3);
	CHECK_EQ_INT(config_worker_count(&c), 3);
	CHECK_EQ_INT(c.max_body_size, 65536);
	CHECK_EQ_INT(c.shutdown_timeout, 1500);
	CHECK_EQ_INT(c.log_level, 3);
	CHECK_EQ_INT(c.environment, ENV_DEVELOPMENT);
	CHECK_EQ_INT(c.engine, ENGINE_POSTGRES);
	CHECK_EQ_STR(c.postgres_dsn, "host=/tmp dbname=coffer");
	CHECK_EQ_INT(c.auth_mock_provider, 1);
	CHECK_EQ_INT(c.seed_demo, 1);
	config_free(&c);
}

TEST(relative_paths_follow_the_file)
{
	struct config c;

	CHECK(config_load_string(&c, "/nonexistent-dir/x/cofferd.conf",
	    "[database]\nsqlite_path = ../var/coffer.db\n[server]\nruntime_dir = /run/x\n",
	    err, sizeof(err)) == 0);
	CHECK_EQ_STR(c.sqlite_path, "/nonexistent-dir/x/../var/coffer.db");
	CHECK_EQ_STR(c.runtime_dir, "/run/x");
	config_free(&c);
}

TEST(errors_name_the_file_and_line)
{
	CHECK(fails_with("[server]\n\nbogus = 1\n",
	    "/etc/coffer/test.conf:3: unknown key \"bogus\" in [server]"));
	CHECK(fails_with("[nope]\n", "/etc/coffer/test.conf:1: unknown section [nope]"));
	CHECK(fails_with("listen = x\n",
	    "/etc/coffer/test.conf:1: \"listen\" outside of any [section]"));
	CHECK(fails_with("[server]\nworkers = many\n",
	    "/etc/coffer/test.conf:2: workers = many: expected auto or a count from 1 to 256"));
	CHECK(fails_with("[server]\nmax_body_size = 10X\n",
	    "/etc/coffer/test.conf:2: max_body_size = 10X: expected a size like 512K, 1M or 2G"));
	CHECK(fails_with("[server]\nmax_body_size = 10\n",
	    "/etc/coffer/test.conf:2: max_body_size = 10: out of range (1024 to 1073741824)"));
	CHECK(fails_with("[server]\nrequest_timeout = soon\n",
	    "/etc/coffer/test.conf:2: request_timeout = soon: expected a duration like 500ms, 30s, 5m, 1h or 7d"));
	CHECK(fails_with("[auth]\nmock_provider = maybe\n",
	    "/etc/coffer/test.conf:2: mock_provider = maybe: expected on or off"));
	CHECK(fails_with("[database]\nengine = mysql\n",
	    "/etc/coffer/test.conf:2: engine = mysql: expected sqlite or postgres"));
	CHECK(fails_with("[server]\nlog_level = loud\n",
	    "/etc/coffer/test.conf:2: log_level = loud: expected error, warn, info or debug"));
	CHECK(fails_with("[server]\nlisten = localhost\n",
	    "/etc/coffer/test.conf:2: listen = localhost: \"localhost\": expected host:port or unix:/path"));
	CHECK(fails_with("[server]\nlisten = 1.2.3.4:70000\n",
	    "/etc/coffer/test.conf:2: listen = 1.2.3.4:70000: \"1.2.3.4:70000\": port must be 1-65535"));
	CHECK(fails_with("[server]\nworkers = 2\nworkers = 3\n",
	    "/etc/coffer/test.conf:3: workers is already set on line 2"));
	CHECK(fails_with("[server\n", "/etc/coffer/test.conf:1: malformed section header"));
	CHECK(fails_with("[server]\njust words\n", "/etc/coffer/test.conf:2: expected key = value"));
}

TEST(cross_setting_checks)
{
	CHECK(fails_with("[database]\npool_min = 5\npool_max = 3\n",
	    "/etc/coffer/test.conf:3: pool_min (5) is greater than pool_max (3)"));
	CHECK(fails_with("[database]\n\nengine = postgres\n",
	    "/etc/coffer/test.conf:3: engine = postgres needs [database] postgres_dsn"));
}

TEST(oauth_sections)
{
	struct config c;
	const char *good =
	    "[oauth.github]\n"
	    "client_id = abc\n"
	    "client_secret_file = /etc/coffer/github.secret\n"
	    "authorize_url = https://github.com/login/oauth/authorize\n"
	    "token_url = https://github.com/login/oauth/access_token\n"
	    "userinfo_url = https://api.github.com/user\n";

	CHECK(load(&c, good) == 0);
	CHECK_EQ_INT(c.n_oauth, 1);
	CHECK_EQ_STR(c.oauth[0].name, "github");
	CHECK_EQ_STR(c.oauth[0].scope, "openid profile");
	config_free(&c);
	CHECK(fails_with("[oauth.github]\nclient_id = abc\n",
	    "/etc/coffer/test.conf:1: [oauth.github] needs client_secret_file"));
	CHECK(fails_with("[oauth.x]\nscope = a\nscope = b\n",
	    "/etc/coffer/test.conf:3: scope given twice in [oauth.x]"));
	CHECK(fails_with("[oauth.x]\ntoken_url = ftp://x\n",
	    "/etc/coffer/test.conf:2: token_url must be an https:// URL"));
	CHECK(fails_with("[oauth.mock]\n",
	    "/etc/coffer/test.conf:1: \"mock\" is the built-in provider ([auth] mock_provider)"));
	CHECK(fails_with("[oauth.x]\ncolour = red\n",
	    "/etc/coffer/test.conf:2: unknown key \"colour\" in [oauth.x]"));
}

TEST(restart_needed_names_the_settings)
{
	struct config a, b;
	char buf[256];

	CHECK(load(&a, "[server]\nlog_level = info\n") == 0);
	CHECK(load(&b, "[server]\nlog_level = debug\nlisten = 127.0.0.1:9999\n"
	    "[database]\npool_max = 20\n") == 0);
	CHECK_EQ_INT(config_restart_needed(&a, &b, buf, sizeof(buf)), 2);
	CHECK_EQ_STR(buf, "server.listen, database.pool_max");
	CHECK_EQ_INT(config_restart_needed(&a, &a, buf, sizeof(buf)), 0);
	config_free(&a);
	config_free(&b);
}

TEST(missing_file)
{
	struct config c;

	CHECK(config_load(&c, "/nonexistent/cofferd.conf", err, sizeof(err)) < 0);
	CHECK_EQ_STR(err, "/nonexistent/cofferd.conf: No such file or directory");
}

int
main(void)
{
	RUN(defaults_match_the_documented_values);
	RUN(sizes_and_durations_take_units);
	RUN(values_are_parsed_into_the_struct);
	RUN(relative_paths_follow_the_file);
	RUN(errors_name_the_file_and_line);
	RUN(cross_setting_checks);
	RUN(oauth_sections);
	RUN(restart_needed_names_the_settings);
	RUN(missing_file);
	return test_done();
}
