/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Protocol tests of the remote store's client (store_remote.c, and the
 * remote half of store.c): the daemon, helpdesk-licensed, is played by a
 * forked child of this program that listens on a Unix socket in a mkdtemp
 * directory and speaks protocol v1's framing from a script: what to answer
 * on each connection.  Everything the child received is written to a file
 * that the test reads once the child has exited, so a test asserts the
 * exact bytes the client sent.  No real daemon nor database here: those
 * are the backend tests'.
 *
 * The client trusts only a socket owned by root and a daemon running as
 * root: these tests need root, and are skipped without it.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "store.h"
#include "store_remote.h"
#include "support.h"

struct fixture {
	char tmp[64];
	char socket[100];	/* tmp/licensed.sock: fits sun_path */
	char received[128];	/* tmp/received: what the peer read */
	char log[TS_LOG_SIZE];	/* what the client logged */
	struct hl_logger logger;
	pid_t peer;
};

/* What the peer does on one connection. */
struct turn {
	const char *reply;	/* sent after the OPEN (or PING) line */
	size_t reply_len;	/* 0: strlen(reply) */
	const char *commit;	/* NULL: read to end of file; else a COMMIT
				 * is read in full, and this is the answer */
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	if (f == NULL)
		return -1;
	ts_make_temp_dir(f->tmp, sizeof(f->tmp), NULL, "test_store_remote");
	snprintf(f->socket, sizeof(f->socket), "%s/licensed.sock", f->tmp);
	snprintf(f->received, sizeof(f->received), "%s/received", f->tmp);
	f->logger.emit = ts_log_capture;
	f->logger.data = f->log;
	f->peer = -1;
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	if (f->peer > 0) {
		kill(f->peer, SIGKILL);
		waitpid(f->peer, NULL, 0);
	}
	ts_remove_tree(f->tmp);
	free(f);
	return 0;
}

/* ---- the peer ------------------------------------------------------------ */

static bool peer_read(int fd, char *out, size_t len)
{
	while (len > 0) {
		ssize_t n = read(fd, out, len);

		if (n <= 0)
			return false;
		out += n;
		len -= (size_t)n;
	}
	return true;
}

static bool peer_line(int fd, char *line, size_t len)
{
	for (size_t i = 0; i + 1 < len; i++) {
		if (!peer_read(fd, &line[i], 1))
			return false;
		if (line[i] == '\n') {
			line[i + 1] = '\0';
			return true;
		}
	}
	return false;
}

static void peer_write(int fd, const void *data, size_t len)
{
	if (write(fd, data, len) != (ssize_t)len)
		_exit(3);
}

/* Reads one COMMIT in full (its framing), copying it to out. */
static bool peer_commit(int conn, int out)
{
	char line[300], *data;
	unsigned long n, klen, vlen;

	if (!peer_line(conn, line, sizeof(line)) ||
	    sscanf(line, "COMMIT %lu", &n) != 1)
		return false;
	peer_write(out, line, strlen(line));
	for (unsigned long i = 0; i < n; i++) {
		if (!peer_line(conn, line, sizeof(line)))
			return false;
		peer_write(out, line, strlen(line));
		if (sscanf(line, "P %lu %lu", &klen, &vlen) != 2) {
			if (sscanf(line, "D %lu", &klen) != 1)
				return false;
			vlen = 0;
		}
		if ((data = malloc(klen + vlen + 1)) == NULL ||
		    !peer_read(conn, data, klen + vlen))
			return false;
		peer_write(out, data, klen + vlen);
		free(data);
	}
	return true;
}

