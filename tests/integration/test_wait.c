/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Waiting in line for a concurrent license: a pool's wait.  Each waiter is
 * a forked process (sessions of one process share a pid) that opens a
 * session and reports to the test what the module told it and what the
 * open returned.
 *
 * The order is checked by who reports first, never by how long anything
 * took: a waiter that gets its license ahead of its turn, or never gets
 * it, fails the test.
 *
 * Users and groups (tests/integration/passwd, group):
 *   carol, dave, frank   field-east
 *   erin                 field-east, field-west
 *   alice                no group of ours (named by user below)
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "harness.h"

#define EAST(wait) \
	"concurrent = ( { pool = \"field-east\"; licenses = 1;" \
	" groups = [ \"field-east\" ]; wait = \"" wait "\"; } );\n"
#define EAST2(wait) \
	"concurrent = ( { pool = \"field-east\"; licenses = 2;" \
	" groups = [ \"field-east\" ]; wait = \"" wait "\"; } );\n"

/* ---- a waiter ------------------------------------------------------------ */

struct waiter {
	pid_t pid;
	int report;		/* records from the child */
	int logout;		/* closing it logs the child out */
	char info[IT_MSG_MAX];	/* what it was told before waiting */
	char msg[IT_MSG_MAX];	/* what it was told by the open */
	int open_rc;
};

/* Records: a kind byte, an int, a length and that many bytes. */
static void child_record(int fd, char kind, int value, const char *text)
{
	uint32_t len = (uint32_t)strlen(text);

	if (write(fd, &kind, 1) != 1 ||
	    write(fd, &value, sizeof(value)) != sizeof(value) ||
	    write(fd, &len, sizeof(len)) != sizeof(len) ||
	    write(fd, text, len) != (ssize_t)len)
		exit(3);
}

static int report_fd = -1;	/* the child's end, for its conversation */

/* Set before a waiter is forked: in that waiter, inotify_init1 fails as
 * when the user's inotify instances (fs.inotify.max_user_instances) are
 * all taken, and says so with a record 'N'. */
static bool no_inotify;

/* Stands in for libc's in the module (the program exports it). */
int inotify_init1(int flags);
int inotify_init1(int flags)
{
	if (no_inotify) {
		child_record(report_fd, 'N', 0, "");
		errno = EMFILE;
		return -1;
	}
	return (int)syscall(SYS_inotify_init1, flags);
}

/* The child's conversation: PAM_TEXT_INFO goes to the test at once (the
 * waiter says it waits), and everything into the open's result. */
static int waiter_conv(int num_msg, const struct pam_message **msg,
		       struct pam_response **resp, void *data)
{
	for (int i = 0; i < num_msg; i++)
		if (msg[i]->msg_style == PAM_TEXT_INFO)
			child_record(report_fd, 'I', 0, msg[i]->msg);
	return it_conv(num_msg, msg, resp, data);
}

static void on_sigint(int sig)
{
	(void)sig;
}

static void waiter_main(const int *fds, const char *user, bool catch_int)
{
	static struct it_result log;
	struct pam_conv conv = { waiter_conv, &log };
	pam_handle_t *ph = NULL;
	int rc;
	char c;

	report_fd = fds[0];
	if (catch_int) {
		struct sigaction sa;

		memset(&sa, 0, sizeof(sa));
		sa.sa_handler = on_sigint;	/* no SA_RESTART */
		sigaction(SIGINT, &sa, NULL);
	}
	rc = pam_start(IT_SERVICE, user, &conv, &ph);
	if (rc == PAM_SUCCESS)
		rc = pam_set_item(ph, PAM_TTY, "pts/9");
	if (rc == PAM_SUCCESS)
		rc = pam_open_session(ph, 0);
	child_record(fds[0], 'O', rc, log.msg);
	while (read(fds[1], &c, 1) < 0 && errno == EINTR)
		;
	if (rc == PAM_SUCCESS)
		child_record(fds[0], 'C', pam_close_session(ph, 0), "");
	pam_end(ph, rc);
	exit(0);
}

static void waiter_start(struct it_fixture *fx, struct waiter *w,
			 const char *user, bool catch_int)
{
	int rep[2], out[2], fds[2];

	memset(w, 0, sizeof(*w));
	w->open_rc = -1;
	assert_int_equal(pipe2(rep, O_CLOEXEC), 0);
	assert_int_equal(pipe2(out, O_CLOEXEC), 0);
	fds[0] = rep[1];
	fds[1] = out[0];
	w->pid = it_fork(fx, fds, 2);
	if (w->pid == 0)
		waiter_main(fds, user, catch_int);
	close(rep[1]);
	close(out[0]);
	w->report = rep[0];
	w->logout = out[1];
}

