/* SPDX-License-Identifier: BSD-3-Clause */
/* Unit tests of the record codec (record.c). */
#include "config.h"

#include <errno.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "log.h"
#include "record.h"
#include "text.h"

#define SID_A "0123456789abcdef0123456789abcdef"
#define SID_B "fedcba9876543210fedcba9876543210"
#define BOOT "1b4e28ba-2fa1-11d2-883f-0016d3cca427"

/* ---- Fields ------------------------------------------------------------- */

static void test_field_round_trips(void **state)
{
	static const char *const cases[][2] = {
		{ "", "-" },
		{ "-", "%2D" },
		{ "--", "--" },
		{ "a-b", "a-b" },
		{ "alice", "alice" },
		{ "pts/3", "pts/3" },
		{ "host.example.com:22", "host.example.com:22" },
		{ "a@b+c=d,e_f", "a@b+c=d,e_f" },
		{ "a b", "a%20b" },
		{ "100%", "100%25" },
		{ "line\nnext", "line%0Anext" },
		{ "tab\there", "tab%09here" },
		{ "\"quoted\" 'single'", "%22quoted%22%20%27single%27" },
		{ "caf\xc3\xa9", "caf%C3%A9" },
		{ "\x7f\x01", "%7F%01" },
		{ "kind named", "kind%20named" },
		{ "%2D", "%252D" },
	};
	(void)state;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *enc = hl_field_encode(cases[i][0]);
		char *dec;

		assert_non_null(enc);
		assert_string_equal(enc, cases[i][1]);
		dec = hl_field_decode(enc, strlen(enc));
		assert_non_null(dec);
		assert_string_equal(dec, cases[i][0]);
		free(enc);
		free(dec);
	}
}

static void test_field_hostile_long(void **state)
{
	char raw[1001];
	char *enc, *dec;
	(void)state;

	for (size_t i = 0; i < 1000; i++)
		raw[i] = (char)(1 + i % 255);	/* every byte but NUL */
	raw[1000] = '\0';
	enc = hl_field_encode(raw);
	assert_non_null(enc);
	assert_null(strchr(enc, ' '));
	assert_null(strchr(enc, '\n'));
	dec = hl_field_decode(enc, strlen(enc));
	assert_non_null(dec);
	assert_memory_equal(dec, raw, 1001);
	free(enc);
	free(dec);
}

static void test_field_decode_strict(void **state)
{
	static const char *const bad[] = {
		"%", "%2", "%2G", "%2d", "%zz", "a%", "a%4",
		"%41",		/* 'A' needs no escape: not canonical */
		"%2Dx",		/* '-' is escaped only as the whole field */
		"%00",		/* no NUL */
		"a b", "a\nb", "caf\xc3\xa9", "\"", "%%",
	};
	char *out;
	(void)state;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		out = hl_field_decode(bad[i], strlen(bad[i]));
		if (out != NULL)
			fail_msg("decoded malformed field '%s'", bad[i]);
	}
	assert_null(hl_field_decode("", 0));
	/* len bounds the text: "ab" of "abc" */
	out = hl_field_decode("abc", 2);
	assert_non_null(out);
	assert_string_equal(out, "ab");
	free(out);
}

/* ---- Holding records ---------------------------------------------------- */

static void fill_session(struct hl_session *s, const char *id, pid_t pid,
			 const char *service, const char *tty,
			 const char *rhost, const char *host)
{
	memset(s, 0, sizeof(*s));
	snprintf(s->id, sizeof(s->id), "%s", id);
	s->pid = pid;
	s->start = 123456789012ULL;
	snprintf(s->boot_id, sizeof(s->boot_id), "%s", BOOT);
	s->since = 1700000000;
	s->service = (char *)service;
	s->tty = (char *)tty;
	s->rhost = (char *)rhost;
	s->host = (char *)host;
}

