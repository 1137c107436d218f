/* SPDX-License-Identifier: BSD-3-Clause */
/* PostgreSQL for helpdesk-licensed (pg.h).  Outside data reaches the
 * server only as binary parameters, never inside a statement's text. */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "pg.h"

/* The schema file, as a C string built from daemon/schema.sql. */
static const char schema_sql[] =
#include "schema.h"
	;

const char *hl_pg_error_code(enum hl_pg_error error)
{
	switch (error) {
	case HL_PG_OK: return "ok";
	case HL_PG_TIMEOUT: return "timeout";
	case HL_PG_UNAVAILABLE: return "unavailable";
	case HL_PG_VERSION: return "version";
	case HL_PG_IO: return "io";
	}
	return "io";
}

void hl_pg_pool_init(struct hl_pg_pool *pool, const char *conninfo,
		     const char *password, unsigned connect_timeout,
		     const struct hl_logger *log)
{
	size_t k = 0;

	memset(pool, 0, sizeof(*pool));
	pthread_mutex_init(&pool->lock, NULL);
	pthread_cond_init(&pool->freed, NULL);
	pool->log = log;
	snprintf(pool->connect_timeout, sizeof(pool->connect_timeout), "%u",
		 connect_timeout);
	/* Later values override earlier ones: the conninfo may set its own
	 * connect_timeout and TCP settings; the password is ours alone. */
	pool->keywords[k] = "connect_timeout";
	pool->values[k++] = pool->connect_timeout;
	pool->keywords[k] = "fallback_application_name";
	pool->values[k++] = "helpdesk-licensed";
	/* Over TCP, a server cut off without a word (a partition, a dead
	 * primary) fails a request within seconds instead of the kernel's
	 * quarter of an hour: unacknowledged data for 15 s, or an idle
	 * connection that answers no keepalive for 10 + 3 x 5 s. */
	pool->keywords[k] = "tcp_user_timeout";
	pool->values[k++] = "15000";
	pool->keywords[k] = "keepalives_idle";
	pool->values[k++] = "10";
	pool->keywords[k] = "keepalives_interval";
	pool->values[k++] = "5";
	pool->keywords[k] = "keepalives_count";
	pool->values[k++] = "3";
	pool->keywords[k] = "dbname";
	pool->values[k++] = conninfo;
	if (password) {
		pool->keywords[k] = "password";
		pool->values[k++] = password;
	}
	pool->keywords[k] = NULL;
	pool->values[k] = NULL;
}

void hl_pg_pool_destroy(struct hl_pg_pool *pool)
{
	for (size_t i = 0; i < pool->idle_count; i++)
		PQfinish(pool->idle[i]);
	pool->idle_count = 0;
	pthread_cond_destroy(&pool->freed);
	pthread_mutex_destroy(&pool->lock);
}

/* libpq's message, on one line. */
static void copy_message(const char *message, char *why, size_t len)
{
	size_t i;

	snprintf(why, len, "%s",
		 message && *message ? message : "no reason given");
	for (i = 0; why[i]; i++)
		if (why[i] == '\n' || why[i] == '\r' || why[i] == '\t')
			why[i] = ' ';
	while (i > 0 && why[i - 1] == ' ')
		why[--i] = '\0';
}

PGconn *hl_pg_connect(struct hl_pg_pool *pool)
{
	PGconn *conn = PQconnectdbParams(pool->keywords, pool->values, 1);
	char why[512];

	if (conn && PQstatus(conn) == CONNECTION_OK)
		return conn;
	copy_message(conn ? PQerrorMessage(conn) : "out of memory", why,
		     sizeof(why));
	hl_log(pool->log, LOG_ERR, "cannot connect to the database: %s", why);
	PQfinish(conn);
	return NULL;
}

