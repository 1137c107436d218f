/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The license store: a small transactional key/value interface.  Only
 * store.c knows that it is GDBM, where the lock is and how a write survives
 * a process killed half-way; a shared database backend would implement
 * these same functions.
 *
 * A store handle is one transaction: hl_store_open takes the lock (shared
 * for reading, exclusive for writing), puts and deletes are staged in
 * memory and seen by later gets, hl_store_commit applies them all or
 * none, hl_store_close drops the lock.
 */
#ifndef HL_STORE_H
#define HL_STORE_H

#include <stdbool.h>
#include <stddef.h>

#include "log.h"
#include "proc.h"

struct hl_store;

enum hl_store_mode {
	HL_STORE_READ,		/* shared lock; a missing store reads as empty */
	HL_STORE_WRITE,		/* exclusive lock; created on first use */
	HL_STORE_READ_MAPPED,	/* as READ, GDBM reading the file through a
				 * mapping: for the admin tool's walks of
				 * every record, never inside sshd (a file
				 * cut short under the mapping would be a
				 * SIGBUS, not an error) */
};

enum hl_store_rc {
	HL_STORE_OK = 0,
	HL_STORE_NOTFOUND,	/* get: no such key */
	HL_STORE_TIMEOUT,	/* lock not had within lock_timeout */
	HL_STORE_DAMAGED,	/* unreadable file or record: run repair */
	HL_STORE_VERSION,	/* schema of another release: never rewritten */
	HL_STORE_INSECURE,	/* a link, or wrong owner or mode */
	HL_STORE_DENIED,	/* no permission (not root) */
	HL_STORE_IO,		/* any other system error */
	HL_STORE_NOMEM,
};

/* The schema this release writes: a durable file and a runtime file (see
 * record.h for the keys of each).  HL_STORE_SCHEMA_LEGACY is release 0.2's
 * single file holding everything, read as it is and migrated by the first
 * writer. */
#define HL_STORE_SCHEMA "2"
#define HL_STORE_SCHEMA_LEGACY "1"

int hl_store_open(const char *path, enum hl_store_mode mode,
		  unsigned lock_timeout, const struct hl_logger *log,
		  struct hl_store **out);

/*
 * Where a store is: a GDBM file (path), or, with a shared backend, a
 * space ("runtime" or "durable") of the database that helpdesk-licensed
 * keeps, reached through its socket (doc/STORE.md).  The one place that
 * tells the two apart is hl_store_open_at; every other function works on
 * either.  A remote store is never damaged, legacy nor interrupted: the
 * database keeps itself sound.  why (may be NULL) gets the reason of a
 * remote failure for the technician ("license database unreachable: ...").
 */
struct hl_store_place {
	const char *path;	/* the GDBM file, when socket is NULL */
	const char *socket;	/* helpdesk-licensed's socket */
	const char *space;	/* with socket: "runtime" or "durable" */
};

int hl_store_open_at(const struct hl_store_place *place,
		     enum hl_store_mode mode, unsigned lock_timeout,
		     const struct hl_logger *log, struct hl_store **out,
		     char *why, size_t why_len);

/* *value is malloc'd and NUL-terminated; the caller frees it. */
int hl_store_get(struct hl_store *store, const char *key, char **value);
int hl_store_put(struct hl_store *store, const char *key, const char *value);
int hl_store_delete(struct hl_store *store, const char *key);

/* Calls fn for each key starting with prefix, staged changes included, in
 * no particular order.  A non-zero return from fn stops and is returned.
 * A store error is returned as its (positive) HL_STORE_* code: let fn stop
 * with a negative value to tell the two apart.  fn may put and delete; the
 * iteration goes on over the store as it was when foreach was called. */
int hl_store_foreach(struct hl_store *store, const char *prefix,
		     int (*fn)(void *arg, const char *key, const char *value),
		     void *arg);

/*
 * Keys and values copied out of a store (a walk's records, so that the
 * store may change while they are worked on), or staged for it.  A value
 * may be NULL (a staged delete).  Zeroed: empty.
 */
struct hl_store_record {
	char *key;
	char *value;
};

struct hl_store_records {
	struct hl_store_record *items;
	size_t count;
	size_t allocated;
};

/* Appends copies of key and value (value may be NULL): HL_STORE_OK or
 * HL_STORE_NOMEM.  As a foreach callback's body it stops the walk with
 * HL_STORE_NOMEM. */