static void assert_session_equal(const struct hl_session *a,
				 const struct hl_session *b)
{
	assert_string_equal(a->id, b->id);
	assert_int_equal(a->pid, b->pid);
	assert_true(a->start == b->start);
	assert_string_equal(a->boot_id, b->boot_id);
	assert_int_equal(a->audit_session, b->audit_session);
	assert_true(a->since == b->since);
	assert_string_equal(a->service, b->service);
	assert_string_equal(a->tty, b->tty);
	assert_string_equal(a->rhost, b->rhost);
	assert_string_equal(a->host, b->host);
}

static void round_trip(const struct hl_holding *h)
{
	struct hl_holding back;
	char *text = hl_holding_encode(h);

	assert_non_null(text);
	assert_int_equal(hl_holding_decode(text, &back), 0);
	assert_int_equal(back.kind, h->kind);
	if (h->kind == HL_KIND_CONCURRENT) {
		assert_string_equal(back.pool, h->pool);
		assert_int_equal(back.slot, h->slot);
	}
	assert_true(back.since == h->since);
	assert_int_equal(back.session_count, h->session_count);
	for (size_t i = 0; i < h->session_count; i++)
		assert_session_equal(&back.sessions[i], &h->sessions[i]);
	hl_holding_free(&back);
	free(text);
}

static void test_holding_round_trip(void **state)
{
	struct hl_holding h;
	struct hl_session s;
	char long_field[1001];
	(void)state;

	memset(long_field, 'x', 1000);
	for (size_t i = 0; i < 1000; i += 7)
		long_field[i] = (char)(0x80 | (i % 127));	/* raw bytes */
	long_field[1000] = '\0';

	memset(&h, 0, sizeof(h));
	h.kind = HL_KIND_CONCURRENT;
	snprintf(h.pool, sizeof(h.pool), "field-east");
	h.slot = 3;
	h.since = 1700000001;
	fill_session(&s, SID_A, 4242, "sshd", "pts/1", "10.0.0.1", "hd1");
	assert_int_equal(hl_holding_add_session(&h, &s), 0);
	fill_session(&s, SID_B, 2147483647, "",
		     "tty with spaces\nand newline", "%41 \"quoted\" 'x'",
		     "caf\xc3\xa9 \xe2\x82\xac");
	assert_int_equal(hl_holding_add_session(&h, &s), 0);
	fill_session(&s, SID_A, 1, "-", long_field, "kind named",
		     "session " SID_A " 1 2 " BOOT " 3 a b c d");
	s.start = 18446744073709551615ULL;
	s.since = 0;
	s.audit_session = 4294967294U;
	assert_int_equal(hl_holding_add_session(&h, &s), 0);
	round_trip(&h);
	hl_holding_free(&h);

	memset(&h, 0, sizeof(h));
	h.kind = HL_KIND_NAMED;
	h.since = 0;
	round_trip(&h);		/* no sessions */
	fill_session(&s, SID_B, 77, "login", "tty1", "", "");
	assert_int_equal(hl_holding_add_session(&h, &s), 0);
	round_trip(&h);
	hl_holding_free(&h);
}

static void test_holding_encoding_is_documented(void **state)
{
	struct hl_holding h;
	struct hl_session s;
	char *text;
	(void)state;

	memset(&h, 0, sizeof(h));
	h.kind = HL_KIND_CONCURRENT;
	snprintf(h.pool, sizeof(h.pool), "p1");
	h.slot = 2;
	h.since = 10;
	fill_session(&s, SID_A, 5, "sshd", "", "a b", "h");
	s.start = 6;
	s.since = 7;
	assert_int_equal(hl_holding_add_session(&h, &s), 0);
	fill_session(&s, SID_B, 8, "sshd", "pts/3", "", "h");
	s.start = 9;
	s.since = 11;
	s.audit_session = 12;
	assert_int_equal(hl_holding_add_session(&h, &s), 0);
	text = hl_holding_encode(&h);
	assert_non_null(text);
	assert_string_equal(text, "kind concurrent\npool p1\nslot 2\nsince 10\n"
			    "session " SID_A " 5 6 " BOOT " 7 sshd - a%20b h\n"
			    "session " SID_B " 8 9 " BOOT " 11 sshd pts/3 - h 12");
	free(text);
	hl_holding_free(&h);

	h.kind = HL_KIND_NAMED;
	h.since = 99;
	text = hl_holding_encode(&h);
	assert_string_equal(text, "kind named\nsince 99");
	free(text);
	hl_holding_free(&h);
}

