/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Idle reclaim through the real module: a holder logs in on a real pty
 * (its PAM_TTY the pty's slave) in a forked child that stands for the
 * session, then drops root as a login's processes do.  The test makes
 * the tty idle by setting its atime back (utimensat): no real waiting.
 * A newcomer of the full pool then takes the license; the holder's
 * process gets SIGHUP and its tty the reason.  In a pool with a wait the
 * holder is warned on its tty first, and the newcomer waits in line: the
 * test follows the pty's output and the tool's status, never the clock.
 * An administrator's release leaves the session running, listed as
 * released; release --terminate ends it as idle reclaim does.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "harness.h"

#define EAST(licenses) \
	"concurrent = ( { pool = \"east\"; licenses = " #licenses ";" \
	" users = [ \"alice\", \"bob\", \"dave\" ];" \
	" idle_timeout = \"30m\"; } );\n" \
	"named = { licenses = 1; users = [ \"carol\" ]; };\n"

/* A pool with a wait: an idle holder is warned and has half the wait
 * (hl_idle_warning) to type; the waiter waits the whole of it. */
#define WAIT "16s"
#define WAIT_MS 16000
#define GRACE "8s"
/* The module counts the grace in whole seconds from the second the
 * waiter came: at least 7 s of it pass. */
#define GRACE_MS_LEAST 7000
#define EAST_WAIT \
	"concurrent = ( { pool = \"east\"; licenses = 1;" \
	" users = [ \"alice\", \"bob\" ]; idle_timeout = \"30m\";" \
	" wait = \"" WAIT "\"; } );\n"

#ifndef HL_IT_TOOL
#error "HL_IT_TOOL: the built helpdesk-license"
#endif

/* A holder: the child that opened the session, and the pty's master. */
struct holder {
	pid_t pid;
	int master;		/* -1: no pty */
	char tty[64];		/* "pts/N" */
	int report;		/* the login's end, until hold_result */
};

/* Opens a pty; its slave as PAM_TTY names it. */
static void open_pty(struct holder *h)
{
	const char *name;

	h->master = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
	assert_true(h->master >= 0);
	assert_int_equal(grantpt(h->master), 0);
	assert_int_equal(unlockpt(h->master), 0);
	name = ptsname(h->master);
	assert_non_null(name);
	assert_true(strncmp(name, "/dev/", 5) == 0);
	snprintf(h->tty, sizeof(h->tty), "%s", name + 5);
}

/* user logs in (account, session) with PAM_TTY tty in a child that keeps
 * the session's slave open, as its shell would, and leaves root (uid
 * 65534): it stands for the session's processes.  The login's end comes
 * through h->report (hold_result), so that the test goes on while a login
 * waits in line. */
static void hold_start(struct it_fixture *fx, struct holder *h,
		       const char *user, const char *tty)
{
	int pfd[2], fds[1];

	assert_int_equal(pipe2(pfd, O_CLOEXEC), 0);
	fds[0] = pfd[1];
	h->pid = it_fork(fx, fds, 1);
	if (h->pid == 0) {
		static struct it_result log;
		struct pam_conv conv = { it_conv, &log };
		pam_handle_t *pamh = NULL;
		char path[80];
		int slave = -1, rc;

		if (h->master >= 0) {
			snprintf(path, sizeof(path), "/dev/%s", h->tty);
			slave = open(path, O_RDWR | O_NOCTTY);
		}
		rc = pam_start(IT_SERVICE, user, &conv, &pamh);
		if (rc == PAM_SUCCESS)
			rc = pam_set_item(pamh, PAM_TTY, tty);
		if (rc == PAM_SUCCESS)
			rc = pam_acct_mgmt(pamh, 0);
		if (rc == PAM_SUCCESS)
			rc = pam_open_session(pamh, 0);
		if (rc == PAM_SUCCESS && setresuid(65534, 65534, 65534) != 0)
			rc = -2;
		log.rc = rc;
		if (write(fds[0], &log, sizeof(log)) != sizeof(log))
			exit(3);
		(void)slave;
		for (;;)
			pause();
	}
	close(pfd[1]);
	h->report = pfd[0];
}

/* The login's end: its PAM code, and what it was told in res. */
static int hold_result(struct holder *h, const char *user,
		       struct it_result *res)
{
	if (!it_read_all(h->report, res, sizeof(*res)))
		it_fail(__FILE__, __LINE__, "%s's login ended early", user);
	close(h->report);
	h->report = -1;
	return res->rc;
}

/* Both: returns the open's PAM code. */
static int hold(struct it_fixture *fx, struct holder *h, const char *user,
		const char *tty)
{
	static struct it_result res;

	hold_start(fx, h, user, tty);
	return hold_result(h, user, &res);
}

/* Sets the tty's last input seconds_ago seconds back. */
static void idle_for(const struct holder *h, time_t seconds_ago)
{
	char path[80];
	struct timespec times[2] = { { .tv_sec = time(NULL) - seconds_ago },
				     { .tv_nsec = UTIME_OMIT } };

	snprintf(path, sizeof(path), "/dev/%s", h->tty);
	assert_int_equal(utimensat(AT_FDCWD, path, times, 0), 0);
}

/* How the holder's process ended: SIGTERM now, unless a SIGHUP came
 * first (the lower signal number is delivered first). */
static int ended_by(struct holder *h)
{
	int status;

	kill(h->pid, SIGTERM);
	status = it_reap(h->pid);
	assert_true(WIFSIGNALED(status));
	return WTERMSIG(status);
}

/* What the pty shows, until needle is seen or, when needle is NULL,
 * what is there now (a hang guard bounds the wait: it is never what a
 * test relies on). */
static void pty_text(const struct holder *h, const char *needle, char *buf,
		     size_t len)
{
	size_t got = 0;

	buf[0] = '\0';
	for (;;) {
		struct pollfd p = { .fd = h->master, .events = POLLIN };
		ssize_t n;

		if (poll(&p, 1, needle ? 60000 : 0) <= 0)
			break;
		n = read(h->master, buf + got, len - 1 - got);
		if (n <= 0)
			break;
		got += (size_t)n;
		buf[got] = '\0';
		if (needle && strstr(buf, needle))
			break;
	}
}

static void holder_done(struct holder *h)
{
	if (h->master >= 0)
		close(h->master);
}

/* alice (idle 31 minutes) lost her license to bob: her process got
 * SIGHUP, the event log has her reap ("idle 1860s", a second or two more
 * on a slow run) and bob's grant. */
static void expect_reclaimed(struct it_fixture *fx, struct holder *alice)
{
	char *log;
	int status;

	status = it_reap(alice->pid);
	assert_true(WIFSIGNALED(status));
	assert_int_equal(WTERMSIG(status), SIGHUP);
	log = it_read_file(fx->event_log, NULL);
	assert_non_null(log);
	assert_non_null(strstr(log, "\"event\":\"reap\",\"user\":\"alice\""));
	assert_non_null(strstr(log, "\"reason\":\"idle 18"));
	/* The session's own idle time, from its tty, in the field. */
	assert_non_null(strstr(log, "s\",\"idle\":18"));
	assert_non_null(strstr(log, "\"event\":\"grant\",\"user\":\"bob\""));
	free(log);
}

/* 1. alice idle 31 minutes on her pty; bob logs in and gets her license;
 * alice's process gets SIGHUP and her tty says why; the event log has the
 * reap ("idle 1860s", a second or two more on a slow run) and bob's
 * grant. */
static void idle_holder_reclaimed(void **state)
{
	struct it_fixture *fx = *state;
	struct holder alice = { .master = -1 };
	struct it_worker *bob = it_worker(fx);
	struct it_result res;
	char text[4096];

	it_config(fx, EAST(1));
	open_pty(&alice);
	assert_int_equal(hold(fx, &alice, "alice", alice.tty), PAM_SUCCESS);
	idle_for(&alice, 1860);
	it_open(bob, IT_SERVICE, "bob", &res);
	it_assert_rc(&res, PAM_SUCCESS);
	pty_text(&alice, "ends now", text, sizeof(text));
	/* 31m and some seconds: the clock may tick between the two. */
	assert_non_null(strstr(text, "no input for 31m "));
	assert_non_null(strstr(text, "went to bob"));
	expect_reclaimed(fx, &alice);
	holder_done(&alice);
	it_workers_finish(fx);
}

/* 2. alice typed a minute ago: bob is refused, told what idle means;
 * alice keeps the license and her process is not signalled. */
static void recent_input_keeps_license(void **state)
{
	struct it_fixture *fx = *state;
	struct holder alice = { .master = -1 };
	struct it_worker *bob = it_worker(fx);
	struct it_result res;
	char text[4096];

	it_config(fx, EAST(1));
	open_pty(&alice);
	/* PAM_TTY as a full path this time. */
	{
		char path[80];

		snprintf(path, sizeof(path), "/dev/%s", alice.tty);
		assert_int_equal(hold(fx, &alice, "alice", path), PAM_SUCCESS);
	}
	idle_for(&alice, 60);
	it_open(bob, IT_SERVICE, "bob", &res);
	it_assert_rc(&res, PAM_PERM_DENIED);
	it_assert_msg(&res, "no input for 30m 0s");
	it_assert_msg(&res, "never idle");
	pty_text(&alice, NULL, text, sizeof(text));
	assert_null(strstr(text, "helpdesk-license"));
	assert_int_equal(ended_by(&alice), SIGTERM);
	holder_done(&alice);
	it_workers_finish(fx);
}

/* 3. alice's session has no tty (PAM_TTY "ssh", as sshd sets for a
 * command or sftp): never idle, whatever the clock says. */
static void no_tty_never_idle(void **state)
{
	struct it_fixture *fx = *state;
	struct holder alice = { .master = -1 };
	struct it_worker *bob = it_worker(fx);
	struct it_result res;

	it_config(fx, EAST(1));
	assert_int_equal(hold(fx, &alice, "alice", "ssh"), PAM_SUCCESS);
	it_open(bob, IT_SERVICE, "bob", &res);
	it_assert_rc(&res, PAM_PERM_DENIED);
	assert_int_equal(ended_by(&alice), SIGTERM);
	it_workers_finish(fx);
}

static int tool(struct it_fixture *fx, char *out, size_t len, const char *a1,
		const char *a2, const char *a3);

/* 4. carol holds a Named license, idle for a day; alice holds the pool's
 * one license without a tty: bob is refused and carol is not touched.
 * list shows her session's day without input all the same. */
static void named_never_touched(void **state)
{
	struct it_fixture *fx = *state;
	struct holder carol = { .master = -1 }, alice = { .master = -1 };
	struct it_worker *bob = it_worker(fx);
	struct it_result res;
	char text[4096], *row, *end;

	it_config(fx, EAST(1));
	open_pty(&carol);
	assert_int_equal(hold(fx, &carol, "carol", carol.tty), PAM_SUCCESS);
	idle_for(&carol, 86400);
	assert_int_equal(tool(fx, text, sizeof(text), "list", NULL, NULL), 0);
	row = strstr(text, " carol ");
	end = row ? strchr(row, '\n') : NULL;
	if (end)
		*end = '\0';
	if (row == NULL || strstr(row, " 1d ") == NULL)
		it_fail(__FILE__, __LINE__, "carol's row shows no day idle: %s",
			row ? row : text);
	assert_int_equal(hold(fx, &alice, "alice", "ssh"), PAM_SUCCESS);
	it_open(bob, IT_SERVICE, "bob", &res);
	it_assert_rc(&res, PAM_PERM_DENIED);
	pty_text(&carol, NULL, text, sizeof(text));
	assert_null(strstr(text, "helpdesk-license"));
	assert_int_equal(ended_by(&carol), SIGTERM);
	assert_int_equal(ended_by(&alice), SIGTERM);
	holder_done(&carol);
	it_workers_finish(fx);
}

/* 5. Two idle holders: the one idle longest (dave, 2 h) goes first;
 * alice (1 h) keeps hers. */
static void oldest_idle_first(void **state)
{
	struct it_fixture *fx = *state;
	struct holder alice = { .master = -1 }, dave = { .master = -1 };
	struct it_worker *bob = it_worker(fx);
	struct it_result res;
	char text[4096];
	int status;

	it_config(fx, EAST(2));
	open_pty(&alice);
	open_pty(&dave);
	assert_int_equal(hold(fx, &alice, "alice", alice.tty), PAM_SUCCESS);
	assert_int_equal(hold(fx, &dave, "dave", dave.tty), PAM_SUCCESS);
	idle_for(&alice, 3600);
	idle_for(&dave, 7200);
	it_open(bob, IT_SERVICE, "bob", &res);
	it_assert_rc(&res, PAM_SUCCESS);
	pty_text(&dave, "ends now", text, sizeof(text));
	assert_non_null(strstr(text, "went to bob"));
	status = it_reap(dave.pid);
	assert_true(WIFSIGNALED(status));
	assert_int_equal(WTERMSIG(status), SIGHUP);
	pty_text(&alice, NULL, text, sizeof(text));
	assert_null(strstr(text, "helpdesk-license"));
	assert_int_equal(ended_by(&alice), SIGTERM);
	holder_done(&alice);
	holder_done(&dave);
	it_workers_finish(fx);
}

/* The tool's status says what (a piece of its --json status). */
static void expect_status(struct it_fixture *fx, const char *what,
			  const char *why)
{
	char out[8192];

	if (it_tool(fx, HL_IT_TOOL, out, sizeof(out), "--json", "status",
		    NULL) != 0 || strstr(out, what) == NULL)
		it_fail(__FILE__, __LINE__, "status lacks %s (%s): %s", what,
			why, out);
}

/* Milliseconds since began (CLOCK_MONOTONIC).  Only ever a lower bound
 * in a test: a slow machine makes things later, never sooner. */
static long long ms_since(const struct timespec *began)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (long long)(now.tv_sec - began->tv_sec) * 1000 +
	       (now.tv_nsec - began->tv_nsec) / 1000000;
}

