/* test_metrics.c -- the distance metrics against exact answers.
 *
 * GPL-3.0-or-later.
 *
 * Deterministic building blocks (assignment, sorting, kd-tree, 1-D W2
 * against the quantile function, Gaussian closed forms, Sinkhorn) are
 * checked to rounding or against a proven bound.  Statistical checks use
 * fixed seeds and a tolerance of LB_TEST_NSE (5) standard errors computed
 * from the sample -- the metric's own reported SE -- plus, for biased
 * estimators, the documented bias allowance: the noise floor, which is
 * the same estimator's value on exact samples of the same size.
 */
#include <criterion/criterion.h>
#include <gsl/gsl_cdf.h>
#include <gsl/gsl_randist.h>
#include <hdf5.h>
#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "metrics.h"
#include "rng.h"
#include "testutil.h"

/* ------------------------------------------------------------------ */
/* Hand-built targets                                                  */

/* "tg": independent N(mu_i, sd_i^2) coordinates. */
typedef struct {
  size_t d;
  double mu[16], sd[16];
} tg_state;

static double tg_pot(const void *vs, const double *x) {
  const tg_state *s = vs;
  double f = 0;
  for (size_t i = 0; i < s->d; i++) {
    double z = (x[i] - s->mu[i]) / s->sd[i];
    f += 0.5 * z * z;
  }
  return f;
}

static void tg_grad(const void *vs, const double *x, double *g) {
  const tg_state *s = vs;
  for (size_t i = 0; i < s->d; i++)
    g[i] = (x[i] - s->mu[i]) / (s->sd[i] * s->sd[i]);
}

static void tg_sample(const void *vs, gsl_rng *r, double *x) {
  const tg_state *s = vs;
  for (size_t i = 0; i < s->d; i++)
    x[i] = s->mu[i] + s->sd[i] * gsl_ran_gaussian_ziggurat(r, 1.0);
}

static double tg_cdf(const void *vs, size_t i, double v) {
  const tg_state *s = vs;
  return gsl_cdf_ugaussian_P((v - s->mu[i]) / s->sd[i]);
}

static size_t tg_mode(const void *vs, const double *x) {
  (void)vs;
  (void)x;
  return 0;
}

static const lb_target_type tg_type = {
    .name = "tg",
    .help = "",
    .free = free,
    .potential = tg_pot,
    .grad = tg_grad,
    .sample = tg_sample,
    .marginal_cdf = tg_cdf,
    .mode_of = tg_mode,
};

static lb_target *tg_make(size_t d, const double *mu, const double *sd) {
  lb_target *t = lb_xcalloc(1, sizeof *t);
  tg_state *s = lb_xcalloc(1, sizeof *s);
  s->d = d;
  t->type = &tg_type;
  t->state = s;
  t->dim = d;
  t->n_modes = 1;
  lb_target_alloc_truth(t);
  t->log_z = 0;
  for (size_t i = 0; i < d; i++) {
    s->mu[i] = mu ? mu[i] : 0;
    s->sd[i] = sd ? sd[i] : 1;
    t->mean[i] = s->mu[i];
    t->cov[i * d + i] = s->sd[i] * s->sd[i];
    t->log_z += log(sqrt(2 * M_PI) * s->sd[i]);
  }
  t->mode_weight[0] = 1;
  return t;
}

/* "tm": 1-D mixture 0.3 N(-2, 1) + 0.7 N(2, 1); mode_of = sign. */
static size_t tm_mode(const void *vs, const double *x) {
  (void)vs;
  return x[0] >= 0;
}

static void tm_sample(const void *vs, gsl_rng *r, double *x) {
  (void)vs;
  x[0] = (gsl_rng_uniform(r) < 0.3 ? -2 : 2) + gsl_ran_gaussian_ziggurat(r, 1);
}

static const lb_target_type tm_type = {
    .name = "tm",
    .help = "",
    .sample = tm_sample,
    .mode_of = tm_mode,
};

static lb_target *tm_make(void) {
  lb_target *t = lb_xcalloc(1, sizeof *t);
  t->type = &tm_type;
  t->dim = 1;
  t->n_modes = 2;
  lb_target_alloc_truth(t);
  t->mean[0] = 0.3 * -2 + 0.7 * 2;
  t->cov[0] = 1 + 4 - t->mean[0] * t->mean[0];
  t->mode_weight[0] = 0.3;
  t->mode_weight[1] = 0.7;
  return t;
}

/* n x d draws of N(mu, sd^2) per coordinate. */
static double *gauss_sample(size_t n, size_t d, double mu, double sd,
                            uint64_t seed) {
  gsl_rng *r = lb_rng_alloc();
  lb_rng_seed(r, seed, 0, 0);
  double *x = lb_xcalloc(n * d, sizeof(double));
  for (size_t i = 0; i < n * d; i++)
    x[i] = mu + sd * gsl_ran_gaussian_ziggurat(r, 1.0);
  gsl_rng_free(r);
  return x;
}

static lb_metric_result eval(const char *spec, lb_target *t, const double *x,
                             size_t n) {
  lb_metric *m = NULL;
  lb_err e = {{0}};
  int rc = lb_metric_alloc(spec, t, &m, &e);
  cr_assert_eq(rc, LB_OK, "%s: %s", spec, e.msg);
  lb_metric_result res;
  rc = lb_metric_eval(m, x, n, 7, 0, &res, &e);
  cr_assert_eq(rc, LB_OK);
  lb_metric_free(m);
  return res;
}

/* |estimate - exact| <= NSE * se + floor (the documented bias bound). */
static void expect_near(const char *what, lb_metric_result r, double exact) {
  double tol = LB_TEST_NSE * r.se + fabs(r.floor);
  cr_log_info("%s: estimate %.6g exact %.6g se %.3g floor %.3g", what,
              r.estimate, exact, r.se, r.floor);
  cr_expect(isfinite(r.estimate) && isfinite(r.se) && r.se > 0,
            "%s: estimate %g se %g", what, r.estimate, r.se);
  cr_expect(fabs(r.estimate - exact) <= tol,
            "%s: estimate %.6g vs exact %.6g, tolerance %.3g = %g se + floor "
            "%.3g",
            what, r.estimate, exact, tol, LB_TEST_NSE, r.floor);
}

