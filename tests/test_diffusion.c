/* test_diffusion.c -- the DDPM schedule, the mixture oracle, the reverse
 * samplers (ddpm variants, ddim, dpmsolver(++), pmm), their exact laws on
 * Gaussian data, NFE accounting and the `diffuse` command.
 *
 * GPL-3.0-or-later.
 */
#include <criterion/criterion.h>
#include <criterion/parameterized.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "diffuse.h"
#include "io.h"
#include "model.h"
#include "oracle.h"
#include "reverse.h"
#include "target.h"
#include "testutil.h"

static lb_model *oracle_for(const char *spec, lb_target **tp) {
  lb_err e = {{0}};
  lb_target *t = NULL;
  cr_assert_eq(lb_target_alloc(spec, &t, &e), 0, "%s", e.msg);
  lb_model *m = NULL;
  cr_assert_eq(lb_model_open("oracle", t, "paper", &m, &e), 0, "%s", e.msg);
  if (tp)
    *tp = t;
  else
    lb_target_free(t);
  return m;
}

static lb_dsampler *dsampler(const char *spec, const lb_model *m, long nfe) {
  lb_err e = {{0}};
  lb_dsampler *s = NULL;
  cr_assert_eq(lb_dsampler_alloc(spec, &m->sched, nfe, &s, &e), 0, "%s: %s",
               spec, e.msg);
  return s;
}

static void diffuse(const lb_model *m, const lb_dsampler *s, long n,
                    uint64_t seed, int threads, lb_run *out) {
  lb_err e = {{0}};
  lb_diffuse_cfg c = {m, s, n, seed, threads, 0, 0};
  cr_assert_eq(lb_diffuse(&c, out, &e), 0, "%s", e.msg);
}

/* ---- schedule ----------------------------------------------------- */

Test(diffusion, schedule_paper_and_continuous_view) {
  lb_schedule *s = calloc(1, sizeof *s);
  lb_err e;
  cr_assert_eq(lb_schedule_init(s, "paper", 1000, &e), 0);
  cr_expect(fabs(s->beta[1] - 0.0015) < 1e-15);
  cr_expect(fabs(s->beta[1000] - 0.0195) < 1e-15);
  for (int i = 1; i <= 1000; i++) {
    cr_expect(s->beta[i] > s->beta[i - 1]);
    cr_expect(fabs(s->abar[i] - s->abar[i - 1] * (1 - s->beta[i])) <
              1e-15 * s->abar[i - 1]);
    /* integer steps of the continuous view are the chain's own */
    cr_expect_eq(lb_schedule_abar_at(s, (double)i), s->abar[i]);
    cr_expect(fabs(lb_schedule_log_alpha(s, i / 1000.0) -
                   0.5 * log(s->abar[i])) < 1e-14);
  }
  /* lambda is decreasing and inverse_lambda inverts it */
  for (double t = 0.001; t <= 1.0; t += 0.0137) {
    double l = lb_schedule_lambda(s, t), t2 = lb_schedule_inverse_lambda(s, l);
    cr_expect(fabs(t2 - t) < 1e-10, "t=%g -> %g", t, t2);
    cr_expect(lb_schedule_lambda(s, t + 1e-4) < l);
  }
  cr_expect_neq(lb_schedule_init(s, "cosine", 1000, &e), 0);
  free(s);
}

/* ---- oracle ------------------------------------------------------- */

/* eps*(x, s) = -sqrt(1 - abar_s) grad log p_s(x), against central finite
 * differences of the exact noised log density; at s = 0 the density is
 * the data law and eps* = 0. */
static void check_oracle(const char *spec) {
  lb_target *t;
  lb_model *m = oracle_for(spec, &t);
  const size_t d = m->dim;
  double x[8], xp[8], eps[8], s1[1];
  double *work = calloc(m->type->work_size(m, 1), sizeof(double));
  const double steps[] = {0, 1, 37.5, 500, 999, 1000};
  for (int q = 0; q < 6; q++) {
    for (int trial = 0; trial < 5; trial++) {
      for (size_t i = 0; i < d; i++)
        x[i] = 3.0 * sin(1.7 * (double)(trial * 3 + (int)i) + 0.3 * q);
      s1[0] = steps[q];
      m->type->eval(m, 1, 1, x, s1, eps, work);
      double ab = lb_schedule_abar_at(&m->sched, steps[q]);
      for (size_t i = 0; i < d; i++) {
        const double h = 1e-5;
        memcpy(xp, x, d * sizeof *x);
        xp[i] = x[i] + h;
        double fp = lb_oracle_logp(m, xp, steps[q]);
        xp[i] = x[i] - h;
        double fm = lb_oracle_logp(m, xp, steps[q]);
        double want = -sqrt(1 - ab) * (fp - fm) / (2 * h);
        cr_expect(fabs(eps[i] - want) <= 1e-6 * (1 + fabs(want)),
                  "%s s=%g i=%zu: %.12g vs fd %.12g", spec, steps[q], i,
                  eps[i], want);
      }
      if (steps[q] == 0) {
        for (size_t i = 0; i < d; i++) cr_expect_eq(eps[i], 0.0);
        double lp = lb_target_logpdf(t, x);
        cr_expect(fabs(lb_oracle_logp(m, x, 0) - lp) < 1e-10 * (1 + fabs(lp)));
      }
    }
  }
  free(work);
  lb_model_free(m);
  lb_target_free(t);
}

