/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Unit tests of the report and its planner on generated event logs.  The
 * right answers are worked out by hand in the comments beside each log;
 * times are UTC and 2026-11-02 is a Monday.
 */
#include "config.h"

#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>
#include <cmocka.h>

#include "eventread.h"
#include "jsonl.h"
#include "metrics.h"
#include "report.h"

#define HOUR 3600.0

/* ---- fixtures ------------------------------------------------------------ */

struct fixture {
	struct hl_config cfg;
	struct hl_pool pools[2];
	struct hl_eventlog log;
	struct hl_report_options opt;
	struct hl_report *report;
};

static struct fixture *fixture_new(unsigned east, unsigned west)
{
	struct fixture *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	snprintf(f->pools[0].name, sizeof(f->pools[0].name), "east");
	f->pools[0].licenses = east;
	snprintf(f->pools[1].name, sizeof(f->pools[1].name), "west");
	f->pools[1].licenses = west;
	f->cfg.pools = f->pools;
	f->cfg.pool_count = west ? 2 : 1;
	f->cfg.prices = (struct hl_prices){ 300.0, 900.0, "EUR", true };
	f->opt.workday_hours = 8;
	return f;
}

/* An event line; "-" leaves a field out. */
static void add(struct fixture *f, const char *time, const char *event,
		const char *user, const char *kind, const char *pool,
		const char *session, const char *reason)
{
	char line[1024];
	int n;

	n = snprintf(line, sizeof(line),
		     "{\"time\":\"2026-11-%sZ\",\"event\":\"%s\",\"user\":\"%s\"",
		     time, event, user);
	if (strcmp(kind, "-") != 0)
		n += snprintf(line + n, sizeof(line) - (size_t)n,
			      ",\"kind\":\"%s\"", kind);
	if (strcmp(pool, "-") != 0)
		n += snprintf(line + n, sizeof(line) - (size_t)n,
			      ",\"pool\":\"%s\",\"slot\":1", pool);
	if (strcmp(session, "-") != 0)
		n += snprintf(line + n, sizeof(line) - (size_t)n,
			      ",\"pid\":4242,\"session\":\"%s\"", session);
	if (strcmp(reason, "-") != 0)
		n += snprintf(line + n, sizeof(line) - (size_t)n,
			      ",\"reason\":\"%s\"", reason);
	snprintf(line + n, sizeof(line) - (size_t)n, "}");
	assert_true(hl_eventlog_add_line(&f->log, line, strlen(line)));
}

static long long at(const char *iso)
{
	long long ms;
	bool date_only;

	assert_true(hl_parse_iso_time(iso, &ms, &date_only));
	return ms;
}

static void build(struct fixture *f, const char *since, const char *until)
{
	char why[256] = "";

	hl_eventlog_sort(&f->log);
	f->opt.has_since = f->opt.has_until = true;
	f->opt.since_ms = at(since);
	f->opt.until_ms = at(until);
	if (strlen(until) == 10)
		f->opt.until_ms += 86400LL * 1000;	/* all of that day */
	f->report = hl_report_build(&f->cfg, &f->log, &f->opt, why, sizeof(why));
	if (f->report == NULL)
		fail_msg("report: %s", why);
}

static void fixture_free(struct fixture *f)
{
	hl_report_free(f->report);
	hl_eventlog_free(&f->log);
	free(f);
}

static const struct hl_report_pool *pool(const struct fixture *f, const char *name)
{
	for (size_t i = 0; i < f->report->pool_count; i++)
		if (strcmp(f->report->pools[i].name, name) == 0)
			return &f->report->pools[i];
	fail_msg("no pool %s", name);
	return NULL;
}

static const struct hl_report_technician *tech(const struct fixture *f,
					       const char *user)
{
	for (size_t i = 0; i < f->report->technician_count; i++)
		if (strcmp(f->report->technicians[i].user, user) == 0)
			return &f->report->technicians[i];
	fail_msg("no technician %s", user);
	return NULL;
}

static bool suggested(const struct fixture *f, const char *text)
{
	for (size_t i = 0; i < f->report->suggestion_count; i++)
		if (strstr(f->report->suggestions[i], text))
			return true;
	for (size_t i = 0; i < f->report->suggestion_count; i++)
		print_message("suggestion: %s\n", f->report->suggestions[i]);
	return false;
}

#define assert_near(a, b) assert_true(fabs((double)(a) - (double)(b)) < 1e-6)

/* ---- peak, hours, refusals and the planner ------------------------------ */

/*
 * Pool east, 2 licenses, 2026-11-02 (one day):
 *   ann  grant 08:00 (s1), release 12:00                    -> 4 h
 *   bob  grant 09:00 (s2), join 10:00 (s3), release s2 11:00
 *        (the slot stays: s3 is open), release s3 13:00     -> 4 h
 *   cid  deny 10:30 (both licenses held)                    -> 1 refusal
 *   cid  grant 13:00 (s4), release 14:00                    -> 1 h
 * In use: 08-09 1, 09-12 2, 12-13 1, 13-14 1: peak 2, 9 license-hours,
 * at full use 3 h of 24 (12.5%), utilisation 9 / 48 = 18.75%.
 * Planner: a refused login holds the median hold (4, 4, 1 h: 4 h).
 *   2 licenses: cid at 10:30 finds ann and bob: 1 refusal.
 *   3 licenses: cid 10:30-14:30 fits; cid at 13:00 finds bob gone at
 *   13:00 and ann at 12:00: 0 refusals.  Fewest: 3, +1 license, +900 EUR.
 *   1 license: bob at 09:00 and cid at 10:30 refused (2).
 */
static void two_days_log(struct fixture *f)
{
	add(f, "02T08:00:00.000", "grant", "ann", "concurrent", "east", "s1", "free concurrent license");
	add(f, "02T09:00:00.000", "grant", "bob", "concurrent", "east", "s2", "free concurrent license");
	add(f, "02T10:00:00.000", "join", "bob", "concurrent", "east", "s3", "joins the slot already held");
	add(f, "02T10:30:00.000", "deny", "cid", "concurrent", "east", "-", "all licenses in use");
	add(f, "02T11:00:00.000", "release", "bob", "concurrent", "east", "s2", "session closed");
	add(f, "02T12:00:00.000", "release", "ann", "concurrent", "east", "s1", "session closed");
	add(f, "02T13:00:00.000", "release", "bob", "concurrent", "east", "s3", "session closed");
	add(f, "02T13:00:00.000", "grant", "cid", "concurrent", "east", "s4", "free concurrent license");
	add(f, "02T14:00:00.000", "release", "cid", "concurrent", "east", "s4", "session closed");
}

