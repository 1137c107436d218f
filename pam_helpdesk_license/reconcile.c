/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The reconciliation of the allocations (hl_txn_reconcile, admin.h): run
 * by a login after it repaired a damaged store, and by the admin tool's
 * reconcile and reap, so it belongs to what a login loads rather than to
 * the admin commands of admin.c.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "admin.h"
#include "allocation.h"
#include "proc.h"
#include "text.h"

static int copy_record(void *arg, const char *key, const char *value)
{
	return hl_store_records_add(arg, key, value);
}

/* Copies of the records under each prefix (NULL-terminated), so that the
 * store may change while they are worked on. */
int hl_txn_copy_records(struct hl_txn *txn, const char *const *prefixes,
			struct hl_store_records *copies)
{
	int rc = 0;

	memset(copies, 0, sizeof(*copies));
	for (size_t i = 0; rc == 0 && prefixes[i]; i++)
		rc = hl_txn_foreach(txn, prefixes[i], copy_record, copies);
	if (rc != 0) {
		hl_store_records_free(copies);
		hl_txn_failed(txn, rc < 0 ? HL_STORE_IO : rc, "listing");
		return -1;
	}
	return 0;
}

const char *hl_record_user(const char *key)
{
	return strchr(key, '/') + 1;
}

size_t hl_pool_rank(const struct hl_config *cfg, const char *pool)
{
	const struct hl_pool *found = hl_config_pool(cfg, pool);

	return found != NULL ? (size_t)(found - cfg->pools) : cfg->pool_count;
}

/* ---- reconcile --------------------------------------------------------------- */

/* The records under a prefix: how many, and for slot/POOL/ the highest
 * slot number held. */
struct census {
	size_t prefix_len;
	unsigned count;
	unsigned top;
};

/* N of a key "slot/POOL/N"; false when it is not a slot number. */
static bool slot_number(const char *key, size_t prefix_len, unsigned *n)
{
	const char *digits = key + prefix_len;
	unsigned long value;
	char *end;

	if (*digits < '1' || *digits > '9' || strlen(digits) > 9)
		return false;
	value = strtoul(digits, &end, 10);
	if (*end != '\0')
		return false;
	*n = (unsigned)value;
	return true;
}

static int count_record(void *arg, const char *key, const char *value)
{
	struct census *census = arg;
	unsigned n;

	(void)value;
	if (!slot_number(key, census->prefix_len, &n))
		n = 0;
	census->count++;
	if (n > census->top)
		census->top = n;
	return 0;
}

static int take_census(struct hl_txn *txn, const char *prefix,
		       struct census *census)
{
	int rc;

	memset(census, 0, sizeof(*census));
	census->prefix_len = strlen(prefix);
	rc = hl_txn_foreach(txn, prefix, count_record, census);
	if (rc != 0) {
		hl_txn_failed(txn, rc < 0 ? HL_STORE_IO : rc, prefix);
		return -1;
	}
	return 0;
}

static void slot_prefix(char *buf, size_t len, const char *pool)
{
	snprintf(buf, len, "slot/%s/", pool);
}

/* The first free slot of pool within its licenses; *slot 0: none. */
static int first_free_slot(struct hl_txn *txn, const struct hl_pool *pool,
			   unsigned *slot)
{
	char user[HL_USER_MAX + 1];

	*slot = 0;
	for (unsigned n = 1; n <= pool->licenses && *slot == 0; n++) {
		if (hl_txn_load_slot(txn, pool->name, n, user, sizeof(user)))
			return -1;
		if (*user == '\0')
			*slot = n;
	}
	return 0;
}

/* Whether a record of the allocations decodes. */
static bool record_readable(const char *key, const char *value)
{
	struct hl_holding holding;
	struct hl_counter counter;

	if (strncmp(key, "holder/", 7) == 0 || strncmp(key, "named/", 6) == 0) {
		if (!hl_user_valid(hl_record_user(key)) ||
		    hl_holding_decode(value, &holding) != 0)
			return false;
		hl_holding_free(&holding);
		return true;
	}
	if (strncmp(key, "slot/", 5) == 0)
		return hl_user_valid(value);
	return hl_counter_decode(value, &counter) == 0;	/* pool/, named */
}