PGconn *hl_pg_take(struct hl_pg_pool *pool, int wait_ms,
		   enum hl_pg_error *error)
{
	struct timespec until;
	PGconn *conn = NULL;
	bool connect = false;

	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += wait_ms / 1000;
	until.tv_nsec += (long)(wait_ms % 1000) * 1000000L;
	if (until.tv_nsec >= 1000000000L) {
		until.tv_sec++;
		until.tv_nsec -= 1000000000L;
	}
	pthread_mutex_lock(&pool->lock);
	while (pool->idle_count == 0 && pool->open >= HL_PG_POOL_MAX)
		if (pthread_cond_timedwait(&pool->freed, &pool->lock, &until) ==
		    ETIMEDOUT)
			break;
	if (pool->idle_count > 0) {
		conn = pool->idle[--pool->idle_count];
	} else if (pool->open < HL_PG_POOL_MAX) {
		pool->open++;
		connect = true;
	}
	pthread_mutex_unlock(&pool->lock);
	if (conn)
		return conn;
	if (!connect) {
		*error = HL_PG_TIMEOUT;
		return NULL;
	}
	conn = hl_pg_connect(pool);
	if (!conn) {
		pthread_mutex_lock(&pool->lock);
		pool->open--;
		pthread_cond_signal(&pool->freed);
		pthread_mutex_unlock(&pool->lock);
		*error = HL_PG_UNAVAILABLE;
	}
	return conn;
}

void hl_pg_give(struct hl_pg_pool *pool, PGconn *conn)
{
	bool keep = PQstatus(conn) == CONNECTION_OK &&
		    PQtransactionStatus(conn) == PQTRANS_IDLE &&
		    PQpipelineStatus(conn) == PQ_PIPELINE_OFF;

	pthread_mutex_lock(&pool->lock);
	if (keep && pool->idle_count < HL_PG_POOL_WARM) {
		pool->idle[pool->idle_count++] = conn;
		conn = NULL;
	} else {
		pool->open--;
	}
	pthread_cond_signal(&pool->freed);
	pthread_mutex_unlock(&pool->lock);
	PQfinish(conn);
}

void hl_pg_warm(struct hl_pg_pool *pool)
{
	for (;;) {
		PGconn *conn;

		pthread_mutex_lock(&pool->lock);
		if (pool->idle_count >= HL_PG_POOL_WARM ||
		    pool->open >= HL_PG_POOL_MAX) {
			pthread_mutex_unlock(&pool->lock);
			return;
		}
		pool->open++;
		pthread_mutex_unlock(&pool->lock);
		conn = hl_pg_connect(pool);
		if (!conn) {
			pthread_mutex_lock(&pool->lock);
			pool->open--;
			pthread_mutex_unlock(&pool->lock);
			return;
		}
		hl_pg_give(pool, conn);
	}
}

enum hl_pg_error hl_pg_classify(PGconn *conn, const PGresult *res)
{
	const char *state =
		res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;

	if (PQstatus(conn) != CONNECTION_OK)
		return HL_PG_UNAVAILABLE;
	if (!state)
		return HL_PG_IO;
	if (strcmp(state, "55P03") == 0) /* lock_not_available */
		return HL_PG_TIMEOUT;
	if (strcmp(state, "42P01") == 0) /* undefined_table */
		return HL_PG_VERSION;
	/* Class 08 (connection exception), 57P0x (shutting down). */
	if (strncmp(state, "08", 2) == 0 || strncmp(state, "57P", 3) == 0)
		return HL_PG_UNAVAILABLE;
	return HL_PG_IO;
}

/* Runs a statement; on failure fills why and returns its error. */
static enum hl_pg_error run(PGconn *conn, PGresult **out, const char *sql,
			    int nparams, const char *const *values,
			    const int *lengths, const int *formats,
			    int result_format, char *why, size_t len)
{
	PGresult *res = PQexecParams(conn, sql, nparams, NULL, values, lengths,
				     formats, result_format);
	ExecStatusType status = res ? PQresultStatus(res) : PGRES_FATAL_ERROR;
	enum hl_pg_error error;

	if (status == PGRES_COMMAND_OK || status == PGRES_TUPLES_OK) {
		if (out)
			*out = res;
		else
			PQclear(res);
		return HL_PG_OK;
	}
	error = hl_pg_classify(conn, res);
	copy_message(res ? PQresultErrorMessage(res) : PQerrorMessage(conn),
		     why, len);
	PQclear(res);
	return error;
}

static enum hl_pg_error simple(PGconn *conn, const char *sql, char *why,
			       size_t len)
{
	return run(conn, NULL, sql, 0, NULL, NULL, NULL, 0, why, len);
}

