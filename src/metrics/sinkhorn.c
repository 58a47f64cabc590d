/* sinkhorn.c -- debiased Sinkhorn divergence, log domain.
 *
 * GPL-3.0-or-later.
 *
 * J. Feydy, T. Sejourne, F.-X. Vialard, S. Amari, A. Trouve, G. Peyre,
 * "Interpolating between optimal transport and MMD using Sinkhorn
 * divergences", AISTATS 2019.  For uniform measures a (n points) and b
 * (m points), cost C = |x - y|^2 and OT_eps the entropic transport cost
 * with regulariser eps KL(pi | a x b),
 *
 *   S_eps(a, b) = OT_eps(a, b) - OT_eps(a, a)/2 - OT_eps(b, b)/2  >= 0,
 *
 * which tends to W2^2 as eps -> 0 (for n-point measures
 * |S_eps - W2^2| <= eps log n, because the optimal permutation plan and
 * the identity plan have KL = log n).  Dual potentials are updated by the
 * log-sum-exp "softmin"
 *   f_i = -eps log sum_j b_j exp((g_j - C_ij)/eps),
 * first along an eps-scaling schedule (squared diameter, times `scaling`
 * per step, down to eps; symmetric averaged updates as in GeomLoss), then
 * by alternating updates at eps until no potential moves more than
 * tol * eps, at most maxit times.  OT_eps is read off as the dual
 * objective <a, f> + <b, g> with g the exact softmin of f, which is off
 * the optimum only to second order.  Cost O(n^2) memory and
 * O(n^2 iterations) exponentials.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "metrics.h"

/* out_i = -eps log sum_j exp(lw_j + (h_j - C_ij)/eps), C [n x m]. */
static void softmin(double eps, const double *C, size_t n, size_t m,
                    double lw, const double *h, double *out) {
  for (size_t i = 0; i < n; i++) {
    const double *c = C + i * m;
    double mx = -HUGE_VAL;
    for (size_t j = 0; j < m; j++) {
      double z = (h[j] - c[j]) / eps;
      if (z > mx) mx = z;
    }
    double s = 0;
    for (size_t j = 0; j < m; j++) s += exp((h[j] - c[j]) / eps - mx);
    out[i] = -eps * (lw + mx + log(s));
  }
}

static double *sqdist(const double *x, size_t n, const double *y, size_t m,
                      size_t d, double *dmax) {
  double *C = lb_xcalloc(n * m, sizeof(double));
  for (size_t i = 0; i < n; i++)
    for (size_t j = 0; j < m; j++) {
      double s = 0;
      for (size_t k = 0; k < d; k++) {
        double t = x[i * d + k] - y[j * d + k];
        s += t * t;
      }
      C[i * m + j] = s;
      if (s > *dmax) *dmax = s;
    }
  return C;
}

static double maxdiff(const double *a, const double *b, size_t n) {
  double r = 0;
  for (size_t i = 0; i < n; i++)
    if (fabs(a[i] - b[i]) > r) r = fabs(a[i] - b[i]);
  return r;
}

static double mean(const double *a, size_t n) {
  double s = 0;
  for (size_t i = 0; i < n; i++) s += a[i];
  return s / (double)n;
}

