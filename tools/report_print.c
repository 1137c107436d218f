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

static void duration_text(double seconds, char *out, size_t len)
{
	long s = (long)(seconds + 0.5);

	if (s >= 3600)
		snprintf(out, len, "%ld:%02ld:%02ld", s / 3600, s / 60 % 60, s % 60);
	else
		snprintf(out, len, "%ld:%02ld", s / 60, s % 60);
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

void hl_report_text(const struct hl_report *report, struct hl_buf *buf)
{
	char median[32], longest[32];

	text_header(report, buf);
	if (report->empty) {
		hl_buf_puts(buf, "No license was used, refused or waited for in "
			    "this period: nothing to report.\n");
		return;
	}
	hl_buf_puts(buf, "\nPools\nPOOL                 LICENSES  PEAK  FULL"
		    "    HOURS   USE  REFUSED  WAITS  MEDIAN LONGEST  TECHS\n");
	for (size_t p = 0; p < report->pool_count; p++) {
		const struct hl_report_pool *pool = &report->pools[p];

		duration_text(pool->wait_median_s, median, sizeof(median));
		duration_text(pool->wait_longest_s, longest, sizeof(longest));
		text_name(buf, pool->name, 20);
		hl_buf_printf(buf, " %8u %5u %4.0f%% %8.1f %4.0f%% %8lu %6lu "
			      "%7s %7s %6u\n", pool->licenses, pool->peak,
			      pool->full_share * 100, pool->hours,
			      pool->utilisation * 100, pool->refusals,
			      pool->waits, median, longest, pool->technicians);
	}
	hl_buf_puts(buf, "\nTechnicians\nUSER                 SESSIONS"
		    "   HOURS  NAMED-H  REFUSED  WAITS  LONGEST\n");
	for (size_t t = 0; t < report->technician_count; t++) {
		const struct hl_report_technician *tech = &report->technicians[t];

		duration_text(tech->wait_longest_s, longest, sizeof(longest));
		text_name(buf, tech->user, 20);
		hl_buf_printf(buf, " %8lu %7.1f %8.1f %8lu %6lu %8s\n",
			      tech->sessions, tech->hours,
			      tech->named_used_hours, tech->refusals,
			      tech->waits, longest);
	}
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
	hl_buf_puts(buf, "\nSuggestions\n");
	for (size_t s = 0; s < report->suggestion_count; s++) {
		char line[1200];

		/* Pool and user names come from the log. */
		hl_printable(report->suggestions[s], line, sizeof(line));
		hl_buf_printf(buf, "- %s\n", line);
	}
}

/* ---- JSON ------------------------------------------------------------------ */

static void json_time(struct hl_buf *buf, long long ms)
{
	char text[32];

	utc_text(ms, true, text, sizeof(text));
	hl_buf_json(buf, text);
}

void hl_report_json(const struct hl_report *report, struct hl_buf *buf)
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
	for (size_t p = 0; p < report->pool_count; p++) {
		const struct hl_report_pool *pool = &report->pools[p];

		hl_buf_puts(buf, p ? ",{\"pool\":" : "{\"pool\":");
		hl_buf_json(buf, pool->name);
		hl_buf_printf(buf, ",\"configured\":%s,\"licenses\":%u,"
			      "\"peak\":%u,\"full_share\":%.4f,\"hours\":%.3f,"
			      "\"utilisation\":%.4f,\"refusals\":%lu,"
			      "\"waits\":%lu,\"wait_median_s\":%.3f,"
			      "\"wait_longest_s\":%.3f,\"technicians\":%u,"
			      "\"fewest\":%u,\"refusals_fewest\":%lu,"
			      "\"refusals_replayed\":%lu,\"mix\":%u}",
			      pool->configured ? "true" : "false",
			      pool->licenses, pool->peak, pool->full_share,
			      pool->hours, pool->utilisation, pool->refusals,
			      pool->waits, pool->wait_median_s,
			      pool->wait_longest_s, pool->technicians,
			      pool->fewest, pool->refusals_fewest,
			      pool->refusals_today, pool->mix);
	}
	hl_buf_puts(buf, "],\"technicians\":[");
	for (size_t t = 0; t < report->technician_count; t++) {
		const struct hl_report_technician *tech = &report->technicians[t];

		hl_buf_puts(buf, t ? ",{\"user\":" : "{\"user\":");
		hl_buf_json(buf, tech->user);
		hl_buf_printf(buf, ",\"sessions\":%lu,\"hours\":%.3f,"
			      "\"named_hours\":%.3f,\"refusals\":%lu,"
			      "\"waits\":%lu,\"wait_longest_s\":%.3f,"
			      "\"named\":%s,\"share\":%.4f,\"advice\":",
			      tech->sessions, tech->hours,
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
	hl_buf_printf(buf, "],\"named\":{\"licenses\":%u,\"peak\":%u,"
		      "\"allocations\":%lu,\"refusals\":%lu,\"mix\":%u,"
		      "\"technicians\":[", report->named.licenses,
		      report->named.peak, report->named.allocations,
		      report->named.refusals, report->named.mix);
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
	hl_buf_printf(buf, "]},\"planner\":{\"max_refusals\":%u,"
		      "\"workday_hours\":%.2f,\"threshold\":%.4f,"
		      "\"prices\":%s,\"currency\":", report->max_refusals,
		      report->workday_hours, report->threshold,
		      report->prices_set ? "true" : "false");
	hl_buf_json(buf, report->currency);
	hl_buf_printf(buf, ",\"cost_today\":%.2f,\"cost_mix\":%.2f},"
		      "\"suggestions\":[", report->cost_today, report->cost_mix);
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
#define COLOUR_REFUSALS "#ef8a17"
#define COLOUR_HOURS "#2e8b57"
#define COLOUR_NAMED "#7b4fa0"

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

enum { CHART_W = 760, CHART_H = 170, LEFT = 48, RIGHT = 12, TOP = 12,
       BOTTOM = 24, BUCKETS = 380 };

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

static void html_axis_dates(const struct hl_report *report, struct hl_buf *buf)
{
	char since[32], until[32];

	utc_text(report->since_ms, false, since, sizeof(since));
	utc_text(report->until_ms, false, until, sizeof(until));
	hl_buf_printf(buf, "<text x=\"%d\" y=\"%d\">%s</text>"
		      "<text x=\"%d\" y=\"%d\" text-anchor=\"end\">%s</text>",
		      LEFT, CHART_H - 6, since, CHART_W - RIGHT, CHART_H - 6,
		      until);
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
	hl_buf_printf(buf, ": licenses in use</h3>\n<svg class=\"chart\" "
		      "width=\"%d\" "
		      "height=\"%d\" viewBox=\"0 0 %d %d\" role=\"img\">",
		      CHART_W, CHART_H, CHART_W, CHART_H);
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
	html_axis_dates(report, buf);
	hl_buf_puts(buf, "</svg>\n<p class=\"legend\"><span style=\"color:"
		    COLOUR_IN_USE "\">&#9632;</span> most in use &nbsp; <span "
		    "style=\"color:" COLOUR_LICENSES "\">&#9644;</span> "
		    "licenses</p>\n");
}

static void html_refusals_chart(const struct hl_report *report, struct hl_buf *buf)
{
	const double plot_w = CHART_W - LEFT - RIGHT, plot_h = CHART_H - TOP - BOTTOM;
	unsigned long most = 1;
	double bar = plot_w / (double)report->day_count;

	for (size_t d = 0; d < report->day_count; d++)
		if (report->refusals_by_day[d] > most)
			most = report->refusals_by_day[d];
	hl_buf_printf(buf, "<h3>Refusals per day (UTC)</h3>\n<svg class=\"chart\" "
		      "width=\"%d\" "
		      "height=\"%d\" viewBox=\"0 0 %d %d\" role=\"img\">"
		      "<rect x=\"%d\" y=\"%d\" width=\"%.0f\" height=\"%.0f\" "
		      "fill=\"#f4f6f8\"/>", CHART_W, CHART_H, CHART_W, CHART_H,
		      LEFT, TOP, plot_w, plot_h);
	for (size_t d = 0; d < report->day_count; d++) {
		double h = plot_h * (double)report->refusals_by_day[d] / (double)most;

		if (report->refusals_by_day[d] == 0)
			continue;
		hl_buf_printf(buf, "<rect x=\"%.2f\" y=\"%.1f\" width=\"%.2f\" "
			      "height=\"%.1f\" fill=\"" COLOUR_REFUSALS "\"/>",
			      LEFT + bar * (double)d, TOP + plot_h - h,
			      bar > 2 ? bar - 1 : bar, h);
	}
	hl_buf_printf(buf, "<text x=\"%d\" y=\"%d\" text-anchor=\"end\">%lu</text>"
		      "<text x=\"%d\" y=\"%.1f\" text-anchor=\"end\">0</text>",
		      LEFT - 4, TOP + 10, most, LEFT - 4, TOP + plot_h);
	html_axis_dates(report, buf);
	hl_buf_puts(buf, "</svg>\n");
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
	hl_buf_printf(buf, "<h3>Hours per technician</h3>\n<svg class=\"chart\" "
		      "width=\"%d\" "
		      "height=\"%d\" viewBox=\"0 0 %d %d\" role=\"img\">",
		      CHART_W, height, CHART_W, height);
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

void hl_report_html(const struct hl_report *report, struct hl_buf *buf)
{
	char since[32], until[32], median[32], longest[32];

	utc_text(report->since_ms, false, since, sizeof(since));
	utc_text(report->until_ms, false, until, sizeof(until));
	hl_buf_printf(buf, "<!DOCTYPE html>\n<html lang=\"en\"><head>"
		      "<meta charset=\"utf-8\">"
		      "<meta http-equiv=\"Content-Security-Policy\" "
		      "content=\"default-src 'none'; style-src 'unsafe-inline'\">"
		      "<title>Help desk licenses: %s to %s UTC</title>\n<style>"
		      "body{font-family:sans-serif;margin:24px;color:#222;"
		      "max-width:800px}"
		      "table{border-collapse:collapse;margin:8px 0 16px}"
		      "th,td{padding:3px 8px;border-bottom:1px solid #ddd;"
		      "text-align:left}td.n,th.n{text-align:right}"
		      "svg.chart text{font-size:11px;fill:#333}"
		      ".legend{font-size:12px;margin:2px 0 18px}"
		      "li{margin:4px 0}</style></head><body>\n"
		      "<h1>Help desk license usage</h1>\n<p>Period: %s to %s "
		      "UTC (%.1f days, %.1f working days). Read %u file%s, "
		      "%lu lines", since, until, since, until,
		      period_days(report), report->working_days, report->files,
		      report->files == 1 ? "" : "s", report->lines);
	skipped_lines(report, buf);
	hl_buf_puts(buf, ".</p>\n");
	if (report->empty) {
		hl_buf_puts(buf, "<p><strong>No license was used, refused or "
			    "waited for in this period: nothing to report."
			    "</strong></p>\n</body></html>\n");
		return;
	}
	hl_buf_puts(buf, "<h2>Suggestions</h2>\n<ul>\n");
	for (size_t s = 0; s < report->suggestion_count; s++) {
		hl_buf_puts(buf, "<li>");
		html_text(buf, report->suggestions[s]);
		hl_buf_puts(buf, "</li>\n");
	}
	hl_buf_puts(buf, "</ul>\n<h2>Pools</h2>\n<table><tr><th>Pool</th>"
		    "<th class=\"n\">Licenses</th><th class=\"n\">Peak</th>"
		    "<th class=\"n\">At full use</th><th class=\"n\">Hours</th>"
		    "<th class=\"n\">Use</th><th class=\"n\">Refusals</th>"
		    "<th class=\"n\">Waits</th><th class=\"n\">Median wait</th>"
		    "<th class=\"n\">Longest</th><th class=\"n\">Technicians</th>"
		    "</tr>\n");
	for (size_t p = 0; p < report->pool_count; p++) {
		const struct hl_report_pool *pool = &report->pools[p];

		duration_text(pool->wait_median_s, median, sizeof(median));
		duration_text(pool->wait_longest_s, longest, sizeof(longest));
		hl_buf_puts(buf, "<tr><td>");
		html_text(buf, pool->name);
		hl_buf_puts(buf, "</td>");
		html_cell(buf, "%u", pool->licenses);
		html_cell(buf, "%u", pool->peak);
		html_cell(buf, "%.0f%%", pool->full_share * 100);
		html_cell(buf, "%.1f", pool->hours);
		html_cell(buf, "%.0f%%", pool->utilisation * 100);
		html_cell(buf, "%lu", pool->refusals);
		html_cell(buf, "%lu", pool->waits);
		html_cell(buf, "%s", median);
		html_cell(buf, "%s", longest);
		html_cell(buf, "%u", pool->technicians);
		hl_buf_puts(buf, "</tr>\n");
	}
	hl_buf_puts(buf, "</table>\n");
	for (size_t p = 0; p < report->pool_count; p++)
		html_pool_chart(report, &report->pools[p], buf);
	html_refusals_chart(report, buf);
	html_hours_chart(report, buf);
	hl_buf_printf(buf, "<h2>Named licenses</h2>\n<p>%u license%s, at most "
		      "%u allocated at once, %lu allocation%s made, %lu "
		      "refusal%s.</p>\n", report->named.licenses,
		      report->named.licenses == 1 ? "" : "s",
		      report->named.peak, report->named.allocations,
		      report->named.allocations == 1 ? "" : "s",
		      report->named.refusals,
		      report->named.refusals == 1 ? "" : "s");
	hl_buf_puts(buf, "<h2>Technicians</h2>\n<table><tr><th>User</th>"
		    "<th class=\"n\">Sessions</th><th class=\"n\">Pool hours</th>"
		    "<th class=\"n\">Named hours</th><th class=\"n\">Refusals</th>"
		    "<th class=\"n\">Waits</th></tr>\n");
	for (size_t t = 0; t < report->technician_count; t++) {
		const struct hl_report_technician *tech = &report->technicians[t];

		hl_buf_puts(buf, "<tr><td>");
		html_text(buf, tech->user);
		hl_buf_puts(buf, "</td>");
		html_cell(buf, "%lu", tech->sessions);
		html_cell(buf, "%.1f", tech->hours);
		html_cell(buf, "%.1f", tech->named_used_hours);
		html_cell(buf, "%lu", tech->refusals);
		html_cell(buf, "%lu", tech->waits);
		hl_buf_puts(buf, "</tr>\n");
	}
	hl_buf_puts(buf, "</table>\n</body></html>\n");
}