/* Several statements of our own text (the schema file). */
static enum hl_pg_error script(PGconn *conn, const char *sql, char *why,
			       size_t len)
{
	PGresult *res = PQexec(conn, sql);
	enum hl_pg_error error = HL_PG_OK;

	if (!res || PQresultStatus(res) != PGRES_COMMAND_OK) {
		error = hl_pg_classify(conn, res);
		copy_message(res ? PQresultErrorMessage(res)
				 : PQerrorMessage(conn),
			     why, len);
	}
	PQclear(res);
	return error;
}

enum hl_pg_error hl_pg_schema_version(PGconn *conn, int *version, char *why,
				      size_t len)
{
	PGresult *res = NULL;
	enum hl_pg_error error =
		run(conn, &res, "SELECT version FROM hl_schema", 0, NULL, NULL,
		    NULL, 0, why, len);

	if (error == HL_PG_VERSION)
		snprintf(
			why, len,
			"the database has no schema: run helpdesk-licensed --migrate");
	if (error != HL_PG_OK)
		return error;
	if (PQntuples(res) != 1) {
		snprintf(why, len, "hl_schema has %d rows, not one",
			 PQntuples(res));
		PQclear(res);
		return HL_PG_VERSION;
	}
	*version = atoi(PQgetvalue(res, 0, 0));
	PQclear(res);
	return HL_PG_OK;
}

int hl_pg_migrate(PGconn *conn, const struct hl_logger *log)
{
	char why[512];
	enum hl_pg_error error;
	int version = 0;
	int rc = -1;

	/* SERIALIZABLE: two --migrate at once cannot both create it. */
	error = simple(conn, "BEGIN ISOLATION LEVEL SERIALIZABLE", why,
		       sizeof(why));
	if (error != HL_PG_OK)
		goto out;
	error = hl_pg_schema_version(conn, &version, why, sizeof(why));
	if (error == HL_PG_OK) {
		if (version == HL_SCHEMA_VERSION) {
			hl_log(log, LOG_INFO,
			       "the schema is at version %d already", version);
			rc = 0;
		} else {
			hl_log(log, LOG_ERR,
			       "the database's schema is version %d, this program knows up to %d: refused",
			       version, HL_SCHEMA_VERSION);
		}
		simple(conn, "ROLLBACK", why, sizeof(why));
		return rc;
	}
	if (error != HL_PG_VERSION)
		goto out;
	/* The failed SELECT aborted the transaction: start again. */
	simple(conn, "ROLLBACK", why, sizeof(why));
	error = simple(conn, "BEGIN ISOLATION LEVEL SERIALIZABLE", why,
		       sizeof(why));
	if (error == HL_PG_OK)
		error = script(conn, schema_sql, why, sizeof(why));
	if (error == HL_PG_OK)
		error = simple(conn, "COMMIT", why, sizeof(why));
	if (error == HL_PG_OK) {
		hl_log(log, LOG_INFO, "created the schema, version %d",
		       HL_SCHEMA_VERSION);
		return 0;
	}
out:
	if (PQstatus(conn) == CONNECTION_OK) {
		char ignored[64];

		simple(conn, "ROLLBACK", ignored, sizeof(ignored));
	}
	hl_log(log, LOG_ERR, "migration failed: %s", why);
	return -1;
}

enum hl_pg_error hl_pg_heartbeat(PGconn *conn, const char *host,
				 const char *boot_id, char *why, size_t len)
{
	const char *values[2] = { host, boot_id };

	return run(
		conn, NULL,
		"INSERT INTO hl_host (host, boot_id, heartbeat) "
		"VALUES ($1, $2, statement_timestamp()) "
		"ON CONFLICT (host) DO UPDATE SET boot_id = EXCLUDED.boot_id, "
		"heartbeat = EXCLUDED.heartbeat",
		2, values, NULL, NULL, 0, why, len);
}

/*
 * The statements of a transaction, prepared once on each connection (a
 * connection new or reset has none: the first use finds them missing,
 * SQLSTATE 26000, and prepares them).  The whole OPEN and the whole
 * COMMIT each go as one pipeline: one round trip to the server.
 */
