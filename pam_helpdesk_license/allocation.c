/* SPDX-License-Identifier: BSD-3-Clause */
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

#include "admin.h"
#include "allocation.h"
#include "eventlog.h"
#include "terminate.h"
#include "text.h"

/* ---- small helpers ------------------------------------------------------ */

void hl_set_text(char *dst, size_t len, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(dst, len, fmt, ap);
	va_end(ap);
}

static const char *hl_kind_name(enum hl_kind kind)
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

/* "1h 2m 3s", "5m 0s", "30s". */
void hl_format_duration(unsigned seconds, char *buf, size_t len)
{
	if (seconds >= 3600)
		snprintf(buf, len, "%uh %um %us", seconds / 3600,
			 seconds / 60 % 60, seconds % 60);
	else if (seconds >= 60)
		snprintf(buf, len, "%um %us", seconds / 60, seconds % 60);
	else
		snprintf(buf, len, "%us", seconds);
}

/* ---- who the technician is ---------------------------------------------- */

/* The most an NSS entry's buffer grows to.  A group of thousands of
 * members is tens of KiB; past this the entry counts as a lookup error. */
#define NSS_BUF_MAX (16u << 20)

typedef int nss_call(const struct hl_env *env, const char *name, void *entry,
		     char *buf, size_t len, bool *found);

static int call_getpwnam(const struct hl_env *env, const char *name,
			 void *entry, char *buf, size_t len, bool *found)
{
	struct passwd *result = NULL;
	int rc = (env->getpwnam ? env->getpwnam : getpwnam_r)(name, entry, buf,
							      len, &result);

	*found = result != NULL;
	return rc;
}

static int call_getgrnam(const struct hl_env *env, const char *name,
			 void *entry, char *buf, size_t len, bool *found)
{
	struct group *result = NULL;
	int rc = (env->getgrnam ? env->getgrnam : getgrnam_r)(name, entry, buf,
							      len, &result);

	*found = result != NULL;
	return rc;
}

/*
 * One NSS lookup into *buf (the caller frees it), grown while the entry
 * does not fit.  0: found; 1: no such entry; -1: NSS could not say (LDAP
 * or SSSD down, an entry too big...), logged with its errno.  Never
 * "not found" for an error: that would read as "not a member".
 */
static int nss_lookup(const struct hl_env *env, nss_call *call,
		      const char *what, const char *name, void *entry,
		      char **buf)
{
	size_t len = 16384;
	bool found = false;
	int rc;

	for (;;) {
		char *grown = realloc(*buf, len);

		if (grown == NULL) {
			rc = ENOMEM;
			break;
		}
		*buf = grown;
		errno = 0;
		rc = call(env, name, entry, *buf, len, &found);
		/* Some NSS shims return -1 and set errno instead. */
		if (rc < 0)
			rc = errno ? errno : EIO;
		if (rc != ERANGE || len >= NSS_BUF_MAX)
			break;
		len *= 2;
	}
	if (rc == 0 && found)
		return 0;
	if (rc == 0 || rc == ENOENT)
		return 1;
	hl_log(env->log, LOG_ERR, "cannot look %s %s up (NSS: LDAP, SSSD, "
	       "files): %s", what, name, strerror(rc));
	return -1;
}

int hl_who_lookup(const struct hl_env *env, struct hl_who *who,
		  const char *user)
{
	struct passwd pw;
	char *buf = NULL;
	int n = MAX_GROUPS, rc;

	who->env = env;
	who->user = user;
	who->ngids = 0;
	rc = nss_lookup(env, call_getpwnam, "user", user, &pw, &buf);
	if (rc == 0) {
		who->gid = pw.pw_gid;
		/* More groups than we keep: the first ones count, and
		 * hl_who_in reads each group's members as well. */
		if (getgrouplist(user, pw.pw_gid, who->gids, &n) < 0)
			n = MAX_GROUPS;
		who->ngids = n;
	}
	free(buf);
	return rc;
}

/* 1: a member, 0: not, -1: the group could not be looked up. */
static int hl_who_in_group(const struct hl_who *who, const char *group)
{
	struct group gr;
	char *buf = NULL;
	int rc = nss_lookup(who->env, call_getgrnam, "group", group, &gr, &buf);
	int member = 0;

	if (rc != 0) {
		free(buf);
		return rc < 0 ? -1 : 0;
	}
	if (gr.gr_gid == who->gid)
		member = 1;
	for (int i = 0; !member && i < who->ngids; i++)
		member = who->gids[i] == gr.gr_gid;
	for (char **m = gr.gr_mem; !member && m && *m; m++)
		member = strcmp(*m, who->user) == 0;
	free(buf);
	return member;
}

int hl_who_in(const struct hl_who *who, const struct hl_names *users,
	      const struct hl_names *groups)
{
	if (hl_names_contain(users, who->user))
		return 1;
	for (size_t i = 0; i < groups->count; i++) {
		int in = hl_who_in_group(who, groups->names[i]);

		if (in != 0)
			return in;
	}
	return 0;
}

int hl_named_eligible(const struct hl_config *cfg, const struct hl_who *who)
{
	return hl_who_in(who, &cfg->named.users, &cfg->named.groups);
}

int hl_user_named_eligible(const struct hl_env *env, const char *user)
{
	struct hl_who who;
	int rc = hl_who_lookup(env, &who, user);

	if (rc != 0)
		return rc < 0 ? -1 : 0;
	return hl_named_eligible(env->cfg, &who);
}

int hl_user_in_pool(const struct hl_env *env, const struct hl_pool *pool,
		    const char *user)
{
	struct hl_who who;
	int rc = hl_who_lookup(env, &who, user);

	if (rc != 0)
		return rc < 0 ? -1 : 0;
	return hl_who_in(&who, &pool->users, &pool->groups);
}

void hl_who_failed(struct hl_decision *out)
{
	out->verdict = HL_STORE_FAILED;
	hl_set_text(out->reason, sizeof(out->reason), "user lookup failed");
	hl_set_text(out->message, sizeof(out->message),
		    "The help desk license service cannot look accounts up "
		    "(NSS). Please tell your administrator.");
}

/* ---- events: syslog and the event log, written after the commit --------- */

static void queue_event(struct hl_txn *txn, int priority,
			enum hl_event_type type,
			const char *user, bool has_kind, enum hl_kind kind,
			const char *pool, unsigned slot,
			const struct hl_session *session, const char *reason,
			long idle)
{
	const struct hl_env *env = txn->env;
	const struct hl_request *req = txn->req;
	const char *event = hl_event_name(type);
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
		.start = session ? session->start : 0,
		.boot_id = session && *session->boot_id ? session->boot_id
							: NULL,
		.audit = session ? session->audit_session : 0,
		.session = session ? session->id : NULL,
		.reason = reason,
		.has_idle = idle >= 0,
		.idle = idle >= 0 ? (unsigned long)idle : 0,
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
	if (pool) {
		hl_buf_puts(&text, " pool=");
		hl_buf_puts(&text, pool);
		hl_buf_puts(&text, " slot=");
		hl_buf_unsigned(&text, slot);
	}
	hl_buf_puts(&text, " service=");
	hl_buf_printable(&text, ev.service);
	hl_buf_puts(&text, " tty=");
	hl_buf_printable(&text, ev.tty);
	hl_buf_puts(&text, " rhost=");
	hl_buf_printable(&text, ev.rhost);
	hl_buf_puts(&text, " pid=");
	hl_buf_signed(&text, ev.pid);
	if (ev.session)
		hl_buf_printf(&text, " session=%s", ev.session);
	if (reason) {
		hl_buf_puts(&text, " reason=");
		hl_buf_printable(&text, reason);
	}
	if (ev.has_idle) {
		hl_buf_puts(&text, " idle=");
		hl_buf_unsigned(&text, ev.idle);
	}
	q->priority = priority;
	q->syslog_text = hl_buf_take(&text);
	q->json_line = env->cfg->event_log ? hl_event_format(&ev, &ts) : NULL;
	txn->event_count++;
}