Test(diffusion, oracle_matches_finite_differences) {
  check_oracle("gmm:preset=ring8");
  check_oracle("gmm:preset=twomodes");
  check_oracle("gaussian:dim=3,kappa=10");
  check_oracle("gmm:dim=3,modes=5,radius=2,sd=0.7");
  /* a full covariance component (eigenvector path) */
  char path[512];
  snprintf(path, sizeof path, "%s/full.cfg", lb_test_tmpdir());
  FILE *f = fopen(path, "w");
  cr_assert(f);
  fprintf(f, "components = (\n"
             " { weight = 0.3; mean = [1.0, -0.5]; cov = [1.0, 0.6, 0.6, 0.8]; },\n"
             " { weight = 0.7; mean = [-2.0, 1.0]; sd = 0.4; }\n);\n");
  fclose(f);
  char spec[600];
  snprintf(spec, sizeof spec, "gmm:file=%s", path);
  check_oracle(spec);
}

Test(diffusion, oracle_gaussian_is_linear) {
  lb_model *m = oracle_for("gaussian:dim=1,var=0.3", NULL);
  double x = 1.3, e, s = 250, w[16];
  m->type->eval(m, 1, 1, &x, &s, &e, w);
  double ab = m->sched.abar[250], k = sqrt(1 - ab) / (ab * 0.3 + 1 - ab);
  cr_expect(fabs(e - k * x) < 1e-14);
  lb_model_free(m);
}

/* ---- pathwise identities ------------------------------------------ */

static double max_diff(const lb_run *a, const lb_run *b) {
  double mx = 0;
  for (long i = 0; i < a->chains * a->dim; i++) {
    double dv = fabs(a->samples[i] - b->samples[i]);
    if (!(dv <= mx)) mx = dv; /* NaN propagates */
  }
  return mx;
}

Test(diffusion, pmm_K1_and_K2_option2_equal_ddpm) {
  lb_model *m = oracle_for("gmm:preset=ring8", NULL);
  const char *variants[] = {"v1", "v1c", "v2", "v3"};
  for (int v = 0; v < 4; v++) {
    char sp[64];
    snprintf(sp, sizeof sp, "ddpm:variant=%s", variants[v]);
    lb_dsampler *dd = dsampler(sp, m, 1000);
    lb_run a = {0};
    diffuse(m, dd, 300, 7, 2, &a);
    for (int opt = 1; opt <= 2; opt++)
      for (int K = 1; K <= 2; K++) {
        if (K == 2 && opt == 1) continue;
        snprintf(sp, sizeof sp, "pmm:K=%d,option=%d,variant=%s", K, opt,
                 variants[v]);
        lb_dsampler *pm = dsampler(sp, m, 0);
        lb_run b = {0};
        diffuse(m, pm, 300, 7, 2, &b);
        /* equal up to rounding: K=2 sums the same terms in another order */
        cr_expect(max_diff(&a, &b) <= (K == 1 ? 0.0 : 1e-11), "%s: %g", sp,
                  max_diff(&a, &b));
        for (long c = 0; c < 300; c++) cr_expect_eq(b.nfe[c], 1000);
        lb_run_clear(&b);
        lb_dsampler_free(pm);
      }
    lb_run_clear(&a);
    lb_dsampler_free(dd);
  }
  lb_model_free(m);
}

/* Test models that ignore x: eps = c (constant) or eps = f(s). */
typedef struct {
  int timedep;
} xfree_state;

static void xfree_eval(const lb_model *m, size_t B, size_t ld,
                       const double *x, const double *s, double *eps,
                       double *work) {
  const xfree_state *st = m->state;
  (void)x;
  (void)work;
  for (size_t i = 0; i < m->dim; i++)
    for (size_t r = 0; r < B; r++)
      eps[i * ld + r] = st->timedep ? sin(0.01 * s[r] + (double)i)
                                    : 0.3 + 0.2 * (double)i;
}
static size_t xfree_work(const lb_model *m, size_t B) {
  (void)m;
  (void)B;
  return 1;
}
static const lb_model_type xfree_type = {"xfree", xfree_eval, xfree_work,
                                         NULL};

static lb_model *xfree_model(int timedep, xfree_state *st) {
  lb_model *m = calloc(1, sizeof *m);
  lb_err e;
  st->timedep = timedep;
  m->type = &xfree_type;
  m->state = st;
  m->dim = 2;
  cr_assert_eq(lb_schedule_init(&m->sched, "paper", 1000, &e), 0);
  return m;
}

/* A drift constant in x (and s): the corrections vanish exactly (b0 +
 * p (b0 - b0) = b0), so each refined fine step of pmm.c's fine form is
 * the ancestral step's own operations and pmm is the fine chain bit for
 * bit, for any K (including K not dividing 1000: the last coarse step is
 * shorter).  A drift depending on s only: the
 * corrections do not vanish (eps(Xhat_m, s-m) - e0 = f(s-m) - f(s)), but
 * they are unbiased, so the means agree (the spec's "for any K" holds
 * pathwise only for a drift constant in time too). */
