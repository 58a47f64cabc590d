/* test_underdamped.c -- underdamped Langevin: the ULMC coefficients, and
 * the conformance of ulmc, urlmc and uplmc with their exact laws.
 * GPL-3.0-or-later.
 *
 * On a centred Gaussian target with diagonal precision each underdamped
 * sampler moves the pair (U_i, V_i) as y_i' = A_i y_i + n_i with a random
 * 2x2 matrix (sampler.h, gauss_law2), so the exact mean and covariance of
 * (U, V) after T steps follow from the block recursion of udlaw.h.  Chains
 * start at the point U = 1, V = -0.5 (--init point:x=1,v=-0.5); short
 * runs test the transient, long runs the stationary law.  Each mean and
 * each entry of the 2d x 2d covariance of (U, V) must agree with the exact
 * value within LB_TEST_NSE (5) standard errors computed from the sample.
 *
 * The same check must reject the exact laws of urlmc's two classic
 * mistakes (independent midpoint noise; the weight G_h instead of
 * h A_delta e_v): the laws are written out below, and
 * urlmc_mistakes_are_rejected shows the check fails on them.
 * uplmc: fast and fine forms against the same law, K = inf as the limit
 * of the finite-K laws, option 2 against urlmc (the control variate), NFE,
 * divergence, the coupled mode against ulmc(alpha/K), and the list form
 * of the uncoupled fast form bit for bit against the general form.
 */
#include <criterion/criterion.h>
#include <criterion/parameterized.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dynamics.h"
#include "io.h"
#include "sampler.h"
#include "simulate.h"
#include "testutil.h"
#include "udlaw.h"
#include "vmath.h"

/* ---- the ULMC coefficients ------------------------------------------------
 * Scaling relations (algorithms.md section 1), per coordinate:
 *   A_h^n = A_{nh},  sum_{i<n} A_h^i G_h = G_{nh},
 *   sum_{i<n} A_h^i Sigma_h (A_h^T)^i = Sigma_{nh},
 * and the Cholesky factor reproduces Sigma_h, for gamma h in [1e-8, 50].
 * Tolerance: 64 n eps relative per entry (n products of 2x2 matrices). */

static double relerr(double a, double b) {
  double s = fabs(a) > fabs(b) ? fabs(a) : fabs(b);
  return s > 0 ? fabs(a - b) / s : 0.0;
}

Test(ulmc_coefs, scaling_relations) {
  const double gh[] = {1e-8, 1e-6, 1e-4, 1e-2, 0.3, 0.999, 1.0, 1.001, 3.0, 50.0};
  const double gammas[] = {2.0, 0.1, 30.0};
  const long ns[] = {2, 7, 64};
  for (size_t ig = 0; ig < 3; ig++)
    for (size_t k = 0; k < sizeof gh / sizeof gh[0]; k++)
      for (size_t in = 0; in < 3; in++) {
        double g = gammas[ig], h = gh[k] / g;
        long n = ns[in];
        double tol = 64.0 * (double)n * 2.220446049250313e-16;
        lb_ud_coef c, cn;
        lb_ud_coefs(g, h, &c);
        lb_ud_coefs(g, (double)n * h, &cn);
        /* Cholesky */
        cr_expect(relerr(c.L11 * c.L11, c.vU) < tol && relerr(c.L11 * c.L21, c.cUV) < tol &&
                      relerr(c.L21 * c.L21 + c.L22 * c.L22, c.vV) < tol,
                  "gamma %g gh %g: Cholesky", g, gh[k]);
        /* powers: P = A^i, accumulate sums */
        double P[4] = {1, 0, 0, 1}, sG[2] = {0, 0}, sS[4] = {0, 0, 0, 0};
        double A[4] = {1, c.K, 0, c.E}, Sg[4] = {c.vU, c.cUV, c.cUV, c.vV};
        for (long i = 0; i < n; i++) {
          sG[0] += P[0] * c.GU + P[1] * c.GV;
          sG[1] += P[2] * c.GU + P[3] * c.GV;
          double T[4]; /* P Sg P^T */
          double PS[4] = {P[0] * Sg[0] + P[1] * Sg[2], P[0] * Sg[1] + P[1] * Sg[3],
                          P[2] * Sg[0] + P[3] * Sg[2], P[2] * Sg[1] + P[3] * Sg[3]};
          T[0] = PS[0] * P[0] + PS[1] * P[1];
          T[1] = PS[0] * P[2] + PS[1] * P[3];
          T[2] = PS[2] * P[0] + PS[3] * P[1];
          T[3] = PS[2] * P[2] + PS[3] * P[3];
          for (int e = 0; e < 4; e++) sS[e] += T[e];
          double Q[4] = {P[0] * A[0] + P[1] * A[2], P[0] * A[1] + P[1] * A[3],
                         P[2] * A[0] + P[3] * A[2], P[2] * A[1] + P[3] * A[3]};
          memcpy(P, Q, sizeof P);
        }
        cr_expect(relerr(P[1], cn.K) < tol && relerr(P[3], cn.E) < tol &&
                      P[0] == 1.0 && P[2] == 0.0,
                  "gamma %g gh %g n %ld: A^n %.17g %.17g vs %.17g %.17g", g, gh[k], n,
                  P[1], P[3], cn.K, cn.E);
        cr_expect(relerr(sG[0], cn.GU) < tol && relerr(sG[1], cn.GV) < tol,
                  "gamma %g gh %g n %ld: G %.17g %.17g vs %.17g %.17g", g, gh[k], n,
                  sG[0], sG[1], cn.GU, cn.GV);
        cr_expect(relerr(sS[0], cn.vU) < tol && relerr(sS[1], cn.cUV) < tol &&
                      relerr(sS[3], cn.vV) < tol,
                  "gamma %g gh %g n %ld: Sigma %.17g %.17g %.17g vs %.17g %.17g %.17g",
                  g, gh[k], n, sS[0], sS[1], sS[3], cn.vU, cn.cUV, cn.vV);
      }
}

/* The series (x < 1) and closed forms (x >= 1) meet continuously, and the
 * small-x values match the leading terms G_U ~ h^2/2, var_U ~ 2 gamma h^3/3. */
