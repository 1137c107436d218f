#include "config.h"

#include <stdio.h>

#include "log.h"

void hl_vlog(const struct hl_logger *log, int priority, const char *fmt,
	     va_list ap)
{
	char message[2048];

	if (log == NULL || log->emit == NULL)
		return;
	if (priority == LOG_DEBUG && !log->debug)
		return;
	vsnprintf(message, sizeof(message), fmt, ap);
	log->emit(log->data, priority, message);
}

void hl_log(const struct hl_logger *log, int priority, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	hl_vlog(log, priority, fmt, ap);
	va_end(ap);
}