/* The next record of a waiter; kind 0 when it died first. */
static char waiter_next(struct waiter *w, int *value, char *text, size_t len)
{
	char kind;
	uint32_t n;

	if (!it_read_all(w->report, &kind, 1) ||
	    !it_read_all(w->report, value, sizeof(*value)) ||
	    !it_read_all(w->report, &n, sizeof(n)) || n >= len ||
	    !it_read_all(w->report, text, n))
		return 0;
	text[n] = '\0';
	return kind;
}

/* The waiter says it waits: returns what it was told. */
static const char *expect_waiting(struct waiter *w, const char *user)
{
	int value;

	if (waiter_next(w, &value, w->info, sizeof(w->info)) != 'I')
		it_fail(__FILE__, __LINE__, "%s: expected to be told of the "
			"line before the open returned; got the open's end "
			"(code %s)", user, it_pam_code(value));
	return w->info;
}

static int expect_open(struct waiter *w, const char *user)
{
	char kind = waiter_next(w, &w->open_rc, w->msg, sizeof(w->msg));

	if (kind != 'O')
		it_fail(__FILE__, __LINE__, "%s: expected the open's end, "
			"got record '%c'", user, kind ? kind : '0');
	return w->open_rc;
}

/* Which of the waiters reports first (its index). */
static size_t first_to_report(struct waiter **ws, size_t n)
{
	struct pollfd fds[8];
	int rc;

	for (size_t i = 0; i < n; i++)
		fds[i] = (struct pollfd){ .fd = ws[i]->report, .events = POLLIN };
	do
		rc = poll(fds, n, 120000);
	while (rc < 0 && errno == EINTR);
	if (rc <= 0)
		it_fail(__FILE__, __LINE__, "no waiter got a license");
	for (size_t i = 0; i < n; i++)
		if (fds[i].revents)
			return i;
	return n;
}

