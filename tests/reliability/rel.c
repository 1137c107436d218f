/* SPDX-License-Identifier: BSD-3-Clause */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <gdbm.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "record.h"
#include "rel.h"
#include "store.h"
#include "wrappers.h"

#define REL_DIR_ENV "HL_REL_DIR"

static const char *const pool_names[2] = { "one", "three" };
static const unsigned pool_licenses[2] = { 1, 3 };

static bool write_text(const char *path, const char *text)
{
	FILE *fp = fopen(path, "w");
	bool ok;

	if (fp == NULL)
		return false;
	ok = fputs(text, fp) >= 0;
	return fclose(fp) == 0 && ok;
}

/* passwd and group of the technicians: tech01..tech32 share the pools,
 * named1..named4 are eligible for Named licenses. */
static bool write_nss(const char *dir)
{
	char path[PATH_MAX + 16], passwd[8192], group[8192];
	size_t p = 0, g = 0;

	p += (size_t)snprintf(passwd + p, sizeof(passwd) - p,
			      "root:x:0:0:root:/:/bin/sh\n");
	g += (size_t)snprintf(group + g, sizeof(group) - g, "root:x:0:\n");
	for (int i = 1; i <= 2 * REL_POOL_USERS + REL_NAMED_USERS; i++) {
		char name[16];

		if (i <= 2 * REL_POOL_USERS)
			snprintf(name, sizeof(name), "tech%02d", i);
		else
			snprintf(name, sizeof(name), "named%d",
				 i - 2 * REL_POOL_USERS);
		p += (size_t)snprintf(passwd + p, sizeof(passwd) - p,
				      "%s:x:%d:%d:%s:/:/bin/sh\n", name,
				      5000 + i, 5000 + i, name);
		g += (size_t)snprintf(group + g, sizeof(group) - g,
				      "%s:x:%d:\n", name, 5000 + i);
	}
	snprintf(path, sizeof(path), "%s/passwd", dir);
	if (!write_text(path, passwd))
		return false;
	snprintf(path, sizeof(path), "%s/group", dir);
	return write_text(path, group);
}

bool rel_world_init(struct rel_world *world, char **argv, const char *name)
{
	const char *dir = getenv(REL_DIR_ENV);

	memset(world, 0, sizeof(*world));
	if (dir == NULL) {
		const char *tmp = getenv("TMPDIR");
		char passwd[PATH_MAX + 16], group[PATH_MAX + 16];

		snprintf(world->dir, sizeof(world->dir), "%s/hl-%s-XXXXXX",
			 tmp != NULL && *tmp != '\0' ? tmp : "/tmp", name);
		if (mkdtemp(world->dir) == NULL || !write_nss(world->dir)) {
			fprintf(stderr, "%s: cannot make %s: %s\n", name,
				world->dir, strerror(errno));
			return false;
		}
		setenv(REL_DIR_ENV, world->dir, 1);
		snprintf(passwd, sizeof(passwd), "%s/passwd", world->dir);
		snprintf(group, sizeof(group), "%s/group", world->dir);
		ts_run_wrapped(argv, passwd, group, false);
	} else {
		snprintf(world->dir, sizeof(world->dir), "%s", dir);
	}
	snprintf(world->store, sizeof(world->store), "%s/store/licenses.db",
		 world->dir);
	snprintf(world->runtime, sizeof(world->runtime), "%s/store/sessions.db",
		 world->dir);
	snprintf(world->events, sizeof(world->events), "%s/log/events.log",
		 world->dir);

	for (int p = 0; p < 2; p++) {
		for (int i = 0; i < REL_POOL_USERS; i++) {
			snprintf(world->pool_users[p][i],
				 sizeof(world->pool_users[p][i]), "tech%02d",
				 p * REL_POOL_USERS + i + 1);
			world->pool_user_ptrs[p][i] = world->pool_users[p][i];
		}
		snprintf(world->pools[p].name, sizeof(world->pools[p].name),
			 "%s", pool_names[p]);
		world->pools[p].licenses = pool_licenses[p];
		world->pools[p].users = (struct hl_names){
			world->pool_user_ptrs[p], REL_POOL_USERS };
	}
	for (int i = 0; i < REL_NAMED_USERS; i++) {
		snprintf(world->named_users[i], sizeof(world->named_users[i]),
			 "named%d", i + 1);
		world->named_user_ptrs[i] = world->named_users[i];
	}
	world->cfg.store = world->store;
	world->cfg.runtime_store = world->runtime;
	world->cfg.event_log = world->events;
	world->cfg.on_error = HL_ON_ERROR_DENY;
	world->cfg.unlicensed = HL_UNLICENSED_DENY;
	world->cfg.lock_timeout = 30;
	world->cfg.named.licenses = 2;
	world->cfg.named.users = (struct hl_names){ world->named_user_ptrs,
						     REL_NAMED_USERS };
	world->cfg.pools = world->pools;
	world->cfg.pool_count = 2;
	return true;
}

