/* test_targets.c -- conformance tests for every target family.
 *
 * GPL-3.0-or-later.
 *
 * One list of specs covers every family and preset; each spec gets the
 * whole suite (gradient check, exact sampler against the ground truth,
 * marginal CDF, mode weights).  Family-specific tests compare the ground
 * truth with closed forms or with an independent composite-Simpson
 * quadrature written here (not the GSL quadrature the targets use).
 *
 * Statistical checks: fixed seeds (Philox streams, src/rng.h), tolerance
 * LB_TEST_NSE (5) standard errors computed from the same sample.
 * Deterministic checks state their tolerance and why.
 */
#include <criterion/criterion.h>
#include <criterion/parameterized.h>
#include <float.h>
#include <gsl/gsl_cdf.h>
#include <gsl/gsl_randist.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rng.h"
#include "target.h"
#include "testutil.h"

/* ---- helpers ------------------------------------------------------ */

/* "@DATA@" in a spec stands for tests/data, found next to this file. */
static void expand(const char *spec, char *out, size_t n) {
  const char *at = strstr(spec, "@DATA@");
  if (!at) {
    snprintf(out, n, "%s", spec);
    return;
  }
  const char *file = __FILE__;
  const char *slash = strrchr(file, '/');
  int dirlen = slash ? (int)(slash - file) : 1;
  snprintf(out, n, "%.*s%.*s/data%s", (int)(at - spec), spec, dirlen,
           slash ? file : ".", at + 6);
}

static lb_target *make(const char *spec) {
  char buf[LB_SPEC_MAXLEN];
  expand(spec, buf, sizeof buf);
  lb_target *t = NULL;
  lb_err e = {{0}};
  int rc = lb_target_alloc(buf, &t, &e);
  cr_assert_eq(rc, LB_OK, "%s: %s", buf, e.msg);
  return t;
}

static gsl_rng *rng(uint64_t seed, uint64_t stream) {
  gsl_rng *r = lb_rng_alloc();
  lb_rng_seed(r, seed, stream, 0);
  return r;
}

/* Composite Simpson on [a, b] with n (even) intervals: error
 * (b - a) h^4 max|f''''| / 180. */
static double simpson(double (*f)(double, void *), void *ctx, double a,
                      double b, long n) {
  double h = (b - a) / (double)n, s = f(a, ctx) + f(b, ctx);
  for (long i = 1; i < n; i++) s += (i % 2 ? 4.0 : 2.0) * f(a + i * h, ctx);
  return s * h / 3.0;
}

/* Standard error of a proportion p from n draws.  The 1/n term keeps the
 * SE positive when p is 0 or 1 (it adds at most 1/n to the variance). */
static double prop_se(double p, size_t n) {
  return sqrt((p * (1.0 - p) + 1.0 / (double)n) / (double)n);
}

/* ---- the specs every test runs on --------------------------------- */

typedef struct {
  char spec[96];
} tspec;

static tspec specs[] = {
    {"gaussian"},
    {"gaussian:dim=3,var=2"},
    {"gaussian:dim=4,kappa=100"},
    {"gmm:preset=ring8"},
    {"gmm:preset=twomodes"},
    {"gmm:dim=5,modes=4"},
    {"gmm:file=@DATA@/gmm_full.cfg"},
    {"double_well"},
    {"double_well:a=4,tilt=0.3"},
    {"double_well:dim=3,a=2,tilt=0.5"},
};
#define NSPECS (sizeof specs / sizeof specs[0])

ParameterizedTestParameters(targets, grad_block) {
  return cr_make_param_array(tspec, specs, NSPECS);
}

/* ---- 1b. block gradient against the one-row gradient ----------------
 * grad_block (or the generic adapter) on B = 61 rows with ld = 64, at the
 * same kind of points as above.  Both compute the same exact formula; a
 * block path may use its own exp (within 2 ulp) and another summation
 * order, which moves the result by a few ulp of the largest term (the
 * terms are bounded by |g|_inf times the number of components), so the
 * tolerance 1e-11 (1 + |g|_inf) is 10^3 above that and far below any
 * wrong term.  Padding rows 61..63 must stay untouched. */