Test(diffusion, pmm_x_independent_drift_equals_fine_chain) {
  xfree_state st;
  lb_model *m = xfree_model(0, &st);
  lb_dsampler *dd = dsampler("ddpm:variant=v2", m, 1000);
  lb_run a = {0};
  diffuse(m, dd, 100, 3, 1, &a);
  const char *specs[] = {"pmm:K=3,option=1", "pmm:K=7,option=2",
                         "pmm:K=37,option=1", "pmm:K=1000,option=2",
                         "pmm:K=999,option=1"};
  for (int q = 0; q < 5; q++) {
    lb_dsampler *pm = dsampler(specs[q], m, 0);
    lb_run b = {0};
    diffuse(m, pm, 100, 3, 1, &b);
    double scale = 0;
    for (long i = 0; i < 200; i++)
      if (fabs(a.samples[i]) > scale) scale = fabs(a.samples[i]);
    cr_expect(max_diff(&a, &b) == 0.0, "%s: %g (scale %g)", specs[q],
              max_diff(&a, &b), scale);
    lb_run_clear(&b);
    lb_dsampler_free(pm);
  }
  lb_run_clear(&a);
  lb_dsampler_free(dd);

  st.timedep = 1;
  dd = dsampler("ddpm:variant=v2", m, 1000);
  lb_dsampler *pm = dsampler("pmm:K=20,option=1", m, 0);
  lb_run c = {0}, b = {0};
  diffuse(m, dd, 4000, 5, 2, &c);
  diffuse(m, pm, 4000, 5, 2, &b);
  for (int i = 0; i < 2; i++) {
    double ma, sa, mb, sb;
    lb_test_mean_se(c.samples + i, 4000, 2, &ma, &sa);
    lb_test_mean_se(b.samples + i, 4000, 2, &mb, &sb);
    cr_expect(fabs(ma - mb) <= LB_TEST_NSE * sqrt(sa * sa + sb * sb),
              "coord %d: %g vs %g (se %g %g)", i, ma, mb, sa, sb);
  }
  lb_run_clear(&b);
  lb_run_clear(&c);
  lb_dsampler_free(pm);
  lb_dsampler_free(dd);
  free(m);
}

/* pmm.c's parameters for chains of a fixed fine step: hfine makes a
 * coarse step of alpha = L hfine run L <= K fine steps (the same chain as
 * K = L), offset0=0 belongs to dynamics without the scaling relations
 * only, and both need the fine form. */
static void sample_to(const char *sampler, double h, const char *name,
                      lb_run *r) {
  char out[512], args[1024], err[512];
  lb_err e;
  snprintf(out, sizeof out, "%s/%s.h5", lb_test_tmpdir(), name);
  snprintf(args, sizeof args,
           "sample --target gmm:preset=ring8 --sampler %s --step %g "
           "--steps 20 --chains 200 --seed 5 --threads 1 --out %s",
           sampler, h, out);
  cr_assert_eq(lb_test_cli(args, err, sizeof err), 0, "%s", err);
  cr_assert_eq(lb_run_load(out, r, &e), 0, "%s", e.msg);
}

Test(diffusion, pmm_fine_step_parameters) {
  lb_run a = {0}, b = {0}, c = {0};
  sample_to("plmc:K=8,option=1,impl=fine,hfine=0.01", 0.03, "hf_a", &a);
  sample_to("plmc:K=3,option=1,impl=fine", 0.03, "hf_b", &b);
  sample_to("plmc:K=8,option=2,impl=fine,hfine=0.01", 0.08, "hf_c", &c);
  cr_expect(max_diff(&a, &b) == 0.0, "hfine: L = 3 is K = 3: %g",
            max_diff(&a, &b));
  lb_run_clear(&b);
  sample_to("plmc:K=8,option=2,impl=fine", 0.08, "hf_d", &b);
  cr_expect(max_diff(&c, &b) == 0.0, "hfine: L = K: %g", max_diff(&c, &b));
  lb_run_clear(&a);
  lb_run_clear(&b);
  lb_run_clear(&c);
  const char *bad[][2] = {
      {"plmc:K=4,option=2,impl=fine,offset0=0", "offset0"},
      {"plmc:K=4,hfine=0.01", "hfine"},
      {"plmc:K=inf,impl=fine,hfine=0.01", "K"},
      {"uplmc:K=4,option=1,impl=fine,offset0=0", "offset0"},
      {"plmc:K=4,impl=fine,offset0=2", "offset0"},
  };
  for (size_t q = 0; q < sizeof bad / sizeof bad[0]; q++) {
    char out[512], args[1024], err[512];
    snprintf(out, sizeof out, "%s/hf_bad.h5", lb_test_tmpdir());
    snprintf(args, sizeof args,
             "sample --target gmm:preset=ring8 --sampler %s --step 0.1 "
             "--steps 2 --chains 4 --out %s",
             bad[q][0], out);
    cr_expect_eq(lb_test_cli(args, err, sizeof err), 2, "%s", bad[q][0]);
    cr_expect(strstr(err, bad[q][1]) != NULL, "%s: '%s'", bad[q][0], err);
  }
}

/* ---- exact Gaussian laws ------------------------------------------ */

typedef struct {
  char spec[64];
  long nfe;
} law_case;

ParameterizedTestParameters(diffusion, gaussian_variance_matches_exact_law) {
  static law_case c[] = {
      {"ddpm:variant=v1", 10},         {"ddpm:variant=v1b", 10},
      {"ddpm:variant=v1c", 25},        {"ddpm:variant=v1d", 10},
      {"ddpm:variant=v2", 10},         {"ddpm:variant=v2", 100},
      {"ddpm:variant=v3", 10},         {"ddim", 10},
      {"ddim:eta=0.5", 25},            {"dpmsolver:order=1", 10},
      {"dpmsolver:order=2", 5},        {"dpmsolver:order=3", 12},
      {"dpmsolver:order=3,skip=time_uniform", 8},
      {"dpmsolver:order=2,skip=time_quadratic", 15},
      {"dpmsolver++:order=1", 10},     {"dpmsolver++:order=2", 6},
      {"dpmsolver++:order=3", 12},
      {"dpmsolver++:order=3,skip=time_quadratic", 9},
      {"pmm:K=5,option=1", 0},         {"pmm:K=37,option=1", 0},
      {"pmm:K=37,option=2", 0},        {"pmm:K=200,option=2,variant=v1c", 0},
      {"pmm:K=50,option=1,variant=v3", 0},
  };
  return cr_make_param_array(law_case, c, sizeof c / sizeof c[0]);
}

