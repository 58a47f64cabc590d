/* reverse.c -- reverse samplers of the DDPM chain: ancestral (DDPM
 * variants, DDIM), DPM-Solver(++) multistep, and the Poisson midpoint
 * method on the full chain (diffusion.md sections 2-5; reverse.h).
 *
 * GPL-3.0-or-later.
 *
 * All samplers work on a block of B rows in coordinate-major layout and
 * call the model once per step for the whole block; vector operations are
 * O(d B) per step (O(L d B) per pmm coarse step of L fine steps).
 *
 * DDPM, DDIM and PMM are not written here: the chain is an instance of
 * the engine's general process (S) (chain.h), an ancestral step is the
 * engine's Euler-Maruyama step of it and PMM is pmm.c's fine form on it,
 * the literal recursion Xt_j = a_j Xt_{j-1} + c_j [e0 + p H_{j-1}
 * (eps(Xhat_{j-1}, s-j+1) - e0)] + sigma_j Z_j next to the interpolation
 * Xhat_j = a_j Xhat_{j-1} + c_j e0 + sigma_j Z_j (same Z_j).  This file
 * keeps the coefficients, the construction, DPM-Solver(++) and the exact
 * laws (whose PMM part unrolls the same recursion: the paper's step 4).
 */
#include "reverse.h"

#include "chain.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- coefficients ------------------------------------------------- */

void lb_ddpm_coefs(const lb_schedule *sch, int variant, double eta, long s,
                   long p, double *a, double *c, double *sigma) {
  double ab_s = sch->abar[s], ab_p = p > 0 ? sch->abar[p] : 1.0;
  double la = log(ab_s) - log(ab_p); /* log alpha' */
  double beta = -expm1(la);          /* beta' = 1 - alpha' */
  if (variant <= LB_V1D) {
    double i = (double)(variant - LB_V1A) - 1.0; /* -1, 0, 1, 2 */
    double sq = exp(0.5 * la);
    *a = 1.0 / sq;
    *c = 2.0 * expm1(0.5 * la) / (sq * sqrt(1.0 - ab_s));
    *sigma = p > 0 ? sqrt(beta / (1.0 + i * beta)) : 0.0;
    return;
  }
  double s2;
  if (variant == LB_V3)
    s2 = (1.0 - ab_p) * beta;
  else
    s2 = beta * (1.0 - ab_p) / (1.0 - ab_s) * (eta >= 0 ? eta * eta : 1.0);
  if (p == 0) s2 = 0.0;
  double r = 1.0 - ab_p - s2;
  *a = sqrt(ab_p / ab_s);
  *c = sqrt(r > 0 ? r : 0.0) - sqrt(ab_p * (1.0 - ab_s) / ab_s);
  *sigma = sqrt(s2);
}

/* ---- construction ------------------------------------------------- */

static const char *const VARIANTS[] = {"v1a", "v1b", "v1c", "v1d", "v2", "v3"};
static const char *const SKIPS[] = {"logsnr", "time_uniform", "time_quadratic"};

static int parse_variant(lb_spec *sp, int *v, lb_err *e) {
  const char *t = lb_spec_str(sp, "variant");
  *v = LB_V2;
  if (!t) return LB_OK;
  if (strcmp(t, "v1") == 0) {
    *v = LB_V1A;
    return LB_OK;
  }
  for (int i = 0; i < 6; i++)
    if (strcmp(t, VARIANTS[i]) == 0) {
      *v = i;
      return LB_OK;
    }
  return lb_fail(e, LB_EINPUT,
                 "--sampler: variant=%s is not a variant (v1, v1a, v1b, v1c, "
                 "v1d, v2, v3)",
                 t);
}

static double pmm_nfe(long K, int option, int N) {
  double tot = 0.0;
  for (long s = N; s > 0;) {
    long L = K < s ? K : s;
    tot += L == 1 ? 1.0 : (option == 2 ? 2.0 : 2.0 - 1.0 / (double)L);
    s -= L;
  }
  return tot;
}

double lb_dsampler_expected_nfe(const lb_dsampler *s) {
  if (s->kind == LB_DS_PMM) return pmm_nfe(s->K, s->option, s->N);
  return (double)s->S;
}

