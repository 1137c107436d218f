/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The built helpdesk-license's report subcommand, end to end: a config
 * and an event log in a scratch directory, the tool run on them, its JSON
 * and HTML checked.  The log is the one of test_report.c's
 * test_peak_hours_refusals, worked out there: east has 2 licenses, peak
 * 2, 9 license-hours, 1 refusal; 3 licenses would refuse no one.
 */
#include "config.h"

#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <poll.h>
#include <signal.h>
#include <unistd.h>
#include <cmocka.h>

static char dir[] = "/tmp/hl-report-tool-XXXXXX";
static pid_t follower = -1;	/* events --follow, stopped by the teardown
				   too when its test fails */

/* Writes (mode "w") or appends ("a") text to dir/name, kept 0600. */
static void write_as(const char *name, const char *text, const char *mode)
{
	char path[PATH_MAX];
	FILE *fp;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	fp = fopen(path, mode);
	assert_non_null(fp);
	fputs(text, fp);
	assert_int_equal(fclose(fp), 0);
	assert_int_equal(chmod(path, 0600), 0);
}

static void put(const char *name, const char *text)
{
	write_as(name, text, "w");
}

#define LINE(time, rest) "{\"time\":\"2026-11-02T" time ".000Z\"," rest "}\n"

static int setup(void **state)
{
	char conf[2 * PATH_MAX];

	(void)state;
	if (mkdtemp(dir) == NULL)
		return -1;
	snprintf(conf, sizeof(conf),
		 "store = \"%s/licenses.db\";\n"
		 "runtime_store = \"%s/sessions.db\";\n"
		 "event_log = \"%s/events.log\";\n"
		 "concurrent = ( { pool = \"east\"; licenses = 2; "
		 "users = [ \"ann\" ]; } );\n"
		 "prices = { named = 300.0; concurrent = 900.0; "
		 "currency = \"EUR\"; };\n", dir, dir, dir);
	put("hl.conf", conf);
	put("events.log",
	    LINE("08:00:00", "\"event\":\"grant\",\"user\":\"ann\",\"kind\":\"concurrent\",\"pool\":\"east\",\"slot\":1,\"session\":\"s1\"")
	    LINE("09:00:00", "\"event\":\"grant\",\"user\":\"x<b>&\\\"y\",\"kind\":\"concurrent\",\"pool\":\"east\",\"slot\":2,\"session\":\"s2\"")
	    LINE("10:00:00", "\"event\":\"join\",\"user\":\"x<b>&\\\"y\",\"kind\":\"concurrent\",\"pool\":\"east\",\"slot\":2,\"session\":\"s3\"")
	    LINE("10:30:00", "\"event\":\"deny\",\"user\":\"cid\",\"kind\":\"concurrent\",\"pool\":\"east\",\"reason\":\"all licenses in use\"")
	    LINE("11:00:00", "\"event\":\"release\",\"user\":\"x<b>&\\\"y\",\"kind\":\"concurrent\",\"pool\":\"east\",\"slot\":2,\"session\":\"s2\"")
	    LINE("12:00:00", "\"event\":\"release\",\"user\":\"ann\",\"kind\":\"concurrent\",\"pool\":\"east\",\"slot\":1,\"session\":\"s1\"")
	    LINE("13:00:00", "\"event\":\"release\",\"user\":\"x<b>&\\\"y\",\"kind\":\"concurrent\",\"pool\":\"east\",\"slot\":2,\"session\":\"s3\"")
	    LINE("13:00:00", "\"event\":\"grant\",\"user\":\"cid\",\"kind\":\"concurrent\",\"pool\":\"east\",\"slot\":2,\"session\":\"s4\"")
	    LINE("14:00:00", "\"event\":\"release\",\"user\":\"cid\",\"kind\":\"concurrent\",\"pool\":\"east\",\"slot\":2,\"session\":\"s4\"")
	    "a line that is no event\n");
	return 0;
}