/* Logs a granted waiter out and reaps it. */
static void waiter_logout(struct waiter *w)
{
	int status, value;
	char text[64];

	close(w->logout);
	w->logout = -1;
	if (w->open_rc == PAM_SUCCESS)
		assert_int_equal(waiter_next(w, &value, text, sizeof(text)), 'C');
	while (waitpid(w->pid, &status, 0) < 0 && errno == EINTR)
		;
	close(w->report);
	w->pid = 0;
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

static void waiter_kill(struct waiter *w)
{
	if (w->pid > 0)
		it_kill(w->pid);
	if (w->logout >= 0)
		close(w->logout);
	close(w->report);
	w->pid = 0;
}

/* ---- the event log and the tool -------------------------------------------- */

/* Lines of the event log with event, user and (when not NULL) extra. */
static int events(struct it_fixture *fx, const char *event, const char *user,
		  const char *extra)
{
	char *log = it_read_file(fx->event_log, NULL), *line, *save = NULL;
	char want_event[64], want_user[128];
	int n = 0;

	if (log == NULL)
		return 0;
	snprintf(want_event, sizeof(want_event), "\"event\":\"%s\"", event);
	snprintf(want_user, sizeof(want_user), "\"user\":\"%s\"", user);
	for (line = strtok_r(log, "\n", &save); line;
	     line = strtok_r(NULL, "\n", &save))
		if (strstr(line, want_event) && strstr(line, want_user) &&
		    (extra == NULL || strstr(line, extra)))
			n++;
	free(log);
	return n;
}

/* The admin tool on the fixture's config; its stdout into out. */
static int tool(struct it_fixture *fx, char *out, size_t len, const char *a1,
		const char *a2, const char *a3)
{
	return it_tool(fx, HL_IT_TOOL, out, len, a1, a2, a3);
}

/* ---- the tests ---------------------------------------------------------- */

/* First come, first served: three waiters get the license in the order
 * they began to wait, each told its place in line. */
static void first_come_first_served(void **state)
{
	struct it_fixture *fx = *state;
	const char *users[3] = { "dave", "erin", "frank" };
	struct waiter w[3];
	struct waiter *left[3] = { &w[0], &w[1], &w[2] };
	struct it_worker *holder;
	struct it_result r;
	char place[32];

	it_config(fx, "show_holders = true;\n" EAST("60s"));
	holder = it_worker(fx);
	it_open(holder, IT_SERVICE, "carol", &r);
	it_assert_rc(&r, PAM_SUCCESS);
	for (size_t i = 0; i < 3; i++) {
		waiter_start(fx, &w[i], users[i], false);
		expect_waiting(&w[i], users[i]);
		snprintf(place, sizeof(place), "number %zu in line", i + 1);
		if (strstr(w[i].info, place) == NULL ||
		    strstr(w[i].info, "carol") == NULL ||
		    strstr(w[i].info, "waiting up to 1m 0s") == NULL)
			it_fail(__FILE__, __LINE__, "%s was told \"%s\"; "
				"expected its place (%s), the holder carol and "
				"the wait", users[i], w[i].info, place);
	}
	it_close(holder, r.handle, &r);
	it_assert_rc(&r, PAM_SUCCESS);
	for (size_t turn = 0; turn < 3; turn++) {
		size_t who = first_to_report(left, 3 - turn);

		if (left[who] != &w[turn])
			it_fail(__FILE__, __LINE__, "turn %zu went to %s, "
				"not %s", turn + 1,
				users[left[who] - w], users[turn]);
		assert_int_equal(expect_open(&w[turn], users[turn]),
				 PAM_SUCCESS);
		assert_int_equal(events(fx, "grant", users[turn], NULL), 1);
		memmove(&left[who], &left[who + 1],
			(3 - turn - who - 1) * sizeof(left[0]));
		waiter_logout(&w[turn]);
	}
	assert_int_equal(events(fx, "wait", "frank",
				"\"pool\":\"field-east\""), 1);
	it_workers_finish(fx);
}

/* The wait runs out: refused, saying how long, with a deny "timeout". */
static void wait_runs_out(void **state)
{
	struct it_fixture *fx = *state;
	struct it_worker *holder;
	struct it_result r;
	struct waiter w;
	char out[8192];

	it_config(fx, EAST("2s"));
	holder = it_worker(fx);
	it_open(holder, IT_SERVICE, "carol", &r);
	it_assert_rc(&r, PAM_SUCCESS);
	waiter_start(fx, &w, "dave", false);
	expect_waiting(&w, "dave");
	assert_int_equal(expect_open(&w, "dave"), PAM_PERM_DENIED);
	if (strstr(w.msg, "after waiting") == NULL ||
	    strstr(w.msg, "field-east") == NULL)
		it_fail(__FILE__, __LINE__, "refusal after the wait: \"%s\"",
			w.msg);
	assert_int_equal(events(fx, "wait", "dave", NULL), 1);
	assert_int_equal(events(fx, "deny", "dave", "\"reason\":\"timeout\""), 1);
	waiter_logout(&w);
	/* Nobody is left in line. */
	assert_int_equal(tool(fx, out, sizeof(out), "--json", "status", NULL), 0);
	if (strstr(out, "\"waiting\":[]") == NULL)
		it_fail(__FILE__, __LINE__, "status after the wait: %s", out);
	it_workers_finish(fx);
}

/* A waiter killed with SIGKILL does not hold up the line: the next one
 * gets the license, and the dead one is logged as abandoned. */
static void killed_waiter_leaves(void **state)
{
	struct it_fixture *fx = *state;
	struct it_worker *holder;
	struct it_result r;
	struct waiter dave, erin;

	it_config(fx, EAST("60s"));
	holder = it_worker(fx);
	it_open(holder, IT_SERVICE, "carol", &r);
	it_assert_rc(&r, PAM_SUCCESS);
	waiter_start(fx, &dave, "dave", false);
	expect_waiting(&dave, "dave");
	waiter_start(fx, &erin, "erin", false);
	expect_waiting(&erin, "erin");
	waiter_kill(&dave);
	it_close(holder, r.handle, &r);
	it_assert_rc(&r, PAM_SUCCESS);
	assert_int_equal(expect_open(&erin, "erin"), PAM_SUCCESS);
	assert_int_equal(events(fx, "deny", "dave",
				"\"reason\":\"abandoned\""), 1);
	assert_int_equal(events(fx, "grant", "dave", NULL), 0);
	waiter_logout(&erin);
	it_workers_finish(fx);
}

/* helpdesk-license release hands the slot to the first waiter. */
static void release_hands_over(void **state)
{
	struct it_fixture *fx = *state;
	struct it_worker *holder;
	struct it_result r;
	struct waiter dave;
	char out[8192];

	it_config(fx, EAST("60s"));
	holder = it_worker(fx);
	it_open(holder, IT_SERVICE, "carol", &r);
	it_assert_rc(&r, PAM_SUCCESS);
	waiter_start(fx, &dave, "dave", false);
	expect_waiting(&dave, "dave");
	assert_int_equal(tool(fx, out, sizeof(out), "release", "carol", NULL), 0);
	assert_int_equal(expect_open(&dave, "dave"), PAM_SUCCESS);
	assert_int_equal(tool(fx, out, sizeof(out), "--json", "list", NULL), 0);
	if (strstr(out, "\"user\":\"dave\"") == NULL ||
	    strstr(out, "\"waiting\":[]") == NULL)
		it_fail(__FILE__, __LINE__, "list after the release: %s", out);
	waiter_logout(&dave);
	it_workers_finish(fx);
}

/* Someone holds the lock of store (a file's lock, PATH.lock); a store
 * without a lock file yet is not locked. */
static bool store_locked(const char *store)
{
	char path[PATH_MAX + 8];
	bool locked;
	int fd;

	snprintf(path, sizeof(path), "%s.lock", store);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		assert_int_equal(errno, ENOENT);
		return false;
	}
	locked = flock(fd, LOCK_EX | LOCK_NB) != 0;
	close(fd);
	return locked;
}

