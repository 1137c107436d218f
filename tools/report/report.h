/* SPDX-License-Identifier: BSD-3-Clause */
/* helpdesk-license report: usage of the licenses over a period, read
 * back from the event log, and the planner's "what if" on that usage. */
#ifndef HL_REPORT_H
#define HL_REPORT_H

#include <stdbool.h>
#include <stddef.h>

#include "conf.h"
#include "eventread.h"
#include "text.h"

/* The working hours, UTC: the days of the week in days (bit 0 Monday ...
 * bit 6 Sunday), from start to end minutes after midnight. */
struct hl_report_hours {
	unsigned days;
	unsigned start_min, end_min;
};

/* Monday to Friday, 08:00 to 18:00. */
#define HL_REPORT_HOURS_DEFAULT ((struct hl_report_hours){ 0x1f, 480, 1080 })
#define HL_REPORT_MIN_DAYS 7.0
#define HL_REPORT_MIN_LOGINS 20

/* "Mon-Fri,08:00-18:00" into *hours; false if it is not that form. */
bool hl_report_parse_hours(const char *text, struct hl_report_hours *hours);
/* The same form back, in out. */
void hl_report_hours_text(const struct hl_report_hours *hours, char *out,
			  size_t len);

/* A duration as people read it: "45s", "5m", "5m 30s", "2h 05m". */
void hl_report_duration(double seconds, char *out, size_t len);

struct hl_report_options {
	long long since_ms;		/* the period is [since, until) */
	long long until_ms;
	bool has_since;			/* else: the first event */
	bool has_until;			/* else: now_ms */
	long long now_ms;
	unsigned max_refusals;		/* the planner's target per pool */
	double workday_hours;		/* a working day, for the shares;
					 * 0: the working hours' length */
	struct hl_report_hours hours;	/* the working hours */
	double min_days;		/* less log than this: no advice */
	unsigned long min_logins;	/* fewer logins: no advice */
};

/* A change of the licenses in use in a pool, for the charts. */
struct hl_report_step {
	long long ms;
	unsigned in_use;
};

struct hl_report_pool {
	const char *name;
	unsigned licenses;		/* from the config; 0 if not in it */
	bool configured;
	unsigned peak;			/* most licenses in use at once */
	double full_share;		/* share of the period at full use */
	double hours;			/* license-hours held */
	double idle_hours;		/* of those, held after the holders'
					 * last input (reclaimable) */
	double utilisation;		/* hours / (licenses x period) */
	double work_utilisation;	/* the same over the working hours */
	unsigned long refusals;
	unsigned long waits;
	unsigned long idle_reclaims;	/* licenses taken from idle holders */
	double wait_median_s, wait_longest_s;
	unsigned technicians;		/* distinct holders in the period */
	unsigned fewest;		/* planner: fewest licenses for the target */
	unsigned long refusals_fewest;	/* replayed refusals with fewest */
	unsigned long refusals_today;	/* replayed refusals with licenses */
	unsigned mix;			/* licenses in the suggested mix */
	struct hl_report_step *steps;
	size_t step_count;
};

enum hl_report_advice { HL_ADVICE_NONE, HL_ADVICE_TO_NAMED, HL_ADVICE_TO_POOL };

struct hl_report_technician {
	const char *user;
	unsigned long sessions;		/* sessions opened in the period */
	double hours;			/* holding a concurrent license */
	double idle_hours;		/* of those, after the last input */
	unsigned long refusals;		/* refused logins */
	unsigned long waits;		/* logins that waited in line */
	double wait_longest_s;
	bool named;			/* held a Named allocation */
	double named_hours;		/* Named allocation in force */
	double named_used_hours;	/* logged in on the Named license */
	unsigned long named_sessions;
	double share;			/* hours (or named_used_hours for a
					 * Named technician) per working hour */
	enum hl_report_advice advice;
	int advice_pool;		/* HL_ADVICE_TO_POOL: index in pools */
};

struct hl_report_named {
	unsigned licenses;		/* from the config */
	unsigned peak;			/* most allocations in force at once */
	unsigned long allocations;	/* allocations made in the period */
	unsigned technicians;		/* technicians with one in the period */
	unsigned long refusals;		/* "all named licenses allocated" */
	unsigned refused_technicians;	/* refused, never held one */
	unsigned added;			/* planner: more Named for them */
	unsigned pool_for_refused;	/* planner: or a pool of this many */
	unsigned mix;			/* Named licenses in the suggested mix */
};

struct hl_report {
	long long since_ms, until_ms;
	bool empty;			/* no use at all in the period */
	unsigned long lines, skipped;	/* read, and of those not events */
	unsigned long skipped_by[HL_SKIP_CAUSES];	/* skipped, by cause */
	unsigned files;
	unsigned long unlicensed;	/* logins refused as unlicensed */
	struct hl_report_pool *pools;	/* config order, then others seen */
	size_t pool_count;
	struct hl_report_technician *technicians;	/* by name */
	size_t technician_count;
	struct hl_report_named named;
	unsigned max_refusals;
	double workday_hours;
	double working_days;		/* working-hours days in the period */
	struct hl_report_hours hours;
	double work_hours;		/* working hours in the period */
	double covered_days;		/* of the period, from the log's start */
	unsigned long logins;		/* granted or refused in the period */
	double min_days;
	unsigned long min_logins;
	bool too_little;		/* too little data: no advice */
	double threshold;		/* share above which Named costs less */
	bool prices_set;
	double price_named, price_concurrent;
	char currency[16];
	double cost_today, cost_mix;
	unsigned long *refusals_by_day;	/* UTC days from since's day, each
					 * pool_count + 1 counts: per pool,
					 * then Named */
	size_t day_count;
	long long first_day;		/* days since the epoch */
	char **suggestions;		/* one plain sentence each */
	size_t suggestion_count;
};

/* The report on log for the period of opt.  NULL on no memory, or when the
 * period is empty (until <= since): then why says so. */
struct hl_report *hl_report_build(const struct hl_config *cfg,
				  const struct hl_eventlog *log,
				  const struct hl_report_options *opt,
				  char *why, size_t len);
void hl_report_free(struct hl_report *report);

/* The three ways to print it, appended to buf. */
void hl_report_text(const struct hl_report *report, struct hl_buf *buf);
void hl_report_json(const struct hl_report *report, struct hl_buf *buf);
void hl_report_html(const struct hl_report *report, struct hl_buf *buf);

/* The subcommand: helpdesk-license [options] report [report options].
 * Returns the exit status. */
int hl_report_main(int argc, char **argv, const char *default_config);

/* The tool's one way to complain: "helpdesk-license: COMMAND: message"
 * on stderr ("helpdesk-license: message" with COMMAND NULL), and a logger
 * that prints warnings and errors there. */
void hl_command_fail(const char *command, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
void hl_emit_stderr(void *data, int priority, const char *message);

/* Whether name stands where the command does: for the commands that read
 * their own options (report, events). */
bool hl_subcommand_wanted(int argc, char **argv, const char *name);

#endif