static int teardown(void **state)
{
	static const char *const names[] = { "hl.conf", "events.log",
					      "report.html", "victim",
					      "fifo.html", "link",
					      "real/r.html", "open/r.html",
					      "follow.log", "follow.log.1",
					      "host1.log", "host2.log",
					      NULL };
	static const char *const dirs[] = { "real", "open", NULL };
	char path[PATH_MAX];

	(void)state;
	if (follower > 0) {
		kill(follower, SIGKILL);
		waitpid(follower, NULL, 0);
	}
	for (size_t i = 0; names[i]; i++) {
		snprintf(path, sizeof(path), "%s/%s", dir, names[i]);
		unlink(path);
	}
	for (size_t i = 0; dirs[i]; i++) {
		snprintf(path, sizeof(path), "%s/%s", dir, dirs[i]);
		rmdir(path);
	}
	return rmdir(dir);
}

/* Runs the tool with args after "-c CONF"; its stdout, and *status. */
static char *run(const char *args, int *status)
{
	char command[2 * PATH_MAX + 512], *out = NULL;
	size_t len = 0, cap = 0;
	FILE *fp;
	int ch;

	snprintf(command, sizeof(command), "'%s' -c '%s/hl.conf' %s 2>/dev/null",
		 HL_TOOL, dir, args);
	fp = popen(command, "r");
	assert_non_null(fp);
	while ((ch = fgetc(fp)) != EOF) {
		if (len + 2 > cap) {
			cap = cap ? cap * 2 : 4096;
			out = realloc(out, cap);
			assert_non_null(out);
		}
		out[len++] = (char)ch;
	}
	if (out == NULL)
		out = calloc(1, 1);
	else
		out[len] = '\0';
	*status = pclose(fp);
	*status = WIFEXITED(*status) ? WEXITSTATUS(*status) : -1;
	return out;
}

static size_t lines_in(const char *text)
{
	size_t n = 0;

	for (; *text; text++)
		n += *text == '\n';
	return n;
}

static void expect(const char *text, const char *part)
{
	if (strstr(text, part) == NULL)
		fail_msg("missing %s in:\n%s", part, text);
}

static void test_json(void **state)
{
	int status;
	char *out;

	(void)state;
	out = run("report --since 2026-11-02 --until 2026-11-02 --json", &status);
	assert_int_equal(status, 0);
	assert_true(out[0] == '{');
	expect(out, "\"period\":{\"since\":\"2026-11-02T00:00:00Z\","
		    "\"until\":\"2026-11-03T00:00:00Z\"");
	expect(out, "\"input\":{\"files\":1,\"lines\":10,\"skipped\":1,"
		    "\"skipped_by\":{\"not_json\":1,\"too_long\":0,");
	expect(out, "\"pools\":[{\"pool\":\"east\",\"configured\":true,"
		    "\"licenses\":2,\"peak\":2,\"full_share\":0.1250,"
		    "\"hours\":9.000,");
	expect(out, "\"refusals\":1,\"waits\":0,");
	expect(out, "\"fewest\":3,\"refusals_fewest\":0,");
	expect(out, "\"technicians\":[{\"user\":\"ann\",\"sessions\":1,"
		    "\"hours\":4.000,");
	expect(out, "{\"user\":\"x<b>&\\\"y\",\"sessions\":2,\"hours\":4.000,");
	expect(out, "\"named\":{\"licenses\":0,");
	/* A day of log, 5 logins: the planner's figures, no advice. */
	expect(out, "\"too_little_data\":true");
	expect(out, "\"working_hours\":\"Mon-Fri,08:00-18:00\","
		    "\"work_hours\":10.000,");
	expect(out, "\"suggestions\":[\"Too little data for advice: the log "
		    "covers 0.7 days of the period and 5 logins (at least 7 "
		    "days and 20 logins are needed); no license count is "
		    "suggested.\"]");
	free(out);

	/* The summary comes first in the text. */
	out = run("report --since 2026-11-02 --until 2026-11-02", &status);
	assert_int_equal(status, 0);
	expect(out, "\nSummary: licenses to buy\nKIND                 TODAY  PEAK"
		    "  REFUSED  WAITS  SUGGESTED  CHANGE  COST CHANGE\n"
		    "Named                    0     0        0      -          -"
		    "       -            -\n"
		    "east                     2     2        1      0          -"
		    "       -            -\n"
		    "Cost today: 1800.00 EUR.\n");
	assert_true(strstr(out, "Summary") < strstr(out, "\nPools\n"));
	free(out);

	/* --working-hours sets the basis of the working use. */
	out = run("report --since 2026-11-02 --until 2026-11-02 --json "
		  "--working-hours Mon,09:00-11:00", &status);
	assert_int_equal(status, 0);
	/* ann and x<b>&"y hold both licenses 09:00-11:00: 100%. */
	expect(out, "\"work_utilisation\":1.0000,");
	expect(out, "\"working_hours\":\"Mon,09:00-11:00\"");
	free(out);

	/* The options go before the command as well. */
	out = run("--json --since 2026-11-02 --until 2026-11-02T12:00Z report",
		  &status);
	assert_int_equal(status, 0);
	expect(out, "\"until\":\"2026-11-02T12:00:00Z\"");
	free(out);

	/* The text says why lines were skipped, too. */
	out = run("report --since 2026-11-02 --until 2026-11-02", &status);
	assert_int_equal(status, 0);
	expect(out, "Read 1 file, 10 lines; 1 damaged or foreign line skipped "
		    "(not_json 1).");
	free(out);
}

