/*
 * Crashes: a writer SIGKILLed at random moments of its store writes, over
 * and over; after each kill the store must open and pass GDBM's own check
 * with the invariants holding, or report itself damaged, and then repair
 * must give back a store that does.
 *
 *   crash [ROUNDS [MAX_DELAY_US]]      (default 100 rounds, 30000 us)
 *
 * Each round forks a writer that, through the core, opens and closes
 * sessions of pools "one" (1 license) and "three" (3), and assigns and
 * unassigns Named licenses, without pause; the parent kills it after a
 * random delay once it is ready to write (microseconds, so kills land
 * inside commits and inside GDBM's own writes), then checks the store
 * (rel_check_store).  Sessions of a killed writer are stale: the next
 * writer's logins reclaim them.
 *
 * The promise checked (doc/STORE.md): after any kill the store opens and
 * is sound, or says it is damaged and repair makes it sound.  A store
 * that opens but fails GDBM's check or the invariants, or that repair
 * leaves unsound, is a violation: it is counted, moved aside as
 * licenses.db.violation-N for a look, and the next round starts afresh.
 * A rebuild may bring back a record deleted before the damage, or leave
 * one out: the repair then reconciles the allocations, as
 * "helpdesk-license repair" does (hl_admin_reconcile); the rounds where
 * that changed something are counted and printed apart, and a store whose
 * allocations still disagree after it is a violation.
 * Exit status 0 only when there was no violation and a writer began a
 * transaction (rounds go on past ROUNDS until one has).
 */
#include "config.h"

#include <errno.h>
#include <gdbm.h>
#include <signal.h>
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
#include "store.h"

#define HELD_MAX 4

static atomic_ulong *writes;	/* shared: transactions the writers began */

static const char *any_pool_user(const struct rel_world *world,
				 unsigned *seed)
{
	int p = rand_r(seed) % 2;

	return world->pool_users[p][rand_r(seed) % 4];
}

/* ready: written once the writer is about to write, so that every kill
 * lands among its writes, not in its start. */
static void writer(const struct rel_world *world, unsigned seed, int ready)
{
	struct rel_log_counts counts = { 0, 0 };
	struct hl_logger log;
	struct hl_env env;
	struct {
		char id[HL_SESSION_ID_LEN + 1];
		const char *user;
	} held[HELD_MAX];
	int count = 0;

	prctl(PR_SET_PDEATHSIG, SIGKILL);
	rel_logger(&log, &counts);
	counts.printed = 5;	/* a killed writer's errors are expected */
	if (hl_env_init(&env, &world->cfg, &log) != 0 ||
	    write(ready, "", 1) != 1)
		_exit(2);
	close(ready);
	for (;;) {
		int op = rand_r(&seed) % 6;
		struct hl_decision d;
		struct hl_request req = { "", "sshd", "pts/7", "192.0.2.9" };

		atomic_fetch_add(writes, 1);

		if (op <= 2 && count < HELD_MAX) {
			req.user = any_pool_user(world, &seed);
			hl_license_open(&env, &req, &d);
			if (d.verdict == HL_GRANTED) {
				snprintf(held[count].id, sizeof(held[count].id),
					 "%s", d.session_id);
				held[count++].user = req.user;
			}
		} else if (op <= 3 && count > 0) {
			int i = rand_r(&seed) % count;

			req.user = held[i].user;
			hl_license_close(&env, &req, held[i].id, &d);
			held[i] = held[--count];
		} else {
			req.user = world->named_users[rand_r(&seed) %
						      REL_NAMED_USERS];
			if (op % 2 == 0)
				hl_admin_assign(&env, &req, &d);
			else
				hl_admin_unassign(&env, &req, true, &d);
		}
	}
}

/* Whether a commit was cut off between its journal and its end. */
static bool journal_left(const char *path)
{
	GDBM_FILE db = gdbm_open(path, 0, GDBM_READER | GDBM_NOLOCK |
				 GDBM_NOMMAP, 0, NULL);
	datum key = { (char *)"journal", 7 };
	bool found;

	if (db == NULL)
		return false;
	found = gdbm_exists(db, key) != 0;
	gdbm_close(db);
	return found;
}

/* Keeps an unsound store for a look, and lets the next round start
 * afresh. */
static void move_aside(const struct rel_world *world, unsigned long n)
{
	char to[PATH_MAX + 64];

	snprintf(to, sizeof(to), "%s.violation-%lu", world->store, n);
	if (rename(world->store, to) == 0)
		printf("crash: the store is kept as %s\n", to);
}