/* A rebuild can bring back a record holding the bytes of another (space
 * GDBM handed out twice): such a record of the allocations is deleted,
 * so that the steps after it (and logins) can read the rest.  Its
 * sessions, if it held any, are unknown. */
static int drop_unreadable(struct hl_txn *txn, struct hl_reconciled *done)
{
	static const char *const prefixes[] = { "holder/", "named", "slot/",
						"pool/", NULL };
	struct hl_store_records copies;
	char shown[HL_KEY_MAX * 4];
	int rc = 0;

	if (hl_txn_copy_records(txn, prefixes, &copies) != 0)
		return -1;
	for (size_t i = 0; rc == 0 && i < copies.count; i++) {
		const char *key = copies.items[i].key;

		if (record_readable(key, copies.items[i].value))
			continue;
		hl_printable(key, shown, sizeof(shown));
		hl_txn_note(txn, LOG_WARNING, "reconcile: %s does not decode: "
			    "deleted", shown);
		done->records_dropped++;
		rc = hl_txn_delete(txn, key);
	}
	hl_store_records_free(&copies);
	return rc;
}

/* Keeps user (of pool's slot, or Named when pool is NULL) in the list of
 * technicians whose records the reconciliation could not match. */
void hl_reconciled_unmatched(struct hl_reconciled *done, const char *user,
			     const char *pool, unsigned slot)
{
	struct hl_unmatched *u;

	if (done->unmatched_count++ >= HL_UNMATCHED_MAX)
		return;
	u = &done->unmatched[done->unmatched_count - 1];
	snprintf(u->user, sizeof(u->user), "%s", user);
	snprintf(u->pool, sizeof(u->pool), "%s", pool ? pool : "");
	u->slot = pool ? slot : 0;
}

/* The existing orphan rule over every slot record of pool, whatever its
 * counter says: a slot whose holder record does not claim it is freed. */
static int free_orphan_slots(struct hl_txn *txn, const struct hl_pool *pool,
			     struct hl_reconciled *done)
{
	char prefix[HL_KEY_MAX], key[HL_KEY_MAX];
	const char *prefixes[] = { prefix, NULL };
	struct hl_store_records copies;
	int rc = 0;

	slot_prefix(prefix, sizeof(prefix), pool->name);
	if (hl_txn_copy_records(txn, prefixes, &copies) != 0)
		return -1;
	for (size_t i = 0; rc == 0 && i < copies.count; i++) {
		const char *user = copies.items[i].value;
		struct hl_holding holding;
		bool found;
		unsigned n;

		if (!slot_number(copies.items[i].key, strlen(prefix), &n))
			continue;
		if (!hl_user_valid(user) ||
		    !hl_key_holder(key, sizeof(key), user)) {
			hl_txn_damaged(txn, copies.items[i].key);
			rc = -1;
			break;
		}
		rc = hl_txn_load_holding(txn, key, &holding, &found);
		if (rc != 0)
			break;
		if (!hl_holding_claims(&holding, found, pool->name, n)) {
			rc = hl_txn_free_orphan_slot(txn, user, pool->name, n);
			done->slots_freed++;
			hl_reconciled_unmatched(done, user, pool->name, n);
		}
		if (found)
			hl_holding_free(&holding);
	}
	hl_store_records_free(&copies);
	return rc;
}

/* Drops a holder record that can have no slot: its sessions end with a
 * reap event (one without a session when it has none). */
static int drop_holder(struct hl_txn *txn, const char *key, const char *user,
		       const struct hl_holding *holding,
		       struct hl_reconciled *done)
{
	const char *pool = holding->kind == HL_KIND_CONCURRENT ? holding->pool
							       : NULL;

	if (holding->session_count == 0)
		hl_txn_event(txn, LOG_WARNING, HL_EVENT_REAP, user,
			     HL_KIND_CONCURRENT, pool, holding->slot, NULL,
			     "holder without slot");
	for (size_t i = 0; i < holding->session_count; i++)
		hl_txn_event(txn, LOG_WARNING, HL_EVENT_REAP, user,
			     HL_KIND_CONCURRENT, pool, holding->slot,
			     &holding->sessions[i], "holder without slot");
	done->holders_dropped++;
	hl_reconciled_unmatched(done, user, pool, holding->slot);
	return hl_txn_delete(txn, key);
}