/* ------------------------------------------------------------------ */
/* Assignment                                                          */

static double brute(const double *c, size_t n, size_t k, int *used) {
  if (k == n) return 0;
  double best = HUGE_VAL;
  for (size_t j = 0; j < n; j++)
    if (!used[j]) {
      used[j] = 1;
      double v = c[k * n + j] + brute(c, n, k + 1, used);
      used[j] = 0;
      if (v < best) best = v;
    }
  return best;
}

static void check_perm(const long *col, size_t n) {
  int seen[16] = {0};
  for (size_t i = 0; i < n; i++) {
    cr_assert(col[i] >= 0 && (size_t)col[i] < n);
    cr_assert(!seen[col[i]], "column %ld assigned twice", col[i]);
    seen[col[i]] = 1;
  }
}

Test(assign, equals_bruteforce_small) {
  gsl_rng *r = lb_rng_alloc();
  lb_rng_seed(r, 11, 0, 0);
  double c[49], x[14], y[14];
  long col[7];
  int used[7];
  for (size_t n = 1; n <= 7; n++)
    for (int rep = 0; rep < 40; rep++) {
      /* dense: integer costs with many ties, or continuous */
      for (size_t k = 0; k < n * n; k++)
        c[k] = rep % 2 ? (double)gsl_rng_uniform_int(r, 4)
                       : gsl_rng_uniform(r) * 10;
      memset(used, 0, sizeof used);
      double best = brute(c, n, 0, used);
      double got = lb_assign_dense(c, n, col);
      check_perm(col, n);
      double sum = 0;
      for (size_t i = 0; i < n; i++) sum += c[i * n + col[i]];
      cr_expect(fabs(sum - got) <= 1e-12 * (1 + fabs(got)));
      cr_expect(fabs(got - best) <= 1e-12 * (1 + best),
                "dense n=%zu rep %d: %.17g vs brute force %.17g", n, rep, got,
                best);
      /* squared Euclidean between random 2-D points */
      for (size_t k = 0; k < 2 * n; k++) {
        x[k] = gsl_ran_gaussian(r, 1);
        y[k] = gsl_ran_gaussian(r, 1) + 0.5;
      }
      for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < n; j++) {
          double a = x[2 * i] - y[2 * j], b = x[2 * i + 1] - y[2 * j + 1];
          c[i * n + j] = a * a + b * b;
        }
      memset(used, 0, sizeof used);
      best = brute(c, n, 0, used);
      got = lb_assign_sqeuclid(x, y, n, 2, col);
      check_perm(col, n);
      cr_expect(fabs(got - best) <= 1e-12 * (1 + best),
                "sqeuclid n=%zu rep %d: %.17g vs brute force %.17g", n, rep,
                got, best);
      double w = lb_w2_empirical(x, y, n, 2);
      cr_expect(fabs(w * w * (double)n - best) <= 1e-12 * (1 + best));
    }
  gsl_rng_free(r);
}

/* Larger instances: the d = 2 fast path, the generic path and the dense
 * matrix path agree, and no pair of rows can swap columns profitably. */
Test(assign, larger_instances_consistent_and_2opt) {
  const size_t n = 300;
  for (size_t d = 1; d <= 3; d++) {
    double *x = gauss_sample(n, d, 0, 1, 21 + d);
    double *y = gauss_sample(n, d, 0.3, 1.2, 31 + d);
    double *c = lb_xcalloc(n * n, sizeof(double));
    for (size_t i = 0; i < n; i++)
      for (size_t j = 0; j < n; j++) {
        double s = 0;
        for (size_t k = 0; k < d; k++)
          s += (x[i * d + k] - y[j * d + k]) * (x[i * d + k] - y[j * d + k]);
        c[i * n + j] = s;
      }
    long *col = lb_xcalloc(n, sizeof(long)), *col2 = lb_xcalloc(n, sizeof(long));
    double a = lb_assign_sqeuclid(x, y, n, d, col);
    double b = lb_assign_dense(c, n, col2);
    cr_expect(fabs(a - b) <= 1e-10 * a, "d=%zu: %.17g vs %.17g", d, a, b);
    for (size_t i = 0; i < n; i++)
      for (size_t j = i + 1; j < n; j++) {
        double now = c[i * n + col[i]] + c[j * n + col[j]];
        double swapped = c[i * n + col[j]] + c[j * n + col[i]];
        if (swapped < now - 1e-12 * (1 + now))
          cr_expect(0, "d=%zu: rows %zu and %zu improve by swapping", d, i, j);
      }
    if (d == 1) { /* in 1-D the optimum pairs order statistics */
      double *xs = lb_xcalloc(n, sizeof(double)), *ys = lb_xcalloc(n, sizeof(double));
      memcpy(xs, x, n * sizeof(double));
      memcpy(ys, y, n * sizeof(double));
      lb_sort_doubles(xs, n);
      lb_sort_doubles(ys, n);
      double s = 0;
      for (size_t i = 0; i < n; i++) s += (xs[i] - ys[i]) * (xs[i] - ys[i]);
      cr_expect(fabs(a - s) <= 1e-10 * s, "1-D: %.17g vs sorted %.17g", a, s);
      free(xs);
      free(ys);
    }
    free(x);
    free(y);
    free(c);
    free(col);
    free(col2);
  }
}

/* ------------------------------------------------------------------ */
/* Sorting and kd-tree                                                 */