long lb_dsampler_steps(const lb_dsampler *s) { return s->S; }

void lb_dsampler_free(lb_dsampler *s) {
  if (!s) return;
  free(s->kept);
  free(s->tgrid);
  free(s->tab);
  free(s);
}

static void dpm_grid(lb_dsampler *s, const lb_schedule *sch) {
  long S = s->S;
  double tT = 1.0, t0 = 1.0 / (double)sch->N;
  s->tgrid = lb_xcalloc((size_t)S + 1, sizeof(double));
  double lT = lb_schedule_lambda(sch, tT), l0 = lb_schedule_lambda(sch, t0);
  for (long i = 0; i <= S; i++) {
    double f = (double)i / (double)S, t;
    if (s->skip == LB_SKIP_LOGSNR)
      t = lb_schedule_inverse_lambda(sch, lT + f * (l0 - lT));
    else if (s->skip == LB_SKIP_UNIFORM)
      t = tT + f * (t0 - tT);
    else {
      double q = sqrt(tT) + f * (sqrt(t0) - sqrt(tT));
      t = q * q;
    }
    s->tgrid[i] = t;
  }
  s->tgrid[0] = tT;
  s->tgrid[S] = t0;
}

int lb_dsampler_alloc(const char *text, const lb_schedule *sch, long nfe,
                      lb_dsampler **out, lb_err *e) {
  lb_spec sp;
  int rc = lb_spec_parse(&sp, text, "--sampler", e);
  if (rc) return rc;
  lb_dsampler *s = lb_xcalloc(1, sizeof *s);
  const int N = sch->N;
  s->N = N;
  s->eta = -1.0;
  s->variant = LB_V2;
  if (strcmp(sp.name, "ddpm") == 0) {
    s->kind = LB_DS_DDPM;
    rc = parse_variant(&sp, &s->variant, e);
  } else if (strcmp(sp.name, "ddim") == 0) {
    s->kind = LB_DS_DDIM;
    rc = lb_spec_double(&sp, "eta", 0.0, 0.0, 1.0, &s->eta, e);
  } else if (strcmp(sp.name, "dpmsolver") == 0 ||
             strcmp(sp.name, "dpmsolver++") == 0) {
    s->kind = sp.name[9] ? LB_DS_DPMPP : LB_DS_DPM;
    long order;
    rc = lb_spec_long(&sp, "order", 2, 1, 3, &order, e);
    s->order = (int)order;
    const char *sk = lb_spec_str(&sp, "skip");
    s->skip = -1;
    if (!sk) s->skip = LB_SKIP_LOGSNR;
    for (int i = 0; sk && i < 3; i++)
      if (strcmp(sk, SKIPS[i]) == 0) s->skip = i;
    if (!rc && s->skip < 0)
      rc = lb_fail(e, LB_EINPUT,
                   "--sampler: skip=%s is not a step choice (logsnr, "
                   "time_uniform, time_quadratic)",
                   sk);
  } else if (strcmp(sp.name, "pmm") == 0) {
    s->kind = LB_DS_PMM;
    long opt = 2;
    rc = parse_variant(&sp, &s->variant, e);
    if (!rc) rc = lb_spec_long(&sp, "option", 2, 1, 2, &opt, e);
    s->option = (int)opt;
    if (!rc && lb_spec_has(&sp, "K")) {
      if (nfe > 0)
        rc = lb_fail(e, LB_EINPUT,
                     "--sampler %s: give K or --nfe, not both", text);
      else
        rc = lb_spec_long(&sp, "K", 1, 1, N, &s->K, e);
    } else if (!rc && nfe <= 0) {
      rc = lb_fail(e, LB_EINPUT, "--sampler %s: pmm needs K=K or --nfe N",
                   text);
    }
  } else {
    rc = lb_fail(e, LB_EINPUT,
                 "--sampler: unknown diffusion sampler '%s' (ddpm, ddim, "
                 "dpmsolver, dpmsolver++, pmm)",
                 sp.name);
  }
  if (!rc) rc = lb_spec_check_used(&sp, "--sampler", e);
  if (!rc && s->kind != LB_DS_PMM && nfe <= 0)
    rc = lb_fail(e, LB_EINPUT, "--sampler %s needs --nfe N (1..%d)", text, N);
  if (!rc && s->kind != LB_DS_PMM && nfe > N)
    rc = lb_fail(e, LB_EINPUT, "--nfe %ld: must be in [1, %d] for %s", nfe, N,
                 sp.name);
  if (!rc && s->kind == LB_DS_PMM && nfe > 0) {
    if (nfe < 2 || nfe > N)
      rc = lb_fail(e, LB_EINPUT, "--nfe %ld: must be in [2, %d] for pmm", nfe,
                   N);
    double best = HUGE_VAL;
    for (long K = 1; !rc && K <= N; K++) {
      double dv = fabs(pmm_nfe(K, s->option, N) - (double)nfe);
      if (dv < best) {
        best = dv;
        s->K = K;
      }
    }
  }
  if (rc) {
    lb_dsampler_free(s);
    return rc;
  }

  if (s->kind == LB_DS_PMM) {
    s->S = (N + s->K - 1) / s->K;
    s->tab = lb_xcalloc(3 * ((size_t)N + 1), sizeof(double));
    lb_chain_table(sch, s->variant, -1.0, s->tab);
    snprintf(s->desc, sizeof s->desc, "pmm:K=%ld,option=%d,variant=%s", s->K,
             s->option, VARIANTS[s->variant]);
  } else {
    s->S = nfe;
  }
  if (s->kind == LB_DS_DDPM || s->kind == LB_DS_DDIM) {
    long S = s->S;
    s->kept = lb_xcalloc((size_t)S + 1, sizeof(long));
    for (long i = 0; i < S; i++) /* descending: kept[0] = N */
      s->kept[S - 1 - i] =
          S == 1 ? N
                 : lrint(1.0 + (double)(N - 1) * (double)i / (double)(S - 1));
    s->kept[S] = 0;
    if (s->kind == LB_DS_DDPM)
      snprintf(s->desc, sizeof s->desc, "ddpm:variant=%s",
               VARIANTS[s->variant]);
    else
      snprintf(s->desc, sizeof s->desc, "ddim:eta=%g", s->eta);
  }
  if (s->kind == LB_DS_DPM || s->kind == LB_DS_DPMPP) {
    dpm_grid(s, sch);
    snprintf(s->desc, sizeof s->desc, "%s:order=%d,skip=%s", sp.name, s->order,
             SKIPS[s->skip]);
  }
  *out = s;
  return LB_OK;
}

