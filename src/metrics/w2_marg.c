/* w2_marg.c -- mean over coordinates of the exact 1-D W2 between each
 * sample marginal and the target's marginal.
 *
 * GPL-3.0-or-later.
 *
 * In 1-D the optimal coupling is monotone: with x_(1) <= ... <= x_(n) and
 * Q the target's quantile function,
 *
 *   W2^2 = sum_k  integral_{(k-1)/n}^{k/n} (x_(k) - Q(u))^2 du
 *        = sum_k  A_k ((x_(k) - c_k)^2 + V_k),
 *
 * where, on the k-th quantile interval I_k = (Q((k-1)/n), Q(k/n)] of the
 * target marginal, A_k = P(I_k), c_k = E[Y | I_k] and V_k = Var[Y | I_k].
 * The constants depend on n and the target only, so the bootstrap
 * re-evaluates the sum in O(n) per replicate and per coordinate.
 *
 * Computing them from the marginal CDF F (target.h) alone:
 *  - quantiles: F is tabulated on a uniform grid spanning F < 1/n ..
 *    F >= 1 - 1/n, each Q(k/n) is bracketed by a table cell (the
 *    quantiles are increasing, so one pass) and refined by Brent's method
 *    (Brent 1973, "zeroin") to 1e-13 target standard deviations;
 *  - finite intervals [a, b], integrating by parts against G = F - F(a):
 *      A c = b A - int_a^b G,   V A = (b - c)^2 A - 2 int_a^b (y - c) G,
 *    with 8-point Gauss-Legendre on panels no wider than sd/32 (F is
 *    smooth, so this is exact to rounding for these widths);
 *  - the two infinite tails with G = F (lower) and G = F - 1 (upper) by
 *    GSL's QAGIL/QAGIU (relative tolerance 1e-10).
 * Cost: about 8 n CDF evaluations per coordinate (2-point Gauss-Legendre
 * on the narrow intervals, Brent from a table of n/8 cells), once per
 * sample size: the metric caches the constants of the last n.
 * The mass A_k is the computed F difference (1/n to rounding), so the
 * result is the exact W2 between the empirical law and the target up to
 * the quadrature tolerances.
 */
#include <float.h>
#include <gsl/gsl_errno.h>
#include <gsl/gsl_integration.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "metrics.h"

typedef struct {
  double A, c, V;
} ivl;

static double cdf(const lb_target *t, size_t i, double v) {
  return t->type->marginal_cdf(t->state, i, v);
}

/* Brent's zeroin for F(y) - p on [a, b], fa = F(a) - p < 0 <= fb. */
static double invert(const lb_target *t, size_t i, double p, double a,
                     double fa, double b, double fb, double tol) {
  double c = b, fc = fb, d = b - a, e = d;
  for (int iter = 0; iter < 200; iter++) {
    if ((fb > 0 && fc > 0) || (fb < 0 && fc < 0)) {
      c = a;
      fc = fa;
      e = d = b - a;
    }
    if (fabs(fc) < fabs(fb)) {
      a = b;
      b = c;
      c = a;
      fa = fb;
      fb = fc;
      fc = fa;
    }
    double tol1 = 2 * DBL_EPSILON * fabs(b) + 0.5 * tol;
    double xm = 0.5 * (c - b);
    if (fabs(xm) <= tol1 || fb == 0) return b;
    if (fabs(e) >= tol1 && fabs(fa) > fabs(fb)) {
      double s = fb / fa, pp, q;
      if (a == c) {
        pp = 2 * xm * s;
        q = 1 - s;
      } else {
        double qq = fa / fc, r = fb / fc;
        pp = s * (2 * xm * qq * (qq - r) - (b - a) * (r - 1));
        q = (qq - 1) * (r - 1) * (s - 1);
      }
      if (pp > 0) q = -q;
      pp = fabs(pp);
      double min1 = 3 * xm * q - fabs(tol1 * q), min2 = fabs(e * q);
      if (2 * pp < (min1 < min2 ? min1 : min2)) {
        e = d;
        d = pp / q;
      } else {
        d = xm;
        e = d;
      }
    } else {
      d = xm;
      e = d;
    }
    a = b;
    fa = fb;
    b += fabs(d) > tol1 ? d : copysign(tol1, xm);
    fb = cdf(t, i, b) - p;
  }
  return b;
}

/* 8-point Gauss-Legendre on [-1, 1]. */
static const double gl_x[4] = {0.1834346424956498, 0.5255324099163290,
                               0.7966664774136267, 0.9602898564975363};
static const double gl_w[4] = {0.3626837833783620, 0.3137066458778873,
                               0.2223810344533745, 0.1012285362903763};

