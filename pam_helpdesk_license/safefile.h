/* SPDX-License-Identifier: BSD-3-Clause */
/* Opening files that root trusts: never through a symlink, never one that
 * someone other than the owner we trust could have written. */
#ifndef HL_SAFEFILE_H
#define HL_SAFEFILE_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/stat.h>
#include <sys/types.h>

/* Check an opened file: type (S_IFREG or S_IFDIR), trusted owner, and no
 * write bit for group or others.  On failure writes why into why. */
bool hl_check_stat(const struct stat *st, mode_t type, char *why, size_t len);

/* Open a regular file for reading, O_NOFOLLOW|O_CLOEXEC, and check it as
 * above.  Returns the descriptor, or -1 with errno set and why filled in
 * (errno EPERM for a failed ownership or mode check, ELOOP for a link). */
int hl_open_trusted(const char *path, int flags, mode_t create_mode,
		    char *why, size_t len);

/* Make sure the directory DIR exists (created with mode if missing, parent
 * must exist) and is trusted.  Returns an O_DIRECTORY descriptor or -1. */
int hl_open_trusted_dir(const char *dir, mode_t mode, bool create,
			char *why, size_t len);

/* Writes data as the file at path, mode (at most 0640): a new file made
 * O_EXCL beside it in its directory (walked as safefile.c says), fsynced,
 * then renamed over path, so nothing already at path (a file, a symlink,
 * a FIFO) is ever opened.  0, or -1 with why filled in. */
int hl_replace_file(const char *path, const char *data, size_t size,
		    mode_t mode, char *why, size_t len);

/* The directory part and the last component of path, in caller buffers. */
bool hl_split_path(const char *path, char *dir, size_t dirlen,
		   char *base, size_t baselen);

#endif