static const struct statement {
	const char *name;
	const char *sql;
} statements[] = {
	/* The transactions' own statements too: parsed once, not at each
	 * transaction. */
	{ "hl_begin_write", "BEGIN ISOLATION LEVEL READ COMMITTED" },
	{ "hl_begin_read", "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY" },
	{ "hl_commit", "COMMIT" },
	{ "hl_version", "SELECT version FROM hl_schema" },
	/* SET LOCAL, with the value as a parameter. */
	{ "hl_lock_timeout", "SELECT set_config('lock_timeout', $1, true)" },
	{ "hl_no_flush_wait",
	  "SELECT set_config('synchronous_commit', 'off', true)" },
	{ "hl_lock", "SELECT 1 FROM hl_space WHERE space = $1 FOR UPDATE" },
	{ "hl_lock_nowait",
	  "SELECT 1 FROM hl_space WHERE space = $1 FOR UPDATE NOWAIT" },
	{ "hl_records", "SELECT key, value FROM hl_record WHERE space = $1" },
	{ "hl_hosts",
	  "SELECT host, boot_id FROM hl_host WHERE heartbeat > "
	  "statement_timestamp() - $1::integer * interval '1 second'" },
	{ "hl_put",
	  "INSERT INTO hl_record (space, key, value) "
	  "SELECT $1, k, v FROM unnest($2::bytea[], $3::bytea[]) AS c (k, v) "
	  "ON CONFLICT (space, key) DO UPDATE SET value = EXCLUDED.value" },
	{ "hl_delete",
	  "DELETE FROM hl_record WHERE space = $1 AND key = ANY ($2::bytea[])" },
};

#define STEPS_MAX 8

/* One statement of a pipeline: a prepared one (name) or sql. */
struct step {
	const char *name;
	const char *sql;
	int nparams;
	const char *values[3];
	int lengths[3];
	int formats[3];
	int result_format;
	PGresult **out; /* NULL: the result is dropped */
};

/* The outcome of a pipeline: its first failure. */
struct failure {
	size_t step;   /* of the failed statement; the count: none */
	char state[6]; /* its SQLSTATE, "" when none */
};

/* Reads the results of count statements sent in pipeline mode and the
 * sync, and leaves pipeline mode.  The first failure is returned (why,
 * *failed); the statements after it were skipped by the server. */
static enum hl_pg_error collect(PGconn *conn, const struct step *steps,
				size_t count, struct failure *failed, char *why,
				size_t len)
{
	enum hl_pg_error error = HL_PG_OK;
	PGresult *res;

	failed->step = count;
	failed->state[0] = '\0';
	for (size_t i = 0; i < count; i++) {
		ExecStatusType status;

		res = PQgetResult(conn);
		status = res ? PQresultStatus(res) : PGRES_FATAL_ERROR;
		if (status == PGRES_COMMAND_OK || status == PGRES_TUPLES_OK) {
			if (steps && steps[i].out)
				*steps[i].out = res;
			else
				PQclear(res);
		} else {
			if (error == HL_PG_OK &&
			    status != PGRES_PIPELINE_ABORTED) {
				const char *state =
					res ? PQresultErrorField(
						      res, PG_DIAG_SQLSTATE)
					    : NULL;

				error = hl_pg_classify(conn, res);
				copy_message(res ? PQresultErrorMessage(res)
						 : PQerrorMessage(conn),
					     why, len);
				failed->step = i;
				snprintf(failed->state, sizeof(failed->state),
					 "%s", state ? state : "");
			}
			PQclear(res);
			if (!res) /* the connection is gone */
				return error != HL_PG_OK ? error
							 : HL_PG_UNAVAILABLE;
		}
		/* Each statement's results end with a NULL. */
		while ((res = PQgetResult(conn)) != NULL)
			PQclear(res);
	}
	res = PQgetResult(conn);
	if (!res || PQresultStatus(res) != PGRES_PIPELINE_SYNC) {
		if (error == HL_PG_OK) {
			error = hl_pg_classify(conn, res);
			copy_message(PQerrorMessage(conn), why, len);
		}
		PQclear(res);
		return error;
	}
	PQclear(res);
	if (!PQexitPipelineMode(conn) && error == HL_PG_OK) {
		copy_message(PQerrorMessage(conn), why, len);
		error = HL_PG_IO;
	}
	return error;
}

