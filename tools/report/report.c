/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The report: the event log replayed in time order.
 *
 * A concurrent license (a slot) is held from the grant of its first
 * session until the last of its sessions ends (release, reap or
 * admin-release; a reap without a session frees the whole slot); joins
 * add sessions.  A Named allocation lasts from its grant or assign to its
 * unassign; its sessions join it.  Everything before the period is
 * replayed too, so what was held when it began counts from its start;
 * what is still held at its end counts up to the end.
 */
#include "config.h"

#include <limits.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "report.h"

#define DAY_MS (86400LL * 1000)
#define HOUR_MS (3600.0 * 1000)

/* One use of a pool's license, for the planner: asked for at arrival and
 * held from start until end.  A granted login arrives at its grant (one
 * that waited was not refused: replayed on today's licenses, it gets in
 * as it did); a refused one arrives when it asked (the start of its wait)
 * and the planner gives it the pool's median hold. */
struct demand {
	long long arrival, start, end;
	int technician;
	bool refused;
};

struct demands {
	struct demand *items;
	size_t count, cap;
};

struct waiting {
	int pool;
	long long since;
	int next;		/* the session's next wait, or -1 */
};

struct session_state {
	int technician;
	int pool;		/* -1: a Named session */
	unsigned generation;	/* of its holding when it began */
	bool open;
	bool refused;		/* a refusal of it is counted already */
	int waits;		/* first wait, or -1 */
};

struct holding_state {
	unsigned sessions;
	unsigned generation;	/* bumped when a slot is freed whole */
	long long start;
	long long busy_until;	/* the last input known on the sessions
				   ended so far (their end, less the idle
				   time of their ttys then) */
};

struct replay {
	const struct hl_eventlog *log;
	struct hl_report *report;
	long long since, until;
	bool failed;
	int *pool_of;		/* names index -> pool, or -1 */
	int *technician_of;	/* names index -> technician, or -1 */
	struct session_state *sessions;
	struct waiting *waiting;
	size_t waiting_count, waiting_cap;
	struct holding_state *holdings;	/* technician x pool */
	unsigned *in_use;		/* per pool */
	long long *changed;		/* per pool: time of the last change */
	double *full_ms, *used_ms;	/* per pool */
	double *work_used_ms;		/* per pool: in the working hours */
	size_t *step_cap;
	double **wait_s;		/* per pool: each wait, seconds */
	size_t *wait_count, *wait_cap;
	unsigned char *held_in;		/* technician x pool: held in period */
	struct demands *demands;	/* per pool */
	struct demands named_use;	/* sessions on Named licenses */
	struct demands named_refused;	/* logins refused a Named license */
	bool *allocated;		/* per technician: Named in force */
	long long *allocated_since;
	unsigned *named_open;		/* per technician: Named sessions */
	long long *named_open_since;
	unsigned named_in_force;
	bool period_open;
};

/* The part of [from, to) inside the period, in milliseconds. */
static long long clipped(const struct replay *r, long long from, long long to)
{
	if (from < r->since)
		from = r->since;
	if (to > r->until)
		to = r->until;
	return to > from ? to - from : 0;
}

static bool in_period(const struct replay *r, long long ms)
{
	return ms >= r->since && ms < r->until;
}

/* Monday 0 ... Sunday 6 of a day counted from the epoch (a Thursday). */
static unsigned weekday(long long day)
{
	return (unsigned)(((day % 7) + 7 + 3) % 7);
}

static long long day_of(long long ms)
{
	return ms / DAY_MS - (ms % DAY_MS < 0);
}

/* The working hours inside [from, to), in milliseconds. */
static long long work_ms(const struct hl_report_hours *hours, long long from,
			 long long to)
{
	long long total = 0;

	for (long long day = day_of(from); to > from && day * DAY_MS < to;
	     day++) {
		long long open = day * DAY_MS + hours->start_min * 60000LL;
		long long close = day * DAY_MS + hours->end_min * 60000LL;

		if (!(hours->days & 1u << weekday(day)))
			continue;
		if (open < from)
			open = from;
		if (close > to)
			close = to;
		if (close > open)
			total += close - open;
	}
	return total;
}

static void add_demand(struct replay *r, int pool, long long arrival,
		       long long start, long long end, int technician,
		       bool refused)
{
	struct demands *d = &r->demands[pool];

	if (arrival < r->since)
		arrival = r->since;
	if (start < r->since)
		start = r->since;
	if (end > r->until)
		end = r->until;
	if (end < start)
		end = start;	/* idle since before the period */
	d->items = hl_grow(d->items, &d->cap, d->count + 1, sizeof(*d->items),
			&r->failed);
	if (r->failed)
		return;
	d->items[d->count++] = (struct demand){ arrival, start, end,
						technician, refused };
}

/* ---- licenses in use ------------------------------------------------------- */

static void pool_account(struct replay *r, int pool, long long now)
{
	struct hl_report_pool *p = &r->report->pools[pool];
	long long span = clipped(r, r->changed[pool], now);

	r->used_ms[pool] += (double)span * r->in_use[pool];
	if (r->in_use[pool] > 0 && span > 0) {
		long long from = r->changed[pool] > r->since ? r->changed[pool]
							     : r->since;

		r->work_used_ms[pool] += (double)work_ms(&r->report->hours,
							 from, from + span) *
					 r->in_use[pool];
	}
	if (p->licenses > 0 && r->in_use[pool] >= p->licenses)
		r->full_ms[pool] += (double)span;
	r->changed[pool] = now;
}

static void pool_step(struct replay *r, int pool, long long now)
{
	struct hl_report_pool *p = &r->report->pools[pool];

	if (!r->period_open)
		return;
	if (r->in_use[pool] > p->peak)
		p->peak = r->in_use[pool];
	if (p->step_count > 0 && p->steps[p->step_count - 1].ms == now) {
		p->steps[p->step_count - 1].in_use = r->in_use[pool];
		return;
	}
	p->steps = hl_grow(p->steps, &r->step_cap[pool], p->step_count + 1,
			sizeof(*p->steps), &r->failed);
	if (!r->failed)
		p->steps[p->step_count++] = (struct hl_report_step){
			now, r->in_use[pool] };
}

static struct holding_state *holding(struct replay *r, int technician, int pool)
{
	return &r->holdings[(size_t)technician * r->report->pool_count +
			    (size_t)pool];
}

static void slot_taken(struct replay *r, int technician, int pool,
		       long long now)
{
	struct holding_state *h = holding(r, technician, pool);

	pool_account(r, pool, now);
	r->in_use[pool]++;
	pool_step(r, pool, now);
	h->start = now;
	h->busy_until = now;
}

/* Frees the slot; the time since the holder's last input
 * (h->busy_until) counts apart as idle: its hours are not used hours,
 * and the planner's replay gives the license back at that input. */
