/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The license store on GDBM.  doc/STORE.md describes the files, the keys
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
#include <sys/stat.h>
#include <sys/vfs.h>
#include <time.h>
#include <unistd.h>

#include <linux/magic.h>

#include "proc.h"
#include "safefile.h"
#include "store.h"
#include "store_remote.h"
#include "text.h"

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
 * GDBM_NOMMAP for a reader (db_open). */
#define DB_FLAGS (GDBM_NOLOCK | GDBM_NOMMAP | GDBM_CLOEXEC)

/* Between two tries for a busy lock, every waiter naps 1 to 3 ms.  The
 * same short nap for all: with a growing one, a newcomer trying every
 * millisecond would beat those who have waited longest, over and over,
 * until their lock_timeout ran out. */
#define LOCK_NAP_MIN_NS 1000000L	/* 1 ms */
#define LOCK_NAP_SPREAD_NS 2000000L	/* + 0..2 ms, so tries spread out */

/* Salvage believes no key longer than this (ours are far shorter). */
#define SALVAGE_KEY_MAX 4096

/* One staged change; value NULL deletes the key. */
struct change {
	char *key;
	char *value;
};

/* Sorted by key: a transaction touches a handful of keys. */
struct changes {
	struct change *v;
	size_t count;
	size_t cap;
};

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
	struct changes staged;	/* puts, deletes, and a reader's journal */
	size_t user_changes;	/* staged by put or delete */
	int failed;		/* a commit failed half-way: the handle is done */
	bool legacy;		/* schema HL_STORE_SCHEMA_LEGACY */
	bool interrupted;	/* a writer found a commit cut short */
	bool marked;		/* this handle made P.writing */
	struct hl_remote *remote;	/* a space of the shared backend */
	struct changes records;	/* remote: the space as this handle saw it */
	bool remote_committed;	/* remote: its transaction has ended */
	const char *socket;	/* remote: where to open the next one */
	char space[16];
	unsigned lock_timeout;
};

/* ---- Small helpers ------------------------------------------------------ */

/* This release's layout, or 0.2's single file, which a writer migrates
 * (allocation.c) before anything else. */
static bool schema_known(const char *schema)
{
	return strcmp(schema, HL_STORE_SCHEMA) == 0 ||
	       strcmp(schema, HL_STORE_SCHEMA_LEGACY) == 0;
}

static bool internal_key(const char *key)
{
	return strcmp(key, KEY_SCHEMA) == 0 || strcmp(key, KEY_JOURNAL) == 0;
}

static datum text_datum(const char *text)
{
	datum d;

	d.dptr = (char *)text;
	d.dsize = (int)strlen(text);
	return d;
}

/* A datum as a NUL-terminated string; NULL with errno EINVAL when it holds
 * a NUL (we never store one) or ENOMEM. */
static char *datum_text(datum d)
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

static bool name_with_suffix(char *out, size_t len, const char *base,
			     const char *suffix)
{
	int n = snprintf(out, len, "%s%s", base, suffix);

	return n > 0 && (size_t)n < len && (size_t)n <= NAME_MAX;
}

static void close_fd(int *fd)
{
	if (*fd >= 0) {
		close(*fd);
		*fd = -1;
	}
}

static int errno_rc(int err)
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

/* ---- Staged changes ----------------------------------------------------- */

static void change_free(struct change *c)
{
	free(c->key);
	free(c->value);
	c->key = c->value = NULL;
}

static void changes_clear(struct changes *cs)
{
	for (size_t i = 0; i < cs->count; i++)
		change_free(&cs->v[i]);
	free(cs->v);
	cs->v = NULL;
	cs->count = cs->cap = 0;
}