Test(ulmc_coefs, series_branch) {
  lb_ud_coef a, b, c;
  double g = 2.0, eps = 1e-9;
  /* series at 1 - eps, closed forms at 1 and 1 + eps: the midpoint of the
   * outer two is the middle one up to O(eps^2) */
  lb_ud_coefs(g, (1.0 - eps) / g, &a);
  lb_ud_coefs(g, 1.0 / g, &b);
  lb_ud_coefs(g, (1.0 + eps) / g, &c);
  cr_expect(relerr(0.5 * (a.GU + c.GU), b.GU) < 1e-14, "G_U %.17g vs %.17g",
            0.5 * (a.GU + c.GU), b.GU);
  cr_expect(relerr(0.5 * (a.vU + c.vU), b.vU) < 1e-14, "var_U %.17g vs %.17g",
            0.5 * (a.vU + c.vU), b.vU);
  double h = 1e-9;
  lb_ud_coefs(g, h, &a);
  cr_expect(relerr(a.GU, h * h / 2 * (1 - g * h / 3)) < 1e-15);
  cr_expect(relerr(a.vU, 2 * g * h * h * h / 3 * (1 - 3 * g * h / 4)) < 1e-15);
  cr_expect(relerr(a.cUV, g * h * h * (1 - g * h)) < 1e-15);
}

/* lb_expm1 (vmath.h, used for 1 - exp(-gamma tau)) against long-double
 * expm1l: within 2 ulp on [-40, 0] (the domain used), 3 ulp on (0, 5]. */
Test(vmath, expm1_within_2ulp) {
  double worst[2] = {0, 0};
  unsigned long s = 12345;
  for (int i = 0; i < 400000; i++) {
    s = s * 6364136223846793005UL + 1442695040888963407UL;
    double u = (double)(s >> 11) * 0x1p-53;
    /* four ranges: [-40, 0], [-1, 0], [-1e-6, 0], (0, 5] */
    double x = i % 4 == 0 ? -40 * u : i % 4 == 1 ? -u : i % 4 == 2 ? -1e-6 * u : 5 * (1 - u);
    long double ref = expm1l((long double)x);
    double rd = (double)ref, ulp = nextafter(fabs(rd), INFINITY) - fabs(rd);
    double err = (double)fabsl((long double)lb_expm1(x) - ref) / ulp;
    int k = x > 0;
    if (err > worst[k]) worst[k] = err;
  }
  cr_expect(worst[0] <= 2.0, "expm1 on [-40, 0]: %.2f ulp", worst[0]);
  cr_expect(worst[1] <= 3.0, "expm1 on (0, 5]: %.2f ulp", worst[1]);
  cr_expect(lb_expm1(0.0) == 0.0 && lb_expm1(-50.0) == -1.0 && lb_expm1(-1e300) == -1.0);
  cr_expect(isnan(lb_expm1(NAN)));
}

/* The block operators compute the per-row coefficients in vector loops;
 * each row must get exactly (bit for bit) what the scalar lb_ud_coefs
 * gives, in the vector body and in the remainder, for durations across
 * both branches, and for arrays of one repeated duration (broadcast). */
static void op_coefs(const lb_dynamics *dy, size_t B, const double *tau,
                     lb_ud_coef *c) {
  size_t ld = lb_block_ld(B);
  double y[2 * LB_BLOCK_MAX], b[LB_BLOCK_MAX], z[2 * LB_BLOCK_MAX];
  const lb_dynamics_type *T = dy->type;
  for (size_t r = 0; r < B; r++) y[r] = 0.0, y[ld + r] = 1.0;
  T->apply_A(dy, B, ld, tau, NULL, y); /* (K, E) */
  for (size_t r = 0; r < B; r++) c[r].K = y[r], c[r].E = y[ld + r];
  for (size_t r = 0; r < B; r++) y[r] = y[ld + r] = 0.0, b[r] = 1.0;
  T->add_G(dy, B, ld, tau, NULL, 1.0, b, y); /* (G_U, G_V) */
  for (size_t r = 0; r < B; r++) c[r].GU = y[r], c[r].GV = y[ld + r];
  for (size_t r = 0; r < B; r++) y[r] = y[ld + r] = 0.0, z[r] = 1.0, z[ld + r] = 0.0;
  T->add_noise(dy, B, ld, tau, NULL, z, y); /* (L11, L21) */
  for (size_t r = 0; r < B; r++) c[r].L11 = y[r], c[r].L21 = y[ld + r];
  for (size_t r = 0; r < B; r++) y[r] = y[ld + r] = 0.0, z[r] = 0.0, z[ld + r] = 1.0;
  T->add_noise(dy, B, ld, tau, NULL, z, y); /* (0, L22) */
  for (size_t r = 0; r < B; r++) c[r].L22 = y[ld + r];
}

/* equal values (bit-identical unless zero: the extraction through y += ...
 * turns -0 into +0) */
static int same(double a, double b) { return a == b; }

Test(ulmc_coefs, block_operators_match_scalar) {
  lb_err e;
  lb_target *t;
  cr_assert_eq(lb_target_alloc("gaussian:dim=1", &t, &e), LB_OK);
  const double gammas[] = {2.0, 0.1, 30.0};
  for (size_t ig = 0; ig < 3; ig++) {
    lb_dynamics dy;
    lb_dynamics_setup(&dy, &lb_dynamics_underdamped, t, gammas[ig]);
    enum { B = 37 }; /* 4 vectors of 8 and a remainder of 5 */
    double tau[B];
    lb_ud_coef c[B], ref;
    for (size_t r = 0; r < B; r++) /* gamma tau from 1e-8 to 50, and 0 */
      tau[r] = r == 0 ? 0.0 : 1e-8 * pow(5e9, (double)(r - 1) / (B - 2)) / gammas[ig];
    for (int rep = 0; rep < 2; rep++) { /* computed, then from the cache */
      op_coefs(&dy, B, tau, c);
      for (size_t r = 0; r < B; r++) {
        lb_ud_coefs(gammas[ig], tau[r], &ref);
        cr_expect(same(c[r].K, ref.K) && same(c[r].E, ref.E) && same(c[r].GU, ref.GU) &&
                      same(c[r].GV, ref.GV) && same(c[r].L11, ref.L11) &&
                      same(c[r].L21, ref.L21) && same(c[r].L22, ref.L22),
                  "gamma %g tau %g: block operator coefficients differ from lb_ud_coefs",
                  gammas[ig], tau[r]);
      }
    }
    /* one repeated duration (broadcast), then a prefix of it */
    double h[64];
    lb_ud_coef c64[64];
    for (size_t r = 0; r < 64; r++) h[r] = 0.37 / gammas[ig];
    lb_ud_coefs(gammas[ig], h[0], &ref);
    const size_t nbs[] = {64, 5};
    for (int k = 0; k < 2; k++) {
      size_t nb = nbs[k];
      op_coefs(&dy, nb, h, c64);
      for (size_t r = 0; r < nb; r++)
        cr_expect(same(c64[r].K, ref.K) && same(c64[r].GU, ref.GU) &&
                      same(c64[r].L11, ref.L11) && same(c64[r].L22, ref.L22),
                  "gamma %g, %zu rows of one duration", gammas[ig], nb);
    }
  }
  lb_target_free(t);
}

/* ---- conformance ---------------------------------------------------------- */

