/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * A login through the core, as su makes it, for tests/stages/
 * 25-lock-freeze.sh: the stage installs this program setuid root (in a
 * private directory only its test user may enter), runs it as that user
 * and stops it with SIGSTOP as that user, the way anyone can stop their
 * own su.  Never install it anywhere else: it opens a store it is told.
 *
 *   setuid_client STORE USER LOCK_TIMEOUT [ROUNDS]
 *
 * Opens a session of USER (pool "desk", one license, USER its only
 * technician) with STORE as the store and no event log, and closes it
 * again when it was granted; ROUNDS times (1), so that the attacker's
 * random moment falls within its run.  Exit status (of the last round):
 * 0 granted, 1 refused or not concerned, 2 the store was busy (lock
 * timeout), 3 any other failure.  The decision's reason goes to stdout.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "license.h"

static void to_stderr(void *data, int priority, const char *message)
{
	(void)data;
	(void)priority;
	fprintf(stderr, "setuid_client: %s\n", message);
}

static int exit_code(const struct hl_decision *d)
{
	switch (d->verdict) {
	case HL_GRANTED:
		return 0;
	case HL_STORE_FAILED:
		return strstr(d->reason, "lock timeout") != NULL ? 2 : 3;
	default:
		return 1;
	}
}

int main(int argc, char **argv)
{
	struct hl_logger log = { to_stderr, NULL, false };
	struct hl_pool pool;
	struct hl_config cfg;
	struct hl_env env;
	struct hl_request req = { NULL, "su", "", "" };
	struct hl_decision d, closed;
	char *user, *end, *slash, runtime[4096];
	unsigned long timeout, rounds = 1;
	int rc = 3;

	if (argc < 4 || argc > 5 || argv[1][0] != '/') {
		fprintf(stderr, "usage: setuid_client /STORE USER "
			"LOCK_TIMEOUT [ROUNDS]\n");
		return 3;
	}
	if (argc == 5) {
		rounds = strtoul(argv[4], &end, 10);
		if (*end != '\0' || rounds == 0 || rounds > 1000) {
			fprintf(stderr, "setuid_client: bad rounds %s\n",
				argv[4]);
			return 3;
		}
	}
	timeout = strtoul(argv[3], &end, 10);
	if (*end != '\0' || timeout == 0 || timeout > 3600) {
		fprintf(stderr, "setuid_client: bad lock timeout %s\n",
			argv[3]);
		return 3;
	}
	user = argv[2];
	memset(&pool, 0, sizeof(pool));
	snprintf(pool.name, sizeof(pool.name), "desk");
	pool.licenses = 1;
	pool.users = (struct hl_names){ &user, 1 };
	memset(&cfg, 0, sizeof(cfg));
	cfg.store = argv[1];
	/* This boot's file beside it: sessions.db in the same directory. */
	if (snprintf(runtime, sizeof(runtime), "%s", argv[1]) >=
		    (int)sizeof(runtime) ||
	    (slash = strrchr(runtime, '/')) == NULL ||
	    (size_t)(slash + 1 - runtime) + sizeof("sessions.db") >
		    sizeof(runtime)) {
		fprintf(stderr, "setuid_client: bad store path\n");
		return 3;
	}
	strcpy(slash + 1, "sessions.db");
	cfg.runtime_store = runtime;
	cfg.on_error = HL_ON_ERROR_DENY;
	cfg.unlicensed = HL_UNLICENSED_DENY;
	cfg.lock_timeout = (unsigned)timeout;
	cfg.pools = &pool;
	cfg.pool_count = 1;
	if (hl_env_init(&env, &cfg, &log) != 0)
		return 3;
	req.user = user;
	for (unsigned long round = 0; round < rounds; round++) {
		hl_license_open(&env, &req, &d);
		rc = exit_code(&d);
		printf("%s\n", d.reason);
		if (d.verdict != HL_GRANTED)
			continue;
		hl_license_close(&env, &req, d.session_id, &closed);
		if (closed.verdict == HL_STORE_FAILED) {
			printf("close: %s\n", closed.reason);
			rc = exit_code(&closed);
		}
	}
	return rc;
}
