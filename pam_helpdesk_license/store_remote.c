/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The client side of protocol v1 with helpdesk-licensed (doc/STORE.md,
 * "The shared backend", and doc/BACKEND.md); the framing is wire.h's.
 *
 * We live in sshd, as root: the socket must be a socket owned by root (no
 * link), the daemon must run as root (SO_PEERCRED), and no wait is
 * unbounded (every exchange ends within lock_timeout + a few seconds).
 * What the daemon says is checked as outside input: lengths and counts
 * within the limits, no NUL in a key or value.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "store.h"
#include "store_remote.h"
#include "text.h"
#include "wire.h"

/* Beyond lock_timeout, which the daemon may spend waiting for the lock:
 * the time a sound daemon takes to answer at all. */
#define SLACK_S 5

static void remote_why(struct hl_remote *r, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void remote_why(struct hl_remote *r, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(r->why, sizeof(r->why), fmt, ap);
	va_end(ap);
	hl_log(r->log, LOG_ERR, "%s", r->why);
}

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int wait_ms(const struct hl_remote *r)
{
	return (int)r->wait_s * 1000;
}

/* A failure of the exchange itself (not an ERROR the daemon sent). */
static int broken(struct hl_remote *r, const char *what, const char *reason)
{
	remote_why(r, "license database unreachable: helpdesk-licensed "
		   "(%s): %s: %s", r->socket, what, reason);
	return HL_STORE_IO;
}

static int broken_wire(struct hl_remote *r, const char *what,
		       enum hl_wire_status st)
{
	switch (st) {
	case HL_WIRE_EOF:
		return broken(r, what, "the daemon closed the connection");
	case HL_WIRE_TIMEOUT:
		return broken(r, what, "no answer in time");
	case HL_WIRE_MALFORMED:
		return broken(r, what, "malformed reply");
	default:
		return broken(r, what, hl_wire_status_text(st));
	}
}

/* "ERROR <code> <text>", mapped to our codes. */
static int daemon_error(struct hl_remote *r, const char *line)
{
	static const struct {
		const char *code;
		int rc;
		const char *what;
	} codes[] = {
		{ "timeout", HL_STORE_TIMEOUT, "license database busy" },
		{ "unavailable", HL_STORE_IO, "license database unreachable" },
		{ "version", HL_STORE_VERSION, "license database of another "
		  "schema version (run 'helpdesk-licensed --migrate')" },
		{ "io", HL_STORE_IO, "license database error" },
	};
	const char *p = line + strlen("ERROR ");

	for (size_t i = 0; i < sizeof(codes) / sizeof(*codes); i++) {
		size_t n = strlen(codes[i].code);

		if (strncmp(p, codes[i].code, n) == 0 &&
		    (p[n] == ' ' || p[n] == '\0')) {
			/* recv_line let through printable ASCII only */
			remote_why(r, "%s: %s", codes[i].what,
				   p[n] ? p + n + 1 : codes[i].code);
			return codes[i].rc;
		}
	}
	return -1;
}

/* A reply line: 0 when it starts with want; the mapped code of an ERROR;
 * HL_STORE_IO otherwise.  What was queued goes out first. */
static int recv_reply(struct hl_remote *r, char *line, const char *want)
{
	enum hl_wire_status st =
		hl_wire_read_line(r->wire, line, HL_WIRE_LINE_MAX);
	int rc;

	if (st != HL_WIRE_OK)
		return broken_wire(r, want, st);
	if (strncmp(line, "ERROR ", 6) == 0) {
		/* hl_wire_read_line let through printable ASCII only */
		rc = daemon_error(r, line);
		return rc >= 0 ? rc : broken(r, want, "malformed reply");
	}
	if (strncmp(line, want, strlen(want)) != 0)
		return broken(r, want, "malformed reply");
	return HL_STORE_OK;
}

/* Waits until the non-blocking connect is done or deadline passes. */
static int wait_connected(const struct hl_remote *r, int64_t deadline)
{
	for (;;) {
		struct pollfd p = { .fd = r->fd, .events = POLLOUT };
		int64_t left = deadline - now_ms();
		int n;

		if (left <= 0) {
			errno = ETIMEDOUT;
			return -1;
		}
		n = poll(&p, 1, left > INT32_MAX ? INT32_MAX : (int)left);
		if (n > 0)
			return 0;
		if (n < 0 && errno != EINTR)
			return -1;
	}
}

/* The socket as B14 wants it: a path that fits, absolute, to a socket
 * that root owns.  Fills addr with it. */
static int check_socket(struct hl_remote *r, struct sockaddr_un *addr)
{
	struct stat st;

	if (strlen(r->socket) >= sizeof(addr->sun_path) ||
	    r->socket[0] != '/') {
		remote_why(r, "license database unreachable: socket path "
			   "'%s' unusable", r->socket);
		return HL_STORE_IO;
	}
	if (lstat(r->socket, &st) != 0) {
		int err = errno;

		if (err == ENOENT)
			remote_why(r, "license database unreachable: "
				   "helpdesk-licensed is not running (no "
				   "socket %s; systemctl start "
				   "helpdesk-licensed)", r->socket);
		else
			remote_why(r, "license database unreachable: %s: %s",
				   r->socket, strerror(err));
		return HL_STORE_IO;
	}
	if (!S_ISSOCK(st.st_mode) || st.st_uid != 0) {
		remote_why(r, "license database unreachable: %s is not a "
			   "socket owned by root", r->socket);
		return HL_STORE_INSECURE;
	}
	memcpy(addr->sun_path, r->socket, strlen(r->socket) + 1);
	return HL_STORE_OK;
}

/* Why a connect failed: a daemon that is not running gets its own words. */
static int connect_failed(struct hl_remote *r, int err)
{
	if (err == ECONNREFUSED || err == ENOENT) {
		remote_why(r, "license database unreachable: "
			   "helpdesk-licensed is not running (%s "
			   "refused; systemctl start "
			   "helpdesk-licensed)", r->socket);
		return HL_STORE_IO;
	}
	return broken(r, "connect", strerror(err));
}

/* Connects r->fd to addr before deadline; the socket is non-blocking, so
 * the connect may finish later or find the daemon's backlog full. */
static int connect_socket(struct hl_remote *r, const struct sockaddr_un *addr,
			  int64_t deadline)
{
	r->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (r->fd < 0)
		return broken(r, "socket", strerror(errno));
	while (connect(r->fd, (const struct sockaddr *)addr, sizeof(*addr)) !=
	       0) {
		int err = errno;

		if (err == EINPROGRESS) {
			socklen_t elen = sizeof(err);

			if (wait_connected(r, deadline) != 0)
				return broken(r, "connect", errno == ETIMEDOUT
						  ? "no answer in time"
						  : strerror(errno));
			if (getsockopt(r->fd, SOL_SOCKET, SO_ERROR, &err,
				       &elen) != 0 || err != 0)
				return connect_failed(r, err);
			break;
		}
		if (err == EAGAIN || err == EINTR) {
			/* its backlog is full: look again shortly */
			struct pollfd none = { .fd = -1 };

			if (now_ms() >= deadline)
				return broken(r, "connect",
					      "no answer in time");
			poll(&none, 1, 10);
			continue;
		}
		return connect_failed(r, err);
	}
	return HL_STORE_OK;
}

/* The process behind the socket must run as root too. */
static int check_peer(struct hl_remote *r)
{
	struct ucred peer;
	socklen_t plen = sizeof(peer);

	if (getsockopt(r->fd, SOL_SOCKET, SO_PEERCRED, &peer, &plen) != 0)
		return broken(r, "SO_PEERCRED", strerror(errno));
	if (peer.uid != 0) {
		remote_why(r, "license database unreachable: the process "
			   "behind %s runs as uid %ld, not root",
			   r->socket, (long)peer.uid);
		return HL_STORE_INSECURE;
	}
	return HL_STORE_OK;
}

/* The socket as B14 wants it, then the daemon: root, both. */
static int remote_connect(struct hl_remote *r)
{
	struct sockaddr_un addr = { .sun_family = AF_UNIX };
	int64_t deadline = now_ms() + wait_ms(r);
	int rc;

	rc = check_socket(r, &addr);
	if (rc == HL_STORE_OK)
		rc = connect_socket(r, &addr, deadline);
	if (rc == HL_STORE_OK)
		rc = check_peer(r);
	if (rc != HL_STORE_OK)
		return rc;
	r->wire = malloc(sizeof(*r->wire));
	if (r->wire == NULL)
		return HL_STORE_NOMEM;
	hl_wire_init(r->wire, r->fd, -1, wait_ms(r));
	return HL_STORE_OK;
}

static void remote_init(struct hl_remote *r, const char *socket,
			unsigned lock_timeout, const struct hl_logger *log)
{
	memset(r, 0, sizeof(*r));
	r->fd = -1;
	r->socket = socket != NULL ? socket : "";
	r->log = log;
	r->wait_s = (lock_timeout > 3600 ? 3600 : lock_timeout) + SLACK_S;
}

static int read_records(struct hl_remote *r, size_t count,
			int (*record)(void *, const char *, const char *),
			void *arg)
{
	char line[HL_WIRE_LINE_MAX], *words[2];

	for (size_t i = 0; i < count; i++) {
		unsigned long klen, vlen;
		enum hl_wire_status st;
		char *key, *value;
		int rc;

		st = hl_wire_read_line(r->wire, line, sizeof(line));
		if (st != HL_WIRE_OK)
			return broken_wire(r, "RECORDS", st);
		if (hl_wire_words(line, words, 2) != 2 ||
		    !hl_wire_number(words[0], HL_WIRE_KEY_MAX, &klen) ||
		    !hl_wire_number(words[1], HL_WIRE_VALUE_MAX, &vlen))
			return broken(r, "RECORDS", "malformed reply");
		key = malloc(klen + 1);
		value = malloc(vlen + 1);
		if (key == NULL || value == NULL) {
			free(key);
			free(value);
			return HL_STORE_NOMEM;
		}
		st = hl_wire_read(r->wire, key, klen);
		if (st == HL_WIRE_OK)
			st = hl_wire_read(r->wire, value, vlen);
		if (st != HL_WIRE_OK) {
			free(key);
			free(value);
			return broken_wire(r, "RECORDS", st);
		}
		key[klen] = value[vlen] = '\0';
		if (strlen(key) != klen || strlen(value) != vlen) {
			free(key);
			free(value);
			return broken(r, "RECORDS (a NUL byte)",
				      "malformed reply");
		}
		rc = record(arg, key, value);
		free(key);
		free(value);
		if (rc != HL_STORE_OK)
			return rc;
	}
	return HL_STORE_OK;
}

int hl_remote_open(struct hl_remote *r, const char *socket, const char *space,
		   bool write, unsigned lock_timeout,
		   const struct hl_logger *log,
		   int (*record)(void *arg, const char *key, const char *value),
		   void *arg)
{
	char line[HL_WIRE_LINE_MAX], *words[2];
	unsigned long count = 0;
	enum hl_wire_status st;
	int rc;

	remote_init(r, socket, lock_timeout, log);
	rc = remote_connect(r);
	if (rc != HL_STORE_OK)
		goto out;
	hl_wire_deadline(r->wire, wait_ms(r));
	st = hl_wire_printf(r->wire, "OPEN %s %s %u", space,
			    write ? "write" : "read", lock_timeout);
	if (st != HL_WIRE_OK) {
		rc = broken_wire(r, "OPEN", st);
		goto out;
	}
	rc = recv_reply(r, line, "RECORDS");
	if (rc == HL_STORE_OK &&
	    (hl_wire_words(line, words, 2) != 2 ||
	     strcmp(words[0], "RECORDS") != 0 ||
	     !hl_wire_number(words[1], HL_WIRE_COUNT_MAX, &count)))
		rc = broken(r, "OPEN", "malformed reply");
	if (rc == HL_STORE_OK)
		rc = read_records(r, count, record, arg);
out:
	if (rc != HL_STORE_OK)
		hl_remote_close(r);
	return rc;
}

/* COMMIT n and the changes, queued: they go out in as few writes as the
 * buffer allows. */
static enum hl_wire_status send_changes(struct hl_remote *r, size_t n,
					const char *const *keys,
					const char *const *values,
					bool release)
{
	enum hl_wire_status st = hl_wire_printf(r->wire, "COMMIT %zu%s", n,
						release ? " release" : "");

	for (size_t i = 0; st == HL_WIRE_OK && i < n; i++) {
		size_t klen = strlen(keys[i]);
		size_t vlen = values[i] != NULL ? strlen(values[i]) : 0;

		if (klen == 0 || klen > HL_WIRE_KEY_MAX ||
		    vlen > HL_WIRE_VALUE_MAX)
			return HL_WIRE_MALFORMED;
		st = values[i] != NULL
			     ? hl_wire_printf(r->wire, "P %zu %zu", klen, vlen)
			     : hl_wire_printf(r->wire, "D %zu", klen);
		if (st == HL_WIRE_OK)
			st = hl_wire_write(r->wire, keys[i], klen);
		if (st == HL_WIRE_OK && values[i] != NULL)
			st = hl_wire_write(r->wire, values[i], vlen);
	}
	return st;
}

int hl_remote_commit(struct hl_remote *r, size_t n, const char *const *keys,
		     const char *const *values, bool release)
{
	char line[HL_WIRE_LINE_MAX];
	enum hl_wire_status st;
	int rc;

	if (r->wire == NULL)
		return broken(r, "COMMIT", "not connected");
	if (n > HL_WIRE_COUNT_MAX)
		return broken(r, "COMMIT", "too many changes");
	hl_wire_deadline(r->wire, wait_ms(r));
	st = send_changes(r, n, keys, values, release);
	if (st == HL_WIRE_MALFORMED)
		return broken(r, "COMMIT", "a key or value out of bounds");
	if (st != HL_WIRE_OK)
		return broken_wire(r, "COMMIT", st);
	rc = recv_reply(r, line, "OK");
	if (rc == HL_STORE_OK && strcmp(line, "OK") != 0)
		rc = broken(r, "COMMIT", "malformed reply");
	return rc;
}

void hl_remote_close(struct hl_remote *r)
{
	if (r == NULL)
		return;
	free(r->wire);
	r->wire = NULL;
	if (r->fd >= 0) {
		close(r->fd);
		r->fd = -1;
	}
}

int hl_remote_ping(const char *socket, unsigned timeout,
		   const struct hl_logger *log, char *answer, size_t len)
{
	struct hl_remote r;
	char line[HL_WIRE_LINE_MAX];
	enum hl_wire_status st;
	int rc;

	remote_init(&r, socket, timeout, log);
	rc = remote_connect(&r);
	if (rc == HL_STORE_OK) {
		hl_wire_deadline(r.wire, wait_ms(&r));
		st = hl_wire_printf(r.wire, "PING");
		rc = st == HL_WIRE_OK ? recv_reply(&r, line, "OK ")
				      : broken_wire(&r, "PING", st);
	}
	hl_remote_close(&r);
	snprintf(answer, len, "%s", rc == HL_STORE_OK ? line + 3 : r.why);
	return rc;
}
