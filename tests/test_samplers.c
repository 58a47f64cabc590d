/* test_samplers.c -- the conformance suite every sampler passes.
 * GPL-3.0-or-later.
 *
 * On centred Gaussian targets with diagonal precision every sampler here
 * is a linear recursion with random coefficients, X_i' = a_i X_i + n_i,
 * whose exact law the sampler states through its gauss_law function
 * (sampler.h).  Starting all chains at the point x0 = (1, ..., 1), the
 * exact mean, variances and cross-covariances after T steps follow from
 *     m' = E[a] m,   S'_ij = E[a_i a_j] S_ij + [i = j] E[n_i^2].
 * The cross-covariances are non-zero exactly when the coefficients share
 * randomness (RLMC's u, PLMC's midpoint times), so they test that too.
 * Short runs test the transient, long runs the stationary law.
 *
 * Tolerance: LB_TEST_NSE (5) standard errors of each statistic, computed
 * from the sample (variance: sqrt((m4 - s^4)/n)).
 *
 * A new sampler joins by adding its SPEC to `samplers` below.
 */
#include <criterion/criterion.h>
#include <criterion/parameterized.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sampler.h"
#include "simulate.h"
#include "testutil.h"

static const char *samplers[] = {
    "lmc",
    "rlmc",
    "plmc:K=1",
    "plmc:K=4",
    "plmc:K=16",
    "plmc:K=1024",
    "plmc:K=4,option=2",
    "plmc:K=inf",
    "plmc:K=4,impl=fine",
    "plmc:K=16,impl=fine",
    "plmc:K=4,option=2,impl=fine",
};
#define NSAMPLERS (sizeof samplers / sizeof samplers[0])

typedef struct {
  int sampler; /* index into samplers[] */
  int target;  /* 0: 1-D, 1: 3-D */
  int long_run;
} conf_case;

static const char *targets[] = {"gaussian:dim=1,var=1",
                                "gaussian:dim=3,kappa=10"};
static const double steps_h[] = {0.5, 0.05};
static const long short_T[] = {3, 3}, long_T[] = {60, 300};

/* Exact mean and covariance after T steps from the point x0 = 1. */
static void exact_law(const lb_sampler *s, const lb_target *t, double h,
                      long T, double *m, double *C) {
  size_t d = t->dim;
  double *S = calloc(d * d, sizeof *S), *lam = calloc(d, sizeof *lam);
  for (size_t i = 0; i < d; i++) {
    lam[i] = 1.0 / t->cov[i * d + i];
    m[i] = 1.0;
  }
  for (size_t i = 0; i < d * d; i++) S[i] = 1.0;
  for (long k = 0; k < T; k++) {
    for (size_t i = 0; i < d; i++) {
      for (size_t j = 0; j < d; j++) {
        double o[3];
        s->type->gauss_law(s, h, lam[i], lam[j], o);
        S[i * d + j] = o[1] * S[i * d + j] + (i == j ? o[2] : 0.0);
        if (j == i) m[i] *= o[0];
      }
    }
  }
  for (size_t i = 0; i < d; i++)
    for (size_t j = 0; j < d; j++) C[i * d + j] = S[i * d + j] - m[i] * m[j];
  free(S);
  free(lam);
}

ParameterizedTestParameters(conformance, gaussian_law) {
  static conf_case cases[NSAMPLERS * 4];
  size_t n = 0;
  for (int s = 0; s < (int)NSAMPLERS; s++)
    for (int t = 0; t < 2; t++)
      for (int l = 0; l < 2; l++) cases[n++] = (conf_case){s, t, l};
  return cr_make_param_array(conf_case, cases, n);
}

