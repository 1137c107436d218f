/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The client of helpdesk-licensed, the daemon that keeps the license store
 * in a shared PostgreSQL database (doc/STORE.md, "The shared backend").
 * store.c calls these (and the admin tool's check-config, hl_remote_ping):
 * it keeps the records and the staged changes of a remote store in
 * memory, as it keeps a GDBM store's staged changes, and leaves the
 * talking to this file.
 */
#ifndef HL_STORE_REMOTE_H
#define HL_STORE_REMOTE_H

#include <stdbool.h>
#include <stddef.h>

#include "log.h"

struct hl_wire;

/* One connection to the daemon: one transaction.  The framing and the
 * protocol's limits are wire.h's, shared with the daemon. */
struct hl_remote {
	int fd;
	struct hl_wire *wire;	/* while connected */
	const char *socket;
	const struct hl_logger *log;
	unsigned wait_s;	/* bound of every exchange: lock_timeout +
				 * a few seconds */
	char why[256];		/* the last failure, for the technician */
};

/* Connects (the socket and the daemon checked), sends OPEN and hands every
 * record of the reply to record (NUL-free text, or the reply is refused).
 * On failure the connection is closed and r->why says why. */
int hl_remote_open(struct hl_remote *r, const char *socket, const char *space,
		   bool write, unsigned lock_timeout,
		   const struct hl_logger *log,
		   int (*record)(void *arg, const char *key, const char *value),
		   void *arg);

/* Sends COMMIT: value NULL is a delete; release: the transaction only
 * gives licenses back (hl_store_commit_release). */
int hl_remote_commit(struct hl_remote *r, size_t n, const char *const *keys,
		     const char *const *values, bool release);

/* Drops the connection: the daemon rolls back what was not committed. */
void hl_remote_close(struct hl_remote *r);

/* PING: answer gets the daemon's "HOST BOOT_ID SCHEMA_VERSION", or why
 * not.  HL_STORE_* code. */
int hl_remote_ping(const char *socket, unsigned timeout,
		   const struct hl_logger *log, char *answer, size_t len);

#endif