ParameterizedTest(tspec *p, targets, grad_block) {
  lb_target *t = make(p->spec);
  const size_t d = t->dim, B = 61, ld = 64;
  gsl_rng *r = rng(2, 0);
  double *x = calloc(d * ld, sizeof *x), *g = calloc(d * ld, sizeof *g);
  double *row = calloc(d, sizeof *row), *gr = calloc(d, sizeof *gr);
  double tm[64] = {0};
  for (size_t j = 0; j < B; j++) {
    if (j % 4 != 3) {
      t->type->sample(t->state, r, row);
      for (size_t i = 0; i < d; i++) row[i] += 0.3 * gsl_ran_gaussian_ziggurat(r, 1.0);
    } else {
      for (size_t i = 0; i < d; i++) row[i] = 30.0 * gsl_ran_gaussian_ziggurat(r, 1.0);
    }
    for (size_t i = 0; i < d; i++) x[i * ld + j] = row[i];
    tm[j] = 0.1 * (double)j;
  }
  for (size_t i = 0; i < d; i++)
    for (size_t j = B; j < ld; j++) g[i * ld + j] = 12345.0;
  lb_target_grad_block(t, B, ld, x, tm, g);
  for (size_t j = 0; j < B; j++) {
    for (size_t i = 0; i < d; i++) row[i] = x[i * ld + j];
    t->type->grad(t->state, row, gr);
    double gmax = 0.0;
    for (size_t i = 0; i < d; i++) gmax = fmax(gmax, fabs(gr[i]));
    for (size_t i = 0; i < d; i++)
      cr_assert(fabs(g[i * ld + j] - gr[i]) <= 1e-11 * (1.0 + gmax),
                "%s: row %zu, coordinate %zu: block %.17g, grad %.17g",
                p->spec, j, i, g[i * ld + j], gr[i]);
  }
  for (size_t i = 0; i < d; i++)
    for (size_t j = B; j < ld; j++)
      cr_assert_eq(g[i * ld + j], 12345.0, "%s: padding row %zu written",
                   p->spec, j);
  free(x);
  free(g);
  free(row);
  free(gr);
  gsl_rng_free(r);
  lb_target_free(t);
}

/* ---- 1. gradient against central differences ---------------------- */

ParameterizedTestParameters(targets, gradient) {
  return cr_make_param_array(tspec, specs, NSPECS);
}

/* Central differences D = (F(x + h e_i) - F(x - h e_i)) / 2h with
 * h = 1e-5 max(1, |x_i|) have truncation error h^2 |F'''| / 6 = O(1e-10
 * |F'''|) and rounding error about eps |F| / h = O(1e-11 |F|).  At the
 * points used (draws moved by 0.3 N(0,1), and far points 30 N(0, I)) both
 * stay below ~1e-8 (1 + |g|_inf) for these targets (the worst over 200
 * points per target is 7e-9), so the relative tolerance 1e-6 (1 + |g|_inf)
 * leaves a margin of 100, while a wrong term gives an O(1) error. */
ParameterizedTest(tspec *p, targets, gradient) {
  lb_target *t = make(p->spec);
  const size_t d = t->dim;
  gsl_rng *r = rng(1, 0);
  double *x = calloc(d, sizeof *x), *g = calloc(d, sizeof *g);
  for (int pt = 0; pt < 8; pt++) {
    if (pt < 6) {
      t->type->sample(t->state, r, x);
      for (size_t i = 0; i < d; i++) x[i] += 0.3 * gsl_ran_gaussian_ziggurat(r, 1.0);
    } else {
      for (size_t i = 0; i < d; i++) x[i] = 30.0 * gsl_ran_gaussian_ziggurat(r, 1.0);
    }
    t->type->grad(t->state, x, g);
    double F = t->type->potential(t->state, x);
    cr_assert(isfinite(F) && lb_all_finite(g, d), "%s: non-finite F or grad",
              p->spec);
    double gmax = 0.0;
    for (size_t i = 0; i < d; i++) gmax = fmax(gmax, fabs(g[i]));
    for (size_t i = 0; i < d; i++) {
      double xi = x[i], h = 1e-5 * fmax(1.0, fabs(xi));
      x[i] = xi + h;
      double fp = t->type->potential(t->state, x);
      x[i] = xi - h;
      double fm = t->type->potential(t->state, x);
      x[i] = xi;
      double fd = (fp - fm) / (2.0 * h);
      cr_assert(fabs(fd - g[i]) <= 1e-6 * (1.0 + gmax),
                "%s: point %d, coordinate %zu: grad %.12g, differences %.12g",
                p->spec, pt, i, g[i], fd);
    }
  }
  free(x);
  free(g);
  gsl_rng_free(r);
  lb_target_free(t);
}

/* ---- 2. exact samplers against the ground truth -------------------- */

ParameterizedTestParameters(targets, exact_sampler) {
  return cr_make_param_array(tspec, specs, NSPECS);
}