/* Stops a waiter (SIGSTOP) at a moment it holds no lock on either store:
 * a waiter stopped inside its look would hold up every login, and one
 * stopped holding the durable store's lock every exclusive user of it
 * (the tool's reap). */
static void stop_outside_lock(struct it_fixture *fx, pid_t pid)
{
	for (int tries = 0; tries < 1000; tries++) {
		struct timespec t0, now;
		bool locked, stopped = false;

		assert_int_equal(kill(pid, SIGSTOP), 0);
		/* Stopped for sure once /proc says so; a loaded machine may
		 * take a while to deliver the signal: the deadline only
		 * guards against a hang. */
		clock_gettime(CLOCK_MONOTONIC, &t0);
		for (;;) {
			unsigned long long start;
			char state;

			stopped = it_proc_stat(pid, &state, &start) &&
				  state == 'T';
			clock_gettime(CLOCK_MONOTONIC, &now);
			if (stopped || now.tv_sec - t0.tv_sec > 60)
				break;
			poll(NULL, 0, 1);
		}
		assert_true(stopped);
		locked = store_locked(fx->runtime) || store_locked(fx->store);
		if (!locked)
			return;
		assert_int_equal(kill(pid, SIGCONT), 0);
		poll(NULL, 0, 10);
	}
	it_fail(__FILE__, __LINE__, "the waiter always held the store's lock");
}

/* A newcomer does not jump the line: with the first waiter stopped
 * (SIGSTOP) when the slot frees, a newcomer still queues behind it. */
static void newcomer_does_not_jump(void **state)
{
	struct it_fixture *fx = *state;
	struct it_worker *holder;
	struct it_result r;
	struct waiter dave, erin;

	it_config(fx, EAST("60s"));
	holder = it_worker(fx);
	it_open(holder, IT_SERVICE, "carol", &r);
	it_assert_rc(&r, PAM_SUCCESS);
	waiter_start(fx, &dave, "dave", false);
	expect_waiting(&dave, "dave");
	stop_outside_lock(fx, dave.pid);
	it_close(holder, r.handle, &r);
	it_assert_rc(&r, PAM_SUCCESS);
	/* The slot is free, dave can't take it: erin must wait behind. */
	waiter_start(fx, &erin, "erin", false);
	expect_waiting(&erin, "erin");
	if (strstr(erin.info, "number 2 in line") == NULL)
		it_fail(__FILE__, __LINE__, "erin was told \"%s\"", erin.info);
	assert_int_equal(kill(dave.pid, SIGCONT), 0);
	assert_int_equal(expect_open(&dave, "dave"), PAM_SUCCESS);
	waiter_logout(&dave);
	assert_int_equal(expect_open(&erin, "erin"), PAM_SUCCESS);
	waiter_logout(&erin);
	it_workers_finish(fx);
}

/* A technician of two pools waits in both and takes the first slot
 * offered; the other line forgets it without a deny. */
