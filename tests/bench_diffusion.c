/* bench_diffusion.c -- network evaluations per second while sampling
 * (make bench).  GPL-3.0-or-later.
 *
 * Batch of 10 000 samples, the exact oracle of ring8 (8 components, d =
 * 2) and of a 2-D Gaussian: the rate of block model calls alone (rows per
 * second of eval), and of whole samplers (model calls per second
 * including the sampler's vector work and noise) for ddpm with 100 steps
 * and pmm option 2 at the same NFE (K = 20: the interpolation costs
 * O(1000) fine-step vector operations per sample on top).  One thread and
 * all threads; best of 3.  The default trained architecture (128 x 3
 * MLP, random weights: the cost does not depend on their values) through
 * lb_mlp_model_from, the same block model a model file gives. */
#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>

#include <hdf5.h>

#include "bench.h"
#include "diffuse.h"
#include "mlp.h"
#include "model.h"
#include "rng.h"
#include "target.h"

static double eval_rate(const lb_model *m, size_t B) {
  double *x = calloc(m->dim * B, sizeof(double)), *e = calloc(m->dim * B, sizeof(double)),
         *s = calloc(B, sizeof(double)), *w = calloc(m->type->work_size(m, B), sizeof(double));
  for (size_t i = 0; i < m->dim * B; i++) x[i] = 3.0 * sin(0.37 * (double)i);
  for (size_t r = 0; r < B; r++) s[r] = (double)(1 + r % 1000);
  double best = HUGE_VAL;
  for (int k = 0; k < 3; k++) {
    double t0 = bench_now();
    m->type->eval(m, B, B, x, s, e, w);
    double t = bench_now() - t0;
    if (t < best) best = t;
  }
  free(x);
  free(e);
  free(s);
  free(w);
  return (double)B / best;
}

static double sampler_rate(const lb_model *m, const char *spec, long nfe,
                           int threads) {
  lb_err e;
  lb_dsampler *s = NULL;
  if (lb_dsampler_alloc(spec, &m->sched, nfe, &s, &e)) {
    fprintf(stderr, "%s\n", e.msg);
    exit(1);
  }
  double best = HUGE_VAL, calls = 0;
  for (int k = 0; k < 3; k++) {
    lb_run r = {0};
    lb_diffuse_cfg c = {m, s, 10000, 1, threads, 0, 0};
    double t0 = bench_now();
    lb_diffuse(&c, &r, &e);
    double t = bench_now() - t0;
    calls = 0;
    for (long i = 0; i < r.chains; i++) calls += (double)r.nfe[i];
    lb_run_clear(&r);
    if (t < best) best = t;
  }
  lb_dsampler_free(s);
  return calls / best;
}

/* The wall time of the diffusion_nfe experiment, read from the cells of
 * its last real run (results/diffusion_nfe.h5 from `make figures`): the
 * sum of the cells' wall_seconds (each cell on the run's threads).  A full
 * rerun here would take as long as the experiment itself. */
static herr_t add_cell(hid_t g, const char *name, const H5L_info_t *info,
                       void *acc) {
  (void)info;
  double *a = acc, w;
  hid_t c = H5Gopen2(g, name, H5P_DEFAULT);
  if (c < 0) return 0;
  if (H5Aexists(c, "wall_seconds") > 0) {
    hid_t at = H5Aopen(c, "wall_seconds", H5P_DEFAULT);
    if (at >= 0 && H5Aread(at, H5T_NATIVE_DOUBLE, &w) >= 0) {
      a[0] += w;
      a[1] += 1;
    }
    if (at >= 0) H5Aclose(at);
  }
  H5Gclose(c);
  return 0;
}

static void experiment_time(const char *path) {
  double acc[2] = {0, 0};
  H5E_BEGIN_TRY {
    hid_t f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    if (f >= 0) {
      hid_t g = H5Gopen2(f, "cells", H5P_DEFAULT);
      if (g >= 0) {
        H5Literate(g, H5_INDEX_NAME, H5_ITER_INC, NULL, add_cell, acc);
        H5Gclose(g);
      }
      H5Fclose(f);
    }
  } H5E_END_TRY;
  if (acc[1] > 0)
    printf("diffusion_nfe wall time: %.0f s over %.0f cells (sum of the "
           "cells' wall_seconds in %s, its last run)\n\n", acc[0], acc[1],
           path);
  else
    printf("diffusion_nfe wall time: no %s yet (make figures runs it)\n\n",
           path);
}

void bench_diffusion(void) {
  const char *targets[] = {"gmm:preset=ring8", "gaussian:dim=2,var=0.25"};
  int P = omp_get_num_procs();
  printf("diffusion: model calls per second, batch 10000 (oracle)\n");
  printf("%-26s %14s %14s %14s %14s %14s\n", "model", "eval rows/s",
         "ddpm-100 1t", "pmm-100 1t", "ddpm-100 all", "pmm/ddpm 1t");
  for (int q = 0; q < 2; q++) {
    lb_err e;
    lb_target *t = NULL;
    lb_model *m = NULL;
    if (lb_target_alloc(targets[q], &t, &e) ||
        lb_model_open("oracle", t, "paper", &m, &e)) {
      fprintf(stderr, "%s\n", e.msg);
      exit(1);
    }
    double ev = eval_rate(m, 10000);
    double d1 = sampler_rate(m, "ddpm", 100, 1);
    double p1 = sampler_rate(m, "pmm:K=20,option=2", 0, 1);
    double dP = sampler_rate(m, "ddpm", 100, P);
    printf("oracle:%-19s %14.3g %14.3g %14.3g %14.3g %14.2f\n", targets[q], ev,
           d1, p1, dP, d1 / p1);
    lb_model_free(m);
    lb_target_free(t);
  }
  {
    lb_err e;
    lb_mlp_arch a;
    lb_schedule *sch = calloc(1, sizeof *sch);
    lb_model *m = NULL;
    if (lb_mlp_arch_init(&a, 2, 128, 3, &e) ||
        lb_schedule_init(sch, "paper", 1000, &e)) {
      fprintf(stderr, "%s\n", e.msg);
      exit(1);
    }
    double *theta = calloc(a.nparams, sizeof(double));
    gsl_rng *r = lb_rng_alloc();
    lb_rng_seed(r, 1, 0, 0);
    lb_mlp_init_params(&a, r, theta);
    gsl_rng_free(r);
    if (lb_mlp_model_from(&a, sch, theta, "bench", &m, &e)) {
      fprintf(stderr, "%s\n", e.msg);
      exit(1);
    }
    double ev = eval_rate(m, 10000);
    double d1 = sampler_rate(m, "ddpm", 100, 1);
    double p1 = sampler_rate(m, "pmm:K=20,option=2", 0, 1);
    double dP = sampler_rate(m, "ddpm", 100, P);
    printf("%-26s %14.3g %14.3g %14.3g %14.3g %14.2f\n", "mlp 128x3 (2-D)", ev, d1,
           p1, dP, d1 / p1);
    lb_model_free(m);
    free(theta);
    free(sch);
  }
  printf("  (%d threads for 'all'; pmm/ddpm: time per model call, pmm over "
         "ddpm)\n\n", P);
  experiment_time("results/diffusion_nfe.h5");
}