static int cmpd(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

Test(sort, radix_matches_qsort) {
  const size_t n = 100000;
  double *a = gauss_sample(n, 1, 0, 3, 5), *b = lb_xcalloc(n, sizeof(double));
  for (size_t i = 0; i < n; i += 97) a[i] = 0.0;
  for (size_t i = 1; i < n; i += 101) a[i] = -0.0;
  a[7] = HUGE_VAL;
  a[8] = -HUGE_VAL;
  a[9] = 1e-310; /* subnormal */
  memcpy(b, a, n * sizeof(double));
  lb_sort_doubles(a, n);
  qsort(b, n, sizeof(double), cmpd);
  for (size_t i = 0; i < n; i++) cr_assert(a[i] == b[i], "at %zu", i);
  free(a);
  free(b);
}

Test(knn, kdtree_matches_bruteforce) {
  const size_t n = 2000, d = 3;
  const int k = 3;
  double *p = gauss_sample(n, d, 0, 1, 9);
  for (size_t i = 0; i < 100; i++) /* exact duplicates */
    memcpy(p + (n - 1 - i) * d, p + i * d, d * sizeof(double));
  lb_kdtree *t = lb_kdtree_build(p, n, d);
  double *q = gauss_sample(200, d, 0, 1.5, 10);
  for (size_t qi = 0; qi < 400; qi++) {
    const double *qq = qi < 200 ? q + qi * d : p + (qi - 200) * d;
    double best[3] = {HUGE_VAL, HUGE_VAL, HUGE_VAL};
    size_t zeros = 0;
    for (size_t i = 0; i < n; i++) {
      double s = 0;
      for (size_t l = 0; l < d; l++) s += (p[i * d + l] - qq[l]) * (p[i * d + l] - qq[l]);
      if (s == 0) {
        zeros++;
        continue;
      }
      for (int a = 0; a < k; a++)
        if (s < best[a]) {
          for (int b = k - 1; b > a; b--) best[b] = best[b - 1];
          best[a] = s;
          break;
        }
    }
    double dist[3];
    size_t z;
    int found = lb_kdtree_knn(t, qq, k, dist, &z);
    cr_assert_eq(found, k);
    cr_expect_eq(z, zeros, "query %zu: %zu zeros, brute force %zu", qi, z, zeros);
    for (int a = 0; a < k; a++)
      cr_expect(fabs(dist[a] - sqrt(best[a])) <= 1e-12 * sqrt(best[a]),
                "query %zu neighbour %d", qi, a);
  }
  lb_kdtree_free(t);
  free(p);
  free(q);
}

Test(knn, duplicates_guarded) {
  const size_t n = 500, d = 3;
  double *x = gauss_sample(n, d, 0, 1, 3), *y = gauss_sample(n, d, 0, 1, 4);
  for (size_t i = 0; i < 50; i++) memcpy(x + (n - 1 - i) * d, x + i * d, d * sizeof(double));
  size_t dups = 0;
  double v = lb_knn_kl(x, n, y, n, d, 1, &dups);
  cr_expect(isfinite(v), "kl with duplicates: %g", v);
  cr_expect_eq(dups, 100);
  for (size_t i = 1; i < n; i++) memcpy(x + i * d, x, d * sizeof(double));
  v = lb_knn_kl(x, n, y, n, d, 1, &dups);
  cr_expect(isinf(v) && v > 0, "a single repeated point has infinite KL");
  free(x);
  free(y);
}

/* ------------------------------------------------------------------ */
/* Closed forms                                                        */

Test(gauss, closed_forms_1d_dd_general) {
  /* 1-D */
  double m1 = 0.7, s1 = 1.3, m2 = -0.2, s2 = 0.8;
  double c1 = s1 * s1, c2 = s2 * s2;
  double kl = log(s2 / s1) + (c1 + (m1 - m2) * (m1 - m2)) / (2 * c2) - 0.5;
  double w2 = sqrt((m1 - m2) * (m1 - m2) + (s1 - s2) * (s1 - s2));
  cr_expect(fabs(lb_gauss_kl(&m1, &c1, &m2, &c2, 1) - kl) <= 1e-13 * kl);
  cr_expect(fabs(lb_gauss_w2(&m1, &c1, &m2, &c2, 1) - w2) <= 1e-13 * w2);
  /* diagonal 3-D: sums over coordinates */
  double ma[3] = {0.1, -0.5, 2}, mb[3] = {0, 0.3, 1};
  double va[3] = {1, 2, 0.5}, vb[3] = {1.5, 1, 0.25};
  double ca[9] = {0}, cb[9] = {0}, klsum = 0, w2sum = 0;
  for (int i = 0; i < 3; i++) {
    ca[i * 4] = va[i];
    cb[i * 4] = vb[i];
    double dm = ma[i] - mb[i];
    klsum += 0.5 * (va[i] / vb[i] + dm * dm / vb[i] - 1 + log(vb[i] / va[i]));
    w2sum += dm * dm + (sqrt(va[i]) - sqrt(vb[i])) * (sqrt(va[i]) - sqrt(vb[i]));
  }
  cr_expect(fabs(lb_gauss_kl(ma, ca, mb, cb, 3) - klsum) <= 1e-13 * klsum);
  cr_expect(fabs(lb_gauss_w2(ma, ca, mb, cb, 3) - sqrt(w2sum)) <= 1e-13 * sqrt(w2sum));
  /* general 2-D, non-commuting: tr sqrt(M) = sqrt(tr M + 2 sqrt(det M))
   * for 2x2 PSD M = C2^1/2 C1 C2^1/2, tr M = tr C1 C2, det M = det C1 det C2 */
  double C1[4] = {2, 0.5, 0.5, 1}, C2[4] = {1, -0.3, -0.3, 0.5};
  double u[2] = {0.4, -1}, v[2] = {0, 0.2};
  double trc12 = C1[0] * C2[0] + C1[1] * C2[2] + C1[2] * C2[1] + C1[3] * C2[3];
  double det1 = C1[0] * C1[3] - C1[1] * C1[2], det2 = C2[0] * C2[3] - C2[1] * C2[2];
  double dm0 = u[0] - v[0], dm1 = u[1] - v[1];
  double bures = C1[0] + C1[3] + C2[0] + C2[3] -
                 2 * sqrt(trc12 + 2 * sqrt(det1 * det2));
  double w2g = sqrt(dm0 * dm0 + dm1 * dm1 + bures);
  cr_expect(fabs(lb_gauss_w2(u, C1, v, C2, 2) - w2g) <= 1e-12 * w2g,
            "%.17g vs %.17g", lb_gauss_w2(u, C1, v, C2, 2), w2g);
  double i2[4] = {C2[3] / det2, -C2[1] / det2, -C2[2] / det2, C2[0] / det2};
  double tr = i2[0] * C1[0] + i2[1] * C1[2] + i2[2] * C1[1] + i2[3] * C1[3];
  double quad = dm0 * (i2[0] * dm0 + i2[1] * dm1) + dm1 * (i2[2] * dm0 + i2[3] * dm1);
  double klg = 0.5 * (tr + quad - 2 + log(det2 / det1));
  cr_expect(fabs(lb_gauss_kl(u, C1, v, C2, 2) - klg) <= 1e-12 * klg);
  /* identical laws */
  cr_expect(lb_gauss_w2(u, C1, u, C1, 2) <= 1e-7);
  cr_expect(lb_gauss_kl(u, C1, u, C1, 2) <= 1e-14);
  /* singular first covariance: KL infinite, W2 finite */
  double Z[4] = {0};
  cr_expect(isinf(lb_gauss_kl(u, Z, v, C2, 2)));
  cr_expect(isfinite(lb_gauss_w2(u, Z, v, C2, 2)));
}

/* Exact 1-D W2 against N(mu, sd^2): with z_k = Phi^-1(k/n),
 *   W2^2 = sum_k x_(k)^2/n - 2 x_(k) (mu/n + sd (phi(z_{k-1}) - phi(z_k)))
 *          + mu^2 + sd^2. */
static double w2_gauss_closed(const double *xs, size_t n, double mu, double sd) {
  double s = mu * mu + sd * sd;
  for (size_t k = 1; k <= n; k++) {
    double za = k == 1 ? -HUGE_VAL : gsl_cdf_ugaussian_Pinv((double)(k - 1) / (double)n);
    double zb = k == n ? HUGE_VAL : gsl_cdf_ugaussian_Pinv((double)k / (double)n);
    double pa = isinf(za) ? 0 : gsl_ran_ugaussian_pdf(za);
    double pb = isinf(zb) ? 0 : gsl_ran_ugaussian_pdf(zb);
    double x = xs[k - 1];
    s += x * x / (double)n - 2 * x * (mu / (double)n + sd * (pa - pb));
  }
  return s;
}

Test(w2_marg, exact_against_quantile_closed_form) {
  double mu = 0.5, sd = 2;
  lb_target *t = tg_make(1, &mu, &sd);
  size_t sizes[] = {1, 2, 3, 10, 1000};
  for (size_t si = 0; si < 5; si++) {
    size_t n = sizes[si];
    double *x = gauss_sample(n, 1, 0.8, 1.5, 100 + n);
    lb_sort_doubles(x, n);
    double got = lb_w2_marginal(t, 0, x, n);
    double want = w2_gauss_closed(x, n, mu, sd);
    cr_expect(fabs(got - want) <= 1e-8 * want, "n=%zu: %.15g vs %.15g", n,
              got, want);
    free(x);
  }
  /* a sample far in the tails */
  double far[3] = {-40, 0.5, 50};
  cr_expect(fabs(lb_w2_marginal(t, 0, far, 3) - w2_gauss_closed(far, 3, mu, sd)) <=
            1e-8 * w2_gauss_closed(far, 3, mu, sd));
  lb_target_free(t);
  /* the real gaussian target family */
  lb_target *g = NULL;
  lb_err e;
  cr_assert_eq(lb_target_alloc("gaussian:dim=1,var=4", &g, &e), LB_OK, "%s", e.msg);
  double *x = gauss_sample(500, 1, 0.1, 1.9, 77);
  lb_sort_doubles(x, 500);
  double want = w2_gauss_closed(x, 500, 0, 2);
  cr_expect(fabs(lb_w2_marginal(g, 0, x, 500) - want) <= 1e-8 * want);
  free(x);
  lb_target_free(g);
}

/* ------------------------------------------------------------------ */
/* Reference-free metrics                                              */

Test(moments, mean_and_cov_err_hand_built) {
  double mu[2] = {1, -1}, sd[2] = {1, 2};
  lb_target *t = tg_make(2, mu, sd);
  double x[8] = {0, -3, 0, 1, 2, -3, 2, 1}; /* (1 +- 1, -1 +- 2) */
  lb_metric_result r = eval("mean_err", t, x, 4);
  cr_expect(fabs(r.estimate) <= 1e-15);
  r = eval("cov_err", t, x, 4); /* cov = diag(4/3, 16/3) */
  cr_expect(fabs(r.estimate - sqrt(17.0) / 3) <= 1e-14, "%.17g", r.estimate);
  for (int i = 0; i < 4; i++) x[2 * i] += 0.5;
  r = eval("mean_err", t, x, 4);
  cr_expect(fabs(r.estimate - 0.5) <= 1e-15);
  lb_target_free(t);
}

/* The bootstrap SE of a smooth statistic matches its analytic SE. */
Test(moments, bootstrap_se_of_mean_err) {
  lb_target *t = tg_make(1, NULL, NULL);
  const size_t n = 10000;
  double *x = gauss_sample(n, 1, 1, 1, 8);
  lb_metric_result r = eval("mean_err", t, x, n);
  double se = 1 / sqrt((double)n);
  /* relative sd of an SE from B = 200 replicates: 1/sqrt(2 (B-1)) */
  double rel = 1 / sqrt(2.0 * 199);
  cr_expect(fabs(r.se / se - 1) <= LB_TEST_NSE * rel, "se %g vs %g", r.se, se);
  expect_near("mean_err", r, 1.0);
  free(x);
  lb_target_free(t);
}

Test(modes, hand_built_samples) {
  lb_target *t = tm_make();
  double x[10] = {-1, -2, -3, -1, -1, 1, 2, 3, 1, 1};
  lb_metric_result r = eval("modes", t, x, 10); /* weights 0.5/0.5 vs 0.3/0.7 */
  cr_expect(fabs(r.estimate - 0.2) <= 1e-15, "%g", r.estimate);
  cr_expect(r.se > 0);
  double y[10] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10};
  r = eval("modes", t, y, 10); /* 0/1 vs 0.3/0.7 */
  cr_expect(fabs(r.estimate - 0.3) <= 1e-15);
  cr_expect(r.se <= 1e-15, "no resample can move a constant label (se %g)", r.se);
  double z[10] = {-1, -1, -1, 1, 1, 1, 1, 1, 1, 1};
  r = eval("modes", t, z, 10);
  cr_expect(fabs(r.estimate) <= 1e-15);
  lb_target_free(t);
}

