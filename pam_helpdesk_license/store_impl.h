/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The GDBM store's insides, shared by its files and nothing else (not
 * installed; included by store*.c only):
 *
 *  - store.c: opening, the lock, transactions (get, put, foreach,
 *    commit), the remote space's glue;
 *  - store_journal.c: the journal a commit writes first and a writer
 *    after a kill replays;
 *  - store_repair.c: the check and in-place rebuild of a damaged file
 *    (hl_store_repair, hl_store_compact), which a login runs when it
 *    finds damage and the admin tool's repair runs on demand;
 *  - store_salvage.c: the scan of the raw file for the records GDBM's
 *    index elements vouch for (GDBM's hash re-done), which the repair
 *    checks every record against and rebuilds from when the header is
 *    gone.
 */
#ifndef HL_STORE_IMPL_H
#define HL_STORE_IMPL_H

#include <gdbm.h>
#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "store.h"

#define KEY_SCHEMA "schema"
#define KEY_JOURNAL "journal"
#define JOURNAL_MAGIC "hl-journal"
#define JOURNAL_VERSION "1"

#define SUFFIX_LOCK ".lock"
#define SUFFIX_NEW ".new"
#define SUFFIX_WRITING ".writing"
#define SUFFIX_REPAIR ".repair"
#define SUFFIX_DAMAGED ".damaged-"

/* GDBM flags we always use: our flock is the lock, no mmap (a read past
 * the end of a damaged file is an error, not a SIGBUS in sshd; writes are
 * write(2)s, whole pages at a time).  HL_STORE_READ_MAPPED lifts
 * GDBM_NOMMAP for a reader (store_db_open). */
#define DB_FLAGS (GDBM_NOLOCK | GDBM_NOMMAP | GDBM_CLOEXEC)

/* Salvage believes no key longer than this (ours are far shorter). */
#define SALVAGE_KEY_MAX 4096

struct hl_store {
	char *path;
	const struct hl_logger *log;
	enum hl_store_mode mode;
	char dir[PATH_MAX];
	char base[NAME_MAX + 1];
	int dirfd;		/* -1: no directory (READ: empty store) */
	int lockfd;
	int fd;			/* the store file; -1: none (READ: empty) */
	GDBM_FILE db;		/* on a dup of fd */
	bool writer;		/* db is a GDBM writer */
	bool mapped;		/* HL_STORE_READ_MAPPED: GDBM maps the file */
	/* puts, deletes, and a reader's journal; sorted by key */
	struct hl_store_records staged;
	size_t user_changes;	/* staged by put or delete */
	int failed;		/* a commit failed half-way: the handle is done */
	bool legacy;		/* schema HL_STORE_SCHEMA_LEGACY */
	bool interrupted;	/* a writer found a commit cut short */
	bool marked;		/* this handle made P.writing */
	struct hl_remote *remote;	/* a space of the shared backend */
	/* remote: the space as this handle saw it; sorted by key */
	struct hl_store_records records;
	bool remote_committed;	/* remote: its transaction has ended */
	bool release;		/* its commit only gives licenses back */
	const char *socket;	/* remote: where to open the next one */
	char space[16];
	unsigned lock_timeout;
};

/* What a repair works with (store_repair.c, store_salvage.c). */
struct repair {
	struct hl_store *s;
	struct hl_store_repair_report *report;
	char work[NAME_MAX + 1]; /* P.repair: the rebuilt store */
	char work_path[PATH_MAX];
	struct hl_store_records valid; /* what the file's index vouches for */
	bool compact;		       /* rebuild a sound store too */
};

/* store.c: helpers, records, GDBM, opening and locking */
bool store_schema_known(const char *schema);
bool store_internal_key(const char *key);
datum store_text_datum(const char *text);
char *store_datum_text(datum d);
bool store_name_with_suffix(char *out, size_t len, const char *base,
			    const char *suffix);
void store_close_fd(int *fd);
int store_errno_rc(int err);
int store_changes_set(struct hl_store_records *cs, const char *key,
		      const char *value);
void store_log_damaged(const struct hl_store *s, const char *what,
		       const char *error);
int store_db_read_failed(struct hl_store *s, const char *what);
int store_db_write_failed(struct hl_store *s, const char *what);
int store_dup_for_gdbm(int fd);
void store_db_tune(GDBM_FILE db);
void store_writing_clear(struct hl_store *s);
int store_db_open(struct hl_store *s, bool writer);
void store_db_close(struct hl_store *s);
int store_db_writable(struct hl_store *s);
int store_db_fetch(struct hl_store *s, const char *key, char **value);
int store_db_apply(struct hl_store *s, const struct hl_store_records *cs);
int store_db_delete_journal(struct hl_store *s);
struct hl_store *store_new(const char *path, enum hl_store_mode mode,
			   const struct hl_logger *log, int *rc);
int store_open_dir(struct hl_store *s, bool create, bool *missing);
int store_open_checked(struct hl_store *s, const char *name, int flags,
		       int *fd_out, int *err);
int store_lock(struct hl_store *s, unsigned timeout, bool *empty);
int store_check_schema(struct hl_store *s);
int store_load(struct hl_store *s, bool *replayed);
/* A walk of every key of s->db, bounded: a damaged file whose buckets
 * lead back into each other would make gdbm_nextkey list keys forever,
 * under the lock every login waits for. */
struct store_walk {
	struct hl_store *s;
	const char *what;	/* what walks, for the log */
	datum key;		/* the current key; the walk's own */
	unsigned long left;	/* keys it may still list */
	bool started, taken;
	int rc;			/* once it stopped: HL_STORE_OK at the end */
};
void store_walk_begin(struct store_walk *w, struct hl_store *s,
		      const char *what);
/* Steps to the next key (w->key); false once the walk stopped, w->rc
 * saying why: the end, a loop, or a read that failed. */
bool store_walk_step(struct store_walk *w);
/* The current key becomes the caller's to free; the walk goes on. */
void store_walk_take(struct store_walk *w);
/* Ends a walk before its end. */
void store_walk_stop(struct store_walk *w);

/* store_journal.c: the journal of a commit */
char *store_journal_encode(const struct hl_store_records *cs);
int store_journal(struct hl_store *s, bool *replayed);

/* store_salvage.c: the scan of a file for the records its index vouches for */
int store_salvage_scan(struct hl_store *s, struct hl_store_records *out);
bool store_salvage_vouches(const struct hl_store_records *p, const char *key,
			   const char *value);
int store_salvage_rebuild(struct repair *r);

#endif
