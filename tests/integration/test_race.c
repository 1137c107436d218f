/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * 11. Many logins at once never hand out more slots than licenses
 * (doc/STORE.md, "Locking").  30 processes pass account, wait on a barrier, and open
 * their sessions together on a pool of one license: exactly one wins.
 * The round is repeated, so a missing or broken lock has several chances
 * to show.  (pam_wrapper allows 62 processes at once; 30 stay well under.)
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "harness.h"

#define RACERS 30
#define ROUNDS 5

/* In the child: fds[0] reports to the parent, fds[1] is the barrier,
 * fds[2] the signal to log out.  Reports: account code, open code, close
 * code, each an int; then the refusal message of a loser. */
static void racer(const int *fds, const char *user)
{
	static struct it_result log;
	struct pam_conv conv = { it_conv, &log };
	pam_handle_t *ph = NULL;
	int rc, open_rc, close_rc = PAM_SUCCESS;
	uint32_t len;
	char c;

	rc = pam_start(IT_SERVICE, user, &conv, &ph);
	if (rc == PAM_SUCCESS)
		rc = pam_acct_mgmt(ph, 0);
	if (write(fds[0], &rc, sizeof(rc)) != sizeof(rc))
		exit(3);
	/* The barrier: blocks until the parent closes its end. */
	while (read(fds[1], &c, 1) < 0 && errno == EINTR)
		;
	memset(&log, 0, sizeof(log));
	open_rc = pam_open_session(ph, 0);
	len = (uint32_t)strlen(log.msg);
	if (write(fds[0], &open_rc, sizeof(open_rc)) != sizeof(open_rc) ||
	    write(fds[0], &len, sizeof(len)) != sizeof(len) ||
	    write(fds[0], log.msg, len) != (ssize_t)len)
		exit(3);
	/* Hold the session until told to log out. */
	while (read(fds[2], &c, 1) < 0 && errno == EINTR)
		;
	if (open_rc == PAM_SUCCESS)
		close_rc = pam_close_session(ph, 0);
	pam_end(ph, open_rc);
	if (write(fds[0], &close_rc, sizeof(close_rc)) != sizeof(close_rc))
		exit(3);
	exit(0);
}

struct round {
	pid_t pid[RACERS];
	int report[RACERS];
	int open_rc[RACERS];
	char message[IT_MSG_MAX];
};

static void reap_all(struct round *r)
{
	for (int i = 0; i < RACERS; i++) {
		if (r->pid[i] <= 0)
			continue;
		it_kill(r->pid[i]);
		r->pid[i] = 0;
	}
}

