/* SPDX-License-Identifier: BSD-3-Clause */
/* helpdesk-license events: the event log for people, one line per event,
 * and followed as it grows (as tail -F does). */
#ifndef HL_EVENTS_H
#define HL_EVENTS_H

/* The subcommand: helpdesk-license [options] events [events options].
 * Returns the exit status. */
int hl_events_main(int argc, char **argv, const char *default_config);

#endif
