/* cellstore.h -- the cells directory OUT.cells/ shared by every process
 * of a sweep: cell files, claims, validation.  GPL-3.0-or-later.
 *
 * Files, for a cell with hash H:
 *   H.h5                    the complete cell (only ever created by rename)
 *   H.h5.part-HOST-PID      being written by process PID on HOST
 *   H.claim                 "pid=PID host=HOST time=UNIX\n": PID on HOST is
 *                           computing H (created atomically with link(2))
 *   H.h5.bad                a cell file found unreadable, moved aside
 *
 * Claim rule (README, "Scale-out"): a process computes a cell only while
 * it holds its claim.  A claim is stale, and may be taken over, when its
 * holder is on this host and no longer alive (kill(pid, 0) fails with
 * ESRCH, or the pid is our own), or when the claim file has not been
 * touched for LANGBENCH_CLAIM_TIMEOUT seconds (default 600): holders touch
 * their claim every timeout/10 seconds from a heartbeat thread.  Every
 * writer writes its own .part file and renames it, so even two holders of
 * one cell (possible only through a takeover race) produce one complete
 * file, never a mixed one.
 */
#ifndef LB_CELLSTORE_H
#define LB_CELLSTORE_H

#include <stddef.h>

#include <hdf5.h>

#include "experiment.h"

typedef struct {
  char dir[4200];
  char host[256]; /* gethostname, reduced to [A-Za-z0-9._-] */
  long pid;
  double timeout; /* seconds without heartbeat before a claim is stale */
} lb_store;

/* Fill in the store of OUT (OUT.cells); creates nothing. */
void lb_store_init(lb_store *s, const char *out);

typedef enum { LB_CELL_MISSING, LB_CELL_OK, LB_CELL_BAD } lb_cell_state;

/* The state of a cell's file.  LB_CELL_OK needs: the file opens, its
 * cell_key attribute equals the cell's key and, when `full`, every
 * dataset in it reads back.  `why` gets the reason for LB_CELL_BAD. */
lb_cell_state lb_store_check(const lb_store *s, const lb_cell *c, int full,
                             char *why, size_t len);

/* The same checks on an open cell file. */
lb_cell_state lb_store_check_file(hid_t f, const lb_cell *c, int full,
                                  char *why, size_t len);

/* Path of a cell file (H.h5). */
void lb_store_path(const lb_store *s, const lb_cell *c, char *buf, size_t len);

/* 1: the claim is ours; 0: a live process holds it; -1: I/O error. */
int lb_store_claim(lb_store *s, const lb_cell *c);
/* Drop our claim (no effect on a claim that is not ours). */
void lb_store_release(lb_store *s, const lb_cell *c);

/* Move a bad cell file aside to H.h5.bad (call while holding the claim). */
void lb_store_set_aside(const lb_store *s, const lb_cell *c);

/* The heartbeat thread: touches the claim we hold every timeout/10 s. */
void lb_store_heartbeat_start(lb_store *s);
void lb_store_heartbeat_stop(void);

#endif
