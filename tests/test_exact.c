/* test_exact.c -- exact laws of linear samplers on Gaussian targets, and
 * `langbench metrics` agreeing with `langbench exact`.
 *
 * GPL-3.0-or-later.
 */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "io.h"
#include "metrics.h"
#include "sampler.h"
#include "target.h"
#include "testutil.h"

/* The classical LMC law on N(0, 1/lambda): a = 1 - h lambda, noise
 * variance 2h, written here independently of src/engine/samplers. */
static void lmc_law(const lb_sampler *s, double h, double li, double lj,
                    double out[3]) {
  (void)s;
  out[0] = 1 - h * li;
  out[1] = (1 - h * li) * (1 - h * lj);
  out[2] = 2 * h;
}

/* Var X_t = a^(2t) v0 + 2h (1 - a^(2t)) / (1 - a^2); E X_t = a^t m0. */
Test(exact, lmc_recursion_matches_closed_form) {
  const size_t d = 3;
  const double h = 0.1, prec[3] = {1, 4, 0.25}, m0 = 1.5, v0 = 2;
  double ea[3], eaa[9], en2[3], m[3], S[9];
  int gaussian = lb_exact_coefs(lmc_law, NULL, h, prec, d, ea, eaa, en2);
  cr_expect_eq(gaussian, 1);
  for (size_t i = 0; i < d; i++) m[i] = m0;
  for (size_t i = 0; i < d; i++)
    for (size_t j = 0; j < d; j++) S[i * d + j] = m0 * m0 + (i == j ? v0 : 0);
  for (long t = 1; t <= 2000; t++) {
    lb_exact_step(d, ea, eaa, en2, m, S);
    if (t != 1 && t != 10 && t != 2000) continue;
    for (size_t i = 0; i < d; i++) {
      double a = 1 - h * prec[i], at = pow(a, (double)t);
      double var = at * at * v0 + 2 * h * (1 - at * at) / (1 - a * a);
      double got = S[i * d + i] - m[i] * m[i];
      cr_expect(fabs(m[i] - at * m0) <= 1e-13 * (1 + fabs(at * m0)));
      cr_expect(fabs(got - var) <= 1e-12 * var, "t=%ld i=%zu: %.17g vs %.17g",
                t, i, got, var);
      for (size_t j = 0; j < d; j++)
        if (j != i) /* independent coordinates stay uncorrelated */
          cr_expect(fabs(S[i * d + j] - m[i] * m[j]) <= 1e-13);
    }
  }
  /* stationary variance 2 / (lambda (2 - h lambda)) */
  for (size_t i = 0; i < d; i++) {
    double want = 2 / (prec[i] * (2 - h * prec[i]));
    cr_expect(fabs(S[i * d + i] - m[i] * m[i] - want) <= 1e-12 * want);
  }
}

Test(exact, samplers_gauss_law) {
  lb_target *t = NULL;
  lb_err e = {{0}};
  cr_assert_eq(lb_target_alloc("gaussian:dim=2,kappa=4", &t, &e), LB_OK, "%s", e.msg);
  double prec[2] = {1 / t->cov[0], 1 / t->cov[3]};
  double ea[2], eaa[4], en2[2], ea2[2], eaa2[4], en22[2];
  lb_sampler *s = NULL;
  cr_assert_eq(lb_sampler_alloc("lmc", t, &s, &e), LB_OK, "%s", e.msg);
  cr_assert(s->type->gauss_law != NULL);
  int g = lb_exact_coefs(s->type->gauss_law, s, 0.2, prec, 2, ea, eaa, en2);
  lb_exact_coefs(lmc_law, NULL, 0.2, prec, 2, ea2, eaa2, en22);
  cr_expect_eq(g, 1);
  for (int i = 0; i < 2; i++) {
    cr_expect(fabs(ea[i] - ea2[i]) <= 1e-15 && fabs(en2[i] - en22[i]) <= 1e-15);
    for (int j = 0; j < 2; j++) cr_expect(fabs(eaa[2 * i + j] - eaa2[2 * i + j]) <= 1e-15);
  }
  lb_sampler_free(s);
  /* random coefficients: not a Gaussian iterate law */
  cr_assert_eq(lb_sampler_alloc("rlmc", t, &s, &e), LB_OK, "%s", e.msg);
  cr_expect_eq(lb_exact_coefs(s->type->gauss_law, s, 0.2, prec, 2, ea, eaa, en2), 0);
  lb_sampler_free(s);
  lb_target_free(t);
}

/* ------------------------------------------------------------------ */
/* Through the command line                                           */

