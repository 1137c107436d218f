/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Sessions held by live processes, for the benchmarks: forks HOLDERS
 * sleeping processes, one per technician t00001, t00002, ..., and records
 * sessions for them, so that every check of whether a holder still runs
 * reads /proc for a real, live process.
 *
 *   bench_hold [-s CONFIG:COUNT]... [-u UTMP:COUNT]... HOLDERS
 *   bench_hold -C CONFIG
 *
 * -s  opens a session for each of the first COUNT technicians through the
 *     core, as the module does at login, in the store of CONFIG, with the
 *     technician's sleeping process as the session's process
 * -u  writes a utmp USER_PROCESS record for each of the first COUNT
 *     technicians into the file UTMP (created), as login does, for
 *     pam_limits' maxlogins to count
 *
 * -C  checks the store of CONFIG instead, for the contention benchmark: in
 *     each pool, the count of slots in use, the slot keys and the holder
 *     records must agree, each slot claimed by its holder's record.  Prints
 *     one line per pool; exit status 1 when a slot is lost or duplicated.
 *
 * Users come from NSS (nss_wrapper).  Prints "ready" once everything is
 * written, then holds until its standard input closes; the sleeping
 * processes end with it.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>
#include <utmp.h>

#include "conf.h"
#include "license.h"
#include "record.h"
#include "store.h"

static void quiet(void *data, int priority, const char *message)
{
	(void)data;
	if (priority <= LOG_ERR)
		fprintf(stderr, "%s\n", message);
}

/* "PATH:COUNT": cuts arg at the colon, sets *count; -1 when malformed. */
static int split_arg(char *arg, unsigned *count)
{
	char *colon = strrchr(arg, ':'), *end;

	if (colon == NULL)
		return -1;
	*colon = '\0';
	errno = 0;
	*count = (unsigned)strtoul(colon + 1, &end, 10);
	return errno || *end || end == colon + 1 ? -1 : 0;
}

/* A sleeping holder: blocks on the gate until the parent closes it. */
static pid_t fork_sleeper(int gate[2])
{
	pid_t pid = fork();

	if (pid == 0) {
		int null = open("/dev/null", O_RDWR | O_CLOEXEC);
		char buf[1];

		close(gate[1]);
		if (null >= 0) {
			dup2(null, STDIN_FILENO);
			dup2(null, STDOUT_FILENO);
			dup2(null, STDERR_FILENO);
		}
		while (read(gate[0], buf, 1) < 0 && errno == EINTR)
			;
		_exit(0);
	}
	return pid;
}

static int hold_in_store(const char *config, unsigned count, const pid_t *pids)
{
	struct hl_logger log = { .emit = quiet };
	struct hl_config *cfg = NULL;
	struct hl_env env;
	int rc = -1;

	if (hl_config_load(config, &log, &cfg, NULL) != 0 ||
	    hl_env_init(&env, cfg, &log) != 0)
		goto out;
	for (unsigned i = 0; i < count; i++) {
		char user[32], tty[32];
		struct hl_request req = { user, "sshd", tty, "192.0.2.1" };
		struct hl_decision d;

		snprintf(user, sizeof(user), "t%05u", i + 1);
		snprintf(tty, sizeof(tty), "pts/%u", i + 1);
		if (hl_process_identify(env.proc_root, pids[i], &env.self) != 0) {
			fprintf(stderr, "holder %ld is gone\n", (long)pids[i]);
			goto out;
		}
		if (hl_license_open(&env, &req, &d) != 0 ||
		    d.verdict != HL_GRANTED) {
			fprintf(stderr, "%s: %s not granted (%s)\n", config,
				user, d.reason);
			goto out;
		}
	}
	rc = 0;
out:
	hl_config_free(cfg);
	return rc;
}

