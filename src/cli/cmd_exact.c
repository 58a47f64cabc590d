/* cmd_exact.c -- `langbench exact`: the exact law of a linear sampler's
 * iterates on a Gaussian target, step by step, as CSV.
 *
 * GPL-3.0-or-later.
 *
 * On a diagonal Gaussian target every sampler with a gauss_law
 * (sampler.h) moves coordinate i as X_i' = a_i X_i + n_i (centred at the
 * target mean), so the mean m and second moments S of the iterates follow
 *   m' = E[a] m,   S'_ij = E[a_i a_j] S_ij + [i=j] E[n_i^2]
 * exactly, also for random coefficients (RLMC, PLMC).  When a is
 * deterministic (LMC) the iterate law is Gaussian and its KL and W2 to the
 * target follow in closed form (gauss.c).
 *
 * Underdamped samplers (gauss_law2) move the pair (U_i, V_i) by a random
 * 2x2 matrix (udlaw.h); the recursion then runs on the mean and second
 * moments of (U, V), the error columns describe the positions U, and
 * extra columns give the velocity moments.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "commands.h"
#include "lb.h"
#include "model.h"
#include "reverse.h"
#include "metrics.h"
#include "sampler.h"
#include "target.h"
#include "udlaw.h"

static const char *const CMD = "exact";

int lb_exact_coefs(lb_gauss_law_fn law, const lb_sampler *s, double h,
                   const double *prec, size_t d, double *ea, double *eaa,
                   double *en2) {
  int det = 1;
  double out[3];
  for (size_t i = 0; i < d; i++) {
    law(s, h, prec[i], prec[i], out);
    ea[i] = out[0];
    en2[i] = out[2];
  }
  for (size_t i = 0; i < d; i++)
    for (size_t j = 0; j < d; j++) {
      law(s, h, prec[i], prec[j], out);
      eaa[i * d + j] = out[1];
      double prod = ea[i] * ea[j];
      double scale = fabs(prod) > fabs(out[1]) ? fabs(prod) : fabs(out[1]);
      if (fabs(out[1] - prod) > 1e-12 * scale + 1e-300) det = 0;
    }
  return det;
}

void lb_exact_step(size_t d, const double *ea, const double *eaa,
                   const double *en2, double *m, double *S) {
  for (size_t i = 0; i < d; i++) {
    m[i] *= ea[i];
    for (size_t j = 0; j < d; j++) S[i * d + j] *= eaa[i * d + j];
    S[i * d + i] += en2[i];
  }
}

static void usage(FILE *f) {
  fprintf(f,
          "usage: langbench exact --target gaussian:... --sampler S --step H "
          "--steps T\n"
          "                       [--init gaussian:var=V[,mean=M]|point:x=X|target]\n"
          "\n"
          "Prints, as CSV, the exact law of the iterates of sampler S on a "
          "diagonal Gaussian\ntarget at steps 0..T, from the sampler's "
          "one-step linear law (sampler.h, gauss_law).\nColumns:\n"
          "  step      iteration count t\n"
          "  mean_err  |E X_t - mu|                (estimand of metric "
          "mean_err)\n"
          "  cov_err   |Cov X_t - Sigma|_F         (estimand of metric "
          "cov_err)\n"
          "  kl        KL(law of X_t || target)    (metric kl: the grid rule "
          "is biased low)\n"
          "  w2        W2(law of X_t, target)      (population value; "
          "metric w2 adds\n"
          "                                         the empirical bias)\n"
          "  w2_marg   mean_i W2 of the marginals  (estimand of metric "
          "w2_marg)\n"
          "  mean_I    E X_t,I for I = 0..d-1\n"
          "  cov_I_J   Cov(X_t,I, X_t,J) for I <= J (upper triangle, row "
          "by row)\n"
          "Underdamped samplers (ulmc, urlmc, uplmc) describe the positions "
          "U in the\ncolumns above and add\n"
          "  vmean_I   E V_t,I\n"
          "  vcov_I_J  Cov(V_t,I, V_t,J) for I <= J\n"
          "  uvcov_I_J Cov(U_t,I, V_t,J) for all I, J\n"
          "(velocities start from --init's v=/vvar=, default N(0, I)).\n"
          "  nfe       expected drift evaluations per chain in steps 1..t "
          "(last column)\n"
          "kl, w2 and w2_marg need a Gaussian iterate law (deterministic "
          "coefficients, e.g.\nlmc, or step 0) and are nan otherwise; kl is "
          "inf while the covariance is singular\n(point start).  Cost O(d^2) "
          "per step, O(d^3) when the covariance is not diagonal.\n"
          "Default --init: gaussian:var=1 (standard normal).\n");
}

/* ---- diffusion samplers on Gaussian data (diffusion.md section 5) ---- */

