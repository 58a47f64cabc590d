/* density.c -- density-based metrics: `kl` (grid KDE in d <= 2, k-NN
 * above) and `tv` (grid KDE, d <= 2).
 *
 * GPL-3.0-or-later.
 *
 * Grid rule (d = 1, 2).  Bandwidth per coordinate (Scott's rule)
 *   h_c = bw * sd_c * n^(-1/(d+4)),  sd_c the sample standard deviation
 * (the target's when the sample is constant).  The grid spans
 *   [min(sample min, mu_c - 6 sd*_c) - 5 h_c, max(sample max, mu_c + 6 sd*_c) + 5 h_c]
 * (mu, sd* of the target) with spacing h_c / cells (default cells = 4),
 * at least 32 and at most 8192 (d = 1) or 256 (d = 2) nodes per axis
 * (the spacing grows beyond h/cells when capped).  The sample is linearly
 * binned onto the nodes and convolved with the discrete Gaussian kernel
 * exp(-(j dx)^2 / (2 h^2)), |j dx| <= 5h, normalised to sum 1.  The exact
 * target density exp(lb_target_logpdf) on the nodes is convolved with
 * the SAME kernel, and both are normalised to unit mass on the grid:
 *
 *   kl = sum p_g log(p_g / q_g),   tv = 1/2 sum |p_g - q_g|,
 *
 * i.e. the divergence between the smoothed sample law and the smoothed
 * target.  Smoothing both sides removes the O(h^2) smoothing bias of a
 * KDE (a sample from the target gives E p = q) and, by data processing,
 * gives at most KL(P || target) (resp. TV); for Gaussian laws it is the
 * divergence between N(m, S + h^2) and N(mu, Sigma + h^2).  What remains
 * is the KDE variance, about (number of occupied cells)/(2 n) for kl: the
 * noise floor.  q is floored at 1e-300.
 * SE: bootstrap over chains (grid and bandwidth fixed).
 *
 * k-NN rule (kl, any d, default for d > 2): Wang-Kulkarni-Verdu against
 * an exact target sample of the same size (knn.c).  SE: batch means.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "metrics.h"

enum { P_BW = 0, P_CELLS = 1 };
enum { I_METHOD = 0, I_K = 1, I_WHAT = 2 };
enum { METHOD_GRID = 0, METHOD_KNN = 1 };
enum { WHAT_KL = 0, WHAT_TV = 1 };

typedef struct {
  size_t n, d, G[2], L[2], ncell;
  double lo[2], dx[2], h[2];
  double *ker[2];
  size_t *cell; /* [n] flattened lower-left node */
  double *frac; /* [n x d] */
  double *q;    /* smoothed target masses */
  double *tmp;  /* scratch of prepare (value() allocates its own) */
  int spread; /* the sample's spread overflows (diverging chains): +inf */
} grid_ws;

/* Convolve the node masses a (G0 x G1, row-major; G1 = 1 in 1-D) with the
 * kernels, in place, using tmp. */
static void smooth(const grid_ws *g, double *a, double *tmp) {
  size_t G0 = g->G[0], G1 = g->d == 2 ? g->G[1] : 1;
  if (g->d == 2) { /* along axis 1 */
    long L = (long)g->L[1];
    const double *k = g->ker[1] + L;
    for (size_t i = 0; i < G0; i++) {
      const double *row = a + i * G1;
      double *out = tmp + i * G1;
      for (long j = 0; j < (long)G1; j++) {
        long lo = j - L < 0 ? -j : -L, hi = j + L >= (long)G1 ? (long)G1 - 1 - j : L;
        double s = 0;
        for (long t = lo; t <= hi; t++) s += k[t] * row[j + t];
        out[j] = s;
      }
    }
    memcpy(a, tmp, G0 * G1 * sizeof(double));
  }
  /* along axis 0 */
  long L = (long)g->L[0];
  const double *k = g->ker[0] + L;
  memset(tmp, 0, G0 * G1 * sizeof(double));
  for (long i = 0; i < (long)G0; i++) {
    long lo = i - L < 0 ? -i : -L, hi = i + L >= (long)G0 ? (long)G0 - 1 - i : L;
    double *out = tmp + (size_t)i * G1;
    for (long t = lo; t <= hi; t++) {
      const double *row = a + (size_t)(i + t) * G1;
      double kt = k[t];
      for (size_t j = 0; j < G1; j++) out[j] += kt * row[j];
    }
  }
  memcpy(a, tmp, G0 * G1 * sizeof(double));
}

