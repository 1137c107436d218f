/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The record codec: holding records, counters, keys and the percent-encoding
 * of fields (the schema is in record.h).
 *
 * Every record is written by the encoders below and read back by strict
 * decoders: a record that is not exactly what an encoder would produce
 * (apart from one optional trailing newline) is damaged, and the caller
 * must not guess what it meant.  The encoders refuse (NULL, errno EINVAL)
 * a holding that its decoder would reject, so nothing unreadable is ever
 * written.
 */
#include "config.h"

#include <errno.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "record.h"
#include "text.h"

/* time_t is signed: the largest value it holds. */
#define TIME_T_MAX (sizeof(time_t) == 8 ? (unsigned long long)INT64_MAX \
					 : (unsigned long long)INT32_MAX)

static const char hex_digits[] = "0123456789ABCDEF";

/* Bytes a field keeps as they are.  No strchr: decoding a listing of
 * thousands of holders asks this of every byte. */
static bool field_plain(unsigned char c)
{
	if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
	    (c >= '0' && c <= '9'))
		return true;
	switch (c) {
	case '.': case '_': case ':': case '@': case '+': case '=': case ',':
	case '/': case '-':
		return true;
	default:
		return false;
	}
}

static int hex_value(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;		/* lowercase is not canonical: refused */
}

char *hl_field_encode(const char *value)
{
	size_t len, i, n;
	char *out;

	if (value == NULL)
		value = "";
	if (value[0] == '\0')
		return strdup("-");
	if (strcmp(value, "-") == 0)
		return strdup("%2D");
	len = strlen(value);
	n = 0;
	for (i = 0; i < len; i++)
		n += field_plain((unsigned char)value[i]) ? 1 : 3;
	out = malloc(n + 1);
	if (out == NULL)
		return NULL;
	n = 0;
	for (i = 0; i < len; i++) {
		unsigned char c = (unsigned char)value[i];

		if (field_plain(c)) {
			out[n++] = (char)c;
		} else {
			out[n++] = '%';
			out[n++] = hex_digits[c >> 4];
			out[n++] = hex_digits[c & 0x0f];
		}
	}
	out[n] = '\0';
	return out;
}

/* Decodes [text, text + len) into out, which holds len + 1 bytes: the
 * value is never longer than its field.  False if it is no field. */
static bool field_decode_to(const char *text, size_t len, char *out)
{
	size_t i, n = 0;

	if (text == NULL || len == 0)
		return false;
	if (len == 1 && text[0] == '-') {
		out[0] = '\0';
		return true;
	}
	if (len == 3 && memcmp(text, "%2D", 3) == 0) {
		memcpy(out, "-", 2);
		return true;
	}
	for (i = 0; i < len; i++) {
		unsigned char c = (unsigned char)text[i];
		int hi, lo;

		if (field_plain(c)) {
			out[n++] = (char)c;
			continue;
		}
		if (c != '%' || len - i < 3)
			return false;
		hi = hex_value(text[i + 1]);
		lo = hex_value(text[i + 2]);
		if (hi < 0 || lo < 0)
			return false;
		c = (unsigned char)(hi << 4 | lo);
		/* NUL can't be held; an escaped plain byte is not canonical. */
		if (c == '\0' || field_plain(c))
			return false;
		out[n++] = (char)c;
		i += 2;
	}
	out[n] = '\0';
	return true;
}

char *hl_field_decode(const char *text, size_t len)
{
	char *out = malloc(len + 1);

	if (out == NULL)
		return NULL;
	if (!field_decode_to(text, len, out)) {
		free(out);
		errno = EINVAL;
		return NULL;
	}
	return out;
}

/* Decimal, no sign, no leading zero, at most max. */
static bool parse_number(const char *text, size_t len, unsigned long long max,
			 unsigned long long *out)
{
	unsigned long long value = 0;
	size_t i;

	if (len == 0 || (len > 1 && text[0] == '0'))
		return false;
	for (i = 0; i < len; i++) {
		unsigned digit;

		if (text[i] < '0' || text[i] > '9')
			return false;
		digit = (unsigned)(text[i] - '0');
		if (value > (max - digit) / 10)
			return false;
		value = value * 10 + digit;
	}
	*out = value;
	return true;
}