/* Makes a holder record's slot record name it: written back when empty
 * and within the licenses, else the holder moves to a free slot while the
 * pool has fewer slots held than licenses, else it is dropped. */
static int settle_holder(struct hl_txn *txn, const char *key,
			 const char *value, struct hl_reconciled *done)
{
	const struct hl_config *cfg = txn->env->cfg;
	const char *user = hl_record_user(key);
	char held_by[HL_USER_MAX + 1], prefix[HL_KEY_MAX], shown[300];
	const struct hl_pool *pool;
	struct hl_holding holding;
	struct census census;
	unsigned was, free_slot = 0;
	size_t p;
	int rc;

	if (!hl_user_valid(user) || hl_holding_decode(value, &holding) != 0) {
		hl_txn_damaged(txn, key);
		return -1;
	}
	hl_printable(user, shown, sizeof(shown));
	p = hl_pool_rank(cfg, holding.pool);
	if (holding.kind == HL_KIND_CONCURRENT && p == cfg->pool_count) {
		/* A pool no longer configured: its sessions go on, their
		 * close or a reap frees the record. */
		hl_holding_free(&holding);
		return 0;
	}
	if (holding.kind != HL_KIND_CONCURRENT) {
		rc = drop_holder(txn, key, user, &holding, done);
		hl_holding_free(&holding);
		return rc;
	}
	pool = &cfg->pools[p];
	slot_prefix(prefix, sizeof(prefix), pool->name);
	rc = hl_txn_load_slot(txn, pool->name, holding.slot, held_by,
			      sizeof(held_by));
	if (rc == 0 && strcmp(held_by, user) == 0) {
		hl_holding_free(&holding);
		return 0;
	}
	if (rc == 0 && *held_by == '\0' && holding.slot >= 1 &&
	    holding.slot <= pool->licenses) {
		/* Its sessions are live on this very slot: give it back, as
		 * a holding above lowered licenses is kept. */
		rc = hl_txn_save_slot(txn, pool->name, holding.slot, user);
		hl_txn_note(txn, LOG_WARNING, "reconcile: pool %s slot %u: "
			    "written back for its holder %s", pool->name,
			    holding.slot, shown);
		done->slots_restored++;
	} else if (rc == 0 && (rc = take_census(txn, prefix, &census)) == 0 &&
		   census.count < pool->licenses &&
		   (rc = first_free_slot(txn, pool, &free_slot)) == 0 &&
		   free_slot != 0) {
		was = holding.slot;
		holding.slot = free_slot;
		rc = hl_txn_save_slot(txn, pool->name, free_slot, user) ||
		     hl_txn_save_holding(txn, key, &holding);
		hl_txn_note(txn, LOG_WARNING, "reconcile: pool %s: %s moved "
			    "from slot %u, which %s, to free slot %u",
			    pool->name, shown, was,
			    *held_by ? "another holds" : "is beyond the "
			    "licenses", free_slot);
		done->holders_moved++;
	} else if (rc == 0) {
		rc = drop_holder(txn, key, user, &holding, done);
	}
	hl_holding_free(&holding);
	return rc ? -1 : 0;
}

/* The pool counter from the slot records: used their count, top at least
 * the highest held; next, a hint, the first free slot when rewritten. */
static int recount_pool(struct hl_txn *txn, const struct hl_pool *pool,
			struct hl_reconciled *done)
{
	char prefix[HL_KEY_MAX], key[HL_KEY_MAX];
	struct hl_counter counter, was;
	struct census census;
	unsigned next;

	slot_prefix(prefix, sizeof(prefix), pool->name);
	if (!hl_key_pool(key, sizeof(key), pool->name) ||
	    take_census(txn, prefix, &census) ||
	    hl_txn_load_counter(txn, key, &counter))
		return -1;
	if (counter.used == census.count && counter.top >= census.top)
		return 0;
	was = counter;
	if (first_free_slot(txn, pool, &next))
		return -1;
	counter.used = census.count;
	if (counter.top < census.top)
		counter.top = census.top;
	counter.next = next ? next : 1;
	hl_txn_note(txn, LOG_WARNING, "reconcile: pool %s: counter said %u "
		    "in use (top %u), the slot records say %u (top %u)",
		    pool->name, was.used, was.top, counter.used, counter.top);
	done->counters_fixed++;
	return hl_txn_save_counter(txn, key, &counter, true);
}

