/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * helpdesk-license: show and manage who holds which help desk license.
 * Every command is a thin layer over the core (admin.c, license.c), the
 * same code the PAM module runs.
 */
#include "config.h"

#include <getopt.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "admin.h"
#include "conf.h"
#include "license.h"
#include "log.h"
#include "preflight.h"
#include "events.h"
#include "metrics.h"
#include "report.h"
#include "store.h"
#include "store_remote.h"
#include "terminate.h"
#include "text.h"

#define PROGRAM "helpdesk-license"

enum { EXIT_NO = 1, EXIT_USAGE = 2 };

struct options {
	const char *config;
	bool json;
	bool force;
	bool strict;
	bool terminate;		/* release --terminate */
	bool diff;		/* check-config --diff FILE */
	const char *pool;
	const char *output;	/* metrics --output FILE */
};

/* ---- output ---------------------------------------------------------------- */

/*
 * Everything the core says goes to syslog, where the module's records are,
 * so an admin action sits beside the logins it affects.  On stderr: every
 * problem of the configuration (FILE:LINE each); after that, a failed
 * command prints one line, with the first error as its cause.
 */
struct diagnostics {
	bool keep_cause;
	char cause[1024];
};

static void emit(void *data, int priority, const char *message)
{
	struct diagnostics *diag = data;

	syslog(priority, "%s", message);
	if (diag->keep_cause && priority <= LOG_ERR) {
		if (diag->cause[0] == '\0')
			snprintf(diag->cause, sizeof(diag->cause), "%s", message);
		return;
	}
	if (priority <= LOG_WARNING)
		fprintf(stderr, PROGRAM ": %s\n", message);
}

#define fail(...) hl_command_fail(NULL, __VA_ARGS__)

static void json_time(struct hl_buf *buf, time_t when)
{
	struct tm tm;
	char text[32];

	gmtime_r(&when, &tm);
	strftime(text, sizeof(text), "%Y-%m-%dT%H:%M:%SZ", &tm);
	hl_buf_json(buf, text);
}

static void short_time(time_t when, char *out, size_t len)
{
	struct tm tm, today;
	time_t now = time(NULL);

	localtime_r(&when, &tm);
	localtime_r(&now, &today);
	if (tm.tm_year == today.tm_year && tm.tm_yday == today.tm_yday)
		strftime(out, len, "%H:%M", &tm);
	else
		strftime(out, len, "%m-%d %H:%M", &tm);
}

static int print_buf(struct hl_buf *buf)
{
	char *text = hl_buf_take(buf);

	if (text == NULL) {
		fail("out of memory");
		return EXIT_NO;
	}
	fputs(text, stdout);
	free(text);
	return 0;
}

static unsigned terminal_width(void)
{
	struct winsize ws;

	if (isatty(STDOUT_FILENO) && ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0 &&
	    ws.ws_col >= 80)
		return ws.ws_col;
	return 80;
}

/* A cell: printable, cut to width with a '>' where it was cut. */
static void cell(struct hl_buf *buf, const char *text, int width, bool right)
{
	char shown[512];
	int len;

	hl_printable(text && *text ? text : "-", shown, sizeof(shown));
	len = (int)strlen(shown);
	if (len > width) {
		shown[width - 1] = '>';
		shown[width] = '\0';
		len = width;
	}
	/* Padded by hand: a printf per cell is most of list's time. */
	if (!right)
		hl_buf_append(buf, shown, (size_t)len);
	for (int pad = width - len; pad > 0; pad -= 32)
		hl_buf_append(buf, "                                ",
			      pad < 32 ? (size_t)pad : 32);
	if (right)
		hl_buf_append(buf, shown, (size_t)len);
}

/* ---- the environment for the core --------------------------------------------- */

struct tool {
	struct options opt;
	struct hl_logger log;
	struct hl_config *cfg;
	struct hl_env env;
	char tty[256];
	struct diagnostics diag;
};

static int tool_init(struct tool *tool)
{
	const char *tty = ttyname(STDIN_FILENO);

	tool->log.emit = emit;
	tool->log.data = &tool->diag;
	if (hl_config_load(tool->opt.config, &tool->log, &tool->cfg, NULL) != 0) {
		fail("%s: the configuration is not usable (see above)",
		     tool->opt.config);
		return EXIT_NO;
	}
	tool->diag.keep_cause = true;
	if (hl_env_init(&tool->env, tool->cfg, &tool->log) != 0) {
		fail("%s", tool->diag.cause);
		return EXIT_NO;
	}
	/* An administrator sees damage as it is, and repairs it by hand. */
	tool->env.leave_damage = true;
	snprintf(tool->tty, sizeof(tool->tty), "%s",
		 tty && strncmp(tty, "/dev/", 5) == 0 ? tty + 5 : tty ? tty : "");
	return 0;
}

static struct hl_request tool_request(const struct tool *tool, const char *user)
{
	struct hl_request req = { user ? user : "", PROGRAM, tool->tty, "" };

	return req;
}

/* The line on stderr; with --json also {"done":false,"error":...} on
 * stdout, so a script reads why. */
static int print_failure(const struct tool *tool, const char *line)
{
	fail("%s", line);
	if (tool->opt.json) {
		struct hl_buf buf;

		hl_buf_init(&buf);
		hl_buf_puts(&buf, "{\"done\":false,\"error\":");
		hl_buf_json(&buf, line);
		hl_buf_puts(&buf, "}\n");
		print_buf(&buf);
	}
	return EXIT_NO;
}

/* One line for a command the core could not carry out. */
static int report_failure(const struct tool *tool, const char *command,
			  const char *user, const struct hl_decision *d)
{
	const char *as_root = strstr(d->reason, "permission") && geteuid() != 0
				      ? ": run it as root" : "";
	char shown[600], line[4096];

	switch (d->verdict) {
	case HL_DENIED:
		snprintf(line, sizeof(line), "%s", d->message);
		break;
	case HL_USER_UNKNOWN:
		snprintf(line, sizeof(line), "%s %s: %s", command,
			 hl_printable(user ? user : "", shown, sizeof(shown)),
			 d->reason);
		break;
	case HL_STORE_FAILED:
		if (tool->diag.cause[0])
			snprintf(line, sizeof(line), "%s: %s%s", command,
				 tool->diag.cause, as_root);
		else
			snprintf(line, sizeof(line), "%s: the license store "
				 "%s is not usable (%s)%s", command,
				 tool->cfg->store, d->reason, as_root);
		break;
	default:
		snprintf(line, sizeof(line), "%s: %s", command, d->reason);
		break;
	}
	return print_failure(tool, line);
}

/* ---- list ------------------------------------------------------------------------ */

static void json_session(struct hl_buf *buf, const struct hl_session *s,
			 bool stale)
{
	hl_buf_printf(buf, "{\"pid\":%ld,\"host\":", (long)s->pid);
	hl_buf_json(buf, s->host);
	hl_buf_puts(buf, ",\"service\":");
	hl_buf_json(buf, s->service);
	hl_buf_puts(buf, ",\"tty\":");
	hl_buf_json(buf, s->tty);
	hl_buf_puts(buf, ",\"rhost\":");
	hl_buf_json(buf, s->rhost);
	hl_buf_puts(buf, ",\"since\":");
	json_time(buf, s->since);
	hl_buf_puts(buf, ",\"session\":");
	hl_buf_json(buf, s->id);
	hl_buf_printf(buf, ",\"stale\":%s}", stale ? "true" : "false");
}

static void json_listed(struct hl_buf *buf, const struct hl_listed *item)
{
	const struct hl_holding *h = &item->holding;

	hl_buf_puts(buf, "{");
	if (h->kind == HL_KIND_CONCURRENT) {
		hl_buf_puts(buf, "\"pool\":");
		hl_buf_json(buf, h->pool);
		hl_buf_printf(buf, ",\"slot\":%u,", h->slot);
	}
	hl_buf_puts(buf, "\"user\":");
	hl_buf_json(buf, item->user);
	hl_buf_puts(buf, ",\"since\":");
	json_time(buf, h->since);
	if (h->kind == HL_KIND_NAMED)
		hl_buf_printf(buf, ",\"eligible\":%s",
			      item->eligible ? "true" : "false");
	/* null: never idle (a session without a tty), or Named. */
	if (item->idle >= 0)
		hl_buf_printf(buf, ",\"idle_s\":%ld", item->idle);
	else
		hl_buf_puts(buf, ",\"idle_s\":null");
	hl_buf_puts(buf, ",\"sessions\":[");
	for (size_t s = 0; s < h->session_count; s++) {
		if (s)
			hl_buf_puts(buf, ",");
		json_session(buf, &h->sessions[s], item->stale[s]);
	}
	hl_buf_puts(buf, "]}");
}

/* ,"waiting":[...]: who waits in which line, in order. */
static void json_waiters(struct hl_buf *buf, const struct hl_listing *l)
{
	hl_buf_puts(buf, ",\"waiting\":[");
	for (size_t i = 0; i < l->waiter_count; i++) {
		const struct hl_listed_waiter *w = &l->waiters[i];

		hl_buf_puts(buf, i ? ",{\"pool\":" : "{\"pool\":");
		hl_buf_json(buf, w->pool);
		hl_buf_printf(buf, ",\"place\":%zu,\"user\":", w->place);
		hl_buf_json(buf, w->waiter.user);
		hl_buf_puts(buf, ",\"since\":");
		json_time(buf, w->waiter.session.since);
		hl_buf_puts(buf, ",\"until\":");
		json_time(buf, w->waiter.until);
		hl_buf_printf(buf, ",\"ended\":%s,\"sessions\":[",
			      w->ended ? "true" : "false");
		json_session(buf, &w->waiter.session, w->stale);
		hl_buf_puts(buf, "]}");
	}
	hl_buf_puts(buf, "]");
}

/* WAITING POOL USER SINCE PID SERVICE TTY FROM: a row per waiter, by pool
 * and place in line.  notes: say what the marks mean (not for waiters
 * dropped already). */
