/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The license store on GDBM: opening, locking, transactions (the other
 * rooms: store_impl.h).  doc/STORE.md describes the files, the keys
 * and the commit protocol; in short:
 *
 *  - P (the GDBM file) and P.lock live in a directory we trust (not a
 *    link, owned by root, not writable by group or others).  Every file is
 *    opened O_NOFOLLOW|O_CLOEXEC relative to the directory's descriptor and
 *    checked with fstat.
 *  - flock(P.lock): shared to read, exclusive to write, polled with short
 *    growing sleeps up to lock_timeout (no signals: we live in sshd).
 *  - GDBM gets descriptors of ours (gdbm_fd_open, GDBM_NOLOCK: the flock
 *    is the lock).  A file is first opened as a GDBM reader and checked
 *    (schema, journal); it is reopened as a writer only when something is
 *    to be written, so a store we must not touch never is, and a write
 *    transaction that changes nothing costs no flush.
 *  - A commit writes all its changes as one record, "journal", then
 *    applies them, then deletes the journal.  A process killed in between
 *    leaves the journal, which the next writer replays and readers overlay.
 *  - No fsync of ours: the threat is a killed process, not a power cut.
 *    (GDBM itself flushes the file when a writer handle is closed.)
 */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <gdbm.h>
#include <limits.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <time.h>
#include <unistd.h>

#include <linux/magic.h>

#include "proc.h"
#include "safefile.h"
#include "store.h"
#include "store_impl.h"
#include "store_remote.h"
#include "text.h"


/* Between two tries for a busy lock, every waiter naps 1 to 3 ms.  The
 * same short nap for all: with a growing one, a newcomer trying every
 * millisecond would beat those who have waited longest, over and over,
 * until their lock_timeout ran out. */
#define LOCK_NAP_MIN_NS 1000000L	/* 1 ms */
#define LOCK_NAP_SPREAD_NS 2000000L	/* + 0..2 ms, so tries spread out */

/* ---- Small helpers ------------------------------------------------------ */

/* This release's layout, or 0.2's single file, which a writer migrates
 * (allocation.c) before anything else. */
bool store_schema_known(const char *schema)
{
	return strcmp(schema, HL_STORE_SCHEMA) == 0 ||
	       strcmp(schema, HL_STORE_SCHEMA_LEGACY) == 0;
}

bool store_internal_key(const char *key)
{
	return strcmp(key, KEY_SCHEMA) == 0 || strcmp(key, KEY_JOURNAL) == 0;
}

datum store_text_datum(const char *text)
{
	datum d;

	d.dptr = (char *)text;
	d.dsize = (int)strlen(text);
	return d;
}

/* A datum as a NUL-terminated string; NULL with errno EINVAL when it holds
 * a NUL (we never store one) or ENOMEM. */
char *store_datum_text(datum d)
{
	char *text;

	if (d.dsize < 0 || memchr(d.dptr, '\0', (size_t)d.dsize) != NULL) {
		errno = EINVAL;
		return NULL;
	}
	text = malloc((size_t)d.dsize + 1);
	if (text == NULL) {
		errno = ENOMEM;
		return NULL;
	}
	memcpy(text, d.dptr, (size_t)d.dsize);
	text[d.dsize] = '\0';
	return text;
}

bool store_name_with_suffix(char *out, size_t len, const char *base,
			     const char *suffix)
{
	int n = snprintf(out, len, "%s%s", base, suffix);

	return n > 0 && (size_t)n < len && (size_t)n <= NAME_MAX;
}

void store_close_fd(int *fd)
{
	if (*fd >= 0) {
		close(*fd);
		*fd = -1;
	}
}

int store_errno_rc(int err)
{
	switch (err) {
	case EACCES:
	case EPERM:
		return HL_STORE_DENIED;
	case ENOMEM:
		return HL_STORE_NOMEM;
	default:
		return HL_STORE_IO;
	}
}

/* ---- Records: staged changes, a remote space, copies ------------------- */

void hl_store_records_free(struct hl_store_records *records)
{
	for (size_t i = 0; i < records->count; i++) {
		free(records->items[i].key);
		free(records->items[i].value);
	}
	free(records->items);
	memset(records, 0, sizeof(*records));
}

int hl_store_records_take(struct hl_store_records *records, size_t at,
			  char *key, char *value)
{
	bool failed = false;

	if (key != NULL)
		records->items = hl_grow(records->items, &records->allocated,
					 records->count + 1,
					 sizeof(*records->items), &failed);
	if (key == NULL || failed) {
		free(key);
		free(value);
		return HL_STORE_NOMEM;
	}
	if (at > records->count)
		at = records->count;
	memmove(&records->items[at + 1], &records->items[at],
		(records->count - at) * sizeof(*records->items));
	records->items[at] = (struct hl_store_record){ key, value };
	records->count++;
	return HL_STORE_OK;
}

int hl_store_records_add(struct hl_store_records *records, const char *key,
			 const char *value)
{
	char *copy = NULL;

	if (value != NULL && (copy = strdup(value)) == NULL)
		return HL_STORE_NOMEM;
	return hl_store_records_take(records, records->count, strdup(key),
				     copy);
}

/* The index of key, or where it would go (*found false). */
static size_t changes_find(const struct hl_store_records *cs, const char *key,
			   bool *found)
{
	size_t lo = 0, hi = cs->count;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int cmp = strcmp(key, cs->items[mid].key);

		if (cmp == 0) {
			*found = true;
			return mid;
		}
		if (cmp < 0)
			hi = mid;
		else
			lo = mid + 1;
	}
	*found = false;
	return lo;
}

/* Stages key=value (value NULL: delete) in key order; 0, or -1 on no
 * memory. */
int store_changes_set(struct hl_store_records *cs, const char *key,
		      const char *value)
{
	bool found;
	size_t at = changes_find(cs, key, &found);
	char *v = NULL;

	if (value != NULL && (v = strdup(value)) == NULL)
		return -1;
	if (found) {
		free(cs->items[at].value);
		cs->items[at].value = v;
		return 0;
	}
	return hl_store_records_take(cs, at, strdup(key), v) == HL_STORE_OK ?
		       0 : -1;
}

/* ---- GDBM --------------------------------------------------------------- */

void store_log_damaged(const struct hl_store *s, const char *what,
			const char *error)
{
	hl_log(s->log, LOG_ERR,
	       "store %s is damaged (%s: %s); run 'helpdesk-license repair'",
	       s->path, what, error);
}