ParameterizedTest(conf_case *c, conformance, gaussian_law) {
  const char *sspec = samplers[c->sampler], *tspec = targets[c->target];
  double h = steps_h[c->target];
  long T = c->long_run ? long_T[c->target] : short_T[c->target];
  lb_err e;
  lb_target *t;
  lb_sampler *s;
  cr_assert_eq(lb_target_alloc(tspec, &t, &e), LB_OK, "%s", e.msg);
  cr_assert_eq(lb_sampler_alloc(sspec, t, &s, &e), LB_OK, "%s", e.msg);
  cr_assert_not_null(s->type->gauss_law, "%s has no gauss_law", sspec);
  lb_init in;
  cr_assert_eq(lb_init_parse(&in, "point:x=1", t, &e), LB_OK);

  lb_sim sim = {.target = t, .sampler = s, .init = &in, .step = h,
                .steps = T, .chains = 40000, .seed = 7 + (uint64_t)c->sampler,
                .threads = 2, .record_every = 0};
  lb_run run = {0};
  cr_assert_eq(lb_simulate(&sim, &run, NULL, &e), LB_OK);

  size_t d = t->dim, n = (size_t)sim.chains;
  double m[3], C[9];
  exact_law(s, t, h, T, m, C);
  for (size_t i = 0; i < d; i++) {
    double mean, se, var, vse;
    lb_test_mean_se(run.samples + i, n, d, &mean, &se);
    lb_test_var_se(run.samples + i, n, d, &var, &vse);
    cr_expect(fabs(mean - m[i]) < LB_TEST_NSE * se,
              "%s on %s, T=%ld, coord %zu: mean %g, exact %g, se %g", sspec,
              tspec, T, i, mean, m[i], se);
    cr_expect(fabs(var - C[i * d + i]) < LB_TEST_NSE * vse,
              "%s on %s, T=%ld, coord %zu: var %g, exact %g, se %g", sspec,
              tspec, T, i, var, C[i * d + i], vse);
    for (size_t j = i + 1; j < d; j++) {
      double mi, mj, sei, sej;
      lb_test_mean_se(run.samples + i, n, d, &mi, &sei);
      lb_test_mean_se(run.samples + j, n, d, &mj, &sej);
      double *p = malloc(n * sizeof *p);
      for (size_t k = 0; k < n; k++)
        p[k] = (run.samples[k * d + i] - mi) * (run.samples[k * d + j] - mj);
      double cv, cse;
      lb_test_mean_se(p, n, 1, &cv, &cse);
      free(p);
      cr_expect(fabs(cv - C[i * d + j]) < LB_TEST_NSE * cse,
                "%s on %s, T=%ld: cov(%zu,%zu) %g, exact %g, se %g", sspec,
                tspec, T, i, j, cv, C[i * d + j], cse);
    }
  }
  lb_run_clear(&run);
  lb_init_clear(&in);
  lb_sampler_free(s);
  lb_target_free(t);
}

/* ---- drift evaluations --------------------------------------------------- */

typedef struct {
  char spec[48]; /* no pointers in parameters: Criterion re-executes */
  double per_step; /* expected NFE per step */
  int exact;       /* 1: every chain spends exactly per_step * T */
} nfe_case;

ParameterizedTestParameters(conformance, nfe) {
  static nfe_case cases[] = {
      {"lmc", 1.0, 1},
      {"rlmc", 2.0, 1},
      {"plmc:K=1", 1.0, 1},
      {"plmc:K=4", 2.0 - 1.0 / 4, 0},
      {"plmc:K=64", 2.0 - 1.0 / 64, 0},
      {"plmc:K=4,impl=fine", 2.0 - 1.0 / 4, 0},
      {"plmc:K=8,option=2", 2.0 - 1.0 / 8, 0},
      {"plmc:K=inf", 2.0, 0},
      {"plmc:Kalpha=0.4", 2.0 - 1.0 / 4, 0}, /* K = 0.4 / 0.1 */
      {"ulmc", 1.0, 1},
      {"urlmc", 2.0, 1},
      {"uplmc:K=4", 2.0 - 1.0 / 4, 0},
      {"uplmc:K=inf", 2.0, 0},
  };
  return cr_make_param_array(nfe_case, cases, sizeof cases / sizeof cases[0]);
}