static void slot_freed(struct replay *r, int technician, int pool,
		       long long now)
{
	struct holding_state *h = holding(r, technician, pool);
	long long held = clipped(r, h->start, now);
	long long busy = h->busy_until < h->start ? h->start
			 : h->busy_until > now ? now : h->busy_until;
	double idle_hours = clipped(r, busy, now) / HOUR_MS;

	pool_account(r, pool, now);
	r->in_use[pool]--;
	pool_step(r, pool, now);
	h->sessions = 0;
	h->generation++;
	if (held > 0 || (in_period(r, h->start) && now == h->start)) {
		r->report->technicians[technician].hours += held / HOUR_MS;
		r->report->technicians[technician].idle_hours += idle_hours;
		r->report->pools[pool].idle_hours += idle_hours;
		r->held_in[(size_t)technician * r->report->pool_count +
			   (size_t)pool] = 1;
		add_demand(r, pool, h->start, h->start, busy, technician, false);
	}
}

/* ---- Named allocations --------------------------------------------------- */

/* made: by a grant or an assign; else a join shows one made before the
 * log begins. */
static void named_allocated(struct replay *r, int technician, long long now,
			    bool made)
{
	if (r->allocated[technician])
		return;
	r->allocated[technician] = true;
	r->allocated_since[technician] = now;
	r->named_in_force++;
	if (made && in_period(r, now))
		r->report->named.allocations++;
	if (r->period_open && r->named_in_force > r->report->named.peak)
		r->report->named.peak = r->named_in_force;
}

static void named_sessions_end(struct replay *r, int technician, long long now)
{
	struct hl_report_technician *t = &r->report->technicians[technician];
	long long used = clipped(r, r->named_open_since[technician], now);

	if (r->named_open[technician] == 0)
		return;
	r->named_open[technician] = 0;
	t->named_used_hours += used / HOUR_MS;
	if (used > 0) {
		r->named_use.items = hl_grow(r->named_use.items, &r->named_use.cap,
					  r->named_use.count + 1,
					  sizeof(*r->named_use.items),
					  &r->failed);
		if (!r->failed)
			r->named_use.items[r->named_use.count++] =
				(struct demand){ now - used, now - used, now,
						 technician, false };
	}
}

static void named_freed(struct replay *r, int technician, long long now)
{
	struct hl_report_technician *t = &r->report->technicians[technician];
	long long held = clipped(r, r->allocated_since[technician], now);

	named_sessions_end(r, technician, now);
	if (!r->allocated[technician])
		return;
	r->allocated[technician] = false;
	r->named_in_force--;
	t->named_hours += held / HOUR_MS;
	if (held > 0)
		t->named = true;
}

/* ---- waits ------------------------------------------------------------------ */

static void wait_done(struct replay *r, int pool, long long since, long long now)
{
	double seconds = (double)(now - since) / 1000.0;

	if (!in_period(r, now) && !(now == r->until && since < r->until))
		return;
	r->wait_s[pool] = hl_grow(r->wait_s[pool], &r->wait_cap[pool],
			       r->wait_count[pool] + 1, sizeof(double),
			       &r->failed);
	if (!r->failed)
		r->wait_s[pool][r->wait_count[pool]++] = seconds;
}

/* Ends the waits of a session: all of them (pool -1), or the one in pool.
 * Returns when the session began to wait (the earliest), or now. */
static long long waits_end(struct replay *r, int session, int pool,
			   long long now)
{
	struct session_state *s = &r->sessions[session];
	long long first = now;
	int *link = &s->waits;

	while (*link >= 0) {
		struct waiting *w = &r->waiting[*link];

		if (pool >= 0 && w->pool != pool) {
			link = &w->next;
			continue;
		}
		if (w->since < first)
			first = w->since;
		wait_done(r, w->pool, w->since, now);
		{
			struct hl_report_technician *t =
				&r->report->technicians[s->technician];
			double seconds = (double)(now - w->since) / 1000.0;

			if (seconds > t->wait_longest_s && in_period(r, now))
				t->wait_longest_s = seconds;
		}
		*link = w->next;
	}
	return first;
}

/* ---- one event ----------------------------------------------------------- */

static int session_of(struct replay *r, const struct hl_logevent *ev, int technician)
{
	struct session_state *s;

	if (ev->session == HL_NONE)
		return -1;
	s = &r->sessions[ev->session];
	if (s->technician < 0)
		s->technician = technician;
	return s->technician == technician ? ev->session : -1;
}

static void session_begins(struct replay *r, const struct hl_logevent *ev,
			   int technician, int pool)
{
	int session = session_of(r, ev, technician);
	struct session_state *s;

	if (session >= 0) {
		s = &r->sessions[session];
		if (s->open)
			return;	/* a line written twice after a crash */
		waits_end(r, session, -1, ev->ms);
		s->open = true;
		s->pool = pool;
	}
	if (in_period(r, ev->ms))
		r->report->technicians[technician].sessions++;
	if (pool < 0) {
		if (ev->type == HL_LOGEV_GRANT || !r->allocated[technician])
			named_allocated(r, technician, ev->ms,
					ev->type == HL_LOGEV_GRANT);
		if (r->named_open[technician]++ == 0)
			r->named_open_since[technician] = ev->ms;
		if (in_period(r, ev->ms))
			r->report->technicians[technician].named_sessions++;
		return;
	}
	{
		struct holding_state *h = holding(r, technician, pool);

		if (h->sessions++ == 0)
			slot_taken(r, technician, pool, ev->ms);
		if (session >= 0)
			r->sessions[session].generation = h->generation;
	}
}

/* When the session that ends at ev last saw input: its end less the
 * idle time of its tty then ("idle", or an idle reclaim's reason "idle
 * Ns" in a log without it); its end when that is unknown (no tty). */
static long long last_input(const struct replay *r,
			    const struct hl_logevent *ev)
{
	long long idle = ev->idle;

	if (idle == HL_NONE && ev->type == HL_LOGEV_REAP &&
	    ev->reason != HL_NONE) {
		const char *reason = r->log->names.strings[ev->reason];
		char *end;

		if (strncmp(reason, "idle ", 5) == 0 &&
		    reason[5] >= '0' && reason[5] <= '9') {
			long long n = strtoll(reason + 5, &end, 10);

			if (strcmp(end, "s") == 0 && n < INT_MAX)
				idle = n;
		}
	}
	return idle > 0 ? ev->ms - idle * 1000 : ev->ms;
}

static void session_ends(struct replay *r, const struct hl_logevent *ev,
			 int technician, int pool)
{
	int session = session_of(r, ev, technician);
	struct session_state *s;

	if (session < 0) {
		/* A reap of a slot without its holder record frees it. */
		if (ev->type == HL_LOGEV_REAP && pool >= 0 &&
		    holding(r, technician, pool)->sessions > 0) {
			holding(r, technician, pool)->busy_until = ev->ms;
			slot_freed(r, technician, pool, ev->ms);
		}
		return;
	}
	s = &r->sessions[session];
	if (!s->open)
		return;		/* began before the log, or already ended */
	s->open = false;
	if (s->pool < 0) {
		if (r->named_open[technician] > 0 &&
		    --r->named_open[technician] == 0) {
			r->named_open[technician] = 1;
			named_sessions_end(r, technician, ev->ms);
		}
		return;
	}
	{
		struct holding_state *h = holding(r, technician, s->pool);
		long long input = last_input(r, ev);

		if (s->generation != h->generation || h->sessions == 0)
			return;
		if (input > h->busy_until)
			h->busy_until = input;
		if (--h->sessions == 0) {
			h->sessions = 1;
			slot_freed(r, technician, s->pool, ev->ms);
		}
	}
}