/* The index of key, or where it would go (*found false). */
static size_t changes_find(const struct changes *cs, const char *key,
			   bool *found)
{
	size_t lo = 0, hi = cs->count;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int cmp = strcmp(key, cs->v[mid].key);

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

/* Stages key=value (value NULL: delete); 0, or -1 on no memory. */
static int changes_set(struct changes *cs, const char *key, const char *value)
{
	bool found;
	size_t at = changes_find(cs, key, &found);
	char *v = NULL, *k;

	if (value != NULL && (v = strdup(value)) == NULL)
		return -1;
	if (found) {
		free(cs->v[at].value);
		cs->v[at].value = v;
		return 0;
	}
	if (cs->count == cs->cap) {
		size_t cap = cs->cap ? cs->cap * 2 : 8;
		struct change *grown;

		if (cap > SIZE_MAX / sizeof(*grown) ||
		    (grown = realloc(cs->v, cap * sizeof(*grown))) == NULL) {
			free(v);
			return -1;
		}
		cs->v = grown;
		cs->cap = cap;
	}
	if ((k = strdup(key)) == NULL) {
		free(v);
		return -1;
	}
	memmove(&cs->v[at + 1], &cs->v[at], (cs->count - at) * sizeof(*cs->v));
	cs->v[at].key = k;
	cs->v[at].value = v;
	cs->count++;
	return 0;
}

/* ---- The journal -------------------------------------------------------- */

/*
 * "hl-journal 1 COUNT LENGTH CRC\n" then LENGTH bytes of body, whose
 * CRC-32 (IEEE) is CRC in 8 lowercase hex digits.  The body holds COUNT
 * entries, "P KLEN VLEN\n" KEY VALUE "\n" for a put and "D KLEN\n" KEY "\n"
 * for a delete.  A journal that does not check out in every detail was
 * never completely written, and is ignored.
 */
static uint32_t crc32_update(uint32_t crc, const char *data, size_t len)
{
	/* Four bits at a time: every commit sums its journal, and a bit at
	 * a time was the largest cost of a commit. */
	static const uint32_t nibble[16] = {
		0x00000000u, 0x1db71064u, 0x3b6e20c8u, 0x26d930acu,
		0x76dc4190u, 0x6b6b51f4u, 0x4db26158u, 0x5005713cu,
		0xedb88320u, 0xf00f9344u, 0xd6d6a3e8u, 0xcb61b38cu,
		0x9b64c2b0u, 0x86d3d2d4u, 0xa00ae278u, 0xbdbdf21cu,
	};

	crc = ~crc;
	for (size_t i = 0; i < len; i++) {
		crc ^= (unsigned char)data[i];
		crc = (crc >> 4) ^ nibble[crc & 15u];
		crc = (crc >> 4) ^ nibble[crc & 15u];
	}
	return ~crc;
}

static char *journal_encode(const struct changes *cs)
{
	struct hl_buf body, out;
	char *text;

	hl_buf_init(&body);
	for (size_t i = 0; i < cs->count; i++) {
		const struct change *c = &cs->v[i];

		if (c->value != NULL) {
			hl_buf_printf(&body, "P %zu %zu\n", strlen(c->key),
				      strlen(c->value));
			hl_buf_puts(&body, c->key);
			hl_buf_puts(&body, c->value);
		} else {
			hl_buf_printf(&body, "D %zu\n", strlen(c->key));
			hl_buf_puts(&body, c->key);
		}
		hl_buf_puts(&body, "\n");
	}
	if (body.failed) {
		hl_buf_free(&body);
		return NULL;
	}
	hl_buf_init(&out);
	hl_buf_printf(&out, "%s %s %zu %zu %08lx\n", JOURNAL_MAGIC,
		      JOURNAL_VERSION, cs->count, body.len,
		      (unsigned long)crc32_update(0, body.data ? body.data : "",
						  body.len));
	hl_buf_append(&out, body.data ? body.data : "", body.len);
	hl_buf_free(&body);
	text = hl_buf_take(&out);
	return text;
}

/* Reads a decimal number ending in stop; advances *p past stop. */
static bool read_size(const char **p, const char *end, char stop, size_t *out)
{
	const char *s = *p;
	size_t value = 0;

	if (s >= end || *s < '0' || *s > '9' || (*s == '0' && s + 1 < end &&
						 s[1] != stop))
		return false;
	for (; s < end && *s >= '0' && *s <= '9'; s++) {
		size_t digit = (size_t)(*s - '0');

		if (value > (SIZE_MAX - digit) / 10)
			return false;
		value = value * 10 + digit;
	}
	if (s >= end || *s != stop)
		return false;
	*p = s + 1;
	*out = value;
	return true;
}

static bool read_word(const char **p, const char *end, const char *word)
{
	size_t len = strlen(word);

	if ((size_t)(end - *p) < len + 1 || memcmp(*p, word, len) != 0 ||
	    (*p)[len] != ' ')
		return false;
	*p += len + 1;
	return true;
}

static bool read_bytes(const char **p, const char *end, size_t len,
		       char **out)
{
	char *copy;

	if ((size_t)(end - *p) < len || memchr(*p, '\0', len) != NULL)
		return false;
	copy = malloc(len + 1);
	if (copy == NULL)
		return false;
	memcpy(copy, *p, len);
	copy[len] = '\0';
	*p += len;
	*out = copy;
	return true;
}

/* 0, or -1 when text is not a complete journal (*cs is then empty). */
static int journal_decode(const char *text, size_t len, struct changes *cs)
{
	const char *p = text, *end = text + len, *body;
	size_t count, body_len, n;
	unsigned long crc = 0;
	int digits;

	memset(cs, 0, sizeof(*cs));
	if (!read_word(&p, end, JOURNAL_MAGIC) ||
	    !read_word(&p, end, JOURNAL_VERSION) ||
	    !read_size(&p, end, ' ', &count) ||
	    !read_size(&p, end, ' ', &body_len))
		return -1;
	for (digits = 0; digits < 8; digits++, p++) {
		if (p >= end)
			return -1;
		if (*p >= '0' && *p <= '9')
			crc = crc << 4 | (unsigned long)(*p - '0');
		else if (*p >= 'a' && *p <= 'f')
			crc = crc << 4 | (unsigned long)(*p - 'a' + 10);
		else
			return -1;
	}
	if (p >= end || *p++ != '\n')
		return -1;
	body = p;
	if ((size_t)(end - body) != body_len ||
	    crc32_update(0, body, body_len) != crc || count == 0)
		return -1;
	for (n = 0; n < count; n++) {
		size_t klen, vlen;
		char *key = NULL, *value = NULL;
		bool put;

		if (end - p < 2 || (p[0] != 'P' && p[0] != 'D') || p[1] != ' ')
			goto bad;
		put = p[0] == 'P';
		p += 2;
		if (put) {
			if (!read_size(&p, end, ' ', &klen) ||
			    !read_size(&p, end, '\n', &vlen))
				goto bad;
		} else if (!read_size(&p, end, '\n', &klen)) {
			goto bad;
		}
		if (klen == 0 || !read_bytes(&p, end, klen, &key))
			goto bad;
		if (put && !read_bytes(&p, end, vlen, &value)) {
			free(key);
			goto bad;
		}
		if (p >= end || *p++ != '\n' || internal_key(key) ||
		    changes_set(cs, key, put ? value : NULL) != 0) {
			free(key);
			free(value);
			goto bad;
		}
		free(key);
		free(value);
	}
	/* Entries are written sorted and unique: a repeat is not ours. */
	if (p != end || cs->count != count)
		goto bad;
	return 0;
bad:
	changes_clear(cs);
	return -1;
}

/* ---- GDBM --------------------------------------------------------------- */

static void log_damaged(const struct hl_store *s, const char *what,
			const char *error)
{
	hl_log(s->log, LOG_ERR,
	       "store %s is damaged (%s: %s); run 'helpdesk-license repair'",
	       s->path, what, error);
}

/* The result for a failed GDBM read on s->db, logged. */
static int db_read_failed(struct hl_store *s, const char *what)
{
	if (gdbm_last_errno(s->db) == GDBM_MALLOC_ERROR) {
		hl_log(s->log, LOG_ERR, "store %s: %s: out of memory",
		       s->path, what);
		return HL_STORE_NOMEM;
	}
	log_damaged(s, what, gdbm_db_strerror(s->db));
	return HL_STORE_DAMAGED;
}

/* The result for a failed GDBM write: a system error (disk full, ...) is
 * HL_STORE_IO, anything else damage. */
static int db_write_failed(struct hl_store *s, const char *what)
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
	log_damaged(s, what, gdbm_db_strerror(s->db));
	return HL_STORE_DAMAGED;
}

/* A duplicate of s->fd for GDBM, which closes what it is given.  The
 * duplicate shares the file offset, and gdbm_fd_open reads the header
 * from where the offset is: rewind it. */
static int dup_for_gdbm(int fd)
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
static void db_tune(GDBM_FILE db)
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
	    !name_with_suffix(name, sizeof(name), s->base, SUFFIX_WRITING))
		return;
	fd = openat(s->dirfd, name, O_WRONLY | O_CREAT | O_NOFOLLOW |
		    O_CLOEXEC | O_NOCTTY | O_NONBLOCK, 0600);
	if (fd >= 0) {
		close(fd);
		s->marked = true;
	}
}

/* Removes the mark (made by this handle, or left by a killed one). */
static void writing_clear(struct hl_store *s)
{
	char name[NAME_MAX + 1];

	if (s->dirfd >= 0 &&
	    name_with_suffix(name, sizeof(name), s->base, SUFFIX_WRITING))
		unlinkat(s->dirfd, name, 0);
	s->marked = false;
}

