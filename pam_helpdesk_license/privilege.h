/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Keeps the holder of the store lock out of reach of the user who started
 * it.  su and sudo run the module with effective uid 0 but keep the
 * caller's uid as their real uid, and kill(2) lets a user signal a
 * process whose real or saved uid is theirs: a SIGSTOP while it holds the
 * lock would block every login until root steps in.  For the time a lock
 * is held, the guard makes the real and saved uid 0 too (kill then refuses
 * the user) and blocks the stop signals a terminal sends (SIGTSTP,
 * SIGTTIN, SIGTTOU: the kernel sends those whatever the uids).
 *
 * One guard per lock held, on the caller's stack: no global state.
 */
#ifndef HL_PRIVILEGE_H
#define HL_PRIVILEGE_H

#include <signal.h>
#include <stdbool.h>
#include <sys/types.h>

#include "log.h"

struct hl_privilege_guard {
	bool raised;		/* real and saved uid were made 0 */
	uid_t real, saved;	/* the uids to put back */
	bool masked;		/* the stop signals were blocked */
	sigset_t mask;		/* the signal mask to put back */
};

/* Call before taking the lock, and hl_privilege_end after releasing it,
 * whatever begin returned.  The uids are left alone when the effective
 * uid is not 0 (no privilege to protect) or the real and saved uids are 0
 * already (sshd, the admin tool run by root).  0, or -1 when the uids
 * could not be changed (logged; the caller goes on unprotected, as
 * before). */
int hl_privilege_begin(struct hl_privilege_guard *guard,
		       const struct hl_logger *log);
/* Call after the lock is released: puts back exactly what begin changed.
 * 0, or -1 (logged) when the uids could not be put back. */
int hl_privilege_end(struct hl_privilege_guard *guard,
		     const struct hl_logger *log);

#endif