static void test_holding_encode_refuses_invalid(void **state)
{
	struct hl_holding h;
	struct hl_session s;
	(void)state;

	memset(&h, 0, sizeof(h));
	h.kind = HL_KIND_CONCURRENT;
	snprintf(h.pool, sizeof(h.pool), "bad/pool");
	h.slot = 1;
	errno = 0;
	assert_null(hl_holding_encode(&h));
	assert_int_equal(errno, EINVAL);
	snprintf(h.pool, sizeof(h.pool), "ok");
	h.slot = 0;
	assert_null(hl_holding_encode(&h));
	h.slot = 1;
	h.since = -1;
	assert_null(hl_holding_encode(&h));
	h.since = 1;

	fill_session(&s, "0123456789ABCDEF0123456789ABCDEF", 5, "", "", "", "");
	assert_int_equal(hl_holding_add_session(&h, &s), 0);
	assert_null(hl_holding_encode(&h));
	hl_holding_remove_session(&h, 0);
	fill_session(&s, SID_A, 0, "", "", "", "");
	assert_int_equal(hl_holding_add_session(&h, &s), 0);
	assert_null(hl_holding_encode(&h));
	hl_holding_remove_session(&h, 0);
	fill_session(&s, SID_A, 5, "", "", "", "");
	snprintf(s.boot_id, sizeof(s.boot_id), "not-a-boot-id");
	assert_int_equal(hl_holding_add_session(&h, &s), 0);
	assert_null(hl_holding_encode(&h));
	hl_holding_free(&h);
}

#define SESSION_OK "session " SID_A " 42 100 " BOOT " 200 sshd pts/0 - host"
#define CONC_HEAD "kind concurrent\npool p\nslot 1\nsince 5\n"