void hl_txn_event(struct hl_txn *txn, int priority, enum hl_event_type event,
		  const char *user, enum hl_kind kind, const char *pool,
		  unsigned slot, const struct hl_session *session,
		  const char *reason)
{
	queue_event(txn, priority, event, user, true, kind, pool, slot,
		    session, reason, -1);
}

void hl_txn_event_end(struct hl_txn *txn, int priority,
		      enum hl_event_type event, const char *user,
		      enum hl_kind kind, const char *pool, unsigned slot,
		      const struct hl_session *session, const char *reason)
{
	queue_event(txn, priority, event, user, true, kind, pool, slot,
		    session, reason, hl_session_idle(session, txn->env->now()));
}

void hl_txn_event_no_kind(struct hl_txn *txn, int priority,
			  enum hl_event_type event, const char *user,
			  const char *reason)
{
	queue_event(txn, priority, event, user, false, HL_KIND_NAMED, NULL, 0,
		    NULL, reason, -1);
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
	/* Lines an earlier writer could not append go first, in one write
	 * with this transaction's. */
	if (committed && txn->carried)
		hl_buf_puts(&lines, txn->carried);
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
	if (committed && text && *text)
		hl_event_append_line(env->cfg->event_log, text, env->log);
	free(text);
	free(txn->carried);
	txn->carried = NULL;
}

/*
 * The outbox: a writer's event lines are committed to the store with its
 * changes, as "INODE SIZE" of the log before them and then the lines, and
 * appended to the log after the commit.  A process killed in between, or
 * an append that failed (a log refused as a symlink or open to others, a
 * full disk), never loses them: the next writer finds the outbox and, if
 * the lines are not in the log, carries them into its own outbox and
 * appends them with its own lines; the outbox goes only once they are in
 * the log.  The log never says less than the store; after a crash a line
 * may at worst appear twice (same session id, same time).
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
	hl_buf_unsigned(&text, inode);
	hl_buf_puts(&text, " ");
	hl_buf_unsigned(&text, size);
	hl_buf_puts(&text, "\n");
	if (txn->carried) {
		hl_buf_puts(&text, txn->carried);
		any = true;
	}
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
					      first) &&
			    (txn->carried = strdup(lines)) == NULL) {
				free(value);
				hl_txn_failed(txn, HL_STORE_NOMEM, OUTBOX_KEY);
				return -1;
			}
		}
	}
	free(value);
	if (txn->carried) {
		/* Kept until hl_txn_end: put_outbox writes it again with
		 * this writer's lines, the flush appends it. */
		hl_log(env->log, LOG_NOTICE, "event log: appending the events "
		       "of an earlier transaction that could not");
		return 0;
	}
	rc = hl_store_delete(txn->store, OUTBOX_KEY);
	if (rc != HL_STORE_OK) {
		hl_txn_failed(txn, rc, OUTBOX_KEY);
		return -1;
	}
	return 0;
}

/*
 * A transaction that changes a Named record writes both files, and two
 * commits are not one: a process killed between them would leave the
 * event log telling an allocation (or its end) that the durable file
 * never got.  So the runtime file's commit, which carries the events,
 * also carries the durable file's Named records as they are to be
 * ("KLEN VLEN\nKEYVALUE" each), under PENDING_KEY; the durable file is
 * committed next, then the copy deleted.  A copy left behind is written
 * into the durable file by the next transaction before anything else (a
 * reader sees it as staged, never committed), and committed by a writer.
 */
#define PENDING_KEY "pending-named"

static int pending_add(void *arg, const char *key, const char *value)
{
	hl_buf_printf(arg, "%zu %zu\n%s%s", strlen(key), strlen(value), key,
		      value);
	return 0;
}

static int put_pending(struct hl_txn *txn)
{
	struct hl_buf image;
	char *text;
	int rc;

	hl_buf_init(&image);
	rc = hl_store_foreach(txn->durable, "named", pending_add, &image);
	text = hl_buf_take(&image);
	if (rc == HL_STORE_OK)
		rc = text ? hl_store_put(txn->store, PENDING_KEY, text)
			  : HL_STORE_NOMEM;
	free(text);
	return rc;
}

static int pending_clear(void *arg, const char *key, const char *value)
{
	(void)value;
	return hl_store_delete(arg, key) == HL_STORE_OK ? 0 : -1;
}

static bool durable_key(const char *key);

static int settle_pending(struct hl_txn *txn)
{
	char *copy = NULL, *key = NULL, *value = NULL;
	const char *p;
	int rc = hl_store_get(txn->store, PENDING_KEY, &copy);

	if (rc == HL_STORE_NOTFOUND)
		return 0;
	/* The copy holds every Named record: the others go. */
	if (rc == HL_STORE_OK &&
	    hl_store_foreach(txn->durable, "named", pending_clear,
			     txn->durable) != 0)
		rc = HL_STORE_IO;
	for (p = copy; rc == HL_STORE_OK && *p;) {
		size_t klen, vlen;
		int used = 0;

		if (sscanf(p, "%zu %zu\n%n", &klen, &vlen, &used) != 2 ||
		    used == 0 || klen == 0 || klen >= HL_KEY_MAX ||
		    strlen(p + used) < klen + vlen) {
			rc = HL_STORE_DAMAGED;
			break;
		}
		key = strndup(p + used, klen);
		value = strndup(p + used + klen, vlen);
		rc = key == NULL || value == NULL ? HL_STORE_NOMEM
		     : !durable_key(key) ? HL_STORE_DAMAGED
		     : hl_store_put(txn->durable, key, value);
		free(key);
		free(value);
		p += (size_t)used + klen + vlen;
	}
	free(copy);
	if (rc != HL_STORE_OK) {
		hl_txn_failed(txn, rc, PENDING_KEY);
		return -1;
	}
	/* The writer's commit now writes both files, and drops the copy. */
	txn->durable_changed = true;
	if (txn->take)
		hl_txn_note(txn, LOG_NOTICE, "license store %s: the Named "
			    "records of an interrupted commit written",
			    txn->env->cfg->store);
	return 0;
}

/* ---- the transaction ---------------------------------------------------- */

static void txn_busy(struct hl_txn *txn, const char *path);
static void txn_failed_text(struct hl_txn *txn, const char *what,
			    const char *why);
static void settle_endings(struct hl_txn *txn, bool committed);

static void close_stores(struct hl_txn *txn)
{
	hl_store_close(txn->store);
	hl_store_close(txn->durable);
	txn->store = txn->durable = NULL;
}

