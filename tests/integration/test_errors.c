/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Failing closed (helpdesk-license.conf(5), and "Errors" in pam_helpdesk_license(8)): every kind of bad config is
 * PAM_SERVICE_ERR and reported as FILE:LINE, an unusable store is
 * PAM_SYSTEM_ERR and left as it was, on_error = allow lets logins through,
 * and user names the module must not write down are refused.
 */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <gdbm.h>

#include "harness.h"

#define EAST_ONE \
	"concurrent = ( { pool = \"field-east\"; licenses = 1;" \
	" groups = [ \"field-east\" ]; } );\n"

/* carol holds a Named license: her logins read the durable file, which
 * a login that can use no Named license leaves alone. */
#define EAST_ONE_CAROL_NAMED \
	EAST_ONE "named = { licenses = 1; users = [ \"carol\" ]; };\n"

/* account and session both give code for carol (a field-east member). */
static void expect_both(struct it_fixture *fx, const char *service,
			const char *user, int code)
{
	struct pam_testcase cases[] = {
		pam_test(PAMTEST_ACCOUNT, code),
		pam_test(PAMTEST_OPEN_SESSION, code),
	};

	it_pamtest_expect(fx, service, user, cases);
}

static void path_in(char *out, const char *dir, const char *name)
{
	if (snprintf(out, PATH_MAX, "%s/%s", dir, name) >= PATH_MAX)
		it_fail(__FILE__, __LINE__, "path too long: %s", dir);
}

static void expect_reported(struct it_fixture *fx, int line)
{
	char where[PATH_MAX + 32];

	snprintf(where, sizeof(where), "%s:%d:", fx->conf, line);
	if (!it_stderr_contains(fx, where))
		it_fail(__FILE__, __LINE__, "no \"%s message\" in the log",
			where);
}

/* 9. Each kind of bad config fails closed, reported as FILE:LINE. */
static void bad_config(struct it_fixture *fx, const char *name, int line)
{
	it_config_template(fx, name);
	expect_both(fx, IT_SERVICE, "carol", PAM_SERVICE_ERR);
	expect_reported(fx, line);
}

static void config_syntax_error(void **state)
{
	bad_config(*state, "bad-syntax.conf", 5);
}

static void config_unknown_key(void **state)
{
	bad_config(*state, "unknown-key.conf", 5);
}

static void config_wrong_type(void **state)
{
	bad_config(*state, "wrong-type.conf", 4);
}

static void config_out_of_range(void **state)
{
	bad_config(*state, "out-of-range.conf", 5);
}

static void config_duplicate_pool(void **state)
{
	bad_config(*state, "duplicate-pool.conf", 7);
}

static void config_missing(void **state)
{
	struct it_fixture *fx = *state;

	it_config(fx, EAST_ONE);
	expect_both(fx, IT_SERVICE_NOCONF, "carol", PAM_SERVICE_ERR);
}

static void config_unknown_argument(void **state)
{
	struct it_fixture *fx = *state;

	it_config(fx, EAST_ONE);
	expect_both(fx, IT_SERVICE_BADARG, "carol", PAM_SERVICE_ERR);
	/* The same config through a clean service line is fine. */
	expect_both(fx, IT_SERVICE, "carol", PAM_SUCCESS);
}

/* The config must be trusted: not writable by group or others (and, when
 * the suite runs as root, owned by root). */
static void config_insecure(void **state)
{
	struct it_fixture *fx = *state;

	it_config(fx, EAST_ONE);
	expect_both(fx, IT_SERVICE, "carol", PAM_SUCCESS);
	assert_int_equal(chmod(fx->conf, 0620), 0);
	expect_both(fx, IT_SERVICE, "carol", PAM_SERVICE_ERR);
	assert_int_equal(chmod(fx->conf, 0602), 0);
	expect_both(fx, IT_SERVICE, "carol", PAM_SERVICE_ERR);
	assert_int_equal(chmod(fx->conf, 0600), 0);
	if (geteuid() == 0) {
		assert_int_equal(chown(fx->conf, 2003, 2000), 0);
		expect_both(fx, IT_SERVICE, "carol", PAM_SERVICE_ERR);
	}
}