/* Sends steps as one pipeline, then collects their results. */
static enum hl_pg_error pipeline(PGconn *conn, const struct step *steps,
				 size_t count, struct failure *failed,
				 char *why, size_t len)
{
	bool sent = PQenterPipelineMode(conn) == 1;

	for (size_t i = 0; sent && i < count; i++) {
		const struct step *s = &steps[i];

		sent = (s->name ? PQsendQueryPrepared(conn, s->name, s->nparams,
						      s->values, s->lengths,
						      s->formats,
						      s->result_format)
				: PQsendQueryParams(conn, s->sql, s->nparams,
						    NULL, s->values, s->lengths,
						    s->formats,
						    s->result_format)) == 1;
	}
	if (sent)
		sent = PQpipelineSync(conn) == 1;
	if (!sent) {
		/* The connection is left inside a pipeline, not idle:
		 * hl_pg_give closes it. */
		failed->step = 0;
		failed->state[0] = '\0';
		copy_message(PQerrorMessage(conn), why, len);
		return hl_pg_classify(conn, NULL);
	}
	return collect(conn, steps, count, failed, why, len);
}

/* (Re)prepares every statement on conn, in one round trip. */
static enum hl_pg_error prepare(PGconn *conn, char *why, size_t len)
{
	const size_t count = sizeof(statements) / sizeof(*statements);
	struct failure failed;
	bool sent = PQenterPipelineMode(conn) == 1;

	/* Whatever an earlier, cut short, attempt left. */
	sent = sent && PQsendQueryParams(conn, "DEALLOCATE ALL", 0, NULL, NULL,
					 NULL, NULL, 0) == 1;
	for (size_t i = 0; sent && i < count; i++)
		sent = PQsendPrepare(conn, statements[i].name,
				     statements[i].sql, 0, NULL) == 1;
	if (sent)
		sent = PQpipelineSync(conn) == 1;
	if (!sent) {
		copy_message(PQerrorMessage(conn), why, len);
		return hl_pg_classify(conn, NULL);
	}
	return collect(conn, NULL, count + 1, &failed, why, len);
}

static void add_step(struct step *steps, size_t *count, const char *name,
		     const char *sql, const char *param, int result_format,
		     PGresult **out)
{
	struct step *s = &steps[(*count)++];

	memset(s, 0, sizeof(*s));
	s->name = name;
	s->sql = sql;
	s->nparams = param ? 1 : 0;
	s->values[0] = param;
	s->result_format = result_format;
	s->out = out;
}

/* One attempt of hl_pg_open: BEGIN, the schema's version, the lock, the
 * records and the hosts, sent at once. */
static enum hl_pg_error open_once(struct hl_pg_txn *txn, const char *space,
				  unsigned timeout, unsigned lease,
				  struct failure *failed, char *why, size_t len)
{
	struct step steps[STEPS_MAX];
	PGresult *version = NULL, *lock = NULL;
	char timeout_ms[32], lease_s[32];
	size_t count = 0, lock_step = STEPS_MAX;
	enum hl_pg_error error;

	snprintf(timeout_ms, sizeof(timeout_ms), "%llu",
		 (unsigned long long)timeout * 1000);
	snprintf(lease_s, sizeof(lease_s), "%u", lease);
	add_step(steps, &count, txn->write ? "hl_begin_write" : "hl_begin_read",
		 NULL, NULL, 0, NULL);
	add_step(steps, &count, "hl_version", NULL, NULL, 0, &version);
	if (txn->write) {
		/* lock_timeout 0 would mean forever: no wait is NOWAIT. */
		if (timeout > 0)
			add_step(steps, &count, "hl_lock_timeout", NULL,
				 timeout_ms, 0, NULL);
		lock_step = count;
		add_step(steps, &count,
			 timeout > 0 ? "hl_lock" : "hl_lock_nowait", NULL,
			 space, 0, &lock);
	}
	add_step(steps, &count, "hl_records", NULL, space, 1, &txn->records);
	if (strcmp(space, "runtime") == 0)
		add_step(steps, &count, "hl_hosts", NULL, lease_s, 1,
			 &txn->hosts);
	/* A reader has had its snapshot whole: ended here, it costs no
	 * ROLLBACK's round trip after the client goes, and the connection
	 * is free at once. */
	if (!txn->write)
		add_step(steps, &count, "hl_commit", NULL, NULL, 0, NULL);
	error = pipeline(txn->conn, steps, count, failed, why, len);
	if (error == HL_PG_TIMEOUT && failed->step == lock_step)
		snprintf(why, len, "the %s space stayed locked for %u s", space,
			 timeout);
	else if (error == HL_PG_VERSION && strcmp(failed->state, "42P01") == 0)
		snprintf(
			why, len,
			"the database has no schema: run helpdesk-licensed --migrate");
	if (error == HL_PG_OK && PQntuples(version) != 1) {
		snprintf(why, len, "hl_schema has %d rows, not one",
			 PQntuples(version));
		error = HL_PG_VERSION;
	} else if (error == HL_PG_OK &&
		   atoi(PQgetvalue(version, 0, 0)) != HL_SCHEMA_VERSION) {
		snprintf(
			why, len,
			"the database's schema is version %d, not %d: run helpdesk-licensed --migrate",
			atoi(PQgetvalue(version, 0, 0)), HL_SCHEMA_VERSION);
		error = HL_PG_VERSION;
	} else if (error == HL_PG_OK && lock && PQntuples(lock) != 1) {
		snprintf(
			why, len,
			"hl_space has no row %s: run helpdesk-licensed --migrate",
			space);
		error = HL_PG_VERSION;
	}
	PQclear(version);
	PQclear(lock);
	return error;
}