/* The result for a failed GDBM read on s->db, logged. */
int store_db_read_failed(struct hl_store *s, const char *what)
{
	if (gdbm_last_errno(s->db) == GDBM_MALLOC_ERROR) {
		hl_log(s->log, LOG_ERR, "store %s: %s: out of memory",
		       s->path, what);
		return HL_STORE_NOMEM;
	}
	store_log_damaged(s, what, gdbm_db_strerror(s->db));
	return HL_STORE_DAMAGED;
}

/* The result for a failed GDBM write: a system error (disk full, ...) is
 * HL_STORE_IO, anything else damage. */
int store_db_write_failed(struct hl_store *s, const char *what)
{
	gdbm_error e = gdbm_last_errno(s->db);

	if (e == GDBM_MALLOC_ERROR) {
		hl_log(s->log, LOG_ERR, "store %s: %s: out of memory",
		       s->path, what);
		return HL_STORE_NOMEM;
	}
	if (gdbm_check_syserr(e) && gdbm_last_syserr(s->db) != 0) {
		hl_log(s->log, LOG_ERR, "store %s: cannot write (%s): %s",
		       s->path, what, gdbm_db_strerror(s->db));
		return HL_STORE_IO;
	}
	store_log_damaged(s, what, gdbm_db_strerror(s->db));
	return HL_STORE_DAMAGED;
}

/* A duplicate of s->fd for GDBM, which closes what it is given.  The
 * duplicate shares the file offset, and gdbm_fd_open reads the header
 * from where the offset is: rewind it. */
int store_dup_for_gdbm(int fd)
{
	int dup_fd = fcntl(fd, F_DUPFD_CLOEXEC, 0);

	if (dup_fd >= 0 && lseek(dup_fd, 0, SEEK_SET) != 0) {
		int saved = errno;

		close(dup_fd);
		errno = saved;
		return -1;
	}
	return dup_fd;
}

/* The magics of GDBM's native formats (plain and numsync). */
static bool db_magic_known(uint32_t magic)
{
	return magic == 0x13579acfu || magic == 0x13579ad1u;
}

/*
 * GDBM accepts a file shorter than its header says (old releases could
 * leave one) and fails only when a lost record is read.  Every file this
 * GDBM writes ends exactly at the header's next_block once an update is
 * complete, so a shorter one was truncated: say so at open, before anyone
 * writes into it.  The header starts (native 64-bit formats):
 *   int magic; int block_size; off_t dir; int dir_size; int dir_bits;
 *   int bucket_size; int bucket_elems; off_t next_block;
 * Other magics are left to GDBM to judge.
 */
static bool db_truncated(struct hl_store *s, int64_t *size, int64_t *want)
{
	unsigned char head[40];
	uint32_t magic;
	struct stat st;

	if (fstat(s->fd, &st) != 0 ||
	    pread(s->fd, head, sizeof(head), 0) != (ssize_t)sizeof(head))
		return false;
	memcpy(&magic, head, sizeof(magic));
	if (!db_magic_known(magic))
		return false;
	memcpy(want, head + 32, sizeof(*want));
	*size = (int64_t)st.st_size;
	return *want > *size;
}

/* A writer merges adjacent free blocks, or a store whose records are
 * rewritten at every login (the journal, counters) grows without end. */
void store_db_tune(GDBM_FILE db)
{
	int yes = 1;

	gdbm_setopt(db, GDBM_SETCOALESCEBLKS, &yes, sizeof(yes));
}

/*
 * P.writing exists while a handle may write P.  One GDBM update is
 * several writes, and a process killed between them can leave damage
 * that no key of the next transaction reads (space handed out twice,
 * which a later write reuses); so the next writer that finds the mark
 * checks the whole store first (hl_store_interrupted), and repair, which
 * leaves the store sound, removes it.
 */
static void writing_begin(struct hl_store *s)
{
	char name[NAME_MAX + 1];
	int fd;

	if (s->marked || s->dirfd < 0 || s->mode != HL_STORE_WRITE ||
	    !store_name_with_suffix(name, sizeof(name), s->base,
				    SUFFIX_WRITING))
		return;
	fd = openat(s->dirfd, name, O_WRONLY | O_CREAT | O_NOFOLLOW |
		    O_CLOEXEC | O_NOCTTY | O_NONBLOCK, 0600);
	if (fd >= 0) {
		close(fd);
		s->marked = true;
	}
}

/* Removes the mark (made by this handle, or left by a killed one). */
void store_writing_clear(struct hl_store *s)
{
	char name[NAME_MAX + 1];

	if (s->dirfd >= 0 &&
	    store_name_with_suffix(name, sizeof(name), s->base, SUFFIX_WRITING))
		unlinkat(s->dirfd, name, 0);
	s->marked = false;
}