void rel_world_remove(const struct rel_world *world)
{
	pid_t pid;

	if (getenv("HL_REL_KEEP") != NULL) {
		fprintf(stderr, "kept %s\n", world->dir);
		return;
	}
	pid = fork();
	if (pid == 0) {
		execlp("rm", "rm", "-rf", "--", world->dir, (char *)NULL);
		_exit(127);
	}
	if (pid > 0)
		waitpid(pid, NULL, 0);
}

void *rel_shared(size_t size)
{
	void *p = mmap(NULL, size, PROT_READ | PROT_WRITE,
		       MAP_SHARED | MAP_ANONYMOUS, -1, 0);

	if (p != MAP_FAILED)
		return p;
	perror("mmap");
	return NULL;
}

/* ---- GDBM's own check ---------------------------------------------------- */

int rel_gdbm_check(const char *path, char *why, size_t len)
{
	GDBM_FILE db;
	datum key;
	unsigned long keys = 0;
	int rc = -1;

	if (access(path, F_OK) != 0 && errno == ENOENT)
		return 0;
	db = gdbm_open(path, 0, GDBM_READER | GDBM_NOLOCK | GDBM_NOMMAP |
		       GDBM_XVERIFY, 0, NULL);
	if (db == NULL) {
		snprintf(why, len, "gdbm_open with GDBM_XVERIFY: %s",
			 gdbm_strerror(gdbm_errno));
		return -1;
	}
	if (gdbm_needs_recovery(db)) {
		snprintf(why, len, "GDBM says the file needs recovery");
		goto out;
	}
	if (gdbm_avail_verify(db) != 0) {
		snprintf(why, len, "gdbm_avail_verify: %s",
			 gdbm_strerror(gdbm_errno));
		goto out;
	}
	key = gdbm_firstkey(db);
	while (key.dptr != NULL) {
		datum value = gdbm_fetch(db, key), next;

		if (value.dptr == NULL) {
			snprintf(why, len, "key %lu (%.*s) cannot be read: %s",
				 keys, key.dsize > 64 ? 64 : key.dsize,
				 key.dptr, gdbm_strerror(gdbm_errno));
			free(key.dptr);
			goto out;
		}
		free(value.dptr);
		keys++;
		next = gdbm_nextkey(db, key);
		free(key.dptr);
		key = next;
	}
	if (gdbm_errno != GDBM_ITEM_NOT_FOUND) {
		snprintf(why, len, "iteration stopped after %lu keys: %s", keys,
			 gdbm_strerror(gdbm_errno));
		goto out;
	}
	rc = 0;
out:
	gdbm_close(db);
	return rc;
}

/* ---- the invariants ------------------------------------------------------ */

