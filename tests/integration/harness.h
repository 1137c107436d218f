/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The integration harness: the built pam_helpdesk_license.so through real
 * libpam, with pam_wrapper (services from a temporary directory) and
 * nss_wrapper (users and groups from tests/integration/passwd and group).
 *
 * Every PAM call runs in a forked child: a worker.  A worker is a process
 * that opens sessions and keeps them open until told otherwise, so the
 * module sees one process per worker (the session holder).  The test
 * process itself never calls libpam: pam_wrapper copies the services of
 * a process once, at its first pam_start, and each test has its own.
 *
 * Each test gets a fixture: a private temporary directory (mkdtemp, 0700)
 * holding the config, the store, the event log, the PAM services and the
 * captured stderr of its workers (pam_syslog goes there under pam_wrapper).
 */
#ifndef HL_IT_HARNESS_H
#define HL_IT_HARNESS_H

#include <limits.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <sys/types.h>

#include <cmocka.h>
#include <libpamtest.h>
#include <security/pam_appl.h>

#define IT_MAX_WORKERS 48
#define IT_MAX_HANDLES 16
#define IT_MSG_MAX 8192
#define IT_ITEM_MAX 16384		/* PAM_TTY and PAM_RHOST, NUL included */

/* The services every fixture provides (files in fixture->services). */
#define IT_SERVICE "hl"			/* account + session, codes seen as is */
#define IT_SERVICE_IGNORED "hl-ignored"	/* same stack; ignore_services lists it */
#define IT_SERVICE_REQUIRED "hl-required"	/* plain "required" lines */
#define IT_SERVICE_BADARG "hl-badarg"	/* an unknown module argument */
#define IT_SERVICE_NOCONF "hl-noconf"	/* config= a file that does not exist */
#define IT_SERVICE_LINKCONF "hl-linkconf"	/* config= a symlink to the config */

struct it_worker;

struct it_fixture {
	char dir[PATH_MAX];		/* the private temporary directory */
	char conf[PATH_MAX];		/* dir/helpdesk-license.conf */
	char store_dir[PATH_MAX];	/* dir/store */
	char store[PATH_MAX];		/* dir/store/licenses.db */
	char runtime[PATH_MAX];		/* dir/store/sessions.db */
	char log_dir[PATH_MAX];		/* dir/log */
	char event_log[PATH_MAX];	/* dir/log/events.log */
	char services[PATH_MAX];	/* dir/services */
	char stderr_log[PATH_MAX];	/* dir/stderr.log: the workers' stderr */
	struct it_worker *workers[IT_MAX_WORKERS];
};

/* What one PAM call returned, and what the module told the user. */
struct it_result {
	int rc;
	int handle;			/* it_open: the handle in the worker */
	int errors;			/* PAM_ERROR_MSG messages */
	int infos;			/* PAM_TEXT_INFO messages */
	int empty;			/* of them, with no text: never sent */
	char msg[IT_MSG_MAX];		/* all messages, one a line */
};

/* Call first in main(): re-executes the program under pam_wrapper and
 * nss_wrapper with tests/integration/passwd and group (ts_run_wrapped,
 * wrappers.h), unless that is done already. */
void it_init(int argc, char **argv);

/* cmocka setup and teardown: a fresh fixture in *state. */
int it_setup(void **state);
int it_teardown(void **state);

/* Write a service file of one's own (text as in /etc/pam.d).  Only before
 * the test's first worker calls pam_start: that is when pam_wrapper copies
 * the services. */
void it_service(struct it_fixture *fx, const char *name, const char *text);

/* Write the config: store and event_log lines pointing into the fixture,
 * then body.  The file is 0600, owned by the running user. */
void it_config(struct it_fixture *fx, const char *body);
/* Write the config from tests/integration/conf/NAME, replacing @STORE@ and
 * @EVENT_LOG@. */
void it_config_template(struct it_fixture *fx, const char *name);

/* A conversation function that records PAM_ERROR_MSG and PAM_TEXT_INFO
 * into the struct it_result given as appdata (rc and handle untouched). */
int it_conv(int num_msg, const struct pam_message **msg,
	    struct pam_response **resp, void *data);

/* fork(); in the child, fds[0..n-1] become 3..3+n-1 (updated in place),
 * every other descriptor is closed, stdout/stderr go to the fixture's
 * stderr log and pam_wrapper is set up, as in workers.  The child must
 * end with exit(3), so that pam_wrapper cleans up. */
pid_t it_fork(struct it_fixture *fx, int *fds, int n);
/* kill -9 a child of it_fork, reap it, remove its pam_wrapper copy. */
void it_kill(pid_t pid);
/* Reap a child of it_fork (however it ends), remove its pam_wrapper
 * copy; its wait status. */
int it_reap(pid_t pid);
/* Runs the admin tool at path (without pam_wrapper, which it does not
 * need) with "-c" the fixture's config and a1, a2, a3 (NULL ends them);
 * its stdout into out.  Returns its exit status. */
int it_tool(struct it_fixture *fx, const char *path, char *out, size_t len,
	    const char *a1, const char *a2, const char *a3);
/* Read exactly len bytes within the harness timeout; false on EOF. */
bool it_read_all(int fd, void *data, size_t len);

