/* SPDX-License-Identifier: BSD-3-Clause */
/* The report printed: aligned text for people, JSON for scripts, and one
 * self-contained HTML page with inline SVG charts. */
#include "config.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "report.h"

#define DAY_MS (86400LL * 1000)

static void utc_text(long long ms, bool seconds, char *out, size_t len)
{
	time_t when = (time_t)(ms / 1000 - (ms % 1000 < 0));
	struct tm tm;

	if (gmtime_r(&when, &tm) == NULL)
		snprintf(out, len, "?");
	else
		strftime(out, len, seconds ? "%Y-%m-%dT%H:%M:%SZ"
					   : "%Y-%m-%d %H:%M", &tm);
}

void hl_report_duration(double seconds, char *out, size_t len)
{
	long s = (long)(seconds + 0.5);

	if (s >= 3600)
		snprintf(out, len, "%ldh %02ldm", s / 3600, s / 60 % 60);
	else if (s >= 60 && s % 60)
		snprintf(out, len, "%ldm %02lds", s / 60, s % 60);
	else if (s >= 60)
		snprintf(out, len, "%ldm", s / 60);
	else
		snprintf(out, len, "%lds", s);
}

/* The median and longest wait of a pool, "-" when nobody waited. */
static void wait_texts(const struct hl_report_pool *pool, char *median,
		       char *longest, size_t len)
{
	if (pool->waits == 0 && pool->wait_longest_s <= 0) {
		snprintf(median, len, "-");
		snprintf(longest, len, "-");
		return;
	}
	hl_report_duration(pool->wait_median_s, median, len);
	hl_report_duration(pool->wait_longest_s, longest, len);
}

/* A technician's longest wait, "-" when they never waited. */
static void longest_wait_text(const struct hl_report_technician *tech,
			      char *longest, size_t len)
{
	if (tech->waits)
		hl_report_duration(tech->wait_longest_s, longest, len);
	else
		snprintf(longest, len, "-");
}

/* A share as a percentage, "-" when it has no basis. */
static void share_text(double share, bool based, char *out, size_t len)
{
	if (based)
		snprintf(out, len, "%.0f%%", share * 100);
	else
		snprintf(out, len, "-");
}

/* ---- the summary: what to buy ------------------------------------------- */

/* One row of the summary: the Named licenses, a pool, or the new pool the
 * planner suggests for technicians refused a Named license. */
struct summary_row {
	const char *kind;		/* "Named", a pool, "new pool" */
	bool pool;			/* kind is a pool's name */
	bool exists;			/* not the suggested new pool */
	unsigned licenses, peak;
	unsigned long refusals, waits;
	bool waits_apply;		/* Named licenses have no line */
	bool advice;			/* suggested, change and cost apply */
	unsigned suggested;
	double price;
};

/* Row i: 0 the Named licenses, then the pools, then the new pool. */
static bool summary_row(const struct hl_report *report, size_t i,
			struct summary_row *row)
{
	memset(row, 0, sizeof(*row));
	row->advice = !report->too_little;
	row->exists = i <= report->pool_count;
	if (i == 0) {
		row->kind = "Named";
		row->licenses = report->named.licenses;
		row->peak = report->named.peak;
		row->refusals = report->named.refusals;
		row->suggested = report->named.mix;
		row->price = report->price_named;
		return true;
	}
	if (i <= report->pool_count) {
		const struct hl_report_pool *pool = &report->pools[i - 1];

		row->kind = pool->name;
		row->pool = true;
		row->licenses = pool->licenses;
		row->peak = pool->peak;
		row->refusals = pool->refusals;
		row->waits = pool->waits;
		row->waits_apply = true;
		/* A pool only in the log is not bought: nothing to suggest. */
		row->advice &= pool->configured;
		row->suggested = pool->mix;
		row->price = report->price_concurrent;
		return true;
	}
	if (i == report->pool_count + 1 && report->named.pool_for_refused > 0) {
		row->kind = "new pool";
		row->suggested = report->named.pool_for_refused;
		row->price = report->price_concurrent;
		return true;
	}
	return false;
}

/* The suggested, change and cost-change cells of row, or "-". */
static void summary_advice(const struct hl_report *report,
			   const struct summary_row *row, char *suggested,
			   char *change, char *cost, size_t len)
{
	long delta = (long)row->suggested - (long)row->licenses;

	if (!row->advice) {
		snprintf(suggested, len, "-");
		snprintf(change, len, "-");
		snprintf(cost, len, "-");
		return;
	}
	snprintf(suggested, len, "%u", row->suggested);
	if (delta == 0) {
		snprintf(change, len, "0");
		snprintf(cost, len, report->prices_set ? "0" : "-");
		return;
	}
	snprintf(change, len, "%+ld", delta);
	if (report->prices_set)
		snprintf(cost, len, "%+.2f %s", delta * row->price,
			 report->currency);
	else
		snprintf(cost, len, "-");
}

/* "Cost: today 2100.00 EUR, suggested 1500.00 EUR (-600.00 EUR)." */
static void summary_total(const struct hl_report *report, char *out, size_t len)
{
	if (!report->prices_set)
		snprintf(out, len, "No prices in the configuration: set prices "
			 "to see what each mix costs.");
	else if (report->too_little)
		snprintf(out, len, "Cost today: %.2f %s.", report->cost_today,
			 report->currency);
	else
		snprintf(out, len, "Cost today: %.2f %s; suggested: %.2f %s "
			 "(%+.2f %s).", report->cost_today, report->currency,
			 report->cost_mix, report->currency,
			 report->cost_mix - report->cost_today,
			 report->currency);
}

