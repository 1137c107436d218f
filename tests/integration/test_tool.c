/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The admin tool and the module on one store (helpdesk-license(8)): the built
 * helpdesk-license runs as a child process with -c the fixture's config,
 * while workers open and hold sessions through real libpam.
 *
 * The tool inherits the test's environment: LD_PRELOAD of nss_wrapper
 * (libasan first in a sanitizer build) and the nss_wrapper files, so it
 * sees the same users and groups as the module (a "check" of carol, who
 * exists only in tests/integration/passwd, shows it).  pam_wrapper is
 * taken out of its environment (see child_env).
 *
 * Users and groups (tests/integration/passwd, group):
 *   alice            no group of ours          (named by user)
 *   bob              callcentre                (named by group)
 *   carol, dave      field-east
 *   erin             field-east, field-west
 *   frank            field-east, helpdesk-admins
 *   gina             nothing at all
 */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <gdbm.h>
#include <grp.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "harness.h"
#include "json.h"

#ifndef HL_IT_TOOL
#error "HL_IT_TOOL: the built helpdesk-license"
#endif

#define FAIL(...) it_fail(__FILE__, __LINE__, __VA_ARGS__)

#define EAST_ONE \
	"concurrent = ( { pool = \"field-east\"; licenses = 1;" \
	" groups = [ \"field-east\" ]; } );\n"
#define NAMED_ONE \
	"named = { licenses = 1; users = [ \"alice\" ];" \
	" groups = [ \"callcentre\" ]; };\n"

/* Exit status of the tool when a sanitizer reported something (set in its
 * ASAN_OPTIONS and UBSAN_OPTIONS, so it can't pass for a "no"). */
#define SANITIZER_EXIT 86
/* Longest run of the tool, in milliseconds. */
#define TOOL_TIMEOUT_MS 120000

/* ------------------------------------------------------------------ */
/* What a failed test leaves behind                                   */
/* ------------------------------------------------------------------ */

/* A failing assertion jumps out of the test: the buffers and documents
 * it had are kept here, and freed by the teardown, so that a sanitizer
 * build reports the failure and not leaks that follow from it. */
#define HELD_MAX 64

static void *held_buffers[HELD_MAX];
static struct jv *held_docs[HELD_MAX];

static void *held_put(void **slots, void *p)
{
	if (p == NULL)
		return NULL;
	for (size_t i = 0; i < HELD_MAX; i++) {
		if (slots[i] == NULL) {
			slots[i] = p;
			return p;
		}
	}
	FAIL("more than %d buffers held at once", HELD_MAX);
}

static void held_take(void **slots, const void *p)
{
	for (size_t i = 0; p != NULL && i < HELD_MAX; i++)
		if (slots[i] == p)
			slots[i] = NULL;
}

static void *hold(void *p)
{
	return held_put(held_buffers, p);
}

static void held_free(void *p)
{
	held_take(held_buffers, p);
	free(p);
}

static struct jv *hold_doc(struct jv *doc)
{
	return held_put((void **)held_docs, doc);
}

static void doc_free(struct jv *doc)
{
	held_take((void **)held_docs, doc);
	jv_free(doc);
}

static int teardown(void **state)
{
	for (size_t i = 0; i < HELD_MAX; i++) {
		free(held_buffers[i]);
		held_buffers[i] = NULL;
		jv_free(held_docs[i]);
		held_docs[i] = NULL;
	}
	return it_teardown(state);
}

/* ------------------------------------------------------------------ */
/* Running the tool                                                   */
/* ------------------------------------------------------------------ */

struct run {
	int code;		/* exit status; 128 + N when killed by signal N */
	char *out;		/* stdout, NUL-terminated */
	size_t out_len;
	char *err;		/* stderr, NUL-terminated */
	size_t err_len;
	char cmd[512];		/* the command line, for failure reports */
};

static void run_free(struct run *r)
{
	held_free(r->out);
	held_free(r->err);
	memset(r, 0, sizeof(*r));
}

struct sink {
	int fd;
	char **buf;
	size_t *len;
	size_t cap;
};

/* Reads what fd has; false at end of file. */
static bool sink_read(struct sink *s)
{
	char chunk[4096];
	ssize_t n = read(s->fd, chunk, sizeof(chunk));

	if (n < 0 && (errno == EINTR || errno == EAGAIN))
		return true;
	if (n <= 0)
		return false;
	if (*s->len + (size_t)n + 1 > s->cap) {
		size_t cap = 2 * (*s->len + (size_t)n + 1);
		char *grown = realloc(*s->buf, cap);

		if (grown == NULL)
			FAIL("no memory");
		*s->buf = grown;
		s->cap = cap;
	}
	memcpy(*s->buf + *s->len, chunk, (size_t)n);
	*s->len += (size_t)n;
	(*s->buf)[*s->len] = '\0';
	return true;
}

/* The tool's environment, in the child before exec. */
static void child_env(void)
{
	static const char *const vars[] = { "ASAN_OPTIONS", "UBSAN_OPTIONS" };
	const char *preload = getenv("LD_PRELOAD");

	/* pam_wrapper sets itself up in every process that loads it with
	 * PAM_WRAPPER=1, PAM or not: a /tmp/pam.X directory of its own,
	 * made outside the harness's lock.  The tool uses no PAM: it runs
	 * without pam_wrapper, with nss_wrapper (and libasan) as they are. */
	if (preload != NULL) {
		char *copy = strdup(preload), *word, *save = NULL;
		char kept[4096] = "";

		if (copy == NULL)
			_exit(125);
		for (word = strtok_r(copy, " :", &save); word;
		     word = strtok_r(NULL, " :", &save)) {
			size_t used = strlen(kept);

			/* Joined by ':', so that valgrind, which removes
			 * its own libraries at an exec, finds them apart. */
			if (strstr(word, "libpam_wrapper") == NULL)
				snprintf(kept + used, sizeof(kept) - used,
					 "%s%s", used ? ":" : "", word);
		}
		free(copy);
		setenv("LD_PRELOAD", kept, 1);
	}
	unsetenv("PAM_WRAPPER");
	unsetenv("PAM_WRAPPER_SERVICE_DIR");

	for (size_t i = 0; i < 2; i++) {
		const char *old = getenv(vars[i]);
		char buf[2048];

		snprintf(buf, sizeof(buf), "%s%sexitcode=%d", old ? old : "",
			 old && *old ? ":" : "", SANITIZER_EXIT);
		setenv(vars[i], buf, 1);
	}
}

/* Runs exe with argv (argv[0] included), as uid unless it is (uid_t)-1,
 * stdin from /dev/null; fills r. */
static void spawn(const char *exe, uid_t uid, char *const *argv,
		  struct run *r)
{
	int out[2], err[2], status;
	struct sink sinks[2];
	bool open_[2] = { true, true };
	pid_t pid;

	run_free(r);
	for (size_t i = 0; argv[i]; i++) {
		size_t used = strlen(r->cmd);

		snprintf(r->cmd + used, sizeof(r->cmd) - used, "%s%s",
			 i ? " " : "", i ? argv[i] : "helpdesk-license");
	}
	r->out = calloc(1, 1);
	r->err = calloc(1, 1);
	if (r->out == NULL || r->err == NULL)
		FAIL("no memory");
	if (pipe2(out, O_CLOEXEC) != 0 || pipe2(err, O_CLOEXEC) != 0)
		FAIL("pipe: %s", strerror(errno));
	fflush(NULL);
	pid = fork();
	if (pid < 0)
		FAIL("fork: %s", strerror(errno));
	if (pid == 0) {
		int null = open("/dev/null", O_RDONLY);

		if (null < 0 || dup2(null, STDIN_FILENO) < 0 ||
		    dup2(out[1], STDOUT_FILENO) < 0 ||
		    dup2(err[1], STDERR_FILENO) < 0)
			_exit(125);
		if (close_range(3, ~0U, 0) != 0)
			for (int fd = 3; fd < 1024; fd++)
				close(fd);
		child_env();
		if (uid != (uid_t)-1 &&
		    (setgroups(0, NULL) != 0 || setgid((gid_t)uid) != 0 ||
		     setuid(uid) != 0)) {
			dprintf(STDERR_FILENO, "test: cannot become uid %ld: "
				"%s\n", (long)uid, strerror(errno));
			_exit(126);
		}
		execv(exe, argv);
		dprintf(STDERR_FILENO, "test: cannot run %s: %s\n", exe,
			strerror(errno));
		_exit(127);
	}
	close(out[1]);
	close(err[1]);
	sinks[0] = (struct sink){ out[0], &r->out, &r->out_len, 1 };
	sinks[1] = (struct sink){ err[0], &r->err, &r->err_len, 1 };
	while (open_[0] || open_[1]) {
		struct pollfd pfd[2];
		int n = 0, got;
		int which[2];

		for (int i = 0; i < 2; i++) {
			if (!open_[i])
				continue;
			pfd[n].fd = sinks[i].fd;
			pfd[n].events = POLLIN;
			which[n++] = i;
		}
		got = poll(pfd, (nfds_t)n, TOOL_TIMEOUT_MS);
		if (got < 0 && errno == EINTR)
			continue;
		if (got <= 0) {
			kill(pid, SIGKILL);
			waitpid(pid, &status, 0);
			close(out[0]);
			close(err[0]);
			FAIL("%s: no answer within %d s (killed)", r->cmd,
			     TOOL_TIMEOUT_MS / 1000);
		}
		for (int i = 0; i < n; i++) {
			if (pfd[i].revents == 0)
				continue;
			if (!sink_read(&sinks[which[i]])) {
				open_[which[i]] = false;
				close(sinks[which[i]].fd);
			}
		}
	}
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	hold(r->out);
	hold(r->err);
	if (WIFEXITED(status))
		r->code = WEXITSTATUS(status);
	else
		r->code = 128 + (WIFSIGNALED(status) ? WTERMSIG(status) : 0);
	if (r->code == SANITIZER_EXIT || r->code > 128 ||
	    strstr(r->err, "Sanitizer") || strstr(r->err, "runtime error:"))
		FAIL("%s: crashed or a sanitizer report (exit %d):\n%s",
		     r->cmd, r->code, r->err);
	if (r->code >= 125 && r->code <= 127)
		FAIL("%s: %s", r->cmd, r->err);
}

#define TOOL_ARGS_MAX 16

static int tool_v(struct run *r, const char *exe, uid_t uid,
		  const char *conf, va_list ap)
{
	char *argv[TOOL_ARGS_MAX + 4];
	size_t n = 0;
	const char *arg;

	argv[n++] = (char *)exe;
	if (conf != NULL) {
		argv[n++] = (char *)"-c";
		argv[n++] = (char *)conf;
	}
	while ((arg = va_arg(ap, const char *)) != NULL) {
		if (n == TOOL_ARGS_MAX)
			FAIL("too many arguments");
		argv[n++] = (char *)arg;
	}
	argv[n] = NULL;
	spawn(exe, uid, argv, r);
	return r->code;
}

/* helpdesk-license -c FIXTURE-CONFIG ARGS..., as this process's user. */
static int tool(struct it_fixture *fx, struct run *r, ...)
{
	va_list ap;
	int rc;

	va_start(ap, r);
	rc = tool_v(r, HL_IT_TOOL, (uid_t)-1, fx->conf, ap);
	va_end(ap);
	return rc;
}
#define TOOL(fx, r, ...) tool((fx), (r), __VA_ARGS__, (const char *)NULL)

/* helpdesk-license ARGS..., no -c. */
static int tool_bare(struct run *r, ...)
{
	va_list ap;
	int rc;

	va_start(ap, r);
	rc = tool_v(r, HL_IT_TOOL, (uid_t)-1, NULL, ap);
	va_end(ap);
	return rc;
}
#define TOOL_BARE(r, ...) tool_bare((r), __VA_ARGS__, (const char *)NULL)

/* exe -c conf ARGS..., as uid. */
static int tool_as(struct run *r, const char *exe, uid_t uid,
		   const char *conf, ...)
{
	va_list ap;
	int rc;

	va_start(ap, conf);
	rc = tool_v(r, exe, uid, conf, ap);
	va_end(ap);
	return rc;
}
#define TOOL_AS(r, exe, uid, conf, ...) \
	tool_as((r), (exe), (uid), (conf), __VA_ARGS__, (const char *)NULL)

static void _expect_code(const struct run *r, int code, const char *file,
			 int line)
{
	if (r->code == code)
		return;
	it_fail(file, line, "%s: exit %d, expected %d\n--- stdout ---\n%s"
		"--- stderr ---\n%s--- end ---", r->cmd, r->code, code, r->out,
		r->err);
}
#define expect_code(r, code) _expect_code((r), (code), __FILE__, __LINE__)

static void _expect_in(const struct run *r, const char *text,
		       const char *where, const char *needle,
		       const char *file, int line)
{
	if (strstr(text, needle) != NULL)
		return;
	it_fail(file, line, "%s: \"%s\" not on %s\n--- stdout ---\n%s"
		"--- stderr ---\n%s--- end ---", r->cmd, needle, where, r->out,
		r->err);
}
#define expect_out(r, needle) \
	_expect_in((r), (r)->out, "stdout", (needle), __FILE__, __LINE__)
#define expect_err(r, needle) \
	_expect_in((r), (r)->err, "stderr", (needle), __FILE__, __LINE__)

static void _expect_empty(const struct run *r, const char *text,
			  const char *where, const char *file, int line)
{
	if (*text == '\0')
		return;
	it_fail(file, line, "%s: %s is not empty:\n%s", r->cmd, where, text);
}
#define expect_no_out(r) \
	_expect_empty((r), (r)->out, "stdout", __FILE__, __LINE__)
