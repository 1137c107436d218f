/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The event log (pam_helpdesk_license(8), "The event log") and the files the module creates
 * (section 6), after real logins through libpam.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "harness.h"

#define EAST_ONE \
	"show_holders = true;\n" \
	"concurrent = ( { pool = \"field-east\"; licenses = 1;" \
	" groups = [ \"field-east\" ]; } );\n"

#define MAX_LINES 64

static const char *str(const struct it_json *j, const char *key)
{
	const struct it_json_field *f = it_json_get(j, key);

	return f && f->type == 's' ? f->value : NULL;
}

static bool nonempty(const struct it_json *j, const char *key)
{
	const char *s = str(j, key);

	return s != NULL && *s != '\0';
}

static long num(const struct it_json *j, const char *key)
{
	const struct it_json_field *f = it_json_get(j, key);

	return f && f->type == 'n' ? atol(f->value) : -1;
}

static bool is_start(const char *event)
{
	return strcmp(event, "grant") == 0 || strcmp(event, "join") == 0;
}

static bool is_end(const char *event)
{
	return strcmp(event, "release") == 0 || strcmp(event, "reap") == 0 ||
	       strcmp(event, "admin-release") == 0;
}

/* Reads the event log: every line one valid JSON object with the fields
 * of pam_helpdesk_license(8), "The event log",.  Returns the number of lines. */
static size_t read_events(struct it_fixture *fx, struct it_json *events)
{
	static const char *const known[] = {
		"grant", "join", "deny", "release", "reap", "admin-release",
		"assign", "unassign", "wait", "error",
	};
	size_t len, count = 0;
	char *text = it_read_file(fx->event_log, &len);
	char *line;

	if (text == NULL)
		it_fail(__FILE__, __LINE__, "no event log at %s",
			fx->event_log);
	if (len == 0 || text[len - 1] != '\n')
		it_fail(__FILE__, __LINE__, "the event log does not end "
			"with a newline");
	for (line = text; *line;) {
		char *nl = strchr(line, '\n');
		struct it_json *j = &events[count];
		const char *event;
		char why[128];
		bool ok = false;

		if (count == MAX_LINES)
			it_fail(__FILE__, __LINE__, "too many events");
		*nl = '\0';
		if (it_json_parse(line, strlen(line), j, why, sizeof(why)))
			it_fail(__FILE__, __LINE__, "line %zu is not a JSON "
				"object (%s): %s", count + 1, why, line);
		if (!nonempty(j, "time") || !it_iso8601_utc_ms(str(j, "time")))
			it_fail(__FILE__, __LINE__, "line %zu: time is not UTC "
				"ISO 8601 with milliseconds: %s", count + 1,
				line);
		event = str(j, "event");
		if (event == NULL)
			it_fail(__FILE__, __LINE__, "line %zu: no event: %s",
				count + 1, line);
		for (size_t k = 0; k < sizeof(known) / sizeof(known[0]); k++)
			ok = ok || strcmp(event, known[k]) == 0;
		if (!ok)
			it_fail(__FILE__, __LINE__, "line %zu: unknown event: "
				"%s", count + 1, line);
		if (!nonempty(j, "user"))
			it_fail(__FILE__, __LINE__, "line %zu: no user: %s",
				count + 1, line);
		if (is_start(event) || is_end(event)) {
			const char *kind = str(j, "kind");

			if (kind == NULL)
				it_fail(__FILE__, __LINE__, "line %zu: a %s "
					"without kind: %s", count + 1, event,
					line);
			if ((strcmp(kind, "named") != 0 &&
			     strcmp(kind, "concurrent") != 0) ||
			    !nonempty(j, "session") || !nonempty(j, "service") ||
			    str(j, "tty") == NULL || str(j, "rhost") == NULL ||
			    !nonempty(j, "host") || num(j, "pid") <= 0)
				it_fail(__FILE__, __LINE__, "line %zu: a %s "
					"without kind, session, service, tty, "
					"rhost, host or pid: %s", count + 1,
					event, line);
			if (strcmp(kind, "concurrent") == 0 &&
			    (str(j, "pool") == NULL || num(j, "slot") < 1))
				it_fail(__FILE__, __LINE__, "line %zu: a "
					"concurrent %s without pool or slot: "
					"%s", count + 1, event, line);
		}
		if (strcmp(event, "deny") == 0 && !nonempty(j, "reason"))
			it_fail(__FILE__, __LINE__, "line %zu: a deny without "
				"a reason: %s", count + 1, line);
		count++;
		line = nl + 1;
	}
	free(text);
	return count;
}