/* alice, idle 31 minutes, holds the one license of a pool with a wait;
 * bob logs in (*began: just before): alice's tty is warned and bob waits
 * in line.  Returns once the warning is on the pty (in text). */
static void warned(struct it_fixture *fx, struct holder *alice,
		   struct holder *bob, struct timespec *began, char *text,
		   size_t len)
{
	it_config(fx, EAST_WAIT);
	open_pty(alice);
	assert_int_equal(hold(fx, alice, "alice", alice->tty), PAM_SUCCESS);
	idle_for(alice, 1860);
	clock_gettime(CLOCK_MONOTONIC, began);
	hold_start(fx, bob, "bob", "ssh");
	pty_text(alice, "to keep it.", text, len);
	if (strstr(text, "bob needs a help desk license of pool east") == NULL ||
	    strstr(text, "type something within " GRACE) == NULL)
		it_fail(__FILE__, __LINE__, "the warning on alice's tty: %s",
			text);
}

/* 6. Warned, alice types (her tty's atime set fresh once the warning is
 * on it): she keeps the license, and bob is refused at the end of his
 * wait (not sooner).  The input must come within the grace (8 s after bob began to
 * wait): it comes right after the warning is read, and the status check
 * says so if it did not. */
static void warned_holder_who_types_keeps_license(void **state)
{
	struct it_fixture *fx = *state;
	struct holder alice = { .master = -1 }, bob = { .master = -1 };
	struct it_result res;
	struct timespec began;
	char text[4096], *log;

	warned(fx, &alice, &bob, &began, text, sizeof(text));
	idle_for(&alice, 0);
	expect_status(fx, "\"in_use\":1,\"free\":0,\"stale\":0,\"idle\":0,",
		      "alice holds the license and is no longer idle");
	expect_status(fx, "\"place\":1,\"user\":\"bob\"", "bob waits");
	assert_int_equal(hold_result(&bob, "bob", &res), PAM_PERM_DENIED);
	assert_true(ms_since(&began) >= WAIT_MS);
	it_assert_msg(&res, "after waiting");
	pty_text(&alice, NULL, text, sizeof(text));
	assert_null(strstr(text, "helpdesk-license"));
	assert_int_equal(ended_by(&alice), SIGTERM);
	log = it_read_file(fx->event_log, NULL);
	assert_non_null(log);
	assert_non_null(strstr(log, "\"event\":\"wait\",\"user\":\"bob\""));
	assert_non_null(strstr(log, "\"event\":\"deny\",\"user\":\"bob\""));
	assert_non_null(strstr(log, "\"reason\":\"timeout\""));
	assert_null(strstr(log, "\"event\":\"reap\""));
	assert_null(strstr(log, "\"event\":\"grant\",\"user\":\"bob\""));
	free(log);
	assert_int_equal(ended_by(&bob), SIGTERM);
	holder_done(&alice);
}

