/* SPDX-License-Identifier: BSD-3-Clause */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "metrics.h"
#include "safefile.h"

#define PREFIX "helpdesk_license_"

void hl_metrics_label(struct hl_buf *buf, const char *value)
{
	for (const char *p = value; *p; p++) {
		if (*p == '\\')
			hl_buf_puts(buf, "\\\\");
		else if (*p == '"')
			hl_buf_puts(buf, "\\\"");
		else if (*p == '\n')
			hl_buf_puts(buf, "\\n");
		else
			hl_buf_append(buf, p, 1);
	}
}

static void family(struct hl_buf *buf, const char *name, const char *type,
		   const char *help)
{
	hl_buf_printf(buf, "# HELP " PREFIX "%s %s\n# TYPE " PREFIX "%s %s\n",
		      name, help, name, type);
}

/* name{label="value",...} number: labels and values alternate, NULL ends. */
static void sample(struct hl_buf *buf, const char *name, double value, ...)
{
	const char *label, *sep = "{";
	va_list ap;

	hl_buf_printf(buf, PREFIX "%s", name);
	va_start(ap, value);
	while ((label = va_arg(ap, const char *)) != NULL) {
		hl_buf_printf(buf, "%s%s=\"", sep, label);
		hl_metrics_label(buf, va_arg(ap, const char *));
		hl_buf_puts(buf, "\"");
		sep = ",";
	}
	va_end(ap);
	hl_buf_printf(buf, "%s %.15g\n", *sep == ',' ? "}" : "", value);
}

/* ---- the counters of the event log ------------------------------------------------ */

enum counter { COUNT_GRANTS, COUNT_REFUSALS, COUNT_WAITS, COUNT_RECLAIMS };

/* One series of a counter: its pool, and its kind or reason. */
struct series {
	enum counter counter;
	int pool;		/* index in the log's names, or HL_NONE */
	int label;		/* reason's index, HL_NONE; or the kind */
	unsigned long count;
};

struct counts {
	struct series *series;
	size_t count, cap;
	bool failed;
};

static void bump(struct counts *c, enum counter counter, int pool, int label)
{
	for (size_t i = 0; i < c->count; i++) {
		struct series *s = &c->series[i];

		if (s->counter == counter && s->pool == pool && s->label == label) {
			s->count++;
			return;
		}
	}
	if (c->count == c->cap) {
		size_t cap = c->cap ? c->cap * 2 : 32;
		struct series *grown = realloc(c->series, cap * sizeof(*grown));

		if (grown == NULL) {
			c->failed = true;
			return;
		}
		c->series = grown;
		c->cap = cap;
	}
	c->series[c->count++] = (struct series){ counter, pool, label, 1 };
}

/* One pass over the events. */
static void count_events(const struct hl_eventlog *log, struct counts *c)
{
	for (size_t i = 0; i < log->count; i++) {
		const struct hl_logevent *ev = &log->events[i];
		int pool = ev->kind == HL_LOGEV_NAMED ? HL_NONE : ev->pool;

		switch (ev->type) {
		case HL_LOGEV_GRANT:
			bump(c, COUNT_GRANTS, pool, ev->kind == HL_LOGEV_NAMED
				? HL_LOGEV_NAMED : HL_LOGEV_CONCURRENT);
			break;
		case HL_LOGEV_DENY:
			bump(c, COUNT_REFUSALS, pool, ev->reason);
			break;
		case HL_LOGEV_WAIT:
			bump(c, COUNT_WAITS, pool, HL_NONE);
			break;
		case HL_LOGEV_REAP:
			bump(c, COUNT_RECLAIMS, pool, ev->reason);
			break;
		default:
			break;
		}
	}
}

static const char *name_of(const struct hl_eventlog *log, int index)
{
	return index == HL_NONE ? "" : log->names.strings[index];
}

/* The series of one counter; a configured pool without any gets a 0, so
 * that rates start from the first scrape. */
static void print_counter(struct hl_buf *buf, const struct hl_metrics_input *in,
			  const struct counts *c, enum counter counter,
			  const char *name, const char *label)
{
	const struct hl_eventlog *log = in->log;

	for (size_t i = 0; i < c->count; i++) {
		const struct series *s = &c->series[i];
		const char *value;

		if (s->counter != counter)
			continue;
		if (counter == COUNT_GRANTS)
			value = s->label == HL_LOGEV_NAMED ? "named" : "concurrent";
		else
			value = name_of(log, s->label);
		if (label)
			sample(buf, name, (double)s->count, "pool",
			       name_of(log, s->pool), label, value, NULL);
		else
			sample(buf, name, (double)s->count, "pool",
			       name_of(log, s->pool), NULL);
	}
	if (counter != COUNT_GRANTS && counter != COUNT_WAITS)
		return;
	for (size_t p = 0; p < in->pool_count; p++) {
		int pool = hl_strtab_find(&log->names, in->pools[p].pool);
		bool seen = false;

		if (in->pools[p].licenses == 0)
			continue;
		for (size_t i = 0; pool >= 0 && i < c->count; i++)
			seen |= c->series[i].counter == counter &&
				c->series[i].pool == pool;
		if (seen)
			continue;
		if (label)
			sample(buf, name, 0, "pool", in->pools[p].pool, label,
			       "concurrent", NULL);
		else
			sample(buf, name, 0, "pool", in->pools[p].pool, NULL);
	}
}

/* ---- the exposition ----------------------------------------------------------------- */

enum gauge { G_LICENSES, G_IN_USE, G_FREE, G_STALE, G_IDLE, G_WAITING,
	     G_OLDEST_WAIT };

