/* double_well.c -- separable double-well targets.
 *
 * GPL-3.0-or-later.
 *
 *   double_well:dim=D,a=A,tilt=C      (defaults D = 1, A = 1, C = 0)
 *   F(x) = sum_i A (x_i^2 - 1)^2 + C x_1,   A in [1e-6, 1e6], |C| <= 1e6.
 *
 * The law is a product of 1-D laws: x_1 (index 0) has density
 * proportional to exp(-f_C), f_C(x) = A (x^2 - 1)^2 + C x, and x_2..x_D
 * follow the untilted law exp(-f_0).  Each distinct 1-D law (one or two)
 * is set up once at init:
 *
 *  - Stationary points: the real roots of f_C' = 4A x^3 - 4A x + C
 *    (gsl_poly_solve_cubic): the minima (tilted wells) and the barrier top.
 *    All densities are taken relative to min f_C so they never overflow,
 *    with f_C - min f_C evaluated as the exact Taylor polynomial of the
 *    quartic about its global minimiser (no cancellation of large values
 *    under a strong tilt).
 *  - Ground truth by GSL adaptive quadrature (QUADPACK; Piessens et al.
 *    1983): gsl_integration_qagp on [lo, hi] with the stationary points as
 *    breakpoints, plus qagil / qagiu for the two tails; accuracy 1e-11
 *    relative, or absolute 1e-11 times the quantity's natural scale (Z,
 *    Z (|mean| + sd), Z var) where a nearly balanced tilt makes the signed
 *    integral for the mean cancel.  (Plain adaptive quadrature over a wide
 *    interval can sample only points where a narrow well is invisible and
 *    silently return 0; breakpoints at the wells rule that out.)  This gives
 *      log Z_C = log int exp(-f_C),  mean, variance,  P(x < 0);
 *    log_z = log Z_C + (D - 1) log Z_0.  For the untilted law the mean 0
 *    and P(x < 0) = 1/2 are exact by symmetry and are not integrated.
 *  - A CDF table for exact sampling and the marginal CDF: [lo, hi] is the
 *    interval outside which f_C - min f_C > 46 (density < 1e-20 of its
 *    peak; the neglected tail mass is below 1e-20), cut into N equal cells,
 *    N = max(8192, 64 (hi - lo) / sigma_min) (capped at 2^20), where
 *    sigma_min = min over the non-negligible wells of 1/sqrt(f_C'') is the
 *    narrowest well's width.  Cell masses by 8-point Gauss-Legendre
 *    (error ~ (h / sigma)^16, negligible), so the table CDF is exact at the
 *    nodes to ~1e-15.  Within a cell the density is taken linear between
 *    its node values (the cell's exact mass kept), so the CDF between
 *    nodes is a quadratic and is inverted in closed form; the error of
 *    this shape is O((h / sigma)^2) of a cell's mass: the CDF error
 *    measured against a fine Simpson rule is 6e-9 at h = sigma / 64
 *    (a = 1e4) and 1e-11 at the defaults, far below the resolution
 *    (~1/sqrt(n)) of any test on fewer than 10^14 draws.
 *    Sampling is therefore inversion (u ~ U[0,1), binary search for the
 *    cell, closed-form solve inside it): exact up to that table error,
 *    one uniform per coordinate, O(log N) per coordinate.  Inversion
 *    was preferred to rejection because it costs a fixed, small number
 *    of operations per draw for every (A, C), including narrow wells and
 *    strong tilts where a rejection envelope is hard to make tight.
 *    marginal_cdf evaluates the same table (O(1)).
 *  Init cost: N (~8192) cells x 8 density evaluations per distinct law,
 *  plus a few adaptive quadratures; about a millisecond at the defaults.
 *
 * F and grad F cost O(D).  Modes: the sign pattern of the first
 * B = min(D, 10) coordinates, mode index = sum_{i < B} [x_i >= 0] 2^i, so
 * n_modes = 2^B; the weights are the products over those coordinates of
 * P(x_i < 0) or P(x_i >= 0), with P(x_1 < 0) from the quadrature above and
 * 1/2 for the untilted coordinates.
 */
#include <gsl/gsl_errno.h>
#include <gsl/gsl_integration.h>
#include <gsl/gsl_poly.h>
#include <math.h>
#include <stdlib.h>