bool rel_session_recorded(const struct rel_world *world, const char *user,
			  const char *session_id)
{
	/* Sessions live in the runtime file: in a concurrent holder's
	 * record, or as the session lines of a Named allocation. */
	const char *prefixes[] = { "holder/", "sessions/" };
	struct hl_store *store;
	bool found = false;

	if (hl_store_open(world->runtime, HL_STORE_READ,
			  world->cfg.lock_timeout, NULL, &store) != HL_STORE_OK)
		return false;
	for (size_t i = 0; i < 2 && !found; i++) {
		char key[HL_KEY_MAX], *text = NULL, *record;
		struct hl_holding holding;

		snprintf(key, sizeof(key), "%s%s", prefixes[i], user);
		if (hl_store_get(store, key, &text) != HL_STORE_OK)
			continue;
		record = text;
		if (i == 1 && asprintf(&record, "kind named\nsince 0\n%s",
				       text) < 0)
			record = NULL;
		if (record && hl_holding_decode(record, &holding) == 0) {
			for (size_t n = 0; n < holding.session_count; n++)
				found |= strcmp(holding.sessions[n].id,
						session_id) == 0;
			hl_holding_free(&holding);
		}
		if (record != text)
			free(record);
		free(text);
	}
	hl_store_close(store);
	return found;
}

struct walk {
	const struct rel_world *world;
	struct hl_store *store;
	struct rel_holdings held;
	bool counter_seen[2];
	struct hl_counter counters[2];
	bool named_seen;
	struct hl_counter named;
	char slot_user[2][REL_MAX_LICENSES + 1][HL_USER_MAX + 1];
	char *why;
	size_t len;
	bool violated;
};

