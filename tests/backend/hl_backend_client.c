/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * A client of protocol v1 for the tests of helpdesk-licensed
 * (tests/backend/daemon-test.sh); doc/BACKEND.md has the protocol.
 *
 *   hl_backend_client SOCKET ping
 *   hl_backend_client SOCKET read SPACE
 *   hl_backend_client SOCKET write SPACE TIMEOUT [--hold] [--as WORD]
 *                     [put KEY VALUE | del KEY]...
 *   hl_backend_client PATH await-ready
 *
 * Prints the daemon's answers: "OK ..." or "ERROR CODE TEXT", the records
 * of an OPEN as "RECORDS N" then "KEY=VALUE" lines (keys and values of
 * the tests are text), "OK" after a COMMIT, or "closed" when the daemon
 * closed without a word.  With --hold a write prints "opened" after the
 * records and waits for a line on stdin before it commits (the test kills
 * it there, or lets it go on); --as WORD sends "COMMIT N WORD" (the
 * module's word is "release").  Exit status 0 when the daemon said OK.
 * await-ready plays systemd's side of Type=notify: it binds a datagram
 * socket at PATH, prints "listening", then the first datagram it gets.
 * Like the module, it speaks only to a root-owned socket whose peer is
 * root.
 */
#include "config.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "wire.h"

#define TIMEOUT_MS 120000 /* a hang guard only */

static int connect_daemon(const char *path)
{
	struct sockaddr_un addr = { .sun_family = AF_UNIX };
	struct ucred cred;
	socklen_t len = sizeof(cred);
	struct stat st;
	int fd;

	if (lstat(path, &st) != 0 || !S_ISSOCK(st.st_mode) || st.st_uid != 0) {
		fprintf(stderr, "%s: not a socket of root's\n", path);
		return -1;
	}
	if (strlen(path) >= sizeof(addr.sun_path))
		return -1;
	memcpy(addr.sun_path, path, strlen(path) + 1);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 ||
	    connect(fd, (struct sockaddr *)&addr, sizeof(addr)) != 0) {
		fprintf(stderr, "connect %s: %s\n", path, strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) != 0 ||
	    cred.uid != 0) {
		fprintf(stderr, "%s: the daemon is not root's\n", path);
		close(fd);
		return -1;
	}
	return fd;
}

/* true when a request went out; else says why: "closed" when the daemon
 * had closed already (it refused us). */
static bool sent(enum hl_wire_status st)
{
	if (st != HL_WIRE_OK)
		puts(st == HL_WIRE_EOF ? "closed" : hl_wire_status_text(st));
	return st == HL_WIRE_OK;
}

/* A reply line; "closed" when there was none.  true for "OK...". */
static bool reply(struct hl_wire *w, char *line)
{
	enum hl_wire_status st = hl_wire_read_line(w, line, HL_WIRE_LINE_MAX);

	if (st != HL_WIRE_OK) {
		puts(st == HL_WIRE_EOF ? "closed" : hl_wire_status_text(st));
		return false;
	}
	puts(line);
	return strncmp(line, "OK", 2) == 0;
}

static bool records(struct hl_wire *w)
{
	char line[HL_WIRE_LINE_MAX], *words[2];
	unsigned long count, klen, vlen;

	if (hl_wire_read_line(w, line, sizeof(line)) != HL_WIRE_OK) {
		puts("closed");
		return false;
	}
	puts(line);
	if (strncmp(line, "RECORDS ", 8) != 0 ||
	    !hl_wire_number(line + 8, HL_WIRE_COUNT_MAX, &count))
		return false;
	for (unsigned long i = 0; i < count; i++) {
		char *data;

		if (hl_wire_read_line(w, line, sizeof(line)) != HL_WIRE_OK ||
		    hl_wire_words(line, words, 2) != 2 ||
		    !hl_wire_number(words[0], HL_WIRE_KEY_MAX, &klen) ||
		    !hl_wire_number(words[1], HL_WIRE_VALUE_MAX, &vlen))
			return false;
		data = malloc(klen + vlen + 1);
		if (!data || hl_wire_read(w, data, klen + vlen) != HL_WIRE_OK) {
			free(data);
			return false;
		}
		printf("%.*s=%.*s\n", (int)klen, data, (int)vlen, data + klen);
		free(data);
	}
	return true;
}

