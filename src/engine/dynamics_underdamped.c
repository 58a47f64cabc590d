/* dynamics_underdamped.c -- underdamped Langevin as an instance of the
 * general process (S) (algorithms.md, sections 1-2).  GPL-3.0-or-later.
 *
 *   dU = V dt,  dV = -gamma V dt + b dt + sqrt(2 gamma) dB,  b = -grad F(U).
 *
 * With the drift frozen at b over a duration tau, x = gamma tau,
 * E = exp(-x), K(tau) = (1 - E)/gamma, each coordinate moves exactly as
 *   A_tau = [[1, K], [0, E]],  G_tau = [G_U, G_V] = [(tau - K)/gamma, K],
 * plus the OU noise W_tau = int_0^tau A_{tau-s} (0, sqrt(2 gamma)) dB_s,
 * Gaussian with (integrate the squared kernel)
 *   var_U = (2/gamma^2) psi(x),  psi(x) = x - 2(1 - E) + (1 - E^2)/2,
 *   cov_UV = (1 - E)^2 / gamma,  var_V = 1 - E^2.
 * 1 - E is -expm1(-x) everywhere (vmath.h lb_expm1), and 1 - E^2 = (1 - E)
 * (1 + E).  G_U and var_U cancel catastrophically for small x (G_U ~
 * tau^2/2, psi ~ x^3/3 from O(x) terms), so for x < 1 they come from their
 * series:
 *   G_U   = tau^2 sum_{k>=0} (-x)^k / (k+2)!
 *   var_U = 2 gamma tau^3 sum_{k>=3} (-1)^(k+1) (2^(k-1) - 2) x^(k-3) / k!
 * (the series of psi/x^3 = 1/3 - x/4 + 7x^2/60 - ...), truncated at a
 * fixed degree (17 and 22: the first omitted term is below 1.2e-18 of
 * the sum for x < 1) and evaluated by Horner, so that a vector loop can
 * evaluate both the series and the closed forms and select per lane; the
 * closed forms lose at most one digit for x >= 1.  The noise is applied
 * through the per-coordinate Cholesky factor [[L11, 0], [L21, L22]] of
 * [[var_U, cov_UV], [cov_UV, var_V]].  G'(0) = lim G_h / h = (0, 1): the
 * velocity kick.
 *
 * The scaling relations hold (A is a semigroup; the noise over n steps is
 * the OU noise over n h), tested in tests/test_underdamped.c to near
 * machine precision for gamma tau in [1e-8, 50].  State layout: y =
 * (u_0..u_{d-1}, v_0..v_{d-1}) (in the block layout, component j of row
 * r at y[j*ld + r]); the n = 2d normals z of a row are used in pairs
 * (z_{2i}, z_{2i+1}) per coordinate i.
 * Each operator costs O(d) per row plus, for a duration array it has not
 * seen, one vector pass over the rows per coefficient piece (below).
 */
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "dynamics.h"
#include "vmath.h"

/* ---- the coefficients of one duration, in pieces ----------------------------
 * Each piece is one inline function of gamma, tau and the earlier pieces,
 * the same code for the scalar lb_ud_coefs and for the vector loops of
 * the block operators, so a coefficient has the same bits whichever
 * computes it (block.h).  Only basic IEEE operations and vmath.h (lb_exp,
 * lb_expm1, lb_sqrt): no libm call, no branch (the series and the closed
 * forms are both evaluated and one is selected), so the loops vectorise. */

/* A: om = 1 - E = -expm1(-x), E = exp(-x), K = om / gamma.  Here and
 * below gi = 1 / gamma (the caller's one divide; a multiply per row). */
static inline LB_ALWAYS_INLINE void piece_A(double g, double gi, double tau,
                                            double *om, double *E, double *K) {
  double x = g * tau;
  double o = -lb_expm1(-x);
  *om = o;
  *E = lb_exp(-x);
  *K = o * gi;
}

/* sum_{k=0}^{17} (-x)^k / (k+2)! (first omitted term < 1.2e-18 of the sum
 * for 0 <= x < 1), by Horner in x^2 on the even and the odd terms: two
 * independent chains of half the length. */
