/* gmm.c -- Gaussian mixture targets  pi(x) = sum_k w_k N(x; mu_k, Sigma_k).
 *
 * GPL-3.0-or-later.
 *
 * Sources (exactly one):
 *   gmm:preset=NAME        a preset from targets/presets/NAME.cfg, embedded
 *                          in the binary at build time (default: ring8)
 *   gmm:file=PATH          a libconfig file in the same format
 *   gmm:dim=D,modes=M[,radius=R,sd=S]
 *                          the "cross" family: component k = 0..M-1 has
 *                          mean (-1)^k R e_{floor(k/2)} (so +R e_0, -R e_0,
 *                          +R e_1, -R e_1, ...), covariance S^2 I, equal
 *                          weights; 1 <= M <= 2D.  Defaults D = 2,
 *                          M = 2D, R = 4, S = 0.5.
 *
 * File format (libconfig; see targets/presets/ring8.cfg):
 *   dim = 2;                                  # optional, else len(mean)
 *   components = (
 *     { weight = 0.5; mean = [1.0, 0.0]; sd = 0.5; },          # isotropic
 *     { weight = 0.5; mean = [-1.0, 0.0]; var = [1.0, 2.0]; }, # diagonal
 *     { weight = 1.0; mean = [0.0, 3.0];                       # full,
 *       cov = [1.0, 0.5,                                       # row-major
 *              0.5, 2.0]; }                                    # or rows
 *   );
 * Each component gives exactly one of sd / var (a number: isotropic; or
 * dim numbers: diagonal) or cov (dim*dim numbers, flat or as a list of
 * rows; symmetric positive definite).  Weights are positive (default 1)
 * and are normalised to sum 1.  Errors name the file and line.
 *
 * Method.  Each covariance is stored as its Cholesky factor L_k (diagonal
 * components just as their standard deviations).  With
 *   l_k(x) = log w_k - sum_i log L_k,ii - (d/2) log 2 pi - |L_k^-1 (x-mu_k)|^2/2
 * the potential is F = -log sum_k exp(l_k) (normalised, log_z = 0),
 * evaluated by a one-pass (streaming) log-sum-exp, and
 *   grad F = sum_k p_k(x) Sigma_k^-1 (x - mu_k),  p_k = softmax(l)_k,
 * accumulated in the same streaming way (rescaling by exp(m_old - m_new)
 * when the running maximum grows), so F and grad F stay finite and exact
 * far from every mode where the raw densities underflow.  Cost per call:
 * O(M d) for diagonal mixtures, O(M d^2) with full covariances (two
 * triangular solves).  Exact sampling: a component by Walker's alias method
 * (gsl_ran_discrete, O(1)), then mu_k + L_k z with z ~ N(0, I) by the
 * ziggurat; O(d) or O(d^2).  Ground truth: mixture mean sum_k w_k mu_k and
 * covariance sum_k w_k (Sigma_k + (mu_k - m)(mu_k - m)^T), exact.  Mode of
 * x: the component with the largest posterior p_k(x); mode weights: w_k.
 * (For overlapping components P(mode_of = k) differs from w_k by the mass
 * misclassified across the posterior boundaries; the presets are separated
 * enough that this is below 1e-4.)  Marginal CDF of coordinate i:
 * sum_k w_k Phi((v - mu_k,i) / sqrt(Sigma_k,ii)).
 */
#include <gsl/gsl_cdf.h>
#include <gsl/gsl_randist.h>
#include <libconfig.h>
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "block.h"
#include "target.h"
#include "util.h"
#include "vmath.h"

/* The presets, generated from targets/presets/ by scripts/embed-presets.sh. */
extern const struct lb_preset {
  const char *name;
  const char *text;
} lb_presets[];

#define MAX_COMPONENTS 100000
#define STACK_SCRATCH 256

typedef struct {
  size_t dim, m;
  double *w;           /* [m] normalised weights */
  double *logc;        /* [m] log w_k - log det L_k - (d/2) log 2 pi */
  double *mu;          /* [m*d] means */
  double *sd;          /* [m*d] diagonal components: standard deviations;
                          full ones: sqrt(Sigma_k,ii) (for the marginals) */
  double *chol;        /* [m*d*d] lower Cholesky factors, or NULL if no
                          component is full */
  double *isd, *prec;  /* [m*d] 1/sd and 1/sd^2 (diagonal components) */
  unsigned char *full; /* [m] 1 when component k uses chol */
  int any_full;
  int all_iso;         /* every component isotropic (sd_k,i = sd_k) */
  int v8;              /* the AVX-512 block kernel serves it (use_v8) */
  double *hprec;       /* [m] -1/(2 sd_k,0^2) (the isotropic kernel) */
  gsl_ran_discrete_t *pick;
} gmm_state;

/* ---- component evaluation ---------------------------------------- */

/* Returns -|L_k^-1 (x - mu_k)|^2 / 2.  Full components need z (scratch of
 * dim doubles); on return z holds L_k^-1 (x - mu_k) when `solve` is 0 and
 * Sigma_k^-1 (x - mu_k) when `solve` is 1. */
static double comp_quad(const gmm_state *s, size_t k, const double *x,
                        double *z, int solve) {
  const size_t d = s->dim;
  const double *mu = s->mu + k * d;
  double q = 0.0;
  if (!s->full[k]) {
    const double *sd = s->sd + k * d;
    for (size_t i = 0; i < d; i++) {
      double y = (x[i] - mu[i]) / sd[i];
      q += y * y;
    }
    return -0.5 * q;
  }
  const double *L = s->chol + k * d * d;
  for (size_t i = 0; i < d; i++) { /* forward solve L y = x - mu */
    double v = x[i] - mu[i];
    for (size_t j = 0; j < i; j++) v -= L[i * d + j] * z[j];
    z[i] = v / L[i * d + i];
    q += z[i] * z[i];
  }
  if (solve) {
    for (size_t i = d; i-- > 0;) { /* back solve L^T z = y, in place */
      double v = z[i];
      for (size_t j = i + 1; j < d; j++) v -= L[j * d + i] * z[j];
      z[i] = v / L[i * d + i];
    }
  }
  return -0.5 * q;
}

