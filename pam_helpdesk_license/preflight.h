/* SPDX-License-Identifier: BSD-3-Clause */
/* Pre-flight checks for the admin tool: what would make the module refuse
 * every login, found before a login finds it.  Nothing here changes the
 * system. */
#ifndef HL_PREFLIGHT_H
#define HL_PREFLIGHT_H

#include <stdbool.h>
#include <stddef.h>

#include "conf.h"

/*
 * Whether the module could open the file at path as it does: its
 * directory exists (or could be made, 0700, in an existing parent), is a
 * directory of a trusted owner, not writable by group or others, and
 * writable by us; the file, if it exists, is a regular file, no link, of a
 * trusted owner, not writable by group or others (with owner_only: not
 * open to them at all), and readable and writable.  Write access is only
 * tested as root, the module's identity: others cannot tell.  what names
 * the file in why, e.g. "store /x/y/licenses.db: directory /x/y: No such
 * file or directory".
 */
bool hl_preflight_file(const char *what, const char *path, bool owner_only,
		       char *why, size_t len);

/*
 * Looks up every user and group the config names (named, each pool,
 * exempt) through NSS and calls warn once for each unknown one, with the
 * nearest known name as "did you mean" when there is one close enough.
 * Candidates are the config's other names NSS knows, and the users and
 * groups NSS enumerates, at most a few thousand of each (a large directory
 * is not walked).  Returns the number of warnings.
 */
unsigned hl_preflight_names(const struct hl_config *cfg,
			    void (*warn)(void *data, const char *message),
			    void *data);

#endif
