/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The admin commands on the store: see admin.h.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "admin.h"
#include "allocation.h"
#include "terminate.h"
#include "proc.h"
#include "text.h"

/* ---- reading many records ------------------------------------------------ */

struct record_copy {
	char *key;
	char *value;
};

struct record_copies {
	struct record_copy *items;
	size_t count, allocated;
	bool failed;
};

static int copy_record(void *arg, const char *key, const char *value)
{
	struct record_copies *copies = arg;
	struct record_copy *grown;

	copies->items = hl_grow(copies->items, &copies->allocated,
				copies->count + 1, sizeof(*grown),
				&copies->failed);
	if (copies->failed)
		return 1;
	grown = copies->items;
	grown[copies->count].key = strdup(key);
	grown[copies->count].value = strdup(value);
	if (grown[copies->count].key == NULL ||
	    grown[copies->count].value == NULL) {
		free(grown[copies->count].key);
		free(grown[copies->count].value);
		copies->failed = true;
		return 1;
	}
	copies->count++;
	return 0;
}

static void free_copies(struct record_copies *copies)
{
	for (size_t i = 0; i < copies->count; i++) {
		free(copies->items[i].key);
		free(copies->items[i].value);
	}
	free(copies->items);
	memset(copies, 0, sizeof(*copies));
}

/* Copies of the records under each prefix (NULL-terminated), so that the
 * store may change while they are worked on. */
static int load_prefixes(struct hl_txn *txn, const char *const *prefixes,
			 struct record_copies *copies)
{
	int rc = 0;

	memset(copies, 0, sizeof(*copies));
	for (size_t i = 0; rc == 0 && !copies->failed && prefixes[i]; i++)
		rc = hl_txn_foreach(txn, prefixes[i], copy_record,
				      copies);
	if (copies->failed)
		rc = HL_STORE_NOMEM;
	if (rc != 0) {
		free_copies(copies);
		hl_txn_failed(txn, rc < 0 ? HL_STORE_IO : rc, "listing");
		return -1;
	}
	return 0;
}

/* The holdings of the store: holder/ and named/ records. */
static int load_all(struct hl_txn *txn, struct record_copies *copies)
{
	static const char *const holdings[] = { "holder/", "named/", NULL };

	return load_prefixes(txn, holdings, copies);
}

static const char *record_user(const char *key)
{
	return strchr(key, '/') + 1;
}

/* ---- list ------------------------------------------------------------------ */

static void listed_free(struct hl_listed *item)
{
	hl_holding_free(&item->holding);
	free(item->stale);
	free(item->input);
}

void hl_listing_free(struct hl_listing *listing)
{
	if (listing == NULL)
		return;
	for (size_t i = 0; i < listing->count; i++)
		listed_free(&listing->items[i]);
	free(listing->items);
	for (size_t i = 0; i < listing->waiter_count; i++)
		hl_session_free(&listing->waiters[i].waiter.session);
	free(listing->waiters);
	memset(listing, 0, sizeof(*listing));
}

/* Adds an item; its holding is moved in (and emptied in the caller).
 * Its sessions' ttys are read here, once, those of sshd sessions looked
 * up in ttys (NULL: none): item->idle is the holding's idle time at now. */
static struct hl_listed *listing_add(struct hl_listing *listing,
				     const char *user,
				     struct hl_holding *holding,
				     struct hl_tty_map *ttys, time_t now)
{
	struct hl_listed *item;
	bool failed = false;

	listing->items = hl_grow(listing->items, &listing->allocated,
				 listing->count + 1, sizeof(*item), &failed);
	if (failed)
		return NULL;
	item = &listing->items[listing->count];
	memset(item, 0, sizeof(*item));
	item->stale = calloc(holding->session_count + 1, sizeof(bool));
	item->input = calloc(holding->session_count + 1, sizeof(time_t));
	if (item->stale == NULL || item->input == NULL) {
		listed_free(item);
		return NULL;
	}
	snprintf(item->user, sizeof(item->user), "%s", user);
	item->holding = *holding;
	memset(holding, 0, sizeof(*holding));
	item->idle = hl_holding_idle_inputs(ttys, &item->holding, now,
					    item->input);
	item->eligible = true;
	listing->count++;
	return item;
}