static void peer_serve(int conn, const struct turn *t, int out)
{
	char line[300], rest[4096];
	ssize_t n;

	if (!peer_line(conn, line, sizeof(line)))
		return;
	peer_write(out, line, strlen(line));
	if (t->reply != NULL)
		peer_write(conn, t->reply,
			   t->reply_len ? t->reply_len : strlen(t->reply));
	if (t->commit != NULL) {
		if (!peer_commit(conn, out))
			return;
		peer_write(conn, t->commit, strlen(t->commit));
	}
	/* The client ends the transaction by closing. */
	while ((n = read(conn, rest, sizeof(rest))) > 0)
		peer_write(out, rest, (size_t)n);
}

/*
 * Forks the peer: it binds the socket (as root: the file is root's),
 * runs as uid before listening when uid is not 0 (SO_PEERCRED gives what
 * was in force at listen), then serves the turns one connection each.
 * Returns once it listens.
 */
static void start_peer(struct fixture *f, const struct turn *turns,
		       size_t count, uid_t uid)
{
	struct sockaddr_un addr = { .sun_family = AF_UNIX };
	int ready[2];
	char c;

	assert_int_equal(pipe(ready), 0);
	f->peer = fork();
	assert_true(f->peer >= 0);
	if (f->peer == 0) {
		int fd = socket(AF_UNIX, SOCK_STREAM, 0);
		int out = open(f->received, O_WRONLY | O_CREAT | O_TRUNC |
			       O_CLOEXEC, 0600);

		close(ready[0]);
		snprintf(addr.sun_path, sizeof(addr.sun_path), "%s",
			 f->socket);
		unlink(f->socket);	/* an earlier peer's */
		if (fd < 0 || out < 0 ||
		    bind(fd, (struct sockaddr *)&addr, sizeof(addr)) != 0 ||
		    chmod(f->socket, 0600) != 0 ||
		    (uid != 0 && setuid(uid) != 0) || listen(fd, 8) != 0)
			_exit(2);
		peer_write(ready[1], "r", 1);
		close(ready[1]);
		for (size_t i = 0; i < count; i++) {
			int conn = accept(fd, NULL, NULL);

			if (conn < 0)
				_exit(2);
			peer_serve(conn, &turns[i], out);
			close(conn);
		}
		_exit(0);
	}
	close(ready[1]);
	assert_int_equal(read(ready[0], &c, 1), 1);
	close(ready[0]);
}

/* Waits for the peer to finish its turns; what it received. */
static char *finish_peer(struct fixture *f)
{
	static char text[8192];
	int status, fd;
	ssize_t n;

	assert_int_equal(waitpid(f->peer, &status, 0), f->peer);
	f->peer = -1;
	assert_true(WIFEXITED(status));
	fd = open(f->received, O_RDONLY | O_CLOEXEC);
	assert_true(fd >= 0);
	n = read(fd, text, sizeof(text) - 1);
	close(fd);
	assert_true(n >= 0);
	text[n] = '\0';
	return text;
}

static int open_remote(struct fixture *f, const char *space, bool write,
		       struct hl_store **out, char *why, size_t len)
{
	const struct hl_store_place place = { .socket = f->socket,
					      .space = space };

	return hl_store_open_at(&place, write ? HL_STORE_WRITE : HL_STORE_READ,
				2, &f->logger, out, why, len);
}

static void skip_unless_root(void)
{
	if (geteuid() != 0)
		skip();
}

/* One connection, one reply to OPEN: the code hl_store_open_at returns. */
static int open_with_reply(struct fixture *f, const char *reply, size_t len,
			   char *why, size_t why_len)
{
	const struct turn t = { .reply = reply, .reply_len = len };
	struct hl_store *store = NULL;
	int rc;

	start_peer(f, &t, 1, 0);
	rc = open_remote(f, "runtime", false, &store, why, why_len);
	if (rc == HL_STORE_OK)
		hl_store_close(store);
	else
		assert_null(store);
	finish_peer(f);
	return rc;
}

/* ---- reading -------------------------------------------------------------- */

#define THREE_RECORDS "RECORDS 3\n" \
	"6 5\npool/a" "used1" \
	"11 36\nhost/jump-1" "0b7e5b1e-4a37-4a4c-8a53-2f8f6c1bd1a0" \
	"8 0\nholder/x"

