/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The license decision and session bookkeeping (pam_helpdesk_license(8), "Decision" and "Stale sessions").
 *
 * One run = one store transaction: open the store (shared for a dry run,
 * exclusive to take or give back), read the few keys this user and the
 * user's pools need, stage the changes, commit, then log.  Nothing here
 * reads every key on the way of a login, except the sweeps that only run
 * when a pool or the Named licenses are full.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "allocation.h"
#include "license.h"
#include "line.h"
#include "text.h"

/* ---- the refusal message ------------------------------------------------ */

/* How many technicians wait in pool's line, the gone ones left out. */
static int waiters_in(struct hl_txn *txn, const struct hl_pool *pool,
		      size_t *count)
{
	struct hl_line line;

	*count = 0;
	if (pool->wait == 0)
		return 0;
	if (hl_txn_load_line(txn, pool->name, &line))
		return -1;
	for (size_t i = 0; i < line.count; i++)
		if (hl_txn_waiter_gone(txn, &line.waiters[i]) == NULL)
			(*count)++;
	hl_line_free(&line);
	return 0;
}

static void describe_pool(struct hl_txn *txn, struct hl_buf *msg,
			  const struct hl_pool *pool)
{
	const struct hl_config *cfg = txn->env->cfg;
	unsigned shown = 0;

	struct hl_counter counter;
	char key[HL_KEY_MAX];
	size_t waiting = 0;
	unsigned last;
	bool known;

	known = hl_key_pool(key, sizeof(key), pool->name) &&
		hl_txn_load_counter(txn, key, &counter) == 0 &&
		waiters_in(txn, pool, &waiting) == 0;
	if (!known || counter.used >= pool->licenses)
		hl_buf_printf(msg, "All %u license%s of pool %s %s in use",
			      pool->licenses, pool->licenses == 1 ? "" : "s",
			      pool->name, pool->licenses == 1 ? "is" : "are");
	else
		/* Free slots, kept for the technicians who came first. */
		hl_buf_printf(msg, "%u of %u licenses of pool %s %s in use "
			      "and %zu technician%s wait%s ahead",
			      counter.used, pool->licenses, pool->name,
			      counter.used == 1 ? "is" : "are", waiting,
			      waiting == 1 ? "" : "s", waiting == 1 ? "s" : "");
	if (!known || !cfg->show_holders) {
		hl_buf_puts(msg, ".\n");
		return;
	}
	/* Lowered licenses leave holders above the new count: show them. */
	last = counter.top > pool->licenses ? counter.top : pool->licenses;
	for (unsigned n = 1; n <= last && shown < 8; n++) {
		char user[HL_USER_MAX + 1], when[32];
		struct hl_holding holding;
		const struct hl_session *s;
		bool found;

		if (hl_txn_load_slot(txn, pool->name, n, user, sizeof(user)))
			return;
		if (*user == '\0')
			continue;
		if (!hl_key_holder(key, sizeof(key), user) ||
		    hl_txn_load_holding(txn, key, &holding, &found))
			return;
		if (!found)
			continue;
		hl_format_time(holding.since, when, sizeof(when));
		hl_buf_puts(msg, shown == 0 ? ": held by " : "; ");
		hl_buf_printable(msg, user);
		hl_buf_printf(msg, " since %s", when);
		s = holding.session_count ? &holding.sessions[0] : NULL;
		if (s && (*s->rhost || *s->tty)) {
			hl_buf_puts(msg, " (");
			if (*s->rhost) {
				hl_buf_puts(msg, "from ");
				hl_buf_printable(msg, s->rhost);
			}
			if (*s->tty) {
				hl_buf_puts(msg, *s->rhost ? " on " : "on ");
				hl_buf_printable(msg, s->tty);
			}
			if (strcmp(s->host, txn->env->host) != 0) {
				hl_buf_puts(msg, " at ");
				hl_buf_printable(msg, s->host);
			}
			hl_buf_puts(msg, ")");
		}
		hl_holding_free(&holding);
		shown++;
	}
	hl_buf_puts(msg, ".\n");
}