static bool writing_left(const struct hl_store *s)
{
	char name[NAME_MAX + 1];
	struct stat st;

	return s->dirfd >= 0 &&
	       name_with_suffix(name, sizeof(name), s->base, SUFFIX_WRITING) &&
	       fstatat(s->dirfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0;
}

/* Opens GDBM on s->fd. */
static int db_open(struct hl_store *s, bool writer)
{
	int flags = DB_FLAGS, dup_fd;
	int64_t size, want;
	gdbm_error e;

	if (db_truncated(s, &size, &want)) {
		char why[128];

		snprintf(why, sizeof(why), "the file has %lld of the %lld "
			 "bytes its header says: truncated", (long long)size,
			 (long long)want);
		log_damaged(s, "open", why);
		return HL_STORE_DAMAGED;
	}
	/* Mapped, a reader makes no system call per record.  Safe under our
	 * shared lock: the file was checked whole just above, no writer of
	 * ours changes it until we let go, and a GDBM reader maps no more
	 * than the file holds; repair replaces the file, never truncates
	 * it.  Only a process ignoring the lock could still cut it short. */
	if (s->mapped && !writer)
		flags &= ~GDBM_NOMMAP;
	dup_fd = dup_for_gdbm(s->fd);
	if (dup_fd < 0) {
		hl_log(s->log, LOG_ERR, "store %s: %s", s->path,
		       strerror(errno));
		return errno_rc(errno);
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
			log_damaged(s, "open", gdbm_strerror(e));
		return HL_STORE_DAMAGED;
	}
	s->writer = writer;
	if (writer)
		db_tune(s->db);
	if (gdbm_needs_recovery(s->db)) {
		log_damaged(s, "open", "GDBM says it needs recovery");
		gdbm_close(s->db);
		s->db = NULL;
		return HL_STORE_DAMAGED;
	}
	return HL_STORE_OK;
}

static void db_close(struct hl_store *s)
{
	if (s->db != NULL) {
		gdbm_close(s->db);
		s->db = NULL;
	}
	s->writer = false;
}

/* From here on s->db may write. */
static int db_writable(struct hl_store *s)
{
	if (s->writer)
		return HL_STORE_OK;
	db_close(s);
	return db_open(s, true);
}

/* *value: malloc'd; NOTFOUND when absent. */
static int db_fetch(struct hl_store *s, const char *key, char **value)
{
	datum d = gdbm_fetch(s->db, text_datum(key));
	char *text;

	*value = NULL;
	if (d.dptr == NULL) {
		if (gdbm_last_errno(s->db) == GDBM_ITEM_NOT_FOUND)
			return HL_STORE_NOTFOUND;
		return db_read_failed(s, key);
	}
	text = datum_text(d);
	free(d.dptr);
	if (text == NULL) {
		if (errno == ENOMEM)
			return HL_STORE_NOMEM;
		log_damaged(s, key, "a value holds a NUL byte");
		return HL_STORE_DAMAGED;
	}
	*value = text;
	return HL_STORE_OK;
}

static int db_apply(struct hl_store *s, const struct changes *cs)
{
	for (size_t i = 0; i < cs->count; i++) {
		const struct change *c = &cs->v[i];

		if (c->value != NULL) {
			if (gdbm_store(s->db, text_datum(c->key),
				       text_datum(c->value), GDBM_REPLACE) != 0)
				return db_write_failed(s, c->key);
		} else if (gdbm_delete(s->db, text_datum(c->key)) != 0 &&
			   gdbm_last_errno(s->db) != GDBM_ITEM_NOT_FOUND) {
			return db_write_failed(s, c->key);
		}
	}
	return HL_STORE_OK;
}

static int db_delete_journal(struct hl_store *s)
{
	if (gdbm_delete(s->db, text_datum(KEY_JOURNAL)) != 0 &&
	    gdbm_last_errno(s->db) != GDBM_ITEM_NOT_FOUND)
		return db_write_failed(s, KEY_JOURNAL);
	return HL_STORE_OK;
}

/* ---- Opening ------------------------------------------------------------ */

static struct hl_store *store_new(const char *path, enum hl_store_mode mode,
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
static int store_open_dir(struct hl_store *s, bool create, bool *missing)
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
		return errno_rc(errno);
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

static int open_checked(struct hl_store *s, const char *name, int flags,
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
		return errno_rc(errno);
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
	/* O_NONBLOCK only kept a FIFO from hanging the open. */
	if (fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK) != 0) {
		*err = errno;
		close(fd);
		return HL_STORE_IO;
	}
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
		nanosleep(&nap, NULL);	/* EINTR: the loop checks the time */
	}
	hl_log(s->log, LOG_ERR,
	       "store %s is busy: no %s lock within %u seconds", s->path,
	       op == LOCK_EX ? "exclusive" : "shared", timeout);
	return HL_STORE_TIMEOUT;
}

/* Opens P.lock and takes the lock.  *empty (READ only): there is neither
 * a lock file nor a store, so the store reads as empty. */