/* n = 2e5 exact draws.  For each coordinate: sample mean vs t->mean within
 * 5 SE (SE = s / sqrt n).  For each pair i <= j: the mean of
 * Y = (x_i - m_i)(x_j - m_j) (m the exact mean, so E Y = cov_ij exactly)
 * vs t->cov within 5 SE of Y; for i = j this is the variance with SE
 * sqrt((m4 - s^4) / n) from the sample fourth moment.  Mode occupancy
 * (mode_of) vs t->mode_weight within 5 binomial SE (every mixture here is
 * separated enough that P(mode_of = k) - w_k < 1e-4, far below the SE
 * 1e-3).  marginal_cdf at mean + {-1.5, -0.5, 0, 0.5, 1.5} sd vs the
 * empirical CDF within 5 binomial SE. */
ParameterizedTest(tspec *p, targets, exact_sampler) {
  lb_target *t = make(p->spec);
  const size_t d = t->dim, n = 200000;
  gsl_rng *r = rng(2, 0);
  double *xs = malloc(n * d * sizeof *xs);
  size_t *count = calloc(t->n_modes, sizeof *count);
  for (size_t s = 0; s < n; s++) {
    double *x = xs + s * d;
    t->type->sample(t->state, r, x);
    size_t m = t->type->mode_of(t->state, x);
    cr_assert_lt(m, t->n_modes);
    count[m]++;
  }
  for (size_t i = 0; i < d; i++) {
    double mean, se;
    lb_test_mean_se(xs + i, n, d, &mean, &se);
    cr_assert(fabs(mean - t->mean[i]) <= LB_TEST_NSE * se,
              "%s: mean[%zu] %.6g vs exact %.6g (SE %.3g)", p->spec, i, mean,
              t->mean[i], se);
  }
  for (size_t i = 0; i < d; i++)
    for (size_t j = i; j < d; j++) {
      double s1 = 0, s2 = 0;
      for (size_t s = 0; s < n; s++) {
        double y = (xs[s * d + i] - t->mean[i]) * (xs[s * d + j] - t->mean[j]);
        s1 += y;
        s2 += y * y;
      }
      double m = s1 / n, sd = sqrt(fmax(s2 / n - m * m, 0.0));
      double se = sd / sqrt((double)n), want = t->cov[i * d + j];
      cr_assert(fabs(m - want) <= LB_TEST_NSE * se,
                "%s: cov[%zu][%zu] %.6g vs exact %.6g (SE %.3g)", p->spec, i,
                j, m, want, se);
    }
  double wsum = 0.0;
  for (size_t k = 0; k < t->n_modes; k++) {
    double ph = (double)count[k] / n, se = prop_se(ph, n);
    wsum += t->mode_weight[k];
    cr_assert(fabs(ph - t->mode_weight[k]) <= LB_TEST_NSE * se,
              "%s: mode %zu frequency %.5f vs weight %.5f (SE %.2g)", p->spec,
              k, ph, t->mode_weight[k], se);
  }
  cr_assert(fabs(wsum - 1.0) < 1e-12, "%s: mode weights sum to %.15g",
            p->spec, wsum);
  static const double at[] = {-1.5, -0.5, 0.0, 0.5, 1.5};
  for (size_t i = 0; i < d; i++)
    for (size_t a = 0; a < sizeof at / sizeof at[0]; a++) {
      double v = t->mean[i] + at[a] * sqrt(t->cov[i * d + i]);
      size_t below = 0;
      for (size_t s = 0; s < n; s++) below += xs[s * d + i] <= v;
      double ph = (double)below / n, se = prop_se(ph, n);
      double cdf = t->type->marginal_cdf(t->state, i, v);
      cr_assert(fabs(ph - cdf) <= LB_TEST_NSE * se,
                "%s: coordinate %zu, CDF(%.4g) %.5f vs empirical %.5f "
                "(SE %.2g)",
                p->spec, i, v, cdf, ph, se);
    }
  free(count);
  free(xs);
  gsl_rng_free(r);
  lb_target_free(t);
}

/* ---- normalisation by independent quadrature ---------------------- */

static double pdf1(double x, void *ctx) {
  return exp(lb_target_logpdf(ctx, &x));
}

/* int exp(logpdf) = 1 for the 1-D targets, by composite Simpson on
 * mean +- (20 sd + 2) with 4e5 intervals (h <= 3e-4; the narrow wells of
 * a = 1e4 have width 3.5e-3, so the Simpson error h^4 f''''/180 is
 * ~1e-9): tolerance 1e-6. */
