/* sliced.c -- sliced W2 (`sw2`) and the sort it rests on.
 *
 * GPL-3.0-or-later.
 *
 * sw2^2 = mean over P random directions theta (uniform on the sphere) of
 * the 1-D W2^2 between the projections <x_i, theta> of the sample and of
 * an exact target sample of the same size, which pairs order statistics:
 * W2^2 = (1/n) sum_k (px_(k) - py_(k))^2.  The square root is reported.
 * Cost O(P n (d + sort)); the sort is an LSD radix sort on order-
 * preserving integer keys (3 passes of 11 bits plus an insertion pass,
 * see lb_sort_doubles), linear in n.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <gsl/gsl_randist.h>

#include "metrics.h"

/* ---- sorting ------------------------------------------------------- */

static inline uint64_t key_of(double v) {
  uint64_t u;
  memcpy(&u, &v, sizeof u);
  return (u & 0x8000000000000000ULL) ? ~u : u | 0x8000000000000000ULL;
}

static inline double val_of(uint64_t u) {
  u = (u & 0x8000000000000000ULL) ? u & ~0x8000000000000000ULL : ~u;
  double v;
  memcpy(&v, &u, sizeof v);
  return v;
}

static int cmp_u64(const void *pa, const void *pb) {
  uint64_t a = *(const uint64_t *)pa, b = *(const uint64_t *)pb;
  return (a > b) - (a < b);
}

static int cmp_double(const void *pa, const void *pb) {
  double a = *(const double *)pa, b = *(const double *)pb;
  return (a > b) - (a < b);
}

/* LSD radix sort on the high 32 bits of the keys (3 passes of 11 bits:
 * sign, exponent and 20 bits of mantissa), then the runs of keys sharing
 * those bits are sorted on the rest: exact, and half the passes of a full
 * 64-bit radix sort. */
void lb_sort_doubles(double *x, size_t n) {
  if (n < 512) {
    qsort(x, n, sizeof *x, cmp_double);
    return;
  }
  enum { BITS = 11, RADIX = 1 << BITS, PASSES = 3, SHIFT0 = 32 };
  uint64_t *a = malloc(n * sizeof *a), *b = malloc(n * sizeof *b);
  size_t(*count)[RADIX] = calloc(PASSES, sizeof *count);
  if (!a || !b || !count) {
    free(a);
    free(b);
    free(count);
    qsort(x, n, sizeof *x, cmp_double);
    return;
  }
  for (size_t i = 0; i < n; i++) {
    uint64_t k = key_of(x[i]);
    a[i] = k;
    for (int p = 0; p < PASSES; p++)
      count[p][(k >> (SHIFT0 + p * BITS)) & (RADIX - 1)]++;
  }
  for (int p = 0; p < PASSES; p++) {
    const int sh = SHIFT0 + p * BITS;
    /* Skip a digit every key shares. */
    if (count[p][(a[0] >> sh) & (RADIX - 1)] == n) continue;
    size_t sum = 0;
    for (size_t r = 0; r < RADIX; r++) {
      size_t c = count[p][r];
      count[p][r] = sum;
      sum += c;
    }
    for (size_t i = 0; i < n; i++) {
      uint64_t k = a[i];
      b[count[p][(k >> sh) & (RADIX - 1)]++] = k;
    }
    uint64_t *tmp = a;
    a = b;
    b = tmp;
  }
  /* Runs of keys with equal high halves are ordered by their low halves:
   * insertion sort for short runs, qsort for long ones (data confined to
   * a tiny range), so the worst case stays O(n log n). */
  for (size_t s0 = 0; s0 < n;) {
    size_t e = s0 + 1;
    while (e < n && (a[e] >> 32) == (a[s0] >> 32)) e++;
    if (e - s0 > 32) {
      qsort(a + s0, e - s0, sizeof *a, cmp_u64);
    } else {
      for (size_t i = s0 + 1; i < e; i++) {
        uint64_t k = a[i];
        size_t j = i;
        while (j > s0 && a[j - 1] > k) {
          a[j] = a[j - 1];
          j--;
        }
        a[j] = k;
      }
    }
    s0 = e;
  }
  for (size_t i = 0; i < n; i++) x[i] = val_of(a[i]);
  free(a);
  free(b);
  free(count);
}

/* ---- the metric ---------------------------------------------------- */

enum { P_PROJ = 0 };

