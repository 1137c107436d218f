/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Unit tests of proc.c's lock table reader (hl_flock_holder): a made-up
 * proc root with a locks file of every kind of line, and the real /proc
 * with a flock held by a child; and of the stale check with one read of
 * the audit sessions (hl_session_stale_scan) against a made-up proc root.
 */
#include "config.h"

#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "proc.h"
#include "support.h"

struct fixture {
	char root[64];		/* a made-up proc root */
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	if (f == NULL)
		return -1;
	ts_make_temp_dir(f->root, sizeof(f->root), "/tmp", "test_proc");
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	ts_remove_tree(f->root);
	free(f);
	return 0;
}

static void write_file(const char *dir, const char *name, const char *text)
{
	char path[256];

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	ts_write_text(path, text);
}

static void write_comm(const struct fixture *f, long pid, const char *comm)
{
	ts_fake_proc_file(f->root, (pid_t)pid, "comm", comm);
}

/* Waiters, POSIX locks, other files and other devices are passed over;
 * the flock held on the file is found, its holder named. */
static void test_holder_among_other_locks(void **state)
{
	struct fixture *f = *state;
	struct hl_lock_holder holder;

	write_file(f->root, "locks",
		   "1: POSIX  ADVISORY  WRITE 111 08:01:5678 0 EOF\n"
		   "2: FLOCK  ADVISORY  WRITE 222 08:02:5678 0 EOF\n"
		   "3: FLOCK  ADVISORY  WRITE 333 08:01:5679 0 EOF\n"
		   "4: FLOCK  ADVISORY  WRITE 1234 08:01:5678 0 EOF\n"
		   "4: -> FLOCK  ADVISORY  WRITE 444 08:01:5678 0 EOF\n");
	write_comm(f, 1234, "su\n");
	assert_int_equal(hl_flock_holder(f->root, makedev(8, 1), 5678,
					 &holder), 0);
	assert_int_equal(holder.pid, 1234);
	assert_string_equal(holder.command, "su");
}

/* Only a waiter on the file: nobody holds it. */
static void test_waiter_is_no_holder(void **state)
{
	struct fixture *f = *state;
	struct hl_lock_holder holder;

	write_file(f->root, "locks",
		   "4: -> FLOCK  ADVISORY  WRITE 444 08:01:5678 0 EOF\n"
		   "5: FLOCK  ADVISORY  READ 555 08:01:9999 0 EOF\n");
	assert_int_equal(hl_flock_holder(f->root, makedev(8, 1), 5678,
					 &holder), -1);
}

/* Device numbers are hexadecimal, the inode decimal; a shared holder
 * counts; a holder whose process is gone has no command. */
static void test_hex_device_shared_holder(void **state)
{
	struct fixture *f = *state;
	struct hl_lock_holder holder;

	write_file(f->root, "locks",
		   "7: FLOCK  ADVISORY  READ 77 fe:1a:10953249 0 EOF\n");
	assert_int_equal(hl_flock_holder(f->root, makedev(0xfe, 0x1a),
					 10953249, &holder), 0);
	assert_int_equal(holder.pid, 77);
	assert_string_equal(holder.command, "");
}

/* Lines that are not what the kernel writes are never taken for a
 * holder: a bad pid, a missing field, garbage. */
static void test_malformed_lines(void **state)
{
	struct fixture *f = *state;
	struct hl_lock_holder holder;

	write_file(f->root, "locks",
		   "1: FLOCK  ADVISORY  WRITE -1 08:01:5678 0 EOF\n"
		   "2: FLOCK  ADVISORY  WRITE 12x 08:01:5678 0 EOF\n"
		   "3: FLOCK  ADVISORY  WRITE 0 08:01:5678 0 EOF\n"
		   "4: FLOCK  ADVISORY  WRITE 99\n"
		   "5: FLOCK  ADVISORY  WRITE 98 08:01 0 EOF\n"
		   "6: FLOCK  ADVISORY  WRITE 97 08:01:5678x 0 EOF\n"
		   "7: FLOCK  ADVISORY  UNLCK 96 08:01:5678 0 EOF\n"
		   "garbage\n\n");
	assert_int_equal(hl_flock_holder(f->root, makedev(8, 1), 5678,
					 &holder), -1);
	/* No locks file at all. */
	assert_int_equal(hl_flock_holder("/nonexistent", makedev(8, 1), 5678,
					 &holder), -1);
}

