/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Races: many technicians' processes opening and closing sessions at once,
 * some killed (SIGKILL) while they hold a session, and a checker reading
 * the store under the shared lock throughout.
 *
 *   stress [SECONDS [WORKERS]]      (default 8 s, 40 workers)
 *
 * Each worker is a process of its own (the session holder, as sshd's
 * session process would be) that logs in as one technician of pool "one"
 * (1 license) or "three" (3 licenses), each with a wait of 1 s (a refused
 * login waits in line), holds the session a few milliseconds and logs
 * out, in a loop.  Workers outnumber the technicians (40 workers share 6
 * of pool one's and 8 of pool three's), so technicians have several
 * sessions at once, waiting in line together too (they share a slot).  The
 * killer SIGKILLs a worker that holds a session, and starts another in its
 * place; the slot of a killed worker is reclaimed by the next login that
 * finds the pool full.  The checker checks, over and over:
 *
 *   - the store opens, GDBM's own check passes (rel_gdbm_check);
 *   - no more slots or holders in a pool than licenses;
 *   - slots, holder records and counters agree;
 *   - one technician, at most one slot per pool; lines decode.
 *
 * and each worker checks that the session it was granted is recorded.
 *
 * At the end every worker logs out, a reap drops the sessions of killed
 * workers, and nothing may be held, nobody left in line.  A worker whose session vanished while
 * it held it, or whose logout found nothing, is a violation too.
 * Prints the figures; exit status 0 only when there was no violation and
 * the run did log in, deny, kill and check (it runs past SECONDS until it
 * has, within a guard of ten times SECONDS, at least 10 minutes).
 */
#include "config.h"

#include <errno.h>
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

#define MAX_WORKERS 256
/* Technicians of each pool's workers: fewer than the workers, so that
 * technicians have several sessions, waiting in line together too. */
static const int pool_techs[2] = { 6, 8 };

enum worker_state {
	IDLE,
	HOLDING,	/* a session is open: the killer may take it */
	CLOSING,	/* the worker took it back to log out */
	DOOMED,		/* the killer took it: the worker waits for SIGKILL */
};

/* Shared by every process of the run (an anonymous shared mapping). */
struct shared {
	atomic_int stop;
	atomic_int state[MAX_WORKERS];
	atomic_ulong logins, joins, denials, busy, closes, violations;
	atomic_ulong waited, waited_joins;	/* granted after waiting in
						   line; of those, joined */
	atomic_ulong checks, max_slots[2];
	struct rel_log_counts log_counts;	/* of the checker only */
	char first_violation[512];
	atomic_flag violation_told;
};

static struct shared *sh;

static void report_violation(const char *fmt, ...)
	__attribute__((format(printf, 1, 2)));

static void report_violation(const char *fmt, ...)
{
	va_list ap;
	char text[512];

	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	atomic_fetch_add(&sh->violations, 1);
	if (!atomic_flag_test_and_set(&sh->violation_told))
		snprintf(sh->first_violation, sizeof(sh->first_violation),
			 "%s", text);
	fprintf(stderr, "  violation [%ld]: %s\n", (long)getpid(), text);
}

