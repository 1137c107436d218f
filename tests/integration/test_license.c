/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * What a login gets (pam_helpdesk_license(8), "Decision" and "Stale sessions"), through real libpam: Named
 * licenses, concurrent pools, sessions of one technician, account as a dry
 * run, dead holders, and the logins the module is not concerned with.
 *
 * Users and groups (tests/integration/passwd, group):
 *   alice            no group of ours          (named by user)
 *   bob              callcentre                (named by group)
 *   carol, dave      field-east
 *   erin             field-east, field-west
 *   frank            field-east, helpdesk-admins
 *   gina             nothing at all
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "harness.h"

#define NAMED_ONE \
	"named = { licenses = 1; users = [ \"alice\" ];" \
	" groups = [ \"callcentre\" ]; };\n"
#define EAST_ONE \
	"concurrent = ( { pool = \"field-east\"; licenses = 1;" \
	" groups = [ \"field-east\" ]; } );\n"

/* ------------------------------------------------------------------ */
/* Cases of one shape: a configuration, then logins step by step      */
/* ------------------------------------------------------------------ */

enum step_op {
	OP_END,
	OP_OPEN,	/* pam_open_session on a new handle (it_open; with a
			   tty or rhost, it_start then it_open_on) */
	OP_ACCT,	/* pam_acct_mgmt on a new handle (it_acct) */
	OP_CLOSE,	/* pam_close_session and pam_end of a kept session */
	OP_CLOSE_ONLY,	/* pam_close_session alone: the handle stays */
	OP_KILL,	/* SIGKILL to the worker: its sessions never close */
	OP_EXIT,	/* the worker exits in order */
	OP_CONFIG,	/* the configuration becomes text */
	OP_FINISH,	/* every worker exits; later steps fork fresh ones */
};

/* What the refused login is told about its errors (PAM_ERROR_MSG). */
enum step_errors { ERRORS_UNCHECKED, ERRORS_NONE, ERRORS_ONE, ERRORS_SOME };

#define STEP_MSGS 5
#define CASE_WORKERS 4
#define CASE_KEPT 4
#define CASE_STEPS 16

struct step {
	enum step_op op;
	int worker;		/* 1..CASE_WORKERS, forked at first use */
	const char *service;	/* NULL: IT_SERVICE */
	const char *user;
	const char *tty, *rhost;
	int rc;			/* the PAM code every PAM step expects */
	int keep;		/* OP_OPEN: keep the session as 1..CASE_KEPT;
				   OP_CLOSE*: the kept session to close */
	enum step_errors errors;
	const char *msg[STEP_MSGS];	/* each in what the user is told */
	const char *text;	/* OP_CONFIG */
};

struct license_case {
	const char *name;
	const char *config;
	struct step steps[CASE_STEPS];
};

#define OPEN(w, u, want) .op = OP_OPEN, .worker = (w), .user = (u), .rc = (want)
#define ACCT(w, u, want) .op = OP_ACCT, .worker = (w), .user = (u), .rc = (want)
#define CLOSE(w, k) \
	.op = OP_CLOSE, .worker = (w), .keep = (k), .rc = PAM_SUCCESS
#define CLOSE_ONLY(w, k) \
	.op = OP_CLOSE_ONLY, .worker = (w), .keep = (k), .rc = PAM_SUCCESS
#define KILL(w) .op = OP_KILL, .worker = (w)
#define EXIT(w) .op = OP_EXIT, .worker = (w)
#define CONFIG(t) .op = OP_CONFIG, .text = (t)
#define FINISH .op = OP_FINISH