static void test_holding_decode_strict(void **state)
{
	static const char *const bad[] = {
		"",
		"\n",
		"kind named",				/* no since */
		"since 1",				/* no kind */
		"kind named\nsince 1\nfoo bar",		/* unknown tag */
		"kind named\nsince 1\nKIND named",
		"kind named\nsince 1\nkind named",	/* duplicates */
		"kind named\nsince 1\nsince 2",
		"kind concurrent\npool p\npool q\nslot 1\nsince 1",
		"kind concurrent\npool p\nslot 1\nslot 2\nsince 1",
		"kind concurrent\nsince 1\nslot 1",	/* no pool */
		"kind concurrent\nsince 1\npool p",	/* no slot */
		"kind named\npool p\nsince 1",		/* pool on named */
		"kind named\nslot 1\nsince 1",
		"kind other\nsince 1",
		"kind\nsince 1",
		"kind named extra\nsince 1",
		"kind named\nsince -1",			/* numbers */
		"kind named\nsince +1",
		"kind named\nsince 1x",
		"kind named\nsince 01",
		"kind named\nsince 0x10",
		"kind named\nsince 99999999999999999999",
		"kind named\nsince 9223372036854775808",
		"kind named\nsince ",
		"kind named\nsince",
		"kind named\nsince 1 2",
		"kind concurrent\npool p\nslot 0\nsince 1",
		"kind concurrent\npool p\nslot 4294967296\nsince 1",
		"kind concurrent\npool p\nslot -1\nsince 1",
		"kind concurrent\npool bad/name\nslot 1\nsince 1",
		"kind concurrent\npool -\nslot 1\nsince 1",	/* "" */
		"kind concurrent\npool a%20b\nslot 1\nsince 1",
		"kind concurrent\npool "
		"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
		"\nslot 1\nsince 1",				/* 65 bytes */
		"kind named\n\nsince 1",		/* layout */
		"kind named\nsince 1\n\n",
		" kind named\nsince 1",
		"kind  named\nsince 1",
		"kind named \nsince 1",
		"kind named\r\nsince 1",
		"kind named\tsince 1",
		/* sessions */
		CONC_HEAD "session",
		CONC_HEAD "session " SID_A " 42 100 " BOOT " 200 sshd pts/0 -",
		CONC_HEAD SESSION_OK " extra",		/* audit session id */
		CONC_HEAD SESSION_OK " 0",
		CONC_HEAD SESSION_OK " 4294967295",
		CONC_HEAD SESSION_OK " 012",
		CONC_HEAD SESSION_OK " 12 13",
		CONC_HEAD "session 0123456789ABCDEF0123456789ABCDEF 42 100 " BOOT
			" 200 sshd pts/0 - host",
		CONC_HEAD "session 0123456789abcdef0123456789abcde 42 100 " BOOT
			" 200 sshd pts/0 - host",
		CONC_HEAD "session 0123456789abcdef0123456789abcdefa 42 100 " BOOT
			" 200 sshd pts/0 - host",
		CONC_HEAD "session " SID_A " 0 100 " BOOT " 200 sshd pts/0 - host",
		CONC_HEAD "session " SID_A " -5 100 " BOOT " 200 sshd pts/0 - host",
		CONC_HEAD "session " SID_A " 2147483648 100 " BOOT
			" 200 sshd pts/0 - host",
		CONC_HEAD "session " SID_A " 42 18446744073709551616 " BOOT
			" 200 sshd pts/0 - host",
		CONC_HEAD "session " SID_A " 42 100 1b4e28ba-2fa1-11d2-883f-0016d3cca42"
			" 200 sshd pts/0 - host",
		CONC_HEAD "session " SID_A " 42 100 1B4E28BA-2FA1-11D2-883F-0016D3CCA427"
			" 200 sshd pts/0 - host",
		CONC_HEAD "session " SID_A " 42 100 1b4e28ba-2fa1-11d2-883f-0016d3cca42g"
			" 200 sshd pts/0 - host",
		CONC_HEAD "session " SID_A " 42 100 " BOOT " 2x0 sshd pts/0 - host",
		CONC_HEAD "session " SID_A " 42 100 " BOOT " 200 sshd pts/0 %zz host",
		CONC_HEAD "session " SID_A " 42 100 " BOOT " 200 sshd pts/0 %4 host",
		CONC_HEAD "session " SID_A " 42 100 " BOOT " 200 sshd  - host",
		CONC_HEAD "session " SID_A " 42 100 " BOOT " 200 ssh\"d pts/0 - host",
		CONC_HEAD SESSION_OK "\n\n",
	};
	struct hl_holding h;
	(void)state;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		memset(&h, 0x5a, sizeof(h));
		if (hl_holding_decode(bad[i], &h) != -1)
			fail_msg("accepted malformed record #%zu:\n%s", i,
				 bad[i]);
		/* out is left empty */
		assert_int_equal(h.session_count, 0);
		assert_null(h.sessions);
	}
	assert_int_equal(hl_holding_decode(NULL, &h), -1);
}