static const char *diff_usage =
    "usage: langbench exact --model oracle --target gaussian:... --sampler "
    "SPEC [--nfe N]\n"
    "                       [--schedule paper|linear]\n"
    "Prints, as CSV, the exact output law of a diffusion sampler (see\n"
    "`langbench diffuse --help`) with the oracle on Gaussian data N(0,\n"
    "diag(v)): every sampler is linear in its state, so the output variance\n"
    "follows with no Monte Carlo.  Columns:\n"
    "  sampler   the resolved sampler SPEC (';' for ',')\n"
    "  nfe       expected network calls per sample\n"
    "  var_I     Var(X_0,I) of the output for I = 0..d-1\n"
    "  kl        KL(output law || data law)\n"
    "  w2        W2(output law, data law)\n"
    "  gaussian  1 when the output law is Gaussian; pmm's is a Gaussian\n"
    "            scale mixture (random midpoints): kl and w2 are then those\n"
    "            of the Gaussian with the same variance (a lower bound for\n"
    "            kl is not implied; read them as moment-matched values).\n";

static int exact_diffusion(int argc, char **argv) {
  const char *model = NULL, *tspec = NULL, *sspec = NULL, *nfetext = NULL,
             *sched = NULL;
  const lb_opt opts[] = {{"model", 1, &model},   {"target", 1, &tspec},
                         {"sampler", 1, &sspec}, {"nfe", 1, &nfetext},
                         {"schedule", 1, &sched}, {NULL, 0, NULL}};
  int help = 0;
  if (lb_cli_parse(CMD, argc, argv, opts, NULL, 0, NULL, &help))
    return LB_EINPUT;
  if (help) {
    fputs(diff_usage, stdout);
    return 0;
  }
  if (strcmp(model, "oracle") != 0)
    return lb_usage_error(CMD, "--model %s: exact laws need --model oracle",
                          model);
  if (!tspec) return lb_usage_error(CMD, "missing --target");
  if (!sspec) return lb_usage_error(CMD, "missing --sampler");
  long nfe = 0;
  if (lb_cli_long(CMD, "--nfe", nfetext, 1, 1000000, &nfe)) return LB_EINPUT;
  lb_err err = {{0}};
  lb_target *t = NULL;
  lb_model *m = NULL;
  lb_dsampler *s = NULL;
  int rc = lb_target_alloc(tspec, &t, &err);
  if (rc) return lb_usage_error(CMD, "%s", err.msg);
  const size_t d = t->dim;
  if (strcmp(t->type->name, "gaussian") != 0) {
    rc = lb_usage_error(CMD, "--target %s: exact laws need a gaussian target",
                        tspec);
    goto out;
  }
  rc = lb_model_open(model, t, sched, &m, &err);
  if (!rc) rc = lb_dsampler_alloc(sspec, &m->sched, nfe, &s, &err);
  if (rc) {
    rc = lb_usage_error(CMD, "%s", err.msg);
    goto out;
  }
  printf("sampler,nfe");
  for (size_t i = 0; i < d; i++) printf(",var_%zu", i);
  printf(",kl,w2,gaussian\n");
  char desc[LB_SPEC_MAXLEN];
  snprintf(desc, sizeof desc, "%s", s->desc);
  for (char *q = desc; *q; q++) /* one CSV field */
    if (*q == ',') *q = ';';
  printf("%s,%.17g", desc, lb_dsampler_expected_nfe(s));
  double kl = 0, w2 = 0;
  int gauss = 1;
  for (size_t i = 0; i < d; i++) {
    double v = t->cov[i * d + i];
    double V = lb_dsampler_exact_var(s, &m->sched, v, &gauss);
    printf(",%.17g", V);
    kl += 0.5 * (V / v - 1.0 - log(V / v));
    double ds = sqrt(V) - sqrt(v);
    w2 += ds * ds;
  }
  printf(",%.17g,%.17g,%d\n", kl, sqrt(w2), gauss);
  rc = LB_OK;
out:
  lb_dsampler_free(s);
  lb_model_free(m);
  lb_target_free(t);
  return rc;
}