static double period_days(const struct hl_report *report)
{
	return (double)(report->until_ms - report->since_ms) / DAY_MS;
}

/* ---- text ------------------------------------------------------------------ */

/* A name from the log, printable and padded (or cut with '>') to width. */
static void text_name(struct hl_buf *buf, const char *name, int width)
{
	char shown[256];
	int len;

	hl_printable(name, shown, sizeof(shown));
	len = (int)strlen(shown);
	if (len > width) {
		shown[width - 1] = '>';
		shown[width] = '\0';
	}
	hl_buf_printf(buf, "%-*s", width, shown);
}

/* "; N damaged or foreign lines skipped (not_json 2, bad_time 1)": the
 * same words in the text and the HTML (the causes need no escaping). */
static void skipped_lines(const struct hl_report *report, struct hl_buf *buf)
{
	const char *sep = " (";

	if (report->skipped == 0)
		return;
	hl_buf_printf(buf, "; %lu damaged or foreign line%s skipped",
		      report->skipped, report->skipped == 1 ? "" : "s");
	for (int c = 0; c < HL_SKIP_CAUSES; c++) {
		if (report->skipped_by[c] == 0)
			continue;
		hl_buf_printf(buf, "%s%s %lu", sep,
			      hl_skip_cause_name((enum hl_skip_cause)c),
			      report->skipped_by[c]);
		sep = ", ";
	}
	hl_buf_puts(buf, ")");
}

static void text_header(const struct hl_report *report, struct hl_buf *buf)
{
	char since[32], until[32];

	utc_text(report->since_ms, false, since, sizeof(since));
	utc_text(report->until_ms, false, until, sizeof(until));
	hl_buf_printf(buf, "Period: %s to %s UTC (%.1f days, %.1f working "
		      "days)\n", since, until, period_days(report),
		      report->working_days);
	hl_buf_printf(buf, "Read %u file%s, %lu line%s", report->files,
		      report->files == 1 ? "" : "s", report->lines,
		      report->lines == 1 ? "" : "s");
	skipped_lines(report, buf);
	hl_buf_puts(buf, ".\n");
}

/* What the manager reads first: per kind of license, what there is,
 * how it went, and what to buy. */
static void text_summary(const struct hl_report *report, struct hl_buf *buf)
{
	struct summary_row row;
	char total[256];

	hl_buf_puts(buf, "\nSummary: licenses to buy\n"
		    "KIND                 TODAY  PEAK  REFUSED  WAITS  SUGGESTED"
		    "  CHANGE  COST CHANGE\n");
	for (size_t i = 0; summary_row(report, i, &row); i++) {
		char waits[24], suggested[24], change[24], cost[64];

		summary_advice(report, &row, suggested, change, cost, 24);
		if (row.waits_apply)
			snprintf(waits, sizeof(waits), "%lu", row.waits);
		else
			snprintf(waits, sizeof(waits), "-");
		text_name(buf, row.kind, 20);
		if (row.exists)
			hl_buf_printf(buf, " %5u %5u %8lu", row.licenses,
				      row.peak, row.refusals);
		else
			hl_buf_printf(buf, " %5s %5s %8s", "-", "-", "-");
		hl_buf_printf(buf, " %6s %10s %7s %12s\n", waits, suggested,
			      change, cost);
	}
	summary_total(report, total, sizeof(total));
	hl_buf_printf(buf, "%s\nSuggested: the mix the planner prices, after "
		      "the moves between Named and the pools in the "
		      "suggestions;\nidle hours (a license held after its "
		      "holder's last input) count as reclaimable, not as "
		      "used.\n", total);
	if (report->too_little)
		hl_buf_printf(buf, "%s\n", report->suggestions[0]);
}

/* The pools' table and its legend. */
static void text_pools(const struct hl_report *report, struct hl_buf *buf)
{
	char median[32], longest[32], hours[64], work_use[16], all_use[16];

	hl_report_hours_text(&report->hours, hours, sizeof(hours));
	hl_buf_puts(buf, "\nPools\nPOOL                 LICENSES  PEAK  FULL"
		    "    HOURS  IDLE-H  USE-WH  USE-ALL  REFUSED  WAITS   "
		    "MEDIAN  LONGEST  TECHS\n");
	for (size_t p = 0; p < report->pool_count; p++) {
		const struct hl_report_pool *pool = &report->pools[p];

		wait_texts(pool, median, longest, sizeof(median));
		share_text(pool->work_utilisation,
			   pool->licenses && report->work_hours > 0, work_use,
			   sizeof(work_use));
		share_text(pool->utilisation, pool->licenses > 0, all_use,
			   sizeof(all_use));
		text_name(buf, pool->name, 20);
		hl_buf_printf(buf, " %8u %5u %4.0f%% %8.1f %7.1f %7s %8s %8lu "
			      "%6lu %8s %8s %6u\n", pool->licenses, pool->peak,
			      pool->full_share * 100, pool->hours,
			      pool->idle_hours, work_use, all_use,
			      pool->refusals, pool->waits, median, longest,
			      pool->technicians);
	}
	hl_buf_puts(buf, "HOURS: license-hours held; IDLE-H: of those, held "
		    "after the holder's last input\n(not used: the planner "
		    "counts them reclaimable);\n");
	hl_buf_printf(buf, "USE-WH: license-hours used in the working hours "
		      "(%s UTC, %.1f h in the period) per license;\nUSE-ALL "
		      "and FULL: over the whole period, nights and weekends "
		      "too.\n", hours, report->work_hours);
	/* Only when it happened: most pools have no idle_timeout. */
	for (size_t p = 0; p < report->pool_count; p++)
		if (report->pools[p].idle_reclaims)
			hl_buf_printf(buf, "Pool %s: %lu license%s taken from "
				      "idle holders for technicians who "
				      "needed them.\n", report->pools[p].name,
				      report->pools[p].idle_reclaims,
				      report->pools[p].idle_reclaims == 1
					      ? "" : "s");
}

