/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Crashes: a writer SIGKILLed inside its commits, over and over, on the
 * two files of the store (the durable one of Named allocations, the
 * runtime one of slots, holders and sessions); after each kill the next
 * login must be granted, repairing in place whatever the kill damaged,
 * and leave a sound store that lost no Named allocation and holds no
 * more technicians in a pool than it has licenses.
 *
 *   crash [ROUNDS [MAX_DELAY_US]]      (default 100 rounds, 30000 us)
 *
 * SIGINT ends a run after the round under way, with its figures.
 *
 * Each round forks a writer that, through the core, logs technicians of
 * pools "one" (1 license) and "three" (3) and Named technicians in and
 * out, and assigns and unassigns Named licenses, without pause.  Rounds
 * alternate two ways of killing it:
 *
 *  - timed: the parent SIGKILLs it a random 0..MAX_DELAY_US after it is
 *    ready to write, so kills land before, inside and after commits;
 *  - cut: the writer kills itself at a random write(2) that GDBM makes
 *    inside hl_store_commit (counted over its commits), before the write
 *    or after a whole number of its pages, so every such kill lands
 *    inside a commit: in the journal, in the changes, in the journal's
 *    removal, or between the runtime file's commit and the durable one's.
 *
 * After the kill (doc/STORE.md, "What a killed process leaves"):
 *
 *  1. the store is read as it was left (rel_check_store): sound, or
 *     damaged (counted); a store that opens but fails GDBM's check, or
 *     whose allocations disagree, is a violation;
 *  2. logins, each by a process of its own that keeps its session open:
 *     technicians of pool "one" and "three" until each pool is full.  A
 *     process of the run holds a session of pool "three" from start to
 *     end.  The first login is the one that finds what the kill left and
 *     must be granted (repairing in place); every license the dead writer
 *     held must be had again, and one more login per pool refused as
 *     full: a login refused otherwise, or a pool whose live holders
 *     outnumber its licenses (an over-grant), is a violation;
 *  3. the store must then be sound (both files, every invariant), the
 *     live sessions recorded, and every Named allocation where the record
 *     says: the writer notes each Named allocation it made or freed once
 *     the call returned, and for the call the kill cut short, the event
 *     log decides (its "assign", "unassign" or Named "grant" line, which
 *     the next login appends from the outbox if the writer could not).
 *     An allocation so committed and gone is lost; one that appears
 *     without being committed is counted apart.
 *
 * A store found unsound is moved aside (PATH.violation-N) and the next
 * round starts afresh.  Exit status 0 only when there was no violation
 * and some kill landed inside a commit (rounds go on past ROUNDS until
 * one has).
 */
#include "config.h"

#include <dlfcn.h>
#include <errno.h>
#include <gdbm.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "admin.h"
#include "license.h"
#include "record.h"
#include "rel.h"
#include "store.h"

#define HELD_MAX 6
#define PAGE 4096
/* A cut lands at one of the first CUT_MAX writes inside commits: several
 * commits' worth, so that the runtime and the durable file's are both
 * cut, and the writer's own earlier commits leave something to lose. */
#define CUT_MAX 240
/* A writer that never reaches its cut gives up after this many calls:
 * only a guard against a hang. */
#define WRITER_CALLS_MAX 100000

/* What the writer tells the parent, in memory shared between them. */
struct shared {
	atomic_ulong writes;		/* transactions begun, all writers */
	atomic_int committing;		/* inside hl_store_commit */
	atomic_long cut_at;		/* cut: the write to die at; 0: timed */
	atomic_long commit_writes;	/* writes inside commits, this writer */
	atomic_int torn_pages;		/* cut: pages written of the last */
	atomic_ulong store_failures;	/* the writer's calls refused */
	/* Named allocations: each named technician's, as of the last call
	 * that returned, and the call under way (-1: none) with the event
	 * log's size when it began. */
	atomic_int named[REL_NAMED_USERS];
	atomic_int named_user;
	atomic_long named_log_from;
};

static volatile sig_atomic_t stop;	/* SIGINT: end after this round */

static void stop_soon(int sig)
{
	(void)sig;
	stop = 1;
}

static struct shared *shared;
static bool is_writer;			/* only the writer cuts */
static unsigned cut_seed;		/* the writer's, for torn writes */

/* -Wl,--wrap=hl_store_commit: whether the writer died inside a commit. */
int __real_hl_store_commit(struct hl_store *store);
int __wrap_hl_store_commit(struct hl_store *store);