/* Workers. */
struct it_worker *it_worker(struct it_fixture *fx);
pid_t it_worker_pid(const struct it_worker *w);
/* pam_start on a new handle; tty and rhost may be NULL.  Returns the
 * handle number in the worker. */
int it_start(struct it_worker *w, const char *service, const char *user,
	     const char *tty, const char *rhost);
int it_acct_on(struct it_worker *w, int handle, struct it_result *res);
int it_open_on(struct it_worker *w, int handle, struct it_result *res);
int it_close_on(struct it_worker *w, int handle, struct it_result *res);
void it_end(struct it_worker *w, int handle);
/* From now on the worker sees boot_id as the boot id of the host (a
 * mount namespace of its own, over /proc/sys/kernel/random/boot_id):
 * its sessions belong to another boot.  0, or an errno value (not root). */
int it_worker_boot_id(struct it_worker *w, const char *boot_id);
/* pam_start, pam_acct_mgmt, pam_end. */
int it_acct(struct it_worker *w, const char *service, const char *user,
	    struct it_result *res);
/* pam_start (tty "pts/N", rhost "10.0.0.N" from the worker number),
 * pam_open_session; the session stays open, res->handle names it.  The
 * handle is ended at once when the open failed. */
int it_open(struct it_worker *w, const char *service, const char *user,
	    struct it_result *res);
/* pam_close_session and pam_end on what it_open returned. */
int it_close(struct it_worker *w, int handle, struct it_result *res);
/* Orderly exit (pam_end on what is left, no close); asserts exit status 0
 * (a sanitizer report in the worker fails the test). */
void it_worker_exit(struct it_worker *w);
/* kill -9, reap, and remove what pam_wrapper left in /tmp for it. */
void it_worker_kill(struct it_worker *w);
/* Exit every worker still running; asserts their exit status. */
void it_workers_finish(struct it_fixture *fx);

/* One-shot libpamtest run in a fresh child: cases[i].op_rv are filled in
 * (-1 for a case that did not run), messages (may be NULL) receives the
 * PAM_ERROR_MSG then the PAM_TEXT_INFO texts, one a line.  Returns the
 * pamtest_err. */
enum pamtest_err it_pamtest(struct it_fixture *fx, const char *service,
			    const char *user, struct pam_testcase *cases,
			    size_t n, char *messages, size_t messages_len);
/* Same, asserting every case returned what it expected. */
#define it_pamtest_expect(fx, service, user, cases) \
	_it_pamtest_expect((fx), (service), (user), (cases), \
			   sizeof(cases) / sizeof((cases)[0]), __FILE__, __LINE__)
void _it_pamtest_expect(struct it_fixture *fx, const char *service,
			const char *user, struct pam_testcase *cases, size_t n,
			const char *file, int line);

/* Assertions with PAM code names and the module's messages.  it_assert_rc
 * also fails on an empty message to the user, whatever the code. */
const char *it_pam_code(int rc);
#define it_assert_rc(res, want) \
	_it_assert_rc((res), (want), #res, __FILE__, __LINE__)
void _it_assert_rc(const struct it_result *res, int want, const char *what,
		   const char *file, int line);
#define it_assert_msg(res, needle) \
	_it_assert_msg((res), (needle), __FILE__, __LINE__)
void _it_assert_msg(const struct it_result *res, const char *needle,
		    const char *file, int line);

/* Files. */
bool it_exists(const char *path);
/* Whole file, NUL-terminated, malloc'd; NULL when missing.  *len may be
 * NULL. */
char *it_read_file(const char *path, size_t *len);
void it_write_file(const char *path, const void *data, size_t len,
		   mode_t mode);

/* A store of random bytes (the same ones every run) in the fixture's store
 * directory, made 0700: GDBM finds no magic number in it.  The bytes are
 * copied to garbage (len of them). */
void it_write_garbage_store(struct it_fixture *fx, char *garbage, size_t len);
/* State letter and start time (clock ticks since boot, field 22) of pid,
 * from /proc/PID/stat; false when it cannot be read (the process gone). */
bool it_proc_stat(pid_t pid, char *state, unsigned long long *start);
/* Text the workers wrote to stderr so far (pam_syslog under pam_wrapper). */
bool it_stderr_contains(struct it_fixture *fx, const char *needle);
/* How many times needle occurs in it. */
size_t it_stderr_count(struct it_fixture *fx, const char *needle);

/* The event log: one line holding one object, read by the tests' JSON
 * reader (json.h) and laid flat.  it_json_parse returns 0 and fills
 * fields (string values decoded, numbers and literals as written,
 * objects and arrays empty), or -1 with a reason. */
struct it_json_field {
	char key[64];
	char type;			/* 's' string, 'n' number, 'b' bool,
					   'z' null, 'o' object, 'a' array */
	char value[1024];
};
struct it_json {
	struct it_json_field fields[32];
	size_t count;
};
int it_json_parse(const char *text, size_t len, struct it_json *out,
		  char *why, size_t why_len);
const struct it_json_field *it_json_get(const struct it_json *json,
					const char *key);
/* "YYYY-MM-DDTHH:MM:SS.mmmZ" (or +00:00) */
bool it_iso8601_utc_ms(const char *text);

/* Test-side failure with a formatted message. */
void it_fail(const char *file, int line, const char *fmt, ...)
	__attribute__((format(printf, 3, 4), noreturn));

#endif