static const struct license_case license_cases[] = {
	/* 1. A Named technician may have any number of sessions: all
	 * granted, and they take one allocation (bob, named-eligible, finds
	 * the only Named license taken). */
	{ "named_several_sessions", NAMED_ONE, {
		{ OPEN(1, "alice", PAM_SUCCESS), .keep = 1 },
		{ OPEN(1, "alice", PAM_SUCCESS), .keep = 2 },
		{ OPEN(2, "alice", PAM_SUCCESS), .keep = 3,
		  .service = IT_SERVICE_REQUIRED },
		{ ACCT(3, "alice", PAM_SUCCESS) },
		{ OPEN(3, "bob", PAM_PERM_DENIED), .errors = ERRORS_SOME },
		{ CLOSE(1, 1) },
		{ CLOSE(1, 2) },
		{ CLOSE(2, 3) },
	} },
	/* 2. A Named allocation outlives the session: after alice logged in
	 * and out, bob (named-eligible, licenses = 1) is refused, even with
	 * unlicensed = ignore, and alice still gets in. */
	{ "named_kept_after_logout", "unlicensed = \"ignore\";\n" NAMED_ONE, {
		{ OPEN(1, "alice", PAM_SUCCESS), .keep = 1 },
		{ CLOSE(1, 1) },
		{ EXIT(1) },
		{ ACCT(2, "bob", PAM_PERM_DENIED) },
		{ OPEN(2, "bob", PAM_PERM_DENIED), .errors = ERRORS_SOME },
		{ OPEN(2, "alice", PAM_SUCCESS) },
	} },
	/* 3. A pool of one license: one technician at a time.  The refused
	 * one is told the pool, its number of licenses and who holds it from
	 * where. */
	{ "pool_of_one", "show_holders = true;\n" EAST_ONE, {
		{ OPEN(1, "carol", PAM_SUCCESS), .keep = 1, .tty = "pts/7",
		  .rhost = "198.51.100.7" },
		{ OPEN(2, "dave", PAM_PERM_DENIED), .errors = ERRORS_ONE,
		  .msg = { "field-east", "1 license", "carol", "since",
			   "198.51.100.7" } },
		{ CLOSE(1, 1) },
		{ OPEN(2, "dave", PAM_SUCCESS), .errors = ERRORS_NONE },
	} },
	/* A group of 3,000 members (a 27 KB entry, more than a fixed NSS
	 * buffer holds) is read whole: its members are members, and with
	 * unlicensed = ignore the second of a pool of one is refused, not
	 * let in unlicensed; gina, not a member, is unlicensed, ignored. */
	{ "pool_of_a_big_group",
	  "unlicensed = \"ignore\";\n"
	  "concurrent = ( { pool = \"big\"; licenses = 1;"
	  " groups = [ \"field-big\" ]; } );\n", {
		{ OPEN(1, "carol", PAM_SUCCESS) },
		{ OPEN(2, "dave", PAM_PERM_DENIED) },
		{ OPEN(2, "gina", PAM_IGNORE) },
	} },
	/* 4. A pool of two licenses: two technicians in, the third
	 * refused. */
	{ "pool_of_two",
	  "show_holders = true;\n"
	  "concurrent = ( { pool = \"field-west\"; licenses = 2;"
	  " users = [ \"carol\", \"dave\" ];"
	  " groups = [ \"field-west\" ]; } );\n", {
		{ OPEN(1, "carol", PAM_SUCCESS), .keep = 1 },
		{ OPEN(2, "dave", PAM_SUCCESS) },
		{ OPEN(3, "erin", PAM_PERM_DENIED),
		  .msg = { "field-west", "2 licenses", "carol", "dave" } },
		{ CLOSE(1, 1) },
		{ OPEN(3, "erin", PAM_SUCCESS) },
	} },
	/* 5. One technician's sessions (two processes, two services) share
	 * one slot until the last of them closes. */
	{ "sessions_share_one_slot", EAST_ONE, {
		{ OPEN(1, "carol", PAM_SUCCESS), .keep = 1 },
		{ OPEN(2, "carol", PAM_SUCCESS), .keep = 2,
		  .service = IT_SERVICE_REQUIRED },
		{ OPEN(3, "dave", PAM_PERM_DENIED) },
		{ CLOSE(1, 1) },
		{ OPEN(3, "dave", PAM_PERM_DENIED) },
		{ CLOSE(2, 2) },
		{ OPEN(3, "dave", PAM_SUCCESS) },
	} },
	/* 6. account is a dry run: it takes nothing, and it refuses when the
	 * slot is held by a live session; carol's next session would join
	 * her slot. */
	{ "account_takes_nothing", "show_holders = true;\n" EAST_ONE, {
		{ ACCT(1, "carol", PAM_SUCCESS) },
		{ ACCT(2, "dave", PAM_SUCCESS) },
		{ ACCT(1, "carol", PAM_SUCCESS) },
		{ ACCT(2, "dave", PAM_SUCCESS) },
		{ OPEN(1, "carol", PAM_SUCCESS) },
		{ ACCT(2, "dave", PAM_PERM_DENIED),
		  .msg = { "field-east", "carol" } },
		{ ACCT(2, "carol", PAM_SUCCESS) },
	} },
	/* 7. A holder killed with SIGKILL never closes its session: the slot
	 * is reclaimed when another technician needs it; dave holds it then,
	 * and carol's new login is refused. */
	{ "killed_holder_reclaimed", EAST_ONE, {
		{ OPEN(1, "carol", PAM_SUCCESS) },
		{ OPEN(2, "dave", PAM_PERM_DENIED) },
		{ KILL(1) },
		{ OPEN(2, "dave", PAM_SUCCESS) },
		{ OPEN(3, "carol", PAM_PERM_DENIED) },
	} },
	/* 8a. No license at all, unlicensed = deny: refused with a
	 * message. */
	{ "unlicensed_deny", "unlicensed = \"deny\";\n" NAMED_ONE EAST_ONE, {
		{ ACCT(1, "gina", PAM_PERM_DENIED), .errors = ERRORS_SOME },
		{ OPEN(1, "gina", PAM_PERM_DENIED), .errors = ERRORS_SOME },
	} },
	/* 8b. No license at all, unlicensed = ignore: not concerned. */
	{ "unlicensed_ignore",
	  "unlicensed = \"ignore\";\n" NAMED_ONE EAST_ONE, {
		{ ACCT(1, "gina", PAM_IGNORE) },
		{ OPEN(1, "gina", PAM_IGNORE), .errors = ERRORS_NONE },
	} },
	/* 8c. An exempt user is never licensed: PAM_IGNORE even when the
	 * pool is full, and nothing taken when it is free. */
	{ "exempt_user",
	  "exempt = { users = [ \"erin\" ]; groups = [ ]; };\n" EAST_ONE, {
		{ ACCT(1, "erin", PAM_IGNORE) },
		{ OPEN(1, "erin", PAM_IGNORE) },
		{ OPEN(2, "dave", PAM_SUCCESS) },
		{ OPEN(1, "erin", PAM_IGNORE), .errors = ERRORS_NONE },
	} },
	/* 8d. A member of an exempt group likewise. */
	{ "exempt_group",
	  "exempt = { users = [ ];"
	  " groups = [ \"helpdesk-admins\" ]; };\n" EAST_ONE, {
		{ ACCT(1, "frank", PAM_IGNORE) },
		{ OPEN(1, "frank", PAM_IGNORE) },
		{ OPEN(2, "dave", PAM_SUCCESS) },
		{ OPEN(1, "frank", PAM_IGNORE) },
	} },
	/* 8e. A service in ignore_services: not concerned, nothing taken;
	 * with the pool full, the ignored service still does not care. */
	{ "ignored_service",
	  "ignore_services = [ \"" IT_SERVICE_IGNORED "\" ];\n" EAST_ONE, {
		{ ACCT(1, "carol", PAM_IGNORE), .service = IT_SERVICE_IGNORED },
		{ OPEN(1, "carol", PAM_IGNORE), .service = IT_SERVICE_IGNORED },
		{ OPEN(2, "dave", PAM_SUCCESS) },
		{ OPEN(1, "carol", PAM_IGNORE), .service = IT_SERVICE_IGNORED },
		{ OPEN(1, "carol", PAM_PERM_DENIED) },
	} },
	/* Membership through the primary group alone (tech01 and tech02 have
	 * field-race as primary group and are listed in no group entry). */
	{ "pool_by_primary_group",
	  "concurrent = ( { pool = \"field-race\"; licenses = 1;"
	  " groups = [ \"field-race\" ]; } );\n", {
		{ OPEN(1, "tech01", PAM_SUCCESS) },
		{ OPEN(2, "tech02", PAM_PERM_DENIED), .msg = { "field-race" } },
	} },
	/* Close gives back what that session took, once: closing it again
	 * (or a third time, after someone else took the slot) succeeds and
	 * frees nothing of anybody else's. */
	{ "close_is_idempotent", EAST_ONE, {
		{ OPEN(1, "carol", PAM_SUCCESS), .keep = 1 },
		{ CLOSE_ONLY(1, 1) },
		{ CLOSE_ONLY(1, 1) },
		{ OPEN(2, "dave", PAM_SUCCESS) },
		{ CLOSE(1, 1) },
		{ OPEN(3, "erin", PAM_PERM_DENIED) },
	} },
	/* A Named license comes first: a named technician who is also in a
	 * pool leaves the pool's slot to the others. */
	{ "named_before_pool",
	  "named = { licenses = 1; users = [ \"carol\" ]; };\n" EAST_ONE, {
		{ OPEN(1, "carol", PAM_SUCCESS) },
		{ OPEN(2, "dave", PAM_SUCCESS) },
		{ OPEN(3, "erin", PAM_PERM_DENIED) },
	} },
	/* A technician in two pools gets the next pool, in config order, when
	 * the first is full (erin: east full, west); refused, the message
	 * names both pools (both full for erin, a member of both). */
	{ "next_pool_when_first_full",
	  "show_holders = true;\n"
	  "concurrent = (\n"
	  " { pool = \"field-east\"; licenses = 1;"
	  " groups = [ \"field-east\" ]; },\n"
	  " { pool = \"field-west\"; licenses = 1;"
	  " users = [ \"gina\" ]; groups = [ \"field-west\" ]; }\n"
	  ");\n", {
		{ OPEN(1, "carol", PAM_SUCCESS) },
		{ OPEN(2, "erin", PAM_SUCCESS) },
		{ OPEN(3, "gina", PAM_PERM_DENIED),
		  .msg = { "field-west", "erin" } },
		{ OPEN(4, "dave", PAM_PERM_DENIED), .msg = { "field-east" } },
		{ FINISH },
		{ OPEN(1, "carol", PAM_SUCCESS) },
		{ OPEN(2, "gina", PAM_SUCCESS) },
		{ OPEN(3, "erin", PAM_PERM_DENIED),
		  .msg = { "field-east", "field-west" } },
	} },
	/* A Named allocation counts only while its user is named-eligible:
	 * once alice leaves the named users, bob gets the license. */
	{ "named_user_removed",
	  "named = { licenses = 1; users = [ \"alice\" ];"
	  " groups = [ \"callcentre\" ]; };\n", {
		{ OPEN(1, "alice", PAM_SUCCESS), .keep = 1 },
		{ CLOSE(1, 1) },
		{ OPEN(1, "bob", PAM_PERM_DENIED) },
		{ CONFIG("named = { licenses = 1; users = [ ];"
			 " groups = [ \"callcentre\" ]; };\n") },
		{ OPEN(1, "bob", PAM_SUCCESS) },
	} },
	/* Lowering named.licenses below the allocations in force stops new
	 * allocations and throws nobody out. */
	{ "named_licenses_lowered",
	  "named = { licenses = 2;"
	  " users = [ \"alice\", \"bob\", \"carol\" ]; };\n", {
		{ OPEN(1, "alice", PAM_SUCCESS) },
		{ OPEN(1, "bob", PAM_SUCCESS) },
		{ CONFIG("named = { licenses = 1;"
			 " users = [ \"alice\", \"bob\", \"carol\" ]; };\n") },
		{ OPEN(1, "alice", PAM_SUCCESS) },
		{ OPEN(1, "bob", PAM_SUCCESS) },
		{ OPEN(1, "carol", PAM_PERM_DENIED) },
	} },
	/* Reclaiming is per session: when one of carol's two sessions dies,
	 * her slot stays hers until the other one closes. */
	{ "killed_one_of_two_sessions", EAST_ONE, {
		{ OPEN(1, "carol", PAM_SUCCESS) },
		{ OPEN(2, "carol", PAM_SUCCESS), .keep = 1 },
		{ KILL(1) },
		{ OPEN(3, "dave", PAM_PERM_DENIED) },
		{ CLOSE(2, 1) },
		{ OPEN(3, "dave", PAM_SUCCESS) },
	} },
};