int __wrap_hl_store_commit(struct hl_store *store)
{
	int rc;

	if (is_writer)
		atomic_store(&shared->committing, 1);
	rc = __real_hl_store_commit(store);
	if (is_writer)
		atomic_store(&shared->committing, 0);
	return rc;
}

/* GDBM writes with write(2): this one, in the writer, dies at its cut. */
ssize_t write(int fd, const void *buf, size_t len)
{
	static ssize_t (*real)(int, const void *, size_t);

	if (real == NULL)
		real = (ssize_t (*)(int, const void *, size_t))dlsym(
			RTLD_NEXT, "write");
	if (is_writer && atomic_load(&shared->cut_at) > 0 &&
	    atomic_load(&shared->committing) &&
	    atomic_fetch_add(&shared->commit_writes, 1) + 1 ==
	    atomic_load(&shared->cut_at)) {
		/* A SIGKILL stops a write between two pages. */
		int pages = (int)(len / PAGE);
		int keep = pages > 0 ? rand_r(&cut_seed) % (pages + 1) : 0;

		atomic_store(&shared->torn_pages, keep);
		if (keep > 0 && real(fd, buf, (size_t)keep * PAGE) < 0)
			keep = 0;
		raise(SIGKILL);
	}
	return real(fd, buf, len);
}

static long log_size(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0 ? (long)st.st_size : 0;
}

/* The Named call under way: what the event log says decides it, if the
 * writer dies in it. */
static void named_begin(const struct rel_world *world, int user)
{
	atomic_store(&shared->named_log_from, log_size(world->events));
	atomic_store(&shared->named_user, user);
}

static void named_end(int user, int allocated)
{
	if (allocated >= 0)
		atomic_store(&shared->named[user], allocated);
	atomic_store(&shared->named_user, -1);
}

static void writer_failed(const struct hl_decision *d)
{
	if (d->verdict == HL_STORE_FAILED &&
	    atomic_fetch_add(&shared->store_failures, 1) < 5)
		fprintf(stderr, "crash: a writer's call refused: %s\n",
			d->reason);
}

/* ready: written once the writer is about to write, so that every kill
 * lands among its writes, not in its start.  Pool technicians 1..4 of
 * each pool, and every Named technician. */
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
	is_writer = true;
	cut_seed = seed;
	rel_logger(&log, &counts);
	counts.printed = 5;	/* a killed writer's errors are expected */
	if (hl_env_init(&env, &world->cfg, &log) != 0 ||
	    write(ready, "", 1) != 1)
		_exit(2);
	close(ready);
	for (long calls = 0; calls < WRITER_CALLS_MAX; calls++) {
		int op = rand_r(&seed) % 8, n;
		struct hl_decision d;
		struct hl_request req = { "", "sshd", "pts/7", "192.0.2.9" };

		atomic_fetch_add(&shared->writes, 1);
		memset(&d, 0, sizeof(d));
		n = rand_r(&seed) % REL_NAMED_USERS;
		if (op <= 2 && count < HELD_MAX) {
			req.user = world->pool_users[op % 2][rand_r(&seed) % 4];
			hl_license_open(&env, &req, &d);
		} else if (op == 3 && count < HELD_MAX) {
			req.user = world->named_users[n];
			named_begin(world, n);
			hl_license_open(&env, &req, &d);
			named_end(n, d.verdict == HL_GRANTED ? 1 : -1);
		} else if (op <= 5 && count > 0) {
			int i = rand_r(&seed) % count;

			req.user = held[i].user;
			hl_license_close(&env, &req, held[i].id, &d);
			held[i] = held[--count];
			writer_failed(&d);
			continue;
		} else if (op == 6) {
			req.user = world->named_users[n];
			named_begin(world, n);
			hl_admin_assign(&env, &req, &d);
			/* Refused: held already, or none free. */
			named_end(n, d.verdict == HL_GRANTED ? 1 : -1);
		} else {
			req.user = world->named_users[n];
			named_begin(world, n);
			hl_admin_unassign(&env, &req, true, &d);
			named_end(n, d.verdict == HL_GRANTED ? 0 : -1);
		}
		writer_failed(&d);
		if (d.verdict == HL_GRANTED && *d.session_id) {
			snprintf(held[count].id, sizeof(held[count].id), "%s",
				 d.session_id);
			held[count++].user = req.user;
		}
	}
	_exit(3);
}