int hl_store_records_add(struct hl_store_records *records, const char *key,
			 const char *value);
/* Inserts at index at (at most count) the malloc'd key and value, which
 * are the vector's now, or freed on failure; key NULL (a failed copy) is
 * HL_STORE_NOMEM. */
int hl_store_records_take(struct hl_store_records *records, size_t at,
			  char *key, char *value);
void hl_store_records_free(struct hl_store_records *records);

/* Whether the file has release 0.2's schema (HL_STORE_SCHEMA_LEGACY). */
bool hl_store_legacy(const struct hl_store *store);
/* Whether this writer found (and dealt with) a journal: a commit cut
 * short, which may have left damage no key of this transaction reads. */
bool hl_store_interrupted(const struct hl_store *store);
/* Whether the file at place may have been left so (its P.writing mark is
 * there), told without opening it: one stat.  Never for a remote store. */
bool hl_store_left_writing(const struct hl_store_place *place);
/* Stages this release's schema, committed with the other changes: the
 * last step of a migration. */
int hl_store_upgrade(struct hl_store *store);

int hl_store_commit(struct hl_store *store);
/* The commit of a transaction that only gives licenses back (a session's
 * close): on the shared backend it does not wait for the database's
 * flush (doc/BACKEND.md); on a file, the same as hl_store_commit. */
int hl_store_commit_release(struct hl_store *store);
/* Drops uncommitted changes and the lock.  NULL is fine. */
void hl_store_close(struct hl_store *store);

const char *hl_store_strerror(int rc);
/* The last failure in the store's own words, when it has some (the
 * shared backend's: "license database unreachable: ..."), else NULL. */
const char *hl_store_why(const struct hl_store *store);

/* After HL_STORE_TIMEOUT: the process holding the store's lock now, from
 * proc_root ("/proc").  0, or -1 when none is found (it let go meanwhile,
 * or the lock file cannot be opened). */
int hl_store_lock_holder(const char *path, const char *proc_root,
			 struct hl_lock_holder *holder);

/*
 * A watch on a GDBM store file: a descriptor (the caller polls and closes
 * it) readable when the file may have been written.  -1 when there is
 * none; *err is then the reason no inotify instance could be had (the
 * user's fs.inotify.max_user_instances all taken), or 0 (a directory that
 * can't be watched, logged).  A remote store has no file here to watch:
 * its callers look at the store now and then instead.
 */
int hl_store_watch_open(const char *path, const struct hl_logger *log,
			int *err);
/* Reads what the watch has; true when the store file was written (or
 * events were lost). */
bool hl_store_watch_written(int watch, const char *path);

/* What hl_store_repair found and did. */
struct hl_store_repair_report {
	bool missing;			/* no store yet: nothing to check */
	bool damaged;			/* it was damaged, and was rebuilt */
	bool salvaged;			/* its header was unreadable: rebuilt
					 * by scanning the file for records */
	bool journal_replayed;		/* an interrupted commit was completed */
	unsigned long keys;		/* keys in the store now */
	unsigned long keys_lost;	/* records found but unreadable or
					 * contradictory, left out */
	unsigned long buckets_lost;	/* unreadable hash buckets: the number
					 * of keys they held is unknown */
	char backup[4096];		/* where the damaged file was kept, or
					 * "" when nothing was rebuilt */
};

/*
 * Check the store under the exclusive lock: open it, read every record,
 * verify GDBM's free lists.  A damaged store is rebuilt from what can be
 * read; the damaged file is kept beside it as PATH.damaged-YYYYMMDD-HHMMSS.
 * Returns HL_STORE_OK when the store is (now) sound, whatever it lost, with
 * report filled in; a store of another schema version is never touched
 * (HL_STORE_VERSION).
 */
int hl_store_repair(const char *path, unsigned lock_timeout,
		    const struct hl_logger *log,
		    struct hl_store_repair_report *report);

/*
 * As hl_store_repair, and a sound store is rebuilt too (no backup kept;
 * report->damaged false).  After a process was killed inside a commit:
 * GDBM may then list as free the space of a record still in use, which
 * the next write would reuse; a rebuilt file's free lists are its own.
 */
int hl_store_compact(const char *path, unsigned lock_timeout,
		     const struct hl_logger *log,
		     struct hl_store_repair_report *report);

#endif