static bool writing_left(const struct hl_store *s)
{
	char name[NAME_MAX + 1];
	struct stat st;

	return s->dirfd >= 0 &&
	       store_name_with_suffix(name, sizeof(name), s->base,
				      SUFFIX_WRITING) &&
	       fstatat(s->dirfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0;
}

/* Opens GDBM on s->fd. */
int store_db_open(struct hl_store *s, bool writer)
{
	int flags = DB_FLAGS, dup_fd;
	int64_t size, want;
	gdbm_error e;

	if (db_truncated(s, &size, &want)) {
		char why[128];

		snprintf(why, sizeof(why), "the file has %lld of the %lld "
			 "bytes its header says: truncated", (long long)size,
			 (long long)want);
		store_log_damaged(s, "open", why);
		return HL_STORE_DAMAGED;
	}
	/* Mapped, a reader makes no system call per record.  Safe under our
	 * shared lock: the file was checked whole just above, no writer of
	 * ours changes it until we let go, and a GDBM reader maps no more
	 * than the file holds; repair replaces the file, never truncates
	 * it.  Only a process ignoring the lock could still cut it short. */
	if (s->mapped && !writer)
		flags &= ~GDBM_NOMMAP;
	dup_fd = store_dup_for_gdbm(s->fd);
	if (dup_fd < 0) {
		hl_log(s->log, LOG_ERR, "store %s: %s", s->path,
		       strerror(errno));
		return store_errno_rc(errno);
	}
	if (writer)
		writing_begin(s);
	s->db = gdbm_fd_open(dup_fd, s->path, 0,
			     (writer ? GDBM_WRITER : GDBM_READER) | flags |
			     GDBM_CLOERROR, NULL);
	if (s->db == NULL) {
		e = gdbm_errno;
		if (e == GDBM_MALLOC_ERROR) {
			hl_log(s->log, LOG_ERR, "store %s: out of memory",
			       s->path);
			return HL_STORE_NOMEM;
		}
		if (gdbm_check_syserr(e) && errno != 0)
			hl_log(s->log, LOG_ERR,
			       "store %s is damaged or unreadable (%s: %s); "
			       "run 'helpdesk-license repair'", s->path,
			       gdbm_strerror(e), strerror(errno));
		else
			store_log_damaged(s, "open", gdbm_strerror(e));
		return HL_STORE_DAMAGED;
	}
	s->writer = writer;
	if (writer)
		store_db_tune(s->db);
	if (gdbm_needs_recovery(s->db)) {
		store_log_damaged(s, "open", "GDBM says it needs recovery");
		gdbm_close(s->db);
		s->db = NULL;
		return HL_STORE_DAMAGED;
	}
	return HL_STORE_OK;
}

void store_db_close(struct hl_store *s)
{
	if (s->db != NULL) {
		gdbm_close(s->db);
		s->db = NULL;
	}
	s->writer = false;
}

/* From here on s->db may write. */
int store_db_writable(struct hl_store *s)
{
	if (s->writer)
		return HL_STORE_OK;
	store_db_close(s);
	return store_db_open(s, true);
}

/* *value: malloc'd; NOTFOUND when absent. */
int store_db_fetch(struct hl_store *s, const char *key, char **value)
{
	datum d = gdbm_fetch(s->db, store_text_datum(key));
	char *text;

	*value = NULL;
	if (d.dptr == NULL) {
		if (gdbm_last_errno(s->db) == GDBM_ITEM_NOT_FOUND)
			return HL_STORE_NOTFOUND;
		return store_db_read_failed(s, key);
	}
	text = store_datum_text(d);
	free(d.dptr);
	if (text == NULL) {
		if (errno == ENOMEM)
			return HL_STORE_NOMEM;
		store_log_damaged(s, key, "a value holds a NUL byte");
		return HL_STORE_DAMAGED;
	}
	*value = text;
	return HL_STORE_OK;
}

int store_db_apply(struct hl_store *s, const struct hl_store_records *cs)
{
	for (size_t i = 0; i < cs->count; i++) {
		const struct hl_store_record *c = &cs->items[i];

		if (c->value != NULL) {
			if (gdbm_store(s->db, store_text_datum(c->key),
				       store_text_datum(c->value),
				       GDBM_REPLACE) != 0)
				return store_db_write_failed(s, c->key);
		} else if (gdbm_delete(s->db, store_text_datum(c->key)) != 0 &&
			   gdbm_last_errno(s->db) != GDBM_ITEM_NOT_FOUND) {
			return store_db_write_failed(s, c->key);
		}
	}
	return HL_STORE_OK;
}

int store_db_delete_journal(struct hl_store *s)
{
	if (gdbm_delete(s->db, store_text_datum(KEY_JOURNAL)) != 0 &&
	    gdbm_last_errno(s->db) != GDBM_ITEM_NOT_FOUND)
		return store_db_write_failed(s, KEY_JOURNAL);
	return HL_STORE_OK;
}

/* ---- Opening ------------------------------------------------------------ */

struct hl_store *store_new(const char *path, enum hl_store_mode mode,
				  const struct hl_logger *log, int *rc)
{
	struct hl_store *s;

	*rc = HL_STORE_OK;
	if (path == NULL || *path == '\0') {
		hl_log(log, LOG_ERR, "no store path");
		*rc = HL_STORE_IO;
		return NULL;
	}
	s = calloc(1, sizeof(*s));
	if (s == NULL || (s->path = strdup(path)) == NULL) {
		free(s);
		hl_log(log, LOG_ERR, "store %s: out of memory", path);
		*rc = HL_STORE_NOMEM;
		return NULL;
	}
	s->log = log;
	s->mode = mode;
	s->dirfd = s->lockfd = s->fd = -1;
	if (!hl_split_path(path, s->dir, sizeof(s->dir), s->base,
			   sizeof(s->base)) ||
	    strlen(s->base) + strlen(SUFFIX_DAMAGED) + 24 > NAME_MAX) {
		hl_log(log, LOG_ERR, "store %s: not a usable file name", path);
		hl_store_close(s);
		*rc = HL_STORE_IO;
		return NULL;
	}
	return s;
}

/* Opens the directory; *missing when it does not exist (and create is
 * false). */
int store_open_dir(struct hl_store *s, bool create, bool *missing)
{
	char why[256];

	*missing = false;
	s->dirfd = hl_open_trusted_dir(s->dir, 0700, create, why, sizeof(why));
	if (s->dirfd >= 0)
		return HL_STORE_OK;
	switch (errno) {
	case ENOENT:
		if (!create) {
			*missing = true;
			return HL_STORE_OK;
		}
		hl_log(s->log, LOG_ERR,
		       "store directory %s can't be created: %s (its parent "
		       "must exist)", s->dir, why);
		return HL_STORE_IO;
	case EPERM:
	case ELOOP:
		hl_log(s->log, LOG_ERR,
		       "store directory %s is unsafe: %s: refusing to use it",
		       s->dir, why);
		return HL_STORE_INSECURE;
	case EACCES:
		hl_log(s->log, LOG_ERR, "store directory %s: %s", s->dir, why);
		return HL_STORE_DENIED;
	default:
		hl_log(s->log, LOG_ERR, "store directory %s: %s", s->dir, why);
		return store_errno_rc(errno);
	}
}

/* openat in the store directory, never through a link, checked: a regular
 * file of a trusted owner, not writable by group or others.  ENOENT is
 * returned quietly; anything else is logged. */
/* Whoever can open the lock file can hold the lock and block every
 * login; whoever can read the store reads who holds what.  Both are for
 * the owner alone, even in a directory others may enter. */
static bool owner_only(const struct stat *st, char *why, size_t len)
{
	if ((st->st_mode & (S_IRWXG | S_IRWXO)) == 0)
		return true;
	snprintf(why, len, "open to group or others (mode %04o)",
		 (unsigned)(st->st_mode & 07777));
	return false;
}

int store_open_checked(struct hl_store *s, const char *name, int flags,
			int *fd_out, int *err)
{
	struct stat st;
	char why[256];
	int fd;

	*fd_out = -1;
	*err = 0;
	fd = openat(s->dirfd, name, flags | O_NOFOLLOW | O_CLOEXEC |
		    O_NOCTTY | O_NONBLOCK, 0600);
	if (fd < 0) {
		*err = errno;
		if (errno == ENOENT)
			return HL_STORE_NOTFOUND;
		if (errno == ELOOP) {
			hl_log(s->log, LOG_ERR,
			       "store file %s/%s is a symbolic link: refusing "
			       "to use it", s->dir, name);
			return HL_STORE_INSECURE;
		}
		hl_log(s->log, LOG_ERR, "store file %s/%s: %s", s->dir, name,
		       strerror(errno));
		return store_errno_rc(errno);
	}
	if (fstat(fd, &st) != 0) {
		*err = errno;
		hl_log(s->log, LOG_ERR, "store file %s/%s: %s", s->dir, name,
		       strerror(errno));
		close(fd);
		return HL_STORE_IO;
	}
	if (!hl_check_stat(&st, S_IFREG, why, sizeof(why)) ||
	    !owner_only(&st, why, sizeof(why))) {
		hl_log(s->log, LOG_ERR,
		       "store file %s/%s is unsafe: %s: refusing to use it",
		       s->dir, name, why);
		close(fd);
		return HL_STORE_INSECURE;
	}
	/* O_NONBLOCK kept a FIFO from hanging the open.  It stays: on a
	 * regular file it changes neither read, write nor flock (open(2)),
	 * and clearing it was two system calls for each file of a login. */
	*fd_out = fd;
	return HL_STORE_OK;
}

static int64_t elapsed_ns(const struct timespec *since)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (int64_t)(now.tv_sec - since->tv_sec) * 1000000000 +
	       (now.tv_nsec - since->tv_nsec);
}