static size_t pool_rank(const struct hl_config *cfg, const char *pool)
{
	const struct hl_pool *found = hl_config_pool(cfg, pool);

	return found != NULL ? (size_t)(found - cfg->pools) : cfg->pool_count;
}

/* Where an item or a waiter goes: concurrent before named, then pools in
 * config order (the rank, found once per element, not per comparison),
 * then by name, then slot or place in line, then user. */
struct sort_key {
	bool named;
	size_t rank;
	const char *pool;
	bool released;		/* after the slots held, in its pool */
	size_t number;
	const char *user;
	size_t index;		/* in the array being sorted */
};

static int compare_keys(const void *a, const void *b)
{
	const struct sort_key *x = a, *y = b;
	int c;

	if (x->named != y->named)
		return x->named ? 1 : -1;
	if (x->rank != y->rank)
		return x->rank < y->rank ? -1 : 1;
	c = strcmp(x->pool, y->pool);
	if (c != 0)
		return c;
	if (x->released != y->released)
		return x->released ? 1 : -1;
	if (x->number != y->number)
		return x->number < y->number ? -1 : 1;
	return strcmp(x->user, y->user);
}

/* Puts count elements of size bytes in the order of keys (sorted here),
 * in place: one element at a time moves along each cycle. */
static int sort_by_keys(void *elements, size_t count, size_t size,
			struct sort_key *keys)
{
	char *base = elements, *held = malloc(size);

	if (held == NULL)
		return -1;
	qsort(keys, count, sizeof(*keys), compare_keys);
	for (size_t i = 0; i < count; i++) {
		size_t at = i;

		if (keys[i].index == i)
			continue;
		memcpy(held, base + i * size, size);
		while (keys[at].index != i) {
			size_t from = keys[at].index;

			memcpy(base + at * size, base + from * size, size);
			keys[at].index = at;
			at = from;
		}
		memcpy(base + at * size, held, size);
		keys[at].index = at;
	}
	free(held);
	return 0;
}

/* The items by pool (config order) and slot, then Named by user; the
 * waiters by pool (config order), then place. */
static int sort_listing(const struct hl_config *cfg,
			struct hl_listing *listing)
{
	size_t most = listing->count > listing->waiter_count
			      ? listing->count : listing->waiter_count;
	struct sort_key *keys;
	int rc = 0;

	if (most < 2)
		return 0;
	keys = calloc(most, sizeof(*keys));
	if (keys == NULL)
		return -1;
	for (size_t i = 0; i < listing->count; i++) {
		const struct hl_holding *h = &listing->items[i].holding;
		bool named = h->kind != HL_KIND_CONCURRENT;

		keys[i] = (struct sort_key){
			.named = named,
			.rank = named ? 0 : pool_rank(cfg, h->pool),
			.pool = named ? "" : h->pool,
			.released = listing->items[i].released,
			.number = named ? 0 : h->slot,
			.user = listing->items[i].user,
			.index = i,
		};
	}
	if (listing->count > 1)
		rc = sort_by_keys(listing->items, listing->count,
				  sizeof(*listing->items), keys);
	for (size_t i = 0; i < listing->waiter_count; i++) {
		const struct hl_listed_waiter *w = &listing->waiters[i];

		keys[i] = (struct sort_key){
			.rank = pool_rank(cfg, w->pool),
			.pool = w->pool,
			.number = w->place,
			.user = w->waiter.user,
			.index = i,
		};
	}
	if (rc == 0 && listing->waiter_count > 1)
		rc = sort_by_keys(listing->waiters, listing->waiter_count,
				  sizeof(*listing->waiters), keys);
	free(keys);
	return rc;
}

/* What list gathers in its one walk of the store. */
struct list_walk {
	struct hl_txn *txn;
	struct hl_listing *out;
	struct hl_audit_scan audit;
	struct hl_tty_map ttys;	/* the ttys of sshd sessions, one walk */
	bool reported;		/* the walk stopped on a failure said already */
};

static int list_stop(struct list_walk *walk)
{
	walk->reported = true;
	return 1;
}

static bool listed_stale(struct list_walk *walk,
			 const struct hl_session *session)
{
	const struct hl_env *env = walk->txn->env;

	return hl_session_stale_scan(env->proc_root, env->self.boot_id,
				     session, &walk->audit);
}