static const char *ud_samplers[] = {
    "ulmc",
    "ulmc:gamma=0.5",
    "urlmc",
    "urlmc:gamma=5",
    "uplmc:K=1",
    "uplmc:K=4",
    "uplmc:K=16",
    "uplmc:K=1024",
    "uplmc:K=4,option=2",
    "uplmc:K=inf",
    "uplmc:K=inf,gamma=0.5",
    "uplmc:K=4,impl=fine",
    "uplmc:K=4,option=2,impl=fine",
};
#define NUD (sizeof ud_samplers / sizeof ud_samplers[0])

static const char *ud_targets[] = {"gaussian:dim=1,var=1",
                                   "gaussian:dim=3,kappa=10"};
static const double ud_h[] = {0.5, 0.25};
static const long ud_short[] = {3, 3}, ud_long[] = {80, 150};

/* Exact mean m[2d] and covariance C[2d x 2d] of (U, V) after T steps from
 * U = 1, V = -0.5, for any per-coordinate law. */
static void exact2(lb_gauss_law2_fn law, const lb_sampler *s,
                   const lb_target *t, double h, long T, double *m,
                   double *C) {
  size_t d = t->dim, n = 2 * d;
  double *prec = calloc(d, sizeof *prec), *ea = calloc(4 * d, sizeof *ea),
         *eaa = calloc(16 * d * d, sizeof *eaa), *en = calloc(4 * d, sizeof *en),
         *S = calloc(n * n, sizeof *S);
  for (size_t i = 0; i < d; i++) {
    prec[i] = 1.0 / t->cov[i * d + i];
    m[i] = 1.0;
    m[d + i] = -0.5;
  }
  for (size_t a = 0; a < n; a++)
    for (size_t b = 0; b < n; b++) S[a * n + b] = m[a] * m[b];
  lb_law2_coefs(law, s, h, prec, d, ea, eaa, en);
  for (long k = 0; k < T; k++) lb_law2_step(d, ea, eaa, en, m, S);
  for (size_t a = 0; a < n; a++)
    for (size_t b = 0; b < n; b++) C[a * n + b] = S[a * n + b] - m[a] * m[b];
  free(prec);
  free(ea);
  free(eaa);
  free(en);
  free(S);
}

/* The sample of (U, V): z[c * 2d + a]. */
static double *state_sample(const lb_run *run, size_t d) {
  size_t N = (size_t)run->chains, n = 2 * d;
  double *z = malloc(N * n * sizeof *z);
  for (size_t c = 0; c < N; c++)
    for (size_t i = 0; i < d; i++) {
      z[c * n + i] = run->samples[c * d + i];
      z[c * n + d + i] = run->velocities[c * d + i];
    }
  return z;
}

/* Number of statistics (means, covariance entries) farther than
 * LB_TEST_NSE standard errors from the law (m, C); the worst in *worst
 * (in standard errors).  Prints the violations when verbose. */
static int law_check(const double *z, size_t N, size_t n, const double *m,
                     const double *C, const char *what, int verbose,
                     double *worst) {
  int bad = 0;
  *worst = 0;
  double *mu = calloc(n, sizeof *mu), *p = malloc(N * sizeof *p);
  for (size_t a = 0; a < n; a++) {
    double se;
    lb_test_mean_se(z + a, N, n, &mu[a], &se);
    double dev = fabs(mu[a] - m[a]) / se;
    if (dev > *worst) *worst = dev;
    if (dev > LB_TEST_NSE) {
      bad++;
      if (verbose) cr_log_error("%s: mean[%zu] %g, exact %g, se %g", what, a, mu[a], m[a], se);
    }
  }
  for (size_t a = 0; a < n; a++)
    for (size_t b = a; b < n; b++) {
      for (size_t c = 0; c < N; c++) p[c] = (z[c * n + a] - mu[a]) * (z[c * n + b] - mu[b]);
      double cv, se;
      lb_test_mean_se(p, N, 1, &cv, &se);
      double dev = fabs(cv - C[a * n + b]) / se;
      if (dev > *worst) *worst = dev;
      if (dev > LB_TEST_NSE) {
        bad++;
        if (verbose)
          cr_log_error("%s: cov[%zu][%zu] %g, exact %g, se %g", what, a, b, cv,
                       C[a * n + b], se);
      }
    }
  free(mu);
  free(p);
  return bad;
}

static void run_from_point(const lb_sampler *s, const lb_target *t, double h,
                           long T, long chains, uint64_t seed, lb_run *run) {
  lb_err e;
  lb_init in;
  cr_assert_eq(lb_init_parse(&in, "point:x=1,v=-0.5", t, &e), LB_OK, "%s", e.msg);
  lb_sim sim = {.target = t, .sampler = s, .init = &in, .step = h, .steps = T,
                .chains = chains, .seed = seed, .threads = 2};
  cr_assert_eq(lb_simulate(&sim, run, NULL, &e), LB_OK, "%s", e.msg);
  cr_assert_not_null(run->velocities);
  lb_init_clear(&in);
}

typedef struct {
  int sampler, target, long_run;
} ud_case;

ParameterizedTestParameters(underdamped, gaussian_law) {
  static ud_case cases[NUD * 4];
  size_t n = 0;
  for (int s = 0; s < (int)NUD; s++)
    for (int t = 0; t < 2; t++)
      for (int l = 0; l < 2; l++) cases[n++] = (ud_case){s, t, l};
  return cr_make_param_array(ud_case, cases, n);
}

ParameterizedTest(ud_case *c, underdamped, gaussian_law) {
  const char *sspec = ud_samplers[c->sampler], *tspec = ud_targets[c->target];
  double h = ud_h[c->target];
  long T = c->long_run ? ud_long[c->target] : ud_short[c->target];
  lb_err e;
  lb_target *t;
  lb_sampler *s;
  cr_assert_eq(lb_target_alloc(tspec, &t, &e), LB_OK, "%s", e.msg);
  cr_assert_eq(lb_sampler_alloc(sspec, t, &s, &e), LB_OK, "%s", e.msg);
  cr_assert_not_null(s->type->gauss_law2, "%s has no gauss_law2", sspec);
  lb_run run = {0};
  long N = 20000;
  run_from_point(s, t, h, T, N, 11 + (uint64_t)c->sampler, &run);
  size_t d = t->dim, n = 2 * d;
  double m[6], C[36], worst;
  exact2(s->type->gauss_law2, s, t, h, T, m, C);
  double *z = state_sample(&run, d);
  char what[128];
  snprintf(what, sizeof what, "%s on %s, T=%ld", sspec, tspec, T);
  cr_expect_eq(law_check(z, (size_t)N, n, m, C, what, 1, &worst), 0,
               "%s: worst %.2f se", what, worst);
  free(z);
  lb_run_clear(&run);
  lb_sampler_free(s);
  lb_target_free(t);
}