Test(w2_marg, statistical_against_gaussian_w2) {
  lb_target *t = tg_make(3, NULL, NULL);
  const size_t n = 20000;
  double *x = gauss_sample(n, 3, 0.2, 1.2, 12);
  lb_metric_result r = eval("w2_marg", t, x, n);
  expect_near("w2_marg", r, sqrt(0.2 * 0.2 + 0.2 * 0.2));
  free(x);
  lb_target_free(t);
}

/* KL between the kernel-smoothed laws N(m, s^2 + h^2) and N(0, 1 + h^2)
 * of one coordinate (the documented estimand of the grid rule). */
static double kl_smoothed(double m, double s2, double h2) {
  double a = s2 + h2, b = 1 + h2;
  return 0.5 * (a / b + m * m / b - 1 + log(b / a));
}

static double sample_sd(const double *x, size_t n, size_t d, size_t c) {
  double m = 0, s = 0;
  for (size_t i = 0; i < n; i++) m += x[i * d + c];
  m /= (double)n;
  for (size_t i = 0; i < n; i++) s += (x[i * d + c] - m) * (x[i * d + c] - m);
  return sqrt(s / (double)(n - 1));
}

Test(kl, grid_1d_and_2d_against_smoothed_closed_form) {
  for (size_t d = 1; d <= 2; d++) {
    lb_target *t = tg_make(d, NULL, NULL);
    const size_t n = 20000;
    double *x = gauss_sample(n, d, 0.5, 1.2, 40 + d);
    lb_metric_result r = eval("kl", t, x, n);
    double want = 0, exact = 0;
    for (size_t c = 0; c < d; c++) {
      double h = sample_sd(x, n, d, c) * pow((double)n, -1.0 / ((double)d + 4));
      want += kl_smoothed(0.5, 1.44, h * h);
      exact += kl_smoothed(0.5, 1.44, 0);
    }
    cr_log_info("kl d=%zu: smoothed estimand %.5g, unsmoothed KL %.5g", d, want,
                exact);
    expect_near(d == 1 ? "kl grid 1-D" : "kl grid 2-D", r, want);
    free(x);
    lb_target_free(t);
  }
}