static int hold_in_utmp(const char *path, unsigned count, const pid_t *pids)
{
	struct timeval now;
	struct utmp *records = calloc(count ? count : 1, sizeof(*records));
	size_t size = sizeof(*records) * count;
	int fd, rc = -1;

	if (records == NULL)
		return -1;
	gettimeofday(&now, NULL);
	for (unsigned i = 0; i < count; i++) {
		struct utmp *u = &records[i];
		char id[16];

		u->ut_type = USER_PROCESS;
		u->ut_pid = pids[i];
		snprintf(u->ut_line, sizeof(u->ut_line), "pts/%u", i + 1);
		/* ut_id is 4 bytes, not NUL-terminated. */
		snprintf(id, sizeof(id), "%04x", (i + 1) & 0xffff);
		memcpy(u->ut_id, id, sizeof(u->ut_id));
		snprintf(u->ut_user, sizeof(u->ut_user), "t%05u", i + 1);
		snprintf(u->ut_host, sizeof(u->ut_host), "192.0.2.1");
		u->ut_tv.tv_sec = (int32_t)now.tv_sec;
		u->ut_tv.tv_usec = (int32_t)now.tv_usec;
	}
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC,
		  0644);
	if (fd >= 0 && write(fd, records, size) == (ssize_t)size)
		rc = 0;
	if (fd >= 0 && close(fd) != 0)
		rc = -1;
	if (rc != 0)
		perror(path);
	free(records);
	return rc;
}

/* ---- the consistency check ---------------------------------------------- */

struct pool_tally {
	const char *pool;
	unsigned slots;		/* slot/POOL/N keys */
	unsigned holders;	/* holder records of POOL */
	unsigned unclaimed;	/* slots whose user's record claims another */
	struct hl_store *store;
};

static int tally_slot(void *arg, const char *key, const char *value)
{
	struct pool_tally *t = arg;
	size_t len = strlen(t->pool);
	char holder_key[HL_KEY_MAX], *text = NULL;
	struct hl_holding holding;
	unsigned long slot;

	if (strncmp(key + 5, t->pool, len) != 0 || key[5 + len] != '/')
		return 0;
	t->slots++;
	slot = strtoul(key + 5 + len + 1, NULL, 10);
	if (!hl_key_holder(holder_key, sizeof(holder_key), value) ||
	    hl_store_get(t->store, holder_key, &text) != HL_STORE_OK ||
	    hl_holding_decode(text, &holding) != 0) {
		t->unclaimed++;
		free(text);
		return 0;
	}
	if (holding.kind != HL_KIND_CONCURRENT ||
	    strcmp(holding.pool, t->pool) != 0 || holding.slot != slot)
		t->unclaimed++;
	hl_holding_free(&holding);
	free(text);
	return 0;
}

static int tally_holder(void *arg, const char *key, const char *value)
{
	struct pool_tally *t = arg;
	struct hl_holding holding;

	(void)key;
	if (hl_holding_decode(value, &holding) != 0)
		return -1;
	if (holding.kind == HL_KIND_CONCURRENT &&
	    strcmp(holding.pool, t->pool) == 0)
		t->holders++;
	hl_holding_free(&holding);
	return 0;
}