double lb_sinkhorn_div(const double *x, size_t n, const double *y, size_t m,
                       size_t d, double eps, double scaling, double tol,
                       long maxit) {
  if (n == 0 || m == 0 || !(eps > 0)) return NAN;
  double diam2 = 0;
  double *Cxy = sqdist(x, n, y, m, d, &diam2);
  double *Cyx = sqdist(y, m, x, n, d, &diam2);
  double *Cxx = sqdist(x, n, x, n, d, &diam2);
  double *Cyy = sqdist(y, m, y, m, d, &diam2);
  const double la = -log((double)n), lb = -log((double)m);
  double *f = lb_xcalloc(n, sizeof(double)), *g = lb_xcalloc(m, sizeof(double));
  double *p = lb_xcalloc(n, sizeof(double)), *q = lb_xcalloc(m, sizeof(double));
  double *ft = lb_xcalloc(n, sizeof(double)), *gt = lb_xcalloc(m, sizeof(double));
  double *pt = lb_xcalloc(n, sizeof(double)), *qt = lb_xcalloc(m, sizeof(double));

  /* Annealing: eps_k = diam2 * scaling^k until eps. */
  double e = diam2 > eps ? diam2 : eps;
  if (!(scaling > 0 && scaling < 1)) scaling = 0.5;
  softmin(e, Cxy, n, m, lb, g, f); /* g = 0 */
  softmin(e, Cyx, m, n, la, p, g); /* p = 0 */
  softmin(e, Cxx, n, n, la, pt, p); /* pt = 0 */
  softmin(e, Cyy, m, m, lb, qt, q); /* qt = 0 */
  for (;;) {
    softmin(e, Cxy, n, m, lb, g, ft);
    softmin(e, Cyx, m, n, la, f, gt);
    softmin(e, Cxx, n, n, la, p, pt);
    softmin(e, Cyy, m, m, lb, q, qt);
    for (size_t i = 0; i < n; i++) {
      f[i] = 0.5 * (f[i] + ft[i]);
      p[i] = 0.5 * (p[i] + pt[i]);
    }
    for (size_t j = 0; j < m; j++) {
      g[j] = 0.5 * (g[j] + gt[j]);
      q[j] = 0.5 * (q[j] + qt[j]);
    }
    if (e <= eps) break;
    e = e * scaling > eps ? e * scaling : eps;
  }
  /* Converge at eps: alternating for (f, g), averaged for p and q. */
  for (long it = 0; it < maxit; it++) {
    softmin(eps, Cxy, n, m, lb, g, ft);
    softmin(eps, Cyx, m, n, la, ft, gt);
    softmin(eps, Cxx, n, n, la, p, pt);
    softmin(eps, Cyy, m, m, lb, q, qt);
    double ch = maxdiff(f, ft, n);
    double c2 = maxdiff(g, gt, m);
    if (c2 > ch) ch = c2;
    memcpy(f, ft, n * sizeof(double));
    memcpy(g, gt, m * sizeof(double));
    for (size_t i = 0; i < n; i++) {
      double dd = fabs(pt[i] - p[i]);
      if (dd > ch) ch = dd;
      p[i] = 0.5 * (p[i] + pt[i]);
    }
    for (size_t j = 0; j < m; j++) {
      double dd = fabs(qt[j] - q[j]);
      if (dd > ch) ch = dd;
      q[j] = 0.5 * (q[j] + qt[j]);
    }
    if (ch <= tol * eps) break;
  }
  /* Dual objectives with exact softmins: g is softmin(f) already. */
  softmin(eps, Cyx, m, n, la, f, g);
  softmin(eps, Cxx, n, n, la, p, pt);
  softmin(eps, Cyy, m, m, lb, q, qt);
  double ot_ab = mean(f, n) + mean(g, m);
  double ot_aa = mean(p, n) + mean(pt, n);
  double ot_bb = mean(q, m) + mean(qt, m);
  free(Cxy);
  free(Cyx);
  free(Cxx);
  free(Cyy);
  free(f);
  free(g);
  free(p);
  free(q);
  free(ft);
  free(gt);
  free(pt);
  free(qt);
  return ot_ab - 0.5 * ot_aa - 0.5 * ot_bb;
}

/* ---- the metric ---------------------------------------------------- */

enum { P_EPS = 0, P_SCALING = 1, P_TOL = 2 };
enum { P_MAXIT = 0 };

static int sk_init(lb_metric *m, lb_spec *spec, lb_err *e) {
  int rc = lb_spec_double(spec, "eps", 0.05, 1e-12, HUGE_VAL, &m->par[P_EPS], e);
  if (!rc)
    rc = lb_spec_double(spec, "scaling", 0.5, 0.01, 0.99, &m->par[P_SCALING], e);
  if (!rc) rc = lb_spec_double(spec, "tol", 1e-6, 0, 1, &m->par[P_TOL], e);
  if (!rc) rc = lb_spec_long(spec, "maxit", 2000, 1, 10000000, &m->ipar[P_MAXIT], e);
  m->se_method = LB_SE_BATCH;
  m->reps = 10;
  m->max_n = 1000;
  return rc;
}

static double sk_compare(const lb_metric *m, const double *x, const double *y,
                         size_t n, size_t nbatch, gsl_rng *r) {
  (void)nbatch;
  (void)r;
  return lb_sinkhorn_div(x, n, y, n, m->dim, m->par[P_EPS], m->par[P_SCALING],
                         m->par[P_TOL], m->ipar[P_MAXIT]);
}

const lb_metric_type lb_metric_sinkhorn = {
    .name = "sinkhorn",
    .help = "Debiased Sinkhorn divergence S_eps (log domain, eps-scaling), "
            "squared-Euclidean cost,\nbetween the sample and an exact target "
            "sample of the same size; in squared units,\n-> W2^2 as eps -> 0. "
            " O(n^2) memory and time per iteration.\n"
            "SE: batch means.  Parameters: eps=0.05 (absolute, squared "
            "distance units), scaling=0.5,\ntol=1e-6 (potential change / "
            "eps), maxit=2000, batches=10, max=1000.",
    .max_dim = 0,
    .init = sk_init,
    .compare = sk_compare,
};