static double *scratch(const gmm_state *s, double *stack) {
  if (!s->any_full || s->dim <= STACK_SCRATCH) return stack;
  return lb_xcalloc(s->dim, sizeof(double));
}

static void scratch_done(double *z, double *stack) {
  if (z != stack) free(z);
}

/* ---- density ------------------------------------------------------ */

static double gmm_potential(const void *vs, const double *x) {
  const gmm_state *s = vs;
  double stack[STACK_SCRATCH];
  double *z = scratch(s, stack);
  double mx = -HUGE_VAL, sum = 0.0;
  for (size_t k = 0; k < s->m; k++) {
    double l = s->logc[k] + comp_quad(s, k, x, z, 0);
    if (l > mx) {
      sum = sum * exp(mx - l) + 1.0;
      mx = l;
    } else {
      sum += exp(l - mx);
    }
  }
  scratch_done(z, stack);
  return -(mx + log(sum));
}

static void gmm_grad(const void *vs, const double *x, double *g) {
  const gmm_state *s = vs;
  const size_t d = s->dim;
  double stack[STACK_SCRATCH];
  double *z = scratch(s, stack);
  double mx = -HUGE_VAL, sum = 0.0;
  for (size_t i = 0; i < d; i++) g[i] = 0.0;
  for (size_t k = 0; k < s->m; k++) {
    double l = s->logc[k] + comp_quad(s, k, x, z, 1);
    double wk;
    if (l > mx) { /* new running maximum: rescale what we have */
      double r = exp(mx - l);
      for (size_t i = 0; i < d; i++) g[i] *= r;
      sum = sum * r + 1.0;
      mx = l;
      wk = 1.0;
    } else {
      wk = exp(l - mx);
      sum += wk;
    }
    if (wk == 0.0) continue;
    const double *mu = s->mu + k * d;
    if (s->full[k]) {
      for (size_t i = 0; i < d; i++) g[i] += wk * z[i];
    } else {
      const double *sd = s->sd + k * d;
      for (size_t i = 0; i < d; i++)
        g[i] += wk * (x[i] - mu[i]) / (sd[i] * sd[i]);
    }
  }
  scratch_done(z, stack);
  for (size_t i = 0; i < d; i++) g[i] /= sum;
}

/* ---- block gradient ------------------------------------------------ */

/* Mixtures of isotropic or diagonal components (every preset and the
 * cross family), vectorised across rows: the block is cut into chunks of
 * VL = 8 rows (one AVX-512 vector; two AVX2 ones), and all the per-row
 * state of a chunk (running maximum, sums, the d accumulators for d <= 4)
 * stays in registers while the components stream past:
 *   l_k = logc_k - |(x - mu_k) / sd_k|^2 / 2      (chunk of CH components)
 *   m   = max_k l_k,  w_k = exp(l_k - m)          (lb_exp_fma, vmath.h)
 *   g   = sum_k w_k (x - mu_k) / sd_k^2 / sum_k w_k,
 * the same formula as gmm_grad with a two-pass max per chunk of CH
 * components instead of a rescale at every new maximum (one rescale per
 * further chunk; none for m <= CH).  Squares and products accumulate with
 * fused multiply-adds.  A last chunk of fewer than VL rows is copied into
 * a zero-padded chunk and back, so every row sees the same operations
 * wherever it sits in the block.  Dimensions 1 to 4 are compiled with d a
 * constant (loops unrolled, accumulators in registers).  Cost per row: M
 * (5d + 20) flops, one exp per component, one divide.  Mixtures with a
 * full covariance use the generic row-by-row path. */
#define CH 16
#define VL 8

static inline LB_ALWAYS_INLINE void diag_chunk(const gmm_state *s,
                                               const size_t d, const int iso,
                                               const double *restrict x,
                                               size_t lx, double *restrict g,
                                               size_t lg) {
  const size_t m = s->m;
  double acc[4][VL], xr[4][VL]; /* for d <= 4: accumulators, x */
  double *ga = d <= 4 ? &acc[0][0] : g;
  size_t la = d <= 4 ? VL : lg;
  const double *xp = x;
  size_t lp = lx;
  if (d <= 4) {
#pragma GCC unroll 4
    for (size_t i = 0; i < d; i++) {
#pragma omp simd
      for (size_t l = 0; l < VL; l++) xr[i][l] = x[i * lx + l];
    }
    xp = &xr[0][0];
    lp = VL;
  }
  double mx[VL], sum[VL];
#pragma omp simd
  for (size_t l = 0; l < VL; l++) {
    mx[l] = -HUGE_VAL;
    sum[l] = 0.0;
  }
#pragma GCC unroll 4
  for (size_t i = 0; i < d; i++) {
#pragma omp simd
    for (size_t l = 0; l < VL; l++) ga[i * la + l] = 0.0;
  }
  for (size_t k0 = 0; k0 < m; k0 += CH) {
    size_t kc = m - k0 < CH ? m - k0 : CH;
    double L[CH][VL], mn[VL];
#pragma omp simd
    for (size_t l = 0; l < VL; l++) mn[l] = mx[l];
    for (size_t c = 0; c < kc; c++) {
      const size_t k = k0 + c;
      const double *mu = s->mu + k * d, *isd = s->isd + k * d;
      double q[VL];
#pragma omp simd
      for (size_t l = 0; l < VL; l++) q[l] = 0.0;
#pragma GCC unroll 4
      for (size_t i = 0; i < d; i++) {
        double mi = mu[i], si = isd[i];
#pragma omp simd
        for (size_t l = 0; l < VL; l++) {
          double y = iso ? xp[i * lp + l] - mi : (xp[i * lp + l] - mi) * si;
          q[l] = fma(y, y, q[l]);
        }
      }
      double lc = s->logc[k], hp = iso ? s->hprec[k] : -0.5;
#pragma omp simd
      for (size_t l = 0; l < VL; l++) {
        double v = fma(hp, q[l], lc);
        L[c][l] = v;
        mn[l] = v > mn[l] ? v : mn[l];
      }
    }
    if (k0 > 0) { /* a new maximum: rescale what is accumulated */
      double sc[VL];
#pragma omp simd
      for (size_t l = 0; l < VL; l++) {
        sc[l] = lb_exp_fma(mx[l] - mn[l]);
        sum[l] *= sc[l];
      }
#pragma GCC unroll 4
      for (size_t i = 0; i < d; i++) {
#pragma omp simd
        for (size_t l = 0; l < VL; l++) ga[i * la + l] *= sc[l];
      }
    }
#pragma omp simd
    for (size_t l = 0; l < VL; l++) mx[l] = mn[l];
    for (size_t c = 0; c < kc; c++) {
      const size_t k = k0 + c;
      const double *mu = s->mu + k * d, *pr = s->prec + k * d;
      double w[VL], wp[VL], pk = iso ? s->prec[k * d] : 1.0;
#pragma omp simd
      for (size_t l = 0; l < VL; l++) {
        w[l] = lb_exp_fma(L[c][l] - mx[l]);
        sum[l] += w[l];
        wp[l] = w[l] * pk;
      }
#pragma GCC unroll 4
      for (size_t i = 0; i < d; i++) {
        double mi = mu[i], pi = pr[i];
#pragma omp simd
        for (size_t l = 0; l < VL; l++) {
          double t = iso ? xp[i * lp + l] - mi : (xp[i * lp + l] - mi) * pi;
          ga[i * la + l] = fma(wp[l], t, ga[i * la + l]);
        }
      }
    }
  }
  double inv[VL];
#pragma omp simd
  for (size_t l = 0; l < VL; l++) inv[l] = 1.0 / sum[l];
#pragma GCC unroll 4
  for (size_t i = 0; i < d; i++) {
#pragma omp simd
    for (size_t l = 0; l < VL; l++) g[i * lg + l] = ga[i * la + l] * inv[l];
  }
}