/* A holder/USER or named/USER record, decoded straight into the listing. */
static int list_holding(struct list_walk *walk, const char *key,
			const char *value)
{
	const struct hl_env *env = walk->txn->env;
	const char *user = record_user(key);
	struct hl_holding holding;
	struct hl_listed *item;

	if (hl_holding_decode(value, &holding) != 0) {
		hl_txn_damaged(walk->txn, key);
		return list_stop(walk);
	}
	item = listing_add(walk->out, user, &holding, &walk->ttys,
			   env->now());
	if (item == NULL) {
		hl_holding_free(&holding);
		hl_txn_failed(walk->txn, HL_STORE_NOMEM, "listing");
		return list_stop(walk);
	}
	for (size_t s = 0; s < item->holding.session_count; s++)
		item->stale[s] = listed_stale(walk, &item->holding.sessions[s]);
	if (item->holding.kind != HL_KIND_CONCURRENT)
		item->idle = -1;
	if (item->holding.kind == HL_KIND_NAMED)
		/* A lookup error is no "ineligible": the sweep keeps such
		 * an allocation too. */
		item->eligible = env->cfg->named.licenses > 0 &&
				 hl_user_named_eligible(env, user) != 0;
	return 0;
}

/* A line/POOL record: its waiters, in their order in line. */
static int list_line(struct list_walk *walk, const char *key,
		     const char *value)
{
	struct hl_listing *out = walk->out;
	struct hl_line line;
	bool failed = false;

	if (hl_line_decode(value, &line) != 0) {
		hl_txn_damaged(walk->txn, key);
		return list_stop(walk);
	}
	out->waiters = hl_grow(out->waiters, &out->waiters_allocated,
			       out->waiter_count + line.count,
			       sizeof(*out->waiters), &failed);
	if (failed) {
		hl_line_free(&line);
		hl_txn_failed(walk->txn, HL_STORE_NOMEM, "listing lines");
		return list_stop(walk);
	}
	for (size_t i = 0; i < line.count; i++) {
		struct hl_listed_waiter *lw = &out->waiters[out->waiter_count++];

		memset(lw, 0, sizeof(*lw));
		snprintf(lw->pool, sizeof(lw->pool), "%s", record_user(key));
		lw->place = i + 1;
		lw->waiter = line.waiters[i];
		lw->stale = listed_stale(walk, &lw->waiter.session);
		lw->ended = !lw->stale &&
			    hl_txn_waiter_gone(walk->txn, &lw->waiter);
	}
	free(line.waiters);	/* the sessions moved into out */
	return 0;
}

/* A released/USER record: its live sessions, if any.  One that does
 * not decode holds no license: it is left to reap. */
static int list_released(struct list_walk *walk, const char *key,
			 const char *value)
{
	const struct hl_env *env = walk->txn->env;
	struct hl_holding holding;
	struct hl_listed *item;

	if (hl_holding_decode(value, &holding) != 0)
		return 0;
	for (size_t i = holding.session_count; i-- > 0;)
		if (listed_stale(walk, &holding.sessions[i]))
			hl_holding_remove_session(&holding, i);
	if (holding.session_count == 0) {
		hl_holding_free(&holding);
		return 0;
	}
	item = listing_add(walk->out, record_user(key), &holding,
			   &walk->ttys, env->now());
	if (item == NULL) {
		hl_holding_free(&holding);
		hl_txn_failed(walk->txn, HL_STORE_NOMEM, "listing");
		return list_stop(walk);
	}
	item->released = true;
	return 0;
}

static int list_record(void *arg, const char *key, const char *value)
{
	if (strncmp(key, "holder/", 7) == 0 || strncmp(key, "named/", 6) == 0)
		return list_holding(arg, key, value);
	if (strncmp(key, "released/", 9) == 0)
		return list_released(arg, key, value);
	if (strncmp(key, "line/", 5) == 0)
		return list_line(arg, key, value);
	return 0;
}

int hl_admin_list(const struct hl_env *env, const struct hl_request *req,
		  struct hl_listing *out, struct hl_decision *result)
{
	struct hl_txn txn = { .env = env, .req = req, .out = result,
			      .walk = true };
	struct list_walk walk = { .txn = &txn, .out = out };
	bool ok;
	int rc;