enum hl_pg_error hl_pg_open(struct hl_pg_txn *txn, PGconn *conn,
			    const char *space, bool write, unsigned timeout,
			    unsigned lease, char *why, size_t len)
{
	struct failure failed;
	enum hl_pg_error error;

	memset(txn, 0, sizeof(*txn));
	txn->conn = conn;
	txn->write = write;
	error = open_once(txn, space, timeout, lease, &failed, why, len);
	/* 26000, invalid_sql_statement_name: not prepared here yet. */
	if (error != HL_PG_OK && strcmp(failed.state, "26000") == 0) {
		hl_pg_close(txn);
		txn->conn = conn;
		error = prepare(conn, why, len);
		if (error == HL_PG_OK)
			error = open_once(txn, space, timeout, lease, &failed,
					  why, len);
	}
	if (error != HL_PG_OK)
		hl_pg_close(txn);
	return error;
}

size_t hl_pg_record_count(const struct hl_pg_txn *txn)
{
	return (size_t)PQntuples(txn->records);
}

static void item_of(const PGresult *res, size_t i, struct hl_pg_item *item)
{
	item->key = PQgetvalue(res, (int)i, 0);
	item->key_len = (size_t)PQgetlength(res, (int)i, 0);
	item->value = PQgetvalue(res, (int)i, 1);
	item->value_len = (size_t)PQgetlength(res, (int)i, 1);
}

void hl_pg_record(const struct hl_pg_txn *txn, size_t i,
		  struct hl_pg_item *item)
{
	item_of(txn->records, i, item);
}

size_t hl_pg_host_count(const struct hl_pg_txn *txn)
{
	return txn->hosts ? (size_t)PQntuples(txn->hosts) : 0;
}

void hl_pg_host(const struct hl_pg_txn *txn, size_t i, struct hl_pg_item *item)
{
	item_of(txn->hosts, i, item);
}

static int change_order(const void *a, const void *b)
{
	const struct hl_pg_change *x = *(const struct hl_pg_change *const *)a;
	const struct hl_pg_change *y = *(const struct hl_pg_change *const *)b;
	size_t n = x->key_len < y->key_len ? x->key_len : y->key_len;
	int c = memcmp(x->key, y->key, n);

	if (c == 0 && x->key_len != y->key_len)
		c = x->key_len < y->key_len ? -1 : 1;
	/* The same key: in the order sent, the last one stands. */
	if (c == 0)
		c = x < y ? -1 : x > y;
	return c;
}

static char *put_u32(char *p, uint32_t v)
{
	v = htonl(v);
	memcpy(p, &v, 4);
	return p + 4;
}

#define BYTEA_OID 17

/* A bytea[] in PostgreSQL's binary array format: the keys of items, or
 * their values.  NULL when it would not fit a parameter. */