static void table_waiters(struct hl_buf *buf, const struct hl_listing *l,
			  bool notes)
{
	bool any_stale = false, any_ended = false;

	if (l->waiter_count == 0)
		return;
	hl_buf_printf(buf, "\n%-7s %-16s %-12s %-11s %7s %-7s %-7s %s\n",
		      "WAITING", "POOL", "USER", "SINCE", "PID", "SERVICE",
		      "TTY", "FROM");
	for (size_t i = 0; i < l->waiter_count; i++) {
		const struct hl_listed_waiter *w = &l->waiters[i];
		const struct hl_session *ss = &w->waiter.session;
		char place[32], when[32], pid[32];

		snprintf(place, sizeof(place), "%zu", w->place);
		short_time(ss->since, when, sizeof(when));
		snprintf(pid, sizeof(pid), "%ld%s", (long)ss->pid,
			 w->stale ? "*" : w->ended ? "+" : "");
		any_stale |= w->stale;
		any_ended |= w->ended;
		cell(buf, place, 7, true);
		hl_buf_puts(buf, " ");
		cell(buf, w->pool, 16, false);
		hl_buf_puts(buf, " ");
		cell(buf, w->waiter.user, 12, false);
		hl_buf_puts(buf, " ");
		cell(buf, when, 11, false);
		hl_buf_puts(buf, " ");
		cell(buf, pid, 7, true);
		hl_buf_puts(buf, " ");
		cell(buf, ss->service, 7, false);
		hl_buf_puts(buf, " ");
		cell(buf, ss->tty, 7, false);
		hl_buf_puts(buf, " ");
		cell(buf, ss->rhost, 20, false);
		while (buf->len && buf->data[buf->len - 1] == ' ')
			buf->data[--buf->len] = '\0';
		hl_buf_puts(buf, "\n");
	}
	if (any_stale && notes)
		hl_buf_puts(buf, "* its process is gone: the next login to "
				 "that pool drops it from the line\n");
	if (any_ended && notes)
		hl_buf_puts(buf, "+ its wait is over (its process is stopped?): "
				 "the next login to that pool drops it from the "
				 "line\n");
}

/* What a reconciliation set right, for repair and reap. */
static unsigned reconciled_total(const struct hl_reconciled *r)
{
	return r->records_dropped + r->slots_freed + r->slots_restored +
	       r->holders_moved + r->holders_dropped + r->counters_fixed +
	       r->sessions_restored;
}

static void json_reconciled(struct hl_buf *buf, const struct hl_reconciled *r)
{
	unsigned listed = r->unmatched_count < HL_UNMATCHED_MAX
				  ? r->unmatched_count : HL_UNMATCHED_MAX;

	hl_buf_printf(buf, "{\"records_dropped\":%u,\"slots_freed\":%u,"
		      "\"slots_restored\":%u,\"holders_moved\":%u,"
		      "\"holders_dropped\":%u,\"counters_fixed\":%u,"
		      "\"sessions_restored\":%u,\"over_allocated\":%u,"
		      "\"unmatched_count\":%u,\"unmatched\":[",
		      r->records_dropped, r->slots_freed, r->slots_restored,
		      r->holders_moved, r->holders_dropped, r->counters_fixed,
		      r->sessions_restored, r->over_allocated,
		      r->unmatched_count);
	for (unsigned i = 0; i < listed; i++) {
		const struct hl_unmatched *u = &r->unmatched[i];

		hl_buf_puts(buf, i ? ",{\"user\":" : "{\"user\":");
		hl_buf_json(buf, u->user);
		hl_buf_puts(buf, ",\"pool\":");
		if (*u->pool) {
			hl_buf_json(buf, u->pool);
			hl_buf_printf(buf, ",\"slot\":%u}", u->slot);
		} else {
			hl_buf_puts(buf, "null,\"slot\":null}");
		}
	}
	hl_buf_puts(buf, "]}");
}

/* The technicians whose records were lost while they may be logged in:
 * nothing counts their sessions any more. */
static void text_unmatched(struct hl_buf *buf, const struct hl_reconciled *r)
{
	unsigned listed = r->unmatched_count < HL_UNMATCHED_MAX
				  ? r->unmatched_count : HL_UNMATCHED_MAX;
	char user[300], pool[300];

	if (r->unmatched_count == 0)
		return;
	hl_buf_printf(buf, "Sessions left without their license record "
		      "(%u; if still logged in, they are not counted: see "
		      "'" PROGRAM " list' and syslog):", r->unmatched_count);
	for (unsigned i = 0; i < listed; i++) {
		const struct hl_unmatched *u = &r->unmatched[i];

		hl_printable(u->user, user, sizeof(user));
		if (*u->pool)
			hl_buf_printf(buf, "%s %s (%s #%u)", i ? "," : "",
				      user, hl_printable(u->pool, pool,
							 sizeof(pool)),
				      u->slot);
		else
			hl_buf_printf(buf, "%s %s (named)", i ? "," : "",
				      user);
	}
	hl_buf_puts(buf, listed < r->unmatched_count ? ", ...\n" : ".\n");
}

static void text_reconciled(struct hl_buf *buf, const struct hl_reconciled *r)
{
	if (reconciled_total(r) == 0)
		return;
	hl_buf_printf(buf, "Records set to agree: %u unreadable record%s "
		      "deleted, %u slot%s without holder freed, %u slot%s "
		      "written back, %u holder%s moved, %u holder%s without "
		      "slot dropped, %u counter%s recounted (see syslog).\n",
		      r->records_dropped, r->records_dropped == 1 ? "" : "s",
		      r->slots_freed, r->slots_freed == 1 ? "" : "s",
		      r->slots_restored, r->slots_restored == 1 ? "" : "s",
		      r->holders_moved, r->holders_moved == 1 ? "" : "s",
		      r->holders_dropped, r->holders_dropped == 1 ? "" : "s",
		      r->counters_fixed, r->counters_fixed == 1 ? "" : "s");
	if (r->sessions_restored > 0)
		hl_buf_printf(buf, "Live sessions the rebuild lost, restored "
			      "from the event log: %u (%u beyond the pool's "
			      "licenses for want of a free slot).\n",
			      r->sessions_restored, r->over_allocated);
	text_unmatched(buf, r);
}

/* {"concurrent":[...],"named":[...],"waiting":[...]}: the document of
 * list, and of reap with "reconciled":{...} (what it set to agree). */
/* "NAME":[...]: the items of kind, held or released. */
static void json_items(struct hl_buf *buf, const struct hl_listing *l,
		       const char *name, enum hl_kind kind, bool released)
{
	bool first = true;

	hl_buf_printf(buf, "\"%s\":[", name);
	for (size_t i = 0; i < l->count; i++) {
		if (l->items[i].holding.kind != kind ||
		    l->items[i].released != released)
			continue;
		hl_buf_puts(buf, first ? "" : ",");
		json_listed(buf, &l->items[i]);
		first = false;
	}
	hl_buf_puts(buf, "]");
}

static void json_listing(struct hl_buf *buf, const struct hl_listing *l,
			 const struct hl_reconciled *reconciled)
{
	hl_buf_puts(buf, "{");
	json_items(buf, l, "concurrent", HL_KIND_CONCURRENT, false);
	hl_buf_puts(buf, ",");
	json_items(buf, l, "named", HL_KIND_NAMED, false);
	/* Sessions that go on after an admin released their slot: they
	 * hold no license. */
	hl_buf_puts(buf, ",");
	json_items(buf, l, "released", HL_KIND_CONCURRENT, true);
	json_waiters(buf, l);
	if (reconciled) {
		hl_buf_puts(buf, ",\"reconciled\":");
		json_reconciled(buf, reconciled);
	}
	hl_buf_puts(buf, "}\n");
}

/* "pool #slot", or "named". */
static void license_label(const struct hl_listed *item, char *out, size_t len)
{
	if (item->holding.kind == HL_KIND_CONCURRENT)
		snprintf(out, len, "%s #%u%s", item->holding.pool,
			 item->holding.slot, item->released ? " released" : "");
	else
		snprintf(out, len, "named%s",
			 item->eligible ? "" : " (ineligible)");
}

static int printable_width(const char *text)
{
	char shown[512];

	return (int)strlen(hl_printable(text, shown, sizeof(shown)));
}

/* IDLE as w(1) shows it: how long the session's tty has had no input
 * (its last input, as listed: 0 for none); "-" for a session without a
 * tty (never idle). */
static void session_idle(time_t input, char *out, size_t len)
{
	time_t now = time(NULL);
	long idle;

	if (input == 0) {
		snprintf(out, len, "-");
		return;
	}
	idle = now > input ? (long)(now - input) : 0;
	if (idle < 60)
		snprintf(out, len, "%lds", idle);
	else if (idle < 3600)
		snprintf(out, len, "%ldm", idle / 60);
	else if (idle < 86400)
		snprintf(out, len, "%ld:%02ld", idle / 3600, idle / 60 % 60);
	else
		snprintf(out, len, "%ldd", idle / 86400);
}

/* The listing's column widths; from, what FROM may take. */
struct listing_widths {
	int license, user, host, from;
};

/* A LICENSE cell, made once per item for the widths and the rows. */
typedef char license_cell[96];

static void listing_widths(const struct hl_listing *l,
			   const license_cell *labels, bool hosts,
			   struct listing_widths *w)
{
	int width = (int)terminal_width(), extra = (width - 80) / 2;

	w->license = 7;
	w->user = 4;
	w->host = 0;
	for (size_t i = 0; i < l->count; i++) {
		int n;

		n = printable_width(labels[i]);
		w->license = n > w->license ? n : w->license;
		n = printable_width(l->items[i].user);
		w->user = n > w->user ? n : w->user;
		for (size_t s = 0; hosts && s < l->items[i].holding.session_count;
		     s++) {
			n = printable_width(
				l->items[i].holding.sessions[s].host);
			w->host = n > w->host ? n : w->host;
		}
	}
	if (hosts)
		w->host = w->host < 4 ? 4 : w->host > 16 ? 16 : w->host;
	if (w->license > 20 + extra)
		w->license = 20 + extra;
	if (w->user > 12 + extra)
		w->user = 12 + extra;
	w->from = width - 1 - (w->license + 1 + w->user + 1 + 11 + 1 + 6 + 1 +
			       7 + 1 + 7 + 1 + 7 + 1 +
			       (hosts ? w->host + 1 : 0));
}

/* The row of session s of item (s is 0 for a holding without sessions):
 * LICENSE and USER on its first row only. */
