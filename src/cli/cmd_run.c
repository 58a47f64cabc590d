/* cmd_run.c -- `langbench run EXPERIMENT.cfg`.  GPL-3.0-or-later. */
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "commands.h"
#include "dexp.h"
#include "experiment.h"

static const char *usage =
    "usage: langbench run EXPERIMENT.cfg [--out FILE.h5] [--threads P] "
    "[--fresh] [--shard I/N | --assemble]\n"
    "Run the sweep described by a libconfig experiment file (format in the\n"
    "README).  Completed cells are kept in FILE.h5.cells/ and skipped when\n"
    "the command is run again, so an interrupted sweep resumes where it\n"
    "stopped; FILE.h5 is assembled from the completed cells at the end.\n"
    "Under mpirun the ranks share the cells (rank 0 schedules, largest\n"
    "first, and assembles).\n"
    "  --out FILE.h5   default results/NAME.h5 (NAME from the file)\n"
    "  --threads P     OpenMP threads per cell (default: all cores)\n"
    "  --fresh         discard completed cells and start over\n"
    "  --shard I/N     compute only shard I (0..N-1) of N, do not assemble\n"
    "  --assemble      build FILE.h5 from the cells present, list the\n"
    "                  missing ones (exit status 1 if any)\n"
    "  --dry-run       validate the file and list the cells, run nothing\n";

/* "I/N" with 0 <= I < N. */
static int parse_shard(const char *s, long *i, long *n) {
  char *end;
  *i = strtol(s, &end, 10);
  if (end == s || *end != '/') return -1;
  const char *p = end + 1;
  *n = strtol(p, &end, 10);
  if (end == p || *end || *n < 1 || *i < 0 || *i >= *n) return -1;
  return 0;
}

int lb_cmd_run(int argc, char **argv) {
  const char *out = NULL, *threads = NULL, *fresh = NULL, *dry = NULL,
             *shard = NULL, *assemble = NULL;
  const lb_opt opts[] = {{"out", 1, &out},
                         {"threads", 1, &threads},
                         {"fresh", 0, &fresh},
                         {"dry-run", 0, &dry},
                         {"shard", 1, &shard},
                         {"assemble", 0, &assemble},
                         {NULL, 0, NULL}};
  const char *pos[1];
  int npos, help;
  if (lb_cli_parse("run", argc, argv, opts, pos, 1, &npos, &help))
    return LB_EINPUT;
  if (help) {
    fputs(usage, stdout);
    return 0;
  }
  if (npos != 1) return lb_usage_error("run", "expected one EXPERIMENT.cfg");
  long nthreads = omp_get_num_procs();
  if (lb_cli_long("run", "--threads", threads, 1, 4096, &nthreads))
    return LB_EINPUT;
  lb_run_opts ro = {.threads = (int)nthreads, .fresh = fresh != NULL,
                    .assemble = assemble != NULL};
  if (shard && parse_shard(shard, &ro.shard, &ro.nshards))
    return lb_usage_error("run", "--shard: expected I/N with 0 <= I < N");
  if (shard && assemble)
    return lb_usage_error("run", "--shard and --assemble exclude each other");
  if (fresh && (shard || assemble))
    return lb_usage_error("run", "--fresh would discard other shards' cells: "
                                 "not with --shard or --assemble");
  /* MPI only for a plain run started by mpirun: shards and assembly are
   * single-process even inside an MPI job. */
  int rank = 0;
  if (!shard && !assemble && !dry && lb_mpi_launched()) {
    if (lb_mpi_start(&argc, &argv, &rank) != 0) {
      fprintf(stderr, "langbench run: MPI_Init failed\n");
      return LB_ERUNTIME;
    }
    ro.mpi = 1;
  }
  lb_experiment x;
  lb_err e = {{0}};
  if (lb_dexp_detect(pos[0])) { /* diffusion cells: src/experiments/dexp.c */
    int drc = lb_dexp_run(pos[0], out, (int)nthreads, fresh != NULL,
                          dry != NULL, &e);
    if (drc) fprintf(stderr, "langbench run: %s\n", e.msg);
    return drc;
  }
  int rc = lb_experiment_load(pos[0], &x, &e);
  if (rc) {
    if (rank == 0) fprintf(stderr, "langbench run: %s\n", e.msg);
    if (ro.mpi) lb_mpi_stop();
    return rc;
  }
  char def[300];
  if (!out) {
    snprintf(def, sizeof def, "results/%s.h5", x.name);
    out = def;
  }
  if (dry) {
    printf("%zu cells\n", x.ncells);
    for (size_t i = 0; i < x.ncells; i++)
      printf("%s %s %s step=%g steps=%ld seed=%ld\n", x.cells[i].hash,
             x.cells[i].target, x.cells[i].sampler, x.cells[i].step,
             x.cells[i].steps, x.cells[i].seed);
  } else {
    rc = lb_experiment_run_opts(&x, out, &ro, &e);
    if (rc && rank == 0) fprintf(stderr, "langbench run: %s\n", e.msg);
  }
  lb_experiment_free(&x);
  if (ro.mpi) lb_mpi_stop();
  return rc;
}
