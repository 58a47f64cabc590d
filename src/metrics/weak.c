/* weak.c -- weak errors |E_sample f - E_target f| of test functions with
 * exact target expectations (`weak`).
 *
 * GPL-3.0-or-later.
 *
 *   weak:f=NAME[,i=I][,w=W][,v=V]
 *
 * f is one of (x_i is coordinate I, 0-based, default 0):
 *   x     x_i                 E = mean_i
 *   x2    x_i^2               E = Sigma_ii + mean_i^2
 *   cos   cos(W x_i)          E = Re phi_i(W)    (W default 1)
 *   sin   sin(W x_i)          E = Im phi_i(W)
 *   ind   1{x_i > V}          E = 1 - F_i(V)     (V default 0)
 *   rad   (|x|^2 - C)^2       E = E|x|^4 - 2 C E|x|^2 + C^2 (C default 0;
 *                             all coordinates; target moment4)
 * with the target's ground truth: mean and covariance (target.h), its
 * marginal characteristic function phi_i (marginal_cf) and marginal CDF
 * F_i.  Exact values and their error, per family:
 *   gaussian     all closed form (phi = exp(-W^2 v_i / 2)); rounding
 *   gmm          all closed form (phi = sum_k w_k exp(i W mu_ki -
 *                W^2 Sigma_k,ii / 2), F a sum of normal CDFs); rounding
 *   double_well  mean, variance and phi by adaptive quadrature (error
 *                <= 2e-11), F by the target's CDF table (<= 1e-11 at the
 *                defaults, see double_well.c); ind with V = 0 on
 *                coordinate 0 is the right-well indicator.
 * A family without marginal_cf offers no cos / sin, without moment4 no
 * rad.  Choosing f: the time average of a chain that never leaves its
 * mode (ring8) keeps the spread of E[f | mode] across modes, so f should
 * take the same mean in every mode (x2 of one coordinate does not; rad
 * does on a ring) and vary little within one: rad with C = |mode|^2 (16
 * on ring8, 1 on the double well) is flat to first order at every mode,
 * and its mean responds to the within-mode variance, which is where the
 * samplers' stationary bias lives.
 *
 * Numbers.  With v_c = f(x_c) over the n sample points (or, for a time
 * average, v_c = chain c's average of f over the window: runner.c):
 *   estimate  |mean(v) - E f|
 *   se        sd(v) / sqrt(n)  (points independent: chains are)
 *   floor     sqrt(2/pi) se: the mean absolute error an exact sample of
 *             n points with the same spread would have (|N(0, se^2)|).
 * So estimate > floor + 2 se says the bias is resolved (~2.8 se).  Unlike
 * the distances, the weak error has no estimator bias beyond this
 * |noise|, and its se falls like 1/sqrt(n) in every dimension.
 * Cost O(n) per evaluation; no reference samples, no resampling.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "metrics.h"

enum { P_W = 0, P_V = 1, P_EXACT = 2, P_EXERR = 3, P_C = 4 };
enum { I_F = 0, I_I = 1 };
enum { F_X = 0, F_X2 = 1, F_COS = 2, F_SIN = 3, F_IND = 4, F_RAD = 5 };

static const char *const fnames[] = {"x", "x2", "cos", "sin", "ind", "rad", NULL};

static int weak_init(lb_metric *m, lb_spec *spec, lb_err *e) {
  const lb_target *t = m->target;
  const char *f = lb_spec_str(spec, "f");
  if (!f)
    return lb_fail(e, LB_EINPUT,
                   "--metrics: weak needs f=x, x2, cos, sin, ind or rad");
  long k = -1;
  for (long j = 0; fnames[j]; j++)
    if (strcmp(f, fnames[j]) == 0) k = j;
  if (k < 0)
    return lb_fail(e, LB_EINPUT,
                   "--metrics: weak: f=%s is not x, x2, cos, sin, ind or rad",
                   f);
  m->ipar[I_F] = k;
  int rc = lb_spec_long(spec, "i", 0, 0, (long)t->dim - 1, &m->ipar[I_I], e);
  if (!rc && k != F_COS && k != F_SIN && lb_spec_has(spec, "w"))
    rc = lb_fail(e, LB_EINPUT, "--metrics: weak: w applies to f=cos and sin");
  if (!rc && k != F_IND && lb_spec_has(spec, "v"))
    rc = lb_fail(e, LB_EINPUT, "--metrics: weak: v applies to f=ind");
  if (!rc && k != F_RAD && lb_spec_has(spec, "c"))
    rc = lb_fail(e, LB_EINPUT, "--metrics: weak: c applies to f=rad");
  if (!rc && k == F_RAD && lb_spec_has(spec, "i"))
    rc = lb_fail(e, LB_EINPUT, "--metrics: weak: f=rad uses every coordinate (no i)");
  if (!rc) rc = lb_spec_double(spec, "c", 0, -1e12, 1e12, &m->par[P_C], e);
  if (!rc) rc = lb_spec_double(spec, "w", 1, -1e6, 1e6, &m->par[P_W], e);
  if (!rc) rc = lb_spec_double(spec, "v", 0, -1e300, 1e300, &m->par[P_V], e);
  if (rc) return rc;
  const size_t i = (size_t)m->ipar[I_I], d = t->dim;
  double c = 0, s = 0, err = 0;
  switch (k) {
    case F_X:
      m->par[P_EXACT] = t->mean[i];
      break;
    case F_X2:
      m->par[P_EXACT] = t->cov[i * d + i] + t->mean[i] * t->mean[i];
      break;
    case F_COS:
    case F_SIN:
      if (!t->type->marginal_cf)
        return lb_fail(e, LB_EINPUT,
                       "--metrics: weak:f=%s: the %s target has no "
                       "characteristic function (use x, x2 or ind)",
                       f, t->type->name);
      err = t->type->marginal_cf(t->state, i, m->par[P_W], &c, &s);
      if (!isfinite(c) || !isfinite(s))
        return lb_fail(e, LB_EINPUT,
                       "--metrics: weak:f=%s: the characteristic function "
                       "of %s failed at w=%g",
                       f, t->spec, m->par[P_W]);
      m->par[P_EXACT] = k == F_COS ? c : s;
      break;
    case F_RAD: {
      if (!t->type->moment4)
        return lb_fail(e, LB_EINPUT,
                       "--metrics: weak:f=rad: the %s target has no fourth "
                       "moment",
                       t->type->name);
      double m4 = t->type->moment4(t->state, &err), m2 = 0, C = m->par[P_C];
      for (size_t j = 0; j < d; j++)
        m2 += t->cov[j * d + j] + t->mean[j] * t->mean[j];
      m->par[P_EXACT] = m4 - 2 * C * m2 + C * C;
      break;
    }
    default:
      m->par[P_EXACT] = 1.0 - t->type->marginal_cdf(t->state, i, m->par[P_V]);
      break;
  }
  m->par[P_EXERR] = err;
  m->se_method = LB_SE_DIRECT;
  m->reps = 0;
  m->max_n = 0;
  return LB_OK;
}

int lb_metric_is_weak(const lb_metric *m) { return m->type->direct != NULL; }

double lb_weak_exact(const lb_metric *m) { return m->par[P_EXACT]; }

double lb_weak_f(const lb_metric *m, const double *x) {
  if (m->ipar[I_F] == F_RAD) {
    double r2 = 0;
    for (size_t j = 0; j < m->dim; j++) r2 += x[j] * x[j];
    return (r2 - m->par[P_C]) * (r2 - m->par[P_C]);
  }
  double v = x[m->ipar[I_I]];
  switch (m->ipar[I_F]) {
    case F_X: return v;
    case F_X2: return v * v;
    case F_COS: return cos(m->par[P_W] * v);
    case F_SIN: return sin(m->par[P_W] * v);
    default: return v > m->par[P_V] ? 1.0 : 0.0;
  }
}

/* Mean and standard error of v[n] (two passes about v[0]). */
void lb_mean_se(const double *v, size_t n, double *mean, double *se) {
  if (n == 0) {
    *mean = *se = NAN;
    return;
  }
  double s = 0;
  for (size_t c = 0; c < n; c++) s += v[c] - v[0];
  double mu = s / (double)n, ss = 0;
  for (size_t c = 0; c < n; c++) ss += (v[c] - v[0] - mu) * (v[c] - v[0] - mu);
  *mean = v[0] + mu;
  *se = n > 1 ? sqrt(ss / (double)(n - 1) / (double)n) : NAN;
}

