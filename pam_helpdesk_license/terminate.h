/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Idle sessions and their end: when a session's tty last saw input, and
 * ending a session whose license went to somebody else (an idle holder's,
 * see hl_txn_reclaim_pool).  Ending a session is the most dangerous thing
 * the module does: only processes proven to be the session's are
 * signalled, each proven right before its signal, never one of uid 0.
 */
#ifndef HL_TERMINATE_H
#define HL_TERMINATE_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>
#include <time.h>

#include "record.h"

/* Seconds between the SIGHUP that ends a session and the SIGKILL to what
 * of it is left. */
#define HL_END_GRACE 5

/* The device of a PAM_TTY value ("pts/3", "/dev/pts/3", "tty2",
 * "/dev/tty2") in path; false when it names no /dev/pts/N or /dev/ttyN
 * ("ssh", "", ":0", anything else): the session has no tty. */
bool hl_tty_device(const char *tty, char *path, size_t len);

/* When the session's terminals last saw input: the latest atime of its
 * ttys, read without opening them (fstatat).  Those are the tty its
 * PAM_TTY names; when that names none ("ssh": sshd opens the session
 * before it allocates the pty), the controlling ttys of the processes of
 * its audit session, each a /dev/pts/N or /dev/ttyN owned by the user who
 * logged in (never root).  0, or -1 when the session has no tty: it is
 * never idle. */
int hl_session_last_input(const char *proc_root,
			  const struct hl_session *session, time_t *when);

/* How long (seconds) the tty PAM_TTY names has had no input at now; -1
 * when it names none.  Cheap (no walk of /proc), for the event log's idle
 * of every session end; an sshd session's is -1. */
long hl_session_idle(const struct hl_session *session, time_t now);

/* How long (seconds) the holding has been idle at now: every session has
 * a tty, and this is the time since the latest input on any of them.
 * -1 when a session has no tty: such a holder is never idle. */
long hl_holding_idle(const char *proc_root, const struct hl_holding *holding,
		     time_t now);
/* The controlling ttys of the processes of this boot that have an audit
 * session and a login uid other than root, read in one walk of /proc the
 * first time a session needs them: a listing of many sshd sessions would
 * otherwise walk /proc once per session.  hl_tty_map_init, then
 * hl_tty_map_free; owned by its caller, for the time of one listing. */
struct hl_tty_map_entry {
	unsigned audit_session;
	pid_t pid;		/* the map is sorted by audit session, then pid */
	dev_t dev;
	uid_t owner;
};

struct hl_tty_map {
	const char *proc_root;
	bool read;		/* the walk was made */
	bool failed;		/* out of memory: each session walks /proc */
	char boot_id[HL_BOOT_ID_LEN + 1];	/* "" when unreadable */
	struct hl_tty_map_entry *entries;
	size_t count, allocated;
};

void hl_tty_map_init(struct hl_tty_map *map, const char *proc_root);
void hl_tty_map_free(struct hl_tty_map *map);

/* Makes map's walk now if a session of holding would look its ttys up
 * there: threads may then share the map, reading it only. */
void hl_tty_map_prepare(struct hl_tty_map *map,
			const struct hl_holding *holding);

/* hl_holding_idle with each session's last input (hl_session_last_input;
 * 0 when it has none) into inputs[0 .. session_count - 1], its ttys
 * looked up in ttys: a listing shows both without reading a tty twice.
 * ttys NULL: only the ttys PAM_TTY names (no walk of /proc), as for the
 * sessions of a reap, whose processes are gone. */
long hl_holding_idle_inputs(struct hl_tty_map *ttys,
			    const struct hl_holding *holding, time_t now,
			    time_t *inputs);

/* Writes message on the session's ttys (found as above), if it has any;
 * never opened for reading, never as a controlling tty. */
void hl_session_tell(const char *proc_root, const struct hl_session *session,
		     const char *message);

/* Sends sig to the processes proven to belong to session: those of its
 * audit session when it has one, else its own process (its pid with its
 * start time).  A process of uid 0 (real, effective, saved or file
 * system) and the calling process are never signalled.  Returns how many
 * processes were signalled. */
int hl_session_signal(const char *proc_root, const struct hl_session *session,
		      int sig);

/* Ends a session: message on its ttys, SIGHUP now, SIGKILL after grace
 * seconds to what is left of it, sent by a short-lived process of its
 * own (the caller never waits).  When its ttys were found through its
 * processes (sshd), the SIGHUP goes to the processes on them only: sshd
 * passes the message on as the shell ends.  0, or -1 when that process
 * could not be started (the SIGHUP was sent). */
int hl_session_end(const char *proc_root, const struct hl_session *session,
		   const char *message, unsigned grace);

#endif