/* A diverging chain that is still finite (|x| ~ 1e300) must give KL = inf
 * and TV = 1, not an attempt to build a grid over its range. */
Test(kl, grid_survives_overflowing_spread) {
  for (size_t d = 1; d <= 2; d++) {
    lb_target *t = tg_make(d, NULL, NULL);
    const size_t n = 2000;
    double *x = gauss_sample(n, d, 0.0, 1.0, 77 + d);
    x[5 * d] = 1e300;
    x[7 * d] = -1e300;
    lb_metric_result r = eval("kl", t, x, n);
    cr_expect(isinf(r.estimate) && r.estimate > 0, "kl %g", r.estimate);
    r = eval("tv", t, x, n);
    cr_expect_eq(r.estimate, 1.0, "tv %g", r.estimate);
    free(x);
    lb_target_free(t);
  }
}

Test(tv, grid_1d_against_smoothed_closed_form) {
  lb_target *t = tg_make(1, NULL, NULL);
  const size_t n = 20000;
  double *x = gauss_sample(n, 1, 1, 1, 50);
  lb_metric_result r = eval("tv", t, x, n);
  double h = sample_sd(x, n, 1, 0) * pow((double)n, -0.2);
  /* TV(N(1, v), N(0, v)) = 2 Phi(1 / (2 sqrt v)) - 1 */
  double want = 2 * gsl_cdf_ugaussian_P(0.5 / sqrt(1 + h * h)) - 1;
  expect_near("tv", r, want);
  free(x);
  lb_target_free(t);
}

/* ------------------------------------------------------------------ */
/* Two-sample metrics                                                  */

/* The k-NN estimator is only asymptotically unbiased, and its finite-n
 * bias is not shown by the floor (~0 under the null).  Documented in
 * metrics.h: about -22% here (d = 4, n = 4000), -10% at n = 256000; the
 * tolerance adds 25% of the exact value for it. */