static void test_peak_hours_refusals(void **state)
{
	struct fixture *f = fixture_new(2, 0);
	const struct hl_report_pool *east;

	(void)state;
	two_days_log(f);
	build(f, "2026-11-02", "2026-11-02");
	east = pool(f, "east");
	assert_false(f->report->empty);
	assert_int_equal(east->licenses, 2);
	assert_int_equal(east->peak, 2);
	assert_near(east->hours, 9.0);
	assert_near(east->full_share, 3.0 / 24);
	assert_near(east->utilisation, 9.0 / 48);
	/* All of it in Monday's working hours, 08:00-18:00: 9 / (2 x 10). */
	assert_near(f->report->work_hours, 10.0);
	assert_near(east->work_utilisation, 9.0 / 20);
	assert_int_equal(east->refusals, 1);
	assert_int_equal(east->technicians, 3);
	assert_int_equal(tech(f, "bob")->sessions, 2);
	assert_near(tech(f, "bob")->hours, 4.0);
	assert_near(tech(f, "ann")->hours, 4.0);
	assert_near(tech(f, "cid")->hours, 1.0);
	assert_int_equal(tech(f, "cid")->refusals, 1);
	assert_int_equal(east->refusals_today, 1);
	assert_int_equal(east->fewest, 3);
	assert_int_equal(east->refusals_fewest, 0);
	assert_true(suggested(f, "Pool east: 3 licenses would have kept refusals "
			      "at 0 (1 refusal with today's 2); +1 license, "
			      "+900.00 EUR."));
	fixture_free(f);
}

static void test_planner_target(void **state)
{
	struct fixture *f = fixture_new(2, 0);

	(void)state;
	two_days_log(f);
	/* One refusal allowed: today's 2 are the fewest (1 has 2). */
	f->opt.max_refusals = 1;
	build(f, "2026-11-02", "2026-11-02");
	assert_int_equal(pool(f, "east")->fewest, 2);
	assert_true(suggested(f, "Pool east: today's 2 licenses are the fewest "
			      "that keep refusals at 1 (1 refusal)."));
	fixture_free(f);

	/* Five licenses, no refusal allowed: 3 would do, 2 fewer. */
	f = fixture_new(5, 0);
	two_days_log(f);
	build(f, "2026-11-02", "2026-11-02");
	assert_int_equal(pool(f, "east")->fewest, 3);
	assert_true(suggested(f, "-2 licenses, -1800.00 EUR"));
	fixture_free(f);
}

/* ---- Named refusals, too little data, the summary ------------------------ */

/* An event on day (of November 2026) at hh:mm, for the month below. */
static void add_at(struct fixture *f, int day, const char *hm,
		   const char *event, const char *user, const char *kind,
		   const char *pool_name, const char *session, const char *reason)
{
	char time[32];

	snprintf(time, sizeof(time), "%02dT%s:00.000", day, hm);
	add(f, time, event, user, kind, pool_name, session, reason);
}

/*
 * A month, 2026-11-02 to 2026-11-29 (20 weekdays), one Named license and
 * pool east of 1; prices Named 300, concurrent 900 (ratio 33%), working
 * day of 8 h.  Each weekday:
 *   nina (Named) logged in 08:00-12:00: 4 h, 50%: stays Named
 *   ann  east 09:00-10:00: 1 h, 12.5%: stays in the pool
 * The first 9 weekdays omar, Named-eligible and in no pool, is refused at
 * 09:00 with "all named licenses allocated": 9 Named refusals of one
 * technician who never held one.  One more Named license costs 300, a
 * pool seat for his logins (one at a time) 900: +1 Named.
 * Summary: Named 1 today, peak 1, 9 refusals, suggested 2, +1, +300;
 * east 1, peak 1, 0 refusals, 0 waits, suggested 1, 0.
 * Cost today 300 + 900 = 1200; suggested 600 + 900 = 1500.
 */
static void month_log(struct fixture *f, const char *second)
{
	static const int weekdays[] = { 2, 3, 4, 5, 6, 9, 10, 11, 12, 13, 16,
					17, 18, 19, 20, 23, 24, 25, 26, 27 };
	char session[32];

	for (size_t i = 0; i < sizeof(weekdays) / sizeof(weekdays[0]); i++) {
		int day = weekdays[i];

		snprintf(session, sizeof(session), "n%d", day);
		add_at(f, day, "08:00", "grant", "nina", "named", "-", session,
		       "named allocation");
		add_at(f, day, "12:00", "release", "nina", "named", "-", session,
		       "session closed");
		snprintf(session, sizeof(session), "a%d", day);
		add_at(f, day, "09:00", "grant", "ann", "concurrent", "east",
		       session, "free concurrent license");
		add_at(f, day, "10:00", "release", "ann", "concurrent", "east",
		       session, "session closed");
		if (i < 9)
			add_at(f, day, "09:00", "deny", i % 2 && second ? second
								       : "omar",
			       "named", "-", "-", "all named licenses allocated");
	}
}

static struct fixture *month_fixture(void)
{
	struct fixture *f = fixture_new(1, 0);

	f->cfg.named.licenses = 1;
	f->opt.min_days = HL_REPORT_MIN_DAYS;
	f->opt.min_logins = HL_REPORT_MIN_LOGINS;
	return f;
}

static void test_named_refusals(void **state)
{
	struct fixture *f = month_fixture();
	struct hl_buf buf;
	char *text;

	(void)state;
	month_log(f, NULL);
	build(f, "2026-11-02", "2026-11-29");
	assert_false(f->report->too_little);
	assert_int_equal(f->report->named.refusals, 9);
	assert_int_equal(f->report->named.refused_technicians, 1);
	assert_int_equal(tech(f, "nina")->advice, HL_ADVICE_NONE);
	assert_int_equal(tech(f, "ann")->advice, HL_ADVICE_NONE);
	assert_int_equal(f->report->named.added, 1);
	assert_int_equal(f->report->named.pool_for_refused, 0);
	assert_int_equal(f->report->named.mix, 2);
	assert_int_equal(pool(f, "east")->mix, 1);
	assert_near(f->report->cost_today, 1200);
	assert_near(f->report->cost_mix, 1500);
	assert_true(suggested(f, "Named: 9 refusals of 1 technician who found "
			      "every Named license (1) allocated and held none: "
			      "1 more Named cost 300.00 EUR, a pool of 1 "
			      "license for their logins 900.00 EUR; +1 Named "
			      "license, +300.00 EUR."));
	/* The summary, first in the text. */
	hl_buf_init(&buf);
	hl_report_text(f->report, &buf);
	text = hl_buf_take(&buf);
	assert_non_null(text);
	assert_non_null(strstr(text, "\nSummary: licenses to buy\nKIND"));
	assert_true(strstr(text, "Summary") < strstr(text, "\nPools\n"));
	assert_non_null(strstr(text, "\nNamed                    1     1        "
			       "9      -          2      +1  +300.00 EUR\n"));
	assert_non_null(strstr(text, "\neast                     1     1        "
			       "0      0          1       0            0\n"));
	assert_non_null(strstr(text, "\nCost today: 1200.00 EUR; suggested: "
			       "1500.00 EUR (+300.00 EUR).\n"));
	free(text);
	fixture_free(f);

	/* Named dearer than a seat (ratio 111%), and two refused technicians
	 * who never ask at once: one pool license for both costs less than
	 * two Named; nina's 50% goes to a pool as well. */
	f = month_fixture();
	f->cfg.prices.named = 1000;
	month_log(f, "pia");
	build(f, "2026-11-02", "2026-11-29");
	assert_int_equal(f->report->named.refused_technicians, 2);
	assert_int_equal(f->report->named.added, 0);
	assert_int_equal(f->report->named.pool_for_refused, 1);
	assert_int_equal(tech(f, "nina")->advice, HL_ADVICE_TO_POOL);
	assert_int_equal(f->report->named.mix, 0);
	assert_true(suggested(f, "+1 license in a new pool, +900.00 EUR."));
	hl_buf_init(&buf);
	hl_report_text(f->report, &buf);
	text = hl_buf_take(&buf);
	assert_non_null(strstr(text, "\nnew pool                 -     -        "
			       "-      -          1      +1  +900.00 EUR\n"));
	free(text);
	fixture_free(f);
}