/* What the user was told, as expected: failures name the case and the
 * step (from 1) where a test names its file and line. */
static void check_step(const struct license_case *c, int n,
		       const struct step *s, const struct it_result *r)
{
	char what[128];

	snprintf(what, sizeof(what), "step %d (%s of %s)", n,
		 s->op == OP_ACCT ? "account" : s->op == OP_OPEN ? "open"
						: "close",
		 s->user ? s->user : "a kept session");
	_it_assert_rc(r, s->rc, what, c->name, n);
	switch (s->errors) {
	case ERRORS_UNCHECKED:
		break;
	case ERRORS_NONE:
		if (r->errors != 0)
			it_fail(c->name, n, "%s: %d error messages, none "
				"expected", what, r->errors);
		break;
	case ERRORS_ONE:
		if (r->errors != 1)
			it_fail(c->name, n, "%s: %d error messages, one "
				"expected", what, r->errors);
		break;
	case ERRORS_SOME:
		if (r->errors < 1)
			it_fail(c->name, n, "%s: no error message", what);
		break;
	}
	for (size_t i = 0; i < STEP_MSGS && s->msg[i]; i++)
		_it_assert_msg(r, s->msg[i], c->name, n);
}

/* Runs one case: workers are forked at their first step, so that a
 * worker that appears after a kill or an exit is a new process (the
 * sessions of one process share its pid). */