static void refused(struct replay *r, const struct hl_logevent *ev,
		    int technician, int pool, const char *reason)
{
	struct hl_report_technician *t = &r->report->technicians[technician];
	int session = session_of(r, ev, technician);
	long long arrival = ev->ms;
	bool counted = false;

	if (session >= 0) {
		arrival = waits_end(r, session, pool, ev->ms);
		counted = r->sessions[session].refused;
		r->sessions[session].refused = true;
	}
	if (!in_period(r, ev->ms))
		return;
	if (strcmp(reason, "unlicensed") == 0) {
		r->report->unlicensed++;
		return;
	}
	/* One login refused in several pools is one refusal of its
	 * technician, and one in each pool. */
	if (!counted)
		t->refusals++;
	if (pool >= 0) {
		r->report->pools[pool].refusals++;
		add_demand(r, pool, arrival, arrival, arrival, technician, true);
	} else {
		r->report->named.refusals++;
		r->named_refused.items = hl_grow(r->named_refused.items,
					      &r->named_refused.cap,
					      r->named_refused.count + 1,
					      sizeof(*r->named_refused.items),
					      &r->failed);
		if (!r->failed)
			r->named_refused.items[r->named_refused.count++] =
				(struct demand){ arrival, arrival, arrival,
						 technician, true };
	}
}

static void waits(struct replay *r, const struct hl_logevent *ev,
		  int technician, int pool)
{
	int session = session_of(r, ev, technician);
	struct session_state *s;
	bool first;

	if (session < 0 || pool < 0)
		return;
	s = &r->sessions[session];
	first = s->waits < 0;
	for (int w = s->waits; w >= 0; w = r->waiting[w].next)
		if (r->waiting[w].pool == pool)
			return;
	r->waiting = hl_grow(r->waiting, &r->waiting_cap, r->waiting_count + 1,
			  sizeof(*r->waiting), &r->failed);
	if (r->failed)
		return;
	r->waiting[r->waiting_count] = (struct waiting){ pool, ev->ms, s->waits };
	s->waits = (int)r->waiting_count++;
	if (in_period(r, ev->ms)) {
		r->report->pools[pool].waits++;
		if (first)
			r->report->technicians[technician].waits++;
	}
}

/* The pool a refusal counts in, as refused() has it: -1 for Named. */
static int event_pool(const struct replay *r, const struct hl_logevent *ev)
{
	int pool = ev->pool == HL_NONE ? -1 : r->pool_of[ev->pool];

	return ev->kind == HL_LOGEV_NAMED ? -1 : pool;
}

static void replay_event(struct replay *r, const struct hl_logevent *ev)
{
	int technician = r->technician_of[ev->user];
	int pool = ev->pool == HL_NONE ? -1 : r->pool_of[ev->pool];
	const char *reason = ev->reason == HL_NONE
				     ? "" : r->log->names.strings[ev->reason];
	bool named = ev->kind == HL_LOGEV_NAMED ||
		     (ev->kind == HL_LOGEV_NO_KIND && pool < 0);

	switch (ev->type) {
	case HL_LOGEV_GRANT:
	case HL_LOGEV_JOIN:
		if (named || pool >= 0)
			session_begins(r, ev, technician, named ? -1 : pool);
		break;
	case HL_LOGEV_RELEASE:
	case HL_LOGEV_ADMIN_RELEASE:
		session_ends(r, ev, technician, named ? -1 : pool);
		break;
	case HL_LOGEV_REAP:
		if (!named && pool >= 0 && strncmp(reason, "idle ", 5) == 0) {
			/* One reclaim reaps each session of the holder: it
			 * counts once, at the one that frees the slot. */
			unsigned generation =
				holding(r, technician, pool)->generation;

			session_ends(r, ev, technician, pool);
			if (holding(r, technician, pool)->generation !=
			    generation && in_period(r, ev->ms))
				r->report->pools[pool].idle_reclaims++;
			break;
		}
		session_ends(r, ev, technician, named ? -1 : pool);
		break;
	case HL_LOGEV_ASSIGN:
		named_allocated(r, technician, ev->ms, true);
		break;
	case HL_LOGEV_UNASSIGN:
		named_freed(r, technician, ev->ms);
		break;
	case HL_LOGEV_DENY:
		refused(r, ev, technician, named ? -1 : pool, reason);
		break;
	case HL_LOGEV_WAIT:
		waits(r, ev, technician, pool);
		break;
	default:
		break;
	}
}

/* What was in force when the period began is where its charts start. */
static void open_period(struct replay *r)
{
	r->period_open = true;
	for (size_t p = 0; p < r->report->pool_count; p++) {
		pool_account(r, (int)p, r->since);
		pool_step(r, (int)p, r->since);
	}
	r->report->named.peak = r->named_in_force;
}

static void close_period(struct replay *r)
{
	struct hl_report *report = r->report;

	if (!r->period_open)
		open_period(r);
	for (size_t t = 0; t < report->technician_count; t++) {
		for (size_t p = 0; p < report->pool_count; p++)
			if (holding(r, (int)t, (int)p)->sessions > 0) {
				/* Still held: in use, as far as is known. */
				holding(r, (int)t, (int)p)->busy_until = r->until;
				slot_freed(r, (int)t, (int)p, r->until);
			}
		named_freed(r, (int)t, r->until);
	}
	for (size_t p = 0; p < report->pool_count; p++)
		pool_account(r, (int)p, r->until);
	for (size_t s = 0; s < r->log->sessions.count; s++)
		if (r->sessions[s].waits >= 0)
			waits_end(r, (int)s, -1, r->until);
}

/* ---- figures ------------------------------------------------------------ */

static int by_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static int by_arrival(const void *a, const void *b)
{
	const struct demand *x = a, *y = b;

	if (x->arrival != y->arrival)
		return x->arrival < y->arrival ? -1 : 1;
	/* At the same moment a license given back is free for a login. */
	return x->refused - y->refused;
}

static double median(double *values, size_t n)
{
	if (n == 0)
		return 0;
	qsort(values, n, sizeof(*values), by_double);
	return n % 2 ? values[n / 2] : (values[n / 2 - 1] + values[n / 2]) / 2;
}

/* The working days of hours in [since, until), in UTC days and parts of
 * days. */
static double working_days(const struct hl_report_hours *hours,
			   long long since, long long until)
{
	double days = 0;

	for (long long day = day_of(since); day * DAY_MS < until; day++) {
		long long from = day * DAY_MS, to = from + DAY_MS;

		if (from < since)
			from = since;
		if (to > until)
			to = until;
		if ((hours->days & 1u << weekday(day)) && to > from)
			days += (double)(to - from) / DAY_MS;
	}
	return days;
}

/* ---- working hours -------------------------------------------------------- */

static const char *const day_names[7] = { "Mon", "Tue", "Wed", "Thu", "Fri",
					  "Sat", "Sun" };

static int parse_day(const char *text, size_t len)
{
	for (int d = 0; d < 7; d++)
		if (len == 3 && strncasecmp(text, day_names[d], 3) == 0)
			return d;
	return -1;
}

