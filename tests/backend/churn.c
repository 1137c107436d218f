/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Several hosts, one license count: technicians logging in and out at
 * random on three hosts that share one PostgreSQL database through their
 * own helpdesk-licensed daemons, with sessions killed (SIGKILL), one host
 * crashing (its sessions and its daemon killed) and the database
 * restarted in the middle.
 *
 *   churn SECONDS SOCKET1 HOST1 SOCKET2 HOST2 SOCKET3 HOST3
 *
 * Environment (shell commands the driver script gives):
 *   HL_CHURN_CRASH_HOST   kills host 3's daemon (SIGKILL)
 *   HL_CHURN_START_HOST   starts it again
 *   HL_CHURN_RESTART_DB   restarts PostgreSQL (or fails it over to a standby)
 *   HL_CHURN_LEASE        the daemons' lease, seconds
 *
 * Each worker is a process of its own (a session holder, as sshd's session
 * process is) logging in as one technician of pool "one" (1 license) or
 * "three" (3 licenses) on one host, through the core as the module does.
 * The over-grant check does not read the store: every process keeps a
 * ledger in shared memory, a session entered after its grant and left
 * before its logout (or before the killer's SIGKILL), under one lock.
 * What the ledger holds is thus always a part of what the database holds,
 * and more distinct technicians in a pool than licenses in the ledger, at
 * any moment, is an over-grant.
 *
 * At a third of the run host 3 crashes: its workers are killed and its
 * daemon too; the other hosts must get its seats back once its lease has
 * run out (polled, with a hang guard of ten leases).  Then it starts again.
 * At half the run the database restarts; logins meanwhile are refused by
 * on_error (counted, not violations).  At the end every worker logs out,
 * each host reaps once, and nothing may be held.
 */
#include "config.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "admin.h"
#include "license.h"
#include "rel.h"

#define HOSTS 3
#define WORKERS_PER_HOST 16
#define WORKERS (HOSTS * WORKERS_PER_HOST)
#define CRASHED 2			/* the host that crashes */

enum worker_state { IDLE, HOLDING, CLOSING, DOOMED };

/* Shared by every process of the run. */
struct shared {
	pthread_mutex_t ledger_lock;
	/* Open sessions per technician in the ledger, and per pool the
	 * technicians with at least one. */
	int sessions[2][REL_POOL_USERS];
	int distinct[2];
	int most[2];
	int state[WORKERS];		/* under ledger_lock */
	atomic_int stop;
	atomic_ulong logins, joins, denials, unavailable, closes,
		close_failed, kills, violations;
	char first_violation[512];
	atomic_flag violation_told;
};

static struct shared *sh;

struct host {
	struct hl_config cfg;
	const char *name;
};

static void violation(const char *fmt, ...)
	__attribute__((format(printf, 1, 2)));

static void violation(const char *fmt, ...)
{
	va_list ap;

	atomic_fetch_add(&sh->violations, 1);
	if (atomic_flag_test_and_set(&sh->violation_told))
		return;
	va_start(ap, fmt);
	vsnprintf(sh->first_violation, sizeof(sh->first_violation), fmt, ap);
	va_end(ap);
	fprintf(stderr, "churn: violation: %s\n", sh->first_violation);
}

static void pause_ms(unsigned lo, unsigned hi, unsigned *seed)
{
	unsigned ms = lo + (unsigned)rand_r(seed) % (hi - lo + 1);
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

static const unsigned licenses[2] = { 1, 3 };

/* Under ledger_lock. */
static void ledger_enter(int pool, int tech, const char *user)
{
	if (sh->sessions[pool][tech]++ == 0 &&
	    ++sh->distinct[pool] > (int)licenses[pool])
		violation("over-grant: %d technicians in pool %s (%u "
			  "licenses), the last %s", sh->distinct[pool],
			  pool ? "three" : "one", licenses[pool], user);
	if (sh->distinct[pool] > sh->most[pool])
		sh->most[pool] = sh->distinct[pool];
}

static void ledger_leave(int pool, int tech)
{
	if (--sh->sessions[pool][tech] == 0)
		sh->distinct[pool]--;
}

static int pool_of(int index)
{
	return index % 2;
}

/* Technicians of a pool shared by the workers of all hosts: one has
 * sessions on several hosts at once now and then. */
static int tech_of(int index)
{
	return (index / 2) % 12;
}

static void worker(const struct rel_world *world, const struct host *host,
		   int index, unsigned seed)
{
	struct rel_log_counts counts = { 0, 0 };
	int pool = pool_of(index), tech = tech_of(index);
	const char *user = world->pool_users[pool][tech];
	struct hl_request req = { user, "sshd", "pts/1", "192.0.2.1" };
	char session[HL_SESSION_ID_LEN + 1];
	struct hl_logger log;
	struct hl_env env;

	prctl(PR_SET_PDEATHSIG, SIGKILL);
	rel_logger(&log, &counts);
	if (hl_env_init(&env, &host->cfg, &log) != 0)
		_exit(2);
	while (!atomic_load(&sh->stop)) {
		struct hl_decision d;
		bool doomed;

		hl_license_open(&env, &req, &d);
		if (d.verdict == HL_DENIED) {
			atomic_fetch_add(&sh->denials, 1);
			pause_ms(1, 20, &seed);
			continue;
		}
		if (d.verdict == HL_STORE_FAILED) {
			/* The database restarting, host 3 down. */
			atomic_fetch_add(&sh->unavailable, 1);
			pause_ms(20, 100, &seed);
			continue;
		}
		if (d.verdict != HL_GRANTED) {
			violation("%s on %s: open gave verdict %d (%s)", user,
				  host->name, (int)d.verdict, d.reason);
			pause_ms(10, 20, &seed);
			continue;
		}
		snprintf(session, sizeof(session), "%s", d.session_id);
		pthread_mutex_lock(&sh->ledger_lock);
		doomed = sh->state[index] == DOOMED;
		if (!doomed) {
			ledger_enter(pool, tech, user);
			sh->state[index] = HOLDING;
		}
		pthread_mutex_unlock(&sh->ledger_lock);
		if (doomed)
			for (;;)
				pause();	/* the killer's */
		atomic_fetch_add(&sh->logins, 1);
		if (d.joined)
			atomic_fetch_add(&sh->joins, 1);
		pause_ms(0, 30, &seed);

		pthread_mutex_lock(&sh->ledger_lock);
		doomed = sh->state[index] == DOOMED;
		if (!doomed) {
			ledger_leave(pool, tech);
			sh->state[index] = CLOSING;
		}
		pthread_mutex_unlock(&sh->ledger_lock);
		if (doomed)
			for (;;)
				pause();
		hl_license_close(&env, &req, session, &d);
		pthread_mutex_lock(&sh->ledger_lock);
		if (sh->state[index] == CLOSING)
			sh->state[index] = IDLE;
		pthread_mutex_unlock(&sh->ledger_lock);
		if (d.verdict == HL_GRANTED) {
			atomic_fetch_add(&sh->closes, 1);
		} else if (d.verdict == HL_STORE_FAILED) {
			/* As sshd's session process would, this one ends
			 * after its close: a reap frees what it held. */
			atomic_fetch_add(&sh->close_failed, 1);
			_exit(0);
		} else {
			violation("%s on %s: logout of session %.8s: %s", user,
				  host->name, session, d.reason);
		}
	}
	_exit(0);
}

static pid_t spawn(const struct rel_world *world, const struct host *hosts,
		   int index, unsigned seed)
{
	pid_t pid;

	pthread_mutex_lock(&sh->ledger_lock);
	sh->state[index] = IDLE;
	pthread_mutex_unlock(&sh->ledger_lock);
	pid = fork();
	if (pid == 0)
		worker(world, &hosts[index % HOSTS], index, seed);
	return pid;
}

/* SIGKILLs worker index (whatever it is doing), after taking its session
 * out of the ledger: a session the database may now free is in no
 * ledger. */
static void kill_worker_locked(pid_t pid, int index)
{
	if (sh->state[index] == HOLDING)
		ledger_leave(pool_of(index), tech_of(index));
	sh->state[index] = DOOMED;
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
	atomic_fetch_add(&sh->kills, 1);
}

static void kill_worker(pid_t pid, int index)
{
	pthread_mutex_lock(&sh->ledger_lock);
	kill_worker_locked(pid, index);
	pthread_mutex_unlock(&sh->ledger_lock);
}

static void run(const char *what, const char *variable)
{
	const char *command = getenv(variable);
	int status;
	pid_t pid;

	if (command == NULL || *command == '\0') {
		violation("%s: %s is not set", what, variable);
		return;
	}
	printf("churn: %s\n", what);
	fflush(stdout);
	/* Run as the system is: without the technicians' nss_wrapper (the
	 * command needs the postgres user). */
	pid = fork();
	if (pid == 0) {
		unsetenv("LD_PRELOAD");
		unsetenv("NSS_WRAPPER_PASSWD");
		unsetenv("NSS_WRAPPER_GROUP");
		execl("/bin/sh", "sh", "-c", command, (char *)NULL);
		_exit(127);
	}
	if (pid < 0 || waitpid(pid, &status, 0) != pid)
		status = -1;
	if (status != 0)
		violation("%s (%s) failed: status %d", what, command, status);
}

/* The sessions of a listing that host name opened (NULL: any host). */
static unsigned long host_sessions(const struct hl_listing *listing,
				   const char *name)
{
	unsigned long n = 0;

	for (size_t i = 0; i < listing->count; i++) {
		const struct hl_holding *h = &listing->items[i].holding;

		for (size_t s = 0; s < h->session_count; s++)
			n += name == NULL || strcmp(h->sessions[s].host,
						    name) == 0;
	}
	return n;
}

/* Sessions of host name that host's listing shows, after a reap. */
static long sessions_of(const struct host *from, const char *name,
			unsigned long *reaped)
{
	struct rel_log_counts counts = { 0, 0 };
	struct hl_request req = { "churn", "churn", "", "" };
	struct hl_listing listing;
	struct hl_decision d;
	struct hl_logger log;
	struct hl_env env;
	long n;

	rel_logger(&log, &counts);
	if (hl_env_init(&env, &from->cfg, &log) != 0)
		return -1;
	hl_admin_reap(&env, &req, &listing, &d);
	if (d.verdict != HL_GRANTED) {
		printf("churn: reap on %s: %s\n", from->name, d.reason);
		return -1;
	}
	if (reaped != NULL)
		*reaped += host_sessions(&listing, name);
	hl_listing_free(&listing);
	hl_admin_list(&env, &req, &listing, &d);
	if (d.verdict != HL_GRANTED) {
		printf("churn: list on %s: %s\n", from->name, d.reason);
		return -1;
	}
	n = (long)host_sessions(&listing, name);
	if (name == NULL)
		n += (long)listing.waiter_count;
	hl_listing_free(&listing);
	return n;
}

/* Host 3 crashes: its sessions and its daemon are killed.  Its seats must
 * come back to the others once its lease is over: polled, the guard only
 * stops a run that never gets there. */
static void crash_host(const struct host *hosts, pid_t *pids, double lease)
{
	unsigned long reaped = 0;
	double began, guard;
	long left;

	/* A crash that takes no seat proves nothing: host 3 crashes while
	 * one of its workers holds a session (the ledger says so). */
	guard = rel_now() + 10 * lease + 60;
	for (bool holds = false; !holds && rel_now() < guard;) {
		struct timespec ts = { 0, 10000000L };

		pthread_mutex_lock(&sh->ledger_lock);
		for (int i = CRASHED; i < WORKERS; i += HOSTS)
			holds = holds || sh->state[i] == HOLDING;
		if (holds)
			for (int i = CRASHED; i < WORKERS; i += HOSTS)
				kill_worker_locked(pids[i], i);
		pthread_mutex_unlock(&sh->ledger_lock);
		if (!holds)
			nanosleep(&ts, NULL);
	}
	run("host 3 crashes: its daemon is killed", "HL_CHURN_CRASH_HOST");
	began = rel_now();
	guard = began + 10 * lease + 60;
	left = sessions_of(&hosts[0], hosts[CRASHED].name, &reaped);
	printf("churn: host 3 held %ld sessions at its crash\n", left);
	while (left != 0 && rel_now() < guard) {
		struct timespec ts = { 0, 200000000L };

		nanosleep(&ts, NULL);
		left = sessions_of(&hosts[0], hosts[CRASHED].name, &reaped);
	}
	if (left != 0)
		violation("%ld sessions of the crashed host still held %.0f s "
			  "after its crash (lease %.0f s)", left,
			  rel_now() - began, lease);
	else
		printf("churn: host 3's seats back after %.1f s (lease %.0f "
		       "s; %lu sessions reaped by host 1)\n",
		       rel_now() - began, lease, reaped);
	run("host 3 starts again", "HL_CHURN_START_HOST");
}

int main(int argc, char **argv)
{
	static struct rel_world world;
	static struct host hosts[HOSTS];
	pthread_mutexattr_t attr;
	pid_t pids[WORKERS];
	unsigned seed = (unsigned)time(NULL) ^ (unsigned)getpid();
	double seconds, start, lease;
	bool crashed = false, restarted = false, ok;
	long left = -1;

	if (argc != 2 + 2 * HOSTS || (seconds = atof(argv[1])) <= 0) {
		fprintf(stderr, "usage: churn SECONDS SOCKET1 HOST1 SOCKET2 "
			"HOST2 SOCKET3 HOST3\n");
		return 2;
	}
	lease = getenv("HL_CHURN_LEASE") ? atof(getenv("HL_CHURN_LEASE")) : 150;
	if (!rel_world_init(&world, argv, "churn"))
		return 1;
	world.pools[0].wait = 1;
	world.pools[1].wait = 1;
	for (int h = 0; h < HOSTS; h++) {
		hosts[h].cfg = world.cfg;
		hosts[h].cfg.backend.enabled = true;
		hosts[h].cfg.backend.socket = argv[2 + 2 * h];
		hosts[h].cfg.backend.host = argv[3 + 2 * h];
		hosts[h].name = argv[3 + 2 * h];
	}
	sh = rel_shared(sizeof(*sh));
	if (sh == NULL)
		return 1;
	pthread_mutexattr_init(&attr);
	pthread_mutexattr_setpshared(&attr, PTHREAD_PROCESS_SHARED);
	pthread_mutex_init(&sh->ledger_lock, &attr);
	printf("churn: %d hosts x %d workers for %.0f s; pools one (1 "
	       "license) and three (3), 12 technicians each, a wait of 1 s; "
	       "lease %.0f s; seed %u\n", HOSTS, WORKERS_PER_HOST, seconds,
	       lease, seed);
	fflush(stdout);

	for (int i = 0; i < WORKERS; i++)
		pids[i] = spawn(&world, hosts, i, seed + (unsigned)i);
	start = rel_now();
	/* Past SECONDS until the crash and the restart have happened: a
	 * slow crash (its wait for a held session, its lease) must not leave
	 * a run without its restart. */
	while (rel_now() < start + seconds || !crashed || !restarted) {
		int i = rand_r(&seed) % WORKERS, status;
		pid_t gone;

		pause_ms(20, 200, &seed);
		/* Workers that ended after a failed logout: a new one. */
		while ((gone = waitpid(-1, &status, WNOHANG)) > 0)
			for (int w = 0; w < WORKERS; w++)
				if (pids[w] == gone)
					pids[w] = spawn(&world, hosts, w,
							seed++);
		if (!crashed && rel_now() > start + seconds / 3) {
			crashed = true;
			crash_host(hosts, pids, lease);
			for (int w = CRASHED; w < WORKERS; w += HOSTS)
				pids[w] = spawn(&world, hosts, w, seed++);
			continue;
		}
		if (!restarted && rel_now() > start + seconds / 2) {
			restarted = true;
			run("the database restarts (or fails over)", "HL_CHURN_RESTART_DB");
			continue;
		}
		kill_worker(pids[i], i);
		pids[i] = spawn(&world, hosts, i, seed++);
	}
	atomic_store(&sh->stop, 1);
	for (int i = 0; i < WORKERS; i++) {
		int status;

		if (waitpid(pids[i], &status, 0) != pids[i] ||
		    !WIFEXITED(status) || WEXITSTATUS(status) != 0)
			violation("worker %d did not exit cleanly (status %d)",
				  i, status);
	}
	/* Nothing leaked: after the last logout and one reap per host (each
	 * host alone may drop its own dead sessions), nothing is held and
	 * nobody waits; the last host's listing shows every host's. */
	for (int h = 0; h < HOSTS; h++)
		left = sessions_of(&hosts[h], NULL, NULL);
	if (left != 0)
		violation("after the last logout and a reap on every host, "
			  "%ld sessions or waiters are left", left);
	printf("churn: %.1f s: %lu logins (%lu joined a slot held already), "
	       "%lu logouts, %lu denials (pool full), %lu refused with the "
	       "database or a daemon away, %lu logouts failed so (their "
	       "process then ended), %lu kills; most technicians at once: "
	       "one %d/1, three %d/3; left at the end %ld; violations %lu\n",
	       rel_now() - start, atomic_load(&sh->logins),
	       atomic_load(&sh->joins), atomic_load(&sh->closes),
	       atomic_load(&sh->denials), atomic_load(&sh->unavailable),
	       atomic_load(&sh->close_failed), atomic_load(&sh->kills),
	       sh->most[0], sh->most[1], left, atomic_load(&sh->violations));
	ok = atomic_load(&sh->violations) == 0 && crashed && restarted &&
	     atomic_load(&sh->logins) > 0 && atomic_load(&sh->denials) > 0 &&
	     atomic_load(&sh->kills) > 0;
	if (ok || getenv("HL_REL_KEEP") == NULL)
		rel_world_remove(&world);
	printf("churn: %s\n", ok ? "PASS" : "FAIL");
	return ok ? 0 : 1;
}