static void run_round(struct it_fixture *fx, int round)
{
	struct round r;
	int barrier[2], logout[2];
	int winners = 0, losers = 0, winner = -1;

	memset(&r, 0, sizeof(r));
	if (pipe2(barrier, O_CLOEXEC) != 0 || pipe2(logout, O_CLOEXEC) != 0)
		it_fail(__FILE__, __LINE__, "pipe: %s", strerror(errno));
	for (int i = 0; i < RACERS; i++) {
		int rep[2], fds[3];
		char user[16];
		int rc;

		if (pipe2(rep, O_CLOEXEC) != 0)
			it_fail(__FILE__, __LINE__, "pipe: %s",
				strerror(errno));
		snprintf(user, sizeof(user), "tech%02d", i + 1);
		fds[0] = rep[1];
		fds[1] = barrier[0];
		fds[2] = logout[0];
		r.pid[i] = it_fork(fx, fds, 3);
		if (r.pid[i] == 0)
			racer(fds, user);
		close(rep[1]);
		r.report[i] = rep[0];
		/* One at a time up to the barrier: pam_wrapper sets up each
		 * process's services at its first pam_start. */
		if (!it_read_all(r.report[i], &rc, sizeof(rc))) {
			reap_all(&r);
			it_fail(__FILE__, __LINE__, "round %d: %s died before "
				"the barrier", round, user);
		}
		if (rc != PAM_SUCCESS) {
			reap_all(&r);
			it_fail(__FILE__, __LINE__, "round %d: account of %s: "
				"%s, expected PAM_SUCCESS (the slot is free)",
				round, user, it_pam_code(rc));
		}
	}
	close(barrier[0]);
	close(logout[0]);
	close(barrier[1]);		/* go */

	for (int i = 0; i < RACERS; i++) {
		uint32_t len;
		char msg[IT_MSG_MAX];

		if (!it_read_all(r.report[i], &r.open_rc[i], sizeof(int)) ||
		    !it_read_all(r.report[i], &len, sizeof(len)) ||
		    len >= sizeof(msg) || !it_read_all(r.report[i], msg, len)) {
			reap_all(&r);
			it_fail(__FILE__, __LINE__, "round %d: tech%02d died "
				"in pam_open_session", round, i + 1);
		}
		msg[len] = '\0';
		if (r.open_rc[i] == PAM_SUCCESS) {
			winners++;
			winner = i;
		} else if (r.open_rc[i] == PAM_PERM_DENIED) {
			if (losers++ == 0)
				snprintf(r.message, sizeof(r.message), "%s",
					 msg);
		}
	}
	if (winners != 1 || losers != RACERS - 1) {
		char codes[RACERS * 24] = "";

		for (int i = 0; i < RACERS; i++) {
			size_t l = strlen(codes);

			snprintf(codes + l, sizeof(codes) - l, " %d:%s", i + 1,
				 it_pam_code(r.open_rc[i]));
		}
		reap_all(&r);
		it_fail(__FILE__, __LINE__, "round %d: %d sessions granted and "
			"%d refused of %d racing for one license; expected 1 "
			"and %d.  Codes:%s", round, winners, losers, RACERS,
			RACERS - 1, codes);
	}
	if (strstr(r.message, "field-race") == NULL) {
		reap_all(&r);
		it_fail(__FILE__, __LINE__, "round %d: the refusal does not "
			"name the pool: \"%s\"", round, r.message);
	}

	close(logout[1]);		/* everybody logs out */
	for (int i = 0; i < RACERS; i++) {
		int rc, status;

		if (!it_read_all(r.report[i], &rc, sizeof(rc))) {
			reap_all(&r);
			it_fail(__FILE__, __LINE__, "round %d: tech%02d died "
				"at logout", round, i + 1);
		}
		close(r.report[i]);
		if (i == winner && rc != PAM_SUCCESS) {
			reap_all(&r);
			it_fail(__FILE__, __LINE__, "round %d: close of the "
				"winner tech%02d: %s", round, i + 1,
				it_pam_code(rc));
		}
		while (waitpid(r.pid[i], &status, 0) < 0 && errno == EINTR)
			;
		r.pid[i] = 0;
		if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
			reap_all(&r);
			it_fail(__FILE__, __LINE__, "round %d: tech%02d ended "
				"with status 0x%x", round, i + 1, status);
		}
	}
}

static void thirty_race_for_one(void **state)
{
	struct it_fixture *fx = *state;
	char body[2048] = "show_holders = true;\nlock_timeout = \"30s\";\n"
			  "concurrent = ( { pool = \"field-race\"; licenses = 1;"
			  " users = [";
	struct it_worker *w;
	struct it_result res;

	for (int i = 1; i <= RACERS; i++) {
		size_t l = strlen(body);

		snprintf(body + l, sizeof(body) - l, "%s\"tech%02d\"",
			 i > 1 ? ", " : " ", i);
	}
	strcat(body, " ]; } );\n");
	it_config(fx, body);
	for (int round = 1; round <= ROUNDS; round++)
		run_round(fx, round);

	/* All logged out: the slot is free again. */
	w = it_worker(fx);
	it_open(w, IT_SERVICE, "tech07", &res);
	it_assert_rc(&res, PAM_SUCCESS);
	it_workers_finish(fx);
}

static long elapsed_ns(const struct timespec *since)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (now.tv_sec - since->tv_sec) * 1000000000L +
	       (now.tv_nsec - since->tv_nsec);
}

/* One round: carol's process starts PAM (and, with logout, logs in),
 * then on "go" runs pam_open_session (pam_close_session) and reports
 * when it is done.  With delay_ns >= 0 it is killed that long after "go";
 * with delay_ns < 0 only once it is done.  Then dave logs in and out on
 * the same pool of one license, which reclaims what carol left.  Returns
 * the time from "go" to carol's report, or -1 when she was killed first. */