ParameterizedTest(nfe_case *c, conformance, nfe) {
  lb_err e;
  lb_target *t;
  lb_sampler *s;
  lb_init in;
  cr_assert_eq(lb_target_alloc("gaussian:dim=2,var=1", &t, &e), LB_OK);
  cr_assert_eq(lb_sampler_alloc(c->spec, t, &s, &e), LB_OK, "%s", e.msg);
  cr_assert_eq(lb_init_parse(&in, NULL, t, &e), LB_OK);
  cr_expect(fabs(lb_sampler_expected_nfe(s, 0.1) - c->per_step) < 1e-15,
            "%s: expected_nfe %.17g, derived %.17g", c->spec,
            lb_sampler_expected_nfe(s, 0.1), c->per_step);
  long T = 50;
  lb_sim sim = {.target = t, .sampler = s, .init = &in, .step = 0.1,
                .steps = T, .chains = 4000, .seed = 3, .threads = 2};
  lb_run run = {0};
  cr_assert_eq(lb_simulate(&sim, &run, NULL, &e), LB_OK);
  double *x = malloc((size_t)sim.chains * sizeof *x);
  for (long k = 0; k < sim.chains; k++) {
    x[k] = (double)run.nfe[k] / (double)T;
    if (c->exact)
      cr_expect_eq(run.nfe[k], (int64_t)(c->per_step * (double)T),
                   "%s: chain %ld spent %ld NFE", c->spec, k, (long)run.nfe[k]);
  }
  double mean, se;
  lb_test_mean_se(x, (size_t)sim.chains, 1, &mean, &se);
  if (!c->exact)
    cr_expect(fabs(mean - c->per_step) < LB_TEST_NSE * se,
              "%s: NFE/step %g, expected %g, se %g", c->spec, mean,
              c->per_step, se);
  free(x);
  lb_run_clear(&run);
  lb_init_clear(&in);
  lb_sampler_free(s);
  lb_target_free(t);
}

/* ---- the exact laws themselves ---------------------------------------------
 * Deterministic identities between the closed forms, derived separately:
 * PLMC with K = 1 is LMC; PLMC option 1 tends to the K = inf law as K
 * grows (the Poisson limit), with an O(1/K) difference. */
static void law(const char *spec, double h, double li, double lj,
                double o[3]) {
  lb_err e;
  lb_target *t;
  lb_sampler *s;
  cr_assert_eq(lb_target_alloc("gaussian:dim=1", &t, &e), LB_OK);
  cr_assert_eq(lb_sampler_alloc(spec, t, &s, &e), LB_OK, "%s", e.msg);
  s->type->gauss_law(s, h, li, lj, o);
  lb_sampler_free(s);
  lb_target_free(t);
}

Test(exact_law, plmc_K1_is_lmc) {
  double a[3], b[3];
  law("plmc:K=1", 0.3, 2.0, 0.7, a);
  law("lmc", 0.3, 2.0, 0.7, b);
  for (int i = 0; i < 3; i++) cr_expect_float_eq(a[i], b[i], 1e-14);
}

Test(exact_law, plmc_large_K_tends_to_poisson_limit) {
  double a[3], b[3], c[3];
  law("plmc:K=inf", 0.4, 1.5, 3.0, a);
  law("plmc:K=1000", 0.4, 1.5, 3.0, b);
  law("plmc:K=100000", 0.4, 1.5, 3.0, c);
  for (int i = 0; i < 3; i++) {
    cr_expect(fabs(b[i] - a[i]) < 1e-2, "K=1000 term %d: %g vs %g", i, b[i],
              a[i]);
    /* the gap shrinks like 1/K */
    cr_expect(fabs(c[i] - a[i]) < 2e-2 * fabs(b[i] - a[i]) + 1e-12,
              "K=1e5 term %d: %g vs %g", i, c[i], a[i]);
  }
}

Test(exact_law, lmc_stationary_variance_classical) {
  /* iterate the recursion to stationarity: v = 2 / (l (2 - h l)) */
  double o[3], v = 0.0, h = 0.3, l = 2.0;
  law("lmc", h, l, l, o);
  for (int k = 0; k < 2000; k++) v = o[1] * v + o[2];
  cr_expect_float_eq(v, 2.0 / (l * (2.0 - h * l)), 1e-12);
}

/* ---- divergence ------------------------------------------------------------ */