/* 7. Warned, alice types nothing: once the grace is over (not sooner)
 * bob, in line, gets her license; her process gets SIGHUP and her tty the
 * reason. */
static void warned_holder_silent_loses_license(void **state)
{
	struct it_fixture *fx = *state;
	struct holder alice = { .master = -1 }, bob = { .master = -1 };
	struct it_result res;
	struct timespec began;
	char text[4096];

	warned(fx, &alice, &bob, &began, text, sizeof(text));
	expect_status(fx, "\"place\":1,\"user\":\"bob\"", "bob waits");
	assert_int_equal(hold_result(&bob, "bob", &res), PAM_SUCCESS);
	/* Not before alice had her grace. */
	assert_true(ms_since(&began) >= GRACE_MS_LEAST);
	pty_text(&alice, "ends now", text, sizeof(text));
	assert_non_null(strstr(text, "went to bob"));
	expect_reclaimed(fx, &alice);
	expect_status(fx, "\"in_use\":1,\"free\":0,\"stale\":0,\"idle\":0,",
		      "bob holds the license");
	assert_int_equal(ended_by(&bob), SIGTERM);
	holder_done(&alice);
}

/* The tool's output for args (a hang guard is the harness's). */
static int tool(struct it_fixture *fx, char *out, size_t len, const char *a1,
		const char *a2, const char *a3)
{
	return it_tool(fx, HL_IT_TOOL, out, len, a1, a2, a3);
}

