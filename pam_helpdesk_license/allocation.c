/*
 * Allocations in the store: see allocation.h.
 */
#include "config.h"

#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

#include "allocation.h"
#include "eventlog.h"
#include "text.h"

/* ---- small helpers ------------------------------------------------------ */

void hl_set_text(char *dst, size_t len, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(dst, len, fmt, ap);
	va_end(ap);
}

const char *hl_kind_name(enum hl_kind kind)
{
	return kind == HL_KIND_NAMED ? "named" : "concurrent";
}

void hl_format_time(time_t when, char *buf, size_t len)
{
	struct tm tm;

	if (localtime_r(&when, &tm) == NULL ||
	    strftime(buf, len, "%Y-%m-%d %H:%M", &tm) == 0)
		snprintf(buf, len, "@%lld", (long long)when);
}

/* ---- who the technician is ---------------------------------------------- */

/* 0, or -1 when NSS does not know the user. */
int hl_who_lookup(struct hl_who *who, const char *user)
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

static bool hl_who_in_group(const struct hl_who *who, const char *group)
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

bool hl_who_in(const struct hl_who *who, const struct hl_names *users,
		   const struct hl_names *groups)
{
	if (hl_names_contain(users, who->user))
		return true;
	for (size_t i = 0; i < groups->count; i++)
		if (hl_who_in_group(who, groups->names[i]))
			return true;
	return false;
}

bool hl_named_eligible(const struct hl_config *cfg, const struct hl_who *who)
{
	return hl_who_in(who, &cfg->named.users, &cfg->named.groups);
}

/* ---- events: syslog and the event log, written after the commit --------- */