Test(kl, knn_against_gaussian_closed_form) {
  const size_t d = 4, n = 4000;
  lb_target *t = tg_make(d, NULL, NULL);
  double *x = gauss_sample(n, d, 0.3, 1.2, 60);
  lb_metric_result r = eval("kl:method=knn", t, x, n);
  double want = (double)d * kl_smoothed(0.3, 1.44, 0);
  cr_log_info("kl knn: estimate %.6g exact %.6g se %.3g floor %.3g", r.estimate,
              want, r.se, r.floor);
  cr_expect(r.se > 0 && fabs(r.floor) <= LB_TEST_NSE * r.se);
  cr_expect(fabs(r.estimate - want) <= LB_TEST_NSE * r.se + fabs(r.floor) + 0.25 * want,
            "kl knn: estimate %g vs exact %g (se %g)", r.estimate, want, r.se);
  /* and with k = 4 neighbours on the same sample */
  r = eval("kl:method=knn,k=4", t, x, n);
  cr_expect(r.estimate > 0 && r.estimate < want + LB_TEST_NSE * r.se);
  free(x);
  lb_target_free(t);
}

Test(w2, statistical_against_gaussian_w2) {
  const size_t d = 2, n = 1000;
  lb_target *t = tg_make(d, NULL, NULL);
  double *x = gauss_sample(n, d, 0.5, 1.3, 70);
  lb_metric_result r = eval("w2", t, x, n);
  double want = sqrt(2 * (0.25 + 0.09));
  expect_near("w2", r, want);
  r = eval("sw2", t, x, n); /* isotropic: every direction gives |dm_theta|,
                               E[W2^2] = 0.09 + 0.25 |theta . (1,1)|^2 avg */
  expect_near("sw2", r, sqrt(0.09 + 0.25));
  free(x);
  lb_target_free(t);
}

/* |S_eps - W2^2| <= eps log n for n-point uniform measures (the optimal
 * permutation plan and the identity plan both have KL = log n), so S_eps
 * must approach the exact assignment's W2^2 linearly in eps.  The
 * potentials are converged to 1e-5 relative marginal error, which moves S
 * by far less than the bound (second order). */
Test(sinkhorn, tends_to_w2_squared) {
  const size_t n = 25, d = 2;
  double *x = gauss_sample(n, d, 0, 1, 80), *y = gauss_sample(n, d, 0.7, 1, 81);
  double w = lb_w2_empirical(x, y, n, d), w2 = w * w;
  double eps[5] = {0.3, 0.1, 0.03, 0.01, 0.003}, err[5];
  for (int k = 0; k < 5; k++) {
    double s = lb_sinkhorn_div(x, n, y, n, d, eps[k], 0.5, 1e-5, 20000);
    err[k] = fabs(s - w2);
    cr_log_info("eps %g: S %.10g, W2^2 %.10g", eps[k], s, w2);
    cr_expect(err[k] <= eps[k] * log((double)n),
              "eps %g: S %.10g vs W2^2 %.10g", eps[k], s, w2);
    if (k > 0) cr_expect(err[k] < err[k - 1], "error grows at eps %g", eps[k]);
  }
  cr_expect(err[4] <= 1e-3 * w2, "at eps 0.003: %g", err[4]);
  /* debiased: S(a, a) = 0 */
  cr_expect(fabs(lb_sinkhorn_div(x, n, x, n, d, 0.05, 0.5, 1e-5, 100000)) <= 1e-9);
  free(x);
  free(y);
}

Test(mmd, unbiased_mean_zero_under_null) {
  const int R = 300;
  const size_t n = 100, d = 2;
  double v[300], w[300];
  for (int k = 0; k < R; k++) {
    double *x = gauss_sample(n, d, 0, 1, 1000 + (uint64_t)k);
    double *y = gauss_sample(n, d, 0, 1, 5000 + (uint64_t)k);
    double *z = gauss_sample(n, d, 0.5, 1, 9000 + (uint64_t)k);
    double sig = lb_median_distance(y, n, d);
    v[k] = lb_mmd2_unbiased(x, n, y, n, d, sig);
    w[k] = lb_mmd2_unbiased(z, n, y, n, d, sig);
    free(x);
    free(y);
    free(z);
  }
  double mean, se;
  lb_test_mean_se(v, (size_t)R, 1, &mean, &se);
  cr_expect(fabs(mean) <= LB_TEST_NSE * se, "null mean %g, se %g", mean, se);
  lb_test_mean_se(w, (size_t)R, 1, &mean, &se);
  cr_expect(mean > LB_TEST_NSE * se, "shifted: mean %g, se %g", mean, se);
}

/* The unbiased estimate's mean is the population MMD^2, in closed form
 * for Gaussian laws and the Gaussian kernel: for z ~ N(m, v I_d),
 *   E exp(-|z|^2 / (2 s^2)) = (s^2 / (s^2 + v))^(d/2) exp(-|m|^2 / (2 (s^2 + v))),
 * applied to x - x', y - y' and x - y.  x ~ N(0, I_2), y ~ N(0.5 1, 1.2^2
 * I_2), sigma = 1, 300 pairs of samples of 150 and 170 points. */
Test(mmd, unbiased_mean_is_the_closed_form) {
  const int R = 300;
  const size_t n = 150, m = 170, d = 2;
  const double s1 = 1.0, s2 = 1.2, mu = 0.5, sig = 1.0;
  double v[300];
  for (int k = 0; k < R; k++) {
    double *x = gauss_sample(n, d, 0, s1, 21000 + (uint64_t)k);
    double *y = gauss_sample(m, d, mu, s2, 41000 + (uint64_t)k);
    v[k] = lb_mmd2_unbiased(x, n, y, m, d, sig);
    free(x);
    free(y);
  }
  double s2g = sig * sig, h = (double)d / 2.0;
  double kxx = pow(s2g / (s2g + 2 * s1 * s1), h);
  double kyy = pow(s2g / (s2g + 2 * s2 * s2), h);
  double vxy = s2g + s1 * s1 + s2 * s2;
  double kxy = pow(s2g / vxy, h) * exp(-(double)d * mu * mu / (2 * vxy));
  double exact = kxx + kyy - 2 * kxy, mean, se;
  lb_test_mean_se(v, (size_t)R, 1, &mean, &se);
  cr_expect(fabs(mean - exact) <= LB_TEST_NSE * se,
            "mean %.6g, closed form %.6g, se %.3g", mean, exact, se);
}