int lb_cmd_exact(int argc, char **argv) {
  for (int i = 1; i < argc; i++)
    if (strncmp(argv[i], "--model", 7) == 0 &&
        (argv[i][7] == '\0' || argv[i][7] == '='))
      return exact_diffusion(argc, argv);
  const char *tspec = NULL, *sspec = NULL, *steptext = NULL, *stepstext = NULL,
             *init = NULL;
  const lb_opt opts[] = {{"target", 1, &tspec},   {"sampler", 1, &sspec},
                         {"step", 1, &steptext},  {"steps", 1, &stepstext},
                         {"init", 1, &init},      {NULL, 0, NULL}};
  int help = 0;
  if (lb_cli_parse(CMD, argc, argv, opts, NULL, 0, NULL, &help))
    return LB_EINPUT;
  if (help) {
    usage(stdout);
    return 0;
  }
  if (!tspec) return lb_usage_error(CMD, "missing --target");
  if (!sspec) return lb_usage_error(CMD, "missing --sampler");
  if (!steptext) return lb_usage_error(CMD, "missing --step");
  if (!stepstext) return lb_usage_error(CMD, "missing --steps");
  double h;
  long steps;
  if (lb_parse_double(steptext, &h) != 0 || !(h > 0) || !isfinite(h))
    return lb_usage_error(CMD, "--step %s: expected a number > 0", steptext);
  if (lb_parse_long(stepstext, &steps) != 0 || steps < 0)
    return lb_usage_error(CMD, "--steps %s: expected an integer >= 0",
                          stepstext);

  lb_err err = {{0}};
  lb_target *t = NULL;
  lb_sampler *s = NULL;
  lb_init in;
  memset(&in, 0, sizeof in);
  int rc = lb_target_alloc(tspec, &t, &err);
  if (rc) return lb_usage_error(CMD, "%s", err.msg);
  const size_t d = t->dim;
  double *prec = NULL, *ea = NULL, *eaa = NULL, *en2 = NULL, *m = NULL,
         *S = NULL, *mean = NULL, *cov = NULL;
  if (strcmp(t->type->name, "gaussian") != 0) {
    rc = lb_usage_error(CMD,
                        "--target %s: exact laws need a gaussian target, not "
                        "'%s'",
                        tspec, t->type->name);
    goto done;
  }
  for (size_t i = 0; i < d; i++)
    for (size_t j = 0; j < d; j++)
      if (i != j && t->cov[i * d + j] != 0) {
        rc = lb_usage_error(CMD, "--target %s: the covariance is not diagonal",
                            tspec);
        goto done;
      }
  rc = lb_sampler_alloc(sspec, t, &s, &err);
  if (rc) {
    rc = lb_usage_error(CMD, "%s", err.msg);
    goto done;
  }
  const int ud = s->type->gauss_law2 != NULL;
  if (!s->type->gauss_law && !ud) {
    rc = lb_usage_error(CMD,
                        "--sampler %s: '%s' has no exact Gaussian law "
                        "(gauss_law)",
                        sspec, s->type->name);
    goto done;
  }
  rc = lb_init_parse(&in, init, t, &err);
  if (rc) {
    rc = lb_usage_error(CMD, "%s", err.msg);
    goto done;
  }
  if (in.has_v && !ud) {
    rc = lb_usage_error(CMD, "--init %s: v= and vvar= need an underdamped "
                        "sampler", init);
    goto done;
  }

  const size_t n = ud ? 2 * d : d; /* state size */
  prec = lb_xcalloc(d, sizeof(double));
  ea = lb_xcalloc(ud ? 4 * d : d, sizeof(double));
  en2 = lb_xcalloc(ud ? 4 * d : d, sizeof(double));
  eaa = lb_xcalloc(ud ? 16 * d * d : d * d, sizeof(double));
  m = lb_xcalloc(n, sizeof(double));
  S = lb_xcalloc(n * n, sizeof(double));
  mean = lb_xcalloc(d, sizeof(double));
  cov = lb_xcalloc(d * d, sizeof(double));
  for (size_t i = 0; i < d; i++) prec[i] = 1 / t->cov[i * d + i];
  int gaussian =
      ud ? lb_law2_coefs(s->type->gauss_law2, s, h, prec, d, ea, eaa, en2)
         : lb_exact_coefs(s->type->gauss_law, s, h, prec, d, ea, eaa, en2);

  /* Start, centred at the target mean; velocities (U-V uncorrelated). */
  for (size_t i = 0; i < d; i++) {
    if (in.kind == 0)
      m[i] = in.mean - t->mean[i]; /* gaussian:var=V,mean=M */
    else if (in.kind == 1)
      m[i] = in.point[i] - t->mean[i]; /* point:x=X */
    else
      m[i] = 0; /* target: the chain starts in equilibrium */
    if (ud) m[d + i] = in.vpoint ? in.vpoint[i] : 0.0;
  }
  for (size_t i = 0; i < n; i++)
    for (size_t j = 0; j < n; j++) {
      double c0 = 0; /* initial covariance */
      if (i < d && j < d) {
        if (in.kind == 0 && i == j) c0 = in.var;
        if (in.kind == 2) c0 = t->cov[i * d + j];
      } else if (i >= d && i == j && !in.vpoint) {
        c0 = in.vvar;
      }
      S[i * n + j] = m[i] * m[j] + c0;
    }

  printf("step,mean_err,cov_err,kl,w2,w2_marg");
  for (size_t i = 0; i < d; i++) printf(",mean_%zu", i);
  for (size_t i = 0; i < d; i++)
    for (size_t j = i; j < d; j++) printf(",cov_%zu_%zu", i, j);
  if (ud) {
    for (size_t i = 0; i < d; i++) printf(",vmean_%zu", i);
    for (size_t i = 0; i < d; i++)
      for (size_t j = i; j < d; j++) printf(",vcov_%zu_%zu", i, j);
    for (size_t i = 0; i < d; i++)
      for (size_t j = 0; j < d; j++) printf(",uvcov_%zu_%zu", i, j);
  }
  printf(",nfe\n");
  const double nfe_step = lb_sampler_expected_nfe(s, h);
  for (long step = 0; step <= steps; step++) {
    if (step > 0) {
      if (ud)
        lb_law2_step(d, ea, eaa, en2, m, S);
      else
        lb_exact_step(d, ea, eaa, en2, m, S);
    }
    double me = 0, ce = 0, wm = 0;
    for (size_t i = 0; i < d; i++) {
      mean[i] = t->mean[i] + m[i];
      me += m[i] * m[i];
    }
    for (size_t i = 0; i < d; i++)
      for (size_t j = 0; j < d; j++) {
        cov[i * d + j] = S[i * n + j] - m[i] * m[j];
        double diff = cov[i * d + j] - t->cov[i * d + j];
        ce += diff * diff;
      }
    double kl = NAN, w2 = NAN;
    /* The law at step 0 is the initial one, Gaussian (or a point); later
     * it is Gaussian when the coefficients are deterministic. */
    if (gaussian || step == 0) {
      int diag = 1; /* independent coordinates: O(d) closed forms */
      for (size_t i = 0; i < d && diag; i++)
        for (size_t j = 0; j < d; j++)
          if (j != i && fabs(cov[i * d + j]) >
                            1e-14 * sqrt(fabs(cov[i * d + i] * cov[j * d + j])))
            diag = 0;
      double kls = 0, w2s = 0;
      for (size_t i = 0; i < d; i++) {
        double c = cov[i * d + i], v = t->cov[i * d + i];
        double ds = sqrt(c > 0 ? c : 0) - sqrt(v);
        wm += sqrt(m[i] * m[i] + ds * ds);
        w2s += m[i] * m[i] + ds * ds;
        kls += c > 0 ? 0.5 * (c / v + m[i] * m[i] / v - 1 + log(v / c))
                     : HUGE_VAL;
      }
      wm /= (double)d;
      if (diag) {
        kl = kls;
        w2 = sqrt(w2s);
      } else {
        kl = lb_gauss_kl(mean, cov, t->mean, t->cov, d);
        w2 = lb_gauss_w2(mean, cov, t->mean, t->cov, d);
      }
    } else {
      wm = NAN;
    }
    printf("%ld,%.17g,%.17g,%.17g,%.17g,%.17g", step, sqrt(me), sqrt(ce), kl,
           w2, wm);
    for (size_t i = 0; i < d; i++) printf(",%.17g", mean[i]);
    for (size_t i = 0; i < d; i++)
      for (size_t j = i; j < d; j++) printf(",%.17g", cov[i * d + j]);
    if (ud) {
      for (size_t i = 0; i < d; i++) printf(",%.17g", m[d + i]);
      for (size_t i = d; i < n; i++)
        for (size_t j = i; j < n; j++)
          printf(",%.17g", S[i * n + j] - m[i] * m[j]);
      for (size_t i = 0; i < d; i++)
        for (size_t j = d; j < n; j++)
          printf(",%.17g", S[i * n + j] - m[i] * m[j]);
    }
    printf(",%.17g\n", (double)step * nfe_step);
  }
  rc = LB_OK;

done:
  free(prec);
  free(ea);
  free(eaa);
  free(en2);
  free(m);
  free(S);
  free(mean);
  free(cov);
  lb_init_clear(&in);
  if (s) lb_sampler_free(s);
  lb_target_free(t);
  return rc;
}