/* ---- urlmc's two classic mistakes ------------------------------------------
 * Written out here from the derivation in urlmc.c, with one term changed:
 *  (1) independent midpoint noise: N1 independent of (N2, N3), so the
 *      cross term x = Cov(W_h, N1) of the noise covariance drops out;
 *  (2) the G_h weight: Y' = A_h Y + G_h b(U_mid) + W_h instead of the
 *      velocity kick h A_delta e_v b(U_mid).
 * urlmc_mistakes_are_rejected runs the real urlmc and applies law_check,
 * the check of the conformance test above, to the exact laws of the
 * mistakes: each must fail it (and the correct law pass it). */
static void mistake_law(const lb_sampler *s, double h, double li, double lj,
                        double ea[4], double eaa[16], double en[4], int which) {
  enum { P = 8, G = 16 };
  double gx[G], gw[G], g = s->dyn.gamma;
  lb_gl01(G, gx, gw);
  lb_ud_coef ch;
  lb_ud_coefs(g, h, &ch);
  memset(ea, 0, 4 * sizeof *ea);
  memset(eaa, 0, 16 * sizeof *eaa);
  double Sh[4] = {ch.vU, ch.cUV, ch.cUV, ch.vV};
  memcpy(en, Sh, sizeof Sh);
  for (int p = 0; p < P; p++)
    for (int k = 0; k < G; k++) {
      double a = (p + gx[k]) / P, w = gw[k] / P, t = a * h;
      lb_ud_coef ct, cd;
      lb_ud_coefs(g, t, &ct);
      lb_ud_coefs(g, h - t, &cd);
      /* weight vector of b(U_mid) in the update */
      double c[2];
      if (which == 2) {
        c[0] = ch.GU;
        c[1] = ch.GV;
      } else {
        c[0] = h * cd.K;
        c[1] = h * cd.E;
      }
      double x[2] = {ct.vU + cd.K * ct.cUV, cd.E * ct.cUV};
      if (which == 1) x[0] = x[1] = 0.0;
      double A[4] = {1.0, ch.K, 0.0, ch.E}, Ci[4], Cj[4];
      double ri[2] = {1.0 - li * ct.GU, ct.K}, rj[2] = {1.0 - lj * ct.GU, ct.K};
      for (int q = 0; q < 2; q++)
        for (int m = 0; m < 2; m++) {
          Ci[2 * q + m] = A[2 * q + m] - li * c[q] * ri[m];
          Cj[2 * q + m] = A[2 * q + m] - lj * c[q] * rj[m];
        }
      if (which == 3) { /* + [G_h - h A_delta e_v] b(U), b(U) = -l U */
        double cv[2] = {ch.GU - c[0], ch.GV - c[1]};
        for (int q = 0; q < 2; q++) {
          Ci[2 * q] -= li * cv[q];
          Cj[2 * q] -= lj * cv[q];
        }
      }
      for (int e = 0; e < 4; e++) ea[e] += w * Ci[e];
      lb_kron2_add(w, Ci, Cj, eaa);
      for (int q = 0; q < 2; q++)
        for (int m = 0; m < 2; m++)
          en[2 * q + m] += w * (-li * (x[q] * c[m] + c[q] * x[m]) +
                                li * li * ct.vU * c[q] * c[m]);
    }
}

static void mistake1(const lb_sampler *s, double h, double li, double lj,
                     double ea[4], double eaa[16], double en[4]) {
  mistake_law(s, h, li, lj, ea, eaa, en, 1);
}
static void mistake2(const lb_sampler *s, double h, double li, double lj,
                     double ea[4], double eaa[16], double en[4]) {
  mistake_law(s, h, li, lj, ea, eaa, en, 2);
}
static void correct0(const lb_sampler *s, double h, double li, double lj,
                     double ea[4], double eaa[16], double en[4]) {
  mistake_law(s, h, li, lj, ea, eaa, en, 0);
}

Test(underdamped, urlmc_mistakes_are_rejected) {
  lb_err e;
  lb_target *t;
  lb_sampler *s;
  cr_assert_eq(lb_target_alloc("gaussian:dim=1,var=1", &t, &e), LB_OK);
  cr_assert_eq(lb_sampler_alloc("urlmc", t, &s, &e), LB_OK);
  /* h = 1 (gamma h = 2): at h = 0.5 the G_h chain's law differs from
   * urlmc's by less than one standard error of 20000 chains */
  const long Ts[] = {3, 60};
  const double h = 1.0;
  long N = 40000;
  int rej1 = 0, rej2 = 0;
  for (int k = 0; k < 2; k++) {
    lb_run run = {0};
    run_from_point(s, t, h, Ts[k], N, 5 + (uint64_t)k, &run);
    double *z = state_sample(&run, 1), m[2], C[4], w0, w1, w2;
    exact2(correct0, s, t, h, Ts[k], m, C);
    cr_expect_eq(law_check(z, (size_t)N, 2, m, C, "test's own urlmc law", 1, &w0), 0);
    exact2(mistake1, s, t, h, Ts[k], m, C);
    rej1 += law_check(z, (size_t)N, 2, m, C, "mistake 1", 0, &w1) > 0;
    exact2(mistake2, s, t, h, Ts[k], m, C);
    rej2 += law_check(z, (size_t)N, 2, m, C, "mistake 2", 0, &w2) > 0;
    cr_log_info("urlmc T=%ld: worst deviation %.1f se (correct law), %.1f "
                "(independent noise), %.1f (G_h weight)", Ts[k], w0, w1, w2);
    free(z);
    lb_run_clear(&run);
  }
  cr_expect_gt(rej1, 0, "independent midpoint noise not rejected");
  cr_expect_gt(rej2, 0, "G_h weight not rejected");
  lb_sampler_free(s);
  lb_target_free(t);
}

/* ---- NFE, divergence, velocities on file --------------------------------- */

Test(underdamped, nfe_exact) {
  const char *specs[] = {"ulmc", "urlmc"};
  const long per[] = {1, 2};
  lb_err e;
  lb_target *t;
  cr_assert_eq(lb_target_alloc("gmm:preset=ring8", &t, &e), LB_OK);
  for (int k = 0; k < 2; k++) {
    lb_sampler *s;
    lb_init in;
    cr_assert_eq(lb_sampler_alloc(specs[k], t, &s, &e), LB_OK);
    cr_assert_eq(lb_init_parse(&in, NULL, t, &e), LB_OK);
    lb_sim sim = {.target = t, .sampler = s, .init = &in, .step = 0.1,
                  .steps = 40, .chains = 200, .seed = 3, .threads = 2};
    lb_run run = {0};
    cr_assert_eq(lb_simulate(&sim, &run, NULL, &e), LB_OK);
    for (long c = 0; c < sim.chains; c++)
      cr_expect_eq(run.nfe[c], 40 * per[k], "%s: chain %ld spent %ld", specs[k], c,
                   (long)run.nfe[c]);
    lb_run_clear(&run);
    lb_init_clear(&in);
    lb_sampler_free(s);
  }
  lb_target_free(t);
}