/* The hosts of a shared backend write a log each: --log again and again
 * makes one report of them, the same as of one log holding every line.
 * The day of test_json, its lines dealt to two hosts, out of order. */
static void test_several_logs(void **state)
{
	char args[3 * PATH_MAX], *one, *two, *from_one, *from_two;
	int status;

	(void)state;
	put("host1.log",
	    LINE("09:00:00", "\"event\":\"grant\",\"user\":\"x<b>&\\\"y\",\"kind\":\"concurrent\",\"pool\":\"east\",\"slot\":2,\"session\":\"s2\"")
	    LINE("12:00:00", "\"event\":\"release\",\"user\":\"ann\",\"kind\":\"concurrent\",\"pool\":\"east\",\"slot\":1,\"session\":\"s1\"")
	    LINE("13:00:00", "\"event\":\"release\",\"user\":\"x<b>&\\\"y\",\"kind\":\"concurrent\",\"pool\":\"east\",\"slot\":2,\"session\":\"s3\"")
	    LINE("11:00:00", "\"event\":\"release\",\"user\":\"x<b>&\\\"y\",\"kind\":\"concurrent\",\"pool\":\"east\",\"slot\":2,\"session\":\"s2\"")
	    "a line that is no event\n");
	put("host2.log",
	    LINE("08:00:00", "\"event\":\"grant\",\"user\":\"ann\",\"kind\":\"concurrent\",\"pool\":\"east\",\"slot\":1,\"session\":\"s1\"")
	    LINE("10:00:00", "\"event\":\"join\",\"user\":\"x<b>&\\\"y\",\"kind\":\"concurrent\",\"pool\":\"east\",\"slot\":2,\"session\":\"s3\"")
	    LINE("10:30:00", "\"event\":\"deny\",\"user\":\"cid\",\"kind\":\"concurrent\",\"pool\":\"east\",\"reason\":\"all licenses in use\"")
	    LINE("13:00:00", "\"event\":\"grant\",\"user\":\"cid\",\"kind\":\"concurrent\",\"pool\":\"east\",\"slot\":2,\"session\":\"s4\"")
	    LINE("14:00:00", "\"event\":\"release\",\"user\":\"cid\",\"kind\":\"concurrent\",\"pool\":\"east\",\"slot\":2,\"session\":\"s4\""));
	one = run("report --since 2026-11-02 --until 2026-11-02 --json",
		  &status);
	assert_int_equal(status, 0);
	snprintf(args, sizeof(args), "report --since 2026-11-02 --until "
		 "2026-11-02 --json --log '%s/host1.log' --log '%s/host2.log'",
		 dir, dir);
	two = run(args, &status);
	assert_int_equal(status, 0);
	expect(two, "\"input\":{\"files\":2,\"lines\":10,\"skipped\":1,");
	/* Past what was read, the two reports are the same. */
	from_one = strstr(one, "\"pools\":");
	from_two = strstr(two, "\"pools\":");
	assert_non_null(from_one);
	assert_non_null(from_two);
	assert_string_equal(from_two, from_one);
	free(one);
	free(two);
}