/* on_error = allow with a broken config: logins go through, loudly. */
static void config_broken_allow(void **state)
{
	struct it_fixture *fx = *state;
	struct pam_testcase cases[] = {
		pam_test(PAMTEST_ACCOUNT, PAM_SUCCESS),
		pam_test(PAMTEST_OPEN_SESSION, PAM_SUCCESS),
		pam_test(PAMTEST_CLOSE_SESSION, PAM_SUCCESS),
	};

	it_config_template(fx, "allow-broken.conf");
	it_pamtest_expect(fx, IT_SERVICE, "carol", cases);
	expect_reported(fx, 6);
}

/* A broken config refuses everyone, root included: the user is told in
 * one line (not only "Error in service module"), and an error event goes
 * to the event log the broken file still names; with event_log = "" there
 * is none. */
static void config_broken_told(void **state)
{
	struct it_fixture *fx = *state;
	struct it_worker *w = it_worker(fx);
	struct it_result r;
	char text[PATH_MAX * 2 + 256];
	char *events;

	it_config(fx, "named = { licences = 1; };\n" EAST_ONE);
	it_acct(w, IT_SERVICE, "carol", &r);
	it_assert_rc(&r, PAM_SERVICE_ERR);
	it_assert_msg(&r, "The help desk license configuration is broken; "
		      "please tell your administrator.");
	if (r.errors != 1)
		it_fail(__FILE__, __LINE__, "%d error messages, not one:\n%s",
			r.errors, r.msg);
	events = it_read_file(fx->event_log, NULL);
	if (events == NULL || strstr(events, "\"event\":\"error\"") == NULL ||
	    strstr(events, "\"user\":\"carol\"") == NULL) {
		it_fail(__FILE__, __LINE__, "no error event of carol in %s:\n%s",
			fx->event_log, events ? events : "(missing)");
	}
	free(events);

	/* The event log turned off: the message, and nothing written. */
	assert_int_equal(unlink(fx->event_log), 0);
	snprintf(text, sizeof(text), "store = \"%s\";\nevent_log = \"\";\n"
		 "named = { licences = 1; };\n" EAST_ONE, fx->store);
	it_write_file(fx->conf, text, strlen(text), 0600);
	it_acct(w, IT_SERVICE, "root", &r);
	it_assert_rc(&r, PAM_SERVICE_ERR);
	it_assert_msg(&r, "configuration is broken");
	if (it_exists(fx->event_log))
		it_fail(__FILE__, __LINE__, "%s written though the config "
			"turns the event log off", fx->event_log);
	it_workers_finish(fx);
}

/* 10a. A config reached through a symlink is refused. */
static void config_symlink(void **state)
{
	struct it_fixture *fx = *state;
	char link[PATH_MAX];

	it_config(fx, EAST_ONE);
	path_in(link, fx->dir, "link.conf");
	assert_int_equal(symlink(fx->conf, link), 0);
	expect_both(fx, IT_SERVICE, "carol", PAM_SUCCESS);
	expect_both(fx, IT_SERVICE_LINKCONF, "carol", PAM_SERVICE_ERR);
}

/* A login and logout, so that the store exists. */
static void make_store(struct it_fixture *fx)
{
	struct pam_testcase cases[] = {
		pam_test(PAMTEST_OPEN_SESSION, PAM_SUCCESS),
		pam_test(PAMTEST_CLOSE_SESSION, PAM_SUCCESS),
	};

	it_pamtest_expect(fx, IT_SERVICE, "carol", cases);
	if (!it_exists(fx->store))
		it_fail(__FILE__, __LINE__, "no store at %s after a login",
			fx->store);
}

static void assert_same_file(const char *path, const char *before,
			     size_t before_len)
{
	size_t len;
	char *now = it_read_file(path, &len);

	if (now == NULL)
		it_fail(__FILE__, __LINE__, "%s is gone", path);
	if (len != before_len || memcmp(now, before, len) != 0)
		it_fail(__FILE__, __LINE__, "%s was changed (%zu bytes, "
			"%zu before)", path, len, before_len);
	free(now);
}