#define expect_no_err(r) \
	_expect_empty((r), (r)->err, "stderr", __FILE__, __LINE__)

static size_t count_lines(const char *text)
{
	size_t n = 0;

	for (; *text; text++)
		n += *text == '\n';
	return n;
}

/* The document on stdout of r; fails the test when it is not one. */
static struct jv *_expect_json(const struct run *r, const char *file,
			       int line)
{
	char why[160];
	struct jv *v = ts_json_parse(r->out, r->out_len, why, sizeof(why));

	if (v == NULL)
		it_fail(file, line, "%s: not one JSON document: %s\n"
			"--- stdout ---\n%s--- end ---", r->cmd, why, r->out);
	hold_doc(v);
	if (r->out_len == 0 || r->out[r->out_len - 1] != '\n')
		it_fail(file, line, "%s: the document does not end with a "
			"newline", r->cmd);
	return v;
}
#define expect_json(r) _expect_json((r), __FILE__, __LINE__)

static void _expect_member(const struct jv *obj, const char *key,
			   enum jtype type, const char *what,
			   const char *file, int line)
{
	static const char *const names[] = {
		"null", "boolean", "number", "string", "array", "object",
	};
	const struct jv *v = jget(obj, key);

	if (v == NULL)
		it_fail(file, line, "%s: no \"%s\"", what, key);
	if (v->type != type)
		it_fail(file, line, "%s: \"%s\" is a %s, not a %s", what, key,
			names[v->type], names[type]);
}
#define expect_member(obj, key, type, what) \
	_expect_member((obj), (key), (type), (what), __FILE__, __LINE__)

/* "YYYY-MM-DDTHH:MM:SSZ" */
static bool utc_seconds(const char *t)
{
	static const char pattern[] = "dddd-dd-ddTdd:dd:ddZ";

	if (t == NULL || strlen(t) != strlen(pattern))
		return false;
	for (size_t i = 0; pattern[i]; i++)
		if (pattern[i] == 'd' ? t[i] < '0' || t[i] > '9'
				      : t[i] != pattern[i])
			return false;
	return true;
}

/* The fields helpdesk-license(8) promises, in list and reap documents. */
static void expect_listing(const struct jv *doc, const char *what)
{
	static const char *const strings[] = {
		"host", "service", "tty", "rhost", "since",
	};

	expect_member(doc, "concurrent", J_ARRAY, what);
	expect_member(doc, "named", J_ARRAY, what);
	for (int k = 0; k < 2; k++) {
		const char *kind = k ? "named" : "concurrent";

		for (const struct jv *h = jfirst(doc, kind); h; h = h->next) {
			if (h->type != J_OBJECT)
				FAIL("%s: a holder is not an object", what);
			if (k == 0) {
				expect_member(h, "pool", J_STRING, what);
				expect_member(h, "slot", J_NUMBER, what);
			}
			expect_member(h, "user", J_STRING, what);
			expect_member(h, "since", J_STRING, what);
			if (!utc_seconds(jstr(h, "since")))
				FAIL("%s: since \"%s\" is not UTC ISO 8601",
				     what, jstr(h, "since"));
			expect_member(h, "sessions", J_ARRAY, what);
			for (const struct jv *s = jfirst(h, "sessions"); s;
			     s = s->next) {
				expect_member(s, "pid", J_NUMBER, what);
				for (size_t i = 0; i < 5; i++)
					expect_member(s, strings[i], J_STRING,
						      what);
				expect_member(s, "session", J_STRING, what);
				expect_member(s, "stale", J_BOOL, what);
				if (!utc_seconds(jstr(s, "since")))
					FAIL("%s: session since \"%s\"", what,
					     jstr(s, "since"));
			}
		}
	}
}

/* The holder of kind ("concurrent" or "named") for user, or NULL. */
static const struct jv *holder(const struct jv *doc, const char *kind,
			       const char *user)
{
	const struct jv *list = jget(doc, kind);

	for (const struct jv *h = list ? list->first : NULL; h; h = h->next)
		if (jstr(h, "user") && strcmp(jstr(h, "user"), user) == 0)
			return h;
	return NULL;
}

/* The session of a holder opened by pid, or NULL. */
static const struct jv *session_of(const struct jv *h, pid_t pid)
{
	const struct jv *list = jget(h, "sessions");

	for (const struct jv *s = list ? list->first : NULL; s; s = s->next)
		if (jnum(s, "pid") == (long)pid)
			return s;
	return NULL;
}

/* list --json, checked; the caller frees it. */
static struct jv *listing(struct it_fixture *fx)
{
	struct run r = { 0 };
	struct jv *doc;

	TOOL(fx, &r, "--json", "list");
	expect_code(&r, 0);
	expect_no_err(&r);
	doc = expect_json(&r);
	expect_listing(doc, r.cmd);
	run_free(&r);
	return doc;
}

/* ------------------------------------------------------------------ */
/* Small helpers                                                      */
/* ------------------------------------------------------------------ */

static char *event_log(struct it_fixture *fx)
{
	char *text = it_read_file(fx->event_log, NULL);

	return hold(text ? text : strdup(""));
}

static void path_in(char *out, const char *dir, const char *name)
{
	if (snprintf(out, PATH_MAX, "%s/%s", dir, name) >= PATH_MAX)
		FAIL("path too long: %s/%s", dir, name);
}

/* The damaged copies repair kept in the store directory. */
static size_t backups(struct it_fixture *fx, char first[PATH_MAX])
{
	DIR *d = opendir(fx->store_dir);
	struct dirent *e;
	size_t n = 0;

	if (d == NULL)
		FAIL("opendir %s: %s", fx->store_dir, strerror(errno));
	while ((e = readdir(d)) != NULL) {
		if (strncmp(e->d_name, "licenses.db.damaged-", 20) != 0)
			continue;
		if (n++ == 0)
			path_in(first, fx->store_dir, e->d_name);
	}
	closedir(d);
	return n;
}

/* Every line at most 80 columns (UTF-8 characters) and free of control
 * characters. */
static void _expect_fits(const struct run *r, const char *skip_prefix,
			 const char *file, int line)
{
	const char *p = r->out;
	int n = 1;

	while (*p) {
		const char *nl = strchr(p, '\n');
		size_t bytes = nl ? (size_t)(nl - p) : strlen(p);
		size_t cols = 0;

		if (nl == NULL)
			it_fail(file, line, "%s: the output does not end with "
				"a newline", r->cmd);
		for (size_t i = 0; i < bytes; i++) {
			unsigned char c = (unsigned char)p[i];

			if (c < 0x20 || c == 0x7f)
				it_fail(file, line, "%s: line %d has control "
					"character 0x%02x:\n%s", r->cmd, n, c,
					r->out);
			cols += (c & 0xc0) != 0x80;
		}
		if (cols > 80 && (skip_prefix == NULL ||
				  strncmp(p, skip_prefix,
					  strlen(skip_prefix)) != 0))
			it_fail(file, line, "%s: line %d has %zu columns:\n"
				"%.*s", r->cmd, n, cols, (int)bytes, p);
		p += bytes + 1;
		n++;
	}
}
#define expect_fits(r, skip) _expect_fits((r), (skip), __FILE__, __LINE__)

/* ------------------------------------------------------------------ */
/* release                                                            */
/* ------------------------------------------------------------------ */

/* release frees a slot that the next login gets; the released session's
 * own close later gives back nothing (the slot is someone else's now). */
static void release_frees_slot(void **state)
{
	struct it_fixture *fx = *state;
	struct it_worker *a, *b, *c;
	struct it_result ra, rb, r;
	struct run t = { 0 };
	struct jv *doc;
	const struct jv *h;
	char *log;

	it_config(fx, "show_holders = true;\n" EAST_ONE);
	a = it_worker(fx);
	b = it_worker(fx);
	c = it_worker(fx);
	it_open(a, IT_SERVICE, "carol", &ra);
	it_assert_rc(&ra, PAM_SUCCESS);
	it_open(b, IT_SERVICE, "dave", &r);
	it_assert_rc(&r, PAM_PERM_DENIED);

	TOOL(fx, &t, "release", "carol");
	expect_code(&t, 0);
	expect_out(&t, "carol");
	expect_out(&t, "field-east");
	log = event_log(fx);
	if (strstr(log, "\"admin-release\"") == NULL)
		FAIL("no admin-release event in the event log:\n%s", log);
	held_free(log);

	it_open(b, IT_SERVICE, "dave", &rb);
	it_assert_rc(&rb, PAM_SUCCESS);

	/* carol's session ends: it held nothing any more, and dave keeps
	 * his slot. */
	it_close(a, ra.handle, &r);
	it_assert_rc(&r, PAM_SUCCESS);
	doc = listing(fx);
	assert_int_equal(jcount(jget(doc, "concurrent")), 1);
	h = holder(doc, "concurrent", "dave");
	if (h == NULL || strcmp(jstr(h, "pool"), "field-east") != 0 ||
	    jnum(h, "slot") != 1 || jcount(jget(h, "sessions")) != 1 ||
	    session_of(h, it_worker_pid(b)) == NULL)
		FAIL("dave does not hold slot 1 of field-east with his one "
		     "session after carol's close");
	doc_free(doc);
	it_open(c, IT_SERVICE, "erin", &r);
	it_assert_rc(&r, PAM_PERM_DENIED);
	it_assert_msg(&r, "dave");

	/* Nothing to release: a "no", with a message, nothing on stdout. */
	TOOL(fx, &t, "release", "gina");
	expect_code(&t, 1);
	expect_err(&t, "gina");
	expect_no_out(&t);
	TOOL(fx, &t, "release", "carol");
	expect_code(&t, 1);
	expect_err(&t, "carol");
	/* The wrong pool: refused, and dave still holds his slot. */
	TOOL(fx, &t, "release", "dave", "--pool", "field-west");
	expect_code(&t, 1);
	expect_err(&t, "field-west");
	expect_no_out(&t);
	it_open(c, IT_SERVICE, "erin", &r);
	it_assert_rc(&r, PAM_PERM_DENIED);
	/* The right pool. */
	TOOL(fx, &t, "release", "--pool", "field-east", "dave");
	expect_code(&t, 0);
	it_open(c, IT_SERVICE, "erin", &r);
	it_assert_rc(&r, PAM_SUCCESS);
	it_close(b, rb.handle, &r);
	it_assert_rc(&r, PAM_SUCCESS);
	doc = listing(fx);
	if (holder(doc, "concurrent", "erin") == NULL ||
	    jcount(jget(doc, "concurrent")) != 1)
		FAIL("erin's slot went with dave's close");
	doc_free(doc);
	run_free(&t);
	it_workers_finish(fx);
}

/* ------------------------------------------------------------------ */
/* check                                                              */
/* ------------------------------------------------------------------ */

/* Blanks the value of every "idle_s" of a --json listing: a session's
 * tty may exist on the test machine (another login's /dev/pts/N), and its
 * idle time then grows by a second between two listings. */
static void blank_idle(char *json)
{
	for (char *p = json; (p = strstr(p, "\"idle_s\":")) != NULL;) {
		char *end;

		p += strlen("\"idle_s\":");
		/* A number, or null while the tty a session names (a made-up
		 * one) is missing: the machine's ptys come and go. */
		end = strncmp(p, "null", 4) == 0 ? p + 4 : p;
		while (*end >= '0' && *end <= '9')
			end++;
		memmove(p + 1, end, strlen(end) + 1);
		*p++ = '_';
	}
}

/* check USER: exit code and sentence; and it takes nothing (list is the
 * same after it) and logs nothing (the event log is the same). */
static void _check_is(struct it_fixture *fx, const char *user, int code,
		      const char *needle, const char *verdict,
		      const char *file, int line)
{
	struct run before = { 0 }, after = { 0 }, t = { 0 };
	char *log_before = event_log(fx), *log_after;
	struct jv *doc;
	const char *got;

	TOOL(fx, &before, "--json", "list");
	_expect_code(&before, 0, file, line);
	TOOL(fx, &t, "check", user);
	_expect_code(&t, code, file, line);
	if (needle)
		_expect_in(&t, t.out, "stdout", needle, file, line);
	if (code == 0 && count_lines(t.out) != 1)
		it_fail(file, line, "%s: not one line:\n%s", t.cmd, t.out);
	TOOL(fx, &t, "--json", "check", user);
	_expect_code(&t, code, file, line);
	doc = _expect_json(&t, file, line);
	got = jstr(doc, "verdict");
	if (got == NULL || strcmp(got, verdict) != 0 ||
	    jstr(doc, "user") == NULL || strcmp(jstr(doc, "user"), user) != 0)
		it_fail(file, line, "%s: verdict \"%s\", expected \"%s\":\n%s",
			t.cmd, got ? got : "(none)", verdict, t.out);
	doc_free(doc);
	TOOL(fx, &after, "--json", "list");
	_expect_code(&after, 0, file, line);
	blank_idle(before.out);
	blank_idle(after.out);
	if (strcmp(before.out, after.out) != 0)
		it_fail(file, line, "check %s changed the store:\n%s\n%s",
			user, before.out, after.out);
	log_after = event_log(fx);
	if (strcmp(log_before, log_after) != 0)
		it_fail(file, line, "check %s wrote to the event log:\n%s",
			user, log_after + strlen(log_before));
	held_free(log_before);
	held_free(log_after);
	run_free(&before);
	run_free(&after);
	run_free(&t);
}
#define check_is(fx, user, code, needle, verdict) \
	_check_is((fx), (user), (code), (needle), (verdict), __FILE__, \
		  __LINE__)

/* check agrees with the login that follows it, for each step of the
 * decision. */