static bool commit(struct hl_wire *w, const char *as, int argc, char **argv)
{
	char line[HL_WIRE_LINE_MAX];
	int changes = 0;

	for (int i = 0; i < argc; i += strcmp(argv[i], "put") == 0 ? 3 : 2)
		changes++;
	if (hl_wire_printf(w, "COMMIT %d%s%s", changes, as ? " " : "",
			   as ? as : "") != HL_WIRE_OK)
		return false;
	for (int i = 0; i < argc;) {
		bool put = strcmp(argv[i], "put") == 0;
		const char *key = argv[i + 1];
		const char *value = put ? argv[i + 2] : "";

		if ((put ? hl_wire_printf(w, "P %zu %zu", strlen(key),
					  strlen(value))
			 : hl_wire_printf(w, "D %zu", strlen(key))) !=
			    HL_WIRE_OK ||
		    hl_wire_write(w, key, strlen(key)) != HL_WIRE_OK ||
		    hl_wire_write(w, value, strlen(value)) != HL_WIRE_OK)
			return false;
		i += put ? 3 : 2;
	}
	return reply(w, line);
}

/* The first datagram sent to path, as $NOTIFY_SOCKET's reader. */
static int await_ready(const char *path)
{
	struct sockaddr_un addr = { .sun_family = AF_UNIX };
	char message[256];
	struct pollfd p;
	ssize_t got;
	int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);

	if (fd < 0 || strlen(path) >= sizeof(addr.sun_path))
		return 1;
	memcpy(addr.sun_path, path, strlen(path) + 1);
	if (bind(fd, (struct sockaddr *)&addr, sizeof(addr)) != 0) {
		fprintf(stderr, "bind %s: %s\n", path, strerror(errno));
		return 1;
	}
	puts("listening");
	p = (struct pollfd){ .fd = fd, .events = POLLIN };
	if (poll(&p, 1, TIMEOUT_MS) != 1) {
		puts("nothing");
		return 1;
	}
	got = recv(fd, message, sizeof(message) - 1, 0);
	if (got < 0)
		return 1;
	message[got] = '\0';
	puts(message);
	close(fd);
	return 0;
}

int main(int argc, char **argv)
{
	static struct hl_wire w;
	char line[HL_WIRE_LINE_MAX];
	const char *as = NULL;
	bool ok = false, hold = false;
	int fd, first = 5;

	setvbuf(stdout, NULL, _IOLBF, 0);
	if (argc == 3 && strcmp(argv[2], "await-ready") == 0)
		return await_ready(argv[1]);
	if (argc < 3 || (strcmp(argv[2], "ping") != 0 && argc < 4) ||
	    (strcmp(argv[2], "write") == 0 && argc < 5)) {
		fprintf(stderr, "usage: see the comment at the top of %s\n",
			__FILE__);
		return 2;
	}
	if (strcmp(argv[2], "write") == 0) {
		hold = argc > 5 && strcmp(argv[5], "--hold") == 0;
		first += hold;
		if (argc > first + 1 && strcmp(argv[first], "--as") == 0) {
			as = argv[first + 1];
			first += 2;
		}
		for (int i = first; i < argc;
		     i += strcmp(argv[i], "put") == 0 ? 3 : 2)
			if ((strcmp(argv[i], "put") != 0 &&
			     strcmp(argv[i], "del") != 0) ||
			    i + (strcmp(argv[i], "put") == 0 ? 2 : 1) >= argc) {
				fprintf(stderr, "bad change at %s\n", argv[i]);
				return 2;
			}
	}
	fd = connect_daemon(argv[1]);
	if (fd < 0)
		return 1;
	hl_wire_init(&w, fd, -1, TIMEOUT_MS);
	if (strcmp(argv[2], "ping") == 0) {
		ok = sent(hl_wire_printf(&w, "PING")) && reply(&w, line);
	} else if (strcmp(argv[2], "read") == 0) {
		ok = sent(hl_wire_printf(&w, "OPEN %s read 0", argv[3])) &&
		     records(&w);
	} else if (strcmp(argv[2], "write") == 0) {
		ok = sent(hl_wire_printf(&w, "OPEN %s write %s", argv[3],
					 argv[4])) &&
		     records(&w);
		if (ok && hold) {
			puts("opened");
			ok = fgets(line, sizeof(line), stdin) != NULL;
		}
		ok = ok && commit(&w, as, argc - first, argv + first);
	}
	close(fd);
	return ok ? 0 : 1;
}