/* 10b. A store that is a symlink is refused, and its target untouched. */
static void store_symlink(void **state)
{
	struct it_fixture *fx = *state;
	char real[PATH_MAX];
	char *before;
	size_t len;

	it_config(fx, EAST_ONE_CAROL_NAMED);
	make_store(fx);
	path_in(real, fx->store_dir, "real.db");
	assert_int_equal(rename(fx->store, real), 0);
	assert_int_equal(symlink("real.db", fx->store), 0);
	before = it_read_file(real, &len);
	assert_non_null(before);

	expect_both(fx, IT_SERVICE, "carol", PAM_SYSTEM_ERR);
	assert_same_file(real, before, len);
	free(before);
}

/* A store directory that is a symlink is refused too. */
static void store_dir_symlink(void **state)
{
	struct it_fixture *fx = *state;
	char real[PATH_MAX];

	it_config(fx, EAST_ONE);
	make_store(fx);
	path_in(real, fx->dir, "real-store");
	assert_int_equal(rename(fx->store_dir, real), 0);
	assert_int_equal(symlink("real-store", fx->store_dir), 0);
	expect_both(fx, IT_SERVICE, "carol", PAM_SYSTEM_ERR);
}

/* A store or directory writable by group or others is refused. */
static void store_insecure(void **state)
{
	struct it_fixture *fx = *state;

	it_config(fx, EAST_ONE_CAROL_NAMED);
	make_store(fx);
	assert_int_equal(chmod(fx->store_dir, 0770), 0);
	expect_both(fx, IT_SERVICE, "carol", PAM_SYSTEM_ERR);
	assert_int_equal(chmod(fx->store_dir, 0700), 0);
	assert_int_equal(chmod(fx->store, 0660), 0);
	expect_both(fx, IT_SERVICE, "carol", PAM_SYSTEM_ERR);
	/* dave, who can use no Named license, does not read that file. */
	expect_both(fx, IT_SERVICE, "dave", PAM_SUCCESS);
	assert_int_equal(chmod(fx->store, 0600), 0);
	expect_both(fx, IT_SERVICE, "carol", PAM_SUCCESS);
}

/* 10c. A damaged store is PAM_SYSTEM_ERR and is left as it is; under
 * on_error = allow the login goes through, the store still untouched. */
/* The damaged file that a repair kept beside path: its bytes must be those
 * the damage left. */
static void assert_damaged_kept(const char *dir, const char *base,
				const char *before, size_t before_len)
{
	char prefix[PATH_MAX], kept[PATH_MAX * 2];
	struct dirent *e;
	DIR *d = opendir(dir);
	bool found = false;

	assert_non_null(d);
	snprintf(prefix, sizeof(prefix), "%s.damaged-", base);
	while ((e = readdir(d)) != NULL)
		if (strncmp(e->d_name, prefix, strlen(prefix)) == 0) {
			snprintf(kept, sizeof(kept), "%s/%s", dir, e->d_name);
			assert_same_file(kept, before, before_len);
			found = true;
		}
	closedir(d);
	if (!found)
		it_fail(__FILE__, __LINE__, "no %s* in %s", prefix, dir);
}

/* Damage is repaired by the login that finds it, which goes on: the
 * damaged file kept beside the store, the repair logged at LOG_CRIT and
 * as an "error" event. */
static void expect_repaired(struct it_fixture *fx, const char *base,
			    const char *before, size_t len)
{
	struct pam_testcase cases[] = {
		pam_test(PAMTEST_ACCOUNT, PAM_SUCCESS),
		pam_test(PAMTEST_OPEN_SESSION, PAM_SUCCESS),
		pam_test(PAMTEST_CLOSE_SESSION, PAM_SUCCESS),
	};
	char *events;

	it_pamtest_expect(fx, IT_SERVICE, "carol", cases);
	assert_damaged_kept(fx->store_dir, base, before, len);
	if (!it_stderr_contains(fx, "repaired in place"))
		it_fail(__FILE__, __LINE__, "the log does not tell the repair");
	events = it_read_file(fx->event_log, NULL);
	assert_non_null(events);
	assert_non_null(strstr(events, "\"event\":\"error\""));
	free(events);
}