/* The block in chunks of VL rows; the last, short chunk through a padded
 * copy.  D is the dimension (a constant in the specialised instances). */
static inline LB_ALWAYS_INLINE void diag_block(const gmm_state *s,
                                               const size_t D, const int iso,
                                               size_t B, size_t ld,
                                               const double *x, double *g,
                                               double *xt, double *gt) {
  size_t r0 = 0;
  for (; r0 + VL <= B; r0 += VL)
    diag_chunk(s, D, iso, x + r0, ld, g + r0, ld);
  if (r0 == B) return;
  size_t nr = B - r0;
  for (size_t i = 0; i < D; i++)
    for (size_t l = 0; l < VL; l++)
      xt[i * VL + l] = l < nr ? x[i * ld + r0 + l] : 0.0;
  diag_chunk(s, D, iso, xt, VL, gt, VL);
  for (size_t i = 0; i < D; i++)
    for (size_t l = 0; l < nr; l++) g[i * ld + r0 + l] = gt[i * VL + l];
}

LB_VECTOR_CLONES
static void gmm_grad_block_diag(const gmm_state *s, size_t B, size_t ld,
                                const double *x, double *g) {
  const size_t d = s->dim;
  double stack[2 * 64 * VL];
  double *xt = d <= 64 ? stack : lb_xcalloc(2 * d * VL, sizeof(double));
  double *gt = xt + d * VL;
  if (s->all_iso) {
    switch (d) {
    case 1: diag_block(s, 1, 1, B, ld, x, g, xt, gt); break;
    case 2: diag_block(s, 2, 1, B, ld, x, g, xt, gt); break;
    case 3: diag_block(s, 3, 1, B, ld, x, g, xt, gt); break;
    case 4: diag_block(s, 4, 1, B, ld, x, g, xt, gt); break;
    default: diag_block(s, d, 1, B, ld, x, g, xt, gt); break;
    }
  } else {
    switch (d) {
    case 1: diag_block(s, 1, 0, B, ld, x, g, xt, gt); break;
    case 2: diag_block(s, 2, 0, B, ld, x, g, xt, gt); break;
    default: diag_block(s, d, 0, B, ld, x, g, xt, gt); break;
    }
  }
  if (xt != stack) free(xt);
}

/* ---- AVX-512 kernel for d <= 16 and m <= CH --------------------------
 * diag_chunk's operations, in its order, on 512-bit vectors of 8 rows
 * (bit-identical to it; tests/test_targets.c compares the two), written
 * with intrinsics because GCC keeps diag_chunk's sum and accumulators in
 * stack arrays, stored and reloaded at every component: here they are
 * registers, and two chunks of 8 rows go through each component
 * together (the exp polynomial is a chain of dependent fused
 * multiply-adds: two chains in flight).  lb_exp_fma is spelled out with the same fused operations and
 * the same flush below -708. */
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__) && \
    !defined(LB_NO_VECTOR_CLONES)
#define GMM_AVX512 1
#include <immintrin.h>

__attribute__((target("avx512f"), always_inline)) static inline __m512d
exp_fma_v8(__m512d x) {
  const __m512d shift = _mm512_set1_pd(0x1.8p52);
  __m512d kd = _mm512_fmadd_pd(x, _mm512_set1_pd(0x1.71547652b82fep0), shift);
  __m512i u = _mm512_castpd_si512(kd);
  kd = _mm512_sub_pd(kd, shift);
  __m512d r = _mm512_fnmadd_pd(kd, _mm512_set1_pd(0x1.62e42fee00000p-1), x);
  r = _mm512_fnmadd_pd(kd, _mm512_set1_pd(0x1.a39ef35793c76p-33), r);
  __m512d q = _mm512_set1_pd(2.5100375832561234e-08);
  q = _mm512_fmadd_pd(q, r, _mm512_set1_pd(2.7620075879983367e-07));
  q = _mm512_fmadd_pd(q, r, _mm512_set1_pd(2.7557268480310024e-06));
  q = _mm512_fmadd_pd(q, r, _mm512_set1_pd(2.4801521322368692e-05));
  q = _mm512_fmadd_pd(q, r, _mm512_set1_pd(0.00019841269863040545));
  q = _mm512_fmadd_pd(q, r, _mm512_set1_pd(0.0013888888917196719));
  q = _mm512_fmadd_pd(q, r, _mm512_set1_pd(0.008333333333330065));
  q = _mm512_fmadd_pd(q, r, _mm512_set1_pd(0.041666666666624164));
  q = _mm512_fmadd_pd(q, r, _mm512_set1_pd(0.16666666666666669));
  q = _mm512_fmadd_pd(q, r, _mm512_set1_pd(0.5000000000000001));
  __m512d p = _mm512_add_pd(_mm512_set1_pd(1.0),
                            _mm512_fmadd_pd(_mm512_mul_pd(r, r), q, r));
  __m512d scale = _mm512_castsi512_pd(
      _mm512_slli_epi64(_mm512_add_epi64(u, _mm512_set1_epi64(1023)), 52));
  __mmask8 keep = _mm512_cmp_pd_mask(x, _mm512_set1_pd(-708.0), _CMP_NLT_UQ);
  return _mm512_maskz_mov_pd(keep, _mm512_mul_pd(p, scale));
}