static void check_agrees_with_login(void **state)
{
	struct it_fixture *fx = *state;
	struct it_worker *w1, *w2, *w3, *w4;
	struct it_result r;
	struct run t = { 0 };

	it_config(fx, "show_holders = true;\n"
		  "exempt = { users = [ \"root\" ];"
		  " groups = [ \"helpdesk-admins\" ]; };\n"
		  NAMED_ONE EAST_ONE);
	w1 = it_worker(fx);
	w2 = it_worker(fx);
	w3 = it_worker(fx);
	w4 = it_worker(fx);

	/* A free Named license: check allocates nothing (the store does not
	 * even exist yet), the login does. */
	check_is(fx, "alice", 0, "alice would be granted", "granted");
	it_open(w1, IT_SERVICE, "alice", &r);
	it_assert_rc(&r, PAM_SUCCESS);
	/* A Named holder's next session. */
	check_is(fx, "alice", 0, "Named license", "granted");
	it_open(w2, IT_SERVICE, "alice", &r);
	it_assert_rc(&r, PAM_SUCCESS);
	/* Named-eligible, all Named licenses allocated, no pool. */
	check_is(fx, "bob", 1, "refused", "refused");
	it_open(w3, IT_SERVICE, "bob", &r);
	it_assert_rc(&r, PAM_PERM_DENIED);

	/* A free slot, then the holder's own second session. */
	check_is(fx, "carol", 0, "field-east", "granted");
	it_open(w3, IT_SERVICE, "carol", &r);
	it_assert_rc(&r, PAM_SUCCESS);
	check_is(fx, "carol", 0, "join", "granted");
	it_open(w2, IT_SERVICE, "carol", &r);
	it_assert_rc(&r, PAM_SUCCESS);

	/* The pool is full: refused, with who holds it. */
	check_is(fx, "dave", 1, "carol", "refused");
	TOOL(fx, &t, "check", "dave");
	expect_out(&t, "field-east");
	it_open(w4, IT_SERVICE, "dave", &r);
	it_assert_rc(&r, PAM_PERM_DENIED);

	/* No license at all, unlicensed = deny. */
	check_is(fx, "gina", 1, "refused", "refused");
	it_acct(w4, IT_SERVICE, "gina", &r);
	it_assert_rc(&r, PAM_PERM_DENIED);

	/* Exempt by group, and by user: not concerned, exit 0. */
	check_is(fx, "frank", 0, "not concerned", "not concerned");
	it_open(w4, IT_SERVICE, "frank", &r);
	it_assert_rc(&r, PAM_IGNORE);
	check_is(fx, "root", 0, "not concerned", "not concerned");
	run_free(&t);
	it_workers_finish(fx);
}

/* A user NSS does not know, or a name the module refuses: a "no", and the
 * message names the user (an admin checking a list of users must see
 * which one). */
static void check_unknown_user(void **state)
{
	struct it_fixture *fx = *state;
	static const char *const users[] = { "nosuchuser", "slash/user" };
	struct run t = { 0 };

	it_config(fx, NAMED_ONE EAST_ONE);
	/* A name with an escape sequence is refused, and not echoed raw to
	 * the terminal. */
	TOOL(fx, &t, "check", "esc\033[31muser");
	expect_code(&t, 1);
	if (strchr(t.err, '\033') != NULL)
		FAIL("%s: a raw escape character on stderr", t.cmd);
	TOOL(fx, &t, "release", "esc\033[31muser");
	expect_code(&t, 1);
	if (strchr(t.err, '\033') != NULL)
		FAIL("%s: a raw escape character on stderr", t.cmd);

	for (size_t i = 0; i < sizeof(users) / sizeof(users[0]); i++) {
		TOOL(fx, &t, "check", users[i]);
		expect_code(&t, 1);
		expect_no_out(&t);
		expect_err(&t, users[i]);
		TOOL(fx, &t, "assign", users[i]);
		expect_code(&t, 1);
		expect_err(&t, users[i]);
		TOOL(fx, &t, "release", users[i]);
		expect_code(&t, 1);
		expect_err(&t, users[i]);
		TOOL(fx, &t, "unassign", users[i]);
		expect_code(&t, 1);
		expect_err(&t, users[i]);
	}
	run_free(&t);
}

/* unlicensed = ignore: a user with no license is not concerned. */
static void check_unlicensed_ignore(void **state)
{
	struct it_fixture *fx = *state;
	struct it_worker *w;
	struct it_result r;

	it_config(fx, "unlicensed = \"ignore\";\n" EAST_ONE);
	w = it_worker(fx);
	check_is(fx, "gina", 0, "not concerned", "not concerned");
	it_open(w, IT_SERVICE, "gina", &r);
	it_assert_rc(&r, PAM_IGNORE);
	it_workers_finish(fx);
}

/* status reports what a lowered or changed config leaves behind, and
 * nobody is thrown out (pam_helpdesk_license(8), "Decision"). */
/* alice and bob get a Named license (assign), then carol and dave log in
 * on w1 and w2 (a slot each, in field-east). */
static void hold_four(struct it_fixture *fx, struct it_worker *w1,
		      struct it_worker *w2)
{
	struct run t = { 0 };
	struct it_result r;

	TOOL(fx, &t, "assign", "alice");
	expect_code(&t, 0);
	TOOL(fx, &t, "assign", "bob");
	expect_code(&t, 0);
	run_free(&t);
	it_open(w1, IT_SERVICE, "carol", &r);
	it_assert_rc(&r, PAM_SUCCESS);
	it_open(w2, IT_SERVICE, "dave", &r);
	it_assert_rc(&r, PAM_SUCCESS);
}

static void status_after_config_changes(void **state)
{
	struct it_fixture *fx = *state;
	struct it_worker *w1, *w2, *w3;
	struct it_result r;
	struct run t = { 0 };
	struct jv *doc;
	const struct jv *p, *n;
	bool over_named = false, over_pool = false, ineligible = false;

	it_config(fx, "named = { licenses = 2;"
		  " users = [ \"alice\", \"bob\" ]; };\n"
		  "concurrent = ( { pool = \"field-east\"; licenses = 2;"
		  " groups = [ \"field-east\" ]; } );\n");
	w1 = it_worker(fx);
	w2 = it_worker(fx);
	w3 = it_worker(fx);
	hold_four(fx, w1, w2);
	TOOL(fx, &t, "--json", "status");
	expect_code(&t, 0);
	doc = expect_json(&t);
	if (jcount(jget(doc, "warnings")) != 0)
		FAIL("warnings with nothing wrong:\n%s", t.out);
	doc_free(doc);

	/* Fewer licenses than allocations in force. */
	it_config(fx, "named = { licenses = 1;"
		  " users = [ \"alice\", \"bob\" ]; };\n" EAST_ONE);
	TOOL(fx, &t, "--json", "status");
	expect_code(&t, 0);
	doc = expect_json(&t);
	p = jfirst(doc, "pools");
	n = jget(doc, "named");
	if (p == NULL || jnum(p, "licenses") != 1 || jnum(p, "in_use") != 2 ||
	    jnum(p, "free") != 0 || jnum(n, "licenses") != 1 ||
	    jnum(n, "allocated") != 2)
		FAIL("status --json after lowering the licenses:\n%s", t.out);
	for (const struct jv *w = jfirst(doc, "warnings"); w; w = w->next) {
		if (w->type != J_STRING)
			FAIL("a warning is not a string:\n%s", t.out);
		over_named |= strstr(w->text, "Named") != NULL &&
			      strstr(w->text, "over-allocated") != NULL;
		over_pool |= strstr(w->text, "field-east") != NULL &&
			     strstr(w->text, "over-allocated") != NULL;
	}
	if (!over_named || !over_pool)
		FAIL("status does not warn of both over-allocations:\n%s",
		     t.out);
	doc_free(doc);
	TOOL(fx, &t, "status");
	expect_code(&t, 0);
	expect_out(&t, "warning:");
	/* Nobody is thrown out; nobody new gets in. */
	it_open(w3, IT_SERVICE, "alice", &r);
	it_assert_rc(&r, PAM_SUCCESS);
	it_open(w3, IT_SERVICE, "erin", &r);
	it_assert_rc(&r, PAM_PERM_DENIED);

	/* bob leaves the named users; the field-east pool goes away. */
	it_config(fx, "named = { licenses = 2; users = [ \"alice\" ]; };\n");
	doc = listing(fx);
	if (holder(doc, "named", "bob") == NULL ||
	    jtrue(holder(doc, "named", "bob"), "eligible") ||
	    !jtrue(holder(doc, "named", "alice"), "eligible"))
		FAIL("list does not mark bob (only) as no longer eligible");
	doc_free(doc);
	TOOL(fx, &t, "--json", "status");
	expect_code(&t, 0);
	doc = expect_json(&t);
	p = jfirst(doc, "pools");
	if (p == NULL || jstr(p, "pool") == NULL ||
	    strcmp(jstr(p, "pool"), "field-east") != 0 ||
	    jnum(p, "licenses") != 0 || jnum(p, "in_use") != 2)
		FAIL("status --json does not show the removed pool still "
		     "held:\n%s", t.out);
	over_pool = false;
	for (const struct jv *w = jfirst(doc, "warnings"); w; w = w->next) {
		if (w->type != J_STRING)
			FAIL("a warning is not a string:\n%s", t.out);
		ineligible |= strstr(w->text, "eligible") != NULL;
		over_pool |= strstr(w->text, "field-east") != NULL;
	}
	if (!ineligible || !over_pool)
		FAIL("status does not warn of the ineligible allocation and "
		     "the removed pool:\n%s", t.out);
	doc_free(doc);
	run_free(&t);
	it_workers_finish(fx);
}

/* ------------------------------------------------------------------ */
/* reap                                                               */
/* ------------------------------------------------------------------ */

static void reap_drops_killed_sessions(void **state)
{
	struct it_fixture *fx = *state;
	struct it_worker *w1, *w2, *w3, *w4, *w5;
	struct it_result r;
	struct run t = { 0 };
	struct jv *doc;
	const struct jv *h, *s;
	pid_t p1, p2, p3, p4;
	char pid1[32], pid2[32], id4[64];
	char *log;

	it_config(fx, NAMED_ONE EAST_ONE);
	w1 = it_worker(fx);
	w2 = it_worker(fx);
	w3 = it_worker(fx);
	p1 = it_worker_pid(w1);
	p2 = it_worker_pid(w2);
	p3 = it_worker_pid(w3);
	it_open(w1, IT_SERVICE, "carol", &r);
	it_assert_rc(&r, PAM_SUCCESS);
	it_open(w2, IT_SERVICE, "alice", &r);
	it_assert_rc(&r, PAM_SUCCESS);
	it_open(w3, IT_SERVICE, "alice", &r);
	it_assert_rc(&r, PAM_SUCCESS);
	it_worker_kill(w1);
	it_worker_kill(w2);

	/* list and status show the dead sessions as stale. */
	doc = listing(fx);
	h = holder(doc, "concurrent", "carol");
	s = h ? session_of(h, p1) : NULL;
	if (s == NULL || !jtrue(s, "stale"))
		FAIL("carol's killed session is not listed as stale");
	h = holder(doc, "named", "alice");
	if (h == NULL || !jtrue(session_of(h, p2), "stale") ||
	    session_of(h, p3) == NULL || jtrue(session_of(h, p3), "stale"))
		FAIL("alice's sessions: not the killed one stale, the live "
		     "one not");
	doc_free(doc);
	TOOL(fx, &t, "list");
	expect_code(&t, 0);
	expect_out(&t, "reap");
	TOOL(fx, &t, "--json", "status");
	expect_code(&t, 0);
	doc = expect_json(&t);
	if (jcount(jget(doc, "warnings")) == 0 ||
	    jnum(jfirst(doc, "pools"), "stale") != 1)
		FAIL("status does not warn of the stale sessions:\n%s", t.out);
	doc_free(doc);
	/* The dead holder's slot would be reclaimed by a login. */
	check_is(fx, "dave", 0, "would be granted", "granted");

	/* reap names who and which session it dropped. */
	snprintf(pid1, sizeof(pid1), "%ld", (long)p1);
	snprintf(pid2, sizeof(pid2), "%ld", (long)p2);
	TOOL(fx, &t, "reap");
	expect_code(&t, 0);
	expect_out(&t, "carol");
	expect_out(&t, "alice");
	expect_out(&t, pid1);
	expect_out(&t, pid2);
	expect_out(&t, "Dropped 2 stale sessions");
	expect_fits(&t, NULL);
	log = event_log(fx);
	if (strstr(log, "\"event\":\"reap\"") == NULL)
		FAIL("no reap event in the event log:\n%s", log);
	held_free(log);

	/* Gone from list; alice keeps her allocation and live session. */
	doc = listing(fx);
	if (holder(doc, "concurrent", "carol") != NULL)
		FAIL("carol's slot is still listed after reap");
	h = holder(doc, "named", "alice");
	if (h == NULL || jcount(jget(h, "sessions")) != 1 ||
	    session_of(h, p3) == NULL)
		FAIL("alice's allocation or live session went with reap");
	doc_free(doc);

	TOOL(fx, &t, "reap");
	expect_code(&t, 0);
	expect_out(&t, "No stale session");
	TOOL(fx, &t, "--json", "reap");
	expect_code(&t, 0);
	doc = expect_json(&t);
	expect_listing(doc, t.cmd);
	if (jcount(jget(doc, "concurrent")) + jcount(jget(doc, "named")))
		FAIL("a second reap dropped something:\n%s", t.out);
	doc_free(doc);

	/* Once more, the JSON document names the session by its id. */
	w4 = it_worker(fx);
	p4 = it_worker_pid(w4);
	it_open(w4, IT_SERVICE, "dave", &r);
	it_assert_rc(&r, PAM_SUCCESS);
	doc = listing(fx);
	s = session_of(holder(doc, "concurrent", "dave"), p4);
	if (s == NULL)
		FAIL("dave's session is not listed");
	snprintf(id4, sizeof(id4), "%s", jstr(s, "session"));
	doc_free(doc);
	it_worker_kill(w4);
	TOOL(fx, &t, "--json", "reap");
	expect_code(&t, 0);
	doc = expect_json(&t);
	expect_listing(doc, t.cmd);
	h = holder(doc, "concurrent", "dave");
	s = h ? session_of(h, p4) : NULL;
	if (jcount(jget(doc, "concurrent")) != 1 || s == NULL ||
	    strcmp(jstr(s, "session"), id4) != 0 || !jtrue(s, "stale"))
		FAIL("reap --json does not name dave's session %s:\n%s", id4,
		     t.out);
	doc_free(doc);

	w5 = it_worker(fx);
	it_open(w5, IT_SERVICE, "erin", &r);
	it_assert_rc(&r, PAM_SUCCESS);
	run_free(&t);
	it_workers_finish(fx);
}