static void pause_ms(unsigned lo, unsigned hi, unsigned *seed)
{
	unsigned ms = lo + (unsigned)rand_r(seed) % (hi - lo + 1);
	struct timespec ts = { 0, (long)ms * 1000000L };

	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

static void worker(const struct rel_world *world, int index, unsigned seed)
{
	struct rel_log_counts counts = { 0, 0 };
	struct hl_logger log;
	struct hl_env env;
	/* Workers beyond the users share them: those technicians sometimes
	 * have two sessions. */
	int pool = index % 2;
	const char *user = world->pool_users[pool][(index / 2) %
						   pool_techs[pool]];
	struct hl_request req = { user, "sshd", "pts/1", "192.0.2.1" };
	char session[HL_SESSION_ID_LEN + 1];

	prctl(PR_SET_PDEATHSIG, SIGKILL);	/* no orphan if we are killed */
	rel_logger(&log, &counts);
	if (hl_env_init(&env, &world->cfg, &log) != 0)
		_exit(2);
	while (!atomic_load(&sh->stop)) {
		struct hl_decision d;
		int expected = HOLDING;

		atomic_store(&sh->state[index], IDLE);
		hl_license_open(&env, &req, &d);
		if (d.verdict == HL_DENIED) {
			atomic_fetch_add(&sh->denials, 1);
			pause_ms(1, 5, &seed);
			continue;
		}
		if (d.verdict == HL_STORE_FAILED &&
		    strstr(d.reason, "busy") != NULL) {
			atomic_fetch_add(&sh->busy, 1);
			continue;
		}
		if (d.verdict != HL_GRANTED) {
			report_violation("%s: open gave verdict %d (%s)", user,
					 (int)d.verdict, d.reason);
			pause_ms(10, 20, &seed);
			continue;
		}
		atomic_fetch_add(&sh->logins, 1);
		if (d.joined)
			atomic_fetch_add(&sh->joins, 1);
		if (strstr(d.reason, "waiting in line")) {
			atomic_fetch_add(&sh->waited, 1);
			if (d.joined)
				atomic_fetch_add(&sh->waited_joins, 1);
		}
		snprintf(session, sizeof(session), "%s", d.session_id);
		if (!rel_session_recorded(world, user, session))
			report_violation("%s: session %.8s granted (%s) but "
					 "recorded nowhere", user, session,
					 d.reason);
		atomic_store(&sh->state[index], HOLDING);
		pause_ms(0, 8, &seed);
		if (!atomic_compare_exchange_strong(&sh->state[index],
						    &expected, CLOSING))
			for (;;)
				pause();	/* the killer's */
		hl_license_close(&env, &req, session, &d);
		if (d.verdict == HL_GRANTED)
			atomic_fetch_add(&sh->closes, 1);
		else
			report_violation("%s: logout of session %.8s: %s", user,
					 session, d.reason);
	}
	atomic_store(&sh->state[index], IDLE);
	_exit(0);
}

static void checker(const struct rel_world *world)
{
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	while (!atomic_load(&sh->stop)) {
		struct rel_holdings held;
		char why[512];
		struct timespec ts = { 0, 2000000L };

		if (rel_check_store(world, &held, why, sizeof(why)) !=
		    REL_SOUND) {
			report_violation("check: %s", why);
		} else {
			for (int p = 0; p < 2; p++)
				if (held.slots[p] > atomic_load(&sh->max_slots[p]))
					atomic_store(&sh->max_slots[p],
						     held.slots[p]);
		}
		atomic_fetch_add(&sh->checks, 1);
		nanosleep(&ts, NULL);
	}
	_exit(0);
}

/* A run that did not contend, kill or check proves nothing. */
static bool proved(unsigned long kills)
{
	return atomic_load(&sh->logins) > 0 && atomic_load(&sh->denials) > 0 &&
	       atomic_load(&sh->waited) > 0 &&
	       atomic_load(&sh->waited_joins) > 0 && kills > 0 &&
	       atomic_load(&sh->checks) > 0;
}

static pid_t spawn(const struct rel_world *world, int index, unsigned seed)
{
	pid_t pid = fork();

	if (pid == 0)
		worker(world, index, seed);
	return pid;
}

static bool finish(pid_t pid, const char *what)
{
	int status;

	if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status) ||
	    WEXITSTATUS(status) != 0) {
		report_violation("%s %ld did not exit cleanly (status %d)", what,
				 (long)pid, status);
		return false;
	}
	return true;
}