/* (x - mu), scaled by sc unless the component is isotropic: the
 * difference of diag_chunk's squares (sc = 1/sd) and weights (sc = 1/sd^2). */
__attribute__((target("avx512f"), always_inline)) static inline __m512d
dev_v8(__m512d x, double mu, double sc, int iso) {
  __m512d y = _mm512_sub_pd(x, _mm512_set1_pd(mu));
  return iso ? y : _mm512_mul_pd(y, _mm512_set1_pd(sc));
}

/* Two chunks (16 rows) at once, component by component: x and g with
 * leading dimensions lx, lg. */
__attribute__((target("avx512f"), always_inline)) static inline void
chunk2_v8(const gmm_state *s, const size_t d, const int iso,
          const double *x, size_t lx, double *g, size_t lg) {
  const size_t m = s->m;
  __m512d xa[16], xb[16], ga[16], gb[16], La[CH], Lb[CH];
  for (size_t i = 0; i < d; i++) {
    xa[i] = _mm512_loadu_pd(x + i * lx);
    xb[i] = _mm512_loadu_pd(x + i * lx + VL);
  }
  __m512d ma = _mm512_set1_pd(-HUGE_VAL), mb = ma;
  for (size_t k = 0; k < m; k++) {
    const double *mu = s->mu + k * d, *isd = s->isd + k * d;
    __m512d qa = _mm512_setzero_pd(), qb = qa;
    for (size_t i = 0; i < d; i++) {
      __m512d ya = dev_v8(xa[i], mu[i], isd[i], iso),
              yb = dev_v8(xb[i], mu[i], isd[i], iso);
      qa = _mm512_fmadd_pd(ya, ya, qa);
      qb = _mm512_fmadd_pd(yb, yb, qb);
    }
    __m512d hp = _mm512_set1_pd(iso ? s->hprec[k] : -0.5),
            lc = _mm512_set1_pd(s->logc[k]);
    La[k] = _mm512_fmadd_pd(hp, qa, lc);
    Lb[k] = _mm512_fmadd_pd(hp, qb, lc);
    ma = _mm512_max_pd(La[k], ma);
    mb = _mm512_max_pd(Lb[k], mb);
  }
  __m512d sa = _mm512_setzero_pd(), sb = sa;
  for (size_t i = 0; i < d; i++) ga[i] = gb[i] = _mm512_setzero_pd();
  for (size_t k = 0; k < m; k++) {
    const double *mu = s->mu + k * d, *pr = s->prec + k * d;
    __m512d wa = exp_fma_v8(_mm512_sub_pd(La[k], ma));
    __m512d wb = exp_fma_v8(_mm512_sub_pd(Lb[k], mb));
    sa = _mm512_add_pd(sa, wa);
    sb = _mm512_add_pd(sb, wb);
    __m512d pk = _mm512_set1_pd(iso ? pr[0] : 1.0);
    wa = _mm512_mul_pd(wa, pk);
    wb = _mm512_mul_pd(wb, pk);
    for (size_t i = 0; i < d; i++) {
      __m512d ta = dev_v8(xa[i], mu[i], pr[i], iso),
              tb = dev_v8(xb[i], mu[i], pr[i], iso);
      ga[i] = _mm512_fmadd_pd(wa, ta, ga[i]);
      gb[i] = _mm512_fmadd_pd(wb, tb, gb[i]);
    }
  }
  __m512d one = _mm512_set1_pd(1.0);
  __m512d ia = _mm512_div_pd(one, sa), ib = _mm512_div_pd(one, sb);
  for (size_t i = 0; i < d; i++) {
    _mm512_storeu_pd(g + i * lg, _mm512_mul_pd(ga[i], ia));
    _mm512_storeu_pd(g + i * lg + VL, _mm512_mul_pd(gb[i], ib));
  }
}

__attribute__((target("avx512f"), always_inline)) static inline void
block_v8(const gmm_state *s, const size_t d, const int iso, size_t B,
         size_t ld, const double *x, double *g) {
  size_t r0 = 0;
  for (; r0 + 2 * VL <= B; r0 += 2 * VL)
    chunk2_v8(s, d, iso, x + r0, ld, g + r0, ld);
  if (r0 == B) return;
  size_t nr = B - r0; /* the last rows through a zero-padded copy */
  double xt[16 * 2 * VL], gt[16 * 2 * VL];
  for (size_t i = 0; i < d; i++)
    for (size_t l = 0; l < 2 * VL; l++)
      xt[i * 2 * VL + l] = l < nr ? x[i * ld + r0 + l] : 0.0;
  chunk2_v8(s, d, iso, xt, 2 * VL, gt, 2 * VL);
  for (size_t i = 0; i < d; i++)
    for (size_t l = 0; l < nr; l++) g[i * ld + r0 + l] = gt[i * 2 * VL + l];
}

__attribute__((target("avx512f"))) static void
gmm_grad_block_v8(const gmm_state *s, size_t B, size_t ld, const double *x,
                  double *g) {
  if (s->all_iso) {
    switch (s->dim) {
    case 1: block_v8(s, 1, 1, B, ld, x, g); break;
    case 2: block_v8(s, 2, 1, B, ld, x, g); break;
    case 3: block_v8(s, 3, 1, B, ld, x, g); break;
    case 4: block_v8(s, 4, 1, B, ld, x, g); break;
    default: block_v8(s, s->dim, 1, B, ld, x, g); break;
    }
  } else {
    switch (s->dim) {
    case 1: block_v8(s, 1, 0, B, ld, x, g); break;
    case 2: block_v8(s, 2, 0, B, ld, x, g); break;
    case 3: block_v8(s, 3, 0, B, ld, x, g); break;
    case 4: block_v8(s, 4, 0, B, ld, x, g); break;
    default: block_v8(s, s->dim, 0, B, ld, x, g); break;
    }
  }
  _mm256_zeroupper(); /* clean upper state for SSE code, at any -O */
}
#endif