static size_t count_events(const struct it_json *events, size_t n,
			   const char *event, const char *user)
{
	size_t count = 0;

	for (size_t i = 0; i < n; i++)
		if (strcmp(str(&events[i], "event"), event) == 0 &&
		    (user == NULL || strcmp(str(&events[i], "user"), user) == 0))
			count++;
	return count;
}

/* 12. After grants, a join, refusals (session and account), releases and a
 * reclaim: every line is valid JSON with the section 8 fields, and every
 * session that started ends exactly once. */
static void event_log_cycle(void **state)
{
	static struct it_json events[MAX_LINES];
	struct it_fixture *fx = *state;
	struct it_worker *w1, *w2, *w3, *w4;
	struct it_result a, b, r;
	const struct it_json *first = NULL;
	size_t n;

	it_config(fx, EAST_ONE);
	w1 = it_worker(fx);
	w2 = it_worker(fx);
	w3 = it_worker(fx);
	w4 = it_worker(fx);
	a.handle = it_start(w1, IT_SERVICE, "carol", "pts/3", "203.0.113.9");
	it_open_on(w1, a.handle, &r);
	it_assert_rc(&r, PAM_SUCCESS);
	it_open(w2, IT_SERVICE, "dave", &r);
	it_assert_rc(&r, PAM_PERM_DENIED);
	it_acct(w2, IT_SERVICE, "dave", &r);
	it_assert_rc(&r, PAM_PERM_DENIED);
	it_open(w3, IT_SERVICE, "carol", &b);		/* joins */
	it_assert_rc(&b, PAM_SUCCESS);
	it_close(w3, b.handle, &r);
	it_assert_rc(&r, PAM_SUCCESS);
	it_close(w1, a.handle, &r);
	it_assert_rc(&r, PAM_SUCCESS);

	it_open(w4, IT_SERVICE, "carol", &r);
	it_assert_rc(&r, PAM_SUCCESS);
	it_worker_kill(w4);
	it_open(w2, IT_SERVICE, "dave", &r);		/* reclaims */
	it_assert_rc(&r, PAM_SUCCESS);
	it_close(w2, r.handle, &r);
	it_assert_rc(&r, PAM_SUCCESS);
	it_workers_finish(fx);

	n = read_events(fx, events);
	assert_int_equal(count_events(events, n, "grant", "carol"), 2);
	assert_int_equal(count_events(events, n, "grant", "dave"), 1);
	assert_int_equal(count_events(events, n, "join", "carol"), 1);
	assert_int_equal(count_events(events, n, "deny", "dave"), 2);
	assert_int_equal(count_events(events, n, "reap", "carol"), 1);

	/* Every session that starts ends exactly once, after it started. */
	for (size_t i = 0; i < n; i++) {
		const char *session = str(&events[i], "session");
		size_t ends = 0;

		if (!is_start(str(&events[i], "event")))
			continue;
		for (size_t k = 0; k < n; k++) {
			const char *other = str(&events[k], "session");

			if (k != i && other && strcmp(other, session) == 0) {
				if (is_start(str(&events[k], "event")))
					it_fail(__FILE__, __LINE__, "session %s "
						"started twice", session);
				if (is_end(str(&events[k], "event"))) {
					if (k < i)
						it_fail(__FILE__, __LINE__,
							"session %s ends before "
							"it starts", session);
					ends++;
				}
			}
		}
		if (ends != 1)
			it_fail(__FILE__, __LINE__, "session %s of %s (%s) "
				"ends %zu times in the event log", session,
				str(&events[i], "user"),
				str(&events[i], "event"), ends);
		if (first == NULL)
			first = &events[i];
	}
	for (size_t i = 0; i < n; i++) {
		const char *session = str(&events[i], "session");

		if (is_end(str(&events[i], "event")) && session) {
			bool started = false;

			for (size_t k = 0; k < i; k++) {
				const char *other = str(&events[k], "session");

				started = started || (other &&
					  strcmp(other, session) == 0 &&
					  is_start(str(&events[k], "event")));
			}
			if (!started)
				it_fail(__FILE__, __LINE__, "session %s ends "
					"without a start", session);
		}
	}

	/* The first grant is carol's, from w1, with what libpam knew. */
	assert_non_null(first);
	assert_string_equal(str(first, "event"), "grant");
	assert_string_equal(str(first, "user"), "carol");
	assert_string_equal(str(first, "kind"), "concurrent");
	assert_string_equal(str(first, "pool"), "field-east");
	assert_int_equal(num(first, "slot"), 1);
	assert_string_equal(str(first, "service"), IT_SERVICE);
	assert_string_equal(str(first, "tty"), "pts/3");
	assert_string_equal(str(first, "rhost"), "203.0.113.9");
	assert_int_equal(num(first, "pid"), it_worker_pid(w1));
}