/* "HH:MM" (00:00 to 24:00) at text, in minutes, or -1. */
static int parse_clock(const char *text, size_t len)
{
	int h, m;

	if (len != 5 || text[2] != ':')
		return -1;
	for (size_t i = 0; i < 5; i++)
		if (i != 2 && (text[i] < '0' || text[i] > '9'))
			return -1;
	h = (text[0] - '0') * 10 + (text[1] - '0');
	m = (text[3] - '0') * 10 + (text[4] - '0');
	if (m > 59 || h * 60 + m > 24 * 60)
		return -1;
	return h * 60 + m;
}

bool hl_report_parse_hours(const char *text, struct hl_report_hours *hours)
{
	const char *times = strrchr(text, ',');
	struct hl_report_hours parsed = { 0, 0, 0 };
	int start, end;

	if (times == NULL || times == text || times[-1] == ',' ||
	    strlen(times + 1) != 11 || times[6] != '-')
		return false;
	start = parse_clock(times + 1, 5);
	end = parse_clock(times + 7, 5);
	if (start < 0 || end <= start)
		return false;
	parsed.start_min = (unsigned)start;
	parsed.end_min = (unsigned)end;
	/* Days or ranges of days (Fri-Mon goes round the week), by commas. */
	for (const char *p = text; p < times;) {
		const char *comma = memchr(p, ',', (size_t)(times - p + 1));
		size_t len = (size_t)(comma - p);
		int from = parse_day(p, len < 3 ? len : 3), to = from;

		if (len == 7 && p[3] == '-')
			to = parse_day(p + 4, 3);
		else if (len != 3)
			return false;
		if (from < 0 || to < 0)
			return false;
		for (int d = from;; d = (d + 1) % 7) {
			parsed.days |= 1u << d;
			if (d == to)
				break;
		}
		p = comma + 1;
	}
	if (parsed.days == 0)
		return false;
	*hours = parsed;
	return true;
}

void hl_report_hours_text(const struct hl_report_hours *hours, char *out,
			  size_t len)
{
	size_t n = 0;

	out[0] = '\0';
	for (int d = 0; d < 7; d++) {
		int last = d;

		if (!(hours->days & 1u << d))
			continue;
		while (last + 1 < 7 && (hours->days & 1u << (last + 1)))
			last++;
		n += (size_t)snprintf(out + n, n < len ? len - n : 0, "%s%s",
				      day_names[d], last > d ? "-" : ",");
		if (last > d)
			n += (size_t)snprintf(out + n, n < len ? len - n : 0,
					      "%s,", day_names[last]);
		d = last;
	}
	snprintf(out + n, n < len ? len - n : 0, "%02u:%02u-%02u:%02u",
		 hours->start_min / 60, hours->start_min % 60,
		 hours->end_min / 60, hours->end_min % 60);
}

/* ---- the planner ---------------------------------------------------------- */

/* A min-heap of the times licenses come free. */
static void heap_push(long long *heap, size_t *n, long long value)
{
	size_t i = (*n)++;

	while (i > 0 && heap[(i - 1) / 2] > value) {
		heap[i] = heap[(i - 1) / 2];
		i = (i - 1) / 2;
	}
	heap[i] = value;
}

static void heap_pop(long long *heap, size_t *n)
{
	long long last = heap[--(*n)];
	size_t i = 0;

	for (;;) {
		size_t c = 2 * i + 1;

		if (c >= *n)
			break;
		if (c + 1 < *n && heap[c + 1] < heap[c])
			c++;
		if (heap[c] >= last)
			break;
		heap[i] = heap[c];
		i = c;
	}
	if (*n > 0)
		heap[i] = last;
}

/*
 * Replays the demand (sorted by arrival) on licenses: each login gets a
 * license if one is free at its arrival and keeps it for as long as it
 * did (a refused one: for hold_ms), else it is refused.  Returns the
 * refusals.
 */
static unsigned long replay_licenses(const struct demand *d, size_t n,
				     unsigned licenses, long long hold_ms,
				     long long *heap)
{
	unsigned long refusals = 0;
	size_t held = 0;

	for (size_t i = 0; i < n; i++) {
		while (held > 0 && heap[0] <= d[i].arrival)
			heap_pop(heap, &held);
		if (held < licenses)
			heap_push(heap, &held, d[i].refused ? d[i].arrival + hold_ms
							    : d[i].end);
		else
			refusals++;
	}
	return refusals;
}

/* The fewest licenses that keep the replayed refusals at or under target
 * (*refusals with them). */
static unsigned fewest_licenses(const struct demand *d, size_t n,
				unsigned target, long long hold_ms,
				unsigned long *refusals, bool *failed)
{
	long long *heap = malloc((n + 1) * sizeof(*heap));
	unsigned licenses = 0;

	*refusals = n;
	if (heap == NULL) {
		*failed = true;
		return 0;
	}
	/* n licenses refuse no one: the search ends. */
	for (licenses = 0; licenses <= n; licenses++) {
		*refusals = replay_licenses(d, n, licenses, hold_ms, heap);
		if (*refusals <= target)
			break;
	}
	free(heap);
	return licenses;
}

/* The hold given to a refused login: the pool's median hold, else the
 * median of all pools, else one hour. */
static long long refused_hold(const struct demands *d, long long fallback,
			      bool *failed)
{
	double *holds = malloc((d->count + 1) * sizeof(*holds));
	size_t n = 0;
	double m;

	if (holds == NULL) {
		*failed = true;
		return fallback;
	}
	for (size_t i = 0; i < d->count; i++)
		if (!d->items[i].refused)
			holds[n++] = (double)(d->items[i].end - d->items[i].start);
	m = median(holds, n);
	free(holds);
	return n > 0 ? (long long)m : fallback;
}