static void normalise(double *a, size_t n) {
  double s = 0;
  for (size_t i = 0; i < n; i++) s += a[i];
  if (s > 0)
    for (size_t i = 0; i < n; i++) a[i] /= s;
}

static void *grid_prepare(const lb_metric *m, const double *x, size_t n) {
  const lb_target *t = m->target;
  const size_t d = m->dim;
  grid_ws *g = lb_xcalloc(1, sizeof *g);
  g->n = n;
  g->d = d;
  const double cells = m->par[P_CELLS];
  const size_t cap = d == 1 ? 8192 : 256;
  g->ncell = 1;
  for (size_t c = 0; c < d; c++) {
    double mean = 0, ss = 0, mn = HUGE_VAL, mx = -HUGE_VAL;
    for (size_t i = 0; i < n; i++) {
      double v = x[i * d + c];
      mean += v;
      if (v < mn) mn = v;
      if (v > mx) mx = v;
    }
    mean /= (double)n;
    for (size_t i = 0; i < n; i++) ss += (x[i * d + c] - mean) * (x[i * d + c] - mean);
    double sdx = n > 1 ? sqrt(ss / (double)(n - 1)) : 0;
    double mu = t->mean[c], sdt = sqrt(t->cov[c * d + c]);
    if (!(sdx > 0)) sdx = sdt;
    double h = m->par[P_BW] * sdx * pow((double)n, -1.0 / ((double)d + 4));
    double lo = (mn < mu - 6 * sdt ? mn : mu - 6 * sdt) - 5 * h;
    double hi = (mx > mu + 6 * sdt ? mx : mu + 6 * sdt) + 5 * h;
    if (!isfinite(lo) || !isfinite(hi) || !isfinite(h) || !isfinite(hi - lo)) {
      g->spread = 1; /* no grid can hold this sample */
      return g;
    }
    double want = ceil((hi - lo) / (h / cells)) + 1;
    size_t G = !(want <= (double)cap) ? cap : (size_t)want;
    if (G < 32) G = 32;
    g->G[c] = G;
    g->lo[c] = lo;
    g->dx[c] = (hi - lo) / (double)(G - 1);
    g->h[c] = h;
    size_t L = (size_t)ceil(5 * h / g->dx[c]);
    if (L > G - 1) L = G - 1;
    g->L[c] = L;
    g->ker[c] = lb_xcalloc(2 * L + 1, sizeof(double));
    for (size_t j = 0; j <= 2 * L; j++) {
      double u = ((double)j - (double)L) * g->dx[c] / h;
      g->ker[c][j] = exp(-0.5 * u * u);
    }
    normalise(g->ker[c], 2 * L + 1);
    g->ncell *= G;
  }
  if (d == 1) g->G[1] = 1;
  /* Linear binning coordinates. */
  g->cell = lb_xcalloc(n, sizeof(size_t));
  g->frac = lb_xcalloc(n * d, sizeof(double));
  for (size_t i = 0; i < n; i++) {
    size_t flat = 0;
    for (size_t c = 0; c < d; c++) {
      double u = (x[i * d + c] - g->lo[c]) / g->dx[c];
      double fl = floor(u);
      if (fl < 0) fl = 0;
      if (fl > (double)(g->G[c] - 2)) fl = (double)(g->G[c] - 2);
      double f = u - fl;
      if (f < 0) f = 0;
      if (f > 1) f = 1;
      g->frac[i * d + c] = f;
      flat = c == 0 ? (size_t)fl : flat * g->G[1] + (size_t)fl;
    }
    g->cell[i] = flat;
  }
  /* The smoothed target. */
  g->q = lb_xcalloc(g->ncell, sizeof(double));
  g->tmp = lb_xcalloc(g->ncell, sizeof(double));
  double node[2];
  for (size_t a = 0; a < g->G[0]; a++) {
    node[0] = g->lo[0] + (double)a * g->dx[0];
    for (size_t b = 0; b < g->G[1]; b++) {
      if (d == 2) node[1] = g->lo[1] + (double)b * g->dx[1];
      g->q[a * g->G[1] + b] = exp(lb_target_logpdf(t, node));
    }
  }
  smooth(g, g->q, g->tmp);
  normalise(g->q, g->ncell);
  return g;
}

