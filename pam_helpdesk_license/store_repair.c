/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The check and in-place rebuild of a damaged GDBM store: run by a login
 * that finds damage (allocation.c) and by the admin tool's repair.
 */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "store_impl.h"
#include "text.h"

/* Reads every record of s->db; HL_STORE_DAMAGED at the first that can't
 * be read.  *keys: the records outside the internal keys. */
static int check_all(struct hl_store *s, unsigned long *keys)
{
	struct store_walk walk;
	int rc = HL_STORE_OK;

	*keys = 0;
	store_walk_begin(&walk, s, "check");
	while (rc == HL_STORE_OK && store_walk_step(&walk)) {
		char *k = store_datum_text(walk.key), *value = NULL;

		if (k == NULL) {
			store_log_damaged(s, "check", "a key holds a NUL byte");
			rc = HL_STORE_DAMAGED;
			break;
		}
		rc = store_db_fetch(s, k, &value);
		if (rc == HL_STORE_NOTFOUND) {
			store_log_damaged(s, k, "listed but unreadable");
			rc = HL_STORE_DAMAGED;
		}
		if (rc == HL_STORE_OK && !store_internal_key(k))
			(*keys)++;
		free(value);
		free(k);
	}
	store_walk_stop(&walk);
	if (rc == HL_STORE_OK)
		rc = walk.rc;
	if (rc == HL_STORE_OK && gdbm_avail_verify(s->db) != 0) {
		store_log_damaged(s, "free space lists",
				  gdbm_db_strerror(s->db));
		return HL_STORE_DAMAGED;
	}
	return rc;
}