static void waits_in_several_pools(void **state)
{
	struct it_fixture *fx = *state;
	struct it_worker *east, *west;
	struct it_result re, rw;
	struct waiter erin;
	char out[8192];

	it_config(fx, "concurrent = (\n"
		  " { pool = \"field-east\"; licenses = 1;"
		  " groups = [ \"field-east\" ]; wait = \"60s\"; },\n"
		  " { pool = \"field-west\"; licenses = 1; users = [ \"alice\" ];"
		  " groups = [ \"field-west\" ]; wait = \"60s\"; } );\n");
	east = it_worker(fx);
	west = it_worker(fx);
	it_open(east, IT_SERVICE, "carol", &re);
	it_assert_rc(&re, PAM_SUCCESS);
	it_open(west, IT_SERVICE, "alice", &rw);
	it_assert_rc(&rw, PAM_SUCCESS);
	waiter_start(fx, &erin, "erin", false);
	expect_waiting(&erin, "erin");
	if (strstr(erin.info, "field-east") == NULL ||
	    strstr(erin.info, "field-west") == NULL)
		it_fail(__FILE__, __LINE__, "erin was told \"%s\"", erin.info);
	assert_int_equal(events(fx, "wait", "erin", NULL), 2);
	it_close(west, rw.handle, &rw);
	assert_int_equal(expect_open(&erin, "erin"), PAM_SUCCESS);
	assert_int_equal(events(fx, "grant", "erin",
				"\"pool\":\"field-west\""), 1);
	assert_int_equal(events(fx, "deny", "erin", NULL), 0);
	assert_int_equal(tool(fx, out, sizeof(out), "--json", "status", NULL), 0);
	if (strstr(out, "\"waiting\":[]") == NULL)
		it_fail(__FILE__, __LINE__, "erin is still in a line: %s", out);
	waiter_logout(&erin);
	it_workers_finish(fx);
}

/* account lets a technician through when the pool has a wait (the
 * waiting happens in the session), and refuses without one. */
static void account_lets_waiters_through(void **state)
{
	struct it_fixture *fx = *state;
	struct it_worker *holder, *w;
	struct it_result r, a;

	it_config(fx, EAST("60s"));
	holder = it_worker(fx);
	w = it_worker(fx);
	it_open(holder, IT_SERVICE, "carol", &r);
	it_assert_rc(&r, PAM_SUCCESS);
	it_acct(w, IT_SERVICE, "dave", &a);
	it_assert_rc(&a, PAM_SUCCESS);
	it_config(fx, EAST("0"));
	it_acct(w, IT_SERVICE, "dave", &a);
	it_assert_rc(&a, PAM_PERM_DENIED);
	it_workers_finish(fx);
}

/* status and list show who waits where, since when, in what order. */
static void tool_shows_the_line(void **state)
{
	struct it_fixture *fx = *state;
	struct it_worker *holder;
	struct it_result r;
	struct waiter dave, erin;
	char out[16384];
	const char *d, *e;

	it_config(fx, EAST("60s"));
	holder = it_worker(fx);
	it_open(holder, IT_SERVICE, "carol", &r);
	it_assert_rc(&r, PAM_SUCCESS);
	waiter_start(fx, &dave, "dave", false);
	expect_waiting(&dave, "dave");
	waiter_start(fx, &erin, "erin", false);
	expect_waiting(&erin, "erin");

	assert_int_equal(tool(fx, out, sizeof(out), "status", NULL, NULL), 0);
	d = strstr(out, "dave");
	e = strstr(out, "erin");
	if (strstr(out, "WAITING") == NULL || !d || !e || d > e)
		it_fail(__FILE__, __LINE__, "status:\n%s", out);
	assert_int_equal(tool(fx, out, sizeof(out), "--json", "status", NULL), 0);
	if (strstr(out, "\"waiting\":2}") == NULL ||
	    strstr(out, "\"place\":1,\"user\":\"dave\"") == NULL ||
	    strstr(out, "\"place\":2,\"user\":\"erin\"") == NULL)
		it_fail(__FILE__, __LINE__, "status --json: %s", out);
	assert_int_equal(tool(fx, out, sizeof(out), "list", NULL, NULL), 0);
	d = strstr(out, "dave");
	e = strstr(out, "erin");
	if (strstr(out, "carol") == NULL || !d || !e || d > e)
		it_fail(__FILE__, __LINE__, "list:\n%s", out);
	assert_int_equal(tool(fx, out, sizeof(out), "--json", "list", NULL), 0);
	if (strstr(out, "{\"pool\":\"field-east\",\"place\":1,\"user\":\"dave\","
			"\"since\":") == NULL ||
	    strstr(out, "\"tty\":\"pts/9\"") == NULL)
		it_fail(__FILE__, __LINE__, "list --json: %s", out);

	it_close(holder, r.handle, &r);
	assert_int_equal(expect_open(&dave, "dave"), PAM_SUCCESS);
	waiter_logout(&dave);
	assert_int_equal(expect_open(&erin, "erin"), PAM_SUCCESS);
	waiter_logout(&erin);
	it_workers_finish(fx);
}

/* A signal to the waiting process ends the wait cleanly: refused, out of
 * the line, a deny "interrupted". */
