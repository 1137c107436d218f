/* SPDX-License-Identifier: BSD-3-Clause */
/* Framing of protocol v1 (wire.h): bounded reads and writes on a stream
 * socket, the stop descriptor watched beside the peer. */
#include "config.h"

#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "wire.h"

void hl_wire_init(struct hl_wire *w, int fd, int stop_fd, int timeout_ms)
{
	w->fd = fd;
	w->stop_fd = stop_fd;
	w->timeout_ms = timeout_ms;
	w->deadline = 0;
	w->start = w->end = 0;
	w->out_len = 0;
}

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void hl_wire_deadline(struct hl_wire *w, int ms)
{
	w->deadline = now_ms() + ms;
}

/* Waits until fd is ready for events, the stop descriptor fires, or the
 * timeout passes. */
static enum hl_wire_status wait_for(struct hl_wire *w, short events)
{
	struct pollfd fds[2] = {
		{ .fd = w->fd, .events = events },
		{ .fd = w->stop_fd, .events = POLLIN },
	};
	nfds_t count = w->stop_fd >= 0 ? 2 : 1;
	int n;

	do {
		int wait_ms = w->timeout_ms;

		if (w->deadline != 0) {
			int64_t left = w->deadline - now_ms();

			if (left <= 0)
				return HL_WIRE_TIMEOUT;
			if (left < wait_ms)
				wait_ms = (int)left;
		}
		n = poll(fds, count, wait_ms);
	} while (n < 0 && errno == EINTR);
	if (n < 0)
		return HL_WIRE_IO;
	if (n == 0)
		return HL_WIRE_TIMEOUT;
	if (count == 2 && fds[1].revents)
		return HL_WIRE_STOPPED;
	return HL_WIRE_OK;
}

static enum hl_wire_status fill(struct hl_wire *w)
{
	enum hl_wire_status st;
	ssize_t got;

	/* What we said goes out before we wait for the answer. */
	if (w->out_len > 0) {
		st = hl_wire_flush(w);
		if (st != HL_WIRE_OK)
			return st;
	}
	if (w->start == w->end)
		w->start = w->end = 0;
	if (w->end == sizeof(w->buf)) {
		memmove(w->buf, w->buf + w->start, w->end - w->start);
		w->end -= w->start;
		w->start = 0;
	}
	st = wait_for(w, POLLIN);
	if (st != HL_WIRE_OK)
		return st;
	do
		got = read(w->fd, w->buf + w->end, sizeof(w->buf) - w->end);
	while (got < 0 && errno == EINTR);
	/* A peer that closed with our bytes unread resets the connection:
	 * gone all the same. */
	if (got < 0)
		return errno == ECONNRESET ? HL_WIRE_EOF : HL_WIRE_IO;
	if (got == 0)
		return HL_WIRE_EOF;
	w->end += (size_t)got;
	return HL_WIRE_OK;
}

enum hl_wire_status hl_wire_read_line(struct hl_wire *w, char *line,
				      size_t size)
{
	for (;;) {
		size_t avail = w->end - w->start;
		const char *nl = memchr(w->buf + w->start, '\n', avail);
		enum hl_wire_status st;

		if (nl) {
			size_t len = (size_t)(nl - (w->buf + w->start));

			if (len + 1 > HL_WIRE_LINE_MAX || len + 1 > size)
				return HL_WIRE_MALFORMED;
			for (size_t i = 0; i < len; i++)
				if (w->buf[w->start + i] < ' ' ||
				    w->buf[w->start + i] > '~')
					return HL_WIRE_MALFORMED;
			memcpy(line, w->buf + w->start, len);
			line[len] = '\0';
			w->start += len + 1;
			return HL_WIRE_OK;
		}
		if (avail >= HL_WIRE_LINE_MAX)
			return HL_WIRE_MALFORMED;
		st = fill(w);
		if (st != HL_WIRE_OK)
			return st;
	}
}

enum hl_wire_status hl_wire_read(struct hl_wire *w, void *dst, size_t len)
{
	char *out = dst;

