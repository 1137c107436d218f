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
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cmocka.h>

static char dir[] = "/tmp/hl-report-tool-XXXXXX";

static void put(const char *name, const char *text)
{
	char path[PATH_MAX];
	FILE *fp;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	fp = fopen(path, "w");
	assert_non_null(fp);
	fputs(text, fp);
	assert_int_equal(fclose(fp), 0);
	assert_int_equal(chmod(path, 0600), 0);
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
		 "event_log = \"%s/events.log\";\n"
		 "concurrent = ( { pool = \"east\"; licenses = 2; "
		 "users = [ \"ann\" ]; } );\n"
		 "prices = { named = 300.0; concurrent = 900.0; "
		 "currency = \"EUR\"; };\n", dir, dir);
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
					      "report.html", NULL };
	char path[PATH_MAX];

	(void)state;
	for (size_t i = 0; names[i]; i++) {
		snprintf(path, sizeof(path), "%s/%s", dir, names[i]);
		unlink(path);
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
	expect(out, "\"input\":{\"files\":1,\"lines\":10,\"skipped\":1}");
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
}

static void test_html(void **state)
{
	char path[PATH_MAX], *page;
	size_t len;
	int status;
	FILE *fp;

	(void)state;
	snprintf(path, sizeof(path), "report --since 2026-11-02 --until "
		 "2026-11-02 --html '%s/report.html'", dir);
	free(run(path, &status));
	assert_int_equal(status, 0);
	snprintf(path, sizeof(path), "%s/report.html", dir);
	fp = fopen(path, "r");
	assert_non_null(fp);
	page = calloc(1, 1 << 20);
	assert_non_null(page);
	len = fread(page, 1, (1 << 20) - 1, fp);
	fclose(fp);
	assert_true(len > 0);
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
	/* Self-contained: no script, nothing fetched. */
	assert_null(strstr(page, "<b>"));
	assert_null(strstr(page, "<script"));
	assert_null(strstr(page, "http:"));
	assert_null(strstr(page, "https:"));
	assert_null(strstr(page, "src="));
	assert_null(strstr(page, "href="));
	free(page);
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
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_json),
		cmocka_unit_test(test_html),
		cmocka_unit_test(test_usage_errors),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