/* The HTML page at path, not empty; the caller frees it. */
static char *read_page(const char *path)
{
	char *page = calloc(1, 1 << 20);
	size_t len;
	FILE *fp = fopen(path, "r");

	assert_non_null(fp);
	assert_non_null(page);
	len = fread(page, 1, (1 << 20) - 1, fp);
	fclose(fp);
	assert_true(len > 0);
	return page;
}

static void test_html(void **state)
{
	char path[PATH_MAX], *page;
	struct stat st;
	int status;

	(void)state;
	snprintf(path, sizeof(path), "report --since 2026-11-02 --until "
		 "2026-11-02 --html '%s/report.html'", dir);
	free(run(path, &status));
	assert_int_equal(status, 0);
	snprintf(path, sizeof(path), "%s/report.html", dir);
	page = read_page(path);
	/* Readable by root and an adm group at most. */
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0137, 0);
	expect(page, "<svg");
	/* The summary table opens the page, before any other table. */
	expect(page, "<h2>Summary: licenses to buy</h2>\n<table id=\"summary\">");
	assert_true(strstr(page, "<table id=\"summary\"") ==
		    strstr(page, "<table"));
	expect(page, "<tr><td>pool east</td><td class=\"n\">2</td>"
		     "<td class=\"n\">2</td><td class=\"n\">1</td>"
		     "<td class=\"n\">0</td><td class=\"n\">-</td>");
	expect(page, "<p id=\"caveat\" class=\"caveat\">Too little data");
	/* The page's policy: nothing loaded from anywhere. */
	expect(page, "content=\"default-src 'none'; style-src 'unsafe-inline'\"");
	expect(page, "x&lt;b&gt;&amp;&quot;y");
	expect(page, "10 lines; 1 damaged or foreign line skipped (not_json 1)");
	/* Self-contained: no script, nothing fetched. */
	assert_null(strstr(page, "<b>"));
	assert_null(strstr(page, "<script"));
	assert_null(strstr(page, "http:"));
	assert_null(strstr(page, "https:"));
	assert_null(strstr(page, "src="));
	assert_null(strstr(page, "href="));
	free(page);
}

/* report --html DIR/NAME, its exit status; the page goes to DIR/NAME. */
static int html_to(const char *name)
{
	char args[2 * PATH_MAX];
	int status;

	snprintf(args, sizeof(args), "report --since 2026-11-02 --until "
		 "2026-11-02 --html '%s/%s'", dir, name);
	free(run(args, &status));
	return status;
}

static void at(char *path, const char *name)
{
	snprintf(path, PATH_MAX, "%s/%s", dir, name);
}

/*
 * The page's path in a directory others may have prepared: nothing found
 * at the name is opened or written through, and a directory that is a
 * symlink or writable by others is refused.
 */
static void test_html_target(void **state)
{
	char path[PATH_MAX], other[PATH_MAX], *text;
	struct stat st;
	int fifo;

	(void)state;
	/* A file left at the name (hard-linked to a victim): replaced, the
	 * victim untouched, the new page 0640 at most. */
	at(path, "report.html");
	at(other, "victim");
	unlink(path);
	put("victim", "precious\n");
	assert_int_equal(chmod(other, 0666), 0);
	assert_int_equal(link(other, path), 0);
	assert_int_equal(html_to("report.html"), 0);
	text = calloc(1, 64);
	assert_non_null(text);
	{
		FILE *fp = fopen(other, "r");

		assert_non_null(fp);
		assert_non_null(fgets(text, 64, fp));
		fclose(fp);
	}
	assert_string_equal(text, "precious\n");
	free(text);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_nlink, 1);
	assert_int_equal(st.st_mode & 0137, 0);

	/* A FIFO at the name: replaced by the page, never opened.  Its
	 * read end is held open non-blocking, so a tool that did open it
	 * would not hang the test: the check is on what is there after. */
	at(path, "fifo.html");
	assert_int_equal(mkfifo(path, 0666), 0);
	fifo = open(path, O_RDONLY | O_NONBLOCK);
	assert_true(fifo >= 0);
	assert_int_equal(html_to("fifo.html"), 0);
	close(fifo);
	assert_int_equal(lstat(path, &st), 0);
	assert_true(S_ISREG(st.st_mode));
	assert_true(st.st_size > 0);

	/* The directory a symlink: refused, nothing written where it
	 * points. */
	at(path, "real");
	assert_int_equal(mkdir(path, 0700), 0);
	at(other, "link");
	assert_int_equal(symlink(path, other), 0);
	assert_int_equal(html_to("link/r.html"), 1);
	at(path, "real/r.html");
	assert_int_equal(lstat(path, &st), -1);

	/* The directory writable by group or others: refused. */
	at(path, "open");
	assert_int_equal(mkdir(path, 0700), 0);
	assert_int_equal(chmod(path, 0770), 0);
	assert_int_equal(html_to("open/r.html"), 1);
	at(path, "open/r.html");
	assert_int_equal(lstat(path, &st), -1);
}

