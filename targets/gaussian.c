/* gaussian.c -- centred Gaussian targets with diagonal covariance.
 *
 * GPL-3.0-or-later.
 *
 *   gaussian:dim=D,var=V     isotropic N(0, V I_D)           (defaults 1, 1)
 *   gaussian:dim=D,kappa=C   N(0, diag(1/lambda_i)), precisions log-spaced
 *                            from 1 to C: lambda_i = C^(i/(D-1)), i = 0..D-1
 *                            (lambda_0 = 1 when D = 1); C is the condition
 *                            number of the Hessian.  var and kappa exclude
 *                            each other.
 *
 * F(x) = sum_i x_i^2 / (2 v_i) with v_i = cov[i][i]; the precision used in
 * F and grad F is exactly 1 / cov[i*dim+i] (other code, e.g. the exact
 * Gaussian laws of the samplers, reads the precisions that way), so the
 * covariance is exactly diagonal.  log Z = (1/2) sum_i log(2 pi v_i).
 * Exact sampling: x_i = sqrt(v_i) * N(0,1) by the ziggurat (Marsaglia and
 * Tsang 2000, gsl_ran_gaussian_ziggurat).  Cost: O(D) per call for F,
 * grad F, one draw; O(1) for the marginal CDF.  One mode.
 */
#include <gsl/gsl_cdf.h>
#include <gsl/gsl_randist.h>
#include <float.h>
#include <math.h>
#include <stdlib.h>

#include "target.h"
#include "util.h"

typedef struct {
  size_t dim;
  double *prec; /* [dim] 1 / v_i */
  double *sd;   /* [dim] sqrt(v_i) */
} gauss_state;

/* ---- init / free -------------------------------------------------- */

static void gauss_free(void *vs) {
  gauss_state *s = vs;
  if (!s) return;
  free(s->prec);
  free(s->sd);
  free(s);
}

static int gauss_init(lb_target *t, lb_spec *spec, lb_err *e) {
  size_t d;
  double var = 1.0, kappa = 1.0;
  int rc = lb_tg_dim(spec, "dim", 1, &d, e);
  if (rc) return rc;
  int has_kappa = lb_spec_has(spec, "kappa");
  if (has_kappa && lb_spec_has(spec, "var"))
    return lb_fail(e, LB_EINPUT,
                   "%s: var=%s and kappa=%s exclude each other (give one)",
                   spec->text, lb_spec_str(spec, "var"),
                   lb_spec_str(spec, "kappa"));
  if (has_kappa) {
    rc = lb_tg_positive(spec, "kappa", 1.0, &kappa, e);
    if (!rc && kappa < 1.0)
      rc = lb_fail(e, LB_EINPUT, "%s: kappa=%s must be >= 1", spec->text,
                   lb_spec_str(spec, "kappa"));
  } else {
    rc = lb_tg_positive(spec, "var", 1.0, &var, e);
  }
  if (rc) return rc;

  gauss_state *s = lb_xcalloc(1, sizeof *s);
  t->state = s;
  s->dim = d;
  s->prec = lb_xcalloc(d, sizeof(double));
  s->sd = lb_xcalloc(d, sizeof(double));
  t->dim = d;
  t->n_modes = 1;
  lb_target_alloc_truth(t);
  t->mode_weight[0] = 1.0;
  t->log_z = 0.0;
  for (size_t i = 0; i < d; i++) {
    double v = var;
    if (has_kappa && d > 1) v = pow(kappa, -(double)i / (double)(d - 1));
    t->cov[i * d + i] = v;
    s->prec[i] = 1.0 / v;
    s->sd[i] = sqrt(v);
    t->log_z += 0.5 * log(2.0 * M_PI * v);
  }
  return LB_OK;
}

/* ---- density ------------------------------------------------------ */

static double gauss_potential(const void *vs, const double *x) {
  const gauss_state *s = vs;
  double f = 0.0;
  for (size_t i = 0; i < s->dim; i++) f += s->prec[i] * x[i] * x[i];
  return 0.5 * f;
}

static void gauss_grad(const void *vs, const double *x, double *g) {
  const gauss_state *s = vs;
  for (size_t i = 0; i < s->dim; i++) g[i] = s->prec[i] * x[i];
}

/* The same on a block (target.h, grad_block): O(D) per row. */
static void gauss_grad_block(const void *vs, size_t B, size_t ld,
                             const double *x, const double *t, double *g) {
  const gauss_state *s = vs;
  (void)t;
  for (size_t i = 0; i < s->dim; i++) {
    const double *xi = x + i * ld;
    double *gi = g + i * ld;
    for (size_t r = 0; r < B; r++) gi[r] = s->prec[i] * xi[r];
  }
}

/* ---- ground truth ------------------------------------------------- */

static void gauss_sample(const void *vs, gsl_rng *r, double *x) {
  const gauss_state *s = vs;
  for (size_t i = 0; i < s->dim; i++)
    x[i] = s->sd[i] * gsl_ran_gaussian_ziggurat(r, 1.0);
}

static double gauss_marginal_cdf(const void *vs, size_t i, double v) {
  const gauss_state *s = vs;
  return gsl_cdf_gaussian_P(v, s->sd[i]);
}

/* Weak-error support: E e^{i w x} = exp(-w^2 v / 2) for N(0, v). */
static double gauss_marginal_cf(const void *vs, size_t i, double w, double *c,
                                double *sn) {
  const gauss_state *s = vs;
  *c = exp(-0.5 * w * w * s->sd[i] * s->sd[i]);
  *sn = 0.0;
  return 4 * DBL_EPSILON;
}

/* E|x|^4 = (sum v_i)^2 + 2 sum v_i^2 for N(0, diag v). */
static double gauss_moment4(const void *vs, double *err) {
  const gauss_state *s = vs;
  double a = 0, b = 0;
  for (size_t i = 0; i < s->dim; i++) {
    double v = s->sd[i] * s->sd[i];
    a += v;
    b += v * v;
  }
  *err = 8 * DBL_EPSILON * a * a;
  return a * a + 2 * b;
}

static size_t gauss_mode_of(const void *vs, const double *x) {
  (void)vs;
  (void)x;
  return 0;
}

const lb_target_type lb_target_gaussian = {
    "gaussian",
    "dim=1     dimension\n"
    "var=1     variance of every coordinate (isotropic N(0, var I))\n"
    "kappa=-   instead of var: precisions log-spaced from 1 to kappa (>= 1)\n",
    gauss_init,
    gauss_free,
    gauss_potential,
    gauss_grad,
    gauss_sample,
    gauss_marginal_cdf,
    gauss_mode_of,
    gauss_grad_block,
    gauss_marginal_cf,
    gauss_moment4,
};