static double grid_value(const lb_metric *m, void *vws, const unsigned *w) {
  grid_ws *g = vws;
  /* all mass off any grid around the target: KL infinite, TV 1 */
  if (g->spread) return m->ipar[I_WHAT] == WHAT_KL ? HUGE_VAL : 1.0;
  const size_t d = g->d, G1 = g->G[1];
  double *p = lb_xcalloc(g->ncell, sizeof(double));
  double *tmp = lb_xcalloc(g->ncell, sizeof(double));
  for (size_t i = 0; i < g->n; i++) {
    double wi = w ? (double)w[i] : 1.0;
    if (wi == 0) continue;
    size_t c = g->cell[i];
    double f0 = g->frac[i * d];
    if (d == 1) {
      p[c] += wi * (1 - f0);
      p[c + 1] += wi * f0;
    } else {
      double f1 = g->frac[i * d + 1];
      p[c] += wi * (1 - f0) * (1 - f1);
      p[c + 1] += wi * (1 - f0) * f1;
      p[c + G1] += wi * f0 * (1 - f1);
      p[c + G1 + 1] += wi * f0 * f1;
    }
  }
  smooth(g, p, tmp);
  normalise(p, g->ncell);
  double r = 0;
  if (m->ipar[I_WHAT] == WHAT_KL) {
    for (size_t c = 0; c < g->ncell; c++)
      if (p[c] > 0) {
        double q = g->q[c] > 1e-300 ? g->q[c] : 1e-300;
        r += p[c] * log(p[c] / q);
      }
    r = r > 0 ? r : 0;
  } else {
    for (size_t c = 0; c < g->ncell; c++) r += fabs(p[c] - g->q[c]);
    r *= 0.5;
  }
  free(p);
  free(tmp);
  return r;
}

static void grid_release(void *vws) {
  grid_ws *g = vws;
  free(g->ker[0]);
  free(g->ker[1]);
  free(g->cell);
  free(g->frac);
  free(g->q);
  free(g->tmp);
  free(g);
}

static int grid_params(lb_metric *m, lb_spec *spec, lb_err *e) {
  int rc = lb_spec_double(spec, "bw", 1, 1e-6, 1e6, &m->par[P_BW], e);
  if (!rc) rc = lb_spec_double(spec, "cells", 4, 0.5, 64, &m->par[P_CELLS], e);
  m->se_method = LB_SE_BOOTSTRAP;
  m->reps = 100;
  m->max_n = 0;
  return rc;
}

/* ---- kl ------------------------------------------------------------ */