Test(underdamped, divergence_is_flagged) {
  /* h = 20 on precision 1: 1 - G_U ~ -h/2, the recursion grows like
   * (h/2)^t and overflows long before 5000 steps */
  const char *specs[] = {"ulmc", "urlmc"};
  lb_err e;
  lb_target *t;
  cr_assert_eq(lb_target_alloc("gaussian:dim=2,var=1", &t, &e), LB_OK);
  for (int k = 0; k < 2; k++) {
    lb_sampler *s;
    lb_init in;
    cr_assert_eq(lb_sampler_alloc(specs[k], t, &s, &e), LB_OK);
    cr_assert_eq(lb_init_parse(&in, NULL, t, &e), LB_OK);
    lb_sim sim = {.target = t, .sampler = s, .init = &in, .step = 20,
                  .steps = 5000, .chains = 10, .seed = 1, .threads = 1};
    lb_run run = {0};
    cr_assert_eq(lb_simulate(&sim, &run, NULL, &e), LB_OK);
    cr_expect_str_eq(run.status, "diverged", "%s", specs[k]);
    for (long c = 0; c < sim.chains; c++) cr_expect_eq(run.diverged[c], 1);
    lb_run_clear(&run);
    lb_init_clear(&in);
    lb_sampler_free(s);
  }
  lb_target_free(t);
}

/* Velocities start from N(0, I) by default (one step of size ~0 leaves
 * them there) and reach the run file as /velocities; v= on an overdamped
 * sampler is bad input. */
Test(underdamped, velocities_default_and_file) {
  char args[1024], err[512];
  const char *dir = lb_test_tmpdir();
  snprintf(args, sizeof args,
           "sample --target gaussian:dim=2 --sampler ulmc:gamma=3 --step 1e-12 "
           "--steps 1 --chains 20000 --seed 4 --out %s/ud.h5", dir);
  cr_assert_eq(lb_test_cli(args, err, sizeof err), 0, "%s", err);
  char path[512];
  snprintf(path, sizeof path, "%s/ud.h5", dir);
  lb_run r = {0};
  lb_err e;
  cr_assert_eq(lb_run_load(path, &r, &e), LB_OK, "%s", e.msg);
  cr_assert_not_null(r.velocities);
  for (int i = 0; i < 2; i++) {
    double m, se, v, vse;
    lb_test_mean_se(r.velocities + i, 20000, 2, &m, &se);
    lb_test_var_se(r.velocities + i, 20000, 2, &v, &vse);
    cr_expect(fabs(m) < LB_TEST_NSE * se, "velocity mean %g se %g", m, se);
    cr_expect(fabs(v - 1) < LB_TEST_NSE * vse, "velocity var %g se %g", v, vse);
  }
  lb_run_clear(&r);
  snprintf(args, sizeof args,
           "sample --target gaussian:dim=2 --sampler lmc --init point:x=0,v=1 "
           "--step 0.1 --steps 1 --out %s/od.h5", dir);
  cr_expect_eq(lb_test_cli(args, err, sizeof err), 2);
  cr_expect(strstr(err, "--init") != NULL, "%s", err);
  snprintf(args, sizeof args,
           "sample --target gaussian:dim=2 --sampler ulmc --init 'point:x=0,v=1;2;3' "
           "--step 0.1 --steps 1 --out %s/bad.h5", dir);
  cr_expect_eq(lb_test_cli(args, err, sizeof err), 2);
  cr_expect(strstr(err, "v=") != NULL, "%s", err);
}

/* `langbench exact` on ulmc: one step from (U, V) = (1, 0) on precision 2
 * is N((1 - 2 G_U, -2 G_V), Sigma_h), a Gaussian, so kl and w2 are set. */
Test(underdamped, exact_cli_one_ulmc_step) {
  const char *bin = getenv("LANGBENCH_BIN");
  if (!bin) bin = "bin/langbench";
  char cmd[1024], head[4096] = "", row[4096] = "", buf[4096];
  snprintf(cmd, sizeof cmd,
           "%s exact --target gaussian:dim=1,var=0.5 --sampler ulmc:gamma=1.5 "
           "--step 0.3 --steps 1 --init point:x=1,v=0", bin);
  FILE *p = popen(cmd, "r");
  cr_assert_not_null(p);
  int line = 0;
  while (fgets(buf, sizeof buf, p)) {
    if (line == 0) snprintf(head, sizeof head, "%s", buf);
    if (line == 2) snprintf(row, sizeof row, "%s", buf);
    line++;
  }
  cr_assert_eq(pclose(p), 0);
  cr_expect(strncmp(head, "step,mean_err,cov_err,kl,w2,w2_marg,mean_0,cov_0_0,"
                          "vmean_0,vcov_0_0,uvcov_0_0", 73) == 0, "%s", head);
  double v[11];
  cr_assert_eq(sscanf(row, "%lf,%lf,%lf,%lf,%lf,%lf,%lf,%lf,%lf,%lf,%lf", &v[0], &v[1],
                      &v[2], &v[3], &v[4], &v[5], &v[6], &v[7], &v[8], &v[9], &v[10]),
               11, "%s", row);
  lb_ud_coef c;
  lb_ud_coefs(1.5, 0.3, &c);
  /* covariances come as E[y y^T] - m m^T: |m|^2 / var ~ 100 ulps */
  cr_expect(relerr(v[6], 1 - 2 * c.GU) < 1e-15);
  cr_expect(relerr(v[7], c.vU) < 1e-12, "%.17g vs %.17g", v[7], c.vU);
  cr_expect(relerr(v[8], -2 * c.GV) < 1e-15);
  cr_expect(relerr(v[9], c.vV) < 1e-12);
  cr_expect(relerr(v[10], c.cUV) < 1e-12);
  double kl = 0.5 * (c.vU / 0.5 + v[6] * v[6] / 0.5 - 1 + log(0.5 / c.vU));
  cr_expect(relerr(v[3], kl) < 1e-13, "kl %g vs %g", v[3], kl);
}

/* ---- uplmc ------------------------------------------------------------------
 * uplmc option 2 and urlmc.  With one midpoint at t = s alpha both chains
 * use the same midpoint U_mid and the same noise, but the Poisson midpoint
 * step adds the control variate [G_alpha - alpha A_{alpha - t} e_v] b(Y)
 * on the start-point drift (pmm.c).  Its mean over s is zero (G_alpha =
 * int_0^alpha A_tau e_v dtau), so E[A] is the same, the second moments are
 * not.  The law of "urlmc + control variate" is written above
 * (mistake_law, which = 3); uplmc option 2's exact law must tend to it as
 * K grows, with a gap O(1/K), and stay away from urlmc's. */