/* ---- DPM-Solver(++) multistep update ------------------------------ */

/* Order of step i = 1..S: lower orders while the history is short and, as
 * the official code, for the final steps when S < 10. */
static int dpm_order(const lb_dsampler *s, long i) {
  long o = s->order < i ? s->order : i;
  if (s->S < 10 && s->S + 1 - i < o) o = s->S + 1 - i;
  return (int)o;
}

/* x (n values) from time tp[0] (latest of the history) to t with order o:
 * m[0] the model output at tp[0] (eps for dpmsolver, x0 for ++), m[1] at
 * tp[1], m[2] at tp[2].  Lu et al. (2022), multistep updates; phi_1 by
 * expm1. */
static void dpm_update(const lb_dsampler *s, const lb_schedule *sch, size_t n,
                       double *x, double *const m[3], const double tp[3],
                       double t, int o) {
  double lt = lb_schedule_lambda(sch, t), l0 = lb_schedule_lambda(sch, tp[0]);
  double h = lt - l0;
  double la_t = lb_schedule_log_alpha(sch, t),
         la_0 = lb_schedule_log_alpha(sch, tp[0]);
  double ls_t = lb_schedule_log_sigma(sch, t),
         ls_0 = lb_schedule_log_sigma(sch, tp[0]);
  double r0 = 1, r1 = 1;
  if (o >= 2) r0 = (l0 - lb_schedule_lambda(sch, tp[1])) / h;
  if (o >= 3)
    r1 = (lb_schedule_lambda(sch, tp[1]) - lb_schedule_lambda(sch, tp[2])) / h;
  double cx, c0, c1 = 0, c2 = 0; /* x_t = cx x + c0 m0 + c1 D1 + c2 D2 */
  if (s->kind == LB_DS_DPMPP) {
    double al = exp(la_t), p1 = expm1(-h);
    cx = exp(ls_t - ls_0);
    c0 = -al * p1;
    if (o == 2) c1 = -0.5 * al * p1;
    if (o == 3) {
      double p2 = p1 / h + 1.0, p3 = p2 / h - 0.5;
      c1 = al * p2;
      c2 = -al * p3;
    }
  } else {
    double sg = exp(ls_t), p1 = expm1(h);
    cx = exp(la_t - la_0);
    c0 = -sg * p1;
    if (o == 2) c1 = -0.5 * sg * p1;
    if (o == 3) {
      double p2 = p1 / h - 1.0, p3 = p2 / h - 0.5;
      c1 = -sg * p2;
      c2 = -sg * p3;
    }
  }
  for (size_t k = 0; k < n; k++) {
    double v = cx * x[k] + c0 * m[0][k];
    if (o >= 2) {
      double d10 = (m[0][k] - m[1][k]) / r0, D1 = d10;
      if (o == 3) {
        double d11 = (m[1][k] - m[2][k]) / r1;
        D1 = d10 + r0 / (r0 + r1) * (d10 - d11);
        v += c2 * (d10 - d11) / (r0 + r1);
      }
      v += c1 * D1;
    }
    x[k] = v;
  }
}