static void run_case(const struct license_case *c, struct it_fixture *fx)
{
	struct it_worker *workers[CASE_WORKERS + 1] = { NULL };
	int kept[CASE_KEPT + 1] = { 0 };

	it_config(fx, c->config);
	for (int i = 0; i < CASE_STEPS && c->steps[i].op != OP_END; i++) {
		const struct step *s = &c->steps[i];
		const char *service = s->service ? s->service : IT_SERVICE;
		struct it_worker *w = NULL;
		struct it_result r;

		if (s->worker > 0) {
			assert_true(s->worker <= CASE_WORKERS);
			if (workers[s->worker] == NULL)
				workers[s->worker] = it_worker(fx);
			w = workers[s->worker];
		}
		assert_true(s->keep >= 0 && s->keep <= CASE_KEPT);
		switch (s->op) {
		case OP_END:
			break;
		case OP_OPEN:
			if (s->tty != NULL || s->rhost != NULL) {
				kept[s->keep] = it_start(w, service, s->user,
							 s->tty, s->rhost);
				it_open_on(w, kept[s->keep], &r);
			} else {
				it_open(w, service, s->user, &r);
				kept[s->keep] = r.handle;
			}
			check_step(c, i + 1, s, &r);
			break;
		case OP_ACCT:
			it_acct(w, service, s->user, &r);
			check_step(c, i + 1, s, &r);
			break;
		case OP_CLOSE:
			it_close(w, kept[s->keep], &r);
			check_step(c, i + 1, s, &r);
			break;
		case OP_CLOSE_ONLY:
			it_close_on(w, kept[s->keep], &r);
			check_step(c, i + 1, s, &r);
			break;
		case OP_KILL:
			it_worker_kill(w);
			break;
		case OP_EXIT:
			it_worker_exit(w);
			break;
		case OP_CONFIG:
			it_config(fx, s->text);
			break;
		case OP_FINISH:
			it_workers_finish(fx);
			memset(workers, 0, sizeof(workers));
			break;
		}
	}
	it_workers_finish(fx);
}

