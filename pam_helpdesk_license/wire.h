/* SPDX-License-Identifier: BSD-3-Clause */
/* Protocol v1 between the remote store and helpdesk-licensed, the framing
 * both ends share (doc/BACKEND.md): header lines of printable ASCII ending
 * in "\n", at most HL_WIRE_LINE_MAX bytes, each possibly followed by raw
 * bytes whose lengths it gives.  Every wait is bounded: a peer that says
 * nothing for the timeout, a deadline that passes, or a stop descriptor
 * that becomes readable ends it.  No libpq, no PAM: the module, the tool,
 * the daemon and the tests' client share it. */
#ifndef HL_WIRE_H
#define HL_WIRE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define HL_WIRE_LINE_MAX 256 /* bytes, the "\n" included */
#define HL_WIRE_KEY_MAX 4096
#define HL_WIRE_VALUE_MAX (16u << 20)
#define HL_WIRE_COUNT_MAX 1000000u
/* A COMMIT's keys and values together: the daemon holds them whole. */
#define HL_WIRE_COMMIT_MAX (256u << 20)

enum hl_wire_status {
	HL_WIRE_OK,
	HL_WIRE_EOF,	   /* the peer closed before a whole message */
	HL_WIRE_TIMEOUT,   /* the peer was silent for the timeout, or the
			    * deadline passed */
	HL_WIRE_STOPPED,   /* the stop descriptor became readable */
	HL_WIRE_MALFORMED, /* too long, not printable ASCII, or not what
			    * was asked */
	HL_WIRE_IO,	   /* read or write failed */
};

struct hl_wire {
	int fd;
	int stop_fd;	   /* -1: none */
	int timeout_ms;	   /* each wait for the peer */
	int64_t deadline;  /* CLOCK_MONOTONIC ms; 0: none */
	size_t start, end; /* unread bytes of buf */
	char buf[65536];
	size_t out_len; /* unsent bytes of out */
	char out[65536];
};

void hl_wire_init(struct hl_wire *w, int fd, int stop_fd, int timeout_ms);
/* Every wait from now on ends at the latest ms milliseconds from now, so
 * that a peer trickling bytes cannot stretch an exchange. */
void hl_wire_deadline(struct hl_wire *w, int ms);

/* One header line into line (size >= HL_WIRE_LINE_MAX), without its "\n";
 * a byte that is not printable ASCII makes it malformed. */
enum hl_wire_status hl_wire_read_line(struct hl_wire *w, char *line,
				      size_t size);
/* Exactly len bytes into dst. */
enum hl_wire_status hl_wire_read(struct hl_wire *w, void *dst, size_t len);
/* Queues len bytes of src; they are sent when the queue is full, by
 * hl_wire_flush, or before the next wait for the peer.  Sending waits at
 * most the timeout each time the socket is full. */
enum hl_wire_status hl_wire_write(struct hl_wire *w, const void *src,
				  size_t len);
enum hl_wire_status hl_wire_flush(struct hl_wire *w);
/* A header line built from fmt (the "\n" added here), queued. */
enum hl_wire_status hl_wire_printf(struct hl_wire *w, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* A decimal number of the protocol: digits only, no sign, no leading
 * zero but "0", at most max. */
bool hl_wire_number(const char *text, unsigned long max, unsigned long *out);

/* Splits line at single spaces into at most max words (line is changed).
 * Returns the count, or -1 for an empty word or more than max. */
int hl_wire_words(char *line, char **words, int max);

const char *hl_wire_status_text(enum hl_wire_status status);

#endif