static bool boot_id_valid(const char *id)
{
	size_t i;

	if (strnlen(id, HL_BOOT_ID_LEN + 1) != HL_BOOT_ID_LEN)
		return false;
	for (i = 0; i < HL_BOOT_ID_LEN; i++)
		if (!((id[i] >= '0' && id[i] <= '9') ||
		      (id[i] >= 'a' && id[i] <= 'f') || id[i] == '-'))
			return false;
	return true;
}

static bool session_id_valid(const char *id)
{
	size_t i;

	if (strnlen(id, HL_SESSION_ID_LEN + 1) != HL_SESSION_ID_LEN)
		return false;
	for (i = 0; i < HL_SESSION_ID_LEN; i++)
		if (!((id[i] >= '0' && id[i] <= '9') ||
		      (id[i] >= 'a' && id[i] <= 'f')))
			return false;
	return true;
}

static bool session_valid(const struct hl_session *s)
{
	return session_id_valid(s->id) && s->pid > 0 &&
	       boot_id_valid(s->boot_id) && s->since >= 0;
}

static void buf_field(struct hl_buf *buf, const char *value)
{
	char *field = hl_field_encode(value);

	if (field == NULL) {
		buf->failed = true;
		return;
	}
	hl_buf_puts(buf, " ");
	hl_buf_puts(buf, field);
	free(field);
}

/* " ID PID START BOOT_ID SINCE SERVICE TTY RHOST HOST": the fields of a
 * session, in a holding's session line and a waiter's line alike. */
static void buf_session(struct hl_buf *buf, const struct hl_session *s)
{
	hl_buf_puts(buf, " ");
	hl_buf_puts(buf, s->id);
	hl_buf_puts(buf, " ");
	hl_buf_signed(buf, s->pid);
	hl_buf_puts(buf, " ");
	hl_buf_unsigned(buf, s->start);
	hl_buf_puts(buf, " ");
	hl_buf_puts(buf, s->boot_id);
	hl_buf_puts(buf, " ");
	hl_buf_signed(buf, s->since);
	buf_field(buf, s->service);
	buf_field(buf, s->tty);
	buf_field(buf, s->rhost);
	buf_field(buf, s->host);
	if (s->audit_session != 0) {
		hl_buf_puts(buf, " ");
		hl_buf_unsigned(buf, s->audit_session);
	}
}

char *hl_holding_encode(const struct hl_holding *holding)
{
	struct hl_buf buf;
	size_t i;
	char *out;

	if (holding == NULL || holding->since < 0 ||
	    (holding->session_count > 0 && holding->sessions == NULL))
		goto invalid;
	if (holding->kind == HL_KIND_CONCURRENT) {
		if (!hl_pool_name_valid(holding->pool) || holding->slot == 0)
			goto invalid;
	} else if (holding->kind != HL_KIND_NAMED) {
		goto invalid;
	}
	for (i = 0; i < holding->session_count; i++)
		if (!session_valid(&holding->sessions[i]))
			goto invalid;

	hl_buf_init(&buf);
	if (holding->kind == HL_KIND_NAMED) {
		hl_buf_puts(&buf, "kind named");
	} else {
		hl_buf_puts(&buf, "kind concurrent\npool");
		buf_field(&buf, holding->pool);
		hl_buf_puts(&buf, "\nslot ");
		hl_buf_unsigned(&buf, holding->slot);
	}
	hl_buf_puts(&buf, "\nsince ");
	hl_buf_signed(&buf, holding->since);
	for (i = 0; i < holding->session_count; i++) {
		hl_buf_puts(&buf, "\nsession");
		buf_session(&buf, &holding->sessions[i]);
	}
	out = hl_buf_take(&buf);
	if (out == NULL)
		errno = ENOMEM;
	return out;
invalid:
	errno = EINVAL;
	return NULL;
}

