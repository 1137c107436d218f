/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * helpdesk-licensed: the per-host daemon of the shared backend
 * (helpdesk-licensed(8), doc/BACKEND.md).  The module and helpdesk-license
 * speak protocol v1 to it over a Unix socket; it maps each transaction of
 * theirs onto one PostgreSQL transaction, and heartbeats this host's row
 * so other hosts know its sessions are alive.
 *
 * Threads: the main one watches the signals (through a signalfd); kept
 * workers accept and serve the client connections, one at a time each;
 * one heartbeats.  Everything they share is in struct daemon.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <syslog.h>
#include <unistd.h>

#include "conf.h"
#include "log.h"
#include "pg.h"
#include "safefile.h"
#include "wire.h"

#define PROGRAM "helpdesk-licensed"
#define CLIENTS_MAX 256 /* connections served at once: workers at most */
/* Workers kept waiting for a connection: a login has two at once (its
 * two spaces), a few logins may come together.  A worker that takes the
 * last idle one's place starts another first, so a connection never
 * waits for a worker while another of the same client holds a lock. */
#define WORKERS_IDLE 4
#define PASSWORD_MAX 1024
#define BOOT_ID_FILE "/proc/sys/kernel/random/boot_id"

struct daemon {
	struct hl_config *cfg;
	struct hl_logger log;
	bool to_stderr; /* until detached, or --foreground */
	char host[HL_BACKEND_HOST_MAX + 1];
	char boot_id[64];
	char *password; /* NULL: none */
	struct hl_pg_pool pool;
	int stop[2];   /* readable once stopping */
	int listen_fd; /* the workers accept on it */
	int dir_fd;    /* the socket's directory */
	char socket_name[108];
	pthread_mutex_t lock;
	pthread_cond_t done;
	unsigned workers; /* threads alive to accept and serve */
	unsigned idle;	  /* of them, waiting for a connection */
	/* Once stopping, the workers that end are joined, not detached:
	 * the process must not exit before their thread-local state (the
	 * TLS library's, through libpq) has been freed. */
	bool stopping;
	pthread_t ended[CLIENTS_MAX];
	unsigned ended_count;
	/* One writer per space at a time on this host (runtime, durable):
	 * the others wait here, holding no connection.  Waiting in
	 * PostgreSQL's row lock instead would hold one each, and with the
	 * pool taken by waiters the lock's holder could not get the
	 * connection of its second space. */
	pthread_mutex_t writer[2];
};

static void emit(void *data, int priority, const char *message)
{
	const bool *to_stderr = data;

	syslog(priority, "%s", message);
	if (*to_stderr)
		fprintf(stderr, PROGRAM ": %s\n", message);
}

/* The first line of the password file: root's, mode 0600, not a link. */
static int read_password(struct daemon *d, const char *path)
{
	char why[256], buf[PASSWORD_MAX + 2];
	struct stat st;
	ssize_t got;
	size_t len = 0;
	int fd = hl_open_trusted(path, O_RDONLY, 0, why, sizeof(why));
	int rc = -1;

	if (fd < 0) {
		hl_log(&d->log, LOG_ERR, "password file %s: %s", path, why);
		return -1;
	}
	if (fstat(fd, &st) != 0 || (st.st_mode & 077) != 0) {
		hl_log(&d->log, LOG_ERR,
		       "password file %s: must be mode 0600 (no access for group or others)",
		       path);
		goto out;
	}
	while (len < sizeof(buf) - 1) {
		got = read(fd, buf + len, sizeof(buf) - 1 - len);
		if (got < 0 && errno == EINTR)
			continue;
		if (got <= 0)
			break;
		len += (size_t)got;
	}
	buf[len] = '\0';
	len = strcspn(buf, "\r\n");
	if (len == 0 || len > PASSWORD_MAX) {
		hl_log(&d->log, LOG_ERR,
		       "password file %s: the first line must hold the password (1 to %d bytes)",
		       path, PASSWORD_MAX);
		goto out;
	}
	buf[len] = '\0';
	d->password = strdup(buf);
	rc = d->password ? 0 : -1;
out:
	explicit_bzero(buf, sizeof(buf));
	close(fd);
	return rc;
}

/* This boot's id: the key of this host's sessions in hl_host. */
static int read_boot_id(struct daemon *d)
{
	char buf[64] = "";
	ssize_t got;
	size_t len;
	int fd = open(BOOT_ID_FILE, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);

	if (fd < 0) {
		hl_log(&d->log, LOG_ERR, "cannot read %s: %s", BOOT_ID_FILE,
		       strerror(errno));
		return -1;
	}
	got = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	len = got > 0 ? strcspn(buf, "\n") : 0;
	buf[len] = '\0';
	if (len == 0 || strspn(buf, "0123456789abcdef-") != len) {
		hl_log(&d->log, LOG_ERR, "%s holds no boot id", BOOT_ID_FILE);
		return -1;
	}
	memcpy(d->boot_id, buf, len + 1);
	return 0;
}

