/* SPDX-License-Identifier: BSD-3-Clause */
#include "config.h"

#include <stdarg.h>
#include <stdio.h>

#include "log.h"
#include "text.h"

__attribute__((format(printf, 3, 0)))
static void hl_vlog(const struct hl_logger *log, int priority,
		    const char *fmt, va_list ap)
{
	char message[2048], shown[4 * sizeof(message)];

	if (log == NULL || log->emit == NULL)
		return;
	if (priority == LOG_DEBUG && !log->debug)
		return;
	vsnprintf(message, sizeof(message), fmt, ap);
	/* User names, rhosts and paths come from outside: escaped here,
	 * where no caller can forget it, so none forges a line. */
	log->emit(log->data, priority,
		  hl_printable_line(message, shown, sizeof(shown)));
}

void hl_log(const struct hl_logger *log, int priority, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	hl_vlog(log, priority, fmt, ap);
	va_end(ap);
}