/* A user name with U+202E (right-to-left override) and U+2066 (isolate):
 * escaped in each output, never raw.  Last: it replaces the event log. */
static void test_hidden_characters(void **state)
{
	static const char rlo[] = "\xe2\x80\xae", lri[] = "\xe2\x81\xa6";
	char path[PATH_MAX], *out, *page;
	int status;

	(void)state;
	put("events.log",
	    LINE("08:00:00", "\"event\":\"grant\",\"user\":\"a\xe2\x80\xae" "bc\xe2\x81\xa6" "d\",\"kind\":\"concurrent\",\"pool\":\"east\",\"slot\":1,\"session\":\"s1\"")
	    LINE("09:00:00", "\"event\":\"release\",\"user\":\"a\xe2\x80\xae" "bc\xe2\x81\xa6" "d\",\"kind\":\"concurrent\",\"pool\":\"east\",\"slot\":1,\"session\":\"s1\""));

	out = run("report --since 2026-11-02 --until 2026-11-02 --json",
		  &status);
	assert_int_equal(status, 0);
	expect(out, "\"user\":\"a\\u202ebc\\u2066d\"");
	assert_null(strstr(out, rlo));
	assert_null(strstr(out, lri));
	free(out);

	out = run("report --since 2026-11-02 --until 2026-11-02", &status);
	assert_int_equal(status, 0);
	expect(out, "a\\xe2\\x80\\xaebc");
	assert_null(strstr(out, rlo));
	free(out);

	assert_int_equal(html_to("report.html"), 0);
	at(path, "report.html");
	page = read_page(path);
	expect(page, "a&#x202e;bc&#x2066;d");
	assert_null(strstr(page, rlo));
	assert_null(strstr(page, lri));
	free(page);
}

/* ---- events ---------------------------------------------------------------- */

static void test_events(void **state)
{
	int status;
	char *out;

	(void)state;
	/* --json: the matching lines as they stand. */
	out = run("events --json --event deny", &status);
	assert_int_equal(status, 0);
	assert_string_equal(out, LINE("10:30:00", "\"event\":\"deny\",\"user\":\"cid\",\"kind\":\"concurrent\",\"pool\":\"east\",\"reason\":\"all licenses in use\""));
	free(out);
	out = run("events --json --since 2026-11-02T12:30Z --pool east", &status);
	assert_int_equal(status, 0);
	assert_int_equal(lines_in(out), 3);
	free(out);
	out = run("events --json --user ann", &status);
	assert_int_equal(status, 0);
	assert_int_equal(lines_in(out), 2);
	free(out);
	/* A duration: an hour ago is long after that log. */
	out = run("events --json --since 1h", &status);
	assert_int_equal(status, 0);
	assert_string_equal(out, "");
	free(out);
	/* For people: a header, a line per event, names escaped. */
	out = run("events --user cid", &status);
	assert_int_equal(status, 0);
	assert_int_equal(lines_in(out), 4);
	expect(out, "TIME                EVENT         USER");
	expect(out, " deny          cid          east                 -        -"
		    "       -               all licenses in use\n");
	expect(out, " grant         cid          east #2 ");
	free(out);
	free(run("events --since yesterday", &status));
	assert_int_equal(status, 2);
	free(run("events --event dance", &status));
	assert_int_equal(status, 2);
}

/* A follower's next line, up to its newline; the bound is a hang guard
 * only (the line is normally there within milliseconds). */