ParameterizedTest(law_case *c, diffusion, gaussian_variance_matches_exact_law) {
  lb_model *m = oracle_for("gaussian:dim=2,var=0.25", NULL);
  lb_dsampler *s = dsampler(c->spec, m, c->nfe);
  const long n = 20000;
  lb_run r = {0};
  diffuse(m, s, n, 11, 1, &r);
  int gauss;
  double want = lb_dsampler_exact_var(s, &m->sched, 0.25, &gauss);
  for (int i = 0; i < 2; i++) {
    double v, se;
    lb_test_var_se(r.samples + i, (size_t)n, 2, &v, &se);
    cr_expect(fabs(v - want) <= LB_TEST_NSE * se,
              "%s nfe=%ld coord %d: sample var %.6f, exact %.6f, se %.6f",
              s->desc, c->nfe, i, v, want, se);
  }
  lb_run_clear(&r);
  lb_dsampler_free(s);
  lb_model_free(m);
}

/* The exact laws of identical chains agree, and DPM-Solver of order 1 is
 * DDIM on its own grid: the probability-flow ODE's first-order solver. */
Test(diffusion, exact_law_identities) {
  lb_model *m = oracle_for("gaussian:dim=1,var=0.25", NULL);
  lb_dsampler *a = dsampler("ddpm:variant=v2", m, 1000),
              *b = dsampler("pmm:K=1", m, 0),
              *c = dsampler("pmm:K=2,option=2", m, 0);
  double va = lb_dsampler_exact_var(a, &m->sched, 0.25, NULL);
  cr_expect(fabs(lb_dsampler_exact_var(b, &m->sched, 0.25, NULL) - va) <
            1e-14);
  cr_expect(fabs(lb_dsampler_exact_var(c, &m->sched, 0.25, NULL) - va) <
            1e-13);
  /* the ODE limit maps N(0,1)-ish x_N to the data variance: order 3 with
   * 500 steps is within 1e-5 of the exact flow's output variance
   * var(t_0) / var(1), var(t) = alpha^2 v + sigma^2 (second-order
   * convergence, see dpmsolver_converges_to_ode) */
  lb_dsampler *d3 = dsampler("dpmsolver:order=3", m, 500);
  double a0 = exp(2 * lb_schedule_log_alpha(&m->sched, 0.001)),
         a1 = exp(2 * lb_schedule_log_alpha(&m->sched, 1.0));
  double flow = (a0 * 0.25 + 1 - a0) / (a1 * 0.25 + 1 - a1);
  cr_expect(fabs(lb_dsampler_exact_var(d3, &m->sched, 0.25, NULL) - flow) <
                1e-5,
            "%.10g vs %.10g", lb_dsampler_exact_var(d3, &m->sched, 0.25, NULL),
            flow);
  lb_dsampler_free(a);
  lb_dsampler_free(b);
  lb_dsampler_free(c);
  lb_dsampler_free(d3);
  lb_model_free(m);
}

/* ---- DDPM-1000 on ring8: mode weights and per-mode moments --------- */

Test(diffusion, ddpm1000_oracle_reproduces_ring8) {
  lb_target *t;
  lb_model *m = oracle_for("gmm:preset=ring8", &t);
  lb_dsampler *s = dsampler("ddpm", m, 1000);
  const long n = 8000;
  lb_run r = {0};
  diffuse(m, s, n, 21, 2, &r);
  double cnt[8] = {0}, sx[8] = {0}, sy[8] = {0}, sxx[8] = {0}, syy[8] = {0};
  for (long c = 0; c < n; c++) {
    const double *x = r.samples + 2 * c;
    size_t k = t->type->mode_of(t->state, x);
    cnt[k]++;
    sx[k] += x[0];
    sy[k] += x[1];
    sxx[k] += x[0] * x[0];
    syy[k] += x[1] * x[1];
  }
  for (int k = 0; k < 8; k++) {
    double p = cnt[k] / (double)n, se = sqrt(0.125 * 0.875 / (double)n);
    cr_expect(fabs(p - 0.125) <= LB_TEST_NSE * se, "mode %d weight %g", k, p);
    double mx = sx[k] / cnt[k], my = sy[k] / cnt[k];
    double mux = 4 * cos(k * M_PI / 4), muy = 4 * sin(k * M_PI / 4);
    double sem = 0.5 / sqrt(cnt[k]);
    cr_expect(fabs(mx - mux) <= LB_TEST_NSE * sem, "mode %d mean x %g", k, mx);
    cr_expect(fabs(my - muy) <= LB_TEST_NSE * sem, "mode %d mean y %g", k, my);
    /* per-mode variance 0.25: SE of a Gaussian sample variance */
    double vx = sxx[k] / cnt[k] - mx * mx, vy = syy[k] / cnt[k] - my * my;
    double sev = 0.25 * sqrt(2.0 / cnt[k]);
    cr_expect(fabs(vx - 0.25) <= LB_TEST_NSE * sev, "mode %d var x %g", k, vx);
    cr_expect(fabs(vy - 0.25) <= LB_TEST_NSE * sev, "mode %d var y %g", k, vy);
  }
  lb_run_clear(&r);
  lb_dsampler_free(s);
  lb_model_free(m);
  lb_target_free(t);
}

