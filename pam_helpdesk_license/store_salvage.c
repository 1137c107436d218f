/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The salvage scanner: the records of a GDBM file found by its index
 * elements alone (GDBM's hash re-done), header or no header.  The repair
 * checks every record against them, and rebuilds from them a file whose
 * header is gone.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "store_impl.h"
#include "text.h"

static int pair_cmp(const void *a, const void *b)
{
	const struct hl_store_record *x = a, *y = b;
	int cmp = strcmp(x->key, y->key);

	return cmp != 0 ? cmp : strcmp(x->value, y->value);
}

bool store_salvage_vouches(const struct hl_store_records *p, const char *key,
		      const char *value)
{
	struct hl_store_record want = { (char *)key, (char *)value };

	return p->count > 0 && bsearch(&want, p->items, p->count,
				       sizeof(*p->items), pair_cmp) != NULL;
}

static int pairs_add(struct hl_store_records *p, const char *key, size_t klen,
		     const char *value, size_t vlen)
{
	char *copy = strndup(value, vlen);

	if (copy == NULL)
		return -1;
	return hl_store_records_take(p, p->count, strndup(key, klen), copy) ==
			       HL_STORE_OK ? 0 : -1;
}

/* Sorts by key, then value, and drops repeats. */
static void pairs_finish(struct hl_store_records *p)
{
	size_t out = 0;

	if (p->count == 0)
		return;
	qsort(p->items, p->count, sizeof(*p->items), pair_cmp);
	for (size_t i = 1; i < p->count; i++) {
		if (pair_cmp(&p->items[out], &p->items[i]) == 0) {
			free(p->items[i].key);
			free(p->items[i].value);
		} else {
			p->items[++out] = p->items[i];
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
static int scan_records(const char *file, size_t size,
			struct hl_store_records *out)
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
			hl_store_records_free(out);
			return HL_STORE_NOMEM;
		}
	}
	pairs_finish(out);
	return HL_STORE_OK;
}

/* scan_records over the whole of s->fd. */
int store_salvage_scan(struct hl_store *s, struct hl_store_records *out)
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

/* The header is unreadable: rebuild P.repair from the records the scan
 * found.  A key found with two different values (a stale copy of a
 * bucket) is left out.  On success r->s->db is a writer on it. */
int store_salvage_rebuild(struct repair *r)
{
	struct hl_store *s = r->s;
	const struct hl_store_records *found = &r->valid;
	struct hl_store_records records;
	int rc = HL_STORE_OK, fd;

	r->report->salvaged = true;
	memset(&records, 0, sizeof(records));
	for (size_t i = 0; i < found->count; i++) {
		size_t j = i;

		while (j + 1 < found->count && strcmp(found->items[j + 1].key,
						      found->items[i].key) == 0)
			j++;
		if (j > i) {
			char shown[128];

			hl_log(s->log, LOG_WARNING,
			       "store %s: salvage: key %s found with %zu "
			       "different values: left out", s->path,
			       hl_printable(found->items[i].key, shown,
					    sizeof(shown)), j - i + 1);
			r->report->keys_lost++;
		} else if (store_changes_set(&records, found->items[i].key,
				       found->items[i].value) != 0) {
			rc = HL_STORE_NOMEM;
			goto out;
		}
		i = j;
	}

	fd = openat(s->dirfd, r->work, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW |
		    O_CLOEXEC, 0600);
	if (fd < 0) {
		rc = store_errno_rc(errno);
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
	store_db_tune(s->db);
	rc = store_db_apply(s, &records);
out:
	hl_store_records_free(&records);
	return rc;
}