/* flock with a deadline, polling: no alarm, no signal handler. */
static int lock_wait(struct hl_store *s, int op, unsigned timeout)
{
	struct timespec start;
	int64_t limit = (int64_t)timeout * 1000000000;

	clock_gettime(CLOCK_MONOTONIC, &start);
	for (;;) {
		struct timespec nap;
		int64_t left;

		if (flock(s->lockfd, op | LOCK_NB) == 0)
			return HL_STORE_OK;
		if (errno == EINTR)
			continue;
		if (errno != EWOULDBLOCK) {
			hl_log(s->log, LOG_ERR, "store %s: can't lock %s%s: %s",
			       s->path, s->base, SUFFIX_LOCK, strerror(errno));
			return HL_STORE_IO;
		}
		left = limit - elapsed_ns(&start);
		if (left <= 0)
			break;
		/* The clock's low digits are jitter enough. */
		nap.tv_sec = 0;
		nap.tv_nsec = LOCK_NAP_MIN_NS + left % LOCK_NAP_SPREAD_NS;
		if (nap.tv_nsec > left)
			nap.tv_nsec = (long)left;
		nanosleep(&nap, NULL); /* EINTR: the loop checks the time */
	}
	hl_log(s->log, LOG_ERR,
	       "store %s is busy: no %s lock within %u second%s", s->path,
	       op == LOCK_EX ? "exclusive" : "shared", timeout,
	       timeout == 1 ? "" : "s");
	return HL_STORE_TIMEOUT;
}

/* Opens P.lock and takes the lock.  *empty (READ only): there is neither
 * a lock file nor a store, so the store reads as empty. */
int store_lock(struct hl_store *s, unsigned timeout, bool *empty)
{
	char name[NAME_MAX + 1];
	int rc, err, fd;

	*empty = false;
	if (!store_name_with_suffix(name, sizeof(name), s->base, SUFFIX_LOCK))
		return HL_STORE_IO;
	if (s->mode == HL_STORE_WRITE) {
		rc = store_open_checked(s, name, O_RDWR | O_CREAT, &s->lockfd,
					&err);
		if (rc == HL_STORE_NOTFOUND) /* the directory went away */
			rc = HL_STORE_IO;
		return rc != HL_STORE_OK ? rc : lock_wait(s, LOCK_EX, timeout);
	}
	rc = store_open_checked(s, name, O_RDONLY, &s->lockfd, &err);
	if (rc == HL_STORE_NOTFOUND) {
		/* Never written by us.  A store without its lock file gets
		 * one if we may create it. */
		rc = store_open_checked(s, s->base, O_RDONLY, &fd, &err);
		store_close_fd(&fd);
		if (rc == HL_STORE_NOTFOUND) {
			*empty = true;
			return HL_STORE_OK;
		}
		if (rc != HL_STORE_OK)
			return rc;
		rc = store_open_checked(s, name, O_RDWR | O_CREAT, &s->lockfd,
					&err);
		if (rc == HL_STORE_NOTFOUND)
			rc = HL_STORE_IO;
	}
	if (rc != HL_STORE_OK)
		return rc;
	return lock_wait(s, LOCK_SH, timeout);
}

int hl_store_lock_holder(const char *path, const char *proc_root,
			 struct hl_lock_holder *holder)
{
	char name[NAME_MAX + 1];
	struct hl_store *s;
	struct stat st;
	bool missing;
	int rc, err;

	memset(holder, 0, sizeof(*holder));
	s = store_new(path, HL_STORE_READ, NULL, &rc);
	if (s == NULL)
		return -1;
	rc = store_open_dir(s, false, &missing);
	if (rc == HL_STORE_OK && !missing &&
	    store_name_with_suffix(name, sizeof(name), s->base, SUFFIX_LOCK))
		rc = store_open_checked(s, name, O_RDONLY, &s->lockfd, &err);
	else
		rc = HL_STORE_IO;
	if (rc == HL_STORE_OK && fstat(s->lockfd, &st) == 0)
		rc = hl_flock_holder(proc_root, st.st_dev, st.st_ino, holder);
	else
		rc = -1;
	hl_store_close(s);
	return rc;
}

/* Creates the store, under the exclusive lock: built in P.new, renamed
 * into place once it holds the schema key. */
static int store_create(struct hl_store *s)
{
	char name[NAME_MAX + 1];
	int rc, err;

	if (!store_name_with_suffix(name, sizeof(name), s->base, SUFFIX_NEW))
		return HL_STORE_IO;
	/* A leftover of a creation that was killed: nobody else is making
	 * one while we hold the lock. */
	if (unlinkat(s->dirfd, name, 0) != 0 && errno != ENOENT) {
		hl_log(s->log, LOG_ERR, "store %s: can't remove %s: %s",
		       s->path, name, strerror(errno));
		return store_errno_rc(errno);
	}
	rc = store_open_checked(s, name, O_RDWR | O_CREAT | O_EXCL, &s->fd,
				&err);
	if (rc != HL_STORE_OK)
		return rc == HL_STORE_NOTFOUND ? HL_STORE_IO : rc;
	if (fchmod(s->fd, 0600) != 0) {
		rc = store_errno_rc(errno);
		hl_log(s->log, LOG_ERR, "store %s: chmod: %s", s->path,
		       strerror(errno));
		goto fail;
	}
	{
		int dup_fd = store_dup_for_gdbm(s->fd);

		if (dup_fd < 0) {
			rc = store_errno_rc(errno);
			goto fail;
		}
		s->db = gdbm_fd_open(dup_fd, s->path, 0,
				     GDBM_NEWDB | DB_FLAGS | GDBM_CLOERROR,
				     NULL);
	}
	if (s->db == NULL) {
		hl_log(s->log, LOG_ERR, "store %s: can't create: %s", s->path,
		       gdbm_strerror(gdbm_errno));
		rc = gdbm_errno == GDBM_MALLOC_ERROR ? HL_STORE_NOMEM
						     : HL_STORE_IO;
		goto fail;
	}
	s->writer = true;
	store_db_tune(s->db);
	if (gdbm_store(s->db, store_text_datum(KEY_SCHEMA),
		       store_text_datum(HL_STORE_SCHEMA), GDBM_REPLACE) != 0) {
		rc = store_db_write_failed(s, "create");
		goto fail;
	}
	if (renameat(s->dirfd, name, s->dirfd, s->base) != 0) {
		rc = store_errno_rc(errno);
		hl_log(s->log, LOG_ERR, "store %s: can't create: rename: %s",
		       s->path, strerror(errno));
		goto fail;
	}
	hl_log(s->log, LOG_INFO, "store %s created", s->path);
	return HL_STORE_OK;
fail:
	store_db_close(s);
	store_close_fd(&s->fd);
	unlinkat(s->dirfd, name, 0);
	return rc;
}

