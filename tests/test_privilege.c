/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Unit tests of privilege.c: while the guard is up, a process that su or
 * sudo runs for a user (real uid the user's, effective uid 0) cannot be
 * signalled by that user, holds back a terminal's stop signals, and gets
 * exactly its uids back afterwards.  Each test runs in a child, whose
 * uids it may change; the uid tests need root and are skipped without.
 */
#include "config.h"

#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "privilege.h"

#define USER_UID 4242	/* any uid but 0: it needs no passwd entry */

/* Exit codes of the children say which check failed. */
static void check_ids(uid_t real, uid_t effective, uid_t saved, int code)
{
	uid_t r, e, s;

	if (getresuid(&r, &e, &s) != 0 || r != real || e != effective ||
	    s != saved) {
		fprintf(stderr, "check %d: uids %lu %lu %lu, want %lu %lu "
			"%lu\n", code, (unsigned long)r, (unsigned long)e,
			(unsigned long)s, (unsigned long)real,
			(unsigned long)effective, (unsigned long)saved);
		_exit(code);
	}
}

static void expect_child_exit(pid_t child)
{
	int status;

	assert_true(child > 0);
	assert_int_equal(waitpid(child, &status, 0), child);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
}

static void need_root(void)
{
	if (geteuid() != 0)
		skip();
}

/* As su runs (real uid the user's, effective and saved 0) and as a
 * setuid program that kept the saved uid the user's: raised to 0 while
 * the guard is up, and exactly the uids before after. */
static void test_ids_raised_and_restored(void **state)
{
	static const uid_t saved_before[] = { 0, USER_UID };

	(void)state;
	need_root();
	for (size_t i = 0; i < 2; i++) {
		pid_t child = fork();

		if (child == 0) {
			struct hl_privilege_guard guard;

			if (setresuid(USER_UID, 0, saved_before[i]) != 0)
				_exit(10);
			if (hl_privilege_begin(&guard, NULL) != 0)
				_exit(11);
			check_ids(0, 0, 0, 12);
			if (hl_privilege_end(&guard, NULL) != 0)
				_exit(13);
			check_ids(USER_UID, 0, saved_before[i], 14);
			_exit(0);
		}
		expect_child_exit(child);
	}
}

/* Root all through (sshd, the tool run by root) and an unprivileged
 * process (the tool run by a user): the uids are left alone. */
static void test_ids_left_alone(void **state)
{
	pid_t child;

	(void)state;
	need_root();
	child = fork();
	if (child == 0) {
		struct hl_privilege_guard guard;

		if (setresuid(0, 0, 0) != 0 ||
		    hl_privilege_begin(&guard, NULL) != 0 || guard.raised)
			_exit(10);
		hl_privilege_end(&guard, NULL);
		check_ids(0, 0, 0, 11);
		if (setresuid(USER_UID, USER_UID, USER_UID) != 0 ||
		    hl_privilege_begin(&guard, NULL) != 0 || guard.raised)
			_exit(12);
		check_ids(USER_UID, USER_UID, USER_UID, 13);
		hl_privilege_end(&guard, NULL);
		check_ids(USER_UID, USER_UID, USER_UID, 14);
		_exit(0);
	}
	expect_child_exit(child);
}

/* The attack itself: a process of the user's may signal the su-like
 * process before and after, but not while the guard is up. */
static void test_user_cannot_signal_holder(void **state)
{
	int up[2], down[2], asked[2], answered[2];
	pid_t holder, user;
	char c;

	(void)state;
	need_root();
	assert_int_equal(pipe(up), 0);
	assert_int_equal(pipe(down), 0);
	assert_int_equal(pipe(asked), 0);
	assert_int_equal(pipe(answered), 0);
	holder = fork();
	if (holder == 0) {
		struct hl_privilege_guard guard;

		if (setresuid(USER_UID, 0, 0) != 0 ||
		    hl_privilege_begin(&guard, NULL) != 0 ||
		    write(up[1], "u", 1) != 1 || read(down[0], &c, 1) != 1 ||
		    hl_privilege_end(&guard, NULL) != 0 ||
		    write(up[1], "d", 1) != 1 || read(down[0], &c, 1) != 1)
			_exit(1);
		_exit(0);
	}
	assert_true(holder > 0);
	user = fork();
	if (user == 0) {
		/* For each byte asked: may it signal the holder? */
		close(asked[1]);
		if (setresuid(USER_UID, USER_UID, USER_UID) != 0)
			_exit(1);
		while (read(asked[0], &c, 1) == 1) {
			c = kill(holder, 0) == 0 ? 'y' :
			    errno == EPERM ? 'n' : '?';
			if (write(answered[1], &c, 1) != 1)
				_exit(1);
		}
		_exit(0);
	}
	assert_true(user > 0);
	close(asked[0]);
	close(answered[1]);

	assert_int_equal(read(up[0], &c, 1), 1);		/* guard up */
	assert_int_equal(write(asked[1], "?", 1), 1);
	assert_int_equal(read(answered[0], &c, 1), 1);
	assert_int_equal(c, 'n');
	assert_int_equal(write(down[1], "", 1), 1);
	assert_int_equal(read(up[0], &c, 1), 1);		/* guard down */
	assert_int_equal(write(asked[1], "?", 1), 1);
	assert_int_equal(read(answered[0], &c, 1), 1);
	assert_int_equal(c, 'y');
	assert_int_equal(write(down[1], "", 1), 1);
	close(asked[1]);
	expect_child_exit(holder);
	expect_child_exit(user);
	close(answered[0]);
	close(up[0]);
	close(up[1]);
	close(down[0]);
	close(down[1]);
}

/* A terminal's SIGTSTP while the guard is up waits; it stops the
 * process only once the guard is down.  Needs no root. */
static void test_terminal_stop_held_back(void **state)
{
	int status, ready[2];
	pid_t child;
	char c;

	(void)state;
	/* Under valgrind a SIGTSTP held back by the mask does not stop the
	 * process once it is unblocked: valgrind's signal delivery, not the
	 * guard.  The plain and the sanitizer builds run it. */
	if (getenv("HL_UNDER_VALGRIND") != NULL)
		skip();
	assert_int_equal(pipe(ready), 0);
	child = fork();
	if (child == 0) {
		struct hl_privilege_guard guard;
		sigset_t pending;

		/* A group of its own, whose parent (the test) is outside
		 * it: not orphaned, so the kernel does not drop a stop. */
		setpgid(0, 0);
		signal(SIGTSTP, SIG_DFL);
		hl_privilege_begin(&guard, NULL);
		if (raise(SIGTSTP) != 0 || sigpending(&pending) != 0 ||
		    !sigismember(&pending, SIGTSTP))
			_exit(10);
		/* Still running: tell the parent, then let it stop us. */
		if (write(ready[1], "", 1) != 1)
			_exit(11);
		hl_privilege_end(&guard, NULL);
		_exit(0);
	}
	assert_true(child > 0);
	close(ready[1]);
	assert_int_equal(read(ready[0], &c, 1), 1);
	assert_int_equal(waitpid(child, &status, WUNTRACED), child);
	assert_true(WIFSTOPPED(status));
	assert_int_equal(WSTOPSIG(status), SIGTSTP);
	assert_int_equal(kill(child, SIGCONT), 0);
	expect_child_exit(child);
	close(ready[0]);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ids_raised_and_restored),
		cmocka_unit_test(test_ids_left_alone),
		cmocka_unit_test(test_user_cannot_signal_holder),
		cmocka_unit_test(test_terminal_stop_held_back),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
