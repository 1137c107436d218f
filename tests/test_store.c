/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Unit tests of the license store (store.c).  Everything happens under a
 * mkdtemp directory, removed at the end.  They all run twice: on the disk
 * (/tmp, where the durable store lives) and, when /dev/shm is tmpfs, on
 * tmpfs (where the runtime store lives, and a WRITE transaction opens GDBM
 * as a writer at once).  The tests open the GDBM file
 * directly to plant what a killed process or another release would leave:
 * a journal, another schema, garbage.
 */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <gdbm.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include <linux/magic.h>

#include "store.h"
#include "support.h"

/* Where the fixtures' directories are made: set by main for each round. */
static const char *fixture_parent = "/tmp";

struct fixture {
	char tmp[64];
	char dir[128];		/* the store directory (not created) */
	char path[160];		/* dir/licenses.db */
	char lock[176];
	char log[TS_LOG_SIZE];	/* what the store logged */
	struct hl_logger logger;
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	if (f == NULL)
		return -1;
	ts_make_temp_dir(f->tmp, sizeof(f->tmp), fixture_parent, "test_store");
	snprintf(f->dir, sizeof(f->dir), "%s/store", f->tmp);
	snprintf(f->path, sizeof(f->path), "%s/licenses.db", f->dir);
	snprintf(f->lock, sizeof(f->lock), "%s.lock", f->path);
	f->logger.emit = ts_log_capture;
	f->logger.data = f->log;
	f->logger.debug = true;
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	chmod(f->dir, 0700);
	ts_remove_tree(f->tmp);
	free(f);
	return 0;
}

static int count_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *e;
	int n = 0;

	if (d == NULL)
		return -1;
	while ((e = readdir(d)) != NULL)
		if (e->d_name[0] != '.')
			n++;
	closedir(d);
	return n - 1;		/* the directory's own */
}

/* ---- Helpers ------------------------------------------------------------ */

static void put_commit(struct fixture *f, const char *key, const char *value)
{
	struct hl_store *s;

	assert_int_equal(hl_store_open(f->path, HL_STORE_WRITE, 5, &f->logger,
				       &s), HL_STORE_OK);
	if (value != NULL)
		assert_int_equal(hl_store_put(s, key, value), HL_STORE_OK);
	else
		assert_int_equal(hl_store_delete(s, key), HL_STORE_OK);
	assert_int_equal(hl_store_commit(s), HL_STORE_OK);
	hl_store_close(s);
}

/* The value of key as a reader sees it, or NULL. */
static char *read_key(struct fixture *f, const char *key)
{
	struct hl_store *s;
	char *value = NULL;
	int rc;

	assert_int_equal(hl_store_open(f->path, HL_STORE_READ, 5, &f->logger,
				       &s), HL_STORE_OK);
	rc = hl_store_get(s, key, &value);
	assert_true(rc == HL_STORE_OK || rc == HL_STORE_NOTFOUND);
	hl_store_close(s);
	return value;
}

static void assert_key(struct fixture *f, const char *key, const char *want)
{
	char *value = read_key(f, key);

	if (want == NULL) {
		assert_null(value);
	} else {
		assert_non_null(value);
		assert_string_equal(value, want);
	}
	free(value);
}

static GDBM_FILE raw_open(struct fixture *f, int mode)
{
	GDBM_FILE db = gdbm_open(f->path, 0, mode | GDBM_NOLOCK, 0600, NULL);

	assert_non_null(db);
	return db;
}

static void raw_put(struct fixture *f, const char *key, const char *value,
		    size_t len)
{
	GDBM_FILE db = raw_open(f, GDBM_WRITER);
	datum k = { (char *)key, (int)strlen(key) };
	datum v = { (char *)value, (int)len };

	assert_int_equal(gdbm_store(db, k, v, GDBM_REPLACE), 0);
	gdbm_close(db);
}

static void raw_delete(struct fixture *f, const char *key)
{
	GDBM_FILE db = raw_open(f, GDBM_WRITER);
	datum k = { (char *)key, (int)strlen(key) };

	assert_int_equal(gdbm_delete(db, k), 0);
	gdbm_close(db);
}

static bool raw_has(struct fixture *f, const char *key)
{
	GDBM_FILE db = raw_open(f, GDBM_READER);
	datum k = { (char *)key, (int)strlen(key) };
	bool has = gdbm_exists(db, k) != 0;

	gdbm_close(db);
	return has;
}

static void assert_file_unchanged(const char *path, const char *before,
				  size_t len)
{
	size_t now_len;
	char *now = ts_slurp(path, &now_len);

	assert_int_equal(now_len, len);
	assert_memory_equal(now, before, len);
	free(now);
}

static bool exists(const char *path)
{
	struct stat st;

	return lstat(path, &st) == 0;
}

/* The journal as doc/STORE.md describes it, written independently of
 * store.c: "hl-journal 1 COUNT LENGTH CRC\n" + body. */
static uint32_t crc32_ieee(const char *data, size_t len)
{
	uint32_t crc = 0xFFFFFFFFu;

	for (size_t i = 0; i < len; i++) {
		crc ^= (unsigned char)data[i];
		for (int b = 0; b < 8; b++)
			crc = (crc & 1) ? (crc >> 1) ^ 0xEDB88320u : crc >> 1;
	}
	return ~crc;
}

/* entries: key, value (NULL: delete), ... sorted by key */
static char *journal(size_t count, const char *const entries[][2])
{
	char body[4096], *out;
	size_t used = 0;

	for (size_t i = 0; i < count; i++) {
		const char *k = entries[i][0], *v = entries[i][1];

		if (v != NULL)
			used += (size_t)snprintf(body + used, sizeof(body) - used,
						 "P %zu %zu\n%s%s\n", strlen(k),
						 strlen(v), k, v);
		else
			used += (size_t)snprintf(body + used, sizeof(body) - used,
						 "D %zu\n%s\n", strlen(k), k);
	}
	out = malloc(used + 64);
	assert_non_null(out);
	snprintf(out, used + 64, "hl-journal 1 %zu %zu %08lx\n%s", count, used,
		 (unsigned long)crc32_ieee(body, used), body);
	return out;
}

/* ---- Creation ----------------------------------------------------------- */