/* Model output of DPM-Solver(++) at time t (model step N t). */
static void dpm_model(const lb_dsampler *s, const lb_model *md, size_t B,
                      size_t ld, const double *x, double t, double *out,
                      double *tv, double *work, long *nfe) {
  for (size_t r = 0; r < B; r++) tv[r] = t * (double)s->N;
  md->type->eval(md, B, ld, x, tv, out, work);
  for (size_t r = 0; r < B; r++) nfe[r]++;
  if (s->kind == LB_DS_DPMPP) { /* x0 = (x - sigma eps) / alpha */
    const lb_schedule *sch = &md->sched;
    double al = exp(lb_schedule_log_alpha(sch, t)),
           sg = exp(lb_schedule_log_sigma(sch, t));
    for (size_t k = 0; k < md->dim * ld; k++)
      out[k] = (x[k] - sg * out[k]) / al;
  }
}

/* ---- running on a block ------------------------------------------- */

/* DDPM, DDIM and pmm run as engine samplers on the chain (chain.h):
 * ancestral = lb_em_step with the respaced step as its duration; pmm =
 * pmm.c's fine form with hfine = 1, so a coarse step from s covers L =
 * min(K, s) fine steps, and option 2 on the offsets 1..L-1 (offset0=0).
 * Row r's Gaussians (n per fine step) come from rnoise, pmm's midpoints
 * from rctl. */
static void run_chain(const lb_dsampler *s, const lb_model *md, size_t B,
                      size_t ld, double *x, lb_streams *rn, lb_streams *rc,
                      long *nfe, lb_dsampler_rec rec, void *ctx) {
  lb_chain ch;
  lb_chain_init(&ch, md, s->variant, s->kind == LB_DS_DDIM ? s->eta : -1.0,
                s->tab);
  char spec[LB_SPEC_MAXLEN];
  if (s->kind == LB_DS_PMM)
    snprintf(spec, sizeof spec, "pmm:K=%ld,option=%d,impl=fine,hfine=1%s",
             s->K, s->option, s->option == 2 ? ",offset0=0" : "");
  else
    snprintf(spec, sizeof spec, "ancestral");
  lb_sampler *sm = NULL;
  lb_err e = {{0}};
  if (lb_chain_sampler(&ch, spec, &sm, &e)) {
    fprintf(stderr, "langbench: internal error: %s\n", e.msg);
    abort();
  }
  double *work = lb_xcalloc(sm->type->work_size(sm, ld), sizeof(double));
  long ns[LB_BLOCK_MAX];
  lb_block blk = {B, ld, rc, rn};
  const long N = s->N;
  long st = N;
  for (long k = 0; k < s->S; k++) {
    long p = s->kind == LB_DS_PMM ? (st > s->K ? st - s->K : 0) : s->kept[k + 1];
    sm->type->step(sm, &blk, (double)(st - p), (double)(N - st), x, ns, work);
    for (size_t r = 0; r < B; r++) nfe[r] += ns[r];
    st = p;
    if (rec) rec(ctx, k + 1, B, ld, x);
  }
  free(work);
  lb_sampler_free(sm);
}