/* backend.host, else the host name; it becomes part of a protocol line
 * and of record keys, so only the characters of a host name. */
static int find_host(struct daemon *d)
{
	const char *host = d->cfg->backend.host;
	char name[256] = "";
	size_t len;

	if (!host) {
		if (gethostname(name, sizeof(name) - 1) != 0) {
			hl_log(&d->log, LOG_ERR, "gethostname: %s",
			       strerror(errno));
			return -1;
		}
		host = name;
	}
	len = strlen(host);
	if (len == 0 || len > HL_BACKEND_HOST_MAX ||
	    strspn(host, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
			 "0123456789.-_") != len) {
		hl_log(&d->log, LOG_ERR,
		       "the host name \"%.64s\" is not usable: set backend.host",
		       host);
		return -1;
	}
	memcpy(d->host, host, len + 1);
	return 0;
}

/* The text is the database's too (a translated message, say): only
 * printable ASCII goes on a header line. */
static void send_error(struct hl_wire *w, enum hl_pg_error error,
		       const char *why)
{
	char text[201];
	size_t i;

	for (i = 0; why[i] && i < sizeof(text) - 1; i++)
		text[i] = why[i] >= ' ' && why[i] <= '~' ? why[i] : '?';
	text[i] = '\0';
	hl_wire_printf(w, "ERROR %s %s", hl_pg_error_code(error), text);
}

/* A connection of the pool for one request, and a second try on a fresh
 * one when the first found the database gone (a restart, a failover). */
static PGconn *take_connection(struct daemon *d, enum hl_pg_error *error)
{
	return hl_pg_take(&d->pool,
			  (int)d->cfg->backend.transaction_timeout * 1000,
			  error);
}

static bool reconnect(struct daemon *d, PGconn *conn)
{
	PQreset(conn);
	if (PQstatus(conn) == CONNECTION_OK) {
		hl_log(&d->log, LOG_INFO, "reconnected to the database");
		return true;
	}
	return false;
}

static void ping(struct daemon *d, struct hl_wire *w)
{
	enum hl_pg_error error;
	char why[512];
	int version = 0;
	PGconn *conn = take_connection(d, &error);

	if (!conn) {
		send_error(w, error, "no connection to the database");
		return;
	}
	error = hl_pg_schema_version(conn, &version, why, sizeof(why));
	if (error == HL_PG_UNAVAILABLE && reconnect(d, conn))
		error = hl_pg_schema_version(conn, &version, why, sizeof(why));
	if (error == HL_PG_OK)
		hl_wire_printf(w, "OK %s %s %d", d->host, d->boot_id, version);
	else
		send_error(w, error, why);
	hl_pg_give(&d->pool, conn);
}

static enum hl_wire_status send_item(struct hl_wire *w, const char *prefix,
				     const struct hl_pg_item *item)
{
	size_t prefix_len = strlen(prefix);
	enum hl_wire_status st;

	st = hl_wire_printf(w, "%zu %zu", prefix_len + item->key_len,
			    item->value_len);
	if (st == HL_WIRE_OK)
		st = hl_wire_write(w, prefix, prefix_len);
	if (st == HL_WIRE_OK)
		st = hl_wire_write(w, item->key, item->key_len);
	if (st == HL_WIRE_OK)
		st = hl_wire_write(w, item->value, item->value_len);
	return st;
}

/* RECORDS: the space's records, then one host/<name> per live host. */
static enum hl_wire_status send_records(struct hl_wire *w,
					const struct hl_pg_txn *txn)
{
	size_t records = hl_pg_record_count(txn), hosts = hl_pg_host_count(txn);
	struct hl_pg_item item;
	enum hl_wire_status st;

	if (records + hosts > HL_WIRE_COUNT_MAX) {
		send_error(
			w, HL_PG_IO,
			"the space holds more records than the protocol carries");
		return HL_WIRE_MALFORMED;
	}
	st = hl_wire_printf(w, "RECORDS %zu", records + hosts);
	for (size_t i = 0; st == HL_WIRE_OK && i < records; i++) {
		hl_pg_record(txn, i, &item);
		st = send_item(w, "", &item);
	}
	for (size_t i = 0; st == HL_WIRE_OK && i < hosts; i++) {
		hl_pg_host(txn, i, &item);
		st = send_item(w, "host/", &item);
	}
	return st;
}

/* The changes of a COMMIT, read whole before any goes to the database:
 * they go in one statement each for puts and deletes. */
struct changes {
	struct hl_pg_change *v;
	size_t count;
	size_t bytes; /* of keys and values, within HL_WIRE_COMMIT_MAX */
};

static void changes_free(struct changes *cs)
{
	for (size_t i = 0; i < cs->count; i++) {
		free((char *)cs->v[i].key);
		free((char *)cs->v[i].value);
	}
	free(cs->v);
}