Test(targets, normalised_1d) {
  static const char *const s1[] = {
      "gaussian",          "gaussian:var=0.01",
      "gmm:preset=twomodes", "double_well",
      "double_well:a=4,tilt=0.3", "double_well:a=1e4,tilt=2",
      "double_well:a=0.01,tilt=-1",
  };
  for (size_t k = 0; k < sizeof s1 / sizeof s1[0]; k++) {
    lb_target *t = make(s1[k]);
    double w = 20.0 * sqrt(t->cov[0]) + 2.0;
    double z = simpson(pdf1, t, t->mean[0] - w, t->mean[0] + w, 400000);
    cr_assert(fabs(z - 1.0) < 1e-6, "%s: integral of the density = %.12g",
              s1[k], z);
    lb_target_free(t);
  }
}

typedef struct {
  lb_target *t;
  double y;
} slice;

static double pdf2_inner(double x, void *ctx) {
  slice *s = ctx;
  double p[2] = {x, s->y};
  return exp(lb_target_logpdf(s->t, p));
}

static double pdf2_outer(double y, void *ctx) {
  slice s = {ctx, y};
  return simpson(pdf2_inner, &s, -9.0, 9.0, 1200);
}

/* ring8 in 2-D: iterated Simpson on [-9, 9]^2 (the modes at radius 4 with
 * sd 0.5 leave mass < 1e-20 outside), h = 0.015: error ~ h^4 / sd^4 / 180
 * ~ 7e-9 relative.  Tolerance 1e-6. */
Test(targets, normalised_ring8) {
  lb_target *t = make("gmm:preset=ring8");
  double z = simpson(pdf2_outer, t, -9.0, 9.0, 1200);
  cr_assert(fabs(z - 1.0) < 1e-6, "ring8: integral of the density = %.12g", z);
  lb_target_free(t);
}

/* ---- closed forms for the Gaussians and mixtures ------------------ */

/* Deterministic: values computed in closed form, tolerance 1e-12 relative
 * (a few rounding errors). */
Test(targets, gaussian_closed_form) {
  lb_target *t = make("gaussian:dim=5,kappa=1000");
  for (size_t i = 0; i < 5; i++) {
    double lam = pow(1000.0, i / 4.0);
    cr_assert(fabs(1.0 / t->cov[i * 5 + i] - lam) <= 1e-12 * lam,
              "kappa: precision %zu is %.15g, want %.15g", i,
              1.0 / t->cov[i * 5 + i], lam);
    for (size_t j = 0; j < 5; j++)
      if (j != i) cr_assert_eq(t->cov[i * 5 + j], 0.0);
    cr_assert_eq(t->mean[i], 0.0);
  }
  /* log Z = (1/2) sum log(2 pi / lambda_i) = (5/2) log 2pi - (1/2) log
   * prod lambda_i, and prod lambda_i = 1000^(10/4). */
  double lz = 2.5 * log(2 * M_PI) - 0.5 * 2.5 * log(1000.0);
  cr_assert(fabs(t->log_z - lz) < 1e-12, "log_z %.15g want %.15g", t->log_z,
            lz);
  cr_assert_eq(t->n_modes, 1);
  cr_assert_eq(t->mode_weight[0], 1.0);
  lb_target_free(t);

  t = make("gaussian:kappa=50");
  cr_assert_eq(t->cov[0], 1.0);
  lb_target_free(t);
  t = make("gaussian:dim=2,var=3");
  cr_assert_eq(t->cov[0], 3.0);
  cr_assert_eq(t->cov[3], 3.0);
  cr_assert(fabs(t->log_z - log(2 * M_PI * 3.0)) < 1e-12);
  lb_target_free(t);
}