static void cv_law(const lb_sampler *s, double h, double li, double lj,
                   double ea[4], double eaa[16], double en[4]) {
  mistake_law(s, h, li, lj, ea, eaa, en, 3);
}

static double law_gap(const double *a, const double *b, int n) {
  double g = 0;
  for (int i = 0; i < n; i++) g = fmax(g, fabs(a[i] - b[i]));
  return g;
}

Test(uplmc, option2_is_urlmc_plus_control_variate) {
  lb_err e;
  lb_target *t;
  lb_sampler *u, *s1, *s2;
  cr_assert_eq(lb_target_alloc("gaussian:dim=1", &t, &e), LB_OK);
  cr_assert_eq(lb_sampler_alloc("urlmc:gamma=1.5", t, &u, &e), LB_OK);
  cr_assert_eq(lb_sampler_alloc("uplmc:gamma=1.5,K=200,option=2", t, &s1, &e), LB_OK);
  cr_assert_eq(lb_sampler_alloc("uplmc:gamma=1.5,K=1600,option=2", t, &s2, &e), LB_OK);
  const double h = 0.6, li = 1.3, lj = 0.4;
  double cA[4], cAA[16], cN[4], uA[4], uAA[16], uN[4];
  double pA[2][4], pAA[2][16], pN[2][4];
  cv_law(u, h, li, lj, cA, cAA, cN);
  u->type->gauss_law2(u, h, li, lj, uA, uAA, uN);
  s1->type->gauss_law2(s1, h, li, lj, pA[0], pAA[0], pN[0]);
  s2->type->gauss_law2(s2, h, li, lj, pA[1], pAA[1], pN[1]);
  /* the control variate has mean zero: same E[A] */
  cr_expect(law_gap(cA, uA, 4) < 1e-14, "E[A] gap %g", law_gap(cA, uA, 4));
  /* but the laws differ: E[A (x) A] */
  double du = law_gap(cAA, uAA, 16);
  cr_expect(du > 1e-3, "urlmc and urlmc + control variate: gap %g", du);
  /* uplmc option 2 -> urlmc + control variate, gap ~ 1/K */
  double g1 = fmax(law_gap(pAA[0], cAA, 16), law_gap(pN[0], cN, 4));
  double g2 = fmax(law_gap(pAA[1], cAA, 16), law_gap(pN[1], cN, 4));
  cr_expect(g2 < du / 10, "K=1600: gap %g to the limit, urlmc's %g", g2, du);
  cr_expect(law_gap(pAA[1], uAA, 16) > du / 2, "K=1600: gap to urlmc %g",
            law_gap(pAA[1], uAA, 16));
  cr_expect(g2 < g1 / 6 && g2 > g1 / 10, "gap %g at K=200, %g at K=1600 (1/K: /8)", g1, g2);
  lb_sampler_free(u);
  lb_sampler_free(s1);
  lb_sampler_free(s2);
  lb_target_free(t);
}

/* K = inf is the limit of option 1 as K grows (the Poisson limit of the
 * Bernoulli(1/K) indices, the velocity kick the limit of K G_{alpha/K}),
 * with a gap O(1/K). */
Test(uplmc, K_inf_is_the_limit) {
  lb_err e;
  lb_target *t;
  lb_sampler *a, *b, *c;
  cr_assert_eq(lb_target_alloc("gaussian:dim=1", &t, &e), LB_OK);
  cr_assert_eq(lb_sampler_alloc("uplmc:K=inf", t, &a, &e), LB_OK);
  cr_assert_eq(lb_sampler_alloc("uplmc:K=200", t, &b, &e), LB_OK);
  cr_assert_eq(lb_sampler_alloc("uplmc:K=1600", t, &c, &e), LB_OK);
  double A[3][4], AA[3][16], N[3][4];
  const lb_sampler *s[3] = {a, b, c};
  for (int k = 0; k < 3; k++) s[k]->type->gauss_law2(s[k], 0.5, 2.0, 0.7, A[k], AA[k], N[k]);
  double g1 = fmax(fmax(law_gap(A[1], A[0], 4), law_gap(AA[1], AA[0], 16)), law_gap(N[1], N[0], 4));
  double g2 = fmax(fmax(law_gap(A[2], A[0], 4), law_gap(AA[2], AA[0], 16)), law_gap(N[2], N[0], 4));
  cr_expect(g1 < 1e-2, "K=200 gap %g", g1);
  cr_expect(g2 < g1 / 6 && g2 > g1 / 10, "gap %g at K=200, %g at K=1600", g1, g2);
  lb_sampler_free(a);
  lb_sampler_free(b);
  lb_sampler_free(c);
  lb_target_free(t);
}

/* K = 1 is ULMC (no index besides the free start point). */
Test(uplmc, K1_law_is_ulmc) {
  lb_err e;
  lb_target *t;
  lb_sampler *a, *b;
  cr_assert_eq(lb_target_alloc("gaussian:dim=1", &t, &e), LB_OK);
  cr_assert_eq(lb_sampler_alloc("uplmc:K=1,gamma=3", t, &a, &e), LB_OK);
  cr_assert_eq(lb_sampler_alloc("ulmc:gamma=3", t, &b, &e), LB_OK);
  double A[2][4], AA[2][16], N[2][4];
  a->type->gauss_law2(a, 0.4, 2.0, 0.7, A[0], AA[0], N[0]);
  b->type->gauss_law2(b, 0.4, 2.0, 0.7, A[1], AA[1], N[1]);
  cr_expect(law_gap(A[0], A[1], 4) < 1e-15 && law_gap(AA[0], AA[1], 16) < 1e-15 &&
            law_gap(N[0], N[1], 4) < 1e-15);
  lb_sampler_free(a);
  lb_sampler_free(b);
  lb_target_free(t);
}

/* NFE: expected 2 - 1/K (both options), 2 for K = inf; exactly 1 for K = 1. */
typedef struct {
  char spec[48];
  double per_step;
  int exact;
} ud_nfe_case;

ParameterizedTestParameters(uplmc, nfe) {
  static ud_nfe_case cases[] = {
      {"uplmc:K=1", 1.0, 1},
      {"uplmc:K=4", 2.0 - 1.0 / 4, 0},
      {"uplmc:K=64", 2.0 - 1.0 / 64, 0},
      {"uplmc:K=8,option=2", 2.0 - 1.0 / 8, 0},
      {"uplmc:K=4,impl=fine", 2.0 - 1.0 / 4, 0},
      {"uplmc:K=inf", 2.0, 0},
      {"uplmc:Kalpha=0.8", 2.0 - 1.0 / 8, 0}, /* K = 0.8/0.1 */
  };
  return cr_make_param_array(ud_nfe_case, cases, sizeof cases / sizeof cases[0]);
}