static void test_holding_decode_accepts(void **state)
{
	struct hl_holding h;
	(void)state;

	/* Lines in any order, one optional final newline. */
	assert_int_equal(hl_holding_decode("since 1\nkind named\n", &h), 0);
	assert_int_equal(h.kind, HL_KIND_NAMED);
	assert_true(h.since == 1);
	hl_holding_free(&h);

	assert_int_equal(hl_holding_decode(CONC_HEAD SESSION_OK "\n"
					   SESSION_OK, &h), 0);
	assert_int_equal(h.kind, HL_KIND_CONCURRENT);
	assert_string_equal(h.pool, "p");
	assert_int_equal(h.slot, 1);
	assert_int_equal(h.session_count, 2);
	assert_string_equal(h.sessions[0].rhost, "");
	assert_string_equal(h.sessions[0].host, "host");
	assert_int_equal(h.sessions[1].pid, 42);
	hl_holding_free(&h);

	assert_int_equal(hl_holding_decode(
		"kind concurrent\npool A.b_c-9\nslot 4294967295\n"
		"since 9223372036854775807", &h), 0);
	assert_string_equal(h.pool, "A.b_c-9");
	assert_int_equal(h.slot, 4294967295u);
	hl_holding_free(&h);
}

static void test_sessions_add_remove(void **state)
{
	struct hl_holding h;
	struct hl_session s;
	(void)state;

	memset(&h, 0, sizeof(h));
	for (int i = 0; i < 3; i++) {
		fill_session(&s, SID_A, 100 + i, i == 1 ? NULL : "svc", NULL,
			     "r", "h");
		assert_int_equal(hl_holding_add_session(&h, &s), 0);
	}
	assert_int_equal(h.session_count, 3);
	assert_string_equal(h.sessions[1].service, "");	/* NULL → "" */
	assert_string_equal(h.sessions[0].tty, "");
	hl_holding_remove_session(&h, 1);
	assert_int_equal(h.session_count, 2);
	assert_int_equal(h.sessions[0].pid, 100);
	assert_int_equal(h.sessions[1].pid, 102);
	hl_holding_remove_session(&h, 5);		/* out of range */
	assert_int_equal(h.session_count, 2);
	hl_holding_remove_session(&h, 0);
	hl_holding_remove_session(&h, 0);
	assert_int_equal(h.session_count, 0);
	hl_holding_free(&h);
	hl_holding_free(&h);				/* twice is fine */
}

/* ---- Counters ----------------------------------------------------------- */

static void test_counters(void **state)
{
	struct hl_counter c = { .used = 2, .next = 3, .top = 4 }, back;
	char *text;
	static const char *const bad[] = {
		"", "used", "used 1 2", "used -1", "used 4294967296",
		"used 01", "used 1\nnext 2", "next 1\nused 2\ntop 3",
		"used 1\nnext 2\ntop 3\nfoo 4", "used 1\nused 1",
		"used 1\ntop 2\nnext 3", "used 1\n\n", "USED 1", "used 1\n next 2",
	};
	(void)state;

	text = hl_counter_encode(&c, true);
	assert_string_equal(text, "used 2\nnext 3\ntop 4");
	assert_int_equal(hl_counter_decode(text, &back), 0);
	assert_int_equal(back.used, 2);
	assert_int_equal(back.next, 3);
	assert_int_equal(back.top, 4);
	free(text);

	c.used = 4294967295u;
	text = hl_counter_encode(&c, false);
	assert_string_equal(text, "used 4294967295");
	assert_int_equal(hl_counter_decode(text, &back), 0);
	assert_int_equal(back.used, 4294967295u);
	assert_int_equal(back.next, 0);
	assert_int_equal(back.top, 0);
	free(text);

	assert_int_equal(hl_counter_decode("used 0\n", &back), 0);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (hl_counter_decode(bad[i], &back) != -1)
			fail_msg("accepted malformed counter '%s'", bad[i]);
}

/* ---- Keys --------------------------------------------------------------- */

/* Waiting lines: arrival order kept, hostile user names and fields
 * escaped, an empty line never written, anything else refused. */
