/* urlmc.c -- the randomized midpoint method for underdamped Langevin (Shen
 * & Lee, NeurIPS 2019; algorithms.md section 2), with gamma a parameter
 * and u = 1.  GPL-3.0-or-later.
 *
 * One step of size h, fraction a ~ U[0,1], t = a h, delta = h - t, b0 =
 * b(U), K(tau) = (1 - exp(-gamma tau))/gamma (expm1):
 *   U_mid = U + K(t) V + G_U(t) b0 + N1
 *   U'    = U + K(h) V + h K(delta) b(U_mid) + N2
 *   V'    = E_h V + h exp(-gamma delta) b(U_mid) + N3
 * i.e. Y' = A_h Y + h A_delta e_v b(U_mid) + W_h: the midpoint drift is a
 * velocity kick at time t carried to the end of the step by the OU
 * propagator (NOT G_h b(U_mid), a different, lower-order chain).
 *
 * The noise.  W_tau = int_0^tau A_{tau-s} (0, sqrt(2 gamma))^T dB_s is the
 * OU noise of ONE Brownian path B on [0, h]; N1 = (W_t)_U and (N2, N3) =
 * W_h.  Splitting the integral at t,
 *   W_h = A_delta W_t + int_t^h A_{h-s} (0, sqrt(2 gamma))^T dB_s,
 * and the second part is independent of W_t with covariance Sigma_delta.
 * Hence, with Sigma_tau = [[vU, cUV], [cUV, vV]](tau) (dynamics.h),
 *   Var N1       = vU(t)
 *   Cov(N1, N2)  = [A_delta Sigma_t e_u]_U = vU(t) + K(delta) cUV(t)
 *   Cov(N1, N3)  = [A_delta Sigma_t e_u]_V = exp(-gamma delta) cUV(t)
 *   Cov(N2, N3)  = Sigma_h  (the ULMC noise over the whole step;
 *                  A_delta Sigma_t A_delta^T + Sigma_delta = Sigma_h is the
 *                  scaling relation).
 * The step draws exactly this: W_t from Sigma_t (2 Gaussians per
 * coordinate), then W_h = A_delta W_t + Sigma_delta^{1/2} Z' (2 more).
 * Two classic mistakes give lower-order chains: independent N1 (Cov(N1,
 * (N2, N3)) = 0) and the weight G_h instead of h A_delta e_v; the tests
 * (tests/test_underdamped.c) reject both.
 *
 * Written against the dynamics interface: on overdamped Langevin (A = I,
 * G_t = t, G'(0) = I) the same lines are rlmc.
 * Cost per step: two drift evaluations, 4d Gaussians, O(d) arithmetic. */
#include <string.h>

#include "sampler.h"
#include "udlaw.h"
#include "vmath.h"

/* work: W, ym, kick, z (n x ld each), b0, bm (d x ld each), a, t, delta,
 * h, time (ld each) */
static size_t urlmc_work(const lb_sampler *s, size_t ld) {
  return (4 * s->dyn.n + 2 * s->dyn.d + 5) * ld;
}

/* Row r draws a from blk->r, then its 2n normals (W_t, then the rest of
 * the path) from blk->rz. */
LB_VECTOR_CLONES
static void urlmc_step(const lb_sampler *s, const lb_block *blk, double h,
                       double t0, double *y, long *nfe, double *work) {
  const lb_dynamics *dy = &s->dyn;
  const lb_dynamics_type *T = dy->type;
  size_t n = dy->n, d = dy->d, B = blk->B, ld = blk->ld;
  double *W = work, *ym = W + n * ld, *kick = ym + n * ld, *z = kick + n * ld;
  double *b0 = z + n * ld, *bm = b0 + d * ld;
  double *t = bm + d * ld, *delta = t + ld, *hh = delta + ld, *tm = hh + ld;
  lb_streams_uniform_block(blk->r, B, NULL, t); /* a, one per row */
  for (size_t r = 0; r < B; r++) {
    t[r] = t[r] * h;
    delta[r] = h - t[r];
    hh[r] = h;
    tm[r] = t0;
    nfe[r] = 2;
  }
  lb_dynamics_drift(dy, B, ld, y, tm, b0);
#pragma omp simd
  for (size_t k = 0; k < n * ld; k++) {
    W[k] = 0.0;
    kick[k] = 0.0;
    ym[k] = y[k];
  }
  lb_streams_gauss(blk->rz, n, B, NULL, ld, z);
  T->add_noise(dy, B, ld, t, NULL, z, W); /* W_t */
  T->apply_A(dy, B, ld, t, NULL, ym);
  T->add_G(dy, B, ld, t, NULL, 1.0, b0, ym);
#pragma omp simd
  for (size_t k = 0; k < n * ld; k++) ym[k] += W[k];
  for (size_t r = 0; r < B; r++) tm[r] = t0 + t[r];
  lb_dynamics_drift(dy, B, ld, ym, tm, bm);
  T->apply_A(dy, B, ld, delta, NULL, W);
  lb_streams_gauss(blk->rz, n, B, NULL, ld, z);
  T->add_noise(dy, B, ld, delta, NULL, z, W); /* W_h on the same path */
  T->add_Gdot(dy, B, ld, h, bm, kick);
  T->apply_A(dy, B, ld, delta, NULL, kick); /* h A_delta G'(0) b(U_mid) */
  T->apply_A(dy, B, ld, hh, NULL, y);
#pragma omp simd
  for (size_t k = 0; k < n * ld; k++) y[k] += W[k] + kick[k];
}