static void store_damaged(void **state)
{
	struct it_fixture *fx = *state;
	char garbage[8192];

	it_config(fx, EAST_ONE);
	it_write_garbage_store(fx, garbage, sizeof(garbage));
	expect_repaired(fx, "licenses.db", garbage, sizeof(garbage));
}

/* The store as it is is refused: PAM_SYSTEM_ERR with a log line saying
 * why (needle), a login under on_error = allow, and it is never written
 * to. */
static void expect_store_refused(struct it_fixture *fx, const char *needle)
{
	size_t len;
	char *before = it_read_file(fx->store, &len);

	assert_non_null(before);
	expect_both(fx, IT_SERVICE, "carol", PAM_SYSTEM_ERR);
	assert_same_file(fx->store, before, len);
	if (!it_stderr_contains(fx, needle))
		it_fail(__FILE__, __LINE__, "the log does not say \"%s\"",
			needle);
	it_config(fx, "on_error = \"allow\";\n" EAST_ONE);
	expect_both(fx, IT_SERVICE, "carol", PAM_SUCCESS);
	assert_same_file(fx->store, before, len);
	free(before);
}

/* A truncated store (a full disk, a bad copy) is damaged: PAM_SYSTEM_ERR,
 * or a login under on_error = allow, and it stays byte for byte as it was
 * for repair to read. */
static void store_truncated(void **state)
{
	struct it_fixture *fx = *state;
	const char *files[] = { fx->store, fx->runtime };
	const char *bases[] = { "licenses.db", "sessions.db" };

	it_config(fx, EAST_ONE_CAROL_NAMED);
	make_store(fx);
	/* Each file, the durable one and this boot's. */
	for (int i = 0; i < 2; i++) {
		struct stat st;
		size_t len;
		char *before;

		assert_int_equal(stat(files[i], &st), 0);
		assert_int_equal(truncate(files[i], st.st_size / 2), 0);
		before = it_read_file(files[i], &len);
		assert_non_null(before);
		expect_repaired(fx, bases[i], before, len);
		free(before);
	}
}

/* The runtime file as a kill inside a GDBM write can leave it at worst:
 * nothing in it readable (zeros, no GDBM magic number), so its rebuild
 * keeps no record at all. */
static void wipe_runtime(struct it_fixture *fx)
{
	size_t len;
	char *bytes = it_read_file(fx->runtime, &len);

	assert_non_null(bytes);
	memset(bytes, 0, len);
	it_write_file(fx->runtime, bytes, len, 0600);
	free(bytes);
}

/* A live session whose records the rebuild of the damaged runtime file
 * lost (doc/RELIABILITY.md, "Crashes") is restored from the event log by
 * the login that repairs the file, before that login's own allocation:
 * the newcomer is refused instead of being granted the session's slot,
 * and once the session ends its slot is free again. */
static void live_session_restored(void **state)
{
	struct it_fixture *fx = *state;
	struct it_worker *w1, *w2;
	struct it_result held, r;

	it_config(fx, EAST_ONE);
	w1 = it_worker(fx);
	w2 = it_worker(fx);
	it_open(w1, IT_SERVICE, "carol", &held);
	it_assert_rc(&held, PAM_SUCCESS);
	wipe_runtime(fx);

	it_open(w2, IT_SERVICE, "erin", &r);
	it_assert_rc(&r, PAM_PERM_DENIED);
	if (!it_stderr_contains(fx, "repaired in place"))
		it_fail(__FILE__, __LINE__, "the log does not tell the repair");
	it_close(w1, held.handle, &r);
	it_assert_rc(&r, PAM_SUCCESS);
	it_open(w2, IT_SERVICE, "erin", &r);
	it_assert_rc(&r, PAM_SUCCESS);
	it_close(w2, r.handle, &r);
	it_assert_rc(&r, PAM_SUCCESS);
	it_workers_finish(fx);
}

/* A session whose process is gone is not restored: its slot goes to the
 * newcomer. */