/* ---- logins that keep their session open -------------------------------- */

struct login {
	pid_t pid;
	int release;		/* a byte written to it ends the session */
	const char *user;
	struct hl_decision d;
};

/* A process of its own logs user in and holds the session until released;
 * false when it could not be started. */
static bool login_hold(const struct rel_world *world, const char *user,
		       struct login *l)
{
	int result[2], release[2];

	memset(l, 0, sizeof(*l));
	l->user = user;
	l->release = -1;
	if (pipe(result) != 0 || pipe(release) != 0 || (l->pid = fork()) < 0) {
		perror("crash: pipe, fork");
		return false;
	}
	if (l->pid == 0) {
		struct rel_log_counts counts = { 0, 0 };
		struct hl_request req = { user, "sshd", "pts/8", "192.0.2.8" };
		struct hl_logger log;
		struct hl_env env;
		char c;

		prctl(PR_SET_PDEATHSIG, SIGKILL);
		close(result[0]);
		close(release[1]);
		rel_logger(&log, &counts);
		memset(&l->d, 0, sizeof(l->d));
		if (hl_env_init(&env, &world->cfg, &log) != 0)
			_exit(2);
		hl_license_open(&env, &req, &l->d);
		if (write(result[1], &l->d, sizeof(l->d)) != sizeof(l->d))
			_exit(2);
		/* Until the parent says. */
		while (read(release[0], &c, 1) < 0 && errno == EINTR)
			;
		if (l->d.verdict == HL_GRANTED)
			hl_license_close(&env, &req, l->d.session_id, &l->d);
		_exit(0);
	}
	close(result[1]);
	close(release[0]);
	l->release = release[1];
	if (read(result[0], &l->d, sizeof(l->d)) != sizeof(l->d)) {
		l->d.verdict = HL_STORE_FAILED;
		snprintf(l->d.reason, sizeof(l->d.reason), "the login process "
			 "died");
	}
	close(result[0]);
	return true;
}

static void login_release(struct login *l)
{
	if (l->pid <= 0)
		return;
	/* A byte, not the end of the pipe: processes forked since hold a
	 * copy of this end too. */
	if (write(l->release, "", 1) != 1)
		kill(l->pid, SIGKILL);
	close(l->release);
	waitpid(l->pid, NULL, 0);
	l->pid = 0;
}

/* ---- what the kill left ------------------------------------------------- */

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
	const char *paths[] = { world->store, world->runtime };

	for (int i = 0; i < 2; i++) {
		char to[PATH_MAX + 64];

		snprintf(to, sizeof(to), "%s.violation-%lu", paths[i], n);
		if (rename(paths[i], to) == 0)
			printf("crash: kept as %s\n", to);
	}
	for (int u = 0; u < REL_NAMED_USERS; u++)
		atomic_store(&shared->named[u], 0);
}

/* Whether user's Named allocation is in the durable file: 1, 0, or -1
 * when the file cannot be read. */
static int named_allocated(const struct rel_world *world, const char *user)
{
	struct hl_store *store;
	char key[HL_KEY_MAX], *text = NULL;
	int rc;

	if (!hl_key_named(key, sizeof(key), user) ||
	    hl_store_open(world->store, HL_STORE_READ, world->cfg.lock_timeout,
			  NULL, &store) != HL_STORE_OK)
		return -1;
	rc = hl_store_get(store, key, &text);
	free(text);
	hl_store_close(store);
	return rc == HL_STORE_OK ? 1 : rc == HL_STORE_NOTFOUND ? 0 : -1;
}

/* What the event log says, from offset from, of user's Named allocation:
 * 1 allocated, 0 freed, -1 nothing. */
static int named_logged(const struct rel_world *world, const char *user,
			long from)
{
	FILE *fp = fopen(world->events, "r");
	char line[8192], who[64];
	int said = -1;

	if (fp == NULL)
		return -1;
	snprintf(who, sizeof(who), "\"user\":\"%s\"", user);
	if (fseek(fp, from, SEEK_SET) == 0)
		while (fgets(line, sizeof(line), fp) != NULL) {
			if (strstr(line, who) == NULL)
				continue;
			if (strstr(line, "\"event\":\"assign\"") ||
			    (strstr(line, "\"event\":\"grant\"") &&
			     strstr(line, "named license allocated")))
				said = 1;
			else if (strstr(line, "\"event\":\"unassign\""))
				said = 0;
		}
	fclose(fp);
	return said;
}