static int collect(void *arg, const char *key, const char *value)
{
	char *seen = arg;

	strcat(seen, key);
	strcat(seen, "=");
	strcat(seen, value);
	strcat(seen, ";");
	return 0;
}

static void test_records_read(void **state)
{
	struct fixture *f = *state;
	const struct turn t = { .reply = THREE_RECORDS };
	struct hl_store *store = NULL;
	char *value = NULL, seen[512] = "";

	skip_unless_root();
	start_peer(f, &t, 1, 0);
	assert_int_equal(open_remote(f, "runtime", false, &store, NULL, 0),
			 HL_STORE_OK);
	assert_int_equal(hl_store_get(store, "pool/a", &value), HL_STORE_OK);
	assert_string_equal(value, "used1");
	free(value);
	assert_int_equal(hl_store_get(store, "host/jump-1", &value),
			 HL_STORE_OK);
	assert_string_equal(value, "0b7e5b1e-4a37-4a4c-8a53-2f8f6c1bd1a0");
	free(value);
	assert_int_equal(hl_store_get(store, "holder/x", &value), HL_STORE_OK);
	assert_string_equal(value, "");
	free(value);
	assert_int_equal(hl_store_get(store, "pool/b", &value),
			 HL_STORE_NOTFOUND);
	assert_int_equal(hl_store_foreach(store, "ho", collect, seen), 0);
	assert_string_equal(seen, "holder/x=;host/jump-1="
			    "0b7e5b1e-4a37-4a4c-8a53-2f8f6c1bd1a0;");
	assert_false(hl_store_legacy(store));
	assert_false(hl_store_interrupted(store));
	hl_store_close(store);
	assert_string_equal(finish_peer(f), "OPEN runtime read 2\n");
}

/* ---- staged changes and COMMIT ------------------------------------------- */

static int put_while_walking(void *arg, const char *key, const char *value)
{
	struct hl_store *store = arg;

	(void)value;
	/* seen by get at once, never by this walk */
	return hl_store_put(store, "pool/zz", key) == HL_STORE_OK ? 0 : -1;
}

static void test_staged_then_commit(void **state)
{
	struct fixture *f = *state;
	const struct turn t = { .reply = THREE_RECORDS, .commit = "OK\n" };
	struct hl_store *store = NULL;
	char *value = NULL, seen[512] = "";

	skip_unless_root();
	start_peer(f, &t, 1, 0);
	assert_int_equal(open_remote(f, "durable", true, &store, NULL, 0),
			 HL_STORE_OK);
	assert_int_equal(hl_store_put(store, "pool/a", "used2"), HL_STORE_OK);
	assert_int_equal(hl_store_delete(store, "holder/x"), HL_STORE_OK);
	assert_int_equal(hl_store_put(store, "named/bob", "n"), HL_STORE_OK);
	assert_int_equal(hl_store_get(store, "pool/a", &value), HL_STORE_OK);
	assert_string_equal(value, "used2");
	free(value);
	assert_int_equal(hl_store_get(store, "holder/x", &value),
			 HL_STORE_NOTFOUND);
	assert_int_equal(hl_store_foreach(store, "", collect, seen), 0);
	assert_non_null(strstr(seen, "pool/a=used2;"));
	assert_non_null(strstr(seen, "named/bob=n;"));
	assert_null(strstr(seen, "holder/x"));
	assert_null(strstr(seen, "used1"));
	/* A walk sees the store as it was when it began. */
	assert_int_equal(hl_store_foreach(store, "pool/", put_while_walking,
					  store), 0);
	assert_int_equal(hl_store_get(store, "pool/zz", &value), HL_STORE_OK);
	assert_string_equal(value, "pool/a");
	free(value);
	/* host/ records are the daemon's */
	assert_int_equal(hl_store_put(store, "host/jump-2", "x"), HL_STORE_IO);
	assert_int_equal(hl_store_delete(store, "host/jump-1"), HL_STORE_IO);
	assert_int_equal(hl_store_commit(store), HL_STORE_OK);
	hl_store_close(store);
	/* Exactly the staged changes, in key order. */
	assert_string_equal(finish_peer(f),
			    "OPEN durable write 2\n"
			    "COMMIT 4\n"
			    "D 8\nholder/x"
			    "P 9 1\nnamed/bob" "n"
			    "P 6 5\npool/a" "used2"
			    "P 7 6\npool/zz" "pool/a");
}