/* The fixture and the case of a table test, in its cmocka state. */
struct case_state {
	const struct license_case *c;
	void *fx;
};

static int case_setup(void **state)
{
	struct case_state *cs = calloc(1, sizeof(*cs));

	if (cs == NULL)
		return -1;
	cs->c = *state;
	if (it_setup(&cs->fx) != 0) {
		free(cs);
		return -1;
	}
	*state = cs;
	return 0;
}

static int case_teardown(void **state)
{
	struct case_state *cs = *state;
	int rc = it_teardown(&cs->fx);

	free(cs);
	return rc;
}

static void table_case(void **state)
{
	struct case_state *cs = *state;

	run_case(cs->c, cs->fx);
}

/* A refusal under PAM_SILENT says nothing to the user. */
static void refusal_silent(void **state)
{
	struct it_fixture *fx = *state;
	struct pam_testcase cases[] = {
		pam_test_flags(PAMTEST_ACCOUNT, PAM_PERM_DENIED, PAM_SILENT),
		pam_test_flags(PAMTEST_OPEN_SESSION, PAM_PERM_DENIED,
			       PAM_SILENT),
	};
	char messages[IT_MSG_MAX];
	struct it_worker *w;
	struct it_result r;

	it_config(fx, "show_holders = true;\n" EAST_ONE);
	w = it_worker(fx);
	it_open(w, IT_SERVICE, "carol", &r);
	it_assert_rc(&r, PAM_SUCCESS);
	assert_int_equal(it_pamtest(fx, IT_SERVICE, "dave", cases, 2,
				    messages, sizeof(messages)),
			 PAMTEST_ERR_OK);
	if (messages[0])
		it_fail(__FILE__, __LINE__, "PAM_SILENT, yet the user was "
			"told: %s", messages);
	it_workers_finish(fx);
}

