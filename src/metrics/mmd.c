/* mmd.c -- unbiased MMD^2 with a Gaussian kernel (Gretton et al., "A
 * kernel two-sample test", JMLR 13, 2012, eq. 3):
 *
 *   MMD_u^2 = 1/(n(n-1)) sum_{i!=j} k(x_i,x_j) + 1/(m(m-1)) sum_{i!=j}
 *             k(y_i,y_j) - 2/(nm) sum_{i,j} k(x_i,y_j),
 *   k(x,y) = exp(-|x-y|^2 / (2 sigma^2)),
 *
 * sigma by the median heuristic: the median distance between points of
 * the reference sample (its first 1000 points), fixed once per
 * evaluation so the estimate, floor and batches share one kernel.
 * Unbiased, so it can be negative; its mean is 0 when the laws agree.
 * Cost O((n + m)^2 d).
 *
 * GPL-3.0-or-later.
 */
#include <math.h>
#include <stdlib.h>

#include "metrics.h"
#include "vmath.h"

double lb_median_distance(const double *y, size_t n, size_t d) {
  size_t k = n < 1000 ? n : 1000;
  if (k < 2) return NAN;
  size_t np = k * (k - 1) / 2, c = 0;
  double *dist = lb_xcalloc(np, sizeof(double));
  for (size_t i = 0; i < k; i++)
    for (size_t j = i + 1; j < k; j++) {
      double s = 0;
      for (size_t l = 0; l < d; l++) {
        double t = y[i * d + l] - y[j * d + l];
        s += t * t;
      }
      dist[c++] = s;
    }
  lb_sort_doubles(dist, np);
  double med = np % 2 ? dist[np / 2] : 0.5 * (dist[np / 2 - 1] + dist[np / 2]);
  free(dist);
  return sqrt(med);
}

/* Sum of k over pairs: same = 1 sums i < j of one sample (times 2).
 * The kernel sum is where MMD's time goes (about half of a diffusion cell
 * on the trained moons model when exp was libm's, called per pair), so
 * it runs as vector loops: y is copied coordinate-major once, and for
 * each x_i the squared distances of a chunk of KB points (each summed
 * over the coordinates in order, as before), their kernels with
 * vmath.h's lb_exp (within 1 ulp of exp, the same bits in every vector
 * lane and on every ISA), and a sum into 8 partial sums, term j of the
 * row going to sum (j - j0) mod 8, added in a fixed order at the end of
 * the row.  The result therefore does not depend on the vector width or
 * the chunk size; it differs from a sequential libm sum in the last bits
 * (tests/test_metrics.c holds it within 1e-12 of a long-double sum). */
enum { KB = 256 };

LB_VECTOR_CLONES
static double krow(const double *a, const double *yt, size_t m, size_t d,
                   size_t j0, double g) {
  double acc[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  for (size_t jb = j0; jb < m; jb += KB) {
    size_t cnt = m - jb < KB ? m - jb : KB;
    double s[KB];
#pragma omp simd
    for (size_t j = 0; j < cnt; j++) s[j] = 0.0;
    for (size_t l = 0; l < d; l++) {
      const double *restrict yl = yt + l * m + jb;
      double al = a[l];
#pragma omp simd
      for (size_t j = 0; j < cnt; j++) {
        double t = al - yl[j];
        s[j] += t * t;
      }
    }
#pragma omp simd
    for (size_t j = 0; j < cnt; j++) s[j] = lb_exp(-g * s[j]);
    size_t j = 0;
    for (; j + 8 <= cnt; j += 8)
      for (size_t q = 0; q < 8; q++) acc[q] += s[j + q];
    for (size_t q = 0; j + q < cnt; q++) acc[q] += s[j + q];
  }
  return ((acc[0] + acc[1]) + (acc[2] + acc[3])) +
         ((acc[4] + acc[5]) + (acc[6] + acc[7]));
}

static double ksum(const double *x, size_t n, const double *y, size_t m,
                   size_t d, double g, int same) {
  double *yt = lb_xcalloc(m * d + 1, sizeof *yt);
  for (size_t j = 0; j < m; j++)
    for (size_t l = 0; l < d; l++) yt[l * m + j] = y[j * d + l];
  double total = 0;
  for (size_t i = 0; i < n; i++)
    total += krow(x + i * d, yt, m, d, same ? i + 1 : 0, g);
  free(yt);
  return same ? 2 * total : total;
}

double lb_mmd2_unbiased(const double *x, size_t n, const double *y, size_t m,
                        size_t d, double sigma) {
  if (n < 2 || m < 2 || !(sigma > 0)) return NAN;
  double g = 1 / (2 * sigma * sigma);
  double kxx = ksum(x, n, x, n, d, g, 1) / ((double)n * (double)(n - 1));
  double kyy = ksum(y, m, y, m, d, g, 1) / ((double)m * (double)(m - 1));
  double kxy = ksum(x, n, y, m, d, g, 0) / ((double)n * (double)m);
  return kxx + kyy - 2 * kxy;
}

/* ---- the metric ---------------------------------------------------- */

enum { P_SIGMA = 0, P_SIGMA_USED = 1 };

static int mmd_init(lb_metric *m, lb_spec *spec, lb_err *e) {
  int rc = lb_spec_double(spec, "sigma", 0, 0, HUGE_VAL, &m->par[P_SIGMA], e);
  m->se_method = LB_SE_BATCH;
  m->reps = 10;
  m->max_n = 2000;
  return rc;
}

static void mmd_reference(lb_metric *m, const double *y, size_t n) {
  m->par[P_SIGMA_USED] =
      m->par[P_SIGMA] > 0 ? m->par[P_SIGMA] : lb_median_distance(y, n, m->dim);
  if (!(m->par[P_SIGMA_USED] > 0)) m->par[P_SIGMA_USED] = 1;
}

static double mmd_compare(const lb_metric *m, const double *x, const double *y,
                          size_t n, size_t nbatch, gsl_rng *r) {
  (void)nbatch;
  (void)r;
  return lb_mmd2_unbiased(x, n, y, n, m->dim, m->par[P_SIGMA_USED]);
}

const lb_metric_type lb_metric_mmd = {
    .name = "mmd",
    .help = "unbiased MMD^2 between the sample and an exact target sample, "
            "Gaussian kernel;\n"
            "can be < 0.  SE: batch means (conservative when the laws "
            "agree)\n"
            "sigma=0    kernel bandwidth; 0: median pairwise distance of the "
            "reference sample\n"
            "batches=10 batches of the batch-means SE\n"
            "max=2000   subsample larger samples to this size (a note on "
            "stderr)",
    .max_dim = 0,
    .init = mmd_init,
    .reference = mmd_reference,
    .compare = mmd_compare,
};