typedef struct {
  const lb_target *t;
  size_t i;
  double c;
  int kind; /* 0: F, 1: (y-c) F, 2: 1-F, 3: (y-c)(1-F) */
} tail_par;

static double tail_fn(double y, void *vp) {
  const tail_par *p = vp;
  double f = cdf(p->t, p->i, y);
  switch (p->kind) {
    case 0: return f;
    case 1: return (y - p->c) * f;
    case 2: return 1 - f;
    default: return (y - p->c) * (1 - f);
  }
}

static double tail_int(tail_par *par, double at, int upper, double scale,
                       gsl_integration_workspace *w) {
  gsl_function fn = {tail_fn, par};
  double res = 0, err = 0;
  if (upper)
    gsl_integration_qagiu(&fn, at, 1e-15 * scale, 1e-10, 1000, w, &res, &err);
  else
    gsl_integration_qagil(&fn, at, 1e-15 * scale, 1e-10, 1000, w, &res, &err);
  return res;
}

/* The n interval constants of coordinate i. */
static void intervals(const lb_target *t, size_t i, size_t n, ivl *iv) {
  const double mu = t->mean[i], sd = sqrt(t->cov[i * t->dim + i]);
  if (n == 1) {
    iv[0].A = 1;
    iv[0].c = mu;
    iv[0].V = sd * sd;
    return;
  }
  double *q = lb_xcalloc(n + 1, sizeof(double)); /* q[k] = Q(k/n) */
  double *fq = lb_xcalloc(n + 1, sizeof(double));
  const double nn = (double)n;

  /* Bracket and tabulate. */
  double lo = mu - 8 * sd, hi = mu + 8 * sd;
  for (int it = 0; it < 64 && cdf(t, i, lo) >= 1 / nn; it++) lo -= 8 * sd;
  for (int it = 0; it < 64 && cdf(t, i, hi) < (nn - 1) / nn; it++)
    hi += 8 * sd;
  /* about 8 quantiles per table cell, so Brent starts from a tight
   * bracket on which F is nearly linear and converges in a few steps */
  size_t T = n / 8 + 1 < 131072 ? n / 8 + 1 : 131072;
  if (T < 65) T = 65;
  double *ty = lb_xcalloc(T, sizeof(double)), *tf = lb_xcalloc(T, sizeof(double));
  for (size_t j = 0; j < T; j++) {
    ty[j] = lo + (hi - lo) * (double)j / (double)(T - 1);
    tf[j] = cdf(t, i, ty[j]);
  }
  size_t j = 0;
  double prev = -HUGE_VAL, fprev = 0;
  for (size_t k = 1; k < n; k++) {
    double p = (double)k / nn;
    while (j + 2 < T && tf[j + 1] < p) j++;
    double a = ty[j], fa = tf[j];
    if (prev > a && fprev < p) {
      a = prev;
      fa = fprev;
    }
    double b = ty[j + 1], fb = tf[j + 1];
    double qk;
    if (fb < p) /* F never reaches p on the table (flat numerics) */
      qk = b;
    else
      qk = invert(t, i, p, a, fa - p, b, fb - p, 1e-13 * sd);
    if (qk < prev) qk = prev;
    q[k] = qk;
    fq[k] = cdf(t, i, qk);
    if (fq[k] < fprev) fq[k] = fprev;
    prev = qk;
    fprev = fq[k];
  }
  free(ty);
  free(tf);

  /* Finite intervals k = 2..n-1 (1-based), between q[k-1] and q[k]. */
  const double pw = sd / 32;
  for (size_t k = 2; k < n; k++) {
    double a = q[k - 1], b = q[k], fa = fq[k - 1];
    double A = fq[k] - fa;
    ivl *o = &iv[k - 1];
    if (!(A > 0) || !(b > a)) {
      o->A = A > 0 ? A : 0;
      o->c = a;
      o->V = 0;
      continue;
    }
    size_t P = (size_t)ceil((b - a) / pw);
    if (P < 1) P = 1;
    if (P > 4096) P = 4096;
    double h = (b - a) / (double)P, I0 = 0, Iy = 0;
    if (b - a < sd / 256) {
      /* 2-point Gauss-Legendre: relative error about (h/sd)^4 / 4320 <
       * 1e-13 on intervals this narrow (all but the outer ones for large
       * n), a quarter of the CDF evaluations of the 8-point rule */
      const double g2 = 0.5773502691896258;
      for (int sgn = -1; sgn <= 1; sgn += 2) {
        double y = a + 0.5 * h * (1 + sgn * g2);
        double G = cdf(t, i, y) - fa, wg = 0.5 * h;
        I0 += wg * G;
        Iy += wg * (y - a) * G;
      }
    } else {
      for (size_t pnl = 0; pnl < P; pnl++) {
        double mid = a + h * ((double)pnl + 0.5);
        for (int g = 0; g < 4; g++)
          for (int sgn = -1; sgn <= 1; sgn += 2) {
            double y = mid + sgn * 0.5 * h * gl_x[g];
            double G = cdf(t, i, y) - fa, wg = 0.5 * h * gl_w[g];
            I0 += wg * G;
            Iy += wg * (y - a) * G;
          }
      }
    }
    double c = b - I0 / A;
    if (c < a) c = a;
    if (c > b) c = b;
    double V = ((b - c) * (b - c) * A - 2 * (Iy - (c - a) * I0)) / A;
    o->A = A;
    o->c = c;
    o->V = V > 0 ? V : 0;
  }

  /* Tails. */
  gsl_error_handler_t *old = gsl_set_error_handler_off();
  gsl_integration_workspace *w = gsl_integration_workspace_alloc(1000);
  tail_par par = {t, i, 0, 0};
  {
    double b = q[1], A = fq[1];
    par.kind = 0;
    double I0 = tail_int(&par, b, 0, sd * A, w);
    double c = A > 0 ? b - I0 / A : b;
    par.kind = 1;
    par.c = c;
    double Ic = tail_int(&par, b, 0, sd * sd * A, w);
    double V = A > 0 ? ((b - c) * (b - c) * A - 2 * Ic) / A : 0;
    iv[0].A = A;
    iv[0].c = c;
    iv[0].V = V > 0 ? V : 0;
  }
  {
    double a = q[n - 1], A = 1 - fq[n - 1];
    par.kind = 2;
    double J0 = tail_int(&par, a, 1, sd * A, w);
    double c = A > 0 ? a + J0 / A : a;
    par.kind = 3;
    par.c = c;
    double Jc = tail_int(&par, a, 1, sd * sd * A, w);
    double V = A > 0 ? ((a - c) * (a - c) * A + 2 * Jc) / A : 0;
    iv[n - 1].A = A;
    iv[n - 1].c = c;
    iv[n - 1].V = V > 0 ? V : 0;
  }
  gsl_integration_workspace_free(w);
  gsl_set_error_handler(old);
  free(q);
  free(fq);
}

