/* io.h -- the HDF5 run file (format "langbench-run", format_version 1).
 *
 * GPL-3.0-or-later.
 *
 * Schema (product.md; documented in the README):
 *   /               attrs: format, format_version, langbench_version,
 *                   target, sampler, init, step, steps, chains, seed, dim,
 *                   threads, record_every, created, command, status,
 *                   wall_seconds
 *   /samples        float64 [chains, dim]
 *   /velocities     float64 [chains, dim]   (underdamped only)
 *   /nfe            int64   [chains]
 *   /diverged       int8    [chains]
 *   /trajectory     float64 [records, record_chains, dim] chunked, deflated
 *   /trajectory_step int64  [records]
 *   /trajectory_nfe int64   [records]  drift evaluations of all chains up
 *                   to each record (an extension of format_version 1;
 *                   optional when reading)
 *
 * lb_run_write/lb_run_read work on any HDF5 location (a file or a group),
 * so an experiment file can hold one run per sweep cell.
 */
#ifndef LB_IO_H
#define LB_IO_H

#include <hdf5.h>
#include <stddef.h>
#include <stdint.h>

#include "lb.h"

#define LB_RUN_FORMAT "langbench-run"
#define LB_RUN_FORMAT_VERSION 1

typedef struct {
  /* attributes */
  char langbench_version[32];
  char target[LB_SPEC_MAXLEN];
  char sampler[LB_SPEC_MAXLEN];
  char init[LB_SPEC_MAXLEN];
  char created[64];   /* ISO 8601 UTC */
  char command[2048]; /* the command line */
  char status[16];    /* "ok" | "diverged" */
  double step;
  double wall_seconds;
  long steps, chains, seed, dim, threads, record_every;
  /* datasets (owned; freed by lb_run_clear) */
  double *samples;    /* [chains*dim] */
  double *velocities; /* [chains*dim] or NULL */
  int64_t *nfe;       /* [chains] */
  int8_t *diverged;   /* [chains] */
  size_t records, record_chains;
  double *trajectory;       /* [records*record_chains*dim] */
  int64_t *trajectory_step; /* [records] */
  int64_t *trajectory_nfe;  /* [records] total over chains, or NULL */
} lb_run;

void lb_run_clear(lb_run *r); /* free the arrays, zero the struct */

/* Turn HDF5's automatic error printing and its exit handler off (call
 * once at start-up, before any other HDF5 call). */
void lb_io_quiet(void);

int lb_run_write(hid_t loc, const lb_run *r, lb_err *e);
/* Reads and validates the schema (format attribute, shapes). */
int lb_run_read(hid_t loc, lb_run *r, lb_err *e);

/* Output files are written as PATH.part and renamed on success. */
typedef struct {
  hid_t file;
  char path[4096];
  char part[4200];
} lb_out;

/* Creates PATH.part (LB_EINPUT naming --out when that is impossible). */
int lb_out_open(lb_out *o, const char *path, lb_err *e);
/* Close and rename PATH.part to PATH. */
int lb_out_commit(lb_out *o, lb_err *e);
/* Close and remove PATH.part (after a failure). */
void lb_out_abort(lb_out *o);

/* LB_ERUNTIME naming path when a file of about `bytes` cannot be written
 * there: more than the free space of its filesystem (statvfs) or than
 * RLIMIT_FSIZE.  libhdf5 1.10 crashes inside H5Ocopy when a write fails
 * mid-copy (EFBIG, ENOSPC), so copies are checked for room first. */
int lb_out_room(const char *path, uint64_t bytes, lb_err *e);

/* Open a run file read-only and read it (LB_EINPUT if it is not one). */
int lb_run_load(const char *path, lb_run *r, lb_err *e);

/* 0 when dataset ds can hold `count` elements: the byte count fits in
 * size_t and the file stores enough bytes for it (deflate compresses at
 * most 1032:1, so a dataset whose declared size exceeds 1100 times its
 * stored bytes, or that stores nothing, is corrupt).  -1 otherwise: a
 * reader must not allocate for what a damaged header claims. */
int lb_dataset_plausible(hid_t ds, uint64_t count);

/* Attribute helpers, shared with the experiment runner. */
int lb_attr_str(hid_t loc, const char *name, const char *value);
int lb_attr_double(hid_t loc, const char *name, double value);
int lb_attr_long(hid_t loc, const char *name, long value);
int lb_attr_get_str(hid_t loc, const char *name, char *buf, size_t len);
int lb_attr_get_double(hid_t loc, const char *name, double *value);
int lb_attr_get_long(hid_t loc, const char *name, long *value);

#endif