static const struct {
	const char *name, *help;
	bool with_named;	/* a kind label, and a Named series */
} gauges[] = {
	[G_LICENSES] = { "licenses", "Licenses of each pool, and Named "
			 "licenses (pool \"\").", true },
	[G_IN_USE] = { "in_use", "Licenses held now (Named: allocations in "
		       "force).", true },
	[G_FREE] = { "free", "Licenses free now.", true },
	[G_STALE] = { "stale", "Concurrent licenses held by technicians whose "
		      "sessions are all gone (reap frees them).", false },
	[G_IDLE] = { "idle", "Concurrent licenses whose holders have had no "
		     "input on their ttys for the pool's idle_timeout (the "
		     "next technician of a full pool takes one).", false },
	[G_WAITING] = { "waiting", "Technicians waiting in the pool's line "
			"now.", false },
	[G_OLDEST_WAIT] = { "oldest_wait_seconds", "How long the first "
			    "technician in the pool's line has waited (0: "
			    "nobody waits).", false },
};

static unsigned free_of(unsigned licenses, unsigned in_use)
{
	return licenses > in_use ? licenses - in_use : 0;
}

static double pool_value(const struct hl_pool_usage *u, enum gauge g,
			 time_t now)
{
	switch (g) {
	case G_LICENSES: return u->licenses;
	case G_IN_USE: return u->in_use;
	case G_FREE: return free_of(u->licenses, u->in_use);
	case G_STALE: return u->stale;
	case G_IDLE: return u->idle;
	case G_WAITING: return u->waiting;
	case G_OLDEST_WAIT:
		return u->oldest_wait && now > u->oldest_wait
			       ? (double)(now - u->oldest_wait) : 0;
	}
	return 0;
}

void hl_metrics_text(const struct hl_metrics_input *in, struct hl_buf *buf)
{
	struct counts c = { NULL, 0, 0, false };

	for (unsigned g = 0; g < sizeof(gauges) / sizeof(gauges[0]); g++) {
		const char *name = gauges[g].name;
		double named[] = { [G_LICENSES] = in->named_licenses,
				   [G_IN_USE] = in->named_in_use,
				   [G_FREE] = free_of(in->named_licenses,
						      in->named_in_use) };

		family(buf, name, "gauge", gauges[g].help);
		for (size_t p = 0; p < in->pool_count; p++) {
			double v = pool_value(&in->pools[p], (enum gauge)g,
					      in->now);

			if (gauges[g].with_named)
				sample(buf, name, v, "pool", in->pools[p].pool,
				       "kind", "concurrent", NULL);
			else
				sample(buf, name, v, "pool", in->pools[p].pool,
				       NULL);
		}
		if (gauges[g].with_named)
			sample(buf, name, named[g], "pool", "", "kind", "named",
			       NULL);
	}

	if (in->log) {
		count_events(in->log, &c);
		family(buf, "grants_total", "counter",
		       "Licenses granted, from the event log (pool \"\": Named).");
		print_counter(buf, in, &c, COUNT_GRANTS, "grants_total", "kind");
		family(buf, "refusals_total", "counter",
		       "Logins refused, by pool (\"\": Named or none) and "
		       "reason, from the event log.");
		print_counter(buf, in, &c, COUNT_REFUSALS, "refusals_total",
			      "reason");
		family(buf, "waits_total", "counter",
		       "Logins that waited in a pool's line, from the event log.");
		print_counter(buf, in, &c, COUNT_WAITS, "waits_total", NULL);
		family(buf, "reclaims_total", "counter",
		       "Sessions of gone processes reaped, by pool and reason, "
		       "from the event log.");
		print_counter(buf, in, &c, COUNT_RECLAIMS, "reclaims_total",
			      "reason");
		family(buf, "event_log_lines_skipped_total", "counter",
		       "Event log lines that are not events, by cause.");
		for (int k = 0; k < HL_SKIP_CAUSES; k++)
			sample(buf, "event_log_lines_skipped_total",
			       (double)in->log->skipped_by[k], "cause",
			       hl_skip_cause_name((enum hl_skip_cause)k), NULL);
		if (c.failed)
			buf->failed = true;
		free(c.series);
	}

	family(buf, "build_info", "gauge", "The version of helpdesk-license.");
	sample(buf, "build_info", 1, "version", PACKAGE_VERSION, NULL);
}

/* ---- the file ------------------------------------------------------------------------ */

int hl_metrics_write_file(const char *path, const char *text, char *why,
			  size_t len)
{
	char dir[PATH_MAX], base[NAME_MAX + 1], temp[PATH_MAX + NAME_MAX + 16];
	size_t size = strlen(text), done = 0;
	int fd, rc = -1;

	if (!hl_split_path(path, dir, sizeof(dir), base, sizeof(base))) {
		snprintf(why, len, "%s: not a file path", path);
		return -1;
	}
	/* Beside the target, so that rename is atomic; a name without
	 * ".prom" at its end, which the collector does not read. */
	snprintf(temp, sizeof(temp), "%s/.%s.XXXXXX", dir, base);
	fd = mkostemp(temp, O_CLOEXEC);
	if (fd < 0) {
		snprintf(why, len, "%s: %s", dir, strerror(errno));
		return -1;
	}
	/* The collector runs as its own user; the metrics name nobody. */
	if (fchmod(fd, 0644) != 0)
		goto failed;
	while (done < size) {
		ssize_t n = write(fd, text + done, size - done);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			goto failed;
		done += (size_t)n;
	}
	if (close(fd) != 0) {
		fd = -1;
		goto failed;
	}
	fd = -1;
	if (rename(temp, path) != 0)
		goto failed;
	return 0;
failed:
	snprintf(why, len, "%s: %s", path, strerror(errno));
	if (fd >= 0)
		close(fd);
	unlink(temp);
	return rc;
}