int store_check_schema(struct hl_store *s)
{
	char *schema, shown[64];
	int rc = store_db_fetch(s, KEY_SCHEMA, &schema);

	if (rc == HL_STORE_NOTFOUND) {
		store_log_damaged(s, "open", "no schema key");
		return HL_STORE_DAMAGED;
	}
	if (rc != HL_STORE_OK)
		return rc;
	if (!store_schema_known(schema)) {
		hl_log(s->log, LOG_ERR,
		       "store %s has schema version %s; this release reads "
		       "versions %s and %s: refusing to touch it", s->path,
		       hl_printable(schema, shown, sizeof(shown)),
		       HL_STORE_SCHEMA_LEGACY, HL_STORE_SCHEMA);
		rc = HL_STORE_VERSION;
	}
	s->legacy = rc == HL_STORE_OK &&
		    strcmp(schema, HL_STORE_SCHEMA_LEGACY) == 0;
	free(schema);
	return rc;
}

/*
 * GDBM flushes a writer's file when it closes it, changed or not.  On
 * tmpfs (the runtime store) a flush costs nothing: a WRITE transaction
 * opens GDBM as a writer at once rather than reopening it to commit.  On
 * a disk (the durable store) it opens a reader, so that a transaction
 * that changes nothing there, as nearly every login, flushes nothing.
 * Only a file that starts as a GDBM file: a writer would make an empty
 * one a new database, where a reader reports it damaged and leaves it.
 */
static bool writer_at_once(const struct hl_store *s)
{
	struct statfs fs;
	uint32_t magic;

	return s->mode == HL_STORE_WRITE && fstatfs(s->fd, &fs) == 0 &&
	       fs.f_type == TMPFS_MAGIC &&
	       pread(s->fd, &magic, sizeof(magic), 0) ==
		       (ssize_t)sizeof(magic) &&
	       db_magic_known(magic);
}

/* With the lock held: open (or in WRITE mode create) the file, check its
 * schema, deal with a journal. */
int store_load(struct hl_store *s, bool *replayed)
{
	int rc, err;

	rc = store_open_checked(s, s->base,
			  s->mode == HL_STORE_WRITE ? O_RDWR : O_RDONLY,
			  &s->fd, &err);
	if (rc == HL_STORE_NOTFOUND)
		return s->mode == HL_STORE_WRITE ? store_create(s)
						 : HL_STORE_OK;
	if (rc != HL_STORE_OK)
		return rc;
	if (s->mode == HL_STORE_WRITE && writing_left(s))
		s->interrupted = true;
	rc = store_db_open(s, writer_at_once(s));
	if (rc == HL_STORE_OK)
		rc = store_check_schema(s);
	if (rc == HL_STORE_OK)
		rc = store_journal(s, replayed);
	return rc;
}

static int remote_open(const struct hl_store_place *place,
		       enum hl_store_mode mode, unsigned lock_timeout,
		       const struct hl_logger *log, struct hl_store **out,
		       char *why, size_t why_len);

int hl_store_open(const char *path, enum hl_store_mode mode,
		  unsigned lock_timeout, const struct hl_logger *log,
		  struct hl_store **out)
{
	const struct hl_store_place place = { .path = path };

	return hl_store_open_at(&place, mode, lock_timeout, log, out, NULL, 0);
}

int hl_store_open_at(const struct hl_store_place *place,
		     enum hl_store_mode mode, unsigned lock_timeout,
		     const struct hl_logger *log, struct hl_store **out,
		     char *why, size_t why_len)
{
	const char *path = place != NULL ? place->path : NULL;
	struct hl_store *s;
	bool missing, empty;
	int rc;

	if (why_len > 0)
		*why = '\0';
	if (out == NULL)
		return HL_STORE_IO;
	*out = NULL;
	if (mode != HL_STORE_READ && mode != HL_STORE_WRITE &&
	    mode != HL_STORE_READ_MAPPED)
		return HL_STORE_IO;
	if (place != NULL && place->socket != NULL)
		return remote_open(place, mode, lock_timeout, log, out, why,
				   why_len);
	s = store_new(path, mode == HL_STORE_WRITE ? mode : HL_STORE_READ,
		      log, &rc);
	if (s == NULL)
		return rc;
	s->mapped = mode == HL_STORE_READ_MAPPED;
	rc = store_open_dir(s, mode == HL_STORE_WRITE, &missing);
	if (rc != HL_STORE_OK || missing)
		goto out;
	rc = store_lock(s, lock_timeout, &empty);
	if (rc != HL_STORE_OK || empty)
		goto out;
	rc = store_load(s, NULL);
out:
	if (rc != HL_STORE_OK) {
		hl_store_close(s);
		return rc;
	}
	*out = s;
	return HL_STORE_OK;
}

/* ---- A space of the shared backend ------------------------------------- */

/* The daemon sends every record of the space (store_remote.c); they are
 * appended as they come and sorted once, for changes_find. */
static int record_add(void *arg, const char *key, const char *value)
{
	/* The protocol allows an empty key; none of ours is one (key_usable),
	 * so no transaction of ours could read it. */
	if (*key == '\0')
		return HL_STORE_OK;
	return hl_store_records_add(arg, key, value);
}

static int change_cmp(const void *a, const void *b)
{
	return strcmp(((const struct hl_store_record *)a)->key,
		      ((const struct hl_store_record *)b)->key);
}

/* OPEN on s->remote, the records into *into; on failure the connection
 * is closed and s->remote->why says why. */
static int remote_load(struct hl_store *s, bool write,
		       struct hl_store_records *into)
{
	int rc = hl_remote_open(s->remote, s->socket, s->space, write,
				s->lock_timeout, s->log, record_add, into);