ParameterizedTest(ud_nfe_case *c, uplmc, nfe) {
  lb_err e;
  lb_target *t;
  lb_sampler *s;
  lb_init in;
  cr_assert_eq(lb_target_alloc("gaussian:dim=2", &t, &e), LB_OK);
  cr_assert_eq(lb_sampler_alloc(c->spec, t, &s, &e), LB_OK, "%s", e.msg);
  cr_assert_eq(lb_init_parse(&in, NULL, t, &e), LB_OK);
  long T = 50;
  lb_sim sim = {.target = t, .sampler = s, .init = &in, .step = 0.1,
                .steps = T, .chains = 4000, .seed = 3, .threads = 2};
  lb_run run = {0};
  cr_assert_eq(lb_simulate(&sim, &run, NULL, &e), LB_OK);
  double *x = malloc((size_t)sim.chains * sizeof *x);
  for (long k = 0; k < sim.chains; k++) {
    x[k] = (double)run.nfe[k] / (double)T;
    if (c->exact)
      cr_expect_eq(run.nfe[k], (int64_t)(c->per_step * (double)T), "%s", c->spec);
  }
  double mean, se;
  lb_test_mean_se(x, (size_t)sim.chains, 1, &mean, &se);
  if (!c->exact)
    cr_expect(fabs(mean - c->per_step) < LB_TEST_NSE * se,
              "%s: NFE/step %g, expected %g, se %g", c->spec, mean, c->per_step, se);
  free(x);
  lb_run_clear(&run);
  lb_init_clear(&in);
  lb_sampler_free(s);
  lb_target_free(t);
}

Test(uplmc, divergence_is_flagged) {
  lb_err e;
  lb_target *t;
  lb_sampler *s;
  lb_init in;
  cr_assert_eq(lb_target_alloc("gaussian:dim=2,var=1", &t, &e), LB_OK);
  cr_assert_eq(lb_sampler_alloc("uplmc:K=4", t, &s, &e), LB_OK);
  cr_assert_eq(lb_init_parse(&in, NULL, t, &e), LB_OK);
  lb_sim sim = {.target = t, .sampler = s, .init = &in, .step = 40,
                .steps = 5000, .chains = 10, .seed = 1, .threads = 1};
  lb_run run = {0};
  cr_assert_eq(lb_simulate(&sim, &run, NULL, &e), LB_OK);
  cr_expect_str_eq(run.status, "diverged");
  for (long c = 0; c < sim.chains; c++) cr_expect_eq(run.diverged[c], 1);
  lb_run_clear(&run);
  lb_init_clear(&in);
  lb_sampler_free(s);
  lb_target_free(t);
}

/* Coupled mode: uplmc(alpha, K) against ulmc(alpha/K) on one Brownian
 * path.  K = 1 is ULMC bit for bit; with K = 4 the coupled distance at a
 * fixed horizon falls as alpha shrinks. */
static double ud_coupled_rmse(const char *target, const char *spec,
                              const char *fine, double alpha, long steps) {
  lb_err e;
  lb_target *t;
  lb_sampler *s, *f;
  lb_init in;
  cr_assert_eq(lb_target_alloc(target, &t, &e), LB_OK);
  cr_assert_eq(lb_sampler_alloc(spec, t, &s, &e), LB_OK, "%s", e.msg);
  cr_assert_eq(lb_sampler_alloc(fine, t, &f, &e), LB_OK);
  cr_assert_eq(lb_init_parse(&in, NULL, t, &e), LB_OK);
  lb_sim sim = {.target = t, .sampler = s, .init = &in, .step = alpha,
                .steps = steps, .chains = 500, .seed = 9, .threads = 2,
                .fine = f};
  lb_run a = {0}, b = {0};
  cr_assert_eq(lb_simulate(&sim, &a, &b, &e), LB_OK, "%s", e.msg);
  double ss = 0;
  size_t n = (size_t)sim.chains * t->dim;
  for (size_t i = 0; i < n; i++) {
    ss += (a.samples[i] - b.samples[i]) * (a.samples[i] - b.samples[i]);
    ss += (a.velocities[i] - b.velocities[i]) * (a.velocities[i] - b.velocities[i]);
  }
  lb_run_clear(&a);
  lb_run_clear(&b);
  lb_init_clear(&in);
  lb_sampler_free(f);
  lb_sampler_free(s);
  lb_target_free(t);
  return sqrt(ss / (double)sim.chains);
}

Test(uplmc, coupled_K1_equals_ulmc) {
  cr_expect_eq(ud_coupled_rmse("gmm:preset=ring8", "uplmc:K=1,gamma=3", "ulmc:gamma=3", 0.05, 50), 0.0);
}

Test(uplmc, coupled_K4_tracks_fine_ulmc) {
  double e1 = ud_coupled_rmse("double_well:dim=2,a=1", "uplmc:K=4", "ulmc", 0.08, 25);
  double e2 = ud_coupled_rmse("double_well:dim=2,a=1", "uplmc:K=4", "ulmc", 0.02, 100);
  cr_expect_gt(e1, 0.0);
  cr_expect_lt(e2, e1 / 2, "rmse %g at alpha 0.08, %g at 0.02", e1, e2);
}

Test(uplmc, coupled_needs_one_dynamics) {
  lb_err e;
  lb_target *t;
  lb_sampler *s, *f;
  lb_init in;
  cr_assert_eq(lb_target_alloc("gaussian:dim=2", &t, &e), LB_OK);
  cr_assert_eq(lb_sampler_alloc("uplmc:K=4", t, &s, &e), LB_OK);
  cr_assert_eq(lb_sampler_alloc("lmc", t, &f, &e), LB_OK);
  cr_assert_eq(lb_init_parse(&in, NULL, t, &e), LB_OK);
  lb_sim sim = {.target = t, .sampler = s, .init = &in, .step = 0.1, .steps = 2,
                .chains = 2, .seed = 1, .threads = 1, .fine = f};
  lb_run a = {0}, b = {0};
  cr_expect_eq(lb_simulate(&sim, &a, &b, &e), LB_EINPUT);
  lb_run_clear(&a);
  lb_run_clear(&b);
  lb_init_clear(&in);
  lb_sampler_free(f);
  lb_sampler_free(s);
  lb_target_free(t);
}

/* Kalpha=C: K = round(C/alpha) at each coarse step (the speed-up regime
 * K ~ 1/alpha); same law as the fixed K it resolves to. */