/* One change of a COMMIT: "P klen vlen" + key + value, or "D klen" + key,
 * added to cs.  A failure has been answered (or the client is gone). */
static bool read_change(struct daemon *d, struct hl_wire *w, struct changes *cs)
{
	char line[HL_WIRE_LINE_MAX];
	char *words[3], *key = NULL, *value = NULL;
	unsigned long key_len = 0, value_len = 0;
	enum hl_wire_status st;
	bool put;
	int count;

	st = hl_wire_read_line(w, line, sizeof(line));
	if (st != HL_WIRE_OK) {
		hl_log(&d->log, LOG_WARNING, "a commit ended early: %s",
		       hl_wire_status_text(st));
		return false;
	}
	count = hl_wire_words(line, words, 3);
	put = count == 3 && strcmp(words[0], "P") == 0;
	if (!(put || (count == 2 && strcmp(words[0], "D") == 0)) ||
	    !hl_wire_number(words[1], HL_WIRE_KEY_MAX, &key_len) ||
	    (put && !hl_wire_number(words[2], HL_WIRE_VALUE_MAX, &value_len))) {
		send_error(w, HL_PG_IO, "malformed change");
		return false;
	}
	if (cs->bytes + key_len + value_len > HL_WIRE_COMMIT_MAX) {
		send_error(w, HL_PG_IO, "the commit is too large");
		return false;
	}
	key = malloc(key_len ? key_len : 1);
	value = put ? malloc(value_len ? value_len : 1) : NULL;
	if (!key || (put && !value)) {
		send_error(w, HL_PG_IO, "out of memory");
		goto fail;
	}
	st = hl_wire_read(w, key, key_len);
	if (st == HL_WIRE_OK && put)
		st = hl_wire_read(w, value, value_len);
	if (st != HL_WIRE_OK) {
		hl_log(&d->log, LOG_WARNING, "a commit ended early: %s",
		       hl_wire_status_text(st));
		goto fail;
	}
	if (key_len >= 5 && memcmp(key, "host/", 5) == 0) {
		send_error(w, HL_PG_IO, "keys under host/ are the daemon's");
		goto fail;
	}
	cs->v[cs->count++] = (struct hl_pg_change){
		.key = key,
		.key_len = key_len,
		.value = value,
		.value_len = value_len,
	};
	cs->bytes += key_len + value_len;
	return true;
fail:
	free(key);
	free(value);
	return false;
}

/* After RECORDS of a write transaction: COMMIT n and its changes, or the
 * client goes (or stays silent): then nothing was written. */
static void finish_write(struct daemon *d, struct hl_wire *w,
			 struct hl_pg_txn *txn, const char *space)
{
	char line[HL_WIRE_LINE_MAX], why[512];
	char *words[3];
	unsigned long count;
	struct changes cs = { 0 };
	bool release;
	int nwords;
	enum hl_pg_error error;
	enum hl_wire_status st = hl_wire_read_line(w, line, sizeof(line));

	if (st != HL_WIRE_OK) {
		if (st != HL_WIRE_EOF)
			hl_log(&d->log, LOG_WARNING,
			       "write transaction of the %s space rolled back: %s",
			       space, hl_wire_status_text(st));
		if (st == HL_WIRE_MALFORMED)
			send_error(w, HL_PG_IO, "malformed request");
		return;
	}
	nwords = hl_wire_words(line, words, 3);
	release = nwords == 3 && strcmp(words[2], "release") == 0;
	if ((nwords != 2 && !release) || strcmp(words[0], "COMMIT") != 0 ||
	    !hl_wire_number(words[1], HL_WIRE_COUNT_MAX, &count)) {
		send_error(w, HL_PG_IO, "expected COMMIT");
		return;
	}
	cs.v = malloc((count ? count : 1) * sizeof(*cs.v));
	if (!cs.v) {
		send_error(w, HL_PG_IO, "out of memory");
		return;
	}
	for (unsigned long i = 0; i < count; i++)
		if (!read_change(d, w, &cs))
			goto out;
	error = hl_pg_commit(txn, space, cs.v, cs.count, release, why,
			     sizeof(why));
	if (error != HL_PG_OK) {
		hl_log(&d->log, LOG_ERR, "commit of the %s space failed: %s",
		       space, why);
		send_error(w, error, why);
		goto out;
	}
	hl_wire_printf(w, "OK");
out:
	changes_free(&cs);
}

/* After RECORDS of a read transaction: the client closes. */
static void finish_read(struct daemon *d, struct hl_wire *w)
{
	char line[HL_WIRE_LINE_MAX];
	enum hl_wire_status st = hl_wire_read_line(w, line, sizeof(line));

	if (st == HL_WIRE_OK || st == HL_WIRE_MALFORMED)
		send_error(w, HL_PG_IO, "a read transaction takes no request");
	else if (st != HL_WIRE_EOF)
		hl_log(&d->log, LOG_WARNING, "read transaction ended: %s",
		       hl_wire_status_text(st));
}

