/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The waiting line (see line.h): joining and leaving the lines of a
 * technician's pools, and the wait itself, woken by inotify when the store
 * is written and by a look now and then.
 */
#include "config.h"

#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "line.h"

int hl_wait_alloc(struct hl_wait *w, size_t npools)
{
	size_t n = npools ? npools : 1;

	w->pools = calloc(n, sizeof(*w->pools));
	w->in = calloc(n, sizeof(*w->in));
	w->until = calloc(n, sizeof(*w->until));
	if (w->pools == NULL || w->in == NULL || w->until == NULL) {
		hl_wait_free(w);
		return -1;
	}
	return 0;
}

void hl_wait_free(struct hl_wait *w)
{
	free(w->pools);
	free(w->in);
	free(w->until);
	free(w->message);
	memset(w, 0, sizeof(*w));
}

int hl_waits_ahead(struct hl_txn *txn, const struct hl_pool *pool,
		   const char *id, bool *ahead, size_t *place)
{
	struct hl_line line;
	size_t alive = 0;

	*ahead = false;
	*place = 0;
	if (hl_txn_load_line(txn, pool->name, &line))
		return -1;
	if (txn->take && hl_txn_prune_line(txn, pool->name, &line, NULL) &&
	    hl_txn_save_line(txn, pool->name, &line)) {
		hl_line_free(&line);
		return -1;
	}
	for (size_t i = 0; i < line.count; i++) {
		const struct hl_waiter *w = &line.waiters[i];

		if (id && strcmp(w->session.id, id) == 0) {
			*place = alive + 1;
			break;
		}
		if (txn->take || hl_txn_waiter_gone(txn, w) == NULL)
			alive++;
		/* A read needs only to know that someone alive is ahead:
		 * 50 waiters must not each look at 49 processes a second. */
		if (!txn->take && alive > 0)
			break;
	}
	*ahead = alive > 0;
	hl_line_free(&line);
	return 0;
}

/* Takes the waiter out of the lines marked in which; logs a deny for each
 * with reason, unless reason is NULL (the waiter got a slot). */
static int leave_lines(struct hl_txn *txn, struct hl_wait *w,
		       const bool *which, const char *reason)
{
	for (size_t i = 0; i < w->count; i++) {
		struct hl_line line;
		bool found = false;

		if (!which[i])
			continue;
		if (hl_txn_load_line(txn, w->pools[i]->name, &line))
			return -1;
		for (size_t j = line.count; j-- > 0;)
			if (strcmp(line.waiters[j].session.id,
				   w->session.id) == 0) {
				hl_line_remove(&line, j);
				found = true;
			}
		if (hl_txn_save_line(txn, w->pools[i]->name, &line)) {
			hl_line_free(&line);
			return -1;
		}
		hl_line_free(&line);
		/* Not found: dropped by another, who logged why. */
		if (reason && found)
			hl_txn_event(txn, LOG_NOTICE, HL_EVENT_DENY, txn->who.user,
				    HL_KIND_CONCURRENT, w->pools[i]->name, 0,
				    &w->session, reason);
	}
	return 0;
}

int hl_wait_join(struct hl_txn *txn, const struct hl_pool **pools,
		 size_t npools, const struct hl_session *session,
		 struct hl_wait *w, struct hl_buf *msg)
{
	unsigned longest = 0;
	char how_long[32];

	for (size_t i = 0; i < npools; i++) {
		const struct hl_pool *pool = pools[i];
		struct hl_line line;
		time_t until = txn->env->now() + (time_t)pool->wait;
		bool ahead;
		size_t place;

		if (pool->wait == 0)
			continue;
		if (hl_txn_load_line(txn, pool->name, &line))
			goto fail;
		hl_txn_prune_line(txn, pool->name, &line, NULL);
		if (hl_line_add(&line, txn->who.user, until, session)) {
			hl_line_free(&line);
			hl_txn_failed(txn, HL_STORE_NOMEM, "line");
			goto fail;
		}
		if (hl_txn_save_line(txn, pool->name, &line)) {
			hl_line_free(&line);
			goto fail;
		}
		hl_line_free(&line);
		if (hl_waits_ahead(txn, pool, session->id, &ahead, &place))
			goto fail;
		hl_txn_event(txn, LOG_NOTICE, HL_EVENT_WAIT, txn->who.user,
			    HL_KIND_CONCURRENT, pool->name, 0, session,
			    "all licenses in use");
		hl_buf_printf(msg, "%s number %zu in line for pool %s",
			      w->count == 0 ? "You are" : ",", place,
			      pool->name);
		w->pools[w->count] = pool;
		w->until[w->count] = until;
		w->in[w->count++] = true;
		if (pool->wait > longest)
			longest = pool->wait;
	}
	hl_format_duration(longest, how_long, sizeof(how_long));
	hl_buf_printf(msg, "; waiting up to %s.", how_long);
	w->message = hl_buf_take(msg);
	w->session = *session;
	return 0;
fail:
	hl_buf_free(msg);
	w->count = 0;
	return -1;
}