Test(targets, gmm_closed_form) {
  /* ring8: mean 0, cov (0.25 + 16/2) I, 8 weights 1/8. */
  lb_target *t = make("gmm");
  cr_assert_eq(t->dim, 2);
  cr_assert_eq(t->n_modes, 8);
  for (size_t i = 0; i < 2; i++) cr_assert(fabs(t->mean[i]) < 1e-14);
  cr_assert(fabs(t->cov[0] - 8.25) < 1e-12 && fabs(t->cov[3] - 8.25) < 1e-12);
  cr_assert(fabs(t->cov[1]) < 1e-12 && fabs(t->cov[2]) < 1e-12);
  for (size_t k = 0; k < 8; k++) cr_assert_eq(t->mode_weight[k], 0.125);
  cr_assert_eq(t->log_z, 0.0);
  /* Far from every mode the densities underflow; the mode, F and grad F
   * must still be right: at x = (1000, 0) mode 0 (mean (4, 0)) dominates
   * and grad F = (x - mu_0) / 0.25 to rounding. */
  double x[2] = {1000.0, 0.0}, g[2];
  cr_assert_eq(t->type->mode_of(t->state, x), 0);
  t->type->grad(t->state, x, g);
  cr_assert(fabs(g[0] - 996.0 / 0.25) < 1e-9 * 3984.0 && fabs(g[1]) < 1e-6,
            "far gradient (%.15g, %.15g)", g[0], g[1]);
  double F = t->type->potential(t->state, x);
  double want = 0.5 * 996.0 * 996.0 / 0.25 - log(0.125) + log(2 * M_PI * 0.25);
  cr_assert(fabs(F - want) < 1e-9 * want, "far F %.15g want %.15g", F, want);
  lb_target_free(t);

  /* twomodes: 0.2 N(-3, 0.25) + 0.8 N(3, 1). */
  t = make("gmm:preset=twomodes");
  cr_assert(fabs(t->mean[0] - 1.8) < 1e-12);
  double var = 0.2 * 0.25 + 0.8 * 1.0 + 0.2 * 4.8 * 4.8 + 0.8 * 1.2 * 1.2;
  cr_assert(fabs(t->cov[0] - var) < 1e-12, "twomodes var %.15g", t->cov[0]);
  cr_assert(fabs(t->mode_weight[0] - 0.2) < 1e-15);
  cr_assert(fabs(t->mode_weight[1] - 0.8) < 1e-15);
  lb_target_free(t);

  /* the cross family: dim=5,modes=4 has means +-4 e_0, +-4 e_1. */
  t = make("gmm:dim=5,modes=4");
  for (size_t i = 0; i < 5; i++) {
    cr_assert_eq(t->mean[i], 0.0);
    double v = i < 2 ? 0.25 + 16.0 / 2.0 : 0.25;
    cr_assert(fabs(t->cov[i * 5 + i] - v) < 1e-12, "cross cov[%zu] %.15g", i,
              t->cov[i * 5 + i]);
  }
  double y[5] = {0, -3.9, 0, 0, 0};
  cr_assert_eq(t->type->mode_of(t->state, y), 3);
  lb_target_free(t);
}

/* twomodes: P(mode_of = 0) in closed form.  Component 0 has the larger
 * posterior where 0.2 N(x; -3, 1/4) > 0.8 N(x; 3, 1), an interval (r0, r1)
 * whose ends solve a quadratic; then P = sum_k w_k [Phi_k(r1) - Phi_k(r0)].
 * The empirical frequency of mode_of = 0 over 2e5 exact draws must agree
 * within 5 binomial SE; and P must be within 1e-4 of the weight 0.2 (the
 * preset is documented as well separated). */
Test(targets, twomodes_mode_weights) {
  lb_target *t = make("gmm:preset=twomodes");
  const double w0 = 0.2, m0 = -3, s0 = 0.5, w1 = 0.8, m1 = 3, s1 = 1.0;
  double A = -1 / (2 * s0 * s0) + 1 / (2 * s1 * s1);
  double B = m0 / (s0 * s0) - m1 / (s1 * s1);
  double C = -m0 * m0 / (2 * s0 * s0) + m1 * m1 / (2 * s1 * s1) +
             log(w0 / s0) - log(w1 / s1);
  double disc = sqrt(B * B - 4 * A * C);
  double r0 = (-B + disc) / (2 * A), r1 = (-B - disc) / (2 * A);
  if (r0 > r1) {
    double tmp = r0;
    r0 = r1;
    r1 = tmp;
  }
  double P = w0 * (gsl_cdf_gaussian_P(r1 - m0, s0) - gsl_cdf_gaussian_P(r0 - m0, s0)) +
             w1 * (gsl_cdf_gaussian_P(r1 - m1, s1) - gsl_cdf_gaussian_P(r0 - m1, s1));
  cr_assert(fabs(P - 0.2) < 1e-4, "P(mode_of = 0) = %.8f", P);
  /* the boundaries really are where mode_of switches */
  double xa = r0 + 1e-6, xb = r0 - 1e-6, xc = r1 - 1e-6, xd = r1 + 1e-6;
  cr_assert_eq(t->type->mode_of(t->state, &xa), 0);
  cr_assert_eq(t->type->mode_of(t->state, &xb), 1);
  cr_assert_eq(t->type->mode_of(t->state, &xc), 0);
  cr_assert_eq(t->type->mode_of(t->state, &xd), 1);

  gsl_rng *r = rng(3, 0);
  const size_t n = 200000;
  size_t c0 = 0;
  for (size_t s = 0; s < n; s++) {
    double x;
    t->type->sample(t->state, r, &x);
    c0 += t->type->mode_of(t->state, &x) == 0;
  }
  double ph = (double)c0 / n, se = prop_se(ph, n);
  cr_assert(fabs(ph - P) <= LB_TEST_NSE * se,
            "mode 0 frequency %.5f vs closed form %.5f (SE %.2g)", ph, P, se);
  gsl_rng_free(r);
  lb_target_free(t);
}