/* A session of an earlier boot is stale even when a process of its pid
 * runs (pam_helpdesk_license(8), "Stale sessions"): carol's session, recorded under another boot id,
 * is reclaimed for dave.  Needs root (a mount namespace). */
static void earlier_boot_reclaimed(void **state)
{
	struct it_fixture *fx = *state;
	struct it_worker *w1, *w2, *w3;
	struct it_result r;

	if (geteuid() != 0)
		skip();
	it_config(fx, EAST_ONE);
	w1 = it_worker(fx);
	w2 = it_worker(fx);
	w3 = it_worker(fx);
	if (it_worker_boot_id(w1, "01234567-89ab-cdef-0123-456789abcdef"))
		skip();
	it_open(w1, IT_SERVICE, "carol", &r);
	it_assert_rc(&r, PAM_SUCCESS);
	it_open(w2, IT_SERVICE, "dave", &r);
	it_assert_rc(&r, PAM_SUCCESS);
	it_open(w3, IT_SERVICE, "erin", &r);
	it_assert_rc(&r, PAM_PERM_DENIED);
	it_workers_finish(fx);
}

/* A Named allocation persists across reboots (pam_helpdesk_license(8), "Decision"): alice's
 * allocation made under an earlier boot still counts, so bob is refused,
 * while her stale session is no reason to free it.  Needs root. */
static void named_survives_reboot(void **state)
{
	struct it_fixture *fx = *state;
	struct it_worker *w1, *w2;
	struct it_result r;

	if (geteuid() != 0)
		skip();
	it_config(fx, NAMED_ONE);
	w1 = it_worker(fx);
	w2 = it_worker(fx);
	if (it_worker_boot_id(w1, "01234567-89ab-cdef-0123-456789abcdef"))
		skip();
	it_open(w1, IT_SERVICE, "alice", &r);
	it_assert_rc(&r, PAM_SUCCESS);
	it_open(w2, IT_SERVICE, "bob", &r);
	it_assert_rc(&r, PAM_PERM_DENIED);
	it_open(w2, IT_SERVICE, "alice", &r);
	it_assert_rc(&r, PAM_SUCCESS);
	it_workers_finish(fx);
}

/* Another process under the holder's pid: as root, the next pid is set
 * (/proc/sys/kernel/ns_last_pid) so that a new process gets the pid of
 * carol's killed worker.  Returns it, or -1 when the pid went elsewhere. */
