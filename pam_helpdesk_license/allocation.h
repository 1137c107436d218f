/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Allocations in the store: the bookkeeping that session open and close
 * (license.c) and the admin commands (admin.c) share.  Internal to the
 * core.
 *
 * An hl_txn is one store transaction on behalf of one technician: it holds
 * the open store, what NSS says of the technician, and the events to log
 * once the transaction is committed.  Functions return 0, or -1 after
 * hl_txn_failed has filled in txn->out.
 */
#ifndef HL_ALLOCATION_H
#define HL_ALLOCATION_H

#include <stdbool.h>
#include <sys/types.h>

#include "conf.h"
#include "eventlog.h"
#include "hl_types.h"
#include "privilege.h"
#include "record.h"
#include "store.h"

#define MAX_GROUPS 1024

/* The technician a run is about: name and Unix groups. */
struct hl_who {
	const struct hl_env *env;	/* its NSS and logger */
	const char *user;
	gid_t gid;			/* primary group */
	gid_t gids[MAX_GROUPS];
	int ngids;
};

/* An event waiting for the commit, already formatted. */
struct hl_queued_event {
	int priority;
	char *syslog_text;
	char *json_line;
};

/* Sessions to tell (a warning) or end (their license went to somebody
 * else) once the transaction is committed and the lock given back. */
struct hl_ending {
	struct hl_holding holding;	/* the sessions, deep copies */
	char *message;			/* for their ttys */
	bool end;			/* false: only tell */
};

struct hl_txn {
	const struct hl_env *env;
	const struct hl_request *req;
	struct hl_decision *out;
	struct hl_store *store;		/* runtime: slots, holders, sessions,
					 * lines; its lock is taken first */
	struct hl_store *durable;	/* Named allocations; opened with the
					 * runtime file, or at its first use */
	bool durable_first;		/* open it with the runtime file */
	bool recheck;			/* found changed at its first use:
					 * one more try opens it first */
	bool legacy;			/* durable is a 0.2 store, read as it
					 * is (a writer migrates it first) */
	bool durable_changed;		/* a Named record was written */
	bool damaged;			/* failed on damage: a repair may help */
	bool repaired;			/* begin repaired the store once */
	bool replay;			/* a rebuild may have lost sessions:
					 * reconcile replays the event log */
	struct hl_privilege_guard privilege;	/* while a store is open */
	bool take;			/* session open/close, not a dry run */
	bool release;			/* a session's close: it only gives
					 * back (hl_store_commit_release) */
	bool quiet;			/* a preview: log nothing */
	bool walk;			/* a dry run that reads every record
					 * (the admin tool's list): the files
					 * are mapped (HL_STORE_READ_MAPPED) */
	struct hl_who who;
	struct hl_queued_event *events;
	size_t event_count;
	char *carried;			/* outbox lines the log still lacks */
	time_t waiting_since;		/* a waiter's look: when its wait
					 * began; 0 for a newcomer */
	char idle_holder[HL_USER_MAX + 1];	/* whose idle license this
						 * decision takes; "" none */
	struct hl_ending *endings;
	size_t ending_count;
};

/* Opens the store for a txn whose env, req, out and take are filled in:
 * shared for a dry run, exclusive when take.  A damaged store is repaired
 * there and then (once per txn), and a 0.2 store migrated by a writer. */
int hl_txn_begin(struct hl_txn *txn);
/* After a txn that failed on damage (txn->damaged) and was ended: repairs
 * the store as hl_txn_begin would.  0 when a new try may succeed. */
int hl_txn_repair(struct hl_txn *txn);
/* ok: commits (when take).  Then closes the store and logs the queued
 * events if the transaction went through.  0, or -1 when it did not. */
int hl_txn_end(struct hl_txn *txn, bool ok);