static void dead_session_not_restored(void **state)
{
	struct it_fixture *fx = *state;
	struct it_worker *w1, *w2;
	struct it_result r;

	it_config(fx, EAST_ONE);
	w1 = it_worker(fx);
	w2 = it_worker(fx);
	it_open(w1, IT_SERVICE, "carol", &r);
	it_assert_rc(&r, PAM_SUCCESS);
	it_worker_kill(w1);
	wipe_runtime(fx);

	it_open(w2, IT_SERVICE, "erin", &r);
	it_assert_rc(&r, PAM_SUCCESS);
	it_close(w2, r.handle, &r);
	it_assert_rc(&r, PAM_SUCCESS);
	it_workers_finish(fx);
}

/* With no slot left for a lost live session (the licenses lowered
 * meanwhile), it is kept beyond them, logged at LOG_CRIT, rather than
 * dropped; the newcomer is refused. */
static void lost_session_kept_over_licenses(void **state)
{
	struct it_fixture *fx = *state;
	struct it_worker *w1, *w2, *w3;
	struct it_result a, b, r;

	it_config(fx, "concurrent = ( { pool = \"field-east\"; licenses = 2;"
		  " groups = [ \"field-east\" ]; } );\n");
	w1 = it_worker(fx);
	w2 = it_worker(fx);
	w3 = it_worker(fx);
	it_open(w1, IT_SERVICE, "carol", &a);
	it_assert_rc(&a, PAM_SUCCESS);
	it_open(w2, IT_SERVICE, "dave", &b);
	it_assert_rc(&b, PAM_SUCCESS);
	wipe_runtime(fx);
	it_config(fx, EAST_ONE);

	it_open(w3, IT_SERVICE, "erin", &r);
	it_assert_rc(&r, PAM_PERM_DENIED);
	if (!it_stderr_contains(fx, "over-allocated"))
		it_fail(__FILE__, __LINE__, "the over-allocation is not logged");
	/* Both sessions are recorded: each close finds its own. */
	it_close(w1, a.handle, &r);
	it_assert_rc(&r, PAM_SUCCESS);
	it_open(w3, IT_SERVICE, "erin", &r);
	it_assert_rc(&r, PAM_PERM_DENIED);
	it_close(w2, b.handle, &r);
	it_assert_rc(&r, PAM_SUCCESS);
	it_open(w3, IT_SERVICE, "erin", &r);
	it_assert_rc(&r, PAM_SUCCESS);
	it_close(w3, r.handle, &r);
	it_assert_rc(&r, PAM_SUCCESS);
	it_workers_finish(fx);
}

/* A store of an unknown schema version is refused with a clear message
 * (or let through under on_error = allow) and never rewritten (its schema
 * key as record.h documents it). */
static void store_unknown_version(void **state)
{
	struct it_fixture *fx = *state;
	GDBM_FILE db;
	datum key = { (char *)"schema", 6 }, value = { (char *)"99", 2 };

	it_config(fx, EAST_ONE);
	assert_int_equal(mkdir(fx->store_dir, 0700), 0);
	assert_int_equal(chmod(fx->store_dir, 0700), 0);
	db = gdbm_open(fx->store, 0, GDBM_NEWDB, 0600, NULL);
	assert_non_null(db);
	assert_int_equal(gdbm_store(db, key, value, GDBM_REPLACE), 0);
	gdbm_close(db);
	assert_int_equal(chmod(fx->store, 0600), 0);
	expect_store_refused(fx, "schema version 99");
}

/* Takes the lock of the store file at path, as a writer does; its
 * descriptor (closing it lets go). */
