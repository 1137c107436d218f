/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Unit tests of terminate.c: which processes a session's end may signal
 * (real forked processes, described by a made-up proc root so that their
 * start time, uids and audit session are what the test says), the tty
 * names taken for a tty, idleness read from a real pty's atime, the ttys
 * of a session whose PAM_TTY names none (sshd's) found through its
 * processes (made-up and real), and the end itself: the line on the tty,
 * SIGHUP, SIGKILL after the grace.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/ioctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "proc.h"
#include "support.h"
#include "terminate.h"

#define BOOT_ID "0123abcd-0000-4000-8000-00000000cafe"

struct fixture {
	char root[64];		/* a made-up proc root */
	pid_t children[4];
	size_t count;
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	if (f == NULL)
		return -1;
	ts_make_temp_dir(f->root, sizeof(f->root), "/tmp", "test_terminate");
	ts_fake_boot_id(f->root, BOOT_ID "\n");
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	for (size_t i = 0; i < f->count; i++) {
		kill(f->children[i], SIGKILL);
		waitpid(f->children[i], NULL, 0);
	}
	ts_remove_tree(f->root);
	free(f);
	return 0;
}

/* A child that waits for its end; ignore_hup: it outlives a SIGHUP.
 * Returns once the child is ready. */
static pid_t child(struct fixture *f, bool ignore_hup)
{
	int ready[2];
	pid_t pid;
	char c;

	assert_int_equal(pipe(ready), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		/* Set either way: a suite run under nohup would hand an
		 * ignored SIGHUP on, and the child would never end by it. */
		signal(SIGHUP, ignore_hup ? SIG_IGN : SIG_DFL);
		signal(SIGTERM, SIG_DFL);
		(void)!write(ready[1], "x", 1);
		for (;;)
			pause();
	}
	f->children[f->count++] = pid;
	assert_int_equal(read(ready[0], &c, 1), 1);
	close(ready[0]);
	close(ready[1]);
	return pid;
}

/* How the child ended: the signal that killed it (reaped here). */
static int reap(struct fixture *f, pid_t pid)
{
	int status;

	assert_int_equal(waitpid(pid, &status, 0), pid);
	for (size_t i = 0; i < f->count; i++)
		if (f->children[i] == pid)
			f->children[i] = f->children[--f->count];
	assert_true(WIFSIGNALED(status));
	return WTERMSIG(status);
}

/* Ends the child with SIGTERM: it dies of SIGHUP instead if one was
 * sent before (the lower number is delivered first). */
static int end_with_term(struct fixture *f, pid_t pid)
{
	kill(pid, SIGTERM);
	return reap(f, pid);
}

static void write_at(const struct fixture *f, pid_t pid, const char *name,
		     const char *text)
{
	ts_fake_proc_file(f->root, pid, name, text);
}

/* pid's stat as the made-up proc root shows it: its controlling tty is
 * tty_nr (field 7), 0 for none. */
static void write_stat(const struct fixture *f, pid_t pid,
		       unsigned long long start, int tty_nr)
{
	char text[512];

	snprintf(text, sizeof(text), "%ld (sh) S 1 1 1 %d -1 0 0 0 0 0 0 0 "
		 "0 0 20 0 1 0 %llu 0 0\n", (long)pid, tty_nr, start);
	write_at(f, pid, "stat", text);
}

/* pid as the made-up proc root shows it. */
static void describe(const struct fixture *f, pid_t pid,
		     unsigned long long start, unsigned uid,
		     unsigned euid, unsigned audit)
{
	char text[512];

	write_stat(f, pid, start, 0);
	snprintf(text, sizeof(text), "Name:\tsh\nState:\tS\nUid:\t%u\t%u\t%u\t"
		 "%u\nGid:\t1\t1\t1\t1\n", uid, euid, uid, uid);
	write_at(f, pid, "status", text);
	snprintf(text, sizeof(text), "%u", audit ? audit : 4294967295U);
	write_at(f, pid, "sessionid", text);
}

static struct hl_session session_of(pid_t pid, unsigned long long start,
				    unsigned audit)
{
	struct hl_session s;

	memset(&s, 0, sizeof(s));
	s.pid = pid;
	s.start = start;
	s.audit_session = audit;
	memcpy(s.boot_id, BOOT_ID, sizeof(s.boot_id));
	s.tty = (char *)"";
	return s;
}

/* The session's own process, its start time matching: signalled. */
static void test_own_process_signalled(void **state)
{
	struct fixture *f = *state;
	pid_t pid = child(f, false);
	struct hl_session s = session_of(pid, 4242, 0);

	describe(f, pid, 4242, 1000, 1000, 0);
	assert_int_equal(hl_session_signal(f->root, &s, SIGHUP), 1);
	assert_int_equal(reap(f, pid), SIGHUP);
}

/* Another process under the recorded pid (another start time): not
 * signalled. */
static void test_reused_pid_spared(void **state)
{
	struct fixture *f = *state;
	pid_t pid = child(f, false);
	struct hl_session s = session_of(pid, 4242, 0);

	describe(f, pid, 9999, 1000, 1000, 0);
	assert_int_equal(hl_session_signal(f->root, &s, SIGHUP), 0);
	assert_int_equal(end_with_term(f, pid), SIGTERM);
}

/* A setuid-root process of the session (effective uid 0), in an audit
 * session and as the session's own process: never signalled. */
static void test_root_spared(void **state)
{
	struct fixture *f = *state;
	pid_t pid = child(f, false), other = child(f, false);
	struct hl_session own = session_of(pid, 4242, 0);
	struct hl_session audit = session_of(1, 1, 77);

	describe(f, pid, 4242, 1000, 0, 0);
	describe(f, other, 5, 0, 0, 77);
	assert_int_equal(hl_session_signal(f->root, &own, SIGHUP), 0);
	assert_int_equal(hl_session_signal(f->root, &audit, SIGHUP), 0);
	assert_int_equal(end_with_term(f, pid), SIGTERM);
	assert_int_equal(end_with_term(f, other), SIGTERM);
}

/* Every process of the audit session is signalled; one that left it
 * (another session id) is not, nor one whose status is unreadable. */
static void test_audit_session(void **state)
{
	struct fixture *f = *state;
	pid_t in = child(f, false), left = child(f, false),
	      unknown = child(f, false);
	struct hl_session s = session_of(1, 1, 77);
	char path[256];

	describe(f, in, 10, 1000, 1000, 77);
	describe(f, left, 11, 1000, 1000, 78);
	describe(f, unknown, 12, 1000, 1000, 77);
	snprintf(path, sizeof(path), "%s/%ld/status", f->root, (long)unknown);
	assert_int_equal(unlink(path), 0);
	assert_int_equal(hl_session_signal(f->root, &s, SIGHUP), 1);
	assert_int_equal(reap(f, in), SIGHUP);
	assert_int_equal(end_with_term(f, left), SIGTERM);
	assert_int_equal(end_with_term(f, unknown), SIGTERM);
}

/* A session of another boot has no process left to signal. */
static void test_other_boot(void **state)
{
	struct fixture *f = *state;
	pid_t pid = child(f, false);
	struct hl_session s = session_of(pid, 4242, 0);

	describe(f, pid, 4242, 1000, 1000, 0);
	memcpy(s.boot_id, "ffffffff-0000-4000-8000-000000000000",
	       sizeof(s.boot_id));
	assert_int_equal(hl_session_signal(f->root, &s, SIGHUP), 0);
	assert_int_equal(end_with_term(f, pid), SIGTERM);
}

/* The real /proc: a child of another uid is signalled, one of root is
 * not (root only: a test of another user cannot make either). */
static void test_real_proc(void **state)
{
	struct fixture *f = *state;
	struct hl_process user_proc, root_proc;
	struct hl_session s;
	int ready[2];
	pid_t user, root;
	char c;

	if (geteuid() != 0)
		skip();
	assert_int_equal(pipe(ready), 0);
	user = fork();
	assert_true(user >= 0);
	if (user == 0) {
		if (setresuid(65534, 65534, 65534) != 0)
			_exit(1);
		(void)!write(ready[1], "x", 1);
		for (;;)
			pause();
	}
	f->children[f->count++] = user;
	assert_int_equal(read(ready[0], &c, 1), 1);
	root = child(f, false);
	assert_int_equal(hl_process_identify("/proc", user, &user_proc), 0);
	assert_int_equal(hl_process_identify("/proc", root, &root_proc), 0);

	s = session_of(root, root_proc.start, 0);
	memcpy(s.boot_id, root_proc.boot_id, sizeof(s.boot_id));
	assert_int_equal(hl_session_signal("/proc", &s, SIGHUP), 0);
	s = session_of(user, user_proc.start, 0);
	memcpy(s.boot_id, user_proc.boot_id, sizeof(s.boot_id));
	assert_int_equal(hl_session_signal("/proc", &s, SIGHUP), 1);
	assert_int_equal(reap(f, user), SIGHUP);
	assert_int_equal(end_with_term(f, root), SIGTERM);
	close(ready[0]);
	close(ready[1]);
}

static void test_tty_names(void **state)
{
	char path[64];

	(void)state;
	assert_true(hl_tty_device("pts/3", path, sizeof(path)));
	assert_string_equal(path, "/dev/pts/3");
	assert_true(hl_tty_device("/dev/pts/12", path, sizeof(path)));
	assert_string_equal(path, "/dev/pts/12");
	assert_true(hl_tty_device("tty2", path, sizeof(path)));
	assert_string_equal(path, "/dev/tty2");
	assert_true(hl_tty_device("pts/0", path, sizeof(path)));
	assert_false(hl_tty_device("ssh", path, sizeof(path)));
	assert_false(hl_tty_device("", path, sizeof(path)));
	assert_false(hl_tty_device(NULL, path, sizeof(path)));
	assert_false(hl_tty_device(":0", path, sizeof(path)));
	assert_false(hl_tty_device("tty", path, sizeof(path)));
	assert_false(hl_tty_device("pts/03", path, sizeof(path)));
	assert_false(hl_tty_device("pts/3/../../../etc/shadow", path,
				   sizeof(path)));
	assert_false(hl_tty_device("/dev/../dev/pts/3", path, sizeof(path)));
	assert_false(hl_tty_device("pts/-1", path, sizeof(path)));
	assert_false(hl_tty_device("pts/1234567890", path, sizeof(path)));
	/* A name of the right form that is no device: no tty. */
	{
		struct hl_session s = session_of(1, 1, 0);
		time_t when;

		s.tty = (char *)"pts/999999999";
		assert_int_equal(hl_session_last_input("/proc", &s, &when), -1);
		s.tty = (char *)"ssh";
		assert_int_equal(hl_session_last_input("/proc", &s, &when), -1);
	}
}

/* A pty: master descriptor, slave name as PAM_TTY has it ("pts/N"). */
static int open_pty(char *tty, size_t len)
{
	int master = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
	const char *name;

	assert_true(master >= 0);
	assert_int_equal(grantpt(master), 0);
	assert_int_equal(unlockpt(master), 0);
	name = ptsname(master);
	assert_non_null(name);
	assert_true(strncmp(name, "/dev/", 5) == 0);
	snprintf(tty, len, "%s", name + 5);
	return master;
}

static void set_atime(const char *tty, time_t when)
{
	char path[64];
	struct timespec times[2] = { { .tv_sec = when },
				     { .tv_nsec = UTIME_OMIT } };

	snprintf(path, sizeof(path), "/dev/%s", tty);
	assert_int_equal(utimensat(AT_FDCWD, path, times, 0), 0);
}

/* Idle since the latest input on any tty of the holder; a session
 * without a tty: never idle. */
static void test_holding_idle(void **state)
{
	struct hl_session s[2];
	struct hl_holding h = { .kind = HL_KIND_CONCURRENT };
	char tty1[64], tty2[64];
	int m1 = open_pty(tty1, sizeof(tty1)), m2 = open_pty(tty2, sizeof(tty2));
	time_t now = time(NULL), when;

	(void)state;
	s[0] = session_of(1, 1, 0);
	s[1] = session_of(1, 1, 0);
	s[0].tty = tty1;
	s[1].tty = tty2;
	s[0].since = s[1].since = now - 5000;
	set_atime(tty1, now - 3000);
	set_atime(tty2, now - 2000);
	assert_int_equal(hl_session_last_input("/proc", &s[0], &when), 0);
	assert_int_equal(when, now - 3000);
	h.sessions = s;
	h.session_count = 1;
	assert_int_equal(hl_holding_idle("/proc", &h, now), 3000);
	h.session_count = 2;
	assert_int_equal(hl_holding_idle("/proc", &h, now), 2000);
	set_atime(tty2, now - 100);
	assert_int_equal(hl_holding_idle("/proc", &h, now), 100);
	s[1].tty = (char *)"ssh";
	assert_int_equal(hl_holding_idle("/proc", &h, now), -1);
	h.session_count = 0;
	assert_int_equal(hl_holding_idle("/proc", &h, now), -1);
	close(m1);
	close(m2);
}

/* The end: the line on the tty, SIGHUP, and a SIGKILL to a process
 * that outlives the SIGHUP, sent after the grace by a process of its
 * own: the call does not wait for it. */
static void test_session_end(void **state)
{
	struct fixture *f = *state;
	pid_t pid = child(f, true);
	struct hl_session s = session_of(pid, 4242, 0);
	char tty[64], buf[256] = "";
	int master = open_pty(tty, sizeof(tty));
	size_t got = 0;

	describe(f, pid, 4242, 1000, 1000, 0);
	s.tty = tty;
	/* The slave kept open, as the session's shell would. */
	{
		char path[80];
		int slave;

		snprintf(path, sizeof(path), "/dev/%s", tty);
		slave = open(path, O_RDWR | O_NOCTTY | O_CLOEXEC);
		assert_true(slave >= 0);
		assert_int_equal(hl_session_end(f->root, &s, "bye now\n", 1), 0);
		close(slave);
	}
	/* Raw bytes: the pty's line discipline turns \n into \r\n. */
	while (got < sizeof(buf) - 1 && strstr(buf, "bye now") == NULL) {
		ssize_t n = read(master, buf + got, sizeof(buf) - 1 - got);

		assert_true(n > 0);
		got += (size_t)n;
		buf[got] = '\0';
	}
	assert_non_null(strstr(buf, "bye now"));
	alarm(120);	/* a hang guard only: the grace is 1 s */
	assert_int_equal(reap(f, pid), SIGKILL);
	alarm(0);
	close(master);
}

/* The device number of a pty slave ("pts/N"). */
static dev_t tty_dev(const char *tty)
{
	char path[80];
	struct stat st;

	snprintf(path, sizeof(path), "/dev/%s", tty);
	assert_int_equal(stat(path, &st), 0);
	return st.st_rdev;
}

/* A pty slave as sshd leaves it: owned by the user who logged in (as
 * root, chowned to nobody; else the test's own uid).  Returns that uid. */
static uid_t user_tty(const char *tty)
{
	char path[80];

	if (geteuid() != 0)
		return geteuid();
	snprintf(path, sizeof(path), "/dev/%s", tty);
	assert_int_equal(chown(path, 65534, (gid_t)-1), 0);
	return 65534;
}

/* pid of the made-up proc root on tty (controlling tty, login uid). */
static void put_on_tty(const struct fixture *f, pid_t pid,
		       unsigned long long start, dev_t dev, uid_t login)
{
	unsigned nr_major = major(dev), nr_minor = minor(dev);
	char text[32];

	/* The kernel's encoding of tty_nr. */
	write_stat(f, pid, start, (int)((nr_minor & 0xffu) | (nr_major << 8) |
					((nr_minor & ~0xffu) << 12)));
	snprintf(text, sizeof(text), "%u", (unsigned)login);
	write_at(f, pid, "loginuid", text);
}

/* Whether the pty master has output waiting (non-blocking read). */
static bool has_output(int master)
{
	char buf[64];
	int flags = fcntl(master, F_GETFL);
	ssize_t n;

	assert_int_equal(fcntl(master, F_SETFL, flags | O_NONBLOCK), 0);
	n = read(master, buf, sizeof(buf));
	assert_int_equal(fcntl(master, F_SETFL, flags), 0);
	return n > 0;
}

/* Reads the pty master until text came (a hang guard only bounds it). */
static void expect_output(int master, const char *text)
{
	char buf[512] = "";
	size_t got = 0;

	alarm(120);
	while (got < sizeof(buf) - 1 && strstr(buf, text) == NULL) {
		ssize_t n = read(master, buf + got, sizeof(buf) - 1 - got);

		assert_true(n > 0);
		got += (size_t)n;
		buf[got] = '\0';
	}
	alarm(0);
	assert_non_null(strstr(buf, text));
}

/* A session whose PAM_TTY names no tty ("ssh"): its ttys are the
 * controlling ttys of its audit session's processes, owned by the user
 * who logged in.  A tty of another audit session, one owned by root, and
 * one owned by somebody else than the process's login uid do not count;
 * the line goes to the session's tty only. */
static void test_process_ttys(void **state)
{
	struct fixture *f = *state;
	char mine[64], other[64], rooted[64];
	int m1 = open_pty(mine, sizeof(mine)), m2 = open_pty(other, sizeof(other)),
	    m3 = open_pty(rooted, sizeof(rooted));
	uid_t user = user_tty(mine);
	bool root = geteuid() == 0;
	struct hl_session s = session_of(1, 1, 77), alone = session_of(1, 1, 79),
			  none = session_of(1, 1, 0), earlier = s;
	struct hl_holding h = { .kind = HL_KIND_CONCURRENT };
	time_t now = time(NULL), when;

	user_tty(other);
	s.tty = alone.tty = none.tty = earlier.tty = (char *)"ssh";
	/* Of an earlier boot: its audit session id is another's now. */
	memcpy(earlier.boot_id, "ffffffff-0000-4000-8000-000000000000",
	       sizeof(earlier.boot_id));
	set_atime(mine, now - 3000);
	set_atime(other, now - 10);
	/* sshd's own process: of the session, no tty. */
	describe(f, 101, 1, user, user, 77);
	/* The shell, on the session's pty. */
	describe(f, 102, 2, user, user, 77);
	put_on_tty(f, 102, 2, tty_dev(mine), user);
	/* Another login's shell with a tty, of the same user. */
	describe(f, 103, 3, user, user, 78);
	put_on_tty(f, 103, 3, tty_dev(other), user);
	/* Of the session, on a tty its user does not own. */
	describe(f, 105, 5, user + 1, user + 1, 77);
	put_on_tty(f, 105, 5, tty_dev(other), user + 1);
	/* Of the session, on a root-owned tty (a pty made by root is). */
	if (root) {
		set_atime(rooted, now - 5);
		describe(f, 104, 4, user, user, 77);
		put_on_tty(f, 104, 4, tty_dev(rooted), user);
		describe(f, 106, 6, 0, 0, 77);
		put_on_tty(f, 106, 6, tty_dev(rooted), 0);
	} else {
		print_message("not root: no root-owned tty to test with\n");
	}
	/* A session whose processes have no tty (ssh host command). */
	describe(f, 107, 7, user, user, 79);

	assert_int_equal(hl_session_last_input(f->root, &s, &when), 0);
	assert_int_equal(when, now - 3000);
	h.sessions = &s;
	h.session_count = 1;
	assert_int_equal(hl_holding_idle(f->root, &h, now), 3000);
	assert_int_equal(hl_session_last_input(f->root, &alone, &when), -1);
	assert_int_equal(hl_session_last_input(f->root, &none, &when), -1);
	assert_int_equal(hl_session_last_input(f->root, &earlier, &when), -1);
	h.sessions = &alone;
	assert_int_equal(hl_holding_idle(f->root, &h, now), -1);

	/* A listing's one walk of /proc finds the same ttys, and only
	 * those: every session of a holding at once. */
	{
		struct hl_session all[4];
		struct hl_tty_map ttys;
		time_t inputs[4];

		all[0] = s;
		all[1] = alone;
		all[2] = none;
		all[3] = earlier;
		h.sessions = all;
		h.session_count = 4;
		hl_tty_map_init(&ttys, f->root);
		assert_int_equal(hl_holding_idle_inputs(&ttys, &h, now, inputs),
				 -1);
		assert_int_equal(inputs[0], now - 3000);
		assert_int_equal(inputs[1], 0);
		assert_int_equal(inputs[2], 0);
		assert_int_equal(inputs[3], 0);
		h.session_count = 1;
		assert_int_equal(hl_holding_idle_inputs(&ttys, &h, now, NULL),
				 3000);
		/* Without the map: only the tty PAM_TTY names, here none. */
		assert_int_equal(hl_holding_idle_inputs(NULL, &h, now, NULL),
				 -1);
		/* The other login's session, whose process comes between
		 * this one's in the walk: the map, sorted by audit session,
		 * finds its tty and none of this one's. */
		all[0] = session_of(1, 1, 78);
		all[0].tty = (char *)"ssh";
		assert_int_equal(hl_holding_idle_inputs(&ttys, &h, now, inputs),
				 10);
		assert_int_equal(inputs[0], now - 10);
		hl_tty_map_free(&ttys);
	}

	hl_session_tell(f->root, &earlier, "not for you\n");
	assert_false(has_output(m1));
	hl_session_tell(f->root, &s, "hello there\n");
	expect_output(m1, "hello there");
	assert_false(has_output(m2));
	assert_false(has_output(m3));
	close(m1);
	close(m2);
	close(m3);
}

/* The end of a session whose ttys were found through its processes:
 * the line on its tty, SIGHUP to the process on it, and sshd's own
 * process (no tty) left to pass the line on: it goes with the SIGKILL. */
static void test_session_end_process_ttys(void **state)
{
	struct fixture *f = *state;
	pid_t shell = child(f, false), sshd = child(f, false),
	      stranger = child(f, false);
	struct hl_session s = session_of(1, 1, 77);
	char tty[64];
	int master = open_pty(tty, sizeof(tty));
	uid_t user = user_tty(tty);

	s.tty = (char *)"ssh";
	describe(f, sshd, 10, user, user, 77);
	describe(f, shell, 11, user, user, 77);
	put_on_tty(f, shell, 11, tty_dev(tty), user);
	describe(f, stranger, 12, user, user, 78);
	put_on_tty(f, stranger, 12, tty_dev(tty), user);
	assert_int_equal(hl_session_end(f->root, &s, "bye now\n", 1), 0);
	expect_output(master, "bye now");
	assert_int_equal(reap(f, shell), SIGHUP);
	alarm(120);	/* a hang guard only: the grace is 1 s */
	assert_int_equal(reap(f, sshd), SIGKILL);
	alarm(0);
	assert_int_equal(end_with_term(f, stranger), SIGTERM);
	close(master);
}

struct real_login {
	pid_t pid;
	unsigned audit_session;
};

/* A real process that logs in as pam_loginuid does (login uid 65534: a
 * new audit session) and takes tty as its controlling tty.  Root only;
 * false when the kernel does not let it set its login uid. */
static bool real_login(struct fixture *f, const char *tty,
		       struct real_login *out)
{
	int ready[2];
	char ok = 'n';
	pid_t pid;

	assert_int_equal(pipe(ready), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		char path[80];
		int fd = open("/proc/self/loginuid", O_WRONLY | O_CLOEXEC);

		if (fd < 0 || write(fd, "65534", 5) != 5)
			_exit(1);
		close(fd);
		snprintf(path, sizeof(path), "/dev/%s", tty);
		if (setsid() < 0 ||
		    (fd = open(path, O_RDWR | O_CLOEXEC)) < 0 ||
		    ioctl(fd, TIOCSCTTY, 0) != 0)
			_exit(1);
		(void)!write(ready[1], "y", 1);
		for (;;)
			pause();
	}
	f->children[f->count++] = pid;
	close(ready[1]);
	(void)!read(ready[0], &ok, 1);
	close(ready[0]);
	out->pid = pid;
	out->audit_session = hl_proc_audit_session("/proc", pid);
	return ok == 'y' && out->audit_session != 0;
}

/* The real /proc: the tty of a process of the session's audit session
 * counts, the tty of another audit session's process does not. */
static void test_real_process_ttys(void **state)
{
	struct fixture *f = *state;
	char mine[64], other[64];
	int m1, m2;
	struct real_login in, out;
	struct hl_process self;
	struct hl_session s;
	time_t now = time(NULL), when;
	uid_t login_uid;
	dev_t dev;

	if (geteuid() != 0)
		skip();
	m1 = open_pty(mine, sizeof(mine));
	m2 = open_pty(other, sizeof(other));
	user_tty(mine);
	user_tty(other);
	if (!real_login(f, mine, &in) || !real_login(f, other, &out)) {
		print_message("the login uid cannot be set here\n");
		close(m1);
		close(m2);
		skip();
	}
	assert_int_not_equal(in.audit_session, out.audit_session);
	assert_int_equal(hl_proc_tty("/proc", in.pid, &dev, &login_uid), 0);
	assert_int_equal(dev, tty_dev(mine));
	assert_int_equal(login_uid, 65534);
	set_atime(mine, now - 1000);
	set_atime(other, now - 5);
	assert_int_equal(hl_process_identify("/proc", getpid(), &self), 0);
	s = session_of(1, 1, in.audit_session);
	memcpy(s.boot_id, self.boot_id, sizeof(s.boot_id));
	s.tty = (char *)"ssh";
	assert_int_equal(hl_session_last_input("/proc", &s, &when), 0);
	assert_int_equal(when, now - 1000);
	close(m1);
	close(m2);
}

#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_own_process_signalled),
		T(test_reused_pid_spared),
		T(test_root_spared),
		T(test_audit_session),
		T(test_other_boot),
		T(test_real_proc),
		cmocka_unit_test(test_tty_names),
		cmocka_unit_test(test_holding_idle),
		T(test_session_end),
		T(test_process_ttys),
		T(test_session_end_process_ttys),
		T(test_real_process_ttys),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