static void text_technicians(const struct hl_report *report,
			     struct hl_buf *buf)
{
	char longest[32];

	hl_buf_puts(buf, "\nTechnicians\nUSER                 SESSIONS"
		    "   HOURS  IDLE-H  NAMED-H  REFUSED  WAITS  LONGEST\n");
	for (size_t t = 0; t < report->technician_count; t++) {
		const struct hl_report_technician *tech = &report->technicians[t];

		longest_wait_text(tech, longest, sizeof(longest));
		text_name(buf, tech->user, 20);
		hl_buf_printf(buf, " %8lu %7.1f %7.1f %8.1f %8lu %6lu %8s\n",
			      tech->sessions, tech->hours, tech->idle_hours,
			      tech->named_used_hours, tech->refusals,
			      tech->waits, longest);
	}
}

static void text_named(const struct hl_report *report, struct hl_buf *buf)
{
	hl_buf_printf(buf, "\nNamed: %u license%s, at most %u allocated at "
		      "once, %lu allocation%s made, %lu refusal%s\n",
		      report->named.licenses,
		      report->named.licenses == 1 ? "" : "s",
		      report->named.peak, report->named.allocations,
		      report->named.allocations == 1 ? "" : "s",
		      report->named.refusals,
		      report->named.refusals == 1 ? "" : "s");
	if (report->named.technicians > 0) {
		hl_buf_puts(buf, "USER                 ALLOCATED-H   USED-H  "
			    "SESSIONS\n");
		for (size_t t = 0; t < report->technician_count; t++) {
			const struct hl_report_technician *tech =
				&report->technicians[t];

			if (!tech->named)
				continue;
			text_name(buf, tech->user, 20);
			hl_buf_printf(buf, " %11.1f %8.1f %9lu\n",
				      tech->named_hours, tech->named_used_hours,
				      tech->named_sessions);
		}
	}
	if (report->unlicensed)
		hl_buf_printf(buf, "Unlicensed logins refused: %lu\n",
			      report->unlicensed);
}

static void text_suggestions(const struct hl_report *report,
			     struct hl_buf *buf)
{
	hl_buf_puts(buf, "\nSuggestions\n");
	for (size_t s = 0; s < report->suggestion_count; s++) {
		char line[1200];

		/* Pool and user names come from the log. */
		hl_printable(report->suggestions[s], line, sizeof(line));
		hl_buf_printf(buf, "- %s\n", line);
	}
}

void hl_report_text(const struct hl_report *report, struct hl_buf *buf)
{
	text_header(report, buf);
	if (report->empty) {
		hl_buf_puts(buf, "No license was used, refused or waited for in "
			    "this period: nothing to report.\n");
		return;
	}
	text_summary(report, buf);
	text_pools(report, buf);
	text_technicians(report, buf);
	text_named(report, buf);
	text_suggestions(report, buf);
}

/* ---- JSON ------------------------------------------------------------------ */

static void json_time(struct hl_buf *buf, long long ms)
{
	char text[32];

	utc_text(ms, true, text, sizeof(text));
	hl_buf_json(buf, text);
}

/* The period and what was read: the opening of the document. */
static void json_period(const struct hl_report *report, struct hl_buf *buf)
{
	hl_buf_puts(buf, "{\"period\":{\"since\":");
	json_time(buf, report->since_ms);
	hl_buf_puts(buf, ",\"until\":");
	json_time(buf, report->until_ms);
	hl_buf_printf(buf, ",\"days\":%.3f,\"working_days\":%.3f},"
		      "\"input\":{\"files\":%u,\"lines\":%lu,\"skipped\":%lu,"
		      "\"skipped_by\":{",
		      period_days(report), report->working_days, report->files,
		      report->lines, report->skipped);
	for (int c = 0; c < HL_SKIP_CAUSES; c++)
		hl_buf_printf(buf, "%s\"%s\":%lu", c ? "," : "",
			      hl_skip_cause_name((enum hl_skip_cause)c),
			      report->skipped_by[c]);
	hl_buf_printf(buf, "}},\"empty\":%s,\"unlicensed\":%lu,\"pools\":[",
		      report->empty ? "true" : "false", report->unlicensed);
}

static void json_pools(const struct hl_report *report, struct hl_buf *buf)
{
	for (size_t p = 0; p < report->pool_count; p++) {
		const struct hl_report_pool *pool = &report->pools[p];

		hl_buf_puts(buf, p ? ",{\"pool\":" : "{\"pool\":");
		hl_buf_json(buf, pool->name);
		hl_buf_printf(buf, ",\"configured\":%s,\"licenses\":%u,"
			      "\"peak\":%u,\"full_share\":%.4f,\"hours\":%.3f,"
			      "\"idle_hours\":%.3f,\"utilisation\":%.4f,"
			      "\"work_utilisation\":%.4f,"
			      "\"refusals\":%lu,\"idle_reclaims\":%lu,"
			      "\"waits\":%lu,\"wait_median_s\":%.3f,"
			      "\"wait_longest_s\":%.3f,\"technicians\":%u,"
			      "\"fewest\":%u,\"refusals_fewest\":%lu,"
			      "\"refusals_replayed\":%lu,\"mix\":%u}",
			      pool->configured ? "true" : "false",
			      pool->licenses, pool->peak, pool->full_share,
			      pool->hours, pool->idle_hours, pool->utilisation,
			      pool->work_utilisation, pool->refusals,
			      pool->idle_reclaims, pool->waits,
			      pool->wait_median_s,
			      pool->wait_longest_s, pool->technicians,
			      pool->fewest, pool->refusals_fewest,
			      pool->refusals_today, pool->mix);
	}
}