void lb_weak_result(const lb_metric *m, const double *v, size_t n,
                    lb_metric_result *out) {
  double mean, se;
  lb_mean_se(v, n, &mean, &se);
  out->estimate = fabs(mean - m->par[P_EXACT]);
  out->se = se;
  out->floor = sqrt(2.0 / M_PI) * se;
  out->n = n;
}

/* Points whose f overflows (a chain far out but still finite) are left
 * out, as the non-finite points are by the caller; out->n says how many
 * remain. */
static void weak_direct(const lb_metric *m, const double *x, size_t n,
                        lb_metric_result *out) {
  double *v = lb_xcalloc(n, sizeof *v);
  size_t k = 0;
  for (size_t c = 0; c < n; c++) {
    double f = lb_weak_f(m, x + c * m->dim);
    if (isfinite(f)) v[k++] = f;
  }
  lb_weak_result(m, v, k, out);
  free(v);
}

const lb_metric_type lb_metric_weak = {
    .name = "weak",
    .help = "weak error |mean f(x) - E_target f| of a test function with an "
            "exact expectation;\n"
            "SE sd(f)/sqrt(n); floor sqrt(2/pi) SE (an exact sample's mean "
            "|error|)\n"
            "f=         x: x_i; x2: x_i^2; cos: cos(w x_i); sin: sin(w x_i); "
            "ind: 1{x_i > v};\n"
            "           rad: (|x|^2 - c)^2 (all coordinates)\n"
            "           (gaussian, gmm: closed forms; double_well: "
            "quadrature, error <= 2e-11)\n"
            "i=0        coordinate (0-based)\n"
            "w=1        frequency of cos and sin\n"
            "v=0        threshold of ind (double_well, i=0, v=0: the right "
            "well)\n"
            "c=0        centre of rad (ring8: 16, double_well: 1)\n"
            "max=0      subsample larger samples to this size (0: never)",
    .max_dim = 0,
    .init = weak_init,
    .direct = weak_direct,
};