/* The command is the holder's to choose: made printable. */
static void test_command_made_printable(void **state)
{
	struct fixture *f = *state;
	struct hl_lock_holder holder;

	write_file(f->root, "locks",
		   "1: FLOCK  ADVISORY  WRITE 42 08:01:5678 0 EOF\n");
	write_comm(f, 42, "a\033[2Jb\\c\n");
	assert_int_equal(hl_flock_holder(f->root, makedev(8, 1), 5678,
					 &holder), 0);
	assert_string_equal(holder.command, "a\\x1b[2Jb\\x5cc");
}

/* The real /proc: a child holding a flock is named, by pid and command;
 * once it lets go, nobody is. */
static void test_real_flock_holder(void **state)
{
	struct fixture *f = *state;
	struct hl_lock_holder holder;
	char path[128], command[16];
	int ready[2], release[2];
	struct stat st;
	pid_t child;
	char c;
	int fd, status;

	snprintf(path, sizeof(path), "%s/file.lock", f->root);
	fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	assert_true(fd >= 0);
	assert_int_equal(fstat(fd, &st), 0);
	assert_int_equal(pipe(ready), 0);
	assert_int_equal(pipe(release), 0);
	child = fork();
	assert_true(child >= 0);
	if (child == 0) {
		int mine = open(path, O_RDWR | O_CLOEXEC);

		if (mine < 0 || flock(mine, LOCK_EX) != 0 ||
		    write(ready[1], "", 1) != 1 || read(release[0], &c, 1) < 0)
			_exit(1);
		_exit(0);
	}
	assert_int_equal(read(ready[0], &c, 1), 1);
	assert_int_equal(hl_flock_holder("/proc", st.st_dev, st.st_ino,
					 &holder), 0);
	assert_int_equal(holder.pid, child);
	/* The child's command is ours (it did not exec). */
	snprintf(path, sizeof(path), "/proc/%ld/comm", (long)getpid());
	{
		FILE *fp = fopen(path, "r");

		assert_non_null(fp);
		assert_non_null(fgets(command, sizeof(command), fp));
		fclose(fp);
		command[strcspn(command, "\n")] = '\0';
	}
	assert_string_equal(holder.command, command);
	assert_int_equal(write(release[1], "", 1), 1);
	assert_int_equal(waitpid(child, &status, 0), child);
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	assert_int_equal(hl_flock_holder("/proc", st.st_dev, st.st_ino,
					 &holder), -1);
	close(fd);
	close(ready[0]);
	close(ready[1]);
	close(release[0]);
	close(release[1]);
}

/* A made-up process: its stat (state, start time) and audit session. */
static void write_process(const struct fixture *f, long pid, char state,
			  unsigned long long start, const char *audit)
{
	char stat[256];

	/* Fields 4 (parent) to 21, then 22: the start time. */
	snprintf(stat, sizeof(stat), "%ld (sleep) %c 1 0 0 0 0 0 0 0 0 0 0 "
		 "0 0 0 0 0 0 0 %llu 0 0\n", pid, state, start);
	ts_fake_proc_file(f->root, (pid_t)pid, "stat", stat);
	ts_fake_proc_file(f->root, (pid_t)pid, "sessionid", audit);
}

static struct hl_session session_of(pid_t pid, unsigned long long start,
				    unsigned audit, const char *boot)
{
	struct hl_session s;

	memset(&s, 0, sizeof(s));
	s.pid = pid;
	s.start = start;
	s.audit_session = audit;
	snprintf(s.boot_id, sizeof(s.boot_id), "%s", boot);
	return s;
}

/* One read of the audit sessions answers as a walk of /proc per session
 * does, and is not read again: a process started after it is not seen. */
static void test_audit_scan_agrees(void **state)
{
	const struct fixture *f = *state;
	struct hl_session sessions[] = {
		session_of(100, 5, 0, "b"),	/* its process runs */
		session_of(200, 5, 7, "b"),	/* gone; audit 7 runs */
		session_of(201, 5, 8, "b"),	/* gone; audit 8 a zombie */
		session_of(202, 5, 0, "b"),	/* gone, no audit session */
		session_of(100, 6, 9, "b"),	/* pid reused; no audit 9 */
		session_of(100, 5, 7, "a"),	/* an earlier boot */
	};
	const bool stale[] = { false, false, true, true, true, true };
	struct hl_audit_scan scan = { 0 };
	const size_t n = sizeof(sessions) / sizeof(sessions[0]);

	write_process(f, 100, 'S', 5, "7\n");
	write_process(f, 101, 'Z', 5, "8\n");
	write_process(f, 102, 'S', 5, "4294967295\n");
	for (size_t i = 0; i < n; i++) {
		assert_int_equal(hl_session_stale(f->root, "b", &sessions[i]),
				 stale[i]);
		assert_int_equal(hl_session_stale_scan(f->root, "b",
						       &sessions[i], &scan),
				 stale[i]);
	}
	assert_true(scan.done);
	assert_int_equal(scan.count, 1);
	/* Audit 9 starts after the scan: only a fresh walk sees it. */
	write_process(f, 103, 'S', 5, "9\n");
	assert_false(hl_session_stale(f->root, "b", &sessions[4]));
	assert_true(hl_session_stale_scan(f->root, "b", &sessions[4], &scan));
	hl_audit_scan_free(&scan);
}