Test(conformance, divergence_is_flagged_not_fatal) {
  lb_err e;
  lb_target *t;
  lb_sampler *s;
  lb_init in;
  cr_assert_eq(lb_target_alloc("gaussian:dim=2,var=1", &t, &e), LB_OK);
  cr_assert_eq(lb_sampler_alloc("lmc", t, &s, &e), LB_OK);
  cr_assert_eq(lb_init_parse(&in, NULL, t, &e), LB_OK);
  /* h = 2.5: |1 - h| = 1.5, so |x| grows like 1.5^t and overflows */
  lb_sim sim = {.target = t, .sampler = s, .init = &in, .step = 2.5,
                .steps = 5000, .chains = 10, .seed = 1, .threads = 1,
                .record_every = 1000, .record_chains = 2};
  lb_run run = {0};
  cr_assert_eq(lb_simulate(&sim, &run, NULL, &e), LB_OK);
  cr_expect_str_eq(run.status, "diverged");
  for (long c = 0; c < sim.chains; c++) {
    cr_expect_eq(run.diverged[c], 1);
    cr_expect(run.nfe[c] < 5000, "chain %ld stopped at %ld", c,
              (long)run.nfe[c]);
  }
  cr_expect(isnan(run.trajectory[(run.records - 1) * 2 * 2]));
  lb_run_clear(&run);
  lb_init_clear(&in);
  lb_sampler_free(s);
  lb_target_free(t);
}

/* ---- coupled mode ------------------------------------------------------------
 * PLMC with K = 1 is LMC, so coupled to LMC at the same step on one
 * Brownian path the two must agree bit for bit; with K = 4 the paths
 * differ, and the difference shrinks with alpha. */
static double coupled_rmse(const char *target, const char *plmc, double alpha,
                           long steps) {
  lb_err e;
  lb_target *t;
  lb_sampler *s, *f;
  lb_init in;
  cr_assert_eq(lb_target_alloc(target, &t, &e), LB_OK);
  cr_assert_eq(lb_sampler_alloc(plmc, t, &s, &e), LB_OK, "%s", e.msg);
  cr_assert_eq(lb_sampler_alloc("lmc", t, &f, &e), LB_OK);
  cr_assert_eq(lb_init_parse(&in, NULL, t, &e), LB_OK);
  lb_sim sim = {.target = t, .sampler = s, .init = &in, .step = alpha,
                .steps = steps, .chains = 500, .seed = 9, .threads = 2,
                .fine = f};
  lb_run a = {0}, b = {0};
  cr_assert_eq(lb_simulate(&sim, &a, &b, &e), LB_OK, "%s", e.msg);
  long K = s->type->fine_steps(s);
  cr_expect_eq(b.steps, steps * K);
  double ss = 0;
  size_t n = (size_t)sim.chains * t->dim;
  for (size_t i = 0; i < n; i++)
    ss += (a.samples[i] - b.samples[i]) * (a.samples[i] - b.samples[i]);
  lb_run_clear(&a);
  lb_run_clear(&b);
  lb_init_clear(&in);
  lb_sampler_free(f);
  lb_sampler_free(s);
  lb_target_free(t);
  return sqrt(ss / (double)sim.chains);
}

Test(coupled, plmc_K1_equals_lmc_pathwise) {
  cr_expect_eq(coupled_rmse("gmm:preset=ring8", "plmc:K=1", 0.05, 50), 0.0);
  cr_expect_eq(coupled_rmse("double_well:dim=2", "plmc:K=1", 0.02, 50), 0.0);
}

Test(coupled, plmc_K4_tracks_fine_lmc) {
  /* fixed horizon 1 on a contracting target (on ring8 from N(0, I) the
   * chains start between the modes' basins, where any perturbation sends
   * coupled paths to different modes); the coupled error must fall as
   * alpha shrinks */
  double e1 = coupled_rmse("double_well:dim=2,a=1", "plmc:K=4", 0.02, 50);
  double e2 = coupled_rmse("double_well:dim=2,a=1", "plmc:K=4", 0.005, 200);
  cr_expect_gt(e1, 0.0);
  cr_expect_lt(e2, e1 / 2, "rmse %g at alpha 0.02, %g at 0.005", e1, e2);
}