/* Whether the peer has ended (it does once the client closed), polled
 * with a generous bound that is only a hang guard. */
static bool peer_ended(struct fixture *f)
{
	for (int i = 0; i < 6000; i++) {
		struct timespec nap = { 0, 10000000 };
		int status;

		if (waitpid(f->peer, &status, WNOHANG) == f->peer) {
			f->peer = -1;
			return true;
		}
		nanosleep(&nap, NULL);
	}
	return false;
}

/*
 * A commit with nothing to send still ends the transaction, at once: the
 * decision code commits the durable space with nothing staged and then
 * opens the runtime space again (to delete its pending-named copy), and
 * a durable lock kept meanwhile deadlocked it with a writer holding the
 * runtime lock and waiting for the durable one.
 */
static void test_nothing_staged_ends_transaction(void **state)
{
	struct fixture *f = *state;
	const struct turn t = { .reply = "RECORDS 0\n" };
	struct hl_store *store = NULL;
	char text[256];
	ssize_t n;
	int fd;

	skip_unless_root();
	start_peer(f, &t, 1, 0);
	assert_int_equal(open_remote(f, "durable", true, &store, NULL, 0),
			 HL_STORE_OK);
	assert_int_equal(hl_store_commit(store), HL_STORE_OK);
	/* the peer saw the connection end before the handle is closed */
	assert_true(peer_ended(f));
	hl_store_close(store);
	fd = open(f->received, O_RDONLY | O_CLOEXEC);
	assert_true(fd >= 0);
	n = read(fd, text, sizeof(text) - 1);
	close(fd);
	assert_true(n >= 0);
	text[n] = '\0';
	/* closed without COMMIT: the daemon rolls back */
	assert_string_equal(text, "OPEN durable write 2\n");
}

static void test_read_transaction_cannot_commit(void **state)
{
	struct fixture *f = *state;
	const struct turn t = { .reply = "RECORDS 0\n" };
	struct hl_store *store = NULL;

	skip_unless_root();
	start_peer(f, &t, 1, 0);
	assert_int_equal(open_remote(f, "runtime", false, &store, NULL, 0),
			 HL_STORE_OK);
	assert_int_equal(hl_store_put(store, "pool/a", "x"), HL_STORE_OK);
	assert_int_equal(hl_store_commit(store), HL_STORE_IO);
	hl_store_close(store);
	assert_string_equal(finish_peer(f), "OPEN runtime read 2\n");
}

/*
 * After its COMMIT a handle goes on in a new transaction (the decision
 * code deletes its pending-named copy so): a change is sent only where
 * the key is still as the handle left it.
 */