#include "target.h"
#include "util.h"

#define TAIL 46.0          /* table range: f - min f <= TAIL */
#define MIN_CELLS 8192
#define MAX_CELLS (1 << 20)
#define CELLS_PER_SIGMA 64
#define MAX_MODE_BITS 10
#define QUAD_LIMIT 1000
#define QUAD_EPSREL 1e-11
#define QUAD_EPSABS 1e-11 /* times the scale of the integral, see law_init */

typedef struct {
  double a, c;     /* f(x) = a (x^2 - 1)^2 + c x */
  double fmin;     /* min f = f(xs) */
  double xs;       /* the global minimiser; f - fmin is evaluated as the
                      exact Taylor polynomial about xs (see fshift) */
  double d1, d2, d3;
  double stat[3];  /* stationary points, ascending */
  int nstat;
  double lo, hi;   /* table range */
  size_t n;        /* cells */
  double h;        /* cell width */
  double *cdf;     /* [n+1] cdf[0] = 0, cdf[n] = 1 */
  double *dens;    /* [n+1] exp(-(f(x_j) - fmin)) at the nodes */
  double log_z, mean, var, pneg; /* ground truth (quadrature) */
} dw_law;

typedef struct {
  size_t dim, nbits;
  double a, c;
  dw_law first;        /* law of x_1 */
  dw_law rest;         /* law of x_2..x_D when c != 0 and D > 1 */
  const dw_law *restp; /* &rest, or &first when c == 0 */
} dw_state;

static double f1(const dw_law *L, double x) {
  double u = x * x - 1.0;
  return L->a * u * u + L->c * x;
}

/* f(x) - fmin as the quartic's exact Taylor expansion about xs,
 *   f(xs + y) - f(xs) = f'(xs) y + f''(xs)/2 y^2 + f'''(xs)/6 y^3 + a y^4,
 * so no large f(x) and fmin cancel: with a strong tilt f is ~ -|c|^(4/3)
 * at the minimum and f(x) - fmin computed directly would lose ~1e-6 of
 * absolute accuracy, enough to stall the adaptive quadrature. */
static double fshift(const dw_law *L, double x) {
  double y = x - L->xs;
  return y * (L->d1 + y * (L->d2 + y * (L->d3 + L->a * y)));
}

/* ---- quadrature --------------------------------------------------- */

typedef struct {
  const dw_law *L;
  int k;        /* 0: density, 1: (x - shift) density, 2: (x - shift)^2,
                   3: cos(w x) density, 4: sin(w x) density,
                   5: x^4 density */
  double shift;
  double w;     /* frequency of k = 3, 4 */
} moment;

static double integrand(double x, void *vp) {
  const moment *p = vp;
  double e = exp(-fshift(p->L, x));
  if (!(e > 0.0)) return 0.0; /* underflow, or x so far out f is inf */
  if (p->k == 0) return e;
  if (p->k == 3) return cos(p->w * x) * e;
  if (p->k == 5) return x * x * x * x * e;
  if (p->k == 4) return sin(p->w * x) * e;
  double y = x - p->shift;
  return p->k == 1 ? y * e : y * y * e;
}

/* int_a^b (x - shift)^k exp(-(f - fmin)) dx, a may be -inf, b +inf.
 * Returns a GSL status (0 on success). */
static int integrate(const dw_law *L, int k, double shift, double a, double b,
                     double epsabs, gsl_integration_workspace *w,
                     double *out) {
  moment p = {L, k, shift, shift};
  gsl_function fn = {integrand, &p};
  double total = 0.0, res, err;
  int st = 0;
  double ma = fmax(a, L->lo), mb = fmin(b, L->hi);
  if (ma < mb) {
    double pts[5];
    size_t np = 0;
    pts[np++] = ma;
    for (int i = 0; i < L->nstat; i++)
      if (L->stat[i] > ma && L->stat[i] < mb) pts[np++] = L->stat[i];
    pts[np++] = mb;
    st = gsl_integration_qagp(&fn, pts, np, epsabs, QUAD_EPSREL,
                              QUAD_LIMIT, w, &res, &err);
    if (st) return st;
    total += res;
  }
  if (a < L->lo) { /* left tail */
    double ub = fmin(b, L->lo);
    st = isinf(a) ? gsl_integration_qagil(&fn, ub, epsabs, QUAD_EPSREL,
                                          QUAD_LIMIT, w, &res, &err)
                  : gsl_integration_qags(&fn, a, ub, epsabs, QUAD_EPSREL,
                                         QUAD_LIMIT, w, &res, &err);
    if (st) return st;
    total += res;
  }
  if (b > L->hi) { /* right tail */
    double lb = fmax(a, L->hi);
    st = isinf(b) ? gsl_integration_qagiu(&fn, lb, epsabs, QUAD_EPSREL,
                                          QUAD_LIMIT, w, &res, &err)
                  : gsl_integration_qags(&fn, lb, b, epsabs, QUAD_EPSREL,
                                         QUAD_LIMIT, w, &res, &err);
    if (st) return st;
    total += res;
  }
  *out = total;
  return 0;
}

