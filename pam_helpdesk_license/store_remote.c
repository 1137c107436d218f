/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The client side of protocol v1 with helpdesk-licensed (doc/STORE.md,
 * "The shared backend"): header lines of ASCII, at most
 * HL_REMOTE_LINE_MAX bytes, followed by the bytes they announce.
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

/* Waits for events on r->fd until deadline; 0, or -1 with errno. */
static int wait_fd(const struct hl_remote *r, short events, int64_t deadline)
{
	for (;;) {
		struct pollfd p = { .fd = r->fd, .events = events };
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

static int64_t deadline_of(const struct hl_remote *r)
{
	return now_ms() + (int64_t)r->wait_s * 1000;
}

static int send_all(struct hl_remote *r, const void *data, size_t len,
		    int64_t deadline)
{
	const char *p = data;

	while (len > 0) {
		ssize_t n = send(r->fd, p, len, MSG_NOSIGNAL);

		if (n > 0) {
			p += n;
			len -= (size_t)n;
		} else if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
			if (wait_fd(r, POLLOUT, deadline) != 0)
				return -1;
		} else {
			return -1;
		}
	}
	return 0;
}

/* Fills r->buf when it is empty; 0, or -1 with errno (0 at end of file). */
static int fill(struct hl_remote *r, int64_t deadline)
{
	while (r->off == r->have) {
		ssize_t n = recv(r->fd, r->buf, sizeof(r->buf), 0);

		if (n > 0) {
			r->off = 0;
			r->have = (size_t)n;
		} else if (n == 0) {
			errno = 0;
			return -1;
		} else if (errno == EAGAIN || errno == EINTR) {
			if (wait_fd(r, POLLIN, deadline) != 0)
				return -1;
		} else {
			return -1;
		}
	}
	return 0;
}

static int recv_bytes(struct hl_remote *r, char *out, size_t len,
		      int64_t deadline)
{
	while (len > 0) {
		size_t n;

		if (fill(r, deadline) != 0)
			return -1;
		n = r->have - r->off < len ? r->have - r->off : len;
		memcpy(out, r->buf + r->off, n);
		r->off += n;
		out += n;
		len -= n;
	}
	return 0;
}

/* One header line, without its "\n"; -1 with errno EPROTO when it is too
 * long or holds a byte that is not printable ASCII. */
static int recv_line(struct hl_remote *r, char *line, int64_t deadline)
{
	size_t len = 0;

	for (;;) {
		char c;

		if (recv_bytes(r, &c, 1, deadline) != 0)
			return -1;
		if (c == '\n')
			break;
		if (len + 1 >= HL_REMOTE_LINE_MAX || c < ' ' || c > '~') {
			errno = EPROTO;
			return -1;
		}
		line[len++] = c;
	}
	line[len] = '\0';
	return 0;
}

/* "<number>" ending at *p's next space or end; the number within max. */
static bool parse_size(const char **p, unsigned long max, size_t *out)
{
	const char *s = *p;
	unsigned long v = 0;

	if (*s < '0' || *s > '9' || (s[0] == '0' && s[1] >= '0' && s[1] <= '9'))
		return false;
	for (; *s >= '0' && *s <= '9'; s++) {
		if (v > (max - (unsigned long)(*s - '0')) / 10)
			return false;
		v = v * 10 + (unsigned long)(*s - '0');
	}
	if (*s != '\0' && *s != ' ')
		return false;
	*p = *s == ' ' ? s + 1 : s;
	*out = v;
	return true;
}

/* "WORD n1 n2 ..." exactly (word "": the numbers alone): count numbers,
 * each within max[i]. */
static bool parse_header(const char *line, const char *word, size_t count,
			 const unsigned long *max, size_t *out)
{
	size_t wlen = strlen(word);
	const char *p;

	if (strncmp(line, word, wlen) != 0)
		return false;
	p = line + wlen;
	if (count == 0)
		return *p == '\0';
	if (wlen > 0 && *p++ != ' ')
		return false;
	for (size_t i = 0; i < count; i++)
		if (!parse_size(&p, max[i], &out[i]) ||
		    (i + 1 < count) != (p[-1] == ' '))
			return false;
	return *p == '\0';
}

static const char *reason_of(int err)
{
	if (err == 0)
		return "the daemon closed the connection";
	if (err == EPROTO)
		return "malformed reply";
	if (err == ETIMEDOUT)
		return "no answer in time";
	return strerror(err);
}

/* A failure of the exchange itself (not an ERROR the daemon sent). */
static int broken(struct hl_remote *r, const char *what, int err)
{
	remote_why(r, "license database unreachable: helpdesk-licensed "
		   "(%s): %s: %s", r->socket, what, reason_of(err));
	return HL_STORE_IO;
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
	errno = EPROTO;
	return -1;
}

/* A reply line: 0 when it starts with want; the mapped code of an ERROR;
 * HL_STORE_IO otherwise. */
static int recv_reply(struct hl_remote *r, char *line, const char *want,
		      int64_t deadline)
{
	int rc;

	if (recv_line(r, line, deadline) != 0)
		return broken(r, want, errno);
	if (strncmp(line, "ERROR ", 6) == 0) {
		rc = daemon_error(r, line);
		return rc >= 0 ? rc : broken(r, want, EPROTO);
	}
	if (strncmp(line, want, strlen(want)) != 0)
		return broken(r, want, EPROTO);
	return HL_STORE_OK;
}

/* The socket as B14 wants it, then the daemon: root, both. */
static int remote_connect(struct hl_remote *r)
{
	struct sockaddr_un addr = { .sun_family = AF_UNIX };
	struct ucred peer;
	socklen_t plen = sizeof(peer);
	int64_t deadline = deadline_of(r);
	struct stat st;

	if (strlen(r->socket) >= sizeof(addr.sun_path) ||
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
	memcpy(addr.sun_path, r->socket, strlen(r->socket) + 1);
	r->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (r->fd < 0)
		return broken(r, "socket", errno);
	while (connect(r->fd, (struct sockaddr *)&addr, sizeof(addr)) != 0) {
		int err = errno;

		if (err == EINPROGRESS) {
			socklen_t elen = sizeof(err);

			if (wait_fd(r, POLLOUT, deadline) != 0)
				return broken(r, "connect", errno);
			if (getsockopt(r->fd, SOL_SOCKET, SO_ERROR, &err,
				       &elen) != 0 || err != 0)
				goto failed;
			break;
		}
		if (err == EAGAIN || err == EINTR) {
			/* its backlog is full: look again shortly */
			struct pollfd none = { .fd = -1 };

			if (now_ms() >= deadline)
				return broken(r, "connect", ETIMEDOUT);
			poll(&none, 1, 10);
			continue;
		}
failed:
		if (err == ECONNREFUSED || err == ENOENT) {
			remote_why(r, "license database unreachable: "
				   "helpdesk-licensed is not running (%s "
				   "refused; systemctl start "
				   "helpdesk-licensed)", r->socket);
			return HL_STORE_IO;
		}
		return broken(r, "connect", err);
	}
	if (getsockopt(r->fd, SOL_SOCKET, SO_PEERCRED, &peer, &plen) != 0)
		return broken(r, "SO_PEERCRED", errno);
	if (peer.uid != 0) {
		remote_why(r, "license database unreachable: the process "
			   "behind %s runs as uid %ld, not root",
			   r->socket, (long)peer.uid);
		return HL_STORE_INSECURE;
	}
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

static int read_records(struct hl_remote *r, size_t count, int64_t deadline,
			int (*record)(void *, const char *, const char *),
			void *arg)
{
	static const unsigned long max[] = { HL_REMOTE_KEY_MAX,
					     HL_REMOTE_VALUE_MAX };
	char line[HL_REMOTE_LINE_MAX];

	for (size_t i = 0; i < count; i++) {
		size_t len[2];
		char *key, *value;
		int rc;

		if (recv_line(r, line, deadline) != 0)
			return broken(r, "RECORDS", errno);
		/* "<klen> <vlen>": the header's word is the empty string */
		if (!parse_header(line, "", 2, max, len))
			return broken(r, "RECORDS", EPROTO);
		key = malloc(len[0] + 1);
		value = malloc(len[1] + 1);
		if (key == NULL || value == NULL) {
			free(key);
			free(value);
			return HL_STORE_NOMEM;
		}
		if (recv_bytes(r, key, len[0], deadline) != 0 ||
		    recv_bytes(r, value, len[1], deadline) != 0) {
			free(key);
			free(value);
			return broken(r, "RECORDS", errno);
		}
		key[len[0]] = value[len[1]] = '\0';
		if (strlen(key) != len[0] || strlen(value) != len[1]) {
			free(key);
			free(value);
			return broken(r, "RECORDS (a NUL byte)", EPROTO);
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
	static const unsigned long max[] = { HL_REMOTE_RECORDS_MAX };
	char line[HL_REMOTE_LINE_MAX];
	int64_t deadline;
	size_t count;
	int rc, n;

	remote_init(r, socket, lock_timeout, log);
	rc = remote_connect(r);
	if (rc != HL_STORE_OK)
		goto out;
	deadline = deadline_of(r);
	n = snprintf(line, sizeof(line), "OPEN %s %s %u\n", space,
		     write ? "write" : "read", lock_timeout);
	if (n < 0 || (size_t)n >= sizeof(line)) {
		rc = broken(r, "OPEN", EINVAL);
		goto out;
	}
	if (send_all(r, line, (size_t)n, deadline) != 0) {
		rc = broken(r, "OPEN", errno);
		goto out;
	}
	rc = recv_reply(r, line, "RECORDS", deadline);
	if (rc == HL_STORE_OK && !parse_header(line, "RECORDS", 1, max, &count))
		rc = broken(r, "OPEN", EPROTO);
	if (rc == HL_STORE_OK)
		rc = read_records(r, count, deadline, record, arg);
out:
	if (rc != HL_STORE_OK)
		hl_remote_close(r);
	return rc;
}

int hl_remote_commit(struct hl_remote *r, size_t n, const char *const *keys,
		     const char *const *values)
{
	char line[HL_REMOTE_LINE_MAX];
	int64_t deadline = deadline_of(r);
	int len;

	if (r->fd < 0)
		return broken(r, "COMMIT", ENOTCONN);
	if (n > HL_REMOTE_RECORDS_MAX)
		return broken(r, "COMMIT", E2BIG);
	len = snprintf(line, sizeof(line), "COMMIT %zu\n", n);
	if (send_all(r, line, (size_t)len, deadline) != 0)
		return broken(r, "COMMIT", errno);
	for (size_t i = 0; i < n; i++) {
		size_t klen = strlen(keys[i]);
		size_t vlen = values[i] != NULL ? strlen(values[i]) : 0;

		if (klen == 0 || klen > HL_REMOTE_KEY_MAX ||
		    vlen > HL_REMOTE_VALUE_MAX)
			return broken(r, "COMMIT", E2BIG);
		len = values[i] != NULL
		      ? snprintf(line, sizeof(line), "P %zu %zu\n", klen, vlen)
		      : snprintf(line, sizeof(line), "D %zu\n", klen);
		if (send_all(r, line, (size_t)len, deadline) != 0 ||
		    send_all(r, keys[i], klen, deadline) != 0 ||
		    (values[i] != NULL &&
		     send_all(r, values[i], vlen, deadline) != 0))
			return broken(r, "COMMIT", errno);
	}
	{
		int rc = recv_reply(r, line, "OK", deadline);

		if (rc == HL_STORE_OK && strcmp(line, "OK") != 0)
			rc = broken(r, "COMMIT", EPROTO);
		return rc;
	}
}

void hl_remote_close(struct hl_remote *r)
{
	if (r != NULL && r->fd >= 0) {
		close(r->fd);
		r->fd = -1;
	}
}

int hl_remote_ping(const char *socket, unsigned timeout,
		   const struct hl_logger *log, char *answer, size_t len)
{
	struct hl_remote r;
	char line[HL_REMOTE_LINE_MAX];
	int rc;

	remote_init(&r, socket, timeout, log);
	rc = remote_connect(&r);
	if (rc == HL_STORE_OK && send_all(&r, "PING\n", 5, deadline_of(&r)) != 0)
		rc = broken(&r, "PING", errno);
	if (rc == HL_STORE_OK)
		rc = recv_reply(&r, line, "OK ", deadline_of(&r));
	hl_remote_close(&r);
	snprintf(answer, len, "%s", rc == HL_STORE_OK ? line + 3 : r.why);
	return rc;
}