double lb_w2_marginal(const lb_target *t, size_t i, const double *sorted,
                      size_t n) {
  ivl *iv = lb_xcalloc(n, sizeof *iv);
  intervals(t, i, n, iv);
  double s = 0;
  for (size_t k = 0; k < n; k++) {
    double dx = sorted[k] - iv[k].c;
    s += iv[k].A * (dx * dx + iv[k].V);
  }
  free(iv);
  return s;
}

/* ---- the metric ---------------------------------------------------- */

typedef struct {
  double v;
  size_t i;
} vi;

static int cmp_vi(const void *pa, const void *pb) {
  const vi *a = pa, *b = pb;
  return (a->v > b->v) - (a->v < b->v);
}

/* The interval constants depend on (target, coordinate, n) only: cached
 * in the metric for the last n, so the estimate, the floor and later
 * records of the same size compute them once. */
typedef struct {
  size_t n, d;
  ivl *iv; /* [d][n] */
} w2m_cache;

static void w2m_cache_free(void *vc) {
  w2m_cache *c = vc;
  free(c->iv);
  free(c);
}

static const ivl *w2m_intervals(const lb_metric *cm, size_t n) {
  lb_metric *m = (lb_metric *)cm; /* the cache is the metric's own */
  w2m_cache *c = m->cache;
  if (c && c->n == n && c->d == m->dim) return c->iv;
  if (c) w2m_cache_free(c);
  c = lb_xcalloc(1, sizeof *c);
  c->n = n;
  c->d = m->dim;
  c->iv = lb_xcalloc(n * m->dim, sizeof(ivl));
  long dd = (long)m->dim;
#pragma omp parallel for schedule(dynamic, 1)
  for (long k = 0; k < dd; k++)
    intervals(m->target, (size_t)k, n, c->iv + (size_t)k * n);
  m->cache = c;
  m->cache_free = w2m_cache_free;
  return c->iv;
}

/* Workspace.  The chains are relabelled by their rank in coordinate 0:
 * the bootstrap counts w are exchangeable (multinomial with equal cells),
 * so reading w[j] as the count of the j-th smallest coordinate-0 value
 * gives the same law, and coordinate 0 is read in order.  rank[c][j] is
 * the relabelled chain of the j-th smallest value of coordinate c >= 1. */
typedef struct {
  size_t n, d;
  double *sorted; /* [d][n] */
  size_t *rank;   /* [d][n], row 0 unused */
  const ivl *iv;  /* [d][n], the metric's cache */
} w2m_ws;