static void signal_ends_the_wait(void **state)
{
	struct it_fixture *fx = *state;
	struct it_worker *holder;
	struct it_result r;
	struct waiter dave;
	char out[8192];

	it_config(fx, EAST("60s"));
	holder = it_worker(fx);
	it_open(holder, IT_SERVICE, "carol", &r);
	it_assert_rc(&r, PAM_SUCCESS);
	waiter_start(fx, &dave, "dave", true);
	expect_waiting(&dave, "dave");
	assert_int_equal(kill(dave.pid, SIGINT), 0);
	assert_int_equal(expect_open(&dave, "dave"), PAM_PERM_DENIED);
	assert_int_equal(events(fx, "deny", "dave",
				"\"reason\":\"interrupted\""), 1);
	waiter_logout(&dave);
	assert_int_equal(tool(fx, out, sizeof(out), "--json", "status", NULL), 0);
	if (strstr(out, "\"waiting\":[]") == NULL)
		it_fail(__FILE__, __LINE__, "dave is still in line: %s", out);
	it_workers_finish(fx);
}

/* The open's end of a waiter that may or may not be told of the line
 * first (whether it must wait depends on how far another's wait ran). */
static int expect_open_any(struct waiter *w, const char *user)
{
	char kind;

	while ((kind = waiter_next(w, &w->open_rc, w->msg, sizeof(w->msg))) == 'I')
		snprintf(w->info, sizeof(w->info), "%s", w->msg);
	if (kind != 'O')
		it_fail(__FILE__, __LINE__, "%s: expected the open's end, "
			"got record '%c'", user, kind ? kind : '0');
	return w->open_rc;
}

/* Polls the tool until the pool's count of waiters is want; the bound
 * only guards against a hang. */
static void until_waiting(struct it_fixture *fx, unsigned want)
{
	char out[16384], expect[64];

	snprintf(expect, sizeof(expect), "\"waiting\":%u}", want);
	for (int i = 0; i < 6000; i++) {
		assert_int_equal(tool(fx, out, sizeof(out), "--json", "status",
				      NULL), 0);
		if (strstr(out, expect))
			return;
		poll(NULL, 0, 20);
	}
	it_fail(__FILE__, __LINE__, "the pool never had %u waiting: %s", want,
		out);
}

/* Both slots of field-east (2 licenses) held: carol's and frank's. */
static void both_held(struct it_fixture *fx, struct it_worker **h1,
		      struct it_result *r1, struct it_worker **h2,
		      struct it_result *r2)
{
	*h1 = it_worker(fx);
	*h2 = it_worker(fx);
	it_open(*h1, IT_SERVICE, "carol", r1);
	it_assert_rc(r1, PAM_SUCCESS);
	it_open(*h2, IT_SERVICE, "frank", r2);
	it_assert_rc(r2, PAM_SUCCESS);
}

/* A stopped waiter (SIGSTOP) holds a free slot at most until its own
 * wait ends: the next technician, whose wait is longer, gets it then
 * (before the fix it waited its whole wait and was refused). */
static void stopped_waiter_ends_by_deadline(void **state)
{
	struct it_fixture *fx = *state;
	struct it_worker *h1, *h2;
	struct it_result r1, r2;
	struct waiter dave, erin;
	char out[8192];

	it_config(fx, EAST2("3s"));
	both_held(fx, &h1, &r1, &h2, &r2);
	waiter_start(fx, &dave, "dave", false);
	expect_waiting(&dave, "dave");
	stop_outside_lock(fx, dave.pid);
	it_close(h1, r1.handle, &r1);
	it_assert_rc(&r1, PAM_SUCCESS);
	/* erin waits up to a minute, dave's wait ends after 3 s. */
	it_config(fx, EAST2("60s"));
	waiter_start(fx, &erin, "erin", false);
	assert_int_equal(expect_open_any(&erin, "erin"), PAM_SUCCESS);
	assert_int_equal(events(fx, "deny", "dave", "\"reason\":\"timeout\""), 1);
	/* dave, woken, finds its wait over: refused, logged once. */
	assert_int_equal(kill(dave.pid, SIGCONT), 0);
	assert_int_equal(expect_open(&dave, "dave"), PAM_PERM_DENIED);
	if (strstr(dave.msg, "after waiting") == NULL)
		it_fail(__FILE__, __LINE__, "dave was told \"%s\"", dave.msg);
	assert_int_equal(events(fx, "deny", "dave", "\"reason\":\"timeout\""), 1);
	assert_int_equal(events(fx, "grant", "dave", NULL), 0);
	waiter_logout(&dave);
	assert_int_equal(tool(fx, out, sizeof(out), "--json", "status", NULL), 0);
	if (strstr(out, "\"waiting\":[]") == NULL)
		it_fail(__FILE__, __LINE__, "status: %s", out);
	waiter_logout(&erin);
	it_workers_finish(fx);
}

