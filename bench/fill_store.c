/*
 * Fills a license store for bench/bench_tool.sh: HOLDERS technicians
 * t00001, t00002, ... each take a slot of pool "bench" (HOLDERS + 10
 * licenses, group "bench") through the core's session open, as real logins
 * would.  Every session is this process's, so it stays live (not stale)
 * for as long as this process runs: it prints "ready" once the store is
 * full, then waits for its standard input to close.
 *
 *   fill_store STORE_DIR HOLDERS
 *
 * Users come from NSS: run it under nss_wrapper with files that give
 * t00001... the primary group "bench" (bench/bench_tool.sh writes them).
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "conf.h"
#include "license.h"

static void quiet(void *data, int priority, const char *message)
{
	(void)data;
	if (priority <= LOG_ERR)
		fprintf(stderr, "%s\n", message);
}

int main(int argc, char **argv)
{
	static char bench_name[] = "bench";
	static char *bench_group[] = { bench_name };
	struct hl_logger log = { .emit = quiet };
	struct hl_config cfg = { 0 };
	struct hl_pool pool = { .licenses = 0 };
	struct hl_env env;
	struct hl_decision d;
	char store[4096], buf[64];
	unsigned long holders;
	char *end;

	if (argc != 3) {
		fprintf(stderr, "usage: %s STORE_DIR HOLDERS\n", argv[0]);
		return 2;
	}
	errno = 0;
	holders = strtoul(argv[2], &end, 10);
	if (errno != 0 || *end != '\0' || holders == 0 || holders > 99999) {
		fprintf(stderr, "%s: HOLDERS: 1 to 99999\n", argv[0]);
		return 2;
	}
	snprintf(store, sizeof(store), "%s/licenses.db", argv[1]);
	snprintf(pool.name, sizeof(pool.name), "bench");
	pool.licenses = (unsigned)holders + 10;
	pool.groups = (struct hl_names){ bench_group, 1 };
	cfg.store = store;
	cfg.event_log = NULL;
	cfg.lock_timeout = 5;
	cfg.pools = &pool;
	cfg.pool_count = 1;
	if (hl_env_init(&env, &cfg, &log) != 0)
		return 1;

	for (unsigned long i = 1; i <= holders; i++) {
		char user[32];
		struct hl_request req = { user, "sshd", "pts/1", "192.0.2.1" };

		snprintf(user, sizeof(user), "t%05lu", i);
		if (hl_license_open(&env, &req, &d) != 0 ||
		    d.verdict != HL_GRANTED) {
			fprintf(stderr, "%s: %s not granted (%s)\n", argv[0],
				user, d.reason);
			return 1;
		}
	}
	printf("ready\n");
	fflush(stdout);
	/* Hold the sessions until whoever started us closes our stdin. */
	while (read(STDIN_FILENO, buf, sizeof(buf)) > 0)
		;
	return 0;
}
