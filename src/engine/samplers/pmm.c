/* pmm.c -- the Poisson midpoint method (Kandasamy & Nagaraj, NeurIPS 2024),
 * written once against the general process (S) of dynamics.h.
 *
 * GPL-3.0-or-later.
 *
 * One coarse step of size alpha stands for K fine steps of size h = alpha/K.
 * The drift is frozen at the coarse start Y (b0 = b(Y)) except at a random
 * set of fine indices i where it is corrected by K (b(Yhat_i) - b0), Yhat_i
 * being the cheap interpolation (algorithms.md section 3):
 *   option=1  H_i iid Bernoulli(1/K)              E[NFE] = 2 - 1/K
 *   option=2  one index u ~ Unif{0..K-1}          E[NFE] = 2 - 1/K
 *   K=inf     Poisson(1) corrected times on [0,1] E[NFE] = 2
 * (index 0 is the start point: its correction is zero and costs nothing).
 *
 * impl=fast (default; needs the scaling relations) draws only the Brownian
 * values at the selected times (paper, Prop. 1): with t_0 = 0 < t_1 < ... <
 * t_N < t_{N+1} = alpha the selected times,
 *   M_k    = A_{t_k - t_{k-1}} M_{k-1} + Gamma_{t_k - t_{k-1}} W_k
 *   Yhat_k = A_{t_k} Y + G_{t_k} b0 + M_k
 *   Y'     = A_alpha Y + G_alpha b0 + M_{N+1}
 *            + sum_k A_{alpha - t_k - h} K G_h (b(Yhat_k) - b0)
 * (for K = inf the last factor is A_{alpha - t_k} alpha G'(0)).  Selected
 * indices come by geometric skipping, so the cost per coarse step is
 * O((N+1) n) with E[N] <= 1: independent of K.
 *
 * impl=fine is the literal K-fine-step recursion with the same Z_i in the
 * interpolation and the update; cost O(K n) per coarse step.  It is the
 * reference the fast form is tested against, and the form that also works
 * for dynamics without the scaling relations.
 */
#include <gsl/gsl_randist.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "sampler.h"

typedef struct {
  long K;     /* 0 encodes K = infinity */
  int option; /* 1 or 2 */
  int fine;   /* 1: literal fine-step form */
} pmm_params;

static int pmm_init(lb_sampler *s, lb_spec *spec, lb_err *e) {
  pmm_params *p = lb_xcalloc(1, sizeof *p);
  s->state = p;
  const char *k = lb_spec_str(spec, "K");
  if (!k) {
    p->K = 16;
  } else if (strcmp(k, "inf") == 0) {
    p->K = 0;
  } else if (lb_parse_long(k, &p->K) != 0 || p->K < 1 || p->K > (1L << 40)) {
    return lb_fail(e, LB_EINPUT,
                   "--sampler: K=%s must be an integer in [1, 2^40] or inf", k);
  }
  long opt;
  int rc = lb_spec_long(spec, "option", 1, 1, 2, &opt, e);
  if (rc) return rc;
  p->option = (int)opt;
  if (p->K == 0 && lb_spec_has(spec, "option"))
    return lb_fail(e, LB_EINPUT, "--sampler: option applies to finite K only");
  const char *impl = lb_spec_str(spec, "impl");
  if (impl && strcmp(impl, "fine") == 0) {
    p->fine = 1;
  } else if (impl && strcmp(impl, "fast") != 0) {
    return lb_fail(e, LB_EINPUT, "--sampler: impl=%s must be fast or fine",
                   impl);
  }
  if (p->fine && p->K == 0)
    return lb_fail(e, LB_EINPUT, "--sampler: impl=fine needs a finite K");
  if (!p->fine && !s->dyn.type->scaling)
    p->fine = 1; /* the fast form needs the scaling relations */
  return LB_OK;
}

static size_t pmm_work(const lb_sampler *s) {
  return 4 * s->dyn.n + 2 * s->dyn.d;
}

/* ---- fast form -------------------------------------------------------- */

/* Next selected time in (prev, alpha) in units of the coarse step, or a
 * value >= 1 when there is none.  *idx tracks the fine index for finite K. */
