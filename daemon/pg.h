/* SPDX-License-Identifier: BSD-3-Clause */
/* helpdesk-licensed's side of PostgreSQL: a small pool of warm
 * connections, and the statements of the schema (daemon/schema.sql,
 * doc/BACKEND.md).  The only part of the project that links libpq. */
#ifndef HL_DAEMON_PG_H
#define HL_DAEMON_PG_H

#include <libpq-fe.h>
#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>

#include "log.h"

#define HL_SCHEMA_VERSION 1
#define HL_PG_POOL_MAX 16 /* connections open at most */
#define HL_PG_POOL_WARM 2 /* kept open while idle */

/* What went wrong, as the protocol's ERROR codes name it. */
enum hl_pg_error {
	HL_PG_OK,
	HL_PG_TIMEOUT,	   /* the write lock not had in time */
	HL_PG_UNAVAILABLE, /* the database is unreachable */
	HL_PG_VERSION,	   /* no schema, or one of another version */
	HL_PG_IO,	   /* anything else */
};

const char *hl_pg_error_code(enum hl_pg_error error);

struct hl_pg_pool {
	pthread_mutex_t lock;
	pthread_cond_t freed;
	PGconn *idle[HL_PG_POOL_MAX];
	size_t idle_count;
	size_t open; /* idle and taken */
	const char *keywords[10];
	const char *values[10];
	char connect_timeout[16];
	const struct hl_logger *log;
};

/* conninfo is libpq's; password may be NULL.  Both must outlive the
 * pool.  Nothing is connected yet. */
void hl_pg_pool_init(struct hl_pg_pool *pool, const char *conninfo,
		     const char *password, unsigned connect_timeout,
		     const struct hl_logger *log);
void hl_pg_pool_destroy(struct hl_pg_pool *pool);

/* A new connection of the pool's parameters (not counted in it); NULL
 * when it failed, why logged. */
PGconn *hl_pg_connect(struct hl_pg_pool *pool);
/* A connection for one request: an idle one, or a new one while fewer
 * than HL_PG_POOL_MAX are open, else waits up to wait_ms for one to be
 * given back.  NULL (*error set) when none could be had. */
PGconn *hl_pg_take(struct hl_pg_pool *pool, int wait_ms,
		   enum hl_pg_error *error);
/* Gives conn back: kept when it is healthy, out of any transaction and
 * pipeline, and fewer than HL_PG_POOL_WARM are idle; else closed. */
void hl_pg_give(struct hl_pg_pool *pool, PGconn *conn);
/* Opens connections until HL_PG_POOL_WARM are idle (at start, and after
 * the database came back). */
void hl_pg_warm(struct hl_pg_pool *pool);

/* The error of a failed result (res may be NULL): 55P03 is a timeout, an
 * undefined table a missing schema, a broken connection unavailable. */
enum hl_pg_error hl_pg_classify(PGconn *conn, const PGresult *res);

/* The schema's version into *version, on conn. */
enum hl_pg_error hl_pg_schema_version(PGconn *conn, int *version, char *why,
				      size_t len);

/* Creates the schema when absent; refuses another version.  Logs what it
 * did.  0 or -1. */
int hl_pg_migrate(PGconn *conn, const struct hl_logger *log);

/* This host's row of hl_host, with the heartbeat now (the server's
 * clock). */
enum hl_pg_error hl_pg_heartbeat(PGconn *conn, const char *host,
				 const char *boot_id, char *why, size_t len);

/* One record, or one live host as its pseudo-record's parts. */
struct hl_pg_item {
	const char *key;
	size_t key_len;
	const char *value;
	size_t value_len;
};

/* An open transaction of a space on a connection of the pool. */
struct hl_pg_txn {
	PGconn *conn;
	PGresult *records; /* key, value: binary */
	PGresult *hosts;   /* host, boot_id; NULL for the durable space */
	bool write;
};

/* BEGIN, the write lock (write: waiting at most timeout seconds), the
 * records and, for the runtime space, the hosts whose heartbeat is within
 * lease seconds, in one round trip (prepared statements, one pipeline).
 * On failure everything is rolled back, why says what. */
enum hl_pg_error hl_pg_open(struct hl_pg_txn *txn, PGconn *conn,
			    const char *space, bool write, unsigned timeout,
			    unsigned lease, char *why, size_t len);
size_t hl_pg_record_count(const struct hl_pg_txn *txn);
void hl_pg_record(const struct hl_pg_txn *txn, size_t i,
		  struct hl_pg_item *item);
size_t hl_pg_host_count(const struct hl_pg_txn *txn);
void hl_pg_host(const struct hl_pg_txn *txn, size_t i, struct hl_pg_item *item);
/* A change of a COMMIT: a put, or (value NULL) a delete. */
struct hl_pg_change {
	const char *key;
	size_t key_len;
	const char *value;
	size_t value_len;
};

/* The changes (of one key, the last stands) and COMMIT, in one round
 * trip.  release: a commit that only gives licenses back, which need not
 * wait for the server's flush (synchronous_commit off for it alone).  On
 * failure the transaction is left for hl_pg_close. */
enum hl_pg_error hl_pg_commit(struct hl_pg_txn *txn, const char *space,
			      const struct hl_pg_change *changes, size_t n,
			      bool release, char *why, size_t len);
/* Rolls back what is still open and frees the results; conn stays. */
void hl_pg_close(struct hl_pg_txn *txn);

#endif
