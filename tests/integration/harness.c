/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The integration harness (see harness.h).
 */
#include "config.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sched.h>
#include <sys/file.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "harness.h"
#include "json.h"
#include "wrappers.h"

#ifndef HL_IT_MODULE
#error "HL_IT_MODULE: the built pam_helpdesk_license.so"
#endif
#ifndef HL_IT_SRCDIR
#error "HL_IT_SRCDIR: tests/integration in the source tree"
#endif

/* Longest wait for a worker's answer, in seconds (HL_IT_TIMEOUT). */
#define IT_DEFAULT_TIMEOUT 120

/* The fixture of the running test, for failure reports. */
static struct it_fixture *current;

/* ------------------------------------------------------------------ */
/* Failures                                                           */
/* ------------------------------------------------------------------ */

static void dump_stderr(struct it_fixture *fx)
{
	char *text;
	size_t len;
	const char *line;

	if (fx == NULL)
		return;
	text = it_read_file(fx->stderr_log, &len);
	if (text == NULL || len == 0) {
		free(text);
		return;
	}
	/* The tail is what matters when it is long. */
	line = len > 16384 ? text + len - 16384 : text;
	print_error("--- workers' stderr (pam_syslog) ---\n");
	for (const char *p = line; *p;) {
		const char *nl = strchr(p, '\n');
		int n = nl ? (int)(nl - p) : (int)strlen(p);

		print_error("| %.*s\n", n, p);
		p += n + (nl ? 1 : 0);
	}
	print_error("--- end ---\n");
	free(text);
}

void it_fail(const char *file, int line, const char *fmt, ...)
{
	char buf[IT_MSG_MAX + 1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	print_error("%s\n", buf);
	dump_stderr(current);
	_fail(file, line);
	abort();	/* not reached: cmocka jumps out of the test */
}

#define FAIL(...) it_fail(__FILE__, __LINE__, __VA_ARGS__)

const char *it_pam_code(int rc)
{
	switch (rc) {
	case -1: return "(not run)";
	case PAM_SUCCESS: return "PAM_SUCCESS";
	case PAM_OPEN_ERR: return "PAM_OPEN_ERR";
	case PAM_SYMBOL_ERR: return "PAM_SYMBOL_ERR";
	case PAM_SERVICE_ERR: return "PAM_SERVICE_ERR";
	case PAM_SYSTEM_ERR: return "PAM_SYSTEM_ERR";
	case PAM_BUF_ERR: return "PAM_BUF_ERR";
	case PAM_PERM_DENIED: return "PAM_PERM_DENIED";
	case PAM_AUTH_ERR: return "PAM_AUTH_ERR";
	case PAM_CRED_INSUFFICIENT: return "PAM_CRED_INSUFFICIENT";
	case PAM_AUTHINFO_UNAVAIL: return "PAM_AUTHINFO_UNAVAIL";
	case PAM_USER_UNKNOWN: return "PAM_USER_UNKNOWN";
	case PAM_MAXTRIES: return "PAM_MAXTRIES";
	case PAM_NEW_AUTHTOK_REQD: return "PAM_NEW_AUTHTOK_REQD";
	case PAM_ACCT_EXPIRED: return "PAM_ACCT_EXPIRED";
	case PAM_SESSION_ERR: return "PAM_SESSION_ERR";
	case PAM_CRED_UNAVAIL: return "PAM_CRED_UNAVAIL";
	case PAM_CRED_EXPIRED: return "PAM_CRED_EXPIRED";
	case PAM_CRED_ERR: return "PAM_CRED_ERR";
	case PAM_NO_MODULE_DATA: return "PAM_NO_MODULE_DATA";
	case PAM_CONV_ERR: return "PAM_CONV_ERR";
	case PAM_AUTHTOK_ERR: return "PAM_AUTHTOK_ERR";
	case PAM_AUTHTOK_RECOVERY_ERR: return "PAM_AUTHTOK_RECOVERY_ERR";
	case PAM_AUTHTOK_LOCK_BUSY: return "PAM_AUTHTOK_LOCK_BUSY";
	case PAM_AUTHTOK_DISABLE_AGING: return "PAM_AUTHTOK_DISABLE_AGING";
	case PAM_TRY_AGAIN: return "PAM_TRY_AGAIN";
	case PAM_IGNORE: return "PAM_IGNORE";
	case PAM_ABORT: return "PAM_ABORT";
	case PAM_AUTHTOK_EXPIRED: return "PAM_AUTHTOK_EXPIRED";
	case PAM_MODULE_UNKNOWN: return "PAM_MODULE_UNKNOWN";
	case PAM_BAD_ITEM: return "PAM_BAD_ITEM";
	case PAM_CONV_AGAIN: return "PAM_CONV_AGAIN";
	case PAM_INCOMPLETE: return "PAM_INCOMPLETE";
	default: return "(unknown PAM code)";
	}
}

void _it_assert_rc(const struct it_result *res, int want, const char *what,
		   const char *file, int line)
{
	if (res->empty > 0)
		it_fail(file, line, "%s: %d empty message%s to the user (%s)",
			what, res->empty, res->empty == 1 ? "" : "s",
			it_pam_code(res->rc));
	if (res->rc == want)
		return;
	it_fail(file, line, "%s: expected %s (%d), got %s (%d)%s%s", what,
		it_pam_code(want), want, it_pam_code(res->rc), res->rc,
		res->msg[0] ? "; the module said: " : "; no message",
		res->msg);
}

void _it_assert_msg(const struct it_result *res, const char *needle,
		    const char *file, int line)
{
	if (strstr(res->msg, needle) != NULL)
		return;
	it_fail(file, line, "the message to the user lacks \"%s\"; it is: "
		"\"%s\" (%s)", needle, res->msg, it_pam_code(res->rc));
}

/* ------------------------------------------------------------------ */
/* Start-up: run under pam_wrapper and nss_wrapper                    */
/* ------------------------------------------------------------------ */

void it_init(int argc, char **argv)
{
	(void)argc;
	signal(SIGPIPE, SIG_IGN);
	/* Only workers may initialise pam_wrapper: see harness.h. */
	ts_run_wrapped(argv, HL_IT_SRCDIR "/passwd", HL_IT_SRCDIR "/group",
		       true);
}

/* ------------------------------------------------------------------ */
/* Files                                                              */
/* ------------------------------------------------------------------ */

bool it_exists(const char *path)
{
	struct stat st;

	return lstat(path, &st) == 0;
}

char *it_read_file(const char *path, size_t *len)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	size_t cap = 4096, used = 0;
	char *buf;

	if (len)
		*len = 0;
	if (fd < 0)
		return NULL;
	buf = malloc(cap + 1);
	if (buf == NULL) {
		close(fd);
		return NULL;
	}
	for (;;) {
		ssize_t n;

		if (used == cap) {
			char *bigger = realloc(buf, 2 * cap + 1);

			if (bigger == NULL) {
				free(buf);
				close(fd);
				return NULL;
			}
			buf = bigger;
			cap *= 2;
		}
		n = read(fd, buf + used, cap - used);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		used += (size_t)n;
	}
	close(fd);
	buf[used] = '\0';
	if (len)
		*len = used;
	return buf;
}