/* 1 when the AVX-512 kernel serves this mixture on this machine, decided
 * when the target is made (LB_GMM_NO_AVX512 in the environment then
 * turns it off: the tests compare the two kernels). */
static int use_v8(const gmm_state *s) {
#ifdef GMM_AVX512
  return __builtin_cpu_supports("avx512f") && !getenv("LB_GMM_NO_AVX512") &&
         !s->any_full && s->dim <= 16 && s->m <= CH;
#else
  (void)s;
  return 0;
#endif
}

static void gmm_grad_block(const void *vs, size_t B, size_t ld,
                           const double *x, const double *t, double *g) {
  const gmm_state *s = vs;
  (void)t;
#ifdef GMM_AVX512
  if (s->v8) {
    gmm_grad_block_v8(s, B, ld, x, g);
    return;
  }
#endif
  if (!s->any_full) {
    gmm_grad_block_diag(s, B, ld, x, g);
    return;
  }
  /* full covariances: row by row */
  const size_t d = s->dim;
  double stack[2 * STACK_SCRATCH];
  double *xr = d <= STACK_SCRATCH ? stack : lb_xcalloc(2 * d, sizeof(double));
  double *gr = xr + d;
  for (size_t r = 0; r < B; r++) {
    for (size_t i = 0; i < d; i++) xr[i] = x[i * ld + r];
    gmm_grad(s, xr, gr);
    for (size_t i = 0; i < d; i++) g[i * ld + r] = gr[i];
  }
  if (xr != stack) free(xr);
}

/* ---- ground truth ------------------------------------------------- */

static void gmm_sample(const void *vs, gsl_rng *r, double *x) {
  const gmm_state *s = vs;
  const size_t d = s->dim;
  size_t k = gsl_ran_discrete(r, s->pick);
  const double *mu = s->mu + k * d;
  for (size_t i = 0; i < d; i++) x[i] = gsl_ran_gaussian_ziggurat(r, 1.0);
  if (s->full[k]) {
    /* x = mu + L z in place: row i needs z_0..z_i, so go bottom-up. */
    const double *L = s->chol + k * d * d;
    for (size_t i = d; i-- > 0;) {
      double v = 0.0;
      for (size_t j = 0; j <= i; j++) v += L[i * d + j] * x[j];
      x[i] = mu[i] + v;
    }
  } else {
    const double *sd = s->sd + k * d;
    for (size_t i = 0; i < d; i++) x[i] = mu[i] + sd[i] * x[i];
  }
}

static double gmm_marginal_cdf(const void *vs, size_t i, double v) {
  const gmm_state *s = vs;
  double p = 0.0;
  for (size_t k = 0; k < s->m; k++)
    p += s->w[k] *
         gsl_cdf_gaussian_P(v - s->mu[k * s->dim + i], s->sd[k * s->dim + i]);
  return p;
}

/* Weak-error support: sum_k w_k exp(i w mu_k,i - w^2 Sigma_k,ii / 2). */
static double gmm_marginal_cf(const void *vs, size_t i, double w, double *c,
                              double *sn) {
  const gmm_state *s = vs;
  double sc = 0.0, ss = 0.0;
  for (size_t k = 0; k < s->m; k++) {
    double sd = s->sd[k * s->dim + i], mu = s->mu[k * s->dim + i];
    double a = s->w[k] * exp(-0.5 * w * w * sd * sd);
    sc += a * cos(w * mu);
    ss += a * sin(w * mu);
  }
  *c = sc;
  *sn = ss;
  return 4 * DBL_EPSILON * (double)s->m;
}

/* E|x|^4 = sum_k w_k [(tr S_k + |mu_k|^2)^2 + 2 tr(S_k^2) + 4 mu_k' S_k mu_k]
 * (x = mu + L z: expand |x|^2 = |mu|^2 + 2 mu'Lz + z'L'Lz; Isserlis). */
static double gmm_moment4(const void *vs, double *err) {
  const gmm_state *s = vs;
  const size_t d = s->dim;
  double tot = 0, scale = 0;
  for (size_t k = 0; k < s->m; k++) {
    const double *mu = s->mu + k * d;
    double tr = 0, tr2 = 0, mSm = 0, mm = 0;
    for (size_t i = 0; i < d; i++) mm += mu[i] * mu[i];
    if (s->full[k]) {
      const double *L = s->chol + k * d * d;
      for (size_t i = 0; i < d; i++)
        for (size_t j = 0; j < d; j++) {
          double sij = 0; /* (L L')_ij */
          for (size_t l = 0; l <= (i < j ? i : j); l++) sij += L[i * d + l] * L[j * d + l];
          if (i == j) tr += sij;
          tr2 += sij * sij;
          mSm += mu[i] * sij * mu[j];
        }
    } else {
      for (size_t i = 0; i < d; i++) {
        double v = s->sd[k * d + i] * s->sd[k * d + i];
        tr += v;
        tr2 += v * v;
        mSm += mu[i] * v * mu[i];
      }
    }
    tot += s->w[k] * ((tr + mm) * (tr + mm) + 2 * tr2 + 4 * mSm);
    scale += s->w[k] * (tr + mm) * (tr + mm);
  }
  *err = 16 * DBL_EPSILON * (double)d * scale;
  return tot;
}

static size_t gmm_mode_of(const void *vs, const double *x) {
  const gmm_state *s = vs;
  double stack[STACK_SCRATCH];
  double *z = scratch(s, stack);
  size_t best = 0;
  double mx = -HUGE_VAL;
  for (size_t k = 0; k < s->m; k++) {
    double l = s->logc[k] + comp_quad(s, k, x, z, 0);
    if (l > mx) {
      mx = l;
      best = k;
    }
  }
  scratch_done(z, stack);
  return best;
}

/* ---- construction ------------------------------------------------- */