static void test_second_commit(void **state)
{
	struct fixture *f = *state;
	const struct turn turns[] = {
		{ .reply = "RECORDS 0\n", .commit = "OK\n" },
		/* another writer changed pending, not mine */
		{ .reply = "RECORDS 2\n7 6\npending" "theirs"
			   "4 1\nmine" "1",
		  .commit = "OK\n" },
	};
	struct hl_store *store = NULL;
	char *value = NULL;

	skip_unless_root();
	start_peer(f, turns, 2, 0);
	assert_int_equal(open_remote(f, "runtime", true, &store, NULL, 0),
			 HL_STORE_OK);
	assert_int_equal(hl_store_put(store, "pending", "ours"), HL_STORE_OK);
	assert_int_equal(hl_store_put(store, "mine", "1"), HL_STORE_OK);
	assert_int_equal(hl_store_commit(store), HL_STORE_OK);
	assert_int_equal(hl_store_delete(store, "pending"), HL_STORE_OK);
	assert_int_equal(hl_store_delete(store, "mine"), HL_STORE_OK);
	assert_int_equal(hl_store_commit(store), HL_STORE_OK);
	/* the handle now sees the other writer's value */
	assert_int_equal(hl_store_get(store, "pending", &value), HL_STORE_OK);
	assert_string_equal(value, "theirs");
	free(value);
	assert_int_equal(hl_store_get(store, "mine", &value),
			 HL_STORE_NOTFOUND);
	hl_store_close(store);
	assert_string_equal(finish_peer(f),
			    "OPEN runtime write 2\n"
			    "COMMIT 2\nP 4 1\nmine1P 7 4\npendingours"
			    "OPEN runtime write 2\n"
			    "COMMIT 1\nD 4\nmine");
	assert_non_null(strstr(f->log, "pending was changed by another "
				       "writer"));
}

/* ---- errors ---------------------------------------------------------------- */

static void test_error_codes(void **state)
{
	struct fixture *f = *state;
	char why[256];

	skip_unless_root();
	assert_int_equal(open_with_reply(f, "ERROR timeout lock busy\n", 0,
					 why, sizeof(why)),
			 HL_STORE_TIMEOUT);
	assert_int_equal(open_with_reply(f, "ERROR unavailable could not "
					 "connect to db1\n", 0, why,
					 sizeof(why)),
			 HL_STORE_IO);
	assert_string_equal(why, "license database unreachable: could not "
				 "connect to db1");
	assert_non_null(strstr(f->log, "license database unreachable: could "
				       "not connect to db1"));
	assert_int_equal(open_with_reply(f, "ERROR version schema 2\n", 0,
					 why, sizeof(why)),
			 HL_STORE_VERSION);
	assert_non_null(strstr(why, "helpdesk-licensed --migrate"));
	assert_int_equal(open_with_reply(f, "ERROR io malformed\n", 0, why,
					 sizeof(why)),
			 HL_STORE_IO);
	assert_string_equal(why, "license database error: malformed");
	assert_int_equal(open_with_reply(f, "ERROR nonsense x\n", 0, why,
					 sizeof(why)),
			 HL_STORE_IO);
	assert_non_null(strstr(why, "malformed reply"));
}

static void test_commit_error(void **state)
{
	struct fixture *f = *state;
	const struct turn t = { .reply = "RECORDS 0\n",
				.commit = "ERROR unavailable primary lost\n" };
	struct hl_store *store = NULL;
	char *value = NULL;

	skip_unless_root();
	start_peer(f, &t, 1, 0);
	assert_int_equal(open_remote(f, "runtime", true, &store, NULL, 0),
			 HL_STORE_OK);
	assert_int_equal(hl_store_put(store, "pool/a", "x"), HL_STORE_OK);
	assert_int_equal(hl_store_commit(store), HL_STORE_IO);
	/* the technician is told the daemon's words, not "I/O error" */
	assert_non_null(hl_store_why(store));
	assert_string_equal(hl_store_why(store),
			    "license database unreachable: primary lost");
	/* the handle is done */
	assert_int_equal(hl_store_get(store, "pool/a", &value), HL_STORE_IO);
	hl_store_close(store);
	finish_peer(f);
	assert_non_null(strstr(f->log, "license database unreachable: "
				       "primary lost"));
}