static void queue_event(struct hl_txn *txn, int priority, const char *event,
			const char *user, bool has_kind, enum hl_kind kind,
			const char *pool, unsigned slot,
			const struct hl_session *session, const char *reason)
{
	const struct hl_env *env = txn->env;
	const struct hl_request *req = txn->req;
	struct hl_event ev = {
		.event = event,
		.user = user,
		.has_kind = has_kind,
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
	struct hl_queued_event *grown, *q;
	struct timespec ts;
	struct hl_buf text;

	grown = realloc(txn->events, (txn->event_count + 1) * sizeof(*grown));
	if (grown == NULL) {
		hl_log(env->log, LOG_ERR, "out of memory logging '%s' of %s",
		       event, user);
		return;
	}
	txn->events = grown;
	q = &txn->events[txn->event_count];

	clock_gettime(CLOCK_REALTIME, &ts);
	hl_buf_init(&text);
	hl_buf_printf(&text, "%s: user=", event);
	hl_buf_printable(&text, user);
	if (has_kind)
		hl_buf_printf(&text, " kind=%s", hl_kind_name(kind));
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
	txn->event_count++;
}

void hl_txn_event(struct hl_txn *txn, int priority, const char *event,
			const char *user, enum hl_kind kind, const char *pool,
			unsigned slot, const struct hl_session *session,
			const char *reason)
{
	queue_event(txn, priority, event, user, true, kind, pool, slot,
		    session, reason);
}

void hl_txn_event_no_kind(struct hl_txn *txn, int priority,
			  const char *event, const char *user,
			  const char *reason)
{
	queue_event(txn, priority, event, user, false, HL_KIND_NAMED, NULL, 0,
		    NULL, reason);
}

void hl_txn_note(struct hl_txn *txn, int priority, const char *fmt, ...)
{
	struct hl_queued_event *grown, *q;
	char line[2048];
	va_list ap;

	grown = realloc(txn->events, (txn->event_count + 1) * sizeof(*grown));
	if (grown == NULL) {
		hl_log(txn->env->log, LOG_ERR, "out of memory logging a note");
		return;
	}
	txn->events = grown;
	q = &txn->events[txn->event_count];
	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	q->priority = priority;
	q->syslog_text = strdup(line);	/* NULL: not logged, nothing worse */
	q->json_line = NULL;
	txn->event_count++;
}

static void hl_txn_flush_events(struct hl_txn *txn, bool committed)
{
	const struct hl_env *env = txn->env;
	struct hl_buf lines;
	char *text;

	hl_buf_init(&lines);
	for (size_t i = 0; i < txn->event_count; i++) {
		struct hl_queued_event *q = &txn->events[i];

		if (committed && q->syslog_text)
			hl_log(env->log, q->priority, "%s", q->syslog_text);
		if (committed && q->json_line)
			hl_buf_puts(&lines, q->json_line);
		free(q->syslog_text);
		free(q->json_line);
	}
	free(txn->events);
	txn->events = NULL;
	txn->event_count = 0;
	text = hl_buf_take(&lines);
	if (text && *text)
		hl_event_append_line(env->cfg->event_log, text, env->log);
	free(text);
}

/*
 * The outbox: a writer's event lines are committed to the store with its
 * changes, as "INODE SIZE" of the log before them and then the lines, and
 * appended to the log after the commit.  A process killed in between never
 * loses them: the next writer finds the outbox, appends the lines unless
 * they are in the log already, and clears it.  The log never says less
 * than the store; after a crash a line may at worst appear twice (same
 * session id, same time).
 */
#define OUTBOX_KEY "outbox"

static int put_outbox(struct hl_txn *txn)
{
	const char *path = txn->env->cfg->event_log;
	unsigned long long inode, size;
	struct hl_buf text;
	char *value;
	bool any = false;
	int rc;

	if (path == NULL)
		return 0;
	hl_event_log_end(path, &inode, &size);
	hl_buf_init(&text);
	hl_buf_printf(&text, "%llu %llu\n", inode, size);
	for (size_t i = 0; i < txn->event_count; i++) {
		if (txn->events[i].json_line == NULL)
			continue;
		hl_buf_puts(&text, txn->events[i].json_line);
		any = true;
	}
	value = hl_buf_take(&text);
	if (value == NULL) {
		hl_txn_failed(txn, HL_STORE_NOMEM, OUTBOX_KEY);
		return -1;
	}
	rc = any ? hl_store_put(txn->store, OUTBOX_KEY, value) : HL_STORE_OK;
	free(value);
	if (rc != HL_STORE_OK) {
		hl_txn_failed(txn, rc, OUTBOX_KEY);
		return -1;
	}
	return 0;
}

static int settle_outbox(struct hl_txn *txn)
{
	const struct hl_env *env = txn->env;
	unsigned long long inode, size;
	char *value = NULL, *lines, *end;
	int rc = hl_store_get(txn->store, OUTBOX_KEY, &value);

	if (rc == HL_STORE_NOTFOUND)
		return 0;
	if (rc != HL_STORE_OK) {
		hl_txn_failed(txn, rc, OUTBOX_KEY);
		return -1;
	}
	lines = strchr(value, '\n');
	if (env->cfg->event_log && lines &&
	    sscanf(value, "%llu %llu", &inode, &size) == 2) {
		lines++;
		end = strchr(lines, '\n');
		if (end) {
			char first[HL_FIELD_MAX * 8];

			snprintf(first, sizeof(first), "%.*s",
				 (int)(end - lines + 1), lines);
			if (!hl_event_log_has(env->cfg->event_log, inode, size,
					      first)) {
				hl_log(env->log, LOG_NOTICE, "event log: "
				       "appending the events of a transaction "
				       "whose process ended before it could");
				hl_event_append_line(env->cfg->event_log,
						     lines, env->log);
			}
		}
	}
	free(value);
	rc = hl_store_delete(txn->store, OUTBOX_KEY);
	if (rc != HL_STORE_OK) {
		hl_txn_failed(txn, rc, OUTBOX_KEY);
		return -1;
	}
	return 0;
}

/* ---- the transaction ---------------------------------------------------- */

int hl_txn_begin(struct hl_txn *txn)
{
	const struct hl_config *cfg = txn->env->cfg;
	int rc = hl_store_open(cfg->store,
			       txn->take ? HL_STORE_WRITE : HL_STORE_READ,
			       cfg->lock_timeout, txn->env->log, &txn->store);

	if (rc != HL_STORE_OK) {
		txn->store = NULL;
		hl_txn_failed(txn, rc, "open");
		return -1;
	}
	if (txn->take && settle_outbox(txn) != 0) {
		hl_store_close(txn->store);
		txn->store = NULL;
		return -1;
	}
	return 0;
}

int hl_txn_end(struct hl_txn *txn, bool ok)
{
	if (ok && txn->take && put_outbox(txn) != 0)
		ok = false;
	if (ok && txn->take) {
		int rc = hl_store_commit(txn->store);

		if (rc != HL_STORE_OK) {
			hl_txn_failed(txn, rc, "commit");
			ok = false;
		}
	}
	if (!ok && txn->out->verdict != HL_STORE_FAILED)
		hl_txn_failed(txn, HL_STORE_IO, "transaction");
	/* Appended before the lock goes: the next writer (a waiter, woken
	 * by this very commit) then finds the outbox's lines in the log,
	 * and does not append them a second time. */
	hl_txn_flush_events(txn, ok && !txn->quiet);
	hl_store_close(txn->store);
	txn->store = NULL;
	return ok ? 0 : -1;
}

/* ---- store access ------------------------------------------------------- */

void hl_txn_failed(struct hl_txn *txn, int rc, const char *what)
{
	hl_log(txn->env->log, LOG_ERR, "license store %s: %s: %s",
	       txn->env->cfg->store, what, hl_store_strerror(rc));
	txn->out->verdict = HL_STORE_FAILED;
	hl_set_text(txn->out->reason, sizeof(txn->out->reason), "store: %s",
		 hl_store_strerror(rc));
	hl_set_text(txn->out->message, sizeof(txn->out->message),
		 "The help desk license service is unavailable (%s). "
		 "Please tell your administrator.", hl_store_strerror(rc));
}

void hl_txn_damaged(struct hl_txn *txn, const char *key)
{
	hl_log(txn->env->log, LOG_ERR, "license store %s: record '%s' is "
	       "damaged; run 'helpdesk-license repair'", txn->env->cfg->store,
	       key);
	hl_txn_failed(txn, HL_STORE_DAMAGED, key);
}

/* The text at key; *text NULL (and 0) when the key is absent. */
static int get_text(struct hl_txn *txn, const char *key, char **text)
{
	int rc = hl_store_get(txn->store, key, text);

	if (rc == HL_STORE_NOTFOUND) {
		*text = NULL;
		return 0;
	}
	if (rc != HL_STORE_OK) {
		*text = NULL;
		hl_txn_failed(txn, rc, key);
		return -1;
	}
	return 0;
}

/* Stages text (from an encoder: NULL means it ran out of memory) at key,
 * and frees it. */
static int put_text(struct hl_txn *txn, const char *key, char *text)
{
	int rc = text ? hl_store_put(txn->store, key, text) : HL_STORE_NOMEM;

	free(text);
	if (rc != HL_STORE_OK) {
		hl_txn_failed(txn, rc, key);
		return -1;
	}
	return 0;
}

/* Loads a holding record; *found false (and 0) when the key is absent. */
int hl_txn_load_holding(struct hl_txn *txn, const char *key,
			struct hl_holding *holding, bool *found)
{
	char *text;

	memset(holding, 0, sizeof(*holding));
	*found = false;
	if (get_text(txn, key, &text))
		return -1;
	if (text == NULL)
		return 0;
	if (hl_holding_decode(text, holding) != 0) {
		free(text);
		hl_txn_damaged(txn, key);
		return -1;
	}
	free(text);
	*found = true;
	return 0;
}

int hl_txn_save_holding(struct hl_txn *txn, const char *key,
			const struct hl_holding *holding)
{
	return put_text(txn, key, hl_holding_encode(holding));
}

int hl_txn_load_counter(struct hl_txn *txn, const char *key,
			struct hl_counter *counter)
{
	char *text;
	int rc;

	memset(counter, 0, sizeof(*counter));
	if (get_text(txn, key, &text))
		return -1;
	if (text == NULL)
		return 0;
	rc = hl_counter_decode(text, counter);
	free(text);
	if (rc != 0) {
		hl_txn_failed(txn, HL_STORE_DAMAGED, key);
		return -1;
	}
	return 0;
}

int hl_txn_save_counter(struct hl_txn *txn, const char *key,
			const struct hl_counter *counter, bool pool)
{
	return put_text(txn, key, hl_counter_encode(counter, pool));
}

int hl_txn_delete(struct hl_txn *txn, const char *key)
{
	int rc = hl_store_delete(txn->store, key);

	if (rc != HL_STORE_OK && rc != HL_STORE_NOTFOUND) {
		hl_txn_failed(txn, rc, key);
		return -1;
	}
	return 0;
}

/* The user holding slot N of a pool; *user "" when the slot is free. */
int hl_txn_load_slot(struct hl_txn *txn, const char *pool, unsigned slot,
		     char *user, size_t len)
{
	char key[HL_KEY_MAX];
	char *text;

	*user = '\0';
	if (!hl_key_slot(key, sizeof(key), pool, slot)) {
		hl_txn_failed(txn, HL_STORE_IO, "slot key too long");
		return -1;
	}
	if (get_text(txn, key, &text))
		return -1;
	if (text == NULL)
		return 0;
	if (!hl_user_valid(text) || strlen(text) >= len) {
		free(text);
		hl_txn_failed(txn, HL_STORE_DAMAGED, key);
		return -1;
	}
	snprintf(user, len, "%s", text);
	free(text);
	return 0;
}

int hl_txn_save_slot(struct hl_txn *txn, const char *pool, unsigned slot,
		     const char *user)
{
	char key[HL_KEY_MAX];
	int rc;

	if (!hl_key_slot(key, sizeof(key), pool, slot)) {
		hl_txn_failed(txn, HL_STORE_IO, "slot key too long");
		return -1;
	}
	rc = hl_store_put(txn->store, key, user);
	if (rc != HL_STORE_OK) {
		hl_txn_failed(txn, rc, key);
		return -1;
	}
	return 0;
}

/* ---- sessions ----------------------------------------------------------- */

int hl_txn_new_session(struct hl_txn *txn, struct hl_session *session)
{
	const struct hl_env *env = txn->env;
	const struct hl_request *req = txn->req;
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
	session->audit_session = env->self.audit_session;
	session->since = env->now();
	/* The record codec copies these; they are only borrowed here. */
	session->service = (char *)req->service;
	session->tty = (char *)req->tty;
	session->rhost = (char *)req->rhost;
	session->host = (char *)env->host;
	return 0;
}

bool hl_txn_session_stale(const struct hl_txn *txn,
			  const struct hl_session *session)
{
	return hl_session_stale(txn->env->proc_root, txn->env->self.boot_id,
				session);
}

const char *hl_txn_stale_reason(const struct hl_txn *txn,
				const struct hl_session *session)
{
	return strcmp(session->boot_id, txn->env->self.boot_id) != 0
		       ? "earlier boot" : "process gone";
}

/* Drops (and logs) the stale sessions of a holding; true if any. */
bool hl_txn_prune_stale(struct hl_txn *txn, const char *user,
			struct hl_holding *holding)
{
	bool pruned = false;

	for (size_t i = holding->session_count; i-- > 0;) {
		struct hl_session *s = &holding->sessions[i];

		if (!hl_txn_session_stale(txn, s))
			continue;
		hl_txn_event(txn, LOG_NOTICE, "reap", user, holding->kind,
			    holding->kind == HL_KIND_CONCURRENT ? holding->pool
								 : NULL,
			    holding->slot, s, hl_txn_stale_reason(txn, s));
		hl_holding_remove_session(holding, i);
		pruned = true;
	}
	return pruned;
}

bool hl_txn_all_stale(const struct hl_txn *txn, const struct hl_holding *holding)
{
	for (size_t i = 0; i < holding->session_count; i++)
		if (!hl_txn_session_stale(txn, &holding->sessions[i]))
			return false;
	return true;
}

/* ---- concurrent slots --------------------------------------------------- */

/* Gives back user's slot: slot key, holder record and pool count. */
/* Empties slot N of pool: its slot key, and one less in the count. */
static int give_back_slot(struct hl_txn *txn, const char *pool, unsigned slot)
{
	char key[HL_KEY_MAX];
	struct hl_counter counter;

	if (!hl_key_slot(key, sizeof(key), pool, slot) ||
	    hl_txn_delete(txn, key))
		return -1;
	if (!hl_key_pool(key, sizeof(key), pool) ||
	    hl_txn_load_counter(txn, key, &counter))
		return -1;
	if (counter.used > 0)
		counter.used--;
	/* A freed slot is the first place the next login looks. */
	counter.next = slot;
	return hl_txn_save_counter(txn, key, &counter, true);
}

int hl_txn_free_slot(struct hl_txn *txn, const char *user,
		     const struct hl_holding *holding)
{
	char key[HL_KEY_MAX];

	if (!hl_key_holder(key, sizeof(key), user) || hl_txn_delete(txn, key))
		return -1;
	return give_back_slot(txn, holding->pool, holding->slot);
}

/* ---- waiting lines ------------------------------------------------------ */

int hl_txn_load_line(struct hl_txn *txn, const char *pool,
		     struct hl_line *line)
{
	char key[HL_KEY_MAX];
	char *text;

	memset(line, 0, sizeof(*line));
	if (!hl_key_line(key, sizeof(key), pool)) {
		hl_txn_failed(txn, HL_STORE_IO, "line key");
		return -1;
	}
	if (get_text(txn, key, &text))
		return -1;
	if (text == NULL)
		return 0;	/* nobody waits (and stores older than lines) */
	if (hl_line_decode(text, line) != 0) {
		free(text);
		hl_txn_damaged(txn, key);
		return -1;
	}
	free(text);
	return 0;
}

int hl_txn_save_line(struct hl_txn *txn, const char *pool,
		     const struct hl_line *line)
{
	char key[HL_KEY_MAX];

	if (!hl_key_line(key, sizeof(key), pool)) {
		hl_txn_failed(txn, HL_STORE_IO, "line key");
		return -1;
	}
	if (line->count == 0)
		return hl_txn_delete(txn, key);
	return put_text(txn, key, hl_line_encode(line));
}

bool hl_txn_prune_line(struct hl_txn *txn, const char *pool,
		       struct hl_line *line)
{
	bool pruned = false;

	for (size_t i = line->count; i-- > 0;) {
		struct hl_waiter *w = &line->waiters[i];

		if (!hl_txn_session_stale(txn, &w->session))
			continue;
		hl_txn_event(txn, LOG_NOTICE, "deny", w->user,
			    HL_KIND_CONCURRENT, pool, 0, &w->session,
			    "abandoned");
		hl_line_remove(line, i);
		pruned = true;
	}
	return pruned;
}

int hl_txn_free_named(struct hl_txn *txn, const char *user)
{
	char key[HL_KEY_MAX];
	struct hl_counter counter;

	if (!hl_key_named(key, sizeof(key), user) || hl_txn_delete(txn, key) ||
	    hl_txn_load_counter(txn, "named", &counter))
		return -1;
	if (counter.used > 0)
		counter.used--;
	return hl_txn_save_counter(txn, "named", &counter, false);
}

bool hl_holding_claims(const struct hl_holding *holding, bool found,
		       const char *pool, unsigned slot)
{
	return found && holding->kind == HL_KIND_CONCURRENT &&
	       strcmp(holding->pool, pool) == 0 && holding->slot == slot;
}

int hl_txn_free_orphan_slot(struct hl_txn *txn, const char *user,
			    const char *pool, unsigned slot)
{
	hl_txn_event(txn, LOG_NOTICE, "reap", user, HL_KIND_CONCURRENT, pool,
		     slot, NULL, "slot without holder record");
	return give_back_slot(txn, pool, slot);
}

/*
 * Reclaims the slots of a full pool whose holders are gone.  In a dry run
 * nothing is written; *freed counts what would be reclaimed.
 */
int hl_txn_reclaim_pool(struct hl_txn *txn, const struct hl_pool *pool,
			const struct hl_counter *counter, unsigned *freed)
{
	unsigned last = counter->top > pool->licenses ? counter->top
						      : pool->licenses;

	*freed = 0;
	for (unsigned n = 1; n <= last; n++) {
		char user[HL_USER_MAX + 1], key[HL_KEY_MAX];
		struct hl_holding holding;
		bool found, orphan;

		if (hl_txn_load_slot(txn, pool->name, n, user, sizeof(user)))
			return -1;
		if (*user == '\0')
			continue;
		if (!hl_key_holder(key, sizeof(key), user) ||
		    hl_txn_load_holding(txn, key, &holding, &found))
			return -1;
		/* A slot whose holder record does not claim it is left over
		 * from a change interrupted before it could be journaled. */
		orphan = !hl_holding_claims(&holding, found, pool->name, n);
		if (!orphan && !hl_txn_all_stale(txn, &holding)) {
			hl_holding_free(&holding);
			continue;
		}
		(*freed)++;
		if (txn->take) {
			int rc;

			if (orphan) {
				rc = hl_txn_free_orphan_slot(txn, user,
							     pool->name, n);
			} else {
				hl_txn_prune_stale(txn, user, &holding);
				rc = hl_txn_free_slot(txn, user, &holding);
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
int hl_txn_take_slot(struct hl_txn *txn, const struct hl_pool *pool,
		     const struct hl_session *session, unsigned *slot)
{
	char key[HL_KEY_MAX], user[HL_USER_MAX + 1];
	struct hl_counter counter;
	struct hl_holding holding;
	unsigned start;

	*slot = 0;
	if (!hl_key_pool(key, sizeof(key), pool->name) ||
	    hl_txn_load_counter(txn, key, &counter))
		return -1;
	if (counter.used >= pool->licenses) {
		unsigned freed;

		if (hl_txn_reclaim_pool(txn, pool, &counter, &freed))
			return -1;
		if (freed == 0)
			return 0;
		if (!txn->take) {
			*slot = 1;	/* a dry run only needs to know */
			return 0;
		}
		if (hl_txn_load_counter(txn, key, &counter))
			return -1;
		if (counter.used >= pool->licenses)
			return 0;
	}
	if (!txn->take) {
		*slot = 1;
		return 0;
	}
	/* used < licenses, so one of 1..licenses is free: look from the
	 * hint, which is usually free already. */
	start = counter.next >= 1 && counter.next <= pool->licenses
			? counter.next : 1;
	for (unsigned i = 0; i < pool->licenses && *slot == 0; i++) {
		unsigned n = (start - 1 + i) % pool->licenses + 1;

		if (hl_txn_load_slot(txn, pool->name, n, user, sizeof(user)))
			return -1;
		if (*user == '\0')
			*slot = n;
	}
	if (*slot == 0) {
		/* The count said free but every slot is taken: the count is
		 * wrong.  Refuse rather than over-allocate. */
		hl_log(txn->env->log, LOG_WARNING,
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
		hl_txn_failed(txn, HL_STORE_NOMEM, "session");
		return -1;
	}
	if (hl_txn_save_slot(txn, pool->name, *slot, txn->who.user)) {
		hl_holding_free(&holding);
		return -1;
	}
	counter.used++;
	counter.next = *slot % pool->licenses + 1;
	if (*slot > counter.top)
		counter.top = *slot;
	if (hl_txn_save_counter(txn, key, &counter, true) ||
	    !hl_key_holder(key, sizeof(key), txn->who.user) ||
	    hl_txn_save_holding(txn, key, &holding)) {
		hl_holding_free(&holding);
		return -1;
	}
	hl_holding_free(&holding);
	return 0;
}

/* ---- Named allocations -------------------------------------------------- */

struct named_sweep {
	struct hl_txn *txn;
	unsigned in_force;
	int rc;
};

static int sweep_one(void *arg, const char *key, const char *value)
{
	struct named_sweep *sweep = arg;
	struct hl_txn *txn = sweep->txn;
	const char *user = key + strlen("named/");
	struct hl_who who;

	(void)value;
	if (hl_who_lookup(&who, user) == 0 &&
	    hl_named_eligible(txn->env->cfg, &who)) {
		sweep->in_force++;
		return 0;
	}
	if (txn->take) {
		char copy[HL_USER_MAX + 1];

		snprintf(copy, sizeof(copy), "%s", user);
		hl_txn_event(txn, LOG_NOTICE, "unassign", copy, HL_KIND_NAMED,
			    NULL, 0, NULL, "no longer named-eligible");
		if (hl_store_delete(txn->store, key) != HL_STORE_OK) {
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
int hl_txn_sweep_named(struct hl_txn *txn, struct hl_counter *counter,
		       unsigned *in_force)
{
	struct named_sweep sweep = { .txn = txn };
	int rc;

	/* foreach returns a store error (positive), or what sweep_one
	 * returned to stop it, after setting sweep.rc. */
	rc = hl_store_foreach(txn->store, "named/", sweep_one, &sweep);
	if (rc != 0 || sweep.rc) {
		hl_txn_failed(txn, sweep.rc || rc < 0 ? HL_STORE_IO : rc,
			      "named sweep");
		return -1;
	}
	*in_force = sweep.in_force;
	if (txn->take && counter->used != sweep.in_force) {
		counter->used = sweep.in_force;
		return hl_txn_save_counter(txn, "named", counter, false);
	}
	return 0;
}

/* Allocates a Named license to the user if one is free; *done. */
int hl_txn_allocate_named(struct hl_txn *txn, const struct hl_session *session,
			  bool *done)
{
	const struct hl_config *cfg = txn->env->cfg;
	struct hl_counter counter;
	struct hl_holding holding;
	char key[HL_KEY_MAX];
	unsigned in_force;
	int rc;

	*done = false;
	if (hl_txn_load_counter(txn, "named", &counter))
		return -1;
	in_force = counter.used;
	if (in_force >= cfg->named.licenses && counter.used > 0 &&
	    hl_txn_sweep_named(txn, &counter, &in_force))
		return -1;
	if (in_force >= cfg->named.licenses)
		return 0;
	*done = true;
	if (!txn->take)
		return 0;
	memset(&holding, 0, sizeof(holding));
	holding.kind = HL_KIND_NAMED;
	holding.since = session ? session->since : txn->env->now();
	if (session && hl_holding_add_session(&holding, session)) {
		hl_txn_failed(txn, HL_STORE_NOMEM, "session");
		return -1;
	}
	counter.used = in_force + 1;
	hl_key_named(key, sizeof(key), txn->who.user);
	rc = hl_txn_save_counter(txn, "named", &counter, false) ||
	     hl_txn_save_holding(txn, key, &holding);
	hl_holding_free(&holding);
	return rc ? -1 : 0;
}