static void run_dpm(const lb_dsampler *s, const lb_model *md, size_t B,
                    size_t ld, double *x, long *nfe, double *tv, double *work,
                    lb_dsampler_rec rec, void *ctx) {
  const size_t n = md->dim * ld; /* rows B..ld-1 are padding */
  double *buf = lb_xcalloc(3 * n, sizeof(double));
  double *m[3] = {buf, buf + n, buf + 2 * n};
  double tp[3] = {s->tgrid[0], 0, 0};
  dpm_model(s, md, B, ld, x, tp[0], m[0], tv, work, nfe);
  for (long i = 1; i <= s->S; i++) {
    double t = s->tgrid[i];
    dpm_update(s, &md->sched, n, x, m, tp, t, dpm_order(s, i));
    if (i < s->S) { /* shift the history, evaluate at the new point */
      double *old = m[2];
      m[2] = m[1];
      m[1] = m[0];
      m[0] = old;
      tp[2] = tp[1];
      tp[1] = tp[0];
      tp[0] = t;
      dpm_model(s, md, B, ld, x, t, m[0], tv, work, nfe);
    }
    if (rec) rec(ctx, i, B, ld, x);
  }
  free(buf);
}

void lb_dsampler_run(const lb_dsampler *s, const lb_model *md, size_t B,
                     size_t ld, double *x, lb_streams *rnoise,
                     lb_streams *rctl, long *nfe, lb_dsampler_rec rec,
                     void *ctx) {
  if (s->kind == LB_DS_DPM || s->kind == LB_DS_DPMPP) {
    double *tv = lb_xcalloc(B, sizeof(double));
    double *work = lb_xcalloc(md->type->work_size(md, B), sizeof(double));
    run_dpm(s, md, B, ld, x, nfe, tv, work, rec, ctx);
    free(tv);
    free(work);
  } else {
    run_chain(s, md, B, ld, x, rnoise, rctl, nfe, rec, ctx);
  }
}

/* ---- exact laws on N(0, v I) with the oracle (section 5) ---------- */

/* eps*(x, s) = k_s x with k_s = sqrt(1 - abar_s) / (abar_s v + 1 - abar_s). */
static double kgain(const lb_schedule *sch, double st, double v) {
  double ab = lb_schedule_abar_at(sch, st);
  return sqrt(1.0 - ab) / (ab * v + 1.0 - ab);
}

/* One pmm coarse step from st over L fine steps: V' = E[alpha^2] V +
 * sum_j E[beta_j^2], X' = alpha(H) X + sum_j beta_j(H) Z_j. */
