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
 * 1 - E is -expm1(-x) everywhere.  G_U and var_U cancel catastrophically
 * for small x (G_U ~ tau^2/2, psi ~ x^3/3 from O(x) terms), so for x < 1
 * they come from their series:
 *   G_U   = tau^2 sum_{k>=0} (-x)^k / (k+2)!
 *   var_U = 2 gamma tau^3 sum_{k>=3} (-1)^(k+1) (2^(k-1) - 2) x^(k-3) / k!
 * (the series of psi/x^3 = 1/3 - x/4 + 7x^2/60 - ...), summed until a term
 * falls below 1e-18 of the sum (by k = 30 for x < 1); the closed forms
 * lose at most one digit for x >= 1.  The noise is applied through the per-coordinate
 * Cholesky factor [[L11, 0], [L21, L22]] of [[var_U, cov_UV], [cov_UV,
 * var_V]].  G'(0) = lim G_h / h = (0, 1): the velocity kick.
 *
 * The scaling relations hold (A is a semigroup; the noise over n steps is
 * the OU noise over n h), tested in tests/test_underdamped.c to near
 * machine precision for gamma tau in [1e-8, 50].  State layout: y =
 * (u_0..u_{d-1}, v_0..v_{d-1}) (in the block layout, component j of row
 * r at y[j*ld + r]); the n = 2d normals z of a row are used in pairs
 * (z_{2i}, z_{2i+1}) per coordinate i.
 * Each operator costs O(1) transcendental calls plus O(d).
 */
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "dynamics.h"

static void coefs(double gamma, double tau, lb_ud_coef *c);

/* A small cache per thread: samplers call the operators with the same few
 * durations (h, alpha, ...) several times per step. */
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

static void coefs(double gamma, double tau, lb_ud_coef *c) {
  double x = gamma * tau;
  double om = -expm1(-x);       /* 1 - E */
  double om2 = -expm1(-2.0 * x); /* 1 - E^2 */
  c->E = exp(-x);
  c->K = om / gamma;
  c->GV = c->K;
  if (x < 1.0) {
    double s = 0.0, term = 0.5; /* (-x)^k / (k+2)! */
    for (int k = 0; k < 30; k++) {
      s += term;
      if (fabs(term) < 1e-18 * s) break;
      term *= -x / (double)(k + 3);
    }
    c->GU = tau * tau * s;
    double s3 = 0.0, p = 1.0 / 6.0, pw = 4.0; /* x^(k-3)/k!, 2^(k-1) */
    for (int k = 3; k < 33; k++) {
      double tk = (pw - 2.0) * p;
      s3 += (k & 1) ? tk : -tk;
      if (tk < 1e-18 * s3) break;
      p *= x / (double)(k + 1);
      pw *= 2.0;
    }
    c->vU = 2.0 * gamma * tau * tau * tau * s3;
  } else {
    c->GU = (tau - c->K) / gamma;
    c->vU = 2.0 / (gamma * gamma) * (x - 2.0 * om + 0.5 * om2);
  }
  c->cUV = om * om / gamma;
  c->vV = om2;
  if (c->vU > 0.0) {
    c->L11 = sqrt(c->vU);
    c->L21 = c->cUV / c->L11;
    double r = c->vV - c->L21 * c->L21;
    c->L22 = r > 0.0 ? sqrt(r) : 0.0;
  } else {
    c->L11 = c->L21 = 0.0;
    c->L22 = sqrt(c->vV);
  }
}

/* ---- block operators (dynamics.h): per-row coefficients, then
 * unit-stride loops over the rows of each coordinate.  Rows with equal
 * tau (every row in LMC-type steps) hit the one-entry cache. */

/* Per-row durations differ (midpoint methods), so the coefficients of
 * the last UD_CACHE distinct (gamma, tau) seen by the thread are kept in
 * a direct-mapped table (a hit returns exactly what coefs computed, so
 * the output does not depend on it): the operators of one step reuse the
 * same few durations of each row. */
#define UD_CACHE 256
static _Thread_local struct {
  double gamma, tau;
  lb_ud_coef c;
} ud_cache[UD_CACHE];

static void row_coefs(const lb_dynamics *dy, size_t B, const double *tau,
                      lb_ud_coef *c) {
  for (size_t r = 0; r < B; r++) {
    uint64_t u;
    memcpy(&u, &tau[r], sizeof u);
    size_t k = (size_t)((u * 0x9E3779B97F4A7C15ULL) >> 56) % UD_CACHE;
    if (ud_cache[k].tau == tau[r] && ud_cache[k].gamma == dy->gamma) {
      c[r] = ud_cache[k].c;
    } else {
      lb_ud_coefs(dy->gamma, tau[r], &c[r]);
      ud_cache[k].gamma = dy->gamma;
      ud_cache[k].tau = tau[r];
      ud_cache[k].c = c[r];
    }
  }
}

static void ud_apply_A(const lb_dynamics *dy, size_t B, size_t ld,
                       const double *tau, const double *t, double *y) {
  (void)t; /* time-homogeneous */
  lb_ud_coef c[LB_BLOCK_MAX];
  row_coefs(dy, B, tau, c);
  size_t d = dy->d;
  for (size_t i = 0; i < d; i++) {
    double *u = y + i * ld, *v = y + (d + i) * ld;
    for (size_t r = 0; r < B; r++) {
      u[r] += c[r].K * v[r];
      v[r] *= c[r].E;
    }
  }
}

static void ud_add_G(const lb_dynamics *dy, size_t B, size_t ld,
                     const double *tau, const double *t, double k,
                     const double *b, double *y) {
  (void)t;
  lb_ud_coef c[LB_BLOCK_MAX];
  double gu[LB_BLOCK_MAX], gv[LB_BLOCK_MAX];
  row_coefs(dy, B, tau, c);
  for (size_t r = 0; r < B; r++) {
    gu[r] = k * c[r].GU;
    gv[r] = k * c[r].GV;
  }
  size_t d = dy->d;
  for (size_t i = 0; i < d; i++) {
    const double *bi = b + i * ld;
    double *u = y + i * ld, *v = y + (d + i) * ld;
    for (size_t r = 0; r < B; r++) {
      u[r] += gu[r] * bi[r];
      v[r] += gv[r] * bi[r];
    }
  }
}

static void ud_add_Gdot(const lb_dynamics *dy, size_t B, size_t ld, double k,
                        const double *b, double *y) {
  size_t d = dy->d;
  for (size_t i = 0; i < d; i++) {
    const double *bi = b + i * ld;
    double *v = y + (d + i) * ld;
    for (size_t r = 0; r < B; r++) v[r] += k * bi[r];
  }
}

/* Coordinate i takes the pair (z_{2i}, z_{2i+1}) of the row's n normals. */
static void ud_add_noise(const lb_dynamics *dy, size_t B, size_t ld,
                         const double *tau, const double *t, const double *z,
                         double *y) {
  (void)t;
  lb_ud_coef c[LB_BLOCK_MAX];
  row_coefs(dy, B, tau, c);
  size_t d = dy->d;
  for (size_t i = 0; i < d; i++) {
    const double *z1 = z + 2 * i * ld, *z2 = z + (2 * i + 1) * ld;
    double *u = y + i * ld, *v = y + (d + i) * ld;
    for (size_t r = 0; r < B; r++) {
      u[r] += c[r].L11 * z1[r];
      v[r] += c[r].L21 * z1[r] + c[r].L22 * z2[r];
    }
  }
}

const lb_dynamics_type lb_dynamics_underdamped = {
    "underdamped", 1, 1, ud_apply_A, ud_add_G, ud_add_Gdot, ud_add_noise};
