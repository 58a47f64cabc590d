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

/* Weighted mean (weights w, sum n; NULL: all 1) into mu[d]. */
static void wmean(const double *x, size_t n, size_t d, const unsigned *w,
                  double *mu) {
  memset(mu, 0, d * sizeof(double));
  for (size_t i = 0; i < n; i++) {
    double wi = w ? (double)w[i] : 1.0;
    if (wi == 0) continue;
    for (size_t k = 0; k < d; k++) mu[k] += wi * x[i * d + k];
  }
  for (size_t k = 0; k < d; k++) mu[k] /= (double)n;
}

/* ---- mean_err: |sample mean - target mean|_2 ------------------------ */

static double mean_err_value(const lb_metric *m, void *vws,
                             const unsigned *w) {
  sample_ws *ws = vws;
  size_t d = m->dim;
  double *mu = lb_xcalloc(d, sizeof(double));
  wmean(ws->x, ws->n, d, w, mu);
  double s = 0;
  for (size_t k = 0; k < d; k++) {
    double diff = mu[k] - m->target->mean[k];
    s += diff * diff;
  }
  free(mu);
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

static double cov_err_value(const lb_metric *m, void *vws, const unsigned *w) {
  sample_ws *ws = vws;
  size_t d = m->dim, n = ws->n;
  double *mu = lb_xcalloc(d, sizeof(double));
  double *c = lb_xcalloc(d * d, sizeof(double));
  double *dx = lb_xcalloc(d, sizeof(double));
  wmean(ws->x, n, d, w, mu);
  for (size_t i = 0; i < n; i++) {
    double wi = w ? (double)w[i] : 1.0;
    if (wi == 0) continue;
    for (size_t k = 0; k < d; k++) dx[k] = ws->x[i * d + k] - mu[k];
    for (size_t k = 0; k < d; k++)
      for (size_t l = k; l < d; l++) c[k * d + l] += wi * dx[k] * dx[l];
  }
  double s = 0;
  for (size_t k = 0; k < d; k++)
    for (size_t l = k; l < d; l++) {
      double diff = c[k * d + l] / (double)(n - 1) - m->target->cov[k * d + l];
      s += (k == l ? 1.0 : 2.0) * diff * diff;
    }
  free(mu);
  free(c);
  free(dx);
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
  double *freq; /* [n_modes] scratch */
} modes_ws;

static void *modes_prepare(const lb_metric *m, const double *x, size_t n) {
  const lb_target *t = m->target;
  modes_ws *ws = lb_xcalloc(1, sizeof *ws);
  ws->n = n;
  ws->label = lb_xcalloc(n, sizeof(size_t));
  ws->freq = lb_xcalloc(t->n_modes, sizeof(double));
  for (size_t i = 0; i < n; i++) {
    size_t k = t->n_modes > 1 ? t->type->mode_of(t->state, x + i * m->dim) : 0;
    ws->label[i] = k < t->n_modes ? k : t->n_modes - 1;
  }
  return ws;
}

static double modes_value(const lb_metric *m, void *vws, const unsigned *w) {
  modes_ws *ws = vws;
  const lb_target *t = m->target;
  memset(ws->freq, 0, t->n_modes * sizeof(double));
  for (size_t i = 0; i < ws->n; i++)
    ws->freq[ws->label[i]] += w ? (double)w[i] : 1.0;
  double tv = 0;
  for (size_t k = 0; k < t->n_modes; k++)
    tv += fabs(ws->freq[k] / (double)ws->n - t->mode_weight[k]);
  return 0.5 * tv;
}

static void modes_release(void *vws) {
  modes_ws *ws = vws;
  free(ws->label);
  free(ws->freq);
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