	if (rc == HL_STORE_OK && into->count > 1) {
		qsort(into->items, into->count, sizeof(*into->items),
		      change_cmp);
		for (size_t i = 1; i < into->count; i++)
			if (strcmp(into->items[i - 1].key,
				   into->items[i].key) == 0) {
				hl_log(s->log, LOG_ERR, "store %s: the daemon "
				       "sent a key twice", s->path);
				hl_remote_close(s->remote);
				rc = HL_STORE_IO;
				break;
			}
	}
	if (rc != HL_STORE_OK)
		hl_store_records_free(into);
	return rc;
}

static int remote_open(const struct hl_store_place *place,
		       enum hl_store_mode mode, unsigned lock_timeout,
		       const struct hl_logger *log, struct hl_store **out,
		       char *why, size_t why_len)
{
	struct hl_store *s;
	char name[64];
	int rc;

	if (place->space == NULL || (strcmp(place->space, "runtime") != 0 &&
				     strcmp(place->space, "durable") != 0))
		return HL_STORE_IO;
	s = calloc(1, sizeof(*s));
	snprintf(name, sizeof(name), "license database (%s)", place->space);
	if (s == NULL || (s->path = strdup(name)) == NULL ||
	    (s->remote = malloc(sizeof(*s->remote))) == NULL) {
		hl_store_close(s);
		return HL_STORE_NOMEM;
	}
	s->log = log;
	s->mode = mode == HL_STORE_WRITE ? mode : HL_STORE_READ;
	s->dirfd = s->lockfd = s->fd = -1;
	s->socket = place->socket;
	snprintf(s->space, sizeof(s->space), "%s", place->space);
	s->lock_timeout = lock_timeout;
	rc = remote_load(s, mode == HL_STORE_WRITE, &s->records);
	if (rc != HL_STORE_OK) {
		if (why_len > 0)
			snprintf(why, why_len, "%s", s->remote->why);
		hl_store_close(s);
		return rc;
	}
	*out = s;
	return HL_STORE_OK;
}

static bool same_value(const char *a, const char *b)
{
	return a == NULL || b == NULL ? a == b : strcmp(a, b) == 0;
}

static const char *seen_value(const struct hl_store_records *cs,
			      const char *key)
{
	bool found;
	size_t at = changes_find(cs, key, &found);

	return found ? cs->items[at].value : NULL;
}

/*
 * A remote transaction ends with its COMMIT (the daemon closes), where a
 * GDBM writer keeps its lock until it closes.  A change staged after a
 * commit is sent in a new write transaction, and only where the key is
 * still as this handle last saw it: another writer's value, written in
 * between, stands (the decision code's only such change is the removal
 * of its own pending-named copy, allocation.c).  So every commit ends its
 * transaction, one with nothing to send too (hl_store_commit): the
 * durable space's lock must not be held while the runtime space's is
 * waited for again, as another writer holds that one and waits for this.
 */
static int remote_commit(struct hl_store *s)
{
	struct hl_store_records fresh = { 0 };
	const char **keys = NULL, **values = NULL;
	size_t n = 0;
	int rc = HL_STORE_OK;

	if (s->remote_committed) {
		rc = remote_load(s, true, &fresh);
		if (rc != HL_STORE_OK)
			goto out;
	}
	keys = calloc(s->staged.count + 1, sizeof(*keys));
	values = calloc(s->staged.count + 1, sizeof(*values));
	if (keys == NULL || values == NULL) {
		rc = HL_STORE_NOMEM;
		goto out;
	}
	for (size_t i = 0; i < s->staged.count; i++) {
		const struct hl_store_record *c = &s->staged.items[i];

		if (s->remote_committed &&
		    !same_value(seen_value(&fresh, c->key),
				seen_value(&s->records, c->key))) {
			hl_log(s->log, LOG_NOTICE, "store %s: %s was changed "
			       "by another writer meanwhile: its value stands",
			       s->path, c->key);
			continue;
		}
		keys[n] = c->key;
		values[n++] = c->value;
	}
	rc = hl_remote_commit(s->remote, n, keys, values, s->release);
	if (rc == HL_STORE_OK && s->remote_committed) {
		hl_store_records_free(&s->records);
		s->records = fresh;
		fresh = (struct hl_store_records){ 0 };
	}
	for (size_t i = 0; rc == HL_STORE_OK && i < n; i++)
		if (store_changes_set(&s->records, keys[i], values[i]) != 0)
			rc = HL_STORE_NOMEM;
out:
	hl_remote_close(s->remote);	/* one transaction per connection */
	s->remote_committed = true;
	free(keys);
	free(values);
	hl_store_records_free(&fresh);
	if (rc != HL_STORE_OK) {
		s->failed = rc;
		return rc;
	}
	hl_store_records_free(&s->staged);
	s->user_changes = 0;
	return HL_STORE_OK;
}

/* ---- Transactions ------------------------------------------------------- */

static bool key_usable(const struct hl_store *s, const char *key)
{
	if (key == NULL || *key == '\0' || strlen(key) > INT_MAX / 2) {
		hl_log(s->log, LOG_ERR, "store %s: invalid key", s->path);
		return false;
	}
	return true;
}

int hl_store_get(struct hl_store *store, const char *key, char **value)
{
	bool found;
	size_t at;

	if (value != NULL)
		*value = NULL;
	if (store == NULL || value == NULL || !key_usable(store, key))
		return HL_STORE_IO;
	if (store->failed)
		return store->failed;
	at = changes_find(&store->staged, key, &found);
	if (found) {
		if (store->staged.items[at].value == NULL)
			return HL_STORE_NOTFOUND;
		*value = strdup(store->staged.items[at].value);
		return *value != NULL ? HL_STORE_OK : HL_STORE_NOMEM;
	}
	if (store->remote != NULL) {
		at = changes_find(&store->records, key, &found);
		if (!found || store->records.items[at].value == NULL)
			return HL_STORE_NOTFOUND;
		*value = strdup(store->records.items[at].value);
		return *value != NULL ? HL_STORE_OK : HL_STORE_NOMEM;
	}
	if (store->db == NULL || strcmp(key, KEY_JOURNAL) == 0)
		return HL_STORE_NOTFOUND;
	return store_db_fetch(store, key, value);
}