static int sw2_init(lb_metric *m, lb_spec *spec, lb_err *e) {
  long p;
  int rc = lb_spec_long(spec, "proj", 100, 1, 1000000, &p, e);
  if (rc) return rc;
  m->ipar[P_PROJ] = p;
  m->se_method = LB_SE_BATCH;
  m->reps = 10;
  m->max_n = 0;
  return LB_OK;
}

/* Random directions: np unit vectors from r, in order. */
static double *directions(gsl_rng *r, long np, size_t d) {
  double *theta = lb_xcalloc((size_t)np * d, sizeof(double));
  for (long p = 0; p < np; p++) {
    double *th = theta + (size_t)p * d, norm;
    do {
      norm = 0;
      for (size_t k = 0; k < d; k++) {
        th[k] = gsl_ran_gaussian_ziggurat(r, 1.0);
        norm += th[k] * th[k];
      }
    } while (norm == 0);
    norm = sqrt(norm);
    for (size_t k = 0; k < d; k++) th[k] /= norm;
  }
  return theta;
}

static void project(const double *x, size_t n, size_t d, const double *th,
                    double *px) {
  if (d == 2) {
    for (size_t i = 0; i < n; i++) px[i] = x[2 * i] * th[0] + x[2 * i + 1] * th[1];
    return;
  }
  for (size_t i = 0; i < n; i++) {
    double sx = 0;
    for (size_t k = 0; k < d; k++) sx += x[i * d + k] * th[k];
    px[i] = sx;
  }
}

static double sq_diff(const double *a, const double *b, size_t n) {
  double s = 0;
  for (size_t i = 0; i < n; i++) s += (a[i] - b[i]) * (a[i] - b[i]);
  return s / (double)n;
}

/* sw2 of x (and of x2 when not NULL) against y with np directions from r:
 * the projections of y are sorted once per direction for both.  The
 * directions are drawn first, in order; the projections are shared among
 * the OpenMP threads, each W2^2 stored and summed in a fixed order (the
 * result does not depend on the number of threads). */
static void sw2_eval(const lb_metric *m, const double *x, const double *x2,
                     const double *y, size_t n, size_t nbatch, gsl_rng *r,
                     double *v, double *v2) {
  const size_t d = m->dim;
  long np = m->ipar[P_PROJ] / (long)nbatch;
  if (np < 1) np = 1;
  double *theta = directions(r, np, d);
  double *w = lb_xcalloc((size_t)np, sizeof(double));
  double *w2 = lb_xcalloc((size_t)np, sizeof(double));
#pragma omp parallel
  {
    double *px = lb_xcalloc(n, sizeof(double)), *py = lb_xcalloc(n, sizeof(double));
#pragma omp for schedule(dynamic, 1)
    for (long p = 0; p < np; p++) {
      const double *th = theta + (size_t)p * d;
      project(y, n, d, th, py);
      lb_sort_doubles(py, n);
      project(x, n, d, th, px);
      lb_sort_doubles(px, n);
      w[p] = sq_diff(px, py, n);
      if (x2) {
        project(x2, n, d, th, px);
        lb_sort_doubles(px, n);
        w2[p] = sq_diff(px, py, n);
      }
    }
    free(px);
    free(py);
  }
  double total = 0, total2 = 0;
  for (long p = 0; p < np; p++) total += w[p], total2 += w2[p];
  free(theta);
  free(w);
  free(w2);
  *v = sqrt(total / (double)np);
  if (v2) *v2 = sqrt(total2 / (double)np);
}

static double sw2_compare(const lb_metric *m, const double *x,
                          const double *y, size_t n, size_t nbatch,
                          gsl_rng *r) {
  double v;
  sw2_eval(m, x, NULL, y, n, nbatch, r, &v, NULL);
  return v;
}

static void sw2_compare_pair(const lb_metric *m, const double *x,
                             const double *x2, const double *y, size_t n,
                             gsl_rng *r, double *v, double *v2) {
  sw2_eval(m, x, x2, y, n, 1, r, v, v2);
}

const lb_metric_type lb_metric_sw2 = {
    .name = "sw2",
    .help = "sliced W2: root mean over random directions of the 1-D W2^2 "
            "between the projected\n"
            "sample and an exact target sample of the same size.  SE: batch "
            "means, each batch\n"
            "with its own proj/batches directions (covers sample and "
            "directions)\n"
            "proj=100   random directions\n"
            "batches=10 batches of the batch-means SE\n"
            "max=0      subsample larger samples to this size (0: never)",
    .max_dim = 0,
    .init = sw2_init,
    .compare = sw2_compare,
    .compare_pair = sw2_compare_pair,
};
