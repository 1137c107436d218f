/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * What the reliability programs (stress, crash) share: a world of
 * technicians from nss_wrapper, the config they run against, and the
 * checks of a store: GDBM's own consistency check and the invariants of
 * the allocations (doc/STORE.md, record.h).
 *
 * The programs drive the core directly (license.h, admin.h), each session
 * opened by a real process, so that a SIGKILL leaves what a killed sshd
 * would leave.
 */
#ifndef HL_REL_H
#define HL_REL_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>

#include "conf.h"
#include "log.h"

#define REL_POOL_USERS 16	/* technicians per pool */
#define REL_NAMED_USERS 4
#define REL_MAX_LICENSES 3	/* of either pool */

struct rel_world {
	char dir[PATH_MAX];		/* private temporary directory */
	char store[PATH_MAX + 32];
	char runtime[PATH_MAX + 32];
	char events[PATH_MAX + 32];
	/* pool "one": 1 license; pool "three": 3 licenses */
	char pool_users[2][REL_POOL_USERS][16];
	char *pool_user_ptrs[2][REL_POOL_USERS];
	char named_users[REL_NAMED_USERS][16];
	char *named_user_ptrs[REL_NAMED_USERS];
	struct hl_pool pools[2];
	struct hl_config cfg;
};

/* Call first in main(): makes the private directory with a passwd and a
 * group file of the technicians, and re-executes the program under
 * nss_wrapper; after that, fills world.  false (after saying why) when
 * this cannot be done. */
bool rel_world_init(struct rel_world *world, char **argv, const char *name);
/* Removes the private directory (unless HL_REL_KEEP is set). */
void rel_world_remove(const struct rel_world *world);

/* The result of a check of the store. */
enum rel_verdict {
	REL_SOUND,		/* opens, GDBM's check passes, invariants hold */
	REL_DAMAGED,		/* the store reports itself damaged */
	REL_INCONSISTENT,	/* sound, but the allocations disagree */
	REL_VIOLATION,		/* the store does not open, or fails GDBM's
				 * check without saying it is damaged */
};

struct rel_holdings {
	unsigned slots[2];	/* slot keys per pool */
	unsigned holders[2];	/* holder records per pool */
	unsigned sessions;	/* sessions in all records */
	unsigned named;		/* Named allocations */
	unsigned waiters;	/* in the lines */
};

/*
 * Under the store's shared lock (waiting up to lock_timeout): reads every
 * record through the store, checks the invariants, and runs GDBM's own
 * check on the file.  why says what is wrong unless REL_SOUND.
 */
enum rel_verdict rel_check_store(const struct rel_world *world,
				 struct rel_holdings *held, char *why,
				 size_t len);

/* Whether user's holder or Named record has the session session_id:
 * every session granted must be recorded (read under the shared lock). */
bool rel_session_recorded(const struct rel_world *world, const char *user,
			  const char *session_id);

/* GDBM's own check of the file at path: opened with GDBM_XVERIFY, not in
 * need of recovery, free lists verified (gdbm_avail_verify), every key
 * read back.  A missing file passes.  0, or -1 with why. */
int rel_gdbm_check(const char *path, char *why, size_t len);

/* Counts messages by priority; prints the first few errors to stderr. */
struct rel_log_counts {
	unsigned long errors;
	unsigned long printed;
};
void rel_logger(struct hl_logger *log, struct rel_log_counts *counts);

/* Zeroed memory shared with the processes forked after; NULL (after
 * saying why) on failure. */
void *rel_shared(size_t size);

/* Seconds on the monotonic clock. */
double rel_now(void);

#endif
