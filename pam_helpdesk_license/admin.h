/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * What the admin tool does to the store: list, release, reap, assign and
 * unassign.  Part of the core, on the same bookkeeping as session open and
 * close, so the tool and the module never disagree.
 *
 * Each command takes an hl_request naming the technician it is about (and
 * the tool's own service and tty, for the logs) and fills an hl_decision:
 * HL_GRANTED when done, HL_DENIED with a message when refused (nothing
 * held, inside min_assignment, ...), HL_USER_UNKNOWN, HL_STORE_FAILED.
 */
#ifndef HL_ADMIN_H
#define HL_ADMIN_H

#include <stdbool.h>

#include "conf.h"
#include "hl_types.h"
#include "record.h"

/* One holding of the store, as listed. */
struct hl_listed {
	char user[HL_USER_MAX + 1];
	struct hl_holding holding;
	bool *stale;		/* per session: its process is gone */
	time_t *input;		/* per session: its tty's last input, 0
				   when it has none (hl_session_last_input) */
	bool eligible;		/* named: still named-eligible; else true */
	long idle;		/* seconds without input on every tty of
				   its sessions (hl_holding_idle); -1: a
				   session without a tty, or Named */
	bool released;		/* sessions that go on after an admin
				   released their slot (released/USER):
				   they hold no license; pool and slot are
				   the released ones, only live sessions */
};

/* One technician waiting in a pool's line. */
struct hl_listed_waiter {
	char pool[HL_POOL_NAME_MAX + 1];
	size_t place;			/* 1: first in that line */
	struct hl_waiter waiter;	/* session.since: waiting since */
	bool stale;			/* its process is gone */
	bool ended;			/* its wait is over (waiter.until) */
};

#define HL_UNMATCHED_MAX 16

struct hl_store_records;
struct hl_txn;

/* Copies of the records under each prefix (NULL-terminated), so that the
 * store may change while they are worked on: 0, or -1 with the failure
 * in txn.  reconcile.c, with what the admin commands share with it. */
int hl_txn_copy_records(struct hl_txn *txn, const char *const *prefixes,
			struct hl_store_records *copies);
/* The user of a key "PREFIX/USER". */
const char *hl_record_user(const char *key);
/* The place of a pool in the configuration; pool_count when unknown. */
size_t hl_pool_rank(const struct hl_config *cfg, const char *pool);

/* What a reconciliation of the allocations changed (hl_admin_reconcile). */
struct hl_reconciled {
	unsigned records_dropped;	/* records that do not decode */
	unsigned slots_freed;		/* slot records no holder claims */
	unsigned slots_restored;	/* a holder's empty slot record,
					   written back */
	unsigned holders_moved;		/* holders whose slot another held,
					   moved to a free slot */
	unsigned holders_dropped;	/* holders with no slot to have */
	unsigned counters_fixed;	/* pool and named counters recounted */
	unsigned sessions_restored;	/* live sessions no holder record
					   held, restored from the event log */
	unsigned over_allocated;	/* of them, kept beyond the licenses
					   for want of a free slot */
	/* Whose license records were lost while they may be logged in: a
	 * slot freed for want of its holder record, a holder dropped for
	 * want of a slot, sessions dropped for want of their Named
	 * allocation.  The first HL_UNMATCHED_MAX are listed. */
	unsigned unmatched_count;
	struct hl_unmatched {
		char user[HL_USER_MAX + 1];
		char pool[HL_POOL_NAME_MAX + 1];	/* "" for Named */
		unsigned slot;
	} unmatched[HL_UNMATCHED_MAX];
};

struct hl_listing {
	struct hl_listed *items;	/* concurrent by pool and slot, then
					   named by user */
	size_t count, allocated;
	struct hl_listed_waiter *waiters;	/* by pool (config order),
						   then place */
	size_t waiter_count, waiters_allocated;
	struct hl_reconciled reconciled;	/* reap: what it set right */
};

void hl_listing_free(struct hl_listing *listing);

/* Everything held, who waits in which line, and the live sessions of
 * released slots (items marked released; req->user is not used).  A
 * missing store lists empty. */
int hl_admin_list(const struct hl_env *env, const struct hl_request *req,
		  struct hl_listing *out, struct hl_decision *result);
/* hl_admin_list for what counts need (status): a session's tty is read
 * only in a concurrent pool with an idle_timeout, where idle time counts;
 * elsewhere its input is 0 and its holding's idle -1. */
int hl_admin_list_counts(const struct hl_env *env, const struct hl_request *req,
			 struct hl_listing *out, struct hl_decision *result);

/* Frees req->user's concurrent slot (only in pool, when not NULL); the
 * sessions go on, and their close then finds nothing to give back.  The
 * live ones are kept in released/USER for list until reap finds them
 * gone.  terminate: those sessions (of this release and of earlier ones)
 * are ended after the commit (hl_session_end: a line on their ttys,
 * SIGHUP, SIGKILL after the grace); with nothing held, only that. */
int hl_admin_release(const struct hl_env *env, const struct hl_request *req,
		     const char *pool, bool terminate,
		     struct hl_decision *result);

/* Drops every stale session, the slots left without a session, the
 * released sessions whose processes are gone (silently: their end was
 * logged by the release), and the
 * waiters of the configured pools' lines whose process is gone or whose
 * wait is over, then reconciles the allocations (hl_admin_reconcile) in
 * the same transaction; *reaped lists what was dropped (its sessions'
 * stale flags all true; its waiters stale or ended) and, in
 * reaped->reconciled, what the reconciliation changed. */
int hl_admin_reap(const struct hl_env *env, const struct hl_request *req,
		  struct hl_listing *reaped, struct hl_decision *result);

/*
 * Makes the allocation records agree, under the exclusive lock in one
 * transaction, after a repair brought back an old record or left one
 * out.  A record of the allocations that does not decode is deleted.  In
 * each configured pool: a slot record its holder record does not
 * claim is freed (reap event "slot without holder record"); a holder
 * record its slot record does not name gets that slot written back when
 * it is empty and within the pool's licenses, else is moved to a free
 * slot of the pool, else dropped (reap event per session, "holder without
 * slot"); the pool counter is recounted from the slot records.  The named
 * counter is recounted from the named/USER records.  Holder records of a
 * pool no longer configured are left as they are.  A consistent store is
 * not written.  *done says what changed.
 */
int hl_admin_reconcile(const struct hl_env *env, const struct hl_request *req,
		       struct hl_reconciled *done, struct hl_decision *result);

/* Whether user belongs to pool (its users or groups), as a login decides
 * it: 1, 0 (an unknown user too), or -1 when NSS could not say (logged). */
int hl_user_in_pool(const struct hl_env *env, const struct hl_pool *pool,
		    const char *user);

/* Allocates a Named license to req->user, who must be named-eligible. */
int hl_admin_assign(const struct hl_env *env, const struct hl_request *req,
		    struct hl_decision *result);

/* Frees req->user's Named license; inside min_assignment only with force. */
int hl_admin_unassign(const struct hl_env *env, const struct hl_request *req,
		      bool force, struct hl_decision *result);

#endif