static void gmm_free(void *vs) {
  gmm_state *s = vs;
  if (!s) return;
  free(s->w);
  free(s->logc);
  free(s->mu);
  free(s->sd);
  free(s->chol);
  free(s->isd);
  free(s->prec);
  free(s->hprec);
  free(s->full);
  if (s->pick) gsl_ran_discrete_free(s->pick);
  free(s);
}

static gmm_state *state_alloc(size_t d, size_t m, int any_full) {
  gmm_state *s = lb_xcalloc(1, sizeof *s);
  s->dim = d;
  s->m = m;
  s->w = lb_xcalloc(m, sizeof(double));
  s->logc = lb_xcalloc(m, sizeof(double));
  s->mu = lb_xcalloc(m * d, sizeof(double));
  s->sd = lb_xcalloc(m * d, sizeof(double));
  s->isd = lb_xcalloc(m * d, sizeof(double));
  s->prec = lb_xcalloc(m * d, sizeof(double));
  s->hprec = lb_xcalloc(m, sizeof(double));
  s->full = lb_xcalloc(m, 1);
  s->any_full = any_full;
  if (any_full) s->chol = lb_xcalloc(m * d * d, sizeof(double));
  return s;
}

/* With w (unnormalised, > 0), mu, sd / chol filled: normalise the weights,
 * the constants, the alias table and the ground truth of t. */
static void finish(lb_target *t, gmm_state *s) {
  const size_t d = s->dim, m = s->m;
  double tot = 0.0;
  for (size_t k = 0; k < m; k++) tot += s->w[k];
  for (size_t k = 0; k < m; k++) s->w[k] /= tot;
  s->pick = gsl_ran_discrete_preproc(m, s->w);
  if (!s->pick) {
    fprintf(stderr, "langbench: out of memory\n");
    exit(LB_ERUNTIME);
  }
  for (size_t k = 0; k < m * d; k++) {
    s->isd[k] = 1.0 / s->sd[k];
    s->prec[k] = s->isd[k] * s->isd[k];
  }
  s->all_iso = !s->any_full;
  for (size_t k = 0; k < m; k++) {
    s->hprec[k] = -0.5 * s->prec[k * d];
    for (size_t i = 1; i < d; i++)
      s->all_iso &= s->sd[k * d + i] == s->sd[k * d];
  }
  for (size_t k = 0; k < m; k++) {
    double logdet = 0.0; /* log det L_k */
    for (size_t i = 0; i < d; i++)
      logdet += s->full[k] ? log(s->chol[k * d * d + i * d + i])
                           : log(s->sd[k * d + i]);
    s->logc[k] = log(s->w[k]) - logdet - 0.5 * (double)d * log(2.0 * M_PI);
  }
  s->v8 = use_v8(s);

  t->dim = d;
  t->n_modes = m;
  lb_target_alloc_truth(t);
  t->log_z = 0.0;
  for (size_t k = 0; k < m; k++) {
    t->mode_weight[k] = s->w[k];
    for (size_t i = 0; i < d; i++) t->mean[i] += s->w[k] * s->mu[k * d + i];
  }
  for (size_t k = 0; k < m; k++) {
    const double *mu = s->mu + k * d;
    const double wk = s->w[k];
    for (size_t i = 0; i < d; i++) {
      double di = mu[i] - t->mean[i];
      if (di != 0.0)
        for (size_t j = 0; j < d; j++)
          t->cov[i * d + j] += wk * di * (mu[j] - t->mean[j]);
    }
    if (s->full[k]) { /* Sigma_k = L L^T */
      const double *L = s->chol + k * d * d;
      for (size_t i = 0; i < d; i++)
        for (size_t j = 0; j <= i; j++) {
          double v = 0.0;
          for (size_t l = 0; l <= j; l++) v += L[i * d + l] * L[j * d + l];
          t->cov[i * d + j] += wk * v;
          if (j != i) t->cov[j * d + i] += wk * v;
        }
    } else {
      for (size_t i = 0; i < d; i++)
        t->cov[i * d + i] += wk * s->sd[k * d + i] * s->sd[k * d + i];
    }
  }
}

/* The "cross" family gmm:dim=D,modes=M,radius=R,sd=S. */
static int init_cross(lb_target *t, lb_spec *spec, lb_err *e) {
  size_t d;
  long m;
  double radius, sd;
  int rc = lb_tg_dim(spec, "dim", 2, &d, e);
  if (!rc) rc = lb_spec_long(spec, "modes", (long)(2 * d), 1, (long)(2 * d),
                             &m, e);
  if (!rc) rc = lb_tg_finite(spec, "radius", 4.0, &radius, e);
  if (!rc) rc = lb_tg_positive(spec, "sd", 0.5, &sd, e);
  if (rc) return rc;
  gmm_state *s = state_alloc(d, (size_t)m, 0);
  t->state = s;
  for (size_t k = 0; k < (size_t)m; k++) {
    s->w[k] = 1.0;
    s->mu[k * d + k / 2] = (k % 2 == 0) ? radius : -radius;
    for (size_t i = 0; i < d; i++) s->sd[k * d + i] = sd;
  }
  finish(t, s);
  return LB_OK;
}

/* ---- libconfig files ---------------------------------------------- */

/* Numbers in a setting (a scalar, or arrays / lists of them, flattened in
 * order).  Writes at most max of them; returns how many there are, or -1
 * when an entry is not a number. */
static long numbers(const config_setting_t *st, double *out, long max) {
  switch (config_setting_type(st)) {
  case CONFIG_TYPE_INT:
    if (max > 0) out[0] = config_setting_get_int(st);
    return 1;
  case CONFIG_TYPE_INT64:
    if (max > 0) out[0] = (double)config_setting_get_int64(st);
    return 1;
  case CONFIG_TYPE_FLOAT:
    if (max > 0) out[0] = config_setting_get_float(st);
    return 1;
  case CONFIG_TYPE_ARRAY:
  case CONFIG_TYPE_LIST: {
    long n = 0;
    int len = config_setting_length(st);
    for (int i = 0; i < len; i++) {
      long c = numbers(config_setting_get_elem(st, (unsigned)i),
                       out ? out + n : NULL,
                       max > n ? max - n : 0);
      if (c < 0) return -1;
      n += c;
    }
    return n;
  }
  default:
    return -1;
  }
}

