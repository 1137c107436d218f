/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Live sessions lost with the runtime file, found again in the event log.
 *
 * A kill inside a GDBM write can damage the bucket being written so that
 * the rebuild (hl_store_repair, hl_store_compact) cannot read it; in a
 * small store that bucket holds every record, the holder and slot of a
 * live session of an earlier, completed transaction among them.  The
 * reconciliation would then free that slot and the next newcomer be
 * granted while the session runs.  The event log is the redundancy: every
 * session that starts has its grant or join there, with what tells
 * whether its process still runs (pid, start, boot_id, audit), and every
 * one that ends its release, reap or admin-release.  After a rebuild, the
 * sessions of this boot started and not ended, still live, that no holder
 * record holds are written back into their holder record and slot.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "admin.h"
#include "allocation.h"
#include "eventlog.h"
#include "proc.h"
#include "text.h"

/* A concurrent session the log says started and has not ended. */
struct started {
	char user[HL_USER_MAX + 1];
	char pool[HL_POOL_NAME_MAX + 1];
	unsigned slot;
	struct hl_session session;	/* owns its strings */
};

struct replay {
	const char *boot_id;		/* this boot's: no other session runs */
	struct started *items;
	size_t count, allocated;
	bool full;			/* HL_RESTORE_MAX reached */
};

/* More sessions started and not ended than any host runs at once: the
 * log is not ours, or ends are missing; what is beyond is not replayed. */
#define HL_RESTORE_MAX 65536

static bool number_of(const struct hl_jsonl_object *obj, const char *key,
		      unsigned long long max, unsigned long long *out)
{
	const struct hl_jsonl_field *f = hl_jsonl_get(obj, key);
	char *end;

	if (f == NULL || f->type != HL_JSONL_NUMBER || *f->value == '-')
		return false;
	*out = strtoull(f->value, &end, 10);
	return *end == '\0' && *out >= 1 && *out <= max;
}

/* "2026-12-05T10:00:00.123Z", as hl_event_format writes it. */
static bool time_of(const char *text, time_t *out)
{
	struct tm tm;
	char *end;

	memset(&tm, 0, sizeof(tm));
	end = strptime(text, "%Y-%m-%dT%H:%M:%S", &tm);
	if (end == NULL)
		return false;
	*out = timegm(&tm);
	return *out != (time_t)-1;
}

static ssize_t find_started(const struct replay *r, const char *id)
{
	for (size_t i = 0; i < r->count; i++)
		if (strcmp(r->items[i].session.id, id) == 0)
			return (ssize_t)i;
	return -1;
}

static void forget(struct replay *r, size_t i)
{
	hl_session_free(&r->items[i].session);
	r->items[i] = r->items[--r->count];
}

static char *copy_of(const struct hl_jsonl_object *obj, const char *key)
{
	const char *value = hl_jsonl_string(obj, key);

	return strdup(value ? value : "");
}

/* A grant or join of a concurrent session of this boot: kept, unless a
 * field does not fit the holding record (checked by its own codec). */
