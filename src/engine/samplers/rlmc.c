/* rlmc.c -- randomized midpoint method for overdamped Langevin (Shen & Lee,
 * NeurIPS 2019).  With u ~ U[0,1] and Z1, Z2 ~ N(0, I) independent:
 *     X_mid = X - u h grad F(X) + sqrt(2 u h) Z1
 *     X'    = X - h grad F(X_mid) + sqrt(2 u h) Z1 + sqrt(2 (1-u) h) Z2
 * The full step's Brownian increment contains the midpoint's: one path.
 * Each row draws u, then Z1, then Z2 from its own stream.
 * Cost per step and chain: two drift evaluations (two block calls), 2d
 * Gaussians, O(d) arithmetic.
 * GPL-3.0-or-later. */
#include <math.h>

#include "sampler.h"
#include "vmath.h"

/* s1 = sqrt(2 u h), s2 = sqrt(2 (1 - u) h) (lb_sqrt_fma: the loop stays a
 * vector loop). */
LB_VECTOR_CLONES
static void rlmc_scales(size_t B, double h, const double *restrict u,
                        double *restrict s1, double *restrict s2) {
#pragma omp simd
  for (size_t r = 0; r < B; r++) {
    s1[r] = lb_sqrt_fma(2.0 * u[r] * h);
    s2[r] = lb_sqrt_fma(2.0 * (1.0 - u[r]) * h);
  }
}

/* work: g, mid, w1, z (d x ld each), u, s1, s2, t (ld each) */
static size_t rlmc_work(const lb_sampler *s, size_t ld) {
  return (4 * s->dyn.d + 4) * ld;
}

/* w1 = s1 z, mid = x + u h g + w1 (restrict: one vector pass). */
LB_VECTOR_CLONES
static void rlmc_mid(size_t d, size_t B, size_t ld, double h,
                     const double *restrict x, const double *restrict g,
                     const double *restrict z, const double *restrict u,
                     const double *restrict s1, double *restrict w1,
                     double *restrict mid) {
  for (size_t i = 0; i < d; i++) {
#pragma omp simd
    for (size_t r = 0; r < B; r++) {
      size_t k = i * ld + r;
      w1[k] = s1[r] * z[k];
      mid[k] = x[k] + u[r] * h * g[k] + w1[k];
    }
  }
}

/* x += h g + w1 + s2 z. */
LB_VECTOR_CLONES
static void rlmc_end(size_t d, size_t B, size_t ld, double h,
                     const double *restrict g, const double *restrict w1,
                     const double *restrict z, const double *restrict s2,
                     double *restrict x) {
  for (size_t i = 0; i < d; i++) {
#pragma omp simd
    for (size_t r = 0; r < B; r++) {
      size_t k = i * ld + r;
      x[k] += h * g[k] + w1[k] + s2[r] * z[k];
    }
  }
}

static void rlmc_step(const lb_sampler *s, const lb_block *blk, double h,
                      double t, double *x, long *nfe, double *work) {
  const lb_dynamics *dy = &s->dyn;
  size_t d = dy->d, B = blk->B, ld = blk->ld;
  double *g = work, *mid = g + d * ld, *w1 = mid + d * ld, *z = w1 + d * ld;
  double *u = z + d * ld, *s1 = u + ld, *s2 = s1 + ld, *tm = s2 + ld;
  lb_streams_uniform_block(blk->r, B, NULL, u);
  rlmc_scales(B, h, u, s1, s2);
  for (size_t r = 0; r < B; r++) {
    tm[r] = t;
    nfe[r] = 2;
  }
  lb_dynamics_drift(dy, B, ld, x, tm, g); /* g = -grad F(X) */
  lb_streams_gauss(blk->r, d, B, NULL, ld, z);
  rlmc_mid(d, B, ld, h, x, g, z, u, s1, w1, mid);
  for (size_t r = 0; r < B; r++) tm[r] = t + u[r] * h;
  lb_dynamics_drift(dy, B, ld, mid, tm, g);
  lb_streams_gauss(blk->r, d, B, NULL, ld, z);
  rlmc_end(d, B, ld, h, g, w1, z, s2, x);
}

/* Gaussian target, precision l (derivation in the README):
 *   X' = (c + u e) X + (1 - h l) sqrt(2uh) Z1 + sqrt(2(1-u)h) Z2,
 *   c = 1 - h l, e = h^2 l^2, u shared by all coordinates. */
static void rlmc_gauss_law(const lb_sampler *s, double h, double li,
                           double lj, double out[3]) {
  (void)s;
  double ci = 1.0 - h * li, ei = h * h * li * li;
  double cj = 1.0 - h * lj, ej = h * h * lj * lj;
  out[0] = ci + 0.5 * ei;
  out[1] = ci * cj + 0.5 * (ci * ej + cj * ei) + ei * ej / 3.0;
  out[2] = h * ci * ci + h;
}

const lb_sampler_type lb_sampler_rlmc = {
    .name = "rlmc",
    .help = "rlmc: randomized midpoint method (overdamped). No parameters. "
            "2 drift evaluations per step.",
    .dynamics = &lb_dynamics_overdamped,
    .work_size = rlmc_work,
    .step = rlmc_step,
    .gauss_law = rlmc_gauss_law,
    .expected_nfe = lb_nfe_two};