static void json_technicians(const struct hl_report *report,
			     struct hl_buf *buf)
{
	for (size_t t = 0; t < report->technician_count; t++) {
		const struct hl_report_technician *tech = &report->technicians[t];

		hl_buf_puts(buf, t ? ",{\"user\":" : "{\"user\":");
		hl_buf_json(buf, tech->user);
		hl_buf_printf(buf, ",\"sessions\":%lu,\"hours\":%.3f,"
			      "\"idle_hours\":%.3f,"
			      "\"named_hours\":%.3f,\"refusals\":%lu,"
			      "\"waits\":%lu,\"wait_longest_s\":%.3f,"
			      "\"named\":%s,\"share\":%.4f,\"advice\":",
			      tech->sessions, tech->hours, tech->idle_hours,
			      tech->named_used_hours, tech->refusals,
			      tech->waits, tech->wait_longest_s,
			      tech->named ? "true" : "false", tech->share);
		if (tech->advice == HL_ADVICE_TO_NAMED) {
			hl_buf_puts(buf, "\"named\"");
		} else if (tech->advice == HL_ADVICE_TO_POOL) {
			hl_buf_puts(buf, "\"pool\",\"advice_pool\":");
			hl_buf_json(buf, report->pools[tech->advice_pool].name);
		} else {
			hl_buf_puts(buf, "null");
		}
		hl_buf_puts(buf, "}");
	}
}

static void json_named(const struct hl_report *report, struct hl_buf *buf)
{
	hl_buf_printf(buf, "],\"named\":{\"licenses\":%u,\"peak\":%u,"
		      "\"allocations\":%lu,\"refusals\":%lu,"
		      "\"refused_technicians\":%u,\"added\":%u,"
		      "\"pool_for_refused\":%u,\"mix\":%u,"
		      "\"technicians\":[", report->named.licenses,
		      report->named.peak, report->named.allocations,
		      report->named.refusals, report->named.refused_technicians,
		      report->named.added, report->named.pool_for_refused,
		      report->named.mix);
	for (size_t t = 0, n = 0; t < report->technician_count; t++) {
		const struct hl_report_technician *tech = &report->technicians[t];

		if (!tech->named)
			continue;
		hl_buf_puts(buf, n++ ? ",{\"user\":" : "{\"user\":");
		hl_buf_json(buf, tech->user);
		hl_buf_printf(buf, ",\"allocated_hours\":%.3f,"
			      "\"used_hours\":%.3f,\"sessions\":%lu}",
			      tech->named_hours, tech->named_used_hours,
			      tech->named_sessions);
	}
}

static void json_planner(const struct hl_report *report, struct hl_buf *buf)
{
	char hours[64];

	hl_report_hours_text(&report->hours, hours, sizeof(hours));
	hl_buf_printf(buf, "]},\"planner\":{\"max_refusals\":%u,"
		      "\"workday_hours\":%.2f,\"working_hours\":\"%s\","
		      "\"work_hours\":%.3f,\"covered_days\":%.3f,"
		      "\"logins\":%lu,\"too_little_data\":%s,"
		      "\"threshold\":%.4f,"
		      "\"prices\":%s,\"currency\":", report->max_refusals,
		      report->workday_hours, hours, report->work_hours,
		      report->covered_days, report->logins,
		      report->too_little ? "true" : "false", report->threshold,
		      report->prices_set ? "true" : "false");
	hl_buf_json(buf, report->currency);
	hl_buf_printf(buf, ",\"cost_today\":%.2f,\"cost_mix\":%.2f},"
		      "\"suggestions\":[", report->cost_today, report->cost_mix);
}

void hl_report_json(const struct hl_report *report, struct hl_buf *buf)
{
	/* Each piece opens the list or object the next one fills. */
	json_period(report, buf);
	json_pools(report, buf);
	hl_buf_puts(buf, "],\"technicians\":[");
	json_technicians(report, buf);
	json_named(report, buf);
	json_planner(report, buf);
	for (size_t s = 0; s < report->suggestion_count; s++) {
		if (s)
			hl_buf_puts(buf, ",");
		hl_buf_json(buf, report->suggestions[s]);
	}
	hl_buf_puts(buf, "]}\n");
}

/* ---- HTML ------------------------------------------------------------------ */

#define COLOUR_IN_USE "#2f6fb5"
#define COLOUR_LICENSES "#c62828"
#define COLOUR_HOURS "#2e8b57"
#define COLOUR_NAMED "#7b4fa0"

/* Refusals per day, one colour per pool (the Named ones: COLOUR_NAMED). */
static const char *const refusal_colours[] = {
	"#ef8a17", "#d6336c", "#0f9d9a", "#8d6e63", "#5c7cfa", "#a9b21f",
};
#define REFUSAL_COLOURS (sizeof(refusal_colours) / sizeof(refusal_colours[0]))

/* Text from the log into HTML: every markup character escaped, and the
 * characters that reorder or hide text (hl_unicode_hidden) as numeric
 * references, so a name cannot disguise itself or what follows it. */