/* ---- DPM-Solver converges pathwise to the probability-flow ODE ----- */

Test(diffusion, dpmsolver_converges_to_ode) {
  /* Gaussian data: the flow is x(t_0) = x_N sqrt(var(t_0) / var(1)) */
  lb_model *g = oracle_for("gaussian:dim=2,var=0.25", NULL);
  double a0 = exp(2 * lb_schedule_log_alpha(&g->sched, 0.001)),
         a1 = exp(2 * lb_schedule_log_alpha(&g->sched, 1.0));
  double gain = sqrt((a0 * 0.25 + 1 - a0) / (a1 * 0.25 + 1 - a1));
  /* the solver is linear here, x_out = G x_N: G against the flow's gain,
   * for each kind, and the error falls with the steps */
  const char *kinds[] = {"dpmsolver:order=3", "dpmsolver++:order=3",
                         "dpmsolver:order=2", "dpmsolver++:order=2"};
  for (int q = 0; q < 4; q++) {
    double err[2];
    for (int j = 0; j < 2; j++) {
      lb_dsampler *s = dsampler(kinds[q], g, j ? 400 : 100);
      err[j] = fabs(sqrt(lb_dsampler_exact_var(s, &g->sched, 0.25, NULL)) -
                    gain);
      lb_dsampler_free(s);
    }
    /* global order 2: the first step has order 1 (no history), whose
     * local error O(h^2) bounds every order's global error; so a 4-fold
     * step count must cut the error at least 8-fold; 400 steps within
     * 2e-5 of the flow */
    cr_expect(err[1] < 2e-5 && err[1] < err[0] / 8,
              "%s: |G - flow| %g (S=100), %g (S=400)", kinds[q], err[0],
              err[1]);
  }
  lb_model_free(g);

  /* ring8: two step counts agree pathwise, for both parametrisations */
  lb_model *m = oracle_for("gmm:preset=ring8", NULL);
  lb_run ref = {0};
  lb_dsampler *sr = dsampler("dpmsolver++:order=3", m, 800);
  diffuse(m, sr, 256, 4, 2, &ref);
  const char *specs[] = {"dpmsolver:order=3", "dpmsolver++:order=3",
                         "dpmsolver++:order=2"};
  for (int q = 0; q < 3; q++) {
    double e[2];
    for (int j = 0; j < 2; j++) {
      lb_dsampler *s = dsampler(specs[q], m, j ? 400 : 100);
      lb_run r = {0};
      diffuse(m, s, 256, 4, 2, &r);
      e[j] = max_diff(&r, &ref);
      lb_run_clear(&r);
      lb_dsampler_free(s);
    }
    /* stated tolerance: 1e-3 at 400 steps (orders 2-3), and the error
     * falls at least 3-fold from 100 to 400 steps */
    cr_expect(e[1] < 1e-3, "%s S=400: max |x - ref| = %g", specs[q], e[1]);
    cr_expect(e[1] < e[0] / 3, "%s: %g (S=100) -> %g (S=400)", specs[q], e[0],
              e[1]);
  }
  lb_run_clear(&ref);
  lb_dsampler_free(sr);
  lb_model_free(m);
}

/* ---- NFE accounting ------------------------------------------------ */