/* A process of the same uid as a session's (65534), that is none of its
 * own: nothing may signal it. */
static pid_t bystander(struct it_fixture *fx)
{
	pid_t pid = it_fork(fx, NULL, 0);

	if (pid == 0) {
		if (setresuid(65534, 65534, 65534) != 0)
			exit(3);
		for (;;)
			pause();
	}
	return pid;
}

/* The event log has alice's admin-release with the idle seconds of her
 * tty at the release (600, some more on a slow run). */
static void expect_release_event(struct it_fixture *fx)
{
	char *log = it_read_file(fx->event_log, NULL), *line;

	assert_non_null(log);
	line = strstr(log, "\"event\":\"admin-release\",\"user\":\"alice\"");
	if (line == NULL || strchr(line, '\n') == NULL ||
	    strstr(line, "\"idle\":60") == NULL ||
	    strstr(line, "\"idle\":60") > strchr(line, '\n'))
		it_fail(__FILE__, __LINE__, "no admin-release of alice with "
			"her idle time: %s", log);
	free(log);
}

/* 8. The admin releases alice's slot: her session goes on (not
 * signalled), list and status show it as released, holding no license,
 * and bob gets the slot.  Releasing again is refused with the way to end
 * it; release --terminate then ends it (SIGHUP, a line on its tty), and
 * reap drops the record once her process is gone. */