/* Waits up to timeout seconds for this host's writer gate of space;
 * *left: the seconds of timeout still to wait in PostgreSQL. */
static pthread_mutex_t *enter_gate(struct daemon *d, const char *space,
				   unsigned timeout, unsigned *left)
{
	pthread_mutex_t *gate = &d->writer[strcmp(space, "durable") == 0];
	struct timespec until, began, now;
	long long waited_ms;

	clock_gettime(CLOCK_MONOTONIC, &began);
	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += timeout;
	if (pthread_mutex_timedlock(gate, &until) != 0)
		return NULL;
	clock_gettime(CLOCK_MONOTONIC, &now);
	waited_ms = (now.tv_sec - began.tv_sec) * 1000LL +
		    (now.tv_nsec - began.tv_nsec) / 1000000;
	*left = waited_ms >= (long long)timeout * 1000
			? 0
			: timeout - (unsigned)((waited_ms + 999) / 1000);
	return gate;
}

static void transaction(struct daemon *d, struct hl_wire *w, const char *space,
			bool write, unsigned timeout)
{
	pthread_mutex_t *gate = NULL;
	struct hl_pg_txn txn;
	enum hl_pg_error error;
	char why[512];
	PGconn *conn;

	if (write) {
		gate = enter_gate(d, space, timeout, &timeout);
		if (gate == NULL) {
			send_error(w, HL_PG_TIMEOUT,
				   "another writer of this "
				   "host holds the space");
			return;
		}
	}
	conn = take_connection(d, &error);
	if (!conn) {
		send_error(w, error, "no connection to the database");
		if (gate)
			pthread_mutex_unlock(gate);
		return;
	}
	error = hl_pg_open(&txn, conn, space, write, timeout,
			   d->cfg->backend.lease, why, sizeof(why));
	if (error == HL_PG_UNAVAILABLE && reconnect(d, conn))
		error = hl_pg_open(&txn, conn, space, write, timeout,
				   d->cfg->backend.lease, why, sizeof(why));
	if (error != HL_PG_OK) {
		if (error != HL_PG_TIMEOUT)
			hl_log(&d->log, LOG_ERR,
			       "cannot open a transaction of the %s space: %s",
			       space, why);
		send_error(w, error, why);
		goto out;
	}
	if (send_records(w, &txn) == HL_WIRE_OK) {
		if (write)
			finish_write(d, w, &txn, space);
		else
			finish_read(d, w);
	}
	hl_pg_close(&txn);
out:
	hl_pg_give(&d->pool, conn);
	if (gate)
		pthread_mutex_unlock(gate);
}

static void serve(struct daemon *d, struct hl_wire *w)
{
	char line[HL_WIRE_LINE_MAX];
	char *words[4];
	unsigned long timeout;
	bool write;
	int count;

	if (hl_wire_read_line(w, line, sizeof(line)) != HL_WIRE_OK)
		return;
	count = hl_wire_words(line, words, 4);
	if (count == 1 && strcmp(words[0], "PING") == 0) {
		ping(d, w);
		return;
	}
	if (count != 4 || strcmp(words[0], "OPEN") != 0 ||
	    (strcmp(words[1], "runtime") != 0 &&
	     strcmp(words[1], "durable") != 0) ||
	    (strcmp(words[2], "read") != 0 && strcmp(words[2], "write") != 0) ||
	    !hl_wire_number(words[3], 86400, &timeout)) {
		send_error(w, HL_PG_IO, "malformed request");
		return;
	}
	write = strcmp(words[2], "write") == 0;
	transaction(d, w, words[1], write, (unsigned)timeout);
}

/* Only root's processes may speak to us: anyone else is closed without a
 * word. */
static bool peer_is_root(struct daemon *d, int fd)
{
	struct ucred cred;
	socklen_t len = sizeof(cred);

	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) == 0 &&
	    cred.uid == 0)
		return true;
	hl_log(&d->log, LOG_WARNING, "refused a connection of uid %ld",
	       len == sizeof(cred) ? (long)cred.uid : -1L);
	return false;
}

static void serve_client(struct daemon *d, struct hl_wire *w, int fd)
{
	if (peer_is_root(d, fd)) {
		hl_wire_init(w, fd, d->stop[0],
			     (int)d->cfg->backend.transaction_timeout * 1000);
		serve(d, w);
		hl_wire_flush(w); /* the last answer */
	}
	close(fd);
}

/* A connection, or -1 once stopping.  Each worker waits in an epoll of
 * its own: EPOLLEXCLUSIVE wakes one of them for a connection, where all
 * would race for it; the stop descriptor wakes them all. */