/* ------------------------------------------------------------------ */
/* assign and unassign                                                */
/* ------------------------------------------------------------------ */

static void assign_and_unassign(void **state)
{
	struct it_fixture *fx = *state;
	struct it_worker *w1, *w2;
	struct it_result ra, r;
	struct run t = { 0 };
	struct jv *doc;
	const struct jv *h;
	char *log;

	it_config(fx, "named = { licenses = 1; users = [ \"alice\" ];"
		  " groups = [ \"callcentre\" ]; min_assignment = \"1h\"; };\n"
		  EAST_ONE);
	w1 = it_worker(fx);
	w2 = it_worker(fx);

	TOOL(fx, &t, "assign", "alice");
	expect_code(&t, 0);
	expect_out(&t, "alice");
	doc = listing(fx);
	h = holder(doc, "named", "alice");
	if (h == NULL || jcount(jget(h, "sessions")) != 0 ||
	    !jtrue(h, "eligible"))
		FAIL("alice's Named allocation is not listed");
	doc_free(doc);

	TOOL(fx, &t, "assign", "alice");
	expect_code(&t, 1);
	expect_err(&t, "already");
	expect_no_out(&t);
	/* Not named-eligible. */
	TOOL(fx, &t, "assign", "gina");
	expect_code(&t, 1);
	expect_err(&t, "gina");
	TOOL(fx, &t, "assign", "carol");
	expect_code(&t, 1);
	expect_err(&t, "carol");
	TOOL(fx, &t, "assign", "nosuchuser");
	expect_code(&t, 1);
	expect_err(&t, "nosuchuser");
	/* Eligible, but over capacity. */
	TOOL(fx, &t, "assign", "bob");
	expect_code(&t, 1);
	expect_err(&t, "allocated");
	it_open(w2, IT_SERVICE, "bob", &r);
	it_assert_rc(&r, PAM_PERM_DENIED);

	/* The allocation serves alice's login. */
	it_open(w1, IT_SERVICE, "alice", &ra);
	it_assert_rc(&ra, PAM_SUCCESS);

	/* Inside min_assignment: only with --force. */
	TOOL(fx, &t, "unassign", "alice");
	expect_code(&t, 1);
	expect_err(&t, "--force");
	expect_no_out(&t);
	TOOL(fx, &t, "unassign", "bob");
	expect_code(&t, 1);
	expect_err(&t, "bob");
	TOOL(fx, &t, "--force", "assign", "bob");
	expect_code(&t, 2);
	TOOL(fx, &t, "unassign", "--force", "alice");
	expect_code(&t, 0);
	expect_out(&t, "alice");
	doc = listing(fx);
	if (holder(doc, "named", "alice") != NULL)
		FAIL("alice's allocation is still listed after unassign");
	doc_free(doc);
	log = event_log(fx);
	if (strstr(log, "\"event\":\"assign\"") == NULL ||
	    strstr(log, "\"event\":\"unassign\"") == NULL)
		FAIL("assign and unassign are not in the event log:\n%s", log);
	held_free(log);

	/* The license is bob's now; alice's close gives back nothing. */
	TOOL(fx, &t, "assign", "bob");
	expect_code(&t, 0);
	it_open(w2, IT_SERVICE, "bob", &r);
	it_assert_rc(&r, PAM_SUCCESS);
	it_close(w1, ra.handle, &r);
	it_assert_rc(&r, PAM_SUCCESS);
	doc = listing(fx);
	h = holder(doc, "named", "bob");
	if (h == NULL || jcount(jget(h, "sessions")) != 1 ||
	    jcount(jget(doc, "named")) != 1)
		FAIL("bob's allocation changed with alice's close");
	doc_free(doc);
	run_free(&t);
	it_workers_finish(fx);
}

/* With min_assignment 0, a plain unassign frees the license, also one
 * allocated by a login. */
static void unassign_without_min_assignment(void **state)
{
	struct it_fixture *fx = *state;
	struct it_worker *w;
	struct it_result r;
	struct run t = { 0 };

	it_config(fx, "named = { licenses = 1; users = [ \"alice\" ];"
		  " groups = [ \"callcentre\" ]; min_assignment = 0; };\n");
	w = it_worker(fx);
	TOOL(fx, &t, "assign", "alice");
	expect_code(&t, 0);
	TOOL(fx, &t, "unassign", "alice");
	expect_code(&t, 0);
	TOOL(fx, &t, "unassign", "alice");
	expect_code(&t, 1);
	expect_err(&t, "alice");

	it_open(w, IT_SERVICE, "bob", &r);
	it_assert_rc(&r, PAM_SUCCESS);
	it_close(w, r.handle, &r);
	it_assert_rc(&r, PAM_SUCCESS);
	it_open(w, IT_SERVICE, "alice", &r);
	it_assert_rc(&r, PAM_PERM_DENIED);
	TOOL(fx, &t, "unassign", "bob");
	expect_code(&t, 0);
	it_open(w, IT_SERVICE, "alice", &r);
	it_assert_rc(&r, PAM_SUCCESS);
	run_free(&t);
	it_workers_finish(fx);
}

/* ------------------------------------------------------------------ */
/* check-config                                                       */
/* ------------------------------------------------------------------ */

static void check_config_names_the_line(void **state)
{
	struct it_fixture *fx = *state;
	struct run t = { 0 };
	char where[PATH_MAX + 16], absent[PATH_MAX];

	/* it_config writes store and event_log on lines 1 and 2. */
	it_config(fx, NAMED_ONE
		  "concurrent = ( { pool = \"field-east\"; lisences = 1;"
		  " groups = [ \"field-east\" ]; } );\n");
	TOOL(fx, &t, "check-config");
	expect_code(&t, 1);
	snprintf(where, sizeof(where), "%s:4:", fx->conf);
	expect_err(&t, where);
	expect_err(&t, "lisences");
	expect_no_out(&t);

	/* Every problem, each with its line. */
	it_config(fx, "named = { licences = 1; };\n"
		  "show_holders = true;\n"
		  "concurrent = ( { pool = \"field-east\"; licenses = 0;"
		  " groups = [ \"field-east\" ]; } );\n");
	TOOL(fx, &t, "check-config");
	expect_code(&t, 1);
	snprintf(where, sizeof(where), "%s:3:", fx->conf);
	expect_err(&t, where);
	snprintf(where, sizeof(where), "%s:5:", fx->conf);
	expect_err(&t, where);

	/* A valid config: exit 0 and one line. */
	it_config(fx, NAMED_ONE EAST_ONE);
	TOOL(fx, &t, "check-config");
	expect_code(&t, 0);
	expect_no_err(&t);
	if (count_lines(t.out) != 1)
		FAIL("check-config of a valid config: not one line:\n%s",
		     t.out);
	expect_out(&t, "valid");

	/* A missing config is an error too. */
	path_in(absent, fx->dir, "absent.conf");
	TOOL_BARE(&t, "-c", absent, "check-config");
	expect_code(&t, 1);
	expect_err(&t, "absent.conf");
	run_free(&t);
}

/* The pre-flight check of the names: a misspelt group passes the parser
 * but no technician is in it.  A warning with the nearest group, exit 0;
 * --strict fails; --json gathers it. */
static void check_config_unknown_group(void **state)
{
	struct it_fixture *fx = *state;
	struct run t = { 0 };
	const struct jv *doc, *warning;

	it_config(fx, NAMED_ONE
		  "concurrent = ( { pool = \"west\"; licenses = 1;"
		  " groups = [ \"field-wset\" ]; },\n"
		  "  { pool = \"east\"; licenses = 1; users = [ \"carool\" ]; } );\n");
	TOOL(fx, &t, "check-config");
	expect_code(&t, 0);
	expect_out(&t, "valid");
	expect_err(&t, "warning: group 'field-wset' in groups of pool 'west' "
		   "is unknown");
	expect_err(&t, "did you mean 'field-west'?");
	expect_err(&t, "user 'carool'");
	expect_err(&t, "did you mean 'carol'?");

	TOOL(fx, &t, "--strict", "check-config");
	expect_code(&t, 1);
	expect_no_out(&t);
	expect_err(&t, "field-wset");
	expect_err(&t, "--strict");

	TOOL(fx, &t, "--json", "check-config");
	expect_code(&t, 0);
	doc = expect_json(&t);
	if (!jtrue(doc, "valid") || jcount(jget(doc, "errors")) != 0 ||
	    jcount(jget(doc, "warnings")) != 2)
		FAIL("check-config --json: not valid with two warnings:\n%s",
		     t.out);
	warning = jfirst(doc, "warnings");
	if (warning == NULL || warning->type != J_STRING ||
	    strstr(warning->text, "did you mean") == NULL)
		FAIL("check-config --json: warnings are no strings:\n%s",
		     t.out);
	doc_free((struct jv *)doc);
	TOOL(fx, &t, "--json", "--strict", "check-config");
	expect_code(&t, 1);
	doc = expect_json(&t);
	if (jtrue(doc, "valid"))
		FAIL("check-config --json --strict: valid with warnings:\n%s",
		     t.out);
	doc_free((struct jv *)doc);

	/* Errors of the parser are in the document too. */
	it_config(fx, "named = { licences = 1; };\n" EAST_ONE);
	TOOL(fx, &t, "--json", "check-config");
	expect_code(&t, 1);
	doc = expect_json(&t);
	if (jtrue(doc, "valid") || jcount(jget(doc, "errors")) != 1)
		FAIL("check-config --json of a broken config:\n%s", t.out);
	doc_free((struct jv *)doc);
	run_free(&t);
}

/* A store or event log the module cannot open refuses every login:
 * check-config and check say why, with the errno text. */
static void check_config_unusable_files(void **state)
{
	struct it_fixture *fx = *state;
	struct run t = { 0 };
	char text[PATH_MAX * 4 + 256], dir[PATH_MAX + 64], file[PATH_MAX];

	/* Two missing levels: the module makes only the last one. */
	snprintf(text, sizeof(text), "store = \"%s/absent/store/licenses.db\";"
		 " runtime_store = \"%s\";"
		 "\nevent_log = \"%s\";\n" EAST_ONE, fx->dir, fx->runtime,
		 fx->event_log);
	it_write_file(fx->conf, text, strlen(text), 0600);
	snprintf(dir, sizeof(dir), "directory %s/absent/store: No such file "
		 "or directory", fx->dir);
	TOOL(fx, &t, "check-config");
	expect_code(&t, 1);
	expect_no_out(&t);
	expect_err(&t, dir);
	TOOL(fx, &t, "check", "carol");
	expect_code(&t, 1);
	expect_no_out(&t);
	expect_err(&t, dir);

	/* One missing level is fine: it is made at the first login. */
	snprintf(text, sizeof(text), "store = \"%s/new-store/licenses.db\";"
		 " runtime_store = \"%s\";"
		 "\nevent_log = \"%s\";\n" EAST_ONE, fx->dir, fx->runtime,
		 fx->event_log);
	it_write_file(fx->conf, text, strlen(text), 0600);
	TOOL(fx, &t, "check-config");
	expect_code(&t, 0);
	expect_no_err(&t);

	/* A store directory others may write in. */
	it_config(fx, EAST_ONE);
	if (mkdir(fx->store_dir, 0700) != 0 && errno != EEXIST)
		FAIL("mkdir %s: %s", fx->store_dir, strerror(errno));
	assert_int_equal(chmod(fx->store_dir, 0777), 0);
	TOOL(fx, &t, "check-config");
	expect_code(&t, 1);
	expect_err(&t, "writable by group or others");
	TOOL(fx, &t, "check", "carol");
	expect_code(&t, 1);
	expect_err(&t, "writable by group or others");
	assert_int_equal(chmod(fx->store_dir, 0700), 0);

	/* An event log whose directory is a file. */
	path_in(file, fx->dir, "a-file");
	it_write_file(file, "x", 1, 0600);
	snprintf(text, sizeof(text), "store = \"%s\"; runtime_store = \"%s\";"
		 "\nevent_log = \"%s/events.log\";\n" EAST_ONE, fx->store,
		 fx->runtime, file);
	it_write_file(fx->conf, text, strlen(text), 0600);
	TOOL(fx, &t, "check-config");
	expect_code(&t, 1);
	expect_err(&t, "event log");
	expect_err(&t, "Not a directory");
	run_free(&t);
}

/* check-config --diff                                                */
/* ------------------------------------------------------------------ */

/* The bytes of both store files, to tell that a dry run wrote nothing. */
struct store_bytes {
	char *durable, *runtime;
	size_t durable_len, runtime_len;
};