static int stage(struct hl_store *s, const char *key, const char *value)
{
	if (s == NULL || !key_usable(s, key))
		return HL_STORE_IO;
	if (s->failed)
		return s->failed;
	if (store_internal_key(key) ||
	    (s->remote != NULL && strncmp(key, "host/", 5) == 0)) {
		hl_log(s->log, LOG_ERR, "store %s: key '%s' is reserved",
		       s->path, key);
		return HL_STORE_IO;
	}
	if (value != NULL && strlen(value) > INT_MAX / 2) {
		hl_log(s->log, LOG_ERR, "store %s: value of %s too long",
		       s->path, key);
		return HL_STORE_IO;
	}
	if (store_changes_set(&s->staged, key, value) != 0)
		return HL_STORE_NOMEM;
	s->user_changes++;
	return HL_STORE_OK;
}

int hl_store_put(struct hl_store *store, const char *key, const char *value)
{
	if (value == NULL)
		return HL_STORE_IO;
	return stage(store, key, value);
}

int hl_store_delete(struct hl_store *store, const char *key)
{
	return stage(store, key, NULL);
}

/* The staged changes under prefix, copied: fn may stage more while we
 * iterate, and sees the store as it was when foreach began. */
static int snapshot(const struct hl_store_records *cs, const char *prefix,
		    size_t plen, struct hl_store_records *out)
{
	memset(out, 0, sizeof(*out));
	for (size_t i = 0; i < cs->count; i++)
		if (strncmp(cs->items[i].key, prefix, plen) == 0 &&
		    store_changes_set(out, cs->items[i].key,
				      cs->items[i].value) != 0) {
			hl_store_records_free(out);
			return -1;
		}
	return 0;
}

/* How many keys a walk may list: no more than bucket entries fit in the
 * file (an entry takes 24 bytes). */
static unsigned long walk_limit(GDBM_FILE db)
{
	struct stat st;

	if (fstat(gdbm_fdesc(db), &st) != 0 || st.st_size <= 0)
		return 1UL << 20;
	return (unsigned long)(st.st_size / 16) + 64;
}

void store_walk_begin(struct store_walk *w, struct hl_store *s,
		      const char *what)
{
	memset(w, 0, sizeof(*w));
	w->s = s;
	w->what = what;
	w->left = walk_limit(s->db);
}

bool store_walk_step(struct store_walk *w)
{
	GDBM_FILE db = w->s->db;
	datum next;

	next = w->started ? gdbm_nextkey(db, w->key) : gdbm_firstkey(db);
	if (!w->taken)
		free(w->key.dptr);
	w->key = next;
	w->started = true;
	w->taken = false;
	if (next.dptr == NULL) {
		w->rc = gdbm_last_errno(db) == GDBM_ITEM_NOT_FOUND ||
				gdbm_last_errno(db) == GDBM_NO_ERROR
			? HL_STORE_OK
			: store_db_read_failed(w->s, w->what);
		return false;
	}
	if (w->left-- == 0) {
		store_walk_stop(w);
		store_log_damaged(w->s, w->what, "its keys list in a loop");
		w->rc = HL_STORE_DAMAGED;
		return false;
	}
	return true;
}

void store_walk_take(struct store_walk *w)
{
	w->taken = true;
}

void store_walk_stop(struct store_walk *w)
{
	if (!w->taken)
		free(w->key.dptr);
	w->key = (datum){ 0 };
	w->taken = false;
}

/* One hl_store_foreach: what it lists, and the staged changes as they
 * stood when it began. */
struct walk {
	struct hl_store *store;
	const char *prefix;
	size_t plen;
	struct hl_store_records snap;
	int (*fn)(void *arg, const char *key, const char *value);
	void *arg;
};

/* The daemon's records, less those staged since: they come last. */
static int walk_remote(struct walk *w)
{
	const struct hl_store_records *records = &w->store->records;

	for (size_t i = 0; w->store->remote != NULL && i < records->count;
	     i++) {
		const struct hl_store_record *c = &records->items[i];
		bool staged;
		int rc;

		if (c->value == NULL ||
		    strncmp(c->key, w->prefix, w->plen) != 0)
			continue;
		changes_find(&w->snap, c->key, &staged);
		if (!staged && (rc = w->fn(w->arg, c->key, c->value)) != 0)
			return rc;
	}
	return HL_STORE_OK;
}

/* One key of the file: to fn with its value, unless it is internal, not
 * under the prefix or staged. */
static int walk_key(struct walk *w, const char *k)
{
	char *value = NULL;
	bool staged;
	int rc;

	if (strncmp(k, w->prefix, w->plen) != 0 || store_internal_key(k))
		return HL_STORE_OK;
	changes_find(&w->snap, k, &staged);
	if (staged)
		return HL_STORE_OK;
	rc = store_db_fetch(w->store, k, &value);
	if (rc == HL_STORE_NOTFOUND) {
		store_log_damaged(w->store, k, "listed but unreadable");
		rc = HL_STORE_DAMAGED;
	}
	if (rc == HL_STORE_OK)
		rc = w->fn(w->arg, k, value);
	free(value);
	return rc;
}

/* Every key of the file, if the store has one open. */
static int walk_db(struct walk *w)
{
	struct store_walk keys;
	int rc = HL_STORE_OK;

	if (w->store->db == NULL)
		return HL_STORE_OK;
	store_walk_begin(&keys, w->store, "foreach");
	while (rc == HL_STORE_OK && store_walk_step(&keys)) {
		char *k = store_datum_text(keys.key);

		if (k == NULL && errno == ENOMEM) {
			rc = HL_STORE_NOMEM;
		} else if (k == NULL) {
			store_log_damaged(w->store, "foreach",
					  "a key holds a NUL byte");
			rc = HL_STORE_DAMAGED;
		} else {
			rc = walk_key(w, k);
		}
		free(k);
	}
	store_walk_stop(&keys);
	return rc != HL_STORE_OK ? rc : keys.rc;
}

/* The staged changes, as they stood when the walk began. */
static int walk_staged(struct walk *w)
{
	for (size_t i = 0; i < w->snap.count; i++) {
		const struct hl_store_record *c = &w->snap.items[i];
		int rc;

		if (c->value == NULL || store_internal_key(c->key))
			continue;
		rc = w->fn(w->arg, c->key, c->value);
		if (rc != 0)
			return rc;
	}
	return HL_STORE_OK;
}

int hl_store_foreach(struct hl_store *store, const char *prefix,
		     int (*fn)(void *arg, const char *key, const char *value),
		     void *arg)
{
	struct walk w = { .store = store, .fn = fn, .arg = arg };
	int rc;

	if (store == NULL || fn == NULL)
		return HL_STORE_IO;
	if (store->failed)
		return store->failed;
	w.prefix = prefix != NULL ? prefix : "";
	w.plen = strlen(w.prefix);
	if (snapshot(&store->staged, w.prefix, w.plen, &w.snap) != 0)
		return HL_STORE_NOMEM;
	/* fn's changes go to staged: records stay as they are */
	rc = walk_remote(&w);
	if (rc == HL_STORE_OK)
		rc = walk_db(&w);
	if (rc == HL_STORE_OK)
		rc = walk_staged(&w);
	hl_store_records_free(&w.snap);
	return rc;
}

