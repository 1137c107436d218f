/* SPDX-License-Identifier: BSD-3-Clause */
/* One logger for the core: the module sends it to pam_syslog, the admin
 * tool to stderr.  The core never knows which. */
#ifndef HL_LOG_H
#define HL_LOG_H

#include <stdbool.h>
#include <syslog.h>

struct hl_logger {
	/* Receives one finished message, without a trailing newline,
	 * escaped with hl_printable_line: printable ASCII only. */
	void (*emit)(void *data, int priority, const char *message);
	void *data;
	bool debug;		/* pass LOG_DEBUG messages through */
};

void hl_log(const struct hl_logger *log, int priority, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

#endif