/* Values from outside are validated and escaped: a tty and a remote host
 * with quotes, backslashes and control characters still make one valid
 * JSON line each (what is kept of them is the module's choice). */
static void event_log_escaping(void **state)
{
	static struct it_json events[MAX_LINES];
	static const char tty[] = "pts/\"9\"\\\t";
	static const char rhost[] = "evil\"}{\n\x01host";
	struct it_fixture *fx = *state;
	struct it_worker *w;
	struct it_result r;
	size_t n;
	int h;

	it_config(fx, EAST_ONE);
	w = it_worker(fx);
	h = it_start(w, IT_SERVICE, "carol", tty, rhost);
	it_open_on(w, h, &r);
	it_assert_rc(&r, PAM_SUCCESS);
	it_close(w, h, &r);
	it_assert_rc(&r, PAM_SUCCESS);
	it_workers_finish(fx);

	n = read_events(fx, events);
	assert_int_equal(n, 2);
	assert_string_equal(str(&events[0], "event"), "grant");
	assert_true(is_end(str(&events[1], "event")));
}

/* A user name with a quote and a backslash (allowed: neither is a control
 * character) is escaped in the event log and in the refusal message. */
static void event_log_user_escaping(void **state)
{
	static struct it_json events[MAX_LINES];
	static const char user[] = "o\"bri\\en";
	struct it_fixture *fx = *state;
	struct it_worker *w1, *w2;
	struct it_result r;
	size_t n;

	it_config(fx, EAST_ONE);
	w1 = it_worker(fx);
	w2 = it_worker(fx);
	it_open(w1, IT_SERVICE, user, &r);
	it_assert_rc(&r, PAM_SUCCESS);
	it_open(w2, IT_SERVICE, "dave", &r);
	it_assert_rc(&r, PAM_PERM_DENIED);
	it_assert_msg(&r, "bri");
	it_workers_finish(fx);

	n = read_events(fx, events);
	assert_true(n >= 2);
	assert_string_equal(str(&events[0], "event"), "grant");
	assert_string_equal(str(&events[0], "user"), user);
}

/* event_log = "" turns the event log off: logins work, nothing written. */
static void event_log_off(void **state)
{
	struct it_fixture *fx = *state;
	struct pam_testcase cases[] = {
		pam_test(PAMTEST_ACCOUNT, PAM_SUCCESS),
		pam_test(PAMTEST_OPEN_SESSION, PAM_SUCCESS),
		pam_test(PAMTEST_CLOSE_SESSION, PAM_SUCCESS),
	};
	char text[2 * PATH_MAX + 512];

	snprintf(text, sizeof(text), "store = \"%s\"; runtime_store = \"%s\";\n"
		 "event_log = \"\";\n"
		 "concurrent = ( { pool = \"field-east\"; licenses = 1;"
		 " groups = [ \"field-east\" ]; } );\n", fx->store,
		 fx->runtime);
	it_write_file(fx->conf, text, strlen(text), 0600);
	it_pamtest_expect(fx, IT_SERVICE, "carol", cases);
	assert_true(it_exists(fx->store));
	assert_false(it_exists(fx->event_log));
	assert_false(it_exists(fx->log_dir));
}

static void assert_mode(const char *path, mode_t want)
{
	struct stat st;

	if (lstat(path, &st) != 0)
		it_fail(__FILE__, __LINE__, "%s is missing", path);
	if ((st.st_mode & 07777) != want || st.st_uid != geteuid())
		it_fail(__FILE__, __LINE__, "%s: mode %04o uid %lu, expected "
			"%04o uid %lu", path, (unsigned)(st.st_mode & 07777),
			(unsigned long)st.st_uid, (unsigned)want,
			(unsigned long)geteuid());
}