/* ---- one 1-D law --------------------------------------------------- */

/* The point beyond the outermost stationary point x0, in direction dir,
 * where f - fmin reaches TAIL (f is monotone there). */
static double edge(const dw_law *L, double x0, double dir) {
  if (fshift(L, x0) >= TAIL) return x0;
  double s = 1e-3;
  while (fshift(L, x0 + dir * s) < TAIL) s *= 2.0;
  double lo = 0.0, hi = s;
  for (int it = 0; it < 200 && hi - lo > 0.0; it++) {
    double mid = 0.5 * (lo + hi);
    if (mid <= lo || mid >= hi) break;
    if (fshift(L, x0 + dir * mid) < TAIL)
      lo = mid;
    else
      hi = mid;
  }
  return x0 + dir * hi;
}

/* Linear density f0 -> f1 on a cell [0, 1] holding fraction 1 of the
 * cell's mass: the CDF fraction at t, and its inverse. */
static double cell_cdf(double d0, double d1, double t) {
  double s = 0.5 * (d0 + d1);
  if (!(s > 0.0)) return t;
  return (d0 * t + 0.5 * (d1 - d0) * t * t) / s;
}

static double cell_inverse(double d0, double d1, double q) {
  double s = 0.5 * (d0 + d1);
  /* Root of (d1 - d0)/2 t^2 + d0 t - q s = 0 in the cancellation-free
   * form; the discriminant is (1 - q) d0^2 + q d1^2 >= 0. */
  double den = d0 + sqrt((1.0 - q) * d0 * d0 + q * d1 * d1);
  double t = den > 0.0 ? 2.0 * q * s / den : q;
  return t < 0.0 ? 0.0 : (t > 1.0 ? 1.0 : t);
}

static void law_free(dw_law *L) {
  free(L->cdf);
  free(L->dens);
  L->cdf = L->dens = NULL;
}