static char *bytea_array(const struct hl_pg_change *const *items, size_t n,
			 bool values, int *len)
{
	size_t total = n > 0 ? 20 : 12;
	char *buf, *p;

	for (size_t i = 0; i < n; i++)
		total += 4 + (values ? items[i]->value_len : items[i]->key_len);
	if (total > INT_MAX || (buf = malloc(total)) == NULL)
		return NULL;
	p = put_u32(buf, n > 0); /* dimensions */
	p = put_u32(p, 0);	 /* no NULL */
	p = put_u32(p, BYTEA_OID);
	if (n > 0) {
		p = put_u32(p, (uint32_t)n);
		p = put_u32(p, 1); /* lower bound */
	}
	for (size_t i = 0; i < n; i++) {
		size_t l = values ? items[i]->value_len : items[i]->key_len;

		p = put_u32(p, (uint32_t)l);
		memcpy(p, values ? items[i]->value : items[i]->key, l);
		p += l;
	}
	*len = (int)total;
	return buf;
}

enum hl_pg_error hl_pg_commit(struct hl_pg_txn *txn, const char *space,
			      const struct hl_pg_change *changes, size_t n,
			      bool release, char *why, size_t len)
{
	const struct hl_pg_change **order =
		malloc((n ? n : 1) * sizeof(*order));
	const struct hl_pg_change **puts = malloc((n ? n : 1) * sizeof(*puts));
	const struct hl_pg_change **dels = malloc((n ? n : 1) * sizeof(*dels));
	char *arrays[3] = { NULL, NULL, NULL };
	int lengths[3];
	struct step steps[4];
	struct failure failed;
	size_t nput = 0, ndel = 0, count = 0;
	enum hl_pg_error error = HL_PG_IO;

	snprintf(why, len, "out of memory");
	if (!order || !puts || !dels)
		goto out;
	for (size_t i = 0; i < n; i++)
		order[i] = &changes[i];
	qsort(order, n, sizeof(*order), change_order);
	/* A release lost in a crash of the server (or a failover) before
	 * its flush leaves a session whose process is gone: stale, and
	 * reclaimed as any.  And a later commit that takes the seat waits
	 * for the flush of the whole log before it, this release included. */
	if (release)
		add_step(steps, &count, "hl_no_flush_wait", NULL, NULL, 0,
			 NULL);
	for (size_t i = 0; i < n; i++) {
		/* Of one key's changes, only the last. */
		if (i + 1 < n && order[i]->key_len == order[i + 1]->key_len &&
		    memcmp(order[i]->key, order[i + 1]->key,
			   order[i]->key_len) == 0)
			continue;
		if (order[i]->value)
			puts[nput++] = order[i];
		else
			dels[ndel++] = order[i];
	}
	if (nput > 0) {
		arrays[0] = bytea_array(puts, nput, false, &lengths[0]);
		arrays[1] = bytea_array(puts, nput, true, &lengths[1]);
		if (!arrays[0] || !arrays[1])
			goto out;
		add_step(steps, &count, "hl_put", NULL, space, 0, NULL);
		steps[count - 1].nparams = 3;
		for (int k = 0; k < 2; k++) {
			steps[count - 1].values[k + 1] = arrays[k];
			steps[count - 1].lengths[k + 1] = lengths[k];
			steps[count - 1].formats[k + 1] = 1;
		}
	}
	if (ndel > 0) {
		arrays[2] = bytea_array(dels, ndel, false, &lengths[2]);
		if (!arrays[2])
			goto out;
		add_step(steps, &count, "hl_delete", NULL, space, 0, NULL);
		steps[count - 1].nparams = 2;
		steps[count - 1].values[1] = arrays[2];
		steps[count - 1].lengths[1] = lengths[2];
		steps[count - 1].formats[1] = 1;
	}
	add_step(steps, &count, "hl_commit", NULL, NULL, 0, NULL);
	error = pipeline(txn->conn, steps, count, &failed, why, len);
out:
	for (int k = 0; k < 3; k++)
		free(arrays[k]);
	free(order);
	free(puts);
	free(dels);
	return error;
}

void hl_pg_close(struct hl_pg_txn *txn)
{
	PQclear(txn->records);
	PQclear(txn->hosts);
	txn->records = txn->hosts = NULL;
	if (txn->conn && PQstatus(txn->conn) == CONNECTION_OK &&
	    PQtransactionStatus(txn->conn) != PQTRANS_IDLE) {
		char ignored[64];

		simple(txn->conn, "ROLLBACK", ignored, sizeof(ignored));
	}
}