	while (len > 0) {
		size_t avail = w->end - w->start;
		enum hl_wire_status st;

		if (avail > 0) {
			size_t take = avail < len ? avail : len;

			memcpy(out, w->buf + w->start, take);
			w->start += take;
			out += take;
			len -= take;
			continue;
		}
		st = fill(w);
		if (st != HL_WIRE_OK)
			return st;
	}
	return HL_WIRE_OK;
}

static enum hl_wire_status send_all(struct hl_wire *w, const void *src,
				    size_t len)
{
	const char *in = src;

	while (len > 0) {
		ssize_t put;

		/* MSG_DONTWAIT: a blocking send of a large value would wait
		 * for a peer that stopped reading, unbounded.  The socket
		 * has room nearly always: it is waited for only when full. */
		do
			put = send(w->fd, in, len, MSG_NOSIGNAL | MSG_DONTWAIT);
		while (put < 0 && errno == EINTR);
		if (put < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			enum hl_wire_status st = wait_for(w, POLLOUT);

			if (st != HL_WIRE_OK)
				return st;
			continue;
		}
		if (put < 0)
			return errno == EPIPE || errno == ECONNRESET
				       ? HL_WIRE_EOF
				       : HL_WIRE_IO;
		in += put;
		len -= (size_t)put;
	}
	return HL_WIRE_OK;
}

enum hl_wire_status hl_wire_flush(struct hl_wire *w)
{
	enum hl_wire_status st = send_all(w, w->out, w->out_len);

	w->out_len = 0;
	return st;
}

enum hl_wire_status hl_wire_write(struct hl_wire *w, const void *src,
				  size_t len)
{
	if (w->out_len + len > sizeof(w->out)) {
		enum hl_wire_status st = hl_wire_flush(w);

		if (st != HL_WIRE_OK)
			return st;
		/* A large value goes out as it is, not copied. */
		if (len > sizeof(w->out) / 2)
			return send_all(w, src, len);
	}
	memcpy(w->out + w->out_len, src, len);
	w->out_len += len;
	return HL_WIRE_OK;
}

enum hl_wire_status hl_wire_printf(struct hl_wire *w, const char *fmt, ...)
{
	char line[HL_WIRE_LINE_MAX + 1];
	va_list ap;
	int len;

	va_start(ap, fmt);
	len = vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	/* Room for the "\n" within the limit. */
	if (len < 0 || (size_t)len + 1 > HL_WIRE_LINE_MAX)
		return HL_WIRE_MALFORMED;
	line[len] = '\n';
	return hl_wire_write(w, line, (size_t)len + 1);
}

bool hl_wire_number(const char *text, unsigned long max, unsigned long *out)
{
	unsigned long value = 0;
	const char *p;

	if (text[0] == '\0' || (text[0] == '0' && text[1] != '\0'))
		return false;
	for (p = text; *p; p++) {
		if (*p < '0' || *p > '9')
			return false;
		if (value > (max - (unsigned long)(*p - '0')) / 10)
			return false;
		value = value * 10 + (unsigned long)(*p - '0');
	}
	*out = value;
	return true;
}

int hl_wire_words(char *line, char **words, int max)
{
	int count = 0;
	char *p = line;

	for (;;) {
		char *space = strchr(p, ' ');

		if (count == max || *p == '\0' || *p == ' ')
			return -1;
		words[count++] = p;
		if (!space)
			return count;
		*space = '\0';
		p = space + 1;
	}
}

const char *hl_wire_status_text(enum hl_wire_status status)
{
	switch (status) {
	case HL_WIRE_OK: return "ok";
	case HL_WIRE_EOF: return "the peer closed";
	case HL_WIRE_TIMEOUT: return "the peer was silent too long";
	case HL_WIRE_STOPPED: return "stopping";
	case HL_WIRE_MALFORMED: return "malformed message";
	case HL_WIRE_IO: return "read or write failed";
	}
	return "?";
}