static inline LB_ALWAYS_INLINE double series_GU(double x) {
  double x2 = x * x;
  double e = 1.5619206968586225e-16;
  e = e * x2 + 4.779477332387385e-14;
  e = e * x2 + 1.1470745597729725e-11;
  e = e * x2 + 2.08767569878681e-09;
  e = e * x2 + 2.755731922398589e-07;
  e = e * x2 + 2.48015873015873e-05;
  e = e * x2 + 0.001388888888888889;
  e = e * x2 + 0.041666666666666664;
  e = e * x2 + 0.5;
  double o = -8.22063524662433e-18;
  o = o * x2 - 2.8114572543455206e-15;
  o = o * x2 - 7.647163731819816e-13;
  o = o * x2 - 1.6059043836821613e-10;
  o = o * x2 - 2.505210838544172e-08;
  o = o * x2 - 2.7557319223985893e-06;
  o = o * x2 - 0.0001984126984126984;
  o = o * x2 - 0.008333333333333333;
  o = o * x2 - 0.16666666666666666;
  return e + x * o;
}

/* psi(x) / x^3 = sum_{k=3}^{25} (-1)^(k+1) (2^(k-1) - 2) x^(k-3) / k!
 * (first omitted term < 5e-19 of the sum for 0 <= x < 1), likewise. */
static inline LB_ALWAYS_INLINE double series_vU(double x) {
  double x2 = x * x;
  double e = 1.0816186456847918e-18;
  e = e * x2 + 1.622427388301662e-16;
  e = e * x2 + 2.052367710260443e-14;
  e = e * x2 + 2.1549737648205952e-12;
  e = e * x2 + 1.8424603970627936e-10;
  e = e * x2 + 1.2527583625467223e-08;
  e = e * x2 + 6.574572546794769e-07;
  e = e * x2 + 2.5603254769921436e-05;
  e = e * x2 + 0.0006999559082892416;
  e = e * x2 + 0.012301587301587301;
  e = e * x2 + 0.11666666666666667;
  e = e * x2 + 1.0 / 3.0;
  double o = -1.3520231459322325e-17;
  o = o * x2 - 1.865790606867772e-15;
  o = o * x2 - 2.1549819854558418e-13;
  o = o * x2 - 2.0472094573725967e-11;
  o = o * x2 - 1.5660435427300506e-09;
  o = o * x2 - 9.394540644540644e-08;
  o = o * x2 - 4.2713844797178134e-06;
  o = o * x2 - 0.00014054232804232804;
  o = o * x2 - 0.003125;
  o = o * x2 - 0.041666666666666664;
  o = o * x2 - 0.25;
  return e + x * o;
}

/* G: G_U from its series for x < 1, else (tau - K) / gamma (G_V = K). */
static inline LB_ALWAYS_INLINE double piece_G(double g, double gi, double tau,
                                              double K) {
  double x = g * tau;
  double ser = tau * tau * series_GU(x), closed = (tau - K) * gi;
  return x < 1.0 ? ser : closed;
}

/* Noise covariance: var_U from its series for x < 1, else the closed
 * form; cov_UV = om^2 / gamma; var_V = 1 - E^2 = om (1 + E). */
static inline LB_ALWAYS_INLINE void piece_N(double g, double gi, double tau,
                                            double om,
                                            double E, double *vU, double *cUV,
                                            double *vV) {
  double x = g * tau, om2 = om * (1.0 + E);
  double ser = 2.0 * g * tau * tau * tau * series_vU(x);
  double closed = 2.0 * gi * gi * (x - 2.0 * om + 0.5 * om2);
  *vU = x < 1.0 ? ser : closed;
  *cUV = om * om * gi;
  *vV = om2;
}

/* 1/sqrt(x) for finite x > 0: lb_sqrt's start from the bit pattern
 * (relative error < 3.5%) and four Newton steps (error 2e-21 before
 * rounding; about 1 ulp).  The start needs a normal x, so x < 2^-900 is
 * scaled by 2^1000 (exact) and the result by 2^500. */