int main(int argc, char **argv)
{
	static struct rel_world world;
	double seconds = argc > 1 ? atof(argv[1]) : 8;
	int workers = argc > 2 ? atoi(argv[2]) : 40;
	pid_t pids[MAX_WORKERS], check_pid;
	unsigned long kills = 0;
	unsigned seed = (unsigned)time(NULL) ^ (unsigned)getpid();
	struct rel_log_counts counts = { 0, 0 };
	struct hl_logger log;
	struct hl_env env;
	struct hl_request req = { "stress", "stress", "", "" };
	struct hl_listing reaped;
	struct hl_decision d;
	struct rel_holdings held;
	char why[512];
	double start, end, guard;
	bool ok;

	if (seconds <= 0 || workers < 2 || workers > MAX_WORKERS) {
		fprintf(stderr, "usage: stress [SECONDS [WORKERS (2..%d)]]\n",
			MAX_WORKERS);
		return 2;
	}
	if (!rel_world_init(&world, argv, "stress"))
		return 1;
	world.pools[0].wait = 1;
	world.pools[1].wait = 1;
	sh = rel_shared(sizeof(*sh));
	if (sh == NULL)
		return 1;
	printf("stress: %d workers for %.0f s; pools one (1 license, %d "
	       "technicians) and three (3, %d), each with a wait of 1 s; seed "
	       "%u\n", workers, seconds, pool_techs[0], pool_techs[1], seed);
	fflush(stdout);

	rel_logger(&log, &sh->log_counts);
	check_pid = fork();
	if (check_pid == 0)
		checker(&world);
	for (int i = 0; i < workers; i++)
		pids[i] = spawn(&world, i, seed + (unsigned)i);

	/* The killer: now and then, a worker holding a session.  The run
	 * goes on past SECONDS until it has contended, killed and checked
	 * (a loaded machine may take longer to get there); the guard only
	 * stops a run that never will. */
	start = rel_now();
	end = start + seconds;
	guard = end + (seconds > 60 ? seconds : 60) * 10;
	while (rel_now() < end || (!proved(kills) && rel_now() < guard)) {
		int from = rand_r(&seed) % workers, i = -1;

		pause_ms(2, 30, &seed);
		for (int n = 0; n < workers && i < 0; n++) {
			int expected = HOLDING;

			if (atomic_compare_exchange_strong(
				    &sh->state[(from + n) % workers], &expected,
				    DOOMED))
				i = (from + n) % workers;
		}
		if (i < 0)
			continue;
		kill(pids[i], SIGKILL);
		waitpid(pids[i], NULL, 0);
		kills++;
		atomic_store(&sh->state[i], IDLE);
		pids[i] = spawn(&world, i, seed);
	}
	atomic_store(&sh->stop, 1);
	for (int i = 0; i < workers; i++)
		finish(pids[i], "worker");
	finish(check_pid, "checker");

	/* Nothing lost: after the last logout and a reap, nothing is held. */
	rel_logger(&log, &counts);
	if (hl_env_init(&env, &world.cfg, &log) != 0)
		return 1;
	hl_admin_reap(&env, &req, &reaped, &d);
	if (d.verdict != HL_GRANTED)
		report_violation("reap at the end: %s", d.reason);
	else
		hl_listing_free(&reaped);
	if (rel_check_store(&world, &held, why, sizeof(why)) != REL_SOUND)
		report_violation("check at the end: %s", why);
	else if (held.slots[0] + held.slots[1] + held.holders[0] +
		 held.holders[1] + held.sessions + held.named +
		 held.waiters != 0)
		report_violation("after the last logout and a reap, %u+%u "
				 "slots, %u sessions are still held, %u "
				 "waiting", held.slots[0], held.slots[1],
				 held.sessions, held.waiters);

	printf("stress: %.1f s, %d workers: %lu logins (%lu joined a slot "
	       "held already; %lu after waiting in line, %lu of them joining "
	       "it), %lu logouts, %lu denials (pool full), %lu "
	       "lock timeouts, %lu kills mid-session, %lu store checks, "
	       "most slots seen held: one %lu/1, three %lu/3; "
	       "violations %lu\n", rel_now() - start, workers,
	       atomic_load(&sh->logins), atomic_load(&sh->joins),
	       atomic_load(&sh->waited), atomic_load(&sh->waited_joins),
	       atomic_load(&sh->closes), atomic_load(&sh->denials),
	       atomic_load(&sh->busy), kills, atomic_load(&sh->checks),
	       atomic_load(&sh->max_slots[0]), atomic_load(&sh->max_slots[1]),
	       atomic_load(&sh->violations));
	if (atomic_load(&sh->violations) > 0)
		printf("stress: first violation: %s\n", sh->first_violation);
	ok = atomic_load(&sh->violations) == 0 && proved(kills);
	if (ok || getenv("HL_REL_KEEP") == NULL)
		rel_world_remove(&world);
	printf("stress: %s\n", ok ? "PASS" : "FAIL");
	return ok ? 0 : 1;
}
