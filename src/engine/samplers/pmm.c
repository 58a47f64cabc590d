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
 * for dynamics without the scaling relations: time-dependent coefficients
 * (fine step i of a coarse step from t runs over [t + i h, t + (i+1) h]),
 * as the DDPM reverse chain (src/diffusion/chain.c, diffusion.md section
 * 4).  Two parameters serve chains of a fixed fine step, fine form only:
 *   hfine=H    the fine step is H, a coarse step of size alpha covers
 *              L = alpha/H <= K fine steps (the caller shortens the last
 *              coarse step of a chain whose length K does not divide);
 *              every K below is then L.
 *   offset0=0  (dynamics without the scaling relations only)
 *              option 2 draws u ~ Unif{1..K-1} with weight K-1 (NFE 2;
 *              K = 1: no midpoint, NFE 1), the DDPM reading of
 *              diffusion.md section 4; default offset0=1 is the engine's
 *              u ~ Unif{0..K-1} with weight K.  Both are unbiased for the
 *              sum of the corrections (offset 0's is zero); they differ
 *              in variance and NFE, and with K = 2 only offset0=0 is the
 *              fine chain itself (its one midpoint is the fine iterate).
 *
 * Registry entries bind this one implementation to a dynamics: plmc
 * (overdamped) and uplmc (underdamped, dynamics_underdamped.c).  On
 * underdamped Langevin the correction weight K A_{alpha-t_k-h} G_h moves
 * position and velocity; for K = inf it is the velocity kick
 * alpha A_{alpha-t_k} e_v (G'(0) = e_v).  At fixed K uplmc inherits
 * ULMC's first-order bias at the fine step alpha/K; only K = inf removes
 * it (algorithms.md section 3).  uplmc option 2 is NOT urlmc, even as K
 * grows: with one midpoint at t = s alpha both use the same midpoint and
 * noise, but uplmc adds [G_alpha - alpha A_{alpha-t} e_v] b(Y), a control
 * variate on the start-point drift with mean zero over s (G_alpha = int_0^
 * alpha A_tau e_v dtau) that changes the second moments.  Overdamped, the
 * bracket is alpha - alpha = 0, which is why plmc option 2 tends to rlmc.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "sampler.h"
#include "vmath.h"
#include "udlaw.h"

typedef struct {
  long K;       /* 0 encodes K = infinity */
  int option;   /* 1 or 2 */
  int fine;     /* 1: literal fine-step form */
  double kalpha; /* > 0: K = max(1, round(kalpha / alpha)) at each step */
  double hfine;  /* > 0: fixed fine step; K = L = round(alpha / hfine) */
  int skip0;     /* option 2 draws u in 1..K-1, weight K-1 (offset0=0) */
  int v512;      /* the AVX-512 round compaction (list_compact) serves */
  int nolist;    /* LB_PMM_NO_LIST set: no underdamped list form (tests) */
} pmm_params;

/* The parameters for a coarse step alpha (Kalpha=C: K ~ C/alpha, the
 * speed-up regime of the paper, fine step alpha^2/C). */
static pmm_params pmm_at(const pmm_params *p, double alpha) {
  pmm_params q = *p;
  if (p->kalpha > 0) {
    double k = floor(p->kalpha / alpha + 0.5);
    q.K = k < 1 ? 1 : k > 1e12 ? (long)1e12 : (long)k;
  }
  if (p->hfine > 0) { /* L = alpha / hfine fine steps, 1 <= L <= K */
    double l = floor(alpha / p->hfine + 0.5);
    q.K = l < 1 ? 1 : l > (double)p->K ? p->K : (long)l;
  }
  return q;
}

int lb_pmm_init(lb_sampler *s, lb_spec *spec, lb_err *e) {
  pmm_params *p = lb_xcalloc(1, sizeof *p);
  s->state = p;
  /* the general fast form on underdamped dynamics too, for the tests
   * that pin the list form (pmm_step_ud) to its bits */
  p->nolist = getenv("LB_PMM_NO_LIST") != NULL;
  const char *k = lb_spec_str(spec, "K");
  if (lb_spec_has(spec, "Kalpha")) {
    if (k)
      return lb_fail(e, LB_EINPUT, "--sampler: give K or Kalpha, not both");
    int rc = lb_spec_double(spec, "Kalpha", 0.0, 1e-300, 1e300, &p->kalpha, e);
    if (rc) return rc;
    if (!(p->kalpha > 0))
      return lb_fail(e, LB_EINPUT, "--sampler: Kalpha must be > 0");
    p->K = 1; /* placeholder: set per step by pmm_at */
  } else if (!k) {
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
  if (!s->dyn.type->scaling && p->K == 0)
    return lb_fail(e, LB_EINPUT,
                   "--sampler: K=inf needs the scaling relations (%s "
                   "dynamics has none)",
                   s->dyn.type->name);
  if (!p->fine && !s->dyn.type->scaling)
    p->fine = 1; /* the fast form needs the scaling relations */
  if (p->fine && p->K == 0)
    return lb_fail(e, LB_EINPUT, "--sampler: impl=fine needs a finite K");
  if (lb_spec_has(spec, "hfine")) {
    rc = lb_spec_double(spec, "hfine", 0.0, 1e-300, 1e300, &p->hfine, e);
    if (rc) return rc;
    if (!p->fine || p->kalpha > 0 || p->K == 0)
      return lb_fail(e, LB_EINPUT,
                     "--sampler: hfine needs impl=fine and a finite K");
  }
  long o0;
  rc = lb_spec_long(spec, "offset0", 1, 0, 1, &o0, e);
  if (rc) return rc;
  p->skip0 = o0 == 0;
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__) && \
    !defined(LB_NO_VECTOR_CLONES)
  /* LB_PMM_NO_AVX512 in the environment when the sampler is made selects
   * the portable compaction (tests/test_blocks.c compares the two) */
  p->v512 = __builtin_cpu_supports("avx512f") && !getenv("LB_PMM_NO_AVX512");
#endif
  /* offset0=0 is the DDPM chain's option 2; on Langevin dynamics the
   * fast form and the exact laws know the engine's option 2 only */
  if (p->skip0 && (!p->fine || p->option != 2 || s->dyn.type->scaling))
    return lb_fail(e, LB_EINPUT,
                   "--sampler: offset0=0 needs option=2 on a dynamics "
                   "without the scaling relations (the DDPM chain)");
  return LB_OK;
}

/* ---- blocks ---------------------------------------------------------------
 * Both forms step a block of chains whose midpoints differ in number and
 * time from row to row.  The fast form needs no drift at a midpoint to
 * place the next one (Yhat_k depends on Y, b0 and the Brownian path only),
 * so its midpoints are collected, over all rows, into a queue of up to ld
 * entries in the block layout, and the drift is evaluated one full queue
 * at a time: about (1 + E[N]) B drift rows in ceil(.) block calls per
 * block step, whatever K.  The fine form runs the interpolation over a
 * chunk of fine steps, queues the rows whose H_i = 1 (i > 0), evaluates
 * the queue in block calls, then runs the refined iterate over the chunk
 * (fine_zc_steps, below). */

typedef struct {
  size_t n, d, ld, B;
  /* block arrays, ld rows each */
  double *y0, *M, *acc, *b0, *cM, *z;
  /* the queue: Yhat, its start drift b0, b(Yhat), scratch */
  double *qy, *qb0, *qb, *qtmp;
  /* per-row and per-entry scalars */
  double *prev, *seg, *tk, *tm, *qtk, *qtm, *tau, *tt;
  size_t *idx, *qrow;
  long *ridx;
  int *done;
  /* fast form: the previous time and fine index of live entry j (aligned
   * with idx, compacted with it) */
  double *lprev, *lridx;
  /* fine form: Z of a chunk of steps, the midpoint queue (fq_cap rows) */
  size_t zc_steps, fq_cap;
  double *zc, *fqy, *fqb, *fqtm;
  size_t *fqrow;
  long *fqstep;
} pmm_ws;

/* The fine form keeps the Z_i of up to fine_zc_steps fine steps (about
 * 1 MB) and queues up to fine_q_cap midpoints, so that the midpoint
 * drifts of a chunk of fine steps are evaluated in block calls of up to
 * LB_BLOCK_MAX rows: the interpolation does not depend on the
 * corrections, so it runs first over the chunk, then the refined iterate
 * (the same operations on the same values as the step-by-step form). */
static size_t fine_zc_steps(size_t n, size_t ld) {
  size_t c = ((size_t)1 << 17) / (n * ld);
  return c ? c : 1;
}
static size_t fine_q_cap(size_t ld) { return 4 * ld; }

/* The drifts of cnt queued rows (stride ld) in block calls of at most
 * LB_BLOCK_MAX rows (block kernels keep per-row scratch of that size). */
static void drift_rows(const lb_dynamics *dy, size_t cnt, size_t ld,
                       const double *y, const double *t, double *b) {
  for (size_t o = 0; o < cnt; o += LB_BLOCK_MAX) {
    size_t m = cnt - o < LB_BLOCK_MAX ? cnt - o : LB_BLOCK_MAX;
    lb_dynamics_drift(dy, m, ld, y + o, t + o, b + o);
  }
}

static size_t od_work(size_t n, size_t ld);
static size_t ud_work(size_t n, size_t d, size_t ld);

size_t lb_pmm_work(const lb_sampler *s, size_t ld) {
  size_t n = s->dyn.n, d = s->dyn.d;
  /* arrays of n: y0 M acc cM z qy qtmp (7); of d: b0 qb0 qb (3); scalars:
   * prev seg tk tm qtk qtm tau tt (8), idx qrow ridx done (4, one double
   * each), lprev lridx (2); the fine form's Z of a chunk of fine steps
   * and its midpoint queue */
  size_t w = (7 * n + 3 * d + 14) * ld + fine_zc_steps(n, ld) * n * ld +
             (n + d + 3) * fine_q_cap(ld);
  size_t wu = ud_work(n, d, ld); /* pmm_step_ud, underdamped */
  if (wu > w) w = wu;
  size_t wo = od_work(n, ld); /* pmm_step_od, overdamped */
  return w > wo ? w : wo;
}

static pmm_ws carve(const lb_sampler *s, size_t ld, double *w) {
  pmm_ws W;
  W.n = s->dyn.n;
  W.d = s->dyn.d;
  W.ld = ld;
  W.B = 0;
  size_t n = W.n * ld, d = W.d * ld;
  W.y0 = w, w += n;
  W.M = w, w += n;
  W.acc = w, w += n;
  W.cM = w, w += n;
  W.z = w, w += n;
  W.qy = w, w += n;
  W.qtmp = w, w += n;
  W.b0 = w, w += d;
  W.qb0 = w, w += d;
  W.qb = w, w += d;
  W.prev = w, w += ld;
  W.seg = w, w += ld;
  W.tk = w, w += ld;
  W.tm = w, w += ld;
  W.qtk = w, w += ld;
  W.qtm = w, w += ld;
  W.tau = w, w += ld;
  W.tt = w, w += ld;
  W.idx = (size_t *)w, w += ld;
  W.qrow = (size_t *)w, w += ld;
  W.ridx = (long *)w, w += ld;
  W.done = (int *)w, w += ld;
  W.lprev = w, w += ld;
  W.lridx = w, w += ld;
  W.zc_steps = fine_zc_steps(W.n, ld);
  W.zc = w, w += W.zc_steps * W.n * ld;
  size_t Q = W.fq_cap = fine_q_cap(ld);
  W.fqy = w, w += W.n * Q;
  W.fqb = w, w += W.d * Q;
  W.fqtm = w, w += Q;
  W.fqrow = (size_t *)w, w += Q;
  W.fqstep = (long *)w;
  return W;
}

/* ---- fast form -------------------------------------------------------- */

/* u[j] <- -log(1 - u[j]): an Exp(1) draw from a uniform in [0, 1). */
LB_VECTOR_CLONES
static void neglog1m(size_t n, double *u) {
#pragma omp simd
  for (size_t j = 0; j < n; j++) u[j] = -lb_log_fma(1.0 - u[j]);
}

/* The next selected time of the live rows from their uniforms u (in
 * place): lp the previous time, lr the fine index
 * (finite K), updated.  For K a power of two ri / K is ri * (1 / K)
 * exactly, which saves a vector divide. */
LB_VECTOR_CLONES
static void skip_times(const pmm_params *p, size_t live, double *restrict u,
                     const double *restrict lp, double *restrict lr) {
  neglog1m(live, u);
  if (p->K == 0) {
#pragma omp simd
    for (size_t j = 0; j < live; j++) u[j] += lp[j];
    return;
  }
  double K = (double)p->K, lq = -log1p(-1.0 / K);
  int pow2 = (p->K & (p->K - 1)) == 0;
  double iK = 1.0 / K;
  if (pow2) {
#pragma omp simd
    for (size_t j = 0; j < live; j++) {
      double g = lb_floor_pos(u[j] / lq) + 1.0;
      g = g < K ? g : K;
      double ri = lr[j] + g;
      lr[j] = ri;
      u[j] = ri < K ? ri * iK : 1.0;
    }
    return;
  }
#pragma omp simd
  for (size_t j = 0; j < live; j++) {
    double g = lb_floor_pos(u[j] / lq) + 1.0;
    g = g < K ? g : K;
    double ri = lr[j] + g, q = ri / K;
    lr[j] = ri;
    u[j] = ri < K ? q : 1.0;
  }
}

/* Next selected time of each live row idx[j] in (lprev[j], alpha), in
 * units of the coarse step, or a value >= 1 when there is none; lridx[j]
 * tracks the fine index for finite K (an integer held in a double: exact
 * below 2^53).  K = inf: prev + Exp(1); option 1: skip Geometric(1/K)
 * indices, by inversion 1 + floor(E / -log(1 - 1/K)) with E ~ Exp(1)
 * (one vector loop over the live entries); option 2: one uniform index,
 * drawn once. */
LB_VECTOR_CLONES
static void next_times(const pmm_params *p, lb_streams *r, size_t live,
                       const size_t *idx, pmm_ws *W, double *tt) {
  if (p->K == 0 || (p->option == 1 && p->K > 1)) {
    /* live == B: the first round (or all rows kept), idx is the identity */
    lb_streams_uniform_block(r, live, live == W->B ? NULL : idx, tt);
    skip_times(p, live, tt, W->lprev, W->lridx);
    return;
  }
  double K = (double)p->K;
  for (size_t j = 0; j < live; j++) {
    size_t row = idx[j];
    if (p->option == 2) {
      if (W->done[row]) {
        tt[j] = 1.0;
        continue;
      }
      W->done[row] = 1;
      long u = (long)lb_streams_uniform_int(r, row, (unsigned long)p->K);
      tt[j] = u == 0 ? 1.0 : (double)u / K;
    } else { /* K = 1 */
      tt[j] = 1.0;
    }
  }
}

/* Evaluate the queued midpoints and add their corrections
 *   A_{alpha - tk - h} K G_h (b(Yhat) - b0)   (K = inf: A_{alpha-tk} alpha G'(0) (...))
 * to acc, entry by entry in queue order (a row's midpoints in time order). */
LB_VECTOR_CLONES
static void flush(const lb_sampler *s, const pmm_params *p, pmm_ws *W,
                  size_t qn, double alpha, long *nfe) {
  const lb_dynamics *dy = &s->dyn;
  const lb_dynamics_type *T = dy->type;
  size_t n = W->n, d = W->d, ld = W->ld;
  double h = p->K ? alpha / (double)p->K : 0.0;
  if (qn == 0) return;
  lb_dynamics_drift(dy, qn, ld, W->qy, W->qtm, W->qb);
  for (size_t i = 0; i < d; i++) {
    double *restrict qb = W->qb + i * ld;
    const double *restrict qb0 = W->qb0 + i * ld;
#pragma omp simd
    for (size_t j = 0; j < qn; j++) qb[j] -= qb0[j];
  }
  for (size_t i = 0; i < n; i++) {
    double *restrict qt = W->qtmp + i * ld;
#pragma omp simd
    for (size_t j = 0; j < qn; j++) qt[j] = 0.0;
  }
  if (p->K) {
#pragma omp simd
    for (size_t j = 0; j < qn; j++) {
      W->tau[j] = h;
      W->qtk[j] = alpha - W->qtk[j] - h;
    }
    T->add_G(dy, qn, ld, W->tau, NULL, (double)p->K, W->qb, W->qtmp);
  } else {
#pragma omp simd
    for (size_t j = 0; j < qn; j++) W->qtk[j] = alpha - W->qtk[j];
    T->add_Gdot(dy, qn, ld, alpha, W->qb, W->qtmp);
  }
  T->apply_A(dy, qn, ld, W->qtk, NULL, W->qtmp);
  for (size_t j = 0; j < qn; j++) {
    size_t r = W->qrow[j];
    nfe[r]++;
    for (size_t i = 0; i < n; i++) W->acc[i * ld + r] += W->qtmp[i * ld + j];
  }
}

/* The queue's row, midpoint time and absolute time of its new entries
 * qn .. qn+cnt (the live rows idx[0..cnt)). */
static void queue_rows(pmm_ws *W, size_t qn, size_t cnt, double t) {
  for (size_t j = 0; j < cnt; j++) {
    W->qrow[qn + j] = W->idx[j];
    W->qtk[qn + j] = W->tk[j];
    W->qtm[qn + j] = t + W->tk[j];
  }
}

/* The general fast form, round by round: each round draws the next times
 * of the rows still drawing, then their segments' Gaussians, and queues
 * their midpoints.  When a row's draws come from one stream (blk->r ==
 * blk->rz: every uncoupled run) the list forms pmm_step_od and
 * pmm_step_ud give its bits in a handful of calls per block step; this
 * form serves other streams (the engine's coupled mode steps the fine
 * form instead) and, under LB_PMM_NO_LIST, the test that pins
 * pmm_step_ud to it. */
LB_VECTOR_CLONES
static void pmm_step_fast(const lb_sampler *s, const pmm_params *p,
                          const lb_block *blk, double alpha, double t,
                          double *y, long *nfe, double *work) {
  const lb_dynamics *dy = &s->dyn;
  const lb_dynamics_type *T = dy->type;
  size_t B = blk->B, ld = blk->ld;
  pmm_ws W = carve(s, ld, work);
  size_t n = W.n, d = W.d;
  W.B = B;

  memcpy(W.y0, y, n * ld * sizeof *y);
  memset(W.M, 0, n * ld * sizeof *W.M);
  memset(W.acc, 0, n * ld * sizeof *W.acc);
  for (size_t r = 0; r < B; r++) {
    W.tm[r] = t;
    nfe[r] = 1;
    W.lprev[r] = 0.0; /* previous selected time, in units of alpha */
    W.lridx[r] = 0.0;
    W.done[r] = 0;
  }
  lb_dynamics_drift(dy, B, ld, W.y0, W.tm, W.b0);

  /* rounds: in round k every row still drawing draws its k-th time */
  size_t live = B, qn = 0;
  for (size_t r = 0; r < B; r++) W.idx[r] = r;
  while (live > 0) {
    size_t cnt = 0;
    next_times(p, blk->r, live, W.idx, &W, W.tt);
    /* branch-free: every row records its previous time (the last write,
     * in the round it ends, is the one that counts) and is written at
     * cnt <= j, which moves on only for the rows kept */
    for (size_t j = 0; j < live; j++) {
      size_t r = W.idx[j];
      double tt = W.tt[j], lp = W.lprev[j];
      W.prev[r] = lp;
      W.idx[cnt] = r;
      W.seg[cnt] = (tt - lp) * alpha;
      W.tk[cnt] = tt * alpha;
      W.lprev[cnt] = tt;
      W.lridx[cnt] = W.lridx[j];
      cnt += tt < 1.0;
    }
    live = cnt;
    if (cnt == 0) break;
    /* M_k = A_seg M_{k-1} + Gamma_seg W_k on the active rows, compacted */
    lb_block_gather(n, W.M, ld, W.idx, cnt, W.cM, ld);
    T->apply_A(dy, cnt, ld, W.seg, NULL, W.cM);
    lb_streams_gauss(blk->rz, n, cnt, cnt == B ? NULL : W.idx, ld, W.z);
    T->add_noise(dy, cnt, ld, W.seg, NULL, W.z, W.cM);
    lb_block_scatter(n, W.cM, ld, W.idx, cnt, W.M, ld);
    /* Yhat_k = A_tk Y + G_tk b0 + M_k, appended to the queue */
    if (qn + cnt > ld) {
      flush(s, p, &W, qn, alpha, nfe);
      qn = 0;
    }
    double *qy = W.qy + qn, *qb0 = W.qb0 + qn;
    lb_block_gather(n, W.y0, ld, W.idx, cnt, qy, ld);
    lb_block_gather(d, W.b0, ld, W.idx, cnt, qb0, ld);
    T->apply_A(dy, cnt, ld, W.tk, NULL, qy);
    T->add_G(dy, cnt, ld, W.tk, NULL, 1.0, qb0, qy);
    for (size_t i = 0; i < n; i++) {
      double *restrict qi = qy + i * ld;
      const double *restrict ci = W.cM + i * ld;
#pragma omp simd
      for (size_t j = 0; j < cnt; j++) qi[j] += ci[j];
    }
    queue_rows(&W, qn, cnt, t);
    qn += cnt;
  }
  flush(s, p, &W, qn, alpha, nfe);

  /* the last segment, then Y' = A_alpha Y + G_alpha b0 + M + acc */
  for (size_t r = 0; r < B; r++) {
    W.seg[r] = (1.0 - W.prev[r]) * alpha;
    W.tau[r] = alpha;
  }
  T->apply_A(dy, B, ld, W.seg, NULL, W.M);
  lb_streams_gauss(blk->rz, n, B, NULL, ld, W.z);
  T->add_noise(dy, B, ld, W.seg, NULL, W.z, W.M);
  T->apply_A(dy, B, ld, W.tau, NULL, y);
  T->add_G(dy, B, ld, W.tau, NULL, 1.0, W.b0, y);
  for (size_t i = 0; i < n; i++) {
    double *restrict yi = y + i * ld;
    const double *restrict Mi = W.M + i * ld, *restrict ai = W.acc + i * ld;
#pragma omp simd
    for (size_t r = 0; r < B; r++) yi[r] += Mi[r] + ai[r];
  }
}

/* ---- fast form on overdamped dynamics --------------------------------------
 * The same values as pmm_step_fast (bit for bit), arranged for the
 * overdamped case, where A = I and a midpoint needs only its time, its
 * segment's Gaussians and the start point.  A row's draws come in a fixed
 * pattern: round k = 0, 1, ... takes a uniform (the k-th time), then the
 * n Gaussians of segment k (from the previous time to that one, or to the
 * end once the time is past it), so round k's uniform sits su k blocks
 * into the row's stream and its Gaussians su k + 1 blocks in (su = 1 +
 * the Gaussians' blocks).  The time rounds therefore draw only uniforms;
 * the midpoints of all rounds go into one list (round by round, so a
 * row's entries are in time order), and their Gaussians, M recursion,
 * interpolations, drifts and corrections are each one pass over the
 * list: a handful of calls per block step however the midpoints fall,
 * instead of a dozen per round (list_place, shared with pmm_step_ud: K =
 * inf and option 1 with K > 1).  Option 2 and K = 1 have at most one
 * midpoint, placed without rounds.  pmm_step_ud (below) is the same form on underdamped dynamics;
 * on overdamped dynamics this and pmm_step_fast give the same bits (checked
 * when this form was written, on 60 target x sampler cases). */

/* The midpoint list that both list forms (pmm_step_od, pmm_step_ud)
 * place their midpoints in, and the placement itself: per entry the row,
 * its time x and previous time lp in units of alpha (etk, eseg), the fine
 * index (elr), the absolute time (etm, the flush's) and the offset of the
 * segment's Gaussians in the row's stream (eoff); per row the uniforms of
 * a round (tt), the last time (last, recorded by the flush: a row's
 * entries come in time order), the start time (t0) and the offset of the
 * last segment's Gaussians (foff). */
typedef struct {
  size_t Q;           /* entries held */
  size_t *erow;       /* Q */
  double *etk, *eseg, *elr, *etm;
  uint64_t *eoff;
  double *tt, *last, *t0; /* ld */
  uint64_t *foff;
} pmm_list;

/* the list holds up to ld midpoints (a multiple of 8: the underdamped
 * coefficient fills run whole vectors): a block of Poisson(1) rows
 * overflows it in about half the steps, so the flush in the middle of the
 * rounds is a common path (and tested by every run); a list of 2 ld was
 * about 2% faster */
static size_t list_cap(size_t ld) { return ld; }
static size_t list_work(size_t ld) { return 4 * ld + 6 * list_cap(ld); }

static pmm_list list_carve(size_t ld, double **wp) {
  pmm_list L;
  double *w = *wp;
  size_t Q = L.Q = list_cap(ld);
  L.tt = w, w += ld;
  L.last = w, w += ld;
  L.t0 = w, w += ld;
  L.foff = (uint64_t *)w, w += ld;
  L.erow = (size_t *)w, w += Q;
  L.etk = w, w += Q;
  L.eseg = w, w += Q;
  L.etm = w, w += Q;
  L.elr = w, w += Q;
  L.eoff = (uint64_t *)w, w += Q;
  *wp = w;
  return L;
}

/* Round 0's list: every row, previous time 0; NFE 1 (the start drift). */
LB_VECTOR_CLONES
static void list_start(pmm_list *L, size_t B, double t, long *nfe) {
  double *restrict t0 = L->t0, *restrict etk = L->etk, *restrict elr = L->elr,
                   *restrict last = L->last;
  size_t *restrict erow = L->erow;
  long *restrict nf = nfe;
#pragma omp simd
  for (size_t r = 0; r < B; r++) {
    t0[r] = t;
    nf[r] = 1;
    erow[r] = r;
    etk[r] = 0.0;
    elr[r] = 0.0;
    last[r] = 0.0; /* 0 for a row without midpoints */
  }
}

/* Round compaction: of the live entries s0 .. s0+live, with their new
 * times in tt, those with a time before the end (tt < 1) are appended at
 * ne (erow; etk the new time, eseg the previous one, elr the fine index),
 * in order; returns their number.  In place: ne <= s0, so every write
 * lands at or before the entry being read.  The AVX-512 form compresses 8
 * entries per step (vcompress) instead of a scalar loop with a data-
 * dependent store address; both give the same list. */
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__) && \
    !defined(LB_NO_VECTOR_CLONES)
#define LIST_COMPACT_AVX512 1
#include <immintrin.h>

__attribute__((target("avx512f"))) static size_t
list_compact_v8(pmm_list *L, size_t s0, size_t live, size_t ne) {
  size_t cnt = 0;
  const __m512d one = _mm512_set1_pd(1.0);
  for (size_t j = 0; j < live; j += 8) {
    __mmask8 in = live - j >= 8 ? 0xff : (__mmask8)((1u << (live - j)) - 1);
    __m512d x = _mm512_maskz_loadu_pd(in, L->tt + j);
    __m512d lp = _mm512_maskz_loadu_pd(in, L->etk + s0 + j);
    __m512d lr = _mm512_maskz_loadu_pd(in, L->elr + s0 + j);
    __m512i r = _mm512_maskz_loadu_epi64(in, L->erow + s0 + j);
    __mmask8 keep = _mm512_mask_cmp_pd_mask(in, x, one, _CMP_LT_OQ);
    __mmask8 out = (__mmask8)((1u << __builtin_popcount(keep)) - 1);
    size_t e = ne + cnt;
    _mm512_mask_storeu_epi64(L->erow + e, out, _mm512_maskz_compress_epi64(keep, r));
    _mm512_mask_storeu_pd(L->etk + e, out, _mm512_maskz_compress_pd(keep, x));
    _mm512_mask_storeu_pd(L->eseg + e, out, _mm512_maskz_compress_pd(keep, lp));
    _mm512_mask_storeu_pd(L->elr + e, out, _mm512_maskz_compress_pd(keep, lr));
    cnt += (size_t)__builtin_popcount(keep);
  }
  _mm256_zeroupper(); /* clean upper state for SSE code, at any -O */
  return cnt;
}
#endif

static size_t list_compact(const pmm_params *p, pmm_list *L, size_t s0,
                           size_t live, size_t ne) {
#ifdef LIST_COMPACT_AVX512
  if (p->v512) return list_compact_v8(L, s0, live, ne);
#else
  (void)p;
#endif
  size_t cnt = 0, *restrict erow = L->erow;
  double *restrict tt = L->tt, *restrict ex = L->etk, *restrict elp = L->eseg,
                   *restrict elr = L->elr;
  for (size_t j = 0; j < live; j++) {
    size_t r = erow[s0 + j], e = ne + cnt;
    double x = tt[j], lp = ex[s0 + j], lr = elr[s0 + j];
    erow[e] = r;
    ex[e] = x;
    elp[e] = lp;
    elr[e] = lr;
    cnt += x < 1.0;
  }
  return cnt;
}

/* What a list form's flush does with entries 0 .. ne of the list. */
typedef void (*list_flush_fn)(void *ctx, size_t ne);

/* Place every row's midpoints, after list_start.  Option 1 with K > 1 and
 * K = inf: rounds of times, round k reading its uniforms su k blocks into
 * the rows' streams (su = 1 + gb, gb the blocks of a segment's n
 * Gaussians), the midpoints through the list, flushed when full and at
 * the end.  Option 2 and K = 1: at most one midpoint, option 2's index u ~
 * Unif{0..K-1} (Lemire's draw moves the stream itself: one block, rarely
 * more), none when u = 0; K = 1 draws nothing.  Sets foff, the offset of
 * each row's last segment. */
LB_VECTOR_CLONES
static void list_place(const pmm_params *p, const lb_block *blk,
                       pmm_list *L, size_t n, list_flush_fn flush_fn, void *ctx,
                       const long *nfe) {
  size_t B = blk->B;
  uint64_t gb = lb_streams_gauss_blocks(n), su = 1 + gb;
  if (p->option == 2 || p->K == 1) {
    size_t ne = 0;
    double K = (double)p->K;
    for (size_t r = 0; r < B; r++) {
      L->foff[r] = 0;
      if (p->option != 2) continue;
      unsigned long u = lb_streams_uniform_int(blk->r, r, (unsigned long)p->K);
      if (u == 0) continue;
      L->erow[ne] = r;
      L->etk[ne] = (double)u / K;
      L->eseg[ne] = 0.0;
      L->eoff[ne] = 0;
      L->foff[r] = gb;
      ne++;
    }
    flush_fn(ctx, ne);
    return;
  }
  size_t live = B, s0 = 0, ne = 0; /* live list = entries s0 .. s0+live */
  for (uint64_t k = 0; live > 0; k++) {
    lb_streams_uniform_at(blk->r, live, k == 0 ? NULL : L->erow + s0, k * su,
                          L->tt);
    skip_times(p, live, L->tt, L->etk + s0, L->elr + s0);
    if (ne + live > L->Q) { /* make room (the flush reads the list only) */
      flush_fn(ctx, ne);
      ne = 0;
    }
    /* the rows with a time before the end append a midpoint */
    size_t cnt = list_compact(p, L, s0, live, ne);
    for (size_t e = 0; e < cnt; e++) L->eoff[ne + e] = k * su + 1;
    s0 = ne;
    ne += cnt;
    live = cnt;
  }
  flush_fn(ctx, ne);
  /* a row with N midpoints drew its last segment in round N */
  for (size_t r = 0; r < B; r++) L->foff[r] = (uint64_t)(nfe[r] - 1) * su + 1;
}

typedef struct {
  size_t n, ld;
  pmm_list L;
  double *b0, *M, *acc, *zf; /* n x ld */
  double *ez, *qy, *qb;      /* n x Q */
} od_ws;

static size_t od_work(size_t n, size_t ld) {
  return 4 * n * ld + list_work(ld) + 3 * n * list_cap(ld);
}

static od_ws od_carve(size_t n, size_t ld, double *w) {
  od_ws W;
  W.n = n;
  W.ld = ld;
  W.b0 = w, w += n * ld;
  W.M = w, w += n * ld;
  W.acc = w, w += n * ld;
  W.zf = w, w += n * ld;
  W.L = list_carve(ld, &w);
  size_t Q = W.L.Q;
  W.ez = w, w += n * Q;
  W.qy = w, w += n * Q;
  W.qb = w;
  return W;
}

/* od_flush's arguments (list_place passes them through) */
typedef struct {
  const lb_sampler *s;
  const lb_block *blk;
  od_ws *W;
  const double *y;
  double alpha, t, wk; /* wk: the correction weight */
  long *nfe;
} od_ctx;

/* Entries 0..ne of the list: their Gaussians, M_k = M_{k-1} + sqrt(2 seg)
 * W_k and Yhat_k = (Y + tk b0) + M_k in list order, the drifts in block
 * calls, and the corrections wk (b(Yhat_k) - b0) into acc in list order. */
LB_VECTOR_CLONES
static void od_flush(void *vc, size_t ne) {
  const od_ctx *c = vc;
  const lb_sampler *s = c->s;
  const lb_block *blk = c->blk;
  od_ws *W = c->W;
  const double *y = c->y;
  double alpha = c->alpha, t = c->t, wk = c->wk;
  long *nfe = c->nfe;
  size_t n = W->n, ld = W->ld, Q = W->L.Q;
  if (ne == 0) return;
  lb_streams_gauss_at(blk->rz, n, ne, W->L.erow, W->L.eoff, Q, W->ez);
  /* etk and eseg hold the time x and the previous time lp in units of
   * alpha: tk = x alpha, seg = (x - lp) alpha, absolute time t + tk */
  double sc[LB_BLOCK_MAX], tk[LB_BLOCK_MAX];
  const double *restrict ex = W->L.etk, *restrict elp = W->L.eseg;
  double *restrict tm = W->L.etm;
#pragma omp simd
  for (size_t e = 0; e < ne; e++) {
    double x = ex[e];
    sc[e] = lb_sqrt_fma(2.0 * ((x - elp[e]) * alpha));
    tk[e] = x * alpha;
    tm[e] = t + x * alpha;
  }
  for (size_t e = 0; e < ne; e++) {
    size_t r = W->L.erow[e];
    W->L.last[r] = ex[e]; /* a row's entries come in time order */
    for (size_t i = 0; i < n; i++) {
      double m = W->M[i * ld + r] + sc[e] * W->ez[i * Q + e];
      W->M[i * ld + r] = m;
      W->qy[i * Q + e] = (y[i * ld + r] + tk[e] * W->b0[i * ld + r]) + m;
    }
  }
  drift_rows(&s->dyn, ne, Q, W->qy, W->L.etm, W->qb);
  for (size_t i = 0; i < n; i++) {
    const double *qb = W->qb + i * Q, *b0 = W->b0 + i * ld;
    double *acc = W->acc + i * ld;
    for (size_t e = 0; e < ne; e++) {
      size_t r = W->L.erow[e];
      acc[r] += wk * (qb[e] - b0[r]);
    }
  }
  for (size_t e = 0; e < ne; e++) nfe[W->L.erow[e]]++;
}

LB_VECTOR_CLONES
static void pmm_step_od(const lb_sampler *s, const pmm_params *p,
                        const lb_block *blk, double alpha, double t,
                        double *y, long *nfe, double *work) {
  size_t B = blk->B, ld = blk->ld, n = s->dyn.n;
  od_ws W = od_carve(n, ld, work);
  uint64_t gb = lb_streams_gauss_blocks(n);
  /* the correction weight: K G_h = K h (add_G's c tau), or alpha G'(0) */
  double wk = p->K ? (double)p->K * (alpha / (double)p->K) : alpha;

  /* round k's live rows are the entries round k - 1 appended; round 0's
   * are every row */
  list_start(&W.L, B, t, nfe);
  lb_dynamics_drift(&s->dyn, B, ld, y, W.L.t0, W.b0);
  memset(W.M, 0, n * ld * sizeof *W.M);
  memset(W.acc, 0, n * ld * sizeof *W.acc);
  od_ctx c = {s, blk, &W, y, alpha, t, wk, nfe};
  list_place(p, blk, &W.L, n, od_flush, &c, nfe);

  /* the last segment, then Y' = (Y + alpha b0) + (M + acc) */
  lb_streams_gauss_at(blk->rz, n, B, NULL, W.L.foff, ld, W.zf);
  double sc[LB_BLOCK_MAX];
#pragma omp simd
  for (size_t r = 0; r < B; r++) sc[r] = lb_sqrt_fma(2.0 * ((1.0 - W.L.last[r]) * alpha));
  for (size_t i = 0; i < n; i++) {
    double *restrict yi = y + i * ld;
    const double *restrict Mi = W.M + i * ld, *restrict ai = W.acc + i * ld,
                           *restrict zi = W.zf + i * ld, *restrict bi = W.b0 + i * ld;
#pragma omp simd
    for (size_t r = 0; r < B; r++)
      yi[r] = (yi[r] + alpha * bi[r]) + ((Mi[r] + sc[r] * zi[r]) + ai[r]);
  }
  lb_streams_skip(blk->rz, B, W.L.foff, gb);
}

/* ---- fine form -------------------------------------------------------- */

/* H_i and u come from blk->r, the Z_i from blk->rz (the same streams when
 * not coupled). */
static void pmm_step_fine(const lb_sampler *s, const pmm_params *p,
                          const lb_block *blk, double alpha, double t,
                          double *y, long *nfe, double *work) {
  const lb_dynamics *dy = &s->dyn;
  const lb_dynamics_type *T = dy->type;
  size_t B = blk->B, ld = blk->ld;
  pmm_ws W = carve(s, ld, work);
  size_t n = W.n, d = W.d, Q = W.fq_cap;
  long K = p->K;
  double h = alpha / (double)K;
  double *yh = W.y0, *c = W.qb0;
  /* the corrections' weight: K, or K - 1 for option 2 on 1..K-1 */
  double wk = p->skip0 ? (double)(K - 1) : (double)K;
  const long C = (long)W.zc_steps < K ? (long)W.zc_steps : K;

  for (size_t r = 0; r < B; r++) {
    W.tm[r] = t;
    W.tau[r] = h;
    nfe[r] = 1;
    if (p->option != 2)
      W.ridx[r] = -1;
    else if (!p->skip0)
      W.ridx[r] = (long)lb_streams_uniform_int(blk->r, r, (unsigned long)K);
    else /* offsets 1..K-1; none when K = 1 */
      W.ridx[r] = K < 2 ? -1
                        : 1 + (long)lb_streams_uniform_int(
                                  blk->r, r, (unsigned long)(K - 1));
  }
  lb_dynamics_drift(dy, B, ld, y, W.tm, W.b0);
  for (size_t i = 0; i < n * ld; i++) yh[i] = y[i];
  for (long i0 = 0, i = 0; i0 < K; i0 = i) {
    /* pass 1: the interpolation over fine steps i0..i-1 (at most C, and
     * while the queue has room for a whole step's midpoints), drawing
     * each step's indicators and Z_i in the order of the literal form and
     * queueing Yhat_i of the rows with H_i = 1 (i > 0) */
    size_t qn = 0;
    for (; i < K && i - i0 < C && qn + B <= Q; i++) {
      if (p->option == 1) lb_streams_uniform_block(blk->r, B, NULL, W.tt);
      for (size_t r = 0; r < B; r++) {
        int H = p->option == 2 ? (i == W.ridx[r]) : (W.tt[r] < 1.0 / (double)K);
        if (H && i > 0) {
          for (size_t q = 0; q < n; q++) W.fqy[q * Q + qn] = yh[q * ld + r];
          W.fqrow[qn] = r;
          W.fqstep[qn] = i;
          W.fqtm[qn] = t + (double)i * h;
          nfe[r]++;
          qn++;
        }
      }
      double *z = W.zc + (size_t)(i - i0) * n * ld;
      lb_streams_gauss(blk->rz, n, B, NULL, ld, z);
      for (size_t r = 0; r < B; r++) W.tm[r] = t + (double)i * h;
      T->apply_A(dy, B, ld, W.tau, W.tm, yh);
      T->add_G(dy, B, ld, W.tau, W.tm, 1.0, W.b0, yh);
      T->add_noise(dy, B, ld, W.tau, W.tm, z, yh);
    }
    drift_rows(dy, qn, Q, W.fqy, W.fqtm, W.fqb); /* the queued drifts */
    /* pass 2: the refined iterate over the same steps, same Z_i, with the
     * drift b0 + wk H_i (b(Yhat_i) - b0) */
    size_t e = 0;
    for (long j = i0; j < i; j++) {
      for (size_t k = 0; k < d * ld; k++) c[k] = W.b0[k];
      for (; e < qn && W.fqstep[e] == j; e++) {
        size_t r = W.fqrow[e];
        for (size_t q = 0; q < d; q++)
          c[q * ld + r] += wk * (W.fqb[q * Q + e] - W.b0[q * ld + r]);
      }
      const double *z = W.zc + (size_t)(j - i0) * n * ld;
      for (size_t r = 0; r < B; r++) W.tm[r] = t + (double)j * h;
      T->apply_A(dy, B, ld, W.tau, W.tm, y);
      T->add_G(dy, B, ld, W.tau, W.tm, 1.0, c, y);
      T->add_noise(dy, B, ld, W.tau, W.tm, z, y);
    }
  }
}

/* ---- fast form on underdamped dynamics --------------------------------------
 * The same values as pmm_step_fast (bit for bit), arranged as the
 * overdamped list form above: when the streams are not coupled, a row's
 * draws come in the same fixed pattern (round k's uniform su k blocks
 * into its stream, segment k's Gaussians su k + 1 blocks in, the last
 * segment's after its last round), so the time rounds draw only
 * uniforms and all midpoints go into one list (list_place; option 2 and
 * K = 1 place theirs without rounds).  Over the list (ud_flush): the
 * Gaussians in one call; the coefficients of the three durations of each
 * entry (segment, midpoint time tk, and alpha - tk - h for the
 * correction) in one vector pass per piece (lb_ud_fill_*); then entry by
 * entry in list order (a row's entries in time order) the recursion
 *   M_k = A_seg M_{k-1} + Gamma_seg W_k,  Yhat_k = A_tk Y + G_tk b0 + M_k;
 * the drifts in block calls; the corrections into acc in list order.
 * Each entry takes exactly the IEEE operations of ud_apply_A, ud_add_G,
 * ud_add_noise and flush on its row, in their order.  The general form
 * made about a dozen calls per round, each on the few rows still drawing
 * (with coefficient fills padded to 8 rows), and a block of Poisson(1)
 * rows runs about 5 rounds at K = 1024 against 3.6 at K = 4; here the
 * per-round work is one uniform call and a compaction. */

typedef struct {
  size_t n, d, ld;
  pmm_list L;
  double *b0;           /* d x ld */
  double *M, *acc, *zf; /* n x ld */
  double *fseg, *tau;   /* ld */
  /* Q: the durations and coefficients of the entries: segment (s), time
   * tk (t), correction alpha - tk - h (c); om scratch */
  double *dseg, *dtk, *dc, *om;
  double *sE, *sK, *sL11, *sL21, *sL22, *tE, *tK, *tGU, *cE, *cK;
  double *ez, *qy; /* n x Q */
  double *qb;      /* d x Q */
} ud_ws;

static size_t ud_work(size_t n, size_t d, size_t ld) {
  return (d + 3 * n + 2) * ld + list_work(ld) + (14 + 2 * n + d) * list_cap(ld);
}

static ud_ws ud_carve(size_t n, size_t d, size_t ld, double *w) {
  ud_ws W;
  W.n = n;
  W.d = d;
  W.ld = ld;
  W.b0 = w, w += d * ld;
  W.M = w, w += n * ld;
  W.acc = w, w += n * ld;
  W.zf = w, w += n * ld;
  W.fseg = w, w += ld;
  W.tau = w, w += ld;
  W.L = list_carve(ld, &w);
  size_t Q = W.L.Q;
  W.dseg = w, w += Q;
  W.dtk = w, w += Q;
  W.dc = w, w += Q;
  W.om = w, w += Q;
  W.sE = w, w += Q;
  W.sK = w, w += Q;
  W.sL11 = w, w += Q;
  W.sL21 = w, w += Q;
  W.sL22 = w, w += Q;
  W.tE = w, w += Q;
  W.tK = w, w += Q;
  W.tGU = w, w += Q;
  W.cE = w, w += Q;
  W.cK = w, w += Q;
  W.ez = w, w += n * Q;
  W.qy = w, w += n * Q;
  W.qb = w;
  return W;
}

/* ud_flush's arguments */
typedef struct {
  const lb_sampler *s;
  const pmm_params *p;
  const lb_block *blk;
  ud_ws *W;
  const double *y;
  double alpha, t, gu, gv;
  long *nfe;
} ud_ctx;

/* Entries 0..ne of the list, as above.  gu, gv: the correction weight K
 * G_h = (K GU_h, K K_h) (K = inf: (0, alpha), G'(0) = e_v). */
LB_VECTOR_CLONES
static void ud_flush(void *vc, size_t ne) {
  const ud_ctx *c = vc;
  const lb_sampler *s = c->s;
  const pmm_params *p = c->p;
  const lb_block *blk = c->blk;
  ud_ws *W = c->W;
  const double *y = c->y;
  double alpha = c->alpha, t = c->t, gu = c->gu, gv = c->gv;
  long *nfe = c->nfe;
  const lb_dynamics *dy = &s->dyn;
  size_t n = W->n, d = W->d, ld = W->ld, Q = W->L.Q;
  double g = dy->gamma, h = p->K ? alpha / (double)p->K : 0.0;
  if (ne == 0) return;
  lb_streams_gauss_at(blk->rz, n, ne, W->L.erow, W->L.eoff, Q, W->ez);
  /* the durations as pmm_step_fast forms them: seg = (x - lp) alpha, tk =
   * x alpha, t + tk, (alpha - tk) - h; zero past ne up to a multiple of 8 */
  size_t n8 = (ne + 7) / 8 * 8;
  {
    const double *restrict ex = W->L.etk, *restrict elp = W->L.eseg;
    double *restrict ds = W->dseg, *restrict dt = W->dtk, *restrict dc = W->dc,
                     *restrict tm = W->L.etm;
#pragma omp simd
    for (size_t e = 0; e < ne; e++) {
      double x = ex[e], tk = x * alpha;
      ds[e] = (x - elp[e]) * alpha;
      dt[e] = tk;
      tm[e] = t + tk;
      dc[e] = p->K ? alpha - tk - h : alpha - tk;
    }
    for (size_t e = ne; e < n8; e++) ds[e] = dt[e] = dc[e] = 0.0;
  }
  lb_ud_fill_A(n8, g, W->dseg, W->om, W->sE, W->sK);
  lb_ud_fill_N(n8, g, W->dseg, W->om, W->sE, W->sL11, W->sL21, W->sL22);
  lb_ud_fill_A(n8, g, W->dtk, W->om, W->tE, W->tK);
  lb_ud_fill_G(n8, g, W->dtk, W->tK, W->tGU);
  lb_ud_fill_A(n8, g, W->dc, W->om, W->cE, W->cK);
  /* M_k (ud_apply_A then ud_add_noise on the segment) and Yhat_k
   * (ud_apply_A, ud_add_G with c = 1 on tk, then + M_k) */
  for (size_t e = 0; e < ne; e++) {
    size_t r = W->L.erow[e];
    W->L.last[r] = W->L.etk[e]; /* a row's entries come in time order */
    double sK = W->sK[e], sE = W->sE[e], l11 = W->sL11[e], l21 = W->sL21[e],
           l22 = W->sL22[e], tK = W->tK[e], tE = W->tE[e], tG = W->tGU[e];
    for (size_t i = 0; i < d; i++) {
      double *mu = W->M + i * ld + r, *mv = W->M + (d + i) * ld + r;
      double u = *mu, v = *mv;
      double z1 = W->ez[2 * i * Q + e], z2 = W->ez[(2 * i + 1) * Q + e];
      u += sK * v;
      v *= sE;
      u += l11 * z1;
      v += l21 * z1 + l22 * z2;
      *mu = u;
      *mv = v;
      double yu = y[i * ld + r], yv = y[(d + i) * ld + r],
             b = W->b0[i * ld + r];
      yu += tK * yv;
      yv *= tE;
      yu += tG * b;
      yv += tK * b;
      W->qy[i * Q + e] = yu + u;
      W->qy[(d + i) * Q + e] = yv + v;
    }
  }
  drift_rows(dy, ne, Q, W->qy, W->L.etm, W->qb);
  /* flush's correction: 0 + G (b(Yhat) - b0), then A_{alpha - tk - h} */
  for (size_t e = 0; e < ne; e++) {
    size_t r = W->L.erow[e];
    double cK = W->cK[e], cE = W->cE[e];
    nfe[r]++;
    for (size_t i = 0; i < d; i++) {
      double db = W->qb[i * Q + e] - W->b0[i * ld + r];
      /* K = inf: add_Gdot leaves the position at 0 (0 * inf is NaN) */
      double u = p->K ? 0.0 + gu * db : 0.0, v = 0.0 + gv * db;
      u += cK * v;
      v *= cE;
      W->acc[i * ld + r] += u;
      W->acc[(d + i) * ld + r] += v;
    }
  }
}

LB_VECTOR_CLONES
static void pmm_step_ud(const lb_sampler *s, const pmm_params *p,
                        const lb_block *blk, double alpha, double t,
                        double *y, long *nfe, double *work) {
  const lb_dynamics *dy = &s->dyn;
  const lb_dynamics_type *T = dy->type;
  size_t B = blk->B, ld = blk->ld, n = dy->n;
  ud_ws W = ud_carve(n, dy->d, ld, work);
  uint64_t gb = lb_streams_gauss_blocks(n);
  /* the correction weight as flush's add_G (c = K, tau = h) or add_Gdot
   * (c = alpha) forms it */
  double gu = 0.0, gv = alpha;
  if (p->K) {
    lb_ud_coef c;
    lb_ud_coefs(dy->gamma, alpha / (double)p->K, &c);
    gu = (double)p->K * c.GU;
    gv = (double)p->K * c.K;
  }

  list_start(&W.L, B, t, nfe);
  lb_dynamics_drift(dy, B, ld, y, W.L.t0, W.b0);
  memset(W.M, 0, n * ld * sizeof *W.M);
  memset(W.acc, 0, n * ld * sizeof *W.acc);
  ud_ctx c = {s, p, blk, &W, y, alpha, t, gu, gv, nfe};
  list_place(p, blk, &W.L, n, ud_flush, &c, nfe);

  /* the last segment, then Y' = A_alpha Y + G_alpha b0 + M + acc, with
   * pmm_step_fast's operator calls */
  for (size_t r = 0; r < B; r++) {
    W.fseg[r] = (1.0 - W.L.last[r]) * alpha;
    W.tau[r] = alpha;
  }
  T->apply_A(dy, B, ld, W.fseg, NULL, W.M);
  lb_streams_gauss_at(blk->rz, n, B, NULL, W.L.foff, ld, W.zf);
  T->add_noise(dy, B, ld, W.fseg, NULL, W.zf, W.M);
  T->apply_A(dy, B, ld, W.tau, NULL, y);
  T->add_G(dy, B, ld, W.tau, NULL, 1.0, W.b0, y);
  for (size_t i = 0; i < n; i++) {
    double *restrict yi = y + i * ld;
    const double *restrict Mi = W.M + i * ld, *restrict ai = W.acc + i * ld;
#pragma omp simd
    for (size_t r = 0; r < B; r++) yi[r] += Mi[r] + ai[r];
  }
  lb_streams_skip(blk->rz, B, W.L.foff, gb);
}

void lb_pmm_step(const lb_sampler *s, const lb_block *blk, double alpha,
                 double t, double *y, long *nfe, double *work) {
  const pmm_params q = pmm_at(s->state, alpha), *p = &q;
  if (p->fine)
    pmm_step_fine(s, p, blk, alpha, t, y, nfe, work);
  else if (s->dyn.type == &lb_dynamics_overdamped && blk->r == blk->rz)
    pmm_step_od(s, p, blk, alpha, t, y, nfe, work);
  else if (s->dyn.type == &lb_dynamics_underdamped && blk->r == blk->rz &&
           !p->nolist)
    pmm_step_ud(s, p, blk, alpha, t, y, nfe, work);
  else
    pmm_step_fast(s, p, blk, alpha, t, y, nfe, work);
}

/* Coupled with fine LMC: the literal form, whatever impl says (O(K)). */
static void pmm_step_coupled(const lb_sampler *s, const lb_block *blk,
                             double alpha, double t, double *y, long *nfe,
                             double *work) {
  pmm_step_fine(s, s->state, blk, alpha, t, y, nfe, work);
}

static long pmm_fine_steps(const lb_sampler *s) {
  const pmm_params *p = s->state;
  return p->kalpha > 0 ? -1 : p->K; /* Kalpha: not coupled */
}

/* ---- exact law on a Gaussian target (overdamped) ---------------------------
 * Coordinate with precision l, T = sum of the selected times (in time units):
 *   X' = (1 - alpha l + alpha l^2 T) X + sqrt(2h) sum_j (1 - alpha l c_j) Z_j
 * with c_j the number of selected indices after fine index j.  For K = inf
 * the noise is sqrt(2 alpha) int_0^1 (1 - alpha l c(s)) dB(s), c(s) ~
 * Poisson(1 - s).  Derivation in the README. */
static void pmm_gauss_law(const lb_sampler *s, double alpha, double li,
                          double lj, double out[3]) {
  const pmm_params pa = pmm_at(s->state, alpha), *p = &pa;
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

/* E[NFE] per coarse step: 1 + the expected number of midpoints off index
 * 0, 1 - 1/K for either option (Poisson(1) for K = inf); option 2 with
 * offset0=0 always has its midpoint off index 0 (none when K = 1). */
static double pmm_expected_nfe(const lb_sampler *s, double alpha) {
  const pmm_params p = pmm_at(s->state, alpha);
  if (p.skip0) return p.K < 2 ? 1.0 : 2.0;
  return p.K == 0 ? 2.0 : 2.0 - 1.0 / (double)p.K;
}

const lb_sampler_type lb_sampler_plmc = {
    .name = "plmc",
    .help = "plmc: Poisson midpoint method on overdamped Langevin.\n"
            "  K=16        fine steps per coarse step (integer >= 1, or inf)\n"
            "  option=1    1: Bernoulli(1/K) midpoints; 2: one uniform grid "
            "midpoint\n"
            "  impl=fast   fast: cost independent of K; fine: literal K-step "
            "form\n"
            "  Kalpha=C    instead of K: K = max(1, round(C/alpha)) for coarse "
            "step alpha",
    .dynamics = &lb_dynamics_overdamped,
    .init = lb_pmm_init,
    .free = free,
    .work_size = lb_pmm_work,
    .step = lb_pmm_step,
    .gauss_law = pmm_gauss_law,
    .step_coupled = pmm_step_coupled,
    .fine_steps = pmm_fine_steps,
    .expected_nfe = pmm_expected_nfe};

/* ---- underdamped: uplmc --------------------------------------------------- */

static void pmm_gauss_law2(const lb_sampler *s, double alpha, double li,
                           double lj, double ea[4], double eaa[16],
                           double en[4]) {
  const pmm_params p = pmm_at(s->state, alpha);
  lb_pmm_ud_law(s->dyn.gamma, p.K, p.option, alpha, li, lj, ea, eaa, en);
}

const lb_sampler_type lb_sampler_uplmc = {
    .name = "uplmc",
    .help = "uplmc: Poisson midpoint method on underdamped Langevin (ULMC "
            "with step alpha/K).\n"
            "  gamma=2     friction (> 0)\n"
            "  K=16        fine steps per coarse step (integer >= 1, or inf: "
            "velocity kicks)\n"
            "  option=1    1: Bernoulli(1/K) midpoints; 2: one uniform grid "
            "midpoint\n"
            "  impl=fast   fast: cost independent of K; fine: literal K-step "
            "form\n"
            "  Kalpha=C    instead of K: K = max(1, round(C/alpha)) for coarse "
            "step alpha",
    .dynamics = &lb_dynamics_underdamped,
    .init = lb_pmm_init,
    .free = free,
    .work_size = lb_pmm_work,
    .step = lb_pmm_step,
    .step_coupled = pmm_step_coupled,
    .fine_steps = pmm_fine_steps,
    .gauss_law2 = pmm_gauss_law2,
    .expected_nfe = pmm_expected_nfe};
