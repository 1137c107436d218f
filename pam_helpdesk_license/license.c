/*
 * The license decision and session bookkeeping (SPEC sections 4 and 5).
 *
 * One run = one store transaction: open the store (shared for a dry run,
 * exclusive to take or give back), read the few keys this user and the
 * user's pools need, stage the changes, commit, then log.  Nothing here
 * reads every key on the way of a login, except the sweeps that only run
 * when a pool or the Named licenses are full.
 */
#include "config.h"

#include <errno.h>
#include <grp.h>
#include <limits.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

#include "eventlog.h"
#include "license.h"
#include "store.h"
#include "text.h"

#define MAX_GROUPS 1024

/* The technician a run is about: name and Unix groups. */
struct who {
	const char *user;
	gid_t gids[MAX_GROUPS];
	int ngids;
};

/* An event waiting for the commit, already formatted. */
struct queued_event {
	int priority;
	char *syslog_text;
	char *json_line;
};

struct run {
	const struct hl_env *env;
	const struct hl_request *req;
	struct hl_decision *out;
	struct hl_store *store;
	bool take;			/* session open/close, not a dry run */
	struct who who;
	struct queued_event *events;
	size_t event_count;
};

/* ---- small helpers ------------------------------------------------------ */

static void set_text(char *dst, size_t len, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static void set_text(char *dst, size_t len, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(dst, len, fmt, ap);
	va_end(ap);
}

static const char *kind_name(enum hl_kind kind)
{
	return kind == HL_KIND_NAMED ? "named" : "concurrent";
}

static void format_time(time_t when, char *buf, size_t len)
{
	struct tm tm;

	if (localtime_r(&when, &tm) == NULL ||
	    strftime(buf, len, "%Y-%m-%d %H:%M", &tm) == 0)
		snprintf(buf, len, "@%lld", (long long)when);
}

/* ---- who the technician is ---------------------------------------------- */

/* 0, or -1 when NSS does not know the user. */
static int who_lookup(struct who *who, const char *user)
{
	struct passwd pw, *found = NULL;
	char buf[16384];
	int n = MAX_GROUPS;

	who->user = user;
	if (getpwnam_r(user, &pw, buf, sizeof(buf), &found) != 0 ||
	    found == NULL)
		return -1;
	if (getgrouplist(user, pw.pw_gid, who->gids, &n) < 0)
		n = MAX_GROUPS;	/* more than we keep: the first ones count */
	who->ngids = n;
	return 0;
}

static bool who_in_group(const struct who *who, const char *group)
{
	struct group gr, *found = NULL;
	char buf[16384];

	if (getgrnam_r(group, &gr, buf, sizeof(buf), &found) != 0 ||
	    found == NULL)
		return false;
	for (int i = 0; i < who->ngids; i++)
		if (who->gids[i] == gr.gr_gid)
			return true;
	return false;
}

static bool who_in(const struct who *who, const struct hl_names *users,
		   const struct hl_names *groups)
{
	if (hl_names_contain(users, who->user))
		return true;
	for (size_t i = 0; i < groups->count; i++)
		if (who_in_group(who, groups->names[i]))
			return true;
	return false;
}

static bool named_eligible(const struct hl_config *cfg, const struct who *who)
{
	return who_in(who, &cfg->named.users, &cfg->named.groups);
}

/* ---- events: syslog and the event log, written after the commit --------- */

static void queue_event(struct run *run, int priority, const char *event,
			const char *user, enum hl_kind kind, const char *pool,
			unsigned slot, const struct hl_session *session,
			const char *reason)
{
	const struct hl_env *env = run->env;
	const struct hl_request *req = run->req;
	struct hl_event ev = {
		.event = event,
		.user = user,
		.has_kind = true,
		.kind = kind,
		.pool = pool,
		.slot = slot,
		.service = session ? session->service : req->service,
		.tty = session ? session->tty : req->tty,
		.rhost = session ? session->rhost : req->rhost,
		.host = session ? session->host : env->host,
		.pid = session ? session->pid : env->self.pid,
		.session = session ? session->id : NULL,
		.reason = reason,
	};
	struct queued_event *grown, *q;
	struct timespec ts;
	struct hl_buf text;

	grown = realloc(run->events, (run->event_count + 1) * sizeof(*grown));
	if (grown == NULL) {
		hl_log(env->log, LOG_ERR, "out of memory logging '%s' of %s",
		       event, user);
		return;
	}
	run->events = grown;
	q = &run->events[run->event_count];

	clock_gettime(CLOCK_REALTIME, &ts);
	hl_buf_init(&text);
	hl_buf_printf(&text, "%s: user=", event);
	hl_buf_printable(&text, user);
	hl_buf_printf(&text, " kind=%s", kind_name(kind));
	if (pool)
		hl_buf_printf(&text, " pool=%s slot=%u", pool, slot);
	hl_buf_puts(&text, " service=");
	hl_buf_printable(&text, ev.service);
	hl_buf_puts(&text, " tty=");
	hl_buf_printable(&text, ev.tty);
	hl_buf_puts(&text, " rhost=");
	hl_buf_printable(&text, ev.rhost);
	hl_buf_printf(&text, " pid=%ld", (long)ev.pid);
	if (ev.session)
		hl_buf_printf(&text, " session=%s", ev.session);
	if (reason) {
		hl_buf_puts(&text, " reason=");
		hl_buf_printable(&text, reason);
	}
	q->priority = priority;
	q->syslog_text = hl_buf_take(&text);
	q->json_line = env->cfg->event_log ? hl_event_format(&ev, &ts) : NULL;
	run->event_count++;
}

static void flush_events(struct run *run, bool committed)
{
	const struct hl_env *env = run->env;

	for (size_t i = 0; i < run->event_count; i++) {
		struct queued_event *q = &run->events[i];

		if (committed && q->syslog_text)
			hl_log(env->log, q->priority, "%s", q->syslog_text);
		if (committed && q->json_line)
			hl_event_append_line(env->cfg->event_log, q->json_line,
					     env->log);
		free(q->syslog_text);
		free(q->json_line);
	}
	free(run->events);
	run->events = NULL;
	run->event_count = 0;
}

/* ---- store access ------------------------------------------------------- */

static void store_failed(struct run *run, int rc, const char *what)
{
	hl_log(run->env->log, LOG_ERR, "license store %s: %s: %s",
	       run->env->cfg->store, what, hl_store_strerror(rc));
	run->out->verdict = HL_STORE_FAILED;
	set_text(run->out->reason, sizeof(run->out->reason), "store: %s",
		 hl_store_strerror(rc));
	set_text(run->out->message, sizeof(run->out->message),
		 "The help desk license service is unavailable (%s). "
		 "Please tell your administrator.", hl_store_strerror(rc));
}

/* Loads a holding record; *found false (and 0) when the key is absent. */
static int load_holding(struct run *run, const char *key,
			struct hl_holding *holding, bool *found)
{
	char *text = NULL;
	int rc;

	memset(holding, 0, sizeof(*holding));
	*found = false;
	rc = hl_store_get(run->store, key, &text);
	if (rc == HL_STORE_NOTFOUND)
		return 0;
	if (rc != HL_STORE_OK) {
		store_failed(run, rc, key);
		return -1;
	}
	if (hl_holding_decode(text, holding) != 0) {
		free(text);
		hl_log(run->env->log, LOG_ERR,
		       "license store %s: record '%s' is damaged; run "
		       "'helpdesk-license repair'", run->env->cfg->store, key);
		store_failed(run, HL_STORE_DAMAGED, key);
		return -1;
	}
	free(text);
	*found = true;
	return 0;
}

static int save_holding(struct run *run, const char *key,
			const struct hl_holding *holding)
{
	char *text = hl_holding_encode(holding);
	int rc;

	if (text == NULL) {
		store_failed(run, HL_STORE_NOMEM, key);
		return -1;
	}
	rc = hl_store_put(run->store, key, text);
	free(text);
	if (rc != HL_STORE_OK) {
		store_failed(run, rc, key);
		return -1;
	}
	return 0;
}

static int load_counter(struct run *run, const char *key,
			struct hl_counter *counter)
{
	char *text = NULL;
	int rc;

	memset(counter, 0, sizeof(*counter));
	rc = hl_store_get(run->store, key, &text);
	if (rc == HL_STORE_NOTFOUND)
		return 0;
	if (rc != HL_STORE_OK) {
		store_failed(run, rc, key);
		return -1;
	}
	rc = hl_counter_decode(text, counter);
	free(text);
	if (rc != 0) {
		store_failed(run, HL_STORE_DAMAGED, key);
		return -1;
	}
	return 0;
}

static int save_counter(struct run *run, const char *key,
			const struct hl_counter *counter, bool pool)
{
	char *text = hl_counter_encode(counter, pool);
	int rc;

	if (text == NULL) {
		store_failed(run, HL_STORE_NOMEM, key);
		return -1;
	}
	rc = hl_store_put(run->store, key, text);
	free(text);
	if (rc != HL_STORE_OK) {
		store_failed(run, rc, key);
		return -1;
	}
	return 0;
}

static int delete_key(struct run *run, const char *key)
{
	int rc = hl_store_delete(run->store, key);

	if (rc != HL_STORE_OK && rc != HL_STORE_NOTFOUND) {
		store_failed(run, rc, key);
		return -1;
	}
	return 0;
}

/* The user holding slot N of a pool; *user "" when the slot is free. */
static int load_slot(struct run *run, const char *pool, unsigned slot,
		     char *user, size_t len)
{
	char key[HL_KEY_MAX];
	char *text = NULL;
	int rc;

	*user = '\0';
	if (!hl_key_slot(key, sizeof(key), pool, slot)) {
		store_failed(run, HL_STORE_IO, "slot key too long");
		return -1;
	}
	rc = hl_store_get(run->store, key, &text);
	if (rc == HL_STORE_NOTFOUND)
		return 0;
	if (rc != HL_STORE_OK) {
		store_failed(run, rc, key);
		return -1;
	}
	if (!hl_user_valid(text) || strlen(text) >= len) {
		free(text);
		store_failed(run, HL_STORE_DAMAGED, key);
		return -1;
	}
	snprintf(user, len, "%s", text);
	free(text);
	return 0;
}

/* ---- sessions ----------------------------------------------------------- */

static int new_session(struct run *run, struct hl_session *session)
{
	const struct hl_env *env = run->env;
	const struct hl_request *req = run->req;
	unsigned char random[HL_SESSION_ID_LEN / 2];

	memset(session, 0, sizeof(*session));
	if (getrandom(random, sizeof(random), 0) != (ssize_t)sizeof(random)) {
		hl_log(env->log, LOG_ERR, "getrandom: %s", strerror(errno));
		return -1;
	}
	for (size_t i = 0; i < sizeof(random); i++)
		snprintf(session->id + 2 * i, 3, "%02x", random[i]);
	session->pid = env->self.pid;
	session->start = env->self.start;
	memcpy(session->boot_id, env->self.boot_id, sizeof(session->boot_id));
	session->since = env->now();
	/* The record codec copies these; they are only borrowed here. */
	session->service = (char *)req->service;
	session->tty = (char *)req->tty;
	session->rhost = (char *)req->rhost;
	session->host = (char *)env->host;
	return 0;
}

static bool session_stale(const struct run *run,
			  const struct hl_session *session)
{
	return hl_session_stale(run->env->proc_root, run->env->self.boot_id,
				session);
}

static const char *stale_reason(const struct run *run,
				const struct hl_session *session)
{
	return strcmp(session->boot_id, run->env->self.boot_id) != 0
		       ? "earlier boot" : "process gone";
}

/* Drops (and logs) the stale sessions of a holding; true if any. */
static bool prune_stale(struct run *run, const char *user,
			struct hl_holding *holding)
{
	bool pruned = false;

	for (size_t i = holding->session_count; i-- > 0;) {
		struct hl_session *s = &holding->sessions[i];

		if (!session_stale(run, s))
			continue;
		queue_event(run, LOG_NOTICE, "reap", user, holding->kind,
			    holding->kind == HL_KIND_CONCURRENT ? holding->pool
								 : NULL,
			    holding->slot, s, stale_reason(run, s));
		hl_holding_remove_session(holding, i);
		pruned = true;
	}
	return pruned;
}

static bool all_stale(const struct run *run, const struct hl_holding *holding)
{
	for (size_t i = 0; i < holding->session_count; i++)
		if (!session_stale(run, &holding->sessions[i]))
			return false;
	return true;
}

/* ---- concurrent slots --------------------------------------------------- */

/* Gives back user's slot: slot key, holder record and pool count. */
static int free_slot(struct run *run, const char *user,
		     const struct hl_holding *holding)
{
	char key[HL_KEY_MAX];
	struct hl_counter counter;

	if (!hl_key_holder(key, sizeof(key), user) || delete_key(run, key))
		return -1;
	if (!hl_key_slot(key, sizeof(key), holding->pool, holding->slot) ||
	    delete_key(run, key))
		return -1;
	if (!hl_key_pool(key, sizeof(key), holding->pool) ||
	    load_counter(run, key, &counter))
		return -1;
	if (counter.used > 0)
		counter.used--;
	/* A freed slot is the first place the next login looks. */
	counter.next = holding->slot;
	return save_counter(run, key, &counter, true);
}

/*
 * Reclaims the slots of a full pool whose holders are gone.  In a dry run
 * nothing is written; *freed counts what would be reclaimed.
 */
static int reclaim_pool(struct run *run, const struct hl_pool *pool,
			const struct hl_counter *counter, unsigned *freed)
{
	unsigned last = counter->top > pool->licenses ? counter->top
						      : pool->licenses;

	*freed = 0;
	for (unsigned n = 1; n <= last; n++) {
		char user[HL_USER_MAX + 1], key[HL_KEY_MAX];
		struct hl_holding holding;
		bool found, orphan;

		if (load_slot(run, pool->name, n, user, sizeof(user)))
			return -1;
		if (*user == '\0')
			continue;
		if (!hl_key_holder(key, sizeof(key), user) ||
		    load_holding(run, key, &holding, &found))
			return -1;
		/* A slot whose holder record does not claim it is left over
		 * from a change interrupted before it could be journaled. */
		orphan = !found || holding.kind != HL_KIND_CONCURRENT ||
			 strcmp(holding.pool, pool->name) != 0 ||
			 holding.slot != n;
		if (!orphan && !all_stale(run, &holding)) {
			hl_holding_free(&holding);
			continue;
		}
		(*freed)++;
		if (run->take) {
			int rc;

			if (orphan) {
				char slot_key[HL_KEY_MAX];
				struct hl_counter c;

				queue_event(run, LOG_NOTICE, "reap", user,
					    HL_KIND_CONCURRENT, pool->name, n,
					    NULL, "slot without holder record");
				hl_key_slot(slot_key, sizeof(slot_key),
					    pool->name, n);
				hl_key_pool(key, sizeof(key), pool->name);
				rc = delete_key(run, slot_key) ||
				     load_counter(run, key, &c);
				if (rc == 0) {
					c.used = c.used ? c.used - 1 : 0;
					rc = save_counter(run, key, &c, true);
				}
			} else {
				prune_stale(run, user, &holding);
				rc = free_slot(run, user, &holding);
			}
			if (rc) {
				hl_holding_free(&holding);
				return -1;
			}
		}
		hl_holding_free(&holding);
	}
	return 0;
}

/* Takes a free slot of pool; *slot 0 when there is none. */
static int take_slot(struct run *run, const struct hl_pool *pool,
		     const struct hl_session *session, unsigned *slot)
{
	char key[HL_KEY_MAX], slot_key[HL_KEY_MAX], user[HL_USER_MAX + 1];
	struct hl_counter counter;
	struct hl_holding holding;
	unsigned start;
	int rc;

	*slot = 0;
	if (!hl_key_pool(key, sizeof(key), pool->name) ||
	    load_counter(run, key, &counter))
		return -1;
	if (counter.used >= pool->licenses) {
		unsigned freed;

		if (reclaim_pool(run, pool, &counter, &freed))
			return -1;
		if (freed == 0)
			return 0;
		if (!run->take) {
			*slot = 1;	/* a dry run only needs to know */
			return 0;
		}
		if (load_counter(run, key, &counter))
			return -1;
		if (counter.used >= pool->licenses)
			return 0;
	}
	if (!run->take) {
		*slot = 1;
		return 0;
	}
	/* used < licenses, so one of 1..licenses is free: look from the
	 * hint, which is usually free already. */
	start = counter.next >= 1 && counter.next <= pool->licenses
			? counter.next : 1;
	for (unsigned i = 0; i < pool->licenses && *slot == 0; i++) {
		unsigned n = (start - 1 + i) % pool->licenses + 1;

		if (load_slot(run, pool->name, n, user, sizeof(user)))
			return -1;
		if (*user == '\0')
			*slot = n;
	}
	if (*slot == 0) {
		/* The count said free but every slot is taken: the count is
		 * wrong.  Refuse rather than over-allocate. */
		hl_log(run->env->log, LOG_WARNING,
		       "pool %s: count says %u in use but all %u slots are taken",
		       pool->name, counter.used, pool->licenses);
		return 0;
	}

	memset(&holding, 0, sizeof(holding));
	holding.kind = HL_KIND_CONCURRENT;
	snprintf(holding.pool, sizeof(holding.pool), "%s", pool->name);
	holding.slot = *slot;
	holding.since = session->since;
	if (hl_holding_add_session(&holding, session)) {
		store_failed(run, HL_STORE_NOMEM, "session");
		return -1;
	}
	hl_key_slot(slot_key, sizeof(slot_key), pool->name, *slot);
	rc = hl_store_put(run->store, slot_key, run->who.user);
	if (rc != HL_STORE_OK) {
		hl_holding_free(&holding);
		store_failed(run, rc, slot_key);
		return -1;
	}
	counter.used++;
	counter.next = *slot % pool->licenses + 1;
	if (*slot > counter.top)
		counter.top = *slot;
	if (save_counter(run, key, &counter, true) ||
	    !hl_key_holder(key, sizeof(key), run->who.user) ||
	    save_holding(run, key, &holding)) {
		hl_holding_free(&holding);
		return -1;
	}
	hl_holding_free(&holding);
	return 0;
}

/* ---- Named allocations -------------------------------------------------- */

struct named_sweep {
	struct run *run;
	unsigned in_force;
	int rc;
};

static int sweep_one(void *arg, const char *key, const char *value)
{
	struct named_sweep *sweep = arg;
	struct run *run = sweep->run;
	const char *user = key + strlen("named/");
	struct who who;

	(void)value;
	if (who_lookup(&who, user) == 0 &&
	    named_eligible(run->env->cfg, &who)) {
		sweep->in_force++;
		return 0;
	}
	if (run->take) {
		char copy[HL_USER_MAX + 1];

		snprintf(copy, sizeof(copy), "%s", user);
		queue_event(run, LOG_NOTICE, "unassign", copy, HL_KIND_NAMED,
			    NULL, 0, NULL, "no longer named-eligible");
		if (hl_store_delete(run->store, key) != HL_STORE_OK) {
			sweep->rc = -1;
			return 1;
		}
	}
	return 0;
}

/*
 * Named allocations of users who left the named users and groups no longer
 * count.  Called only when the Named licenses look full, so a login never
 * pays for it otherwise.  *in_force: the allocations that still count.
 */
static int sweep_named(struct run *run, struct hl_counter *counter,
		       unsigned *in_force)
{
	struct named_sweep sweep = { .run = run };
	int rc;

	rc = hl_store_foreach(run->store, "named/", sweep_one, &sweep);
	if (rc < 0 || sweep.rc) {
		store_failed(run, rc < 0 ? rc : HL_STORE_IO, "named sweep");
		return -1;
	}
	*in_force = sweep.in_force;
	if (run->take && counter->used != sweep.in_force) {
		counter->used = sweep.in_force;
		return save_counter(run, "named", counter, false);
	}
	return 0;
}

/* Allocates a Named license to the user if one is free; *done. */
static int allocate_named(struct run *run, const struct hl_session *session,
			  bool *done)
{
	const struct hl_config *cfg = run->env->cfg;
	struct hl_counter counter;
	struct hl_holding holding;
	char key[HL_KEY_MAX];
	unsigned in_force;
	int rc;

	*done = false;
	if (load_counter(run, "named", &counter))
		return -1;
	in_force = counter.used;
	if (in_force >= cfg->named.licenses && counter.used > 0 &&
	    sweep_named(run, &counter, &in_force))
		return -1;
	if (in_force >= cfg->named.licenses)
		return 0;
	*done = true;
	if (!run->take)
		return 0;
	memset(&holding, 0, sizeof(holding));
	holding.kind = HL_KIND_NAMED;
	holding.since = session->since;
	if (hl_holding_add_session(&holding, session)) {
		store_failed(run, HL_STORE_NOMEM, "session");
		return -1;
	}
	counter.used = in_force + 1;
	hl_key_named(key, sizeof(key), run->who.user);
	rc = save_counter(run, "named", &counter, false) ||
	     save_holding(run, key, &holding);
	hl_holding_free(&holding);
	return rc ? -1 : 0;
}

/* ---- the refusal message ------------------------------------------------ */

static void describe_pool(struct run *run, struct hl_buf *msg,
			  const struct hl_pool *pool)
{
	const struct hl_config *cfg = run->env->cfg;
	unsigned shown = 0;

	struct hl_counter counter;
	char key[HL_KEY_MAX];
	unsigned last;

	hl_buf_printf(msg, "All %u license%s of pool %s %s in use", pool->licenses,
		      pool->licenses == 1 ? "" : "s", pool->name,
		      pool->licenses == 1 ? "is" : "are");
	if (!cfg->show_holders || !hl_key_pool(key, sizeof(key), pool->name) ||
	    load_counter(run, key, &counter)) {
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

		if (load_slot(run, pool->name, n, user, sizeof(user)))
			return;
		if (*user == '\0')
			continue;
		if (!hl_key_holder(key, sizeof(key), user) ||
		    load_holding(run, key, &holding, &found))
			return;
		if (!found)
			continue;
		format_time(holding.since, when, sizeof(when));
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
			if (strcmp(s->host, run->env->host) != 0) {
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

static void refuse(struct run *run, const struct hl_pool **pools,
		   size_t npools, bool named, const char *reason)
{
	const struct hl_config *cfg = run->env->cfg;
	struct hl_decision *out = run->out;
	struct hl_buf msg;
	char *text;

	hl_buf_init(&msg);
	hl_buf_puts(&msg, "No help desk license is free for you.\n");
	if (named)
		hl_buf_printf(&msg, "All %u Named license%s %s allocated.\n",
			      cfg->named.licenses,
			      cfg->named.licenses == 1 ? "" : "s",
			      cfg->named.licenses == 1 ? "is" : "are");
	for (size_t i = 0; i < npools; i++)
		describe_pool(run, &msg, pools[i]);
	hl_buf_puts(&msg, "Please try again later.");
	text = hl_buf_take(&msg);
	snprintf(out->message, sizeof(out->message), "%s",
		 text ? text : "No help desk license is free for you.");
	free(text);
	out->verdict = HL_DENIED;
	snprintf(out->reason, sizeof(out->reason), "%s", reason);
	if (npools > 0) {
		out->kind = HL_KIND_CONCURRENT;
		snprintf(out->pool, sizeof(out->pool), "%s", pools[0]->name);
	} else {
		out->kind = HL_KIND_NAMED;
	}
	queue_event(run, LOG_NOTICE, "deny", run->who.user, out->kind,
		    npools ? pools[0]->name : NULL, 0, NULL, reason);
}

/* ---- the decision ------------------------------------------------------- */

static void granted(struct run *run, enum hl_kind kind, const char *pool,
		    unsigned slot, bool joined, const struct hl_session *session,
		    const char *reason)
{
	struct hl_decision *out = run->out;

	out->verdict = HL_GRANTED;
	out->kind = kind;
	out->joined = joined;
	out->slot = slot;
	snprintf(out->pool, sizeof(out->pool), "%s", pool ? pool : "");
	snprintf(out->reason, sizeof(out->reason), "%s", reason);
	if (run->take) {
		memcpy(out->session_id, session->id, sizeof(out->session_id));
		queue_event(run, LOG_INFO, joined ? "join" : "grant",
			    run->who.user, kind, pool, slot, session, reason);
	}
}

/* Adds the session to an existing holding record at key. */
static int join(struct run *run, const char *key, struct hl_holding *holding,
		const struct hl_session *session)
{
	prune_stale(run, run->who.user, holding);
	if (hl_holding_add_session(holding, session)) {
		store_failed(run, HL_STORE_NOMEM, "session");
		return -1;
	}
	return save_holding(run, key, holding);
}

/* Steps 2 to 7 of SPEC section 4, inside an open store. */
static int decide_in_store(struct run *run, const struct hl_pool **pools,
			   size_t npools, bool named_ok)
{
	const struct hl_config *cfg = run->env->cfg;
	struct hl_session session;
	struct hl_holding holding;
	char key[HL_KEY_MAX];
	bool found, done;
	int rc;

	if (new_session(run, &session))
		return -1;

	/* 2. A Named allocation in force. */
	if (!hl_key_named(key, sizeof(key), run->who.user) ||
	    load_holding(run, key, &holding, &found))
		return -1;
	if (found && named_ok) {
		rc = run->take ? join(run, key, &holding, &session) : 0;
		hl_holding_free(&holding);
		if (rc == 0)
			granted(run, HL_KIND_NAMED, NULL, 0, true, &session,
				"named allocation");
		return rc;
	}
	if (found) {
		/* Its user left the named users and groups: it no longer
		 * counts, and goes at this write. */
		struct hl_counter counter;

		hl_holding_free(&holding);
		if (run->take) {
			queue_event(run, LOG_NOTICE, "unassign", run->who.user,
				    HL_KIND_NAMED, NULL, 0, NULL,
				    "no longer named-eligible");
			if (delete_key(run, key) ||
			    load_counter(run, "named", &counter))
				return -1;
			counter.used = counter.used ? counter.used - 1 : 0;
			if (save_counter(run, "named", &counter, false))
				return -1;
		}
	}

	/* 3. A free Named license for a named-eligible technician. */
	if (named_ok) {
		if (allocate_named(run, &session, &done))
			return -1;
		if (done) {
			granted(run, HL_KIND_NAMED, NULL, 0, false, &session,
				"named license allocated");
			return 0;
		}
	}

	/* 4. The slot this technician already holds. */
	if (!hl_key_holder(key, sizeof(key), run->who.user) ||
	    load_holding(run, key, &holding, &found))
		return -1;
	if (found) {
		char pool[HL_POOL_NAME_MAX + 1];
		unsigned slot = holding.slot;

		snprintf(pool, sizeof(pool), "%s", holding.pool);
		rc = run->take ? join(run, key, &holding, &session) : 0;
		hl_holding_free(&holding);
		if (rc == 0)
			granted(run, HL_KIND_CONCURRENT, pool, slot, true,
				&session, "joins the slot already held");
		return rc;
	}

	/* 5. A free slot in one of the technician's pools, in config order. */
	for (size_t i = 0; i < npools; i++) {
		unsigned slot;

		if (take_slot(run, pools[i], &session, &slot))
			return -1;
		if (slot) {
			granted(run, HL_KIND_CONCURRENT, pools[i]->name,
				run->take ? slot : 0, false, &session,
				"free concurrent license");
			return 0;
		}
	}

	/* 6. Entitled, but everything is taken. */
	if (named_ok || npools > 0) {
		bool may_wait = false;

		for (size_t i = 0; i < npools; i++)
			may_wait |= pools[i]->wait > 0;
		if (!run->take && may_wait) {
			/* The waiting happens in the session. */
			granted(run, HL_KIND_CONCURRENT, pools[0]->name, 0,
				false, &session, "may wait in line");
			return 0;
		}
		refuse(run, pools, npools, named_ok,
		       npools ? "all licenses in use" : "all named licenses allocated");
		return 0;
	}

	/* 7. No license of any kind. */
	if (cfg->unlicensed == HL_UNLICENSED_IGNORE) {
		run->out->verdict = HL_IGNORED;
		snprintf(run->out->reason, sizeof(run->out->reason),
			 "unlicensed, ignored");
		return 0;
	}
	run->out->verdict = HL_DENIED;
	snprintf(run->out->reason, sizeof(run->out->reason), "unlicensed");
	snprintf(run->out->message, sizeof(run->out->message),
		 "You hold no help desk license on this host: you are neither "
		 "a named technician nor in a technician pool. Ask your help "
		 "desk manager for a license.");
	queue_event(run, LOG_NOTICE, "deny", run->who.user, HL_KIND_NAMED,
		    NULL, 0, NULL, "unlicensed");
	return 0;
}

/* Step 1 and the store around steps 2 to 7. */
static int decide(const struct hl_env *env, const struct hl_request *req,
		  bool take, struct hl_decision *out)
{
	const struct hl_config *cfg = env->cfg;
	const struct hl_pool **pools = NULL;
	struct run run = { .env = env, .req = req, .out = out, .take = take };
	size_t npools = 0;
	bool named_ok;
	int rc;

	memset(out, 0, sizeof(*out));
	out->verdict = HL_IGNORED;
	if (!hl_user_valid(req->user)) {
		out->verdict = HL_USER_UNKNOWN;
		snprintf(out->reason, sizeof(out->reason), "invalid user name");
		return 0;
	}
	if (hl_names_contain(&cfg->ignore_services, req->service)) {
		snprintf(out->reason, sizeof(out->reason), "ignored service");
		return 0;
	}
	if (who_lookup(&run.who, req->user) != 0) {
		out->verdict = HL_USER_UNKNOWN;
		snprintf(out->reason, sizeof(out->reason), "unknown user");
		return 0;
	}
	if (who_in(&run.who, &cfg->exempt_users, &cfg->exempt_groups)) {
		snprintf(out->reason, sizeof(out->reason), "exempt");
		return 0;
	}

	named_ok = cfg->named.licenses > 0 && named_eligible(cfg, &run.who);
	pools = calloc(cfg->pool_count ? cfg->pool_count : 1, sizeof(*pools));
	if (pools == NULL) {
		out->verdict = HL_STORE_FAILED;
		return -1;
	}
	for (size_t i = 0; i < cfg->pool_count; i++)
		if (who_in(&run.who, &cfg->pools[i].users, &cfg->pools[i].groups))
			pools[npools++] = &cfg->pools[i];

	rc = hl_store_open(cfg->store, take ? HL_STORE_WRITE : HL_STORE_READ,
			   cfg->lock_timeout, env->log, &run.store);
	if (rc != HL_STORE_OK) {
		store_failed(&run, rc, "open");
		free(pools);
		return 0;
	}
	rc = decide_in_store(&run, pools, npools, named_ok);
	if (rc == 0 && take) {
		int crc = hl_store_commit(run.store);

		if (crc != HL_STORE_OK) {
			store_failed(&run, crc, "commit");
			rc = -1;
		}
	}
	hl_store_close(run.store);
	if (rc != 0 && out->verdict != HL_STORE_FAILED)
		store_failed(&run, HL_STORE_IO, "decision");
	flush_events(&run, rc == 0);
	free(pools);
	return 0;
}

int hl_license_check(const struct hl_env *env, const struct hl_request *req,
		     struct hl_decision *out)
{
	return decide(env, req, false, out);
}

int hl_license_open(const struct hl_env *env, const struct hl_request *req,
		    struct hl_decision *out)
{
	return decide(env, req, true, out);
}

/* ---- session close ------------------------------------------------------ */

static bool session_matches(const struct run *run, const struct hl_session *s,
			    const char *session_id)
{
	if (session_id && *session_id)
		return strcmp(s->id, session_id) == 0;
	return s->pid == run->env->self.pid &&
	       s->start == run->env->self.start &&
	       strcmp(s->boot_id, run->env->self.boot_id) == 0;
}

/* Removes the closing session from the holding at key; *closed. */
static int close_in(struct run *run, const char *key, const char *session_id,
		    bool *closed)
{
	struct hl_holding holding;
	bool found;
	int rc = 0;

	*closed = false;
	if (load_holding(run, key, &holding, &found))
		return -1;
	if (!found)
		return 0;
	for (size_t i = holding.session_count; i-- > 0;) {
		struct hl_session *s = &holding.sessions[i];

		if (!session_matches(run, s, session_id))
			continue;
		queue_event(run, LOG_INFO, "release", run->who.user,
			    holding.kind,
			    holding.kind == HL_KIND_CONCURRENT ? holding.pool
								: NULL,
			    holding.slot, s, "session closed");
		hl_holding_remove_session(&holding, i);
		*closed = true;
	}
	if (*closed) {
		prune_stale(run, run->who.user, &holding);
		if (holding.kind == HL_KIND_CONCURRENT &&
		    holding.session_count == 0)
			rc = free_slot(run, run->who.user, &holding);
		else
			rc = save_holding(run, key, &holding);
	}
	hl_holding_free(&holding);
	return rc;
}

int hl_license_close(const struct hl_env *env, const struct hl_request *req,
		     const char *session_id, struct hl_decision *out)
{
	struct run run = { .env = env, .req = req, .out = out, .take = true };
	char key[HL_KEY_MAX];
	bool closed_named = false, closed_slot = false;
	int rc;

	memset(out, 0, sizeof(*out));
	out->verdict = HL_IGNORED;
	run.who.user = req->user;
	if (!hl_user_valid(req->user)) {
		out->verdict = HL_USER_UNKNOWN;
		snprintf(out->reason, sizeof(out->reason), "invalid user name");
		return 0;
	}
	rc = hl_store_open(env->cfg->store, HL_STORE_WRITE,
			   env->cfg->lock_timeout, env->log, &run.store);
	if (rc != HL_STORE_OK) {
		store_failed(&run, rc, "open");
		return 0;
	}
	hl_key_named(key, sizeof(key), req->user);
	rc = close_in(&run, key, session_id, &closed_named);
	if (rc == 0) {
		hl_key_holder(key, sizeof(key), req->user);
		rc = close_in(&run, key, session_id, &closed_slot);
	}
	if (rc == 0 && (closed_named || closed_slot)) {
		int crc = hl_store_commit(run.store);

		if (crc != HL_STORE_OK) {
			store_failed(&run, crc, "commit");
			rc = -1;
		}
	}
	hl_store_close(run.store);
	if (rc == 0 && (closed_named || closed_slot)) {
		out->verdict = HL_GRANTED;
		snprintf(out->reason, sizeof(out->reason), "released");
	} else if (rc == 0) {
		snprintf(out->reason, sizeof(out->reason), "nothing held");
	}
	flush_events(&run, rc == 0);
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
	memset(env, 0, sizeof(*env));
	env->cfg = cfg;
	env->log = log;
	env->proc_root = "/proc";
	env->now = wall_clock;
	if (gethostname(env->host, sizeof(env->host)) != 0)
		snprintf(env->host, sizeof(env->host), "localhost");
	env->host[sizeof(env->host) - 1] = '\0';
	if (hl_process_identify(env->proc_root, getpid(), &env->self) != 0) {
		hl_log(log, LOG_ERR, "cannot read this process's identity "
		       "from %s", env->proc_root);
		return -1;
	}
	return 0;
}