/* Removes what an interrupted creation or repair may have left. */
static void remove_leftovers(struct hl_store *s)
{
	char name[NAME_MAX + 1];
	size_t len;
	DIR *dir;
	struct dirent *e;
	int fd;

	if (store_name_with_suffix(name, sizeof(name), s->base, SUFFIX_NEW))
		unlinkat(s->dirfd, name, 0);
	if (!store_name_with_suffix(name, sizeof(name), s->base, SUFFIX_REPAIR))
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
		return store_errno_rc(errno);
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
				hl_log(s->log, LOG_ERR,
				       "store %s: write %s: %s", s->path, name,
				       strerror(errno));
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
	int dup_fd = store_dup_for_gdbm(s->fd);
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

/* A key of s->db as GDBM hands it out, NUL bytes and all. */
struct raw_keys {
	datum *items;
	size_t count;
	size_t allocated;
};

static void raw_keys_free(struct raw_keys *k)
{
	for (size_t i = 0; i < k->count; i++)
		free(k->items[i].dptr);
	free(k->items);
	memset(k, 0, sizeof(*k));
}

/* Keeps key (not a copy: on success k owns it). */
static int raw_keys_add(struct raw_keys *k, datum key)
{
	if (k->count == k->allocated) {
		size_t allocated = k->allocated ? k->allocated * 2 : 16;
		datum *grown = realloc(k->items, allocated * sizeof(*grown));

		if (grown == NULL)
			return -1;
		k->items = grown;
		k->allocated = allocated;
	}
	k->items[k->count++] = key;
	return 0;
}

/*
 * The keys of s->db whose record is not one that valid vouches for: what
 * a damaged index made up (space handed out twice, a torn bucket), which
 * gdbm_recover copies as faithfully as the rest.  *listed: keys seen.
 */
static int unvouched_keys(struct hl_store *s,
			  const struct hl_store_records *valid,
			  struct raw_keys *bad, unsigned long *listed)
{
	struct store_walk walk;

	memset(bad, 0, sizeof(*bad));
	*listed = 0;
	store_walk_begin(&walk, s, "check");
	while (store_walk_step(&walk)) {
		char *k = store_datum_text(walk.key), *value = NULL;
		bool ok = false;

		(*listed)++;
		if (k != NULL && store_db_fetch(s, k, &value) == HL_STORE_OK)
			ok = store_salvage_vouches(valid, k, value);
		free(k);
		free(value);
		if (ok)
			continue;
		if (raw_keys_add(bad, walk.key) != 0) {
			store_walk_stop(&walk);
			raw_keys_free(bad);
			return HL_STORE_NOMEM;
		}
		store_walk_take(&walk);
	}
	if (walk.rc != HL_STORE_OK)
		raw_keys_free(bad);
	return walk.rc;
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
		return store_errno_rc(errno);
	s->db = gdbm_fd_open(dup_fd, r->work_path, 0,
			     GDBM_WRITER | DB_FLAGS | GDBM_CLOERROR, NULL);
	if (s->db == NULL)
		return HL_STORE_DAMAGED;
	s->writer = true;
	store_db_tune(s->db);
	memset(&rcvr, 0, sizeof(rcvr));
	rcvr.errfun = recover_errfun;
	rcvr.data = s;
	if (gdbm_recover(s->db, &rcvr, GDBM_RCVR_ERRFUN | GDBM_RCVR_FORCE) !=
	    0) {
		hl_log(s->log, LOG_WARNING,
		       "store %s: GDBM recovery failed: %s", s->path,
		       gdbm_db_strerror(s->db));
		free(rcvr.backup_name);
		store_db_close(s);
		return HL_STORE_DAMAGED;
	}
	free(rcvr.backup_name);
	store_db_tune(s->db); /* gdbm_recover swapped the file under it */
	r->report->keys_lost += rcvr.failed_keys + rcvr.duplicate_keys;
	r->report->buckets_lost += rcvr.failed_buckets;

	rc = unvouched_keys(s, &r->valid, &bad, &listed);
	if (rc != HL_STORE_OK)
		return rc;
	for (size_t i = 0; i < bad.count && rc == HL_STORE_OK; i++) {
		log_dropped(s, bad.items[i], "does not match its index entry");
		if (gdbm_delete(s->db, bad.items[i]) != 0)
			rc = store_db_write_failed(s, "repair");
		r->report->keys_lost++;
	}
	raw_keys_free(&bad);
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
		if (!store_name_with_suffix(name, sizeof(name), s->base,
					    suffix))
			return HL_STORE_IO;
		if (linkat(s->dirfd, s->base, s->dirfd, name, 0) == 0)
			rc = HL_STORE_OK;
		else if (errno == EEXIST)
			continue;
		else if (errno == EPERM || errno == EOPNOTSUPP ||
			 errno == EMLINK)
			rc = copy_file(s, s->fd, name); /* no hard links */
		else
			rc = store_errno_rc(errno);
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

	rc = store_db_fetch(s, KEY_SCHEMA, &schema);
	if (rc == HL_STORE_NOTFOUND) {
		hl_log(s->log, LOG_WARNING,
		       "store %s: schema key lost; set to %s", s->path,
		       HL_STORE_SCHEMA);
		if (gdbm_store(s->db, store_text_datum(KEY_SCHEMA),
			       store_text_datum(HL_STORE_SCHEMA),
			       GDBM_REPLACE) != 0)
			return store_db_write_failed(s, "repair");
	} else if (rc != HL_STORE_OK) {
		return rc;
	} else if (!store_schema_known(schema)) {
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
	store_db_close(s);		/* everything written */
	/* A sound store compacted is no damaged one to keep. */
	rc = r->report->damaged ? keep_backup(r) : HL_STORE_OK;
	if (rc != HL_STORE_OK)
		return rc;
	if (renameat(s->dirfd, r->work, s->dirfd, s->base) != 0) {
		hl_log(s->log, LOG_ERR, "store %s: can't put the rebuilt "
		       "store in place: %s", s->path, strerror(errno));
		return store_errno_rc(errno);
	}
	return HL_STORE_OK;
}

/* Opens and locks the store at r->s for the repair and reads what the
 * file's index vouches for.  *missing: there is no store to repair. */
static int repair_open(struct repair *r, unsigned lock_timeout, bool *missing)
{
	struct hl_store *s = r->s;
	bool empty;
	int rc, err;

	rc = store_open_dir(s, false, missing);
	if (rc != HL_STORE_OK || *missing)
		return rc;
	rc = store_lock(s, lock_timeout, &empty);
	if (rc != HL_STORE_OK)
		return rc;
	remove_leftovers(s);
	rc = store_open_checked(s, s->base, O_RDONLY, &s->fd, &err);
	if (rc == HL_STORE_NOTFOUND) {
		*missing = true;
		return HL_STORE_OK;
	}
	if (rc != HL_STORE_OK)
		return rc;
	return store_salvage_scan(s, &r->valid);
}

/* The check: what a reader would do, then every record, each of which
 * must match an index element of its own.  HL_STORE_OK: sound. */
static int repair_check(struct repair *r)
{
	struct hl_store *s = r->s;
	struct raw_keys bad;
	unsigned long keys;
	int rc;

	memset(&bad, 0, sizeof(bad));
	rc = store_db_open(s, false);
	if (rc != HL_STORE_OK)
		return rc;
	rc = store_check_schema(s);
	if (rc == HL_STORE_VERSION)
		return rc;
	if (rc == HL_STORE_OK)
		rc = check_all(s, &keys);
	if (rc == HL_STORE_OK)
		rc = unvouched_keys(s, &r->valid, &bad, &keys);
	if (rc == HL_STORE_OK && bad.count > 0) {
		log_dropped(s, bad.items[0], "does not match its index "
			    "entry (space handed out twice?)");
		rc = HL_STORE_DAMAGED;
	}
	raw_keys_free(&bad);
	return rc;
}

/* A sound store: an interrupted commit is completed as a writer would,
 * and what that leaves is checked once more. */
static int repair_load_sound(struct repair *r)
{
	struct hl_store *s = r->s;
	int rc;

	store_db_close(s);
	store_close_fd(&s->fd);
	rc = store_load(s, &r->report->journal_replayed);
	if (rc == HL_STORE_OK)
		rc = check_all(s, &r->report->keys);
	return rc;
}

/* Rebuilds the store into P.repair and puts it in place; on failure
 * what was half built goes. */
static int repair_rebuild(struct repair *r)
{
	struct hl_store *s = r->s;
	int rc;

	if (!store_name_with_suffix(r->work, sizeof(r->work), s->base,
				    SUFFIX_REPAIR) ||
	    snprintf(r->work_path, sizeof(r->work_path), "%s%s", s->path,
		     SUFFIX_REPAIR) >= (int)sizeof(r->work_path))
		return HL_STORE_IO;
	/* GDBM's own recovery when the header can be read, else a scan. */
	rc = header_readable(s) ? rebuild_gdbm(r) : HL_STORE_DAMAGED;
	if (rc == HL_STORE_DAMAGED) {
		store_db_close(s);
		remove_leftovers(s);
		r->report->keys_lost = r->report->buckets_lost = 0;
		rc = store_salvage_rebuild(r);
	}
	if (rc == HL_STORE_OK)
		rc = finish_rebuild(r);
	if (rc != HL_STORE_OK) {
		store_db_close(s);
		unlinkat(s->dirfd, r->work, 0);
		r->report->backup[0] = '\0';
		hl_log(s->log, LOG_ERR, "store %s: repair failed: %s", s->path,
		       hl_store_strerror(rc));
	}
	return rc;
}

static void log_repaired(const char *path, const struct hl_logger *log,
			 const struct hl_store_repair_report *report)
{
	if (!report->damaged) {
		hl_log(log, LOG_INFO, "store %s compacted (%lu keys)", path,
		       report->keys);
		return;
	}
	hl_log(log, LOG_NOTICE,
	       "store %s was damaged and has been rebuilt%s: %lu keys kept, "
	       "%lu lost, %lu unreadable buckets; the damaged file is kept "
	       "as %s",
	       path, report->salvaged ? " from a scan of the file" : "",
	       report->keys, report->keys_lost, report->buckets_lost,
	       report->backup);
}

static int repair_file(const char *path, unsigned lock_timeout,
		       const struct hl_logger *log,
		       struct hl_store_repair_report *report, bool compact)
{
	struct hl_store_repair_report dummy;
	struct repair r;
	struct hl_store *s;
	bool missing = false;
	int rc;

	if (report == NULL)
		report = &dummy;
	memset(report, 0, sizeof(*report));
	memset(&r, 0, sizeof(r));
	r.compact = compact;
	s = store_new(path, HL_STORE_WRITE, log, &rc);
	if (s == NULL)
		return rc;
	r.s = s;
	r.report = report;
	rc = repair_open(&r, lock_timeout, &missing);
	if (rc != HL_STORE_OK || missing)
		goto out;

	rc = repair_check(&r);
	if (rc == HL_STORE_VERSION || rc == HL_STORE_NOMEM)
		goto out;
	if (rc == HL_STORE_OK) {
		rc = repair_load_sound(&r);
		if (rc == HL_STORE_OK && !compact) {
			hl_log(log, LOG_INFO, "store %s is sound (%lu keys)",
			       path, report->keys);
			goto out;
		}
		if (rc != HL_STORE_OK && rc != HL_STORE_DAMAGED)
			goto out;
		store_db_close(s);
	}

	/* Damaged (or compacting): rebuild into P.repair. */
	report->damaged = rc != HL_STORE_OK;
	store_db_close(s);
	rc = repair_rebuild(&r);
	if (rc == HL_STORE_OK)
		log_repaired(path, log, report);
out:
	report->missing = missing && rc == HL_STORE_OK;
	hl_store_records_free(&r.valid);
	if (rc == HL_STORE_OK) {
		store_db_close(s);
		store_writing_clear(s);	/* checked, and sound now */
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