/* What idle means in pool, when it has an idle_timeout. */
static void describe_idle(struct hl_buf *msg, const struct hl_pool *pool)
{
	char how_long[32];

	if (pool->idle_timeout == 0)
		return;
	hl_format_duration(pool->idle_timeout, how_long, sizeof(how_long));
	hl_buf_printf(msg, "None of them is idle: a license of pool %s goes to "
		      "the next technician when every session of its holder "
		      "has a terminal with no input for %s (a session "
		      "without a terminal is never idle).\n", pool->name,
		      how_long);
}

/* The refusal: message, verdict and reason, and no event.  waited: the
 * seconds spent in line first, or 0. */
static void refusal(struct hl_txn *txn, const struct hl_pool **pools,
		    size_t npools, bool named, const char *reason,
		    unsigned waited)
{
	const struct hl_config *cfg = txn->env->cfg;
	struct hl_decision *out = txn->out;
	struct hl_buf msg;
	char *text;

	hl_buf_init(&msg);
	if (waited > 0) {
		char how_long[32];

		hl_format_duration(waited, how_long, sizeof(how_long));
		hl_buf_printf(&msg, "No help desk license became free for you "
			      "after waiting %s in line.\n", how_long);
	} else {
		hl_buf_puts(&msg, "No help desk license is free for you.\n");
	}
	if (named)
		hl_buf_printf(&msg, "All %u Named license%s %s allocated.\n",
			      cfg->named.licenses,
			      cfg->named.licenses == 1 ? "" : "s",
			      cfg->named.licenses == 1 ? "is" : "are");
	for (size_t i = 0; i < npools; i++)
		describe_pool(txn, &msg, pools[i]);
	for (size_t i = 0; i < npools; i++)
		describe_idle(&msg, pools[i]);
	/* A slot frees itself at a logout; a Named allocation never does. */
	if (npools > 0)
		hl_buf_puts(&msg, "Please try again later.");
	else
		hl_buf_puts(&msg, "A Named allocation is not freed by logging "
			    "out: an administrator must free one "
			    "(helpdesk-license unassign) or add licenses.");
	text = hl_buf_take(&msg);
	snprintf(out->message, sizeof(out->message), "%s",
		 text ? text : "No help desk license is free for you.");
	free(text);
	out->verdict = HL_DENIED;
	out->waited = waited;
	snprintf(out->reason, sizeof(out->reason), "%s", reason);
	if (npools > 0) {
		out->kind = HL_KIND_CONCURRENT;
		snprintf(out->pool, sizeof(out->pool), "%s", pools[0]->name);
	} else {
		out->kind = HL_KIND_NAMED;
	}
}

static void refuse(struct hl_txn *txn, const struct hl_pool **pools,
		   size_t npools, bool named, const char *reason)
{
	refusal(txn, pools, npools, named, reason, 0);
	hl_txn_event(txn, LOG_NOTICE, HL_EVENT_DENY, txn->who.user, txn->out->kind,
		    npools ? pools[0]->name : NULL, 0, NULL, reason);
}

/* ---- the decision ------------------------------------------------------- */

/* Step 6 with a wait: joins the lines, and writes down what to tell the
 * technician. */
static int join_lines(struct hl_txn *txn, const struct hl_pool **pools,
		      size_t npools, const struct hl_session *session,
		      struct hl_wait *w)
{
	const struct hl_config *cfg = txn->env->cfg;
	struct hl_buf msg;

	hl_buf_init(&msg);
	if (w->named)
		hl_buf_printf(&msg, "All %u Named license%s %s allocated.\n",
			      cfg->named.licenses,
			      cfg->named.licenses == 1 ? "" : "s",
			      cfg->named.licenses == 1 ? "is" : "are");
	for (size_t i = 0; i < npools; i++)
		describe_pool(txn, &msg, pools[i]);
	return hl_wait_join(txn, pools, npools, session, w, &msg);
}

/* Steps 2 and 3: a Named allocation in force, or a free Named license
 * for a named-eligible technician.  *decided when granted.  The
 * allocation of a user no longer named-eligible counts for nothing: it
 * is dropped when the Named licenses run out (hl_txn_allocate_named), so
 * a login that cannot use one leaves the durable file alone. */
