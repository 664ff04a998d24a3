/*
 * fuzz_config.c -- libFuzzer target: the cofferd.conf parser.
 *
 * The input is a configuration file's text.  config_load_string() takes a
 * C string, and config_load() refuses a file with a NUL in it, so an input
 * holding a NUL is what the daemon never parses: it is skipped.  Besides
 * not crashing, the parser must keep its promises (src/config.h): on
 * failure an error "NAME:LINE: what" or "NAME: what" and a zeroed struct;
 * on success every value inside its documented bounds, and the reload
 * comparison working on the result.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "src/config.h"

#define NAME "/nonexistent/cofferd.conf"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* A broken promise is a bug like a crash: abort, so libFuzzer keeps the
 * input. */
static void
check(int ok)
{
	if (!ok)
		abort();
}

static int
all_zero(const void *p, size_t n)
{
	const unsigned char *c = p;

	for (size_t i = 0; i < n; i++)
		if (c[i] != 0)
			return 0;
	return 1;
}

static void
check_loaded(const struct config *cfg)
{
	struct config def;
	char changed[1024];

	check(strcmp(cfg->path, NAME) == 0);
	check(cfg->listen != NULL && cfg->listen[0] != '\0');
	check(cfg->admin_listen != NULL && cfg->postgres_dsn != NULL);
	check(cfg->workers >= 0 && cfg->workers <= 256);
	check(cfg->max_body_size >= 1024);
	check(cfg->pool_min <= cfg->pool_max);
	check(cfg->engine != ENGINE_POSTGRES || cfg->postgres_dsn[0] != '\0');
	check(cfg->n_oauth >= 0 && cfg->n_oauth <= CONFIG_MAX_OAUTH);
	for (int i = 0; i < cfg->n_oauth; i++)
		check(cfg->oauth[i].name != NULL && cfg->oauth[i].client_id != NULL &&
		    cfg->oauth[i].token_url != NULL && cfg->oauth[i].scope != NULL);

	config_defaults(&def);
	check(config_restart_needed(&def, cfg, changed, sizeof(changed)) >= 0);
	check(config_restart_needed(cfg, cfg, changed, sizeof(changed)) == 0);
	check(changed[0] == '\0');
	config_free(&def);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct config cfg;
	char err[CONFIG_ERR_MAX];
	char *text;

	if (memchr(data, '\0', size) != NULL)
		return 0;
	text = malloc(size + 1);
	memcpy(text, data, size);
	text[size] = '\0';
	err[0] = '\0';
	if (config_load_string(&cfg, NAME, text, err, sizeof(err)) == 0) {
		check_loaded(&cfg);
		config_free(&cfg);
	} else {
		check(strncmp(err, NAME ":", strlen(NAME ":")) == 0);
		check(memchr(err, '\0', sizeof(err)) != NULL);
		check(all_zero(&cfg, sizeof(cfg)));
	}
	free(text);
	return 0;
}
