/* SPDX-License-Identifier: BSD-3-Clause */
#include "config.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hl_types.h"
#include "text.h"

bool hl_user_valid(const char *user)
{
	size_t len;

	if (user == NULL)
		return false;
	len = strnlen(user, HL_USER_MAX + 1);
	if (len == 0 || len > HL_USER_MAX)
		return false;
	if (strcmp(user, ".") == 0 || strcmp(user, "..") == 0)
		return false;
	for (const unsigned char *p = (const unsigned char *)user; *p; p++)
		if (*p < 0x20 || *p == 0x7f || *p == '/')
			return false;
	return true;
}

bool hl_pool_name_valid(const char *pool)
{
	size_t len = strnlen(pool, HL_POOL_NAME_MAX + 1);

	if (len < 1 || len > HL_POOL_NAME_MAX)
		return false;
	for (size_t i = 0; i < len; i++) {
		char c = pool[i];

		if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
		      (c >= '0' && c <= '9') || c == '.' || c == '_' ||
		      c == '-'))
			return false;
	}
	return true;
}

void hl_buf_init(struct hl_buf *buf)
{
	memset(buf, 0, sizeof(*buf));
}

static bool buf_reserve(struct hl_buf *buf, size_t extra)
{
	size_t want;
	char *data;

	if (buf->failed)
		return false;
	if (extra > SIZE_MAX / 2 - buf->len) {
		buf->failed = true;
		return false;
	}
	want = buf->len + extra + 1;
	if (want <= buf->cap)
		return true;
	if (want < 2 * buf->cap)
		want = 2 * buf->cap;
	if (want < 64)
		want = 64;
	data = realloc(buf->data, want);
	if (data == NULL) {
		buf->failed = true;
		return false;
	}
	buf->data = data;
	buf->cap = want;
	return true;
}

void *hl_grow(void *items, size_t *cap, size_t need, size_t size,
	      bool *failed)
{
	size_t cap_new;
	void *grown;

	if (need <= *cap)
		return items;
	cap_new = *cap ? *cap : 16;
	while (cap_new < need && cap_new <= SIZE_MAX / 2)
		cap_new *= 2;
	if (cap_new < need || cap_new > SIZE_MAX / size) {
		*failed = true;
		return items;
	}
	grown = realloc(items, cap_new * size);
	if (grown == NULL) {
		*failed = true;
		return items;
	}
	*cap = cap_new;
	return grown;
}

void hl_buf_append(struct hl_buf *buf, const char *text, size_t len)
{
	if (!buf_reserve(buf, len))
		return;
	memcpy(buf->data + buf->len, text, len);
	buf->len += len;
	buf->data[buf->len] = '\0';
}

void hl_buf_puts(struct hl_buf *buf, const char *text)
{
	hl_buf_append(buf, text, strlen(text));
}

void hl_buf_printf(struct hl_buf *buf, const char *fmt, ...)
{
	char small[256];
	va_list ap;
	int n;

	/* One pass for the short texts nearly every call makes; a second
	 * only for a longer one. */
	va_start(ap, fmt);
	n = vsnprintf(small, sizeof(small), fmt, ap);
	va_end(ap);
	if (n < 0) {
		buf->failed = true;
		return;
	}
	if ((size_t)n < sizeof(small)) {
		hl_buf_append(buf, small, (size_t)n);
		return;
	}
	if (!buf_reserve(buf, (size_t)n))
		return;
	va_start(ap, fmt);
	vsnprintf(buf->data + buf->len, (size_t)n + 1, fmt, ap);
	va_end(ap);
	buf->len += (size_t)n;
}

/* How many bytes from p go out as they are: printable ASCII, but the
 * backslash (unless kept) and, in JSON, the quote.  Escapers copy such a
 * run at once: most text is nothing else. */
static size_t plain_run(const unsigned char *p, bool keep_backslash,
			bool json)
{
	size_t n = 0;

	while (p[n] >= 0x20 && p[n] < 0x7f &&
	       (p[n] != '\\' || keep_backslash) && (p[n] != '"' || !json))
		n++;
	return n;
}

void hl_buf_unsigned(struct hl_buf *buf, unsigned long long value)
{
	char digits[24];
	size_t n = sizeof(digits);

	do {
		digits[--n] = (char)('0' + value % 10);
		value /= 10;
	} while (value > 0);
	hl_buf_append(buf, digits + n, sizeof(digits) - n);
}

void hl_buf_signed(struct hl_buf *buf, long long value)
{
	if (value < 0) {
		hl_buf_append(buf, "-", 1);
		/* Negated as unsigned: LLONG_MIN has no positive twin. */
		hl_buf_unsigned(buf, 0ULL - (unsigned long long)value);
	} else {
		hl_buf_unsigned(buf, (unsigned long long)value);
	}
}