static void listing_row(struct hl_buf *buf, const struct hl_listed *item,
			size_t s, const char *license,
			const struct listing_widths *w, bool hosts)
{
	const struct hl_holding *h = &item->holding;
	const struct hl_session *ss = h->session_count ? &h->sessions[s] : NULL;
	char when[32], pid[32], idle[32];

	short_time(ss ? ss->since : h->since, when, sizeof(when));
	if (ss)
		snprintf(pid, sizeof(pid), "%ld%s",
			 (long)ss->pid, item->stale[s] ? "*" : "");
	else
		snprintf(pid, sizeof(pid), "-");
	cell(buf, s == 0 ? license : "", w->license, false);
	hl_buf_puts(buf, " ");
	cell(buf, s == 0 ? item->user : "", w->user, false);
	hl_buf_puts(buf, " ");
	cell(buf, when, 11, false);
	hl_buf_puts(buf, " ");
	session_idle(ss ? item->input[s] : 0, idle, sizeof(idle));
	cell(buf, idle, 6, true);
	hl_buf_puts(buf, " ");
	cell(buf, pid, 7, true);
	hl_buf_puts(buf, " ");
	cell(buf, ss ? ss->service : "", 7, false);
	hl_buf_puts(buf, " ");
	cell(buf, ss ? ss->tty : "", 7, false);
	hl_buf_puts(buf, " ");
	if (hosts) {
		cell(buf, ss ? ss->host : "", w->host, false);
		hl_buf_puts(buf, " ");
	}
	cell(buf, ss ? ss->rhost : "", w->from, false);
	/* No trailing blanks. */
	while (buf->len && buf->data[buf->len - 1] == ' ')
		buf->data[--buf->len] = '\0';
	hl_buf_puts(buf, "\n");
}

/*
 * LICENSE USER SINCE IDLE PID SERVICE TTY [HOST] FROM: a row per session,
 * like who(1) and w(1); HOST, the host of the session, with a shared
 * backend (where the sessions of every host are listed).
 * LICENSE and USER are as wide as their longest value, up to a share of the
 * terminal (20 and 12 columns of 80), so that names are cut only when they
 * must; FROM takes what is left, short of the terminal's last column
 * (writing there wraps on some terminals).  --json never cuts anything.
 */
static void table_listing(struct hl_buf *buf, const struct hl_listing *l,
			  const char *empty, bool hosts)
{
	struct listing_widths w;
	bool any_stale = false, any_released = false;
	license_cell *labels;

	if (l->count == 0) {
		hl_buf_printf(buf, "%s\n", empty);
		return;
	}
	labels = calloc(l->count, sizeof(*labels));
	if (labels == NULL) {
		buf->failed = true;
		return;
	}
	for (size_t i = 0; i < l->count; i++)
		license_label(&l->items[i], labels[i], sizeof(labels[i]));
	listing_widths(l, labels, hosts, &w);
	hl_buf_printf(buf, "%-*s %-*s %-11s %6s %7s %-7s %-7s ",
		      w.license, "LICENSE", w.user, "USER", "SINCE", "IDLE",
		      "PID", "SERVICE", "TTY");
	if (hosts)
		hl_buf_printf(buf, "%-*s ", w.host, "HOST");
	hl_buf_puts(buf, "FROM\n");
	for (size_t i = 0; i < l->count; i++) {
		const struct hl_listed *item = &l->items[i];
		size_t sessions = item->holding.session_count;

		any_released |= item->released;
		for (size_t s = 0; s < (sessions ? sessions : 1); s++) {
			any_stale |= sessions && item->stale[s];
			listing_row(buf, item, s, labels[i], &w, hosts);
		}
	}
	free(labels);
	if (any_stale)
		hl_buf_puts(buf, "* its process is gone: 'helpdesk-license "
				 "reap' drops it\n");
	if (any_released)
		hl_buf_puts(buf, "released: still logged in on a slot an "
				 "administrator released, holding no license; "
				 "'helpdesk-license release --terminate USER' "
				 "ends it\n");
}

static int cmd_list(struct tool *tool)
{
	struct hl_request req = tool_request(tool, NULL);
	struct hl_listing listing;
	struct hl_decision d;
	struct hl_buf buf;

	hl_admin_list(&tool->env, &req, &listing, &d);
	if (d.verdict != HL_GRANTED)
		return report_failure(tool, "list", NULL, &d);
	hl_buf_init(&buf);
	if (tool->opt.json) {
		json_listing(&buf, &listing, NULL);
	} else {
		table_listing(&buf, &listing, "No license is held.",
			      tool->cfg->backend.enabled);
		table_waiters(&buf, &listing, true);
	}
	hl_listing_free(&listing);
	return print_buf(&buf);
}

/* ---- status ----------------------------------------------------------------------- */

/* The usage of pool: *last when it is that pool's (the listing comes by
 * pool, so nearly always), else found or added. */
static struct hl_pool_usage *usage_of(struct hl_pool_usage *u, size_t *n,
				      struct hl_pool_usage **last,
				      const char *pool)
{
	if (*last && strcmp((*last)->pool, pool) == 0)
		return *last;
	for (size_t i = 0; i < *n; i++)
		if (strcmp(u[i].pool, pool) == 0)
			return *last = &u[i];
	u[*n].pool = pool;
	*last = &u[*n];
	return &u[(*n)++];
}

/* What a listing holds, per pool (the configured ones first) and Named,
 * for status and metrics; NULL on no memory.  The strings are the
 * listing's and the configuration's. */
struct tally {
	struct hl_pool_usage *pools;
	size_t pool_count;
	unsigned named, in_force, stale_sessions;
};

static bool tally_listing(const struct hl_config *cfg,
			  const struct hl_listing *listing, struct tally *t)
{
	struct hl_pool_usage *usage, *last = NULL;
	size_t npools;

	memset(t, 0, sizeof(*t));
	usage = calloc(cfg->pool_count + listing->count +
			       listing->waiter_count + 1, sizeof(*usage));
	if (usage == NULL)
		return false;
	for (size_t i = 0; i < cfg->pool_count; i++) {
		usage[i].pool = cfg->pools[i].name;
		usage[i].licenses = cfg->pools[i].licenses;
		usage[i].wait = cfg->pools[i].wait;
		usage[i].idle_timeout = cfg->pools[i].idle_timeout;
	}
	npools = cfg->pool_count;
	for (size_t i = 0; i < listing->count; i++) {
		const struct hl_listed *item = &listing->items[i];
		bool all_stale = true;

		for (size_t s = 0; s < item->holding.session_count; s++) {
			t->stale_sessions += item->stale[s];
			all_stale &= item->stale[s];
		}
		if (item->released) {
			usage_of(usage, &npools, &last,
				 item->holding.pool)->released++;
			continue;
		}
		if (item->holding.kind == HL_KIND_NAMED) {
			t->named++;
			t->in_force += item->eligible;
			continue;
		}
		struct hl_pool_usage *u = usage_of(usage, &npools, &last,
						   item->holding.pool);
		u->in_use++;
		u->stale += all_stale;
		u->idle += !all_stale && u->idle_timeout > 0 &&
			   item->idle >= (long)u->idle_timeout;
	}
	for (size_t i = 0; i < listing->waiter_count; i++) {
		const struct hl_listed_waiter *w = &listing->waiters[i];
		struct hl_pool_usage *u;

		/* Gone, or past its wait: it holds nobody up. */
		if (w->stale || w->ended)
			continue;
		u = usage_of(usage, &npools, &last, w->pool);
		u->waiting++;
		if (u->oldest_wait == 0 ||
		    w->waiter.session.since < u->oldest_wait)
			u->oldest_wait = w->waiter.session.since;
	}
	t->pools = usage;
	t->pool_count = npools;
	return true;
}

static void warn(struct hl_buf *human, struct hl_buf *json, bool *first,
		 const char *fmt, ...) __attribute__((format(printf, 4, 5)));