static inline LB_ALWAYS_INLINE double ud_rsqrt(double x) {
  int tiny = x < 0x1p-900;
  double xs = tiny ? x * 0x1p1000 : x;
  double y = lb_from_bits(0x5fe6eb50c7b537a9ULL - (lb_bits(xs) >> 1));
  double hx = 0.5 * xs;
  y = y * (1.5 - hx * y * y);
  y = y * (1.5 - hx * y * y);
  y = y * (1.5 - hx * y * y);
  y = y * (1.5 - hx * y * y);
  return tiny ? y * 0x1p500 : y;
}

/* The 2x2 Cholesky factor [[L11, 0], [L21, L22]], branch-free, from y =
 * 1/sqrt(var_U): L11 = var_U y, L21 = cov_UV y (no divide), L22 = sqrt(var_V
 * - L21^2); about 2 ulp each.  var_U = 0 (e.g. tau = 0): L11 = L21 = 0; a
 * remainder <= 0, from rounding: L22 = 0. */
static inline LB_ALWAYS_INLINE void piece_chol(double vU, double cUV,
                                               double vV, double *L11,
                                               double *L21, double *L22) {
  int pos = vU > 0.0;
  double y = ud_rsqrt(pos ? vU : 1.0);
  double l21 = pos ? cUV * y : 0.0, r = vV - l21 * l21;
  int rpos = r > 0.0;
  *L11 = pos ? vU * y : 0.0;
  *L21 = l21;
  *L22 = rpos ? r * ud_rsqrt(rpos ? r : 1.0) : 0.0;
}

static void coefs(double gamma, double tau, lb_ud_coef *c) {
  double om, gi = 1.0 / gamma;
  piece_A(gamma, gi, tau, &om, &c->E, &c->K);
  c->GV = c->K;
  c->GU = piece_G(gamma, gi, tau, c->K);
  piece_N(gamma, gi, tau, om, c->E, &c->vU, &c->cUV, &c->vV);
  piece_chol(c->vU, c->cUV, c->vV, &c->L11, &c->L21, &c->L22);
}

/* A small cache per thread: samplers and exact laws call with the same few
 * durations (h, alpha, ...) again and again. */
enum { NCACHE = 4 };
static _Thread_local double c_gamma[NCACHE] = {-1, -1, -1, -1}, c_tau[NCACHE];
static _Thread_local lb_ud_coef c_val[NCACHE];
static _Thread_local int c_next;

void lb_ud_coefs(double gamma, double tau, lb_ud_coef *c) {
  for (int i = 0; i < NCACHE; i++)
    if (c_gamma[i] == gamma && c_tau[i] == tau) {
      *c = c_val[i];
      return;
    }
  int i = c_next;
  c_next = (c_next + 1) % NCACHE;
  coefs(gamma, tau, &c_val[i]);
  c_gamma[i] = gamma;
  c_tau[i] = tau;
  *c = c_val[i];
}

/* ---- per-row coefficients of a block ----------------------------------------
 * The operators take one duration per row.  The samplers call several
 * operators on the same duration array (the Poisson midpoint method:
 * apply_A then add_noise on a segment, apply_A then add_G on a midpoint
 * time; ULMC all three on h), so the per-row coefficients of the last
 * NENT distinct arrays are kept per thread, computed piece by piece on
 * demand (apply_A needs A, add_G also G, add_noise also the noise): one
 * vector pass per piece per distinct array.  An array is matched by the
 * bits of its first B durations; a hit returns what the pieces compute,
 * so the output does not depend on the cache.  An array of 8 or more
 * rows of one repeated duration (ULMC's h, the full step alpha) is
 * computed once, by the scalar lb_ud_coefs, broadcast to LB_BLOCK_MAX rows
 * and kept in NUNI entries of its own, so the per-midpoint arrays do not
 * evict it.  The fills run over whole vectors of 8 rows (durations past
 * B are zero), never a scalar remainder: a round of the Poisson midpoint
 * method often has only a few rows.  The keys are kept apart from the
 * arrays so that the search touches one cache line.  Cost of a miss:
 * about 40 flops per row for A, 40 more for G, 100 more for the noise, in
 * vector lanes. */