Test(uplmc, Kalpha_resolves_K_per_step) {
  lb_err e;
  lb_target *t;
  lb_sampler *a, *b4, *b8;
  cr_assert_eq(lb_target_alloc("gaussian:dim=1", &t, &e), LB_OK);
  cr_assert_eq(lb_sampler_alloc("uplmc:Kalpha=0.4,gamma=1.5", t, &a, &e), LB_OK, "%s", e.msg);
  cr_assert_eq(lb_sampler_alloc("uplmc:K=4,gamma=1.5", t, &b4, &e), LB_OK);
  cr_assert_eq(lb_sampler_alloc("uplmc:K=8,gamma=1.5", t, &b8, &e), LB_OK);
  double A[2][4], AA[2][16], N[2][4];
  a->type->gauss_law2(a, 0.1, 2.0, 0.7, A[0], AA[0], N[0]);
  b4->type->gauss_law2(b4, 0.1, 2.0, 0.7, A[1], AA[1], N[1]);
  cr_expect(law_gap(A[0], A[1], 4) == 0 && law_gap(AA[0], AA[1], 16) == 0 &&
            law_gap(N[0], N[1], 4) == 0, "alpha 0.1: K=4");
  a->type->gauss_law2(a, 0.05, 2.0, 0.7, A[0], AA[0], N[0]);
  b8->type->gauss_law2(b8, 0.05, 2.0, 0.7, A[1], AA[1], N[1]);
  cr_expect(law_gap(A[0], A[1], 4) == 0 && law_gap(AA[0], AA[1], 16) == 0 &&
            law_gap(N[0], N[1], 4) == 0, "alpha 0.05: K=8");
  lb_sampler *bad = NULL;
  cr_expect_eq(lb_sampler_alloc("uplmc:K=4,Kalpha=1", t, &bad, &e), LB_EINPUT);
  cr_expect(strstr(e.msg, "Kalpha") != NULL, "%s", e.msg);
  lb_sampler_free(a);
  lb_sampler_free(b4);
  lb_sampler_free(b8);
  lb_target_free(t);
}

/* ---- uplmc's list form ------------------------------------------------------
 * Uncoupled, uplmc's fast form runs as a list (pmm.c, pmm_step_ud): rounds
 * of uniforms, then every midpoint's Gaussians, coefficients, M recursion,
 * drift and correction over one list, flushed when full.  It must give
 * the bits of the general form pmm_step_fast (LB_PMM_NO_LIST set when the
 * sampler is made), which draws and applies round by round: samples,
 * velocities, NFE, divergence flags and trajectories, on every K regime
 * (K = 1, option 1 with K a power of two or not, K = inf, option 2,
 * Kalpha), for d = 1, 2, 3 and 10, gamma tau on both sides of the series
 * switch (gamma = 0.5, 30), blocks of 64 and 256 (the list holds one
 * block's worth of entries: with Poisson(1) midpoints per row it fills
 * in the middle of the rounds in about half the steps, so each case
 * crosses that path many times), short last blocks (150 and 300
 * chains; a block of 61), and with chains diverging mid-run. */
typedef struct {
  char target[40];
  char spec[48];
  double step;
  long block, chains, steps;
} ud_list_case;

static void ud_list_run(const ud_list_case *c, int general, lb_run *out) {
  lb_err e;
  lb_target *t;
  lb_sampler *s;
  lb_init in;
  cr_assert_eq(lb_target_alloc(c->target, &t, &e), LB_OK, "%s", e.msg);
  if (general) setenv("LB_PMM_NO_LIST", "1", 1);
  int rc = lb_sampler_alloc(c->spec, t, &s, &e);
  unsetenv("LB_PMM_NO_LIST");
  cr_assert_eq(rc, LB_OK, "%s", e.msg);
  cr_assert_eq(lb_init_parse(&in, NULL, t, &e), LB_OK);
  lb_sim sim = {.target = t, .sampler = s, .init = &in, .step = c->step,
                .steps = c->steps, .chains = c->chains, .seed = 21, .threads = 1,
                .record_every = 7, .record_chains = 20, .block = c->block};
  cr_assert_eq(lb_simulate(&sim, out, NULL, &e), LB_OK, "%s", e.msg);
  lb_init_clear(&in);
  lb_sampler_free(s);
  lb_target_free(t);
}

ParameterizedTestParameters(uplmc, list_form_is_the_general_form) {
  static ud_list_case cases[] = {
      {"gmm:preset=ring8", "uplmc:K=1", 0.05, 64, 150, 40},
      {"gmm:preset=ring8", "uplmc:K=2", 0.05, 64, 150, 40},
      {"gmm:preset=ring8", "uplmc:K=4", 0.05, 64, 150, 40},
      {"gmm:preset=ring8", "uplmc:K=1000", 0.05, 64, 150, 40},
      {"gmm:preset=ring8", "uplmc:K=1024", 0.05, 256, 300, 40},
      {"gmm:preset=ring8", "uplmc:K=inf", 0.05, 64, 150, 40},
      {"gmm:preset=ring8", "uplmc:K=inf,gamma=30", 0.1, 64, 150, 40},
      {"gmm:preset=ring8", "uplmc:K=4,option=2", 0.05, 64, 150, 40},
      {"gmm:preset=ring8", "uplmc:K=64,option=2,gamma=0.5", 0.05, 64, 150, 40},
      {"gmm:preset=ring8", "uplmc:K=1,option=2", 0.05, 64, 150, 40},
      {"gmm:preset=ring8", "uplmc:Kalpha=1", 0.05, 64, 150, 40},
      {"gaussian:dim=1", "uplmc:K=16", 0.2, 64, 150, 40},
      {"double_well:dim=3", "uplmc:K=inf,gamma=0.5", 0.05, 64, 150, 40},
      {"gmm:dim=10,modes=8", "uplmc:K=16,gamma=30", 0.05, 256, 300, 40},
      /* every chain diverges, between steps 100 and 200 */
      {"gaussian:dim=2,var=1", "uplmc:K=4", 40.0, 64, 150, 200},
      {"gaussian:dim=2,var=1", "uplmc:K=inf", 40.0, 61, 150, 200},
  };
  return cr_make_param_array(ud_list_case, cases,
                             sizeof cases / sizeof cases[0]);
}

ParameterizedTest(ud_list_case *c, uplmc, list_form_is_the_general_form) {
  lb_run a = {0}, b = {0};
  ud_list_run(c, 0, &a);
  ud_list_run(c, 1, &b);
  cr_expect(lb_test_same_run(&a, &b),
            "%s on %s: the list form differs from the general form (samples, "
            "velocities, NFE, divergence, trajectory or status)",
            c->spec, c->target);
  if (c->step > 10) cr_expect_str_eq(a.status, "diverged");
  lb_run_clear(&a);
  lb_run_clear(&b);
}