static int named_steps(struct hl_txn *txn, bool named_ok,
		       const struct hl_session *session, bool *decided)
{
	struct hl_holding holding;
	char key[HL_KEY_MAX];
	bool found;
	int rc;

	*decided = false;
	if (!named_ok)
		return 0;
	/* 2. A Named allocation in force. */
	if (!hl_key_named(key, sizeof(key), txn->who.user) ||
	    hl_txn_load_holding(txn, key, &holding, &found))
		return -1;
	if (found) {
		rc = txn->take ? hl_txn_join(txn, key, &holding, session) : 0;
		hl_holding_free(&holding);
		if (rc == 0)
			hl_txn_granted(txn, HL_KIND_NAMED, NULL, 0, true,
				       session, "named allocation");
		*decided = true;
		return rc;
	}
	/* 3. A free Named license. */
	if (hl_txn_allocate_named(txn, session, decided))
		return -1;
	if (*decided)
		hl_txn_granted(txn, HL_KIND_NAMED, NULL, 0, false, session,
			       "named license allocated");
	return 0;
}

/* Step 5: a free slot in one of the technician's pools, in config order,
 * unless somebody waits for it.  *decided when granted. */
static int free_slot_step(struct hl_txn *txn, const struct hl_pool **pools,
			  size_t npools, const struct hl_session *session,
			  bool *decided)
{
	*decided = false;
	for (size_t i = 0; i < npools; i++) {
		char reason[sizeof(txn->out->reason)];
		unsigned slot;
		bool ahead = false;
		size_t place;

		if (pools[i]->wait > 0 &&
		    hl_waits_ahead(txn, pools[i], NULL, &ahead, &place))
			return -1;
		if (ahead)
			continue;
		if (hl_txn_take_slot(txn, pools[i], session, &slot))
			return -1;
		if (slot == 0)
			continue;
		if (*txn->idle_holder)
			hl_set_text(reason, sizeof(reason),
				    "license of idle holder %s",
				    txn->idle_holder);
		else
			hl_set_text(reason, sizeof(reason),
				    "free concurrent license");
		hl_txn_granted(txn, HL_KIND_CONCURRENT, pools[i]->name,
			       txn->take ? slot : 0, false, session, reason);
		*decided = true;
		return 0;
	}
	return 0;
}

/* Step 6: entitled, but everything is taken: wait in line (w), or the
 * refusal. */
static int all_taken(struct hl_txn *txn, const struct hl_pool **pools,
		     size_t npools, bool named_ok,
		     const struct hl_session *session, struct hl_wait *w)
{
	bool may_wait = false;

	for (size_t i = 0; i < npools; i++)
		may_wait |= pools[i]->wait > 0;
	if (!txn->take && may_wait) {
		/* The waiting happens in the session. */
		hl_txn_granted(txn, HL_KIND_CONCURRENT, pools[0]->name, 0,
			       false, session, "may wait in line");
		return 0;
	}
	if (may_wait && w) {
		w->named = named_ok;
		return join_lines(txn, pools, npools, session, w);
	}
	refuse(txn, pools, npools, named_ok,
	       npools ? "all licenses in use" : "all named licenses allocated");
	return 0;
}

/* Step 7: no license of any kind. */
static void unlicensed(struct hl_txn *txn)
{
	if (txn->env->cfg->unlicensed == HL_UNLICENSED_IGNORE) {
		txn->out->verdict = HL_IGNORED;
		snprintf(txn->out->reason, sizeof(txn->out->reason),
			 "unlicensed, ignored");
		return;
	}
	txn->out->verdict = HL_DENIED;
	snprintf(txn->out->reason, sizeof(txn->out->reason), "unlicensed");
	snprintf(txn->out->message, sizeof(txn->out->message),
		 "You hold no help desk license on this host: you are neither "
		 "a named technician nor in a technician pool. Ask your help "
		 "desk manager for a license.");
	/* Of no kind: the user has no license at all. */
	hl_txn_event_no_kind(txn, LOG_NOTICE, HL_EVENT_DENY, txn->who.user,
			     "unlicensed");
}