int main(int argc, char **argv)
{
	static struct rel_world world;
	long rounds = argc > 1 ? atol(argv[1]) : 100, round;
	long max_delay = argc > 2 ? atol(argv[2]) : 30000;
	unsigned seed = (unsigned)time(NULL) ^ (unsigned)getpid();
	unsigned long sound = 0, journals = 0, damaged_open = 0;
	unsigned long damaged_read = 0, repaired = 0, keys_lost = 0;
	unsigned long buckets_lost = 0, salvaged = 0, violations = 0;
	unsigned long reconciled = 0;
	struct rel_log_counts counts = { 0, 0 };
	struct hl_request req = { "crash", "crash", "", "" };
	struct hl_logger log;
	struct hl_env env;
	double start;

	if (rounds < 1 || max_delay < 1) {
		fprintf(stderr, "usage: crash [ROUNDS [MAX_DELAY_US]]\n");
		return 2;
	}
	if (!rel_world_init(&world, argv, "crash"))
		return 1;
	writes = rel_shared(sizeof(*writes));
	if (writes == NULL)
		return 1;
	rel_logger(&log, &counts);
	if (hl_env_init(&env, &world.cfg, &log) != 0)
		return 1;
	printf("crash: %ld rounds, writer killed after 0..%ld us; seed %u\n",
	       rounds, max_delay, seed);
	fflush(stdout);
	start = rel_now();

	/* Kills that never landed in a write would prove nothing: on a
	 * loaded machine the writers may be killed before they begin, so
	 * rounds go on until one has (ten times ROUNDS only guard a hang). */
	for (round = 1; round <= rounds ||
	     (atomic_load(writes) == 0 && round <= rounds * 10); round++) {
		struct hl_store_repair_report report;
		unsigned round_seed = (unsigned)rand_r(&seed);
		useconds_t delay = (useconds_t)(rand_r(&seed) % max_delay);
		struct hl_reconciled done;
		struct hl_decision d;
		enum rel_verdict v;
		char why[512];
		pid_t pid;
		int rc, ready[2];
		char c;

		fflush(stdout);
		if (pipe(ready) != 0 || (pid = fork()) < 0) {
			perror("pipe, fork");
			return 1;
		}
		if (pid == 0) {
			close(ready[0]);
			writer(&world, round_seed, ready[1]);
		}
		close(ready[1]);
		if (read(ready[0], &c, 1) != 1) {
			printf("crash: round %ld: the writer did not start\n",
			       round);
			violations++;
		}
		close(ready[0]);
		usleep(delay);
		kill(pid, SIGKILL);
		waitpid(pid, NULL, 0);

		if (journal_left(world.store))
			journals++;
		v = rel_check_store(&world, NULL, why, sizeof(why));
		if (v == REL_SOUND) {
			sound++;
			continue;
		}
		if (v == REL_VIOLATION || v == REL_INCONSISTENT) {
			violations++;
			printf("crash: round %ld (kill after %u us): VIOLATION: "
			       "%s\n", round, (unsigned)delay, why);
			move_aside(&world, violations);
			continue;
		}
		if (strstr(why, "on open") != NULL)
			damaged_open++;
		else
			damaged_read++;
		rc = hl_store_repair(world.store, world.cfg.lock_timeout, &log,
				     &report);
		if (rc != HL_STORE_OK) {
			violations++;
			printf("crash: round %ld: %s; repair failed: %s\n",
			       round, why, hl_store_strerror(rc));
			move_aside(&world, violations);
			continue;
		}
		repaired++;
		keys_lost += report.keys_lost;
		buckets_lost += report.buckets_lost;
		salvaged += report.salvaged;
		printf("crash: round %ld (kill after %u us): %s; repair: %s, "
		       "%lu keys kept, %lu records left out, %lu buckets "
		       "unreadable%s\n", round, (unsigned)delay, why,
		       report.damaged ? "rebuilt" : "nothing to rebuild",
		       report.keys, report.keys_lost, report.buckets_lost,
		       report.salvaged ? ", rebuilt by a scan" : "");
		if (report.damaged) {
			/* What the tool's repair runs after a rebuild. */
			hl_admin_reconcile(&env, &req, &done, &d);
			if (d.verdict != HL_GRANTED) {
				violations++;
				printf("crash: round %ld: reconciling after "
				       "the repair failed: %s\n", round,
				       d.reason);
				move_aside(&world, violations);
				continue;
			}
			if (done.records_dropped + done.slots_freed +
			    done.slots_restored +
			    done.holders_moved + done.holders_dropped +
			    done.counters_fixed > 0) {
				reconciled++;
				printf("crash: round %ld: reconciled: %u "
				       "unreadable records deleted, %u slots "
				       "freed, %u written back, %u holders "
				       "moved, %u dropped, %u counters "
				       "recounted\n", round,
				       done.records_dropped, done.slots_freed,
				       done.slots_restored, done.holders_moved,
				       done.holders_dropped,
				       done.counters_fixed);
			}
		}
		v = rel_check_store(&world, NULL, why, sizeof(why));
		if (v != REL_SOUND) {
			violations++;
			printf("crash: round %ld: after repair: %s\n", round,
			       why);
			move_aside(&world, violations);
		}
	}

	printf("crash: %ld rounds in %.1f s, %lu transactions begun: "
	       "%lu sound after the kill (%lu with an interrupted commit's "
	       "journal), %lu reported damaged on open, %lu on reading every "
	       "record, %lu repaired (%lu records left out, %lu buckets "
	       "unreadable, %lu rebuilt by a scan, %lu with allocations "
	       "reconciled by the repair); violations %lu\n",
	       round - 1, rel_now() - start, atomic_load(writes), sound,
	       journals, damaged_open, damaged_read, repaired, keys_lost,
	       buckets_lost, salvaged, reconciled, violations);
	if (atomic_load(writes) == 0)
		printf("crash: the writers began no transaction\n");
	if (violations == 0 || getenv("HL_REL_KEEP") == NULL)
		rel_world_remove(&world);
	printf("crash: %s\n",
	       violations == 0 && atomic_load(writes) > 0 ? "PASS" : "FAIL");
	return violations == 0 && atomic_load(writes) > 0 ? 0 : 1;
}