static void started(struct replay *r, const struct hl_jsonl_object *obj,
		    const char *id)
{
	const char *user = hl_jsonl_string(obj, "user");
	const char *pool = hl_jsonl_string(obj, "pool");
	const char *kind = hl_jsonl_string(obj, "kind");
	const char *boot = hl_jsonl_string(obj, "boot_id");
	const char *when = hl_jsonl_string(obj, "time");
	unsigned long long slot, pid, start, audit = 0;
	struct hl_holding check = { .kind = HL_KIND_CONCURRENT };
	struct started *s;
	char *text;
	bool failed = false;

	if (user == NULL || pool == NULL || kind == NULL || boot == NULL ||
	    when == NULL || strcmp(kind, "concurrent") != 0 ||
	    strcmp(boot, r->boot_id) != 0 || !hl_user_valid(user) ||
	    strlen(pool) > HL_POOL_NAME_MAX ||
	    !number_of(obj, "slot", 999999999, &slot) ||
	    !number_of(obj, "pid", 0x7fffffff, &pid) ||
	    !number_of(obj, "start", ~0ULL, &start) ||
	    (hl_jsonl_get(obj, "audit") &&
	     !number_of(obj, "audit", 0xfffffffe, &audit)) ||
	    find_started(r, id) >= 0)
		return;
	if (r->count == HL_RESTORE_MAX) {
		r->full = true;
		return;
	}
	r->items = hl_grow(r->items, &r->allocated, r->count + 1,
			   sizeof(*r->items), &failed);
	if (failed)
		return;
	s = &r->items[r->count];
	memset(s, 0, sizeof(*s));
	snprintf(s->user, sizeof(s->user), "%s", user);
	snprintf(s->pool, sizeof(s->pool), "%s", pool);
	s->slot = (unsigned)slot;
	snprintf(s->session.id, sizeof(s->session.id), "%s", id);
	s->session.pid = (pid_t)pid;
	s->session.start = start;
	snprintf(s->session.boot_id, sizeof(s->session.boot_id), "%s", boot);
	s->session.audit_session = (unsigned)audit;
	if (!time_of(when, &s->session.since))
		s->session.since = 0;
	s->session.service = copy_of(obj, "service");
	s->session.tty = copy_of(obj, "tty");
	s->session.rhost = copy_of(obj, "rhost");
	s->session.host = copy_of(obj, "host");
	r->count++;
	/* What the codec would refuse on reading it back is not written. */
	snprintf(check.pool, sizeof(check.pool), "%s", pool);
	check.slot = s->slot;
	check.sessions = &s->session;
	check.session_count = 1;
	text = s->session.service && s->session.tty && s->session.rhost &&
	       s->session.host ? hl_holding_encode(&check) : NULL;
	if (text == NULL || hl_holding_decode(text, &check) != 0)
		forget(r, r->count - 1);
	else
		hl_holding_free(&check);
	free(text);
}

static bool replay_line(void *arg, const struct hl_jsonl_object *obj)
{
	struct replay *r = arg;
	const char *event = hl_jsonl_string(obj, "event");
	const char *id = hl_jsonl_string(obj, "session");
	enum hl_event_type type;
	ssize_t i;

	if (event == NULL || id == NULL ||
	    strlen(id) != HL_SESSION_ID_LEN || !hl_event_type_of(event, &type))
		return true;
	switch (type) {
	case HL_EVENT_GRANT:
	case HL_EVENT_JOIN:
		started(r, obj, id);
		break;
	case HL_EVENT_RELEASE:
	case HL_EVENT_REAP:
	case HL_EVENT_ADMIN_RELEASE:
		if ((i = find_started(r, id)) >= 0)
			forget(r, (size_t)i);
		break;
	default:
		break;
	}
	return true;
}

/* Slot N of pool for user: taken when it is empty or names user already,
 * or when it names another whose holder record does not claim it (freed
 * first, as the reconciliation frees such a slot).  *taken: it now is. */
static int take_slot(struct hl_txn *txn, const char *pool, unsigned n,
		     const char *user, struct hl_reconciled *done,
		     bool *taken)
{
	char held_by[HL_USER_MAX + 1], key[HL_KEY_MAX];
	struct hl_holding holding;
	bool found;

	*taken = false;
	if (hl_txn_load_slot(txn, pool, n, held_by, sizeof(held_by)))
		return -1;
	if (*held_by != '\0' && strcmp(held_by, user) != 0) {
		/* The reconciliation deleted the slot records that do not
		 * name a valid user before this step. */
		if (!hl_user_valid(held_by) ||
		    !hl_key_holder(key, sizeof(key), held_by)) {
			hl_txn_failed(txn, HL_STORE_DAMAGED, "slot");
			return -1;
		}
		if (hl_txn_load_holding(txn, key, &holding, &found))
			return -1;
		*taken = !hl_holding_claims(&holding, found, pool, n);
		if (found)
			hl_holding_free(&holding);
		if (!*taken)
			return 0;
		done->slots_freed++;
		hl_reconciled_unmatched(done, held_by, pool, n);
		if (hl_txn_free_orphan_slot(txn, held_by, pool, n))
			return -1;
	}
	*taken = true;
	return hl_txn_save_slot(txn, pool, n, user);
}

/* The slot s goes back to: its own when it can have it and it is within
 * the licenses, else the first it can have, else (*over) the first
 * beyond them. */
static int restore_slot(struct hl_txn *txn, const struct hl_pool *pool,
			const struct started *s, struct hl_reconciled *done,
			unsigned *slot, bool *over)
{
	bool taken = false;

	*over = false;
	if (s->slot <= pool->licenses &&
	    take_slot(txn, pool->name, s->slot, s->user, done, &taken))
		return -1;
	for (*slot = taken ? s->slot : 1; !taken; (*slot)++) {
		*over = *slot > pool->licenses;
		if (take_slot(txn, pool->name, *slot, s->user, done, &taken))
			return -1;
		if (taken)
			break;
	}
	return 0;
}