/* A minute of log: the figures, and no purchase advice. */
static void test_too_little_data(void **state)
{
	struct fixture *f = fixture_new(2, 0);
	struct hl_buf buf;
	char *text;

	(void)state;
	f->opt.min_days = HL_REPORT_MIN_DAYS;
	f->opt.min_logins = HL_REPORT_MIN_LOGINS;
	two_days_log(f);
	build(f, "2026-11-02T08:00Z", "2026-11-02T14:01Z");
	assert_true(f->report->too_little);
	assert_near(f->report->covered_days, (6 * 60 + 1) / 1440.0);
	/* ann 1, bob 2 (s3 joins s2), cid 1 and his refusal. */
	assert_int_equal(f->report->logins, 5);
	/* The figures stand: the planner's 3 of test_peak_hours_refusals. */
	assert_int_equal(pool(f, "east")->peak, 2);
	assert_int_equal(pool(f, "east")->fewest, 3);
	assert_int_equal(f->report->suggestion_count, 1);
	assert_true(suggested(f, "Too little data for advice: the log covers "
			      "0.3 days of the period and 5 logins (at least 7 "
			      "days and 20 logins are needed); no license count "
			      "is suggested."));
	hl_buf_init(&buf);
	hl_report_text(f->report, &buf);
	text = hl_buf_take(&buf);
	assert_non_null(text);
	assert_null(strstr(text, "+1 license"));
	assert_null(strstr(text, "suggested:"));
	assert_non_null(strstr(text, "\neast                     2     2        "
			       "1      0          -       -            -\n"));
	assert_non_null(strstr(text, "Cost today: 1800.00 EUR.\nSuggested"));
	free(text);
	fixture_free(f);

	/* Seven days but a handful of logins: too little as well. */
	f = fixture_new(2, 0);
	f->opt.min_days = HL_REPORT_MIN_DAYS;
	f->opt.min_logins = HL_REPORT_MIN_LOGINS;
	two_days_log(f);
	build(f, "2026-11-02", "2026-11-09");
	assert_true(f->report->covered_days >= 7);
	assert_true(f->report->too_little);
	fixture_free(f);
}

static void test_durations(void **state)
{
	static const struct { double seconds; const char *text; } cases[] = {
		{ 0, "0s" }, { 45, "45s" }, { 59.6, "1m" }, { 300, "5m" },
		{ 330, "5m 30s" }, { 3600, "1h 00m" }, { 7500, "2h 05m" },
		{ 90061, "25h 01m" },
	};
	char out[32];

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		hl_report_duration(cases[i].seconds, out, sizeof(out));
		assert_string_equal(out, cases[i].text);
	}
}

static void test_working_hours(void **state)
{
	static const char *const bad[] = {
		"Mon-Fri", "08:00-18:00", "Mon-Fri,18:00-08:00",
		"Mon-Fri,08:00-08:00", "Xyz,08:00-18:00", "Mon,,08:00-18:00",
		"Mon-Fri,8:00-18:00", "Mon-Fri,08:00-24:01", "Mon-Fri,08:60-18:00",
		",08:00-18:00", "Monday,08:00-18:00", "Mon-Fri,08:00-18:00x",
	};
	struct hl_report_hours hours;
	char text[64];

	(void)state;
	assert_true(hl_report_parse_hours("Mon-Fri,08:00-18:00", &hours));
	assert_int_equal(hours.days, 0x1f);
	assert_int_equal(hours.start_min, 480);
	assert_int_equal(hours.end_min, 1080);
	hl_report_hours_text(&hours, text, sizeof(text));
	assert_string_equal(text, "Mon-Fri,08:00-18:00");
	assert_true(hl_report_parse_hours("fri-mon,wed,07:30-24:00", &hours));
	assert_int_equal(hours.days, 0x75);
	assert_int_equal(hours.end_min, 1440);
	hl_report_hours_text(&hours, text, sizeof(text));
	assert_string_equal(text, "Mon,Wed,Fri-Sun,07:30-24:00");
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (hl_report_parse_hours(bad[i], &hours))
			fail_msg("%s was taken", bad[i]);

	/* Saturday 2026-11-07 only: no working hours, no working use. */
	{
		struct fixture *f = fixture_new(1, 0);

		add(f, "07T09:00:00.000", "grant", "ann", "concurrent", "east", "s1", "free concurrent license");
		add(f, "07T10:00:00.000", "release", "ann", "concurrent", "east", "s1", "session closed");
		build(f, "2026-11-07", "2026-11-07");
		assert_near(f->report->work_hours, 0);
		assert_near(pool(f, "east")->work_utilisation, 0);
		assert_near(pool(f, "east")->utilisation, 1.0 / 24);
		fixture_free(f);
	}
}

/* ---- open at the end, reaped, admin-released ---------------------------- */

/*
 * Pool east, 3 licenses, period 2026-11-02 00:00 to 12:00:
 *   dan  grant 11-01 23:00 (before the period), release 01:00   -> 1 h
 *   ann  grant 08:00, never released: counts to 12:00           -> 4 h
 *   bob  grant 09:00, reaped 10:00 (process gone)               -> 1 h
 *   cid  grant 10:00, admin-release 11:00                       -> 1 h
 *   eve  grant 11:00, slot reaped without a session 11:30; her
 *        release at 11:45 no longer holds anything              -> 0.5 h
 *   fay  grant 12:30: after the period, not counted
 * Peak 2 (ann with bob, then ann with cid, then ann with eve); 7.5 h.
 */
