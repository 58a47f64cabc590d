/* moments.c -- reference-free metrics on moments and mode weights:
 * mean_err, cov_err, modes.  SE: bootstrap over chains.
 *
 * GPL-3.0-or-later.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "metrics.h"

/* The workspace of mean_err and cov_err is the sample itself. */
typedef struct {
  const double *x;
  size_t n;
} sample_ws;

static void *prepare_sample(const lb_metric *m, const double *x, size_t n) {
  (void)m;
  sample_ws *ws = lb_xcalloc(1, sizeof *ws);
  ws->x = x;
  ws->n = n;
  return ws;
}

static void release_free(void *ws) { free(ws); }

int lb_metric_init_bootstrap(lb_metric *m, lb_spec *spec, lb_err *e) {
  (void)spec;
  (void)e;
  m->se_method = LB_SE_BOOTSTRAP;
  m->reps = 200;
  m->max_n = 0;
  return LB_OK;
}

/* Weighted sums about the target mean t->mean (weights w, sum n; NULL:
 * all 1): s1[k] = sum w_i dx_ik and, when s2 != NULL, the upper triangle
 * s2[k*d+l] = sum w_i dx_ik dx_il, dx = x - mu.  Branch-free (a third of
 * the bootstrap counts are 0, a branch on them mispredicts). */
static void wsums(const double *x, size_t n, size_t d, const double *mu,
                  const unsigned *w, double *s1, double *s2) {
  memset(s1, 0, d * sizeof(double));
  if (s2) memset(s2, 0, d * d * sizeof(double));
  if (d == 2 && s2) {
    double a0 = 0, a1 = 0, b00 = 0, b01 = 0, b11 = 0;
    for (size_t i = 0; i < n; i++) {
      double wi = w ? (double)w[i] : 1.0;
      double u = x[2 * i] - mu[0], v = x[2 * i + 1] - mu[1];
      a0 += wi * u;
      a1 += wi * v;
      b00 += wi * u * u;
      b01 += wi * u * v;
      b11 += wi * v * v;
    }
    s1[0] = a0, s1[1] = a1, s2[0] = b00, s2[1] = b01, s2[3] = b11;
    return;
  }
  for (size_t i = 0; i < n; i++) {
    double wi = w ? (double)w[i] : 1.0;
    const double *xi = x + i * d;
    for (size_t k = 0; k < d; k++) {
      double u = xi[k] - mu[k];
      s1[k] += wi * u;
      if (s2)
        for (size_t l = k; l < d; l++) s2[k * d + l] += wi * u * (xi[l] - mu[l]);
    }
  }
}

/* ---- mean_err: |sample mean - target mean|_2 ------------------------ */

static double mean_err_value(const lb_metric *m, void *vws,
                             const unsigned *w) {
  sample_ws *ws = vws;
  size_t d = m->dim;
  double *s1 = lb_xcalloc(d, sizeof(double));
  wsums(ws->x, ws->n, d, m->target->mean, w, s1, NULL);
  double s = 0;
  for (size_t k = 0; k < d; k++) {
    double diff = s1[k] / (double)ws->n; /* mean - mu */
    s += diff * diff;
  }
  free(s1);
  return sqrt(s);
}

const lb_metric_type lb_metric_mean_err = {
    .name = "mean_err",
    .help = "|sample mean - exact target mean| (Euclidean); SE: bootstrap "
            "over chains\n"
            "boot=200   bootstrap replicates\n"
            "max=0      subsample larger samples to this size (0: never)",
    .max_dim = 0,
    .init = lb_metric_init_bootstrap,
    .prepare = prepare_sample,
    .value = mean_err_value,
    .release = release_free,
};

/* ---- cov_err: |sample covariance - target covariance|_F ------------- */

/* One pass about the target mean mu: with s1 = sum w dx and s2 = sum w
 * dx dx^T, the sample covariance is (s2 - s1 s1^T / n) / (n - 1) (the
 * shift by mu keeps the subtraction well conditioned). */
static double cov_err_value(const lb_metric *m, void *vws, const unsigned *w) {
  sample_ws *ws = vws;
  size_t d = m->dim, n = ws->n;
  double *s1 = lb_xcalloc(d, sizeof(double));
  double *s2 = lb_xcalloc(d * d, sizeof(double));
  wsums(ws->x, n, d, m->target->mean, w, s1, s2);
  double s = 0;
  for (size_t k = 0; k < d; k++)
    for (size_t l = k; l < d; l++) {
      double c = (s2[k * d + l] - s1[k] * s1[l] / (double)n) / (double)(n - 1);
      double diff = c - m->target->cov[k * d + l];
      s += (k == l ? 1.0 : 2.0) * diff * diff;
    }
  free(s1);
  free(s2);
  return sqrt(s);
}

const lb_metric_type lb_metric_cov_err = {
    .name = "cov_err",
    .help = "|sample covariance (divisor n-1) - exact covariance| "
            "(Frobenius); SE: bootstrap\n"
            "boot=200   bootstrap replicates\n"
            "max=0      subsample larger samples to this size (0: never)",
    .max_dim = 0,
    .init = lb_metric_init_bootstrap,
    .prepare = prepare_sample,
    .value = cov_err_value,
    .release = release_free,
};

/* ---- modes: TV between sample and exact mode weights ---------------- */

typedef struct {
  size_t *label;
  size_t n;
} modes_ws;

static void *modes_prepare(const lb_metric *m, const double *x, size_t n) {
  const lb_target *t = m->target;
  modes_ws *ws = lb_xcalloc(1, sizeof *ws);
  ws->n = n;
  ws->label = lb_xcalloc(n, sizeof(size_t));
  for (size_t i = 0; i < n; i++) {
    size_t k = t->n_modes > 1 ? t->type->mode_of(t->state, x + i * m->dim) : 0;
    ws->label[i] = k < t->n_modes ? k : t->n_modes - 1;
  }
  return ws;
}

static double modes_value(const lb_metric *m, void *vws, const unsigned *w) {
  modes_ws *ws = vws;
  const lb_target *t = m->target;
  double *freq = lb_xcalloc(t->n_modes, sizeof(double));
  for (size_t i = 0; i < ws->n; i++)
    freq[ws->label[i]] += w ? (double)w[i] : 1.0;
  double tv = 0;
  for (size_t k = 0; k < t->n_modes; k++)
    tv += fabs(freq[k] / (double)ws->n - t->mode_weight[k]);
  free(freq);
  return 0.5 * tv;
}

static void modes_release(void *vws) {
  modes_ws *ws = vws;
  free(ws->label);
  free(ws);
}

const lb_metric_type lb_metric_modes = {
    .name = "modes",
    .help = "TV between the sample's and the exact mode weights, 1/2 sum_k "
            "|w_k - w*_k|; points\n"
            "are assigned by the target's mode_of (mixtures: largest "
            "posterior; double wells:\n"
            "sign pattern); 0 for one-mode targets.  SE: bootstrap over "
            "chains\n"
            "boot=200   bootstrap replicates\n"
            "max=0      subsample larger samples to this size (0: never)",
    .max_dim = 0,
    .init = lb_metric_init_bootstrap,
    .prepare = modes_prepare,
    .value = modes_value,
    .release = modes_release,
};