static int next_connection(struct daemon *d, int epoll_fd)
{
	for (;;) {
		struct epoll_event ev;
		int n = epoll_wait(epoll_fd, &ev, 1, -1), fd;

		if (n < 0 && errno != EINTR)
			return -1;
		if (n <= 0)
			continue;
		if (ev.data.fd == d->stop[0])
			return -1;
		/* another worker may have taken it: EAGAIN, wait again */
		fd = accept4(d->listen_fd, NULL, NULL, SOCK_CLOEXEC);
		if (fd >= 0)
			return fd;
		if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS ||
		    errno == ENOMEM) {
			/* The connection stays queued and the socket readable:
			 * without a pause this would spin until some is
			 * freed. */
			struct pollfd stop = { .fd = d->stop[0],
					       .events = POLLIN };

			hl_log(&d->log, LOG_ERR, "cannot accept: %s",
			       strerror(errno));
			poll(&stop, 1, 100);
		}
	}
}

static int worker_epoll(struct daemon *d)
{
	struct epoll_event listen_ev = { .events = EPOLLIN | EPOLLEXCLUSIVE,
					 .data.fd = d->listen_fd };
	struct epoll_event stop_ev = { .events = EPOLLIN,
				       .data.fd = d->stop[0] };
	int fd = epoll_create1(EPOLL_CLOEXEC);

	if (fd >= 0 &&
	    (epoll_ctl(fd, EPOLL_CTL_ADD, d->listen_fd, &listen_ev) != 0 ||
	     epoll_ctl(fd, EPOLL_CTL_ADD, d->stop[0], &stop_ev) != 0)) {
		close(fd);
		return -1;
	}
	return fd;
}

static bool start_worker(struct daemon *d);

/* Accepts and serves connections one after the other.  Before serving
 * one it makes sure another worker waits (up to CLIENTS_MAX); after,
 * it waits again unless WORKERS_IDLE already do. */
static void *worker_thread(void *arg)
{
	struct daemon *d = arg;
	struct hl_wire *w = malloc(sizeof(*w));
	int epoll_fd = w ? worker_epoll(d) : -1;
	bool idle = true; /* as start_worker counted it */

	if (epoll_fd < 0)
		hl_log(&d->log, LOG_ERR, "a worker cannot start: %s",
		       w ? strerror(errno) : "out of memory");
	while (idle && epoll_fd >= 0) {
		int fd = next_connection(d, epoll_fd);
		bool last;

		if (fd < 0)
			break;
		pthread_mutex_lock(&d->lock);
		last = --d->idle == 0;
		pthread_mutex_unlock(&d->lock);
		if (last)
			start_worker(d);
		serve_client(d, w, fd);
		pthread_mutex_lock(&d->lock);
		idle = d->idle < WORKERS_IDLE;
		if (idle)
			d->idle++;
		pthread_mutex_unlock(&d->lock);
	}
	if (epoll_fd >= 0)
		close(epoll_fd);
	free(w);
	pthread_mutex_lock(&d->lock);
	if (idle)
		d->idle--;
	if (d->stopping)
		d->ended[d->ended_count++] = pthread_self();
	else
		pthread_detach(pthread_self());
	d->workers--;
	pthread_cond_broadcast(&d->done);
	pthread_mutex_unlock(&d->lock);
	return NULL;
}

/* One more worker, counted idle from now on.  With CLIENTS_MAX workers
 * alive, a connection waits in the backlog for one to be free. */
static bool start_worker(struct daemon *d)
{
	pthread_t thread;
	int rc;

	pthread_mutex_lock(&d->lock);
	if (d->stopping) { /* none after: d->ended holds those alive now */
		pthread_mutex_unlock(&d->lock);
		return false;
	}
	if (d->workers >= CLIENTS_MAX) {
		pthread_mutex_unlock(&d->lock);
		hl_log(&d->log, LOG_WARNING,
		       "%d connections at once: the next ones wait",
		       CLIENTS_MAX);
		return false;
	}
	d->workers++;
	d->idle++;
	pthread_mutex_unlock(&d->lock);
	/* Joinable: it detaches itself when it ends before the stop. */
	rc = pthread_create(&thread, NULL, worker_thread, d);
	if (rc != 0) {
		hl_log(&d->log, LOG_ERR, "cannot start a worker: %s",
		       strerror(rc));
		pthread_mutex_lock(&d->lock);
		d->workers--;
		d->idle--;
		pthread_mutex_unlock(&d->lock);
	}
	return rc == 0;
}

/* Upserts this host's row now and every heartbeat seconds, until the stop
 * descriptor fires; says when the database goes away and comes back. */