static void warn(struct hl_buf *human, struct hl_buf *json, bool *first,
		 const char *fmt, ...)
{
	char text[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	hl_buf_printf(human, "warning: %s\n", text);
	hl_buf_puts(json, *first ? "" : ",");
	hl_buf_json(json, text);
	*first = false;
}

/* A pool's wait for the WAIT column: "-" (refused at once), "90s",
 * "5m", "2h". */
static void short_duration(unsigned seconds, char *out, size_t len)
{
	if (seconds == 0)
		snprintf(out, len, "-");
	else if (seconds % 3600 == 0)
		snprintf(out, len, "%uh", seconds / 3600);
	else if (seconds % 60 == 0)
		snprintf(out, len, "%um", seconds / 60);
	else
		snprintf(out, len, "%us", seconds);
}

static void json_names(struct hl_buf *buf, const struct hl_names *names)
{
	hl_buf_puts(buf, "[");
	for (size_t i = 0; i < names->count; i++) {
		hl_buf_puts(buf, i ? "," : "");
		hl_buf_json(buf, names->names[i]);
	}
	hl_buf_puts(buf, "]");
}

/* "root, alice", or "-" for none. */
static void text_names(struct hl_buf *buf, const struct hl_names *names)
{
	if (names->count == 0)
		hl_buf_puts(buf, "-");
	for (size_t i = 0; i < names->count; i++) {
		hl_buf_puts(buf, i ? ", " : "");
		hl_buf_printable(buf, names->names[i]);
	}
}

/* "Released, still logged in without a license: east 1, west 2", when
 * any is. */
static void text_released(struct hl_buf *buf,
			  const struct hl_pool_usage *usage, size_t npools)
{
	bool first = true;

	for (size_t i = 0; i < npools; i++) {
		if (usage[i].released == 0)
			continue;
		hl_buf_puts(buf, first ? "Released, still logged in without a "
					 "license: " : ", ");
		hl_buf_printable(buf, usage[i].pool);
		hl_buf_printf(buf, " %u", usage[i].released);
		first = false;
	}
	if (!first)
		hl_buf_puts(buf, " ('" PROGRAM " release --terminate USER' "
				 "ends them)\n");
}

/* What needs an administrator's eye, for people and for --json. */
static void status_warnings(const struct hl_config *cfg, const struct tally *t,
			    struct hl_buf *warnings, struct hl_buf *jwarnings)
{
	const struct hl_pool_usage *usage = t->pools;
	bool first = true;

	for (size_t i = 0; i < t->pool_count; i++) {
		if (usage[i].licenses == 0 && usage[i].in_use > 0)
			warn(warnings, jwarnings, &first,
			     "pool %s is not in the configuration any more "
			     "but %u technician%s still hold%s its slots",
			     usage[i].pool, usage[i].in_use,
			     usage[i].in_use == 1 ? "" : "s",
			     usage[i].in_use == 1 ? "s" : "");
		else if (usage[i].in_use > usage[i].licenses)
			warn(warnings, jwarnings, &first,
			     "pool %s is over-allocated: %u in use, %u "
			     "licenses (lowered?); nobody new gets in until "
			     "it is under", usage[i].pool, usage[i].in_use,
			     usage[i].licenses);
	}
	if (t->in_force > cfg->named.licenses)
		warn(warnings, jwarnings, &first,
		     "Named licenses are over-allocated: %u allocated, %u "
		     "licenses; no new allocation until it is under",
		     t->in_force, cfg->named.licenses);
	if (t->named > t->in_force)
		warn(warnings, jwarnings, &first,
		     "%u Named allocation%s of users no longer named-eligible "
		     "will be freed at the next login", t->named - t->in_force,
		     t->named - t->in_force == 1 ? "" : "s");
	if (t->stale_sessions)
		warn(warnings, jwarnings, &first,
		     "%u stale session%s (process gone): run '" PROGRAM
		     " reap'", t->stale_sessions,
		     t->stale_sessions == 1 ? "" : "s");
}

/* Licenses not in use; none when the pool is over-allocated. */
static unsigned pool_free(const struct hl_pool_usage *usage)
{
	return usage->licenses > usage->in_use
		? usage->licenses - usage->in_use : 0;
}

static void status_json(struct hl_buf *out, const struct hl_config *cfg,
			const struct tally *t, const struct hl_buf *jwarnings,
			const struct hl_listing *listing)
{
	const struct hl_pool_usage *usage = t->pools;

	hl_buf_puts(out, "{\"pools\":[");
	for (size_t i = 0; i < t->pool_count; i++) {
		hl_buf_puts(out, i ? ",{\"pool\":" : "{\"pool\":");
		hl_buf_json(out, usage[i].pool);
		hl_buf_printf(out, ",\"licenses\":%u,\"in_use\":%u,"
			      "\"free\":%u,\"stale\":%u,\"idle\":%u,"
			      "\"released\":%u,"
			      "\"idle_timeout\":%u,\"wait\":%u,"
			      "\"waiting\":%u}",
			      usage[i].licenses, usage[i].in_use,
			      pool_free(&usage[i]), usage[i].stale,
			      usage[i].idle, usage[i].released,
			      usage[i].idle_timeout, usage[i].wait,
			      usage[i].waiting);
	}
	hl_buf_printf(out, "],\"named\":{\"licenses\":%u,"
		      "\"allocated\":%u,\"in_force\":%u},"
		      "\"exempt\":{\"users\":", cfg->named.licenses,
		      t->named, t->in_force);
	json_names(out, &cfg->exempt_users);
	hl_buf_puts(out, ",\"groups\":");
	json_names(out, &cfg->exempt_groups);
	hl_buf_puts(out, "},\"warnings\":[");
	hl_buf_append(out, jwarnings->data ? jwarnings->data : "",
		      jwarnings->len);
	hl_buf_puts(out, "]");
	json_waiters(out, listing);
	hl_buf_puts(out, "}\n");
}

static void status_table(struct hl_buf *out, const struct hl_config *cfg,
			 const struct tally *t, const struct hl_buf *warnings,
			 const struct hl_listing *listing)
{
	const struct hl_pool_usage *usage = t->pools;

	hl_buf_printf(out, "%-24s %8s %6s %5s %5s %5s %7s %6s\n",
		      "POOL", "LICENSES", "IN USE", "FREE", "STALE",
		      "IDLE", "WAITING", "WAIT");
	for (size_t i = 0; i < t->pool_count; i++) {
		char wait[32];

		short_duration(usage[i].licenses ? usage[i].wait : 0,
			       wait, sizeof(wait));
		cell(out, usage[i].pool, 24, false);
		hl_buf_printf(out, " %8u %6u %5u %5u %5u %7u %6s\n",
			      usage[i].licenses, usage[i].in_use,
			      pool_free(&usage[i]), usage[i].stale,
			      usage[i].idle, usage[i].waiting, wait);
	}
	if (t->pool_count == 0)
		hl_buf_puts(out, "(no pools configured)\n");
	hl_buf_printf(out, "\nNamed licenses: %u, allocated: %u",
		      cfg->named.licenses, t->in_force);
	if (t->named != t->in_force)
		hl_buf_printf(out, " (+%u no longer eligible)",
			      t->named - t->in_force);
	hl_buf_puts(out, "\nExempt (never need a license): users ");
	text_names(out, &cfg->exempt_users);
	hl_buf_puts(out, "; groups ");
	text_names(out, &cfg->exempt_groups);
	hl_buf_puts(out, "\n");
	text_released(out, usage, t->pool_count);
	table_waiters(out, listing, true);
	if (warnings->len) {
		hl_buf_puts(out, "\n");
		hl_buf_append(out, warnings->data, warnings->len);
	}
}

static int cmd_status(struct tool *tool)
{
	struct hl_request req = tool_request(tool, NULL);
	struct hl_listing listing;
	struct hl_decision d;
	struct hl_buf out, warnings, jwarnings;
	struct tally t;

	hl_admin_list_counts(&tool->env, &req, &listing, &d);
	if (d.verdict != HL_GRANTED)
		return report_failure(tool, "status", NULL, &d);
	if (!tally_listing(tool->cfg, &listing, &t)) {
		hl_listing_free(&listing);
		fail("out of memory");
		return EXIT_NO;
	}
	hl_buf_init(&out);
	hl_buf_init(&warnings);
	hl_buf_init(&jwarnings);
	status_warnings(tool->cfg, &t, &warnings, &jwarnings);
	if (tool->opt.json)
		status_json(&out, tool->cfg, &t, &jwarnings, &listing);
	else
		status_table(&out, tool->cfg, &t, &warnings, &listing);
	hl_buf_free(&warnings);
	hl_buf_free(&jwarnings);
	free(t.pools);
	hl_listing_free(&listing);
	return print_buf(&out);
}

/* One store file and its lock, as the module opens them. */
static unsigned preflight_store(const char *what, const char *path,
				void (*error)(void *data, const char *why),
				void *data)
{
	char lock[PATH_MAX + 8], label[64], why[PATH_MAX * 2 + 256];

	if (!hl_preflight_file(what, path, true, why, sizeof(why))) {
		error(data, why);
		return 1;
	}
	snprintf(label, sizeof(label), "%s lock", what);
	if (snprintf(lock, sizeof(lock), "%s.lock", path) <
		    (int)sizeof(lock) &&
	    !hl_preflight_file(label, lock, true, why, sizeof(why))) {
		error(data, why);
		return 1;
	}
	return 0;
}

/* What would keep the module from opening its files, the way it opens
 * them: one line each to error.  Each store is its file and its lock. */
static unsigned preflight_files(const struct hl_config *cfg,
				void (*error)(void *data, const char *why),
				void *data)
{
	char why[PATH_MAX * 2 + 256];
	unsigned problems = preflight_store("store", cfg->store, error, data) +
			    preflight_store("runtime store", cfg->runtime_store,
					    error, data);

	if (cfg->event_log != NULL &&
	    !hl_preflight_file("event log", cfg->event_log, false, why,
			       sizeof(why))) {
		error(data, why);
		problems++;
	}
	return problems;
}

/* ---- metrics ---------------------------------------------------------------------- */

static void warn_log(const char *message)
{
	char shown[PATH_MAX + 256];

	fail("%s", hl_printable(message, shown, sizeof(shown)));
}

static int cmd_metrics(struct tool *tool)
{
	const struct hl_config *cfg = tool->cfg;
	struct hl_request req = tool_request(tool, NULL);
	struct hl_metrics_input in;
	struct hl_listing listing;
	struct hl_eventlog log;
	struct hl_decision d;
	struct hl_buf out;
	struct tally t;
	char why[PATH_MAX + 128], *text;
	int rc = EXIT_NO;

	/* Counts, as status: a tty is read only where idle time counts. */
	hl_admin_list_counts(&tool->env, &req, &listing, &d);
	if (d.verdict != HL_GRANTED)
		return report_failure(tool, "metrics", NULL, &d);
	memset(&log, 0, sizeof(log));
	memset(&t, 0, sizeof(t));
	if (!tally_listing(cfg, &listing, &t)) {
		fail("out of memory");
		goto out;
	}
	if (cfg->event_log &&
	    hl_eventlog_read(cfg->event_log, &log, warn_log, why,
			     sizeof(why)) != 0) {
		fail("metrics: %s", why);
		goto out;
	}
	in = (struct hl_metrics_input){
		.pools = t.pools, .pool_count = t.pool_count,
		.named_licenses = cfg->named.licenses,
		.named_in_use = t.in_force,
		.log = cfg->event_log ? &log : NULL, .now = time(NULL),
	};
	hl_buf_init(&out);
	hl_metrics_text(&in, &out);
	if (tool->opt.output == NULL) {
		rc = print_buf(&out);
		goto out;
	}
	text = hl_buf_take(&out);
	if (text == NULL) {
		fail("out of memory");
		goto out;
	}
	if (hl_metrics_write_file(tool->opt.output, text, why, sizeof(why)) == 0)
		rc = 0;
	else
		fail("metrics: %s", why);
	free(text);
out:
	free(t.pools);
	hl_eventlog_free(&log);
	hl_listing_free(&listing);
	return rc;
}

/* ---- check ------------------------------------------------------------------------ */

static void check_sentence(const char *user, const struct hl_decision *d,
			   char *out, size_t len)
{
	switch (d->verdict) {
	case HL_GRANTED:
		if (strcmp(d->reason, "named allocation") == 0)
			snprintf(out, len, "%s would be granted: %s holds a "
				 "Named license.", user, user);
		else if (strcmp(d->reason, "named license allocated") == 0)
			snprintf(out, len, "%s would be granted: a Named "
				 "license is free and would be allocated to "
				 "%s.", user, user);
		else if (d->joined)
			snprintf(out, len, "%s would be granted: %s holds slot "
				 "%u of pool %s already; the new session would "
				 "join it.", user, user, d->slot, d->pool);
		else if (strncmp(d->reason, "license of idle holder ", 23) == 0)
			snprintf(out, len, "%s would be granted: every license "
				 "of pool %s is in use, but %s has had no input "
				 "for the pool's idle_timeout: %s would take "
				 "that license, and %s's sessions would end.",
				 user, d->pool, d->reason + 23, user,
				 d->reason + 23);
		else if (strcmp(d->reason, "may wait in line") == 0)
			snprintf(out, len, "%s would wait in line: every "
				 "license of pool %s is in use, and the pool "
				 "lets technicians wait.", user, d->pool);
		else
			snprintf(out, len, "%s would be granted: pool %s has "
				 "a free license.", user, d->pool);
		break;
	case HL_DENIED:
		snprintf(out, len, "%s would be refused (%s):\n%s", user,
			 d->reason, d->message);
		break;
	case HL_IGNORED:
		snprintf(out, len, "%s is not concerned (%s): the module "
			 "would let the rest of the PAM stack decide.", user,
			 d->reason);
		break;
	default:
		snprintf(out, len, "%s: %s", user, d->reason);
		break;
	}
}

static void check_file_error(void *data, const char *why)
{
	char line[PATH_MAX * 2 + 512];

	snprintf(line, sizeof(line), "check: %s: every login that needs a "
		 "license would fail", why);
	print_failure(data, line);
}

static int cmd_check(struct tool *tool, const char *user)
{
	struct hl_request req = tool_request(tool, user);
	struct hl_decision d;
	char sentence[3072];
	struct hl_buf buf;

	req.service = "";	/* a login through any service */
	hl_license_preview(&tool->env, &req, &d);
	if (d.verdict == HL_USER_UNKNOWN || d.verdict == HL_STORE_FAILED)
		return report_failure(tool, "check", user, &d);
	/* A store the module cannot open fails every login that needs a
	 * license, whatever the preview of a missing store says. */
	if (d.verdict != HL_IGNORED &&
	    preflight_files(tool->cfg, check_file_error, tool) > 0)
		return EXIT_NO;
	check_sentence(user, &d, sentence, sizeof(sentence));
	hl_buf_init(&buf);
	if (tool->opt.json) {
		static const char *const verdicts[] = {
			[HL_GRANTED] = "granted", [HL_DENIED] = "refused",
			[HL_IGNORED] = "not concerned",
		};

		hl_buf_puts(&buf, "{\"user\":");
		hl_buf_json(&buf, user);
		hl_buf_printf(&buf, ",\"verdict\":\"%s\"", verdicts[d.verdict]);
		if (d.verdict != HL_IGNORED)
			hl_buf_printf(&buf, ",\"kind\":\"%s\"",
				      d.kind == HL_KIND_NAMED ? "named"
							      : "concurrent");
		if (*d.pool) {
			hl_buf_puts(&buf, ",\"pool\":");
			hl_buf_json(&buf, d.pool);
		}
		hl_buf_puts(&buf, ",\"reason\":");
		hl_buf_json(&buf, d.reason);
		hl_buf_puts(&buf, ",\"message\":");
		hl_buf_json(&buf, sentence);
		hl_buf_puts(&buf, "}\n");
	} else {
		hl_buf_printf(&buf, "%s\n", sentence);
	}
	if (print_buf(&buf) != 0)
		return EXIT_NO;
	return d.verdict == HL_DENIED ? EXIT_NO : 0;
}

/* ---- commands that change the store ---------------------------------------------- */

static int print_done(const struct tool *tool, const struct hl_decision *d)
{
	struct hl_buf buf;

	hl_buf_init(&buf);
	if (tool->opt.json) {
		hl_buf_puts(&buf, "{\"done\":true,\"message\":");
		hl_buf_json(&buf, d->message);
		hl_buf_puts(&buf, "}\n");
	} else {
		hl_buf_printf(&buf, "%s\n", d->message);
	}
	return print_buf(&buf);
}

static int cmd_release(struct tool *tool, const char *user)
{
	struct hl_request req = tool_request(tool, user);
	struct hl_decision d;

	hl_admin_release(&tool->env, &req, tool->opt.pool, tool->opt.terminate,
			 &d);
	if (d.verdict != HL_GRANTED)
		return report_failure(tool, "release", user, &d);
	return print_done(tool, &d);
}

static int cmd_assign(struct tool *tool, const char *user)
{
	struct hl_request req = tool_request(tool, user);
	struct hl_decision d;

	hl_admin_assign(&tool->env, &req, &d);
	if (d.verdict != HL_GRANTED)
		return report_failure(tool, "assign", user, &d);
	return print_done(tool, &d);
}

static int cmd_unassign(struct tool *tool, const char *user)
{
	struct hl_request req = tool_request(tool, user);
	struct hl_decision d;

	hl_admin_unassign(&tool->env, &req, tool->opt.force, &d);
	if (d.verdict != HL_GRANTED)
		return report_failure(tool, "unassign", user, &d);
	return print_done(tool, &d);
}

static int cmd_reap(struct tool *tool)
{
	struct hl_request req = tool_request(tool, PROGRAM);
	struct hl_listing reaped;
	struct hl_decision d;
	struct hl_buf buf;

	hl_admin_reap(&tool->env, &req, &reaped, &d);
	if (d.verdict != HL_GRANTED)
		return report_failure(tool, "reap", NULL, &d);
	hl_buf_init(&buf);
	if (tool->opt.json) {
		json_listing(&buf, &reaped, &reaped.reconciled);
	} else {
		size_t sessions = 0;

		for (size_t i = 0; i < reaped.count; i++)
			sessions += reaped.items[i].holding.session_count;
		table_listing(&buf, &reaped, "No stale session.",
			      tool->cfg->backend.enabled);
		if (sessions)
			hl_buf_printf(&buf, "Dropped %zu stale session%s.\n",
				      sessions, sessions == 1 ? "" : "s");
		table_waiters(&buf, &reaped, false);
		if (reaped.waiter_count)
			hl_buf_printf(&buf, "Dropped %zu waiter%s from the "
				      "lines.\n", reaped.waiter_count,
				      reaped.waiter_count == 1 ? "" : "s");
		text_reconciled(&buf, &reaped.reconciled);
	}
	hl_listing_free(&reaped);
	return print_buf(&buf);
}

/* ---- check-config ----------------------------------------------------------------- */

/* What check-config found: the parser's "FILE:LINE: message" lines and the
 * pre-flight checks' lines, as they come (on stderr) or gathered for
 * --json. */
struct findings {
	const char *config;
	bool json;
	unsigned errors, warnings;
	struct hl_buf jerrors, jwarnings;	/* JSON array items */
	char backend[256];	/* helpdesk-licensed's answer to PING */
};

static void found(struct findings *f, bool warning, const char *message)
{
	struct hl_buf *items = warning ? &f->jwarnings : &f->jerrors;
	unsigned *count = warning ? &f->warnings : &f->errors;

	if (f->json) {
		hl_buf_puts(items, *count ? "," : "");
		hl_buf_json(items, message);
	} else if (warning) {
		fprintf(stderr, "%s: warning: %s\n", f->config, message);
	} else {
		fprintf(stderr, "%s\n", message);
	}
	(*count)++;
}

static void found_error(void *data, int priority, const char *message)
{
	if (priority <= LOG_WARNING)
		found(data, priority > LOG_ERR, message);
}

static void found_warning(void *data, const char *message)
{
	found(data, true, message);
}

static void found_file_error(void *data, const char *why)
{
	struct findings *f = data;
	char line[sizeof(((struct diagnostics *)NULL)->cause) + PATH_MAX];

	snprintf(line, sizeof(line), "%s: %s", f->config, why);
	found(f, false, line);
}

/* With a shared backend the store is helpdesk-licensed's: it is asked,
 * as a login would ask it, instead of the files being looked at. */
static void preflight_backend(const struct hl_config *cfg, struct findings *f)
{
	char answer[sizeof(f->backend)];

	if (hl_remote_ping(cfg->backend.socket, cfg->lock_timeout, NULL,
			   answer, sizeof(answer)) == HL_STORE_OK)
		snprintf(f->backend, sizeof(f->backend), "%s", answer);
	else
		found_file_error(f, answer);
}

/* Reads and checks the file at path as check-config does: the problems go
 * to f (set up here; the caller frees its buffers), *cfg is the file's
 * configuration when it could be read.  Whether it is valid. */
static bool check_file(struct tool *tool, const char *path, bool strict,
		       struct findings *f, struct hl_config **cfg)
{
	*f = (struct findings){ .config = path, .json = tool->opt.json };
	*cfg = NULL;
	hl_buf_init(&f->jerrors);
	hl_buf_init(&f->jwarnings);
	tool->log.emit = found_error;
	tool->log.data = f;
	if (hl_config_load(path, &tool->log, cfg, NULL) == 0) {
		if ((*cfg)->backend.enabled)
			preflight_backend(*cfg, f);
		else
			preflight_files(*cfg, found_file_error, f);
		/* Unknown names only warn: the directory may be down now. */
		hl_preflight_names(*cfg, found_warning, f);
	} else if (f->errors == 0) {
		found(f, false, "the configuration is not usable");
	}
	return f->errors == 0 && !(strict && f->warnings > 0);
}

static void findings_free(struct findings *f)
{
	hl_buf_free(&f->jerrors);
	hl_buf_free(&f->jwarnings);
}

/* {"valid":..,"errors":[..],"warnings":[..] without its closing brace. */
static void json_findings(struct hl_buf *out, const struct findings *f,
			  bool valid)
{
	hl_buf_printf(out, "{\"valid\":%s,\"errors\":[",
		      valid ? "true" : "false");
	hl_buf_append(out, f->jerrors.data ? f->jerrors.data : "",
		      f->jerrors.len);
	hl_buf_puts(out, "],\"warnings\":[");
	hl_buf_append(out, f->jwarnings.data ? f->jwarnings.data : "",
		      f->jwarnings.len);
	hl_buf_puts(out, "]");
}

/* The one line on a valid file. */
static void print_valid(const char *path, const struct hl_config *cfg,
			const struct findings *f)
{
	unsigned concurrent = 0;
	char store[PATH_MAX + sizeof(f->backend) + 64];

	for (size_t i = 0; i < cfg->pool_count; i++)
		concurrent += cfg->pools[i].licenses;
	if (cfg->backend.enabled) {
		/* PING's answer: HOST BOOT_ID SCHEMA_VERSION */
		char host[72], boot[40], schema[16];

		if (sscanf(f->backend, "%71s %39s %15s", host, boot,
			   schema) == 3)
			snprintf(store, sizeof(store), "the shared database "
				 "through %s (helpdesk-licensed of host %s, "
				 "boot %s, schema version %s)",
				 cfg->backend.socket, host, boot, schema);
		else
			snprintf(store, sizeof(store), "the shared database "
				 "through %s (helpdesk-licensed answers: %s)",
				 cfg->backend.socket, f->backend);
	} else
		snprintf(store, sizeof(store), "%s", cfg->store);
	printf("%s: valid: %u Named license%s, %zu pool%s with %u "
	       "concurrent license%s; store %s%s\n", path,
	       cfg->named.licenses, cfg->named.licenses == 1 ? "" : "s",
	       cfg->pool_count, cfg->pool_count == 1 ? "" : "s",
	       concurrent, concurrent == 1 ? "" : "s", store,
	       f->warnings ? " (with warnings, see above)" : "");
}

static int cmd_check_config(struct tool *tool, bool strict)
{
	struct findings f;
	struct hl_config *cfg;
	bool valid = check_file(tool, tool->opt.config, strict, &f, &cfg);
	int rc;

	if (f.json) {
		struct hl_buf out;

		hl_buf_init(&out);
		json_findings(&out, &f, valid);
		hl_buf_puts(&out, "}\n");
		rc = print_buf(&out);
	} else if (valid) {
		print_valid(tool->opt.config, cfg, &f);
		rc = 0;
	} else {
		if (f.errors == 0)
			fprintf(stderr, "%s: not valid with --strict: %u "
				"warning%s\n", tool->opt.config, f.warnings,
				f.warnings == 1 ? "" : "s");
		rc = EXIT_NO;
	}
	findings_free(&f);
	hl_config_free(cfg);
	return rc != 0 || !valid ? EXIT_NO : 0;
}

/* ---- check-config --diff ------------------------------------------------------ */

/* What a new configuration would change on the store as it is. */
struct config_diff {
	const struct hl_config *now, *next;
	struct hl_buf text, json;
	bool lost_named, lost_slot, over;	/* any of each, so far */
	unsigned losses;			/* lost or over-allocated */
};

/* A concurrent holding that counts: a slot still held (not released) with
 * a session whose process runs. */
static bool live_slot(const struct hl_listed *item)
{
	if (item->holding.kind != HL_KIND_CONCURRENT || item->released)
		return false;
	for (size_t s = 0; s < item->holding.session_count; s++)
		if (!item->stale[s])
			return true;
	return false;
}

/* Opens the array head with the first item (*any false), else a comma. */
static void diff_item(struct hl_buf *buf, bool *any, const char *head)
{
	hl_buf_puts(buf, *any ? "," : head);
	*any = true;
}

/* Named allocations the new file no longer allows. */
static void diff_named(struct config_diff *d, const struct hl_listing *l)
{
	const char *why = d->next->named.licenses == 0
				  ? "no Named licenses" : "no longer named-eligible";

	for (size_t i = 0; i < l->count; i++) {
		const struct hl_listed *item = &l->items[i];

		if (item->holding.kind != HL_KIND_NAMED || item->eligible)
			continue;
		diff_item(&d->json, &d->lost_named, ",\"lose_named\":[");
		hl_buf_puts(&d->json, "{\"user\":");
		hl_buf_json(&d->json, item->user);
		hl_buf_puts(&d->json, ",\"reason\":");
		hl_buf_json(&d->json, why);
		hl_buf_puts(&d->json, "}");
		hl_buf_puts(&d->text, "would lose a Named allocation: ");
		hl_buf_printable(&d->text, item->user);
		hl_buf_printf(&d->text, " (%s)\n", why);
		d->losses++;
	}
	if (!d->lost_named)
		hl_buf_puts(&d->json, ",\"lose_named\":[");
	hl_buf_puts(&d->json, "]");
}

/* Slots whose pool is gone, or whose holder left the pool.  -1 when NSS
 * could not say (logged). */
static int diff_slots(struct config_diff *d, const struct hl_env *env,
		      const struct hl_listing *l)
{
	for (size_t i = 0; i < l->count; i++) {
		const struct hl_listed *item = &l->items[i];
		const struct hl_pool *pool;
		const char *why;
		int in;

		if (!live_slot(item))
			continue;
		pool = hl_config_pool(d->next, item->holding.pool);
		in = pool ? hl_user_in_pool(env, pool, item->user) : 0;
		if (in < 0)
			return -1;
		if (in > 0)
			continue;
		why = pool ? "no longer a member of the pool" : "pool removed";
		diff_item(&d->json, &d->lost_slot, ",\"lose_slot\":[");
		hl_buf_puts(&d->json, "{\"user\":");
		hl_buf_json(&d->json, item->user);
		hl_buf_puts(&d->json, ",\"pool\":");
		hl_buf_json(&d->json, item->holding.pool);
		hl_buf_printf(&d->json, ",\"slot\":%u,\"reason\":",
			      item->holding.slot);
		hl_buf_json(&d->json, why);
		hl_buf_puts(&d->json, "}");
		hl_buf_puts(&d->text, "would lose a slot: ");
		hl_buf_printable(&d->text, item->user);
		hl_buf_puts(&d->text, " (pool ");
		hl_buf_printable(&d->text, item->holding.pool);
		hl_buf_printf(&d->text, ", slot %u: %s)\n", item->holding.slot,
			      why);
		d->losses++;
	}
	if (!d->lost_slot)
		hl_buf_puts(&d->json, ",\"lose_slot\":[");
	hl_buf_puts(&d->json, "]");
	return 0;
}

/* Oldest first: the newest holders are the ones over the count. */
static int by_since(const void *a, const void *b)
{
	const struct hl_listed *x = *(const struct hl_listed *const *)a;
	const struct hl_listed *y = *(const struct hl_listed *const *)b;

	if (x->holding.since != y->holding.since)
		return x->holding.since < y->holding.since ? -1 : 1;
	return strcmp(x->user, y->user);
}

/* One pool (NULL: the Named licenses) with more holders than licenses:
 * holders (count, scratch space) are put oldest first. */
static void diff_over(struct config_diff *d, const char *pool,
		      unsigned licenses, const struct hl_listed **holders,
		      size_t count)
{
	if (count <= licenses)
		return;
	qsort(holders, count, sizeof(*holders), by_since);
	diff_item(&d->json, &d->over, ",\"over_allocated\":[");
	hl_buf_puts(&d->json, "{\"pool\":");
	if (pool)
		hl_buf_json(&d->json, pool);
	else
		hl_buf_puts(&d->json, "null");
	hl_buf_printf(&d->json, ",\"licenses\":%u,\"held\":%zu,"
		      "\"over_by\":%zu,\"holders\":[", licenses, count,
		      count - licenses);
	if (pool) {
		hl_buf_puts(&d->text, "over-allocated: pool ");
		hl_buf_printable(&d->text, pool);
	} else {
		hl_buf_puts(&d->text, "over-allocated: Named licenses");
	}
	hl_buf_printf(&d->text, ": %zu held, %u license%s, over by %zu:",
		      count, licenses, licenses == 1 ? "" : "s",
		      count - licenses);
	for (size_t i = 0; i < count; i++) {
		hl_buf_puts(&d->json, i ? ",{\"user\":" : "{\"user\":");
		hl_buf_json(&d->json, holders[i]->user);
		hl_buf_printf(&d->json, ",\"over\":%s}",
			      i >= licenses ? "true" : "false");
		hl_buf_puts(&d->text, i ? ", " : " ");
		hl_buf_printable(&d->text, holders[i]->user);
		if (i >= licenses)
			hl_buf_puts(&d->text, " (over)");
	}
	hl_buf_puts(&d->json, "]}");
	hl_buf_puts(&d->text, "\n");
	d->losses++;
}

/* Each pool of the new file, and the Named licenses, against what is
 * held.  false on no memory. */
static bool diff_counts(struct config_diff *d, const struct hl_listing *l)
{
	const struct hl_listed **holders;
	size_t count = 0;

	holders = calloc(l->count ? l->count : 1, sizeof(*holders));
	if (holders == NULL)
		return false;
	for (size_t p = 0; p < d->next->pool_count; p++) {
		const struct hl_pool *pool = &d->next->pools[p];

		count = 0;
		for (size_t i = 0; i < l->count; i++)
			if (live_slot(&l->items[i]) &&
			    strcmp(l->items[i].holding.pool, pool->name) == 0)
				holders[count++] = &l->items[i];
		diff_over(d, pool->name, pool->licenses, holders, count);
	}
	count = 0;
	for (size_t i = 0; i < l->count; i++)
		if (l->items[i].holding.kind == HL_KIND_NAMED &&
		    l->items[i].eligible)
			holders[count++] = &l->items[i];
	diff_over(d, NULL, d->next->named.licenses, holders, count);
	if (!d->over)
		hl_buf_puts(&d->json, ",\"over_allocated\":[");
	hl_buf_puts(&d->json, "]");
	free(holders);
	return true;
}

/* Pools added and removed, and changed license counts, as a summary. */
static void diff_summary(struct config_diff *d)
{
	const struct hl_config *now = d->now, *next = d->next;
	struct hl_buf added, removed, changed;
	bool first = true;

	hl_buf_init(&added);
	hl_buf_init(&removed);
	hl_buf_init(&changed);
	hl_buf_puts(&d->json, ",\"pools_added\":[");
	for (size_t i = 0; i < next->pool_count; i++) {
		if (hl_config_pool(now, next->pools[i].name) != NULL)
			continue;
		hl_buf_puts(&d->json, first ? "" : ",");
		hl_buf_json(&d->json, next->pools[i].name);
		hl_buf_printf(&added, " %s (%u)", next->pools[i].name,
			      next->pools[i].licenses);
		first = false;
	}
	hl_buf_puts(&d->json, "],\"pools_removed\":[");
	first = true;
	for (size_t i = 0; i < now->pool_count; i++) {
		if (hl_config_pool(next, now->pools[i].name) != NULL)
			continue;
		hl_buf_puts(&d->json, first ? "" : ",");
		hl_buf_json(&d->json, now->pools[i].name);
		hl_buf_printf(&removed, " %s", now->pools[i].name);
		first = false;
	}
	hl_buf_puts(&d->json, "],\"licenses_changed\":[");
	first = true;
	if (now->named.licenses != next->named.licenses) {
		hl_buf_printf(&d->json, "{\"pool\":null,\"from\":%u,"
			      "\"to\":%u}", now->named.licenses,
			      next->named.licenses);
		hl_buf_printf(&changed, " Named %u -> %u", now->named.licenses,
			      next->named.licenses);
		first = false;
	}
	for (size_t i = 0; i < next->pool_count; i++) {
		const struct hl_pool *was = hl_config_pool(now, next->pools[i].name);

		if (was == NULL || was->licenses == next->pools[i].licenses)
			continue;
		hl_buf_puts(&d->json, first ? "{\"pool\":" : ",{\"pool\":");
		hl_buf_json(&d->json, next->pools[i].name);
		hl_buf_printf(&d->json, ",\"from\":%u,\"to\":%u}",
			      was->licenses, next->pools[i].licenses);
		hl_buf_printf(&changed, " %s %u -> %u", next->pools[i].name,
			      was->licenses, next->pools[i].licenses);
		first = false;
	}
	hl_buf_puts(&d->json, "]");
	/* Pool names are [A-Za-z0-9._-] (conf.c): printable as they are. */
	if (added.len)
		hl_buf_printf(&d->text, "pools added:%s\n", added.data);
	if (removed.len)
		hl_buf_printf(&d->text, "pools removed:%s\n", removed.data);
	if (changed.len)
		hl_buf_printf(&d->text, "licenses changed:%s\n", changed.data);
	if (!added.len && !removed.len && !changed.len)
		hl_buf_puts(&d->text, "no pools added or removed, no license "
			    "count changed\n");
	hl_buf_free(&added);
	hl_buf_free(&removed);
	hl_buf_free(&changed);
}

/*
 * check-config --diff FILE: FILE is checked as check-config checks it;
 * when valid, the store it names is listed (a dry run, the shared lock,
 * as list) and compared with FILE, and FILE with the current
 * configuration (-c) for the summary.  0: nothing would be lost or
 * over-allocated; 1: something would; 2: FILE not valid, or the current
 * configuration or the store not usable.
 */
/* A configuration check-config --diff refuses to compare: why. */
static void print_invalid(const char *file, const struct findings *f)
{
	if (f->json) {
		struct hl_buf out;

		hl_buf_init(&out);
		json_findings(&out, f, false);
		hl_buf_puts(&out, ",\"diff\":null}\n");
		print_buf(&out);
	} else if (f->errors == 0) {
		fprintf(stderr, "%s: not valid with --strict: %u "
			"warning%s\n", file, f->warnings,
			f->warnings == 1 ? "" : "s");
	}
}

/* The findings and the diff: the exit status (EXIT_NO when the new
 * configuration would lose or over-allocate something). */
static int print_diff(const char *file, const struct findings *f,
		      const struct config_diff *d)
{
	struct hl_buf out;

	hl_buf_init(&out);
	if (f->json) {
		json_findings(&out, f, true);
		/* d->json begins with a comma, after "safe". */
		hl_buf_printf(&out, ",\"diff\":{\"safe\":%s",
			      d->losses ? "false" : "true");
		hl_buf_append(&out, d->json.data ? d->json.data : "",
			      d->json.len);
		hl_buf_puts(&out, "}}\n");
	} else {
		print_valid(file, d->next, f);
		hl_buf_append(&out, d->text.data ? d->text.data : "",
			      d->text.len);
		if (d->losses == 0)
			hl_buf_puts(&out, "nothing would be lost or "
				    "over-allocated\n");
	}
	return print_buf(&out) != 0 ? EXIT_USAGE : d->losses ? EXIT_NO : 0;
}

static int cmd_check_config_diff(struct tool *tool, const char *file)
{
	struct findings f;
	struct hl_config *next, *now = NULL;
	struct config_diff d;
	struct hl_listing listing;
	struct hl_decision decision;
	struct hl_request req;
	bool valid = check_file(tool, file, tool->opt.strict, &f, &next);
	int rc = EXIT_USAGE;

	tool->cfg = next;	/* freed by main */
	if (!valid) {
		print_invalid(file, &f);
		findings_free(&f);
		return EXIT_USAGE;
	}
	tool->log.emit = emit;
	tool->log.data = &tool->diag;
	if (hl_config_load(tool->opt.config, &tool->log, &now, NULL) != 0) {
		fail("%s: the current configuration is not usable (see "
		     "above)", tool->opt.config);
		findings_free(&f);
		return EXIT_USAGE;
	}
	tool->diag.keep_cause = true;
	if (hl_env_init(&tool->env, next, &tool->log) != 0) {
		fail("%s", tool->diag.cause);
		goto out;
	}
	tool->env.leave_damage = true;
	req = tool_request(tool, NULL);
	hl_admin_list(&tool->env, &req, &listing, &decision);
	if (decision.verdict != HL_GRANTED) {
		report_failure(tool, "check-config --diff", NULL, &decision);
		goto out;
	}
	memset(&d, 0, sizeof(d));
	d.now = now;
	d.next = next;
	hl_buf_init(&d.text);
	hl_buf_init(&d.json);
	diff_named(&d, &listing);
	if (diff_slots(&d, &tool->env, &listing) != 0) {
		fail("check-config --diff: %s", tool->diag.cause);
	} else if (!diff_counts(&d, &listing)) {
		fail("out of memory");
	} else {
		diff_summary(&d);
		rc = print_diff(file, &f, &d);
	}
	hl_buf_free(&d.text);
	hl_buf_free(&d.json);
	hl_listing_free(&listing);
out:
	findings_free(&f);
	hl_config_free(now);
	return rc;
}

/* What repair did to one file, as text. */
static void print_repair(const char *path,
			 const struct hl_store_repair_report *report)
{
	if (report->missing) {
		printf("%s: no store yet: nothing to repair.\n", path);
	} else if (!report->damaged) {
		printf("%s: sound, %lu key%s%s.\n", path, report->keys,
		       report->keys == 1 ? "" : "s",
		       report->journal_replayed
				? " (an interrupted commit was completed)" : "");
	} else {
		printf("%s: was damaged and has been rebuilt%s.\n"
		       "  kept: %lu key%s; lost: %lu unreadable record%s",
		       path, report->salvaged ? " by salvaging its records" : "",
		       report->keys, report->keys == 1 ? "" : "s",
		       report->keys_lost, report->keys_lost == 1 ? "" : "s");
		/* What an unreadable bucket or the unreadable part of a
		 * salvaged file held is not known: say so, not "0". */
		if (report->buckets_lost)
			printf(", and an unknown number of records with %lu "
			       "unreadable hash bucket%s", report->buckets_lost,
			       report->buckets_lost == 1 ? "" : "s");
		else if (report->salvaged)
			printf(", and an unknown number of records in the "
			       "unreadable part of the file");
		printf(".\n  the damaged file is kept as %s\n", report->backup);
	}
}

static void json_repair(struct hl_buf *buf, const char *path,
			const struct hl_store_repair_report *report)
{
	hl_buf_printf(buf, "\"store\":");
	hl_buf_json(buf, path);
	hl_buf_printf(buf, ",\"missing\":%s,\"damaged\":%s,"
		      "\"salvaged\":%s,\"journal_replayed\":%s,"
		      "\"keys\":%lu,\"keys_lost\":%lu,"
		      "\"buckets_lost\":%lu,\"backup\":",
		      report->missing ? "true" : "false",
		      report->damaged ? "true" : "false",
		      report->salvaged ? "true" : "false",
		      report->journal_replayed ? "true" : "false",
		      report->keys, report->keys_lost, report->buckets_lost);
	hl_buf_json(buf, report->backup);
}

/* Both files: the durable store (reported first, as "store") and the
 * runtime store (as "runtime"); the allocations reconciled once after
 * either was rebuilt. */
static int cmd_repair(struct tool *tool)
{
	const char *paths[2] = { tool->cfg->store, tool->cfg->runtime_store };
	struct hl_store_repair_report report[2];
	struct hl_reconciled reconciled;
	bool damaged = false;
	int rc;

	if (tool->cfg->backend.enabled) {
		/* No file of ours to check: the database is PostgreSQL's. */
		if (tool->opt.json)
			printf("{\"backend\":\"postgresql\",\"store\":null,"
			       "\"runtime\":null,\"reconciled\":null}\n");
		else
			printf("The license store is the shared database "
			       "(backend): PostgreSQL keeps it sound; nothing "
			       "to repair here.\n");
		return 0;
	}
	memset(report, 0, sizeof(report));
	memset(&reconciled, 0, sizeof(reconciled));
	for (int i = 0; i < 2; i++) {
		rc = hl_store_repair(paths[i], tool->cfg->lock_timeout,
				     &tool->log, &report[i]);
		if (rc != HL_STORE_OK) {
			fail("repair: %s%s", tool->diag.cause[0]
						     ? tool->diag.cause
						     : hl_store_strerror(rc),
			     rc == HL_STORE_DENIED && geteuid() != 0
				     ? ": run it as root" : "");
			return EXIT_NO;
		}
		damaged = damaged || report[i].damaged;
	}
	if (damaged) {
		/* A rebuild may bring back an old record or leave one out:
		 * make the allocations agree again. */
		struct hl_request req = tool_request(tool, PROGRAM);
		struct hl_decision d;

		hl_admin_reconcile(&tool->env, &req, &reconciled, &d);
		if (d.verdict != HL_GRANTED) {
			report_failure(tool, "repair (the store was rebuilt, "
				       "its records are not reconciled: run "
				       "'" PROGRAM " reap')", NULL, &d);
			return EXIT_NO;
		}
	}
	if (tool->opt.json) {
		struct hl_buf buf;

		hl_buf_init(&buf);
		hl_buf_puts(&buf, "{");
		json_repair(&buf, paths[0], &report[0]);
		hl_buf_puts(&buf, ",\"runtime\":{");
		json_repair(&buf, paths[1], &report[1]);
		hl_buf_puts(&buf, "},\"reconciled\":");
		if (damaged)
			json_reconciled(&buf, &reconciled);
		else
			hl_buf_puts(&buf, "null");
		hl_buf_puts(&buf, "}\n");
		return print_buf(&buf);
	}
	for (int i = 0; i < 2; i++)
		print_repair(paths[i], &report[i]);
	if (!damaged)
		return 0;
	if (reconciled_total(&reconciled) == 0) {
		printf("  the allocation records agree.\n");
	} else {
		struct hl_buf buf;

		hl_buf_init(&buf);
		hl_buf_puts(&buf, "  ");
		text_reconciled(&buf, &reconciled);
		return print_buf(&buf);
	}
	return 0;
}

/* ---- main ------------------------------------------------------------------------- */

/* check-config; with --diff, what FILE would change on the store. */
static int cmd_check_config_verb(struct tool *tool, const char *file)
{
	return file ? cmd_check_config_diff(tool, file)
		    : cmd_check_config(tool, tool->opt.strict);
}

/* What a verb takes besides -c and --json. */
enum {
	VERB_POOL = 1 << 0,		/* --pool, --terminate */
	VERB_FORCE = 1 << 1,		/* --force */
	VERB_CONFIG_ONLY = 1 << 2,	/* --strict, --diff; needs no store
					 * nor process identity */
	VERB_OUTPUT = 1 << 3,		/* --output */
	VERB_PROMETHEUS = 1 << 4,	/* prints Prometheus text: no --json */
};

/*
 * The verbs, in the order of the help.  One handler each: run (no
 * argument), run_arg (USER, or check-config's --diff FILE), or own_main for
 * a verb that reads the whole command line itself (its options are its
 * own).  help is the text beside the verb in the help; a newline continues
 * it on the next line.
 */
struct verb {
	const char *name;
	int args;		/* 0 or 1 (USER) */
	int (*run)(struct tool *tool);
	int (*run_arg)(struct tool *tool, const char *arg);
	int (*own_main)(int argc, char **argv, const char *default_config);
	unsigned options;	/* VERB_* */
	const char *help;
};

static const struct verb verbs[] = {
	{ .name = "list", .run = cmd_list,
	  .help = "who holds what: concurrent slots and Named allocations,\n"
		  "with their sessions" },
	{ .name = "status", .run = cmd_status,
	  .help = "per pool: licenses, in use, free, waiting; Named\n"
		  "licenses; who waits in line; warnings" },
	{ .name = "check", .args = 1, .run_arg = cmd_check,
	  .help = "what a login by USER would get now, and why" },
	{ .name = "release", .args = 1, .run_arg = cmd_release,
	  .options = VERB_POOL,
	  .help = "free USER's concurrent slot now [--pool P]\n"
		  "[--terminate: and end its sessions]" },
	{ .name = "reap", .run = cmd_reap,
	  .help = "drop stale sessions and ended waits; print them" },
	{ .name = "assign", .args = 1, .run_arg = cmd_assign,
	  .help = "allocate a Named license to USER now" },
	{ .name = "unassign", .args = 1, .run_arg = cmd_unassign,
	  .options = VERB_FORCE,
	  .help = "free USER's Named license [--force inside min_assignment]" },
	{ .name = "check-config", .run_arg = cmd_check_config_verb,
	  .options = VERB_CONFIG_ONLY,
	  .help = "validate the configuration, and check that the module\n"
		  "can open its files and that its users and groups exist\n"
		  "[--diff FILE: what FILE would change on the store]" },
	{ .name = "repair", .run = cmd_repair,
	  .help = "check the store, rebuild it if damaged" },
	{ .name = "report", .own_main = hl_report_main,
	  .help = "usage over a period and the license planner\n"
		  "(report --help for its options)" },
	{ .name = "metrics", .run = cmd_metrics,
	  .options = VERB_OUTPUT | VERB_PROMETHEUS,
	  .help = "Prometheus metrics of the licenses [--output FILE]" },
	{ .name = "events", .own_main = hl_events_main,
	  .help = "the event log, one line per event [--follow]\n"
		  "(events --help for its options)" },
};

#define N_VERBS (sizeof(verbs) / sizeof(verbs[0]))

static void usage(FILE *out)
{
	fputs("usage: " PROGRAM " [-c FILE] [--json] COMMAND [ARGS]\n\n", out);
	for (size_t i = 0; i < N_VERBS; i++) {
		const char *help = verbs[i].help, *nl;
		char synopsis[32];

		snprintf(synopsis, sizeof(synopsis), "%s%s", verbs[i].name,
			 verbs[i].args ? " USER" : "");
		fprintf(out, "  %-18s ", synopsis);
		while ((nl = strchr(help, '\n')) != NULL) {
			fprintf(out, "%.*s\n%21s", (int)(nl - help), help, "");
			help = nl + 1;
		}
		fprintf(out, "%s\n", help);
	}
	fputs(
"\n"
"  -c, --config FILE  configuration (default " HL_CONFIG_FILE ")\n"
"  -j, --json         one JSON document on stdout, for scripts\n"
"  -p, --pool P       with release: only if the slot is of pool P\n"
"      --terminate    with release: end the released sessions too\n"
"  -f, --force        with unassign: even inside min_assignment\n"
"      --strict       with check-config: warnings fail it too (exit 1)\n"
"      --diff FILE    with check-config: validate FILE, the new configuration,\n"
"                     and say who would lose a license under it and which\n"
"                     pools would be over-allocated (exit 1 if any; 2 if FILE\n"
"                     is not valid)\n"
"  -o, --output FILE  with metrics: replace FILE (for a textfile collector)\n"
"  -h, --help         this help\n"
"  -V, --version      the version\n"
"\n"
"Exit status: 0 done (check: would be granted, or not concerned),\n"
"1 refused or failed, 2 usage error.\n", out);
}

/* An unknown option, or one without its value: one line, not the help. */
static int bad_option(int c, const char *word)
{
	if (c == ':')
		fail("option '%s' needs a value (see --help)", word);
	else if (optopt != 0)
		fail("unknown option '-%c' (see --help)", optopt);
	else
		fail("unknown option '%s' (see --help)", word);
	return EXIT_USAGE;
}

/* A verb with options of its own was dispatched before the options were
 * read, or its command line is one this parser does not read: not here. */
static const struct verb *verb_named(const char *name)
{
	const struct verb *cmd = NULL;

	for (size_t i = 0; i < N_VERBS; i++)
		if (!verbs[i].own_main && strcmp(name, verbs[i].name) == 0)
			cmd = &verbs[i];
	return cmd;
}

/* Whether cmd takes these options and nargs arguments; says why not. */
static bool verb_takes(const struct verb *cmd, const struct options *opt,
		       int nargs)
{
	if (opt->diff && !(cmd->options & VERB_CONFIG_ONLY)) {
		fail("--diff goes with check-config");
		return false;
	}
	if (opt->diff && nargs != 1) {
		fail("check-config --diff takes one FILE, the new "
		     "configuration");
		return false;
	}
	if (!opt->diff && nargs != cmd->args) {
		fail("%s takes %s", cmd->name, cmd->args ? "one USER" :
		     "no argument");
		return false;
	}
	if (((opt->pool || opt->terminate) && !(cmd->options & VERB_POOL)) ||
	    (opt->force && !(cmd->options & VERB_FORCE)) ||
	    (opt->strict && !(cmd->options & VERB_CONFIG_ONLY)) ||
	    (opt->output && !(cmd->options & VERB_OUTPUT))) {
		fail("--pool and --terminate go with release, --force with "
		     "unassign, "
		     "--strict with check-config, --output with metrics");
		return false;
	}
	if (opt->json && (cmd->options & VERB_PROMETHEUS)) {
		fail("%s prints the Prometheus text format, not JSON",
		     cmd->name);
		return false;
	}
	return true;
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "json", no_argument, NULL, 'j' },
		{ "pool", required_argument, NULL, 'p' },
		{ "force", no_argument, NULL, 'f' },
		{ "strict", no_argument, NULL, 's' },
		{ "terminate", no_argument, NULL, 'T' },
		{ "diff", no_argument, NULL, 'D' },
		{ "output", required_argument, NULL, 'o' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	struct tool tool;
	const struct verb *cmd = NULL;
	const char *user = NULL;
	int c, rc;

	/* report and events have options of their own: they read the
	 * command line themselves. */
	for (size_t i = 0; i < N_VERBS; i++)
		if (verbs[i].own_main &&
		    hl_subcommand_wanted(argc, argv, verbs[i].name))
			return verbs[i].own_main(argc, argv, HL_CONFIG_FILE);
	memset(&tool, 0, sizeof(tool));
	tool.opt.config = HL_CONFIG_FILE;
	/* Options may stand before or after the command (GNU getopt
	 * permutes). */
	opterr = 0;	/* one line of ours instead of getopt's and the help */
	while ((c = getopt_long(argc, argv, ":c:jp:fo:hV", longopts, NULL)) != -1) {
		switch (c) {
		case 'c': tool.opt.config = optarg; break;
		case 'j': tool.opt.json = true; break;
		case 'p': tool.opt.pool = optarg; break;
		case 'f': tool.opt.force = true; break;
		case 's': tool.opt.strict = true; break;
		case 'T': tool.opt.terminate = true; break;
		case 'D': tool.opt.diff = true; break;
		case 'o': tool.opt.output = optarg; break;
		case 'h': usage(stdout); return 0;
		case 'V': printf(PROGRAM " " PACKAGE_VERSION "\n"); return 0;
		default: return bad_option(c, argv[optind - 1]);
		}
	}
	if (optind >= argc) {
		fail("no command given");
		usage(stderr);
		return EXIT_USAGE;
	}
	cmd = verb_named(argv[optind]);
	if (cmd == NULL) {
		fail("unknown command '%s'", argv[optind]);
		usage(stderr);
		return EXIT_USAGE;
	}
	if (!verb_takes(cmd, &tool.opt, argc - optind - 1))
		return EXIT_USAGE;
	user = cmd->args || tool.opt.diff ? argv[optind + 1] : NULL;

	openlog(PROGRAM, LOG_PID, LOG_AUTHPRIV);
	if (!(cmd->options & VERB_CONFIG_ONLY)) {
		rc = tool_init(&tool);
		if (rc != 0)
			goto out;
	}
	rc = cmd->run ? cmd->run(&tool) : cmd->run_arg(&tool, user);
out:
	hl_config_free(tool.cfg);
	closelog();
	return rc;
}