Test(diffusion, nfe_accounting) {
  lb_model *m = oracle_for("gaussian:dim=1", NULL);
  struct {
    const char *spec;
    long nfe;
    long want;
  } det[] = {
      {"ddpm", 37, 37},
      {"ddpm:variant=v1d", 1000, 1000},
      {"ddim", 1, 1},
      {"dpmsolver:order=3", 7, 7},
      {"dpmsolver++:order=2", 50, 50},
      {"pmm:K=1", 0, 1000},
      {"pmm:K=7,option=2", 0, 142 * 2 + 2},   /* 142 x 7 + one of 6 */
      {"pmm:K=3,option=2", 0, 333 * 2 + 1},   /* last step of L = 1 */
      {"pmm:K=999,option=2", 0, 2 + 1},
      {"pmm:K=1000,option=2", 0, 2},
  };
  for (size_t q = 0; q < sizeof det / sizeof det[0]; q++) {
    lb_dsampler *s = dsampler(det[q].spec, m, det[q].nfe);
    cr_expect(fabs(lb_dsampler_expected_nfe(s) - (double)det[q].want) < 1e-9,
              "%s", det[q].spec);
    lb_run r = {0};
    diffuse(m, s, 50, 1, 1, &r);
    for (long c = 0; c < 50; c++)
      cr_expect_eq(r.nfe[c], det[q].want, "%s: %ld", det[q].spec,
                   (long)r.nfe[c]);
    lb_run_clear(&r);
    lb_dsampler_free(s);
  }
  /* option 1: 1 + Binomial(L-1, 1/L) per coarse step of L >= 2 */
  long Ks[] = {7, 64};
  for (int q = 0; q < 2; q++) {
    char sp[64];
    snprintf(sp, sizeof sp, "pmm:K=%ld,option=1", Ks[q]);
    lb_dsampler *s = dsampler(sp, m, 0);
    double want = 0, var = 0;
    for (long st = 1000; st > 0;) {
      long L = Ks[q] < st ? Ks[q] : st;
      want += L == 1 ? 1 : 1 + (double)(L - 1) / (double)L;
      var += L == 1 ? 0 : (double)(L - 1) / (double)L * (1 - 1.0 / (double)L);
      st -= L;
    }
    cr_expect(fabs(lb_dsampler_expected_nfe(s) - want) < 1e-9);
    lb_run r = {0};
    const long n = 4000;
    diffuse(m, s, n, 9, 2, &r);
    double tot = 0;
    for (long c = 0; c < n; c++) tot += (double)r.nfe[c];
    cr_expect(fabs(tot / (double)n - want) <= LB_TEST_NSE * sqrt(var / (double)n),
              "%s: mean NFE %g, expected %g", sp, tot / (double)n, want);
    lb_run_clear(&r);
    lb_dsampler_free(s);
  }
  /* --nfe for pmm picks the K with the nearest expected NFE */
  long asks[] = {2, 40, 60, 80, 333, 1000};
  for (int q = 0; q < 6; q++)
    for (int opt = 1; opt <= 2; opt++) {
      char sp[64];
      snprintf(sp, sizeof sp, "pmm:option=%d", opt);
      lb_dsampler *s = dsampler(sp, m, asks[q]);
      double got = fabs(lb_dsampler_expected_nfe(s) - (double)asks[q]);
      for (long K = 1; K <= 1000; K++) {
        char sk[64];
        snprintf(sk, sizeof sk, "pmm:option=%d,K=%ld", opt, K);
        lb_dsampler *o = dsampler(sk, m, 0);
        cr_expect(got <= fabs(lb_dsampler_expected_nfe(o) - (double)asks[q]));
        lb_dsampler_free(o);
      }
      lb_dsampler_free(s);
    }
  lb_model_free(m);
}

/* ---- the command -------------------------------------------------- */

static int exists(const char *p) {
  struct stat st;
  return stat(p, &st) == 0;
}

Test(diffusion, diffuse_command_writes_run_schema) {
  char out[512], args[1024], err[512];
  snprintf(out, sizeof out, "%s/d.h5", lb_test_tmpdir());
  snprintf(args, sizeof args,
           "diffuse --model oracle --target gmm:preset=ring8 --sampler "
           "pmm:K=25,option=1 --samples 300 --seed 3 --threads 2 "
           "--record-every 10 --out %s",
           out);
  cr_assert_eq(lb_test_cli(args, err, sizeof err), 0, "%s", err);
  lb_run r = {0};
  lb_err e;
  cr_assert_eq(lb_run_load(out, &r, &e), 0, "%s", e.msg);
  cr_expect_eq(r.chains, 300);
  cr_expect_eq(r.dim, 2);
  cr_expect_eq(r.steps, 40);
  cr_expect_eq(r.records, 5);
  cr_expect_eq(r.record_chains, 64);
  cr_expect_str_eq(r.target, "gmm:preset=ring8");
  cr_expect_str_eq(r.sampler, "pmm:K=25,option=1,variant=v2");
  int64_t tot = 0;
  for (long c = 0; c < 300; c++) tot += r.nfe[c];
  cr_expect_eq(r.trajectory_nfe[r.records - 1], tot);
  hid_t f = H5Fopen(out, H5F_ACC_RDONLY, H5P_DEFAULT);
  char buf[256];
  cr_expect_eq(lb_attr_get_str(f, "model", buf, sizeof buf), 0);
  cr_expect_str_eq(buf, "oracle:gmm:preset=ring8");
  cr_expect_eq(lb_attr_get_str(f, "schedule", buf, sizeof buf), 0);
  cr_expect_str_eq(buf, "paper");
  H5Fclose(f);
  /* one thread gives the same samples */
  char out1[600];
  snprintf(out1, sizeof out1, "%s/d1.h5", lb_test_tmpdir());
  snprintf(args, sizeof args,
           "diffuse --model oracle --target gmm:preset=ring8 --sampler "
           "pmm:K=25,option=1 --samples 300 --seed 3 --threads 1 --out %s",
           out1);
  cr_assert_eq(lb_test_cli(args, err, sizeof err), 0, "%s", err);
  lb_run r1 = {0};
  cr_assert_eq(lb_run_load(out1, &r1, &e), 0, "%s", e.msg);
  cr_expect_eq(memcmp(r.samples, r1.samples, 600 * sizeof(double)), 0);
  lb_run_clear(&r);
  lb_run_clear(&r1);
  /* metrics work on it against the data law */
  snprintf(args, sizeof args, "metrics %s --metrics modes", out);
  cr_expect_eq(lb_test_cli(args, err, sizeof err), 0, "%s", err);
  /* exact --model oracle */
  cr_expect_eq(lb_test_cli("exact --model oracle --target gaussian:dim=2 "
                           "--sampler pmm:K=10,option=2",
                           err, sizeof err),
               0, "%s", err);
}

typedef struct {
  char args[200];
  char names[40];
} bad_case;