/* Closes the stores, and only then gives back the uids the lock was
 * held under. */
static void txn_close(struct hl_txn *txn)
{
	close_stores(txn);
	hl_privilege_end(&txn->privilege, txn->env->log);
}

static enum hl_store_mode txn_mode(const struct hl_txn *txn)
{
	return txn->take ? HL_STORE_WRITE
	       : txn->walk ? HL_STORE_READ_MAPPED : HL_STORE_READ;
}

/* With a shared backend, the two files are the database's two spaces. */
static struct hl_store_place txn_place(const struct hl_txn *txn, bool durable)
{
	const struct hl_config *cfg = txn->env->cfg;

	return (struct hl_store_place){
		.path = durable ? cfg->store : cfg->runtime_store,
		.socket = cfg->backend.enabled ? cfg->backend.socket : NULL,
		.space = durable ? "durable" : "runtime"
	};
}

static int open_durable(struct hl_txn *txn, char *why, size_t why_len)
{
	const struct hl_store_place durable = txn_place(txn, true);
	int rc = hl_store_open_at(&durable, txn_mode(txn),
				  txn->env->cfg->lock_timeout, txn->env->log,
				  &txn->durable, why, why_len);

	txn->legacy = rc == HL_STORE_OK && hl_store_legacy(txn->durable);
	return rc;
}

/*
 * Whether this transaction may leave the durable file closed until a
 * Named record is asked for: once a writer of this boot has found it in
 * this release's format (DURABLE_CHECKED, in the runtime file, which a
 * reboot empties), no commit of both files is left to finish
 * (PENDING_KEY), and, for a writer, no writer was killed with it open
 * (its mark, hl_store_interrupted).  Otherwise it is opened with the
 * runtime file, so that a 0.2 store is migrated and a cut-short commit
 * checked before anything else.  A login that touches no Named record
 * then never reads, locks or flushes it.
 */
#define DURABLE_CHECKED "durable-checked"

/* How a look for key in the runtime file went (HL_STORE_OK: found). */
static int runtime_look(struct hl_txn *txn, const char *key)
{
	char *value = NULL;
	int rc = hl_store_get(txn->store, key, &value);

	free(value);
	return rc;
}

static bool durable_may_wait(struct hl_txn *txn)
{
	const struct hl_store_place durable = txn_place(txn, true);

	return !txn->durable_first &&
	       runtime_look(txn, DURABLE_CHECKED) == HL_STORE_OK &&
	       runtime_look(txn, PENDING_KEY) == HL_STORE_NOTFOUND &&
	       !(txn->take && hl_store_left_writing(&durable));
}

/* A writer that found the durable file in this release's format says so
 * in the runtime file, with its commit. */
static int note_durable_checked(struct hl_txn *txn)
{
	int rc = runtime_look(txn, DURABLE_CHECKED);

	if (rc == HL_STORE_NOTFOUND)
		rc = hl_store_put(txn->store, DURABLE_CHECKED, "yes");
	if (rc != HL_STORE_OK) {
		hl_txn_failed(txn, rc, DURABLE_CHECKED);
		return -1;
	}
	return 0;
}

/* The runtime file first, whose lock serialises the writers; then the
 * durable file, always second (its own lock keeps out a process of an
 * earlier release, which knows only that one), now or at its first use. */
static int open_stores(struct hl_txn *txn, const char **which, char *why,
		       size_t why_len)
{
	const struct hl_store_place runtime = txn_place(txn, false);
	int rc;

	*which = txn->env->cfg->runtime_store;
	rc = hl_store_open_at(&runtime, txn_mode(txn),
			      txn->env->cfg->lock_timeout, txn->env->log,
			      &txn->store, why, why_len);
	if (rc == HL_STORE_OK && !durable_may_wait(txn)) {
		*which = txn->env->cfg->store;
		rc = open_durable(txn, why, why_len);
	}
	if (rc != HL_STORE_OK)
		close_stores(txn);
	return rc;
}

static void txn_open_failed(struct hl_txn *txn, int rc, const char *which,
			    const char *why);

/* The durable file, opened at its first use (open_stores); NULL, the
 * failure told, when it cannot be. */
static struct hl_store *durable_of(struct hl_txn *txn)
{
	char why[512] = "";
	int rc;

	if (txn->durable != NULL)
		return txn->durable;
	rc = open_durable(txn, why, sizeof(why));
	if (rc == HL_STORE_OK && (txn->legacy ||
				  hl_store_interrupted(txn->durable))) {
		/* Replaced, or cut short by a program that does not leave
		 * PENDING_KEY, since a writer checked it: one more try
		 * opens it first, and migrates or checks it. */
		hl_store_close(txn->durable);
		txn->durable = NULL;
		txn->legacy = false;
		txn->durable_first = txn->recheck = true;
		txn_failed_text(txn, "open", "the durable file changed since "
				"it was checked; trying again");
		return NULL;
	}
	if (rc != HL_STORE_OK) {
		txn_open_failed(txn, rc, txn->env->cfg->store, why);
		return NULL;
	}
	return txn->durable;
}

/*
 * Damage found by a login is repaired there and then, as
 * 'helpdesk-license repair' does: both files are checked and a damaged
 * one rebuilt (the damaged file kept beside it), then the allocations
 * are made to agree in a transaction of their own, which also logs the
 * damage as an "error" event.  The caller's stores are closed.
 */
static int repair_now(struct hl_txn *txn, const char *why, bool suspected)
{
	const struct hl_env *env = txn->env;
	const struct hl_config *cfg = env->cfg;
	const char *paths[] = { cfg->runtime_store, cfg->store };
	struct hl_decision scratch;
	struct hl_txn fix = { .env = env, .req = txn->req, .out = &scratch,
			      .take = true, .repaired = true, .replay = true };
	struct hl_reconciled done;
	char reason[sizeof(scratch.reason)] = "";
	bool rebuilt = false;
	int rc = HL_STORE_OK;

	close_stores(txn);
	txn->repaired = true;
	for (size_t i = 0; rc == HL_STORE_OK && i < 2; i++) {
		struct hl_store_repair_report report;

		rc = (suspected ? hl_store_compact : hl_store_repair)(
			paths[i], cfg->lock_timeout, env->log, &report);
		rebuilt = rebuilt || (rc == HL_STORE_OK && report.damaged);
		if (rc == HL_STORE_OK && (report.damaged ||
					  report.journal_replayed))
			hl_set_text(reason, sizeof(reason), "%s%s%s%s",
				    *reason ? reason : "", *reason ? "; " : "",
				    report.damaged ? "damaged store rebuilt, "
						     "kept as " :
						     "interrupted commit "
						     "completed in ",
				    report.damaged ? report.backup : paths[i]);
	}
	if (rc != HL_STORE_OK) {
		hl_log(env->log, LOG_CRIT, "license store damaged (%s) and "
		       "cannot be repaired: %s", why, hl_store_strerror(rc));
		return -1;
	}
	if (suspected && !rebuilt) {
		/* Checked after a kill, and sound: nothing to tell. */
		hl_log(env->log, LOG_NOTICE, "license store checked and "
		       "compacted after %s: sound", why);
		return 0;
	}
	hl_log(env->log, LOG_CRIT, "license store damaged (%s): repaired in "
	       "place (%s); the login goes on", why,
	       *reason ? reason : "nothing left to rebuild");
	memset(&scratch, 0, sizeof(scratch));
	if (hl_txn_begin(&fix) != 0)
		return -1;
	hl_txn_event(&fix, LOG_CRIT, HL_EVENT_ERROR, txn->req->user,
		     HL_KIND_CONCURRENT, NULL, 0, NULL,
		     *reason ? reason : "damaged store repaired");
	rc = hl_txn_reconcile(&fix, &done);
	return hl_txn_end(&fix, rc == 0);
}