static int take_lock(const char *path)
{
	char lock[PATH_MAX];
	int fd;

	if (snprintf(lock, sizeof(lock), "%s.lock", path) >= (int)sizeof(lock))
		it_fail(__FILE__, __LINE__, "path too long");
	fd = open(lock, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		it_fail(__FILE__, __LINE__, "no lock file %s beside the store "
			"(doc/STORE.md)", lock);
	assert_int_equal(flock(fd, LOCK_EX), 0);
	return fd;
}

/* A store whose lock another process holds: the login waits at most
 * lock_timeout and fails as an unusable store (or goes through under
 * on_error = allow), and never hangs. */
static void store_lock_held(void **state)
{
	struct it_fixture *fx = *state;
	struct pam_testcase open_case[] = {
		pam_test(PAMTEST_OPEN_SESSION, PAM_SUCCESS),
	};
	char holder[96], messages[IT_MSG_MAX];
	struct timespec t0, t1;
	double took;
	int fd;

	it_config(fx, "lock_timeout = 1;\n" EAST_ONE);
	make_store(fx);
	/* The runtime file's lock, which every login takes. */
	fd = take_lock(fx->runtime);

	clock_gettime(CLOCK_MONOTONIC, &t0);
	expect_both(fx, IT_SERVICE, "dave", PAM_SYSTEM_ERR);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	took = (double)(t1.tv_sec - t0.tv_sec) +
	       (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
	/* Two calls (account, session) of one second each, at most. */
	/* At least the two waits; the upper bound only catches a wait that
	 * ignores lock_timeout (a loaded machine may be slow to wake us). */
	if (took < 1.0 || took > 40.0)
		it_fail(__FILE__, __LINE__, "two logins against a held lock "
			"with lock_timeout = 1 took %.1f s", took);
	/* The technician and syslog are told who holds the lock: here, this
	 * process. */
	snprintf(holder, sizeof(holder), "its lock is held by pid %ld (",
		 (long)getpid());
	assert_int_equal(it_pamtest(fx, IT_SERVICE, "dave", open_case, 1,
				    messages, sizeof(messages)),
			 PAMTEST_ERR_CASE);
	assert_int_equal(open_case[0].op_rv, PAM_SYSTEM_ERR);
	if (strstr(messages, holder) == NULL)
		it_fail(__FILE__, __LINE__, "no \"%s\" in the technician's "
			"message: %s", holder, messages);
	if (!it_stderr_contains(fx, holder))
		it_fail(__FILE__, __LINE__, "no \"%s\" in the log", holder);

	it_config(fx, "lock_timeout = 1;\non_error = \"allow\";\n" EAST_ONE);
	expect_both(fx, IT_SERVICE, "dave", PAM_SUCCESS);
	close(fd);
	expect_both(fx, IT_SERVICE, "dave", PAM_SUCCESS);
}

/* The durable file's lock held: a login that can use no Named license
 * neither waits for it nor fails; a Named technician's login does. */
static void durable_lock_held(void **state)
{
	struct it_fixture *fx = *state;
	int fd;

	it_config(fx, "lock_timeout = 1;\n" EAST_ONE_CAROL_NAMED);
	make_store(fx);
	fd = take_lock(fx->store);
	expect_both(fx, IT_SERVICE, "dave", PAM_SUCCESS);
	expect_both(fx, IT_SERVICE, "carol", PAM_SYSTEM_ERR);
	close(fd);
	expect_both(fx, IT_SERVICE, "carol", PAM_SUCCESS);
}

/* A store whose directory cannot be made (its parent is missing) cannot
 * take a session: PAM_SYSTEM_ERR, or PAM_SUCCESS under on_error = allow.
 * (account reads a missing store as empty, as on a first login.) */
static void store_parent_missing(void **state)
{
	struct it_fixture *fx = *state;
	struct pam_testcase deny[] = {
		pam_test(PAMTEST_OPEN_SESSION, PAM_SYSTEM_ERR),
	};
	struct pam_testcase allow[] = {
		pam_test(PAMTEST_OPEN_SESSION, PAM_SUCCESS),
	};
	char text[PATH_MAX * 3 + 256];

	snprintf(text, sizeof(text), "store = \"%s/missing/store/licenses.db\";"
		 " runtime_store = \"%s\";"
		 "\nevent_log = \"%s\";\n" EAST_ONE, fx->dir, fx->runtime,
		 fx->event_log);
	it_write_file(fx->conf, text, strlen(text), 0600);
	it_pamtest_expect(fx, IT_SERVICE, "carol", deny);
	snprintf(text, sizeof(text), "store = \"%s/missing/store/licenses.db\";"
		 " runtime_store = \"%s\";"
		 "\nevent_log = \"%s\";\non_error = \"allow\";\n" EAST_ONE,
		 fx->dir, fx->runtime, fx->event_log);
	it_write_file(fx->conf, text, strlen(text), 0600);
	it_pamtest_expect(fx, IT_SERVICE, "carol", allow);
}

/* A tty and a remote host far longer than any real one (a hostile
 * client): the login is answered (granted, or refused with a reason), the
 * event log stays valid one-line JSON, the store stays usable, and the
 * next technician gets the right answer. */
static void oversized_items(void **state)
{
	struct it_fixture *fx = *state;
	static char tty[4097], rhost[8000];
	struct it_worker *w1, *w2;
	struct it_result r, d;
	char *log;
	size_t len;
	int h;

	memset(tty, 't', sizeof(tty) - 1);
	memset(rhost, 'r', sizeof(rhost) - 1);
	memcpy(rhost, "evil.", 5);
	it_config(fx, EAST_ONE);
	w1 = it_worker(fx);
	w2 = it_worker(fx);
	h = it_start(w1, IT_SERVICE, "carol", tty, rhost);
	it_open_on(w1, h, &r);
	if (r.rc != PAM_SUCCESS && r.rc != PAM_PERM_DENIED)
		it_fail(__FILE__, __LINE__, "a login with a 4 kB tty and an "
			"8 kB rhost: %s, expected PAM_SUCCESS or a refusal",
			it_pam_code(r.rc));
	it_open(w2, IT_SERVICE, "dave", &d);
	it_assert_rc(&d, r.rc == PAM_SUCCESS ? PAM_PERM_DENIED : PAM_SUCCESS);
	if (r.rc == PAM_SUCCESS) {
		it_close(w1, h, &r);
		it_assert_rc(&r, PAM_SUCCESS);
	} else {
		it_end(w1, h);
	}
	it_workers_finish(fx);
	log = it_read_file(fx->event_log, &len);
	assert_non_null(log);
	for (char *line = log, *nl; *line && (nl = strchr(line, '\n'));
	     line = nl + 1) {
		struct it_json json;
		char why[128];

		if (it_json_parse(line, (size_t)(nl - line), &json, why,
				  sizeof(why)) != 0)
			it_fail(__FILE__, __LINE__, "event log line of %zu "
				"bytes is not JSON: %s", (size_t)(nl - line),
				why);
	}
	free(log);
	if (it_stderr_contains(fx, "damaged"))
		it_fail(__FILE__, __LINE__, "the store read as damaged");
}

/* 13. A user name with control characters, a '/', or over 256 bytes is
 * refused as unknown, and nothing is written: the store and the event log
 * stay as they were.  The first three exist in NSS (field-east members),
 * so only the module's own check stands between them and a license. */
static void bad_user_names(void **state)
{
	struct it_fixture *fx = *state;
	char longname[301];
	const char *names[] = {
		"ctl\tuser", longname, "slash/user", "bad\nuser",
		"esc\033[31muser", "nosuchuser",
	};
	char *store, *log;
	size_t store_len, log_len;

	memset(longname, 'l', 300);
	longname[300] = '\0';
	it_config(fx, EAST_ONE);
	make_store(fx);
	store = it_read_file(fx->store, &store_len);
	log = it_read_file(fx->event_log, &log_len);
	assert_non_null(store);
	assert_non_null(log);

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		expect_both(fx, IT_SERVICE, names[i], PAM_USER_UNKNOWN);

	assert_same_file(fx->store, store, store_len);
	assert_same_file(fx->event_log, log, log_len);
	/* The slot is still free. */
	expect_both(fx, IT_SERVICE, "dave", PAM_SUCCESS);
	free(store);
	free(log);
}

/* The longest name allowed, 256 bytes, is served like any other. */
static void longest_user_name(void **state)
{
	struct it_fixture *fx = *state;
	struct pam_testcase cases[] = {
		pam_test(PAMTEST_ACCOUNT, PAM_SUCCESS),
		pam_test(PAMTEST_OPEN_SESSION, PAM_SUCCESS),
		pam_test(PAMTEST_CLOSE_SESSION, PAM_SUCCESS),
	};
	char name[257];

	memset(name, 'm', 256);
	name[256] = '\0';
	it_config(fx, EAST_ONE);
	it_pamtest_expect(fx, IT_SERVICE, name, cases);
}

/* The service "hl-debug": IT_SERVICE's stack with the argument debug. */
static void debug_service(struct it_fixture *fx)
{
	char text[2 * PATH_MAX + 256];

	snprintf(text, sizeof(text),
		 "account [success=done ignore=done default=die] %s "
		 "config=%s debug\n"
		 "session [success=done ignore=done default=die] %s "
		 "config=%s debug\n", HL_IT_MODULE, fx->conf, HL_IT_MODULE,
		 fx->conf);
	it_service(fx, "hl-debug", text);
}

/* The module argument "debug" is known. */
static void debug_argument(void **state)
{
	struct it_fixture *fx = *state;

	debug_service(fx);
	it_config(fx, EAST_ONE);
	expect_both(fx, "hl-debug", "carol", PAM_SUCCESS);
}

/* The workers' log (pam_syslog) holds no raw control byte, and no line
 * of its own for the text after a newline in a user name. */
static void expect_log_escaped(struct it_fixture *fx, const char *forged)
{
	size_t len;
	char *text = it_read_file(fx->stderr_log, &len);

	if (text == NULL)
		it_fail(__FILE__, __LINE__, "no log at %s", fx->stderr_log);
	for (size_t i = 0; i < len; i++)
		if (((unsigned char)text[i] < 0x20 && text[i] != '\n') ||
		    text[i] == 0x7f)
			it_fail(__FILE__, __LINE__, "raw byte 0x%02x at %zu of "
				"the log", (unsigned char)text[i], i);
	for (char *line = text; line; line = strchr(line, '\n')) {
		line += *line == '\n';
		if (strncmp(line, forged, strlen(forged)) == 0)
			it_fail(__FILE__, __LINE__, "a forged log line: %s",
				line);
	}
	if (strstr(text, "\\x1b") == NULL || strstr(text, "\\x0a") == NULL)
		it_fail(__FILE__, __LINE__, "the name is not in the log, "
			"escaped");
	free(text);
}

/* A user name with a newline and ESC: PAM_USER_UNKNOWN whatever on_error
 * says, even when the config is unusable under on_error = allow, and
 * logged escaped, with debug too. */
static void hostile_name_in_the_log(void **state)
{
	struct it_fixture *fx = *state;
	const char *name = "esc\033[2Kx\nforged: root logged in";

	debug_service(fx);

	it_config(fx, "on_error = \"allow\";\n" EAST_ONE);
	expect_both(fx, "hl-debug", name, PAM_USER_UNKNOWN);
	/* A broken config under on_error = allow lets valid names in; an
	 * invalid one still is not. */
	it_config_template(fx, "allow-broken.conf");
	expect_both(fx, "hl-debug", name, PAM_USER_UNKNOWN);
	expect_both(fx, IT_SERVICE, name, PAM_USER_UNKNOWN);
	expect_log_escaped(fx, "forged");
}

#define TEST(f) cmocka_unit_test_setup_teardown(f, it_setup, it_teardown)

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		TEST(config_syntax_error),
		TEST(config_unknown_key),
		TEST(config_wrong_type),
		TEST(config_out_of_range),
		TEST(config_duplicate_pool),
		TEST(config_missing),
		TEST(config_unknown_argument),
		TEST(config_insecure),
		TEST(config_broken_allow),
		TEST(config_broken_told),
		TEST(config_symlink),
		TEST(store_symlink),
		TEST(store_dir_symlink),
		TEST(store_insecure),
		TEST(store_damaged),
		TEST(store_truncated),
		TEST(live_session_restored),
		TEST(dead_session_not_restored),
		TEST(lost_session_kept_over_licenses),
		TEST(store_unknown_version),
		TEST(store_lock_held),
		TEST(durable_lock_held),
		TEST(store_parent_missing),
		TEST(oversized_items),
		TEST(bad_user_names),
		TEST(longest_user_name),
		TEST(debug_argument),
		TEST(hostile_name_in_the_log),
	};

	it_init(argc, argv);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