static void html_text(struct hl_buf *buf, const char *text)
{
	const unsigned char *p = (const unsigned char *)text;

	while (*p) {
		unsigned cp = 0;
		size_t n = hl_utf8_next(p, &cp);

		if (n > 1 && hl_unicode_hidden(cp)) {
			hl_buf_printf(buf, "&#x%x;", cp);
			p += n;
			continue;
		}
		switch (*p) {
		case '&': hl_buf_puts(buf, "&amp;"); break;
		case '<': hl_buf_puts(buf, "&lt;"); break;
		case '>': hl_buf_puts(buf, "&gt;"); break;
		case '"': hl_buf_puts(buf, "&quot;"); break;
		case '\'': hl_buf_puts(buf, "&#39;"); break;
		default: hl_buf_append(buf, (const char *)p, 1); break;
		}
		p++;
	}
}

/* The charts are drawn CHART_W wide and scaled to the page's width. */
enum { CHART_W = 1000, CHART_H = 190, LEFT = 48, RIGHT = 12, TOP = 12,
       BOTTOM = 30, BUCKETS = 480 };

/* The most licenses in use in each of BUCKETS parts of the period. */
static void bucket_peaks(const struct hl_report *report,
			 const struct hl_report_pool *pool, unsigned *peaks)
{
	double span = (double)(report->until_ms - report->since_ms);
	unsigned current = 0;
	size_t s = 0;

	for (int b = 0; b < BUCKETS; b++) {
		long long end = report->since_ms +
				(long long)(span * (b + 1) / BUCKETS);

		peaks[b] = current;
		for (; s < pool->step_count && pool->steps[s].ms < end; s++) {
			current = pool->steps[s].in_use;
			if (current > peaks[b])
				peaks[b] = current;
		}
	}
}

/*
 * The time axis [from, to) under a chart: a tick at each UTC midnight and
 * a label for each day, each Monday or the first of each month, as many
 * as fit.
 */
static void html_day_ticks(struct hl_buf *buf, long long from, long long to)
{
	const double plot_w = CHART_W - LEFT - RIGHT, base = CHART_H - BOTTOM;
	long long days = (to - from + DAY_MS - 1) / DAY_MS;
	long long first = from / DAY_MS + (from % DAY_MS > 0);
	double day_w = plot_w * (double)DAY_MS / (double)(to - from);

	for (long long day = first; day * DAY_MS < to; day++) {
		double x = LEFT + plot_w * (double)(day * DAY_MS - from) /
				  (double)(to - from);
		time_t when = (time_t)(day * 86400);
		char label[32] = "";
		struct tm tm;

		if (gmtime_r(&when, &tm) == NULL)
			continue;
		if (days <= 16)
			strftime(label, sizeof(label), "%a %d", &tm);
		else if (days <= 120 && tm.tm_wday == 1)
			strftime(label, sizeof(label), "%b %d", &tm);
		else if (days > 120 && tm.tm_mday == 1)
			strftime(label, sizeof(label), "%b %Y", &tm);
		if (days <= 62 || label[0])
			hl_buf_printf(buf, "<line x1=\"%.1f\" x2=\"%.1f\" "
				      "y1=\"%.1f\" y2=\"%.1f\" stroke=\"#888\"/>",
				      x, x, base, base + (label[0] ? 6 : 3));
		if (label[0] == '\0')
			continue;
		/* A day's label stands under its day, others at the tick. */
		if (days <= 16 && x + day_w <= CHART_W - RIGHT + 0.5)
			hl_buf_printf(buf, "<text x=\"%.1f\" y=\"%.1f\" "
				      "text-anchor=\"middle\">%s</text>",
				      x + day_w / 2, base + 18, label);
		else if (days > 16)
			hl_buf_printf(buf, "<text x=\"%.1f\" y=\"%.1f\">%s</text>",
				      x + 2, base + 18, label);
	}
}

static void html_chart_open(struct hl_buf *buf, int height)
{
	hl_buf_printf(buf, "<svg class=\"chart\" width=\"%d\" height=\"%d\" "
		      "viewBox=\"0 0 %d %d\" role=\"img\">", CHART_W, height,
		      CHART_W, height);
}

static void html_pool_chart(const struct hl_report *report,
			    const struct hl_report_pool *pool, struct hl_buf *buf)
{
	const double plot_w = CHART_W - LEFT - RIGHT, plot_h = CHART_H - TOP - BOTTOM;
	unsigned peaks[BUCKETS], top = pool->peak > pool->licenses ? pool->peak
								   : pool->licenses;
	double base = TOP + plot_h, y;

	if (top == 0)
		top = 1;
	bucket_peaks(report, pool, peaks);
	hl_buf_puts(buf, "<h3>Pool ");
	html_text(buf, pool->name);
	hl_buf_puts(buf, ": licenses in use</h3>\n");
	html_chart_open(buf, CHART_H);
	hl_buf_printf(buf, "<rect x=\"%d\" y=\"%d\" width=\"%.0f\" height=\"%.0f\" "
		      "fill=\"#f4f6f8\"/>", LEFT, TOP, plot_w, plot_h);
	hl_buf_printf(buf, "<path fill=\"" COLOUR_IN_USE "\" d=\"M%d %.1f",
		      LEFT, base);
	for (int b = 0; b < BUCKETS; b++) {
		y = base - plot_h * peaks[b] / top;
		hl_buf_printf(buf, "V%.1fH%.1f", y, LEFT + plot_w * (b + 1) / BUCKETS);
	}
	hl_buf_printf(buf, "V%.1fZ\"/>", base);
	if (pool->licenses > 0) {
		y = base - plot_h * pool->licenses / top;
		hl_buf_printf(buf, "<line x1=\"%d\" x2=\"%d\" y1=\"%.1f\" "
			      "y2=\"%.1f\" stroke=\"" COLOUR_LICENSES "\" "
			      "stroke-width=\"3\"/><text x=\"%d\" y=\"%.1f\" "
			      "text-anchor=\"end\" fill=\"" COLOUR_LICENSES
			      "\">%u</text>", LEFT, CHART_W - RIGHT, y, y,
			      LEFT - 4, y + 4, pool->licenses);
	}
	hl_buf_printf(buf, "<text x=\"%d\" y=\"%.1f\" text-anchor=\"end\">0</text>",
		      LEFT - 4, base);
	if (top != pool->licenses)
		hl_buf_printf(buf, "<text x=\"%d\" y=\"%d\" text-anchor=\"end\">"
			      "%u</text>", LEFT - 4, TOP + 10, top);
	html_day_ticks(buf, report->since_ms, report->until_ms);
	hl_buf_puts(buf, "</svg>\n<p class=\"legend\"><span style=\"color:"
		    COLOUR_IN_USE "\">&#9632;</span> most in use &nbsp; <span "
		    "style=\"color:" COLOUR_LICENSES "\">&#9644;</span> "
		    "licenses &nbsp; days in UTC</p>\n");
}