/* Sets up the law of exp(-(a (x^2-1)^2 + c x)); GSL status on failure. */
static int law_init(dw_law *L, double a, double c, int symmetric) {
  L->a = a;
  L->c = c;
  double r[3];
  L->nstat = gsl_poly_solve_cubic(0.0, -1.0, c / (4.0 * a), &r[0], &r[1],
                                  &r[2]);
  L->fmin = HUGE_VAL;
  for (int i = 0; i < L->nstat; i++) {
    L->stat[i] = r[i];
    if (f1(L, r[i]) < L->fmin) {
      L->fmin = f1(L, r[i]);
      L->xs = r[i];
    }
  }
  double xs = L->xs;
  L->d1 = 4.0 * a * xs * (xs * xs - 1.0) + c; /* ~0: xs is a root */
  L->d2 = 6.0 * a * xs * xs - 2.0 * a;
  L->d3 = 4.0 * a * xs;
  L->lo = edge(L, L->stat[0], -1.0);
  L->hi = edge(L, L->stat[L->nstat - 1], 1.0);

  /* Cells: at least CELLS_PER_SIGMA across the narrowest relevant well. */
  double sigma = HUGE_VAL;
  for (int i = 0; i < L->nstat; i++) {
    double x = L->stat[i], f2 = 12.0 * a * x * x - 4.0 * a;
    if (f2 > 0.0 && fshift(L, x) < TAIL) sigma = fmin(sigma, 1.0 / sqrt(f2));
  }
  double want = CELLS_PER_SIGMA * (L->hi - L->lo) / sigma;
  L->n = want < MIN_CELLS ? MIN_CELLS
                          : (want > MAX_CELLS ? MAX_CELLS : (size_t)ceil(want));
  L->h = (L->hi - L->lo) / (double)L->n;
  L->cdf = lb_xcalloc(L->n + 1, sizeof(double));
  L->dens = lb_xcalloc(L->n + 1, sizeof(double));

  moment p = {L, 0, 0.0, 0.0};
  gsl_function fn = {integrand, &p};
  gsl_integration_glfixed_table *gl = gsl_integration_glfixed_table_alloc(8);
  if (!gl) return GSL_ENOMEM;
  for (size_t j = 0; j <= L->n; j++) {
    double x = L->lo + (double)j * L->h;
    L->dens[j] = integrand(x, &p);
    if (j < L->n)
      L->cdf[j + 1] =
          L->cdf[j] + gsl_integration_glfixed(&fn, x, x + L->h, gl);
  }
  gsl_integration_glfixed_table_free(gl);
  double tot = L->cdf[L->n];
  if (!(tot > 0.0) || !isfinite(tot)) return GSL_EFAILED;
  for (size_t j = 1; j <= L->n; j++) L->cdf[j] /= tot;
  L->cdf[L->n] = 1.0;

  /* Ground truth by adaptive quadrature with the wells as breakpoints. */
  gsl_integration_workspace *w = gsl_integration_workspace_alloc(QUAD_LIMIT);
  if (!w) return GSL_ENOMEM;
  /* Absolute tolerances: QUAD_EPSABS times the scale of each quantity,
   * from rough node sums of the table (tm, tv ~ mean, variance): Z, Z
   * (|mean| + sd), Z var.  The relative tolerance alone cannot be met
   * when the signed integral of x e^-f nearly cancels (a tiny tilt makes
   * the mean ~1e-6 of the two wells' contributions); an absolute error of
   * 1e-11 (|mean| + sd) in the mean is what matters. */
  double s0 = 0.0, s1 = 0.0, s2 = 0.0;
  for (size_t j = 0; j <= L->n; j++) {
    s0 += L->dens[j];
    s1 += (L->lo + (double)j * L->h) * L->dens[j];
  }
  double tm = s1 / s0;
  for (size_t j = 0; j <= L->n; j++) {
    double y = L->lo + (double)j * L->h - tm;
    s2 += y * y * L->dens[j];
  }
  double tv = s2 / s0;
  double z, m1 = 0.0, m2, neg = 0.0;
  int st = integrate(L, 0, 0.0, -HUGE_VAL, HUGE_VAL, QUAD_EPSABS * tot, w, &z);
  if (!st && !symmetric)
    st = integrate(L, 1, 0.0, -HUGE_VAL, HUGE_VAL,
                   QUAD_EPSABS * tot * (fabs(tm) + sqrt(tv)), w, &m1);
  double mean = symmetric ? 0.0 : m1 / z;
  if (!st)
    st = integrate(L, 2, mean, -HUGE_VAL, HUGE_VAL, QUAD_EPSABS * tot * tv, w,
                   &m2);
  if (!st && !symmetric)
    st = integrate(L, 0, 0.0, -HUGE_VAL, 0.0, QUAD_EPSABS * tot, w, &neg);
  gsl_integration_workspace_free(w);
  if (st) return st;
  if (!(z > 0.0) || !isfinite(z)) return GSL_EFAILED;
  L->log_z = log(z) - L->fmin;
  L->mean = mean;
  L->var = m2 / z;
  L->pneg = symmetric ? 0.5 : neg / z;
  return 0;
}

static double law_draw(const dw_law *L, gsl_rng *r) {
  double u = gsl_rng_uniform(r); /* [0, 1) */
  size_t lo = 0, hi = L->n;      /* cdf[lo] <= u < cdf[hi] */
  while (hi - lo > 1) {
    size_t mid = lo + (hi - lo) / 2;
    if (L->cdf[mid] <= u)
      lo = mid;
    else
      hi = mid;
  }
  double q = (u - L->cdf[lo]) / (L->cdf[lo + 1] - L->cdf[lo]);
  double t = cell_inverse(L->dens[lo], L->dens[lo + 1], q);
  return L->lo + ((double)lo + t) * L->h;
}

