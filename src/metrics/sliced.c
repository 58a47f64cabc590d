/* sliced.c -- sliced W2 (`sw2`) and the sort it rests on.
 *
 * GPL-3.0-or-later.
 *
 * sw2^2 = mean over P random directions theta (uniform on the sphere) of
 * the 1-D W2^2 between the projections <x_i, theta> of the sample and of
 * an exact target sample of the same size, which pairs order statistics:
 * W2^2 = (1/n) sum_k (px_(k) - py_(k))^2.  The square root is reported.
 * Cost O(P n (d + sort)); the sort is an LSD radix sort (6 passes of 11
 * bits on order-preserving integer keys), linear in n.
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

static int cmp_double(const void *pa, const void *pb) {
  double a = *(const double *)pa, b = *(const double *)pb;
  return (a > b) - (a < b);
}

void lb_sort_doubles(double *x, size_t n) {
  if (n < 512) {
    qsort(x, n, sizeof *x, cmp_double);
    return;
  }
  enum { BITS = 11, RADIX = 1 << BITS, PASSES = 6 };
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
    for (int p = 0; p < PASSES; p++) count[p][(k >> (p * BITS)) & (RADIX - 1)]++;
  }
  for (int p = 0; p < PASSES; p++) {
    /* Skip a digit every key shares. */
    if (count[p][(a[0] >> (p * BITS)) & (RADIX - 1)] == n) continue;
    size_t sum = 0;
    for (size_t r = 0; r < RADIX; r++) {
      size_t c = count[p][r];
      count[p][r] = sum;
      sum += c;
    }
    for (size_t i = 0; i < n; i++) {
      uint64_t k = a[i];
      b[count[p][(k >> (p * BITS)) & (RADIX - 1)]++] = k;
    }
    uint64_t *tmp = a;
    a = b;
    b = tmp;
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

static double sw2_compare(const lb_metric *m, const double *x,
                          const double *y, size_t n, size_t nbatch,
                          gsl_rng *r) {
  const size_t d = m->dim;
  long np = m->ipar[P_PROJ] / (long)nbatch;
  if (np < 1) np = 1;
  double *theta = lb_xcalloc(d, sizeof(double));
  double *px = lb_xcalloc(n, sizeof(double)), *py = lb_xcalloc(n, sizeof(double));
  double total = 0;
  for (long p = 0; p < np; p++) {
    double norm = 0;
    do {
      norm = 0;
      for (size_t k = 0; k < d; k++) {
        theta[k] = gsl_ran_gaussian_ziggurat(r, 1.0);
        norm += theta[k] * theta[k];
      }
    } while (norm == 0);
    norm = sqrt(norm);
    for (size_t k = 0; k < d; k++) theta[k] /= norm;
    for (size_t i = 0; i < n; i++) {
      double sx = 0, sy = 0;
      for (size_t k = 0; k < d; k++) {
        sx += x[i * d + k] * theta[k];
        sy += y[i * d + k] * theta[k];
      }
      px[i] = sx;
      py[i] = sy;
    }
    lb_sort_doubles(px, n);
    lb_sort_doubles(py, n);
    double s = 0;
    for (size_t i = 0; i < n; i++) s += (px[i] - py[i]) * (px[i] - py[i]);
    total += s / (double)n;
  }
  free(theta);
  free(px);
  free(py);
  return sqrt(total / (double)np);
}

const lb_metric_type lb_metric_sw2 = {
    .name = "sw2",
    .help = "Sliced W2: root mean over random directions of the 1-D W2^2 "
            "between the projected\nsample and an exact target sample of the "
            "same size.  Each batch uses its own proj/batches\ndirections, so "
            "the SE covers both the sample and the directions.\n"
            "SE: batch means.  Parameters: proj=100, batches=10, max=0.",
    .max_dim = 0,
    .init = sw2_init,
    .compare = sw2_compare,
};