/* Run `$LANGBENCH_BIN ARGS`, keep stdout lines; returns the exit status. */
static int run(const char *args, char lines[][8192], int maxlines, int *nlines) {
  const char *bin = getenv("LANGBENCH_BIN");
  if (!bin) bin = "bin/langbench";
  char cmd[8192];
  snprintf(cmd, sizeof cmd, "%s %s 2>/dev/null", bin, args);
  FILE *p = popen(cmd, "r");
  cr_assert(p != NULL);
  int n = 0;
  char buf[8192];
  while (fgets(buf, sizeof buf, p)) {
    if (n < maxlines) {
      buf[strcspn(buf, "\n")] = '\0';
      strcpy(lines[n++], buf);
    }
  }
  *nlines = n;
  int st = pclose(p);
  return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* Column `name` of a CSV header; -1 if absent. */
static int column(const char *header, const char *name) {
  char buf[8192];
  snprintf(buf, sizeof buf, "%s", header);
  int k = 0;
  for (char *save = NULL, *tok = strtok_r(buf, ",", &save); tok;
       tok = strtok_r(NULL, ",", &save), k++)
    if (strcmp(tok, name) == 0) return k;
  return -1;
}

static double field(const char *line, int col) {
  char buf[8192];
  snprintf(buf, sizeof buf, "%s", line);
  int k = 0;
  for (char *save = NULL, *tok = strtok_r(buf, ",", &save); tok;
       tok = strtok_r(NULL, ",", &save), k++)
    if (k == col) return strtod(tok, NULL);
  return NAN;
}

static char lines[400][8192];

Test(exact, cli_lmc_1d_closed_forms) {
  int n;
  int rc = run("exact --target gaussian:dim=1,var=1 --sampler lmc --step 0.1 "
               "--steps 50 --init point:x=2",
               lines, 400, &n);
  cr_assert_eq(rc, 0);
  cr_assert_eq(n, 52, "header + 51 steps, got %d lines", n);
  cr_expect_str_eq(lines[0],
                   "step,mean_err,cov_err,kl,w2,w2_marg,mean_0,cov_0_0,nfe");
  const double a = 0.9, h = 0.1;
  double at = pow(a, 50), m = 2 * at, v = 2 * h * (1 - at * at) / (1 - a * a);
  const char *L = lines[51];
  cr_expect(field(L, 0) == 50);
  cr_expect(fabs(field(L, 6) - m) <= 1e-12);
  cr_expect(fabs(field(L, 7) - v) <= 1e-12);
  double kl = 0.5 * (v + m * m - 1 - log(v));
  double w2 = sqrt(m * m + (sqrt(v) - 1) * (sqrt(v) - 1));
  cr_expect(fabs(field(L, 3) - kl) <= 1e-12 * kl);
  cr_expect(fabs(field(L, 4) - w2) <= 1e-12 * w2);
  cr_expect(fabs(field(L, 5) - w2) <= 1e-12 * w2);
  cr_expect(fabs(field(L, 1) - m) <= 1e-12);
  cr_expect(fabs(field(L, 2) - fabs(v - 1)) <= 1e-12);
  cr_expect(field(L, 8) == 50, "nfe after 50 LMC steps: %g", field(L, 8));
  /* step 0 from a point: singular covariance, infinite KL */
  cr_expect(isinf(field(lines[1], 3)));
  /* random coefficients: kl, w2, w2_marg are nan */
  rc = run("exact --target gaussian:dim=2 --sampler rlmc --step 0.1 --steps 3",
           lines, 400, &n);
  cr_assert_eq(rc, 0);
  cr_expect(isnan(field(lines[4], 3)) && isnan(field(lines[4], 4)));
  cr_expect(isfinite(field(lines[4], 2)));
  cr_expect(field(lines[4], 11) == 6, "rlmc: 2 NFE per step"); /* d = 2 */
}

Test(exact, cli_bad_input_exit_2) {
  const char *bad[] = {
      "exact --target gmm:preset=ring8 --sampler lmc --step 0.1 --steps 3",
      "exact --target gaussian:dim=2 --sampler lmc --step 0.1",
      "exact --target gaussian:dim=2 --sampler lmc --step -1 --steps 3",
      "exact --target gaussian:dim=2 --sampler nope --step 0.1 --steps 3",
      "exact --target gaussian:dim=2 --sampler lmc --step 0.1 --steps 3 "
      "--init bogus",
      "exact --sampler lmc --step 0.1 --steps 3",
      "exact --target gaussian:dim=2 --sampler lmc --step 0.1 --steps 3 --x 1",
  };
  for (size_t k = 0; k < sizeof bad / sizeof *bad; k++) {
    char err[512];
    int rc = lb_test_cli(bad[k], err, sizeof err);
    cr_expect_eq(rc, 2, "'%s' exited %d", bad[k], rc);
    cr_expect(strncmp(err, "langbench exact: ", 17) == 0, "'%s': %s", bad[k], err);
  }
}

/* The exact moment recursion of a random-coefficient sampler against a
 * simulation: sample variance within NSE standard errors. */
Test(exact, rlmc_and_plmc_moments_match_simulation) {
  const char *samplers[] = {"rlmc", "plmc:K=4"};
  for (int k = 0; k < 2; k++) {
    char out[600], args[2048];
    snprintf(out, sizeof out, "%s/mc%d.h5", lb_test_tmpdir(), k);
    snprintf(args, sizeof args,
             "sample --target gaussian:dim=1,var=1 --sampler %s --step 0.5 "
             "--steps 20 --chains 20000 --seed 5 --init point:x=3 --out '%s'",
             samplers[k], out);
    char err[512];
    cr_assert_eq(lb_test_cli(args, err, sizeof err), 0, "%s", err);
    lb_run r;
    lb_err e;
    cr_assert_eq(lb_run_load(out, &r, &e), LB_OK, "%s", e.msg);
    double mean, mse, var, vse;
    lb_test_mean_se(r.samples, (size_t)r.chains, 1, &mean, &mse);
    lb_test_var_se(r.samples, (size_t)r.chains, 1, &var, &vse);
    lb_run_clear(&r);
    int n;
    snprintf(args, sizeof args,
             "exact --target gaussian:dim=1,var=1 --sampler %s --step 0.5 "
             "--steps 20 --init point:x=3",
             samplers[k]);
    cr_assert_eq(run(args, lines, 400, &n), 0);
    cr_assert_eq(n, 22);
    double em = field(lines[21], 6), ev = field(lines[21], 7);
    cr_log_info("%s: mean %g (exact %g, se %g), var %g (exact %g, se %g)",
                samplers[k], mean, em, mse, var, ev, vse);
    cr_expect(fabs(mean - em) <= LB_TEST_NSE * mse, "%s mean", samplers[k]);
    cr_expect(fabs(var - ev) <= LB_TEST_NSE * vse, "%s variance", samplers[k]);
  }
}

/* `langbench metrics` on an LMC run agrees with `langbench exact` within
 * NSE reported standard errors plus the documented bias bound (the noise
 * floor), for every metric whose estimand `exact` prints. */
Test(exact, metrics_agree_with_exact_for_lmc_run) {
  char out[600], args[2048], err[512];
  snprintf(out, sizeof out, "%s/x.h5", lb_test_tmpdir());
  snprintf(args, sizeof args,
           "sample --target gaussian:dim=2,var=1 --sampler lmc --step 0.1 "
           "--steps 200 --chains 4000 --seed 1 --out '%s'",
           out);
  cr_assert_eq(lb_test_cli(args, err, sizeof err), 0, "%s", err);
  int n;
  snprintf(args, sizeof args,
           "metrics '%s' --metrics mean_err,cov_err,w2_marg,kl --format csv",
           out);
  cr_assert_eq(run(args, lines, 400, &n), 0);
  cr_assert_eq(n, 5);
  cr_expect_str_eq(lines[0], "metric,estimate,stderr,floor,n");
  static char ex[400][8192];
  int ne;
  cr_assert_eq(run("exact --target gaussian:dim=2,var=1 --sampler lmc --step 0.1 "
                   "--steps 200",
                   ex, 400, &ne),
               0);
  cr_assert_eq(ne, 202);
  for (int k = 1; k < n; k++) {
    char name[64];
    snprintf(name, sizeof name, "%s", lines[k]);
    *strchr(name, ',') = '\0';
    int c = column(ex[0], name);
    cr_assert(c >= 0, "exact has no column %s", name);
    double want = field(ex[201], c);
    double est = field(lines[k], 1), se = field(lines[k], 2), fl = field(lines[k], 3);
    cr_expect(field(lines[k], 4) == 4000);
    cr_log_info("%s: estimate %g exact %g se %g floor %g", name, est, want, se, fl);
    cr_expect(se > 0);
    cr_expect(fabs(est - want) <= LB_TEST_NSE * se + fl,
              "%s: estimate %g vs exact %g (se %g, floor %g)", name, est, want,
              se, fl);
  }
  /* the trajectory form: record_step first */
  snprintf(out, sizeof out, "%s/traj.h5", lb_test_tmpdir());
  snprintf(args, sizeof args,
           "sample --target gaussian:dim=2,var=1 --sampler lmc --step 0.1 "
           "--steps 20 --chains 500 --seed 1 --record-every 10 "
           "--record-chains 300 --out '%s'",
           out);
  cr_assert_eq(lb_test_cli(args, err, sizeof err), 0, "%s", err);
  snprintf(args, sizeof args,
           "metrics '%s' --metrics mean_err,sw2 --format csv --step-index all",
           out);
  cr_assert_eq(run(args, lines, 400, &n), 0);
  cr_expect_str_eq(lines[0], "record_step,metric,estimate,stderr,floor,n");
  cr_expect(n >= 5, "%d lines", n);
  cr_expect(field(lines[n - 1], 5) == 300);
}
