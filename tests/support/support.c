/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * What the unit tests share (support.h).
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "support.h"

void ts_make_temp_dir(char *dir, size_t size, const char *parent,
		      const char *name)
{
	int len;

	if (parent == NULL)
		parent = getenv("TMPDIR");
	if (parent == NULL || *parent == '\0')
		parent = "/tmp";
	len = snprintf(dir, size, "%s/%s-XXXXXX", parent, name);
	assert_true(len > 0 && (size_t)len < size);
	assert_non_null(mkdtemp(dir));
}

static int remove_entry(const char *path, const struct stat *st, int flag,
			struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

void ts_remove_tree(const char *root)
{
	nftw(root, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
}

void ts_make_dirs(const char *path)
{
	char dir[PATH_MAX];
	size_t len = strlen(path);

	assert_true(len < sizeof(dir));
	memcpy(dir, path, len + 1);
	for (char *p = dir + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(dir, 0700) != 0)
			assert_int_equal(errno, EEXIST);
		*p = '/';
	}
	if (mkdir(dir, 0700) != 0)
		assert_int_equal(errno, EEXIST);
}

void ts_write_file(const char *path, const void *data, size_t len)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, data, len), (ssize_t)len);
	assert_int_equal(close(fd), 0);
}

void ts_write_text(const char *path, const char *text)
{
	ts_write_file(path, text, strlen(text));
}

char *ts_slurp(const char *path, size_t *len)
{
	FILE *fp = fopen(path, "rbe");
	char *data;
	long size;

	assert_non_null(fp);
	assert_int_equal(fseek(fp, 0, SEEK_END), 0);
	size = ftell(fp);
	assert_true(size >= 0);
	rewind(fp);
	data = malloc((size_t)size + 1);
	assert_non_null(data);
	assert_int_equal(fread(data, 1, (size_t)size, fp), (size_t)size);
	data[size] = '\0';
	fclose(fp);
	*len = (size_t)size;
	return data;
}

void ts_fake_proc_file(const char *proc, pid_t pid, const char *name,
		       const char *text)
{
	char path[PATH_MAX];

	snprintf(path, sizeof(path), "%s/%ld", proc, (long)pid);
	ts_make_dirs(path);
	snprintf(path, sizeof(path), "%s/%ld/%s", proc, (long)pid, name);
	ts_write_text(path, text);
}

void ts_fake_boot_id(const char *proc, const char *boot_id)
{
	char path[PATH_MAX];

	snprintf(path, sizeof(path), "%s/sys/kernel/random", proc);
	ts_make_dirs(path);
	snprintf(path, sizeof(path), "%s/sys/kernel/random/boot_id", proc);
	ts_write_text(path, boot_id);
}

void ts_log_capture(void *data, int priority, const char *message)
{
	char *log = data;
	size_t used = strlen(log);

	(void)priority;
	snprintf(log + used, TS_LOG_SIZE - used, "%s\n", message);
}
