/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * What the unit tests share: a private temporary directory and its
 * removal, files written and read back whole, and the pieces of a made-up
 * /proc.  Every function fails the running cmocka test on an error.
 */
#ifndef HL_TEST_SUPPORT_H
#define HL_TEST_SUPPORT_H

#include <stddef.h>
#include <sys/types.h>

/* Makes PARENT/NAME-XXXXXX (PARENT NULL: $TMPDIR, else /tmp), mode 0700,
 * and puts its path into dir. */
void ts_make_temp_dir(char *dir, size_t size, const char *parent,
		      const char *name);

/* Removes root and everything under it; symbolic links are removed, not
 * followed. */
void ts_remove_tree(const char *root);

/* Makes every missing directory of path (mode 0700). */
void ts_make_dirs(const char *path);

/* Writes len bytes to path: made with mode 0600, or truncated. */
void ts_write_file(const char *path, const void *data, size_t len);
void ts_write_text(const char *path, const char *text);

/* The whole file at path, NUL-terminated (free it); *len its size. */
char *ts_slurp(const char *path, size_t *len);

/* A logger's emit (log.h) that appends each message and a newline to
 * data, a char[TS_LOG_SIZE] that starts empty; what does not fit is cut. */
#define TS_LOG_SIZE 16384
void ts_log_capture(void *data, int priority, const char *message);

/* A file of a process of a made-up proc root: PROC/PID/NAME (PROC/PID made
 * if missing). */
void ts_fake_proc_file(const char *proc, pid_t pid, const char *name,
		       const char *text);

/* A made-up proc root's boot id: PROC/sys/kernel/random/boot_id. */
void ts_fake_boot_id(const char *proc, const char *boot_id);

#endif