struct tally {
	unsigned long timed, cut, in_commit, torn, journals;
	unsigned long damaged_open, damaged_read, repaired;
	unsigned long logins, refused_store, refused_free, over_grants;
	unsigned long named_checked, named_lost, named_unlogged;
	unsigned long sessions_lost, unsound, violations, damage_left;
};

/* Step 3: the Named allocations against the record; the record then
 * follows the store, so one loss is counted once. */
static void check_named(const struct rel_world *world, struct tally *t,
			long round)
{
	int cut_user = atomic_load(&shared->named_user);

	for (int u = 0; u < REL_NAMED_USERS; u++) {
		const char *user = world->named_users[u];
		int want = atomic_load(&shared->named[u]);
		int have = named_allocated(world, user);

		if (u == cut_user) {
			int said = named_logged(world, user, atomic_load(
				&shared->named_log_from));

			if (said >= 0)
				want = said;
		}
		t->named_checked++;
		if (have < 0) {
			t->violations++;
			printf("crash: round %ld: named/%s cannot be read\n",
			       round, user);
			continue;
		}
		if (want == 1 && have == 0) {
			t->named_lost++;
			t->violations++;
			printf("crash: round %ld: VIOLATION: the Named "
			       "allocation of %s is lost%s\n", round, user,
			       u == cut_user ? " (its call was cut, its event "
			       "logged)" : "");
		} else if (want == 0 && have == 1) {
			t->named_unlogged++;
			printf("crash: round %ld: a Named allocation of %s "
			       "that no event tells%s\n", round, user,
			       u == cut_user ? " (its call was cut)" : "");
		}
		atomic_store(&shared->named[u], have);
	}
	atomic_store(&shared->named_user, -1);
}

/* Each technician the writer used logs in, and out at once: a refusal by
 * the store is a violation.  The Named record follows what they did. */
static void login_everyone(const struct rel_world *world, struct tally *t,
			   long round)
{
	for (int i = 0; i < 2 * 4 + REL_NAMED_USERS; i++) {
		const char *user = i < 8 ? world->pool_users[i / 4][i % 4]
					 : world->named_users[i - 8];
		struct login l;

		if (!login_hold(world, user, &l))
			continue;
		t->logins++;
		if (l.d.verdict == HL_STORE_FAILED) {
			t->refused_store++;
			t->violations++;
			printf("crash: round %ld: VIOLATION: login of %s "
			       "refused: %s\n", round, user, l.d.reason);
		}
		login_release(&l);
	}
	for (int u = 0; u < REL_NAMED_USERS; u++)
		atomic_store(&shared->named[u],
			     named_allocated(world, world->named_users[u]));
}

/* Step 2: fill both pools with live logins; the first one meets what the
 * kill left.  Returns how many logins were started. */
static size_t fill_pools(const struct rel_world *world, const struct login
			 *keeper, struct login *fill, struct tally *t,
			 long round)
{
	size_t n = 0;

	for (int p = 0; p < 2; p++) {
		unsigned licenses = world->pools[p].licenses, live = 0;

		if (strcmp(keeper->d.pool, world->pools[p].name) == 0)
			live++;
		/* One more than the free licenses: the last is refused. */
		for (unsigned i = live; i <= licenses; i++) {
			struct login *l = &fill[n];

			if (!login_hold(world, world->pool_users[p][8 + i], l))
				break;
			n++;
			t->logins++;
			if (l->d.verdict == HL_GRANTED) {
				live++;
			} else if (l->d.verdict == HL_STORE_FAILED) {
				t->refused_store++;
				t->violations++;
				printf("crash: round %ld: VIOLATION: login of "
				       "%s refused: %s\n", round, l->user,
				       l->d.reason);
			} else if (i < licenses) {
				t->refused_free++;
				t->violations++;
				printf("crash: round %ld: VIOLATION: login of "
				       "%s refused with a license free: %s\n",
				       round, l->user, l->d.reason);
			}
		}
		if (live > licenses) {
			t->over_grants++;
			t->violations++;
			printf("crash: round %ld: VIOLATION: pool %s: %u live "
			       "holders for %u licenses\n", round,
			       world->pools[p].name, live, licenses);
		}
	}
	return n;
}