/* Exact law on a Gaussian target, precision l (b = -l u), given a:
 *   U_mid = r^T Y + N1,  r = (1 - l G_U(t), K(t)),
 *   Y' = C Y + n,  C = A_h - l h c r^T,  c = A_delta e_v = (K(delta), E_delta),
 *   n = W_h - l h c N1,
 *   E[n n^T | a] = Sigma_h - l h (x c^T + c x^T) + l^2 h^2 vU(t) c c^T,
 *   x = Cov(W_h, N1) = A_delta Sigma_t e_u (above).
 * E over a ~ U[0,1] by an 8-panel 16-point Gauss-Legendre rule (the
 * integrands are entire in a; exact to rounding for gamma h up to ~10). */
static void urlmc_gauss_law2(const lb_sampler *s, double h, double li,
                             double lj, double ea[4], double eaa[16],
                             double en[4]) {
  enum { P = 8, G = 16 };
  double gx[G], gw[G], g = s->dyn.gamma;
  lb_gl01(G, gx, gw);
  lb_ud_coef ch;
  lb_ud_coefs(g, h, &ch);
  memset(ea, 0, 4 * sizeof *ea);
  memset(eaa, 0, 16 * sizeof *eaa);
  memset(en, 0, 4 * sizeof *en);
  for (int p = 0; p < P; p++)
    for (int k = 0; k < G; k++) {
      double a = (p + gx[k]) / P, w = gw[k] / P, t = a * h;
      lb_ud_coef ct, cd;
      lb_ud_coefs(g, t, &ct);
      lb_ud_coefs(g, h - t, &cd);
      double c[2] = {cd.K, cd.E};
      double x[2] = {ct.vU + cd.K * ct.cUV, cd.E * ct.cUV};
      double Ci[4], Cj[4];
      double ri[2] = {1.0 - li * ct.GU, ct.K}, rj[2] = {1.0 - lj * ct.GU, ct.K};
      for (int q = 0; q < 2; q++)
        for (int m = 0; m < 2; m++) {
          double A = q == 0 ? (m == 0 ? 1.0 : ch.K) : (m == 0 ? 0.0 : ch.E);
          Ci[2 * q + m] = A - li * h * c[q] * ri[m];
          Cj[2 * q + m] = A - lj * h * c[q] * rj[m];
        }
      for (int e = 0; e < 4; e++) ea[e] += w * Ci[e];
      lb_kron2_add(w, Ci, Cj, eaa);
      for (int q = 0; q < 2; q++)
        for (int m = 0; m < 2; m++)
          en[2 * q + m] += w * (-li * h * (x[q] * c[m] + c[q] * x[m]) +
                                li * li * h * h * ct.vU * c[q] * c[m]);
    }
  en[0] += ch.vU;
  en[1] += ch.cUV;
  en[2] += ch.cUV;
  en[3] += ch.vV;
}

const lb_sampler_type lb_sampler_urlmc = {
    .name = "urlmc",
    .help = "urlmc: randomized midpoint method for underdamped Langevin "
            "(Shen & Lee 2019),\n"
            "  one Brownian path.  2 drift evaluations per step.\n"
            "  gamma=2     friction (> 0)",
    .dynamics = &lb_dynamics_underdamped,
    .work_size = urlmc_work,
    .step = urlmc_step,
    .gauss_law2 = urlmc_gauss_law2,
    .expected_nfe = lb_nfe_two};
