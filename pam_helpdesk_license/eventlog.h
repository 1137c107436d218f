/* SPDX-License-Identifier: BSD-3-Clause */
/* The event log (pam_helpdesk_license(8), "The event log"): one JSON object a line, one write(2). */
#ifndef HL_EVENTLOG_H
#define HL_EVENTLOG_H

#include <stdbool.h>
#include <sys/types.h>
#include <time.h>

#include "jsonl.h"
#include "log.h"
#include "hl_types.h"

/* The events of the event log, one table of names (eventlog.c) for the
 * writers (hl_txn_event) and the readers (the report's eventread.c). */
enum hl_event_type {
	HL_EVENT_GRANT, HL_EVENT_JOIN, HL_EVENT_DENY, HL_EVENT_RELEASE,
	HL_EVENT_REAP, HL_EVENT_ADMIN_RELEASE, HL_EVENT_ASSIGN,
	HL_EVENT_UNASSIGN, HL_EVENT_WAIT, HL_EVENT_ERROR,
	HL_EVENT_TYPES			/* how many */
};

/* "grant", "admin-release", ...; NULL for no type. */
const char *hl_event_name(enum hl_event_type type);
/* The type of the event named name: true and *type, or false. */
bool hl_event_type_of(const char *name, enum hl_event_type *type);

struct hl_event {
	const char *event;	/* hl_event_name */
	const char *user;
	bool has_kind;
	enum hl_kind kind;
	const char *pool;	/* NULL: omitted */
	unsigned slot;		/* 0: omitted */
	const char *service;
	const char *tty;
	const char *rhost;
	const char *host;
	pid_t pid;		/* 0: omitted */
	/* The session's process, as its holding record names it (start 0,
	 * boot_id NULL, audit 0: omitted): enough to tell, from the log
	 * alone, whether the session still runs. */
	unsigned long long start;
	const char *boot_id;
	unsigned audit;
	const char *session;
	const char *reason;
	bool has_idle;		/* a session's end: its tty's idle time */
	unsigned long idle;	/* seconds without input on the tty */
};

/* The JSON line, newline included; NULL on no memory.  ts is wall time. */
char *hl_event_format(const struct hl_event *event, const struct timespec *ts);

/* Appends formatted lines (each ending in a newline) to path with one
 * write(2): created 0600 in a trusted directory (made 0700 if missing),
 * opened O_APPEND|O_NOFOLLOW.  A failure is logged: the login goes on
 * (syslog has the event too). */
void hl_event_append_line(const char *path, const char *line,
			  const struct hl_logger *log);

/* Where the log ends now: its inode and size (both 0 when it does not
 * exist yet). */
void hl_event_log_end(const char *path, unsigned long long *inode,
		      unsigned long long *size);

/* Whether line stands in the log after offset, in the same file (inode):
 * has a line that was to be appended there been appended? */
bool hl_event_log_has(const char *path, unsigned long long inode,
		      unsigned long long offset, const char *line);

/* The longest line hl_event_log_each reads; a longer one is skipped. */
#define HL_EVENT_LINE_MAX 65536

/*
 * Reads the log at path forward, opened as the module opens its files (no
 * link, owner and mode checked), and calls fn with each line that parses
 * as one flat JSON object; malformed and overlong lines are skipped.  fn
 * returns false to stop.  0; 1 when the log does not exist; -1 after
 * logging why it cannot be read.
 */
int hl_event_log_each(const char *path,
		      bool (*fn)(void *arg, const struct hl_jsonl_object *obj),
		      void *arg, const struct hl_logger *log);
/* The same over lines in memory (parsed in place). */
void hl_event_text_each(char *text,
			bool (*fn)(void *arg, const struct hl_jsonl_object *obj),
			void *arg);

#endif
