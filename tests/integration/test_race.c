/*
 * 11. Many logins at once never hand out more slots than licenses (SPEC
 * section 6).  30 processes pass account, wait on a barrier, and open
 * their sessions together on a pool of one license: exactly one wins.
 * The round is repeated, so a missing or broken lock has several chances
 * to show.  (pam_wrapper allows 62 processes at once; 30 stay well under.)
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
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

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(thirty_race_for_one, it_setup,
						it_teardown),
	};

	it_init(argc, argv);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