static void test_line_round_trip(void **state)
{
	struct hl_line line = { 0 }, back;
	struct hl_session a, b;
	char *text, key[HL_KEY_MAX];

	(void)state;
	assert_true(hl_key_line(key, sizeof(key), "field-east"));
	assert_string_equal(key, "line/field-east");
	assert_false(hl_key_line(key, sizeof(key), "a/b"));
	fill_session(&a, SID_A, 42, "sshd", "pts/0", "10.0.0.5", "hd1");
	fill_session(&b, SID_B, 43, "login", "", "evil\nwaiter x", "hd1");
	assert_null(hl_line_encode(&line));
	assert_int_equal(hl_line_add(&line, "dave", 1800000000, &a), 0);
	assert_int_equal(hl_line_add(&line, "o brien", 1800000060, &b), 0);
	text = hl_line_encode(&line);
	assert_non_null(text);
	assert_int_equal(strncmp(text, "waiter dave 1800000000 " SID_A " 42 ",
				 strlen("waiter dave 1800000000 " SID_A " 42 ")),
			 0);
	assert_non_null(strstr(text, "\nwaiter o%20brien 1800000060 " SID_B
			       " 43 "));
	assert_null(strstr(text, "evil\n"));
	assert_int_equal(hl_line_decode(text, &back), 0);
	assert_int_equal(back.count, 2);
	assert_string_equal(back.waiters[0].user, "dave");
	assert_string_equal(back.waiters[1].user, "o brien");
	assert_int_equal(back.waiters[0].until, 1800000000);
	assert_int_equal(back.waiters[1].until, 1800000060);
	assert_session_equal(&back.waiters[0].session, &a);
	assert_session_equal(&back.waiters[1].session, &b);
	hl_line_remove(&back, 0);
	assert_int_equal(back.count, 1);
	assert_string_equal(back.waiters[0].user, "o brien");
	hl_line_free(&back);
	/* A deadline before the epoch is no deadline. */
	line.waiters[0].until = -1;
	errno = 0;
	assert_null(hl_line_encode(&line));
	assert_int_equal(errno, EINVAL);
	hl_line_free(&line);
	free(text);
}

static void test_line_decode_strict(void **state)
{
	static const char *const bad[] = {
		"",
		"waiter dave",
		"waiter dave 260 " SID_A " 42 100 " BOOT " 200 sshd pts/0 -",
		"waiter dave 260 " SID_A " 42 100 " BOOT " 200 sshd pts/0 - h x",
		"waiter - 260 " SID_A " 42 100 " BOOT " 200 sshd pts/0 - h",
		"waiter a%2Fb 260 " SID_A " 42 100 " BOOT " 200 sshd pts/0 - h",
		"waiter dave 260 " SID_A " 042 100 " BOOT " 200 sshd pts/0 - h",
		"holder dave 260 " SID_A " 42 100 " BOOT " 200 sshd pts/0 - h",
		"waiter dave 260 " SID_A " 42 100 " BOOT " 200 sshd pts/0 - h\n\n",
		/* 0.2's line record, without the deadline */
		"waiter dave " SID_A " 42 100 " BOOT " 200 sshd pts/0 - h",
		"waiter dave -1 " SID_A " 42 100 " BOOT " 200 sshd pts/0 - h",
		"waiter dave 0260 " SID_A " 42 100 " BOOT " 200 sshd pts/0 - h",
		"waiter dave 99999999999999999999 " SID_A " 42 100 " BOOT
		" 200 sshd pts/0 - h",
	};
	struct hl_line line;

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (hl_line_decode(bad[i], &line) == 0)
			fail_msg("accepted line record %zu: \"%s\"", i, bad[i]);
		assert_int_equal(line.count, 0);
	}
	assert_int_equal(hl_line_decode("waiter dave 260 " SID_A " 42 100 " BOOT
					" 200 sshd pts/0 - h 7\n", &line), 0);
	assert_int_equal(line.count, 1);
	assert_int_equal(line.waiters[0].until, 260);
	assert_int_equal(line.waiters[0].session.audit_session, 7);
	hl_line_free(&line);
}