/* A proc root that cannot be read: every audit session counts as live,
 * so that no live session's slot is ever taken. */
static void test_audit_scan_unreadable(void **state)
{
	const struct fixture *f = *state;
	struct hl_session gone = session_of(200, 5, 7, "b");
	struct hl_audit_scan scan = { 0 };
	char missing[128];

	snprintf(missing, sizeof(missing), "%s/none", f->root);
	assert_false(hl_session_stale_scan(missing, "b", &gone, &scan));
	assert_true(scan.unknown);
	hl_audit_scan_free(&scan);
}

/* The audit session, read again at each PAM call of a login: one
 * inherited from the parent is not the login's; one that pam_loginuid
 * began in the process since its first call is. */
static void test_audit_refresh(void **state)
{
	const struct fixture *f = *state;
	struct hl_process self = { .pid = 300, .parent = 1 };

	write_process(f, 1, 'S', 1, "5\n");
	write_process(f, 300, 'S', 9, "5\n");
	hl_process_audit_refresh(f->root, &self);
	assert_int_equal(self.audit_session, 0);
	ts_fake_proc_file(f->root, 300, "sessionid", "8\n");
	hl_process_audit_refresh(f->root, &self);
	assert_int_equal(self.audit_session, 8);
	ts_fake_proc_file(f->root, 300, "sessionid", "4294967295\n");
	hl_process_audit_refresh(f->root, &self);
	assert_int_equal(self.audit_session, 0);
}

/* The start-time reader that the module and the listing share: the
 * start time after a command holding ") " and spaces; a pid not above 0
 * is never read (a made-up root has one), nor a stat that is a link; a
 * pid of every digit, and a root too long for the path. */
static void test_start_time_reader(void **state)
{
	const struct fixture *f = *state;
	struct hl_session zero = session_of(0, 5, 0, "b");
	unsigned long long start = 0;
	char path[256], target[256], longer[300];

	ts_fake_proc_file(f->root, 100, "stat",
			  "100 (a) b (c) S 1 0 0 0 0 0 0 0 0 0 0 0 0 0 "
			  "0 0 0 0 77 0 0\n");
	assert_int_equal(hl_proc_start(f->root, 100, &start), 0);
	assert_int_equal(start, 77);
	write_process(f, 0, 'S', 5, "4294967295\n");
	write_process(f, -1, 'S', 5, "4294967295\n");
	assert_int_equal(hl_proc_start(f->root, 0, &start), -1);
	assert_int_equal(hl_proc_start(f->root, -1, &start), -1);
	assert_true(hl_session_stale(f->root, "b", &zero));
	snprintf(path, sizeof(path), "%s/300", f->root);
	assert_int_equal(mkdir(path, 0755), 0);
	snprintf(path, sizeof(path), "%s/300/stat", f->root);
	snprintf(target, sizeof(target), "%s/100/stat", f->root);
	assert_int_equal(symlink(target, path), 0);
	assert_int_equal(hl_proc_start(f->root, 300, &start), -1);
	write_process(f, 2147483647, 'S', 9, "4294967295\n");
	assert_int_equal(hl_proc_start(f->root, 2147483647, &start), 0);
	assert_int_equal(start, 9);
	memset(longer, 'x', sizeof(longer) - 1);
	longer[sizeof(longer) - 1] = '\0';
	assert_int_equal(hl_proc_start(longer, 100, &start), -1);
}

#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_holder_among_other_locks),
		T(test_waiter_is_no_holder),
		T(test_hex_device_shared_holder),
		T(test_malformed_lines),
		T(test_command_made_printable),
		T(test_real_flock_holder),
		T(test_audit_scan_agrees),
		T(test_audit_scan_unreadable),
		T(test_audit_refresh),
		T(test_start_time_reader),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