static double law_cdf(const dw_law *L, double v) {
  if (!(v > L->lo)) return 0.0;
  if (!(v < L->hi)) return 1.0;
  double s = (v - L->lo) / L->h;
  size_t j = (size_t)s;
  if (j >= L->n) j = L->n - 1;
  double t = s - (double)j;
  return L->cdf[j] +
         (L->cdf[j + 1] - L->cdf[j]) * cell_cdf(L->dens[j], L->dens[j + 1], t);
}

/* ---- the target ---------------------------------------------------- */

static void dw_free(void *vs) {
  dw_state *s = vs;
  if (!s) return;
  law_free(&s->first);
  law_free(&s->rest);
  free(s);
}

static int dw_init(lb_target *t, lb_spec *spec, lb_err *e) {
  size_t d;
  double a, c;
  int rc = lb_tg_dim(spec, "dim", 1, &d, e);
  if (!rc) rc = lb_spec_double(spec, "a", 1.0, 1e-6, 1e6, &a, e);
  if (!rc) rc = lb_spec_double(spec, "tilt", 0.0, -1e6, 1e6, &c, e);
  if (rc) return rc;

  dw_state *s = lb_xcalloc(1, sizeof *s);
  t->state = s;
  s->dim = d;
  s->a = a;
  s->c = c;
  s->nbits = d < MAX_MODE_BITS ? d : MAX_MODE_BITS;

  gsl_error_handler_t *old = gsl_set_error_handler_off();
  int st = law_init(&s->first, a, c, c == 0.0);
  s->restp = &s->first;
  if (!st && c != 0.0 && d > 1) {
    st = law_init(&s->rest, a, 0.0, 1);
    s->restp = &s->rest;
  }
  gsl_set_error_handler(old);
  if (st)
    return lb_fail(e, LB_EINPUT, "%s: quadrature failed for a=%g, tilt=%g (%s)",
                   spec->text, a, c, gsl_strerror(st));

  t->dim = d;
  t->n_modes = (size_t)1 << s->nbits;
  lb_target_alloc_truth(t);
  t->log_z = s->first.log_z + (double)(d - 1) * s->restp->log_z;
  for (size_t i = 0; i < d; i++) {
    const dw_law *L = i == 0 ? &s->first : s->restp;
    t->mean[i] = L->mean;
    t->cov[i * d + i] = L->var;
  }
  for (size_t m = 0; m < t->n_modes; m++) {
    double w = 1.0;
    for (size_t i = 0; i < s->nbits; i++) {
      double pn = (i == 0 ? &s->first : s->restp)->pneg;
      w *= (m >> i & 1) ? 1.0 - pn : pn;
    }
    t->mode_weight[m] = w;
  }
  return LB_OK;
}

static double dw_potential(const void *vs, const double *x) {
  const dw_state *s = vs;
  double f = s->c * x[0];
  for (size_t i = 0; i < s->dim; i++) {
    double u = x[i] * x[i] - 1.0;
    f += s->a * u * u;
  }
  return f;
}

static void dw_grad(const void *vs, const double *x, double *g) {
  const dw_state *s = vs;
  for (size_t i = 0; i < s->dim; i++)
    g[i] = 4.0 * s->a * x[i] * (x[i] * x[i] - 1.0);
  g[0] += s->c;
}

/* The same arithmetic on a block (target.h, grad_block): O(D) per row,
 * unit-stride over the rows. */
static void dw_grad_block(const void *vs, size_t B, size_t ld,
                          const double *x, const double *t, double *g) {
  const dw_state *s = vs;
  (void)t;
  for (size_t i = 0; i < s->dim; i++) {
    const double *xi = x + i * ld;
    double *gi = g + i * ld;
    for (size_t r = 0; r < B; r++)
      gi[r] = 4.0 * s->a * xi[r] * (xi[r] * xi[r] - 1.0);
  }
  for (size_t r = 0; r < B; r++) g[r] += s->c;
}

static void dw_sample(const void *vs, gsl_rng *r, double *x) {
  const dw_state *s = vs;
  x[0] = law_draw(&s->first, r);
  for (size_t i = 1; i < s->dim; i++) x[i] = law_draw(s->restp, r);
}

