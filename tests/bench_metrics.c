/* bench_metrics.c -- cost of the expensive metrics (make bench).
 * GPL-3.0-or-later.
 *
 * One core, one run.  For each metric the time of one evaluation of the
 * estimator (no SE, no floor: lb_metric_eval costs about 2 of these plus
 * the batches) at the size the issue names and at a smaller size, the
 * ratio of the two and the exponent it implies (time ~ n^p):
 *   w2       exact assignment, n = 2000 vs 1000, d = 2
 *   sw2      100 projections, n = 10^6 vs 2.5 10^5, d = 2
 *   kl knn   Wang-Kulkarni-Verdu by kd-tree, n = 10^5 vs 2.5 10^4, d = 10
 * plus the full `metrics` evaluation (estimate + SE + floor) of w2 at
 * n = 2000, and the speed-up of sw2 and kl knn (OpenMP over projections /
 * queries; the numbers do not depend on the thread count) at the largest
 * size on all threads.  Each timing is the best of 3 (1 for the largest
 * sizes).
 *
 * Then the full evaluation (estimate + SE + floor, as a sweep runs it) of
 * every metric the experiments use by default, at 1e5 and 1e6 chains of
 * ring8 (d = 2), on all threads: the metrics must keep up with the
 * samplers at these chain counts (issue 9). */
#include <gsl/gsl_randist.h>
#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>

#include "bench.h"
#include "metrics.h"
#include "rng.h"

static double *draw(size_t n, size_t d, double mu, double sd, uint64_t seed) {
  gsl_rng *r = lb_rng_alloc();
  lb_rng_seed(r, seed, 0, 0);
  double *x = malloc(n * d * sizeof(double));
  if (!x) abort();
  for (size_t i = 0; i < n * d; i++)
    x[i] = mu + sd * gsl_ran_gaussian_ziggurat(r, 1.0);
  gsl_rng_free(r);
  return x;
}

typedef double (*kernel_fn)(const double *x, const double *y, size_t n,
                            size_t d, void *ctx);

static double k_w2(const double *x, const double *y, size_t n, size_t d,
                   void *ctx) {
  (void)ctx;
  return lb_w2_empirical(x, y, n, d);
}

static double k_sw2(const double *x, const double *y, size_t n, size_t d,
                    void *ctx) {
  lb_metric *m = ctx;
  gsl_rng *r = lb_rng_alloc();
  lb_rng_seed(r, 1, 0, 0);
  double v = m->type->compare(m, x, y, n, 1, r);
  gsl_rng_free(r);
  (void)d;
  return v;
}

static double k_knn(const double *x, const double *y, size_t n, size_t d,
                    void *ctx) {
  (void)ctx;
  return lb_knn_kl(x, n, y, n, d, 1, NULL);
}

static double timed(kernel_fn f, size_t n, size_t d, void *ctx, int reps,
                    double *value) {
  double *x = draw(n, d, 0.1, 1.1, 1), *y = draw(n, d, 0, 1, 2);
  double best = 1e300;
  for (int r = 0; r < reps; r++) {
    double t0 = bench_now();
    *value = f(x, y, n, d, ctx);
    double dt = bench_now() - t0;
    if (dt < best) best = dt;
  }
  free(x);
  free(y);
  return best;
}

static void pair(const char *name, kernel_fn f, size_t n1, size_t n2, size_t d,
                 void *ctx, int reps) {
  double v1, v2;
  double t1 = timed(f, n1, d, ctx, reps, &v1);
  double t2 = timed(f, n2, d, ctx, reps > 1 && n2 > 200000 ? 1 : reps, &v2);
  printf("  %-26s n=%-8zu %8.3f s   n=%-8zu %8.3f s   ratio %6.2f  "
         "(time ~ n^%.2f)   value %.4g\n",
         name, n1, t1, n2, t2, t2 / t1, log(t2 / t1) / log((double)n2 / (double)n1),
         v2);
}

