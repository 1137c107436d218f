/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * libFuzzer target: the decoders of store records (record.c).  The input
 * is the value of a store record, damaged or not; each decoder reads it.
 *
 * Properties, besides "no crash, no leak, no undefined behaviour":
 *  - holding: what hl_holding_decode accepts, hl_holding_encode writes
 *    back, and decoding that gives the same holding (decode(encode(x)) ==
 *    x), and encoding is stable from then on;
 *  - counter: what hl_counter_decode accepts is exactly what
 *    hl_counter_encode writes (one trailing newline aside);
 *  - field: what hl_field_decode accepts is exactly what hl_field_encode
 *    writes, and any string goes through encode and decode unchanged.
 */
#include "config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "record.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static bool same_text(const char *a, const char *b)
{
	return a != NULL && b != NULL && strcmp(a, b) == 0;
}

static bool same_session(const struct hl_session *a,
			 const struct hl_session *b)
{
	return strcmp(a->id, b->id) == 0 && a->pid == b->pid &&
	       a->start == b->start && strcmp(a->boot_id, b->boot_id) == 0 &&
	       a->since == b->since && same_text(a->service, b->service) &&
	       same_text(a->tty, b->tty) && same_text(a->rhost, b->rhost) &&
	       same_text(a->host, b->host);
}

static bool same_holding(const struct hl_holding *a,
			 const struct hl_holding *b)
{
	if (a->kind != b->kind || a->since != b->since ||
	    a->session_count != b->session_count)
		return false;
	if (a->kind == HL_KIND_CONCURRENT &&
	    (strcmp(a->pool, b->pool) != 0 || a->slot != b->slot))
		return false;
	for (size_t i = 0; i < a->session_count; i++)
		if (!same_session(&a->sessions[i], &b->sessions[i]))
			return false;
	return true;
}

static void holding_round_trip(const char *text)
{
	struct hl_holding decoded, again;
	char *encoded, *reencoded;

	if (hl_holding_decode(text, &decoded) != 0) {
		if (decoded.sessions != NULL || decoded.session_count != 0)
			abort();	/* a refused record leaves nothing */
		return;
	}
	encoded = hl_holding_encode(&decoded);
	if (encoded == NULL)
		abort();	/* accepted, so it must be writable */
	if (hl_holding_decode(encoded, &again) != 0 ||
	    !same_holding(&decoded, &again))
		abort();
	reencoded = hl_holding_encode(&again);
	if (!same_text(encoded, reencoded))
		abort();
	free(reencoded);
	free(encoded);
	hl_holding_free(&again);
	hl_holding_free(&decoded);
}

static void counter_round_trip(const char *text)
{
	struct hl_counter counter;
	size_t len = strlen(text);
	char *encoded;

	if (hl_counter_decode(text, &counter) != 0)
		return;
	if (len > 0 && text[len - 1] == '\n')
		len--;
	encoded = hl_counter_encode(&counter,
				    memchr(text, '\n', len) != NULL);
	if (encoded == NULL || strlen(encoded) != len ||
	    memcmp(encoded, text, len) != 0)
		abort();	/* the decoder took a non-canonical record */
	free(encoded);
}

static void field_round_trip(const char *data, size_t size)
{
	char *decoded = hl_field_decode(data, size);
	char *encoded;

	if (decoded != NULL) {
		encoded = hl_field_encode(decoded);
		if (encoded == NULL || strlen(encoded) != size ||
		    memcmp(encoded, data, size) != 0)
			abort();	/* a non-canonical field accepted */
		free(encoded);
		free(decoded);
	}
	/* The other way: any string (up to its NUL) survives the trip. */
	encoded = hl_field_encode(data);
	if (encoded == NULL)
		abort();
	decoded = hl_field_decode(encoded, strlen(encoded));
	if (!same_text(decoded, data))
		abort();
	free(decoded);
	free(encoded);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *text = malloc(size + 1);

	if (text == NULL)
		return 0;
	memcpy(text, data, size);
	text[size] = '\0';
	holding_round_trip(text);
	counter_round_trip(text);
	field_round_trip(text, size);
	free(text);
	return 0;
}