static void violation(struct walk *w, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void violation(struct walk *w, const char *fmt, ...)
{
	va_list ap;

	if (w->violated)
		return;		/* the first one says enough */
	w->violated = true;
	va_start(ap, fmt);
	vsnprintf(w->why, w->len, fmt, ap);
	va_end(ap);
}

static int pool_index(const struct rel_world *world, const char *name,
		      size_t len)
{
	for (int p = 0; p < 2; p++)
		if (strlen(world->pools[p].name) == len &&
		    strncmp(world->pools[p].name, name, len) == 0)
			return p;
	return -1;
}

/* A get from inside the walk: a positive code is a store error. */
static int walk_get(struct walk *w, const char *key, char **value)
{
	int rc = hl_store_get(w->store, key, value);

	if (rc == HL_STORE_NOTFOUND)
		*value = NULL;
	else if (rc != HL_STORE_OK)
		return rc;
	return 0;
}

static int check_slot(struct walk *w, const char *key, const char *user)
{
	const char *rest = key + strlen("slot/"), *slash = strrchr(rest, '/');
	char hkey[HL_KEY_MAX], *text;
	struct hl_holding holding;
	unsigned long n;
	char *end;
	int p, rc;

	p = slash != NULL ? pool_index(w->world, rest, (size_t)(slash - rest))
			  : -1;
	if (p < 0) {
		violation(w, "slot key of no configured pool: %s", key);
		return 0;
	}
	n = strtoul(slash + 1, &end, 10);
	if (*end != '\0' || n < 1 || n > w->world->pools[p].licenses)
		violation(w, "slot %s beyond the pool's %u licenses", key,
			  w->world->pools[p].licenses);
	w->held.slots[p]++;
	/* One technician, at most one slot per pool. */
	for (unsigned other = 1; other <= w->world->pools[p].licenses; other++)
		if (strcmp(w->slot_user[p][other], user) == 0)
			violation(w, "%s holds slots %u and %lu of pool %s",
				  user, other, n, w->world->pools[p].name);
	if (n >= 1 && n <= REL_MAX_LICENSES)
		snprintf(w->slot_user[p][n], sizeof(w->slot_user[p][n]), "%s",
			 user);
	if (!hl_key_holder(hkey, sizeof(hkey), user)) {
		violation(w, "slot %s held by an impossible name", key);
		return 0;
	}
	rc = walk_get(w, hkey, &text);
	if (rc != 0)
		return rc;
	if (text == NULL) {
		violation(w, "slot %s held by %s, who has no holder record",
			  key, user);
		return 0;
	}
	if (hl_holding_decode(text, &holding) != 0) {
		violation(w, "%s does not decode", hkey);
	} else {
		if (holding.kind != HL_KIND_CONCURRENT ||
		    strcmp(holding.pool, w->world->pools[p].name) != 0 ||
		    holding.slot != n)
			violation(w, "slot %s held by %s, whose record says "
				  "pool %s slot %u", key, user, holding.pool,
				  holding.slot);
		hl_holding_free(&holding);
	}
	free(text);
	return 0;
}

static int check_holder(struct walk *w, const char *key, const char *value)
{
	const char *user = key + strlen("holder/");
	struct hl_holding holding;
	char skey[HL_KEY_MAX], *text;
	int p, rc;

	if (hl_holding_decode(value, &holding) != 0) {
		violation(w, "%s does not decode", key);
		return 0;
	}
	w->held.sessions += (unsigned)holding.session_count;
	p = pool_index(w->world, holding.pool, strlen(holding.pool));
	if (holding.kind != HL_KIND_CONCURRENT || p < 0) {
		violation(w, "%s is not a slot of a configured pool", key);
		hl_holding_free(&holding);
		return 0;
	}
	w->held.holders[p]++;
	if (!hl_key_slot(skey, sizeof(skey), holding.pool, holding.slot)) {
		hl_holding_free(&holding);
		violation(w, "%s names an impossible slot", key);
		return 0;
	}
	hl_holding_free(&holding);
	rc = walk_get(w, skey, &text);
	if (rc != 0)
		return rc;
	if (text == NULL || strcmp(text, user) != 0)
		violation(w, "%s claims %s, which %s%s", key, skey,
			  text == NULL ? "is free" : "is held by ",
			  text == NULL ? "" : text);
	free(text);
	return 0;
}

static int check_record(void *arg, const char *key, const char *value)
{
	struct walk *w = arg;
	struct hl_holding holding;

	if (strncmp(key, "slot/", 5) == 0)
		return check_slot(w, key, value);
	if (strncmp(key, "holder/", 7) == 0)
		return check_holder(w, key, value);
	if (strncmp(key, "pool/", 5) == 0) {
		int p = pool_index(w->world, key + 5, strlen(key + 5));

		if (p < 0 || hl_counter_decode(value, &w->counters[p]) != 0)
			violation(w, "%s: unknown pool or bad counter", key);
		else
			w->counter_seen[p] = true;
	} else if (strcmp(key, "named") == 0) {
		if (hl_counter_decode(value, &w->named) != 0)
			violation(w, "the named counter does not decode");
		else
			w->named_seen = true;
	} else if (strncmp(key, "named/", 6) == 0) {
		if (hl_holding_decode(value, &holding) != 0) {
			violation(w, "%s does not decode", key);
			return 0;
		}
		if (holding.kind != HL_KIND_NAMED)
			violation(w, "%s is not a Named record", key);
		w->held.sessions += (unsigned)holding.session_count;
		w->held.named++;
		hl_holding_free(&holding);
	} else if (strncmp(key, "sessions/", 9) == 0) {
		/* The sessions of a Named allocation, in the runtime file. */
		for (const char *line = value; line; line = strchr(line, '\n'),
		     line = line ? line + 1 : NULL)
			if (strncmp(line, "session ", 8) == 0)
				w->held.sessions++;
			else
				violation(w, "%s holds a line that is no "
					  "session", key);
	} else if (strncmp(key, "line/", 5) == 0) {
		struct hl_line line;

		if (pool_index(w->world, key + 5, strlen(key + 5)) < 0 ||
		    hl_line_decode(value, &line) != 0) {
			violation(w, "%s: unknown pool or bad line", key);
			return 0;
		}
		w->held.waiters += (unsigned)line.count;
		hl_line_free(&line);
	} else if (strncmp(key, "released/", 9) == 0) {
		/* Sessions an admin released: they hold no license. */
		if (hl_holding_decode(value, &holding) != 0)
			violation(w, "%s does not decode", key);
		else
			hl_holding_free(&holding);
	} else if (strcmp(key, "outbox") != 0 &&
		   strcmp(key, "pending-named") != 0 &&
		   strcmp(key, "durable-checked") != 0) {
		violation(w, "unknown key %s", key);
	}
	return 0;
}

enum rel_verdict rel_check_store(const struct rel_world *world,
				 struct rel_holdings *held, char *why,
				 size_t len)
{
	struct walk w;
	int rc;

	memset(&w, 0, sizeof(w));
	w.world = world;
	w.why = why;
	w.len = len;
	*why = '\0';
	/* The runtime file (slots, holders, sessions), then the durable one
	 * (Named allocations). */
	for (int f = 0; f < 2; f++) {
		const char *path = f == 0 ? world->runtime : world->store;

		rc = hl_store_open(path, HL_STORE_READ,
				   world->cfg.lock_timeout, NULL, &w.store);
		if (rc == HL_STORE_DAMAGED) {
			snprintf(why, len, "%s reports itself damaged on open",
				 path);
			return REL_DAMAGED;
		}
		if (rc != HL_STORE_OK) {
			snprintf(why, len, "%s does not open: %s", path,
				 hl_store_strerror(rc));
			return REL_VIOLATION;
		}
		rc = hl_store_foreach(w.store, "", check_record, &w);
		if (rc == 0 && rel_gdbm_check(path, why, len) != 0) {
			/* The store read every record and saw nothing
			 * wrong. */
			hl_store_close(w.store);
			return REL_VIOLATION;
		}
		hl_store_close(w.store);
		if (rc == HL_STORE_DAMAGED) {
			snprintf(why, len, "%s reports a damaged record", path);
			return REL_DAMAGED;
		}
		if (rc != 0) {
			snprintf(why, len, "reading every record of %s: %s",
				 path, hl_store_strerror(rc));
			return REL_VIOLATION;
		}
	}
	for (int p = 0; p < 2; p++) {
		unsigned used = w.counter_seen[p] ? w.counters[p].used : 0;
		unsigned licenses = world->pools[p].licenses;

		if (w.held.slots[p] > licenses || w.held.holders[p] > licenses)
			violation(&w, "pool %s: %u slots, %u holders, for %u "
				  "licenses", world->pools[p].name,
				  w.held.slots[p], w.held.holders[p], licenses);
		if (used != w.held.slots[p] || used != w.held.holders[p])
			violation(&w, "pool %s: the count says %u in use, "
				  "%u slots and %u holders are",
				  world->pools[p].name, used, w.held.slots[p],
				  w.held.holders[p]);
	}
	if ((w.named_seen ? w.named.used : 0) != w.held.named ||
	    w.held.named > world->cfg.named.licenses)
		violation(&w, "named: the count says %u, %u allocations for %u "
			  "licenses", w.named_seen ? w.named.used : 0,
			  w.held.named, world->cfg.named.licenses);
	if (held != NULL)
		*held = w.held;
	return w.violated ? REL_INCONSISTENT : REL_SOUND;
}

/* ---- logs and time -------------------------------------------------------- */

static void count_message(void *data, int priority, const char *message)
{
	struct rel_log_counts *counts = data;

	/* A live session a rebuild lost, restored (doc/STORE.md): shown,
	 * for the figures, but no error. */
	if (strstr(message, "restored from the event log") != NULL) {
		fprintf(stderr, "  [%ld] %s\n", (long)getpid(), message);
		return;
	}
	if (priority > LOG_ERR)
		return;
	counts->errors++;
	if (counts->printed++ < 5)
		fprintf(stderr, "  [%ld] %s\n", (long)getpid(), message);
}

void rel_logger(struct hl_logger *log, struct rel_log_counts *counts)
{
	memset(log, 0, sizeof(*log));
	log->emit = count_message;
	log->data = counts;
}

double rel_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}