/* Full lb_metric_eval of each default metric at 1e5 and 1e6 chains. */
static void bench_metrics_full(int threads) {
  static const char *const list[] = {"mean_err", "cov_err", "w2_marg",
                                     "modes",    "kl",      "tv",
                                     "sw2",      "mmd",     "weak:f=rad,c=16",
                                     NULL};
  lb_target *t = NULL;
  lb_err e;
  if (lb_target_alloc("gmm:preset=ring8", &t, &e)) return;
  printf("metrics: full evaluation (estimate + SE + floor), ring8 d=2, %d "
         "threads\n",
         threads);
  const size_t sizes[2] = {100000, 1000000};
  double *x[2];
  for (int s = 0; s < 2; s++) {
    gsl_rng *r = lb_rng_alloc();
    lb_rng_seed(r, 7, 0, 0);
    x[s] = malloc(sizes[s] * 2 * sizeof(double));
    if (!x[s]) abort();
    for (size_t i = 0; i < sizes[s]; i++) {
      t->type->sample(t->state, r, x[s] + 2 * i);
      x[s][2 * i] += 0.01; /* a small bias */
    }
    gsl_rng_free(r);
  }
  for (size_t k = 0; list[k]; k++) {
    double dt[2];
    for (int s = 0; s < 2; s++) {
      lb_metric *m = NULL;
      lb_metric_result res;
      if (lb_metric_alloc(list[k], t, &m, &e)) {
        dt[s] = NAN;
        continue;
      }
      double t0 = bench_now();
      lb_metric_eval(m, x[s], sizes[s], 1, 0, &res, &e);
      dt[s] = bench_now() - t0;
      lb_metric_free(m);
    }
    printf("  %-16s n=1e5 %7.3f s   n=1e6 %7.3f s   ratio %5.1f\n", list[k],
           dt[0], dt[1], dt[1] / dt[0]);
  }
  free(x[0]);
  free(x[1]);
  lb_target_free(t);
}

void bench_metrics(void) {
  int threads = omp_get_max_threads();
  omp_set_num_threads(1);
  printf("metrics: one evaluation of each estimator, one core\n");
  pair("w2 (assignment) d=2", k_w2, 1000, 2000, 2, NULL, 3);
  lb_target *t = NULL;
  lb_err e;
  if (lb_target_alloc("gaussian:dim=2", &t, &e)) {
    fprintf(stderr, "bench: %s\n", e.msg);
    return;
  }
  lb_metric *m = NULL;
  if (lb_metric_alloc("sw2:proj=100", t, &m, &e)) {
    fprintf(stderr, "bench: %s\n", e.msg);
    return;
  }
  pair("sw2 100 proj d=2", k_sw2, 250000, 1000000, 2, m, 3);
  pair("kl knn (kd-tree) d=10", k_knn, 25000, 100000, 10, NULL, 1);
  if (threads > 1) {
    double v, t1, tp;
    omp_set_num_threads(1);
    t1 = timed(k_sw2, 1000000, 2, m, 1, &v);
    omp_set_num_threads(threads);
    tp = timed(k_sw2, 1000000, 2, m, 1, &v);
    printf("  %-26s %d threads vs 1: %.2fx  (%.3f s vs %.3f s)\n",
           "sw2 n=1e6", threads, t1 / tp, tp, t1);
    omp_set_num_threads(1);
    t1 = timed(k_knn, 100000, 10, NULL, 1, &v);
    omp_set_num_threads(threads);
    tp = timed(k_knn, 100000, 10, NULL, 1, &v);
    printf("  %-26s %d threads vs 1: %.2fx  (%.3f s vs %.3f s)\n",
           "kl knn n=1e5 d=10", threads, t1 / tp, tp, t1);
    omp_set_num_threads(1);
  }
  lb_metric_free(m);

  /* The full evaluation with SE and floor, as `langbench metrics` runs it. */
  if (lb_metric_alloc("w2", t, &m, &e) == LB_OK) {
    double *x = draw(2000, 2, 0.1, 1.1, 3);
    lb_metric_result res;
    double t0 = bench_now();
    lb_metric_eval(m, x, 2000, 1, 0, &res, &e);
    double dt = bench_now() - t0;
    printf("  %-26s n=%-8d %8.3f s   (estimate %.4g, se %.2g, floor %.3g)\n",
           "w2 full: estimate+floor+SE", 2000, dt, res.estimate, res.se,
           res.floor);
    free(x);
    lb_metric_free(m);
  }
  lb_target_free(t);
  omp_set_num_threads(threads);
  bench_metrics_full(threads);
  printf("\n");
}