static int recount_named(struct hl_txn *txn, struct hl_reconciled *done)
{
	struct hl_counter counter;
	struct census census;
	unsigned was;

	if (take_census(txn, "named/", &census) ||
	    hl_txn_load_counter(txn, "named", &counter))
		return -1;
	if (counter.used == census.count)
		return 0;
	was = counter.used;
	counter.used = census.count;
	hl_txn_note(txn, LOG_WARNING, "reconcile: named: counter said %u "
		    "allocated, the named records say %u", was, counter.used);
	done->counters_fixed++;
	return hl_txn_save_counter(txn, "named", &counter, false);
}

/* The runtime sessions of a Named allocation the durable file no longer
 * holds (a commit of both files cut in between, or a durable file put
 * back from a backup): each ends with a reap event. */
static int drop_orphan_sessions(struct hl_txn *txn, struct hl_reconciled *done)
{
	static const char *const prefixes[] = { "sessions/", NULL };
	struct hl_store_records copies;
	int rc = 0;

	if (hl_txn_copy_records(txn, prefixes, &copies) != 0)
		return -1;
	for (size_t i = 0; rc == 0 && i < copies.count; i++) {
		const char *user = hl_record_user(copies.items[i].key);
		char key[HL_KEY_MAX];
		struct hl_holding holding;
		struct hl_buf text;
		char *record;
		bool found;

		if (!hl_key_named(key, sizeof(key), user) ||
		    hl_txn_load_holding(txn, key, &holding, &found) != 0) {
			rc = -1;
			break;
		}
		hl_holding_free(&holding);
		if (found)
			continue;
		hl_buf_init(&text);
		hl_buf_printf(&text, "kind named\nsince 0\n%s",
			      copies.items[i].value);
		record = hl_buf_take(&text);
		if (record && hl_holding_decode(record, &holding) == 0) {
			for (size_t j = 0; j < holding.session_count; j++)
				hl_txn_event(txn, LOG_NOTICE, HL_EVENT_REAP, user,
					     HL_KIND_NAMED, NULL, 0,
					     &holding.sessions[j],
					     "named allocation lost");
			hl_holding_free(&holding);
		}
		free(record);
		hl_txn_note(txn, LOG_WARNING, "reconcile: sessions of %s "
			    "without a Named allocation: dropped", user);
		done->records_dropped++;
		hl_reconciled_unmatched(done, user, NULL, 0);
		rc = hl_txn_delete(txn, copies.items[i].key);
	}
	hl_store_records_free(&copies);
	return rc;
}

/* See hl_admin_reconcile: the work, inside txn. */
int hl_txn_reconcile(struct hl_txn *txn, struct hl_reconciled *done)
{
	static const char *const holders[] = { "holder/", NULL };
	const struct hl_config *cfg = txn->env->cfg;
	struct hl_store_records copies;
	int rc = drop_unreadable(txn, done);

	/* Before the orphan slots are freed: a lost session keeps the slot
	 * whose key survived it, with no reap in the log. */
	if (rc == 0 && txn->replay)
		rc = hl_txn_restore_sessions(txn, done);
	for (size_t i = 0; rc == 0 && i < cfg->pool_count; i++)
		rc = free_orphan_slots(txn, &cfg->pools[i], done);
	if (rc != 0 || hl_txn_copy_records(txn, holders, &copies) != 0)
		return -1;
	for (size_t i = 0; rc == 0 && i < copies.count; i++)
		rc = settle_holder(txn, copies.items[i].key,
				   copies.items[i].value, done);
	hl_store_records_free(&copies);
	for (size_t i = 0; rc == 0 && i < cfg->pool_count; i++)
		rc = recount_pool(txn, &cfg->pools[i], done);
	if (rc == 0)
		rc = recount_named(txn, done);
	if (rc == 0)
		rc = drop_orphan_sessions(txn, done);
	return rc;
}