size_t hl_utf8_next(const unsigned char *p, unsigned *codepoint)
{
	size_t n;
	unsigned min, cp;

	if (p[0] < 0x80) {
		*codepoint = p[0];
		return 1;
	}
	if (p[0] >= 0xc2 && p[0] <= 0xdf) {
		n = 2; cp = p[0] & 0x1f; min = 0x80;
	} else if (p[0] >= 0xe0 && p[0] <= 0xef) {
		n = 3; cp = p[0] & 0x0f; min = 0x800;
	} else if (p[0] >= 0xf0 && p[0] <= 0xf4) {
		n = 4; cp = p[0] & 0x07; min = 0x10000;
	} else {
		return 0;
	}
	for (size_t i = 1; i < n; i++) {
		if ((p[i] & 0xc0) != 0x80)
			return 0;
		cp = (cp << 6) | (p[i] & 0x3f);
	}
	if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	*codepoint = cp;
	return n;
}

bool hl_unicode_hidden(unsigned cp)
{
	return (cp >= 0x80 && cp <= 0x9f) ||		/* C1 controls */
	       cp == 0x061c ||				/* arabic letter mark */
	       (cp >= 0x200b && cp <= 0x200f) ||	/* zero width, LRM, RLM */
	       (cp >= 0x202a && cp <= 0x202e) ||	/* embeddings, overrides */
	       (cp >= 0x2060 && cp <= 0x2069) ||	/* joiners, isolates */
	       cp == 0xfeff;				/* zero width no-break */
}

void hl_buf_json(struct hl_buf *buf, const char *text)
{
	const unsigned char *p = (const unsigned char *)(text ? text : "");

	hl_buf_append(buf, "\"", 1);
	while (*p) {
		size_t run = plain_run(p, false, true);
		unsigned cp = 0;
		size_t n;

		if (run > 0) {
			hl_buf_append(buf, (const char *)p, run);
			p += run;
			continue;
		}
		n = hl_utf8_next(p, &cp);
		if (n == 0) {
			hl_buf_puts(buf, "\\ufffd");
			p++;
		} else if (n > 1 && hl_unicode_hidden(cp)) {
			/* Escaped, so no reader's display reorders or hides
			 * what follows. */
			hl_buf_printf(buf, "\\u%04x", cp);
			p += n;
		} else if (n > 1) {
			hl_buf_append(buf, (const char *)p, n);
			p += n;
		} else if (*p == '"' || *p == '\\') {
			char esc[2] = { '\\', (char)*p };

			hl_buf_append(buf, esc, 2);
			p++;
		} else {
			/* What plain_run stops at and is not the above: a
			 * control character (below 0x20, or 0x7f). */
			static const char shortcuts[] = "\bb\ff\nn\rr\tt";
			const char *sc = memchr(shortcuts, *p, sizeof(shortcuts) - 1);

			if (sc != NULL && (sc - shortcuts) % 2 == 0) {
				char esc[2] = { '\\', sc[1] };

				hl_buf_append(buf, esc, 2);
			} else {
				hl_buf_printf(buf, "\\u%04x", *p);
			}
			p++;
		}
	}
	hl_buf_append(buf, "\"", 1);
}

void hl_buf_printable(struct hl_buf *buf, const char *text)
{
	const unsigned char *p = (const unsigned char *)(text ? text : "");

	while (*p) {
		size_t run = plain_run(p, false, false);

		if (run > 0) {
			hl_buf_append(buf, (const char *)p, run);
			p += run;
		} else {
			hl_buf_printf(buf, "\\x%02x", *p);
			p++;
		}
	}
}

char *hl_buf_take(struct hl_buf *buf)
{
	char *data;

	if (buf->failed) {
		hl_buf_free(buf);
		return NULL;
	}
	if (buf->data == NULL) {
		if (!buf_reserve(buf, 0))
			return NULL;
		buf->data[0] = '\0';
	}
	data = buf->data;
	hl_buf_init(buf);
	return data;
}

void hl_buf_free(struct hl_buf *buf)
{
	free(buf->data);
	hl_buf_init(buf);
}

/* hl_printable, and with keep_backslash hl_printable_line. */
static const char *escape_into(const char *text, char *out, size_t len,
			       bool keep_backslash)
{
	const unsigned char *p = (const unsigned char *)(text ? text : "");
	size_t used = 0;

	if (len == 0)
		return out;
	while (*p) {
		char piece[5];
		const char *from = piece;
		size_t n = plain_run(p, keep_backslash, false), step = n;

		if (n > 0) {
			from = (const char *)p;
		} else {
			n = (size_t)snprintf(piece, sizeof(piece), "\\x%02x", *p);
			step = 1;
		}
		if (used + n + 1 > len) {
			/* What fits of a plain run, then a mark of the cut so
			 * nobody reads a partial value as whole. */
			if (from != piece) {
				memcpy(out + used, from, len - 1 - used);
				used = len - 1;
			}
			if (len >= 4) {
				size_t at = used < len - 4 ? used : len - 4;

				memcpy(out + at, "...", 4);
				return out;
			}
			break;
		}
		memcpy(out + used, from, n);
		used += n;
		p += step;
	}
	out[used] = '\0';
	return out;
}

const char *hl_printable(const char *text, char *out, size_t len)
{
	return escape_into(text, out, len, false);
}

const char *hl_printable_line(const char *text, char *out, size_t len)
{
	return escape_into(text, out, len, true);
}