static void *heartbeat_thread(void *arg)
{
	struct daemon *d = arg;
	struct pollfd stop = { .fd = d->stop[0], .events = POLLIN };
	PGconn *conn = NULL;
	bool reachable = true;

	do {
		enum hl_pg_error error = HL_PG_UNAVAILABLE;
		char why[512] = "cannot connect";

		if (!conn)
			conn = hl_pg_connect(&d->pool);
		if (conn) {
			error = hl_pg_heartbeat(conn, d->host, d->boot_id, why,
						sizeof(why));
			if (error == HL_PG_UNAVAILABLE && reconnect(d, conn))
				error = hl_pg_heartbeat(conn, d->host,
							d->boot_id, why,
							sizeof(why));
		}
		if (error != HL_PG_OK && reachable)
			hl_log(&d->log, LOG_ERR,
			       "heartbeat of host %s failed: %s", d->host, why);
		if (error == HL_PG_OK && !reachable)
			hl_log(&d->log, LOG_NOTICE,
			       "heartbeat of host %s again", d->host);
		reachable = error == HL_PG_OK;
		if (reachable)
			hl_pg_warm(&d->pool);
	} while (poll(&stop, 1, (int)d->cfg->backend.heartbeat * 1000) == 0 ||
		 (errno == EINTR && !(stop.revents & POLLIN)));
	PQfinish(conn);
	return NULL;
}

/* The listening socket, mode 0600, in a trusted directory; a socket left
 * by an earlier run is replaced, anything else there is refused. */