static void test_keys(void **state)
{
	char buf[HL_KEY_MAX];
	char small[12];
	char user[HL_USER_MAX + 1];
	char pool[HL_POOL_NAME_MAX + 1];
	(void)state;

	assert_true(hl_key_named(buf, sizeof(buf), "alice"));
	assert_string_equal(buf, "named/alice");
	assert_true(hl_key_holder(buf, sizeof(buf), "bob smith"));
	assert_string_equal(buf, "holder/bob smith");
	assert_true(hl_key_pool(buf, sizeof(buf), "field-east"));
	assert_string_equal(buf, "pool/field-east");
	assert_true(hl_key_slot(buf, sizeof(buf), "field-east", 12));
	assert_string_equal(buf, "slot/field-east/12");

	/* Exactly fits, one byte short. */
	assert_true(hl_key_named(small, 12, "abcde"));		/* 11 + NUL */
	assert_string_equal(small, "named/abcde");
	assert_false(hl_key_named(small, 11, "abcde"));
	assert_false(hl_key_holder(small, sizeof(small), "abcdef"));
	assert_false(hl_key_pool(small, 5, "p"));
	assert_true(hl_key_pool(small, 7, "p"));
	assert_false(hl_key_slot(small, sizeof(small), "pool", 10));
	assert_true(hl_key_slot(small, sizeof(small), "pool", 1));
	assert_string_equal(small, "slot/pool/1");

	/* The longest names fit HL_KEY_MAX. */
	memset(user, 'u', HL_USER_MAX);
	user[HL_USER_MAX] = '\0';
	memset(pool, 'p', HL_POOL_NAME_MAX);
	pool[HL_POOL_NAME_MAX] = '\0';
	assert_true(hl_key_holder(buf, sizeof(buf), user));
	assert_true(hl_key_slot(buf, sizeof(buf), pool, 4294967295u));

	/* Names that would not make a key of their own. */
	assert_false(hl_key_named(buf, sizeof(buf), "a/b"));
	assert_false(hl_key_named(buf, sizeof(buf), ""));
	assert_false(hl_key_holder(buf, sizeof(buf), "a\nb"));
	assert_false(hl_key_pool(buf, sizeof(buf), "a/b"));
	assert_false(hl_key_pool(buf, sizeof(buf), ""));
	assert_false(hl_key_slot(buf, sizeof(buf), "p", 0));
}

/* ---- text.c and log.c: what outside strings become on the way out ---- */

static void capture_line(void *data, int priority, const char *message)
{
	(void)priority;
	snprintf(data, 512, "%s", message);
}

/* A name with a newline and ESC cannot forge a log line or a terminal
 * sequence, at any priority, debug included; text escaped already (with
 * hl_printable) passes unchanged. */
static void test_log_lines_escaped(void **state)
{
	char got[512], shown[128];
	struct hl_logger log = { .emit = capture_line, .data = got,
				 .debug = true };

	(void)state;
	hl_log(&log, LOG_DEBUG, "open: user %s: granted",
	       "x\033[2K\nforged: root");
	assert_string_equal(got, "open: user x\\x1b[2K\\x0aforged: root: "
				 "granted");
	hl_log(&log, LOG_CRIT, "%s", hl_printable("a\tb\\c", shown,
						      sizeof(shown)));
	assert_string_equal(got, "a\\x09b\\x5cc");
	hl_log(&log, LOG_ERR, "caf\xc3\xa9 \x7f");
	assert_string_equal(got, "caf\\xc3\\xa9 \\x7f");
}

/* Characters that reorder or hide text are \u escapes in JSON; other
 * UTF-8 stays as it is. */