typedef struct {
  const char *spec;  /* the SPEC text, for messages */
  const char *where; /* file name or "preset NAME" */
  lb_err *e;
} ctx;

static int bad(const ctx *c, const config_setting_t *st, const char *what,
               long k) {
  int line = st ? (int)config_setting_source_line(st) : 0;
  if (k >= 0)
    return lb_fail(c->e, LB_EINPUT, "%s: %s:%d: component %ld: %s", c->spec,
                   c->where, line, k + 1, what);
  return lb_fail(c->e, LB_EINPUT, "%s: %s:%d: %s", c->spec, c->where, line,
                 what);
}

/* Lower Cholesky factor of the symmetric part of C (d x d) into L; -1 when
 * C is not symmetric (to 1e-10 relative) or not positive definite. */
static int cholesky(const double *C, size_t d, double *L) {
  for (size_t i = 0; i < d; i++)
    for (size_t j = 0; j < i; j++) {
      double a = C[i * d + j], b = C[j * d + i];
      double scale = sqrt(fabs(C[i * d + i] * C[j * d + j]));
      if (!(fabs(a - b) <= 1e-10 * scale)) return -1;
    }
  for (size_t j = 0; j < d; j++) {
    double v = C[j * d + j];
    for (size_t l = 0; l < j; l++) v -= L[j * d + l] * L[j * d + l];
    if (!(v > 0) || !isfinite(v)) return -1;
    double ljj = sqrt(v);
    L[j * d + j] = ljj;
    for (size_t i = j + 1; i < d; i++) {
      double u = 0.5 * (C[i * d + j] + C[j * d + i]);
      for (size_t l = 0; l < j; l++) u -= L[i * d + l] * L[j * d + l];
      L[i * d + j] = u / ljj;
    }
  }
  return 0;
}

static int all_positive(const double *v, long n) {
  for (long i = 0; i < n; i++)
    if (!(v[i] > 0) || !isfinite(v[i])) return 0;
  return 1;
}

static int from_config(lb_target *t, config_t *cfg, const ctx *c) {
  config_setting_t *root = config_root_setting(cfg);
  config_setting_t *comps = config_setting_get_member(root, "components");
  if (!comps || !config_setting_is_aggregate(comps))
    return bad(c, comps, "needs 'components = ( {...}, ... );'", -1);
  long m = config_setting_length(comps);
  if (m < 1 || m > MAX_COMPONENTS)
    return bad(c, comps, "needs between 1 and 100000 components", -1);

  /* Dimension: `dim`, else the length of the first mean. */
  long d = 0;
  config_setting_t *dims = config_setting_get_member(root, "dim");
  if (dims) {
    double v;
    if (numbers(dims, &v, 1) != 1 || v != floor(v) || v < 1 ||
        v > LB_TG_MAXDIM)
      return bad(c, dims, "dim must be an integer in [1, 4096]", -1);
    d = (long)v;
  } else {
    config_setting_t *c0 = config_setting_get_elem(comps, 0);
    config_setting_t *m0 =
        config_setting_is_group(c0) ? config_setting_get_member(c0, "mean")
                                    : NULL;
    if (m0) d = numbers(m0, NULL, 0);
    if (d < 1 || d > LB_TG_MAXDIM)
      return bad(c, c0, "cannot infer dim from the first mean", 0);
  }

  int any_full = 0;
  for (long k = 0; k < m; k++) {
    config_setting_t *ck = config_setting_get_elem(comps, (unsigned)k);
    if (config_setting_is_group(ck) &&
        config_setting_get_member(ck, "cov"))
      any_full = 1;
  }
  gmm_state *s = state_alloc((size_t)d, (size_t)m, any_full);
  t->state = s;
  double *buf = lb_xcalloc((size_t)(d * d), sizeof(double));
  int rc = LB_OK;
  static const char *const covkeys[] = {"sd", "var", "cov"};

  for (long k = 0; k < m && rc == LB_OK; k++) {
    config_setting_t *ck = config_setting_get_elem(comps, (unsigned)k);
    if (!config_setting_is_group(ck)) {
      rc = bad(c, ck, "must be a group { weight = ...; mean = [...]; ... }", k);
      break;
    }
    /* Unknown members are errors (a typo must not silently drop a key). */
    for (int i = 0; i < config_setting_length(ck); i++) {
      const char *nm = config_setting_name(config_setting_get_elem(ck, (unsigned)i));
      if (strcmp(nm, "weight") && strcmp(nm, "mean") && strcmp(nm, "sd") &&
          strcmp(nm, "var") && strcmp(nm, "cov")) {
        char msg[160];
        snprintf(msg, sizeof msg,
                 "unknown member '%s' (weight, mean, sd, var or cov)", nm);
        rc = bad(c, config_setting_get_elem(ck, (unsigned)i), msg, k);
        break;
      }
    }
    if (rc) break;

    config_setting_t *wt = config_setting_get_member(ck, "weight");
    double w = 1.0;
    if (wt && (numbers(wt, &w, 1) != 1 || !(w > 0) || !isfinite(w))) {
      rc = bad(c, wt, "weight must be a number > 0", k);
      break;
    }
    s->w[k] = w;

    config_setting_t *mean = config_setting_get_member(ck, "mean");
    if (!mean || numbers(mean, s->mu + k * d, d) != d ||
        !lb_all_finite(s->mu + k * d, (size_t)d)) {
      char msg[96];
      snprintf(msg, sizeof msg, "mean must be %ld finite numbers", d);
      rc = bad(c, mean ? mean : ck, msg, k);
      break;
    }

    config_setting_t *cv = NULL;
    int which = -1, count = 0;
    for (int j = 0; j < 3; j++) {
      config_setting_t *x = config_setting_get_member(ck, covkeys[j]);
      if (x) {
        cv = x;
        which = j;
        count++;
      }
    }
    if (count != 1) {
      rc = bad(c, ck, "give exactly one of sd, var or cov", k);
      break;
    }
    double *sd = s->sd + k * d;
    if (which <= 1) { /* sd or var: one number or dim numbers */
      long n = numbers(cv, buf, d);
      if ((n != 1 && n != d) || !all_positive(buf, n)) {
        char msg[128];
        snprintf(msg, sizeof msg, "%s must be one number > 0 or %ld of them",
                 covkeys[which], d);
        rc = bad(c, cv, msg, k);
        break;
      }
      for (long i = 0; i < d; i++) {
        double v = buf[n == 1 ? 0 : i];
        sd[i] = which == 0 ? v : sqrt(v);
      }
    } else {
      long n = numbers(cv, buf, d * d);
      double *L = s->chol + k * d * d;
      if (n != d * d || !lb_all_finite(buf, (size_t)n)) {
        char msg[96];
        snprintf(msg, sizeof msg, "cov must be %ld finite numbers", d * d);
        rc = bad(c, cv, msg, k);
        break;
      }
      if (cholesky(buf, (size_t)d, L) != 0) {
        rc = bad(c, cv, "cov is not symmetric positive definite", k);
        break;
      }
      s->full[k] = 1;
      for (long i = 0; i < d; i++) sd[i] = sqrt(buf[i * d + i]);
    }
  }
  free(buf);
  if (rc == LB_OK) finish(t, s);
  return rc;
}

