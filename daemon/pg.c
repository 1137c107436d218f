/* PostgreSQL for helpdesk-licensed (pg.h).  Outside data reaches the
 * server only as binary parameters, never inside a statement's text. */
#include "config.h"

#include <errno.h>
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
	 * connect_timeout, never the password. */
	pool->keywords[k] = "connect_timeout";
	pool->values[k++] = pool->connect_timeout;
	pool->keywords[k] = "fallback_application_name";
	pool->values[k++] = "helpdesk-licensed";
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

	snprintf(why, len, "%s", message && *message ? message : "no reason given");
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
		if (pthread_cond_timedwait(&pool->freed, &pool->lock,
					   &until) == ETIMEDOUT)
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
		    PQtransactionStatus(conn) == PQTRANS_IDLE;

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
	const char *state = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;

	if (PQstatus(conn) != CONNECTION_OK)
		return HL_PG_UNAVAILABLE;
	if (!state)
		return HL_PG_IO;
	if (strcmp(state, "55P03") == 0)	/* lock_not_available */
		return HL_PG_TIMEOUT;
	if (strcmp(state, "42P01") == 0)	/* undefined_table */
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
	PGresult *res = PQexecParams(conn, sql, nparams, NULL, values,
				     lengths, formats, result_format);
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
		copy_message(res ? PQresultErrorMessage(res) :
			     PQerrorMessage(conn), why, len);
	}
	PQclear(res);
	return error;
}

enum hl_pg_error hl_pg_schema_version(PGconn *conn, int *version,
				      char *why, size_t len)
{
	PGresult *res = NULL;
	enum hl_pg_error error = run(conn, &res,
				     "SELECT version FROM hl_schema", 0, NULL,
				     NULL, NULL, 0, why, len);

	if (error == HL_PG_VERSION)
		snprintf(why, len, "the database has no schema: run helpdesk-licensed --migrate");
	if (error != HL_PG_OK)
		return error;
	if (PQntuples(res) != 1) {
		snprintf(why, len, "hl_schema has %d rows, not one", PQntuples(res));
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
	error = simple(conn, "BEGIN ISOLATION LEVEL SERIALIZABLE", why, sizeof(why));
	if (error != HL_PG_OK)
		goto out;
	error = hl_pg_schema_version(conn, &version, why, sizeof(why));
	if (error == HL_PG_OK) {
		if (version == HL_SCHEMA_VERSION) {
			hl_log(log, LOG_INFO, "the schema is at version %d already",
			       version);
			rc = 0;
		} else {
			hl_log(log, LOG_ERR, "the database's schema is version %d, this program knows up to %d: refused",
			       version, HL_SCHEMA_VERSION);
		}
		simple(conn, "ROLLBACK", why, sizeof(why));
		return rc;
	}
	if (error != HL_PG_VERSION)
		goto out;
	/* The failed SELECT aborted the transaction: start again. */
	simple(conn, "ROLLBACK", why, sizeof(why));
	error = simple(conn, "BEGIN ISOLATION LEVEL SERIALIZABLE", why, sizeof(why));
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

	return run(conn, NULL,
		   "INSERT INTO hl_host (host, boot_id, heartbeat) "
		   "VALUES ($1, $2, statement_timestamp()) "
		   "ON CONFLICT (host) DO UPDATE SET boot_id = EXCLUDED.boot_id, "
		   "heartbeat = EXCLUDED.heartbeat",
		   2, values, NULL, NULL, 0, why, len);
}

enum hl_pg_error hl_pg_open(struct hl_pg_txn *txn, PGconn *conn,
			    const char *space, bool write, unsigned timeout,
			    unsigned lease, char *why, size_t len)
{
	const char *space_param[1] = { space };
	char number[64];
	const char *lease_param[1] = { number };
	enum hl_pg_error error;
	int version;

	memset(txn, 0, sizeof(*txn));
	txn->conn = conn;
	txn->write = write;
	error = simple(conn, write ? "BEGIN ISOLATION LEVEL READ COMMITTED" :
		       "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY",
		       why, len);
	if (error != HL_PG_OK)
		goto fail;
	error = hl_pg_schema_version(conn, &version, why, len);
	if (error == HL_PG_OK && version != HL_SCHEMA_VERSION) {
		snprintf(why, len, "the database's schema is version %d, not %d: run helpdesk-licensed --migrate",
			 version, HL_SCHEMA_VERSION);
		error = HL_PG_VERSION;
	}
	if (error != HL_PG_OK)
		goto fail;
	if (write) {
		PGresult *res = NULL;

		/* lock_timeout 0 would mean forever: no wait is NOWAIT. */
		if (timeout > 0) {
			snprintf(number, sizeof(number),
				 "SET LOCAL lock_timeout = %llu",
				 (unsigned long long)timeout * 1000);
			error = simple(conn, number, why, len);
			if (error != HL_PG_OK)
				goto fail;
		}
		error = run(conn, &res, timeout > 0 ?
			    "SELECT 1 FROM hl_space WHERE space = $1 FOR UPDATE" :
			    "SELECT 1 FROM hl_space WHERE space = $1 FOR UPDATE NOWAIT",
			    1, space_param, NULL, NULL, 0, why, len);
		if (error == HL_PG_TIMEOUT)
			snprintf(why, len, "the %s space stayed locked for %u s",
				 space, timeout);
		if (error != HL_PG_OK)
			goto fail;
		if (PQntuples(res) != 1) {
			snprintf(why, len, "hl_space has no row %s: run helpdesk-licensed --migrate",
				 space);
			PQclear(res);
			error = HL_PG_VERSION;
			goto fail;
		}
		PQclear(res);
	}
	error = run(conn, &txn->records,
		    "SELECT key, value FROM hl_record WHERE space = $1",
		    1, space_param, NULL, NULL, 1, why, len);
	if (error != HL_PG_OK)
		goto fail;
	if (strcmp(space, "runtime") == 0) {
		snprintf(number, sizeof(number), "%u", lease);
		error = run(conn, &txn->hosts,
			    "SELECT host, boot_id FROM hl_host WHERE heartbeat > "
			    "statement_timestamp() - $1::integer * interval '1 second'",
			    1, lease_param, NULL, NULL, 1, why, len);
		if (error != HL_PG_OK)
			goto fail;
	}
	return HL_PG_OK;
fail:
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

void hl_pg_host(const struct hl_pg_txn *txn, size_t i,
		struct hl_pg_item *item)
{
	item_of(txn->hosts, i, item);
}

enum hl_pg_error hl_pg_change(struct hl_pg_txn *txn, const char *space,
			      const char *key, size_t key_len,
			      const char *value, size_t value_len,
			      char *why, size_t len)
{
	const char *values[3] = { space, key, value };
	int lengths[3] = { 0, (int)key_len, (int)value_len };
	int formats[3] = { 0, 1, 1 };

	if (value)
		return run(txn->conn, NULL,
			   "INSERT INTO hl_record (space, key, value) "
			   "VALUES ($1, $2::bytea, $3::bytea) "
			   "ON CONFLICT (space, key) DO UPDATE SET value = EXCLUDED.value",
			   3, values, lengths, formats, 0, why, len);
	return run(txn->conn, NULL,
		   "DELETE FROM hl_record WHERE space = $1 AND key = $2::bytea",
		   2, values, lengths, formats, 0, why, len);
}

enum hl_pg_error hl_pg_commit(struct hl_pg_txn *txn, char *why, size_t len)
{
	return simple(txn->conn, "COMMIT", why, len);
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
