/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * A year of help desk logins as the event log would have them, for
 * bench/bench_report.sh: TECHNICIANS technicians (default 200) over DAYS
 * days (default 365) from 2025-01-06, a Monday.  A tenth of them hold
 * Named licenses; the others share four pools of a tenth of their number
 * each.  Every weekday a third of the technicians log in six to eight
 * times, the others two to four (15 min to 2 h each, now and then a
 * second session that joins); a login that finds
 * its pool full waits and gets a license that comes free within five
 * minutes, or is refused.  Lines are written with the core's
 * hl_event_format, in time order, on stdout.
 *
 *   bench/bench_report_gen [TECHNICIANS [DAYS [SEED]]] > events.log
 */
#include "config.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "eventlog.h"

#define POOLS 4
#define START 1736121600L	/* 2025-01-06T00:00:00Z */

struct line {
	long long ms;
	size_t order;
	char *text;
};

struct day {
	struct line *lines;
	size_t count, cap;
};

struct login {
	long long start, end;
	int technician;
	bool joins;		/* a second session joins the first */
};

static uint64_t rng_state = 88172645463325252ULL;

static unsigned rnd(unsigned n)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return (unsigned)(rng_state % n);
}

static void emit(struct day *day, long long ms, const char *event,
		 const char *user, enum hl_kind kind, const char *pool,
		 unsigned slot, const char *session, const char *reason)
{
	struct hl_event ev = {
		.event = event, .user = user, .has_kind = true, .kind = kind,
		.pool = pool, .slot = slot, .service = "sshd", .tty = "ssh",
		.rhost = "10.0.0.7", .host = "helpdesk1",
		.pid = session ? 1000 + (pid_t)(ms % 30000) : 0,
		.session = session, .reason = reason,
	};
	struct timespec ts = { (time_t)(ms / 1000), (long)(ms % 1000) * 1000000L };

	if (day->count == day->cap) {
		day->cap = day->cap ? day->cap * 2 : 4096;
		day->lines = realloc(day->lines, day->cap * sizeof(*day->lines));
		if (day->lines == NULL)
			abort();
	}
	day->lines[day->count].ms = ms;
	day->lines[day->count].order = day->count;
	day->lines[day->count].text = hl_event_format(&ev, &ts);
	if (day->lines[day->count].text == NULL)
		abort();
	day->count++;
}

static int by_ms(const void *a, const void *b)
{
	const struct line *x = a, *y = b;

	if (x->ms != y->ms)
		return x->ms < y->ms ? -1 : 1;
	return x->order < y->order ? -1 : x->order > y->order;
}

static int by_start(const void *a, const void *b)
{
	const struct login *x = a, *y = b;

	return x->start < y->start ? -1 : x->start > y->start;
}