/* Steps 2 to 7 of the decision (pam_helpdesk_license(8), "Decision"),
 * inside an open store.  w: where a session open that must wait keeps its
 * place (NULL: refuse at once). */
static int decide_in_store(struct hl_txn *txn, const struct hl_pool **pools,
			   size_t npools, bool named_ok, struct hl_wait *w)
{
	struct hl_session session;
	struct hl_holding holding;
	char key[HL_KEY_MAX];
	bool found, decided;
	int rc;

	*txn->idle_holder = '\0';
	if (hl_txn_new_session(txn, &session))
		return -1;

	/* 2 and 3. */
	rc = named_steps(txn, named_ok, &session, &decided);
	if (rc || decided)
		return rc;

	/* 4. The slot this technician already holds. */
	if (!hl_key_holder(key, sizeof(key), txn->who.user) ||
	    hl_txn_load_holding(txn, key, &holding, &found))
		return -1;
	if (found) {
		char pool[HL_POOL_NAME_MAX + 1];
		unsigned slot = holding.slot;

		snprintf(pool, sizeof(pool), "%s", holding.pool);
		rc = txn->take ? hl_txn_join(txn, key, &holding, &session) : 0;
		hl_holding_free(&holding);
		if (rc == 0)
			hl_txn_granted(txn, HL_KIND_CONCURRENT, pool, slot,
				       true, &session,
				       "joins the slot already held");
		return rc;
	}

	/* 5. */
	if (free_slot_step(txn, pools, npools, &session, &decided))
		return -1;
	if (decided)
		return 0;
	/* 6. */
	if (named_ok || npools > 0)
		return all_taken(txn, pools, npools, named_ok, &session, w);
	/* 7. */
	unlicensed(txn);
	return 0;
}

/* Step 1 and the store around steps 2 to 7. */
enum decide_mode { PREVIEW, CHECK, OPEN };

/* For another try after a repair; true, to sit in a condition. */
static bool reset_decision(struct hl_decision *out)
{
	memset(out, 0, sizeof(*out));
	out->verdict = HL_IGNORED;
	return true;
}

/* Step 1: who the technician is and what it may have: the pools it is
 * in (*pools, config order, the caller frees it) and *named_ok.  1 when
 * that decides already (out filled in), 0 to go on to the store, -1 out
 * of memory. */
static int entitlement(const struct hl_env *env, const struct hl_request *req,
		       struct hl_who *who, struct hl_decision *out,
		       const struct hl_pool ***pools, size_t *npools,
		       bool *named_ok)
{
	const struct hl_config *cfg = env->cfg;
	int in;

	if (!hl_user_valid(req->user)) {
		out->verdict = HL_USER_UNKNOWN;
		snprintf(out->reason, sizeof(out->reason), "invalid user name");
		return 1;
	}
	if (hl_names_contain(&cfg->ignore_services, req->service)) {
		snprintf(out->reason, sizeof(out->reason), "ignored service");
		return 1;
	}
	in = hl_who_lookup(env, who, req->user);
	if (in > 0) {
		out->verdict = HL_USER_UNKNOWN;
		snprintf(out->reason, sizeof(out->reason), "unknown user");
		return 1;
	}
	if (in == 0)
		in = hl_who_in(who, &cfg->exempt_users, &cfg->exempt_groups);
	if (in > 0) {
		snprintf(out->reason, sizeof(out->reason), "exempt");
		return 1;
	}

	*named_ok = false;
	if (in == 0 && cfg->named.licenses > 0) {
		in = hl_named_eligible(cfg, who);
		*named_ok = in > 0;
	}
	*npools = 0;
	*pools = calloc(cfg->pool_count ? cfg->pool_count : 1, sizeof(**pools));
	if (*pools == NULL) {
		out->verdict = HL_STORE_FAILED;
		return -1;
	}
	for (size_t i = 0; in >= 0 && i < cfg->pool_count; i++) {
		in = hl_who_in(who, &cfg->pools[i].users,
			       &cfg->pools[i].groups);
		if (in > 0)
			(*pools)[(*npools)++] = &cfg->pools[i];
	}
	/* NSS could not say (logged): on_error decides, never "unlicensed". */
	if (in < 0) {
		free(*pools);
		*pools = NULL;
		hl_who_failed(out);
		return 1;
	}
	return 0;
}

