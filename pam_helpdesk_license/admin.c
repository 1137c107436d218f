/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The admin commands on the store: see admin.h.
 */
#include "config.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "admin.h"
#include "allocation.h"
#include "terminate.h"
#include "proc.h"
#include "text.h"

/* ---- reading many records ------------------------------------------------ */

/* The holdings of the store: holder/ and named/ records. */
static int load_all(struct hl_txn *txn, struct hl_store_records *copies)
{
	static const char *const holdings[] = { "holder/", "named/", NULL };

	return hl_txn_copy_records(txn, holdings, copies);
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
 * Its sessions' processes and ttys are looked at later, by
 * check_listing: the item is not idle (0) and no session stale yet. */
static struct hl_listed *listing_add(struct hl_listing *listing,
				     const char *user,
				     struct hl_holding *holding)
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
	item->eligible = true;
	listing->count++;
	return item;
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
			.rank = named ? 0 : hl_pool_rank(cfg, h->pool),
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
			.rank = hl_pool_rank(cfg, w->pool),
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

/* ---- the sessions' processes, read while the walk goes on --------------- */

/*
 * Whether each listed session's process lives: its start time in /proc,
 * nearly all of a big listing's time.  A reader thread on another
 * processor takes the sessions as the walk decodes them, so that the
 * reads and the walk overlap; once the walk is over and the store's lock
 * given back, more readers and the listing's own thread share the rest.
 */
#define CHECK_THREADS_MAX 8
#define CHECK_ITEMS_MIN 256 /* fewer per thread cost more than they save */
#define CHECK_BLOCK 512	    /* sessions a block of the queue holds */
#define CHECK_BATCH 16	    /* sessions a reader takes at once */

/* A holding's sessions and its item's stale array never move, though
 * the listing's items do as it grows (and later sorts): a reader writes
 * its answer in place. */
struct stale_check {
	const struct hl_session *s;
	bool *stale;
};

struct stale_block {
	struct stale_block *next;
	struct stale_check checks[CHECK_BLOCK];
};

struct stale_queue {
	const struct hl_env *env;
	pthread_mutex_t lock;
	pthread_cond_t more;
	struct stale_block *first, *last; /* the walk appends to last */
	size_t added;		/* by the walk */
	size_t published;	/* of those, what readers may take */
	struct stale_block *taking;	/* where the next one to take is */
	size_t taken, taking_at;	/* in all, and in taking */
	bool closed;		/* nothing more will be added */
	pthread_t readers[CHECK_THREADS_MAX];
	size_t reader_count;
};

static void *stale_reader(void *arg)
{
	struct stale_queue *q = arg;
	struct hl_audit_scan audit = { 0 }; /* each thread its own */

	for (;;) {
		struct stale_check *batch;
		size_t n;

		pthread_mutex_lock(&q->lock);
		while (q->taken == q->published && !q->closed)
			pthread_cond_wait(&q->more, &q->lock);
		if (q->taken == q->published) {
			pthread_mutex_unlock(&q->lock);
			break;
		}
		if (q->taking_at == CHECK_BLOCK) {
			q->taking = q->taking->next;
			q->taking_at = 0;
		}
		n = q->published - q->taken;
		if (n > CHECK_BLOCK - q->taking_at)
			n = CHECK_BLOCK - q->taking_at;
		if (n > CHECK_BATCH)
			n = CHECK_BATCH;
		batch = &q->taking->checks[q->taking_at];
		q->taking_at += n;
		q->taken += n;
		pthread_mutex_unlock(&q->lock);
		for (size_t i = 0; i < n; i++)
			*batch[i].stale = hl_session_stale_scan(
				q->env->proc_root, q->env->self.boot_id,
				batch[i].s, &audit);
	}
	hl_audit_scan_free(&audit);
	return NULL;
}

static size_t check_threads(size_t items)
{
	long cpus = sysconf(_SC_NPROCESSORS_ONLN);
	size_t n = items / CHECK_ITEMS_MIN;

	if (cpus > 0 && n > (size_t)cpus)
		n = (size_t)cpus;
	if (n > CHECK_THREADS_MAX)
		n = CHECK_THREADS_MAX;
	return n > 0 ? n : 1;
}

static void stale_readers_start(struct stale_queue *q, size_t want)
{
	while (q->reader_count < want &&
	       pthread_create(&q->readers[q->reader_count], NULL,
			      stale_reader, q) == 0)
		q->reader_count++;
}

/* The first reader starts with the walk, where another processor is
 * there for it: on one, it would only slow the walk, under the lock. */
static void stale_queue_init(struct stale_queue *q, const struct hl_env *env)
{
	long cpus = sysconf(_SC_NPROCESSORS_ONLN);

	memset(q, 0, sizeof(*q));
	q->env = env;
	pthread_mutex_init(&q->lock, NULL);
	pthread_cond_init(&q->more, NULL);
	if (cpus > 1)
		stale_readers_start(q, 1);
}

static void stale_publish(struct stale_queue *q)
{
	pthread_mutex_lock(&q->lock);
	q->published = q->added;
	pthread_cond_broadcast(&q->more);
	pthread_mutex_unlock(&q->lock);
}

/* Queues the sessions of item; false when out of memory. */
static bool stale_queue_add(struct stale_queue *q, struct hl_listed *item)
{
	for (size_t i = 0; i < item->holding.session_count; i++) {
		size_t at = q->added % CHECK_BLOCK;

		if (at == 0) {
			struct stale_block *b = malloc(sizeof(*b));

			if (b == NULL)
				return false;
			b->next = NULL;
			/* Linked under the lock: a reader follows next. */
			pthread_mutex_lock(&q->lock);
			if (q->last != NULL)
				q->last->next = b;
			else
				q->first = q->taking = b;
			q->last = b;
			pthread_mutex_unlock(&q->lock);
		}
		q->last->checks[at] = (struct stale_check){
			.s = &item->holding.sessions[i], .stale = &item->stale[i],
		};
		q->added++;
	}
	if (q->added - q->published >= CHECK_BATCH)
		stale_publish(q);
	return true;
}

/* Ends the queue: with finish, reads what is left (readers up to one a
 * processor for the listing's items, this thread among them); without,
 * only waits for the readers, which take nothing more. */
static void stale_queue_end(struct stale_queue *q,
			    const struct hl_listing *out, bool finish)
{
	pthread_mutex_lock(&q->lock);
	q->published = finish ? q->added : q->taken;
	q->closed = true;
	pthread_cond_broadcast(&q->more);
	pthread_mutex_unlock(&q->lock);
	if (finish) {
		stale_readers_start(q, check_threads(out->count) - 1);
		stale_reader(q);
	}
	for (size_t t = 0; t < q->reader_count; t++)
		pthread_join(q->readers[t], NULL);
	for (struct stale_block *b = q->first, *next; b != NULL; b = next) {
		next = b->next;
		free(b);
	}
	pthread_cond_destroy(&q->more);
	pthread_mutex_destroy(&q->lock);
}

/* What list gathers in its one walk of the store. */
struct list_walk {
	struct hl_txn *txn;
	struct hl_listing *out;
	struct stale_queue *stale;
	struct hl_audit_scan audit; /* for the waiters */
	bool reported;		/* the walk stopped on a failure said already */
};

static int list_stop(struct list_walk *walk)
{
	walk->reported = true;
	return 1;
}

/* listing_add, its sessions queued for their processes' reads. */
static struct hl_listed *walk_add(struct list_walk *walk, const char *user,
				  struct hl_holding *holding)
{
	struct hl_listed *item = listing_add(walk->out, user, holding);

	if (item != NULL && !stale_queue_add(walk->stale, item))
		return NULL;	/* the listing fails: its items are freed */
	return item;
}

/* A holder/USER or named/USER record, decoded straight into the listing. */
static int list_holding(struct list_walk *walk, const char *key,
			const char *value)
{
	const struct hl_env *env = walk->txn->env;
	const char *user = hl_record_user(key);
	struct hl_holding holding;
	struct hl_listed *item;

	if (hl_holding_decode(value, &holding) != 0) {
		hl_txn_damaged(walk->txn, key);
		return list_stop(walk);
	}
	item = walk_add(walk, user, &holding);
	if (item == NULL) {
		hl_holding_free(&holding);
		hl_txn_failed(walk->txn, HL_STORE_NOMEM, "listing");
		return list_stop(walk);
	}
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
	const struct hl_env *env = walk->txn->env;
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
		snprintf(lw->pool, sizeof(lw->pool), "%s", hl_record_user(key));
		lw->place = i + 1;
		lw->waiter = line.waiters[i];
		lw->stale = hl_session_stale_scan(
			env->proc_root, env->self.boot_id, &lw->waiter.session,
			&walk->audit);
		lw->ended = !lw->stale &&
			    hl_txn_waiter_gone(walk->txn, &lw->waiter);
	}
	free(line.waiters);	/* the sessions moved into out */
	return 0;
}