static void test_open_reaped_admin_released(void **state)
{
	struct fixture *f = fixture_new(3, 0);
	const struct hl_report_pool *east;

	(void)state;
	add(f, "01T23:00:00.000", "grant", "dan", "concurrent", "east", "s0", "free concurrent license");
	add(f, "02T01:00:00.000", "release", "dan", "concurrent", "east", "s0", "session closed");
	add(f, "02T08:00:00.000", "grant", "ann", "concurrent", "east", "s1", "free concurrent license");
	add(f, "02T09:00:00.000", "grant", "bob", "concurrent", "east", "s2", "free concurrent license");
	add(f, "02T10:00:00.000", "reap", "bob", "concurrent", "east", "s2", "process gone");
	add(f, "02T10:00:00.000", "grant", "cid", "concurrent", "east", "s3", "free concurrent license");
	add(f, "02T11:00:00.000", "admin-release", "cid", "concurrent", "east", "s3", "released by admin");
	add(f, "02T11:00:00.000", "grant", "eve", "concurrent", "east", "s4", "free concurrent license");
	add(f, "02T11:30:00.000", "reap", "eve", "concurrent", "east", "-", "slot without holder record");
	add(f, "02T11:45:00.000", "release", "eve", "concurrent", "east", "s4", "session closed");
	add(f, "02T12:30:00.000", "grant", "fay", "concurrent", "east", "s5", "free concurrent license");
	build(f, "2026-11-02T00:00Z", "2026-11-02T12:00:00Z");
	east = pool(f, "east");
	assert_int_equal(east->peak, 2);
	assert_near(east->hours, 7.5);
	assert_near(tech(f, "dan")->hours, 1.0);
	assert_near(tech(f, "ann")->hours, 4.0);
	assert_near(tech(f, "bob")->hours, 1.0);
	assert_near(tech(f, "cid")->hours, 1.0);
	assert_near(tech(f, "eve")->hours, 0.5);
	assert_near(tech(f, "fay")->hours, 0.0);
	assert_int_equal(tech(f, "fay")->sessions, 0);
	assert_int_equal(east->technicians, 5);
	assert_int_equal(east->refusals, 0);
	/* No "idle" on these ends: nothing counts as idle. */
	assert_near(east->idle_hours, 0.0);
	fixture_free(f);
}

/* ---- idle hours ---------------------------------------------------------- */

/* The end of a session of pool east on day at hh:mm, with the idle
 * seconds of its tty ("idle"; idle < 0 leaves it out). */
static void add_end(struct fixture *f, int day, const char *hm,
		    const char *event, const char *user, const char *session,
		    const char *reason, long idle)
{
	char line[1024];
	int n;

	n = snprintf(line, sizeof(line),
		     "{\"time\":\"2026-11-%02dT%s:00.000Z\",\"event\":\"%s\","
		     "\"user\":\"%s\",\"kind\":\"concurrent\",\"pool\":\"east\","
		     "\"slot\":1,\"pid\":4242,\"session\":\"%s\","
		     "\"reason\":\"%s\"", day, hm, event, user, session, reason);
	if (idle >= 0)
		n += snprintf(line + n, sizeof(line) - (size_t)n,
			      ",\"idle\":%ld", idle);
	snprintf(line + n, sizeof(line) - (size_t)n, "}");
	assert_true(hl_eventlog_add_line(&f->log, line, strlen(line)));
}

/*
 * A month of pool east, 2 licenses, no refusal allowed.  Each of the 20
 * weekdays ann holds one 09:00-12:00 and bob 13:00-16:00: one license
 * would do.  Three days a technician logs in at 08:00, types until 08:30
 * and forgets the session:
 *   Nov 10 cid: reaped at 17:00 by idle reclaim ("idle":30600, reason
 *          "idle 30600s")                                 9 h, 8.5 idle
 *   Nov 17 dan: closed at 18:00, idle 34200 s            10 h, 9.5 idle
 *   Nov 24 eve: reaped at 17:00, reason "idle 30600s" only (a log of
 *          before the "idle" field)                       9 h, 8.5 idle
 * Each pushes the peak to 2 (with ann at 09:00).  Held: 60 + 60 + 28 =
 * 148 h, of which 26.5 idle.  Replayed with the idle hours reclaimable
 * (each forgotten session gives its license back at 08:30), one license
 * refuses nobody: the planner suggests 1, not 2.
 */
static void test_idle_hours_reclaimable(void **state)
{
	static const int weekdays[] = { 2, 3, 4, 5, 6, 9, 10, 11, 12, 13, 16,
					17, 18, 19, 20, 23, 24, 25, 26, 27 };
	struct fixture *f = fixture_new(2, 0);
	const struct hl_report_pool *east;
	struct hl_buf buf;
	char session[32];

	(void)state;
	for (size_t i = 0; i < sizeof(weekdays) / sizeof(weekdays[0]); i++) {
		int day = weekdays[i];

		snprintf(session, sizeof(session), "a%d", day);
		add_at(f, day, "09:00", "grant", "ann", "concurrent", "east",
		       session, "free concurrent license");
		add_end(f, day, "12:00", "release", "ann", session,
			"session closed", 5);
		snprintf(session, sizeof(session), "b%d", day);
		add_at(f, day, "13:00", "grant", "bob", "concurrent", "east",
		       session, "free concurrent license");
		add_end(f, day, "16:00", "release", "bob", session,
			"session closed", -1);
	}
	add_at(f, 10, "08:00", "grant", "cid", "concurrent", "east", "c10",
	       "free concurrent license");
	add_end(f, 10, "17:00", "reap", "cid", "c10", "idle 30600s", 30600);
	add_at(f, 17, "08:00", "grant", "dan", "concurrent", "east", "d17",
	       "free concurrent license");
	add_end(f, 17, "18:00", "release", "dan", "d17", "session closed",
		34200);
	add_at(f, 24, "08:00", "grant", "eve", "concurrent", "east", "e24",
	       "free concurrent license");
	add_end(f, 24, "17:00", "reap", "eve", "e24", "idle 30600s", -1);
	build(f, "2026-11-02", "2026-11-29");

	east = pool(f, "east");
	assert_int_equal(east->peak, 2);
	assert_near(east->hours, 148.0);
	/* ann's 5 s of idle at each close count too: 20 x 5 s. */
	assert_near(east->idle_hours, 26.5 + 100.0 / HOUR);
	assert_near(tech(f, "cid")->hours, 9.0);
	assert_near(tech(f, "cid")->idle_hours, 8.5);
	assert_near(tech(f, "dan")->idle_hours, 9.5);
	assert_near(tech(f, "eve")->idle_hours, 8.5);
	assert_near(tech(f, "bob")->idle_hours, 0.0);
	assert_int_equal(east->fewest, 1);
	assert_int_equal(east->refusals_fewest, 0);
	assert_true(suggested(f, "Pool east: 1 license would have kept "
			      "refusals at 0 as well as today's 2 (peak 2 in "
			      "use)"));
	assert_true(suggested(f, "Pool east: 26.5 of its 148.0 license-hours "
			      "were idle"));

	hl_buf_init(&buf);
	hl_report_text(f->report, &buf);
	assert_non_null(strstr(buf.data, "IDLE-H"));
	assert_non_null(strstr(buf.data, "count as reclaimable, not as used"));
	hl_buf_free(&buf);
	hl_buf_init(&buf);
	hl_report_json(f->report, &buf);
	assert_non_null(strstr(buf.data, "\"hours\":148.000,\"idle_hours\":26.528,"));
	hl_buf_free(&buf);
	hl_buf_init(&buf);
	hl_report_html(f->report, &buf);
	assert_non_null(strstr(buf.data, "<th class=\"n\">Idle hours</th>"));
	hl_buf_free(&buf);
	fixture_free(f);
}

/* ---- waits -------------------------------------------------------------- */