void it_write_file(const char *path, const void *data, size_t len,
		   mode_t mode)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW |
		      O_CLOEXEC, mode);
	const char *p = data;

	if (fd < 0)
		FAIL("cannot write %s: %s", path, strerror(errno));
	if (fchmod(fd, mode) != 0)
		FAIL("cannot chmod %s: %s", path, strerror(errno));
	while (len > 0) {
		ssize_t n = write(fd, p, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			FAIL("cannot write %s: %s", path, strerror(errno));
		p += n;
		len -= (size_t)n;
	}
	if (close(fd) != 0)
		FAIL("cannot write %s: %s", path, strerror(errno));
}

bool it_stderr_contains(struct it_fixture *fx, const char *needle)
{
	char *text = it_read_file(fx->stderr_log, NULL);
	bool found = text != NULL && strstr(text, needle) != NULL;

	free(text);
	return found;
}

size_t it_stderr_count(struct it_fixture *fx, const char *needle)
{
	char *text = it_read_file(fx->stderr_log, NULL);
	size_t n = 0;

	for (const char *p = text; p != NULL && (p = strstr(p, needle));
	     p += strlen(needle))
		n++;
	free(text);
	return n;
}

static int remove_entry(const char *path, const struct stat *st, int flag,
			struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	remove(path);
	return 0;
}