static bool keeper_start(const struct rel_world *world, struct login *keeper)
{
	if (!login_hold(world, world->pool_users[1][REL_POOL_USERS - 1],
			keeper))
		return false;
	if (keeper->d.verdict == HL_GRANTED)
		return true;
	fprintf(stderr, "crash: the keeper's login was refused: %s\n",
		keeper->d.reason);
	login_release(keeper);
	return false;
}

/* One round: fork, kill, then steps 1 to 3. */
static void round_run(const struct rel_world *world, long round, bool cut,
		      long max_delay, unsigned *seed, struct login *keeper,
		      struct tally *t)
{
	unsigned writer_seed = (unsigned)rand_r(seed);
	useconds_t delay = (useconds_t)(rand_r(seed) % max_delay);
	struct login fill[8];
	size_t nfill = 0;
	enum rel_verdict v;
	bool damaged;
	char why[512];
	int status = 0, ready[2];
	pid_t pid;
	char c;

	atomic_store(&shared->committing, 0);
	atomic_store(&shared->commit_writes, 0);
	atomic_store(&shared->torn_pages, 0);
	atomic_store(&shared->cut_at, cut ? 1 + rand_r(seed) % CUT_MAX : 0);
	fflush(stdout);
	if (pipe(ready) != 0 || (pid = fork()) < 0) {
		perror("crash: pipe, fork");
		exit(1);
	}
	if (pid == 0) {
		close(ready[0]);
		writer(world, writer_seed, ready[1]);
	}
	close(ready[1]);
	if (read(ready[0], &c, 1) != 1) {
		printf("crash: round %ld: the writer did not start\n", round);
		t->violations++;
	}
	close(ready[0]);
	if (!cut) {
		usleep(delay);
		kill(pid, SIGKILL);
	}
	waitpid(pid, &status, 0);
	if (!WIFSIGNALED(status)) {
		printf("crash: round %ld: the writer never reached write %ld "
		       "of its commits\n", round, atomic_load(&shared->cut_at));
		t->violations++;
	}
	if (cut)
		t->cut++;
	else
		t->timed++;
	if (atomic_load(&shared->committing))
		t->in_commit++;
	if (cut && atomic_load(&shared->torn_pages) > 0)
		t->torn++;
	if (journal_left(world->runtime) || journal_left(world->store))
		t->journals++;

	/* 1. As the kill left it. */
	v = rel_check_store(world, NULL, why, sizeof(why));
	damaged = v == REL_DAMAGED;
	if (damaged) {
		if (strstr(why, "on open") != NULL)
			t->damaged_open++;
		else
			t->damaged_read++;
		printf("crash: round %ld (%s): %s\n", round, cut ? "cut" :
		       "timed", why);
	} else if (v != REL_SOUND) {
		t->unsound++;
		t->violations++;
		printf("crash: round %ld (%s): VIOLATION: %s\n", round,
		       cut ? "cut" : "timed", why);
		move_aside(world, t->violations);
		return;
	}

	/*
	 * 1b. A kill that damaged the store: the next login rebuilds it from
	 * what GDBM can read, and a bucket GDBM cannot read takes its
	 * records with it, now and then a live holder's.  The rebuild then
	 * restores that session from the event log, so the keeper must
	 * still be recorded after the first login; if not, its slot would
	 * go to a newcomer while it runs (a violation, counted once: the
	 * keeper starts again).
	 */
	if (damaged) {
		struct login probe;

		if (login_hold(world, world->pool_users[0][8], &probe))
			login_release(&probe);
		if (!rel_session_recorded(world, keeper->user,
					  keeper->d.session_id)) {
			t->sessions_lost++;
			t->violations++;
			printf("crash: round %ld: VIOLATION: the rebuild of the "
			       "damaged store lost the live session of %s\n",
			       round, keeper->user);
			login_release(keeper);
			if (!keeper_start(world, keeper))
				exit(1);
		}
	}

	/* 2. Logins, until both pools are full. */
	nfill = fill_pools(world, keeper, fill, t, round);