/*
 * Pool east, 1 license, waiting in line (one wait per pool, ended by the
 * grant of the same session or by a deny):
 *   ann  grant 08:00, release 09:00
 *   bob  wait 08:10, grant 09:00 (same session), release 10:00: 50 min
 *   cid  wait 08:20, deny 08:50 timeout: 30 min, a refusal
 *   dan  wait 09:30, deny 09:40 abandoned: 10 min, a refusal
 * Waits 3, median 1800 s, longest 3000 s; refusals 2.
 * Planner (hold of a refused login: median of 1 h and 1 h = 1 h; a
 * granted login asks at its grant, a refused one when it began to wait):
 *   1 license: ann 08-09; cid (08:20) refused; bob 09-10 (ann gone at
 *   09:00); dan (09:30) refused: 2, as recorded
 *   2 licenses: ann, cid 08:20-09:20, bob 09:00 (ann gone), dan 09:30
 *   (cid gone): 0.  Fewest 2.
 */
static void test_waits(void **state)
{
	struct fixture *f = fixture_new(1, 0);
	const struct hl_report_pool *east;

	(void)state;
	add(f, "02T08:00:00.000", "grant", "ann", "concurrent", "east", "s1", "free concurrent license");
	add(f, "02T08:10:00.000", "wait", "bob", "concurrent", "east", "s2", "all licenses in use");
	add(f, "02T08:20:00.000", "wait", "cid", "concurrent", "east", "s3", "all licenses in use");
	add(f, "02T08:50:00.000", "deny", "cid", "concurrent", "east", "s3", "timeout");
	add(f, "02T09:00:00.000", "release", "ann", "concurrent", "east", "s1", "session closed");
	add(f, "02T09:00:00.000", "grant", "bob", "concurrent", "east", "s2", "free concurrent license");
	add(f, "02T09:30:00.000", "wait", "dan", "concurrent", "east", "s4", "all licenses in use");
	add(f, "02T09:40:00.000", "deny", "dan", "concurrent", "east", "s4", "abandoned");
	add(f, "02T10:00:00.000", "release", "bob", "concurrent", "east", "s2", "session closed");
	build(f, "2026-11-02", "2026-11-02");
	east = pool(f, "east");
	assert_int_equal(east->waits, 3);
	assert_near(east->wait_median_s, 1800);
	assert_near(east->wait_longest_s, 3000);
	assert_int_equal(east->refusals, 2);
	assert_int_equal(east->peak, 1);
	assert_near(east->hours, 2.0);
	assert_int_equal(tech(f, "bob")->waits, 1);
	assert_near(tech(f, "bob")->wait_longest_s, 3000);
	assert_int_equal(tech(f, "cid")->refusals, 1);
	assert_int_equal(east->refusals_today, 2);
	assert_int_equal(east->fewest, 2);
	fixture_free(f);
}

/* A login waiting in two pools and timing out: one refusal in each pool,
 * one refusal of its technician. */
static void test_wait_in_two_pools(void **state)
{
	struct fixture *f = fixture_new(1, 1);

	(void)state;
	add(f, "02T08:00:00.000", "wait", "ann", "concurrent", "east", "s1", "all licenses in use");
	add(f, "02T08:00:00.000", "wait", "ann", "concurrent", "west", "s1", "all licenses in use");
	add(f, "02T08:05:00.000", "deny", "ann", "concurrent", "east", "s1", "timeout");
	add(f, "02T08:05:00.000", "deny", "ann", "concurrent", "west", "s1", "timeout");
	build(f, "2026-11-02", "2026-11-02");
	assert_int_equal(pool(f, "east")->refusals, 1);
	assert_int_equal(pool(f, "west")->refusals, 1);
	assert_int_equal(pool(f, "east")->waits, 1);
	assert_near(pool(f, "west")->wait_longest_s, 300);
	assert_int_equal(tech(f, "ann")->refusals, 1);
	assert_int_equal(tech(f, "ann")->waits, 1);
	fixture_free(f);
}

/* ---- Named, and who would cost less where -------------------------------- */

/*
 * One Named license (nina), pool east of 2; prices Named 300, concurrent
 * 900: a share of the working day at or above 300/900 = 33% costs less
 * as Named.  Monday 2026-11-02, one working day of 8 h.
 *   nina grant (Named allocated) 08:00 n1, join 09:00 n2, release n1
 *        10:00, release n2 11:00: logged in 08-11 = 3 h (37.5%: stays);
 *        unassigned 20:00: allocated 12 h
 *   ann  east 09:00-16:00: 7 h (87.5%): Named would cost less
 *   bob  east 10:00-11:00: 1 h (12.5%)
 * East: ann and bob overlap 10-11: 2 licenses are the fewest.  The mix:
 * east without ann needs 1; Named 1 + 1 (ann) = 2.
 * Cost today 1 x 300 + 2 x 900 = 2100; mix 2 x 300 + 1 x 900 = 1500.
 */
static void named_log(struct fixture *f)
{
	add(f, "02T08:00:00.000", "grant", "nina", "named", "-", "n1", "named license allocated");
	add(f, "02T09:00:00.000", "join", "nina", "named", "-", "n2", "named allocation");
	add(f, "02T09:00:00.000", "grant", "ann", "concurrent", "east", "s1", "free concurrent license");
	add(f, "02T10:00:00.000", "release", "nina", "named", "-", "n1", "session closed");
	add(f, "02T10:00:00.000", "grant", "bob", "concurrent", "east", "s2", "free concurrent license");
	add(f, "02T11:00:00.000", "release", "nina", "named", "-", "n2", "session closed");
	add(f, "02T11:00:00.000", "release", "bob", "concurrent", "east", "s2", "session closed");
	add(f, "02T16:00:00.000", "release", "ann", "concurrent", "east", "s1", "session closed");
	add(f, "02T20:00:00.000", "unassign", "nina", "named", "-", "-", "freed by admin");
}

static void test_named_and_mix(void **state)
{
	struct fixture *f = fixture_new(2, 0);

	(void)state;
	f->cfg.named.licenses = 1;
	named_log(f);
	build(f, "2026-11-02", "2026-11-02");
	assert_int_equal(f->report->named.licenses, 1);
	assert_int_equal(f->report->named.peak, 1);
	assert_int_equal(f->report->named.allocations, 1);
	assert_int_equal(f->report->named.technicians, 1);
	assert_true(tech(f, "nina")->named);
	assert_near(tech(f, "nina")->named_hours, 12.0);
	assert_near(tech(f, "nina")->named_used_hours, 3.0);
	assert_int_equal(tech(f, "nina")->named_sessions, 2);
	assert_int_equal(tech(f, "nina")->advice, HL_ADVICE_NONE);
	assert_near(f->report->working_days, 1.0);
	assert_near(tech(f, "ann")->share, 7.0 / 8);
	assert_int_equal(tech(f, "ann")->advice, HL_ADVICE_TO_NAMED);
	assert_int_equal(tech(f, "bob")->advice, HL_ADVICE_NONE);
	assert_int_equal(pool(f, "east")->fewest, 2);
	assert_int_equal(pool(f, "east")->mix, 1);
	assert_int_equal(f->report->named.mix, 2);
	assert_near(f->report->cost_today, 2100);
	assert_near(f->report->cost_mix, 1500);
	assert_true(suggested(f, "ann held a pool license 7.0 h per working day"));
	assert_true(suggested(f, "= 2100.00 EUR; suggested mix: 2 Named + 1 "
			      "concurrent = 1500.00 EUR (-600.00 EUR)."));
	fixture_free(f);
}