int hl_txn_repair(struct hl_txn *txn)
{
	if (txn->recheck) {
		txn->recheck = false;
		return 0;
	}
	if (txn->repaired || !txn->damaged || txn->env->leave_damage)
		return -1;
	txn->damaged = false;
	return repair_now(txn, txn->out->reason, false);
}

/* The keys of the durable file; the runtime file holds all others. */
static bool durable_key(const char *key)
{
	return strcmp(key, "named") == 0 || strncmp(key, "named/", 6) == 0;
}

/* A 0.2 store, not yet migrated, holds everything. */
static struct hl_store *store_of(struct hl_txn *txn, const char *key)
{
	return txn->legacy || durable_key(key) ? durable_of(txn) : txn->store;
}

static int migrate_one(void *arg, const char *key, const char *value);

/*
 * A store of release 0.2 (one file) is split at its first write: the
 * Named allocations stay, without their sessions, which go to the runtime
 * file with every slot, holder and the outbox; the waiting lines are
 * dropped (their waiters belong to the earlier release, which refuses the
 * new schema).  Committed with the transaction that found it, runtime
 * first: a process killed in between leaves the 0.2 store whole, and the
 * next writer migrates it again over what it had copied.
 */
static int migrate(struct hl_txn *txn)
{
	int rc;

	txn->legacy = false;
	rc = hl_store_foreach(txn->durable, "", migrate_one, txn);
	if (rc == 0)
		rc = hl_store_upgrade(txn->durable);
	if (rc != 0) {
		hl_txn_failed(txn, rc < 0 ? HL_STORE_IO : rc, "migration");
		return -1;
	}
	hl_txn_note(txn, LOG_NOTICE, "license store %s: migrated from "
		    "release 0.2 (sessions and slots now in %s)",
		    txn->env->cfg->store, txn->env->cfg->runtime_store);
	return 0;
}

int hl_txn_begin(struct hl_txn *txn)
{
	char why[512] = "";
	const char *which;
	int rc;

	/* Out of the reach of su's or sudo's user before the lock is
	 * taken (privilege.h). */
	hl_privilege_begin(&txn->privilege, txn->env->log);
	rc = open_stores(txn, &which, why, sizeof(why));
	if (rc == HL_STORE_DAMAGED && !txn->repaired &&
	    !txn->env->leave_damage) {
		if (repair_now(txn, which, false) != 0) {
			hl_txn_failed(txn, rc, "open");
			txn_close(txn);
			return -1;
		}
		rc = open_stores(txn, &which, why, sizeof(why));
	}
	/* A commit cut short by a kill may have left damage that no key of
	 * this transaction reads (space GDBM handed out twice, which a
	 * later write reuses): the whole store is checked once, as repair
	 * does, before anything is written into it. */
	if (rc == HL_STORE_OK && txn->take && !txn->repaired &&
	    !txn->env->leave_damage &&
	    (hl_store_interrupted(txn->store) ||
	     hl_store_interrupted(txn->durable))) {
		if (repair_now(txn, "a commit cut short", true) != 0) {
			hl_txn_failed(txn, HL_STORE_DAMAGED, "open");
			txn_close(txn);
			return -1;
		}
		rc = open_stores(txn, &which, why, sizeof(why));
	}
	if (rc != HL_STORE_OK) {
		txn_open_failed(txn, rc, which, why);
		txn_close(txn);
		return -1;
	}
	if ((!txn->legacy && settle_pending(txn) != 0) ||
	    (txn->take && ((txn->legacy && migrate(txn) != 0) ||
			   (txn->durable != NULL &&
			    note_durable_checked(txn) != 0) ||
			   settle_outbox(txn) != 0))) {
		txn_close(txn);
		return -1;
	}
	return 0;
}

static void txn_open_failed(struct hl_txn *txn, int rc, const char *which,
			    const char *why)
{
	if (*why != '\0')	/* the shared backend's own words */
		txn_failed_text(txn, "open", why);
	else if (rc == HL_STORE_TIMEOUT)
		txn_busy(txn, which);
	else
		hl_txn_failed(txn, rc, "open");
}

/* Runtime first, and with it, when a Named record changed, the durable
 * file's records as they are to be (PENDING_KEY): that commit decides
 * both files' (see settle_pending).  *failed: the store whose commit
 * failed. */
static int commit_stores(struct hl_txn *txn, struct hl_store **failed)
{
	int rc = txn->durable_changed ? put_pending(txn) : HL_STORE_OK;

	*failed = txn->store;
	if (rc == HL_STORE_OK)
		rc = (txn->release ? hl_store_commit_release
				   : hl_store_commit)(txn->store);
	if (rc == HL_STORE_OK && txn->durable != NULL) {
		*failed = txn->durable;
		rc = hl_store_commit(txn->durable);
	}
	if (rc == HL_STORE_OK && txn->durable_changed) {
		*failed = txn->store;
		rc = hl_store_delete(txn->store, PENDING_KEY);
		if (rc == HL_STORE_OK)
			rc = hl_store_commit(txn->store);
	}
	return rc;
}