static void store_bytes(struct it_fixture *fx, struct store_bytes *b)
{
	b->durable = hold(it_read_file(fx->store, &b->durable_len));
	b->runtime = hold(it_read_file(fx->runtime, &b->runtime_len));
	if (b->durable == NULL || b->runtime == NULL)
		FAIL("cannot read the store files: %s", strerror(errno));
}

static void _expect_same_store(struct it_fixture *fx,
			       const struct store_bytes *before,
			       const char *file, int line)
{
	struct store_bytes after;

	store_bytes(fx, &after);
	if (after.durable_len != before->durable_len ||
	    memcmp(after.durable, before->durable, after.durable_len) != 0 ||
	    after.runtime_len != before->runtime_len ||
	    memcmp(after.runtime, before->runtime, after.runtime_len) != 0)
		it_fail(file, line, "check-config --diff changed the store");
	held_free(after.durable);
	held_free(after.runtime);
}
#define expect_same_store(fx, before) \
	_expect_same_store((fx), (before), __FILE__, __LINE__)

/* A string v (an array element) that is want. */
static bool jtext_is(const struct jv *v, const char *want)
{
	return v != NULL && v->type == J_STRING && strcmp(v->text, want) == 0;
}

/* obj's member key is the string want. */
static bool jis(const struct jv *obj, const char *key, const char *want)
{
	return jtext_is(jget(obj, key), want);
}

/* obj's member key is null. */
static bool jnull(const struct jv *obj, const char *key)
{
	const struct jv *v = jget(obj, key);

	return v != NULL && v->type == J_NULL;
}

#define DIFF_NOW \
	"named = { licenses = 2; users = [ \"alice\" ];" \
	" groups = [ \"callcentre\" ]; };\n" \
	"concurrent = ( { pool = \"field-east\"; licenses = 2;" \
	" groups = [ \"field-east\" ]; },\n" \
	"  { pool = \"field-west\"; licenses = 1;" \
	" groups = [ \"field-west\" ]; } );\n"

/* A new configuration against a store filled by real logins: it removes
 * a pool with a live holder (erin), cuts a pool's licenses below its
 * holders (carol, dave), and drops a Named user's group (bob).  Text,
 * JSON and exit status say so, and the store is not touched. */
static void check_config_diff(void **state)
{
	struct it_fixture *fx = *state;
	struct it_worker *w1, *w2, *w3;
	struct it_result r;
	struct run t = { 0 };
	struct store_bytes before;
	char now[PATH_MAX], where[PATH_MAX + 16];
	char *text;
	size_t len;
	struct jv *doc;
	const struct jv *diff, *e, *over, *h;

	it_config(fx, DIFF_NOW);
	w1 = it_worker(fx);
	w2 = it_worker(fx);
	w3 = it_worker(fx);
	hold_four(fx, w1, w2);
	/* field-east is full: erin, in both groups, gets field-west. */
	it_open(w3, IT_SERVICE, "erin", &r);
	it_assert_rc(&r, PAM_SUCCESS);
	doc = listing(fx);
	h = holder(doc, "concurrent", "erin");
	if (!jis(h, "pool", "field-west"))
		FAIL("erin holds no slot of field-west");
	doc_free(doc);
	path_in(now, fx->dir, "now.conf");
	text = hold(it_read_file(fx->conf, &len));
	it_write_file(now, text, len, 0600);
	held_free(text);
	store_bytes(fx, &before);

	/* The same file again: nothing changes, exit 0. */
	TOOL_BARE(&t, "-c", now, "check-config", "--diff", fx->conf);
	expect_code(&t, 0);
	expect_out(&t, "nothing would be lost or over-allocated");
	expect_out(&t, "no pools added or removed");
	expect_same_store(fx, &before);

	it_config(fx, "named = { licenses = 1; users = [ \"alice\" ]; };\n"
		  "concurrent = ( { pool = \"field-east\"; licenses = 1;"
		  " groups = [ \"field-east\" ]; },\n"
		  "  { pool = \"night\"; licenses = 1;"
		  " users = [ \"gina\" ]; } );\n");
	TOOL_BARE(&t, "-c", now, "check-config", "--diff", fx->conf);
	expect_code(&t, 1);
	expect_out(&t, "valid");
	expect_out(&t, "would lose a Named allocation: bob (no longer "
		   "named-eligible)");
	expect_out(&t, "would lose a slot: erin (pool field-west, slot 1: "
		   "pool removed)");
	expect_out(&t, "over-allocated: pool field-east: 2 held, 1 license, "
		   "over by 1: carol");
	expect_out(&t, "pools added: night (1)");
	expect_out(&t, "pools removed: field-west");
	expect_out(&t, "licenses changed: Named 2 -> 1 field-east 2 -> 1");
	if (strstr(t.out, "alice") != NULL || strstr(t.out, "nothing would")
	    != NULL)
		FAIL("alice, still eligible, is named:\n%s", t.out);
	expect_same_store(fx, &before);

	TOOL_BARE(&t, "-c", now, "--json", "check-config", "--diff", fx->conf);
	expect_code(&t, 1);
	doc = expect_json(&t);
	diff = jget(doc, "diff");
	if (!jtrue(doc, "valid") || diff == NULL || jtrue(diff, "safe") ||
	    jget(diff, "safe") == NULL)
		FAIL("check-config --diff --json: not valid and unsafe:\n%s",
		     t.out);
	e = holder(diff, "lose_named", "bob");
	if (jcount(jget(diff, "lose_named")) != 1 || e == NULL ||
	    !jis(e, "reason", "no longer named-eligible"))
		FAIL("lose_named is not bob alone:\n%s", t.out);
	e = holder(diff, "lose_slot", "erin");
	if (jcount(jget(diff, "lose_slot")) != 1 || e == NULL ||
	    !jis(e, "pool", "field-west") ||
	    jnum(e, "slot") != 1 ||
	    !jis(e, "reason", "pool removed"))
		FAIL("lose_slot is not erin alone:\n%s", t.out);
	over = jfirst(diff, "over_allocated");
	if (jcount(jget(diff, "over_allocated")) != 1 || over == NULL ||
	    !jis(over, "pool", "field-east") ||
	    jnum(over, "licenses") != 1 || jnum(over, "held") != 2 ||
	    jnum(over, "over_by") != 1 || jcount(jget(over, "holders")) != 2)
		FAIL("over_allocated is not field-east by one:\n%s", t.out);
	/* Oldest first: dave came after carol, and is the one over. */
	h = jfirst(over, "holders");
	if (!jis(h, "user", "carol") || jtrue(h, "over") ||
	    !jis(h->next, "user", "dave") ||
	    !jtrue(h->next, "over"))
		FAIL("holders of field-east are not carol, then dave over:\n%s",
		     t.out);
	if (jcount(jget(diff, "pools_added")) != 1 ||
	    !jtext_is(jfirst(diff, "pools_added"), "night") ||
	    jcount(jget(diff, "pools_removed")) != 1 ||
	    !jtext_is(jfirst(diff, "pools_removed"), "field-west") ||
	    jcount(jget(diff, "licenses_changed")) != 2 ||
	    !jnull(jfirst(diff, "licenses_changed"), "pool") ||
	    jnum(jfirst(diff, "licenses_changed"), "from") != 2 ||
	    jnum(jfirst(diff, "licenses_changed"), "to") != 1)
		FAIL("check-config --diff --json: wrong summary:\n%s", t.out);
	doc_free(doc);
	expect_same_store(fx, &before);

	/* erin stays in a field-west that no longer has her group. */
	it_config(fx, "named = { licenses = 2; users = [ \"alice\" ];"
		  " groups = [ \"callcentre\" ]; };\n"
		  "concurrent = ( { pool = \"field-east\"; licenses = 2;"
		  " groups = [ \"field-east\" ]; },\n"
		  "  { pool = \"field-west\"; licenses = 1;"
		  " users = [ \"frank\" ]; } );\n");
	TOOL_BARE(&t, "-c", now, "check-config", "--diff", fx->conf);
	expect_code(&t, 1);
	expect_out(&t, "would lose a slot: erin (pool field-west, slot 1: "
		   "no longer a member of the pool)");
	if (strstr(t.out, "bob") != NULL || strstr(t.out, "over-") != NULL)
		FAIL("more than erin's loss:\n%s", t.out);

	/* A new file with an error: FILE:LINE as check-config says it, no
	 * diff, exit 2. */
	it_config(fx, "named = { licences = 1; };\n" EAST_ONE);
	TOOL_BARE(&t, "-c", now, "check-config", "--diff", fx->conf);
	expect_code(&t, 2);
	expect_no_out(&t);
	snprintf(where, sizeof(where), "%s:3:", fx->conf);
	expect_err(&t, where);
	TOOL_BARE(&t, "-c", now, "--json", "check-config", "--diff", fx->conf);
	expect_code(&t, 2);
	doc = expect_json(&t);
	if (jtrue(doc, "valid") || jcount(jget(doc, "errors")) != 1 ||
	    !jnull(doc, "diff"))
		FAIL("check-config --diff --json of a broken file:\n%s", t.out);
	doc_free(doc);

	/* Usage: --diff needs FILE, and goes with check-config only. */
	TOOL_BARE(&t, "-c", now, "check-config", "--diff");
	expect_code(&t, 2);
	TOOL_BARE(&t, "-c", now, "--diff", "list");
	expect_code(&t, 2);
	expect_same_store(fx, &before);
	held_free(before.durable);
	held_free(before.runtime);
	run_free(&t);
	it_workers_finish(fx);
}

/* status shows each pool's wait and who is exempt; an unknown option is
 * one line, not the whole help. */
static void status_shows_wait_and_exempt(void **state)
{
	struct it_fixture *fx = *state;
	struct run t = { 0 };
	const struct jv *doc, *pool;

	it_config(fx, "exempt = { users = [ \"root\", \"frank\" ];"
		  " groups = [ \"helpdesk-admins\" ]; };\n"
		  "concurrent = ( { pool = \"field-east\"; licenses = 1;"
		  " wait = \"5m\"; groups = [ \"field-east\" ]; } );\n");
	TOOL(fx, &t, "status");
	expect_code(&t, 0);
	expect_out(&t, "WAIT");
	expect_out(&t, "5m");
	expect_out(&t, "root, frank");
	expect_out(&t, "helpdesk-admins");
	TOOL(fx, &t, "--json", "status");
	expect_code(&t, 0);
	doc = expect_json(&t);
	pool = jfirst(doc, "pools");
	if (pool == NULL || jnum(pool, "wait") != 300 ||
	    jcount(jget(jget(doc, "exempt"), "users")) != 2 ||
	    jcount(jget(jget(doc, "exempt"), "groups")) != 1)
		FAIL("status --json: no wait of 300 or exempt lists:\n%s",
		     t.out);
	doc_free((struct jv *)doc);

	TOOL(fx, &t, "status", "--watch");
	expect_code(&t, 2);
	expect_no_out(&t);
	expect_err(&t, "--watch");
	if (count_lines(t.err) != 1)
		FAIL("status --watch: not one line on stderr:\n%s", t.err);
	run_free(&t);
}

/* Failures a script and an admin can act on: --json assign prints an error
 * document; release of a Named holder points to unassign; a full set of
 * Named licenses does not free itself. */
static void failures_that_say_what_to_do(void **state)
{
	struct it_fixture *fx = *state;
	struct run t = { 0 };
	const struct jv *doc;

	it_config(fx, NAMED_ONE EAST_ONE);
	TOOL(fx, &t, "assign", "alice");
	expect_code(&t, 0);

	TOOL(fx, &t, "--json", "assign", "bob");
	expect_code(&t, 1);
	doc = expect_json(&t);
	if (jtrue(doc, "done") || jstr(doc, "error") == NULL ||
	    *jstr(doc, "error") == '\0')
		FAIL("--json assign that failed: no error document:\n%s",
		     t.out);
	doc_free((struct jv *)doc);

	TOOL(fx, &t, "release", "alice");
	expect_code(&t, 1);
	expect_err(&t, "helpdesk-license unassign alice");

	TOOL(fx, &t, "check", "bob");
	expect_code(&t, 1);
	expect_out(&t, "an administrator must free one");
	if (strstr(t.out, "try again later") != NULL)
		FAIL("a refusal for want of a Named license says to try "
		     "again later:\n%s", t.out);
	run_free(&t);
}

/* An unlicensed user's refusal is of no kind in the event log. */
static void unlicensed_deny_has_no_kind(void **state)
{
	struct it_fixture *fx = *state;
	struct it_worker *w;
	struct it_result r;
	char *events, *line, *end;

	it_config(fx, NAMED_ONE EAST_ONE);
	w = it_worker(fx);
	it_acct(w, IT_SERVICE, "gina", &r);
	it_assert_rc(&r, PAM_PERM_DENIED);
	it_workers_finish(fx);
	events = hold(it_read_file(fx->event_log, NULL));
	line = events ? strstr(events, "\"user\":\"gina\"") : NULL;
	if (line == NULL)
		FAIL("no event of gina in %s", fx->event_log);
	while (line > events && line[-1] != '\n')
		line--;
	end = strchr(line, '\n');
	if (end)
		*end = '\0';
	if (strstr(line, "\"event\":\"deny\"") == NULL ||
	    strstr(line, "\"reason\":\"unlicensed\"") == NULL ||
	    strstr(line, "\"kind\"") != NULL)
		FAIL("gina's refusal: not a deny of no kind: %s", line);
	held_free(events);
}

/* Writes records straight into the store (value NULL: deletes the key),
 * as a repair that brought one back or left one out would. */