/* Named dearer (450 of 900: 50%): nina's 37.5% costs less in a pool, and
 * ann's 87.5% still less as Named. */
static void test_named_to_pool(void **state)
{
	struct fixture *f = fixture_new(2, 0);

	(void)state;
	f->cfg.named.licenses = 1;
	f->cfg.prices.named = 450;
	named_log(f);
	build(f, "2026-11-02", "2026-11-02");
	assert_near(f->report->threshold, 0.5);
	assert_int_equal(tech(f, "nina")->advice, HL_ADVICE_TO_POOL);
	assert_int_equal(tech(f, "ann")->advice, HL_ADVICE_TO_NAMED);
	assert_true(suggested(f, "nina used a Named license 3.0 h per working "
			      "day (38% of 8.0 h"));
	/* East gets nina's 08-11 and keeps bob's 10-11: 2 licenses. */
	assert_int_equal(pool(f, "east")->mix, 2);
	assert_int_equal(f->report->named.mix, 1);
	fixture_free(f);
}

/* A log that begins inside an allocation: nina's join shows a Named
 * license allocated before it, which is in force (2 h used, 09-11) but
 * was not made in the period. */
static void test_named_before_the_log(void **state)
{
	struct fixture *f = fixture_new(1, 0);

	(void)state;
	f->cfg.named.licenses = 1;
	add(f, "02T09:00:00.000", "join", "nina", "named", "-", "n1", "named allocation");
	add(f, "02T11:00:00.000", "release", "nina", "named", "-", "n1", "session closed");
	build(f, "2026-11-02", "2026-11-02");
	assert_int_equal(f->report->named.allocations, 0);
	assert_int_equal(f->report->named.peak, 1);
	assert_int_equal(f->report->named.technicians, 1);
	assert_near(tech(f, "nina")->named_used_hours, 2.0);
	fixture_free(f);
}

/* ---- damaged lines, empty periods ---------------------------------------- */

static void test_damaged_lines(void **state)
{
	static const char *const bad[] = {
		"not json at all",
		"{\"time\":\"yesterday\",\"event\":\"grant\",\"user\":\"ann\"}",
		"{\"event\":\"grant\",\"user\":\"ann\"}",
		"{\"time\":\"2026-11-02T08:00:00.000Z\",\"event\":\"grant\","
		"\"user\":\"ann\",\"pool\":{\"nested\":1}}",
		"{\"time\":\"2026-11-02T08:00:00.000Z\",\"event\":\"dance\","
		"\"user\":\"ann\"}",
		"{\"time\":\"2026-11-02T08:00:00.000Z\",\"event\":\"grant\","
		"\"user\":\"../etc\"}",
		"{\"time\":\"2026-11-02T08:00:00.000Z\",\"event\":\"grant\","
		"\"user\":\"a\xff\"}",
		"{\"time\":\"2026-11-02T08:00:00.000Z\",\"event\":\"grant\","
		"\"user\":\"ann\",\"user\":\"bob\"}",
		"{\"time\":\"2026-11-02T08:00:00.000Z\",\"event\":\"grant\",\"us",
		"{\"time\":\"2026-02-30T08:00:00.000Z\",\"event\":\"grant\","
		"\"user\":\"ann\"}",
		"{\"time\":\"2026-11-02T08:00:00.000Z\",\"event\":\"grant\","
		"\"user\":\"ann\",\"kind\":\"loud\"}",
		"{\"time\":\"2026-11-02T08:00:00.000Z\",\"event\":\"grant\","
		"\"user\":\"ann\",\"slot\":\"one\"}",
		"[1,2,3]",
	};
	struct fixture *f = fixture_new(1, 0);

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		char line[512];

		snprintf(line, sizeof(line), "%s", bad[i]);
		assert_false(hl_eventlog_add_line(&f->log, line, strlen(line)));
	}
	add(f, "02T08:00:00.000", "grant", "ann", "concurrent", "east", "s1", "free concurrent license");
	build(f, "2026-11-02", "2026-11-02T10:00Z");
	assert_int_equal(f->report->lines, 14);
	assert_int_equal(f->report->skipped, 13);
	assert_near(pool(f, "east")->hours, 2.0);
	fixture_free(f);
}

/*
 * A log re-serialised by a shipper: absent fields written as null, and an
 * empty reason.  Every line is an event.  east (1 license): ann holds it
 * 08:00-10:00 (2 h); cid refused once at 09:00 with "slot": null; nina's
 * Named allocation from her 08:30 grant ("pool": null) to the unassign at
 * 11:00; dan refused a Named license with an empty reason.
 */
static void test_null_and_empty_fields(void **state)
{
	static const char *const lines[] = {
		"{\"time\":\"2026-11-02T08:00:00.000Z\",\"event\":\"grant\","
		"\"user\":\"ann\",\"kind\":\"concurrent\",\"pool\":\"east\","
		"\"slot\":1,\"tty\":null,\"rhost\":null,\"pid\":7,"
		"\"session\":\"s1\",\"reason\":\"\"}",
		"{\"time\":\"2026-11-02T08:30:00.000Z\",\"event\":\"grant\","
		"\"user\":\"nina\",\"kind\":\"named\",\"pool\":null,"
		"\"slot\":null,\"session\":\"s2\",\"reason\":null}",
		"{\"time\":\"2026-11-02T09:00:00.000Z\",\"event\":\"deny\","
		"\"user\":\"cid\",\"kind\":\"concurrent\",\"pool\":\"east\","
		"\"slot\":null,\"session\":null,\"pid\":null,"
		"\"reason\":\"all licenses in use\"}",
		"{\"time\":\"2026-11-02T09:30:00.000Z\",\"event\":\"deny\","
		"\"user\":\"dan\",\"kind\":\"named\",\"pool\":null,"
		"\"slot\":null,\"reason\":\"\"}",
		"{\"time\":\"2026-11-02T10:00:00.000Z\",\"event\":\"release\","
		"\"user\":\"ann\",\"kind\":\"concurrent\",\"pool\":\"east\","
		"\"slot\":1,\"session\":\"s1\",\"reason\":\"\"}",
		"{\"time\":\"2026-11-02T11:00:00.000Z\",\"event\":\"unassign\","
		"\"user\":\"nina\",\"kind\":\"named\",\"pool\":null,"
		"\"slot\":null,\"session\":null,\"service\":null,"
		"\"reason\":null}",
	};
	struct fixture *f = fixture_new(1, 0);

	(void)state;
	for (size_t i = 0; i < sizeof(lines) / sizeof(lines[0]); i++) {
		char line[512];

		snprintf(line, sizeof(line), "%s", lines[i]);
		if (!hl_eventlog_add_line(&f->log, line, strlen(line)))
			fail_msg("skipped: %s", lines[i]);
	}
	build(f, "2026-11-02", "2026-11-02T12:00Z");
	assert_int_equal(f->report->lines, 6);
	assert_int_equal(f->report->skipped, 0);
	assert_near(pool(f, "east")->hours, 2.0);
	assert_int_equal(pool(f, "east")->refusals, 1);
	assert_int_equal(f->report->named.refusals, 1);
	assert_int_equal(f->report->named.allocations, 1);
	assert_near(tech(f, "nina")->named_hours, 2.5);
	assert_int_equal(tech(f, "dan")->refusals, 1);
	fixture_free(f);
}