int hl_txn_end(struct hl_txn *txn, bool ok)
{
	if (ok && txn->take && put_outbox(txn) != 0)
		ok = false;
	if (ok && txn->take) {
		struct hl_store *failed;
		int rc = commit_stores(txn, &failed);

		if (rc != HL_STORE_OK) {
			/* The shared backend's own words (the database gone
			 * between open and commit) say more than "I/O". */
			const char *why = hl_store_why(failed);

			if (why != NULL)
				txn_failed_text(txn, "commit", why);
			else
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
	txn_close(txn);
	/* After the lock is given back: telling a tty may block a moment. */
	settle_endings(txn, ok && txn->take);
	return ok ? 0 : -1;
}

/* ---- store access ------------------------------------------------------- */

static void txn_failed_text(struct hl_txn *txn, const char *what,
			    const char *why)
{
	hl_log(txn->env->log, LOG_ERR, "license store %s: %s: %s",
	       txn->env->cfg->backend.enabled ? "(shared database)"
					      : txn->env->cfg->store,
	       what, why);
	txn->out->verdict = HL_STORE_FAILED;
	hl_set_text(txn->out->reason, sizeof(txn->out->reason), "store: %s",
		 why);
	hl_set_text(txn->out->message, sizeof(txn->out->message),
		 "The help desk license service is unavailable (%s). "
		 "Please tell your administrator.", why);
}

void hl_txn_failed(struct hl_txn *txn, int rc, const char *what)
{
	if (rc == HL_STORE_DAMAGED)
		txn->damaged = true;
	txn_failed_text(txn, what, hl_store_strerror(rc));
}

/* A lock timeout names the process holding the lock, so that whoever
 * reads it knows what to look at. */
static void txn_busy(struct hl_txn *txn, const char *path)
{
	struct hl_lock_holder holder;
	char why[160];

	if (hl_store_lock_holder(path, txn->env->proc_root,
				 &holder) != 0) {
		hl_txn_failed(txn, HL_STORE_TIMEOUT, "open");
		return;
	}
	snprintf(why, sizeof(why), "%s: its lock is held by pid %ld%s%s%s",
		 hl_store_strerror(HL_STORE_TIMEOUT), (long)holder.pid,
		 *holder.command ? " (" : "", holder.command,
		 *holder.command ? ")" : "");
	txn_failed_text(txn, "open", why);
}

void hl_txn_damaged(struct hl_txn *txn, const char *key)
{
	hl_log(txn->env->log, LOG_ERR, "license store %s: record '%s' is "
	       "damaged; run 'helpdesk-license repair'", txn->env->cfg->store,
	       key);
	hl_txn_failed(txn, HL_STORE_DAMAGED, key);
}

/* runtime key of the sessions of named/USER */
static bool sessions_key(char *buf, size_t len, const char *named_key)
{
	int n = snprintf(buf, len, "sessions/%s", named_key + 6);

	return n > 0 && (size_t)n < len;
}

static bool named_record(const char *key)
{
	return strncmp(key, "named/", 6) == 0;
}

/* The runtime sessions of named/USER appended to its allocation text
 * (which, in a 0.2 store, may hold sessions itself). */
static int add_named_sessions(struct hl_txn *txn, const char *key,
			      char **text)
{
	char skey[HL_KEY_MAX + 16], *lines = NULL, *joined;
	int rc;

	if (!sessions_key(skey, sizeof(skey), key))
		return HL_STORE_IO;
	rc = hl_store_get(txn->store, skey, &lines);
	if (rc == HL_STORE_NOTFOUND)
		return HL_STORE_OK;
	if (rc != HL_STORE_OK)
		return rc;
	joined = malloc(strlen(*text) + strlen(lines) + 2);
	if (joined == NULL) {
		free(lines);
		return HL_STORE_NOMEM;
	}
	sprintf(joined, "%s\n%s", *text, lines);
	free(lines);
	free(*text);
	*text = joined;
	return HL_STORE_OK;
}

int hl_txn_named_sessions(struct hl_txn *txn, const char *user, bool *any)
{
	char key[HL_KEY_MAX], skey[HL_KEY_MAX + 16];
	int rc;

	*any = true;
	if (txn->legacy)	/* its sessions are in the allocation */
		return 0;
	if (!hl_key_named(key, sizeof(key), user) ||
	    !sessions_key(skey, sizeof(skey), key)) {
		hl_txn_failed(txn, HL_STORE_IO, "user name too long");
		return -1;
	}
	rc = runtime_look(txn, skey);
	*any = rc != HL_STORE_NOTFOUND;
	if (rc != HL_STORE_OK && rc != HL_STORE_NOTFOUND) {
		hl_txn_failed(txn, rc, skey);
		return -1;
	}
	return 0;
}

/* The text at key; *text NULL (and 0) when the key is absent. */
static int get_text(struct hl_txn *txn, const char *key, char **text)
{
	struct hl_store *store = store_of(txn, key);
	int rc;

	*text = NULL;
	if (store == NULL)
		return -1;
	rc = hl_store_get(store, key, text);

	if (rc == HL_STORE_OK && named_record(key))
		rc = add_named_sessions(txn, key, text);
	if (rc == HL_STORE_NOTFOUND) {
		*text = NULL;
		return 0;
	}
	if (rc != HL_STORE_OK) {
		free(*text);
		*text = NULL;
		hl_txn_failed(txn, rc, key);
		return -1;
	}
	return 0;
}

/*
 * named/USER is kept in two parts: the allocation (its kind and since
 * lines) in the durable file, written only when it changes, and its
 * sessions in the runtime file, so that a login of a Named technician
 * writes nothing durable.
 */
static int put_named(struct hl_txn *txn, const char *key, const char *text)
{
	char skey[HL_KEY_MAX + 16], *stored = NULL;
	struct hl_buf allocation, sessions;
	char *a, *sess;
	int rc;

	if (!sessions_key(skey, sizeof(skey), key))
		return HL_STORE_IO;
	hl_buf_init(&allocation);
	hl_buf_init(&sessions);
	for (const char *line = text; *line;) {
		size_t n = strcspn(line, "\n");
		struct hl_buf *to = strncmp(line, "session ", 8) == 0
					    ? &sessions : &allocation;

		if (n > 0)
			hl_buf_printf(to, "%s%.*s", to->len ? "\n" : "",
				      (int)n, line);
		line += n + (line[n] == '\n');
	}
	a = hl_buf_take(&allocation);
	sess = hl_buf_take(&sessions);
	if (a == NULL || sess == NULL) {
		rc = HL_STORE_NOMEM;
		goto out;
	}
	rc = hl_store_get(txn->durable, key, &stored);
	if (rc == HL_STORE_NOTFOUND || (rc == HL_STORE_OK &&
					strcmp(stored, a) != 0)) {
		rc = hl_store_put(txn->durable, key, a);
		txn->durable_changed = true;
	}
	if (rc == HL_STORE_OK)
		rc = *sess ? hl_store_put(txn->store, skey, sess)
			   : hl_store_delete(txn->store, skey);
out:
	free(stored);
	free(a);
	free(sess);
	return rc;
}

/* Stages text (from an encoder: NULL means it ran out of memory) at key,
 * and frees it. */
static int put_text(struct hl_txn *txn, const char *key, char *text)
{
	struct hl_store *store = store_of(txn, key);
	int rc;

	if (store == NULL) {
		free(text);
		return -1;
	}
	/* (a named record's store is the durable file, open now) */
	rc = text == NULL ? HL_STORE_NOMEM
	     : named_record(key) ? put_named(txn, key, text)
	     : hl_store_put(store, key, text);
	/* (put_named says for itself: it writes only a change) */
	txn->durable_changed |= !named_record(key) && store == txn->durable;

	free(text);
	if (rc != HL_STORE_OK) {
		hl_txn_failed(txn, rc, key);
		return -1;
	}
	return 0;
}

/* Moves a record of a 0.2 store to where this release keeps it. */
static int migrate_one(void *arg, const char *key, const char *value)
{
	struct hl_txn *txn = arg;
	char *copy;
	int rc = HL_STORE_OK;

	if (strcmp(key, "named") == 0)
		return 0;
	if (named_record(key)) {
		copy = strdup(value);
		return put_text(txn, key, copy) == 0 ? 0 : -1;
	}
	if (strncmp(key, "line/", 5) != 0)
		rc = hl_store_put(txn->store, key, value);
	if (rc == HL_STORE_OK)
		rc = hl_store_delete(txn->durable, key);
	return rc == HL_STORE_OK ? 0 : -1;
}

struct foreach_named {
	struct hl_txn *txn;
	int (*fn)(void *arg, const char *key, const char *value);
	void *arg;
	int rc;
};

/* Hands fn each record of the durable file as get_text would. */
static int foreach_named_one(void *arg, const char *key, const char *value)
{
	struct foreach_named *f = arg;
	char *text;

	if (!named_record(key))
		return f->fn(f->arg, key, value);
	text = strdup(value);
	f->rc = text ? add_named_sessions(f->txn, key, &text) : HL_STORE_NOMEM;
	if (f->rc != HL_STORE_OK) {
		free(text);
		return f->rc;
	}
	f->rc = f->fn(f->arg, key, text);
	free(text);
	return f->rc;
}

/* Whether a key under prefix can start with start, or the reverse. */
static bool prefix_meets(const char *prefix, const char *start)
{
	size_t a = strlen(prefix), b = strlen(start);

	return strncmp(prefix, start, a < b ? a : b) == 0;
}

/* A walk of the runtime file: sessions/USER records are parts of their
 * named/USER record, not records of their own. */
static int foreach_runtime_one(void *arg, const char *key, const char *value)
{
	struct foreach_named *f = arg;

	if (strncmp(key, "sessions/", 9) == 0)
		return 0;
	return f->fn(f->arg, key, value);
}

/* Keys under prefix may live in the durable file, the runtime file, or
 * both (prefix "", say): each file is walked that may hold one. */
int hl_txn_foreach(struct hl_txn *txn, const char *prefix,
		   int (*fn)(void *arg, const char *key, const char *value),
		   void *arg)
{
	struct foreach_named f = { .txn = txn, .fn = fn, .arg = arg };
	bool sessions = strncmp(prefix, "sessions/", 9) == 0;
	int rc = 0;

	if (txn->legacy || prefix_meets(prefix, "named"))
		rc = durable_of(txn) == NULL
			     ? -1
			     : hl_store_foreach(txn->durable, prefix,
						foreach_named_one, &f);
	if (rc == 0 && !txn->legacy && strncmp(prefix, "named", 5) != 0)
		rc = sessions ? hl_store_foreach(txn->store, prefix, fn, arg)
			      : hl_store_foreach(txn->store, prefix,
						 foreach_runtime_one, &f);
	return rc;
}

int hl_txn_load_released(struct hl_txn *txn, const char *user,
			 struct hl_holding *released, bool *changed)
{
	char key[HL_KEY_MAX], *text = NULL;

	*changed = false;
	memset(released, 0, sizeof(*released));
	if (!hl_key_released(key, sizeof(key), user) ||
	    get_text(txn, key, &text))
		return -1;
	if (text == NULL)
		return 0;
	/* No license hangs on it: one that does not decode is dropped. */
	if (hl_holding_decode(text, released) != 0) {
		memset(released, 0, sizeof(*released));
		*changed = true;
	}
	free(text);
	for (size_t i = released->session_count; i-- > 0;)
		if (hl_txn_session_stale(txn, &released->sessions[i])) {
			hl_holding_remove_session(released, i);
			*changed = true;
		}
	return 0;
}

int hl_txn_save_released(struct hl_txn *txn, const char *user,
			 const struct hl_holding *released)
{
	char key[HL_KEY_MAX];

	if (!hl_key_released(key, sizeof(key), user))
		return -1;
	if (released->session_count == 0)
		return hl_txn_delete(txn, key);
	return hl_txn_save_holding(txn, key, released);
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
	char skey[HL_KEY_MAX + 16];
	struct hl_store *store = store_of(txn, key);
	int rc;

	if (store == NULL)
		return -1;
	rc = hl_store_delete(store, key);
	txn->durable_changed |= store == txn->durable;
	if (rc == HL_STORE_OK && named_record(key) &&
	    sessions_key(skey, sizeof(skey), key))
		rc = hl_store_delete(txn->store, skey);

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
	struct hl_store *store;
	char key[HL_KEY_MAX];
	int rc;

	if (!hl_key_slot(key, sizeof(key), pool, slot)) {
		hl_txn_failed(txn, HL_STORE_IO, "slot key too long");
		return -1;
	}
	store = store_of(txn, key);
	if (store == NULL)
		return -1;
	rc = hl_store_put(store, key, user);
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
	/* Two hex digits a byte, without a printf per byte. */
	for (size_t i = 0; i < sizeof(random); i++) {
		session->id[2 * i] = "0123456789abcdef"[random[i] >> 4];
		session->id[2 * i + 1] = "0123456789abcdef"[random[i] & 15];
	}
	session->id[2 * sizeof(random)] = '\0';
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

/* A session of another host sharing the backend: none of its processes
 * or terminals is here to look at. */
static bool session_elsewhere(const struct hl_txn *txn,
			      const struct hl_session *session)
{
	return txn->env->cfg->backend.enabled && session->host != NULL &&
	       *session->host != '\0' &&
	       strcmp(session->host, txn->env->host) != 0;
}

/*
 * With a shared backend, a session of another host is not ours to look
 * at in /proc: it lives while its host's daemon heartbeats from the boot
 * the session began in (the runtime space's host/NAME records, see
 * doc/STORE.md).  NULL for a session of this host; "" when alive (or
 * when the store cannot tell: never take a live session's slot); else why
 * it is stale.
 */
static const char *other_host_stale(const struct hl_txn *txn,
				    const struct hl_session *session)
{
	char key[sizeof(txn->env->host) + 8], *boot = NULL;
	const char *why = "";
	int n, rc;

	if (!session_elsewhere(txn, session))
		return NULL;
	n = snprintf(key, sizeof(key), "host/%s", session->host);
	if (txn->store == NULL || n < 0 || (size_t)n >= sizeof(key))
		return "";
	rc = hl_store_get(txn->store, key, &boot);
	if (rc == HL_STORE_NOTFOUND)
		why = "host gone";
	else if (rc == HL_STORE_OK && strcmp(boot, session->boot_id) != 0)
		why = "earlier boot of its host";
	free(boot);
	return why;
}

bool hl_txn_session_stale(const struct hl_txn *txn,
			  const struct hl_session *session)
{
	const char *other = other_host_stale(txn, session);

	if (other != NULL)
		return *other != '\0';
	return hl_session_stale(txn->env->proc_root, txn->env->self.boot_id,
				session);
}

static const char *hl_txn_stale_reason(const struct hl_txn *txn,
				       const struct hl_session *session)
{
	const char *other = other_host_stale(txn, session);

	if (other != NULL && *other != '\0')
		return other;
	return strcmp(session->boot_id, txn->env->self.boot_id) != 0
		       ? "earlier boot" : "process gone";
}

static bool holding_elsewhere(const struct hl_txn *txn,
			      const struct hl_holding *holding)
{
	for (size_t i = 0; i < holding->session_count; i++)
		if (session_elsewhere(txn, &holding->sessions[i]))
			return true;
	return false;
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
		hl_txn_event(txn, LOG_NOTICE, HL_EVENT_REAP, user,
			     holding->kind,
			     holding->kind == HL_KIND_CONCURRENT ? holding->pool
								 : NULL,
			     holding->slot, s, hl_txn_stale_reason(txn, s));
		hl_holding_remove_session(holding, i);
		pruned = true;
	}
	return pruned;
}

void hl_txn_granted(struct hl_txn *txn, enum hl_kind kind, const char *pool,
		    unsigned slot, bool joined,
		    const struct hl_session *session, const char *reason)
{
	struct hl_decision *out = txn->out;

	out->verdict = HL_GRANTED;
	out->kind = kind;
	out->joined = joined;
	out->slot = slot;
	snprintf(out->pool, sizeof(out->pool), "%s", pool ? pool : "");
	snprintf(out->reason, sizeof(out->reason), "%s", reason);
	if (txn->take) {
		memcpy(out->session_id, session->id, sizeof(out->session_id));
		hl_txn_event(txn, LOG_INFO,
			     joined ? HL_EVENT_JOIN : HL_EVENT_GRANT,
			     txn->who.user, kind, pool, slot, session, reason);
	}
}

int hl_txn_join(struct hl_txn *txn, const char *key,
		struct hl_holding *holding, const struct hl_session *session)
{
	hl_txn_prune_stale(txn, txn->who.user, holding);
	if (hl_holding_add_session(holding, session)) {
		hl_txn_failed(txn, HL_STORE_NOMEM, "session");
		return -1;
	}
	return hl_txn_save_holding(txn, key, holding);
}

static bool hl_txn_all_stale(const struct hl_txn *txn,
			     const struct hl_holding *holding)
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

const char *hl_txn_waiter_gone(const struct hl_txn *txn,
			       const struct hl_waiter *waiter)
{
	if (hl_txn_session_stale(txn, &waiter->session))
		return "abandoned";
	/* A waiter checks its own deadline, but a stopped one can't: its
	 * deadline in the record is what ends its wait for the others. */
	if (txn->env->now() >= waiter->until)
		return "timeout";
	return NULL;
}

bool hl_txn_prune_line(struct hl_txn *txn, const char *pool,
		       struct hl_line *line, struct hl_line *dropped)
{
	bool pruned = false;

	for (size_t i = 0; i < line->count;) {
		struct hl_waiter *w = &line->waiters[i];
		const char *reason = hl_txn_waiter_gone(txn, w);

		if (reason == NULL) {
			i++;
			continue;
		}
		hl_txn_event(txn, LOG_NOTICE, HL_EVENT_DENY, w->user,
			    HL_KIND_CONCURRENT, pool, 0, &w->session, reason);
		/* Short of memory, the list of what was dropped misses one:
		 * the line itself is right. */
		if (dropped)
			(void)hl_line_add(dropped, w->user, w->until,
					  &w->session);
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
	hl_txn_event(txn, LOG_NOTICE, HL_EVENT_REAP, user, HL_KIND_CONCURRENT,
		     pool, slot, NULL, "slot without holder record");
	return give_back_slot(txn, pool, slot);
}

unsigned hl_idle_warning(const struct hl_pool *pool)
{
	return pool->wait / 2 < 60 ? pool->wait / 2 : 60;
}

/* Queues the sessions of holding to be told message after the commit,
 * and ended when end. */
int hl_txn_queue_ending(struct hl_txn *txn, const struct hl_holding *holding,
			char *message, bool end)
{
	struct hl_ending *grown, *e;

	if (message == NULL)
		goto nomem;
	grown = realloc(txn->endings, (txn->ending_count + 1) * sizeof(*grown));
	if (grown == NULL)
		goto nomem;
	txn->endings = grown;
	e = &txn->endings[txn->ending_count];
	memset(e, 0, sizeof(*e));
	for (size_t i = 0; i < holding->session_count; i++) {
		if (hl_holding_add_session(&e->holding,
					   &holding->sessions[i])) {
			hl_holding_free(&e->holding);
			goto nomem;
		}
	}
	e->message = message;
	e->end = end;
	txn->ending_count++;
	return 0;
nomem:
	free(message);
	hl_txn_failed(txn, HL_STORE_NOMEM, "ending");
	return -1;
}

/* Tells, or ends, the sessions queued (outside the lock); or, when the
 * transaction did not go through, forgets them. */
static void settle_endings(struct hl_txn *txn, bool committed)
{
	for (size_t i = 0; i < txn->ending_count; i++) {
		struct hl_ending *e = &txn->endings[i];

		for (size_t j = 0; committed && j < e->holding.session_count;
		     j++) {
			const struct hl_session *s = &e->holding.sessions[j];

			if (!e->end)
				hl_session_tell(txn->env->proc_root, s,
						e->message);
			else if (hl_session_end(txn->env->proc_root, s,
						e->message, HL_END_GRACE) != 0)
				hl_log(txn->env->log, LOG_ERR, "no process to "
				       "kill what is left of session %s after "
				       "%us: %s", s->id, HL_END_GRACE,
				       strerror(errno));
		}
		hl_holding_free(&e->holding);
		free(e->message);
	}
	free(txn->endings);
	txn->endings = NULL;
	txn->ending_count = 0;
}

/* The idle holder user of slot N of pool loses the license to the
 * technician of txn: a reap event, the slot freed, its sessions ended
 * after the commit with a line on their ttys saying why. */
static int reclaim_idle(struct hl_txn *txn, const struct hl_pool *pool,
			const char *user, long idle)
{
	char key[HL_KEY_MAX], reason[64], how_long[32];
	struct hl_holding holding;
	bool found;
	int rc;

	if (!hl_key_holder(key, sizeof(key), user) ||
	    hl_txn_load_holding(txn, key, &holding, &found))
		return -1;
	if (!found)
		return 0;
	snprintf(reason, sizeof(reason), "idle %lds", idle);
	hl_format_duration((unsigned)idle, how_long, sizeof(how_long));
	for (size_t i = 0; i < holding.session_count; i++)
		hl_txn_event_end(txn, LOG_NOTICE, HL_EVENT_REAP, user,
				 HL_KIND_CONCURRENT, pool->name, holding.slot,
				 &holding.sessions[i], reason);
	rc = hl_txn_free_slot(txn, user, &holding);
	if (rc == 0) {
		struct hl_buf msg;

		hl_buf_init(&msg);
		hl_buf_printf(&msg, "\r\n*** helpdesk-license: no input for "
			      "%s: your help desk license (pool %s) went to ",
			      how_long, pool->name);
		hl_buf_printable(&msg, txn->who.user);
		hl_buf_puts(&msg, ", who needed it. This session ends now. "
			    "***\r\n");
		rc = hl_txn_queue_ending(txn, &holding, hl_buf_take(&msg), true);
	}
	hl_holding_free(&holding);
	return rc;
}

/* In a pool with a wait, the idle holder is warned first, when a
 * newcomer is about to join the line; a waiter takes the license once the
 * warning is hl_idle_warning old and the holder typed nothing since. */
static int idle_holder_may_go(struct hl_txn *txn, const struct hl_pool *pool,
			      const char *user, long idle, bool *may)
{
	time_t now = txn->env->now();
	char key[HL_KEY_MAX], how_long[32];
	struct hl_holding holding;
	struct hl_buf msg;
	bool found;
	int rc;

	*may = pool->wait == 0 ||
	       (txn->waiting_since != 0 &&
		now - txn->waiting_since >= (time_t)hl_idle_warning(pool) &&
		now - idle < txn->waiting_since);
	if (*may || txn->waiting_since != 0 || !txn->take)
		return 0;
	if (!hl_key_holder(key, sizeof(key), user) ||
	    hl_txn_load_holding(txn, key, &holding, &found))
		return -1;
	if (!found)
		return 0;
	hl_format_duration(hl_idle_warning(pool), how_long, sizeof(how_long));
	hl_buf_init(&msg);
	hl_buf_puts(&msg, "\r\n*** helpdesk-license: ");
	hl_buf_printable(&msg, txn->who.user);
	hl_buf_printf(&msg, " needs a help desk license of pool %s and yours "
		      "has seen no input for %lds: type something within %s "
		      "to keep it. ***\r\n", pool->name, idle, how_long);
	rc = hl_txn_queue_ending(txn, &holding, hl_buf_take(&msg), false);
	hl_holding_free(&holding);
	return rc;
}

/*
 * Reclaims the slots of a full pool whose holders are gone; when none is
 * and needed, the idle one's (see allocation.h).  In a dry run nothing is
 * written; *freed counts what would be reclaimed.
 */
int hl_txn_reclaim_pool(struct hl_txn *txn, const struct hl_pool *pool,
			const struct hl_counter *counter, bool needed,
			unsigned *freed)
{
	unsigned last = counter->top > pool->licenses ? counter->top
						      : pool->licenses;
	char idle_user[HL_USER_MAX + 1] = "";
	long idle_most = -1;
	bool may;

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
			/* The oldest idle goes first; a holding with a
			 * session of another host is that host's to judge. */
			long idle = needed && pool->idle_timeout > 0 &&
				    !holding_elsewhere(txn, &holding)
				? hl_holding_idle(txn->env->proc_root, &holding,
						  txn->env->now())
				: -1;

			if (idle >= (long)pool->idle_timeout &&
			    idle > idle_most) {
				idle_most = idle;
				snprintf(idle_user, sizeof(idle_user), "%s",
					 user);
			}
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
	if (*freed > 0 || idle_most < 0)
		return 0;
	if (idle_holder_may_go(txn, pool, idle_user, idle_most, &may))
		return -1;
	if (!may)
		return 0;
	*freed = 1;
	snprintf(txn->idle_holder, sizeof(txn->idle_holder), "%s", idle_user);
	return txn->take ? reclaim_idle(txn, pool, idle_user, idle_most) : 0;
}

/* A free slot of pool, counter saying one is: *slot, looked for from
 * the hint, which is usually free already; 0 when the count was wrong
 * (every slot taken: refuse rather than over-allocate). */
static int find_free_slot(struct hl_txn *txn, const struct hl_pool *pool,
			  const struct hl_counter *counter, unsigned *slot)
{
	char user[HL_USER_MAX + 1];
	unsigned start = counter->next >= 1 && counter->next <= pool->licenses
				 ? counter->next : 1;

	*slot = 0;
	for (unsigned i = 0; i < pool->licenses && *slot == 0; i++) {
		unsigned n = (start - 1 + i) % pool->licenses + 1;

		if (hl_txn_load_slot(txn, pool->name, n, user, sizeof(user)))
			return -1;
		if (*user == '\0')
			*slot = n;
	}
	if (*slot == 0)
		hl_log(txn->env->log, LOG_WARNING,
		       "pool %s: count says %u in use but all %u slots are taken",
		       pool->name, counter->used, pool->licenses);
	return 0;
}

/* Gives slot of pool to txn->who with session: the slot, the pool's
 * counter and the holder record. */
static int record_slot(struct hl_txn *txn, const struct hl_pool *pool,
		       struct hl_counter *counter, unsigned slot,
		       const struct hl_session *session)
{
	struct hl_holding holding = { .kind = HL_KIND_CONCURRENT,
				      .slot = slot,
				      .since = session->since };
	char key[HL_KEY_MAX];
	int rc = -1;

	snprintf(holding.pool, sizeof(holding.pool), "%s", pool->name);
	if (hl_holding_add_session(&holding, session)) {
		hl_txn_failed(txn, HL_STORE_NOMEM, "session");
		return -1;
	}
	counter->used++;
	counter->next = slot % pool->licenses + 1;
	if (slot > counter->top)
		counter->top = slot;
	if (hl_txn_save_slot(txn, pool->name, slot, txn->who.user) == 0 &&
	    hl_key_pool(key, sizeof(key), pool->name) &&
	    hl_txn_save_counter(txn, key, counter, true) == 0 &&
	    hl_key_holder(key, sizeof(key), txn->who.user) &&
	    hl_txn_save_holding(txn, key, &holding) == 0)
		rc = 0;
	hl_holding_free(&holding);
	return rc;
}

/* Takes a free slot of pool; *slot 0 when there is none. */
int hl_txn_take_slot(struct hl_txn *txn, const struct hl_pool *pool,
		     const struct hl_session *session, unsigned *slot)
{
	char key[HL_KEY_MAX];
	struct hl_counter counter;
	struct hl_holding holding;
	bool found;

	*slot = 0;
	if (!hl_key_pool(key, sizeof(key), pool->name) ||
	    hl_txn_load_counter(txn, key, &counter))
		return -1;
	if (counter.used >= pool->licenses) {
		unsigned freed;

		if (hl_txn_reclaim_pool(txn, pool, &counter, true, &freed))
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
	if (!hl_key_holder(key, sizeof(key), txn->who.user) ||
	    hl_txn_load_holding(txn, key, &holding, &found))
		return -1;
	if (found) {
		/* One slot per technician: the callers join the slot held
		 * instead; a second would leave the first's sessions
		 * recorded nowhere. */
		hl_log(txn->env->log, LOG_ERR, "%s already holds slot %u of "
		       "pool %s: not taking a slot of pool %s too",
		       txn->who.user, holding.slot, holding.pool, pool->name);
		hl_holding_free(&holding);
		hl_txn_failed(txn, HL_STORE_DAMAGED, key);
		return -1;
	}
	if (find_free_slot(txn, pool, &counter, slot))
		return -1;
	if (*slot == 0)
		return 0;
	return record_slot(txn, pool, &counter, *slot, session);
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
	int eligible;

	(void)value;
	eligible = hl_user_named_eligible(txn->env, user);
	if (eligible != 0) {
		/* A lookup error frees nothing: the allocation counts until
		 * NSS says the user left (the error is logged). */
		if (eligible < 0)
			hl_log(txn->env->log, LOG_WARNING, "named sweep: "
			       "keeping %s's Named license: eligibility "
			       "unknown", user);
		sweep->in_force++;
		return 0;
	}
	if (txn->take) {
		char copy[HL_USER_MAX + 1];

		snprintf(copy, sizeof(copy), "%s", user);
		hl_txn_event(txn, LOG_NOTICE, HL_EVENT_UNASSIGN, copy,
			     HL_KIND_NAMED, NULL, 0, NULL,
			     "no longer named-eligible");
		if (hl_txn_delete(txn, key) != 0) {
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
static int hl_txn_sweep_named(struct hl_txn *txn, struct hl_counter *counter,
			      unsigned *in_force)
{
	struct named_sweep sweep = { .txn = txn };
	int rc;

	/* foreach returns a store error (positive), or what sweep_one
	 * returned to stop it, after setting sweep.rc. */
	rc = hl_txn_foreach(txn, "named/", sweep_one, &sweep);
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
