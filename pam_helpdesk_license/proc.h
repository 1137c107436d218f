/* SPDX-License-Identifier: BSD-3-Clause */
/* Which process opened a session, and whether it still runs. */
#ifndef HL_PROC_H
#define HL_PROC_H

#include <stdbool.h>
#include <sys/types.h>

#include "record.h"

/* proc_root is "/proc" in production. 0 or -1. */
int hl_process_identify(const char *proc_root, pid_t pid,
			struct hl_process *out);
/* Reads again the one part of an identified process that may change while
 * it runs: its audit session, which pam_loginuid begins between the PAM
 * calls of a login. */
void hl_process_audit_refresh(const char *proc_root, struct hl_process *p);
int hl_boot_id(const char *proc_root, char out[HL_BOOT_ID_LEN + 1]);

/* Reads proc_root/PID/NAME, a small file, into buf (NUL-terminated):
 * its length, or -1. */
int hl_proc_read(const char *proc_root, pid_t pid, const char *name,
		 char *buf, size_t len);
/* The start time of pid (field 22 of its stat): 0, or -1 when it is gone,
 * a zombie, or its stat cannot be read. */
int hl_proc_start(const char *proc_root, pid_t pid, unsigned long long *start);
/* The audit session id of pid; 0 when it has none or it cannot be read. */
unsigned hl_proc_audit_session(const char *proc_root, pid_t pid);

/* The controlling tty of pid (field 7 of its stat) and the user who
 * logged in to its session (its login uid): 0, or -1 when it has no
 * controlling tty or login uid, is gone, a zombie, or cannot be read. */
int hl_proc_tty(const char *proc_root, pid_t pid, dev_t *tty,
		uid_t *login_uid);

/* Calls fn for each process of proc_root, until it returns false.  0, or
 * -1 when proc_root cannot be read. */
int hl_proc_each(const char *proc_root, bool (*fn)(void *arg, pid_t pid),
		 void *arg);

/* A session is stale when it belongs to another boot, or its process is
 * gone, a zombie, or a different process under a reused pid, and no live
 * process is left of its audit session (when it has one). */
bool hl_session_stale(const char *proc_root, const char *boot_id,
		      const struct hl_session *session);

/* The audit sessions of the live processes, read from /proc once: for
 * checking many sessions in one go, where a walk of /proc for each
 * session whose process is gone would cost the square of their number.
 * Zeroed before its first use; hl_audit_scan_free after. */
struct hl_audit_scan {
	unsigned *ids;		/* sorted */
	size_t count, allocated;
	bool done;		/* /proc read already */
	bool unknown;		/* /proc could not be read: every one lives */
};

void hl_audit_scan_free(struct hl_audit_scan *scan);

/* hl_session_stale, with the audit sessions from scan (read at its first
 * need) instead of a walk of /proc of its own. */
bool hl_session_stale_scan(const char *proc_root, const char *boot_id,
			   const struct hl_session *session,
			   struct hl_audit_scan *scan);

/* A process holding a lock, as a lock timeout names it. */
struct hl_lock_holder {
	pid_t pid;
	char command[80];	/* its /proc/PID/comm, printable; "" if gone */
};

/* The first process proc_root/locks shows holding a flock on the file
 * dev:ino (waiters are not holders).  0, or -1 when there is none (the
 * lock was released meanwhile) or the table cannot be read. */
int hl_flock_holder(const char *proc_root, dev_t dev, ino_t ino,
		    struct hl_lock_holder *out);

#endif