/* A line cut into space-separated fields (pointers into the text). */
#define LINE_FIELDS_MAX 13	/* a waiter with an audit session */
struct line {
	const char *field[LINE_FIELDS_MAX];
	size_t len[LINE_FIELDS_MAX];
	size_t count;
};

/* Splits [text, text + len) at single spaces; false on an empty field or
 * too many fields. */
static bool split_line(const char *text, size_t len, struct line *line)
{
	size_t start = 0, i;

	line->count = 0;
	for (i = 0; i <= len; i++) {
		if (i < len && text[i] != ' ')
			continue;
		if (i == start || line->count == LINE_FIELDS_MAX)
			return false;
		line->field[line->count] = text + start;
		line->len[line->count] = i - start;
		line->count++;
		start = i + 1;
	}
	return true;
}

static bool field_is(const struct line *line, size_t index, const char *word)
{
	return line->len[index] == strlen(word) &&
	       memcmp(line->field[index], word, line->len[index]) == 0;
}

/* Calls fn on each line; text may end with one newline, no empty lines. */
static int for_each_line(const char *text,
			 int (*fn)(void *arg, const struct line *line),
			 void *arg)
{
	const char *p = text;

	if (*p == '\0')
		return -1;
	while (*p != '\0') {
		const char *end = strchr(p, '\n');
		size_t len = end != NULL ? (size_t)(end - p) : strlen(p);
		struct line line;

		if (!split_line(p, len, &line) || fn(arg, &line) != 0)
			return -1;
		p += len;
		if (*p == '\n')
			p++;
	}
	return 0;
}

/* A field decoded into a fixed buffer, checked by valid.  The values
 * kept so (ids, pool names) are all plain bytes, so a field that does
 * not fit as it is cannot hold a valid one. */
static bool decode_into(const struct line *line, size_t index, char *buf,
			size_t size, bool (*valid)(const char *))
{
	return line->len[index] < size &&
	       field_decode_to(line->field[index], line->len[index], buf) &&
	       valid(buf);
}

static bool decode_number(const struct line *line, size_t index,
			  unsigned long long max, unsigned long long *out)
{
	return parse_number(line->field[index], line->len[index], max, out);
}

struct holding_parse {
	struct hl_holding *out;
	bool have_kind, have_pool, have_slot, have_since;
};

/* The 9 session fields of a line from field first on, into s (the caller
 * frees it with hl_session_free); the line must end with them.  0 or -1. */
static int decode_session(const struct line *line, size_t first,
			  struct hl_session *s)
{
	const size_t f = first;
	unsigned long long number;

	memset(s, 0, sizeof(*s));
	if (line->count != first + 9 && line->count != first + 10)
		return -1;
	if (!decode_into(line, f, s->id, sizeof(s->id), session_id_valid))
		return -1;
	if (!decode_number(line, f + 1, INT_MAX, &number) || number == 0)
		return -1;
	s->pid = (pid_t)number;
	if (!decode_number(line, f + 2, ULLONG_MAX, &s->start))
		return -1;
	if (!decode_into(line, f + 3, s->boot_id, sizeof(s->boot_id),
			 boot_id_valid))
		return -1;
	if (!decode_number(line, f + 4, TIME_T_MAX, &number))
		return -1;
	s->since = (time_t)number;
	s->service = hl_field_decode(line->field[f + 5], line->len[f + 5]);
	s->tty = hl_field_decode(line->field[f + 6], line->len[f + 6]);
	s->rhost = hl_field_decode(line->field[f + 7], line->len[f + 7]);
	s->host = hl_field_decode(line->field[f + 8], line->len[f + 8]);
	if (s->service == NULL || s->tty == NULL || s->rhost == NULL ||
	    s->host == NULL)
		return -1;
	if (line->count == first + 10) {
		if (!decode_number(line, f + 9, 4294967294ULL, &number) ||
		    number == 0)
			return -1;
		s->audit_session = (unsigned)number;
	}
	return 0;
}