static void tamper(struct it_fixture *fx, const char *const (*records)[2],
		   size_t count)
{
	for (size_t i = 0; i < count; i++) {
		const char *key = records[i][0];
		/* Named allocations are durable; all else is this boot's. */
		bool durable = strcmp(key, "named") == 0 ||
			       strncmp(key, "named/", 6) == 0;
		GDBM_FILE db = gdbm_open(durable ? fx->store : fx->runtime, 0,
					 GDBM_WRITER, 0600, NULL);
		datum k = { (char *)key, (int)strlen(key) };
		datum v = { (char *)records[i][1],
			    records[i][1] ? (int)strlen(records[i][1]) : 0 };

		assert_non_null(db);
		if (records[i][1])
			assert_int_equal(gdbm_store(db, k, v, GDBM_REPLACE), 0);
		else
			assert_int_equal(gdbm_delete(db, k), 0);
		gdbm_close(db);
	}
}

/* reap sets disagreeing records right, says so, and then finds nothing
 * more to do. */
static void reap_reconciles_records(void **state)
{
	static const char *const lost_slot[][2] = {
		{ "slot/field-east/1", NULL },
		{ "pool/field-east", "used 0\nnext 1\ntop 1" },
	};
	struct it_fixture *fx = *state;
	struct it_worker *w;
	struct it_result r;
	struct run t = { 0 };
	const struct jv *rec, *h;
	struct jv *doc;

	it_config(fx, EAST_ONE);
	w = it_worker(fx);
	it_open(w, IT_SERVICE, "carol", &r);
	it_assert_rc(&r, PAM_SUCCESS);

	tamper(fx, lost_slot, 2);
	TOOL(fx, &t, "reap");
	expect_code(&t, 0);
	expect_out(&t, "No stale session");
	expect_out(&t, "1 slot written back");
	expect_out(&t, "1 counter recounted");
	doc = listing(fx);
	h = holder(doc, "concurrent", "carol");
	if (h == NULL || jnum(h, "slot") != 1)
		FAIL("carol does not hold slot 1 after reap");
	doc_free(doc);
	/* The pool is full again: nobody else gets in. */
	check_is(fx, "dave", 1, "carol", "refused");

	tamper(fx, lost_slot, 2);
	TOOL(fx, &t, "--json", "reap");
	expect_code(&t, 0);
	doc = expect_json(&t);
	expect_listing(doc, t.cmd);
	expect_member(doc, "reconciled", J_OBJECT, t.cmd);
	rec = jget(doc, "reconciled");
	if (jnum(rec, "slots_restored") != 1 ||
	    jnum(rec, "counters_fixed") != 1 || jnum(rec, "slots_freed") != 0 ||
	    jnum(rec, "holders_moved") != 0 ||
	    jnum(rec, "holders_dropped") != 0 ||
	    jnum(rec, "records_dropped") != 0)
		FAIL("reap --json does not say what it set right:\n%s", t.out);
	doc_free(doc);

	TOOL(fx, &t, "--json", "reap");
	expect_code(&t, 0);
	doc = expect_json(&t);
	rec = jget(doc, "reconciled");
	if (jnum(rec, "slots_restored") != 0 ||
	    jnum(rec, "counters_fixed") != 0)
		FAIL("a second reap set something right:\n%s", t.out);
	doc_free(doc);
	TOOL(fx, &t, "reap");
	expect_code(&t, 0);
	if (strstr(t.out, "agree") != NULL)
		FAIL("reap of agreeing records says it changed some:\n%s",
		     t.out);
	run_free(&t);
}

/* ------------------------------------------------------------------ */
/* repair                                                             */
/* ------------------------------------------------------------------ */

/* After a repair: list works, a login works, the backup is the damaged
 * file as it was. */
static void expect_repaired(struct it_fixture *fx, const char *damaged,
			    size_t damaged_len)
{
	struct it_worker *w = it_worker(fx);
	char backup[PATH_MAX];
	struct it_result r;
	struct run t = { 0 };
	struct jv *doc;
	size_t len;
	char *kept;

	if (backups(fx, backup) != 1)
		FAIL("repair did not keep one backup in %s", fx->store_dir);
	kept = hold(it_read_file(backup, &len));
	if (kept == NULL || len != damaged_len ||
	    memcmp(kept, damaged, len) != 0)
		FAIL("the backup %s is not the damaged store", backup);
	held_free(kept);

	doc = listing(fx);
	doc_free(doc);
	TOOL(fx, &t, "status");
	expect_code(&t, 0);
	it_open(w, IT_SERVICE, "carol", &r);
	it_assert_rc(&r, PAM_SUCCESS);
	doc = listing(fx);
	if (holder(doc, "concurrent", "carol") == NULL)
		FAIL("carol's login after the repair is not listed");
	doc_free(doc);

	/* Sound now: a second repair has nothing to do. */
	TOOL(fx, &t, "repair");
	expect_code(&t, 0);
	expect_out(&t, "sound");
	if (backups(fx, backup) != 1)
		FAIL("a repair of a sound store made a backup");
	run_free(&t);
	it_workers_finish(fx);
}

/* A damaged store: list says to run repair. */
static void expect_needs_repair(struct it_fixture *fx)
{
	struct run t = { 0 };

	TOOL(fx, &t, "list");
	expect_code(&t, 1);
	expect_err(&t, "repair");
	expect_no_out(&t);
	TOOL(fx, &t, "--json", "list");
	expect_code(&t, 1);
	expect_err(&t, "repair");
	run_free(&t);
}

/* A store without its schema key is damaged; repair restores the key and
 * keeps the records, here a slot whose holder record was lost. */
static void write_schemaless_store(struct it_fixture *fx)
{
	static const char *const records[][2] = {
		{ "slot/field-east/1", "carol" },
		{ "pool/field-east", "used 1\nnext 1\ntop 1" },
	};
	GDBM_FILE db;

	/* The runtime file, where slots live. */
	unlink(fx->runtime);
	mkdir(fx->store_dir, 0700);
	assert_int_equal(chmod(fx->store_dir, 0700), 0);
	db = gdbm_open(fx->runtime, 0, GDBM_NEWDB, 0600, NULL);
	assert_non_null(db);
	gdbm_close(db);
	assert_int_equal(chmod(fx->runtime, 0600), 0);
	tamper(fx, records, 2);
}

/* After a rebuild, repair makes the records agree, and says so. */
static void repair_reconciles_records(void **state)
{
	struct it_fixture *fx = *state;
	struct run t = { 0 };
	const struct jv *rec;
	struct jv *doc;
	char *log;

	it_config(fx, EAST_ONE);
	write_schemaless_store(fx);
	expect_needs_repair(fx);
	TOOL(fx, &t, "repair");
	expect_code(&t, 0);
	expect_out(&t, "was damaged");
	expect_out(&t, "1 slot without holder freed");
	log = event_log(fx);
	if (strstr(log, "slot without holder record") == NULL)
		FAIL("no reap event for the freed slot:\n%s", log);
	held_free(log);
	doc = listing(fx);
	if (jcount(jget(doc, "concurrent")) != 0)
		FAIL("the slot without holder is still listed");
	doc_free(doc);
	check_is(fx, "dave", 0, "would be granted", "granted");

	write_schemaless_store(fx);
	TOOL(fx, &t, "--json", "repair");
	expect_code(&t, 0);
	doc = expect_json(&t);
	rec = jget(doc, "reconciled");
	if (rec == NULL || rec->type != J_OBJECT ||
	    jnum(rec, "slots_freed") != 1 || jnum(rec, "counters_fixed") != 0)
		FAIL("repair --json does not say what it set right:\n%s",
		     t.out);
	doc_free(doc);
	run_free(&t);
}

static void repair_truncated_store(void **state)
{
	struct it_fixture *fx = *state;
	struct run t = { 0 };
	struct stat st;
	char *damaged;
	size_t len;

	struct it_worker *w = it_worker(fx);
	struct it_result r;

	it_config(fx, NAMED_ONE EAST_ONE);
	/* Nothing there yet: nothing to repair. */
	TOOL(fx, &t, "repair");
	expect_code(&t, 0);
	TOOL(fx, &t, "assign", "alice");
	expect_code(&t, 0);
	/* alice is logged in on her Named license when it is lost. */
	it_open(w, IT_SERVICE, "alice", &r);
	it_assert_rc(&r, PAM_SUCCESS);
	assert_int_equal(stat(fx->store, &st), 0);
	assert_int_equal(truncate(fx->store, st.st_size / 2), 0);
	damaged = hold(it_read_file(fx->store, &len));
	assert_non_null(damaged);

	expect_needs_repair(fx);
	TOOL(fx, &t, "repair");
	expect_code(&t, 0);
	expect_out(&t, "damaged");
	expect_out(&t, "licenses.db.damaged-");
	/* Not "lost: 0": what the lost part held is not known ... */
	expect_out(&t, "unknown number of records");
	/* ... and alice's live session has no allocation left: named. */
	expect_out(&t, "without their license record (1;");
	expect_out(&t, " alice (named).");
	expect_repaired(fx, damaged, len);
	held_free(damaged);
	run_free(&t);
}

static void repair_garbage_store(void **state)
{
	struct it_fixture *fx = *state;
	struct run t = { 0 };
	char garbage[8192], backup[PATH_MAX];
	struct jv *doc;
	const struct jv *b;

	it_config(fx, EAST_ONE);
	it_write_garbage_store(fx, garbage, sizeof(garbage));

	expect_needs_repair(fx);
	TOOL(fx, &t, "--json", "repair");
	expect_code(&t, 0);
	doc = expect_json(&t);
	b = jget(doc, "damaged");
	if (b == NULL || b->type != J_BOOL || !b->truth)
		FAIL("repair --json does not say the store was damaged:\n%s",
		     t.out);
	if (jstr(doc, "backup") == NULL || !it_exists(jstr(doc, "backup")) ||
	    backups(fx, backup) != 1 ||
	    strcmp(backup, jstr(doc, "backup")) != 0)
		FAIL("repair --json names no backup that exists:\n%s", t.out);
	expect_member(doc, "store", J_STRING, t.cmd);
	expect_member(doc, "keys", J_NUMBER, t.cmd);
	expect_member(doc, "keys_lost", J_NUMBER, t.cmd);
	expect_member(doc, "reconciled", J_OBJECT, t.cmd);
	doc_free(doc);
	expect_repaired(fx, garbage, sizeof(garbage));
	run_free(&t);
}

/* A store of a newer release (schema 3, records this release cannot
 * read): logins fail as on_error says, list and repair refuse it, naming
 * its version, and nothing writes to it, byte or time stamp. */
static void newer_release_left_alone(void **state)
{
	struct it_fixture *fx = *state;
	static const char *const records[][2] = {
		{ "schema", "3" },
		{ "holder/carol", "v2 kind=concurrent pool=field-east slot=1" },
		{ "license/field-east", "{\"licenses\": 1}" },
	};
	struct pam_testcase deny[] = {
		pam_test(PAMTEST_ACCOUNT, PAM_SYSTEM_ERR),
		pam_test(PAMTEST_OPEN_SESSION, PAM_SYSTEM_ERR),
	};
	struct pam_testcase allow[] = {
		pam_test(PAMTEST_ACCOUNT, PAM_SUCCESS),
		pam_test(PAMTEST_OPEN_SESSION, PAM_SUCCESS),
		pam_test(PAMTEST_CLOSE_SESSION, PAM_SUCCESS),
	};
	struct run t = { 0 };
	struct stat before, after;
	char *bytes, *now, backup[PATH_MAX];
	size_t len, now_len;
	GDBM_FILE db;

	it_config(fx, EAST_ONE);
	assert_int_equal(mkdir(fx->store_dir, 0700), 0);
	db = gdbm_open(fx->store, 0, GDBM_NEWDB, 0600, NULL);
	assert_non_null(db);
	for (size_t i = 0; i < sizeof(records) / sizeof(records[0]); i++) {
		datum k = { (char *)records[i][0], (int)strlen(records[i][0]) };
		datum v = { (char *)records[i][1], (int)strlen(records[i][1]) };

		assert_int_equal(gdbm_store(db, k, v, GDBM_REPLACE), 0);
	}
	gdbm_close(db);
	assert_int_equal(chmod(fx->store, 0600), 0);
	bytes = hold(it_read_file(fx->store, &len));
	assert_int_equal(stat(fx->store, &before), 0);

	it_pamtest_expect(fx, IT_SERVICE, "carol", deny);
	if (!it_stderr_contains(fx, "schema version 3"))
		FAIL("the module's log does not name the store's version");
	TOOL(fx, &t, "list");
	expect_code(&t, 1);
	expect_err(&t, "schema version 3");
	TOOL(fx, &t, "repair");
	expect_code(&t, 1);
	expect_err(&t, "schema version 3");
	it_config(fx, "on_error = \"allow\";\n" EAST_ONE);
	it_pamtest_expect(fx, IT_SERVICE, "carol", allow);

	now = hold(it_read_file(fx->store, &now_len));
	assert_int_equal(stat(fx->store, &after), 0);
	if (bytes == NULL || now == NULL || now_len != len ||
	    memcmp(now, bytes, len) != 0 ||
	    after.st_mtim.tv_sec != before.st_mtim.tv_sec ||
	    after.st_mtim.tv_nsec != before.st_mtim.tv_nsec)
		FAIL("the store of a newer release was written to");
	if (backups(fx, backup) != 0)
		FAIL("repair made a backup of a store it must not touch");
	held_free(bytes);
	held_free(now);
	run_free(&t);
}

/* ------------------------------------------------------------------ */
/* Output: JSON with hostile strings, columns                         */
/* ------------------------------------------------------------------ */

/* PAM items with control characters, quotes, a backslash, valid UTF-8
 * (é, U+2028, an emoji) and, in the remote host, invalid bytes. */