static void remove_tree(const char *dir)
{
	nftw(dir, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
}

/* pam_wrapper copies the services of a process into /tmp/pam.X and removes
 * them at exit; a process killed with SIGKILL leaves them behind. */
static void remove_pam_wrapper_dir(pid_t pid)
{
	const char *letters = "0123456789abcdefghijklmnopqrstuvwxyz"
			      "ABCDEFGHIJKLMNOPQRSTUVWXYZ";

	for (const char *c = letters; *c; c++) {
		char dir[32], pidfile[48];
		struct stat st;
		char *text;

		snprintf(dir, sizeof(dir), "/tmp/pam.%c", *c);
		if (lstat(dir, &st) != 0 || !S_ISDIR(st.st_mode) ||
		    st.st_uid != geteuid())
			continue;
		snprintf(pidfile, sizeof(pidfile), "%s/pid", dir);
		text = it_read_file(pidfile, NULL);
		if (text != NULL && atol(text) == (long)pid)
			remove_tree(dir);
		free(text);
	}
}

/* ------------------------------------------------------------------ */
/* Fixtures                                                           */
/* ------------------------------------------------------------------ */

static void path_in(char *out, const char *dir, const char *name)
{
	if (snprintf(out, PATH_MAX, "%s/%s", dir, name) >= PATH_MAX)
		FAIL("path too long: %s/%s", dir, name);
}

static void write_service(struct it_fixture *fx, const char *name,
			  const char *control, const char *args)
{
	char path[PATH_MAX];
	char text[4 * PATH_MAX];
	int n;

	path_in(path, fx->services, name);
	n = snprintf(text, sizeof(text),
		     "account %s %s %s\n"
		     "session %s %s %s\n",
		     control, HL_IT_MODULE, args, control, HL_IT_MODULE, args);
	if (n < 0 || (size_t)n >= sizeof(text))
		FAIL("service %s too long", name);
	it_write_file(path, text, (size_t)n, 0600);
}

void it_service(struct it_fixture *fx, const char *name, const char *text)
{
	char path[PATH_MAX];

	path_in(path, fx->services, name);
	it_write_file(path, text, strlen(text), 0600);
}

int it_setup(void **state)
{
	/* A module return code passes libpam unchanged with "done" for
	 * success and ignore, "die" for the rest: with "required", libpam
	 * turns PAM_IGNORE of a lone module into PAM_PERM_DENIED. */
	static const char *const transparent =
		"[success=done ignore=done default=die]";
	struct it_fixture *fx = calloc(1, sizeof(*fx));
	const char *tmp = getenv("TMPDIR");
	char args[2 * PATH_MAX + 64];
	char path[PATH_MAX];

	if (fx == NULL)
		return -1;
	if (tmp == NULL || *tmp == '\0')
		tmp = "/tmp";
	snprintf(fx->dir, sizeof(fx->dir), "%s/hl-it.XXXXXX", tmp);
	if (mkdtemp(fx->dir) == NULL || chmod(fx->dir, 0700) != 0) {
		print_error("mkdtemp %s: %s\n", fx->dir, strerror(errno));
		free(fx);
		return -1;
	}
	current = fx;
	path_in(fx->conf, fx->dir, "helpdesk-license.conf");
	path_in(fx->store_dir, fx->dir, "store");
	path_in(fx->store, fx->store_dir, "licenses.db");
	path_in(fx->runtime, fx->store_dir, "sessions.db");
	path_in(fx->log_dir, fx->dir, "log");
	path_in(fx->event_log, fx->log_dir, "events.log");
	path_in(fx->services, fx->dir, "services");
	path_in(fx->stderr_log, fx->dir, "stderr.log");
	if (mkdir(fx->services, 0700) != 0) {
		print_error("mkdir %s: %s\n", fx->services, strerror(errno));
		return -1;
	}

	snprintf(args, sizeof(args), "config=%s", fx->conf);
	write_service(fx, IT_SERVICE, transparent, args);
	write_service(fx, IT_SERVICE_IGNORED, transparent, args);
	write_service(fx, IT_SERVICE_REQUIRED, "required", args);
	snprintf(args, sizeof(args), "config=%s debug bogus=1", fx->conf);
	write_service(fx, IT_SERVICE_BADARG, transparent, args);
	path_in(path, fx->dir, "absent.conf");
	snprintf(args, sizeof(args), "config=%s", path);
	write_service(fx, IT_SERVICE_NOCONF, transparent, args);
	path_in(path, fx->dir, "link.conf");
	snprintf(args, sizeof(args), "config=%s", path);
	write_service(fx, IT_SERVICE_LINKCONF, transparent, args);

	/* libpam falls back on "other" and complains when it is missing. */
	it_service(fx, "other", "account required pam_deny.so\n"
		   "session required pam_deny.so\n");

	*state = fx;
	return 0;
}

static void worker_reap(struct it_worker *w, int sig);

int it_teardown(void **state)
{
	struct it_fixture *fx = *state;

	if (fx == NULL)
		return 0;
	for (size_t i = 0; i < IT_MAX_WORKERS; i++) {
		if (fx->workers[i] != NULL) {
			worker_reap(fx->workers[i], SIGKILL);
			free(fx->workers[i]);
			fx->workers[i] = NULL;
		}
	}
	if (getenv("HL_IT_VERBOSE") != NULL)
		dump_stderr(fx);
	if (getenv("HL_IT_KEEP") == NULL)
		remove_tree(fx->dir);
	else
		print_message("kept %s\n", fx->dir);
	unsetenv("PAM_WRAPPER_SERVICE_DIR");
	current = NULL;
	free(fx);
	*state = NULL;
	return 0;
}

void it_config(struct it_fixture *fx, const char *body)
{
	size_t len = strlen(body) + 3 * PATH_MAX + 64;
	char *text = malloc(len);
	int n;

	if (text == NULL)
		FAIL("no memory");
	/* One line for both stores: tests name the lines of body. */
	n = snprintf(text, len, "store = \"%s\"; runtime_store = \"%s\";\n"
		     "event_log = \"%s\";\n%s", fx->store, fx->runtime,
		     fx->event_log, body);
	it_write_file(fx->conf, text, (size_t)n, 0600);
	free(text);
}

static char *replace_all(const char *text, const char *what, const char *by)
{
	size_t wl = strlen(what), bl = strlen(by), count = 0;
	const char *p;
	char *out, *q;

	for (p = text; (p = strstr(p, what)) != NULL; p += wl)
		count++;
	out = malloc(strlen(text) + count * bl + 1);
	if (out == NULL)
		return NULL;
	for (p = text, q = out;;) {
		const char *hit = strstr(p, what);

		if (hit == NULL) {
			strcpy(q, p);
			break;
		}
		memcpy(q, p, (size_t)(hit - p));
		q += hit - p;
		memcpy(q, by, bl);
		q += bl;
		p = hit + wl;
	}
	return out;
}

void it_config_template(struct it_fixture *fx, const char *name)
{
	char path[PATH_MAX];
	char *text, *a, *b, *c;

	snprintf(path, sizeof(path), "%s/conf/%s", HL_IT_SRCDIR, name);
	text = it_read_file(path, NULL);
	if (text == NULL)
		FAIL("cannot read the template %s: %s", path, strerror(errno));
	a = replace_all(text, "@STORE@", fx->store);
	b = a ? replace_all(a, "@EVENT_LOG@", fx->event_log) : NULL;
	c = b ? replace_all(b, "@RUNTIME@", fx->runtime) : NULL;
	if (c == NULL)
		FAIL("no memory");
	it_write_file(fx->conf, c, strlen(c), 0600);
	free(text);
	free(a);
	free(b);
	free(c);
}

/* ------------------------------------------------------------------ */
/* Pipes                                                              */
/* ------------------------------------------------------------------ */

static int timeout_ms(void)
{
	const char *env = getenv("HL_IT_TIMEOUT");
	int s = env ? atoi(env) : 0;

	return (s > 0 ? s : IT_DEFAULT_TIMEOUT) * 1000;
}

static bool write_all(int fd, const void *data, size_t len)
{
	const char *p = data;

	while (len > 0) {
		ssize_t n = write(fd, p, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return false;
		p += n;
		len -= (size_t)n;
	}
	return true;
}

/* Reads exactly len bytes; false on EOF, error or (parent side, when
 * timeout_ms > 0) time out. */
static bool read_all(int fd, void *data, size_t len, int ms)
{
	char *p = data;

	while (len > 0) {
		ssize_t n;

		if (ms > 0) {
			struct pollfd pfd = { .fd = fd, .events = POLLIN };
			int r = poll(&pfd, 1, ms);

			if (r < 0 && errno == EINTR)
				continue;
			if (r <= 0)
				return false;
		}
		n = read(fd, p, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return false;
		p += n;
		len -= (size_t)n;
	}
	return true;
}

bool it_read_all(int fd, void *data, size_t len)
{
	return read_all(fd, data, len, timeout_ms());
}

/*
 * pam_wrapper (1.1.4) picks /tmp/pam.X for a process by lstat then mkdir,
 * and carries on when mkdir fails: two processes starting together may
 * share one directory, each copying its own services over the other's and
 * removing it at exit.  Test processes of ours (of any program, any build)
 * therefore set up pam_wrapper one at a time, under a lock in /tmp, with a
 * first pam_start of the "other" service; later pam_starts reuse the
 * directory.
 */
#define PWRAP_LOCK "/tmp/hl-it-pam_wrapper.lock"

static int pwrap_lock(void)
{
	for (int tries = 0; tries < 10; tries++) {
		/* No O_CREAT on an existing file: fs.protected_regular
		 * refuses it on another user's file in /tmp. */
		int fd = open(PWRAP_LOCK, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);

		if (fd < 0 && errno == ENOENT) {
			fd = open(PWRAP_LOCK, O_RDONLY | O_CREAT | O_EXCL |
				  O_NOFOLLOW | O_CLOEXEC, 0644);
			if (fd < 0 && errno == EEXIST)
				continue;
			if (fd >= 0)
				fchmod(fd, 0644);
		}
		if (fd < 0)
			return -1;
		while (flock(fd, LOCK_EX) != 0)
			if (errno != EINTR) {
				close(fd);
				return -1;
			}
		return fd;
	}
	return -1;
}

static int silent_conv(int num_msg, const struct pam_message **msg,
		       struct pam_response **resp, void *data)
{
	(void)num_msg;
	(void)msg;
	(void)resp;
	(void)data;
	return PAM_CONV_ERR;
}

static void pwrap_setup(void)
{
	struct pam_conv conv = { silent_conv, NULL };
	pam_handle_t *ph = NULL;
	const char *dir;
	char pidfile[PATH_MAX];
	char *text;
	int lock = pwrap_lock();

	if (lock < 0)
		fprintf(stderr, "harness: no lock %s (%s): pam_wrapper may "
			"give this process a directory in use\n", PWRAP_LOCK,
			strerror(errno));
	if (pam_start("other", "root", &conv, &ph) == PAM_SUCCESS)
		pam_end(ph, PAM_SUCCESS);
	if (lock >= 0)
		close(lock);
	dir = getenv("PAM_WRAPPER_RUNTIME_DIR");
	if (dir == NULL)
		return;
	snprintf(pidfile, sizeof(pidfile), "%s/pid", dir);
	text = it_read_file(pidfile, NULL);
	if (text == NULL || atol(text) != (long)getpid()) {
		fprintf(stderr, "harness: pam_wrapper gave process %ld the "
			"directory %s of process %s: another process outside "
			"this suite set up pam_wrapper at the same moment\n",
			(long)getpid(), dir, text ? text : "(none)");
		_exit(4);	/* leave its directory to its owner */
	}
	free(text);
}

/* In a child: keep fds[0..n-1] as 3..3+n-1, stderr and stdout to the
 * fixture's log, and close everything else, so the module runs with the
 * descriptors a login would have; then set up pam_wrapper. */
static void child_fds(struct it_fixture *fx, int *fds, int n)
{
	int log = open(fx->stderr_log, O_WRONLY | O_CREAT | O_APPEND |
		       O_CLOEXEC, 0600);

	if (log >= 0) {
		dup2(log, STDOUT_FILENO);
		dup2(log, STDERR_FILENO);
		close(log);
	}
	for (int i = 0; i < n; i++)
		fds[i] = fcntl(fds[i], F_DUPFD, 100);
	for (int i = 0; i < n; i++) {
		dup2(fds[i], 3 + i);
		fds[i] = 3 + i;
	}
	if (close_range((unsigned)(3 + n), ~0U, 0) != 0) {
		for (int fd = 3 + n; fd < 1024; fd++)
			close(fd);
	}
	/* Only here: a program the test itself runs must not set up
	 * pam_wrapper outside the lock. */
	setenv("PAM_WRAPPER_SERVICE_DIR", fx->services, 1);
	pwrap_setup();
}

pid_t it_fork(struct it_fixture *fx, int *fds, int n)
{
	pid_t pid;

	fflush(NULL);
	pid = fork();
	if (pid < 0)
		FAIL("fork: %s", strerror(errno));
	if (pid == 0)
		child_fds(fx, fds, n);
	return pid;
}

/* ------------------------------------------------------------------ */
/* Workers                                                            */
/* ------------------------------------------------------------------ */

enum it_op { OP_START, OP_ACCT, OP_OPEN, OP_CLOSE, OP_END, OP_EXIT,
	     OP_BOOT };

struct wire_cmd {
	int op;
	int handle;
	char service[64];
	char user[640];
	char tty[IT_ITEM_MAX];
	char rhost[IT_ITEM_MAX];
};

struct wire_reply {
	int rc;
	int handle;
	int errors;
	int infos;
	int empty;
	uint32_t msglen;
};

struct it_worker {
	struct it_fixture *fx;
	int number;
	pid_t pid;
	int cmd_fd;
	int reply_fd;
	bool gone;
};

static void result_add(struct it_result *res, const char *msg)
{
	size_t len, n;

	if (msg == NULL)
		msg = "";
	len = strlen(res->msg);
	n = strlen(msg);
	if (len + n + 2 > sizeof(res->msg))
		n = sizeof(res->msg) - len - 2;
	if (len > 0)
		res->msg[len++] = '\n';
	memcpy(res->msg + len, msg, n);
	res->msg[len + n] = '\0';
}

int it_conv(int num_msg, const struct pam_message **msg,
	    struct pam_response **resp, void *data)
{
	struct it_result *res = data;
	struct pam_response *reply;

	if (num_msg <= 0)
		return PAM_CONV_ERR;
	reply = calloc((size_t)num_msg, sizeof(*reply));
	if (reply == NULL)
		return PAM_BUF_ERR;
	for (int i = 0; i < num_msg; i++) {
		if (msg[i]->msg == NULL || msg[i]->msg[0] == '\0')
			res->empty++;
		switch (msg[i]->msg_style) {
		case PAM_ERROR_MSG:
			res->errors++;
			result_add(res, msg[i]->msg);
			break;
		case PAM_TEXT_INFO:
			res->infos++;
			result_add(res, msg[i]->msg);
			break;
		default:	/* nobody answers prompts here */
			free(reply);
			return PAM_CONV_ERR;
		}
	}
	*resp = reply;
	return PAM_SUCCESS;
}

static void reply_with(int fd, int rc, int handle, const struct it_result *log)
{
	struct wire_reply r = {
		.rc = rc, .handle = handle, .errors = log->errors,
		.infos = log->infos, .empty = log->empty, .msglen = (uint32_t)strlen(log->msg),
	};

	if (!write_all(fd, &r, sizeof(r)) ||
	    !write_all(fd, log->msg, r.msglen))
		exit(3);
}

static void worker_main(int cmd_fd, int reply_fd)
{
	static struct it_result log;
	pam_handle_t *handles[IT_MAX_HANDLES] = { NULL };
	int last_rc[IT_MAX_HANDLES] = { 0 };
	struct wire_cmd cmd;

	for (;;) {
		int rc = PAM_SYSTEM_ERR, h;
		pam_handle_t *ph;

		if (!read_all(cmd_fd, &cmd, sizeof(cmd), 0))
			cmd.op = OP_EXIT;	/* the test is gone */
		memset(&log, 0, sizeof(log));
		h = cmd.handle;
		ph = h >= 0 && h < IT_MAX_HANDLES ? handles[h] : NULL;
		switch (cmd.op) {
		case OP_START: {
			struct pam_conv conv = { it_conv, &log };

			for (h = 0; h < IT_MAX_HANDLES && handles[h]; h++)
				;
			if (h == IT_MAX_HANDLES) {
				h = -1;
				break;
			}
			rc = pam_start(cmd.service, cmd.user, &conv,
				       &handles[h]);
			if (rc != PAM_SUCCESS) {
				handles[h] = NULL;
				h = -1;
				break;
			}
			if (cmd.tty[0])
				pam_set_item(handles[h], PAM_TTY, cmd.tty);
			if (cmd.rhost[0])
				pam_set_item(handles[h], PAM_RHOST, cmd.rhost);
			break;
		}
		case OP_ACCT:
			if (ph)
				rc = last_rc[h] = pam_acct_mgmt(ph, 0);
			break;
		case OP_OPEN:
			if (ph)
				rc = last_rc[h] = pam_open_session(ph, 0);
			break;
		case OP_CLOSE:
			if (ph)
				rc = last_rc[h] = pam_close_session(ph, 0);
			break;
		case OP_END:
			if (ph) {
				rc = pam_end(ph, last_rc[h]);
				handles[h] = NULL;
			}
			break;
		case OP_BOOT:
			/* This process alone sees cmd.user (a file) as the
			 * boot id: a mount namespace of its own.  The kernel
			 * ignores the type of these mounts; "none" rather
			 * than NULL, which valgrind takes for a bad pointer. */
			rc = 0;
			if (unshare(CLONE_NEWNS) != 0 ||
			    mount("none", "/", "none", MS_REC | MS_PRIVATE,
				  NULL) != 0 ||
			    mount(cmd.user, "/proc/sys/kernel/random/boot_id",
				  "none", MS_BIND, NULL) != 0)
				rc = errno;
			break;
		case OP_EXIT:
		default:
			for (h = 0; h < IT_MAX_HANDLES; h++)
				if (handles[h])
					pam_end(handles[h], last_rc[h]);
			reply_with(reply_fd, PAM_SUCCESS, -1, &log);
			exit(0);	/* exit(3), so pam_wrapper cleans up */
		}
		reply_with(reply_fd, rc, h, &log);
	}
}

struct it_worker *it_worker(struct it_fixture *fx)
{
	struct it_worker *w;
	int to_child[2], from_child[2];
	size_t slot;

	for (slot = 0; slot < IT_MAX_WORKERS && fx->workers[slot]; slot++)
		;
	if (slot == IT_MAX_WORKERS)
		FAIL("more than %d workers in one test", IT_MAX_WORKERS);
	w = calloc(1, sizeof(*w));
	if (w == NULL)
		FAIL("no memory");
	if (pipe2(to_child, O_CLOEXEC) != 0 ||
	    pipe2(from_child, O_CLOEXEC) != 0)
		FAIL("pipe: %s", strerror(errno));
	fflush(NULL);
	w->pid = fork();
	if (w->pid < 0)
		FAIL("fork: %s", strerror(errno));
	if (w->pid == 0) {
		int fds[2] = { to_child[0], from_child[1] };

		child_fds(fx, fds, 2);
		worker_main(fds[0], fds[1]);
		exit(0);
	}
	close(to_child[0]);
	close(from_child[1]);
	w->fx = fx;
	w->number = (int)slot + 1;
	w->cmd_fd = to_child[1];
	w->reply_fd = from_child[0];
	fx->workers[slot] = w;
	return w;
}

pid_t it_worker_pid(const struct it_worker *w)
{
	return w->pid;
}

static const char *describe_status(int status, char *buf, size_t len)
{
	if (WIFEXITED(status))
		snprintf(buf, len, "exited with status %d",
			 WEXITSTATUS(status));
	else if (WIFSIGNALED(status))
		snprintf(buf, len, "was killed by signal %d (%s)",
			 WTERMSIG(status), strsignal(WTERMSIG(status)));
	else
		snprintf(buf, len, "stopped (status 0x%x)", status);
	return buf;
}

/* Stop waiting on w: optionally signal it, reap it, forget its pipes. */
static void worker_reap(struct it_worker *w, int sig)
{
	int status;

	if (w->gone)
		return;
	if (sig)
		kill(w->pid, sig);
	close(w->cmd_fd);
	close(w->reply_fd);
	while (waitpid(w->pid, &status, 0) < 0 && errno == EINTR)
		;
	if (sig == SIGKILL)
		remove_pam_wrapper_dir(w->pid);
	w->gone = true;
}

static int call(struct it_worker *w, struct wire_cmd *cmd,
		struct it_result *res)
{
	static const char *const names[] = {
		"pam_start", "pam_acct_mgmt", "pam_open_session",
		"pam_close_session", "pam_end", "exit", "boot id",
	};
	struct wire_reply r;
	struct it_result scratch;

	if (res == NULL)
		res = &scratch;
	memset(res, 0, sizeof(*res));
	if (w->gone)
		FAIL("worker %d is gone", w->number);
	if (!write_all(w->cmd_fd, cmd, sizeof(*cmd)) ||
	    !read_all(w->reply_fd, &r, sizeof(r), timeout_ms()) ||
	    r.msglen >= sizeof(res->msg) ||
	    !read_all(w->reply_fd, res->msg, r.msglen, timeout_ms())) {
		int status = 0;
		char how[128];
		pid_t got = waitpid(w->pid, &status, WNOHANG);

		if (got == 0) {
			kill(w->pid, SIGKILL);
			waitpid(w->pid, &status, 0);
			remove_pam_wrapper_dir(w->pid);
			snprintf(how, sizeof(how), "did not answer within "
				 "%d s (killed)", timeout_ms() / 1000);
		} else {
			describe_status(status, how, sizeof(how));
		}
		close(w->cmd_fd);
		close(w->reply_fd);
		w->gone = true;
		FAIL("worker %d (pid %ld, %s of user \"%.64s\") %s",
		     w->number, (long)w->pid, names[cmd->op], cmd->user, how);
	}
	res->msg[r.msglen] = '\0';
	res->rc = r.rc;
	res->handle = r.handle;
	res->errors = r.errors;
	res->infos = r.infos;
	res->empty = r.empty;
	return r.rc;
}

static void copy_field(char *dst, size_t len, const char *src,
		       const char *what)
{
	if (src == NULL)
		src = "";
	if (strlen(src) >= len)
		FAIL("%s too long for the harness: %zu bytes", what,
		     strlen(src));
	strcpy(dst, src);
}

int it_start(struct it_worker *w, const char *service, const char *user,
	     const char *tty, const char *rhost)
{
	struct wire_cmd cmd;
	struct it_result res;

	memset(&cmd, 0, sizeof(cmd));
	cmd.op = OP_START;
	cmd.handle = -1;
	copy_field(cmd.service, sizeof(cmd.service), service, "service");
	copy_field(cmd.user, sizeof(cmd.user), user, "user");
	copy_field(cmd.tty, sizeof(cmd.tty), tty, "tty");
	copy_field(cmd.rhost, sizeof(cmd.rhost), rhost, "rhost");
	if (call(w, &cmd, &res) != PAM_SUCCESS || res.handle < 0)
		FAIL("pam_start(\"%s\", \"%.64s\") in worker %d: %s",
		     service, user, w->number, it_pam_code(res.rc));
	return res.handle;
}

static int simple(struct it_worker *w, int op, int handle,
		  struct it_result *res)
{
	struct wire_cmd cmd;

	memset(&cmd, 0, sizeof(cmd));
	cmd.op = op;
	cmd.handle = handle;
	return call(w, &cmd, res);
}

int it_worker_boot_id(struct it_worker *w, const char *boot_id)
{
	struct wire_cmd cmd;
	char path[PATH_MAX], text[64];
	int n;

	path_in(path, w->fx->dir, "boot_id");
	n = snprintf(text, sizeof(text), "%s\n", boot_id);
	it_write_file(path, text, (size_t)n, 0644);
	memset(&cmd, 0, sizeof(cmd));
	cmd.op = OP_BOOT;
	cmd.handle = -1;
	copy_field(cmd.user, sizeof(cmd.user), path, "path");
	return call(w, &cmd, NULL);
}

int it_acct_on(struct it_worker *w, int handle, struct it_result *res)
{
	return simple(w, OP_ACCT, handle, res);
}

int it_open_on(struct it_worker *w, int handle, struct it_result *res)
{
	return simple(w, OP_OPEN, handle, res);
}

int it_close_on(struct it_worker *w, int handle, struct it_result *res)
{
	return simple(w, OP_CLOSE, handle, res);
}

void it_end(struct it_worker *w, int handle)
{
	simple(w, OP_END, handle, NULL);
}

int it_acct(struct it_worker *w, const char *service, const char *user,
	    struct it_result *res)
{
	int h = it_start(w, service, user, NULL, NULL);
	int rc = it_acct_on(w, h, res);

	it_end(w, h);
	return rc;
}

int it_open(struct it_worker *w, const char *service, const char *user,
	    struct it_result *res)
{
	char tty[32], rhost[32];
	int h, rc;

	snprintf(tty, sizeof(tty), "pts/%d", w->number);
	snprintf(rhost, sizeof(rhost), "192.0.2.%d", w->number);
	h = it_start(w, service, user, tty, rhost);
	rc = it_open_on(w, h, res);
	if (rc != PAM_SUCCESS)
		it_end(w, h);
	else
		res->handle = h;
	return rc;
}

int it_close(struct it_worker *w, int handle, struct it_result *res)
{
	int rc = it_close_on(w, handle, res);

	it_end(w, handle);
	return rc;
}

void it_worker_exit(struct it_worker *w)
{
	struct wire_cmd cmd;
	int status;
	char how[128];

	if (w->gone)
		return;
	memset(&cmd, 0, sizeof(cmd));
	cmd.op = OP_EXIT;
	cmd.handle = -1;
	call(w, &cmd, NULL);
	close(w->cmd_fd);
	close(w->reply_fd);
	while (waitpid(w->pid, &status, 0) < 0 && errno == EINTR)
		;
	w->gone = true;
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
		FAIL("worker %d (pid %ld) %s at exit (a sanitizer report?)",
		     w->number, (long)w->pid,
		     describe_status(status, how, sizeof(how)));
}

void it_kill(pid_t pid)
{
	int status;

	kill(pid, SIGKILL);
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	remove_pam_wrapper_dir(pid);
}

int it_reap(pid_t pid)
{
	int status = 0;

	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	remove_pam_wrapper_dir(pid);
	return status;
}

int it_tool(struct it_fixture *fx, const char *path, char *out, size_t len,
	    const char *a1, const char *a2, const char *a3)
{
	const char *argv[] = { path, "-c", fx->conf, a1, a2, a3, NULL };
	int pipefd[2], status;
	size_t used = 0;
	ssize_t n;
	pid_t pid;

	assert_int_equal(pipe2(pipefd, O_CLOEXEC), 0);
	fflush(NULL);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		dup2(pipefd[1], STDOUT_FILENO);
		unsetenv("PAM_WRAPPER");
		unsetenv("PAM_WRAPPER_SERVICE_DIR");
		execv(path, (char *const *)argv);
		_exit(127);
	}
	close(pipefd[1]);
	while ((n = read(pipefd[0], out + used, len - 1 - used)) > 0)
		used += (size_t)n;
	out[used] = '\0';
	close(pipefd[0]);
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

void it_worker_kill(struct it_worker *w)
{
	worker_reap(w, SIGKILL);
}

void it_workers_finish(struct it_fixture *fx)
{
	for (size_t i = 0; i < IT_MAX_WORKERS; i++)
		if (fx->workers[i] != NULL)
			it_worker_exit(fx->workers[i]);
}

/* ------------------------------------------------------------------ */
/* libpamtest, one shot                                               */
/* ------------------------------------------------------------------ */

#define IT_PAMTEST_MSGS 16

enum pamtest_err it_pamtest(struct it_fixture *fx, const char *service,
			    const char *user, struct pam_testcase *cases,
			    size_t n, char *messages, size_t messages_len)
{
	int pfd[2];
	pid_t pid;
	int status;
	char how[128];
	int perr = PAMTEST_ERR_INTERNAL;
	uint32_t len = 0;
	char *text;

	if (messages && messages_len)
		messages[0] = '\0';
	if (pipe2(pfd, O_CLOEXEC) != 0)
		FAIL("pipe: %s", strerror(errno));
	fflush(NULL);
	pid = fork();
	if (pid < 0)
		FAIL("fork: %s", strerror(errno));
	if (pid == 0) {
		/* Zero-filled message buffers, one more than needed: the
		 * Debian 12 libpamtest copies without a terminating NUL and
		 * crashes on a pam_error without conversation data. */
		static char err_buf[IT_PAMTEST_MSGS + 1][PAM_MAX_MSG_SIZE + 1];
		static char info_buf[IT_PAMTEST_MSGS + 1][PAM_MAX_MSG_SIZE + 1];
		char *out_err[IT_PAMTEST_MSGS + 1];
		char *out_info[IT_PAMTEST_MSGS + 1];
		struct pamtest_conv_data conv;
		static struct it_result log;
		int fds[1] = { pfd[1] };
		enum pamtest_err e;

		child_fds(fx, fds, 1);
		memset(&conv, 0, sizeof(conv));
		memset(&log, 0, sizeof(log));
		for (int i = 0; i <= IT_PAMTEST_MSGS; i++) {
			out_err[i] = err_buf[i];
			out_info[i] = info_buf[i];
		}
		conv.out_err = out_err;
		conv.out_info = out_info;
		for (size_t i = 0; i < n; i++)
			cases[i].op_rv = -1;
		e = _pamtest(service, user, &conv, cases, n, NULL);
		for (int i = 0; i < IT_PAMTEST_MSGS && err_buf[i][0]; i++)
			result_add(&log, err_buf[i]);
		for (int i = 0; i < IT_PAMTEST_MSGS && info_buf[i][0]; i++)
			result_add(&log, info_buf[i]);
		len = (uint32_t)strlen(log.msg);
		perr = (int)e;
		if (!write_all(fds[0], &perr, sizeof(perr)) ||
		    !write_all(fds[0], cases, n * sizeof(*cases)) ||
		    !write_all(fds[0], &len, sizeof(len)) ||
		    !write_all(fds[0], log.msg, len))
			exit(3);
		exit(0);
	}
	close(pfd[1]);
	text = calloc(1, IT_MSG_MAX + 1);
	if (text == NULL)
		FAIL("no memory");
	if (!read_all(pfd[0], &perr, sizeof(perr), timeout_ms()) ||
	    !read_all(pfd[0], cases, n * sizeof(*cases), timeout_ms()) ||
	    !read_all(pfd[0], &len, sizeof(len), timeout_ms()) ||
	    len > IT_MSG_MAX ||
	    !read_all(pfd[0], text, len, timeout_ms())) {
		kill(pid, SIGKILL);
		waitpid(pid, &status, 0);
		remove_pam_wrapper_dir(pid);
		close(pfd[0]);
		free(text);
		FAIL("libpamtest child (%s, user \"%.64s\") %s", service, user,
		     describe_status(status, how, sizeof(how)));
	}
	close(pfd[0]);
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		free(text);
		FAIL("libpamtest child (%s, user \"%.64s\") %s at exit",
		     service, user, describe_status(status, how, sizeof(how)));
	}
	if (messages && messages_len)
		snprintf(messages, messages_len, "%s", text);
	free(text);
	return (enum pamtest_err)perr;
}

static const char *op_name(enum pamtest_ops op)
{
	switch (op) {
	case PAMTEST_AUTHENTICATE: return "authenticate";
	case PAMTEST_SETCRED: return "setcred";
	case PAMTEST_ACCOUNT: return "account";
	case PAMTEST_OPEN_SESSION: return "open_session";
	case PAMTEST_CLOSE_SESSION: return "close_session";
	case PAMTEST_CHAUTHTOK: return "chauthtok";
	default: return "other";
	}
}

void _it_pamtest_expect(struct it_fixture *fx, const char *service,
			const char *user, struct pam_testcase *cases, size_t n,
			const char *file, int line)
{
	char errors[IT_MSG_MAX];
	enum pamtest_err e;

	e = it_pamtest(fx, service, user, cases, n, errors, sizeof(errors));
	if (e == PAMTEST_ERR_OK)
		return;
	for (size_t i = 0; i < n; i++) {
		if (cases[i].op_rv != cases[i].expected_rv)
			it_fail(file, line, "service %s, user \"%.64s\", %s: "
				"expected %s, got %s (%s)%s%s", service, user,
				op_name(cases[i].pam_operation),
				it_pam_code(cases[i].expected_rv),
				it_pam_code(cases[i].op_rv),
				pamtest_strerror(e),
				errors[0] ? "; the module said: " : "",
				errors);
	}
	it_fail(file, line, "service %s, user \"%.64s\": %s", service, user,
		pamtest_strerror(e));
}

/* ------------------------------------------------------------------ */
/* One flat JSON object a line (the event log)                        */
/* ------------------------------------------------------------------ */

int it_json_parse(const char *text, size_t len, struct it_json *out,
		  char *why, size_t why_len)
{
	struct jv *doc = ts_json_parse(text, len, why, why_len);
	int rc = 0;

	memset(out, 0, sizeof(*out));
	if (doc == NULL)
		return -1;
	if (doc->type != J_OBJECT) {
		snprintf(why, why_len, "not an object");
		rc = -1;
	} else if (jcount(doc) > sizeof(out->fields) / sizeof(out->fields[0])) {
		snprintf(why, why_len, "too many fields");
		rc = -1;
	}
	for (const struct jv *m = doc->first; rc == 0 && m; m = m->next) {
		struct it_json_field *f = &out->fields[out->count++];
		static const char types[] = {
			[J_NULL] = 'z', [J_BOOL] = 'b', [J_NUMBER] = 'n',
			[J_STRING] = 's', [J_ARRAY] = 'a', [J_OBJECT] = 'o',
		};

		snprintf(f->key, sizeof(f->key), "%s", m->key);
		f->type = types[m->type];
		/* Strings decoded, numbers as written, containers empty. */
		if (m->type == J_STRING || m->type == J_NUMBER)
			snprintf(f->value, sizeof(f->value), "%s", m->text);
		else if (m->type == J_BOOL)
			snprintf(f->value, sizeof(f->value), "%s",
				 m->truth ? "true" : "false");
		else if (m->type == J_NULL)
			snprintf(f->value, sizeof(f->value), "null");
	}
	jv_free(doc);
	return rc;
}

const struct it_json_field *it_json_get(const struct it_json *json,
					const char *key)
{
	for (size_t i = 0; i < json->count; i++)
		if (strcmp(json->fields[i].key, key) == 0)
			return &json->fields[i];
	return NULL;
}

bool it_iso8601_utc_ms(const char *t)
{
	/* 2026-11-29T22:19:31.123Z */
	static const char pattern[] = "dddd-dd-ddTdd:dd:dd.ddd";
	size_t n = strlen(pattern);

	if (strlen(t) < n)
		return false;
	for (size_t i = 0; i < n; i++) {
		if (pattern[i] == 'd' ? !isdigit((unsigned char)t[i])
				      : t[i] != pattern[i])
			return false;
	}
	return strcmp(t + n, "Z") == 0 || strcmp(t + n, "+00:00") == 0;
}

void it_write_garbage_store(struct it_fixture *fx, char *garbage, size_t len)
{
	uint32_t x = 2463534242u;	/* xorshift32: fixed, not random */

	for (size_t i = 0; i < len; i++) {
		x ^= x << 13;
		x ^= x >> 17;
		x ^= x << 5;
		garbage[i] = (char)(x & 0xff);
	}
	assert_int_equal(mkdir(fx->store_dir, 0700), 0);
	assert_int_equal(chmod(fx->store_dir, 0700), 0);
	it_write_file(fx->store, garbage, len, 0600);
}

bool it_proc_stat(pid_t pid, char *state, unsigned long long *start)
{
	char path[64], *text, *p;
	bool ok = false;

	snprintf(path, sizeof(path), "/proc/%ld/stat", (long)pid);
	text = it_read_file(path, NULL);
	/* comm may hold ')' and spaces: the fields start after the last ')'. */
	p = text ? strrchr(text, ')') : NULL;
	if (p != NULL && p[1] == ' ' && p[2] != '\0') {
		*state = p[2];
		p += 2;
		/* p is field 3; start time is field 22. */
		for (int field = 3; p != NULL && field < 22; field++) {
			p = strchr(p, ' ');
			if (p != NULL)
				p++;
		}
		ok = p != NULL && sscanf(p, "%llu", start) == 1;
	}
	free(text);
	return ok;
}
