/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * What the store holds, and how it is written down.  Keys (schema 1):
 *
 *   schema               "1"
 *   named                counter: "used N"
 *   named/USER           a Named allocation: holding record, kind named
 *   pool/POOL            counter: "used N\nnext N\ntop N"
 *   slot/POOL/N          the user holding slot N of POOL: "USER"
 *   holder/USER          the concurrent slot USER holds: holding record
 *   line/POOL            the technicians waiting for a slot of POOL, in
 *                        arrival order: a line record (absent: nobody)
 *   outbox               the event-log lines of the last write, committed
 *                        with it: "INODE SIZE" of the log, then the lines
 *                        (see allocation.c)
 *
 * A holding record is lines of space-separated fields, each field
 * percent-encoded (see hl_field_encode), so that no value from outside can
 * add a field or a line:
 *
 *   kind named|concurrent
 *   pool POOL            (concurrent only)
 *   slot N               (concurrent only)
 *   since EPOCH
 *   session ID PID START BOOT_ID SINCE SERVICE TTY RHOST HOST [AUDIT]
 *                        (0..n; AUDIT, the audit session id of the login,
 *                        only when it has one of its own)
 *
 * A line record is one line per waiter, first come first:
 *
 *   waiter USER UNTIL ID PID START BOOT_ID SINCE SERVICE TTY RHOST HOST [AUDIT]
 *
 * USER percent-encoded; UNTIL the time (epoch seconds) its wait ends: past
 * it, whoever writes the line next drops the waiter, so that a waiter
 * stopped (SIGSTOP) holds the line up no longer than its own wait; the
 * rest as a session line: the session the waiter will open (its id is the
 * one of its grant), SINCE the time it began to wait.
 *
 * Decoders are strict: anything else is a damaged record.
 */
#ifndef HL_RECORD_H
#define HL_RECORD_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>
#include <time.h>

#include "hl_types.h"

struct hl_session {
	char id[HL_SESSION_ID_LEN + 1];
	pid_t pid;
	unsigned long long start;	/* process start, clock ticks since boot */
	char boot_id[HL_BOOT_ID_LEN + 1];
	unsigned audit_session;		/* 0: none (see proc.h) */
	time_t since;
	char *service;			/* "" when unknown, never NULL */
	char *tty;
	char *rhost;
	char *host;
};

struct hl_holding {
	enum hl_kind kind;
	char pool[HL_POOL_NAME_MAX + 1];	/* concurrent only */
	unsigned slot;				/* concurrent only, from 1 */
	time_t since;
	struct hl_session *sessions;
	size_t session_count;
};

/* NULL on allocation failure; the caller frees the result. */
char *hl_holding_encode(const struct hl_holding *holding);
/* 0, or -1 when text is not a well-formed record (out is then empty). */
int hl_holding_decode(const char *text, struct hl_holding *out);
void hl_holding_free(struct hl_holding *holding);

/* Appends a deep copy of session; 0 or -1 (no memory). */
int hl_holding_add_session(struct hl_holding *holding,
			   const struct hl_session *session);
/* Removes sessions[index]. */
void hl_holding_remove_session(struct hl_holding *holding, size_t index);
void hl_session_free(struct hl_session *session);

/* A waiting line (line/POOL): who waits for a slot, in arrival order. */
struct hl_waiter {
	char user[HL_USER_MAX + 1];
	time_t until;			/* when the wait ends */
	struct hl_session session;	/* since: when the wait began */
};

struct hl_line {
	struct hl_waiter *waiters;
	size_t count;
};

/* NULL (errno EINVAL) for an empty line: its key is deleted instead. */
char *hl_line_encode(const struct hl_line *line);
int hl_line_decode(const char *text, struct hl_line *out);
/* Appends a waiter whose wait ends at until (a deep copy of session); 0
 * or -1 (no memory). */
int hl_line_add(struct hl_line *line, const char *user, time_t until,
		const struct hl_session *session);
void hl_line_remove(struct hl_line *line, size_t index);
void hl_line_free(struct hl_line *line);

/* Counter records: "used N\nnext N\ntop N" (next and top for pools). */
struct hl_counter {
	unsigned used;		/* slots or allocations in force */
	unsigned next;		/* where to look for a free slot first */
	unsigned top;		/* highest slot number that may be taken */
};
char *hl_counter_encode(const struct hl_counter *counter, bool pool);
int hl_counter_decode(const char *text, struct hl_counter *out);

/* Key builders: false when the result would not fit. */
bool hl_key_named(char *buf, size_t len, const char *user);
bool hl_key_holder(char *buf, size_t len, const char *user);
/* released/USER: the sessions that go on without the slot an
 * administrator released (admin.c); logins never read it. */
bool hl_key_released(char *buf, size_t len, const char *user);
bool hl_key_pool(char *buf, size_t len, const char *pool);
bool hl_key_slot(char *buf, size_t len, const char *pool, unsigned slot);
bool hl_key_line(char *buf, size_t len, const char *pool);
#define HL_KEY_MAX (HL_USER_MAX + HL_POOL_NAME_MAX + 32)

/* Percent-encoding of one field: bytes outside [A-Za-z0-9._:@+=,/-] become
 * %XX; "" becomes "-" (and "-" itself "%2D").  NULL on no memory. */
char *hl_field_encode(const char *value);
/* Strict inverse; NULL on malformed input or no memory. */
char *hl_field_decode(const char *text, size_t len);

#endif