static int listen_socket(struct daemon *d)
{
	const char *path = d->cfg->backend.socket;
	char dir[4096], why[256];
	struct sockaddr_un addr = { .sun_family = AF_UNIX };
	struct stat st;
	int fd;

	if (strlen(path) >= sizeof(addr.sun_path) ||
	    !hl_split_path(path, dir, sizeof(dir), d->socket_name,
			   sizeof(d->socket_name))) {
		hl_log(&d->log, LOG_ERR, "socket path %s is too long", path);
		return -1;
	}
	d->dir_fd = hl_open_trusted_dir(dir, 0700, true, why, sizeof(why));
	if (d->dir_fd < 0) {
		hl_log(&d->log, LOG_ERR, "socket directory %s: %s", dir, why);
		return -1;
	}
	if (fstatat(d->dir_fd, d->socket_name, &st, AT_SYMLINK_NOFOLLOW) == 0) {
		if (!S_ISSOCK(st.st_mode) || st.st_uid != geteuid()) {
			hl_log(&d->log, LOG_ERR,
			       "%s exists and is not our socket: refused",
			       path);
			return -1;
		}
		fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
		memcpy(addr.sun_path, path, strlen(path) + 1);
		if (fd >= 0 &&
		    connect(fd, (struct sockaddr *)&addr, sizeof(addr)) == 0) {
			hl_log(&d->log, LOG_ERR,
			       "another helpdesk-licensed listens on %s", path);
			close(fd);
			return -1;
		}
		if (fd >= 0)
			close(fd);
		unlinkat(d->dir_fd, d->socket_name, 0);
	}
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	memcpy(addr.sun_path, path, strlen(path) + 1);
	if (fd < 0 || bind(fd, (struct sockaddr *)&addr, sizeof(addr)) != 0 ||
	    fchmodat(d->dir_fd, d->socket_name, 0600, 0) != 0 ||
	    listen(fd, 128) != 0) {
		hl_log(&d->log, LOG_ERR, "cannot listen on %s: %s", path,
		       strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	return fd;
}

/* Serves until SIGTERM or SIGINT, then rolls back what is open (the
 * workers see the stop descriptor) and removes the socket. */
static int run(struct daemon *d, int listen_fd, int signal_fd)
{
	pthread_t heartbeat;
	struct signalfd_siginfo info;
	unsigned started = 0;

	d->listen_fd = listen_fd;
	if (pthread_create(&heartbeat, NULL, heartbeat_thread, d) != 0) {
		hl_log(&d->log, LOG_ERR, "cannot start the heartbeat thread");
		return 1;
	}
	while (started < WORKERS_IDLE && start_worker(d))
		started++;
	if (started > 0)
		hl_log(&d->log, LOG_INFO, "host %s (boot %s) listening on %s",
		       d->host, d->boot_id, d->cfg->backend.socket);
	while (started > 0 && read(signal_fd, &info, sizeof(info)) < 0 &&
	       errno == EINTR)
		continue;
	hl_log(&d->log, LOG_INFO, "stopping");
	unlinkat(d->dir_fd, d->socket_name, 0);
	pthread_mutex_lock(&d->lock);
	d->stopping = true;
	pthread_mutex_unlock(&d->lock);
	if (write(d->stop[1], "x", 1) != 1)
		hl_log(&d->log, LOG_ERR, "cannot tell the threads to stop");
	pthread_mutex_lock(&d->lock);
	while (d->workers > 0)
		pthread_cond_wait(&d->done, &d->lock);
	pthread_mutex_unlock(&d->lock);
	for (unsigned i = 0; i < d->ended_count; i++)
		pthread_join(d->ended[i], NULL);
	/* Closed once no worker waits on it: what is still in its backlog
	 * is refused. */
	close(listen_fd);
	pthread_join(heartbeat, NULL);
	return started > 0 ? 0 : 1;
}

/* Off the terminal once the socket listens, so that when the command
 * returns clients can connect. */
static int detach(void)
{
	pid_t pid = fork();
	int null;

	if (pid < 0)
		return -1;
	if (pid > 0)
		_exit(0);
	if (setsid() < 0)
		return -1;
	null = open("/dev/null", O_RDWR | O_CLOEXEC);
	if (null < 0 || dup2(null, 0) < 0 || dup2(null, 1) < 0 ||
	    dup2(null, 2) < 0)
		return -1;
	if (null > 2)
		close(null);
	return chdir("/");
}

/* Descriptors 0 to 2 open (on /dev/null when missing), so that nothing
 * we open later lands there and is replaced when we detach. */
static int standard_descriptors(void)
{
	for (int fd = 0; fd <= 2; fd++) {
		int null;

		if (fcntl(fd, F_GETFD) >= 0 || errno != EBADF)
			continue;
		null = open("/dev/null", O_RDWR);
		if (null != fd) {
			if (null >= 0)
				close(null);
			return -1;
		}
	}
	return 0;
}

static void usage(FILE *out)
{
	fprintf(out,
		"usage: " PROGRAM " [-c FILE] [--foreground | --daemonize]\n"
		"       " PROGRAM " [-c FILE] --migrate | --check\n"
		"The daemon of the shared backend of pam_helpdesk_license; see helpdesk-licensed(8).\n"
		"  -c, --config FILE  the configuration (default " HL_CONFIG_FILE
		")\n"
		"  --foreground       stay attached, logging to stderr as well as to syslog\n"
		"                     (under systemd: Type=notify, ready once it listens)\n"
		"  --daemonize        detach once the socket listens (the default)\n"
		"  --migrate          create or upgrade the database's schema, then exit\n"
		"  --check            connect, check the schema, print one line, exit\n");
}

/* --check: one line, and the status. */
static int check(struct daemon *d)
{
	char why[512];
	int version = 0;
	enum hl_pg_error error = HL_PG_UNAVAILABLE;
	PGconn *conn = hl_pg_connect(&d->pool);

	snprintf(why, sizeof(why), "cannot connect to the database");
	if (conn)
		error = hl_pg_schema_version(conn, &version, why, sizeof(why));
	if (error == HL_PG_OK && version != HL_SCHEMA_VERSION) {
		snprintf(why, sizeof(why),
			 "the schema is version %d, this program's is %d",
			 version, HL_SCHEMA_VERSION);
		error = HL_PG_VERSION;
	}
	PQfinish(conn);
	if (error != HL_PG_OK) {
		printf("error (%s): %s\n", hl_pg_error_code(error), why);
		return 1;
	}
	printf("ok: schema version %d, host %s\n", version, d->host);
	return 0;
}

/* Type=notify: tells the service manager, through $NOTIFY_SOCKET (a
 * datagram "READY=1", as sd_notify would; no libsystemd), that the socket
 * listens.  Nothing when the variable is not set. */
static void notify_ready(struct daemon *d)
{
	const char *path = getenv("NOTIFY_SOCKET");
	struct sockaddr_un addr = { .sun_family = AF_UNIX };
	size_t len;
	int fd;

	if (!path)
		return;
	len = strlen(path);
	if ((path[0] != '/' && path[0] != '@') || len < 2 ||
	    len >= sizeof(addr.sun_path)) {
		hl_log(&d->log, LOG_WARNING, "NOTIFY_SOCKET is not usable");
		return;
	}
	memcpy(addr.sun_path, path, len);
	if (path[0] == '@') /* an abstract socket */
		addr.sun_path[0] = '\0';
	fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0 ||
	    sendto(fd, "READY=1", 7, MSG_NOSIGNAL, (struct sockaddr *)&addr,
		   (socklen_t)(offsetof(struct sockaddr_un, sun_path) + len)) !=
		    7)
		hl_log(&d->log, LOG_WARNING,
		       "cannot tell the service manager that it is ready: %s",
		       strerror(errno));
	if (fd >= 0)
		close(fd);
	/* Not for the processes it starts (none), nor a second time. */
	unsetenv("NOTIFY_SOCKET");
	/* The manager keeps standard error as well as syslog: once. */
	d->to_stderr = false;
}

/* Serves until SIGTERM or SIGINT: the socket, then off the terminal
 * (unless foreground), ready, the loop.  The exit status. */
static int serve_until_stopped(struct daemon *d, bool foreground)
{
	sigset_t signals;
	int listen_fd, signal_fd, rc;

	/* The signals arrive through signalfd, in the main loop only. */
	sigemptyset(&signals);
	sigaddset(&signals, SIGTERM);
	sigaddset(&signals, SIGINT);
	signal(SIGPIPE, SIG_IGN);
	if (pthread_sigmask(SIG_BLOCK, &signals, NULL) != 0 ||
	    pipe2(d->stop, O_CLOEXEC) != 0) {
		hl_log(&d->log, LOG_ERR, "cannot set up: %s", strerror(errno));
		return 1;
	}
	listen_fd = listen_socket(d);
	if (listen_fd < 0)
		return 1;
	if (!foreground) {
		if (detach() != 0) {
			hl_log(&d->log, LOG_ERR, "cannot detach: %s",
			       strerror(errno));
			goto fail;
		}
		d->to_stderr = false;
	}
	/* Made in the process that reads it: a signalfd inherited across
	 * fork does not wake the child's poll. */
	signal_fd = signalfd(-1, &signals, SFD_CLOEXEC);
	if (signal_fd < 0) {
		hl_log(&d->log, LOG_ERR, "signalfd: %s", strerror(errno));
		goto fail;
	}
	notify_ready(d);
	rc = run(d, listen_fd, signal_fd);
	close(signal_fd);
	return rc;
fail:
	close(listen_fd);
	unlinkat(d->dir_fd, d->socket_name, 0);
	return 1;
}

/* Root, the configuration with its backend section, the password, this
 * host's name and boot id.  0 or -1 (said why). */
static int set_up(struct daemon *d, const char *config)
{
	if (geteuid() != 0) {
		hl_log(&d->log, LOG_ERR,
		       "must run as root: its clients are root's alone");
		return -1;
	}
	if (hl_config_load(config, &d->log, &d->cfg, NULL) != 0)
		return -1;
	if (!d->cfg->backend.enabled) {
		hl_log(&d->log, LOG_ERR,
		       "%s has no backend section: nothing to serve", config);
		return -1;
	}
	if ((d->cfg->backend.password_file &&
	     read_password(d, d->cfg->backend.password_file) != 0) ||
	    find_host(d) != 0 || read_boot_id(d) != 0)
		return -1;
	return 0;
}

struct options {
	const char *config;
	bool foreground;
	int action; /* 0: serve; 'm': --migrate; 'k': --check */
};

/* -1 to go on, else the exit status. */
static int parse_options(int argc, char **argv, struct options *o)
{
	static const struct option options[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "foreground", no_argument, NULL, 'f' },
		{ "daemonize", no_argument, NULL, 'd' },
		{ "migrate", no_argument, NULL, 'm' },
		{ "check", no_argument, NULL, 'k' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int opt;

	while ((opt = getopt_long(argc, argv, "c:h", options, NULL)) != -1) {
		switch (opt) {
		case 'c': o->config = optarg; break;
		case 'f': o->foreground = true; break;
		case 'd': o->foreground = false; break;
		case 'm':
		case 'k': o->action = opt; break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (optind != argc) {
		usage(stderr);
		return 2;
	}
	return -1;
}

int main(int argc, char **argv)
{
	struct daemon d = { .stop = { -1, -1 }, .listen_fd = -1, .dir_fd = -1 };
	struct options o = { .config = HL_CONFIG_FILE };
	int rc;

	if (standard_descriptors() != 0)
		return 1;
	rc = parse_options(argc, argv, &o);
	if (rc >= 0)
		return rc;
	rc = 1;
	/* What goes wrong at start is said on the terminal too. */
	d.to_stderr = true;
	d.log.emit = emit;
	d.log.data = &d.to_stderr;
	openlog(PROGRAM, LOG_PID, LOG_DAEMON);
	umask(077);
	pthread_mutex_init(&d.lock, NULL);
	pthread_cond_init(&d.done, NULL);
	pthread_mutex_init(&d.writer[0], NULL);
	pthread_mutex_init(&d.writer[1], NULL);
	if (set_up(&d, o.config) == 0) {
		hl_pg_pool_init(&d.pool, d.cfg->backend.conninfo, d.password,
				d.cfg->lock_timeout > 0 ? d.cfg->lock_timeout
							: 1,
				&d.log);
		if (o.action == 'm') {
			PGconn *conn = hl_pg_connect(&d.pool);

			rc = conn && hl_pg_migrate(conn, &d.log) == 0 ? 0 : 1;
			PQfinish(conn);
		} else if (o.action == 'k') {
			rc = check(&d);
		} else {
			rc = serve_until_stopped(&d, o.foreground);
		}
		hl_pg_pool_destroy(&d.pool);
	}
	for (int i = 0; i < 2; i++)
		if (d.stop[i] >= 0)
			close(d.stop[i]);
	if (d.dir_fd >= 0)
		close(d.dir_fd);
	if (d.password) {
		explicit_bzero(d.password, strlen(d.password));
		free(d.password);
	}
	hl_config_free(d.cfg);
	pthread_cond_destroy(&d.done);
	pthread_mutex_destroy(&d.lock);
	closelog();
	return rc;
}