ParameterizedTestParameters(diffusion, bad_input) {
  static bad_case c[] = {
      {"--model oracle --target gmm:preset=ring8 --sampler ddpm:variant=v9 --nfe 10", "variant"},
      {"--model oracle --target gmm:preset=ring8 --sampler pmm:K=0", "K=0"},
      {"--model oracle --target gmm:preset=ring8 --sampler pmm:K=5 --nfe 40", "not both"},
      {"--model oracle --target gmm:preset=ring8 --sampler ddpm --nfe 0", "--nfe"},
      {"--model oracle --target gmm:preset=ring8 --sampler ddpm --nfe 2000", "--nfe"},
      {"--model oracle --target gmm:preset=ring8 --sampler pmm --nfe 1", "--nfe"},
      {"--model oracle --target gmm:preset=ring8 --sampler ddpm", "--nfe"},
      {"--model oracle --target gmm:preset=ring8 --sampler dpmsolver:order=4 --nfe 10", "order"},
      {"--model oracle --target gmm:preset=ring8 --sampler dpmsolver:skip=x --nfe 10", "skip"},
      {"--model oracle --target gmm:preset=ring8 --sampler ddim:eta=2 --nfe 10", "eta"},
      {"--model oracle --target gmm:preset=ring8 --sampler euler --nfe 10", "euler"},
      {"--model oracle --target gmm:preset=ring8 --sampler ddpm:K=3 --nfe 10", "'K'"},
      {"--model oracle --target double_well --sampler ddpm --nfe 10", "--model"},
      {"--model oracle --sampler ddpm --nfe 10", "--target"},
      {"--model /nonexistent.h5 --target gmm:preset=ring8 --sampler ddpm --nfe 10", "--model"},
  };
  return cr_make_param_array(bad_case, c, sizeof c / sizeof c[0]);
}

ParameterizedTest(bad_case *c, diffusion, bad_input) {
  char out[512], full[1024], err[512], part[600];
  snprintf(out, sizeof out, "%s/bad.h5", lb_test_tmpdir());
  snprintf(full, sizeof full, "diffuse %s --samples 10 --out %s", c->args, out);
  cr_expect_eq(lb_test_cli(full, err, sizeof err), 2, "%s -> %s", full, err);
  cr_expect(strstr(err, c->names) != NULL, "message '%s' lacks '%s'", err,
            c->names);
  cr_expect(strchr(err, '\n') == strrchr(err, '\n'));
  snprintf(part, sizeof part, "%s.part", out);
  cr_expect(!exists(out) && !exists(part), "output left behind");
}

/* ---- diffusion experiments: cells, resume, export, figure ---------- */

static long count_lines_with(const char *path, const char *a, const char *b) {
  FILE *f = fopen(path, "r");
  if (!f) return -1;
  char line[4096];
  long n = 0;
  while (fgets(line, sizeof line, f))
    if (strstr(line, a) && (!b || strstr(line, b))) n++;
  fclose(f);
  return n;
}