static double next_time(const pmm_params *p, gsl_rng *r, double prev,
                        long *idx, int *done) {
  if (*done) return 1.0;
  if (p->K == 0) return prev + gsl_ran_exponential(r, 1.0);
  if (p->option == 2) { /* exactly one index, drawn once */
    *done = 1;
    long u = (long)gsl_rng_uniform_int(r, (unsigned long)p->K);
    return u == 0 ? 1.0 : (double)u / (double)p->K;
  }
  if (p->K == 1) return 1.0;
  /* Bernoulli(1/K) on indices 1..K-1: skip Geometric(1/K) indices. */
  *idx += (long)gsl_ran_geometric(r, 1.0 / (double)p->K);
  return *idx >= p->K ? 1.0 : (double)*idx / (double)p->K;
}

static long pmm_step_fast(const lb_sampler *s, const pmm_params *p,
                          double alpha, double *y, double *work, gsl_rng *r) {
  const lb_dynamics *dy = &s->dyn;
  const lb_dynamics_type *T = dy->type;
  size_t n = dy->n, d = dy->d;
  double *y0 = work, *M = work + n, *yh = work + 2 * n, *acc = work + 3 * n;
  double *b0 = work + 4 * n, *bk = b0 + d;
  double h = p->K ? alpha / (double)p->K : 0.0;
  long nfe = 1, idx = 0;
  int done = 0;

  memcpy(y0, y, n * sizeof *y);
  lb_dynamics_drift(dy, y0, b0);
  memset(M, 0, n * sizeof *M);
  memset(acc, 0, n * sizeof *acc);

  double prev = 0.0; /* previous selected time, in units of alpha */
  for (;;) {
    double t = next_time(p, r, prev, &idx, &done);
    if (t >= 1.0) break;
    double seg = (t - prev) * alpha, tk = t * alpha;
    T->apply_A(dy, seg, M);
    T->add_noise(dy, seg, M, r);
    /* Yhat = A_tk Y + G_tk b0 + M */
    memcpy(yh, y0, n * sizeof *yh);
    T->apply_A(dy, tk, yh);
    T->add_G(dy, tk, 1.0, b0, yh);
    for (size_t i = 0; i < n; i++) yh[i] += M[i];
    lb_dynamics_drift(dy, yh, bk);
    nfe++;
    for (size_t i = 0; i < d; i++) bk[i] -= b0[i];
    /* acc += A_{alpha - tk - h} K G_h (b_k - b0), reusing yh as scratch */
    memset(yh, 0, n * sizeof *yh);
    if (p->K) {
      T->add_G(dy, h, (double)p->K, bk, yh);
      T->apply_A(dy, alpha - tk - h, yh);
    } else {
      T->add_Gdot(dy, alpha, bk, yh);
      T->apply_A(dy, alpha - tk, yh);
    }
    for (size_t i = 0; i < n; i++) acc[i] += yh[i];
    prev = t;
  }
  double seg = (1.0 - prev) * alpha;
  T->apply_A(dy, seg, M);
  T->add_noise(dy, seg, M, r);
  T->apply_A(dy, alpha, y);
  T->add_G(dy, alpha, 1.0, b0, y);
  for (size_t i = 0; i < n; i++) y[i] += M[i] + acc[i];
  return nfe;
}

/* ---- fine form -------------------------------------------------------- */

/* H_i and u come from r, the Z_i from rz (rz = r when not coupled). */
static long pmm_step_fine(const lb_sampler *s, const pmm_params *p,
                          double alpha, double *y, double *work, gsl_rng *r,
                          gsl_rng *rz) {
  const lb_dynamics *dy = &s->dyn;
  const lb_dynamics_type *T = dy->type;
  size_t n = dy->n, d = dy->d;
  double *yh = work, *z = work + n, *c = work + 2 * n;
  double *b0 = work + 4 * n, *bk = b0 + d;
  long K = p->K, nfe = 1;
  double h = alpha / (double)K;
  long u = p->option == 2 ? (long)gsl_rng_uniform_int(r, (unsigned long)K) : -1;

  lb_dynamics_drift(dy, y, b0);
  memcpy(yh, y, n * sizeof *yh);
  for (long i = 0; i < K; i++) {
    int H = p->option == 2 ? (i == u) : (gsl_rng_uniform(r) < 1.0 / (double)K);
    for (size_t j = 0; j < n; j++) z[j] = gsl_ran_gaussian_ziggurat(rz, 1.0);
    /* drift used by the refined iterate: b0 + K H (b(Yhat_i) - b0) */
    memcpy(c, b0, d * sizeof *c);
    if (H && i > 0) {
      lb_dynamics_drift(dy, yh, bk);
      nfe++;
      for (size_t j = 0; j < d; j++) c[j] += (double)K * (bk[j] - b0[j]);
    }
    /* refined iterate */
    T->apply_A(dy, h, y);
    T->add_G(dy, h, 1.0, c, y);
    T->add_noise_z(dy, h, z, y);
    /* interpolation, same Z_i */
    T->apply_A(dy, h, yh);
    T->add_G(dy, h, 1.0, b0, yh);
    T->add_noise_z(dy, h, z, yh);
  }
  return nfe;
}