static void *w2m_prepare(const lb_metric *m, const double *x, size_t n) {
  size_t d = m->dim;
  w2m_ws *ws = lb_xcalloc(1, sizeof *ws);
  ws->n = n;
  ws->d = d;
  ws->sorted = lb_xcalloc(n * d, sizeof(double));
  ws->rank = lb_xcalloc(n * d, sizeof(size_t));
  vi *buf = lb_xcalloc(n, sizeof *buf);
  size_t *lab = lb_xcalloc(n, sizeof *lab); /* chain -> coordinate-0 rank */
  for (size_t c = 0; c < d; c++) {
    for (size_t i = 0; i < n; i++) {
      buf[i].v = x[i * d + c];
      buf[i].i = i;
    }
    qsort(buf, n, sizeof *buf, cmp_vi);
    for (size_t i = 0; i < n; i++) {
      ws->sorted[c * n + i] = buf[i].v;
      if (c == 0)
        lab[buf[i].i] = i;
      else
        ws->rank[c * n + i] = lab[buf[i].i];
    }
  }
  free(lab);
  free(buf);
  ws->iv = w2m_intervals(m, n);
  return ws;
}

/* sum over the resampled order statistics of A_k ((x - c_k)^2 + V_k):
 * value j, with count cnt, fills positions k .. k+cnt-1.  Counts <= 3
 * (98% of a multinomial's) take a branch-free path. */
static inline double w2m_term(const ivl *v, double x) {
  double dx = x - v->c;
  return v->A * (dx * dx + v->V);
}

static inline double w2m_run(const ivl *iv, size_t k, size_t n, double x,
                             unsigned cnt) {
  if (__builtin_expect(cnt <= 3 && k + 3 <= n, 1)) {
    /* masks from comparisons: no branch on the count */
    double m0 = (double)(cnt > 0), m1 = (double)(cnt > 1),
           m2 = (double)(cnt > 2);
    return m0 * w2m_term(iv + k, x) + m1 * w2m_term(iv + k + 1, x) +
           m2 * w2m_term(iv + k + 2, x);
  }
  double s = 0;
  for (unsigned r = 0; r < cnt; r++) s += w2m_term(iv + k + r, x);
  return s;
}

static double w2m_value(const lb_metric *m, void *vws, const unsigned *w) {
  (void)m;
  w2m_ws *ws = vws;
  size_t n = ws->n;
  double total = 0;
  /* Coordinates >= 1 gather the counts in random order: from a byte copy
   * (n bytes stay in L2 where 4n do not), unless some count exceeds 255. */
  unsigned char *w8 = NULL;
  if (w && ws->d > 1) {
    w8 = lb_xcalloc(n, 1);
    unsigned mx = 0;
    for (size_t i = 0; i < n; i++) {
      mx |= w[i];
      w8[i] = (unsigned char)w[i];
    }
    if (mx > 255) {
      free(w8);
      w8 = NULL;
    }
  }
  for (size_t c = 0; c < ws->d; c++) {
    const double *xs = ws->sorted + c * n;
    const size_t *rk = ws->rank + c * n;
    const ivl *iv = ws->iv + c * n;
    double s = 0;
    if (!w) {
      for (size_t j = 0; j < n; j++) {
        double dx = xs[j] - iv[j].c;
        s += iv[j].A * (dx * dx + iv[j].V);
      }
    } else if (c == 0 || !w8) {
      size_t k = 0;
      for (size_t j = 0; j < n; j++) {
        unsigned cnt = w[c == 0 ? j : rk[j]];
        s += w2m_run(iv, k, n, xs[j], cnt);
        k += cnt;
      }
    } else {
      size_t k = 0;
      for (size_t j = 0; j < n; j++) {
        unsigned cnt = w8[rk[j]];
        s += w2m_run(iv, k, n, xs[j], cnt);
        k += cnt;
      }
    }
    total += sqrt(s > 0 ? s : 0);
  }
  free(w8);
  return total / (double)ws->d;
}

static void w2m_release(void *vws) {
  w2m_ws *ws = vws;
  free(ws->sorted);
  free(ws->rank);
  free(ws);
}

const lb_metric_type lb_metric_w2_marg = {
    .name = "w2_marg",
    .help = "mean over coordinates of the exact 1-D W2 between the sample "
            "marginal and the\n"
            "target marginal (its CDF inverted on quantile intervals; no "
            "reference sample).\n"
            "SE: bootstrap over chains\n"
            "boot=200   bootstrap replicates\n"
            "max=0      subsample larger samples to this size (0: never)",
    .max_dim = 0,
    .init = lb_metric_init_bootstrap,
    .prepare = w2m_prepare,
    .value = w2m_value,
    .release = w2m_release,
};