/* Moves *session (its strings allocated) to the end of holding's
 * sessions, leaving *session empty; on failure it is left as it was. */
static int holding_take_session(struct hl_holding *holding,
				struct hl_session *session)
{
	struct hl_session *grown;

	if (holding->session_count >= SIZE_MAX / sizeof(*grown) - 1)
		return -1;
	grown = realloc(holding->sessions,
			(holding->session_count + 1) * sizeof(*grown));
	if (grown == NULL)
		return -1;
	holding->sessions = grown;
	holding->sessions[holding->session_count++] = *session;
	session->service = session->tty = session->rhost = session->host =
		NULL;
	return 0;
}

static int parse_session(struct hl_holding *holding, const struct line *line)
{
	struct hl_session s;
	int rc = -1;

	if (decode_session(line, 1, &s) == 0 &&
	    holding_take_session(holding, &s) == 0)
		rc = 0;
	hl_session_free(&s);
	return rc;
}

static int parse_holding_line(void *arg, const struct line *line)
{
	struct holding_parse *p = arg;
	struct hl_holding *h = p->out;
	unsigned long long number;

	if (field_is(line, 0, "session"))
		return parse_session(h, line);
	if (line->count != 2)
		return -1;
	if (field_is(line, 0, "kind")) {
		if (p->have_kind)
			return -1;
		p->have_kind = true;
		if (field_is(line, 1, "named"))
			h->kind = HL_KIND_NAMED;
		else if (field_is(line, 1, "concurrent"))
			h->kind = HL_KIND_CONCURRENT;
		else
			return -1;
		return 0;
	}
	if (field_is(line, 0, "pool")) {
		if (p->have_pool)
			return -1;
		p->have_pool = true;
		return decode_into(line, 1, h->pool, sizeof(h->pool),
				   hl_pool_name_valid) ? 0 : -1;
	}
	if (field_is(line, 0, "slot")) {
		if (p->have_slot || !decode_number(line, 1, UINT_MAX, &number) ||
		    number == 0)
			return -1;
		p->have_slot = true;
		h->slot = (unsigned)number;
		return 0;
	}
	if (field_is(line, 0, "since")) {
		if (p->have_since || !decode_number(line, 1, TIME_T_MAX, &number))
			return -1;
		p->have_since = true;
		h->since = (time_t)number;
		return 0;
	}
	return -1;		/* an unknown tag */
}

int hl_holding_decode(const char *text, struct hl_holding *out)
{
	struct holding_parse p;

	if (out == NULL)
		return -1;
	memset(out, 0, sizeof(*out));
	if (text == NULL)
		return -1;
	memset(&p, 0, sizeof(p));
	p.out = out;
	if (for_each_line(text, parse_holding_line, &p) != 0)
		goto bad;
	if (!p.have_kind || !p.have_since)
		goto bad;
	if (out->kind == HL_KIND_CONCURRENT) {
		if (!p.have_pool || !p.have_slot)
			goto bad;
	} else if (p.have_pool || p.have_slot) {
		goto bad;
	}
	return 0;
bad:
	hl_holding_free(out);
	return -1;
}

void hl_session_free(struct hl_session *session)
{
	if (session == NULL)
		return;
	free(session->service);
	free(session->tty);
	free(session->rhost);
	free(session->host);
	session->service = session->tty = session->rhost = session->host = NULL;
}

void hl_holding_free(struct hl_holding *holding)
{
	size_t i;

	if (holding == NULL)
		return;
	for (i = 0; i < holding->session_count; i++)
		hl_session_free(&holding->sessions[i]);
	free(holding->sessions);
	memset(holding, 0, sizeof(*holding));
}

static char *copy_field(const char *value)
{
	return strdup(value != NULL ? value : "");
}