static void test_create_on_first_write(void **state)
{
	struct fixture *f = *state;
	struct hl_store *s;
	struct stat st;
	char *value;

	assert_false(exists(f->dir));
	assert_int_equal(hl_store_open(f->path, HL_STORE_WRITE, 1, &f->logger,
				       &s), HL_STORE_OK);
	assert_int_equal(stat(f->dir, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0700);
	assert_int_equal(stat(f->path, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0600);
	assert_int_equal(stat(f->lock, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0600);
	assert_int_equal(hl_store_get(s, "schema", &value), HL_STORE_OK);
	assert_string_equal(value, HL_STORE_SCHEMA);
	free(value);
	hl_store_close(s);
	/* Nothing left from the creation but the store and its lock. */
	{
		DIR *d = opendir(f->dir);
		struct dirent *e;
		int n = 0;

		while ((e = readdir(d)) != NULL)
			if (e->d_name[0] != '.')
				n++;
		closedir(d);
		assert_int_equal(n, 2);
	}
	assert_true(raw_has(f, "schema"));
}

static void test_write_parent_missing(void **state)
{
	struct fixture *f = *state;
	struct hl_store *s = NULL;
	char path[256];

	snprintf(path, sizeof(path), "%s/no/such/licenses.db", f->tmp);
	assert_int_equal(hl_store_open(path, HL_STORE_WRITE, 1, &f->logger,
				       &s), HL_STORE_IO);
	assert_null(s);
	assert_non_null(strstr(f->log, "parent"));
}

static void test_read_missing_is_empty(void **state)
{
	struct fixture *f = *state;
	struct hl_store *s;
	char *value = (char *)"x";
	int calls = 0;

	/* No directory. */
	assert_int_equal(hl_store_open(f->path, HL_STORE_READ, 1, &f->logger,
				       &s), HL_STORE_OK);
	assert_int_equal(hl_store_get(s, "named/alice", &value),
			 HL_STORE_NOTFOUND);
	assert_null(value);
	assert_int_equal(hl_store_foreach(s, "", NULL, NULL), HL_STORE_IO);
	hl_store_close(s);
	assert_false(exists(f->dir));

	/* A directory, no files. */
	assert_int_equal(mkdir(f->dir, 0700), 0);
	assert_int_equal(hl_store_open(f->path, HL_STORE_READ, 1, &f->logger,
				       &s), HL_STORE_OK);
	assert_int_equal(hl_store_get(s, "pool/p", &value), HL_STORE_NOTFOUND);
	(void)calls;
	hl_store_close(s);
	assert_false(exists(f->path));
	assert_false(exists(f->lock));
}

static int count_cb(void *arg, const char *key, const char *value)
{
	(void)key;
	(void)value;
	(*(int *)arg)++;
	return 0;
}

static void test_read_missing_foreach(void **state)
{
	struct fixture *f = *state;
	struct hl_store *s;
	int calls = 0;

	assert_int_equal(hl_store_open(f->path, HL_STORE_READ, 1, &f->logger,
				       &s), HL_STORE_OK);
	assert_int_equal(hl_store_foreach(s, "", count_cb, &calls), 0);
	assert_int_equal(calls, 0);
	hl_store_close(s);
}

/* ---- Transactions ------------------------------------------------------- */

static void test_put_get_delete_commit(void **state)
{
	struct fixture *f = *state;
	struct hl_store *s;
	char *value;
	char big[20000];

	memset(big, 'b', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	put_commit(f, "named/alice", "kind named\nsince 1");
	put_commit(f, "holder/bob smith", "caf\xc3\xa9 \"x\" %\n");
	put_commit(f, "big", big);
	assert_key(f, "named/alice", "kind named\nsince 1");
	assert_key(f, "holder/bob smith", "caf\xc3\xa9 \"x\" %\n");
	assert_key(f, "big", big);
	put_commit(f, "named/alice", "");		/* empty value */
	assert_key(f, "named/alice", "");
	put_commit(f, "named/alice", NULL);
	assert_key(f, "named/alice", NULL);
	put_commit(f, "never/there", NULL);		/* deleting nothing */

	assert_int_equal(hl_store_open(f->path, HL_STORE_WRITE, 1, &f->logger,
				       &s), HL_STORE_OK);
	/* Reserved and invalid keys. */
	assert_int_equal(hl_store_put(s, "schema", "2"), HL_STORE_IO);
	assert_int_equal(hl_store_put(s, "journal", "x"), HL_STORE_IO);
	assert_int_equal(hl_store_delete(s, "schema"), HL_STORE_IO);
	assert_int_equal(hl_store_put(s, "", "x"), HL_STORE_IO);
	assert_int_equal(hl_store_put(s, "k", NULL), HL_STORE_IO);
	assert_int_equal(hl_store_get(s, "journal", &value), HL_STORE_NOTFOUND);
	/* A handle goes on after a commit. */
	assert_int_equal(hl_store_put(s, "a", "1"), HL_STORE_OK);
	assert_int_equal(hl_store_commit(s), HL_STORE_OK);
	assert_int_equal(hl_store_put(s, "a", "2"), HL_STORE_OK);
	assert_int_equal(hl_store_commit(s), HL_STORE_OK);
	assert_int_equal(hl_store_commit(s), HL_STORE_OK);	/* nothing */
	assert_int_equal(hl_store_get(s, "a", &value), HL_STORE_OK);
	assert_string_equal(value, "2");
	free(value);
	hl_store_close(s);
	assert_key(f, "a", "2");
	hl_store_close(NULL);
}

static void test_uncommitted_discarded(void **state)
{
	struct fixture *f = *state;
	struct hl_store *s;

	put_commit(f, "a", "1");
	assert_int_equal(hl_store_open(f->path, HL_STORE_WRITE, 1, &f->logger,
				       &s), HL_STORE_OK);
	assert_int_equal(hl_store_put(s, "a", "changed"), HL_STORE_OK);
	assert_int_equal(hl_store_put(s, "b", "new"), HL_STORE_OK);
	hl_store_close(s);
	assert_key(f, "a", "1");
	assert_key(f, "b", NULL);
	assert_false(raw_has(f, "b"));
	assert_false(raw_has(f, "journal"));
}

struct seen {
	char keys[16][64];
	char values[16][64];
	int count;
	int stop_at;		/* return 7 on this call (1-based); 0 never */
	struct hl_store *store;	/* delete each key seen */
};

static int seen_cb(void *arg, const char *key, const char *value)
{
	struct seen *seen = arg;

	assert_true(seen->count < 16);
	snprintf(seen->keys[seen->count], 64, "%s", key);
	snprintf(seen->values[seen->count], 64, "%s", value);
	seen->count++;
	if (seen->store != NULL)
		assert_int_equal(hl_store_delete(seen->store, key), HL_STORE_OK);
	return seen->count == seen->stop_at ? 7 : 0;
}

static const char *seen_value(const struct seen *seen, const char *key)
{
	for (int i = 0; i < seen->count; i++)
		if (strcmp(seen->keys[i], key) == 0)
			return seen->values[i];
	return NULL;
}

static void test_staged_visible(void **state)
{
	struct fixture *f = *state;
	struct hl_store *s;
	struct seen seen;
	char *value;

	put_commit(f, "slot/p/1", "alice");
	put_commit(f, "slot/p/2", "bob");
	put_commit(f, "slot/q/1", "carol");
	put_commit(f, "pool/p", "used 2");

	assert_int_equal(hl_store_open(f->path, HL_STORE_WRITE, 1, &f->logger,
				       &s), HL_STORE_OK);
	assert_int_equal(hl_store_delete(s, "slot/p/1"), HL_STORE_OK);
	assert_int_equal(hl_store_put(s, "slot/p/2", "dave"), HL_STORE_OK);
	assert_int_equal(hl_store_put(s, "slot/p/3", "erin"), HL_STORE_OK);
	assert_int_equal(hl_store_put(s, "slot/q/1", "frank"), HL_STORE_OK);

	assert_int_equal(hl_store_get(s, "slot/p/1", &value),
			 HL_STORE_NOTFOUND);
	assert_int_equal(hl_store_get(s, "slot/p/2", &value), HL_STORE_OK);
	assert_string_equal(value, "dave");
	free(value);

	memset(&seen, 0, sizeof(seen));
	assert_int_equal(hl_store_foreach(s, "slot/p/", seen_cb, &seen), 0);
	assert_int_equal(seen.count, 2);
	assert_null(seen_value(&seen, "slot/p/1"));
	assert_string_equal(seen_value(&seen, "slot/p/2"), "dave");
	assert_string_equal(seen_value(&seen, "slot/p/3"), "erin");

	/* Everything, internal keys never. */
	memset(&seen, 0, sizeof(seen));
	assert_int_equal(hl_store_foreach(s, "", seen_cb, &seen), 0);
	assert_int_equal(seen.count, 4);
	assert_null(seen_value(&seen, "schema"));
	assert_null(seen_value(&seen, "journal"));
	assert_string_equal(seen_value(&seen, "slot/q/1"), "frank");
	assert_string_equal(seen_value(&seen, "pool/p"), "used 2");

	/* A non-zero return stops and is returned. */
	memset(&seen, 0, sizeof(seen));
	seen.stop_at = 2;
	assert_int_equal(hl_store_foreach(s, "", seen_cb, &seen), 7);
	assert_int_equal(seen.count, 2);

	/* fn may change the store while it runs: each key once. */
	memset(&seen, 0, sizeof(seen));
	seen.store = s;
	assert_int_equal(hl_store_foreach(s, "slot/", seen_cb, &seen), 0);
	assert_int_equal(seen.count, 3);
	memset(&seen, 0, sizeof(seen));
	assert_int_equal(hl_store_foreach(s, "slot/", seen_cb, &seen), 0);
	assert_int_equal(seen.count, 0);
	hl_store_close(s);	/* not committed */

	assert_key(f, "slot/p/1", "alice");
	assert_key(f, "slot/p/3", NULL);
}

static void test_read_mode(void **state)
{
	struct fixture *f = *state;
	struct hl_store *s;
	char *value;
	size_t len;
	char *before;

	put_commit(f, "a", "1");
	before = ts_slurp(f->path, &len);
	assert_int_equal(hl_store_open(f->path, HL_STORE_READ, 1, &f->logger,
				       &s), HL_STORE_OK);
	/* A reader may stage (a dry run), never commit. */
	assert_int_equal(hl_store_put(s, "a", "2"), HL_STORE_OK);
	assert_int_equal(hl_store_get(s, "a", &value), HL_STORE_OK);
	assert_string_equal(value, "2");
	free(value);
	assert_int_equal(hl_store_commit(s), HL_STORE_IO);
	hl_store_close(s);
	assert_file_unchanged(f->path, before, len);
	free(before);
	assert_key(f, "a", "1");
}

/* ---- The journal -------------------------------------------------------- */

static void test_journal_replayed_and_overlaid(void **state)
{
	struct fixture *f = *state;
	static const char *const entries[][2] = {
		{ "a", "2" }, { "b", "new\nline" }, { "x", NULL },
	};
	struct hl_store *s;
	struct seen seen;
	char *j, *before;
	size_t len;

	put_commit(f, "a", "1");
	put_commit(f, "x", "doomed");
	put_commit(f, "y", "stays");
	/* What a writer killed after writing its journal leaves. */
	j = journal(3, entries);
	raw_put(f, "journal", j, strlen(j));
	free(j);
	before = ts_slurp(f->path, &len);

	/* A reader sees the commit as done, and changes nothing. */
	assert_int_equal(hl_store_open(f->path, HL_STORE_READ, 1, &f->logger,
				       &s), HL_STORE_OK);
	memset(&seen, 0, sizeof(seen));
	assert_int_equal(hl_store_foreach(s, "", seen_cb, &seen), 0);
	assert_int_equal(seen.count, 3);
	assert_string_equal(seen_value(&seen, "a"), "2");
	assert_string_equal(seen_value(&seen, "b"), "new\nline");
	assert_string_equal(seen_value(&seen, "y"), "stays");
	assert_null(seen_value(&seen, "x"));
	assert_int_equal(hl_store_commit(s), HL_STORE_OK);	/* nothing */
	hl_store_close(s);
	assert_key(f, "x", NULL);
	assert_file_unchanged(f->path, before, len);
	free(before);

	/* A writer completes it before anything else. */
	assert_int_equal(hl_store_open(f->path, HL_STORE_WRITE, 1, &f->logger,
				       &s), HL_STORE_OK);
	hl_store_close(s);
	assert_non_null(strstr(f->log, "completed an interrupted commit"));
	assert_false(raw_has(f, "journal"));
	assert_false(raw_has(f, "x"));
	assert_key(f, "a", "2");
	assert_key(f, "b", "new\nline");
	assert_key(f, "y", "stays");
}

static void test_journal_torn_ignored(void **state)
{
	struct fixture *f = *state;
	static const char *const entries[][2] = { { "a", "2" }, { "b", "3" } };
	char *j;
	size_t jlen;
	const char *torn[5];
	size_t torn_len[5];
	char *flipped, *garbage = (char *)"\x01\x02 not a journal";

	j = journal(2, entries);
	jlen = strlen(j);
	flipped = strdup(j);
	flipped[jlen - 2] ^= 1;		/* a byte of the body */
	torn[0] = j;
	torn_len[0] = jlen - 3;		/* cut short */
	torn[1] = flipped;
	torn_len[1] = jlen;
	torn[2] = garbage;
	torn_len[2] = strlen(garbage);
	torn[3] = j;
	torn_len[3] = 20;		/* only part of the header */
	torn[4] = "hl-journal 1 0 0 00000000\n";	/* empty */
	torn_len[4] = strlen(torn[4]);

	put_commit(f, "a", "1");
	for (int i = 0; i < 5; i++) {
		raw_put(f, "journal", torn[i], torn_len[i]);
		assert_key(f, "a", "1");	/* the old state stands */
		assert_key(f, "b", NULL);
		assert_true(raw_has(f, "journal"));	/* readers don't write */
		put_commit(f, "c", "x");		/* a writer removes it */
		assert_false(raw_has(f, "journal"));
		assert_key(f, "a", "1");
		assert_key(f, "b", NULL);
	}
	assert_non_null(strstr(f->log, "ignoring an incomplete journal"));
	free(j);
	free(flipped);
}

/* ---- Refusals ----------------------------------------------------------- */

static void expect_refused(struct fixture *f, int rc, const char *words)
{
	struct hl_store *s = NULL;

	f->log[0] = '\0';
	assert_int_equal(hl_store_open(f->path, HL_STORE_READ, 1, &f->logger,
				       &s), rc);
	assert_null(s);
	/* Mapped, a damaged file is refused at open too, never read past
	 * its end (which would be a SIGBUS). */
	assert_int_equal(hl_store_open(f->path, HL_STORE_READ_MAPPED, 1,
				       &f->logger, &s), rc);
	assert_null(s);
	assert_int_equal(hl_store_open(f->path, HL_STORE_WRITE, 1, &f->logger,
				       &s), rc);
	assert_null(s);
	if (words != NULL && strstr(f->log, words) == NULL)
		fail_msg("log lacks '%s':\n%s", words, f->log);
}

static void test_symlinked_store(void **state)
{
	struct fixture *f = *state;
	char real[256];

	put_commit(f, "a", "1");
	snprintf(real, sizeof(real), "%s/real.db", f->dir);
	assert_int_equal(rename(f->path, real), 0);
	assert_int_equal(symlink(real, f->path), 0);
	expect_refused(f, HL_STORE_INSECURE, "symbolic link");
	/* A dangling one is refused too, not created through. */
	assert_int_equal(unlink(real), 0);
	expect_refused(f, HL_STORE_INSECURE, "symbolic link");
	assert_false(exists(real));
}

static void test_symlinked_lock(void **state)
{
	struct fixture *f = *state;
	char real[256];

	put_commit(f, "a", "1");
	snprintf(real, sizeof(real), "%s/real.lock", f->dir);
	assert_int_equal(rename(f->lock, real), 0);
	assert_int_equal(symlink(real, f->lock), 0);
	expect_refused(f, HL_STORE_INSECURE, "symbolic link");
}

static void test_symlinked_dir(void **state)
{
	struct fixture *f = *state;
	char real[256];

	put_commit(f, "a", "1");
	snprintf(real, sizeof(real), "%s/real", f->tmp);
	assert_int_equal(rename(f->dir, real), 0);
	assert_int_equal(symlink(real, f->dir), 0);
	expect_refused(f, HL_STORE_INSECURE, "unsafe");
	assert_non_null(strstr(f->log, f->dir));
}

static void test_unsafe_modes(void **state)
{
	struct fixture *f = *state;

	put_commit(f, "a", "1");
	assert_int_equal(chmod(f->dir, 0770), 0);
	expect_refused(f, HL_STORE_INSECURE, "writable by group or others");
	assert_non_null(strstr(f->log, f->dir));
	assert_int_equal(chmod(f->dir, 0702), 0);
	expect_refused(f, HL_STORE_INSECURE, "writable by group or others");
	assert_int_equal(chmod(f->dir, 0700), 0);

	assert_int_equal(chmod(f->path, 0620), 0);
	expect_refused(f, HL_STORE_INSECURE, "licenses.db is unsafe");
	assert_int_equal(chmod(f->path, 0600), 0);
	assert_int_equal(chmod(f->lock, 0606), 0);
	expect_refused(f, HL_STORE_INSECURE, "licenses.db.lock is unsafe");
	/* Readable is enough: a reader holds the lock, or reads who holds
	 * what. */
	assert_int_equal(chmod(f->lock, 0604), 0);
	expect_refused(f, HL_STORE_INSECURE, "open to group or others");
	assert_int_equal(chmod(f->lock, 0640), 0);
	expect_refused(f, HL_STORE_INSECURE, "licenses.db.lock is unsafe");
	assert_int_equal(chmod(f->lock, 0600), 0);
	assert_int_equal(chmod(f->path, 0644), 0);
	expect_refused(f, HL_STORE_INSECURE, "licenses.db is unsafe");
	assert_int_equal(chmod(f->path, 0600), 0);

	/* Not a regular file. */
	assert_int_equal(unlink(f->lock), 0);
	assert_int_equal(mkfifo(f->lock, 0600), 0);
	expect_refused(f, HL_STORE_INSECURE, "not a regular file");
	assert_int_equal(unlink(f->lock), 0);
	assert_key(f, "a", "1");
}

static void test_unknown_schema(void **state)
{
	struct fixture *f = *state;
	struct hl_store_repair_report report;
	char *before;
	size_t len;

	put_commit(f, "a", "1");
	raw_put(f, "schema", "7", 1);
	before = ts_slurp(f->path, &len);
	expect_refused(f, HL_STORE_VERSION,
		       "has schema version 7; this release reads versions 1 and 2: "
		       "refusing to touch it");
	assert_int_equal(hl_store_repair(f->path, 1, &f->logger, &report),
			 HL_STORE_VERSION);
	assert_file_unchanged(f->path, before, len);
	free(before);
}

static void test_missing_schema(void **state)
{
	struct fixture *f = *state;
	char *before;
	size_t len;

	put_commit(f, "a", "1");
	raw_delete(f, "schema");
	before = ts_slurp(f->path, &len);
	expect_refused(f, HL_STORE_DAMAGED, "no schema key");
	assert_file_unchanged(f->path, before, len);
	free(before);
}

static void fill_store(struct fixture *f, int keys)
{
	struct hl_store *s;
	char key[32], value[64];

	assert_int_equal(hl_store_open(f->path, HL_STORE_WRITE, 1, &f->logger,
				       &s), HL_STORE_OK);
	for (int i = 0; i < keys; i++) {
		snprintf(key, sizeof(key), "holder/user%d", i);
		snprintf(value, sizeof(value), "kind named\nsince %d", i);
		assert_int_equal(hl_store_put(s, key, value), HL_STORE_OK);
	}
	assert_int_equal(hl_store_commit(s), HL_STORE_OK);
	hl_store_close(s);
}

static void test_garbage_damaged(void **state)
{
	struct fixture *f = *state;
	char garbage[20000];
	unsigned seed = 12345;
	char *before;
	size_t len;

	assert_int_equal(mkdir(f->dir, 0700), 0);
	for (size_t i = 0; i < sizeof(garbage); i++) {
		seed = seed * 1103515245u + 12345u;
		garbage[i] = (char)(seed >> 16);
	}
	ts_write_file(f->path, garbage, sizeof(garbage));
	expect_refused(f, HL_STORE_DAMAGED, "run 'helpdesk-license repair'");
	assert_file_unchanged(f->path, garbage, sizeof(garbage));

	/* An empty file is not an empty store. */
	ts_write_file(f->path, "", 0);
	expect_refused(f, HL_STORE_DAMAGED, "damaged");
	assert_file_unchanged(f->path, "", 0);

	/* Text where a store should be. */
	ts_write_file(f->path, "hello\n", 6);
	expect_refused(f, HL_STORE_DAMAGED, "damaged");
	before = ts_slurp(f->path, &len);
	assert_file_unchanged(f->path, before, len);
	free(before);
}

struct walk_sum {
	unsigned long keys;
	unsigned long bytes;
	unsigned long hash;
};

static int sum_record(void *arg, const char *key, const char *value)
{
	struct walk_sum *sum = arg;

	sum->keys++;
	for (const char *p = key; *p; p++)
		sum->hash = sum->hash * 31 + (unsigned char)*p;
	for (const char *p = value; *p; p++)
		sum->hash = sum->hash * 31 + (unsigned char)*p;
	sum->bytes += strlen(key) + strlen(value);
	return 0;
}

static struct walk_sum walk_store(struct fixture *f, enum hl_store_mode mode)
{
	struct walk_sum sum = { 0, 0, 0 };
	struct hl_store *s;
	char *value = NULL;

	assert_int_equal(hl_store_open(f->path, mode, 1, &f->logger, &s),
			 HL_STORE_OK);
	assert_int_equal(hl_store_foreach(s, "", sum_record, &sum), 0);
	assert_int_equal(hl_store_get(s, "holder/user7", &value),
			 HL_STORE_OK);
	assert_string_equal(value, "kind named\nsince 7");
	free(value);
	hl_store_close(s);
	return sum;
}

/* A mapped reader (the admin tool's walks) reads what a reader does; a
 * writer waits for it as for any reader. */
static void test_mapped_reader(void **state)
{
	struct fixture *f = *state;
	struct walk_sum plain, mapped;
	struct hl_store *s, *w;
	int fds = count_fds();

	fill_store(f, 300);
	put_commit(f, "holder/user5", NULL);
	plain = walk_store(f, HL_STORE_READ);
	mapped = walk_store(f, HL_STORE_READ_MAPPED);
	assert_int_equal(plain.keys, 299);
	assert_int_equal(mapped.keys, plain.keys);
	assert_int_equal(mapped.bytes, plain.bytes);
	assert_true(mapped.hash == plain.hash);
	assert_int_equal(count_fds(), fds);

	assert_int_equal(hl_store_open(f->path, HL_STORE_READ_MAPPED, 1,
				       &f->logger, &s), HL_STORE_OK);
	assert_int_equal(hl_store_open(f->path, HL_STORE_WRITE, 1, &f->logger,
				       &w), HL_STORE_TIMEOUT);
	assert_null(w);
	assert_int_equal(hl_store_put(s, "a", "1"), HL_STORE_OK);
	assert_int_not_equal(hl_store_commit(s), HL_STORE_OK);
	hl_store_close(s);
}

static void test_truncated_damaged(void **state)
{
	struct fixture *f = *state;
	char *full;
	size_t len;
	size_t cuts[3];

	fill_store(f, 300);
	full = ts_slurp(f->path, &len);
	cuts[0] = len / 2;
	cuts[1] = 5000;		/* inside the directory block */
	cuts[2] = 100;		/* inside the header */
	for (int i = 0; i < 3; i++) {
		ts_write_file(f->path, full, cuts[i]);
		expect_refused(f, HL_STORE_DAMAGED, "damaged");
		assert_file_unchanged(f->path, full, cuts[i]);
	}
	free(full);
}

/* ---- Locking and concurrency -------------------------------------------- */

/* A child that opens the store in mode, says so on ready, and closes it
 * when go is closed. */
static pid_t holder(struct fixture *f, enum hl_store_mode mode, int *ready,
		    int *go)
{
	int r[2], g[2];
	pid_t pid;

	assert_int_equal(pipe(r), 0);
	assert_int_equal(pipe(g), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		struct hl_store *s;
		char c;

		close(r[0]);
		close(g[1]);
		if (hl_store_open(f->path, mode, 5, NULL, &s) != HL_STORE_OK)
			_exit(1);
		if (write(r[1], "x", 1) != 1)
			_exit(1);
		while (read(g[0], &c, 1) > 0)
			;
		hl_store_close(s);
		_exit(0);
	}
	close(r[1]);
	close(g[0]);
	*ready = r[0];
	*go = g[1];
	return pid;
}

static void release(pid_t pid, int ready, int go)
{
	int status;

	close(go);
	close(ready);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
}

static double now_seconds(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void test_lock_timeout(void **state)
{
	struct fixture *f = *state;
	struct hl_store *s = NULL;
	int ready, go;
	char c;
	double t0, t;
	pid_t pid;

	put_commit(f, "a", "1");
	pid = holder(f, HL_STORE_WRITE, &ready, &go);
	assert_int_equal(read(ready, &c, 1), 1);

	t0 = now_seconds();
	assert_int_equal(hl_store_open(f->path, HL_STORE_WRITE, 1, &f->logger,
				       &s), HL_STORE_TIMEOUT);
	t = now_seconds() - t0;
	assert_null(s);
	/* At least the timeout; the upper bound only catches a wait that
	 * ignores it (a loaded machine may be slow to wake us). */
	assert_true(t >= 0.95 && t < 30.0);
	assert_non_null(strstr(f->log, "busy"));

	/* A reader waits for a writer too; 0 tries once. */
	t0 = now_seconds();
	assert_int_equal(hl_store_open(f->path, HL_STORE_READ, 0, &f->logger,
				       &s), HL_STORE_TIMEOUT);
	/* Not the default wait of 5 s, nor forever. */
	assert_true(now_seconds() - t0 < 4.5);
	release(pid, ready, go);

	assert_int_equal(hl_store_open(f->path, HL_STORE_WRITE, 0, &f->logger,
				       &s), HL_STORE_OK);
	hl_store_close(s);
}

static void test_readers_share(void **state)
{
	struct fixture *f = *state;
	struct hl_store *s = NULL;
	int ready, go;
	char c, *value;
	pid_t pid;

	put_commit(f, "a", "1");
	pid = holder(f, HL_STORE_READ, &ready, &go);
	assert_int_equal(read(ready, &c, 1), 1);
	assert_int_equal(hl_store_open(f->path, HL_STORE_READ, 0, &f->logger,
				       &s), HL_STORE_OK);
	assert_int_equal(hl_store_get(s, "a", &value), HL_STORE_OK);
	assert_string_equal(value, "1");
	free(value);
	hl_store_close(s);
	/* ... but a writer waits. */
	assert_int_equal(hl_store_open(f->path, HL_STORE_WRITE, 0, &f->logger,
				       &s), HL_STORE_TIMEOUT);
	release(pid, ready, go);
}

#define WORKERS 16
#define ROUNDS 50

static void test_concurrent_increments(void **state)
{
	struct fixture *f = *state;
	pid_t pids[WORKERS];
	int gate[2];
	char *value;

	put_commit(f, "counter", "0");
	assert_int_equal(pipe(gate), 0);
	for (int w = 0; w < WORKERS; w++) {
		pids[w] = fork();
		assert_true(pids[w] >= 0);
		if (pids[w] == 0) {
			char c, *text, next[32];
			int bad = 0;

			close(gate[1]);
			(void)!read(gate[0], &c, 1);	/* all start at once */
			for (int i = 0; i < ROUNDS && !bad; i++) {
				struct hl_store *s;

				if (hl_store_open(f->path, HL_STORE_WRITE, 30,
						  NULL, &s) != HL_STORE_OK) {
					bad = 1;
					break;
				}
				if (hl_store_get(s, "counter", &text) !=
				    HL_STORE_OK)
					bad = 2;
				else
					snprintf(next, sizeof(next), "%ld",
						 strtol(text, NULL, 10) + 1);
				free(text);
				if (!bad && (hl_store_put(s, "counter", next) ||
					     hl_store_commit(s)))
					bad = 3;
				hl_store_close(s);
			}
			_exit(bad);
		}
	}
	close(gate[0]);
	close(gate[1]);		/* go */
	for (int w = 0; w < WORKERS; w++) {
		int status;

		assert_int_equal(waitpid(pids[w], &status, 0), pids[w]);
		assert_true(WIFEXITED(status));
		assert_int_equal(WEXITSTATUS(status), 0);
	}
	value = read_key(f, "counter");
	assert_non_null(value);
	assert_string_equal(value, "800");
	free(value);
}

/*
 * Writers killed at random moments.  Our commit is all or nothing: a
 * reader sees both keys of the last commit or neither change.  GDBM's own
 * update of one record is not atomic against SIGKILL (doc/STORE.md): now
 * and then a kill leaves a file it flags, or an index entry pointing at
 * reused space; repair must then find the damage and leave a sound store.
 */
static void test_killed_writers(void **state)
{
	struct fixture *f = *state;
	struct hl_store_repair_report report;
	int damaged = 0;

	put_commit(f, "left", "0");
	put_commit(f, "right", "0");
	for (int round = 0; round < 40; round++) {
		pid_t pid = fork();
		struct hl_store *s;
		char *l = NULL, *r = NULL;
		int rc, gl, gr;

		assert_true(pid >= 0);
		if (pid == 0) {
			for (long i = 0;; i++) {
				char v[32];

				if (hl_store_open(f->path, HL_STORE_WRITE, 5,
						  NULL, &s) != HL_STORE_OK)
					_exit(1);
				snprintf(v, sizeof(v), "%ld-%d", i, round);
				hl_store_put(s, "left", v);
				hl_store_put(s, "right", v);
				hl_store_commit(s);
				hl_store_close(s);
			}
		}
		usleep(2000 + (useconds_t)(round * 997 % 20000));
		kill(pid, SIGKILL);
		waitpid(pid, NULL, 0);

		rc = hl_store_open(f->path, HL_STORE_READ, 5, &f->logger, &s);
		if (rc == HL_STORE_OK) {
			gl = hl_store_get(s, "left", &l);
			gr = hl_store_get(s, "right", &r);
			hl_store_close(s);
			if (gl == HL_STORE_OK && gr == HL_STORE_OK &&
			    strcmp(l, r) == 0) {
				free(l);
				free(r);
				continue;
			}
			free(l);
			free(r);
		} else {
			assert_int_equal(rc, HL_STORE_DAMAGED);
		}
		damaged++;
		assert_int_equal(hl_store_repair(f->path, 5, &f->logger,
						 &report), HL_STORE_OK);
		assert_true(report.damaged);
		put_commit(f, "left", "0");
		put_commit(f, "right", "0");
	}
	if (damaged > 0)
		print_message("killed writers: %d of 40 kills damaged GDBM's "
			      "file; repaired\n", damaged);
	assert_true(damaged <= 4);
}

/* ---- Repair ------------------------------------------------------------- */

static void assert_store_sound(struct fixture *f)
{
	struct hl_store *s;

	assert_int_equal(hl_store_open(f->path, HL_STORE_WRITE, 1, &f->logger,
				       &s), HL_STORE_OK);
	assert_int_equal(hl_store_put(s, "after", "repair"), HL_STORE_OK);
	assert_int_equal(hl_store_commit(s), HL_STORE_OK);
	hl_store_close(s);
	assert_key(f, "after", "repair");
}

static void test_repair_sound_and_missing(void **state)
{
	struct fixture *f = *state;
	struct hl_store_repair_report report;
	static const char *const entries[][2] = { { "a", "2" } };
	char *j;

	assert_int_equal(hl_store_repair(f->path, 1, &f->logger, &report),
			 HL_STORE_OK);
	assert_true(report.missing);
	assert_false(exists(f->dir));

	fill_store(f, 20);
	assert_int_equal(hl_store_repair(f->path, 1, &f->logger, &report),
			 HL_STORE_OK);
	assert_false(report.missing);
	assert_false(report.damaged);
	assert_int_equal(report.keys, 20);
	assert_string_equal(report.backup, "");

	/* A sound store with an interrupted commit: completed. */
	j = journal(1, entries);
	raw_put(f, "journal", j, strlen(j));
	free(j);
	assert_int_equal(hl_store_repair(f->path, 1, &f->logger, &report),
			 HL_STORE_OK);
	assert_false(report.damaged);
	assert_true(report.journal_replayed);
	assert_int_equal(report.keys, 21);
	assert_false(raw_has(f, "journal"));
	assert_key(f, "a", "2");
}

/* A key with a NUL byte in it is none of ours: listing the store reports
 * it as damage rather than skip it or cut it short, and repair drops it
 * and keeps the rest. */
static void test_key_with_nul(void **state)
{
	struct fixture *f = *state;
	struct hl_store_repair_report report;
	struct hl_store *s;
	GDBM_FILE db;
	datum k = { (char *)"holder/a\0b", 10 }, v = { (char *)"x", 1 };
	int calls = 0;

	fill_store(f, 5);
	db = raw_open(f, GDBM_WRITER);
	assert_int_equal(gdbm_store(db, k, v, GDBM_REPLACE), 0);
	gdbm_close(db);
	assert_int_equal(hl_store_open(f->path, HL_STORE_READ, 1, &f->logger,
				       &s), HL_STORE_OK);
	assert_int_equal(hl_store_foreach(s, "", count_cb, &calls),
			 HL_STORE_DAMAGED);
	hl_store_close(s);
	assert_int_equal(hl_store_repair(f->path, 1, &f->logger, &report),
			 HL_STORE_OK);
	assert_true(report.damaged);
	assert_int_equal(report.keys, 5);
	calls = 0;
	assert_int_equal(hl_store_open(f->path, HL_STORE_READ, 1, &f->logger,
				       &s), HL_STORE_OK);
	assert_int_equal(hl_store_foreach(s, "", count_cb, &calls), 0);
	assert_int_equal(calls, 5);
	hl_store_close(s);
}

static void check_backup(struct fixture *f,
			 const struct hl_store_repair_report *report,
			 const char *data, size_t len)
{
	struct stat st;

	assert_true(report->damaged);
	assert_int_equal(strncmp(report->backup, f->path, strlen(f->path)), 0);
	assert_non_null(strstr(report->backup, ".damaged-"));
	assert_int_equal(lstat(report->backup, &st), 0);
	assert_true(S_ISREG(st.st_mode));
	assert_file_unchanged(report->backup, data, len);
}

static void test_repair_garbage(void **state)
{
	struct fixture *f = *state;
	struct hl_store_repair_report report;
	char garbage[30000];
	unsigned seed = 777;

	assert_int_equal(mkdir(f->dir, 0700), 0);
	for (size_t i = 0; i < sizeof(garbage); i++) {
		seed = seed * 1103515245u + 12345u;
		garbage[i] = (char)(seed >> 16);
	}
	ts_write_file(f->path, garbage, sizeof(garbage));
	assert_int_equal(hl_store_repair(f->path, 1, &f->logger, &report),
			 HL_STORE_OK);
	check_backup(f, &report, garbage, sizeof(garbage));
	assert_true(report.salvaged);
	assert_int_equal(report.keys, 0);
	assert_store_sound(f);

	/* Twice in the same second: another backup name. */
	ts_write_file(f->path, garbage, sizeof(garbage));
	{
		char first[sizeof(report.backup)];

		snprintf(first, sizeof(first), "%s", report.backup);
		assert_int_equal(hl_store_repair(f->path, 1, &f->logger,
						 &report), HL_STORE_OK);
		assert_string_not_equal(first, report.backup);
		assert_true(exists(first));
	}
	assert_store_sound(f);
}

static void test_repair_truncated(void **state)
{
	struct fixture *f = *state;
	struct hl_store_repair_report report;
	char *full;
	size_t len;

	fill_store(f, 300);
	full = ts_slurp(f->path, &len);
	ts_write_file(f->path, full, len - 3000);
	expect_refused(f, HL_STORE_DAMAGED, "damaged");
	assert_int_equal(hl_store_repair(f->path, 1, &f->logger, &report),
			 HL_STORE_OK);
	check_backup(f, &report, full, len - 3000);
	assert_true(report.keys > 0);
	assert_true(report.keys <= 300);
	assert_store_sound(f);

	/* Cut inside the directory: GDBM can't open it, the scan finds what
	 * the first bucket block still holds. */
	fill_store(f, 300);
	free(full);
	full = ts_slurp(f->path, &len);
	ts_write_file(f->path, full, 5000);
	assert_int_equal(hl_store_repair(f->path, 1, &f->logger, &report),
			 HL_STORE_OK);
	check_backup(f, &report, full, 5000);
	assert_store_sound(f);
	free(full);
}

static void test_repair_lost_header(void **state)
{
	struct fixture *f = *state;
	struct hl_store_repair_report report;
	char *full;
	size_t len;
	struct seen seen;
	char *value;

	fill_store(f, 100);
	full = ts_slurp(f->path, &len);
	memset(full, 0, 512);		/* the header is gone */
	ts_write_file(f->path, full, len);
	expect_refused(f, HL_STORE_DAMAGED, "damaged");
	assert_int_equal(hl_store_repair(f->path, 1, &f->logger, &report),
			 HL_STORE_OK);
	check_backup(f, &report, full, len);
	assert_true(report.salvaged);
	assert_int_equal(report.keys, 100);	/* every record found */
	assert_int_equal(report.keys_lost, 0);
	value = read_key(f, "holder/user42");
	assert_string_equal(value, "kind named\nsince 42");
	free(value);
	(void)seen;
	assert_store_sound(f);
	free(full);
}

/* ---- Descriptors -------------------------------------------------------- */

static void test_no_fd_leak(void **state)
{
	struct fixture *f = *state;
	struct hl_store *s;
	struct hl_store_repair_report report;
	int before = count_fds();
	bool was_open[1024] = { false };
	DIR *d;
	struct dirent *e;
	int open_fds = 0;

	/* What the test runner handed us is not ours to judge. */
	d = opendir("/proc/self/fd");
	while ((e = readdir(d)) != NULL)
		if (atoi(e->d_name) < 1024)
			was_open[atoi(e->d_name)] = true;
	closedir(d);

	put_commit(f, "a", "1");
	assert_int_equal(hl_store_open(f->path, HL_STORE_WRITE, 1, &f->logger,
				       &s), HL_STORE_OK);
	assert_int_equal(hl_store_put(s, "b", "2"), HL_STORE_OK);
	assert_int_equal(hl_store_commit(s), HL_STORE_OK);
	/* While open, every descriptor is close-on-exec. */
	d = opendir("/proc/self/fd");
	while ((e = readdir(d)) != NULL) {
		int fd = atoi(e->d_name);

		if (e->d_name[0] == '.' || fd == dirfd(d) ||
		    (fd < 1024 && was_open[fd]))
			continue;
		open_fds++;
		if (!(fcntl(fd, F_GETFD) & FD_CLOEXEC)) {
			char link[64], target[256] = "";

			snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
			(void)!readlink(link, target, sizeof(target) - 1);
			fail_msg("fd %d (%s) is not close-on-exec", fd, target);
		}
	}
	closedir(d);
	assert_true(open_fds >= 3);
	hl_store_close(s);
	assert_int_equal(count_fds(), before);

	assert_key(f, "b", "2");		/* opens and closes */
	assert_int_equal(count_fds(), before);
	raw_put(f, "schema", "9", 1);
	expect_refused(f, HL_STORE_VERSION, NULL);
	assert_int_equal(count_fds(), before);
	ts_write_file(f->path, "junk", 4);
	expect_refused(f, HL_STORE_DAMAGED, NULL);
	assert_int_equal(count_fds(), before);
	assert_int_equal(hl_store_repair(f->path, 1, &f->logger, &report),
			 HL_STORE_OK);
	assert_int_equal(count_fds(), before);
}

static void test_strerror(void **state)
{
	(void)state;
	for (int rc = HL_STORE_OK; rc <= HL_STORE_NOMEM; rc++)
		assert_non_null(hl_store_strerror(rc));
	assert_string_equal(hl_store_strerror(-1), "unknown store error");
}

/* After a lock timeout, the process holding the lock is named; once it
 * lets go, nobody is; no descriptor is left behind. */
static void test_lock_holder(void **state)
{
	struct fixture *f = *state;
	struct hl_lock_holder holder;
	struct hl_store *s = NULL;
	int ready[2], release[2], status, fds;
	pid_t child;
	char c;

	assert_int_equal(hl_store_lock_holder(f->path, "/proc", &holder), -1);
	put_commit(f, "k", "v");
	assert_int_equal(pipe(ready), 0);
	assert_int_equal(pipe(release), 0);
	child = fork();
	assert_true(child >= 0);
	if (child == 0) {
		int fd = open(f->lock, O_RDONLY | O_CLOEXEC);

		if (fd < 0 || flock(fd, LOCK_SH) != 0 ||
		    write(ready[1], "", 1) != 1 || read(release[0], &c, 1) < 0)
			_exit(1);
		_exit(0);
	}
	assert_int_equal(read(ready[0], &c, 1), 1);
	assert_int_equal(hl_store_open(f->path, HL_STORE_WRITE, 1, &f->logger,
				       &s), HL_STORE_TIMEOUT);
	fds = count_fds();
	assert_int_equal(hl_store_lock_holder(f->path, "/proc", &holder), 0);
	assert_int_equal(holder.pid, child);
	assert_int_equal(count_fds(), fds);
	assert_int_equal(write(release[1], "", 1), 1);
	assert_int_equal(waitpid(child, &status, 0), child);
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	assert_int_equal(hl_store_lock_holder(f->path, "/proc", &holder), -1);
	close(ready[0]);
	close(ready[1]);
	close(release[0]);
	close(release[1]);
}

#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_create_on_first_write),
		T(test_write_parent_missing),
		T(test_read_missing_is_empty),
		T(test_read_missing_foreach),
		T(test_put_get_delete_commit),
		T(test_uncommitted_discarded),
		T(test_staged_visible),
		T(test_read_mode),
		T(test_journal_replayed_and_overlaid),
		T(test_journal_torn_ignored),
		T(test_symlinked_store),
		T(test_symlinked_lock),
		T(test_symlinked_dir),
		T(test_unsafe_modes),
		T(test_unknown_schema),
		T(test_missing_schema),
		T(test_garbage_damaged),
		T(test_truncated_damaged),
		T(test_mapped_reader),
		T(test_lock_timeout),
		T(test_readers_share),
		T(test_concurrent_increments),
		T(test_killed_writers),
		T(test_repair_sound_and_missing),
		T(test_repair_garbage),
		T(test_repair_truncated),
		T(test_repair_lost_header),
		T(test_key_with_nul),
		T(test_no_fd_leak),
		T(test_strerror),
		T(test_lock_holder),
	};

	struct statfs fs;
	int failed;

	failed = cmocka_run_group_tests_name("store on the disk", tests, NULL,
					     NULL);
	if (statfs("/dev/shm", &fs) != 0 || fs.f_type != TMPFS_MAGIC) {
		printf("no tmpfs at /dev/shm: the store on tmpfs not tested\n");
		return failed;
	}
	fixture_parent = "/dev/shm";
	return failed + cmocka_run_group_tests_name("store on tmpfs", tests,
						    NULL, NULL);
}
