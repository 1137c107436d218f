/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The waiting line (pam_helpdesk_license(8), "Waiting in line"): a session
 * open that finds every license taken joins the line of each pool of its
 * technician that has a wait, then waits there until a slot is had, the
 * wait runs out, the technician goes away or a signal comes.  Internal to
 * the core: license.c's decision calls it.
 */
#ifndef HL_LINE_H
#define HL_LINE_H

#include <stdbool.h>
#include <stddef.h>

#include "allocation.h"
#include "conf.h"
#include "record.h"
#include "text.h"

/*
 * A pool with a wait has a line (line/POOL in the store): when no slot is
 * free, a session open joins the line of each such pool of its technician
 * and waits.  A free slot goes to the first waiter alive in the pool's
 * line; a newcomer takes one only when nobody alive waits there, so nobody
 * jumps the line.  Waiters whose process is gone, or whose wait has
 * ended (the line record keeps each one's deadline: a stopped waiter
 * cannot end its own wait), are dropped by whoever writes the line next.
 */
struct hl_wait {
	struct hl_session session;	/* the session to open: its id is
					   the waiter's and the grant's */
	const struct hl_pool **pools;	/* the lines joined, config order */
	bool *in;			/* still in that line */
	time_t *until;			/* when the wait in that line ends,
					   as its line record says */
	size_t count;
	bool named;			/* named-eligible too (for messages) */
	char *message;			/* to tell once the store is closed */
	/* The refusal (license.c) when the wait ends without a slot: message,
	 * verdict and reason in txn->out, no event. */
	void (*refuse)(struct hl_txn *txn, const struct hl_pool **pools,
		       size_t npools, bool named, const char *reason,
		       unsigned waited);
};

/* Room in w for the lines of npools pools: 0, or -1 (no memory). */
int hl_wait_alloc(struct hl_wait *w, size_t npools);
void hl_wait_free(struct hl_wait *w);

/* Whether somebody alive waits in pool's line ahead of the waiter with
 * session id (NULL: a newcomer, behind everybody); *place: the waiter's
 * place counting the live ones (0: not in the line).  A write drops the
 * dead waiters on the way. */
int hl_waits_ahead(struct hl_txn *txn, const struct hl_pool *pool,
		   const char *id, bool *ahead, size_t *place);
/* Step 6 with a wait: joins the line of each of pools that has a wait,
 * and appends to msg (taken over: w->message, freed on failure) the
 * technician's place in each line and how long the wait may last. */
int hl_wait_join(struct hl_txn *txn, const struct hl_pool **pools,
		 size_t npools, const struct hl_session *session,
		 struct hl_wait *w, struct hl_buf *msg);
/* Waits in the lines joined: the grant in txn->out, or the refusal
 * (w->refuse) after leaving every line. */
void hl_wait_in_line(struct hl_txn *txn, const struct hl_pool **pools,
		     size_t npools, struct hl_wait *w);

#endif