int hl_holding_add_session(struct hl_holding *holding,
			   const struct hl_session *session)
{
	struct hl_session copy = *session;

	copy.id[HL_SESSION_ID_LEN] = '\0';
	copy.boot_id[HL_BOOT_ID_LEN] = '\0';
	copy.service = copy_field(session->service);
	copy.tty = copy_field(session->tty);
	copy.rhost = copy_field(session->rhost);
	copy.host = copy_field(session->host);
	if (copy.service == NULL || copy.tty == NULL || copy.rhost == NULL ||
	    copy.host == NULL || holding_take_session(holding, &copy) != 0) {
		hl_session_free(&copy);
		return -1;
	}
	return 0;
}

void hl_holding_remove_session(struct hl_holding *holding, size_t index)
{
	if (holding == NULL || index >= holding->session_count)
		return;
	hl_session_free(&holding->sessions[index]);
	memmove(&holding->sessions[index], &holding->sessions[index + 1],
		(holding->session_count - index - 1) *
		sizeof(holding->sessions[0]));
	holding->session_count--;
	if (holding->session_count == 0) {
		free(holding->sessions);
		holding->sessions = NULL;
	}
}

/* ---- waiting lines ------------------------------------------------------ */

char *hl_line_encode(const struct hl_line *line)
{
	struct hl_buf buf;
	char *out;

	if (line == NULL || line->count == 0 || line->waiters == NULL)
		goto invalid;
	for (size_t i = 0; i < line->count; i++)
		if (!hl_user_valid(line->waiters[i].user) ||
		    line->waiters[i].until < 0 ||
		    !session_valid(&line->waiters[i].session))
			goto invalid;
	hl_buf_init(&buf);
	for (size_t i = 0; i < line->count; i++) {
		hl_buf_puts(&buf, i ? "\nwaiter" : "waiter");
		buf_field(&buf, line->waiters[i].user);
		hl_buf_printf(&buf, " %lld", (long long)line->waiters[i].until);
		buf_session(&buf, &line->waiters[i].session);
	}
	out = hl_buf_take(&buf);
	if (out == NULL)
		errno = ENOMEM;
	return out;
invalid:
	errno = EINVAL;
	return NULL;
}

static int parse_waiter_line(void *arg, const struct line *line)
{
	struct hl_line *out = arg;
	char user[HL_USER_MAX + 1];
	unsigned long long until;
	struct hl_session s;
	int rc = -1;

	if (line->count < 3 || !field_is(line, 0, "waiter") ||
	    !decode_into(line, 1, user, sizeof(user), hl_user_valid) ||
	    !decode_number(line, 2, TIME_T_MAX, &until))
		return -1;
	if (decode_session(line, 3, &s) == 0 &&
	    hl_line_add(out, user, (time_t)until, &s) == 0)
		rc = 0;
	hl_session_free(&s);
	return rc;
}

int hl_line_decode(const char *text, struct hl_line *out)
{
	if (out == NULL)
		return -1;
	memset(out, 0, sizeof(*out));
	if (text == NULL || for_each_line(text, parse_waiter_line, out) != 0) {
		hl_line_free(out);
		return -1;
	}
	return 0;
}

int hl_line_add(struct hl_line *line, const char *user, time_t until,
		const struct hl_session *session)
{
	struct hl_waiter *grown;
	struct hl_holding copy = { .kind = HL_KIND_NAMED };

	if (line->count >= SIZE_MAX / sizeof(*grown) - 1 ||
	    strlen(user) > HL_USER_MAX ||
	    hl_holding_add_session(&copy, session) != 0)
		return -1;
	grown = realloc(line->waiters, (line->count + 1) * sizeof(*grown));
	if (grown == NULL) {
		hl_holding_free(&copy);
		return -1;
	}
	line->waiters = grown;
	snprintf(grown[line->count].user, sizeof(grown[line->count].user),
		 "%s", user);
	grown[line->count].until = until;
	grown[line->count].session = copy.sessions[0];
	free(copy.sessions);	/* its one session moved into the line */
	line->count++;
	return 0;
}

void hl_line_remove(struct hl_line *line, size_t index)
{
	if (line == NULL || index >= line->count)
		return;
	hl_session_free(&line->waiters[index].session);
	memmove(&line->waiters[index], &line->waiters[index + 1],
		(line->count - index - 1) * sizeof(line->waiters[0]));
	line->count--;
}