Test(diffusion, experiment_cells_export_and_figure) {
  const char *dir = lb_test_tmpdir();
  char cfg[512], out[512], args[2048], err[512], csv[600];
  snprintf(cfg, sizeof cfg, "%s/dexp.cfg", dir);
  snprintf(out, sizeof out, "%s/data/dexp.h5", dir);
  FILE *f = fopen(cfg, "w");
  cr_assert(f);
  fprintf(f, "name = \"dexp\";\nkind = \"diffusion\";\n"
             "models = ( { model = \"oracle\"; target = \"gmm:preset=ring8\"; },\n"
             "           { model = \"oracle\"; target = \"gaussian:dim=2,var=0.25\"; },\n"
             "           { model = \"targets/models/moons.h5\"; data = \"moons\"; "
             "samples = 200; } );\n"
             "samplers = ( \"ddpm:variant=v2\", \"pmm:option=2,variant=v2\", "
             "\"dpmsolver:order=3,skip=logsnr\",\n"
             "             { sampler = \"ddpm:variant=v1c\"; nfe = [20]; } );\n"
             "nfe = [10, 40];\nsamples = 400;\nseeds = [1];\nmetrics = \"modes\";\n");
  fclose(f);
  snprintf(args, sizeof args, "mkdir -p '%s/data'", dir);
  cr_assert_eq(system(args), 0);
  snprintf(args, sizeof args, "run %s --out %s --threads 2", cfg, out);
  cr_assert_eq(lb_test_cli(args, err, sizeof err), 0, "%s", err);
  /* a rerun finds every cell and runs none */
  cr_assert_eq(lb_test_cli(args, err, sizeof err), 0, "%s", err);
  cr_expect(strstr(err, "cell ") == NULL, "rerun ran a cell: %s", err);
  snprintf(csv, sizeof csv, "%s/data/diffusion_nfe.csv", dir);
  snprintf(args, sizeof args, "export %s --out %s", out, csv);
  cr_assert_eq(lb_test_cli(args, err, sizeof err), 0, "%s", err);
  /* 7 cells per model (3 samplers x 2 NFE, v1c at its own NFE 20):
   * var_rel on the exact laws, var_rel_exact on the Gaussian, the
   * reference-sample measures on moons (no exact law, no var_rel) */
  cr_expect_eq(count_lines_with(csv, ",var_rel,", NULL), 14);
  cr_expect_eq(count_lines_with(csv, ",var_rel_exact,", "gaussian"), 7);
  cr_expect_eq(count_lines_with(csv, "oracle/ddpm:variant=v1c,", ",var_rel,"), 2);
  cr_expect_eq(count_lines_with(csv, "oracle/ddpm:variant=v1c,", ",20,var_rel,"), 2);
  cr_expect_eq(count_lines_with(csv, "moons,moons.h5/", ",mmd_q,"), 7);
  cr_expect_eq(count_lines_with(csv, "moons,moons.h5/", ",moons_far,"), 7);
  cr_expect_eq(count_lines_with(csv, "moons.h5/", ",var_rel,"), 0);
  {
    /* a moons cell holds its entry's 200 samples */
    lb_run mr = {0};
    lb_err me;
    char cdir[700], cmd[800], first[800] = "";
    snprintf(cdir, sizeof cdir, "%s.cells", out);
    snprintf(cmd, sizeof cmd,
             "for f in '%s'/*.h5; do h5dump -a /model \"$f\" | grep -q moons "
             "&& echo \"$f\" && break; done",
             cdir);
    FILE *pp = popen(cmd, "r");
    cr_assert(pp);
    if (!fgets(first, sizeof first, pp)) first[0] = 0;
    pclose(pp);
    first[strcspn(first, "\n")] = 0;
    cr_assert(first[0], "no moons cell in %s", cdir);
    cr_assert_eq(lb_run_load(first, &mr, &me), 0, "%s", me.msg);
    cr_expect_eq(mr.chains, 200);
    lb_run_clear(&mr);
  }
  cr_expect_eq(count_lines_with(csv, "oracle/pmm:option=2;variant=v2,50,2,", ",modes,"), 2);
  /* the exact value in the CSV is the library's */
  lb_model *m = oracle_for("gaussian:dim=2,var=0.25", NULL);
  lb_dsampler *s = dsampler("ddpm:variant=v2", m, 10);
  double want = lb_dsampler_exact_var(s, &m->sched, 0.25, NULL) / 0.25 - 1;
  char needle[128];
  snprintf(needle, sizeof needle, ",var_rel_exact,%.17g,", want);
  cr_expect_eq(count_lines_with(csv, "oracle/ddpm:variant=v2,", needle), 1,
               "%s", needle);
  lb_dsampler_free(s);
  lb_model_free(m);
  /* the figure */
  char figs[600], png[700];
  snprintf(figs, sizeof figs, "%s/figs", dir);
  snprintf(args, sizeof args, "sh scripts/figures.sh '%s/data' '%s' diffusion >/dev/null 2>&1",
           dir, figs);
  cr_expect_eq(system(args), 0);
  snprintf(png, sizeof png, "%s/diffusion_nfe.png", figs);
  cr_expect(exists(png), "no %s", png);
  /* a bad experiment file names FILE:LINE */
  f = fopen(cfg, "w");
  fprintf(f, "name = \"dexp\";\nkind = \"diffusion\";\nbogus = 1;\n");
  fclose(f);
  snprintf(args, sizeof args, "run %s --out %s/bad.h5", cfg, dir);
  cr_expect_eq(lb_test_cli(args, err, sizeof err), 2, "%s", err);
  cr_expect(strstr(err, "dexp.cfg:3") != NULL, "%s", err);
  const char *bad[][2] = {
      {"models = ( { model = \"oracle\"; target = \"gmm:preset=ring8\"; "
       "data = \"moons\"; } );\n", "not both"},
      {"models = ( { model = \"targets/models/moons.h5\"; data = "
       "\"gaussian:dim=3\"; } );\n", "dimension"},
      {"models = ( { model = \"oracle\"; target = \"gmm:preset=ring8\"; "
       "samples = 1; } );\n", "samples"},
  };
  for (size_t q = 0; q < sizeof bad / sizeof bad[0]; q++) {
    f = fopen(cfg, "w");
    fprintf(f, "name = \"dexp\";\nkind = \"diffusion\";\n%s"
               "samplers = ( \"ddpm\" );\nnfe = [10];\nsamples = 10;\n"
               "seeds = [1];\n", bad[q][0]);
    fclose(f);
    cr_expect_eq(lb_test_cli(args, err, sizeof err), 2, "%s", err);
    cr_expect(strstr(err, "dexp.cfg:3") != NULL && strstr(err, bad[q][1]),
              "%s", err);
  }
}

/* ---- trained models through the MLP loader --------------------------- */

Test(diffusion, trained_model_file) {
  const char *dir = lb_test_tmpdir();
  char args[2048], err[512], model[512], out[600];
  snprintf(model, sizeof model, "%s/tiny.h5", dir);
  snprintf(out, sizeof out, "%s/tiny_out.h5", dir);
  snprintf(args, sizeof args,
           "train --data gmm:preset=ring8 --out %s --steps 20 --width 8 "
           "--depth 1 --batch 64 --quiet",
           model);
  cr_assert_eq(lb_test_cli(args, err, sizeof err), 0, "%s", err);
  snprintf(args, sizeof args,
           "diffuse --model %s --target gmm:preset=ring8 --sampler "
           "pmm:K=40,option=1 --samples 50 --out %s",
           model, out);
  cr_expect_eq(lb_test_cli(args, err, sizeof err), 0, "%s", err);
  lb_run r = {0};
  lb_err e;
  cr_assert_eq(lb_run_load(out, &r, &e), 0, "%s", e.msg);
  cr_expect(lb_all_finite(r.samples, 100));
  lb_run_clear(&r);
  /* a model of the wrong dimension for the data law */
  snprintf(args, sizeof args,
           "diffuse --model %s --target gaussian:dim=3 --sampler ddpm --nfe 10 "
           "--samples 5 --out %s/wrongdim.h5",
           model, dir);
  cr_expect_eq(lb_test_cli(args, err, sizeof err), 2, "%s", err);
  cr_expect(strstr(err, "dimension") != NULL, "%s", err);
}