/* Each skipped line is counted under its cause. */
static void test_skip_causes(void **state)
{
	static const struct { const char *line; enum hl_skip_cause cause; } bad[] = {
		{ "not json", HL_SKIP_NOT_JSON },
		{ "{\"event\":\"grant\",\"user\":\"ann\"}", HL_SKIP_TIME },
		{ "{\"time\":null,\"event\":\"grant\",\"user\":\"ann\"}",
		  HL_SKIP_TIME },
		{ "{\"time\":\"2026-11-02T08:00:00Z\",\"event\":\"dance\","
		  "\"user\":\"ann\"}", HL_SKIP_EVENT },
		{ "{\"time\":\"2026-11-02T08:00:00Z\",\"event\":\"grant\","
		  "\"user\":null}", HL_SKIP_USER },
		{ "{\"time\":\"2026-11-02T08:00:00Z\",\"event\":\"grant\","
		  "\"user\":\"ann\",\"pool\":\"\"}", HL_SKIP_FIELD },
		{ "{\"time\":\"2026-11-02T08:00:00Z\",\"event\":\"grant\","
		  "\"user\":\"ann\",\"slot\":\"one\"}", HL_SKIP_FIELD },
		{ "{\"time\":\"2026-11-02T08:00:00Z\",\"event\":\"release\","
		  "\"user\":\"ann\",\"idle\":-5}", HL_SKIP_FIELD },
		{ "{\"time\":\"2026-11-02T08:00:00Z\",\"event\":\"release\","
		  "\"user\":\"ann\",\"idle\":1.5}", HL_SKIP_NOT_JSON },
		{ "{\"time\":\"2026-11-02T08:00:00Z\",\"event\":\"release\","
		  "\"user\":\"ann\",\"idle\":\"60\"}", HL_SKIP_FIELD },
	};
	unsigned long expected[HL_SKIP_CAUSES] = { 0 };
	struct hl_eventlog log;

	(void)state;
	memset(&log, 0, sizeof(log));
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		char line[512];

		snprintf(line, sizeof(line), "%s", bad[i].line);
		assert_false(hl_eventlog_add_line(&log, line, strlen(line)));
		expected[bad[i].cause]++;
	}
	assert_int_equal(log.skipped, sizeof(bad) / sizeof(bad[0]));
	/* A whole number of seconds reads, a huge one as INT_MAX. */
	{
		char ok[] = "{\"time\":\"2026-11-02T08:00:00Z\",\"event\":"
			    "\"release\",\"user\":\"ann\",\"idle\":"
			    "99999999999999999999}";

		assert_true(hl_eventlog_add_line(&log, ok, strlen(ok)));
		assert_int_equal(log.events[log.count - 1].idle, INT_MAX);
	}
	for (int c = 0; c < HL_SKIP_CAUSES; c++)
		if (log.skipped_by[c] != expected[c])
			fail_msg("%s: %lu skipped, %lu expected",
				 hl_skip_cause_name((enum hl_skip_cause)c),
				 log.skipped_by[c], expected[c]);
	hl_eventlog_free(&log);
}

/* A metrics label value: backslash, double quote and newline escaped. */
static void test_metrics_label(void **state)
{
	struct hl_buf buf;
	char *text;

	(void)state;
	hl_buf_init(&buf);
	hl_metrics_label(&buf, "a\\b\"c\nd\te");
	text = hl_buf_take(&buf);
	assert_string_equal(text, "a\\\\b\\\"c\\nd\te");
	free(text);
}

static void test_empty_period(void **state)
{
	struct fixture *f = fixture_new(1, 0);
	struct hl_buf buf;
	char *text;

	(void)state;
	/* Use on November 1st, a report on the 10th to the 20th. */
	add(f, "01T08:00:00.000", "grant", "ann", "concurrent", "east", "s1", "free concurrent license");
	add(f, "01T09:00:00.000", "release", "ann", "concurrent", "east", "s1", "session closed");
	build(f, "2026-11-10", "2026-11-20");
	assert_true(f->report->empty);
	assert_int_equal(pool(f, "east")->peak, 0);
	assert_true(suggested(f, "Pool east was not used in the period: its 1 "
			      "license could go; -1 license, -900.00 EUR."));
	hl_buf_init(&buf);
	hl_report_text(f->report, &buf);
	text = hl_buf_take(&buf);
	assert_non_null(strstr(text, "nothing to report"));
	free(text);
	fixture_free(f);

	/* No log at all. */
	f = fixture_new(1, 0);
	build(f, "2026-11-10", "2026-11-20");
	assert_true(f->report->empty);
	fixture_free(f);
}

/* A period that ends before it begins is refused, not reported. */
static void test_backwards_period(void **state)
{
	struct fixture *f = fixture_new(1, 0);
	char why[128] = "";

	(void)state;
	f->opt = (struct hl_report_options){ .has_since = true, .has_until = true,
		.since_ms = at("2026-11-05"), .until_ms = at("2026-11-04"),
		.workday_hours = 8 };
	assert_null(hl_report_build(&f->cfg, &f->log, &f->opt, why, sizeof(why)));
	assert_non_null(strstr(why, "period"));
	fixture_free(f);
}

/* ---- rotated files --------------------------------------------------------- */

static void write_file(const char *path, const char *text, bool gzip)
{
	if (gzip) {
		gzFile gz = gzopen(path, "wb");

		assert_non_null(gz);
		assert_int_equal(gzputs(gz, text), (int)strlen(text));
		assert_int_equal(gzclose(gz), Z_OK);
	} else {
		FILE *fp = fopen(path, "w");

		assert_non_null(fp);
		fputs(text, fp);
		assert_int_equal(fclose(fp), 0);
	}
	assert_int_equal(chmod(path, 0600), 0);
}

static void ignore_warning(const char *message)
{
	(void)message;
}

static int warnings;
static void count_warning(const char *message)
{
	(void)message;
	warnings++;
}

/*
 * events.log.2.gz (oldest, gzip): ann grant 08:00
 * events.log.1 (plain, not yet compressed: delaycompress): ann join 09:00
 * events.log-20261101.gz (dateext): bob grant 07:00, release 07:30
 * events.log: ann release of both sessions 10:00 and 11:00; a damaged line
 * events.log.3 is a symbolic link: not followed, warned about.
 * ann holds 08:00-11:00 = 3 h, bob 0.5 h: 3.5 h; 4 files, 7 lines (the
 * last one cut short: damaged).
 */