/* A released/USER record: listed with its live sessions, if any
 * (check_listing drops the others).  One that does not decode holds no
 * license: it is left to reap. */
static int list_released(struct list_walk *walk, const char *key,
			 const char *value)
{
	struct hl_holding holding;
	struct hl_listed *item;

	if (hl_holding_decode(value, &holding) != 0)
		return 0;
	item = walk_add(walk, hl_record_user(key), &holding);
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

/* ---- the sessions of a listing, after the walk ---------------------------- */

/*
 * What a listing learns of each holder outside the store besides its
 * processes (above): where wanted, its ttys' last input.  These reads
 * come after the store's lock is given back and are spread over
 * threads, as the processes' are.
 */
struct listing_checks {
	const struct hl_env *env;
	struct hl_listing *out;
	bool counting;		 /* for counts: ttys only where idle counts */
	struct hl_tty_map *ttys; /* walked before the threads start */
	time_t now;
};

/* Whether the listing reads the ttys of item: always for the rows of
 * list; for counts, only a concurrent holding of a pool with an
 * idle_timeout, the one place a count shows idle time (a released
 * holding counts none). */
static bool ttys_wanted(const struct listing_checks *checks,
			const struct hl_listed *item)
{
	const struct hl_pool *pool;

	if (!checks->counting)
		return true;
	if (item->released || item->holding.kind != HL_KIND_CONCURRENT)
		return false;
	pool = hl_config_pool(checks->env->cfg, item->holding.pool);
	return pool != NULL && pool->idle_timeout > 0;
}

struct check_part {
	const struct listing_checks *checks;
	size_t from, to; /* items [from, to) */
	pthread_t thread;
	bool started;
};

/* A released holding keeps only its live sessions. */
static void drop_stale_sessions(struct hl_listed *item)
{
	size_t n = item->holding.session_count;

	for (size_t i = n; i-- > 0;) {
		if (!item->stale[i])
			continue;
		hl_holding_remove_session(&item->holding, i);
		memmove(&item->stale[i], &item->stale[i + 1],
			(n - i - 1) * sizeof(*item->stale));
		memmove(&item->input[i], &item->input[i + 1],
			(n - i - 1) * sizeof(*item->input));
		n--;
	}
}

static void check_item(const struct listing_checks *checks, size_t index)
{
	struct hl_listed *item = &checks->out->items[index];

	if (item->released)
		drop_stale_sessions(item);
	item->idle = ttys_wanted(checks, item)
			     ? hl_holding_idle_inputs(checks->ttys,
						      &item->holding,
						      checks->now, item->input)
			     : -1;
	/* A Named session shows its input; only a slot can be idle. */
	if (item->holding.kind != HL_KIND_CONCURRENT)
		item->idle = -1;
}

static void *check_items(void *arg)
{
	struct check_part *part = arg;

	for (size_t i = part->from; i < part->to; i++)
		check_item(part->checks, i);
	return NULL;
}

/* Released holdings whose sessions have all ended are not listed. */
static void drop_ended_released(struct hl_listing *out)
{
	size_t kept = 0;

	for (size_t i = 0; i < out->count; i++) {
		if (out->items[i].released &&
		    out->items[i].holding.session_count == 0) {
			listed_free(&out->items[i]);
			continue;
		}
		out->items[kept++] = out->items[i];
	}
	out->count = kept;
}

static void check_listing(const struct hl_env *env, struct hl_listing *out,
			  bool counting)
{
	struct hl_tty_map ttys;
	struct listing_checks checks = { env, out, counting, &ttys,
					 env->now() };
	struct check_part parts[CHECK_THREADS_MAX];
	size_t wanted = 0, n;

	hl_tty_map_init(&ttys, env->proc_root);
	for (size_t i = 0; i < out->count; i++)
		if (ttys_wanted(&checks, &out->items[i])) {
			hl_tty_map_prepare(&ttys, &out->items[i].holding);
			wanted++;
		}
	/* Threads for the ttys' reads; without any, one does the rest. */
	n = check_threads(wanted);
	for (size_t t = 0; t < n; t++) {
		parts[t] = (struct check_part){
			.checks = &checks,
			.from = out->count * t / n,
			.to = out->count * (t + 1) / n,
		};
		/* The first part is this thread's; a thread that cannot
		 * start leaves its part to it too. */
		parts[t].started =
			t > 0 && pthread_create(&parts[t].thread, NULL,
						check_items, &parts[t]) == 0;
	}
	for (size_t t = 0; t < n; t++)
		if (!parts[t].started)
			check_items(&parts[t]);
	for (size_t t = 0; t < n; t++)
		if (parts[t].started)
			pthread_join(parts[t].thread, NULL);
	hl_tty_map_free(&ttys);
	drop_ended_released(out);
}

static int list_store(const struct hl_env *env, const struct hl_request *req,
		      bool counting, struct hl_listing *out,
		      struct hl_decision *result)
{
	struct hl_txn txn = { .env = env, .req = req, .out = result,
			      .walk = true };
	struct stale_queue stale;
	struct list_walk walk = { .txn = &txn, .out = out, .stale = &stale };
	bool ok;
	int rc;

	memset(out, 0, sizeof(*out));
	memset(result, 0, sizeof(*result));
	stale_queue_init(&stale, env);
	if (hl_txn_begin(&txn) != 0) {
		if (txn.store || txn.durable)
			hl_txn_end(&txn, false);
		stale_queue_end(&stale, out, false);
		return 0;
	}
	/* One walk of the store for holdings and lines alike: each walk
	 * reads every record of the file from disk. */
	rc = hl_txn_foreach(&txn, "", list_record, &walk);
	if (rc != 0 && !walk.reported)
		hl_txn_failed(&txn, rc < 0 ? HL_STORE_IO : rc, "listing");
	ok = rc == 0;
	hl_audit_scan_free(&walk.audit);
	if (hl_txn_end(&txn, ok) != 0 || !ok) {
		stale_queue_end(&stale, out, false);
		hl_listing_free(out);
		return 0;
	}
	stale_queue_end(&stale, out, true);
	check_listing(env, out, counting);
	if (sort_listing(env->cfg, out) != 0) {
		hl_txn_failed(&txn, HL_STORE_NOMEM, "listing");
		hl_listing_free(out);
		return 0;
	}
	result->verdict = HL_GRANTED;
	return 0;
}

int hl_admin_list(const struct hl_env *env, const struct hl_request *req,
		  struct hl_listing *out, struct hl_decision *result)
{
	return list_store(env, req, false, out, result);
}

int hl_admin_list_counts(const struct hl_env *env, const struct hl_request *req,
			 struct hl_listing *out, struct hl_decision *result)
{
	return list_store(env, req, true, out, result);
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
	item = listing_add(reaped, user, &dropped);
	if (item == NULL)
		goto nomem;
	/* Their processes are gone: only the ttys PAM_TTY names. */
	item->idle = hl_holding_idle_inputs(NULL, &item->holding,
					    txn->env->now(), item->input);
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
	struct hl_store_records copies;
	int rc = 0;

	if (hl_txn_copy_records(txn, released_prefix, &copies) != 0)
		return -1;
	for (size_t i = 0; rc == 0 && i < copies.count; i++) {
		const char *user = hl_record_user(copies.items[i].key);
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
	hl_store_records_free(&copies);
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
	struct hl_store_records copies;
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
		const char *user = hl_record_user(key);
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
	hl_store_records_free(&copies);
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