/* sum of exp(-g |x_i - y_j|^2) over i < n, j < m (i != j when same), in
 * long double, sequentially */
static long double ksum_ld(const double *x, size_t n, const double *y,
                           size_t m, size_t d, long double g, int same) {
  long double sum = 0;
  for (size_t i = 0; i < n; i++)
    for (size_t j = 0; j < m; j++) {
      if (same && i == j) continue;
      long double q = 0;
      for (size_t l = 0; l < d; l++) {
        long double t = (long double)x[i * d + l] - y[j * d + l];
        q += t * t;
      }
      sum += expl(-g * q);
    }
  return sum;
}

/* The vector kernel sums (8 partial sums, lb_exp) against a long-double
 * sequential sum with expl: within 1e-13 of the sum of the three terms'
 * magnitudes.  Sizes past the 256-point chunks and not multiples of 8;
 * d = 3. */
Test(mmd, kernel_sums_match_a_long_double_sum) {
  const size_t n = 301, m = 517, d = 3;
  double *x = gauss_sample(n, d, 0, 1, 77), *y = gauss_sample(m, d, 0.3, 1.1, 78);
  const double sig = 0.9, g = 1 / (2 * sig * sig);
  long double sxx = ksum_ld(x, n, x, n, d, g, 1);
  long double syy = ksum_ld(y, m, y, m, d, g, 1);
  long double sxy = ksum_ld(x, n, y, m, d, g, 0);
  long double a = sxx / ((long double)n * (n - 1)), b = syy / ((long double)m * (m - 1)),
              c = sxy / ((long double)n * m);
  double got = lb_mmd2_unbiased(x, n, y, m, d, sig);
  double ref = (double)(a + b - 2 * c), scale = (double)(a + b + 2 * c);
  cr_expect(fabs(got - ref) <= 1e-13 * scale, "MMD^2 %.17g, long double %.17g",
            got, ref);
  free(x);
  free(y);
}

/* ------------------------------------------------------------------ */
/* Lists, parameters, reproducibility                                  */

Test(registry, list_syntax_and_errors) {
  lb_target *t2 = tg_make(2, NULL, NULL), *t3 = tg_make(3, NULL, NULL);
  lb_metric **ms = NULL;
  size_t nm = 0;
  lb_err e = {{0}};
  int rc = lb_metric_list_parse("w2,sw2:proj=200,batches=20,sinkhorn:eps=0.05",
                                t2, &ms, &nm, &e);
  cr_assert_eq(rc, LB_OK, "%s", e.msg);
  cr_assert_eq(nm, 3);
  cr_expect_str_eq(ms[0]->label, "w2");
  cr_expect_str_eq(ms[1]->label, "sw2:proj=200;batches=20");
  cr_expect_eq(ms[1]->reps, 20);
  cr_expect_str_eq(ms[2]->label, "sinkhorn:eps=0.05");
  cr_expect_eq(ms[2]->par[0], 0.05);
  for (size_t k = 0; k < nm; k++) lb_metric_free(ms[k]);
  free(ms);
  /* the ';' form of a label is accepted back */
  lb_metric *m = NULL;
  cr_expect_eq(lb_metric_alloc("sw2:proj=200;batches=20", t2, &m, &e), LB_OK);
  lb_metric_free(m);
  const char *bad[] = {"nope", "proj=3,sw2", "sw2:bogus=1", "w2,,sw2",
                       "sw2:proj=0", "mean_err:batches=3", "w2:boot=3",
                       "kl:method=magic", "w2:max=1"};
  for (size_t k = 0; k < sizeof bad / sizeof *bad; k++) {
    ms = NULL;
    nm = 0;
    e.msg[0] = '\0';
    rc = lb_metric_list_parse(bad[k], t2, &ms, &nm, &e);
    cr_expect_eq(rc, LB_EINPUT, "'%s' accepted", bad[k]);
    cr_expect(strlen(e.msg) > 0 && !strchr(e.msg, '\n'));
    for (size_t i = 0; i < nm; i++) lb_metric_free(ms[i]);
    free(ms);
  }
  /* metrics that cannot apply in d = 3 */
  cr_expect_eq(lb_metric_alloc("tv", t3, &m, &e), LB_EINPUT);
  cr_expect(strstr(e.msg, "dimension") != NULL, "%s", e.msg);
  cr_expect_eq(lb_metric_alloc("kl:method=grid", t3, &m, &e), LB_EINPUT);
  cr_expect(strstr(e.msg, "method=grid") != NULL, "%s", e.msg);
  cr_expect_eq(lb_metric_alloc("kl", t3, &m, &e), LB_OK); /* auto: knn */
  cr_expect_eq(m->se_method, LB_SE_BATCH);
  lb_metric_free(m);
  lb_target_free(t2);
  lb_target_free(t3);
}

Test(registry, reproducible_and_subsampled) {
  lb_target *t = tg_make(2, NULL, NULL);
  const size_t n = 400;
  double *x = gauss_sample(n, 2, 0.1, 1, 90);
  lb_metric_result a = eval("sw2:proj=20", t, x, n);
  lb_metric_result b = eval("sw2:proj=20", t, x, n);
  cr_expect(a.estimate == b.estimate && a.se == b.se && a.floor == b.floor);
  /* the same metric inside a list gives the same numbers */
  lb_metric **ms = NULL;
  size_t nm = 0;
  lb_err e;
  cr_assert_eq(lb_metric_list_parse("mean_err,sw2:proj=20", t, &ms, &nm, &e), LB_OK);
  lb_metric_result c;
  lb_metric_eval(ms[1], x, n, 7, 0, &c, &e);
  cr_expect(a.estimate == c.estimate && a.se == c.se && a.floor == c.floor);
  for (size_t k = 0; k < nm; k++) lb_metric_free(ms[k]);
  free(ms);
  /* another sample set draws other reference samples */
  lb_metric *m;
  lb_metric_alloc("sw2:proj=20", t, &m, &e);
  lb_metric_eval(m, x, n, 7, 1, &c, &e);
  cr_expect(c.floor != a.floor);
  lb_metric_free(m);
  /* subsampling above max */
  lb_metric_result s = eval("w2:max=50", t, x, n);
  cr_expect_eq(s.n, 50);
  s = eval("mmd", t, x, 1);
  cr_expect(isnan(s.estimate) && s.n == 1);
  free(x);
  lb_target_free(t);
}

