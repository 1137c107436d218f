/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The store lock's holder out of its user's reach: see privilege.h.
 */
#include "config.h"

#include <errno.h>
#include <pthread.h>
#include <string.h>
#include <unistd.h>

#include "privilege.h"

/* The stop signals a terminal sends to its foreground process group. */
static void stop_signals(sigset_t *set)
{
	sigemptyset(set);
	sigaddset(set, SIGTSTP);
	sigaddset(set, SIGTTIN);
	sigaddset(set, SIGTTOU);
}

int hl_privilege_begin(struct hl_privilege_guard *guard,
		       const struct hl_logger *log)
{
	uid_t real, effective, saved;
	sigset_t stops;

	memset(guard, 0, sizeof(*guard));
	/* Only this thread's mask: in a threaded caller, another thread
	 * that does not block them may still take a terminal's stop. */
	stop_signals(&stops);
	guard->masked = pthread_sigmask(SIG_BLOCK, &stops, &guard->mask) == 0;

	if (getresuid(&real, &effective, &saved) != 0) {
		hl_log(log, LOG_WARNING, "cannot read this process's uids: %s",
		       strerror(errno));
		return -1;
	}
	if (effective != 0 || (real == 0 && saved == 0))
		return 0;
	/* glibc's setresuid changes the uids of every thread of the process
	 * (POSIX says so), not just this one's: the whole process is out of
	 * the user's reach until hl_privilege_end. */
	if (setresuid(0, (uid_t)-1, 0) != 0) {
		hl_log(log, LOG_WARNING, "cannot make the real uid 0 while "
		       "the store lock is held (uid %lu may stop this process "
		       "holding it): %s", (unsigned long)real,
		       strerror(errno));
		return -1;
	}
	guard->raised = true;
	guard->real = real;
	guard->saved = saved;
	return 0;
}

int hl_privilege_end(struct hl_privilege_guard *guard,
		     const struct hl_logger *log)
{
	int rc = 0;

	if (guard->raised) {
		/* The effective uid is still 0: this only fails if the
		 * process lost CAP_SETUID meanwhile. */
		if (setresuid(guard->real, (uid_t)-1, guard->saved) != 0) {
			hl_log(log, LOG_ERR, "cannot give back the real uid "
			       "%lu and saved uid %lu: %s",
			       (unsigned long)guard->real,
			       (unsigned long)guard->saved, strerror(errno));
			rc = -1;
		}
		guard->raised = false;
	}
	/* A stop signal that came meanwhile is delivered now, with the lock
	 * released. */
	if (guard->masked)
		pthread_sigmask(SIG_SETMASK, &guard->mask, NULL);
	guard->masked = false;
	return rc;
}