/* The store and log directories are created 0700, their files 0600. */
static void files_are_private(void **state)
{
	struct it_fixture *fx = *state;
	struct it_worker *w;
	struct it_result r;

	/* Even with a lax umask. */
	mode_t old = umask(0);

	it_config(fx, EAST_ONE);
	w = it_worker(fx);
	umask(old);
	it_open(w, IT_SERVICE, "carol", &r);
	it_assert_rc(&r, PAM_SUCCESS);
	it_workers_finish(fx);
	assert_mode(fx->store_dir, 0700);
	assert_mode(fx->store, 0600);
	assert_mode(fx->log_dir, 0700);
	assert_mode(fx->event_log, 0600);
}

/* The size of the file at path; -1 when there is none. */
static long long file_size(const char *path)
{
	struct stat st;

	return lstat(path, &st) == 0 ? (long long)st.st_size : -1;
}

/* A symlinked event log is refused (logins go on), and no event is lost:
 * after the symlink goes, the next write appends every line kept since,
 * those of two transactions included. */
static void event_log_symlink_keeps_events(void **state)
{
	static struct it_json events[MAX_LINES];
	struct it_fixture *fx = *state;
	char target[PATH_MAX + 16];
	struct it_worker *w;
	struct it_result r;
	size_t n;

	assert_int_equal(mkdir(fx->log_dir, 0700), 0);
	snprintf(target, sizeof(target), "%s/elsewhere", fx->log_dir);
	it_write_file(target, "", 0, 0600);
	assert_int_equal(symlink(target, fx->event_log), 0);
	it_config(fx, EAST_ONE);
	w = it_worker(fx);
	it_open(w, IT_SERVICE, "carol", &r);
	it_assert_rc(&r, PAM_SUCCESS);
	it_close(w, r.handle, &r);
	it_assert_rc(&r, PAM_SUCCESS);
	if (!it_stderr_contains(fx, "is a symbolic link"))
		it_fail(__FILE__, __LINE__, "the symlink is not reported");
	assert_int_equal(file_size(target), 0);

	/* The admin replaces the link; the next login's write catches up. */
	assert_int_equal(unlink(fx->event_log), 0);
	it_open(w, IT_SERVICE, "dave", &r);
	it_assert_rc(&r, PAM_SUCCESS);
	it_workers_finish(fx);
	n = read_events(fx, events);
	assert_int_equal(n, 3);
	assert_int_equal(count_events(events, n, "grant", "carol"), 1);
	assert_int_equal(count_events(events, n, "release", "carol"), 1);
	assert_int_equal(count_events(events, n, "grant", "dave"), 1);
	assert_string_equal(str(&events[0], "user"), "carol");
	assert_int_equal(file_size(target), 0);
}

/* An event log others may read (0644) is refused and reported; its lines
 * wait in the store until the mode is fixed. */
static void event_log_open_to_others_refused(void **state)
{
	static struct it_json events[MAX_LINES];
	struct it_fixture *fx = *state;
	struct it_worker *w;
	struct it_result r;
	size_t n;

	assert_int_equal(mkdir(fx->log_dir, 0700), 0);
	it_write_file(fx->event_log, "", 0, 0644);
	assert_int_equal(chmod(fx->event_log, 0644), 0);
	it_config(fx, EAST_ONE);
	w = it_worker(fx);
	it_open(w, IT_SERVICE, "carol", &r);
	it_assert_rc(&r, PAM_SUCCESS);
	if (!it_stderr_contains(fx, "open to others (mode 0644)"))
		it_fail(__FILE__, __LINE__, "the mode is not reported");
	assert_int_equal(file_size(fx->event_log), 0);

	assert_int_equal(chmod(fx->event_log, 0640), 0);
	it_close(w, r.handle, &r);
	it_assert_rc(&r, PAM_SUCCESS);
	it_workers_finish(fx);
	n = read_events(fx, events);
	assert_int_equal(n, 2);
	assert_string_equal(str(&events[0], "event"), "grant");
	assert_string_equal(str(&events[1], "event"), "release");
}

#define TEST(f) cmocka_unit_test_setup_teardown(f, it_setup, it_teardown)

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		TEST(event_log_cycle),
		TEST(event_log_escaping),
		TEST(event_log_user_escaping),
		TEST(event_log_off),
		TEST(files_are_private),
		TEST(event_log_symlink_keeps_events),
		TEST(event_log_open_to_others_refused),
	};

	it_init(argc, argv);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