static char *next_line(int fd)
{
	static char line[4096];
	size_t len = 0;

	while (len + 1 < sizeof(line)) {
		struct pollfd p = { fd, POLLIN, 0 };

		if (poll(&p, 1, 120000) != 1)
			fail_msg("no line from events --follow within the hang "
				 "guard; so far: %.*s", (int)len, line);
		if (read(fd, line + len, 1) != 1)
			fail_msg("events --follow ended; so far: %.*s",
				 (int)len, line);
		if (line[len] == '\n')
			break;
		len++;
	}
	line[len] = '\0';
	return line;
}

static void append(const char *name, const char *text)
{
	write_as(name, text, "a");
}

#define ANN(time, rest) LINE(time, "\"user\":\"ann\",\"kind\":\"concurrent\",\"pool\":\"east\",\"slot\":1," rest)

/* --follow reads what is appended, before and after the log is rotated
 * (renamed, then created anew), as tail -F does. */
static void test_events_follow(void **state)
{
	char conf[PATH_MAX], log[PATH_MAX], old[PATH_MAX], *line;
	int fds[2], status;
	pid_t pid;

	(void)state;
	snprintf(conf, sizeof(conf), "%s/hl.conf", dir);
	snprintf(log, sizeof(log), "%s/follow.log", dir);
	snprintf(old, sizeof(old), "%s/follow.log.1", dir);
	append("follow.log",
	       ANN("08:00:00", "\"event\":\"grant\",\"session\":\"a1\"")
	       LINE("08:01:00", "\"event\":\"grant\",\"user\":\"bob\",\"kind\":\"named\""));
	assert_int_equal(pipe(fds), 0);
	follower = pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		dup2(fds[1], STDOUT_FILENO);
		close(fds[0]);
		close(fds[1]);
		execl(HL_TOOL, HL_TOOL, "-c", conf, "events", "--follow",
		      "--user", "ann", "--log", log, (char *)NULL);
		_exit(127);
	}
	close(fds[1]);
	expect(next_line(fds[0]), "TIME");
	expect(next_line(fds[0]), " grant         ann          east #1 ");
	/* bob's line is not ann's: the next one is the next of ann's.  A
	 * control character in a name comes out escaped. */
	append("follow.log",
	       ANN("09:00:00", "\"event\":\"join\",\"tty\":\"pts/\\u001b[2J\",\"session\":\"a2\""));
	line = next_line(fds[0]);
	expect(line, " join          ann          east #1              -        pts/\\x1b[2J ");
	assert_null(strchr(line, '\x1b'));
	/* Rotation: the old file gets a last line after its rename, then a
	 * new file is made. */
	assert_int_equal(rename(log, old), 0);
	append("follow.log.1",
	       ANN("10:00:00", "\"event\":\"release\",\"session\":\"a1\""));
	append("follow.log",
	       ANN("11:00:00", "\"event\":\"release\",\"session\":\"a2\""));
	expect(next_line(fds[0]), "release       ann          east #1 ");
	line = next_line(fds[0]);
	expect(line, " 11:00:00 release ");
	/* Appended to the new file later. */
	append("follow.log",
	       ANN("12:00:00", "\"event\":\"grant\",\"session\":\"a3\""));
	expect(next_line(fds[0]), " grant         ann ");
	kill(pid, SIGTERM);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	follower = -1;
	assert_true(WIFSIGNALED(status) && WTERMSIG(status) == SIGTERM);
	close(fds[0]);
}

static void test_usage_errors(void **state)
{
	int status;

	(void)state;
	free(run("report --since yesterday", &status));
	assert_int_equal(status, 2);
	free(run("report --since 2026-11-05 --until 2026-11-04", &status));
	assert_int_equal(status, 2);
	free(run("report --max-refusals -1", &status));
	assert_int_equal(status, 2);
	free(run("report extra", &status));
	assert_int_equal(status, 2);
	free(run("report --working-hours 08:00-18:00", &status));
	assert_int_equal(status, 2);
	free(run("report --min-days -1", &status));
	assert_int_equal(status, 2);
}

int main(void)
{
	/* The human form shows local times: make them the log's. */
	setenv("TZ", "UTC", 1);
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_json),
		cmocka_unit_test(test_several_logs),
		cmocka_unit_test(test_html),
		cmocka_unit_test(test_html_target),
		cmocka_unit_test(test_events),
		cmocka_unit_test(test_events_follow),
		cmocka_unit_test(test_usage_errors),
		cmocka_unit_test(test_hidden_characters),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