enum { NENT = 4, NUNI = 2, P_A = 1, P_G = 2, P_N = 4 };
typedef struct { /* the keys, together, for a fast search */
  double gamma, tau0; /* tau0: the first duration */
  size_t n;           /* rows held */
  unsigned long stamp;
} ud_key;
typedef struct {
  unsigned parts; /* pieces computed for all n rows */
  double tau[LB_BLOCK_MAX], om[LB_BLOCK_MAX], E[LB_BLOCK_MAX],
      K[LB_BLOCK_MAX], GU[LB_BLOCK_MAX], L11[LB_BLOCK_MAX], L21[LB_BLOCK_MAX],
      L22[LB_BLOCK_MAX];
} ud_entry;
/* entries NENT.. hold one duration each */
static _Thread_local ud_key ud_keys[NENT + NUNI];
static _Thread_local ud_entry ud_tab[NENT + NUNI];
static _Thread_local unsigned long ud_clock;
_Static_assert(LB_BLOCK_MAX % 8 == 0, "fills run whole vectors of 8");

LB_VECTOR_CLONES
void lb_ud_fill_A(size_t n, double g, const double *restrict tau,
                   double *restrict om, double *restrict E,
                   double *restrict K) {
  double gi = 1.0 / g;
#pragma omp simd
  for (size_t r = 0; r < n; r++) {
    double o, e, k;
    piece_A(g, gi, tau[r], &o, &e, &k);
    om[r] = o;
    E[r] = e;
    K[r] = k;
  }
}

LB_VECTOR_CLONES
void lb_ud_fill_G(size_t n, double g, const double *restrict tau,
                   const double *restrict K, double *restrict GU) {
  double gi = 1.0 / g;
#pragma omp simd
  for (size_t r = 0; r < n; r++) GU[r] = piece_G(g, gi, tau[r], K[r]);
}

LB_VECTOR_CLONES
void lb_ud_fill_N(size_t n, double g, const double *restrict tau,
                   const double *restrict om, const double *restrict E,
                   double *restrict L11, double *restrict L21,
                   double *restrict L22) {
  double gi = 1.0 / g;
#pragma omp simd
  for (size_t r = 0; r < n; r++) {
    double vU, cUV, vV, a, b, c;
    piece_N(g, gi, tau[r], om[r], E[r], &vU, &cUV, &vV);
    piece_chol(vU, cUV, vV, &a, &b, &c);
    L11[r] = a;
    L21[r] = b;
    L22[r] = c;
  }
}

/* The least recently used of entries [lo, hi). */
static int lru(int lo, int hi) {
  int old = lo;
  for (int i = lo + 1; i < hi; i++)
    if (ud_keys[i].stamp < ud_keys[old].stamp) old = i;
  return old;
}

static int same_bits(double a, double b) {
  return memcmp(&a, &b, sizeof a) == 0;
}

static const ud_entry *row_coefs(const lb_dynamics *dy, size_t B,
                                 const double *tau, unsigned need) {
  double g = dy->gamma;
  int hit = -1;
  if (B == 0) return &ud_tab[0]; /* nothing to read */
  for (int i = 0; i < NENT + NUNI; i++) {
    const ud_key *q = &ud_keys[i];
    if (q->n >= B && same_bits(q->tau0, tau[0]) && q->gamma == g &&
        memcmp(ud_tab[i].tau, tau, B * sizeof *tau) == 0) {
      hit = i;
      break;
    }
  }
  ud_entry *e;
  if (hit < 0) {
    size_t r = 1;
    while (r < B && same_bits(tau[r], tau[0])) r++;
    if (r == B && B >= 8) { /* one duration: scalar, broadcast to all rows */
      lb_ud_coef c;
      lb_ud_coefs(g, tau[0], &c);
      hit = lru(NENT, NENT + NUNI);
      e = &ud_tab[hit];
      ud_keys[hit].n = LB_BLOCK_MAX;
      for (r = 0; r < LB_BLOCK_MAX; r++) {
        e->tau[r] = tau[0];
        e->E[r] = c.E;
        e->K[r] = c.K;
        e->GU[r] = c.GU;
        e->L11[r] = c.L11;
        e->L21[r] = c.L21;
        e->L22[r] = c.L22;
      }
      e->parts = P_A | P_G | P_N;
    } else {
      /* rows up to a multiple of 8 (zero durations past B), so that the
       * fills run whole vectors only */
      size_t n8 = (B + 7) / 8 * 8;
      hit = lru(0, NENT);
      e = &ud_tab[hit];
      ud_keys[hit].n = B;
      e->parts = 0;
      memcpy(e->tau, tau, B * sizeof *tau);
      for (r = B; r < n8; r++) e->tau[r] = 0.0;
    }
    ud_keys[hit].gamma = g;
    ud_keys[hit].tau0 = tau[0];
  }
  e = &ud_tab[hit];
  ud_keys[hit].stamp = ++ud_clock;
  size_t n = (ud_keys[hit].n + 7) / 8 * 8;
  if (!(e->parts & P_A)) lb_ud_fill_A(n, g, e->tau, e->om, e->E, e->K);
  e->parts |= P_A;
  if ((need & P_G) && !(e->parts & P_G)) {
    lb_ud_fill_G(n, g, e->tau, e->K, e->GU);
    e->parts |= P_G;
  }
  if ((need & P_N) && !(e->parts & P_N)) {
    lb_ud_fill_N(n, g, e->tau, e->om, e->E, e->L11, e->L21, e->L22);
    e->parts |= P_N;
  }
  return e;
}