static double pmm_exact_step(const lb_dsampler *s, const lb_schedule *sch,
                             double v, long st, long L, double V) {
  double *a = lb_xcalloc((size_t)L + 2, sizeof(double)),
         *c = lb_xcalloc((size_t)L + 2, sizeof(double)),
         *sg = lb_xcalloc((size_t)L + 2, sizeof(double)),
         *Pm = lb_xcalloc((size_t)L + 1, sizeof(double)),  /* P_m of Xhat_m */
         *Q = lb_xcalloc(((size_t)L + 1) * ((size_t)L + 1), sizeof(double)),
         *u = lb_xcalloc((size_t)L + 1, sizeof(double)),
         *W = lb_xcalloc((size_t)L + 1, sizeof(double)),
         *rr = lb_xcalloc((size_t)L + 1, sizeof(double));
  for (long j = 1; j <= L; j++)
    lb_ddpm_coefs(sch, s->variant, -1, st - j + 1, st - j, &a[j], &c[j], &sg[j]);
  double k0 = kgain(sch, (double)st, v);
  /* Xhat_m = Pm[m] X + sum_{j<=m} Q[m][j] Z_j */
  Pm[0] = 1.0;
  for (long m = 1; m <= L; m++) {
    Pm[m] = a[m] * Pm[m - 1] + c[m] * k0;
    for (long j = 1; j < m; j++)
      Q[m * (L + 1) + j] = a[m] * Q[(m - 1) * (L + 1) + j];
    Q[m * (L + 1) + m] = sg[m];
  }
  double p = s->option == 2 ? (double)(L - 1) : (double)L;
  for (long m = 1; m <= L - 1; m++) {
    double Pr = 1.0; /* prod_{l > m+1} a_l */
    for (long l = m + 2; l <= L; l++) Pr *= a[l];
    W[m] = c[m + 1] * Pr * p;
    u[m] = W[m] * (kgain(sch, (double)(st - m), v) * Pm[m] - k0);
  }
  /* E[H_m] = e1, E[H_m H_m'] = e2 (m != m'), e1 (m = m') */
  double e1 = L < 2 ? 0.0
              : s->option == 2 ? 1.0 / (double)(L - 1) : 1.0 / (double)L;
  double e2 = s->option == 2 ? 0.0 : e1 * e1;
  /* E[(c0 + sum H_m y_m)^2] = c0^2 + 2 c0 e1 S1 + e2 S1^2 + (e1 - e2) S2 */
#define SQ_EXP(c0, S1, S2) \
  ((c0) * (c0) + 2 * (c0) * e1 * (S1) + e2 * (S1) * (S1) + (e1 - e2) * (S2))
  double S1 = 0, S2 = 0;
  for (long m = 1; m <= L - 1; m++) {
    S1 += u[m];
    S2 += u[m] * u[m];
  }
  double Vn = SQ_EXP(Pm[L], S1, S2) * V;
  for (long j = 1; j <= L; j++) {
    S1 = S2 = 0;
    for (long m = j; m <= L - 1; m++) {
      rr[m] = W[m] * kgain(sch, (double)(st - m), v) * Q[m * (L + 1) + j];
      S1 += rr[m];
      S2 += rr[m] * rr[m];
    }
    Vn += SQ_EXP(Q[L * (L + 1) + j], S1, S2);
  }
#undef SQ_EXP
  free(a);
  free(c);
  free(sg);
  free(Pm);
  free(Q);
  free(u);
  free(W);
  free(rr);
  return Vn;
}

double lb_dsampler_exact_var(const lb_dsampler *s, const lb_schedule *sch,
                             double v, int *gaussian_out) {
  double V = 1.0;
  int gauss = 1;
  if (s->kind == LB_DS_DDPM || s->kind == LB_DS_DDIM) {
    for (long k = 0; k < s->S; k++) {
      long st = s->kept[k], p = s->kept[k + 1];
      double a, c, sg;
      lb_ddpm_coefs(sch, s->variant, s->kind == LB_DS_DDIM ? s->eta : -1, st,
                    p, &a, &c, &sg);
      double g = a + c * kgain(sch, (double)st, v);
      V = g * g * V + sg * sg;
    }
  } else if (s->kind == LB_DS_PMM) {
    for (long st = s->N; st > 0;) {
      long L = s->K < st ? s->K : st;
      if (L >= (s->option == 2 ? 3 : 2)) gauss = 0;
      V = pmm_exact_step(s, sch, v, st, L, V);
      st -= L;
    }
  } else {
    /* The solver is linear: run it on the coefficient g of x = g x_N,
     * with model outputs kappa(t) g (kappa = k for eps, (1 - sigma k) /
     * alpha for x0). */
    double g = 1.0, mv[3] = {0, 0, 0}, tp[3] = {s->tgrid[0], 0, 0};
    double *m[3] = {&mv[0], &mv[1], &mv[2]};
    for (long i = 0; i <= s->S; i++) {
      if (i > 0) {
        dpm_update(s, sch, 1, &g, m, tp, s->tgrid[i], dpm_order(s, i));
        if (i == s->S) break;
        double *old = m[2];
        m[2] = m[1];
        m[1] = m[0];
        m[0] = old;
        tp[2] = tp[1];
        tp[1] = tp[0];
        tp[0] = s->tgrid[i];
      }
      double t = s->tgrid[i], kap = kgain(sch, t * (double)s->N, v);
      if (s->kind == LB_DS_DPMPP)
        kap = (1.0 - exp(lb_schedule_log_sigma(sch, t)) * kap) /
              exp(lb_schedule_log_alpha(sch, t));
      *m[0] = kap * g;
    }
    V = g * g;
  }
  if (gaussian_out) *gaussian_out = gauss;
  return V;
}