static long carol_round(struct it_fixture *fx, struct it_worker *w,
			bool logout, long delay_ns, int round)
{
	int go[2], rep[2], fds[2];
	struct timespec t0;
	struct it_result r;
	long took = -1;
	pid_t pid;
	int rc;
	char c;

	if (pipe2(go, O_CLOEXEC) != 0 || pipe2(rep, O_CLOEXEC) != 0)
		it_fail(__FILE__, __LINE__, "pipe: %s", strerror(errno));
	fds[0] = rep[1];
	fds[1] = go[0];
	pid = it_fork(fx, fds, 2);
	if (pid == 0) {
		static struct it_result log;
		struct pam_conv conv = { it_conv, &log };
		pam_handle_t *ph = NULL;

		rc = pam_start(IT_SERVICE, "carol", &conv, &ph);
		if (rc == PAM_SUCCESS && logout)
			rc = pam_open_session(ph, 0);
		if (write(fds[0], &rc, sizeof(rc)) != sizeof(rc))
			exit(3);
		while (read(fds[1], &c, 1) < 0 && errno == EINTR)
			;
		rc = logout ? pam_close_session(ph, 0)
			    : pam_open_session(ph, 0);
		if (write(fds[0], &rc, sizeof(rc)) != sizeof(rc))
			exit(3);
		pause();	/* until killed */
		exit(0);
	}
	close(rep[1]);
	close(go[0]);
	if (!it_read_all(rep[0], &rc, sizeof(rc))) {
		int status = 0;

		waitpid(pid, &status, 0);
		it_fail(__FILE__, __LINE__, "round %d: carol's process ended "
			"before its %s (status 0x%x)", round,
			logout ? "login" : "pam_start", status);
	}
	if (rc != PAM_SUCCESS)
		it_fail(__FILE__, __LINE__, "round %d: carol's %s: %s", round,
			logout ? "login" : "pam_start", it_pam_code(rc));
	clock_gettime(CLOCK_MONOTONIC, &t0);
	close(go[1]);				/* go */
	if (delay_ns >= 0) {
		struct timespec delay = { delay_ns / 1000000000L,
					  delay_ns % 1000000000L };

		nanosleep(&delay, NULL);
	} else if (it_read_all(rep[0], &rc, sizeof(rc))) {
		took = elapsed_ns(&t0);
	}
	it_kill(pid);
	close(rep[0]);

	it_open(w, IT_SERVICE, "dave", &r);
	it_assert_rc(&r, PAM_SUCCESS);
	it_close(w, r.handle, &r);
	it_assert_rc(&r, PAM_SUCCESS);
	return took;
}

static int cmp_long(const void *a, const void *b)
{
	long x = *(const long *)a, y = *(const long *)b;

	return x < y ? -1 : x > y;
}

/* carol's logins (or, with logout, her logouts) killed with SIGKILL at
 * points spread over what one takes in this build (measured first): in
 * the middle of pam_open_session (pam_close_session) or just after. */
static void kill_carol(struct it_fixture *fx, int rounds, bool logout)
{
	struct it_worker *w;
	long took[5], d;

	it_config(fx, "concurrent = ( { pool = \"field-east\"; licenses = 1;"
		  " groups = [ \"field-east\" ]; } );\n");
	w = it_worker(fx);
	for (int i = 0; i < 5; i++) {
		took[i] = carol_round(fx, w, logout, -1, i);
		if (took[i] < 0)
			it_fail(__FILE__, __LINE__, "carol's %s did not end",
				logout ? "logout" : "login");
	}
	qsort(took, 5, sizeof(took[0]), cmp_long);
	d = took[2];
	/* From 0.1 to 1.3 times the median duration. */
	for (int i = 0; i < rounds; i++)
		carol_round(fx, w, logout, d / 10 + d * 12 / 10 * i / rounds,
			    5 + i);
	it_workers_finish(fx);
}

/* A process killed at any point of a login or a logout leaves a usable
 * store (doc/STORE.md): the next login and logout work every time.  A
 * kill inside one of GDBM's own multi-write updates may, rarely, leave
 * the file damaged (doc/STORE.md, "A limit"); then the next login must
 * have repaired it in place, never refused for it. */