static long pmm_step(const lb_sampler *s, double alpha, double *y,
                     double *work, gsl_rng *r) {
  const pmm_params *p = s->state;
  return p->fine ? pmm_step_fine(s, p, alpha, y, work, r, r)
                 : pmm_step_fast(s, p, alpha, y, work, r);
}

/* Coupled with fine LMC: the literal form, whatever impl says (O(K)). */
static long pmm_step_coupled(const lb_sampler *s, double alpha, double *y,
                             double *work, gsl_rng *r_ctl, gsl_rng *r_noise) {
  const pmm_params *p = s->state;
  return pmm_step_fine(s, p, alpha, y, work, r_ctl, r_noise);
}

static long pmm_fine_steps(const lb_sampler *s) {
  return ((const pmm_params *)s->state)->K;
}

/* ---- exact law on a Gaussian target (overdamped) ---------------------------
 * Coordinate with precision l, T = sum of the selected times (in time units):
 *   X' = (1 - alpha l + alpha l^2 T) X + sqrt(2h) sum_j (1 - alpha l c_j) Z_j
 * with c_j the number of selected indices after fine index j.  For K = inf
 * the noise is sqrt(2 alpha) int_0^1 (1 - alpha l c(s)) dB(s), c(s) ~
 * Poisson(1 - s).  Derivation in the README. */
static void pmm_gauss_law(const lb_sampler *s, double alpha, double li,
                          double lj, double out[3]) {
  const pmm_params *p = s->state;
  double ET, ET2, En;
  if (p->K == 0) {
    ET = alpha / 2.0;
    ET2 = alpha * alpha * 7.0 / 12.0;
    En = 2.0 * alpha * (1.0 - alpha * li + 5.0 / 6.0 * alpha * alpha * li * li);
  } else {
    double K = (double)p->K, h = alpha / K, q = 1.0 / K;
    double EJ, EJ2;
    if (p->option == 1) {
      EJ = q * K * (K - 1.0) / 2.0;
      EJ2 = q * (1.0 - q) * (K - 1.0) * K * (2.0 * K - 1.0) / 6.0 + EJ * EJ;
    } else {
      EJ = (K - 1.0) / 2.0;
      EJ2 = (K - 1.0) * (2.0 * K - 1.0) / 6.0;
    }
    ET = h * EJ;
    ET2 = h * h * EJ2;
    double al = alpha * li, sum = 0.0;
    for (long j = 0; j < p->K; j++) {
      double m = (double)(p->K - 1 - j), Ec, Ec2;
      if (p->option == 1) {
        Ec = m * q;
        Ec2 = m * q * (1.0 - q) + Ec * Ec;
      } else {
        Ec = Ec2 = m / K;
      }
      sum += 1.0 - 2.0 * al * Ec + al * al * Ec2;
    }
    En = 2.0 * h * sum;
  }
  double ci = 1.0 - alpha * li, ei = alpha * li * li;
  double cj = 1.0 - alpha * lj, ej = alpha * lj * lj;
  out[0] = ci + ei * ET;
  out[1] = ci * cj + (ci * ej + cj * ei) * ET + ei * ej * ET2;
  out[2] = En;
}

const lb_sampler_type lb_sampler_plmc = {
    .name = "plmc",
    .help = "plmc: Poisson midpoint method on overdamped Langevin.\n"
            "  K=16        fine steps per coarse step (integer >= 1, or inf)\n"
            "  option=1    1: Bernoulli(1/K) midpoints; 2: one uniform grid "
            "midpoint\n"
            "  impl=fast   fast: cost independent of K; fine: literal K-step "
            "form",
    .dynamics = &lb_dynamics_overdamped,
    .init = pmm_init,
    .free = free,
    .work_size = pmm_work,
    .step = pmm_step,
    .gauss_law = pmm_gauss_law,
    .step_coupled = pmm_step_coupled,
    .fine_steps = pmm_fine_steps};