static void test_gzip_rotation(void **state)
{
	char dir[] = "/tmp/hl-report-XXXXXX", path[PATH_MAX], target[PATH_MAX];
	struct fixture *f = fixture_new(1, 0);
	char why[256];

	(void)state;
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/events.log.2.gz", dir);
	write_file(path, "{\"time\":\"2026-11-02T08:00:00.000Z\",\"event\":\"grant\","
		   "\"user\":\"ann\",\"kind\":\"concurrent\",\"pool\":\"east\","
		   "\"slot\":1,\"session\":\"s1\"}\n", true);
	snprintf(path, sizeof(path), "%s/events.log.1", dir);
	write_file(path, "{\"time\":\"2026-11-02T09:00:00.000Z\",\"event\":\"join\","
		   "\"user\":\"ann\",\"kind\":\"concurrent\",\"pool\":\"east\","
		   "\"slot\":1,\"session\":\"s2\"}\n", false);
	snprintf(path, sizeof(path), "%s/events.log-20261101.gz", dir);
	write_file(path, "{\"time\":\"2026-11-02T07:00:00.000Z\",\"event\":\"grant\","
		   "\"user\":\"bob\",\"kind\":\"concurrent\",\"pool\":\"east\","
		   "\"slot\":1,\"session\":\"b1\"}\n"
		   "{\"time\":\"2026-11-02T07:30:00.000Z\",\"event\":\"release\","
		   "\"user\":\"bob\",\"kind\":\"concurrent\",\"pool\":\"east\","
		   "\"slot\":1,\"session\":\"b1\"}\n", true);
	snprintf(path, sizeof(path), "%s/events.log", dir);
	write_file(path, "{\"time\":\"2026-11-02T10:00:00.000Z\",\"event\":\"release\","
		   "\"user\":\"ann\",\"kind\":\"concurrent\",\"pool\":\"east\","
		   "\"slot\":1,\"session\":\"s1\"}\n"
		   "{\"time\":\"2026-11-02T11:00:00.000Z\",\"event\":\"release\","
		   "\"user\":\"ann\",\"kind\":\"concurrent\",\"pool\":\"east\","
		   "\"slot\":1,\"session\":\"s2\"}\n"
		   "{\"time\":\"2026-11-02T11:", false);
	snprintf(target, sizeof(target), "%s/events.log.1", dir);
	snprintf(path, sizeof(path), "%s/events.log.3", dir);
	assert_int_equal(symlink(target, path), 0);
	snprintf(path, sizeof(path), "%s/events.log", dir);
	warnings = 0;
	assert_int_equal(hl_eventlog_read(path, &f->log, count_warning, why,
					  sizeof(why)), 0);
	assert_int_equal(warnings, 1);
	assert_int_equal(f->log.files, 4);
	assert_int_equal(f->log.lines, 7);
	assert_int_equal(f->log.skipped, 1);
	build(f, "2026-11-02", "2026-11-02");
	assert_near(tech(f, "ann")->hours, 3.0);
	assert_near(tech(f, "bob")->hours, 0.5);
	assert_near(pool(f, "east")->hours, 3.5);
	assert_int_equal(tech(f, "ann")->sessions, 2);
	fixture_free(f);

	/* A missing log is an empty one. */
	f = fixture_new(1, 0);
	snprintf(path, sizeof(path), "%s/none.log", dir);
	assert_int_equal(hl_eventlog_read(path, &f->log, ignore_warning, why,
					  sizeof(why)), 0);
	assert_int_equal(f->log.count, 0);
	fixture_free(f);

	{
		static const char *const names[] = { "events.log.2.gz",
			"events.log.1", "events.log-20261101.gz", "events.log",
			"events.log.3" };

		for (size_t i = 0; i < 5; i++) {
			snprintf(path, sizeof(path), "%s/%s", dir, names[i]);
			unlink(path);
		}
		rmdir(dir);
	}
}

/* ---- the line reader and dates ------------------------------------------------ */

static void test_jsonl(void **state)
{
	char line[] = "{\"a\":\"caf\\u00e9 \\ud83d\\ude00\\n\",\"b\":-12,"
		      "\"c\":true,\"d\":null, \"e\" : \"x\\\"y\"}";
	char zero[] = "{\"a\":\"\\u0000\"}";
	char lone[] = "{\"a\":\"\\udc00\"}";
	char trailing[] = "{\"a\":1} x";
	struct hl_jsonl_object obj;

	(void)state;
	assert_true(hl_jsonl_parse(line, strlen(line), &obj));
	assert_int_equal(obj.count, 5);
	assert_string_equal(hl_jsonl_get(&obj, "a")->value,
			    "caf\xc3\xa9 \xf0\x9f\x98\x80\n");
	assert_string_equal(hl_jsonl_get(&obj, "b")->value, "-12");
	assert_int_equal(hl_jsonl_get(&obj, "b")->type, HL_JSONL_NUMBER);
	assert_int_equal(hl_jsonl_get(&obj, "c")->type, HL_JSONL_BOOL);
	assert_int_equal(hl_jsonl_get(&obj, "d")->type, HL_JSONL_NULL);
	assert_string_equal(hl_jsonl_get(&obj, "e")->value, "x\"y");
	assert_false(hl_jsonl_parse(zero, strlen(zero), &obj));
	assert_false(hl_jsonl_parse(lone, strlen(lone), &obj));
	assert_false(hl_jsonl_parse(trailing, strlen(trailing), &obj));
}

static void test_dates(void **state)
{
	long long ms;
	bool date_only;

	(void)state;
	assert_true(hl_parse_iso_time("2026-11-29T08:01:02.345Z", &ms, &date_only));
	assert_false(date_only);
	/* 2026-11-29 is day 20786 since 1970-01-01. */
	assert_int_equal(ms, (20786LL * 86400 + 8 * 3600 + 62) * 1000 + 345);
	assert_true(hl_parse_iso_time("2026-11-29", &ms, &date_only));
	assert_true(date_only);
	assert_int_equal(ms, 20786LL * 86400 * 1000);
	assert_true(hl_parse_iso_time("2026-11-29T10:00+02:00", &ms, &date_only));
	assert_int_equal(ms, (20786LL * 86400 + 8 * 3600) * 1000);
	assert_false(hl_parse_iso_time("2026-13-01", &ms, &date_only));
	assert_false(hl_parse_iso_time("2026-11-29T25:00Z", &ms, &date_only));
	assert_false(hl_parse_iso_time("2026-11-29T10:00Zjunk", &ms, &date_only));
	assert_false(hl_parse_iso_time("29/11/2026", &ms, &date_only));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_peak_hours_refusals),
		cmocka_unit_test(test_planner_target),
		cmocka_unit_test(test_named_refusals),
		cmocka_unit_test(test_too_little_data),
		cmocka_unit_test(test_durations),
		cmocka_unit_test(test_working_hours),
		cmocka_unit_test(test_open_reaped_admin_released),
		cmocka_unit_test(test_waits),
		cmocka_unit_test(test_wait_in_two_pools),
		cmocka_unit_test(test_named_and_mix),
		cmocka_unit_test(test_named_to_pool),
		cmocka_unit_test(test_named_before_the_log),
		cmocka_unit_test(test_damaged_lines),
		cmocka_unit_test(test_null_and_empty_fields),
		cmocka_unit_test(test_skip_causes),
		cmocka_unit_test(test_metrics_label),
		cmocka_unit_test(test_idle_hours_reclaimable),
		cmocka_unit_test(test_empty_period),
		cmocka_unit_test(test_backwards_period),
		cmocka_unit_test(test_gzip_rotation),
		cmocka_unit_test(test_jsonl),
		cmocka_unit_test(test_dates),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