static int check_store(const char *config)
{
	struct hl_logger log = { .emit = quiet };
	struct hl_config *cfg = NULL;
	struct hl_store *store = NULL;
	int rc = 1;

	if (hl_config_load(config, &log, &cfg, NULL) != 0 ||
	    hl_store_open(cfg->runtime_store, HL_STORE_READ, cfg->lock_timeout, &log,
			  &store) != HL_STORE_OK)
		goto out;
	rc = 0;
	for (size_t i = 0; i < cfg->pool_count; i++) {
		struct pool_tally t = { .pool = cfg->pools[i].name,
					.store = store };
		struct hl_counter counter = { 0 };
		char key[HL_KEY_MAX], *text = NULL;
		bool ok;

		hl_key_pool(key, sizeof(key), t.pool);
		if (hl_store_get(store, key, &text) == HL_STORE_OK &&
		    hl_counter_decode(text, &counter) != 0)
			rc = 1;
		free(text);
		if (hl_store_foreach(store, "slot/", tally_slot, &t) != 0 ||
		    hl_store_foreach(store, "holder/", tally_holder, &t) != 0)
			rc = 1;
		ok = counter.used == t.slots && t.slots == t.holders &&
		     t.unclaimed == 0 && t.slots <= cfg->pools[i].licenses;
		printf("pool %s: licenses %u, counted in use %u, slots %u, "
		       "holders %u, unclaimed %u: %s\n", t.pool,
		       cfg->pools[i].licenses, counter.used, t.slots,
		       t.holders, t.unclaimed, ok ? "consistent"
						   : "INCONSISTENT");
		if (!ok)
			rc = 1;
	}
out:
	hl_store_close(store);
	hl_config_free(cfg);
	return rc;
}

int main(int argc, char **argv)
{
	unsigned holders = 0, count, max = 0, nstores = 0, nutmps = 0;
	char **stores, **utmps;
	unsigned *store_counts, *utmp_counts;
	pid_t *pids = NULL;
	int gate[2] = { -1, -1 }, opt, rc = 2;
	char buf[64];

	if (argc == 3 && strcmp(argv[1], "-C") == 0)
		return check_store(argv[2]);
	stores = calloc((size_t)argc, sizeof(*stores));
	utmps = calloc((size_t)argc, sizeof(*utmps));
	store_counts = calloc((size_t)argc, sizeof(*store_counts));
	utmp_counts = calloc((size_t)argc, sizeof(*utmp_counts));
	if (!stores || !utmps || !store_counts || !utmp_counts)
		goto out;
	while ((opt = getopt(argc, argv, "s:u:")) != -1) {
		if ((opt != 's' && opt != 'u') || split_arg(optarg, &count)) {
			fprintf(stderr, "usage: %s [-s CONFIG:COUNT]... "
				"[-u UTMP:COUNT]... HOLDERS | -C CONFIG\n",
				argv[0]);
			goto out;
		}
		if (opt == 's') {
			stores[nstores] = optarg;
			store_counts[nstores++] = count;
		} else {
			utmps[nutmps] = optarg;
			utmp_counts[nutmps++] = count;
		}
		max = count > max ? count : max;
	}
	if (argc - optind != 1)
		goto out;
	if (max > (unsigned)strtoul(argv[optind], NULL, 10)) {
		fprintf(stderr, "a COUNT is above HOLDERS (%s)\n", argv[optind]);
		goto out;
	}
	rc = 1;
	holders = (unsigned)strtoul(argv[optind], NULL, 10);
	pids = calloc(holders ? holders : 1, sizeof(*pids));
	if (pids == NULL || pipe2(gate, O_CLOEXEC) != 0) {
		holders = 0;
		goto out;
	}
	for (unsigned i = 0; i < holders; i++) {
		pids[i] = fork_sleeper(gate);
		if (pids[i] < 0) {
			perror("fork");
			holders = i;
			goto out;
		}
	}
	for (unsigned i = 0; i < nstores; i++)
		if (hold_in_store(stores[i], store_counts[i], pids) != 0)
			goto out;
	for (unsigned i = 0; i < nutmps; i++)
		if (hold_in_utmp(utmps[i], utmp_counts[i], pids) != 0)
			goto out;
	printf("ready\n");
	fflush(stdout);
	while (read(STDIN_FILENO, buf, sizeof(buf)) > 0)
		;
	rc = 0;
out:
	if (gate[0] >= 0)
		close(gate[0]);
	if (gate[1] >= 0)
		close(gate[1]);
	for (unsigned i = 0; i < holders; i++)
		waitpid(pids[i], NULL, 0);
	free(pids);
	free(stores);
	free(utmps);
	free(store_counts);
	free(utmp_counts);
	return rc;
}