#define HOSTILE_TTY "pts/\x01\"q'\\\x1b[31m\xc3\xa9\xe2\x80\xa8\x7f\t"
#define HOSTILE_RHOST "h\"o\\st\n\r\b\f\x02\xf0\x9f\x98\x80\xff\xfe\xc3"
/* What JSON gives back for HOSTILE_RHOST: U+FFFD for each invalid byte. */
#define HOSTILE_RHOST_JSON \
	"h\"o\\st\n\r\b\f\x02\xf0\x9f\x98\x80" \
	"\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd"

static void expect_hostile_session(const struct jv *s, const char *what)
{
	if (s == NULL)
		FAIL("%s: the session is not there", what);
	if (strcmp(jstr(s, "tty"), HOSTILE_TTY) != 0)
		FAIL("%s: the tty does not come back as it was set", what);
	if (strcmp(jstr(s, "rhost"), HOSTILE_RHOST_JSON) != 0)
		FAIL("%s: the rhost does not come back as expected", what);
	if (strcmp(jstr(s, "service"), IT_SERVICE) != 0)
		FAIL("%s: service \"%s\"", what, jstr(s, "service"));
}

static void json_everywhere(void **state)
{
	struct it_fixture *fx = *state;
	struct it_worker *w1, *w2, *w3;
	struct it_result r;
	struct run t = { 0 };
	struct jv *doc;
	const struct jv *h, *p, *n;
	static const char *const checked[][2] = {
		{ "carol", "granted" }, { "dave", "refused" },
		{ "gina", "refused" }, { "root", "not concerned" },
		{ "alice", "granted" }, { "bob", "refused" },
	};
	int hd;

	it_config(fx, "show_holders = true;\n" NAMED_ONE EAST_ONE);
	w1 = it_worker(fx);
	w2 = it_worker(fx);
	w3 = it_worker(fx);
	hd = it_start(w1, IT_SERVICE, "carol", HOSTILE_TTY, HOSTILE_RHOST);
	it_open_on(w1, hd, &r);
	it_assert_rc(&r, PAM_SUCCESS);
	hd = it_start(w2, IT_SERVICE, "alice", HOSTILE_TTY, HOSTILE_RHOST);
	it_open_on(w2, hd, &r);
	it_assert_rc(&r, PAM_SUCCESS);

	/* list: the fields of helpdesk-license(8), the strings as they were. */
	doc = listing(fx);
	h = holder(doc, "concurrent", "carol");
	if (h == NULL || strcmp(jstr(h, "pool"), "field-east") != 0 ||
	    jnum(h, "slot") != 1)
		FAIL("carol is not listed in slot 1 of field-east");
	expect_hostile_session(session_of(h, it_worker_pid(w1)), "carol");
	h = holder(doc, "named", "alice");
	if (h == NULL)
		FAIL("alice is not listed");
	expect_member(h, "eligible", J_BOOL, "alice");
	expect_hostile_session(session_of(h, it_worker_pid(w2)), "alice");
	doc_free(doc);

	/* The human list: no control character gets through. */
	TOOL(fx, &t, "list");
	expect_code(&t, 0);
	expect_fits(&t, NULL);
	expect_out(&t, "LICENSE");

	/* status */
	TOOL(fx, &t, "--json", "status");
	expect_code(&t, 0);
	doc = expect_json(&t);
	expect_member(doc, "pools", J_ARRAY, t.cmd);
	expect_member(doc, "named", J_OBJECT, t.cmd);
	expect_member(doc, "warnings", J_ARRAY, t.cmd);
	p = jfirst(doc, "pools");
	if (jcount(jget(doc, "pools")) != 1 || p == NULL ||
	    jstr(p, "pool") == NULL || strcmp(jstr(p, "pool"), "field-east") ||
	    jnum(p, "licenses") != 1 || jnum(p, "in_use") != 1 ||
	    jnum(p, "free") != 0 || jnum(p, "waiting") != 0)
		FAIL("status --json pools:\n%s", t.out);
	n = jget(doc, "named");
	if (jnum(n, "licenses") != 1 || jnum(n, "allocated") != 1)
		FAIL("status --json named:\n%s", t.out);
	for (const struct jv *w = jfirst(doc, "warnings"); w; w = w->next)
		if (w->type != J_STRING)
			FAIL("status --json: a warning is not a string");
	doc_free(doc);
	TOOL(fx, &t, "status");
	expect_code(&t, 0);
	expect_fits(&t, "warning:");

	/* check: refusals quote the hostile remote host in their message. */
	for (size_t i = 0; i < sizeof(checked) / sizeof(checked[0]); i++) {
		TOOL(fx, &t, "--json", "check", checked[i][0]);
		expect_code(&t, strcmp(checked[i][1], "refused") ? 0 : 1);
		doc = expect_json(&t);
		if (jstr(doc, "verdict") == NULL ||
		    strcmp(jstr(doc, "verdict"), checked[i][1]) != 0)
			FAIL("check %s: verdict:\n%s", checked[i][0], t.out);
		expect_member(doc, "message", J_STRING, t.cmd);
		expect_member(doc, "reason", J_STRING, t.cmd);
		doc_free(doc);
	}

	/* reap of the hostile session */
	it_worker_kill(w1);
	TOOL(fx, &t, "--json", "reap");
	expect_code(&t, 0);
	doc = expect_json(&t);
	expect_listing(doc, t.cmd);
	h = holder(doc, "concurrent", "carol");
	if (h == NULL)
		FAIL("reap --json does not name carol:\n%s", t.out);
	expect_hostile_session(jfirst(h, "sessions"), "reaped carol");
	doc_free(doc);

	/* release, unassign, assign, repair */
	hd = it_start(w3, IT_SERVICE, "dave", HOSTILE_TTY, HOSTILE_RHOST);
	it_open_on(w3, hd, &r);
	it_assert_rc(&r, PAM_SUCCESS);
	TOOL(fx, &t, "--json", "release", "dave");
	expect_code(&t, 0);
	doc = expect_json(&t);
	expect_member(doc, "done", J_BOOL, t.cmd);
	expect_member(doc, "message", J_STRING, t.cmd);
	doc_free(doc);
	TOOL(fx, &t, "--json", "unassign", "--force", "alice");
	expect_code(&t, 0);
	doc = expect_json(&t);
	expect_member(doc, "done", J_BOOL, t.cmd);
	doc_free(doc);
	TOOL(fx, &t, "--json", "assign", "bob");
	expect_code(&t, 0);
	doc = expect_json(&t);
	expect_member(doc, "done", J_BOOL, t.cmd);
	doc_free(doc);
	TOOL(fx, &t, "--json", "repair");
	expect_code(&t, 0);
	doc = expect_json(&t);
	if (jget(doc, "damaged") == NULL || jget(doc, "damaged")->truth ||
	    jget(doc, "reconciled") == NULL ||
	    jget(doc, "reconciled")->type != J_NULL)
		FAIL("repair --json of a sound store:\n%s", t.out);
	doc_free(doc);
	doc = listing(fx);
	doc_free(doc);
	run_free(&t);
	it_workers_finish(fx);
}

/* Human list and status fit 80 columns, whatever the lengths of pool
 * names (64 bytes), remote hosts and ttys. */
static void human_output_fits(void **state)
{
	struct it_fixture *fx = *state;
	struct it_worker *w1, *w2, *w3;
	struct it_result r;
	struct run t = { 0 };
	char rhost[120], tty[60];
	int hd;

	memset(rhost, 'r', sizeof(rhost) - 1);
	rhost[sizeof(rhost) - 1] = '\0';
	memset(tty, 't', sizeof(tty) - 1);
	tty[sizeof(tty) - 1] = '\0';
	it_config(fx, NAMED_ONE
		  "concurrent = ( { pool = \"field-east-pool-with-a-name-of-"
		  "sixty-four-bytes-the-longest-okay\"; licenses = 2;"
		  " groups = [ \"field-east\" ]; } );\n");
	w1 = it_worker(fx);
	w2 = it_worker(fx);
	w3 = it_worker(fx);
	hd = it_start(w1, IT_SERVICE, "carol", tty, rhost);
	it_open_on(w1, hd, &r);
	it_assert_rc(&r, PAM_SUCCESS);
	it_open(w2, IT_SERVICE, "carol", &r);
	it_assert_rc(&r, PAM_SUCCESS);
	hd = it_start(w3, IT_SERVICE, "alice", HOSTILE_TTY, rhost);
	it_open_on(w3, hd, &r);
	it_assert_rc(&r, PAM_SUCCESS);
	it_worker_kill(w2);

	TOOL(fx, &t, "list");
	expect_code(&t, 0);
	expect_no_err(&t);
	expect_fits(&t, NULL);
	expect_out(&t, "LICENSE");
	expect_out(&t, "carol");
	expect_out(&t, "alice");
	/* A row per session: the header, carol's two, alice's one, and the
	 * note on the stale one. */
	if (count_lines(t.out) != 5)
		FAIL("list: expected 5 lines:\n%s", t.out);
	TOOL(fx, &t, "status");
	expect_code(&t, 0);
	expect_fits(&t, "warning:");
	TOOL(fx, &t, "reap");
	expect_code(&t, 0);
	expect_fits(&t, NULL);
	run_free(&t);
	it_workers_finish(fx);
}

/* ------------------------------------------------------------------ */
/* Usage and exit codes                                               */
/* ------------------------------------------------------------------ */

static void usage_and_exit_codes(void **state)
{
	struct it_fixture *fx = *state;
	static const char *const commands[] = {
		"list", "status", "check", "release", "reap", "assign",
		"unassign", "check-config", "repair", "--json", "--pool",
		"--force", "--config",
	};
	struct run t = { 0 };

	it_config(fx, EAST_ONE);
	TOOL_BARE(&t, "--help");
	expect_code(&t, 0);
	expect_out(&t, "usage");
	expect_no_err(&t);
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		expect_out(&t, commands[i]);
	TOOL_BARE(&t, "-h");
	expect_code(&t, 0);
	TOOL_BARE(&t, "--version");
	expect_code(&t, 0);
	expect_out(&t, PACKAGE_VERSION);
	expect_no_err(&t);
	TOOL_BARE(&t, "-V");
	expect_code(&t, 0);

	/* Usage errors: 2, a message, nothing on stdout. */
	TOOL(fx, &t, "frobnicate");
	expect_code(&t, 2);
	expect_err(&t, "frobnicate");
	expect_no_out(&t);
	TOOL(fx, &t, "check");
	expect_code(&t, 2);
	expect_no_out(&t);
	TOOL(fx, &t, "release");
	expect_code(&t, 2);
	TOOL(fx, &t, "assign");
	expect_code(&t, 2);
	TOOL(fx, &t, "unassign");
	expect_code(&t, 2);
	TOOL(fx, &t, "check", "carol", "dave");
	expect_code(&t, 2);
	TOOL(fx, &t, "list", "carol");
	expect_code(&t, 2);
	TOOL(fx, &t, "list", "--pool", "field-east");
	expect_code(&t, 2);
	TOOL(fx, &t, "--no-such-option", "list");
	expect_code(&t, 2);
	TOOL_BARE(&t, NULL);
	expect_code(&t, 2);
	TOOL_BARE(&t, "-c");
	expect_code(&t, 2);
	run_free(&t);
}

/* ------------------------------------------------------------------ */
/* Not root                                                           */
/* ------------------------------------------------------------------ */

#define NOBODY 65534

/* An unprivileged user against the root-owned 0700 store directory: a
 * "no", one clear line on stderr, no crash. */
static void not_root(void **state)
{
	struct it_fixture *fx = *state;
	static const char *const commands[][2] = {
		{ "list", NULL }, { "status", NULL }, { "check", "carol" },
		{ "release", "carol" }, { "reap", NULL }, { "repair", NULL },
	};
	struct it_worker *w;
	struct it_result r;
	struct run t = { 0 };
	char exe[PATH_MAX], wrong[512] = "", first[2048] = "";
	struct stat st;
	char *binary;
	size_t len;

	if (geteuid() != 0) {
		skip();
		return;
	}
	it_config(fx, EAST_ONE);
	w = it_worker(fx);
	it_open(w, IT_SERVICE, "carol", &r);
	it_assert_rc(&r, PAM_SUCCESS);
	assert_int_equal(stat(fx->store_dir, &st), 0);
	assert_int_equal(st.st_uid, 0);
	assert_int_equal(st.st_mode & 07777, 0700);

	/* The tool where nobody can run it, the config readable, the store
	 * directory as it is. */
	path_in(exe, fx->dir, "helpdesk-license");
	binary = hold(it_read_file(HL_IT_TOOL, &len));
	assert_non_null(binary);
	it_write_file(exe, binary, len, 0755);
	held_free(binary);
	assert_int_equal(chmod(fx->dir, 0711), 0);
	assert_int_equal(chmod(fx->conf, 0644), 0);

	/* Every command is tried before the test fails, so that a report
	 * shows them all (and the first stderr in full). */
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++) {
		size_t used = strlen(wrong);

		TOOL_AS(&t, exe, NOBODY, fx->conf, commands[i][0],
			commands[i][1]);
		expect_code(&t, 1);
		expect_no_out(&t);
		if (count_lines(t.err) == 1 &&
		    (strstr(t.err, "root") || strstr(t.err, "ermission")))
			continue;
		if (*first == '\0')
			snprintf(first, sizeof(first), "%s", t.err);
		snprintf(wrong + used, sizeof(wrong) - used, " %s (%zu lines)",
			 commands[i][0], count_lines(t.err));
	}
	if (*wrong)
		FAIL("as uid %d, expected one line on stderr telling of "
		     "permission or root; got:%s. The first one's stderr:\n%s",
		     NOBODY, wrong, first);
	/* check-config needs no store. */
	TOOL_AS(&t, exe, NOBODY, fx->conf, "check-config");
	expect_code(&t, 0);
	/* report reads root's event log: it says so. */
	TOOL_AS(&t, exe, NOBODY, fx->conf, "report");
	expect_code(&t, 1);
	expect_err(&t, "run it as root");
	/* Nothing changed: carol still holds her slot. */
	TOOL(fx, &t, "list");
	expect_code(&t, 0);
	expect_out(&t, "carol");
	run_free(&t);
	it_workers_finish(fx);
}