/* Refusals per UTC day, stacked: each pool in its colour, then Named. */
static void html_refusals_chart(const struct hl_report *report, struct hl_buf *buf)
{
	const double plot_w = CHART_W - LEFT - RIGHT, plot_h = CHART_H - TOP - BOTTOM;
	const size_t columns = report->pool_count + 1;
	unsigned long most = 1;
	double bar = plot_w / (double)report->day_count;

	for (size_t d = 0; d < report->day_count; d++) {
		unsigned long day = 0;

		for (size_t c = 0; c < columns; c++)
			day += report->refusals_by_day[d * columns + c];
		if (day > most)
			most = day;
	}
	hl_buf_puts(buf, "<h3>Refusals per day (UTC)</h3>\n");
	html_chart_open(buf, CHART_H);
	hl_buf_printf(buf, "<rect x=\"%d\" y=\"%d\" width=\"%.0f\" height=\"%.0f\" "
		      "fill=\"#f4f6f8\"/>", LEFT, TOP, plot_w, plot_h);
	for (size_t d = 0; d < report->day_count; d++) {
		double y = TOP + plot_h;

		for (size_t c = 0; c < columns; c++) {
			unsigned long n = report->refusals_by_day[d * columns + c];
			double h = plot_h * (double)n / (double)most;

			if (n == 0)
				continue;
			y -= h;
			hl_buf_printf(buf, "<rect x=\"%.2f\" y=\"%.1f\" "
				      "width=\"%.2f\" height=\"%.1f\" "
				      "fill=\"%s\"/>", LEFT + bar * (double)d, y,
				      bar > 2 ? bar - 1 : bar, h,
				      c + 1 == columns ? COLOUR_NAMED
				      : refusal_colours[c % REFUSAL_COLOURS]);
		}
	}
	hl_buf_printf(buf, "<text x=\"%d\" y=\"%d\" text-anchor=\"end\">%lu</text>"
		      "<text x=\"%d\" y=\"%.1f\" text-anchor=\"end\">0</text>",
		      LEFT - 4, TOP + 10, most, LEFT - 4, TOP + plot_h);
	html_day_ticks(buf, report->first_day * DAY_MS,
		       (report->first_day + (long long)report->day_count) * DAY_MS);
	hl_buf_puts(buf, "</svg>\n<p class=\"legend\">");
	for (size_t c = 0; c < columns; c++) {
		bool named = c + 1 == columns;

		if (named ? report->named.refusals == 0
			  : report->pools[c].refusals == 0)
			continue;
		hl_buf_printf(buf, "<span style=\"color:%s\">&#9632;</span> ",
			      named ? COLOUR_NAMED
				    : refusal_colours[c % REFUSAL_COLOURS]);
		if (named)
			hl_buf_puts(buf, "Named");
		else
			html_text(buf, report->pools[c].name);
		hl_buf_puts(buf, " &nbsp; ");
	}
	hl_buf_puts(buf, "</p>\n");
}

static void html_hours_chart(const struct hl_report *report, struct hl_buf *buf)
{
	enum { ROW = 18, NAME_W = 150 };
	const double plot_w = CHART_W - NAME_W - 70;
	int height = (int)report->technician_count * ROW + 8;
	double most = 0;

	for (size_t t = 0; t < report->technician_count; t++) {
		const struct hl_report_technician *tech = &report->technicians[t];

		if (tech->hours + tech->named_used_hours > most)
			most = tech->hours + tech->named_used_hours;
	}
	if (most <= 0)
		most = 1;
	hl_buf_puts(buf, "<h3>Hours per technician</h3>\n");
	html_chart_open(buf, height);
	for (size_t t = 0; t < report->technician_count; t++) {
		const struct hl_report_technician *tech = &report->technicians[t];
		double y = 4 + (double)t * ROW, w = plot_w * tech->hours / most,
		       wn = plot_w * tech->named_used_hours / most;

		hl_buf_printf(buf, "<text x=\"%d\" y=\"%.0f\" text-anchor=\"end\">",
			      NAME_W - 6, y + 13);
		html_text(buf, tech->user);
		hl_buf_printf(buf, "</text><rect x=\"%d\" y=\"%.0f\" width=\"%.1f\" "
			      "height=\"%d\" fill=\"" COLOUR_HOURS "\"/>"
			      "<rect x=\"%.1f\" y=\"%.0f\" width=\"%.1f\" "
			      "height=\"%d\" fill=\"" COLOUR_NAMED "\"/>"
			      "<text x=\"%.1f\" y=\"%.0f\">%.1f h</text>",
			      NAME_W, y, w, ROW - 4, NAME_W + w, y, wn, ROW - 4,
			      NAME_W + w + wn + 4, y + 13,
			      tech->hours + tech->named_used_hours);
	}
	hl_buf_puts(buf, "</svg>\n<p class=\"legend\"><span style=\"color:"
		    COLOUR_HOURS "\">&#9632;</span> holding a pool license "
		    "&nbsp; <span style=\"color:" COLOUR_NAMED "\">&#9632;"
		    "</span> logged in on a Named license</p>\n");
}