static void killed_at_any_point(void **state)
{
	struct it_fixture *fx = *state;
	size_t damaged, repaired;

	kill_carol(fx, 40, false);
	kill_carol(fx, 40, true);
	damaged = it_stderr_count(fx, " is damaged (");
	repaired = it_stderr_count(fx, "repaired in place");
	if (damaged > repaired)
		it_fail(__FILE__, __LINE__, "the store read as damaged %zu "
			"times, repaired %zu times", damaged, repaired);
	if (damaged > 0)
		fprintf(stderr, "a kill damaged the store %zu times; each was "
			"repaired by the next login\n", damaged);
}

/* The value of "session" in a JSON line, or "". */
static void session_of(const char *line, char *out, size_t len)
{
	const char *p = strstr(line, "\"session\":\"");
	const char *end;

	out[0] = '\0';
	if (p == NULL)
		return;
	p += strlen("\"session\":\"");
	end = strchr(p, '"');
	if (end != NULL)
		snprintf(out, len, "%.*s", (int)(end - p), p);
}

static bool is_event(const char *line, const char *event)
{
	char needle[64];

	snprintf(needle, sizeof(needle), "\"event\":\"%s\"", event);
	return strstr(line, needle) != NULL;
}

/* Checks the event log: every session that starts (grant, join) ends
 * (release, reap, admin-release) and every one that ends started; fails
 * with counts and an example otherwise. */
static void assert_sessions_paired(struct it_fixture *fx)
{
	char (*starts)[64] = calloc(512, 64), (*ends)[64] = calloc(512, 64);
	size_t nstarts = 0, nends = 0, unended = 0, unstarted = 0, len;
	char *text = it_read_file(fx->event_log, &len);
	char first_unended[64] = "", first_unstarted[64] = "";

	assert_non_null(text);
	assert_non_null(starts);
	assert_non_null(ends);
	for (char *line = text, *nl; *line && (nl = strchr(line, '\n'));
	     line = nl + 1) {
		char session[64];

		*nl = '\0';
		session_of(line, session, sizeof(session));
		if ((is_event(line, "grant") || is_event(line, "join")) &&
		    nstarts < 512)
			strcpy(starts[nstarts++], session);
		if ((is_event(line, "release") || is_event(line, "reap") ||
		     is_event(line, "admin-release")) && nends < 512)
			strcpy(ends[nends++], session);
	}
	for (size_t i = 0; i < nstarts; i++) {
		bool found = false;

		for (size_t k = 0; k < nends && !found; k++)
			found = strcmp(starts[i], ends[k]) == 0;
		if (!found && unended++ == 0)
			strcpy(first_unended, starts[i]);
	}
	for (size_t k = 0; k < nends; k++) {
		bool found = false;

		for (size_t i = 0; i < nstarts && !found; i++)
			found = strcmp(starts[i], ends[k]) == 0;
		if (!found && unstarted++ == 0)
			strcpy(first_unstarted, ends[k]);
	}
	free(text);
	free(starts);
	free(ends);
	if (unended || unstarted)
		it_fail(__FILE__, __LINE__, "event log of %zu starts and %zu "
			"ends: %zu sessions started and never ended (e.g. %s), "
			"%zu ended and never started (e.g. %s)", nstarts, nends,
			unended, first_unended[0] ? first_unended : "-",
			unstarted, first_unstarted[0] ? first_unstarted : "-");
}

/* The event log stays the input of usage reports (pam_helpdesk_license(8), "Decision" and "The event log")
 * when logins are killed: no session ends in it without having started
 * in it. */
static void killed_logins_in_event_log(void **state)
{
	kill_carol(*state, 40, false);
	assert_sessions_paired(*state);
}

/* Nor when logouts are killed: every session that starts in the event
 * log ends in it (pam_helpdesk_license(8), "The event log"). */
static void killed_logouts_in_event_log(void **state)
{
	kill_carol(*state, 40, true);
	assert_sessions_paired(*state);
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(thirty_race_for_one, it_setup,
						it_teardown),
		cmocka_unit_test_setup_teardown(killed_at_any_point, it_setup,
						it_teardown),
		cmocka_unit_test_setup_teardown(killed_logins_in_event_log,
						it_setup, it_teardown),
		cmocka_unit_test_setup_teardown(killed_logouts_in_event_log,
						it_setup, it_teardown),
	};

	it_init(argc, argv);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