static double dw_marginal_cdf(const void *vs, size_t i, double v) {
  const dw_state *s = vs;
  return law_cdf(i == 0 ? &s->first : s->restp, v);
}

/* Weak-error support: E cos(w x_i), E sin(w x_i) by the adaptive
 * quadrature of the ground truth (integrate(), the frequency passed as
 * `shift`), absolute tolerance 1e-11 Z, relative 1e-11: error <= 2e-11. */
static double dw_marginal_cf(const void *vs, size_t i, double w, double *c,
                             double *sn) {
  const dw_state *s = vs;
  const dw_law *L = i == 0 ? &s->first : s->restp;
  gsl_integration_workspace *ws = gsl_integration_workspace_alloc(QUAD_LIMIT);
  gsl_error_handler_t *old = gsl_set_error_handler_off();
  double z = 0, ic = 0, is = 0;
  int st = integrate(L, 0, 0.0, -HUGE_VAL, HUGE_VAL, 0, ws, &z);
  if (!st) st = integrate(L, 3, w, -HUGE_VAL, HUGE_VAL, QUAD_EPSABS * z, ws, &ic);
  if (!st) st = integrate(L, 4, w, -HUGE_VAL, HUGE_VAL, QUAD_EPSABS * z, ws, &is);
  gsl_set_error_handler(old);
  gsl_integration_workspace_free(ws);
  if (st || !(z > 0)) {
    *c = *sn = NAN;
    return HUGE_VAL;
  }
  *c = ic / z;
  *sn = is / z;
  return 2 * QUAD_EPSABS;
}

/* E x^4 of one 1-D law by the adaptive quadrature (relative 1e-11). */
static double law_m4(const dw_law *L, double *err) {
  gsl_integration_workspace *ws = gsl_integration_workspace_alloc(QUAD_LIMIT);
  gsl_error_handler_t *old = gsl_set_error_handler_off();
  double z = 0, m4 = 0;
  int st = integrate(L, 0, 0.0, -HUGE_VAL, HUGE_VAL, 0, ws, &z);
  if (!st) st = integrate(L, 5, 0.0, -HUGE_VAL, HUGE_VAL, 0, ws, &m4);
  gsl_set_error_handler(old);
  gsl_integration_workspace_free(ws);
  if (st || !(z > 0)) {
    *err = HUGE_VAL;
    return NAN;
  }
  *err = 4 * QUAD_EPSREL * m4 / z;
  return m4 / z;
}

/* Weak-error support: E|x|^4 = sum_i E x_i^4 + sum_{i != j} E x_i^2 E x_j^2
 * (the coordinates are independent), each E x^4 by quadrature. */
static double dw_moment4(const void *vs, double *err) {
  const dw_state *s = vs;
  double e1, e2 = 0;
  double m4a = law_m4(&s->first, &e1), m4b = m4a;
  if (s->dim > 1 && s->restp != &s->first) m4b = law_m4(s->restp, &e2);
  const dw_law *A = &s->first, *Bl = s->restp;
  double m2a = A->var + A->mean * A->mean, m2b = Bl->var + Bl->mean * Bl->mean;
  double D = (double)s->dim;
  double tot = m4a + (D - 1) * m4b + 2 * (D - 1) * m2a * m2b +
               (D - 1) * (D - 2) * m2b * m2b;
  *err = e1 + (D - 1) * e2 + 1e-10 * tot;
  return tot;
}

static size_t dw_mode_of(const void *vs, const double *x) {
  const dw_state *s = vs;
  size_t m = 0;
  for (size_t i = 0; i < s->nbits; i++)
    if (x[i] >= 0.0) m |= (size_t)1 << i;
  return m;
}

const lb_target_type lb_target_double_well = {
    "double_well",
    "dim=1     dimension; F(x) = sum_i a (x_i^2 - 1)^2 + tilt x_1\n"
    "a=1       barrier height, in [1e-6, 1e6]\n"
    "tilt=0    linear tilt of the first coordinate, |tilt| <= 1e6\n",
    dw_init,
    dw_free,
    dw_potential,
    dw_grad,
    dw_sample,
    dw_marginal_cdf,
    dw_mode_of,
    dw_grad_block,
    dw_marginal_cf,
    dw_moment4,
};