static void suggest(struct hl_report *report, bool *failed, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static void suggest(struct hl_report *report, bool *failed, const char *fmt, ...)
{
	char line[1024], *text, **grown;
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	text = strdup(line);
	grown = realloc(report->suggestions,
			(report->suggestion_count + 1) * sizeof(*grown));
	if (text == NULL || grown == NULL) {
		free(text);
		if (grown)
			report->suggestions = grown;
		*failed = true;
		return;
	}
	report->suggestions = grown;
	report->suggestions[report->suggestion_count++] = text;
}

static const char *plural(unsigned long n)
{
	return n == 1 ? "" : "s";
}

/* "+1 license, +1100.00 EUR" or "" without prices. */
static void cost_change(const struct hl_report *report, long delta,
			double price, char *out, size_t len)
{
	if (report->prices_set)
		snprintf(out, len, "; %+ld license%s, %+.2f %s", delta,
			 plural((unsigned long)labs(delta)), delta * price,
			 report->currency);
	else
		snprintf(out, len, "; %+ld license%s", delta,
			 plural((unsigned long)labs(delta)));
}

/* "ann held a pool license 7.0 h per working day (...): a Named license
 * would cost less." */
static void advise(struct hl_report *report,
		   const struct hl_report_technician *tech, const char *did,
		   const char *relation, const char *instead, bool *failed)
{
	suggest(report, failed, "%s %s %.1f h per working day (%.0f%% of "
		"%.1f h over %.1f working days, %s %.0f%%): %s would cost "
		"less.", tech->user, did, tech->share * report->workday_hours,
		tech->share * 100, report->workday_hours, report->working_days,
		relation, report->threshold * 100, instead);
}

/*
 * The refused logins of technicians who held no Named license, each kept
 * for hold_ms (a login that comes while the same technician's is kept
 * joins it), into *logins; counts those technicians.  False when memory
 * runs out.
 */
static bool named_refused_logins(struct replay *r, long long hold_ms,
				 struct demands *logins)
{
	struct hl_report *report = r->report;
	const struct demands *d = &r->named_refused;
	size_t ntech = report->technician_count;
	long long *kept_until = calloc(ntech + 1, sizeof(*kept_until));
	bool *counted = calloc(ntech + 1, sizeof(*counted));

	if (kept_until == NULL || counted == NULL) {
		r->failed = true;
		goto out;
	}
	/* d is in time order: refusals are logged as they happen. */
	for (size_t i = 0; i < d->count && !r->failed; i++) {
		const struct demand *login = &d->items[i];
		int t = login->technician;

		if (report->technicians[t].named)
			continue;
		if (!counted[t]) {
			counted[t] = true;
			kept_until[t] = login->arrival - 1;
			report->named.refused_technicians++;
		}
		if (login->arrival < kept_until[t])
			continue;
		kept_until[t] = login->arrival + hold_ms;
		logins->items = hl_grow(logins->items, &logins->cap,
					logins->count + 1,
					sizeof(*logins->items), &r->failed);
		if (!r->failed)
			logins->items[logins->count++] = *login;
	}
out:
	free(kept_until);
	free(counted);
	return !r->failed;
}

static void suggest_named_refusals(struct replay *r, unsigned seats,
				   double price_named, double price_pool)
{
	struct hl_report *report = r->report;
	const struct hl_report_named *named = &report->named;
	unsigned added = named->added ? named->added : seats;
	char what[32];

	snprintf(what, sizeof(what), "%s%s", named->added ? "Named license"
							  : "license",
		 named->added ? plural(added) : added == 1 ? " in a new pool"
							  : "s in a new pool");
	if (report->prices_set)
		suggest(report, &r->failed,
			"Named: %lu refusal%s of %u technician%s who found "
			"every Named license (%u) allocated and held none: "
			"%u more "
			"Named cost %.2f %s, a pool of %u license%s for their "
			"logins %.2f %s; +%u %s, %+.2f %s.", named->refusals,
			plural(named->refusals), named->refused_technicians,
			plural(named->refused_technicians), named->licenses,
			named->refused_technicians,
			named->refused_technicians * price_named,
			report->currency, seats, plural(seats),
			seats * price_pool, report->currency, added, what,
			added * (named->added ? price_named : price_pool),
			report->currency);
	else
		suggest(report, &r->failed,
			"Named: %lu refusal%s of %u technician%s who found "
			"every Named license (%u) allocated and held none: "
			"%u more "
			"Named cost %s than a pool of %u license%s for their "
			"logins at the price ratio %.2f; +%u %s.",
			named->refusals, plural(named->refusals),
			named->refused_technicians,
			plural(named->refused_technicians), named->licenses,
			named->refused_technicians,
			named->added ? "no more" : "more", seats, plural(seats),
			report->threshold, added, what);
}

/*
 * Named refusals: a technician refused because all Named licenses were
 * allocated, who never held one in the period, needs one more Named
 * license; a pool for their logins may cost less.  Their refused logins
 * are replayed on 0, 1, 2, ... licenses, each kept for hold_ms; the
 * fewest licenses that meet the target are priced against one Named
 * license per technician, at the price ratio when there are no prices.
 */
static void plan_named_refusals(struct replay *r, long long hold_ms)
{
	struct hl_report *report = r->report;
	struct hl_report_named *named = &report->named;
	struct demands logins = { NULL, 0, 0 };
	double price_named = report->prices_set ? report->price_named
						: report->threshold;
	double price_pool = report->prices_set ? report->price_concurrent : 1;
	unsigned long left;
	unsigned seats;

	if (!named_refused_logins(r, hold_ms, &logins) ||
	    named->refused_technicians == 0 ||
	    named->refusals <= report->max_refusals)
		goto out;
	seats = fewest_licenses(logins.items, logins.count,
				report->max_refusals, hold_ms, &left, &r->failed);
	if (named->refused_technicians * price_named <= seats * price_pool)
		named->added = named->refused_technicians;
	else
		named->pool_for_refused = seats;
	suggest_named_refusals(r, seats, price_named, price_pool);
out:
	free(logins.items);
}

static int pool_for(const struct hl_config *cfg, const struct hl_report *report,
		    const double *pool_hours, int technician)
{
	const char *user = report->technicians[technician].user;
	int best = -1;

	for (size_t p = 0; p < cfg->pool_count; p++)
		if (hl_names_contain(&cfg->pools[p].users, user))
			return (int)p;
	for (size_t p = 0; p < report->pool_count; p++)
		if (pool_hours[p] > 0 && (best < 0 || pool_hours[p] > pool_hours[best]))
			best = (int)p;
	if (best < 0 && cfg->pool_count > 0)
		best = 0;
	return best;
}

/* How long a refused login would have kept a license, over every pool. */
static long long plan_all_holds(struct replay *r)
{
	struct demands all = { NULL, 0, 0 };
	long long all_holds;

	for (size_t p = 0; p < r->report->pool_count; p++)
		for (size_t i = 0; i < r->demands[p].count; i++) {
			all.items = hl_grow(all.items, &all.cap, all.count + 1,
					 sizeof(*all.items), &r->failed);
			if (r->failed)
				break;
			all.items[all.count++] = r->demands[p].items[i];
		}
	all_holds = refused_hold(&all, (long long)HOUR_MS, &r->failed);
	free(all.items);
	return all_holds;
}

/* One pool as configured: its fewest licenses against today's count. */
static void suggest_pool(struct replay *r, const struct hl_report_pool *pool,
			 size_t demand_count)
{
	struct hl_report *report = r->report;
	char change[128];

	if (!pool->configured) {
		suggest(report, &r->failed,
			"Pool %s is not in the configuration: %u "
			"license%s would have kept refusals at %u.",
			pool->name, pool->fewest, plural(pool->fewest),
			report->max_refusals);
	} else if (pool->fewest > pool->licenses) {
		cost_change(report, (long)pool->fewest - (long)pool->licenses,
			    report->price_concurrent, change, sizeof(change));
		suggest(report, &r->failed,
			"Pool %s: %u license%s would have kept refusals "
			"at %u (%lu refusal%s with today's %u)%s.",
			pool->name, pool->fewest, plural(pool->fewest),
			report->max_refusals, pool->refusals,
			plural(pool->refusals), pool->licenses, change);
	} else if (demand_count == 0) {
		cost_change(report, -(long)pool->licenses,
			    report->price_concurrent, change, sizeof(change));
		suggest(report, &r->failed,
			"Pool %s was not used in the period: its %u "
			"license%s could go%s.", pool->name,
			pool->licenses, plural(pool->licenses), change);
	} else if (pool->fewest < pool->licenses) {
		cost_change(report, (long)pool->fewest - (long)pool->licenses,
			    report->price_concurrent, change, sizeof(change));
		suggest(report, &r->failed,
			"Pool %s: %u license%s would have kept refusals "
			"at %u as well as today's %u (peak %u in use)%s.",
			pool->name, pool->fewest, plural(pool->fewest),
			report->max_refusals, pool->licenses, pool->peak,
			change);
	} else {
		suggest(report, &r->failed,
			"Pool %s: today's %u license%s %s the fewest "
			"that keep refusals at %u (%lu refusal%s).",
			pool->name, pool->licenses, plural(pool->licenses),
			pool->licenses == 1 ? "is" : "are",
			report->max_refusals, pool->refusals,
			plural(pool->refusals));
	}
	if (pool->idle_hours >= 0.05)
		suggest(report, &r->failed,
			"Pool %s: %.1f of its %.1f license-hours were "
			"idle (held after the holder's last input): "
			"not counted as used, the planner counts "
			"them reclaimable.", pool->name,
			pool->idle_hours, pool->hours);
}

/*
 * Pools, as they are: each pool's logins replayed on today's licenses and
 * on the fewest that keep refusals at the target; holds[p] receives the
 * pool's hold.  False when memory runs out.
 */
static bool plan_pools(struct replay *r, long long all_holds, long long *holds)
{
	struct hl_report *report = r->report;

	for (size_t p = 0; p < report->pool_count; p++) {
		struct hl_report_pool *pool = &report->pools[p];
		struct demands *d = &r->demands[p];
		long long *heap = malloc((d->count + 1) * sizeof(*heap));

		if (heap == NULL) {
			r->failed = true;
			return false;
		}
		if (d->count > 1)
			qsort(d->items, d->count, sizeof(*d->items), by_arrival);
		holds[p] = refused_hold(d, all_holds, &r->failed);
		pool->fewest = fewest_licenses(d->items, d->count,
					       report->max_refusals, holds[p],
					       &pool->refusals_fewest, &r->failed);
		pool->refusals_today = replay_licenses(d->items, d->count,
						       pool->licenses, holds[p],
						       heap);
		free(heap);
		suggest_pool(r, pool, d->count);
	}
	return true;
}

/*
 * Technicians: Named or pool, by the share of the working day they used.
 * to_named[t] marks those who go Named; *moved_out and *moved_in count
 * who leave and who join the Named licenses.
 */
static void plan_technicians(struct replay *r, const struct hl_config *cfg,
			     double *pool_hours, bool *to_named,
			     unsigned *moved_out, unsigned *moved_in)
{
	struct hl_report *report = r->report;
	const double workday_ms = report->workday_hours * HOUR_MS;
	double working_ms = report->working_days * workday_ms;
	size_t npools = report->pool_count;

	if (!(working_ms >= workday_ms))
		return;
	for (size_t t = 0; t < report->technician_count; t++) {
		struct hl_report_technician *tech = &report->technicians[t];

		if (tech->named) {
			tech->share = tech->named_used_hours * HOUR_MS /
				      working_ms;
			if (tech->share < report->threshold && npools > 0) {
				for (size_t p = 0; p < npools; p++)
					pool_hours[p] = (double)r->held_in[t * npools + p];
				tech->advice_pool = pool_for(cfg, report,
							     pool_hours,
							     (int)t);
				if (tech->advice_pool >= 0)
					tech->advice = HL_ADVICE_TO_POOL;
			}
		} else if (tech->hours > tech->idle_hours) {
			/* An idle hour is not a used hour. */
			tech->share = (tech->hours - tech->idle_hours) *
				      HOUR_MS / working_ms;
			if (tech->share >= report->threshold) {
				tech->advice = HL_ADVICE_TO_NAMED;
				to_named[t] = true;
			}
		}
		if (tech->advice == HL_ADVICE_TO_NAMED) {
			(*moved_in)++;
			advise(report, tech, "held a pool license",
			       "at or above", "a Named license",
			       &r->failed);
		} else if (tech->advice == HL_ADVICE_TO_POOL) {
			char where[HL_POOL_NAME_MAX + 16];

			(*moved_out)++;
			snprintf(where, sizeof(where), "a place in pool %s",
				 report->pools[tech->advice_pool].name);
			advise(report, tech, "used a Named license",
			       "under", where, &r->failed);
		}
	}
}

/* The suggested mix: each pool replayed without the technicians who go
 * Named and with the sessions of those who come in. */
static void plan_pool_mix(struct replay *r, const long long *holds,
			  const bool *to_named)
{
	struct hl_report *report = r->report;

	for (size_t p = 0; p < report->pool_count; p++) {
		struct hl_report_pool *pool = &report->pools[p];
		struct demands *d = &r->demands[p];
		struct demands mix = { NULL, 0, 0 };
		unsigned long refusals;

		for (size_t i = 0; i < d->count && !r->failed; i++) {
			if (to_named[d->items[i].technician])
				continue;
			mix.items = hl_grow(mix.items, &mix.cap, mix.count + 1,
					 sizeof(*mix.items), &r->failed);
			if (!r->failed)
				mix.items[mix.count++] = d->items[i];
		}
		for (size_t i = 0; i < r->named_use.count && !r->failed; i++) {
			const struct demand *use = &r->named_use.items[i];

			if (report->technicians[use->technician].advice !=
				    HL_ADVICE_TO_POOL ||
			    report->technicians[use->technician].advice_pool != (int)p)
				continue;
			mix.items = hl_grow(mix.items, &mix.cap, mix.count + 1,
					 sizeof(*mix.items), &r->failed);
			if (!r->failed)
				mix.items[mix.count++] = *use;
		}
		if (mix.count > 1)
			qsort(mix.items, mix.count, sizeof(*mix.items), by_arrival);
		pool->mix = fewest_licenses(mix.items, mix.count,
					    report->max_refusals, holds[p],
					    &refusals, &r->failed);
		free(mix.items);
	}
}

/* Today's mix against the suggested one, priced when prices are set. */
static void plan_cost(struct replay *r)
{
	struct hl_report *report = r->report;
	unsigned concurrent_today = 0;
	unsigned concurrent_mix = report->named.pool_for_refused;

	for (size_t p = 0; p < report->pool_count; p++) {
		if (!report->pools[p].configured)
			continue;
		concurrent_today += report->pools[p].licenses;
		concurrent_mix += report->pools[p].mix;
	}
	report->cost_today = report->named.licenses * report->price_named +
			     concurrent_today * report->price_concurrent;
	report->cost_mix = report->named.mix * report->price_named +
			   concurrent_mix * report->price_concurrent;
	if (report->prices_set)
		suggest(report, &r->failed,
			"Today's mix: %u Named + %u concurrent license%s "
			"= %.2f %s; suggested mix: %u Named + %u "
			"concurrent = %.2f %s (%+.2f %s).",
			report->named.licenses, concurrent_today,
			plural(concurrent_today), report->cost_today,
			report->currency, report->named.mix,
			concurrent_mix, report->cost_mix,
			report->currency,
			report->cost_mix - report->cost_today,
			report->currency);
	else
		suggest(report, &r->failed,
			"Today's mix: %u Named + %u concurrent license%s; "
			"suggested mix: %u Named + %u concurrent (set "
			"prices in the configuration to cost them).",
			report->named.licenses, concurrent_today,
			plural(concurrent_today), report->named.mix,
			concurrent_mix);
}

/* The figures stand; advice on so little would mislead. */
static void withdraw_advice(struct replay *r)
{
	struct hl_report *report = r->report;

	for (size_t s = 0; s < report->suggestion_count; s++)
		free(report->suggestions[s]);
	report->suggestion_count = 0;
	suggest(report, &r->failed,
		"Too little data for advice: the log covers %.1f "
		"day%s of the period and %lu login%s (at least %.0f "
		"days and %lu logins are needed); no license count "
		"is suggested.", report->covered_days,
		report->covered_days == 1 ? "" : "s", report->logins,
		plural(report->logins), report->min_days,
		report->min_logins);
}

static void plan(struct replay *r, const struct hl_config *cfg)
{
	struct hl_report *report = r->report;
	size_t npools = report->pool_count;
	long long *holds = calloc(npools + 1, sizeof(*holds));
	double *pool_hours = calloc(npools + 1, sizeof(*pool_hours));
	bool *to_named = calloc(report->technician_count + 1, sizeof(*to_named));
	unsigned moved_out = 0, moved_in = 0, named_kept;
	long long all_holds;

	if (holds == NULL || pool_hours == NULL || to_named == NULL) {
		r->failed = true;
		goto out;
	}
	all_holds = plan_all_holds(r);
	if (!plan_pools(r, all_holds, holds))
		goto out;
	plan_technicians(r, cfg, pool_hours, to_named, &moved_out, &moved_in);
	plan_pool_mix(r, holds, to_named);
	plan_named_refusals(r, refused_hold(&r->named_use, all_holds,
					    &r->failed));
	named_kept = report->named.peak > moved_out ? report->named.peak - moved_out : 0;
	report->named.mix = named_kept + moved_in + report->named.added;
	if (report->named.licenses > report->named.peak)
		suggest(report, &r->failed,
			"Named: at most %u of %u license%s %s allocated at "
			"once in the period.", report->named.peak,
			report->named.licenses, plural(report->named.licenses),
			report->named.peak == 1 ? "was" : "were");
	plan_cost(r);
	if (report->too_little)
		withdraw_advice(r);
out:
	free(holds);
	free(pool_hours);
	free(to_named);
}

/* ---- building it -------------------------------------------------------- */

static int by_user(const void *a, const void *b)
{
	const struct hl_report_technician *x = a, *y = b;

	return strcmp(x->user, y->user);
}

static bool add_pool(struct hl_report *report, const char *name,
		     unsigned licenses, bool configured)
{
	struct hl_report_pool *p = &report->pools[report->pool_count];

	memset(p, 0, sizeof(*p));
	p->name = strdup(name);
	p->licenses = licenses;
	p->configured = configured;
	report->pool_count++;
	return p->name != NULL;
}

/*
 * The pools, configured ones first, then those only the log names; the
 * technicians the log names, sorted by user; r->pool_of and
 * r->technician_of map the log's names to them.
 */
static bool replay_name_pools_and_technicians(struct replay *r,
					      const struct hl_config *cfg)
{
	struct hl_report *report = r->report;
	const struct hl_eventlog *log = r->log;
	size_t nnames = log->names.count;

	r->pool_of = malloc((nnames + 1) * sizeof(int));
	r->technician_of = malloc((nnames + 1) * sizeof(int));
	report->pools = calloc(cfg->pool_count + nnames + 1, sizeof(*report->pools));
	report->technicians = calloc(nnames + 1, sizeof(*report->technicians));
	if (!r->pool_of || !r->technician_of || !report->pools ||
	    !report->technicians)
		return false;
	for (size_t i = 0; i < nnames; i++)
		r->pool_of[i] = r->technician_of[i] = -1;
	for (size_t p = 0; p < cfg->pool_count; p++) {
		int name = hl_strtab_find(&log->names, cfg->pools[p].name);

		if (!add_pool(report, cfg->pools[p].name, cfg->pools[p].licenses,
			      true))
			return false;
		if (name >= 0)
			r->pool_of[name] = (int)p;
	}
	/* Pools and technicians as the log names them. */
	for (size_t i = 0; i < log->count; i++) {
		const struct hl_logevent *ev = &log->events[i];

		if (ev->pool != HL_NONE && r->pool_of[ev->pool] < 0) {
			r->pool_of[ev->pool] = (int)report->pool_count;
			if (!add_pool(report, log->names.strings[ev->pool], 0,
				      false))
				return false;
		}
		if (r->technician_of[ev->user] < 0) {
			struct hl_report_technician *t =
				&report->technicians[report->technician_count];

			t->user = strdup(log->names.strings[ev->user]);
			if (t->user == NULL)
				return false;
			r->technician_of[ev->user] = (int)report->technician_count++;
		}
	}
	/* Technicians by name, and the index follows them. */
	qsort(report->technicians, report->technician_count,
	      sizeof(*report->technicians), by_user);
	for (size_t t = 0; t < report->technician_count; t++) {
		int name = hl_strtab_find(&log->names, report->technicians[t].user);

		r->technician_of[name] = (int)t;
	}
	return true;
}

/* The replay's state, per session, per pool and per technician. */
static bool replay_alloc_state(struct replay *r)
{
	const struct hl_eventlog *log = r->log;
	size_t npools = r->report->pool_count;
	size_t ntech = r->report->technician_count;

	r->sessions = malloc((log->sessions.count + 1) * sizeof(*r->sessions));
	r->holdings = calloc(ntech * npools + 1, sizeof(*r->holdings));
	r->held_in = calloc(ntech * npools + 1, 1);
	r->in_use = calloc(npools + 1, sizeof(*r->in_use));
	r->changed = calloc(npools + 1, sizeof(*r->changed));
	r->full_ms = calloc(npools + 1, sizeof(*r->full_ms));
	r->used_ms = calloc(npools + 1, sizeof(*r->used_ms));
	r->work_used_ms = calloc(npools + 1, sizeof(*r->work_used_ms));
	r->step_cap = calloc(npools + 1, sizeof(*r->step_cap));
	r->wait_s = calloc(npools + 1, sizeof(*r->wait_s));
	r->wait_count = calloc(npools + 1, sizeof(*r->wait_count));
	r->wait_cap = calloc(npools + 1, sizeof(*r->wait_cap));
	r->demands = calloc(npools + 1, sizeof(*r->demands));
	r->allocated = calloc(ntech + 1, sizeof(*r->allocated));
	r->allocated_since = calloc(ntech + 1, sizeof(*r->allocated_since));
	r->named_open = calloc(ntech + 1, sizeof(*r->named_open));
	r->named_open_since = calloc(ntech + 1, sizeof(*r->named_open_since));
	if (!r->sessions || !r->holdings || !r->held_in || !r->in_use ||
	    !r->changed || !r->full_ms || !r->used_ms || !r->work_used_ms ||
	    !r->step_cap ||
	    !r->wait_s || !r->wait_count || !r->wait_cap || !r->demands ||
	    !r->allocated || !r->allocated_since || !r->named_open ||
	    !r->named_open_since)
		return false;
	for (size_t s = 0; s < log->sessions.count; s++)
		r->sessions[s] = (struct session_state){ .technician = -1,
							 .pool = -1,
							 .waits = -1 };
	return true;
}

static bool replay_init(struct replay *r, const struct hl_config *cfg)
{
	return replay_name_pools_and_technicians(r, cfg) &&
	       replay_alloc_state(r);
}

static void replay_free(struct replay *r)
{
	size_t npools = r->report ? r->report->pool_count : 0;

	for (size_t p = 0; r->wait_s && p < npools; p++)
		free(r->wait_s[p]);
	for (size_t p = 0; r->demands && p < npools; p++)
		free(r->demands[p].items);
	free(r->pool_of);
	free(r->technician_of);
	free(r->sessions);
	free(r->waiting);
	free(r->holdings);
	free(r->held_in);
	free(r->in_use);
	free(r->changed);
	free(r->full_ms);
	free(r->used_ms);
	free(r->work_used_ms);
	free(r->step_cap);
	free(r->wait_s);
	free(r->wait_count);
	free(r->wait_cap);
	free(r->demands);
	free(r->named_use.items);
	free(r->named_refused.items);
	free(r->allocated);
	free(r->allocated_since);
	free(r->named_open);
	free(r->named_open_since);
}

static void figures(struct replay *r)
{
	struct hl_report *report = r->report;
	double period_ms = (double)(r->until - r->since);
	bool used = false;

	for (size_t p = 0; p < report->pool_count; p++) {
		struct hl_report_pool *pool = &report->pools[p];
		size_t n = r->wait_count[p];

		pool->hours = r->used_ms[p] / HOUR_MS;
		pool->full_share = pool->licenses ? r->full_ms[p] / period_ms : 0;
		pool->utilisation = pool->licenses
			? r->used_ms[p] / (period_ms * pool->licenses) : 0;
		pool->work_utilisation = pool->licenses && report->work_hours > 0
			? r->work_used_ms[p] / (report->work_hours * HOUR_MS *
						pool->licenses) : 0;
		pool->wait_median_s = median(r->wait_s[p], n);
		pool->wait_longest_s = n ? r->wait_s[p][n - 1] : 0;
		for (size_t t = 0; t < report->technician_count; t++)
			pool->technicians += r->held_in[t * report->pool_count + p];
		used |= pool->hours > 0 || pool->refusals > 0 || pool->waits > 0;
	}
	for (size_t t = 0; t < report->technician_count; t++) {
		const struct hl_report_technician *tech = &report->technicians[t];

		report->named.technicians += tech->named;
		report->logins += tech->sessions + tech->refusals;
		used |= tech->sessions > 0 || tech->refusals > 0 || tech->named;
	}
	used |= report->unlicensed > 0 || report->named.allocations > 0;
	report->empty = !used;
	report->too_little = report->covered_days < report->min_days ||
			     report->logins < report->min_logins;
}

static bool refusals_by_day(struct replay *r)
{
	struct hl_report *report = r->report;
	long long last;

	size_t columns = report->pool_count + 1;

	report->first_day = day_of(r->since);
	last = day_of(r->until - 1);
	report->day_count = (size_t)(last - report->first_day + 1);
	report->refusals_by_day = calloc(report->day_count * columns,
					 sizeof(unsigned long));
	if (report->refusals_by_day == NULL)
		return false;
	for (size_t i = 0; i < r->log->count; i++) {
		const struct hl_logevent *ev = &r->log->events[i];
		const char *reason;
		int pool;

		if (ev->type != HL_LOGEV_DENY || !in_period(r, ev->ms))
			continue;
		reason = ev->reason == HL_NONE ? "" : r->log->names.strings[ev->reason];
		if (strcmp(reason, "unlicensed") == 0)
			continue;
		pool = event_pool(r, ev);
		report->refusals_by_day[(size_t)(day_of(ev->ms) - report->first_day) *
					columns +
					(pool < 0 ? report->pool_count
						  : (size_t)pool)]++;
	}
	return true;
}

struct hl_report *hl_report_build(const struct hl_config *cfg,
				  const struct hl_eventlog *log,
				  const struct hl_report_options *opt,
				  char *why, size_t len)
{
	struct hl_report *report = calloc(1, sizeof(*report));
	struct replay r;
	size_t i = 0;

	memset(&r, 0, sizeof(r));
	if (report == NULL)
		goto nomem;
	r.log = log;
	r.report = report;
	r.since = opt->has_since ? opt->since_ms
				 : log->count ? log->events[0].ms : opt->now_ms;
	/* Not past now: a line from the future is a damaged one. */
	r.until = opt->has_until ? opt->until_ms : opt->now_ms;
	if (r.until <= r.since) {
		snprintf(why, len, "the period is empty: it must end after it "
			 "begins");
		hl_report_free(report);
		return NULL;
	}
	report->since_ms = r.since;
	report->until_ms = r.until;
	report->lines = log->lines;
	report->skipped = log->skipped;
	memcpy(report->skipped_by, log->skipped_by, sizeof(report->skipped_by));
	report->files = log->files;
	report->max_refusals = opt->max_refusals;
	report->hours = opt->hours.days && opt->hours.end_min > opt->hours.start_min
		? opt->hours : HL_REPORT_HOURS_DEFAULT;
	report->workday_hours = opt->workday_hours > 0
		? opt->workday_hours
		: (report->hours.end_min - report->hours.start_min) / 60.0;
	report->working_days = working_days(&report->hours, r.since, r.until);
	report->work_hours = work_ms(&report->hours, r.since, r.until) / HOUR_MS;
	{
		/* Before the log's first event nothing is known. */
		long long from = log->count && log->events[0].ms > r.since
			? log->events[0].ms : r.since;

		report->covered_days = from < r.until
			? (double)(r.until - from) / DAY_MS : 0;
	}
	report->min_days = opt->min_days;
	report->min_logins = opt->min_logins;
	report->named.licenses = cfg->named.licenses;
	report->prices_set = cfg->prices.set;
	report->price_named = cfg->prices.named;
	report->price_concurrent = cfg->prices.concurrent;
	snprintf(report->currency, sizeof(report->currency), "%s",
		 cfg->prices.currency);
	/* A technician costs a concurrent license for the share of the
	 * working day they hold one: Named is cheaper from the price ratio. */
	report->threshold = cfg->prices.set && cfg->prices.concurrent > 0
		? cfg->prices.named / cfg->prices.concurrent : 0.5;
	if (!replay_init(&r, cfg))
		goto nomem;
	for (; i < log->count && log->events[i].ms < r.until && !r.failed; i++) {
		if (!r.period_open && log->events[i].ms >= r.since)
			open_period(&r);
		replay_event(&r, &log->events[i]);
	}
	close_period(&r);
	if (r.failed)
		goto nomem;
	figures(&r);
	if (!refusals_by_day(&r))
		goto nomem;
	plan(&r, cfg);
	if (r.failed)
		goto nomem;
	replay_free(&r);
	return report;
nomem:
	snprintf(why, len, "out of memory");
	replay_free(&r);
	hl_report_free(report);
	return NULL;
}

void hl_report_free(struct hl_report *report)
{
	if (report == NULL)
		return;
	for (size_t p = 0; p < report->pool_count; p++) {
		free((char *)report->pools[p].name);
		free(report->pools[p].steps);
	}
	for (size_t t = 0; t < report->technician_count; t++)
		free((char *)report->technicians[t].user);
	for (size_t s = 0; s < report->suggestion_count; s++)
		free(report->suggestions[s]);
	free(report->pools);
	free(report->technicians);
	free(report->suggestions);
	free(report->refusals_by_day);
	free(report);
}