bool hl_store_legacy(const struct hl_store *store)
{
	return store != NULL && store->legacy;
}

bool hl_store_interrupted(const struct hl_store *store)
{
	return store != NULL && store->interrupted;
}

bool hl_store_left_writing(const struct hl_store_place *place)
{
	char mark[PATH_MAX];
	struct stat st;
	int n;

	if (place->socket != NULL)
		return false;
	n = snprintf(mark, sizeof(mark), "%s%s", place->path, SUFFIX_WRITING);
	/* A name too long to stat is refused by the open that follows. */
	return n < 0 || (size_t)n >= sizeof(mark) ||
	       fstatat(AT_FDCWD, mark, &st, AT_SYMLINK_NOFOLLOW) == 0;
}

int hl_store_upgrade(struct hl_store *store)
{
	if (store == NULL || store->mode != HL_STORE_WRITE)
		return HL_STORE_IO;
	if (store->failed)
		return store->failed;
	/* Staged like any change, so the journal carries it: the new
	 * schema is written with the records that make it true. */
	if (store_changes_set(&store->staged, KEY_SCHEMA, HL_STORE_SCHEMA) != 0)
		return HL_STORE_NOMEM;
	store->user_changes++;
	return HL_STORE_OK;
}

const char *hl_store_why(const struct hl_store *store)
{
	if (store == NULL || store->remote == NULL ||
	    store->remote->why[0] == '\0')
		return NULL;
	return store->remote->why;
}

int hl_store_commit_release(struct hl_store *store)
{
	if (store != NULL)
		store->release = true;
	return hl_store_commit(store);
}

int hl_store_commit(struct hl_store *store)
{
	char *journal;
	int rc;

	if (store == NULL)
		return HL_STORE_IO;
	if (store->failed)
		return store->failed;
	if (store->user_changes == 0) {
		/* A remote commit ends the transaction even with nothing to
		 * send: its lock must go now, not at close (remote_commit). */
		if (store->remote != NULL && !store->remote_committed) {
			hl_remote_close(store->remote);
			store->remote_committed = true;
		}
		return HL_STORE_OK;
	}
	if (store->mode != HL_STORE_WRITE) {
		hl_log(store->log, LOG_ERR,
		       "store %s was opened for reading: can't commit",
		       store->path);
		return HL_STORE_IO;
	}
	if (store->remote != NULL)
		return remote_commit(store);
	rc = store_db_writable(store);
	if (rc != HL_STORE_OK)
		return rc;
	journal = store_journal_encode(&store->staged);
	if (journal == NULL)
		return HL_STORE_NOMEM;
	/* Once the journal is in, the commit is decided. */
	if (gdbm_store(store->db, store_text_datum(KEY_JOURNAL),
		       store_text_datum(journal), GDBM_REPLACE) != 0) {
		free(journal);
		return store_db_write_failed(store, "commit");
	}
	free(journal);
	rc = store_db_apply(store, &store->staged);
	if (rc == HL_STORE_OK)
		rc = store_db_delete_journal(store);
	if (rc != HL_STORE_OK) {
		/* The journal stays: the next writer completes the commit. */
		hl_log(store->log, LOG_ERR,
		       "store %s: commit interrupted; the next writer will "
		       "complete it", store->path);
		store->failed = rc;
		return rc;
	}
	hl_store_records_free(&store->staged);
	store->user_changes = 0;
	return HL_STORE_OK;
}

void hl_store_close(struct hl_store *store)
{
	if (store == NULL)
		return;
	store_db_close(store);	/* GDBM's last writes, and its flush */
	if (store->marked)
		store_writing_clear(store);
	store_close_fd(&store->fd);
	store_close_fd(&store->lockfd);	/* drops the lock */
	store_close_fd(&store->dirfd);
	hl_store_records_free(&store->staged);
	if (store->remote != NULL)
		hl_remote_close(store->remote);
	free(store->remote);
	hl_store_records_free(&store->records);
	free(store->path);
	free(store);
}

const char *hl_store_strerror(int rc)
{
	switch (rc) {
	case HL_STORE_OK:
		return "success";
	case HL_STORE_NOTFOUND:
		return "no such key";
	case HL_STORE_TIMEOUT:
		return "the store is busy (lock timeout)";
	case HL_STORE_DAMAGED:
		return "the store is damaged (run 'helpdesk-license repair')";
	case HL_STORE_VERSION:
		return "the store has another schema version";
	case HL_STORE_INSECURE:
		return "the store is unsafe (link, owner or mode)";
	case HL_STORE_DENIED:
		return "permission denied";
	case HL_STORE_IO:
		return "system error";
	case HL_STORE_NOMEM:
		return "out of memory";
	default:
		return "unknown store error";
	}
}

/* ---- A watch on the file ------------------------------------------------ */

int hl_store_watch_open(const char *path, const struct hl_logger *log,
			int *err)
{
	const char *slash = strrchr(path, '/');
	char dir[4096];
	int fd;

	*err = 0;
	if (slash == NULL)
		snprintf(dir, sizeof(dir), ".");
	else if (slash == path)
		snprintf(dir, sizeof(dir), "/");
	else if ((size_t)(slash - path) < sizeof(dir))
		snprintf(dir, sizeof(dir), "%.*s", (int)(slash - path), path);
	else
		return -1;
	fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
	if (fd < 0) {
		*err = errno;
		return -1;
	}
	/* Every write transaction closes the file it opened for writing; a
	 * rebuilt file is renamed into place. */
	if (inotify_add_watch(fd, dir, IN_CLOSE_WRITE | IN_MOVED_TO |
				      IN_ONLYDIR) < 0) {
		hl_log(log, LOG_DEBUG, "inotify on %s: %s", dir,
		       strerror(errno));
		close(fd);
		return -1;
	}
	return fd;
}

bool hl_store_watch_written(int watch, const char *path)
{
	char buf[4096]
		__attribute__((aligned(__alignof__(struct inotify_event))));
	const char *slash = strrchr(path, '/');
	const char *base = slash ? slash + 1 : path;
	bool written = false;
	ssize_t n;

	while ((n = read(watch, buf, sizeof(buf))) > 0) {
		for (char *p = buf; p < buf + n;) {
			const struct inotify_event *ev = (const void *)p;

			if ((ev->mask & IN_Q_OVERFLOW) ||
			    (ev->len > 0 && strcmp(ev->name, base) == 0))
				written = true;
			p += sizeof(*ev) + ev->len;
		}
	}
	return written;
}