/* ---- double wells against an independent quadrature --------------- */

typedef struct {
  double a, c;
  int k;      /* moment: (x - shift)^k */
  double shift;
} dwq;

static double dw_fn(double x, void *ctx) {
  const dwq *q = ctx;
  double u = x * x - 1.0, e = exp(-(q->a * u * u + q->c * x));
  return q->k == 0 ? e : pow(x - q->shift, q->k) * e;
}

/* Simpson with 2e5 intervals on [-6, 6] (h = 6e-5; the density of a = 1
 * is below e^-500 outside): error ~ 1e-15.  Tolerances 1e-9 relative for
 * log Z, moments and P(x < 0); 1e-6 absolute for the marginal CDF (the
 * table's documented accuracy, met with a margin at these parameters). */
static double dw_int(double a, double c, int k, double shift, double lo,
                     double hi) {
  dwq q = {a, c, k, shift};
  return simpson(dw_fn, &q, lo, hi, 200000);
}

Test(targets, double_well_quadrature) {
  const double a = 1.0, c = 0.3;
  lb_target *t = make("double_well:dim=2,a=1,tilt=0.3");
  double zt = dw_int(a, c, 0, 0, -6, 6), z0 = dw_int(a, 0, 0, 0, -6, 6);
  double lz = log(zt) + log(z0);
  cr_assert(fabs(t->log_z - lz) < 1e-9 * fabs(lz), "log_z %.15g want %.15g",
            t->log_z, lz);
  double mt = dw_int(a, c, 1, 0, -6, 6) / zt;
  double vt = dw_int(a, c, 2, mt, -6, 6) / zt;
  double v0 = dw_int(a, 0, 2, 0, -6, 6) / z0;
  cr_assert(fabs(t->mean[0] - mt) < 1e-9 * fabs(mt), "mean %.15g want %.15g",
            t->mean[0], mt);
  cr_assert_eq(t->mean[1], 0.0);
  cr_assert(fabs(t->cov[0] - vt) < 1e-9 * vt, "var0 %.15g want %.15g",
            t->cov[0], vt);
  cr_assert(fabs(t->cov[3] - v0) < 1e-9 * v0, "var1 %.15g want %.15g",
            t->cov[3], v0);
  cr_assert_eq(t->cov[1], 0.0);
  cr_assert_eq(t->cov[2], 0.0);

  /* mode weights: bit i set when x_i >= 0 */
  double pn = dw_int(a, c, 0, 0, -6, 0) / zt;
  cr_assert_eq(t->n_modes, 4);
  for (size_t m = 0; m < 4; m++) {
    double w = ((m & 1) ? 1 - pn : pn) * 0.5;
    cr_assert(fabs(t->mode_weight[m] - w) < 1e-9 * w,
              "mode %zu weight %.15g want %.15g", m, t->mode_weight[m], w);
  }

  /* exact draws: mode frequencies within 5 binomial SE of the quadrature */
  gsl_rng *r = rng(4, 0);
  const size_t n = 200000;
  size_t cnt[4] = {0};
  double x[2];
  for (size_t s = 0; s < n; s++) {
    t->type->sample(t->state, r, x);
    cnt[t->type->mode_of(t->state, x)]++;
  }
  for (size_t m = 0; m < 4; m++) {
    double w = ((m & 1) ? 1 - pn : pn) * 0.5;
    double ph = (double)cnt[m] / n, se = prop_se(ph, n);
    cr_assert(fabs(ph - w) <= LB_TEST_NSE * se,
              "mode %zu frequency %.5f vs %.5f (SE %.2g)", m, ph, w, se);
  }

  /* marginal CDF against Simpson */
  static const double at[] = {-1.5, -1.0, -0.5, 0.0, 0.3, 1.0, 1.4};
  for (size_t k = 0; k < sizeof at / sizeof at[0]; k++) {
    double ft = dw_int(a, c, 0, 0, -6, at[k]) / zt;
    double f0 = dw_int(a, 0, 0, 0, -6, at[k]) / z0;
    double gt = t->type->marginal_cdf(t->state, 0, at[k]);
    double g0 = t->type->marginal_cdf(t->state, 1, at[k]);
    cr_assert(fabs(gt - ft) < 1e-6, "tilted CDF(%g) %.10f want %.10f", at[k],
              gt, ft);
    cr_assert(fabs(g0 - f0) < 1e-6, "untilted CDF(%g) %.10f want %.10f",
              at[k], g0, f0);
  }
  gsl_rng_free(r);
  lb_target_free(t);

  /* separability: log Z of dim=3 = log Z_tilted + 2 log Z_0 */
  lb_target *t3 = make("double_well:dim=3,a=1,tilt=0.3");
  cr_assert(fabs(t3->log_z - (log(zt) + 2 * log(z0))) < 1e-9 * fabs(t3->log_z));
  cr_assert_eq(t3->n_modes, 8);
  lb_target_free(t3);

  /* dim > 10: modes follow the first 10 coordinates */
  lb_target *t12 = make("double_well:dim=12");
  cr_assert_eq(t12->n_modes, 1024);
  cr_assert(fabs(t12->mode_weight[77] - 1.0 / 1024) < 1e-15);
  lb_target_free(t12);
}