static int store_lock(struct hl_store *s, unsigned timeout, bool *empty)
{
	char name[NAME_MAX + 1];
	int rc, err, fd;

	*empty = false;
	if (!name_with_suffix(name, sizeof(name), s->base, SUFFIX_LOCK))
		return HL_STORE_IO;
	if (s->mode == HL_STORE_WRITE) {
		rc = open_checked(s, name, O_RDWR | O_CREAT, &s->lockfd, &err);
		if (rc == HL_STORE_NOTFOUND)	/* the directory went away */
			rc = HL_STORE_IO;
		return rc != HL_STORE_OK ? rc : lock_wait(s, LOCK_EX, timeout);
	}
	rc = open_checked(s, name, O_RDONLY, &s->lockfd, &err);
	if (rc == HL_STORE_NOTFOUND) {
		/* Never written by us.  A store without its lock file gets
		 * one if we may create it. */
		rc = open_checked(s, s->base, O_RDONLY, &fd, &err);
		close_fd(&fd);
		if (rc == HL_STORE_NOTFOUND) {
			*empty = true;
			return HL_STORE_OK;
		}
		if (rc != HL_STORE_OK)
			return rc;
		rc = open_checked(s, name, O_RDWR | O_CREAT, &s->lockfd, &err);
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
	    name_with_suffix(name, sizeof(name), s->base, SUFFIX_LOCK))
		rc = open_checked(s, name, O_RDONLY, &s->lockfd, &err);
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

	if (!name_with_suffix(name, sizeof(name), s->base, SUFFIX_NEW))
		return HL_STORE_IO;
	/* A leftover of a creation that was killed: nobody else is making
	 * one while we hold the lock. */
	if (unlinkat(s->dirfd, name, 0) != 0 && errno != ENOENT) {
		hl_log(s->log, LOG_ERR, "store %s: can't remove %s: %s",
		       s->path, name, strerror(errno));
		return errno_rc(errno);
	}
	rc = open_checked(s, name, O_RDWR | O_CREAT | O_EXCL, &s->fd, &err);
	if (rc != HL_STORE_OK)
		return rc == HL_STORE_NOTFOUND ? HL_STORE_IO : rc;
	if (fchmod(s->fd, 0600) != 0) {
		rc = errno_rc(errno);
		hl_log(s->log, LOG_ERR, "store %s: chmod: %s", s->path,
		       strerror(errno));
		goto fail;
	}
	{
		int dup_fd = dup_for_gdbm(s->fd);

		if (dup_fd < 0) {
			rc = errno_rc(errno);
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
	db_tune(s->db);
	if (gdbm_store(s->db, text_datum(KEY_SCHEMA),
		       text_datum(HL_STORE_SCHEMA), GDBM_REPLACE) != 0) {
		rc = db_write_failed(s, "create");
		goto fail;
	}
	if (renameat(s->dirfd, name, s->dirfd, s->base) != 0) {
		rc = errno_rc(errno);
		hl_log(s->log, LOG_ERR, "store %s: can't create: rename: %s",
		       s->path, strerror(errno));
		goto fail;
	}
	hl_log(s->log, LOG_INFO, "store %s created", s->path);
	return HL_STORE_OK;
fail:
	db_close(s);
	close_fd(&s->fd);
	unlinkat(s->dirfd, name, 0);
	return rc;
}

static int store_check_schema(struct hl_store *s)
{
	char *schema, shown[64];
	int rc = db_fetch(s, KEY_SCHEMA, &schema);

	if (rc == HL_STORE_NOTFOUND) {
		log_damaged(s, "open", "no schema key");
		return HL_STORE_DAMAGED;
	}
	if (rc != HL_STORE_OK)
		return rc;
	if (!schema_known(schema)) {
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

/* A journal left by a killed commit: a writer completes the commit, a
 * reader sees its changes as if staged.  An incomplete one is ignored
 * (and a writer removes it). */
static int store_journal(struct hl_store *s, bool *replayed)
{
	struct changes cs;
	char *text;
	int rc = db_fetch(s, KEY_JOURNAL, &text);

	if (replayed != NULL)
		*replayed = false;
	if (rc == HL_STORE_NOTFOUND)
		return HL_STORE_OK;
	if (rc != HL_STORE_OK)
		return rc;
	/* Whole or torn, a journal means a writer was killed inside a
	 * commit, where GDBM may have been mid-update too. */
	if (s->mode == HL_STORE_WRITE)
		s->interrupted = true;
	rc = journal_decode(text, strlen(text), &cs);
	free(text);
	if (rc != 0) {
		hl_log(s->log, LOG_WARNING,
		       "store %s: ignoring an incomplete journal (a commit "
		       "that never finished writing it)%s", s->path,
		       s->mode == HL_STORE_WRITE ? "; removed" : "");
		if (s->mode != HL_STORE_WRITE)
			return HL_STORE_OK;
		rc = db_writable(s);
		return rc != HL_STORE_OK ? rc : db_delete_journal(s);
	}
	if (s->mode == HL_STORE_READ) {
		/* The overlay: not changes of the caller's. */
		s->staged = cs;
		return HL_STORE_OK;
	}
	rc = db_writable(s);
	if (rc == HL_STORE_OK)
		rc = db_apply(s, &cs);
	if (rc == HL_STORE_OK)
		rc = db_delete_journal(s);
	if (rc == HL_STORE_OK) {
		hl_log(s->log, LOG_NOTICE,
		       "store %s: completed an interrupted commit (%zu "
		       "change%s)", s->path, cs.count, cs.count == 1 ? "" : "s");
		if (replayed != NULL)
			*replayed = true;
	}
	changes_clear(&cs);
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
static int store_load(struct hl_store *s, bool *replayed)
{
	int rc, err;

	rc = open_checked(s, s->base,
			  s->mode == HL_STORE_WRITE ? O_RDWR : O_RDONLY,
			  &s->fd, &err);
	if (rc == HL_STORE_NOTFOUND)
		return s->mode == HL_STORE_WRITE ? store_create(s)
						 : HL_STORE_OK;
	if (rc != HL_STORE_OK)
		return rc;
	if (s->mode == HL_STORE_WRITE && writing_left(s))
		s->interrupted = true;
	rc = db_open(s, writer_at_once(s));
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
	struct changes *cs = arg;
	struct change c;
	bool failed = false;

	/* The protocol allows an empty key; none of ours is one (key_usable),
	 * so no transaction of ours could read it. */
	if (*key == '\0')
		return HL_STORE_OK;
	c = (struct change){ strdup(key), strdup(value) };

	cs->v = hl_grow(cs->v, &cs->cap, cs->count + 1, sizeof(*cs->v),
			&failed);
	if (failed || c.key == NULL || c.value == NULL) {
		change_free(&c);
		return HL_STORE_NOMEM;
	}
	cs->v[cs->count++] = c;
	return HL_STORE_OK;
}

static int change_cmp(const void *a, const void *b)
{
	return strcmp(((const struct change *)a)->key,
		      ((const struct change *)b)->key);
}

/* OPEN on s->remote, the records into *into; on failure the connection
 * is closed and s->remote->why says why. */
static int remote_load(struct hl_store *s, bool write, struct changes *into)
{
	int rc = hl_remote_open(s->remote, s->socket, s->space, write,
				s->lock_timeout, s->log, record_add, into);

	if (rc == HL_STORE_OK && into->count > 1) {
		qsort(into->v, into->count, sizeof(*into->v), change_cmp);
		for (size_t i = 1; i < into->count; i++)
			if (strcmp(into->v[i - 1].key, into->v[i].key) == 0) {
				hl_log(s->log, LOG_ERR, "store %s: the daemon "
				       "sent a key twice", s->path);
				hl_remote_close(s->remote);
				rc = HL_STORE_IO;
				break;
			}
	}
	if (rc != HL_STORE_OK)
		changes_clear(into);
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

static const char *seen_value(const struct changes *cs, const char *key)
{
	bool found;
	size_t at = changes_find(cs, key, &found);

	return found ? cs->v[at].value : NULL;
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
	struct changes fresh = { 0 };
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
		const struct change *c = &s->staged.v[i];

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
	rc = hl_remote_commit(s->remote, n, keys, values);
	if (rc == HL_STORE_OK && s->remote_committed) {
		changes_clear(&s->records);
		s->records = fresh;
		fresh = (struct changes){ 0 };
	}
	for (size_t i = 0; rc == HL_STORE_OK && i < n; i++)
		if (changes_set(&s->records, keys[i], values[i]) != 0)
			rc = HL_STORE_NOMEM;
out:
	hl_remote_close(s->remote);	/* one transaction per connection */
	s->remote_committed = true;
	free(keys);
	free(values);
	changes_clear(&fresh);
	if (rc != HL_STORE_OK) {
		s->failed = rc;
		return rc;
	}
	changes_clear(&s->staged);
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
		if (store->staged.v[at].value == NULL)
			return HL_STORE_NOTFOUND;
		*value = strdup(store->staged.v[at].value);
		return *value != NULL ? HL_STORE_OK : HL_STORE_NOMEM;
	}
	if (store->remote != NULL) {
		at = changes_find(&store->records, key, &found);
		if (!found || store->records.v[at].value == NULL)
			return HL_STORE_NOTFOUND;
		*value = strdup(store->records.v[at].value);
		return *value != NULL ? HL_STORE_OK : HL_STORE_NOMEM;
	}
	if (store->db == NULL || strcmp(key, KEY_JOURNAL) == 0)
		return HL_STORE_NOTFOUND;
	return db_fetch(store, key, value);
}

static int stage(struct hl_store *s, const char *key, const char *value)
{
	if (s == NULL || !key_usable(s, key))
		return HL_STORE_IO;
	if (s->failed)
		return s->failed;
	if (internal_key(key) ||
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
	if (changes_set(&s->staged, key, value) != 0)
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
static int snapshot(const struct changes *cs, const char *prefix,
		    size_t plen, struct changes *out)
{
	memset(out, 0, sizeof(*out));
	for (size_t i = 0; i < cs->count; i++)
		if (strncmp(cs->v[i].key, prefix, plen) == 0 &&
		    changes_set(out, cs->v[i].key, cs->v[i].value) != 0) {
			changes_clear(out);
			return -1;
		}
	return 0;
}

/* How many keys a walk of db may list: no more than bucket entries fit
 * in the file (an entry takes 24 bytes).  A damaged file whose buckets
 * lead back into each other would make gdbm_nextkey list keys forever,
 * under the lock every login waits for. */
static unsigned long walk_limit(GDBM_FILE db)
{
	struct stat st;

	if (fstat(gdbm_fdesc(db), &st) != 0 || st.st_size <= 0)
		return 1UL << 20;
	return (unsigned long)(st.st_size / 16) + 64;
}

int hl_store_foreach(struct hl_store *store, const char *prefix,
		     int (*fn)(void *arg, const char *key, const char *value),
		     void *arg)
{
	struct changes snap;
	unsigned long limit;
	datum key;
	size_t plen;
	int rc = HL_STORE_OK;

	if (store == NULL || fn == NULL)
		return HL_STORE_IO;
	if (store->failed)
		return store->failed;
	if (prefix == NULL)
		prefix = "";
	plen = strlen(prefix);
	if (snapshot(&store->staged, prefix, plen, &snap) != 0)
		return HL_STORE_NOMEM;
	/* fn's changes go to staged: records stay as they are */
	for (size_t i = 0; store->remote != NULL && i < store->records.count;
	     i++) {
		const struct change *c = &store->records.v[i];
		bool staged;

		if (c->value == NULL || strncmp(c->key, prefix, plen) != 0)
			continue;
		changes_find(&snap, c->key, &staged);
		if (!staged && (rc = fn(arg, c->key, c->value)) != 0)
			goto out;
	}

	key = store->db != NULL ? gdbm_firstkey(store->db) : (datum){ 0 };
	limit = store->db != NULL ? walk_limit(store->db) : 0;
	while (key.dptr != NULL) {
		char *k = datum_text(key), *value = NULL;
		datum next;
		bool staged;

		if (limit-- == 0) {
			free(k);
			free(key.dptr);
			log_damaged(store, "foreach", "its keys list in a loop");
			rc = HL_STORE_DAMAGED;
			goto out;
		}
		if (k == NULL) {
			free(key.dptr);
			if (errno == ENOMEM) {
				rc = HL_STORE_NOMEM;
			} else {
				log_damaged(store, "foreach",
					    "a key holds a NUL byte");
				rc = HL_STORE_DAMAGED;
			}
			goto out;
		}
		if (strncmp(k, prefix, plen) == 0 && !internal_key(k)) {
			changes_find(&snap, k, &staged);
			if (!staged) {
				rc = db_fetch(store, k, &value);
				if (rc == HL_STORE_NOTFOUND) {
					log_damaged(store, k,
						    "listed but unreadable");
					rc = HL_STORE_DAMAGED;
				}
				if (rc == HL_STORE_OK)
					rc = fn(arg, k, value);
				free(value);
				if (rc != HL_STORE_OK) {
					free(k);
					free(key.dptr);
					goto out;
				}
			}
		}
		free(k);
		next = gdbm_nextkey(store->db, key);
		free(key.dptr);
		key = next;
	}
	if (store->db != NULL &&
	    gdbm_last_errno(store->db) != GDBM_ITEM_NOT_FOUND &&
	    gdbm_last_errno(store->db) != GDBM_NO_ERROR) {
		rc = db_read_failed(store, "foreach");
		goto out;
	}
	for (size_t i = 0; i < snap.count; i++) {
		if (snap.v[i].value == NULL || internal_key(snap.v[i].key))
			continue;
		rc = fn(arg, snap.v[i].key, snap.v[i].value);
		if (rc != 0)
			break;
	}
out:
	changes_clear(&snap);
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

int hl_store_upgrade(struct hl_store *store)
{
	if (store == NULL || store->mode != HL_STORE_WRITE)
		return HL_STORE_IO;
	if (store->failed)
		return store->failed;
	/* Staged like any change, so the journal carries it: the new
	 * schema is written with the records that make it true. */
	if (changes_set(&store->staged, KEY_SCHEMA, HL_STORE_SCHEMA) != 0)
		return HL_STORE_NOMEM;
	store->user_changes++;
	return HL_STORE_OK;
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
	rc = db_writable(store);
	if (rc != HL_STORE_OK)
		return rc;
	journal = journal_encode(&store->staged);
	if (journal == NULL)
		return HL_STORE_NOMEM;
	/* Once the journal is in, the commit is decided. */
	if (gdbm_store(store->db, text_datum(KEY_JOURNAL), text_datum(journal),
		       GDBM_REPLACE) != 0) {
		free(journal);
		return db_write_failed(store, "commit");
	}
	free(journal);
	rc = db_apply(store, &store->staged);
	if (rc == HL_STORE_OK)
		rc = db_delete_journal(store);
	if (rc != HL_STORE_OK) {
		/* The journal stays: the next writer completes the commit. */
		hl_log(store->log, LOG_ERR,
		       "store %s: commit interrupted; the next writer will "
		       "complete it", store->path);
		store->failed = rc;
		return rc;
	}
	changes_clear(&store->staged);
	store->user_changes = 0;
	return HL_STORE_OK;
}

void hl_store_close(struct hl_store *store)
{
	if (store == NULL)
		return;
	db_close(store);	/* GDBM's last writes, and its flush */
	if (store->marked)
		writing_clear(store);
	close_fd(&store->fd);
	close_fd(&store->lockfd);	/* drops the lock */
	close_fd(&store->dirfd);
	changes_clear(&store->staged);
	if (store->remote != NULL)
		hl_remote_close(store->remote);
	free(store->remote);
	changes_clear(&store->records);
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

/* ---- Repair ------------------------------------------------------------- */

/* A record as GDBM's own index element describes it. */
struct pair {
	char *key;
	char *value;
};

/* Sorted by key, then value; no repeats. */
struct pairs {
	struct pair *v;
	size_t count;
	size_t cap;
};

struct repair {
	struct hl_store *s;
	struct hl_store_repair_report *report;
	char work[NAME_MAX + 1];	/* P.repair: the rebuilt store */
	char work_path[PATH_MAX];
	struct pairs valid;		/* what the file's index vouches for */
	bool compact;			/* rebuild a sound store too */
};

/* Reads every record of s->db; HL_STORE_DAMAGED at the first that can't
 * be read.  *keys: the records outside the internal keys. */
static int check_all(struct hl_store *s, unsigned long *keys)
{
	datum key = gdbm_firstkey(s->db);
	unsigned long limit = walk_limit(s->db);
	int rc = HL_STORE_OK;

	*keys = 0;
	while (key.dptr != NULL) {
		char *k = datum_text(key), *value = NULL;
		datum next;

		if (limit-- == 0) {
			free(k);
			free(key.dptr);
			log_damaged(s, "check", "its keys list in a loop");
			return HL_STORE_DAMAGED;
		}
		if (k == NULL) {
			free(key.dptr);
			log_damaged(s, "check", "a key holds a NUL byte");
			return HL_STORE_DAMAGED;
		}
		rc = db_fetch(s, k, &value);
		if (rc == HL_STORE_NOTFOUND) {
			log_damaged(s, k, "listed but unreadable");
			rc = HL_STORE_DAMAGED;
		}
		if (rc == HL_STORE_OK && !internal_key(k))
			(*keys)++;
		free(value);
		free(k);
		if (rc != HL_STORE_OK) {
			free(key.dptr);
			return rc;
		}
		next = gdbm_nextkey(s->db, key);
		free(key.dptr);
		key = next;
	}
	if (gdbm_last_errno(s->db) != GDBM_ITEM_NOT_FOUND &&
	    gdbm_last_errno(s->db) != GDBM_NO_ERROR)
		return db_read_failed(s, "check");
	if (gdbm_avail_verify(s->db) != 0) {
		log_damaged(s, "free space lists", gdbm_db_strerror(s->db));
		return HL_STORE_DAMAGED;
	}
	return HL_STORE_OK;
}

/* Removes what an interrupted creation or repair may have left. */
static void remove_leftovers(struct hl_store *s)
{
	char name[NAME_MAX + 1];
	size_t len;
	DIR *dir;
	struct dirent *e;
	int fd;

	if (name_with_suffix(name, sizeof(name), s->base, SUFFIX_NEW))
		unlinkat(s->dirfd, name, 0);
	if (!name_with_suffix(name, sizeof(name), s->base, SUFFIX_REPAIR))
		return;
	unlinkat(s->dirfd, name, 0);
	/* gdbm_recover's own temporary files: P.repair.XXXXXX */
	len = strlen(name);
	fd = openat(s->dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0 || (dir = fdopendir(fd)) == NULL) {
		if (fd >= 0)
			close(fd);
		return;
	}
	while ((e = readdir(dir)) != NULL)
		if (strncmp(e->d_name, name, len) == 0 &&
		    e->d_name[len] == '.' && strlen(e->d_name) == len + 7)
			unlinkat(s->dirfd, e->d_name, 0);
	closedir(dir);
}

/* Copies the open file from into a new file name in the store directory. */
static int copy_file(struct hl_store *s, int from, const char *name)
{
	char buf[65536];
	int to, rc = HL_STORE_OK;
	off_t off = 0;

	to = openat(s->dirfd, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW |
		    O_CLOEXEC, 0600);
	if (to < 0) {
		hl_log(s->log, LOG_ERR, "store %s: can't create %s: %s",
		       s->path, name, strerror(errno));
		return errno_rc(errno);
	}
	for (;;) {
		ssize_t n = pread(from, buf, sizeof(buf), off), w = 0;

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			hl_log(s->log, LOG_ERR, "store %s: read: %s", s->path,
			       strerror(errno));
			rc = HL_STORE_IO;
			break;
		}
		if (n == 0)
			break;
		while (w < n) {
			ssize_t m = write(to, buf + w, (size_t)(n - w));

			if (m < 0 && errno == EINTR)
				continue;
			if (m < 0) {
				hl_log(s->log, LOG_ERR, "store %s: write %s: %s",
				       s->path, name, strerror(errno));
				rc = HL_STORE_IO;
				goto out;
			}
			w += m;
		}
		off += n;
	}
out:
	if (close(to) != 0 && rc == HL_STORE_OK)
		rc = HL_STORE_IO;
	if (rc != HL_STORE_OK)
		unlinkat(s->dirfd, name, 0);
	return rc;
}

static void recover_errfun(void *data, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void recover_errfun(void *data, const char *fmt, ...)
{
	const struct hl_store *s = data;
	char message[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(message, sizeof(message), fmt, ap);
	va_end(ap);
	hl_log(s->log, LOG_WARNING, "store %s: recovery: %s", s->path,
	       message);
}

/* Whether GDBM can open the file at all (it may still need recovery). */
static bool header_readable(struct hl_store *s)
{
	int dup_fd = dup_for_gdbm(s->fd);
	GDBM_FILE probe;

	if (dup_fd < 0)
		return false;
	probe = gdbm_fd_open(dup_fd, s->path, 0,
			     GDBM_READER | DB_FLAGS | GDBM_CLOERROR, NULL);
	if (probe == NULL)
		return false;
	gdbm_close(probe);
	return true;
}

static void pairs_free(struct pairs *p)
{
	for (size_t i = 0; i < p->count; i++) {
		free(p->v[i].key);
		free(p->v[i].value);
	}
	free(p->v);
	memset(p, 0, sizeof(*p));
}

static int pair_cmp(const void *a, const void *b)
{
	const struct pair *x = a, *y = b;
	int cmp = strcmp(x->key, y->key);

	return cmp != 0 ? cmp : strcmp(x->value, y->value);
}

static bool pairs_has(const struct pairs *p, const char *key,
		      const char *value)
{
	struct pair want = { (char *)key, (char *)value };

	return p->count > 0 &&
	       bsearch(&want, p->v, p->count, sizeof(*p->v), pair_cmp) != NULL;
}

static int pairs_add(struct pairs *p, const char *key, size_t klen,
		     const char *value, size_t vlen)
{
	struct pair pair;

	if (p->count == p->cap) {
		size_t cap = p->cap ? p->cap * 2 : 64;
		struct pair *grown;

		if (cap > SIZE_MAX / sizeof(*grown) ||
		    (grown = realloc(p->v, cap * sizeof(*grown))) == NULL)
			return -1;
		p->v = grown;
		p->cap = cap;
	}
	pair.key = strndup(key, klen);
	pair.value = strndup(value, vlen);
	if (pair.key == NULL || pair.value == NULL) {
		free(pair.key);
		free(pair.value);
		return -1;
	}
	p->v[p->count++] = pair;
	return 0;
}

/* Sorts and drops repeats. */
static void pairs_finish(struct pairs *p)
{
	size_t out = 0;

	if (p->count == 0)
		return;
	qsort(p->v, p->count, sizeof(*p->v), pair_cmp);
	for (size_t i = 1; i < p->count; i++) {
		if (pair_cmp(&p->v[out], &p->v[i]) == 0) {
			free(p->v[i].key);
			free(p->v[i].value);
		} else {
			p->v[++out] = p->v[i];
		}
	}
	p->count = out + 1;
}

/* GDBM's hash, as it computes it (char signedness included), to check
 * that what looks like a bucket element really is one. */
static int gdbm_hash_of(const char *key, int len)
{
	unsigned value = 0x238F13AFu * (unsigned)len;

	for (int i = 0; i < len; i++)
		value = (value + ((unsigned)key[i] << ((unsigned)i * 5 % 24))) &
			0x7FFFFFFF;
	value = (1103515243u * value + 12345) & 0x7FFFFFFF;
	return (int)value;
}

/*
 * Every record the file's index elements vouch for.  An element (GDBM 1.23,
 * 64-bit off_t) is
 *   int hash; char key_start[4]; off_t data; int key_size; int data_size;
 * and is believed only when the key read at data starts with key_start and
 * hashes to hash, and neither key nor value holds a NUL.  Elements are
 * looked for at every offset: the header may be gone.  Stale copies of
 * buckets (freed after a split) are found too, so a key may come with
 * several values.
 */
static int scan_records(const char *file, size_t size, struct pairs *out)
{
	memset(out, 0, sizeof(*out));
	for (size_t off = 0; size >= 24 && off <= size - 24; off++) {
		int32_t hash, ksize, dsize;
		int64_t data;

		memcpy(&hash, file + off, 4);
		if (hash < 0)
			continue;
		memcpy(&ksize, file + off + 16, 4);
		if (ksize <= 0 || ksize > SALVAGE_KEY_MAX)
			continue;
		memcpy(&dsize, file + off + 20, 4);
		memcpy(&data, file + off + 8, 8);
		if (dsize < 0 || data < 0 || (uint64_t)data > size ||
		    (uint64_t)ksize + (uint64_t)dsize > size - (uint64_t)data)
			continue;
		if (memcmp(file + off + 4, file + data,
			   ksize < 4 ? (size_t)ksize : 4) != 0 ||
		    gdbm_hash_of(file + data, ksize) != hash ||
		    memchr(file + data, '\0', (size_t)ksize + (size_t)dsize))
			continue;
		if (pairs_add(out, file + data, (size_t)ksize,
			      file + data + ksize, (size_t)dsize) != 0) {
			pairs_free(out);
			return HL_STORE_NOMEM;
		}
	}
	pairs_finish(out);
	return HL_STORE_OK;
}

/* scan_records over the whole of s->fd. */
static int validated_records(struct hl_store *s, struct pairs *out)
{
	struct stat st;
	char *file;
	size_t got = 0;
	int rc;

	memset(out, 0, sizeof(*out));
	if (fstat(s->fd, &st) != 0)
		return HL_STORE_IO;
	if (st.st_size < 0 || (uint64_t)st.st_size > (uint64_t)1 << 30) {
		hl_log(s->log, LOG_ERR, "store %s: too big to check", s->path);
		return HL_STORE_IO;
	}
	file = malloc((size_t)st.st_size + 1);
	if (file == NULL)
		return HL_STORE_NOMEM;
	while (got < (size_t)st.st_size) {
		ssize_t n = pread(s->fd, file + got, (size_t)st.st_size - got,
				  (off_t)got);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		got += (size_t)n;
	}
	rc = scan_records(file, got, out);
	free(file);
	return rc;
}

/* A key of s->db as GDBM hands it out, NUL bytes and all. */
struct raw_keys {
	datum *v;
	size_t count;
	size_t cap;
};

static void raw_keys_free(struct raw_keys *k)
{
	for (size_t i = 0; i < k->count; i++)
		free(k->v[i].dptr);
	free(k->v);
	memset(k, 0, sizeof(*k));
}

/*
 * The keys of s->db whose record is not one that valid vouches for: what
 * a damaged index made up (space handed out twice, a torn bucket), which
 * gdbm_recover copies as faithfully as the rest.  *listed: keys seen.
 */
static int unvouched_keys(struct hl_store *s, const struct pairs *valid,
			  struct raw_keys *bad, unsigned long *listed)
{
	datum key = gdbm_firstkey(s->db);
	unsigned long limit = walk_limit(s->db);

	memset(bad, 0, sizeof(*bad));
	*listed = 0;
	while (key.dptr != NULL) {
		char *k, *value = NULL;
		bool ok = false;
		datum next;

		if (limit-- == 0) {
			free(key.dptr);
			raw_keys_free(bad);
			log_damaged(s, "check", "its keys list in a loop");
			return HL_STORE_DAMAGED;
		}
		k = datum_text(key);
		(*listed)++;
		if (k != NULL && db_fetch(s, k, &value) == HL_STORE_OK)
			ok = pairs_has(valid, k, value);
		free(k);
		free(value);
		next = gdbm_nextkey(s->db, key);
		if (ok) {
			free(key.dptr);
		} else {
			if (bad->count == bad->cap) {
				size_t cap = bad->cap ? bad->cap * 2 : 16;
				datum *grown = realloc(bad->v,
						       cap * sizeof(*grown));

				if (grown == NULL) {
					free(key.dptr);
					free(next.dptr);
					raw_keys_free(bad);
					return HL_STORE_NOMEM;
				}
				bad->v = grown;
				bad->cap = cap;
			}
			bad->v[bad->count++] = key;
		}
		key = next;
	}
	if (gdbm_last_errno(s->db) != GDBM_ITEM_NOT_FOUND &&
	    gdbm_last_errno(s->db) != GDBM_NO_ERROR) {
		raw_keys_free(bad);
		return db_read_failed(s, "check");
	}
	return HL_STORE_OK;
}

static void log_dropped(struct hl_store *s, datum key, const char *why)
{
	char text[SALVAGE_KEY_MAX + 1], shown[128];
	size_t len = key.dsize < 0 ? 0 : (size_t)key.dsize;

	if (len > SALVAGE_KEY_MAX)
		len = SALVAGE_KEY_MAX;
	memcpy(text, key.dptr, len);
	text[len] = '\0';	/* a NUL inside cuts the shown key short */
	hl_log(s->log, LOG_WARNING, "store %s: record %s %s: left out",
	       s->path, hl_printable(text, shown, sizeof(shown)), why);
}

/* The header is readable: GDBM rebuilds from every bucket it can read,
 * working on a copy, P.repair; then what the index made up is dropped.
 * On success r->s->db is a writer on it. */
static int rebuild_gdbm(struct repair *r)
{
	struct hl_store *s = r->s;
	gdbm_recovery rcvr;
	struct raw_keys bad;
	unsigned long listed;
	int rc, dup_fd;

	rc = copy_file(s, s->fd, r->work);
	if (rc != HL_STORE_OK)
		return rc;
	dup_fd = openat(s->dirfd, r->work, O_RDWR | O_NOFOLLOW | O_CLOEXEC);
	if (dup_fd < 0)
		return errno_rc(errno);
	s->db = gdbm_fd_open(dup_fd, r->work_path, 0,
			     GDBM_WRITER | DB_FLAGS | GDBM_CLOERROR, NULL);
	if (s->db == NULL)
		return HL_STORE_DAMAGED;
	s->writer = true;
	db_tune(s->db);
	memset(&rcvr, 0, sizeof(rcvr));
	rcvr.errfun = recover_errfun;
	rcvr.data = s;
	if (gdbm_recover(s->db, &rcvr, GDBM_RCVR_ERRFUN | GDBM_RCVR_FORCE) != 0) {
		hl_log(s->log, LOG_WARNING, "store %s: GDBM recovery failed: %s",
		       s->path, gdbm_db_strerror(s->db));
		free(rcvr.backup_name);
		db_close(s);
		return HL_STORE_DAMAGED;
	}
	free(rcvr.backup_name);
	db_tune(s->db);		/* gdbm_recover swapped the file under it */
	r->report->keys_lost += rcvr.failed_keys + rcvr.duplicate_keys;
	r->report->buckets_lost += rcvr.failed_buckets;

	rc = unvouched_keys(s, &r->valid, &bad, &listed);
	if (rc != HL_STORE_OK)
		return rc;
	for (size_t i = 0; i < bad.count && rc == HL_STORE_OK; i++) {
		log_dropped(s, bad.v[i], "does not match its index entry");
		if (gdbm_delete(s->db, bad.v[i]) != 0)
			rc = db_write_failed(s, "repair");
		r->report->keys_lost++;
	}
	raw_keys_free(&bad);
	return rc;
}

/* The header is unreadable: rebuild P.repair from the records the scan
 * found.  A key found with two different values (a stale copy of a
 * bucket) is left out.  On success r->s->db is a writer on it. */
static int rebuild_salvage(struct repair *r)
{
	struct hl_store *s = r->s;
	const struct pairs *found = &r->valid;
	struct changes records;
	int rc = HL_STORE_OK, fd;

	r->report->salvaged = true;
	memset(&records, 0, sizeof(records));
	for (size_t i = 0; i < found->count; i++) {
		size_t j = i;

		while (j + 1 < found->count &&
		       strcmp(found->v[j + 1].key, found->v[i].key) == 0)
			j++;
		if (j > i) {
			char shown[128];

			hl_log(s->log, LOG_WARNING,
			       "store %s: salvage: key %s found with %zu "
			       "different values: left out", s->path,
			       hl_printable(found->v[i].key, shown,
					    sizeof(shown)), j - i + 1);
			r->report->keys_lost++;
		} else if (changes_set(&records, found->v[i].key,
				       found->v[i].value) != 0) {
			rc = HL_STORE_NOMEM;
			goto out;
		}
		i = j;
	}

	fd = openat(s->dirfd, r->work, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW |
		    O_CLOEXEC, 0600);
	if (fd < 0) {
		rc = errno_rc(errno);
		goto out;
	}
	s->db = gdbm_fd_open(fd, r->work_path, 0,
			     GDBM_NEWDB | DB_FLAGS | GDBM_CLOERROR, NULL);
	if (s->db == NULL) {
		hl_log(s->log, LOG_ERR, "store %s: can't create %s: %s",
		       s->path, r->work, gdbm_strerror(gdbm_errno));
		rc = HL_STORE_IO;
		goto out;
	}
	s->writer = true;
	db_tune(s->db);
	rc = db_apply(s, &records);
out:
	changes_clear(&records);
	return rc;
}

/* Hard-links the damaged file as P.damaged-YYYYMMDD-HHMMSS[-N]. */
static int keep_backup(struct repair *r)
{
	struct hl_store *s = r->s;
	char stamp[32], name[NAME_MAX + 1];
	struct tm tm;
	time_t now = time(NULL);

	if (localtime_r(&now, &tm) == NULL ||
	    strftime(stamp, sizeof(stamp), "%Y%m%d-%H%M%S", &tm) == 0)
		return HL_STORE_IO;
	for (int n = 1; n < 100; n++) {
		char suffix[64];
		int rc;

		if (n == 1)
			snprintf(suffix, sizeof(suffix), "%s%s", SUFFIX_DAMAGED,
				 stamp);
		else
			snprintf(suffix, sizeof(suffix), "%s%s-%d",
				 SUFFIX_DAMAGED, stamp, n);
		if (!name_with_suffix(name, sizeof(name), s->base, suffix))
			return HL_STORE_IO;
		if (linkat(s->dirfd, s->base, s->dirfd, name, 0) == 0)
			rc = HL_STORE_OK;
		else if (errno == EEXIST)
			continue;
		else if (errno == EPERM || errno == EOPNOTSUPP ||
			 errno == EMLINK)
			rc = copy_file(s, s->fd, name);	/* no hard links */
		else
			rc = errno_rc(errno);
		if (rc != HL_STORE_OK) {
			hl_log(s->log, LOG_ERR,
			       "store %s: can't keep a backup: %s", s->path,
			       strerror(errno));
			return rc;
		}
		snprintf(r->report->backup, sizeof(r->report->backup), "%s%s",
			 s->path, suffix);
		return HL_STORE_OK;
	}
	return HL_STORE_IO;
}

/* Finishes the rebuilt store (schema, journal), backs the damaged file up
 * and renames the new one into its place. */
static int finish_rebuild(struct repair *r)
{
	struct hl_store *s = r->s;
	unsigned long keys;
	char *schema = NULL;
	int rc;

	rc = db_fetch(s, KEY_SCHEMA, &schema);
	if (rc == HL_STORE_NOTFOUND) {
		hl_log(s->log, LOG_WARNING,
		       "store %s: schema key lost; set to %s", s->path,
		       HL_STORE_SCHEMA);
		if (gdbm_store(s->db, text_datum(KEY_SCHEMA),
			       text_datum(HL_STORE_SCHEMA), GDBM_REPLACE) != 0)
			return db_write_failed(s, "repair");
	} else if (rc != HL_STORE_OK) {
		return rc;
	} else if (!schema_known(schema)) {
		char shown[64];

		hl_log(s->log, LOG_ERR,
		       "store %s has schema version %s; this release reads "
		       "versions %s and %s: refusing to touch it", s->path,
		       hl_printable(schema, shown, sizeof(shown)),
		       HL_STORE_SCHEMA_LEGACY, HL_STORE_SCHEMA);
		free(schema);
		return HL_STORE_VERSION;
	}
	free(schema);
	rc = store_journal(s, &r->report->journal_replayed);
	if (rc == HL_STORE_OK)
		rc = check_all(s, &keys);
	if (rc != HL_STORE_OK)
		return rc;
	r->report->keys = keys;
	db_close(s);		/* everything written */
	/* A sound store compacted is no damaged one to keep. */
	rc = r->report->damaged ? keep_backup(r) : HL_STORE_OK;
	if (rc != HL_STORE_OK)
		return rc;
	if (renameat(s->dirfd, r->work, s->dirfd, s->base) != 0) {
		hl_log(s->log, LOG_ERR, "store %s: can't put the rebuilt "
		       "store in place: %s", s->path, strerror(errno));
		return errno_rc(errno);
	}
	return HL_STORE_OK;
}

static int repair_file(const char *path, unsigned lock_timeout,
		       const struct hl_logger *log,
		       struct hl_store_repair_report *report, bool compact)
{
	struct hl_store_repair_report dummy;
	struct repair r;
	struct hl_store *s;
	struct raw_keys bad;
	bool missing, empty;
	unsigned long keys;
	int rc, err;

	if (report == NULL)
		report = &dummy;
	memset(report, 0, sizeof(*report));
	memset(&r, 0, sizeof(r));
	r.compact = compact;
	memset(&bad, 0, sizeof(bad));
	s = store_new(path, HL_STORE_WRITE, log, &rc);
	if (s == NULL)
		return rc;
	r.s = s;
	r.report = report;
	rc = store_open_dir(s, false, &missing);
	if (rc != HL_STORE_OK || missing)
		goto out;
	rc = store_lock(s, lock_timeout, &empty);
	if (rc != HL_STORE_OK)
		goto out;
	remove_leftovers(s);
	rc = open_checked(s, s->base, O_RDONLY, &s->fd, &err);
	if (rc == HL_STORE_NOTFOUND) {
		missing = true;
		rc = HL_STORE_OK;
		goto out;
	}
	if (rc != HL_STORE_OK)
		goto out;
	rc = validated_records(s, &r.valid);
	if (rc != HL_STORE_OK)
		goto out;

	/* The check: what a reader would do, then every record, each of
	 * which must match an index element of its own. */
	rc = db_open(s, false);
	if (rc == HL_STORE_OK) {
		rc = store_check_schema(s);
		if (rc == HL_STORE_VERSION)
			goto out;
		if (rc == HL_STORE_OK)
			rc = check_all(s, &keys);
		if (rc == HL_STORE_OK)
			rc = unvouched_keys(s, &r.valid, &bad, &keys);
		if (rc == HL_STORE_OK && bad.count > 0) {
			log_dropped(s, bad.v[0], "does not match its index "
				    "entry (space handed out twice?)");
			rc = HL_STORE_DAMAGED;
		}
		raw_keys_free(&bad);
	}
	if (rc == HL_STORE_NOMEM)
		goto out;
	if (rc == HL_STORE_OK) {
		/* Sound.  An interrupted commit is completed as a writer
		 * would. */
		db_close(s);
		close_fd(&s->fd);
		rc = store_load(s, &report->journal_replayed);
		if (rc == HL_STORE_OK)
			rc = check_all(s, &report->keys);
		if (rc == HL_STORE_OK && !compact) {
			hl_log(log, LOG_INFO, "store %s is sound (%lu keys)",
			       path, report->keys);
			goto out;
		}
		if (rc != HL_STORE_OK && rc != HL_STORE_DAMAGED)
			goto out;
		db_close(s);
	}

	/* Damaged (or compacting): rebuild into P.repair. */
	report->damaged = rc != HL_STORE_OK;
	db_close(s);
	if (!name_with_suffix(r.work, sizeof(r.work), s->base, SUFFIX_REPAIR) ||
	    snprintf(r.work_path, sizeof(r.work_path), "%s%s", path,
		     SUFFIX_REPAIR) >= (int)sizeof(r.work_path)) {
		rc = HL_STORE_IO;
		goto out;
	}
	/* GDBM's own recovery when the header can be read, else a scan. */
	rc = header_readable(s) ? rebuild_gdbm(&r) : HL_STORE_DAMAGED;
	if (rc == HL_STORE_DAMAGED) {
		db_close(s);
		remove_leftovers(s);
		report->keys_lost = report->buckets_lost = 0;
		rc = rebuild_salvage(&r);
	}
	if (rc == HL_STORE_OK)
		rc = finish_rebuild(&r);
	if (rc != HL_STORE_OK) {
		db_close(s);
		unlinkat(s->dirfd, r.work, 0);
		report->backup[0] = '\0';
		hl_log(log, LOG_ERR, "store %s: repair failed: %s", path,
		       hl_store_strerror(rc));
		goto out;
	}
	if (!report->damaged) {
		hl_log(log, LOG_INFO, "store %s compacted (%lu keys)", path,
		       report->keys);
		goto out;
	}
	hl_log(log, LOG_NOTICE,
	       "store %s was damaged and has been rebuilt%s: %lu keys kept, "
	       "%lu lost, %lu unreadable buckets; the damaged file is kept "
	       "as %s", path, report->salvaged ? " from a scan of the file" : "",
	       report->keys, report->keys_lost, report->buckets_lost,
	       report->backup);
out:
	report->missing = missing && rc == HL_STORE_OK;
	pairs_free(&r.valid);
	if (rc == HL_STORE_OK) {
		db_close(s);
		writing_clear(s);	/* checked, and sound now */
	}
	hl_store_close(s);
	return rc;
}

int hl_store_repair(const char *path, unsigned lock_timeout,
		    const struct hl_logger *log,
		    struct hl_store_repair_report *report)
{
	return repair_file(path, lock_timeout, log, report, false);
}

int hl_store_compact(const char *path, unsigned lock_timeout,
		     const struct hl_logger *log,
		     struct hl_store_repair_report *report)
{
	return repair_file(path, lock_timeout, log, report, true);
}