static void released_session_listed_then_terminated(void **state)
{
	struct it_fixture *fx = *state;
	struct holder alice = { .master = -1 };
	struct it_worker *bob = it_worker(fx);
	struct it_result res;
	char out[8192], text[4096];
	int status;

	it_config(fx, EAST(1));
	open_pty(&alice);
	assert_int_equal(hold(fx, &alice, "alice", alice.tty), PAM_SUCCESS);
	idle_for(&alice, 600);
	assert_int_equal(tool(fx, out, sizeof(out), "release", "alice", NULL),
			 0);
	assert_non_null(strstr(out, "1 session goes on without it"));
	expect_release_event(fx);
	assert_int_equal(tool(fx, out, sizeof(out), "--json", "status", NULL),
			 0);
	if (strstr(out, "\"in_use\":0,\"free\":1,") == NULL ||
	    strstr(out, "\"idle\":0,\"released\":1,") == NULL)
		it_fail(__FILE__, __LINE__, "status: %s", out);
	assert_int_equal(tool(fx, out, sizeof(out), "status", NULL, NULL), 0);
	assert_non_null(strstr(out, "without a license: east 1"));

	it_open(bob, IT_SERVICE, "bob", &res);
	it_assert_rc(&res, PAM_SUCCESS);
	assert_int_equal(tool(fx, out, sizeof(out), "--json", "list", NULL),
			 0);
	{
		char *a = strstr(out, "\"user\":\"alice\"");
		char *b = strstr(out, "\"user\":\"bob\"");
		char *released = strstr(out, "\"released\":[");
		const char *head = "{\"concurrent\":[{\"pool\":\"east\","
				   "\"slot\":1,\"user\":\"bob\"";

		/* bob holds the slot; alice's session is listed apart. */
		if (a == NULL || b == NULL || released == NULL ||
		    strncmp(out, head, strlen(head)) != 0 ||
		    a < released || b > released ||
		    strstr(a, "\"user\":\"alice\"") != a ||
		    strstr(a + 1, "\"user\":\"alice\"") != NULL)
			it_fail(__FILE__, __LINE__, "list: %s", out);
	}
	assert_int_equal(tool(fx, out, sizeof(out), "list", NULL, NULL), 0);
	assert_non_null(strstr(out, "east #1 released"));
	pty_text(&alice, NULL, text, sizeof(text));
	assert_null(strstr(text, "helpdesk-license"));

	assert_int_equal(tool(fx, out, sizeof(out), "--json", "release",
			      "alice"), 1);
	assert_non_null(strstr(out, "release --terminate alice"));
	assert_int_equal(tool(fx, out, sizeof(out), "--terminate", "release",
			      "alice"), 0);
	assert_non_null(strstr(out, "1 session that went on"));
	pty_text(&alice, "ends now", text, sizeof(text));
	assert_non_null(strstr(text, "the administrator released your help "
				     "desk license (pool east)"));
	status = it_reap(alice.pid);
	assert_true(WIFSIGNALED(status));
	assert_int_equal(WTERMSIG(status), SIGHUP);

	assert_int_equal(tool(fx, out, sizeof(out), "reap", NULL, NULL), 0);
	assert_int_equal(tool(fx, out, sizeof(out), "--json", "list", NULL),
			 0);
	assert_null(strstr(out, "\"user\":\"alice\""));
	assert_non_null(strstr(out, "\"user\":\"bob\""));
	holder_done(&alice);
	it_workers_finish(fx);
}