/* ---- waiting ------------------------------------------------------------ */

#define MAX_CONNECTIONS 8
/* How often a waiter looks at the store without a reason to: with
 * inotify, to notice holders that died without a word; without (no
 * inotify instance left to the user), to notice everything. */
#define LOOK_MS 1000
#define LOOK_MS_UNWATCHED 200

/* Milliseconds since began, on the monotonic clock. */
static long long ms_since(const struct timespec *began)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (long long)(now.tv_sec - began->tv_sec) * 1000 +
	       (now.tv_nsec - began->tv_nsec) / 1000000;
}

/* The store's watch on its runtime file (hl_store_watch_open): -1 when it
 * can't be had, as when the user's inotify instances
 * (fs.inotify.max_user_instances, counted per real uid: one per waiting
 * session) are all taken: then looks every LOOK_MS_UNWATCHED alone notice
 * a freed slot. */
static int watch_store(const struct hl_env *env)
{
	/* Slots are freed in the runtime file. */
	const char *path = env->cfg->runtime_store;
	int fd, err;

	/* With a shared backend no file here is written when a slot is
	 * freed (on this host or another): the looks alone notice it. */
	if (env->cfg->backend.enabled)
		return -1;
	fd = hl_store_watch_open(path, env->log, &err);
	if (fd < 0 && err != 0)
		hl_log(env->log, LOG_INFO, "waiting without inotify (%s): "
		       "looking at the store every %d ms", strerror(err),
		       LOOK_MS_UNWATCHED);
	return fd;
}

/* Whether the technician holds a slot already (another of its sessions
 * got one while this one waited): *can; a write joins this session to it,
 * leaves every line, and grants. */
static int join_held(struct hl_txn *txn, struct hl_wait *w, bool *can)
{
	struct hl_session session = w->session;
	struct hl_holding holding;
	char key[HL_KEY_MAX], pool[HL_POOL_NAME_MAX + 1];
	unsigned slot;
	bool found;

	*can = false;
	if (!hl_key_holder(key, sizeof(key), txn->who.user) ||
	    hl_txn_load_holding(txn, key, &holding, &found))
		return -1;
	if (!found)
		return 0;
	*can = true;
	if (!txn->take) {
		hl_holding_free(&holding);
		return 0;
	}
	snprintf(pool, sizeof(pool), "%s", holding.pool);
	slot = holding.slot;
	session.since = txn->env->now();
	if (hl_txn_join(txn, key, &holding, &session) ||
	    leave_lines(txn, w, w->in, NULL)) {
		hl_holding_free(&holding);
		return -1;
	}
	hl_holding_free(&holding);
	hl_txn_granted(txn, HL_KIND_CONCURRENT, pool, slot, true, &session,
		"joins the slot already held, after waiting in line");
	return 0;
}

/* One look at the lines.  A read (take false): *can when this waiter is
 * the first alive in the line of a pool with a free slot, or its
 * technician holds a slot already.  A write: takes that slot (or joins
 * the one held), leaves every line, and grants. */