int main(int argc, char **argv)
{
	unsigned technicians = argc > 1 ? (unsigned)atoi(argv[1]) : 200;
	unsigned days = argc > 2 ? (unsigned)atoi(argv[2]) : 365;
	unsigned named = technicians / 10, licenses = technicians / 10;
	struct login *logins = calloc((size_t)technicians * 8 + 1, sizeof(*logins));
	bool *allocated = calloc(technicians + 1, sizeof(*allocated));
	unsigned long sequence = 0;
	struct day day = { NULL, 0, 0 };

	if (argc > 3)
		rng_state ^= (uint64_t)strtoull(argv[3], NULL, 10) * 2654435761ULL;
	if (logins == NULL || allocated == NULL || technicians < 10)
		return 2;
	for (unsigned d = 0; d < days; d++) {
		long long midnight = (START + (long long)d * 86400) * 1000;
		size_t n = 0;

		if (d % 7 >= 5)
			continue;	/* the weekend */
		for (unsigned t = 0; t < technicians; t++) {
			/* A third work on the help desk most of the day,
			 * the others now and then. */
			unsigned count = t % 3 == 0 ? 6 + rnd(3) : 2 + rnd(3);

			for (unsigned k = 0; k < count; k++) {
				long long start = midnight +
					(7 * 3600 + (long long)rnd(10 * 3600)) * 1000 +
					rnd(1000);

				logins[n++] = (struct login){
					start, start + (900 + (long long)rnd(6300)) * 1000,
					(int)t, rnd(8) == 0 };
			}
		}
		qsort(logins, n, sizeof(*logins), by_start);
		for (int p = 0; p < POOLS + 1; p++) {
			/* p == POOLS: the Named technicians. */
			long long slots[1024], since[1024];
			int holder[1024];
			char pool[16];

			snprintf(pool, sizeof(pool), "pool%d", p + 1);
			for (unsigned s = 0; s < licenses && s < 1024; s++)
				slots[s] = since[s] = 0, holder[s] = -1;
			for (size_t i = 0; i < n; i++) {
				const struct login *l = &logins[i];
				char user[16], session[24], second[24];
				unsigned t = (unsigned)l->technician, best = 0;
				long long start = l->start;

				if ((p == POOLS) != (t < named) ||
				    (p < POOLS && (t - named) % POOLS != (unsigned)p))
					continue;
				snprintf(user, sizeof(user), "tech%03u", t);
				snprintf(session, sizeof(session), "%016lx", ++sequence);
				snprintf(second, sizeof(second), "%016lx", ++sequence);
				if (p == POOLS) {
					emit(&day, start, allocated[t] ? "join" : "grant",
					     user, HL_KIND_NAMED, NULL, 0, session,
					     allocated[t] ? "named allocation"
							  : "named license allocated");
					allocated[t] = true;
					emit(&day, l->end, "release", user, HL_KIND_NAMED,
					     NULL, 0, session, "session closed");
					continue;
				}
				for (unsigned s = 1; s < licenses; s++)
					if (slots[s] < slots[best])
						best = s;
				/* Own slot still held: the login joins it; a
				 * login while its own earlier one still waits
				 * is left out. */
				for (unsigned s = 0; s < licenses; s++)
					if (holder[s] == (int)t && slots[s] > start)
						best = s;
				if (holder[best] == (int)t && since[best] > start)
					continue;
				if (slots[best] > start && holder[best] != (int)t) {
					emit(&day, start, "wait", user,
					     HL_KIND_CONCURRENT, pool, 0, session,
					     "all licenses in use");
					if (slots[best] > start + 300 * 1000) {
						emit(&day, start + 300 * 1000, "deny",
						     user, HL_KIND_CONCURRENT, pool, 0,
						     session, "timeout");
						continue;
					}
					start = slots[best];
				}
				if (holder[best] == (int)t && slots[best] > start) {
					emit(&day, start, "join", user,
					     HL_KIND_CONCURRENT, pool, best + 1,
					     session, "joins the slot already held");
					emit(&day, l->end, "release", user,
					     HL_KIND_CONCURRENT, pool, best + 1,
					     session, "session closed");
					if (l->end > slots[best])
						slots[best] = l->end;
					continue;
				}
				emit(&day, start, "grant", user, HL_KIND_CONCURRENT,
				     pool, best + 1, session, "free concurrent license");
				if (l->joins) {
					emit(&day, start + 60000, "join", user,
					     HL_KIND_CONCURRENT, pool, best + 1,
					     second, "joins the slot already held");
					emit(&day, l->end - 60000, "release", user,
					     HL_KIND_CONCURRENT, pool, best + 1,
					     second, "session closed");
				}
				emit(&day, l->end, "release", user, HL_KIND_CONCURRENT,
				     pool, best + 1, session, "session closed");
				slots[best] = l->end;
				since[best] = start;
				holder[best] = (int)t;
			}
		}
		qsort(day.lines, day.count, sizeof(*day.lines), by_ms);
		for (size_t i = 0; i < day.count; i++) {
			fputs(day.lines[i].text, stdout);
			free(day.lines[i].text);
		}
		day.count = 0;
	}
	free(day.lines);
	free(logins);
	free(allocated);
	return fflush(stdout) == 0 ? 0 : 1;
}