void hl_line_free(struct hl_line *line)
{
	if (line == NULL)
		return;
	for (size_t i = 0; i < line->count; i++)
		hl_session_free(&line->waiters[i].session);
	free(line->waiters);
	memset(line, 0, sizeof(*line));
}

char *hl_counter_encode(const struct hl_counter *counter, bool pool)
{
	char text[80];
	int n;

	if (counter == NULL) {
		errno = EINVAL;
		return NULL;
	}
	if (pool)
		n = snprintf(text, sizeof(text), "used %u\nnext %u\ntop %u",
			     counter->used, counter->next, counter->top);
	else
		n = snprintf(text, sizeof(text), "used %u", counter->used);
	if (n < 0 || (size_t)n >= sizeof(text)) {
		errno = EINVAL;
		return NULL;
	}
	return strdup(text);
}

struct counter_parse {
	struct hl_counter *out;
	size_t lines;
};

static int parse_counter_line(void *arg, const struct line *line)
{
	static const char *const tags[] = { "used", "next", "top" };
	struct counter_parse *p = arg;
	unsigned long long number;

	if (p->lines >= 3 || line->count != 2 ||
	    !field_is(line, 0, tags[p->lines]) ||
	    !decode_number(line, 1, UINT_MAX, &number))
		return -1;
	if (p->lines == 0)
		p->out->used = (unsigned)number;
	else if (p->lines == 1)
		p->out->next = (unsigned)number;
	else
		p->out->top = (unsigned)number;
	p->lines++;
	return 0;
}

int hl_counter_decode(const char *text, struct hl_counter *out)
{
	struct counter_parse p;

	if (out == NULL)
		return -1;
	memset(out, 0, sizeof(*out));
	if (text == NULL)
		return -1;
	p.out = out;
	p.lines = 0;
	/* "used N" alone (named) or all three lines (a pool). */
	if (for_each_line(text, parse_counter_line, &p) != 0 ||
	    (p.lines != 1 && p.lines != 3)) {
		memset(out, 0, sizeof(*out));
		return -1;
	}
	return 0;
}

/* The key builders refuse a name that would not make a key of its own
 * (a user name with '/', a malformed pool name). */
static bool key_done(char *buf, size_t len, int n)
{
	if (n < 0 || (size_t)n >= len) {
		buf[0] = '\0';
		return false;
	}
	return true;
}

bool hl_key_named(char *buf, size_t len, const char *user)
{
	if (buf == NULL || len == 0 || user == NULL || !hl_user_valid(user))
		return false;
	return key_done(buf, len, snprintf(buf, len, "named/%s", user));
}

bool hl_key_holder(char *buf, size_t len, const char *user)
{
	if (buf == NULL || len == 0 || user == NULL || !hl_user_valid(user))
		return false;
	return key_done(buf, len, snprintf(buf, len, "holder/%s", user));
}

bool hl_key_released(char *buf, size_t len, const char *user)
{
	if (buf == NULL || len == 0 || user == NULL || !hl_user_valid(user))
		return false;
	return key_done(buf, len, snprintf(buf, len, "released/%s", user));
}

bool hl_key_pool(char *buf, size_t len, const char *pool)
{
	if (buf == NULL || len == 0 || pool == NULL ||
	    !hl_pool_name_valid(pool))
		return false;
	return key_done(buf, len, snprintf(buf, len, "pool/%s", pool));
}

bool hl_key_line(char *buf, size_t len, const char *pool)
{
	if (buf == NULL || len == 0 || pool == NULL ||
	    !hl_pool_name_valid(pool))
		return false;
	return key_done(buf, len, snprintf(buf, len, "line/%s", pool));
}

bool hl_key_slot(char *buf, size_t len, const char *pool, unsigned slot)
{
	if (buf == NULL || len == 0 || pool == NULL ||
	    !hl_pool_name_valid(pool) || slot == 0)
		return false;
	return key_done(buf, len, snprintf(buf, len, "slot/%s/%u", pool, slot));
}