/* Writes s back: into the user's holder record when there is one, else
 * into a new one and a slot. */
static int restore_one(struct hl_txn *txn, struct started *s,
		       struct hl_reconciled *done)
{
	const struct hl_pool *pool = hl_config_pool(txn->env->cfg, s->pool);
	struct hl_holding holding;
	char key[HL_KEY_MAX], shown[300];
	bool found, over = false;
	unsigned slot;
	int rc;

	/* A pool no longer configured: its holders are left alone too. */
	if (pool == NULL || !hl_key_holder(key, sizeof(key), s->user))
		return 0;
	if (hl_txn_load_holding(txn, key, &holding, &found))
		return -1;
	if (found) {
		for (size_t i = 0; i < holding.session_count; i++)
			if (strcmp(holding.sessions[i].id, s->session.id) == 0) {
				hl_holding_free(&holding);
				return 0;
			}
		if (holding.kind != HL_KIND_CONCURRENT) {
			hl_holding_free(&holding);
			return 0;
		}
	} else {
		memset(&holding, 0, sizeof(holding));
		holding.kind = HL_KIND_CONCURRENT;
		snprintf(holding.pool, sizeof(holding.pool), "%s", pool->name);
		holding.since = s->session.since;
		if (restore_slot(txn, pool, s, done, &slot, &over))
			return -1;
		holding.slot = slot;
	}
	hl_printable(s->user, shown, sizeof(shown));
	rc = hl_holding_add_session(&holding, &s->session);
	if (rc != 0)
		hl_txn_failed(txn, HL_STORE_NOMEM, key);
	if (rc == 0)
		rc = hl_txn_save_holding(txn, key, &holding);
	if (rc == 0 && over) {
		/* A live session is never dropped: the pool holds one more
		 * than its licenses until a session ends. */
		hl_txn_note(txn, LOG_CRIT, "reconcile: pool %s over-allocated: "
			    "no free slot for the live session %s of %s (pid "
			    "%ld), lost with the runtime file; kept in slot "
			    "%u, beyond the %u licenses", holding.pool,
			    s->session.id, shown, (long)s->session.pid,
			    holding.slot, pool->licenses);
		done->over_allocated++;
	} else if (rc == 0) {
		hl_txn_note(txn, LOG_WARNING, "reconcile: pool %s slot %u: the "
			    "live session %s of %s (pid %ld), lost with the "
			    "runtime file, restored from the event log",
			    holding.pool, holding.slot, s->session.id, shown,
			    (long)s->session.pid);
	}
	if (rc == 0)
		done->sessions_restored++;
	hl_holding_free(&holding);
	return rc ? -1 : 0;
}

int hl_txn_restore_sessions(struct hl_txn *txn, struct hl_reconciled *done)
{
	const struct hl_env *env = txn->env;
	struct replay r = { .boot_id = env->self.boot_id };
	struct hl_audit_scan scan;
	int rc = 0;

	if (env->cfg->event_log == NULL || *env->self.boot_id == '\0')
		return 0;
	/* The log cannot be read: the rebuild stands as it is (logged). */
	if (hl_event_log_each(env->cfg->event_log, replay_line, &r,
			      env->log) < 0)
		return 0;
	/* Lines an earlier writer committed and could not append. */
	if (txn->carried) {
		char *lines = strdup(txn->carried);

		if (lines)
			hl_event_text_each(lines, replay_line, &r);
		free(lines);
	}
	if (r.full)
		hl_log(env->log, LOG_WARNING, "event log %s: more than %d "
		       "sessions started and not ended; the rest are not "
		       "looked for", env->cfg->event_log, HL_RESTORE_MAX);
	memset(&scan, 0, sizeof(scan));
	for (size_t i = 0; rc == 0 && i < r.count; i++)
		if (!hl_session_stale_scan(env->proc_root, env->self.boot_id,
					   &r.items[i].session, &scan))
			rc = restore_one(txn, &r.items[i], done);
	hl_audit_scan_free(&scan);
	while (r.count > 0)
		forget(&r, r.count - 1);
	free(r.items);
	return rc;
}
