/* SPDX-License-Identifier: BSD-3-Clause */
/* helpdesk-license metrics: the licenses in use and the event log's
 * counts in the Prometheus text exposition format. */
#ifndef HL_METRICS_H
#define HL_METRICS_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#include "eventread.h"
#include "text.h"

/* One pool now, as status shows it. */
struct hl_pool_usage {
	const char *pool;
	unsigned licenses;	/* 0: not in the configuration any more */
	unsigned wait;		/* seconds in line; 0: refused at once */
	unsigned in_use;
	unsigned stale;		/* holders whose sessions are all gone */
	unsigned idle_timeout;	/* seconds; 0: idle reclaim is off */
	unsigned idle;		/* holders idle past idle_timeout */
	unsigned waiting;	/* live technicians in its line, still
				   within their wait */
	time_t oldest_wait;	/* since when its first live waiter waits;
				   0: nobody waits */
	unsigned released;	/* technicians still logged in on a slot
				   an admin released (no license) */
};

struct hl_metrics_input {
	const struct hl_pool_usage *pools;
	size_t pool_count;
	unsigned named_licenses, named_in_use;
	const struct hl_eventlog *log;	/* NULL: the event log is off */
	time_t now;
};

/* The exposition of in, appended to buf.  No label names a technician. */
void hl_metrics_text(const struct hl_metrics_input *in, struct hl_buf *buf);

/* A label value escaped as the format wants: \\, \" and \n. */
void hl_metrics_label(struct hl_buf *buf, const char *value);

/*
 * Replaces path with text, as a textfile collector wants it: written to a
 * new file (O_EXCL, mode 0644) in path's directory, then renamed over
 * path, so a reader sees the old file or the new one, never half of
 * one.  0, or -1 with why filled in.
 */
int hl_metrics_write_file(const char *path, const char *text, char *why,
			  size_t len);

#endif