static int attempt(struct hl_txn *txn, struct hl_wait *w, bool take,
		   bool *can)
{
	bool ok;

	*can = false;
	txn->take = take;
	/* An idle holder warned when this waiter came has had its time. */
	txn->waiting_since = w->session.since;
	*txn->idle_holder = '\0';
	if (hl_txn_begin(txn) != 0)
		return -1;
	ok = join_held(txn, w, can) == 0;
	for (size_t i = 0; ok && !*can && i < w->count; i++) {
		struct hl_session session = w->session;
		bool ahead;
		size_t place;
		unsigned slot;

		if (!w->in[i])
			continue;
		if (hl_waits_ahead(txn, w->pools[i], w->session.id, &ahead,
				&place)) {
			ok = false;
			break;
		}
		if (place == 0 && txn->env->now() >= w->until[i]) {
			/* Dropped at the end of its wait (by the one who
			 * logged it): out of that line. */
			w->in[i] = false;
			continue;
		}
		if (place == 0 && take) {
			/* Dropped from the line by someone (a repair, or a
			 * look that took this process for dead): back in,
			 * at the end. */
			struct hl_line line;

			ok = hl_txn_load_line(txn, w->pools[i]->name, &line) == 0 &&
			     hl_line_add(&line, txn->who.user, w->until[i],
					 &w->session) == 0 &&
			     hl_txn_save_line(txn, w->pools[i]->name, &line) == 0;
			hl_line_free(&line);
			continue;
		}
		if (place != 1)
			continue;
		session.since = txn->env->now();
		if (hl_txn_take_slot(txn, w->pools[i], &session, &slot)) {
			ok = false;
			break;
		}
		if (slot == 0)
			continue;
		*can = true;
		if (take) {
			ok = leave_lines(txn, w, w->in, NULL) == 0;
			hl_txn_granted(txn, HL_KIND_CONCURRENT, w->pools[i]->name, slot,
				false, &session, *txn->idle_holder
				? "license of an idle holder, after waiting in "
				  "line"
				: "free concurrent license after waiting in line");
		}
	}
	if (hl_txn_end(txn, ok) != 0)
		return -1;
	return 0;
}

/* Leaves the lines marked in which with reason; when none is left, the
 * refusal.  A lock not had at once is tried again: a live waiter left
 * in a line would hold it up. */
static void give_up(struct hl_txn *txn, const struct hl_pool **pools,
		    size_t npools, struct hl_wait *w, const bool *which,
		    const char *reason, unsigned waited)
{
	bool left = false;

	txn->take = true;
	for (int tries = 0; tries < 3 && !left; tries++) {
		bool ok;

		if (hl_txn_begin(txn) != 0)
			continue;
		ok = leave_lines(txn, w, which, reason) == 0;
		if (ok) {
			bool any = false;

			for (size_t i = 0; i < w->count; i++)
				any |= w->in[i] && !which[i];
			if (!any)
				w->refuse(txn, pools, npools, w->named, reason,
					 waited);
		}
		left = hl_txn_end(txn, ok) == 0;
	}
	for (size_t i = 0; i < w->count; i++)
		if (which[i])
			w->in[i] = false;
}

/* Signals come only inside ppoll, which then fails with EINTR: one that
 * came while the store was being read would go unnoticed.  No handler of
 * ours: the process's own stay as they are.  The mask before in old. */
static void block_signals(sigset_t *old)
{
	static const int synchronous[] = { SIGSEGV, SIGBUS, SIGFPE, SIGILL,
					   SIGTRAP, SIGABRT, SIGSYS };
	sigset_t blocked;

	sigfillset(&blocked);
	for (size_t i = 0; i < sizeof(synchronous) / sizeof(synchronous[0]); i++)
		sigdelset(&blocked, synchronous[i]);
	pthread_sigmask(SIG_BLOCK, &blocked, old);
}

/* Polls the store's directory (when inotify can be had: *watch) and the
 * technician's connections; the fds to poll in fds, their count
 * returned. */
static size_t watch_all(const struct hl_env *env, struct pollfd *fds,
			int *watch)
{
	const struct hl_waiting *waiting = env->waiting;
	int conns[MAX_CONNECTIONS];
	size_t nconns = 0, nfds = 0;

	*watch = watch_store(env);
	if (*watch >= 0)
		fds[nfds++] = (struct pollfd){ .fd = *watch, .events = POLLIN };
	if (waiting && waiting->connections)
		nconns = waiting->connections(waiting->data, conns,
					      MAX_CONNECTIONS);
	for (size_t i = 0; i < nconns && i < MAX_CONNECTIONS; i++)
		fds[nfds++] = (struct pollfd){ .fd = conns[i],
					       .events = POLLRDHUP };
	return nfds;
}

/* Marks in expired the lines whose wait has run out after elapsed ms;
 * *any_left: some line still waits.  The ms until the next one runs out
 * (LLONG_MAX: none). */
static long long mark_expired(const struct hl_wait *w, bool *expired,
			      long long elapsed, bool *any_expired,
			      bool *any_left)
{
	long long next = LLONG_MAX;

	*any_expired = *any_left = false;
	for (size_t i = 0; i < w->count; i++) {
		long long limit = (long long)w->pools[i]->wait * 1000;

		expired[i] = w->in[i] && elapsed >= limit;
		*any_expired |= expired[i];
		if (w->in[i] && !expired[i]) {
			*any_left = true;
			if (limit - elapsed < next)
				next = limit - elapsed;
		}
	}
	return next;
}