static void html_cell(struct hl_buf *buf, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static void html_cell(struct hl_buf *buf, const char *fmt, ...)
{
	char text[64];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	hl_buf_printf(buf, "<td class=\"n\">%s</td>", text);
}

/* The summary table, first on the page, and the total cost under it. */
static void html_summary(const struct hl_report *report, struct hl_buf *buf)
{
	struct summary_row row;
	char total[256];

	hl_buf_puts(buf, "<h2>Summary: licenses to buy</h2>\n<table id=\"summary\">"
		    "<tr><th>Kind</th><th class=\"n\">Licenses today</th>"
		    "<th class=\"n\">Peak</th><th class=\"n\">Refusals</th>"
		    "<th class=\"n\">Waits</th><th class=\"n\">Suggested</th>"
		    "<th class=\"n\">Change</th><th class=\"n\">Cost change</th>"
		    "</tr>\n");
	for (size_t i = 0; summary_row(report, i, &row); i++) {
		char suggested[24], change[24], cost[64];

		summary_advice(report, &row, suggested, change, cost, 24);
		hl_buf_puts(buf, row.pool ? "<tr><td>pool " : "<tr><td>");
		html_text(buf, row.kind);
		hl_buf_puts(buf, "</td>");
		if (row.exists) {
			html_cell(buf, "%u", row.licenses);
			html_cell(buf, "%u", row.peak);
			html_cell(buf, "%lu", row.refusals);
		} else {
			html_cell(buf, "-");
			html_cell(buf, "-");
			html_cell(buf, "-");
		}
		if (row.waits_apply)
			html_cell(buf, "%lu", row.waits);
		else
			html_cell(buf, "-");
		html_cell(buf, "%s", suggested);
		html_cell(buf, "%s", change);
		hl_buf_puts(buf, "<td class=\"n\">");
		html_text(buf, cost);	/* the currency is the config's */
		hl_buf_puts(buf, "</td></tr>\n");
	}
	hl_buf_puts(buf, "</table>\n<p class=\"note\">Suggested: the mix the "
		    "planner prices, after the moves between Named and the "
		    "pools in the suggestions below; idle hours (a license "
		    "held after its holder's last input) count as "
		    "reclaimable, not as used.</p>\n<p id=\"total\">"
		    "<strong>");
	summary_total(report, total, sizeof(total));
	html_text(buf, total);
	hl_buf_puts(buf, "</strong></p>\n");
	if (report->too_little) {
		hl_buf_puts(buf, "<p id=\"caveat\" class=\"caveat\">");
		html_text(buf, report->suggestions[0]);
		hl_buf_puts(buf, "</p>\n");
	}
}

/* The page's head and the period it covers. */
static void html_head(const struct hl_report *report, struct hl_buf *buf)
{
	char since[32], until[32];

	utc_text(report->since_ms, false, since, sizeof(since));
	utc_text(report->until_ms, false, until, sizeof(until));
	hl_buf_printf(buf, "<!DOCTYPE html>\n<html lang=\"en\"><head>"
		      "<meta charset=\"utf-8\">"
		      "<meta http-equiv=\"Content-Security-Policy\" "
		      "content=\"default-src 'none'; style-src 'unsafe-inline'\">"
		      "<meta name=\"viewport\" content=\"width=device-width\">"
		      "<title>Help desk licenses: %s to %s UTC</title>\n<style>"
		      "body{font-family:sans-serif;margin:24px;color:#222}"
		      "table{border-collapse:collapse;margin:8px 0 16px}"
		      "th,td{padding:3px 10px;border-bottom:1px solid #ddd;"
		      "text-align:left}td{white-space:nowrap}"
		      "td.n,th.n{text-align:right}"
		      "#summary{font-size:17px}#summary th{background:#eef2f6}"
		      ".caveat{background:#fff4e0;border-left:4px solid #ef8a17;"
		      "padding:6px 10px}"
		      "svg.chart{width:100%%;height:auto;display:block}"
		      "svg.chart text{font-size:12px;fill:#333}"
		      ".legend{font-size:12px;margin:2px 0 18px}.note{font-size:"
		      "13px;color:#555}"
		      "li{margin:4px 0}</style></head><body>\n"
		      "<h1>Help desk license usage</h1>\n<p>Period: %s to %s "
		      "UTC (%.1f days, %.1f working days). Read %u file%s, "
		      "%lu lines", since, until, since, until,
		      period_days(report), report->working_days, report->files,
		      report->files == 1 ? "" : "s", report->lines);
	skipped_lines(report, buf);
	hl_buf_puts(buf, ".</p>\n");
}

static void html_suggestions(const struct hl_report *report, struct hl_buf *buf)
{
	hl_buf_puts(buf, "<h2>Suggestions</h2>\n<ul>\n");
	for (size_t s = 0; s < report->suggestion_count; s++) {
		hl_buf_puts(buf, "<li>");
		html_text(buf, report->suggestions[s]);
		hl_buf_puts(buf, "</li>\n");
	}
	hl_buf_puts(buf, "</ul>\n");
}

/* The pools' table, its note and their charts. */
static void html_pools(const struct hl_report *report, struct hl_buf *buf)
{
	char median[32], longest[32], hours[64], use[16];

	hl_report_hours_text(&report->hours, hours, sizeof(hours));
	hl_buf_puts(buf, "<h2>Pools</h2>\n<table><tr><th>Pool</th>"
		    "<th class=\"n\">Licenses</th><th class=\"n\">Peak</th>"
		    "<th class=\"n\">Hours</th><th class=\"n\">Idle hours</th>"
		    "<th class=\"n\">Use, working hours</th>"
		    "<th class=\"n\">Use, whole period</th>"
		    "<th class=\"n\">At full use</th>"
		    "<th class=\"n\">Refusals</th>"
		    "<th class=\"n\">Waits</th><th class=\"n\">Median wait</th>"
		    "<th class=\"n\">Longest</th><th class=\"n\">Technicians</th>"
		    "</tr>\n");
	for (size_t p = 0; p < report->pool_count; p++) {
		const struct hl_report_pool *pool = &report->pools[p];

		wait_texts(pool, median, longest, sizeof(median));
		hl_buf_puts(buf, "<tr><td>");
		html_text(buf, pool->name);
		hl_buf_puts(buf, "</td>");
		html_cell(buf, "%u", pool->licenses);
		html_cell(buf, "%u", pool->peak);
		html_cell(buf, "%.1f h", pool->hours);
		html_cell(buf, "%.1f h", pool->idle_hours);
		share_text(pool->work_utilisation,
			   pool->licenses && report->work_hours > 0, use,
			   sizeof(use));
		html_cell(buf, "%s", use);
		share_text(pool->utilisation, pool->licenses > 0, use,
			   sizeof(use));
		html_cell(buf, "%s", use);
		html_cell(buf, "%.0f%%", pool->full_share * 100);
		html_cell(buf, "%lu", pool->refusals);
		html_cell(buf, "%lu", pool->waits);
		html_cell(buf, "%s", median);
		html_cell(buf, "%s", longest);
		html_cell(buf, "%u", pool->technicians);
		hl_buf_puts(buf, "</tr>\n");
	}
	hl_buf_printf(buf, "</table>\n<p class=\"note\">Hours: license-hours "
		      "held; idle hours: of those, held after the holder's "
		      "last input (not used: the planner counts them "
		      "reclaimable). Use, working hours: "
		      "license-hours used in the working hours (%s UTC, %.1f h "
		      "in the period) per license. Use, whole period and at "
		      "full use: over all of the period, nights and weekends "
		      "too.</p>\n", hours, report->work_hours);
	for (size_t p = 0; p < report->pool_count; p++)
		html_pool_chart(report, &report->pools[p], buf);
	html_refusals_chart(report, buf);
	html_hours_chart(report, buf);
}

static void html_technicians(const struct hl_report *report, struct hl_buf *buf)
{
	char longest[32];

	hl_buf_puts(buf, "<h2>Technicians</h2>\n<table><tr><th>User</th>"
		    "<th class=\"n\">Sessions</th><th class=\"n\">Pool hours</th>"
		    "<th class=\"n\">Idle pool hours</th>"
		    "<th class=\"n\">Named hours</th><th class=\"n\">Refusals</th>"
		    "<th class=\"n\">Waits</th><th class=\"n\">Longest wait</th>"
		    "</tr>\n");
	for (size_t t = 0; t < report->technician_count; t++) {
		const struct hl_report_technician *tech = &report->technicians[t];

		longest_wait_text(tech, longest, sizeof(longest));
		hl_buf_puts(buf, "<tr><td>");
		html_text(buf, tech->user);
		hl_buf_puts(buf, "</td>");
		html_cell(buf, "%lu", tech->sessions);
		html_cell(buf, "%.1f h", tech->hours);
		html_cell(buf, "%.1f h", tech->idle_hours);
		html_cell(buf, "%.1f h", tech->named_used_hours);
		html_cell(buf, "%lu", tech->refusals);
		html_cell(buf, "%lu", tech->waits);
		html_cell(buf, "%s", longest);
		hl_buf_puts(buf, "</tr>\n");
	}
	hl_buf_puts(buf, "</table>\n");
}

void hl_report_html(const struct hl_report *report, struct hl_buf *buf)
{
	html_head(report, buf);
	if (report->empty) {
		hl_buf_puts(buf, "<p><strong>No license was used, refused or "
			    "waited for in this period: nothing to report."
			    "</strong></p>\n</body></html>\n");
		return;
	}
	html_summary(report, buf);
	html_suggestions(report, buf);
	html_pools(report, buf);
	hl_buf_printf(buf, "<h2>Named licenses</h2>\n<p>%u license%s, at most "
		      "%u allocated at once, %lu allocation%s made, %lu "
		      "refusal%s.</p>\n", report->named.licenses,
		      report->named.licenses == 1 ? "" : "s",
		      report->named.peak, report->named.allocations,
		      report->named.allocations == 1 ? "" : "s",
		      report->named.refusals,
		      report->named.refusals == 1 ? "" : "s");
	html_technicians(report, buf);
	hl_buf_puts(buf, "</body></html>\n");
}