/* A pool with a free slot, kept for a stopped waiter ahead, says so: how
 * many licenses are in use and how many wait ahead, never "All 2". */
static void refusal_counts_free_slots(void **state)
{
	struct it_fixture *fx = *state;
	static const char want[] = "1 of 2 licenses of pool field-east is in "
				   "use and 1 technician waits ahead";
	struct it_worker *h1, *h2;
	struct it_result r1, r2;
	struct waiter dave, erin;

	it_config(fx, EAST2("60s"));
	both_held(fx, &h1, &r1, &h2, &r2);
	waiter_start(fx, &dave, "dave", false);
	expect_waiting(&dave, "dave");
	stop_outside_lock(fx, dave.pid);
	it_close(h1, r1.handle, &r1);
	it_assert_rc(&r1, PAM_SUCCESS);
	it_config(fx, EAST2("2s"));
	waiter_start(fx, &erin, "erin", false);
	expect_waiting(&erin, "erin");
	if (strstr(erin.info, want) == NULL || strstr(erin.info, "All 2"))
		it_fail(__FILE__, __LINE__, "erin was told \"%s\"", erin.info);
	assert_int_equal(expect_open(&erin, "erin"), PAM_PERM_DENIED);
	if (strstr(erin.msg, want) == NULL || strstr(erin.msg, "All 2"))
		it_fail(__FILE__, __LINE__, "erin's refusal: \"%s\"", erin.msg);
	waiter_logout(&erin);
	assert_int_equal(kill(dave.pid, SIGCONT), 0);
	assert_int_equal(expect_open(&dave, "dave"), PAM_SUCCESS);
	waiter_logout(&dave);
	it_workers_finish(fx);
}

/* helpdesk-license reap drops a waiter whose wait is over, and status no
 * longer counts it once it is (before the fix both kept it for good). */
static void reap_drops_ended_wait(void **state)
{
	struct it_fixture *fx = *state;
	struct it_worker *holder;
	struct it_result r;
	struct waiter dave;
	char out[16384];

	it_config(fx, EAST("2s"));
	holder = it_worker(fx);
	it_open(holder, IT_SERVICE, "carol", &r);
	it_assert_rc(&r, PAM_SUCCESS);
	waiter_start(fx, &dave, "dave", false);
	expect_waiting(&dave, "dave");
	stop_outside_lock(fx, dave.pid);
	until_waiting(fx, 0);
	assert_int_equal(tool(fx, out, sizeof(out), "list", NULL, NULL), 0);
	if (strstr(out, "dave") == NULL || strstr(out, "its wait is over") == NULL)
		it_fail(__FILE__, __LINE__, "list:\n%s", out);
	assert_int_equal(tool(fx, out, sizeof(out), "reap", NULL, NULL), 0);
	if (strstr(out, "dave") == NULL ||
	    strstr(out, "Dropped 1 waiter from the lines.") == NULL)
		it_fail(__FILE__, __LINE__, "reap:\n%s", out);
	assert_int_equal(events(fx, "deny", "dave", "\"reason\":\"timeout\""), 1);
	assert_int_equal(tool(fx, out, sizeof(out), "--json", "status", NULL), 0);
	if (strstr(out, "\"waiting\":[]") == NULL)
		it_fail(__FILE__, __LINE__, "status after the reap: %s", out);
	assert_int_equal(kill(dave.pid, SIGCONT), 0);
	assert_int_equal(expect_open(&dave, "dave"), PAM_PERM_DENIED);
	assert_int_equal(events(fx, "deny", "dave", "\"reason\":\"timeout\""), 1);
	waiter_logout(&dave);
	it_workers_finish(fx);
}

/* Occurrences of needle in haystack. */
static int count_of(const char *haystack, const char *needle)
{
	int n = 0;

	for (const char *p = strstr(haystack, needle); p;
	     p = strstr(p + 1, needle))
		n++;
	return n;
}

/* Two sessions of one technician wait: the first to get a slot takes it,
 * the second joins it.  One slot, both sessions recorded (before the
 * fix: two slots, and the first session recorded nowhere). */