	memset(out, 0, sizeof(*out));
	memset(result, 0, sizeof(*result));
	if (hl_txn_begin(&txn) != 0) {
		if (txn.store || txn.durable)
			hl_txn_end(&txn, false);
		return 0;
	}
	hl_tty_map_init(&walk.ttys, env->proc_root);
	/* One walk of the store for holdings and lines alike: each walk
	 * reads every record of the file from disk. */
	rc = hl_txn_foreach(&txn, "", list_record, &walk);
	if (rc != 0 && !walk.reported)
		hl_txn_failed(&txn, rc < 0 ? HL_STORE_IO : rc, "listing");
	ok = rc == 0;
	hl_audit_scan_free(&walk.audit);
	hl_tty_map_free(&walk.ttys);
	if (ok && sort_listing(env->cfg, out) != 0) {
		hl_txn_failed(&txn, HL_STORE_NOMEM, "listing");
		ok = false;
	}
	if (hl_txn_end(&txn, ok) != 0 || !ok) {
		hl_listing_free(out);
		return 0;
	}
	result->verdict = HL_GRANTED;
	return 0;
}

/* ---- release ----------------------------------------------------------------- */

static void refused(struct hl_decision *result, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static void refused(struct hl_decision *result, const char *fmt, ...)
{
	va_list ap;

	result->verdict = HL_DENIED;
	va_start(ap, fmt);
	vsnprintf(result->message, sizeof(result->message), fmt, ap);
	va_end(ap);
	/* The reason is the message's start: it is the shorter of the two. */
	memcpy(result->reason, result->message, sizeof(result->reason) - 1);
	result->reason[sizeof(result->reason) - 1] = '\0';
}

/* Logs the end of every session of a holding the admin took away. */
static void end_sessions(struct hl_txn *txn, const char *user,
			 const struct hl_holding *holding, const char *reason)
{
	for (size_t i = 0; i < holding->session_count; i++)
		hl_txn_event_end(txn, LOG_NOTICE, HL_EVENT_ADMIN_RELEASE, user,
			     holding->kind,
			     holding->kind == HL_KIND_CONCURRENT ? holding->pool
								 : NULL,
			     holding->slot, &holding->sessions[i], reason);
}

static bool admin_begin(struct hl_txn *txn, const struct hl_env *env,
			const struct hl_request *req,
			struct hl_decision *result)
{
	memset(result, 0, sizeof(*result));
	memset(txn, 0, sizeof(*txn));
	txn->env = env;
	txn->req = req;
	txn->out = result;
	txn->take = true;
	txn->who.user = req->user;
	if (!hl_user_valid(req->user)) {
		result->verdict = HL_USER_UNKNOWN;
		snprintf(result->reason, sizeof(result->reason),
			 "invalid user name");
		return false;
	}
	return hl_txn_begin(txn) == 0;
}

/* The live sessions of a holding whose slot was released join
 * released/USER, which takes its pool, slot and time. */
static int keep_released(struct hl_txn *txn, const struct hl_holding *holding,
			 struct hl_holding *released)
{
	released->kind = HL_KIND_CONCURRENT;
	snprintf(released->pool, sizeof(released->pool), "%s", holding->pool);
	released->slot = holding->slot;
	released->since = txn->env->now();
	for (size_t i = 0; i < holding->session_count; i++)
		if (!hl_txn_session_stale(txn, &holding->sessions[i]) &&
		    hl_holding_add_session(released, &holding->sessions[i])) {
			hl_txn_failed(txn, HL_STORE_NOMEM, "release");
			return -1;
		}
	return 0;
}

/* Ends the released sessions after the commit, telling their ttys why. */
static int terminate_released(struct hl_txn *txn,
			      const struct hl_holding *released)
{
	struct hl_buf msg;

	hl_buf_init(&msg);
	hl_buf_puts(&msg, "\r\n*** helpdesk-license: the administrator "
		    "released your help desk license (pool ");
	hl_buf_printable(&msg, released->pool);
	hl_buf_puts(&msg, "). This session ends now. ***\r\n");
	return hl_txn_queue_ending(txn, released, hl_buf_take(&msg), true);
}

/* The refusal of a release of user, who holds no concurrent license:
 * what to do instead (unassign a Named one, or end the before sessions
 * of a slot released earlier). */
static int refuse_nothing_held(struct hl_txn *txn, const char *user,
			       size_t before, struct hl_decision *result)
{
	struct hl_holding allocation;
	char key[HL_KEY_MAX];
	bool named = false;
	int rc;

	/* A Named allocation is freed by unassign: say so. */
	hl_key_named(key, sizeof(key), user);
	rc = hl_txn_load_holding(txn, key, &allocation, &named);
	if (named)
		hl_holding_free(&allocation);
	if (rc == 0 && named)
		refused(result, "%s holds a Named license, no concurrent one: "
			"'helpdesk-license unassign %s' frees it", user, user);
	else if (rc == 0 && before > 0)
		refused(result, "%s holds no concurrent license; %zu "
			"session%s of a released one go%s on: "
			"'helpdesk-license release --terminate %s' ends %s",
			user, before, before == 1 ? "" : "s",
			before == 1 ? "es" : "", user,
			before == 1 ? "it" : "them");
	else if (rc == 0)
		refused(result, "%s holds no concurrent license", user);
	return rc;
}

/* Frees the slot user holds; its sessions go on in released (or end,
 * with terminate, once committed). */
static int release_held(struct hl_txn *txn, const char *user,
			const struct hl_holding *holding,
			struct hl_holding *released, bool terminate,
			struct hl_decision *result)
{
	size_t n = holding->session_count;

	end_sessions(txn, user, holding, "released by admin");
	if (hl_txn_free_slot(txn, user, holding) ||
	    keep_released(txn, holding, released))
		return 1;
	result->verdict = HL_GRANTED;
	result->kind = HL_KIND_CONCURRENT;
	result->slot = holding->slot;
	snprintf(result->pool, sizeof(result->pool), "%s", holding->pool);
	hl_set_text(result->message, sizeof(result->message),
		    "released slot %u of pool %s held by %s (%zu session%s %s)",
		    holding->slot, holding->pool, user, n, n == 1 ? "" : "s",
		    terminate ? (n == 1 ? "ends now" : "end now")
			      : (n == 1 ? "goes on without it"
					: "go on without it"));
	return 0;
}

int hl_admin_release(const struct hl_env *env, const struct hl_request *req,
		     const char *pool, bool terminate,
		     struct hl_decision *result)
{
	struct hl_holding holding, released;
	struct hl_txn txn;
	char key[HL_KEY_MAX];
	bool found = false, changed = false;
	size_t before;
	int rc;

	if (!admin_begin(&txn, env, req, result))
		return 0;
	hl_key_holder(key, sizeof(key), req->user);
	rc = hl_txn_load_released(&txn, req->user, &released, &changed);
	before = released.session_count;
	if (rc == 0)
		rc = hl_txn_load_holding(&txn, key, &holding, &found);
	if (rc == 0 && !found && terminate && before > 0) {
		/* Released earlier: only the sessions are left to end. */
		result->verdict = HL_GRANTED;
		result->kind = HL_KIND_CONCURRENT;
		snprintf(result->pool, sizeof(result->pool), "%s",
			 released.pool);
		hl_set_text(result->message, sizeof(result->message),
			    "%s holds no license; %zu session%s that went on "
			    "after the release of slot %u of pool %s end%s "
			    "now", req->user, before, before == 1 ? "" : "s",
			    released.slot, released.pool,
			    before == 1 ? "s" : "");
	} else if (rc == 0 && !found) {
		rc = refuse_nothing_held(&txn, req->user, before, result);
	} else if (rc == 0 && pool && strcmp(pool, holding.pool) != 0) {
		refused(result, "%s holds a license of pool %s, not of pool %s",
			req->user, holding.pool, pool);
	} else if (rc == 0) {
		rc = release_held(&txn, req->user, &holding, &released,
				  terminate, result);
		changed = true;
	}
	if (rc == 0 && changed)
		rc = hl_txn_save_released(&txn, req->user, &released);
	if (rc == 0 && terminate && result->verdict == HL_GRANTED &&
	    released.session_count > 0)
		rc = terminate_released(&txn, &released);
	if (found)
		hl_holding_free(&holding);
	hl_holding_free(&released);
	hl_txn_end(&txn, rc == 0);
	return 0;
}

/* ---- reap -------------------------------------------------------------------- */

/* Moves the stale sessions of holding into a listing item. */
static int reap_holding(struct hl_txn *txn, const char *user,
			struct hl_holding *holding, struct hl_listing *reaped)
{
	struct hl_holding dropped = *holding;
	struct hl_listed *item;

	dropped.sessions = NULL;
	dropped.session_count = 0;
	for (size_t i = 0; i < holding->session_count; i++)
		if (hl_txn_session_stale(txn, &holding->sessions[i]) &&
		    hl_holding_add_session(&dropped, &holding->sessions[i]))
			goto nomem;
	if (dropped.session_count == 0)
		return 0;
	hl_txn_prune_stale(txn, user, holding);
	item = listing_add(reaped, user, &dropped, NULL, txn->env->now());
	if (item == NULL)
		goto nomem;
	for (size_t i = 0; i < item->holding.session_count; i++)
		item->stale[i] = true;
	return 1;
nomem:
	hl_holding_free(&dropped);
	hl_txn_failed(txn, HL_STORE_NOMEM, "reap");
	return -1;
}

/* Drops the waiters of pool's line whose process is gone or whose wait
 * is over (a stopped waiter can't end its own), listed in reaped. */
static int reap_line(struct hl_txn *txn, const struct hl_pool *pool,
		     struct hl_listing *reaped)
{
	struct hl_line line, dropped = { 0 };
	bool failed = false;
	int rc = 0;

	if (hl_txn_load_line(txn, pool->name, &line))
		return -1;
	if (hl_txn_prune_line(txn, pool->name, &line, &dropped))
		rc = hl_txn_save_line(txn, pool->name, &line);
	hl_line_free(&line);
	if (rc != 0 || dropped.count == 0) {
		hl_line_free(&dropped);
		return rc;
	}
	reaped->waiters = hl_grow(reaped->waiters, &reaped->waiters_allocated,
				  reaped->waiter_count + dropped.count,
				  sizeof(*reaped->waiters), &failed);
	if (failed) {
		hl_line_free(&dropped);
		hl_txn_failed(txn, HL_STORE_NOMEM, "reap");
		return -1;
	}
	for (size_t i = 0; i < dropped.count; i++) {
		struct hl_listed_waiter *lw =
			&reaped->waiters[reaped->waiter_count++];

		memset(lw, 0, sizeof(*lw));
		snprintf(lw->pool, sizeof(lw->pool), "%s", pool->name);
		lw->place = i + 1;
		lw->waiter = dropped.waiters[i];
		lw->stale = hl_txn_session_stale(txn, &lw->waiter.session);
		lw->ended = !lw->stale;
	}
	free(dropped.waiters);	/* the sessions moved into reaped */
	return 0;
}

/* Drops the released sessions whose processes are gone, and the
 * released/USER records left without one. */
static int reap_released(struct hl_txn *txn)
{
	static const char *const released_prefix[] = { "released/", NULL };
	struct record_copies copies;
	int rc = 0;

	if (load_prefixes(txn, released_prefix, &copies) != 0)
		return -1;
	for (size_t i = 0; rc == 0 && i < copies.count; i++) {
		const char *user = record_user(copies.items[i].key);
		struct hl_holding released;
		bool changed;

		/* A key no release writes (a rebuild's stray): gone. */
		if (!hl_user_valid(user)) {
			rc = hl_txn_delete(txn, copies.items[i].key);
			continue;
		}
		rc = hl_txn_load_released(txn, user, &released, &changed);
		if (rc == 0 && changed)
			rc = hl_txn_save_released(txn, user, &released);
		hl_holding_free(&released);
	}
	free_copies(&copies);
	return rc;
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
		if (!hl_user_valid(record_user(key)) ||
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
	struct record_copies copies;
	char shown[HL_KEY_MAX * 4];
	int rc = 0;

	if (load_prefixes(txn, prefixes, &copies) != 0)
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
	free_copies(&copies);
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
	struct record_copies copies;
	int rc = 0;

	slot_prefix(prefix, sizeof(prefix), pool->name);
	if (load_prefixes(txn, prefixes, &copies) != 0)
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
	free_copies(&copies);
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
	const char *user = record_user(key);
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
	p = pool_rank(cfg, holding.pool);
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
	struct record_copies copies;
	int rc = 0;

	if (load_prefixes(txn, prefixes, &copies) != 0)
		return -1;
	for (size_t i = 0; rc == 0 && i < copies.count; i++) {
		const char *user = record_user(copies.items[i].key);
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
				hl_txn_event(txn, LOG_NOTICE, HL_EVENT_REAP,
					     user, HL_KIND_NAMED, NULL, 0,
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
	free_copies(&copies);
	return rc;
}

/* See hl_admin_reconcile: the work, inside txn. */
int hl_txn_reconcile(struct hl_txn *txn, struct hl_reconciled *done)
{
	static const char *const holders[] = { "holder/", NULL };
	const struct hl_config *cfg = txn->env->cfg;
	struct record_copies copies;
	int rc = drop_unreadable(txn, done);

	/* Before the orphan slots are freed: a lost session keeps the slot
	 * whose key survived it, with no reap in the log. */
	if (rc == 0 && txn->replay)
		rc = hl_txn_restore_sessions(txn, done);
	for (size_t i = 0; rc == 0 && i < cfg->pool_count; i++)
		rc = free_orphan_slots(txn, &cfg->pools[i], done);
	if (rc != 0 || load_prefixes(txn, holders, &copies) != 0)
		return -1;
	for (size_t i = 0; rc == 0 && i < copies.count; i++)
		rc = settle_holder(txn, copies.items[i].key,
				   copies.items[i].value, done);
	free_copies(&copies);
	for (size_t i = 0; rc == 0 && i < cfg->pool_count; i++)
		rc = recount_pool(txn, &cfg->pools[i], done);
	if (rc == 0)
		rc = recount_named(txn, done);
	if (rc == 0)
		rc = drop_orphan_sessions(txn, done);
	return rc;
}

int hl_admin_reconcile(const struct hl_env *env, const struct hl_request *req,
		       struct hl_reconciled *done, struct hl_decision *result)
{
	struct hl_txn txn;
	int rc;

	memset(done, 0, sizeof(*done));
	if (!admin_begin(&txn, env, req, result))
		return 0;
	txn.replay = true;
	rc = hl_txn_reconcile(&txn, done);
	if (hl_txn_end(&txn, rc == 0) == 0)
		result->verdict = HL_GRANTED;
	else
		memset(done, 0, sizeof(*done));
	return 0;
}

/* ---- reap -------------------------------------------------------------------- */

int hl_admin_reap(const struct hl_env *env, const struct hl_request *req,
		  struct hl_listing *reaped, struct hl_decision *result)
{
	struct record_copies copies;
	struct hl_txn txn;
	int rc = 0;

	memset(reaped, 0, sizeof(*reaped));
	if (!admin_begin(&txn, env, req, result))
		return 0;
	/* First the records made to agree, so that freeing a stale holding
	 * frees its own slot and nobody else's. */
	if (hl_txn_reconcile(&txn, &reaped->reconciled) != 0 ||
	    load_all(&txn, &copies) != 0) {
		hl_txn_end(&txn, false);
		return 0;
	}
	for (size_t i = 0; rc == 0 && i < copies.count; i++) {
		const char *key = copies.items[i].key;
		const char *user = record_user(key);
		struct hl_holding holding;
		int dropped;

		if (hl_holding_decode(copies.items[i].value, &holding) != 0) {
			hl_txn_failed(&txn, HL_STORE_DAMAGED, key);
			rc = -1;
			break;
		}
		dropped = reap_holding(&txn, user, &holding, reaped);
		if (dropped < 0)
			rc = -1;
		else if (dropped > 0 && holding.kind == HL_KIND_CONCURRENT &&
			 holding.session_count == 0)
			rc = hl_txn_free_slot(&txn, user, &holding);
		else if (dropped > 0)
			rc = hl_txn_save_holding(&txn, key, &holding);
		hl_holding_free(&holding);
	}
	free_copies(&copies);
	if (rc == 0)
		rc = reap_released(&txn);
	/* Slots left without a holder record, by a write that was cut short
	 * before the store journaled its changes. */
	for (size_t i = 0; rc == 0 && i < env->cfg->pool_count; i++) {
		const struct hl_pool *pool = &env->cfg->pools[i];
		struct hl_counter counter;
		char key[HL_KEY_MAX];
		unsigned freed;

		hl_key_pool(key, sizeof(key), pool->name);
		rc = hl_txn_load_counter(&txn, key, &counter) ||
		     hl_txn_reclaim_pool(&txn, pool, &counter, false,
					 &freed) ||
		     reap_line(&txn, pool, reaped);
	}
	if (rc == 0 && sort_listing(env->cfg, reaped) != 0) {
		hl_txn_failed(&txn, HL_STORE_NOMEM, "reap");
		rc = -1;
	}
	if (hl_txn_end(&txn, rc == 0) == 0)
		result->verdict = HL_GRANTED;
	else
		hl_listing_free(reaped);
	return 0;
}

/* ---- assign and unassign -------------------------------------------------------- */

int hl_admin_assign(const struct hl_env *env, const struct hl_request *req,
		    struct hl_decision *result)
{
	const struct hl_config *cfg = env->cfg;
	struct hl_holding holding;
	struct hl_txn txn;
	char key[HL_KEY_MAX], when[32];
	bool found = false, done;
	int rc, eligible = 0;

	if (!admin_begin(&txn, env, req, result))
		return 0;
	rc = hl_who_lookup(env, &txn.who, req->user);
	if (rc == 0 && cfg->named.licenses > 0)
		eligible = hl_named_eligible(cfg, &txn.who);
	if (rc != 0 || eligible < 0) {
		hl_txn_end(&txn, true);
		if (rc > 0) {
			result->verdict = HL_USER_UNKNOWN;
			snprintf(result->reason, sizeof(result->reason),
				 "unknown user");
		} else {
			hl_who_failed(result);
		}
		return 0;
	}
	hl_key_named(key, sizeof(key), req->user);
	rc = hl_txn_load_holding(&txn, key, &holding, &found);
	if (rc == 0 && eligible == 0) {
		refused(result, "%s is not named-eligible: add them to "
			"named.users or to a group in named.groups first",
			req->user);
	} else if (rc == 0 && found) {
		hl_format_time(holding.since, when, sizeof(when));
		refused(result, "%s holds a Named license already, since %s",
			req->user, when);
	} else if (rc == 0) {
		rc = hl_txn_allocate_named(&txn, NULL, &done);
		if (rc == 0 && !done) {
			refused(result, "all %u Named licenses are allocated",
				cfg->named.licenses);
		} else if (rc == 0) {
			hl_txn_event(&txn, LOG_NOTICE, HL_EVENT_ASSIGN,
				     req->user, HL_KIND_NAMED, NULL, 0, NULL,
				     "assigned by admin");
			result->verdict = HL_GRANTED;
			result->kind = HL_KIND_NAMED;
			hl_set_text(result->message, sizeof(result->message),
				    "allocated a Named license to %s",
				    req->user);
		}
	}
	if (found)
		hl_holding_free(&holding);
	hl_txn_end(&txn, rc == 0);
	return 0;
}

int hl_admin_unassign(const struct hl_env *env, const struct hl_request *req,
		      bool force, struct hl_decision *result)
{
	const struct hl_config *cfg = env->cfg;
	struct hl_holding holding;
	struct hl_txn txn;
	char key[HL_KEY_MAX], since[32], until[32];
	time_t free_from;
	bool found = false;
	int rc;

	if (!admin_begin(&txn, env, req, result))
		return 0;
	hl_key_named(key, sizeof(key), req->user);
	rc = hl_txn_load_holding(&txn, key, &holding, &found);
	if (rc == 0 && !found) {
		refused(result, "%s holds no Named license", req->user);
		hl_txn_end(&txn, true);
		return 0;
	}
	if (rc != 0) {
		hl_txn_end(&txn, false);
		return 0;
	}
	free_from = holding.since + (time_t)cfg->named.min_assignment;
	if (!force && env->now() < free_from) {
		hl_format_time(holding.since, since, sizeof(since));
		hl_format_time(free_from, until, sizeof(until));
		refused(result, "%s's Named license was allocated at %s; "
			"min_assignment keeps it until %s (use --force to free "
			"it now)", req->user, since, until);
	} else {
		end_sessions(&txn, req->user, &holding, "Named license freed");
		hl_txn_event(&txn, LOG_NOTICE, HL_EVENT_UNASSIGN, req->user,
			     HL_KIND_NAMED, NULL, 0, NULL,
			     force ? "freed by admin (forced)"
				   : "freed by admin");
		rc = hl_txn_free_named(&txn, req->user);
		if (rc == 0) {
			result->verdict = HL_GRANTED;
			result->kind = HL_KIND_NAMED;
			hl_set_text(result->message, sizeof(result->message),
				    "freed the Named license of %s", req->user);
		}
	}
	hl_holding_free(&holding);
	hl_txn_end(&txn, rc == 0);
	return 0;
}