/* Narrow wells (a = 1e4, width 1/sqrt(8a) = 3.5e-3), nearly balanced
 * (tilt 0.02: both wells carry mass) and strongly tilted (tilt 5): the
 * ground truth must not lose a well.  Independent Simpson on [-1.2, 1.2]
 * with 2e5 intervals (h = 1.2e-5, ~300 points per well width; the
 * density is below e^-300 outside).  Tolerance 1e-9 relative. */
Test(targets, double_well_narrow) {
  static const char *const sp[] = {"double_well:a=1e4,tilt=0.02",
                                   "double_well:a=1e4,tilt=5"};
  static const double tilt[] = {0.02, 5.0};
  for (size_t k = 0; k < 2; k++) {
    lb_target *t = make(sp[k]);
    double z = dw_int(1e4, tilt[k], 0, 0, -1.2, 1.2);
    double pn = dw_int(1e4, tilt[k], 0, 0, -1.2, 0.0) / z;
    double m = dw_int(1e4, tilt[k], 1, 0, -1.2, 1.2) / z;
    cr_assert(fabs(t->log_z - log(z)) < 1e-9 * fabs(log(z)),
              "%s: log_z %.15g want %.15g", sp[k], t->log_z, log(z));
    cr_assert(fabs(t->mode_weight[0] - pn) < 1e-9 * pn,
              "%s: P(x<0) %.15g want %.15g", sp[k], t->mode_weight[0], pn);
    cr_assert(fabs(t->mean[0] - m) < 1e-9 * fabs(m),
              "%s: mean %.15g want %.15g", sp[k], t->mean[0], m);
    lb_target_free(t);
  }
}

/* ---- 3. bad specifications ----------------------------------------- */

Test(targets, bad_specs) {
  static const struct {
    const char *spec, *needle;
  } bad[] = {
      {"gaussian:dim=0", "dim=0"},
      {"gaussian:dim=-3", "dim=-3"},
      {"gaussian:var=-1", "var=-1"},
      {"gaussian:var=0", "var=0"},
      {"gaussian:var=abc", "var=abc"},
      {"gaussian:var=inf", "var=inf"},
      {"gaussian:kappa=0.5", "kappa=0.5"},
      {"gaussian:var=2,kappa=3", "kappa"},
      {"gaussian:foo=1", "foo"},
      {"gmm:preset=nope", "preset=nope"},
      {"gmm:preset=ring8,dim=2", "one source"},
      {"gmm:dim=2,modes=5", "modes=5"},
      {"gmm:dim=2,sd=0", "sd=0"},
      {"gmm:file=/nonexistent/x.cfg", "/nonexistent/x.cfg"},
      {"gmm:file=@DATA@/gmm_syntax.cfg", "gmm_syntax.cfg:4"},
      {"gmm:file=@DATA@/gmm_notpd.cfg", "gmm_notpd.cfg:6"},
      {"gmm:bar=1", "bar"},
      {"double_well:a=0", "a=0"},
      {"double_well:a=-1", "a=-1"},
      {"double_well:dim=0", "dim=0"},
      {"double_well:tilt=x", "tilt=x"},
      {"double_well:b=2", "'b'"},
  };
  for (size_t k = 0; k < sizeof bad / sizeof bad[0]; k++) {
    char buf[LB_SPEC_MAXLEN];
    expand(bad[k].spec, buf, sizeof buf);
    lb_target *t = NULL;
    lb_err e = {{0}};
    int rc = lb_target_alloc(buf, &t, &e);
    cr_assert_eq(rc, LB_EINPUT, "%s: status %d (%s)", buf, rc, e.msg);
    cr_assert_null(t, "%s: target returned on failure", buf);
    cr_assert(strstr(e.msg, bad[k].needle) != NULL,
              "%s: message '%s' does not name '%s'", buf, e.msg,
              bad[k].needle);
    cr_assert(strchr(e.msg, '\n') == NULL, "%s: message is not one line",
              buf);
  }
}