/* kl knn and sw2 share their work among OpenMP threads; the numbers must
 * not depend on how many. */
Test(registry, thread_count_does_not_change_results) {
  const size_t n = 3000, d = 3;
  double *x = gauss_sample(n, d, 0.2, 1.1, 95), *y = gauss_sample(n, d, 0, 1, 96);
  lb_target *t = tg_make(d, NULL, NULL);
  double v[2];
  lb_metric_result r[2];
  for (int k = 0; k < 2; k++) {
    omp_set_num_threads(k + 1);
    v[k] = lb_knn_kl(x, n, y, n, d, 2, NULL);
    r[k] = eval("sw2:proj=16", t, x, n);
  }
  cr_expect(v[0] == v[1], "knn %.17g vs %.17g", v[0], v[1]);
  cr_expect(r[0].estimate == r[1].estimate && r[0].se == r[1].se &&
            r[0].floor == r[1].floor);
  lb_target_free(t);
  free(x);
  free(y);
}

/* ------------------------------------------------------------------ */
/* The command line: bad input exits 2 with one line                   */

static char runfile[512], run3[512];

static void make_runs(void) {
  snprintf(runfile, sizeof runfile, "%s/run2.h5", lb_test_tmpdir());
  snprintf(run3, sizeof run3, "%s/run3.h5", lb_test_tmpdir());
  char args[2048], err[512];
  snprintf(args, sizeof args,
           "sample --target gaussian:dim=2 --sampler lmc --step 0.1 --steps 5 "
           "--chains 200 --seed 3 --out '%s'",
           runfile);
  cr_assert_eq(lb_test_cli(args, err, sizeof err), 0, "%s", err);
  snprintf(args, sizeof args,
           "sample --target gaussian:dim=3 --sampler lmc --step 0.1 --steps 5 "
           "--chains 200 --seed 3 --record-every 0 --out '%s'",
           run3);
  cr_assert_eq(lb_test_cli(args, err, sizeof err), 0, "%s", err);
}

static void expect_exit2(const char *args) {
  char err[512];
  int rc = lb_test_cli(args, err, sizeof err);
  cr_expect_eq(rc, 2, "'%s' exited %d (%s)", args, rc, err);
  cr_expect(strncmp(err, "langbench metrics: ", 19) == 0 ||
                strncmp(err, "langbench exact: ", 17) == 0,
            "'%s': message '%s'", args, err);
}

Test(cli, metrics_bad_input_exit_2) {
  make_runs();
  char args[2048];
  const char *dir = lb_test_tmpdir();
  /* not a langbench run: an empty HDF5 file, a text file, no file */
  char empty[600], text[600], nosamples[600];
  snprintf(empty, sizeof empty, "%s/empty.h5", dir);
  hid_t f = H5Fcreate(empty, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
  cr_assert(f >= 0);
  H5Fclose(f);
  snprintf(text, sizeof text, "%s/text.h5", dir);
  FILE *tf = fopen(text, "w");
  fputs("not hdf5\n", tf);
  fclose(tf);
  snprintf(args, sizeof args, "metrics '%s'", empty);
  expect_exit2(args);
  snprintf(args, sizeof args, "metrics '%s'", text);
  expect_exit2(args);
  snprintf(args, sizeof args, "metrics '%s/missing.h5'", dir);
  expect_exit2(args);
  /* a run without /samples */
  snprintf(nosamples, sizeof nosamples, "%s/nosamples.h5", dir);
  snprintf(args, sizeof args, "cp '%s' '%s'", runfile, nosamples);
  cr_assert_eq(system(args), 0);
  f = H5Fopen(nosamples, H5F_ACC_RDWR, H5P_DEFAULT);
  cr_assert(f >= 0);
  cr_assert(H5Ldelete(f, "samples", H5P_DEFAULT) >= 0);
  H5Fclose(f);
  snprintf(args, sizeof args, "metrics '%s'", nosamples);
  expect_exit2(args);
  /* unknown metric, bad parameters, inapplicable metrics, bad options */
  const char *opts[] = {"--metrics nope", "--metrics sw2:proj=x",
                        "--metrics proj=3", "--format xml", "--seed -1",
                        "--step-index 6", "--step-index x", "--bogus 1",
                        "--metrics"};
  for (size_t k = 0; k < sizeof opts / sizeof *opts; k++) {
    snprintf(args, sizeof args, "metrics '%s' %s", runfile, opts[k]);
    expect_exit2(args);
  }
  snprintf(args, sizeof args, "metrics '%s' --metrics kl:method=grid", run3);
  expect_exit2(args);
  snprintf(args, sizeof args, "metrics '%s' --metrics tv", run3);
  expect_exit2(args);
  snprintf(args, sizeof args, "metrics '%s' --step-index all", run3); /* none */
  expect_exit2(args);
  expect_exit2("metrics");
  /* and the good cases exit 0 */
  char err[512];
  snprintf(args, sizeof args, "metrics '%s' --metrics mean_err,kl --format json", run3);
  cr_expect_eq(lb_test_cli(args, err, sizeof err), 0, "%s", err);
  snprintf(args, sizeof args, "metrics '%s'", run3); /* default list, no tv */
  cr_expect_eq(lb_test_cli(args, err, sizeof err), 0, "%s", err);
  cr_expect_eq(lb_test_cli("metrics --help", err, sizeof err), 0);
}
