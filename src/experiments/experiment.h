/* experiment.h -- parameter sweeps: libconfig experiment files, grid
 * expansion into cells, stable cell keys, the resumable runner, export.
 *
 * GPL-3.0-or-later.
 *
 * An experiment file (experiments/NAME.cfg; full reference in the README):
 *
 *   name        = "bias_gaussian";             # required
 *   description = "...";
 *   targets     = ("gaussian:dim=1",           # SPECs, or groups with
 *                  { spec = "double_well"; step_sizes = [0.02]; });
 *                                              # their own step sizes
 *   samplers    = ("lmc", { name = "plmc"; K = (4, 16, "inf"); });
 *   step_sizes  = [0.4, 0.2, 0.1];
 *   horizon     = 20.0;         # steps = round(horizon / step) ... or
 *   steps       = 400;          # ... a fixed number of steps (one of them)
 *   chains      = 20000;
 *   seeds       = [1, 2];
 *   init        = "gaussian:var=1";            # optional
 *   record      = { schedule = "geometric"; count = 12; };
 *                 # or { schedule = "every"; every = 10; } or "last"
 *   metrics     = "mean_err,w2_marg";          # as for `langbench metrics`
 *   trajectory_chains = 16;     # chains kept in each cell's /trajectory
 *   coupled     = false;        # true: also run LMC(step/K) on the same
 *                               # Brownian path (law_w2, path_rmse)
 *   time_average = { from = 2.5; };   # weak metrics also averaged over
 *                               # every step t*step in [from, horizon]
 *
 * (libconfig: [...] holds scalars of one type, (...) anything.)  A sampler
 * group expands the cartesian product of its list-valued parameters.  The
 * grid is targets x samplers x step sizes x seeds.
 *
 * Each cell is keyed by the 64-bit FNV-1a hash of its fully resolved
 * parameters (lb_cell.key) and is written, when complete, to its own file
 * OUT.cells/<hash>.h5 (as .part, then renamed), so that a kill at any
 * moment loses only the cells in progress; the experiment file OUT is
 * then assembled from the completed cells (again .part + rename).  Cells
 * are independent: a later version can hand them to several processes.
 */
#ifndef LB_EXPERIMENT_H
#define LB_EXPERIMENT_H

#include <stddef.h>
#include <stdint.h>

#include <hdf5.h>

#include "lb.h"

#define LB_EXP_FORMAT "langbench-experiment"

typedef struct {
  char target[LB_SPEC_MAXLEN];
  char sampler[LB_SPEC_MAXLEN]; /* resolved SPEC, e.g. plmc:K=16,option=2 */
  double step;
  long steps;
  long seed;
  char key[2048];  /* canonical description, the input of the hash */
  char hash[17];   /* 16 hex digits */
} lb_cell;

typedef struct {
  char *text; /* the config file, verbatim */
  char path[1024];
  char name[128];
  char init[LB_SPEC_MAXLEN];
  char metrics[1024];
  char schedule[16]; /* "geometric" | "every" | "last" */
  long record_count, record_every;
  long chains;
  long trajectory_chains;
  int coupled;
  int time_average; /* time_average = { from = T0; }: weak metrics are also
                       averaged over steps ceil(T0/step) .. steps */
  double ta_from;   /* T0 (default: half the horizon) */
  size_t ncells;
  lb_cell *cells;
} lb_experiment;

/* Parse and validate the whole file (every target, sampler and metric is
 * built once), expand the grid.  LB_EINPUT with "FILE:LINE: message". */
int lb_experiment_load(const char *path, lb_experiment *x, lb_err *e);
void lb_experiment_free(lb_experiment *x);

/* The record steps of a cell (ascending, first 0, last steps). */
size_t lb_experiment_records(const lb_experiment *x, long steps,
                             int64_t **out);

/* FNV-1a 64 of a string, as 16 lowercase hex digits. */
void lb_hash_hex(const char *s, char out[17]);

/* One row of a cell's /metrics table (an HDF5 compound dataset with
 * these field names; "stderr" and "floor" on disk). */
typedef struct {
  int64_t record_step;
  double time;     /* record_step * step */
  double nfe_mean; /* drift evaluations per chain up to record_step */
  char metric[32];
  double estimate, stderr_, floor_;
  int64_t n;
} lb_metric_row;

/* The parameters of a cell, as stored in its group's attributes (written
 * by the runner): K, option and gamma are text, "" where the sampler has
 * no such parameter. */
typedef struct {
  char target[LB_SPEC_MAXLEN];
  char family[64], K[32], option[32], gamma[32];
  double step;
  long seed, steps, chains;
} lb_cell_info;

/* 0, or -1 when an attribute is missing (not a cell of this format). */
int lb_cell_info_read(hid_t g, lb_cell_info *c);

/* Write rows as a cell's /metrics table (used by dexp.c too). */
int lb_cell_write_metrics(hid_t loc, const lb_metric_row *rows, size_t n);

/* Read /metrics of a cell group into a malloc'd array. */
int lb_cell_read_metrics(hid_t loc, lb_metric_row **out, size_t *n);

/* Run the missing cells and assemble OUT.  Progress on stderr. */
int lb_experiment_run(const lb_experiment *x, const char *out, int threads,
                      int fresh, lb_err *e);

/* Least-squares fit y = a + b x; returns b with its standard error (from
 * the residuals; NaN with fewer than 3 points) and a. */
void lb_fit_slope(const double *x, const double *y, size_t n, double *slope,
                  double *se, double *intercept);

#endif