/* What woke ppoll: true when the store was written; *reason
 * "disconnected" when a connection of the technician hung up. */
static bool woken_by(const struct hl_env *env, struct pollfd *fds,
		     size_t nfds, int watch, const char **reason)
{
	bool written = false;

	for (size_t i = 0; i < nfds; i++) {
		if (fds[i].fd == watch) {
			if (fds[i].revents)
				written |= hl_store_watch_written(
					watch, env->cfg->runtime_store);
		} else if (fds[i].revents & (POLLRDHUP | POLLHUP | POLLERR)) {
			*reason = "disconnected";
		} else if (fds[i].revents & POLLNVAL) {
			fds[i].fd = -1;	/* closed under us: not ours */
		}
	}
	return written;
}

/* The end of the wait: the seconds waited in txn->out, or, for reason,
 * every line left and the refusal. */
static void end_wait(struct hl_txn *txn, const struct hl_pool **pools,
		     size_t npools, struct hl_wait *w, bool *expired,
		     const char *reason, const struct timespec *began)
{
	long long ms = ms_since(began);

	if (reason == NULL) {
		txn->out->waited = (unsigned)(ms / 1000);
		return;
	}
	for (size_t i = 0; i < w->count; i++)
		expired[i] = w->in[i];
	give_up(txn, pools, npools, w, expired, reason,
		ms / 1000 > 0 ? (unsigned)(ms / 1000) : 1);
}

/* Waits in line: until a slot is had, every line's wait has run out, the
 * technician goes away (a hangup of the connection) or a signal comes.
 * Woken by inotify when the store is written, and once a second to notice
 * holders that died without a word. */
void hl_wait_in_line(struct hl_txn *txn, const struct hl_pool **pools,
		     size_t npools, struct hl_wait *w)
{
	const struct hl_env *env = txn->env;
	const struct hl_waiting *waiting = env->waiting;
	struct pollfd fds[1 + MAX_CONNECTIONS];
	size_t nfds;
	const char *reason = NULL;
	struct timespec began;
	bool *expired = calloc(w->count, sizeof(*expired));
	sigset_t old_mask;
	long long last_look = 0, look_ms;
	bool check = true;
	int watch;

	if (expired == NULL) {
		hl_log(env->log, LOG_ERR, "out of memory waiting in line");
		give_up(txn, pools, npools, w, w->in, "error", 0);
		return;
	}
	block_signals(&old_mask);
	clock_gettime(CLOCK_MONOTONIC, &began);
	if (waiting && waiting->tell && w->message)
		waiting->tell(waiting->data, w->message);
	nfds = watch_all(env, fds, &watch);
	look_ms = watch >= 0 ? LOOK_MS : LOOK_MS_UNWATCHED;

	for (;;) {
		long long elapsed = ms_since(&began), next;
		bool any_expired, any_left, can = false;
		struct timespec pause;
		int n;

		next = mark_expired(w, expired, elapsed, &any_expired,
				    &any_left);
		if (!any_left) {
			/* Run out, or dropped from every line at the end of
			 * its wait by others while this process was
			 * stopped. */
			reason = "timeout";
			break;
		}
		if (any_expired)
			give_up(txn, pools, npools, w, expired, "timeout", 0);
		if (check) {
			last_look = elapsed;
			if (attempt(txn, w, false, &can) == 0 && can) {
				if (attempt(txn, w, true, &can) == 0 && can)
					break;
				/* Our own write wakes us: not a change. */
				if (watch >= 0)
					hl_store_watch_written(
						watch, env->cfg->runtime_store);
			}
		}
		next = next < look_ms ? next + 1 : look_ms;
		pause.tv_sec = (time_t)(next / 1000);
		pause.tv_nsec = (long)(next % 1000) * 1000000;
		n = ppoll(fds, nfds, &pause, &old_mask);
		if (n < 0 && errno == EINTR) {
			reason = "interrupted";
			break;
		}
		if (n < 0) {
			hl_log(env->log, LOG_ERR, "waiting in line: poll: %s",
			       strerror(errno));
			reason = "error";
			break;
		}
		/* The look every look_ms, whatever else wakes us. */
		check = n == 0 || ms_since(&began) - last_look >= look_ms;
		check |= woken_by(env, fds, nfds, watch, &reason);
		if (reason)
			break;
	}
	if (watch >= 0)
		close(watch);
	pthread_sigmask(SIG_SETMASK, &old_mask, NULL);
	end_wait(txn, pools, npools, w, expired, reason, &began);
	free(expired);
}
