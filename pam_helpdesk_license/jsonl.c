/* SPDX-License-Identifier: BSD-3-Clause */
#include "config.h"

#include <string.h>

#include "jsonl.h"

struct cursor {
	char *p;
	char *end;
};

static void skip_space(struct cursor *c)
{
	while (c->p < c->end && (*c->p == ' ' || *c->p == '\t' ||
				 *c->p == '\r'))
		c->p++;
}

static int hex_digit(char ch)
{
	if (ch >= '0' && ch <= '9')
		return ch - '0';
	if (ch >= 'a' && ch <= 'f')
		return ch - 'a' + 10;
	if (ch >= 'A' && ch <= 'F')
		return ch - 'A' + 10;
	return -1;
}

static bool read_hex4(struct cursor *c, unsigned *out)
{
	unsigned v = 0;

	if (c->end - c->p < 4)
		return false;
	for (int i = 0; i < 4; i++) {
		int d = hex_digit(c->p[i]);

		if (d < 0)
			return false;
		v = v << 4 | (unsigned)d;
	}
	c->p += 4;
	*out = v;
	return true;
}

static char *put_utf8(char *w, unsigned cp)
{
	if (cp < 0x80) {
		*w++ = (char)cp;
	} else if (cp < 0x800) {
		*w++ = (char)(0xC0 | cp >> 6);
		*w++ = (char)(0x80 | (cp & 0x3F));
	} else if (cp < 0x10000) {
		*w++ = (char)(0xE0 | cp >> 12);
		*w++ = (char)(0x80 | (cp >> 6 & 0x3F));
		*w++ = (char)(0x80 | (cp & 0x3F));
	} else {
		*w++ = (char)(0xF0 | cp >> 18);
		*w++ = (char)(0x80 | (cp >> 12 & 0x3F));
		*w++ = (char)(0x80 | (cp >> 6 & 0x3F));
		*w++ = (char)(0x80 | (cp & 0x3F));
	}
	return w;
}

/* Length of the valid UTF-8 sequence at p (at most n bytes), or 0. */
static size_t utf8_length(const unsigned char *p, size_t n)
{
	size_t len;
	unsigned cp;

	if (p[0] < 0x80)
		return 1;
	if (p[0] >= 0xC2 && p[0] <= 0xDF)
		len = 2, cp = p[0] & 0x1F;
	else if (p[0] >= 0xE0 && p[0] <= 0xEF)
		len = 3, cp = p[0] & 0x0F;
	else if (p[0] >= 0xF0 && p[0] <= 0xF4)
		len = 4, cp = p[0] & 0x07;
	else
		return 0;
	if (n < len)
		return 0;
	for (size_t i = 1; i < len; i++) {
		if ((p[i] & 0xC0) != 0x80)
			return 0;
		cp = cp << 6 | (p[i] & 0x3F);
	}
	if ((len == 3 && (cp < 0x800 || (cp >= 0xD800 && cp <= 0xDFFF))) ||
	    (len == 4 && (cp < 0x10000 || cp > 0x10FFFF)))
		return 0;
	return len;
}

/* A string at c->p (after its opening quote), unescaped in place. */
static bool read_string(struct cursor *c, const char **out)
{
	char *w = c->p;

	*out = w;
	while (c->p < c->end) {
		unsigned char ch = (unsigned char)*c->p;

		if (ch == '"') {
			c->p++;
			*w = '\0';
			return true;
		}
		if (ch < 0x20)
			return false;
		if (ch != '\\') {
			size_t len = utf8_length((unsigned char *)c->p,
						 (size_t)(c->end - c->p));

			if (len == 0)
				return false;
			memmove(w, c->p, len);
			w += len;
			c->p += len;
			continue;
		}
		if (++c->p >= c->end)
			return false;
		switch (*c->p++) {
		case '"': *w++ = '"'; break;
		case '\\': *w++ = '\\'; break;
		case '/': *w++ = '/'; break;
		case 'b': *w++ = '\b'; break;
		case 'f': *w++ = '\f'; break;
		case 'n': *w++ = '\n'; break;
		case 'r': *w++ = '\r'; break;
		case 't': *w++ = '\t'; break;
		case 'u': {
			unsigned cp, low;

			if (!read_hex4(c, &cp) || cp == 0)
				return false;
			if (cp >= 0xDC00 && cp <= 0xDFFF)
				return false;
			if (cp >= 0xD800 && cp <= 0xDBFF) {
				if (c->end - c->p < 2 || c->p[0] != '\\' ||
				    c->p[1] != 'u')
					return false;
				c->p += 2;
				if (!read_hex4(c, &low) || low < 0xDC00 ||
				    low > 0xDFFF)
					return false;
				cp = 0x10000 + ((cp - 0xD800) << 10) +
				     (low - 0xDC00);
			}
			/* An escape is never longer than what it writes:
			 * six bytes for at most three, twelve for four. */
			w = put_utf8(w, cp);
			break;
		}
		default:
			return false;
		}
	}
	return false;
}