static pid_t impostor(pid_t want)
{
	for (int tries = 0; tries < 50; tries++) {
		char text[32];
		int fd = open("/proc/sys/kernel/ns_last_pid", O_WRONLY);
		int n = snprintf(text, sizeof(text), "%ld", (long)want - 1);
		pid_t pid;

		if (fd < 0)
			return -1;
		if (write(fd, text, (size_t)n) != n) {
			close(fd);
			return -1;
		}
		close(fd);
		pid = fork();
		if (pid == 0) {
			pause();
			_exit(0);
		}
		if (pid == want)
			return pid;
		if (pid > 0) {
			kill(pid, SIGKILL);
			waitpid(pid, NULL, 0);
		}
	}
	return -1;
}

/* Returns once a process forked now starts at a later clock tick than
 * start.  The start time in /proc/PID/stat counts clock ticks (CLK_TCK,
 * normally 10 ms): on a fast machine a login, a kill and a fork all fit
 * in one tick.  A fresh child is forked, its start time read (it stays a
 * zombie until reaped), until the counter has moved on; the deadline is
 * only a guard against a hang. */
static void after_start_tick(unsigned long long start)
{
	struct timespec t0, now;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (;;) {
		unsigned long long probe = 0;
		bool read_ok;
		char state;
		pid_t pid = fork();

		if (pid < 0)
			it_fail(__FILE__, __LINE__, "fork: %s", strerror(errno));
		if (pid == 0)
			_exit(0);
		read_ok = it_proc_stat(pid, &state, &probe);
		waitpid(pid, NULL, 0);
		if (!read_ok)
			it_fail(__FILE__, __LINE__, "cannot read the start "
				"time of process %ld", (long)pid);
		if (probe > start)
			return;
		clock_gettime(CLOCK_MONOTONIC, &now);
		if (now.tv_sec - t0.tv_sec > 60)
			it_fail(__FILE__, __LINE__, "the start-time clock did "
				"not move past %llu in 60 s", start);
		poll(NULL, 0, 1);
	}
}

/* A reused pid is not mistaken for the holder (pam_helpdesk_license(8)):
 * carol's worker is killed and another process gets its pid; the session
 * is still stale (the process start time differs) and dave gets the slot.
 * The impostor is forked only once the start-time clock has moved past
 * carol's: a pid is reused only after the kernel went through pid_max
 * others, never within one tick.  Needs root. */
static void reused_pid_not_mistaken(void **state)
{
	struct it_fixture *fx = *state;
	struct it_worker *w1, *w2, *w3;
	struct it_result r;
	unsigned long long holder_start, other_start;
	pid_t holder, other;
	char st;

	if (geteuid() != 0)
		skip();
	it_config(fx, EAST_ONE);
	w1 = it_worker(fx);
	w2 = it_worker(fx);
	w3 = it_worker(fx);
	it_open(w1, IT_SERVICE, "carol", &r);
	it_assert_rc(&r, PAM_SUCCESS);
	holder = it_worker_pid(w1);
	assert_true(it_proc_stat(holder, &st, &holder_start));
	it_worker_kill(w1);
	after_start_tick(holder_start);
	other = impostor(holder);
	if (other < 0)
		skip();
	if (!it_proc_stat(other, &st, &other_start) ||
	    other_start <= holder_start) {
		kill(other, SIGKILL);
		waitpid(other, NULL, 0);
		it_fail(__FILE__, __LINE__, "the process under carol's pid "
			"%ld does not start later than hers (%llu)",
			(long)holder, holder_start);
	}
	it_open(w2, IT_SERVICE, "dave", &r);
	kill(other, SIGKILL);
	waitpid(other, NULL, 0);
	it_assert_rc(&r, PAM_SUCCESS);
	it_open(w3, IT_SERVICE, "erin", &r);
	it_assert_rc(&r, PAM_PERM_DENIED);
	it_workers_finish(fx);
}