static int decide(const struct hl_env *env, const struct hl_request *req,
		  enum decide_mode mode, struct hl_decision *out)
{
	const struct hl_pool **pools = NULL;
	struct hl_txn txn = { .env = env, .req = req, .out = out,
			      .take = mode == OPEN, .quiet = mode == PREVIEW };
	struct hl_wait w = { .refuse = refusal };
	size_t npools = 0;
	bool named_ok = false;
	int rc;

	memset(out, 0, sizeof(*out));
	out->verdict = HL_IGNORED;
	rc = entitlement(env, req, &txn.who, out, &pools, &npools, &named_ok);
	if (rc != 0)
		return rc > 0 ? 0 : -1;
	if (mode == OPEN && hl_wait_alloc(&w, npools)) {
		free(pools);
		out->verdict = HL_STORE_FAILED;
		return -1;
	}
	/* A record found damaged: repaired there and then, and one more
	 * try. */
	do {
		if (hl_txn_begin(&txn) == 0 &&
		    hl_txn_end(&txn, decide_in_store(&txn, pools, npools,
						     named_ok,
						     mode == OPEN ? &w : NULL)
					     == 0) == 0 &&
		    w.count > 0)
			hl_wait_in_line(&txn, pools, npools, &w);
	} while (out->verdict == HL_STORE_FAILED && mode != PREVIEW &&
		 hl_txn_repair(&txn) == 0 && reset_decision(out));
	hl_wait_free(&w);
	free(pools);
	return 0;
}

int hl_license_check(const struct hl_env *env, const struct hl_request *req,
		     struct hl_decision *out)
{
	return decide(env, req, CHECK, out);
}

int hl_license_preview(const struct hl_env *env, const struct hl_request *req,
		       struct hl_decision *out)
{
	return decide(env, req, PREVIEW, out);
}

int hl_license_open(const struct hl_env *env, const struct hl_request *req,
		    struct hl_decision *out)
{
	return decide(env, req, OPEN, out);
}

/* ---- session close ------------------------------------------------------ */

static bool session_matches(const struct hl_txn *txn, const struct hl_session *s,
			    const char *session_id)
{
	if (session_id && *session_id)
		return strcmp(s->id, session_id) == 0;
	return s->pid == txn->env->self.pid &&
	       s->start == txn->env->self.start &&
	       strcmp(s->boot_id, txn->env->self.boot_id) == 0;
}

/* Removes the closing session from the holding at key; *closed. */
static int close_in(struct hl_txn *txn, const char *key, const char *session_id,
		    bool *closed)
{
	struct hl_holding holding;
	bool found;
	int rc = 0;

	*closed = false;
	if (hl_txn_load_holding(txn, key, &holding, &found))
		return -1;
	if (!found)
		return 0;
	for (size_t i = holding.session_count; i-- > 0;) {
		struct hl_session *s = &holding.sessions[i];

		if (!session_matches(txn, s, session_id))
			continue;
		hl_txn_event_end(txn, LOG_INFO, HL_EVENT_RELEASE, txn->who.user,
				 holding.kind,
				 holding.kind == HL_KIND_CONCURRENT
					 ? holding.pool : NULL,
				 holding.slot, s, "session closed");
		hl_holding_remove_session(&holding, i);
		*closed = true;
	}
	if (*closed) {
		hl_txn_prune_stale(txn, txn->who.user, &holding);
		if (holding.kind == HL_KIND_CONCURRENT &&
		    holding.session_count == 0)
			rc = hl_txn_free_slot(txn, txn->who.user, &holding);
		else
			rc = hl_txn_save_holding(txn, key, &holding);
	}
	hl_holding_free(&holding);
	return rc;
}

/* A session whose slot an administrator released leaves released/USER
 * (its end was logged by the release).  Only a close that found the
 * session nowhere else reads that record. */
