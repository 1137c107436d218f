/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * libFuzzer target: the configuration parser (hl_config_parse), on the
 * text of a file as the module would read it.
 *
 * Besides "no crash, no leak, no undefined behaviour", two properties:
 * every message the parser logs is one line of printable ASCII (values
 * from the file are escaped before they reach syslog), and a configuration
 * it accepts holds what conf.h promises.
 */
#include "config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "conf.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_message(void *data, int priority, const char *message)
{
	(void)data;
	(void)priority;
	for (const char *c = message; *c != '\0'; c++)
		if (*c < 0x20 || *c > 0x7e)
			abort();	/* a raw byte from the file in a log line */
}

static void check_names(const struct hl_names *names)
{
	if (names->count > 0 && names->names == NULL)
		abort();
	for (size_t i = 0; i < names->count; i++)
		if (names->names[i] == NULL || names->names[i][0] == '\0')
			abort();
}

static void check_config(const struct hl_config *cfg)
{
	if (cfg->path == NULL || strcmp(cfg->path, "fuzz.conf") != 0 ||
	    cfg->store == NULL || cfg->store[0] != '/')
		abort();
	check_names(&cfg->ignore_services);
	check_names(&cfg->exempt_users);
	check_names(&cfg->exempt_groups);
	check_names(&cfg->named.users);
	check_names(&cfg->named.groups);
	if (cfg->pool_count > 0 && cfg->pools == NULL)
		abort();
	for (size_t i = 0; i < cfg->pool_count; i++) {
		const struct hl_pool *pool = &cfg->pools[i];

		if (pool->name[0] == '\0' || pool->licenses == 0)
			abort();
		check_names(&pool->users);
		check_names(&pool->groups);
		for (size_t j = 0; j < i; j++)
			if (strcmp(cfg->pools[j].name, pool->name) == 0)
				abort();	/* duplicate pools are refused */
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct hl_logger log = { check_message, NULL, true };
	struct hl_config *cfg = NULL;
	enum hl_on_error on_error;
	char *text = malloc(size + 1);

	if (text == NULL)
		return 0;
	memcpy(text, data, size);
	text[size] = '\0';
	if (hl_config_parse("fuzz.conf", text, size, &log, &cfg,
			    &on_error) == 0) {
		if (cfg == NULL)
			abort();
		check_config(cfg);
		hl_config_free(cfg);
	} else if (cfg != NULL) {
		abort();
	}
	free(text);
	return 0;
}