static void test_json_hidden_characters(void **state)
{
	static const struct { const char *in, *out; } cases[] = {
		{ "a\xe2\x80\xae" "b", "\"a\\u202eb\"" },	/* RLO */
		{ "\xe2\x80\x8f", "\"\\u200f\"" },		/* RLM */
		{ "\xe2\x81\xa9", "\"\\u2069\"" },		/* PDI */
		{ "\xe2\x80\x8b", "\"\\u200b\"" },		/* ZWSP */
		{ "\xef\xbb\xbf", "\"\\ufeff\"" },		/* BOM */
		{ "\xc2\x85", "\"\\u0085\"" },		/* NEL */
		{ "caf\xc3\xa9 \xe2\x82\xac", "\"caf\xc3\xa9 \xe2\x82\xac\"" },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct hl_buf buf;
		char *text;

		hl_buf_init(&buf);
		hl_buf_json(&buf, cases[i].in);
		text = hl_buf_take(&buf);
		assert_non_null(text);
		assert_string_equal(text, cases[i].out);
		free(text);
	}
}

/* Plain text between escapes is copied whole, and a cut still ends in
 * "..." where the text stopped fitting. */
static void test_escapes_around_plain_text(void **state)
{
	static const struct { const char *in; size_t len; const char *out; }
		cut[] = {
		{ "abcdefghij", 8, "abcd..." },
		{ "ab\tcdefgh", 8, "ab\\x..." },
		{ "ab\tc", 8, "ab\\x09c" },
		{ "abc", 4, "abc" },
		{ "abcd", 4, "..." },
	};
	char out[64];
	struct hl_buf buf;
	char *text;

	(void)state;
	for (size_t i = 0; i < sizeof(cut) / sizeof(cut[0]); i++)
		assert_string_equal(hl_printable(cut[i].in, out, cut[i].len),
				    cut[i].out);
	hl_buf_init(&buf);
	hl_buf_json(&buf, "a\"b\\c\n\x01" "d\x7f" "e");
	hl_buf_printable(&buf, " x\\y\x1bz");
	text = hl_buf_take(&buf);
	assert_non_null(text);
	assert_string_equal(text, "\"a\\\"b\\\\c\\n\\u0001d\\u007fe\""
				  " x\\x5cy\\x1bz");
	free(text);
}

/* Numbers as printf writes them, at both ends of their ranges. */
static void test_buf_numbers(void **state)
{
	struct hl_buf buf;
	char *text;

	(void)state;
	hl_buf_init(&buf);
	hl_buf_unsigned(&buf, 0);
	hl_buf_puts(&buf, " ");
	hl_buf_unsigned(&buf, ULLONG_MAX);
	hl_buf_puts(&buf, " ");
	hl_buf_signed(&buf, -1);
	hl_buf_puts(&buf, " ");
	hl_buf_signed(&buf, LLONG_MIN);
	hl_buf_puts(&buf, " ");
	hl_buf_signed(&buf, LLONG_MAX);
	hl_buf_puts(&buf, " ");
	hl_buf_unsigned(&buf, 4096);
	text = hl_buf_take(&buf);
	assert_non_null(text);
	assert_string_equal(text, "0 18446744073709551615 -1 "
				  "-9223372036854775808 9223372036854775807 4096");
	free(text);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_field_round_trips),
		cmocka_unit_test(test_field_hostile_long),
		cmocka_unit_test(test_field_decode_strict),
		cmocka_unit_test(test_holding_round_trip),
		cmocka_unit_test(test_holding_encoding_is_documented),
		cmocka_unit_test(test_holding_encode_refuses_invalid),
		cmocka_unit_test(test_holding_decode_strict),
		cmocka_unit_test(test_holding_decode_accepts),
		cmocka_unit_test(test_sessions_add_remove),
		cmocka_unit_test(test_counters),
		cmocka_unit_test(test_keys),
		cmocka_unit_test(test_line_round_trip),
		cmocka_unit_test(test_line_decode_strict),
		cmocka_unit_test(test_log_lines_escaped),
		cmocka_unit_test(test_json_hidden_characters),
		cmocka_unit_test(test_escapes_around_plain_text),
		cmocka_unit_test(test_buf_numbers),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
