/*
 * The cost of a login in the core: session open + close for one
 * technician, with N other technicians already holding slots (held by this
 * live process, so every stale check reads /proc for real).
 *
 *   bench_login STORE_DIR HOLDERS ROUNDS
 *
 * Users come from NSS: run it under nss_wrapper with the files that
 * bench/run-login-bench.sh generates (user "probe" first, then t00001...).
 * Prints one line: holders, rounds, median and 90th percentile in
 * microseconds.  With ROUNDS 0 it fills the store, prints "ready" and
 * holds the sessions until its standard input closes (bench/bench_tool.sh
 * measures the admin tool on such a store).
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "conf.h"
#include "license.h"

static void quiet(void *data, int priority, const char *message)
{
	(void)data;
	if (priority <= LOG_ERR)
		fprintf(stderr, "%s\n", message);
}

static int compare(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

static double now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e6 + ts.tv_nsec / 1e3;
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
	char store[4096];
	unsigned holders, rounds;
	double *samples;

	if (argc != 4) {
		fprintf(stderr, "usage: %s STORE_DIR HOLDERS ROUNDS\n", argv[0]);
		return 2;
	}
	holders = (unsigned)strtoul(argv[2], NULL, 10);
	rounds = (unsigned)strtoul(argv[3], NULL, 10);
	snprintf(store, sizeof(store), "%s/licenses.db", argv[1]);
	snprintf(pool.name, sizeof(pool.name), "bench");
	pool.licenses = holders + 10;
	pool.groups = (struct hl_names){ bench_group, 1 };
	cfg.store = store;
	cfg.event_log = NULL;
	cfg.lock_timeout = 5;
	cfg.pools = &pool;
	cfg.pool_count = 1;
	if (hl_env_init(&env, &cfg, &log) != 0)
		return 1;

	for (unsigned i = 1; i <= holders; i++) {
		char user[32];
		struct hl_request req = { user, "sshd", "pts/1", "192.0.2.1" };

		snprintf(user, sizeof(user), "t%05u", i);
		if (hl_license_open(&env, &req, &d) != 0 ||
		    d.verdict != HL_GRANTED) {
			fprintf(stderr, "filling: %s not granted (%s)\n", user,
				d.reason);
			return 1;
		}
	}

	if (rounds == 0) {
		char buf[64];

		printf("ready\n");
		fflush(stdout);
		while (read(STDIN_FILENO, buf, sizeof(buf)) > 0)
			;
		return 0;
	}
	samples = calloc(rounds, sizeof(*samples));
	if (samples == NULL)
		return 1;
	for (unsigned i = 0; i < rounds; i++) {
		struct hl_request req = { "probe", "sshd", "pts/2", "192.0.2.2" };
		double t0 = now_us();

		if (hl_license_open(&env, &req, &d) != 0 ||
		    d.verdict != HL_GRANTED ||
		    hl_license_close(&env, &req, d.session_id, &d) != 0 ||
		    d.verdict != HL_GRANTED) {
			fprintf(stderr, "round %u failed: %s\n", i, d.reason);
			return 1;
		}
		samples[i] = now_us() - t0;
	}
	qsort(samples, rounds, sizeof(*samples), compare);
	printf("holders=%u rounds=%u median_us=%.1f p90_us=%.1f\n", holders,
	       rounds, samples[rounds / 2], samples[rounds * 9 / 10]);
	free(samples);
	return 0;
}