static int close_released(struct hl_txn *txn, const char *session_id)
{
	struct hl_holding released;
	bool changed;
	int rc = hl_txn_load_released(txn, txn->who.user, &released,
				      &changed);

	for (size_t i = released.session_count; rc == 0 && i-- > 0;)
		if (session_matches(txn, &released.sessions[i], session_id)) {
			hl_holding_remove_session(&released, i);
			changed = true;
		}
	if (rc == 0 && changed)
		rc = hl_txn_save_released(txn, txn->who.user, &released);
	hl_holding_free(&released);
	return rc;
}

int hl_license_close(const struct hl_env *env, const struct hl_request *req,
		     const char *session_id, struct hl_decision *out)
{
	struct hl_txn txn = { .env = env, .req = req, .out = out, .take = true,
			      .release = true };
	char key[HL_KEY_MAX];
	bool closed_named = false, closed_slot = false;
	int rc;

	memset(out, 0, sizeof(*out));
	out->verdict = HL_IGNORED;
	txn.who.user = req->user;
	if (!hl_user_valid(req->user)) {
		out->verdict = HL_USER_UNKNOWN;
		snprintf(out->reason, sizeof(out->reason), "invalid user name");
		return 0;
	}
	for (;;) {
		bool named;

		if (hl_txn_begin(&txn) != 0)
			return 0;
		/* The durable file is read only for a Named session. */
		rc = hl_txn_named_sessions(&txn, req->user, &named);
		if (rc == 0 && named) {
			hl_key_named(key, sizeof(key), req->user);
			rc = close_in(&txn, key, session_id, &closed_named);
		}
		if (rc == 0) {
			hl_key_holder(key, sizeof(key), req->user);
			rc = close_in(&txn, key, session_id, &closed_slot);
		}
		if (rc == 0 && !closed_named && !closed_slot)
			rc = close_released(&txn, session_id);
		if (hl_txn_end(&txn, rc == 0) == 0)
			break;
		/* A damaged record: repaired there and then, one more try. */
		if (hl_txn_repair(&txn) != 0 || !reset_decision(out))
			return 0;
		closed_named = closed_slot = false;
	}
	out->verdict = closed_named || closed_slot ? HL_GRANTED : HL_IGNORED;
	snprintf(out->reason, sizeof(out->reason), "%s",
		 closed_named || closed_slot ? "released" : "nothing held");
	return 0;
}

/* ---- environment -------------------------------------------------------- */

static time_t wall_clock(void)
{
	return time(NULL);
}

int hl_env_init(struct hl_env *env, const struct hl_config *cfg,
		const struct hl_logger *log)
{
	return hl_env_init_known(env, cfg, log, NULL);
}

int hl_env_init_known(struct hl_env *env, const struct hl_config *cfg,
		      const struct hl_logger *log, struct hl_env_known *known)
{
	static const char proc_root[] = "/proc";
	struct hl_env_known fresh = { .self.pid = 0 };
	/* A child forked between two calls is another process. */
	bool kept = known != NULL && known->self.pid == getpid();

	if (!kept) {
		if (gethostname(fresh.host, sizeof(fresh.host)) != 0)
			snprintf(fresh.host, sizeof(fresh.host), "localhost");
		fresh.host[sizeof(fresh.host) - 1] = '\0';
		if (hl_process_identify(proc_root, getpid(), &fresh.self) != 0) {
			hl_log(log, LOG_ERR, "cannot read this process's "
			       "identity from /proc");
			return -1;
		}
		if (known == NULL)
			known = &fresh;
		else
			*known = fresh;
	}
	memset(env, 0, sizeof(*env));
	env->cfg = cfg;
	env->log = log;
	env->proc_root = proc_root;
	env->now = wall_clock;
	env->self = known->self;
	if (kept)
		hl_process_audit_refresh(env->proc_root, &env->self);
	/* With a shared backend, the name other hosts know this one by. */
	if (cfg != NULL && cfg->backend.enabled && cfg->backend.host != NULL)
		snprintf(env->host, sizeof(env->host), "%s",
			 cfg->backend.host);
	else
		snprintf(env->host, sizeof(env->host), "%s", known->host);
	return 0;
}