	/* 3. After them. */
	v = rel_check_store(world, NULL, why, sizeof(why));
	if (v == REL_DAMAGED) {
		/* Damage in a record these logins did not read waits for
		 * the login that does: each technician the writer used logs
		 * in once more, then the store must be sound. */
		t->damage_left++;
		printf("crash: round %ld: after the logins, %s: every "
		       "technician of the writer logs in\n", round, why);
		for (size_t i = 0; i < nfill; i++)
			login_release(&fill[i]);
		nfill = 0;
		check_named(world, t, round);
		login_everyone(world, t, round);
		v = rel_check_store(world, NULL, why, sizeof(why));
	}
	if (v != REL_SOUND) {
		t->unsound++;
		t->violations++;
		printf("crash: round %ld: VIOLATION after the logins: %s\n",
		       round, why);
	} else if (damaged) {
		t->repaired++;
	}
	if (!rel_session_recorded(world, keeper->user, keeper->d.session_id)) {
		t->sessions_lost++;
		t->violations++;
		printf("crash: round %ld: VIOLATION: the live session of %s "
		       "is lost\n", round, keeper->user);
	}
	for (size_t i = 0; i < nfill; i++)
		if (fill[i].d.verdict == HL_GRANTED &&
		    !rel_session_recorded(world, fill[i].user,
					  fill[i].d.session_id)) {
			t->sessions_lost++;
			t->violations++;
			printf("crash: round %ld: VIOLATION: the session just "
			       "granted to %s is not recorded\n", round,
			       fill[i].user);
		}
	check_named(world, t, round);
	for (size_t i = 0; i < nfill; i++)
		login_release(&fill[i]);
	if (v != REL_SOUND) {
		login_release(keeper);
		move_aside(world, t->violations);
		if (!keeper_start(world, keeper))
			exit(1);
	}
}

int main(int argc, char **argv)
{
	static struct rel_world world;
	long rounds = argc > 1 ? atol(argv[1]) : 100, round;
	long max_delay = argc > 2 ? atol(argv[2]) : 30000;
	unsigned seed = (unsigned)time(NULL) ^ (unsigned)getpid();
	struct tally t;
	struct login keeper;
	bool pass;
	double start;

	if (rounds < 1 || max_delay < 1) {
		fprintf(stderr, "usage: crash [ROUNDS [MAX_DELAY_US]]\n");
		return 2;
	}
	if (!rel_world_init(&world, argv, "crash"))
		return 1;
	memset(&t, 0, sizeof(t));
	shared = rel_shared(sizeof(*shared));
	if (shared == NULL)
		return 1;
	atomic_store(&shared->named_user, -1);
	printf("crash: %ld rounds, timed kills after 0..%ld us and cuts at "
	       "one of the first %d writes of the commits; seed %u\n",
	       rounds, max_delay, CUT_MAX, seed);
	fflush(stdout);
	if (!keeper_start(&world, &keeper))
		return 1;
	start = rel_now();

	/* Kills that never landed in a commit would prove nothing: rounds
	 * go on until one has (ten times ROUNDS only guard a hang). */
	signal(SIGINT, stop_soon);
	for (round = 1; !stop && (round <= rounds ||
	     (t.in_commit == 0 && round <= rounds * 10)); round++)
		round_run(&world, round, round % 2 == 0, max_delay, &seed,
			  &keeper, &t);
	login_release(&keeper);

	printf("crash: %ld rounds in %.1f s, %lu transactions begun; "
	       "%lu kills (%lu timed, %lu cut, %lu of them tearing a write), "
	       "%lu inside a commit, %lu leaving a journal; damaged: %lu on "
	       "open, %lu on reading every record, %lu repaired by the "
	       "login; %lu logins after the kills: %lu refused by the store, "
	       "%lu refused with a license free, %lu over-grants; %lu Named "
	       "allocations checked: %lu lost, %lu without an event; "
	       "%lu live sessions lost; %lu stores unsound; %lu with damage "
	       "no login of the pools met; violations %lu\n",
	       round - 1, rel_now() - start, atomic_load(&shared->writes),
	       t.timed + t.cut, t.timed, t.cut, t.torn, t.in_commit,
	       t.journals, t.damaged_open, t.damaged_read, t.repaired,
	       t.logins, t.refused_store, t.refused_free, t.over_grants,
	       t.named_checked, t.named_lost, t.named_unlogged,
	       t.sessions_lost, t.unsound, t.damage_left,
	       t.violations);
	if (atomic_load(&shared->store_failures) > 0) {
		printf("crash: %lu of the writers' calls were refused by the "
		       "store\n", atomic_load(&shared->store_failures));
		t.violations++;
	}
	pass = t.violations == 0 && t.in_commit > 0;
	if (pass || getenv("HL_REL_KEEP") == NULL)
		rel_world_remove(&world);
	printf("crash: %s\n", pass ? "PASS" : "FAIL");
	return pass ? 0 : 1;
}