static void test_malformed_replies(void **state)
{
	static const char nul_key[] = "RECORDS 1\n3 1\na\0bv";
	static const char *replies[] = {
		"RECORDS\n", "RECORDS x\n", "RECORDS -1\n", "RECORDS 01\n",
		"RECORDS 1 \n", "RECORDS 1000001\n",
		"RECORDS 99999999999999999999999\n",
		"HELLO 1\n", "RECORDS 1\n", "RECORDS 1\n3\nabc",
		"RECORDS 1\n4097 0\n",
		"RECORDS 1\n1 16777217\n", "RECORDS 2\n1 1\nab",
		"RECORDS 2\n1 1\nab1 1\nac",	/* a key twice */
		"RECORDS 1\n3 1\nab",		/* cut short */
		"RECORDS 1\n1 1\na\001",	/* fine: a value byte */
	};
	struct fixture *f = *state;
	char why[256], long_line[400];

	skip_unless_root();
	for (size_t i = 0; i + 1 < sizeof(replies) / sizeof(*replies); i++) {
		int rc = open_with_reply(f, replies[i], 0, why, sizeof(why));

		if (rc != HL_STORE_IO)
			fail_msg("reply %zu (%s) gave %d", i, replies[i], rc);
	}
	assert_int_equal(open_with_reply(f, replies[sizeof(replies) /
						    sizeof(*replies) - 1],
					 0, why, sizeof(why)),
			 HL_STORE_OK);
	/* an empty key is the protocol's, and none of the store's */
	assert_int_equal(open_with_reply(f, "RECORDS 2\n0 1\nv6 1\npool/ax", 0,
					 why, sizeof(why)),
			 HL_STORE_OK);
	assert_int_equal(open_with_reply(f, nul_key, sizeof(nul_key) - 1, why,
					 sizeof(why)),
			 HL_STORE_IO);
	assert_non_null(strstr(why, "NUL"));
	/* a header line longer than the protocol allows */
	memset(long_line, 'R', sizeof(long_line) - 2);
	long_line[sizeof(long_line) - 2] = '\n';
	long_line[sizeof(long_line) - 1] = '\0';
	assert_int_equal(open_with_reply(f, long_line, 0, why, sizeof(why)),
			 HL_STORE_IO);
	assert_non_null(strstr(why, "malformed reply"));
	/* a control byte in an ERROR's text */
	assert_int_equal(open_with_reply(f, "ERROR io \033[2J\n", 0, why,
					 sizeof(why)),
			 HL_STORE_IO);
	assert_null(strchr(why, '\033'));
}

/* ---- whom the client talks to ---------------------------------------------- */

static void test_peer_not_root(void **state)
{
	struct fixture *f = *state;
	const struct turn t = { .reply = "RECORDS 0\n" };
	struct hl_store *store = NULL;
	char why[256];

	skip_unless_root();
	start_peer(f, &t, 1, 65534);
	assert_int_equal(open_remote(f, "runtime", false, &store, why,
				     sizeof(why)),
			 HL_STORE_INSECURE);
	assert_null(store);
	assert_non_null(strstr(why, "uid 65534, not root"));
	/* nothing was sent to it */
	assert_string_equal(finish_peer(f), "");
}