/* ---- block operators (dynamics.h): unit-stride loops over the rows of
 * each coordinate with the per-row coefficients above. */

LB_VECTOR_CLONES
static void ud_apply_A(const lb_dynamics *dy, size_t B, size_t ld,
                       const double *tau, const double *t, double *y) {
  (void)t; /* time-homogeneous */
  const ud_entry *c = row_coefs(dy, B, tau, P_A);
  const double *K = c->K, *E = c->E;
  size_t d = dy->d;
  for (size_t i = 0; i < d; i++) {
    double *u = y + i * ld, *v = y + (d + i) * ld;
#pragma omp simd
    for (size_t r = 0; r < B; r++) {
      u[r] += K[r] * v[r];
      v[r] *= E[r];
    }
  }
}

LB_VECTOR_CLONES
static void ud_add_G(const lb_dynamics *dy, size_t B, size_t ld,
                     const double *tau, const double *t, double k,
                     const double *b, double *y) {
  (void)t;
  const ud_entry *c = row_coefs(dy, B, tau, P_G);
  double gu[LB_BLOCK_MAX], gv[LB_BLOCK_MAX];
  for (size_t r = 0; r < B; r++) {
    gu[r] = k * c->GU[r];
    gv[r] = k * c->K[r];
  }
  size_t d = dy->d;
  for (size_t i = 0; i < d; i++) {
    const double *bi = b + i * ld;
    double *u = y + i * ld, *v = y + (d + i) * ld;
#pragma omp simd
    for (size_t r = 0; r < B; r++) {
      u[r] += gu[r] * bi[r];
      v[r] += gv[r] * bi[r];
    }
  }
}

LB_VECTOR_CLONES
static void ud_add_Gdot(const lb_dynamics *dy, size_t B, size_t ld, double k,
                        const double *b, double *y) {
  size_t d = dy->d;
  for (size_t i = 0; i < d; i++) {
    const double *bi = b + i * ld;
    double *v = y + (d + i) * ld;
#pragma omp simd
    for (size_t r = 0; r < B; r++) v[r] += k * bi[r];
  }
}

/* Coordinate i takes the pair (z_{2i}, z_{2i+1}) of the row's n normals. */
LB_VECTOR_CLONES
static void ud_add_noise(const lb_dynamics *dy, size_t B, size_t ld,
                         const double *tau, const double *t, const double *z,
                         double *y) {
  (void)t;
  const ud_entry *c = row_coefs(dy, B, tau, P_N);
  const double *L11 = c->L11, *L21 = c->L21, *L22 = c->L22;
  size_t d = dy->d;
  for (size_t i = 0; i < d; i++) {
    const double *z1 = z + 2 * i * ld, *z2 = z + (2 * i + 1) * ld;
    double *u = y + i * ld, *v = y + (d + i) * ld;
#pragma omp simd
    for (size_t r = 0; r < B; r++) {
      u[r] += L11[r] * z1[r];
      v[r] += L21[r] * z1[r] + L22[r] * z2[r];
    }
  }
}

const lb_dynamics_type lb_dynamics_underdamped = {
    "underdamped", 1, 1, ud_apply_A, ud_add_G, ud_add_Gdot, ud_add_noise};