/* Parses `text` (a preset, when `path` is NULL) or the file at `path`. */
static int init_config(lb_target *t, lb_spec *spec, const char *name,
                       const char *text, const char *path, lb_err *e) {
  config_t cfg;
  config_init(&cfg);
  char where[LB_SPEC_MAXLEN + 16];
  if (path)
    snprintf(where, sizeof where, "%s", path);
  else
    snprintf(where, sizeof where, "preset %s", name);
  ctx c = {spec->text, where, e};
  int ok = path ? config_read_file(&cfg, path) : config_read_string(&cfg, text);
  int rc;
  if (ok != CONFIG_TRUE) {
    if (config_error_type(&cfg) == CONFIG_ERR_FILE_IO)
      rc = lb_fail(e, LB_EINPUT, "%s: cannot read file %s", spec->text,
                   where);
    else
      rc = lb_fail(e, LB_EINPUT, "%s: %s:%d: %s", spec->text, where,
                   config_error_line(&cfg), config_error_text(&cfg));
  } else {
    rc = from_config(t, &cfg, &c);
  }
  config_destroy(&cfg);
  return rc;
}

static int gmm_init(lb_target *t, lb_spec *spec, lb_err *e) {
  static const char *const cross[] = {"dim", "modes", "radius", "sd"};
  int has_cross = 0;
  for (int i = 0; i < 4; i++) has_cross |= lb_spec_has(spec, cross[i]);
  int has_preset = lb_spec_has(spec, "preset");
  int has_file = lb_spec_has(spec, "file");
  if (has_preset + has_file + has_cross > 1)
    return lb_fail(e, LB_EINPUT,
                   "%s: give one source: preset=NAME, file=PATH, or "
                   "dim=D,modes=M",
                   spec->text);
  if (has_cross) return init_cross(t, spec, e);
  if (has_file) {
    const char *path = lb_spec_str(spec, "file");
    return init_config(t, spec, NULL, NULL, path, e);
  }
  const char *name = lb_spec_str(spec, "preset");
  if (!name) name = "ring8";
  for (size_t i = 0; lb_presets[i].name; i++)
    if (strcmp(lb_presets[i].name, name) == 0)
      return init_config(t, spec, name, lb_presets[i].text, NULL, e);
  char names[LB_ERRLEN / 2] = "";
  for (size_t i = 0; lb_presets[i].name; i++) {
    size_t len = strlen(names);
    snprintf(names + len, sizeof names - len, "%s%s", i ? ", " : "",
             lb_presets[i].name);
  }
  return lb_fail(e, LB_EINPUT, "%s: preset=%s is not a preset (%s)",
                 spec->text, name, names);
}

const lb_target_type lb_target_gmm = {
    "gmm",
    "preset=ring8  a preset: ring8 (2-D, 8 modes, sd 0.5, on a circle of "
    "radius 4) or twomodes (1-D, 0.2 N(-3, 0.5^2) + 0.8 N(3, 1))\n"
    "file=-        instead: a libconfig file of the preset format\n"
    "dim=2         instead: the cross family, mode k at (-1)^k radius "
    "e_{k/2}\n"
    "modes=2*dim   number of modes of the cross family (<= 2*dim)\n"
    "radius=4      distance of the cross family's modes from 0\n"
    "sd=0.5        standard deviation of every cross component\n",
    gmm_init,
    gmm_free,
    gmm_potential,
    gmm_grad,
    gmm_sample,
    gmm_marginal_cdf,
    gmm_mode_of,
    gmm_grad_block,
    gmm_marginal_cf,
    gmm_moment4,
};

/* ---- components, for the diffusion oracle (src/diffusion/oracle.c) ---- */

/* Copies of the mixture's parameters: *w [m], *mu [m*d], *cov [m*d*d]
 * (full row-major covariances); LB_EINPUT when t is not a gmm target.
 * Declared in src/diffusion/oracle.h. */
int lb_gmm_components(const lb_target *t, size_t *m, double **w, double **mu,
                      double **cov, lb_err *e) {
  if (t->type != &lb_target_gmm)
    return lb_fail(e, LB_EINPUT, "%s is not a gmm target", t->spec);
  const gmm_state *s = t->state;
  const size_t d = s->dim;
  *m = s->m;
  *w = lb_xcalloc(s->m, sizeof(double));
  *mu = lb_xcalloc(s->m * d, sizeof(double));
  *cov = lb_xcalloc(s->m * d * d, sizeof(double));
  memcpy(*w, s->w, s->m * sizeof(double));
  memcpy(*mu, s->mu, s->m * d * sizeof(double));
  for (size_t k = 0; k < s->m; k++) {
    double *C = *cov + k * d * d;
    if (!s->full[k]) {
      for (size_t i = 0; i < d; i++)
        C[i * d + i] = s->sd[k * d + i] * s->sd[k * d + i];
      continue;
    }
    const double *L = s->chol + k * d * d;
    for (size_t i = 0; i < d; i++)
      for (size_t j = 0; j <= i; j++) {
        double v = 0.0;
        for (size_t l = 0; l <= j; l++) v += L[i * d + l] * L[j * d + l];
        C[i * d + j] = C[j * d + i] = v;
      }
  }
  return LB_OK;
}