static int kl_init(lb_metric *m, lb_spec *spec, lb_err *e) {
  const char *method = lb_spec_str(spec, "method");
  m->ipar[I_WHAT] = WHAT_KL;
  if (!method || strcmp(method, "auto") == 0)
    m->ipar[I_METHOD] = m->dim <= 2 ? METHOD_GRID : METHOD_KNN;
  else if (strcmp(method, "grid") == 0)
    m->ipar[I_METHOD] = METHOD_GRID;
  else if (strcmp(method, "knn") == 0)
    m->ipar[I_METHOD] = METHOD_KNN;
  else
    return lb_fail(e, LB_EINPUT,
                   "--metrics: kl: method=%s is not auto, grid or knn", method);
  if (m->ipar[I_METHOD] == METHOD_GRID) {
    if (m->dim > 2)
      return lb_fail(e, LB_EINPUT,
                     "--metrics: kl:method=grid needs dimension <= 2, the "
                     "target has dimension %zu (use method=knn)",
                     m->dim);
    if (lb_spec_has(spec, "k"))
      return lb_fail(e, LB_EINPUT, "--metrics: kl: k applies to method=knn");
    return grid_params(m, spec, e);
  }
  if (lb_spec_has(spec, "bw") || lb_spec_has(spec, "cells"))
    return lb_fail(e, LB_EINPUT,
                   "--metrics: kl: bw and cells apply to method=grid");
  int rc = lb_spec_long(spec, "k", 1, 1, 64, &m->ipar[I_K], e);
  m->se_method = LB_SE_BATCH;
  m->reps = 10;
  m->max_n = 0;
  return rc;
}

static double kl_compare(const lb_metric *m, const double *x, const double *y,
                         size_t n, size_t nbatch, gsl_rng *r) {
  (void)r;
  size_t dups = 0;
  double v = lb_knn_kl(x, n, y, n, m->dim, (int)m->ipar[I_K], &dups);
  if (dups && nbatch == 1) /* the metric object is the caller's, not const */
    lb_metric_note((lb_metric *)m, 4u,
                   "%zu of %zu points have exact duplicates; zero distances "
                   "are skipped",
                   dups, n);
  return v;
}

const lb_metric_type lb_metric_kl = {
    .name = "kl",
    .help = "KL(sample law || target).  grid (d <= 2): Gaussian KDE on a "
            "grid vs the exact\n"
            "density smoothed by the same kernel (<= KL; SE bootstrap).  knn: "
            "Wang-Kulkarni-Verdu\n"
            "vs an exact target sample (kd-tree, duplicates skipped; SE "
            "batch means)\n"
            "method=auto grid in d <= 2, knn above; grid in d > 2 is an "
            "error\n"
            "bw=1       grid: bandwidth bw * sd * n^(-1/(d+4)) (Scott) per "
            "coordinate\n"
            "cells=4    grid: nodes per bandwidth (<= 8192 / 256^2 nodes)\n"
            "boot=100   grid: bootstrap replicates\n"
            "k=1        knn: neighbour order\n"
            "batches=10 knn: batches of the batch-means SE\n"
            "max=0      subsample larger samples to this size (0: never)",
    .max_dim = 0,
    .init = kl_init,
    .prepare = grid_prepare,
    .value = grid_value,
    .release = grid_release,
    .compare = kl_compare,
};

/* ---- tv ------------------------------------------------------------ */

static int tv_init(lb_metric *m, lb_spec *spec, lb_err *e) {
  m->ipar[I_WHAT] = WHAT_TV;
  m->ipar[I_METHOD] = METHOD_GRID;
  return grid_params(m, spec, e);
}

const lb_metric_type lb_metric_tv = {
    .name = "tv",
    .help = "TV between the smoothed sample law and the smoothed exact "
            "density on a grid\n"
            "(the KDE and grid of kl:method=grid); d <= 2.  SE: bootstrap\n"
            "bw=1       bandwidth bw * sd * n^(-1/(d+4)) (Scott) per "
            "coordinate\n"
            "cells=4    nodes per bandwidth\n"
            "boot=100   bootstrap replicates\n"
            "max=0      subsample larger samples to this size (0: never)",
    .max_dim = 2,
    .init = tv_init,
    .prepare = grid_prepare,
    .value = grid_value,
    .release = grid_release,
};