static void test_socket_path_checked(void **state)
{
	struct fixture *f = *state;
	const struct turn t = { .reply = "RECORDS 0\n" };
	struct hl_store *store = NULL;
	const struct hl_store_place link = { .socket = NULL,
					     .space = "runtime" };
	struct hl_store_place place = link;
	char path[192], why[256];
	int fd;

	skip_unless_root();
	/* no daemon: told how to start it */
	assert_int_equal(open_remote(f, "runtime", false, &store, why,
				     sizeof(why)),
			 HL_STORE_IO);
	assert_non_null(strstr(why, "systemctl start helpdesk-licensed"));
	assert_non_null(strstr(why, f->socket));
	/* a link to a real daemon's socket */
	start_peer(f, &t, 1, 0);
	snprintf(path, sizeof(path), "%s/link.sock", f->tmp);
	assert_int_equal(symlink(f->socket, path), 0);
	place.socket = path;
	assert_int_equal(hl_store_open_at(&place, HL_STORE_READ, 2,
					  &f->logger, &store, why,
					  sizeof(why)),
			 HL_STORE_INSECURE);
	assert_non_null(strstr(why, "not a socket owned by root"));
	/* the real one still works, and was not talked to before */
	assert_int_equal(open_remote(f, "runtime", false, &store, NULL, 0),
			 HL_STORE_OK);
	hl_store_close(store);
	assert_string_equal(finish_peer(f), "OPEN runtime read 2\n");
	/* a plain file */
	snprintf(path, sizeof(path), "%s/plain", f->tmp);
	fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
	assert_true(fd >= 0);
	close(fd);
	assert_int_equal(hl_store_open_at(&place, HL_STORE_READ, 2,
					  &f->logger, &store, NULL, 0),
			 HL_STORE_INSECURE);
	/* a socket nobody listens on */
	unlink(f->socket);
	{
		struct sockaddr_un addr = { .sun_family = AF_UNIX };

		fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
		snprintf(addr.sun_path, sizeof(addr.sun_path), "%s",
			 f->socket);
		assert_int_equal(bind(fd, (struct sockaddr *)&addr,
				      sizeof(addr)), 0);
		close(fd);
	}
	assert_int_equal(open_remote(f, "runtime", false, &store, why,
				     sizeof(why)),
			 HL_STORE_IO);
	assert_non_null(strstr(why, "systemctl start helpdesk-licensed"));
	/* not a space */
	place.socket = f->socket;
	place.space = "other";
	assert_int_equal(hl_store_open_at(&place, HL_STORE_READ, 2,
					  &f->logger, &store, NULL, 0),
			 HL_STORE_IO);
}

/* A daemon that never answers: the wait ends (lock_timeout + a few
 * seconds), it does not hang the login. */
static void test_silent_daemon_bounded(void **state)
{
	struct fixture *f = *state;
	const struct turn t = { .reply = NULL };
	const struct hl_store_place place = { .socket = f->socket,
					      .space = "runtime" };
	struct hl_store *store = NULL;
	char why[256];

	skip_unless_root();
	start_peer(f, &t, 1, 0);
	assert_int_equal(hl_store_open_at(&place, HL_STORE_WRITE, 0,
					  &f->logger, &store, why,
					  sizeof(why)),
			 HL_STORE_IO);
	assert_non_null(strstr(why, "no answer in time"));
	assert_string_equal(finish_peer(f), "OPEN runtime write 0\n");
}

static void test_ping(void **state)
{
	struct fixture *f = *state;
	const struct turn turns[] = {
		{ .reply = "OK jump-1 0b7e5b1e 1\n" },
		{ .reply = "ERROR unavailable no primary\n" },
	};
	char answer[256];

	skip_unless_root();
	start_peer(f, turns, 2, 0);
	assert_int_equal(hl_remote_ping(f->socket, 2, &f->logger, answer,
					sizeof(answer)),
			 HL_STORE_OK);
	assert_string_equal(answer, "jump-1 0b7e5b1e 1");
	assert_int_equal(hl_remote_ping(f->socket, 2, &f->logger, answer,
					sizeof(answer)),
			 HL_STORE_IO);
	assert_string_equal(answer, "license database unreachable: no "
				    "primary");
	assert_string_equal(finish_peer(f), "PING\nPING\n");
}

#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_records_read),
		T(test_staged_then_commit),
		T(test_nothing_staged_ends_transaction),
		T(test_read_transaction_cannot_commit),
		T(test_second_commit),
		T(test_error_codes),
		T(test_commit_error),
		T(test_malformed_replies),
		T(test_peer_not_root),
		T(test_socket_path_checked),
		T(test_silent_daemon_bounded),
		T(test_ping),
	};

	signal(SIGPIPE, SIG_IGN);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