/* Every family documents its parameters: one line per key=default. */
Test(targets, help) {
  for (size_t k = 0; lb_target_types[k]; k++) {
    const char *h = lb_target_types[k]->help;
    cr_assert(h && strchr(h, '='), "%s: no help", lb_target_types[k]->name);
  }
}

/* The AVX-512 block gradient of diagonal mixtures (targets/gmm.c, d <= 16
 * and m <= 16) against the portable block kernel, bit for bit: isotropic
 * and diagonal components, d = 1, 2, 3, 10, m = 2 to 16 (and 17, which
 * both serve with the portable kernel), block sizes with every remainder
 * of the 16- and 8-row chunks, rows near and very far from the modes
 * (weights flushed below exp(-708)).  On a machine without AVX-512 both
 * targets use the portable kernel and the test says so. */
Test(targets, gmm_avx512_kernel_matches_portable) {
  const char *dir = lb_test_tmpdir();
  char f16[512], f17[512];
  snprintf(f16, sizeof f16, "%s/d3m16.cfg", dir);
  snprintf(f17, sizeof f17, "%s/d2m17.cfg", dir);
  FILE *f = fopen(f16, "w");
  cr_assert(f);
  fprintf(f, "dim = 3;\ncomponents = (\n");
  for (int k = 0; k < 16; k++)
    fprintf(f, "  { weight = %.1f; mean = [%.3f, %.3f, %.3f]; %s }%s\n",
            1.0 + k % 3,
            -3.0 + 0.4 * k, 0.3 * (k % 5), -0.2 * k,
            k % 2 ? "sd = 0.7;" : "sd = [0.5, 1.1, 0.8];", k < 15 ? "," : "");
  fprintf(f, ");\n");
  fclose(f);
  f = fopen(f17, "w");
  cr_assert(f);
  fprintf(f, "dim = 2;\ncomponents = (\n");
  for (int k = 0; k < 17; k++)
    fprintf(f, "  { weight = 1.0; mean = [%.3f, %.3f]; sd = [0.6, 0.9]; }%s\n",
            -4.0 + 0.5 * k, 0.1 * k, k < 16 ? "," : "");
  fprintf(f, ");\n");
  fclose(f);
  char s16[600], s17[600];
  snprintf(s16, sizeof s16, "gmm:file=%s", f16);
  snprintf(s17, sizeof s17, "gmm:file=%s", f17);
  const char *mix[] = {"gmm:preset=ring8", "gmm:preset=twomodes",
                         "gmm:dim=10,modes=8", "gmm:dim=1", s16, s17};
  const size_t Bs[] = {1, 7, 8, 9, 15, 16, 17, 31, 64, 100, 256};
  uint64_t st = 5;
  for (size_t q = 0; q < sizeof mix / sizeof *mix; q++) {
    lb_target *tv = NULL, *tp = NULL;
    lb_err e;
    cr_assert_eq(lb_target_alloc(mix[q], &tv, &e), LB_OK, "%s", e.msg);
    setenv("LB_GMM_NO_AVX512", "1", 1);
    cr_assert_eq(lb_target_alloc(mix[q], &tp, &e), LB_OK, "%s", e.msg);
    unsetenv("LB_GMM_NO_AVX512");
    size_t d = tv->dim;
    for (size_t b = 0; b < sizeof Bs / sizeof *Bs; b++) {
      size_t B = Bs[b], ld = (B + 7) / 8 * 8;
      double *x = calloc(d * ld, sizeof *x), *gv = calloc(d * ld, sizeof *gv),
             *gp = calloc(d * ld, sizeof *gp), *t = calloc(ld, sizeof *t);
      for (size_t r = 0; r < B; r++)
        for (size_t i = 0; i < d; i++) {
          st = st * 6364136223846793005ULL + 1442695040888963407ULL;
          double u = (double)(st >> 11) * 0x1.0p-53;
          /* most rows among the modes, some hundreds of sd away */
          x[i * ld + r] = r % 5 == 4 ? 300.0 * (u - 0.5) : 10.0 * (u - 0.5);
        }
      lb_target_grad_block(tv, B, ld, x, t, gv);
      lb_target_grad_block(tp, B, ld, x, t, gp);
      for (size_t i = 0; i < d; i++)
        for (size_t r = 0; r < B; r++)
          cr_assert_eq(gv[i * ld + r], gp[i * ld + r],
                       "%s B=%zu row %zu coord %zu: %a vs %a", mix[q], B, r,
                       i, gv[i * ld + r], gp[i * ld + r]);
      free(x);
      free(gv);
      free(gp);
      free(t);
    }
    lb_target_free(tv);
    lb_target_free(tp);
  }
  if (!__builtin_cpu_supports("avx512f"))
    cr_log_info("no AVX-512 here: both sides used the portable kernel");
}