void hl_set_text(char *dst, size_t len, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* Local time, "YYYY-MM-DD HH:MM". */
void hl_format_time(time_t when, char *buf, size_t len);
/* "1h 2m 3s", "5m 0s", "30s". */
void hl_format_duration(unsigned seconds, char *buf, size_t len);

/* NSS (env->getpwnam): 0, 1 when the user is unknown, -1 when NSS could
 * not say (logged at LOG_ERR): an error is never "unknown". */
int hl_who_lookup(const struct hl_env *env, struct hl_who *who,
		  const char *user);
/* 1: who is one of users or in one of groups; 0: not; -1: a group could
 * not be looked up (logged). */
int hl_who_in(const struct hl_who *who, const struct hl_names *users,
	      const struct hl_names *groups);
int hl_named_eligible(const struct hl_config *cfg, const struct hl_who *who);
/* Looks user up and tells hl_named_eligible's answer; an unknown user is
 * not eligible (0). */
int hl_user_named_eligible(const struct hl_env *env, const char *user);
/* The decision after a lookup error: on_error decides. */
void hl_who_failed(struct hl_decision *out);

/* Queues an event for syslog and the event log.  session NULL: the fields
 * of the request and this process. */
void hl_txn_event(struct hl_txn *txn, int priority, enum hl_event_type event,
		  const char *user, enum hl_kind kind, const char *pool,
		  unsigned slot, const struct hl_session *session,
		  const char *reason);
/* The same for the end of a session: with the time its tty has had no
 * input ("idle"), when it has a tty. */
void hl_txn_event_end(struct hl_txn *txn, int priority,
		      enum hl_event_type event, const char *user,
		      enum hl_kind kind, const char *pool, unsigned slot,
		      const struct hl_session *session, const char *reason);
/* The same for an event of no kind (a refusal of a user who holds no
 * license at all): "kind" is left out. */
void hl_txn_event_no_kind(struct hl_txn *txn, int priority,
			  enum hl_event_type event, const char *user,
			  const char *reason);

/* Queues a line for syslog only, logged with the events after the
 * commit: a change that is no event of the event log (pam_helpdesk_license(8), "The event log"). */
void hl_txn_note(struct hl_txn *txn, int priority, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

void hl_txn_failed(struct hl_txn *txn, int rc, const char *what);
/* A record that does not decode: logged (repair is the way out) and the
 * transaction failed with HL_STORE_DAMAGED. */
void hl_txn_damaged(struct hl_txn *txn, const char *key);
/* released/USER (record.h): the sessions that go on after an admin
 * released user's slot, without those whose processes are gone;
 * *changed when some were dropped, or the record did not decode (it is
 * then empty: no license hangs on it).  Empty when absent. */
int hl_txn_load_released(struct hl_txn *txn, const char *user,
			 struct hl_holding *released, bool *changed);
/* Writes it back, or deletes it when no session is left. */
int hl_txn_save_released(struct hl_txn *txn, const char *user,
			 const struct hl_holding *released);
int hl_txn_load_holding(struct hl_txn *txn, const char *key,
			struct hl_holding *holding, bool *found);
int hl_txn_save_holding(struct hl_txn *txn, const char *key,
			const struct hl_holding *holding);
int hl_txn_load_counter(struct hl_txn *txn, const char *key,
			struct hl_counter *counter);
int hl_txn_save_counter(struct hl_txn *txn, const char *key,
			const struct hl_counter *counter, bool pool);
int hl_txn_delete(struct hl_txn *txn, const char *key);
/* hl_store_foreach over the file that holds the keys under prefix;
 * named/USER records come with their sessions (see record.h). */
int hl_txn_foreach(struct hl_txn *txn, const char *prefix,
		   int (*fn)(void *arg, const char *key, const char *value),
		   void *arg);
/* The user holding a slot; "" when it is free. */
int hl_txn_load_slot(struct hl_txn *txn, const char *pool, unsigned slot,
		     char *user, size_t len);
/* Names user in slot N of pool. */
int hl_txn_save_slot(struct hl_txn *txn, const char *pool, unsigned slot,
		     const char *user);

/* A new session of the request, opened by env->self. */
int hl_txn_new_session(struct hl_txn *txn, struct hl_session *session);
bool hl_txn_session_stale(const struct hl_txn *txn,
			  const struct hl_session *session);
/* Drops (and logs as reaped) the stale sessions of a holding. */
bool hl_txn_prune_stale(struct hl_txn *txn, const char *user,
			struct hl_holding *holding);

/* Fills txn->out with the grant and, for a session open, its session id
 * and the event (grant, or join when joined). */
void hl_txn_granted(struct hl_txn *txn, enum hl_kind kind, const char *pool,
		    unsigned slot, bool joined,
		    const struct hl_session *session, const char *reason);
/* Adds the session to an existing holding record at key (its stale
 * sessions dropped) and stages it. */
int hl_txn_join(struct hl_txn *txn, const char *key,
		struct hl_holding *holding, const struct hl_session *session);

/* Queues the sessions of holding (copied) to be told message (end
 * false), or ended with it (hl_session_end), once the transaction is
 * committed and the lock given back.  message is taken over (NULL: no
 * memory).  0, or -1 after hl_txn_failed. */
int hl_txn_queue_ending(struct hl_txn *txn, const struct hl_holding *holding,
			char *message, bool end);

/* Gives back user's concurrent slot. */
int hl_txn_free_slot(struct hl_txn *txn, const char *user,
		     const struct hl_holding *holding);
/* The waiting line of a pool; empty when nobody waits. */
int hl_txn_load_line(struct hl_txn *txn, const char *pool,
		     struct hl_line *line);
/* Stages it, or deletes its key when it is empty. */
int hl_txn_save_line(struct hl_txn *txn, const char *pool,
		     const struct hl_line *line);
/* Why waiter no longer counts: "abandoned" (its process is gone),
 * "timeout" (its wait ended); NULL while it waits. */
const char *hl_txn_waiter_gone(const struct hl_txn *txn,
			       const struct hl_waiter *waiter);
/* Drops the waiters gone (above), each logged as a deny with that reason,
 * and copies them into dropped unless it is NULL; true if any. */
bool hl_txn_prune_line(struct hl_txn *txn, const char *pool,
		       struct hl_line *line, struct hl_line *dropped);
/* Makes the allocation records agree (admin.c; see hl_admin_reconcile);
 * with txn->replay, the live sessions lost are restored first. */
struct hl_reconciled;
int hl_txn_reconcile(struct hl_txn *txn, struct hl_reconciled *done);
/* Restores from the event log the live sessions of this boot that no
 * holder record holds (restore.c): after a rebuild of the runtime file. */
int hl_txn_restore_sessions(struct hl_txn *txn, struct hl_reconciled *done);
/* Lists user (of pool's slot, or Named when pool is NULL) among the
 * technicians whose records the reconciliation could not match. */
void hl_reconciled_unmatched(struct hl_reconciled *done, const char *user,
			     const char *pool, unsigned slot);

/* Frees user's Named allocation: its record, and one less in the count. */
int hl_txn_free_named(struct hl_txn *txn, const char *user);
/* *any: whether user's Named allocation has sessions (kept in the runtime
 * file), so that a close of another session reads nothing durable. */
int hl_txn_named_sessions(struct hl_txn *txn, const char *user, bool *any);
/* Whether a holder record (found: it exists) claims slot N of pool. */
bool hl_holding_claims(const struct hl_holding *holding, bool found,
		       const char *pool, unsigned slot);
/* Frees slot N of pool, which user's holder record does not claim, with
 * a reap event "slot without holder record". */
int hl_txn_free_orphan_slot(struct hl_txn *txn, const char *user,
			    const char *pool, unsigned slot);
/* Frees (take) or counts the slots of pool whose holders are gone.
 * needed: a technician of the pool needs a slot now; when no holder is
 * gone, the license of the holder idle longest past the pool's
 * idle_timeout goes too (its sessions ended after the commit), or, in a
 * pool with a wait, is warned and goes to a waiter after
 * hl_idle_warning(pool) seconds without input. */
int hl_txn_reclaim_pool(struct hl_txn *txn, const struct hl_pool *pool,
			const struct hl_counter *counter, bool needed,
			unsigned *freed);
/* Seconds an idle holder of a pool with a wait has, once warned, to keep
 * the license by typing: half the wait, at most a minute. */
unsigned hl_idle_warning(const struct hl_pool *pool);
/* Takes a free slot for txn->who; *slot 0 when there is none. */
int hl_txn_take_slot(struct hl_txn *txn, const struct hl_pool *pool,
		     const struct hl_session *session, unsigned *slot);
/* Allocates a Named license to txn->who when one is free; *done.
 * session NULL: an allocation with no session yet (assign). */
int hl_txn_allocate_named(struct hl_txn *txn,
			  const struct hl_session *session, bool *done);

#endif