/* The configuration is parsed once per PAM handle: replaced by a broken
 * file after account, it is not read again by the session open and close
 * of that login, while a new login reads it (and finds it broken). */
static void config_parsed_once_per_handle(void **state)
{
	struct it_fixture *fx = *state;
	static const char broken[] = "this is not a configuration\n";
	struct it_worker *w1, *w2;
	struct it_result r;
	int h;

	it_config(fx, EAST_ONE);
	w1 = it_worker(fx);
	w2 = it_worker(fx);
	h = it_start(w1, IT_SERVICE, "carol", NULL, NULL);
	it_acct_on(w1, h, &r);
	it_assert_rc(&r, PAM_SUCCESS);
	it_write_file(fx->conf, broken, sizeof(broken) - 1, 0600);
	it_open_on(w1, h, &r);
	it_assert_rc(&r, PAM_SUCCESS);
	it_close_on(w1, h, &r);
	it_assert_rc(&r, PAM_SUCCESS);
	it_end(w1, h);
	if (it_stderr_contains(fx, "configuration unusable"))
		it_fail(__FILE__, __LINE__, "the login read the replaced "
			"configuration");
	it_acct(w2, IT_SERVICE, "dave", &r);
	it_assert_rc(&r, PAM_SERVICE_ERR);
	if (!it_stderr_contains(fx, "configuration unusable"))
		it_fail(__FILE__, __LINE__, "a new login did not read the "
			"replaced configuration");
	it_workers_finish(fx);
}

/* Two stack lines with different config= on one handle: each line has a
 * parse of its own.  The first config licenses carol, the second has no
 * pool (carol is unlicensed there, refused). */
static void config_per_stack_line(void **state)
{
	struct it_fixture *fx = *state;
	char other[PATH_MAX + 16], service[3 * PATH_MAX + 256];
	char body[2 * PATH_MAX + 64];
	struct it_worker *w;
	struct it_result r;
	int n;

	snprintf(other, sizeof(other), "%s/other.conf", fx->dir);
	snprintf(service, sizeof(service),
		 "account [success=ok default=die] %s config=%s\n"
		 "account [success=done ignore=done default=die] %s "
		 "config=%s\n", HL_IT_MODULE, fx->conf, HL_IT_MODULE, other);
	it_service(fx, "hl-two", service);
	it_config(fx, EAST_ONE);
	n = snprintf(body, sizeof(body), "store = \"%s\"; runtime_store = "
		     "\"%s\";\nevent_log = \"%s\";\n", fx->store, fx->runtime,
		     fx->event_log);
	it_write_file(other, body, (size_t)n, 0600);
	w = it_worker(fx);
	it_acct(w, IT_SERVICE, "carol", &r);
	it_assert_rc(&r, PAM_SUCCESS);
	it_acct(w, "hl-two", "carol", &r);
	it_assert_rc(&r, PAM_PERM_DENIED);
	it_workers_finish(fx);
}

#define TEST(f) cmocka_unit_test_setup_teardown(f, it_setup, it_teardown)

int main(int argc, char **argv)
{
	static const struct CMUnitTest unique[] = {
		TEST(refusal_silent),
		TEST(earlier_boot_reclaimed),
		TEST(named_survives_reboot),
		TEST(reused_pid_not_mistaken),
		TEST(config_parsed_once_per_handle),
		TEST(config_per_stack_line),
	};
	enum {
		n_cases = sizeof(license_cases) / sizeof(license_cases[0]),
		n_unique = sizeof(unique) / sizeof(unique[0]),
	};
	struct CMUnitTest tests[n_cases + n_unique];

	for (size_t i = 0; i < n_cases; i++) {
		tests[i] = (struct CMUnitTest){
			.name = license_cases[i].name,
			.test_func = table_case,
			.setup_func = case_setup,
			.teardown_func = case_teardown,
			.initial_state = (void *)&license_cases[i],
		};
	}
	memcpy(tests + n_cases, unique, sizeof(unique));
	it_init(argc, argv);
	return _cmocka_run_group_tests("test_license", tests,
				       n_cases + n_unique, NULL, NULL);
}
