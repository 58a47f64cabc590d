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
 *   overrides   = ({ target = "gaussian:dim=1"; sampler = "plmc:K=inf";
 *                    step_sizes = [0.4, 0.3]; });   # one pair's own steps
 *
 * The steps of a (target, sampler) pair: its override (target as written
 * in targets, sampler as the resolved SPEC), else the target's own, else
 * step_sizes.
 * (libconfig: [...] holds scalars of one type, (...) anything.)  A sampler
 * group expands the cartesian product of its list-valued parameters.  The
 * grid is targets x samplers x step sizes x seeds.
 *
 * Each cell is keyed by the 64-bit FNV-1a hash of its fully resolved
 * parameters (lb_cell.key) and is written, when complete, to its own file
 * OUT.cells/<hash>.h5 (as .part, then renamed), so that a kill at any
 * moment loses only the cells in progress; the experiment file OUT is
 * then assembled from the completed cells (again .part + rename).  Cells
 * are independent: shards (--shard I/N) and MPI ranks share one cells
 * directory through claim files (cellstore.h, mpisched.c).
 */
#ifndef LB_EXPERIMENT_H
#define LB_EXPERIMENT_H

#include <stddef.h>
#include <stdint.h>

#include <hdf5.h>

#include "lb.h"

#define LB_EXP_FORMAT "langbench-experiment"

typedef struct lb_cell lb_cell;
struct lb_experiment;

/* Computes a cell into an open HDF5 file (its datasets and attributes);
 * the runner owns the file: its name, claim, cell_key/cell_hash/
 * experiment/host attributes and the final rename (runner.c). */
typedef int (*lb_cell_compute_fn)(const struct lb_experiment *x,
                                  const lb_cell *c, hid_t file, int threads,
                                  lb_err *e);

/* A cell: fully resolved parameters, their key and hash, an estimated
 * cost, and the function that computes it. */
struct lb_cell {
  char target[LB_SPEC_MAXLEN];
  char sampler[LB_SPEC_MAXLEN]; /* resolved SPEC, e.g. plmc:K=16,option=2 */
  double step;
  long steps;
  long seed;
  char key[2048];  /* canonical description, the input of the hash */
  char hash[17];   /* 16 hex digits */
  /* estimated cost in arbitrary units, only for scheduling (largest
   * first) and shard balance: chains x dim x steps (x (1 + K) when
   * coupled) + chains x dim per record */
  double cost;
  lb_cell_compute_fn compute; /* NULL: the Langevin cell (runner.c) */
};

typedef struct lb_experiment {
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

/* How to run a sweep (`langbench run`). */
typedef struct {
  int threads;         /* OpenMP threads per cell */
  int fresh;           /* discard OUT.cells first */
  long shard, nshards; /* nshards > 0: only cells of shard `shard` (0-based) */
  int assemble;        /* only assemble OUT from the cells present */
  int mpi;             /* launched by mpirun: rank 0 schedules (mpisched.c) */
} lb_run_opts;

/* Run the missing cells and assemble OUT (not in shard mode).  Progress
 * on stderr.  Returns LB_OK, LB_EINPUT/LB_ERUNTIME, or 1 (LB_ERUNTIME)
 * from --assemble when cells are missing (e->msg says how many). */
int lb_experiment_run_opts(const lb_experiment *x, const char *out,
                           const lb_run_opts *o, lb_err *e);
/* The same with threads and fresh only (the serial run). */
int lb_experiment_run(const lb_experiment *x, const char *out, int threads,
                      int fresh, lb_err *e);

/* The shard (0..n-1) of cell i: cells sorted by cost (descending, ties by
 * grid order) are dealt to shards in boustrophedon order 0..n-1, n-1..0,
 * so every shard gets a similar total cost.  Fills shard_of[ncells]. */
void lb_experiment_shards(const lb_experiment *x, long n, long *shard_of);

/* Cell indices sorted by decreasing cost (ties: grid order). */
size_t *lb_experiment_by_cost(const lb_experiment *x);

/* MPI (mpisched.c).  lb_mpi_launched: 1 when the build has MPI and this
 * process was started by an MPI launcher (environment OMPI_COMM_WORLD_SIZE,
 * PMIX_RANK or PMI_RANK; LANGBENCH_MPI=0 or 1 overrides).  lb_mpi_start
 * calls MPI_Init_thread (MPI_THREAD_FUNNELED) and gives this rank;
 * lb_mpi_stop calls MPI_Finalize.  Without MPI they do nothing. */
int lb_mpi_launched(void);
int lb_mpi_start(int *argc, char ***argv, int *rank);
void lb_mpi_stop(void);

/* Least-squares fit y = a + b x; returns b with its standard error (from
 * the residuals; NaN with fewer than 3 points) and a. */
void lb_fit_slope(const double *x, const double *y, size_t n, double *slope,
                  double *se, double *intercept);

#endif
