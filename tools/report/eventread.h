/* SPDX-License-Identifier: BSD-3-Clause */
/* Reading the event log (pam_helpdesk_license(8), "The event log") back for reports: the log and
 * its rotated files, plain or gzip-compressed, into events in time order.
 * Strings are interned: an event names its user, pool, session and reason
 * by index into the reader's tables. */
#ifndef HL_EVENTREAD_H
#define HL_EVENTREAD_H

#include <stdbool.h>
#include <stddef.h>

#include "eventlog.h"
#include "jsonl.h"

/* The writers' types (eventlog.h), under the names the report uses. */
enum hl_logevent_type {
	HL_LOGEV_GRANT = HL_EVENT_GRANT, HL_LOGEV_JOIN = HL_EVENT_JOIN,
	HL_LOGEV_DENY = HL_EVENT_DENY, HL_LOGEV_RELEASE = HL_EVENT_RELEASE,
	HL_LOGEV_REAP = HL_EVENT_REAP,
	HL_LOGEV_ADMIN_RELEASE = HL_EVENT_ADMIN_RELEASE,
	HL_LOGEV_ASSIGN = HL_EVENT_ASSIGN, HL_LOGEV_UNASSIGN = HL_EVENT_UNASSIGN,
	HL_LOGEV_WAIT = HL_EVENT_WAIT, HL_LOGEV_ERROR = HL_EVENT_ERROR,
};

enum hl_logevent_kind { HL_LOGEV_NO_KIND, HL_LOGEV_NAMED, HL_LOGEV_CONCURRENT };

#define HL_NONE (-1)		/* an index for a field the line omits */

struct hl_logevent {
	long long ms;		/* milliseconds since the epoch, UTC */
	unsigned order;		/* place in the files read, for equal times */
	unsigned char type;	/* enum hl_logevent_type */
	unsigned char kind;	/* enum hl_logevent_kind */
	int user;		/* index into names, never HL_NONE */
	int pool;		/* index into names, or HL_NONE */
	int session;		/* index into sessions, or HL_NONE */
	int reason;		/* index into names, or HL_NONE */
	int idle;		/* a session's end: seconds its tty had had
				   no input ("idle"); HL_NONE: unknown */
};

/* Interned strings: index <-> string. */
struct hl_strtab {
	char **strings;
	size_t count, cap;
	int *slots;		/* open addressing: index + 1, 0 empty */
	size_t nslots;
};

int hl_strtab_find(const struct hl_strtab *tab, const char *text);	/* -1: absent */

/* Why a line was skipped.  A field that is absent or null is never a
 * cause: a log re-serialised by a shipper may write null for absent. */
enum hl_skip_cause {
	HL_SKIP_NOT_JSON,	/* not one flat JSON object, or cut short */
	HL_SKIP_TOO_LONG,	/* longer than any event line */
	HL_SKIP_TIME,		/* time missing or not an ISO 8601 time */
	HL_SKIP_EVENT,		/* event missing or of no known type */
	HL_SKIP_USER,		/* user missing or not a valid user name */
	HL_SKIP_FIELD,		/* a known field of the wrong type or form */
	HL_SKIP_NO_MEMORY,
	HL_SKIP_CAUSES
};

/* The cause as one word ("not_json", ...), for reports and metrics. */
const char *hl_skip_cause_name(enum hl_skip_cause cause);

struct hl_eventlog {
	struct hl_logevent *events;	/* sorted by ms, then order */
	size_t count, cap;
	struct hl_strtab names;		/* users, pools and reasons */
	struct hl_strtab sessions;
	unsigned long lines;		/* lines read */
	unsigned long skipped;		/* damaged or foreign lines */
	unsigned long skipped_by[HL_SKIP_CAUSES];	/* the same, by cause */
	unsigned files;			/* files read */
};

/*
 * Reads path and its rotated files in the same directory (path.N,
 * path.N.gz, path-DATE, path-DATE.gz; oldest first), each opened
 * O_NOFOLLOW|O_CLOEXEC and checked like every file the tool trusts.
 * A line that is not an event is skipped and counted, never fatal.  A
 * missing log reads as empty.  0, or -1 with why filled in (no memory,
 * an unreadable directory).  Problems with single files are warned about
 * through warn.
 */
int hl_eventlog_read(const char *path, struct hl_eventlog *log,
		     void (*warn)(const char *message), char *why, size_t len);
/* The same, with the events added as read: several logs read this way
 * are put in order once, by hl_eventlog_sort after the last. */
int hl_eventlog_read_unsorted(const char *path, struct hl_eventlog *log,
			      void (*warn)(const char *message), char *why,
			      size_t len);

/* Adds one line (no newline needed) to log; false when it is skipped. */
bool hl_eventlog_add_line(struct hl_eventlog *log, char *line, size_t len);

/*
 * Parses one line in place into *ev (its strings interned in log) and
 * *fields (all of the line's fields, for a caller that shows more than
 * an event holds), without adding it to log's events or counts.  Returns
 * true, or false with *cause set.
 */
bool hl_eventlog_parse_line(struct hl_eventlog *log, char *line, size_t len,
			    struct hl_logevent *ev,
			    struct hl_jsonl_object *fields,
			    enum hl_skip_cause *cause);

/* The name of an event type ("grant", ...), or NULL. */
const char *hl_logevent_name(unsigned type);

/* Sorts the events by time, keeping the read order of equal times. */
void hl_eventlog_sort(struct hl_eventlog *log);

void hl_eventlog_free(struct hl_eventlog *log);

/*
 * An ISO 8601 time: YYYY-MM-DD, or YYYY-MM-DDTHH:MM[:SS[.fraction]] with
 * Z, +HH:MM or -HH:MM (no zone: UTC).  *ms since the epoch; *date_only
 * when only a date was given.  false when malformed.
 */
bool hl_parse_iso_time(const char *text, long long *ms, bool *date_only);

#endif