/* 9. release --terminate of a live holder: its session gets SIGHUP and
 * its tty the reason; another process of the same uid, which is none of
 * the session's, is not signalled; the slot is free. */
static void release_terminate_ends_only_the_session(void **state)
{
	struct it_fixture *fx = *state;
	struct holder alice = { .master = -1 };
	char out[8192], text[4096];
	pid_t other;
	int status;

	it_config(fx, EAST(1));
	open_pty(&alice);
	assert_int_equal(hold(fx, &alice, "alice", alice.tty), PAM_SUCCESS);
	other = bystander(fx);
	idle_for(&alice, 600);
	assert_int_equal(tool(fx, out, sizeof(out), "release", "--terminate",
			      "alice"), 0);
	assert_non_null(strstr(out, "1 session ends now"));
	pty_text(&alice, "ends now", text, sizeof(text));
	assert_non_null(strstr(text, "released your help desk license"));
	status = it_reap(alice.pid);
	assert_true(WIFSIGNALED(status));
	assert_int_equal(WTERMSIG(status), SIGHUP);
	/* The tool sent its SIGHUPs before it exited: one to the bystander
	 * would be pending now, and come before this SIGTERM. */
	kill(other, SIGTERM);
	status = it_reap(other);
	assert_true(WIFSIGNALED(status));
	assert_int_equal(WTERMSIG(status), SIGTERM);
	expect_release_event(fx);
	assert_int_equal(tool(fx, out, sizeof(out), "--json", "status", NULL),
			 0);
	assert_non_null(strstr(out, "\"in_use\":0,\"free\":1,"));
	holder_done(&alice);
}

/* 10. status counts alice idle (31 minutes, past the pool's
 * idle_timeout) and no longer once she typed: the one count for which
 * status reads ttys. */
static void status_counts_idle_holder(void **state)
{
	struct it_fixture *fx = *state;
	struct holder alice = { .master = -1 };

	it_config(fx, EAST(1));
	open_pty(&alice);
	assert_int_equal(hold(fx, &alice, "alice", alice.tty), PAM_SUCCESS);
	idle_for(&alice, 1860);
	expect_status(fx, "\"in_use\":1,\"free\":0,\"stale\":0,\"idle\":1,",
		      "alice idle 31 minutes");
	idle_for(&alice, 0);
	expect_status(fx, "\"in_use\":1,\"free\":0,\"stale\":0,\"idle\":0,",
		      "alice typed");
	assert_int_equal(ended_by(&alice), SIGTERM);
	holder_done(&alice);
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(idle_holder_reclaimed,
						it_setup, it_teardown),
		cmocka_unit_test_setup_teardown(recent_input_keeps_license,
						it_setup, it_teardown),
		cmocka_unit_test_setup_teardown(no_tty_never_idle,
						it_setup, it_teardown),
		cmocka_unit_test_setup_teardown(named_never_touched,
						it_setup, it_teardown),
		cmocka_unit_test_setup_teardown(oldest_idle_first,
						it_setup, it_teardown),
		cmocka_unit_test_setup_teardown(
			warned_holder_who_types_keeps_license, it_setup,
			it_teardown),
		cmocka_unit_test_setup_teardown(
			warned_holder_silent_loses_license, it_setup,
			it_teardown),
		cmocka_unit_test_setup_teardown(
			released_session_listed_then_terminated, it_setup,
			it_teardown),
		cmocka_unit_test_setup_teardown(
			release_terminate_ends_only_the_session, it_setup,
			it_teardown),
		cmocka_unit_test_setup_teardown(status_counts_idle_holder,
						it_setup, it_teardown),
	};

	it_init(argc, argv);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