static bool read_literal(struct cursor *c, const char *word)
{
	size_t len = strlen(word);

	if ((size_t)(c->end - c->p) < len || memcmp(c->p, word, len) != 0)
		return false;
	c->p += len;
	return true;
}

/* An integer: -?(0|[1-9][0-9]*), at most 20 characters. */
static bool read_number(struct cursor *c)
{
	char *start = c->p;

	if (c->p < c->end && *c->p == '-')
		c->p++;
	if (c->p >= c->end || *c->p < '0' || *c->p > '9')
		return false;
	if (*c->p == '0')
		c->p++;
	else
		while (c->p < c->end && *c->p >= '0' && *c->p <= '9')
			c->p++;
	return c->p - start <= 20;
}

bool hl_jsonl_parse(char *line, size_t len, struct hl_jsonl_object *out)
{
	struct cursor c = { line, line + len };
	char *number_end[HL_JSONL_FIELDS_MAX];

	out->count = 0;
	skip_space(&c);
	if (c.p >= c.end || *c.p++ != '{')
		return false;
	skip_space(&c);
	if (c.p < c.end && *c.p == '}') {
		c.p++;
		goto tail;
	}
	for (;;) {
		struct hl_jsonl_field *f;
		char *number;

		if (out->count == HL_JSONL_FIELDS_MAX)
			return false;
		f = &out->fields[out->count];
		skip_space(&c);
		if (c.p >= c.end || *c.p++ != '"' || !read_string(&c, &f->key))
			return false;
		skip_space(&c);
		if (c.p >= c.end || *c.p++ != ':')
			return false;
		skip_space(&c);
		if (c.p >= c.end)
			return false;
		number = c.p;
		number_end[out->count] = NULL;
		if (*c.p == '"') {
			c.p++;
			f->type = HL_JSONL_STRING;
			if (!read_string(&c, &f->value))
				return false;
		} else if (read_literal(&c, "true") || read_literal(&c, "false")) {
			f->type = HL_JSONL_BOOL;
			f->value = *number == 't' ? "true" : "false";
		} else if (read_literal(&c, "null")) {
			f->type = HL_JSONL_NULL;
			f->value = "";
		} else if (read_number(&c)) {
			f->type = HL_JSONL_NUMBER;
			f->value = number;
			number_end[out->count] = c.p;
		} else {
			return false;
		}
		/* A key twice: which one is meant? */
		for (size_t i = 0; i < out->count; i++)
			if (out->fields[i].key[0] == f->key[0] &&
			    strcmp(out->fields[i].key, f->key) == 0)
				return false;
		out->count++;
		skip_space(&c);
		if (c.p >= c.end)
			return false;
		if (*c.p == '}') {
			c.p++;
			break;
		}
		if (*c.p++ != ',')
			return false;
	}
tail:
	skip_space(&c);
	if (c.p != c.end)
		return false;
	/* Numbers end at the delimiter after them, read by now. */
	for (size_t i = 0; i < out->count; i++)
		if (out->fields[i].type == HL_JSONL_NUMBER)
			*number_end[i] = '\0';
	return true;
}

const struct hl_jsonl_field *hl_jsonl_get(const struct hl_jsonl_object *obj,
					  const char *key)
{
	for (size_t i = 0; i < obj->count; i++)
		if (strcmp(obj->fields[i].key, key) == 0)
			return &obj->fields[i];
	return NULL;
}

const char *hl_jsonl_string(const struct hl_jsonl_object *obj,
			    const char *key)
{
	const struct hl_jsonl_field *f = hl_jsonl_get(obj, key);

	return f != NULL && f->type == HL_JSONL_STRING ? f->value : NULL;
}
