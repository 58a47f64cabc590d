/* runner.h -- the runner's pieces shared by the serial/shard runner
 * (runner.c) and the MPI scheduler (mpisched.c).  GPL-3.0-or-later. */
#ifndef LB_RUNNER_H
#define LB_RUNNER_H

#include <stddef.h>

#include "cellstore.h"
#include "experiment.h"

typedef struct {
  const lb_experiment *x;
  lb_store st;
  int threads, tty;
  size_t total, done, ran; /* over the cells this process is in charge of */
  double t0;
  int rc; /* status of the last failed lb_run_work_one */
} lb_runctx;

/* Outcome of lb_run_work_one. */
enum { LB_W_DONE, LB_W_OTHER, LB_W_BUSY, LB_W_ERR };

/* Set up OUT.cells (--fresh removes it first); probe_out: check that OUT
 * itself can be written. */
int lb_run_prepare(lb_runctx *r, const lb_experiment *x, const char *out,
                   const lb_run_opts *o, int probe_out, lb_err *e);

/* Which of the n cells set[] still need work (file missing or unreadable):
 * written to pending[], count returned; r->done counts the others. */
size_t lb_run_scan(lb_runctx *r, const size_t *set, size_t n, size_t *pending);

/* Claim cell i, and unless its file is complete compute it into its own
 * file.  LB_W_DONE computed here, LB_W_OTHER already complete, LB_W_BUSY
 * claimed by a live process, LB_W_ERR (e and r->rc set). */
int lb_run_work_one(lb_runctx *r, size_t i, lb_err *e);

/* One more cell complete: count it and print progress. */
void lb_run_progress(lb_runctx *r, size_t i, int ran_here);

/* Assemble OUT from all cells; cells found unreadable now are recomputed
 * here and assembly repeated.  Prints the final line. */
int lb_run_finish(lb_runctx *r, const char *out, lb_err *e);

/* Seconds since an arbitrary origin (monotonic). */
double lb_run_clock(void);

/* The sweep over the ranks of an MPI job (mpisched.c; LB_ERUNTIME in a
 * build without MPI). */
int lb_mpi_run(const lb_experiment *x, const char *out, const lb_run_opts *o,
               lb_err *e);

#endif