#define TEST(f) cmocka_unit_test_setup_teardown(f, it_setup, teardown)

/* ------------------------------------------------------------------ */
/* Hostile input everywhere: the event log, syslog, list              */
/* ------------------------------------------------------------------ */

/* What a hostile client can put in PAM_TTY and PAM_RHOST, and a hostile
 * NSS in PAM_USER: a path, a forged syslog line, a forged JSON object,
 * shell and format syntax, terminal escapes, invalid UTF-8, and (last)
 * 10,000 bytes of all of these. */
#define HOSTILE_LONG 10000
static const char *const hostile_items[] = {
	"../../../etc/shadow",
	"pts/0\nJan  1 00:00:00 helpdesk1 sshd[1]: Accepted key for root",
	"\"},{\"event\":\"grant\",\"user\":\"root\"}",
	"'q' `id` $(id) %s%n%x \\ \\u0000",
	"\r\x01\x07\x08\x1b[2J\x1b]0;title\x07\x7f",
	"\xff\xfe\xc3(\xed\xa0\x80",
	NULL,				/* HOSTILE_LONG bytes */
};

/* The bytes of hostile_items, over and over, to len bytes. */
static char *hostile_long(size_t len)
{
	char *s = hold(malloc(len + 1));
	size_t n = 0;

	if (s == NULL)
		FAIL("no memory");
	while (n < len) {
		for (size_t i = 0; hostile_items[i] && n < len; i++)
			for (const char *p = hostile_items[i]; *p && n < len;)
				s[n++] = *p++;
	}
	s[len] = '\0';
	return s;
}

static bool valid_utf8(const char *s)
{
	const unsigned char *p = (const unsigned char *)s;
	const unsigned char *end = p + strlen(s);

	while (p < end) {
		size_t n = ts_utf8_len(p, end);

		if (n == 0)
			return false;
		p += n;
	}
	return true;
}

/* Lines of text free of control characters (and DEL), each one not
 * empty starting with prefix (when not NULL): nothing from outside was
 * written raw, not even a newline that would start a line of its own.
 * what names the text. */
static void expect_no_raw_bytes(const char *text, const char *prefix,
				const char *what)
{
	int line = 1;

	for (const char *p = text; *p; p++) {
		unsigned char c = (unsigned char)*p;

		if (prefix != NULL && (p == text || p[-1] == '\n') &&
		    c != '\n' && strncmp(p, prefix, strlen(prefix)) != 0)
			FAIL("%s: line %d does not start with \"%s\": %.80s",
			     what, line, prefix, p);
		if (c == '\n')
			line++;
		else if (c < 0x20 || c == 0x7f)
			FAIL("%s: line %d has raw control character 0x%02x",
			     what, line, c);
	}
}

static void hostile_items_everywhere(void **state)
{
	struct it_fixture *fx = *state;
	const size_t n_items = sizeof(hostile_items) / sizeof(hostile_items[0]);
	struct pam_testcase unknown[] = {
		pam_test(PAMTEST_ACCOUNT, PAM_USER_UNKNOWN),
		pam_test(PAMTEST_OPEN_SESSION, PAM_USER_UNKNOWN),
	};
	char *longest = hostile_long(HOSTILE_LONG), *text;
	unsigned granted = 0, lines = 0, events = 0;
	struct run t = { 0 };
	size_t len;

	/* pam_wrapper writes pam_syslog's messages of every priority to
	 * the workers' stderr (the fixture's stderr.log). */
	setenv("PAM_WRAPPER_DEBUGLEVEL", "2", 1);
	it_config(fx, "show_holders = true;\n" EAST_ONE);
	for (size_t i = 0; i < n_items; i++) {
		const char *item = hostile_items[i] ? hostile_items[i] : longest;
		struct it_worker *w = it_worker(fx);
		struct it_result r;
		int hd = it_start(w, IT_SERVICE, "carol", item, item);

		/* As tty and remote host: the login is answered. */
		it_open_on(w, hd, &r);
		if (r.rc != PAM_SUCCESS && r.rc != PAM_PERM_DENIED)
			FAIL("hostile item %zu: open %s, expected a grant or "
			     "a refusal", i, it_pam_code(r.rc));
		if (r.rc == PAM_SUCCESS) {
			struct jv *doc = listing(fx);
			const struct jv *s = session_of(
				holder(doc, "concurrent", "carol"),
				it_worker_pid(w));

			granted++;
			if (s == NULL)
				FAIL("hostile item %zu: carol's session is "
				     "not listed", i);
			if (valid_utf8(item) &&
			    (strcmp(jstr(s, "tty"), item) != 0 ||
			     strcmp(jstr(s, "rhost"), item) != 0))
				FAIL("hostile item %zu: list --json does not "
				     "give the tty and remote host back", i);
			doc_free(doc);
			TOOL(fx, &t, "list");
			expect_code(&t, 0);
			expect_no_raw_bytes(t.out, NULL, "list");
			it_close_on(w, hd, &r);
			it_assert_rc(&r, PAM_SUCCESS);
		} else {
			it_end(w, hd);
		}
		it_worker_exit(w);

		/* As a user name: unknown, and nothing written raw. */
		it_pamtest_expect(fx, IT_SERVICE, item, unknown);
	}
	unsetenv("PAM_WRAPPER_DEBUGLEVEL");
	if (granted < n_items - 1)
		FAIL("only %u of %zu hostile logins were granted", granted,
		     n_items);

	/* Every event-log line is one JSON object. */
	text = hold(it_read_file(fx->event_log, &len));
	if (text == NULL)
		FAIL("no event log");
	for (char *line = text, *nl; *line; line = nl + 1) {
		char why[160];
		struct jv *v;

		nl = strchr(line, '\n');
		if (nl == NULL)
			FAIL("the event log ends without a newline");
		lines++;
		v = ts_json_parse(line, (size_t)(nl - line), why, sizeof(why));
		if (v == NULL || v->type != J_OBJECT)
			FAIL("event log line %u is not one JSON object: %s",
			     lines, v ? "not an object" : why);
		events += jstr(v, "event") != NULL;
		jv_free(v);
	}
	if (events != lines || lines < 2 * granted)
		FAIL("the event log has %u lines, %u events, for %u logins",
		     lines, events, granted);
	held_free(text);

	/* Syslog: one line a message, nothing raw. */
	text = hold(it_read_file(fx->stderr_log, &len));
	if (text == NULL)
		FAIL("no stderr.log");
	/* pam_wrapper starts each message's line with "PWRAP_". */
	expect_no_raw_bytes(text, "PWRAP_", "syslog");
	lines = 0;
	for (const char *p = text; (p = strstr(p, "grant: user=carol")); p++)
		lines++;
	if (lines != granted)
		FAIL("syslog has %u grants for %u logins", lines, granted);
	held_free(text);
	held_free(longest);
	run_free(&t);
}

/* ------------------------------------------------------------------ */
/* metrics                                                            */
/* ------------------------------------------------------------------ */

/* The value of the sample "name{labels}" in a metrics exposition; fails
 * when it is missing or there twice. */
static double metric(const struct run *r, const char *series)
{
	size_t len = strlen(series);
	const char *at = NULL;
	char *end;
	double value;

	for (const char *p = r->out; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : p) {
		if (strncmp(p, series, len) == 0 && p[len] == ' ') {
			if (at)
				FAIL("%s twice in:\n%s", series, r->out);
			at = p + len + 1;
		}
	}
	if (at == NULL)
		FAIL("no %s in:\n%s", series, r->out);
	value = strtod(at, &end);
	if (end == at || (*end != '\n' && *end != '\0'))
		FAIL("%s: not a number in:\n%s", series, r->out);
	return value;
}

#define expect_metric(r, series, want) do { \
	double got_ = metric((r), "helpdesk_license_" series); \
	if (got_ != (want)) \
		FAIL("helpdesk_license_%s is %g, not %g", series, got_, \
		     (double)(want)); \
} while (0)

/*
 * field-east has 2 licenses, Named 1: carol and dave hold field-east,
 * alice her Named license; frank is refused; dave's process is killed
 * (stale).  Then reap reclaims dave's slot.
 */
static void metrics_of_a_known_store(void **state)
{
	struct it_fixture *fx = *state;
	struct it_worker *w1, *w2, *w3, *w4;
	struct it_result r;
	struct run t = { 0 };
	char path[PATH_MAX], *file;
	struct stat st;

	it_config(fx, NAMED_ONE
		  "concurrent = ( { pool = \"field-east\"; licenses = 2;"
		  " groups = [ \"field-east\" ]; } );\n");
	w1 = it_worker(fx);
	w2 = it_worker(fx);
	w3 = it_worker(fx);
	w4 = it_worker(fx);
	it_open(w1, IT_SERVICE, "carol", &r);
	it_assert_rc(&r, PAM_SUCCESS);
	it_open(w2, IT_SERVICE, "dave", &r);
	it_assert_rc(&r, PAM_SUCCESS);
	it_open(w3, IT_SERVICE, "alice", &r);
	it_assert_rc(&r, PAM_SUCCESS);
	it_open(w4, IT_SERVICE, "frank", &r);
	it_assert_rc(&r, PAM_PERM_DENIED);
	it_worker_kill(w2);

	TOOL(fx, &t, "metrics");
	expect_code(&t, 0);
	expect_metric(&t, "licenses{pool=\"field-east\",kind=\"concurrent\"}", 2);
	expect_metric(&t, "licenses{pool=\"\",kind=\"named\"}", 1);
	expect_metric(&t, "in_use{pool=\"field-east\",kind=\"concurrent\"}", 2);
	expect_metric(&t, "in_use{pool=\"\",kind=\"named\"}", 1);
	expect_metric(&t, "free{pool=\"field-east\",kind=\"concurrent\"}", 0);
	expect_metric(&t, "free{pool=\"\",kind=\"named\"}", 0);
	expect_metric(&t, "stale{pool=\"field-east\"}", 1);
	expect_metric(&t, "waiting{pool=\"field-east\"}", 0);
	expect_metric(&t, "oldest_wait_seconds{pool=\"field-east\"}", 0);
	expect_metric(&t, "grants_total{pool=\"field-east\",kind=\"concurrent\"}", 2);
	expect_metric(&t, "grants_total{pool=\"\",kind=\"named\"}", 1);
	expect_metric(&t, "refusals_total{pool=\"field-east\",reason=\"all licenses in use\"}", 1);
	expect_metric(&t, "waits_total{pool=\"field-east\"}", 0);
	expect_metric(&t, "event_log_lines_skipped_total{cause=\"not_json\"}", 0);
	expect_metric(&t, "build_info{version=\"" PACKAGE_VERSION "\"}", 1);
	expect_out(&t, "# TYPE helpdesk_license_refusals_total counter\n");
	expect_out(&t, "# TYPE helpdesk_license_in_use gauge\n");
	/* No technician's name in a label. */
	for (const char *const *name = (const char *const[]){ "carol", "dave",
			"alice", "frank", NULL }; *name; name++)
		if (strstr(t.out, *name))
			FAIL("metrics name %s:\n%s", *name, t.out);

	/* reap reclaims dave's slot: a counter goes up, the gauges down. */
	TOOL(fx, &t, "reap");
	expect_code(&t, 0);
	path_in(path, fx->dir, "hl.prom");
	TOOL(fx, &t, "metrics", "--output", path);
	expect_code(&t, 0);
	if (lstat(path, &st) != 0 || !S_ISREG(st.st_mode) ||
	    (st.st_mode & 07777) != 0644)
		FAIL("%s is not a regular file of mode 0644", path);
	file = hold(it_read_file(path, NULL));
	{
		struct run in_file = { .out = file };

		expect_metric(&in_file, "in_use{pool=\"field-east\","
			      "kind=\"concurrent\"}", 1);
		expect_metric(&in_file, "stale{pool=\"field-east\"}", 0);
		expect_metric(&in_file, "reclaims_total{pool=\"field-east\","
			      "reason=\"process gone\"}", 1);
	}
	held_free(file);
	unlink(path);
	/* --output is for metrics only; metrics has no JSON. */
	TOOL(fx, &t, "list", "--output", path);
	expect_code(&t, 2);
	TOOL(fx, &t, "--json", "metrics");
	expect_code(&t, 2);
	run_free(&t);
	it_workers_finish(fx);
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		TEST(release_frees_slot),
		TEST(check_agrees_with_login),
		TEST(check_unlicensed_ignore),
		TEST(check_unknown_user),
		TEST(status_after_config_changes),
		TEST(reap_drops_killed_sessions),
		TEST(reap_reconciles_records),
		TEST(assign_and_unassign),
		TEST(unassign_without_min_assignment),
		TEST(check_config_names_the_line),
		TEST(check_config_unknown_group),
		TEST(check_config_unusable_files),
		TEST(check_config_diff),
		TEST(status_shows_wait_and_exempt),
		TEST(failures_that_say_what_to_do),
		TEST(unlicensed_deny_has_no_kind),
		TEST(repair_truncated_store),
		TEST(repair_garbage_store),
		TEST(repair_reconciles_records),
		TEST(newer_release_left_alone),
		TEST(json_everywhere),
		TEST(hostile_items_everywhere),
		TEST(human_output_fits),
		TEST(usage_and_exit_codes),
		TEST(not_root),
		TEST(metrics_of_a_known_store),
	};

	it_init(argc, argv);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