static void one_technician_waits_twice(void **state)
{
	struct it_fixture *fx = *state;
	struct it_worker *h1, *h2;
	struct it_result r1, r2;
	struct waiter d1, d2;
	char out[16384];

	it_config(fx, EAST2("60s"));
	both_held(fx, &h1, &r1, &h2, &r2);
	waiter_start(fx, &d1, "dave", false);
	expect_waiting(&d1, "dave");
	waiter_start(fx, &d2, "dave", false);
	expect_waiting(&d2, "dave");
	it_close(h1, r1.handle, &r1);
	it_assert_rc(&r1, PAM_SUCCESS);
	it_close(h2, r2.handle, &r2);
	it_assert_rc(&r2, PAM_SUCCESS);
	assert_int_equal(expect_open(&d1, "dave"), PAM_SUCCESS);
	assert_int_equal(expect_open(&d2, "dave"), PAM_SUCCESS);
	assert_int_equal(events(fx, "grant", "dave", NULL), 1);
	assert_int_equal(events(fx, "join", "dave", NULL), 1);
	assert_int_equal(tool(fx, out, sizeof(out), "--json", "list", NULL), 0);
	if (count_of(out, "\"user\":\"dave\"") != 1 ||
	    count_of(out, "\"session\":") != 2)
		it_fail(__FILE__, __LINE__, "dave's sessions: %s", out);
	assert_int_equal(tool(fx, out, sizeof(out), "--json", "status", NULL), 0);
	if (strstr(out, "\"in_use\":1,") == NULL)
		it_fail(__FILE__, __LINE__, "status: %s", out);
	waiter_logout(&d1);
	waiter_logout(&d2);
	assert_int_equal(events(fx, "release", "dave", NULL), 2);
	assert_int_equal(tool(fx, out, sizeof(out), "--json", "status", NULL), 0);
	if (strstr(out, "\"in_use\":0,") == NULL)
		it_fail(__FILE__, __LINE__, "status after the logouts: %s", out);
	it_workers_finish(fx);
}

/* With no inotify instance left (fs.inotify.max_user_instances reached),
 * a waiter still waits and gets the slot, by looking at the store. */
static void waits_without_inotify(void **state)
{
	struct it_fixture *fx = *state;
	struct it_worker *holder;
	struct it_result r;
	struct waiter dave;
	char text[64];
	int value;

	it_config(fx, EAST("60s"));
	holder = it_worker(fx);
	it_open(holder, IT_SERVICE, "carol", &r);
	it_assert_rc(&r, PAM_SUCCESS);
	no_inotify = true;
	waiter_start(fx, &dave, "dave", false);
	no_inotify = false;
	expect_waiting(&dave, "dave");
	/* The module asked for inotify and was refused. */
	assert_int_equal(waiter_next(&dave, &value, text, sizeof(text)), 'N');
	it_close(holder, r.handle, &r);
	it_assert_rc(&r, PAM_SUCCESS);
	assert_int_equal(expect_open(&dave, "dave"), PAM_SUCCESS);
	assert_int_equal(events(fx, "grant", "dave", NULL), 1);
	waiter_logout(&dave);
	it_workers_finish(fx);
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(first_come_first_served,
						it_setup, it_teardown),
		cmocka_unit_test_setup_teardown(wait_runs_out, it_setup,
						it_teardown),
		cmocka_unit_test_setup_teardown(killed_waiter_leaves,
						it_setup, it_teardown),
		cmocka_unit_test_setup_teardown(release_hands_over, it_setup,
						it_teardown),
		cmocka_unit_test_setup_teardown(newcomer_does_not_jump,
						it_setup, it_teardown),
		cmocka_unit_test_setup_teardown(waits_in_several_pools,
						it_setup, it_teardown),
		cmocka_unit_test_setup_teardown(account_lets_waiters_through,
						it_setup, it_teardown),
		cmocka_unit_test_setup_teardown(tool_shows_the_line, it_setup,
						it_teardown),
		cmocka_unit_test_setup_teardown(signal_ends_the_wait,
						it_setup, it_teardown),
		cmocka_unit_test_setup_teardown(stopped_waiter_ends_by_deadline,
						it_setup, it_teardown),
		cmocka_unit_test_setup_teardown(refusal_counts_free_slots,
						it_setup, it_teardown),
		cmocka_unit_test_setup_teardown(reap_drops_ended_wait,
						it_setup, it_teardown),
		cmocka_unit_test_setup_teardown(one_technician_waits_twice,
						it_setup, it_teardown),
		cmocka_unit_test_setup_teardown(waits_without_inotify,
						it_setup, it_teardown),
	};

	it_init(argc, argv);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
