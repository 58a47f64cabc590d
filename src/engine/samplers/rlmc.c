/* rlmc.c -- randomized midpoint method for overdamped Langevin (Shen & Lee,
 * NeurIPS 2019).  With u ~ U[0,1] and Z1, Z2 ~ N(0, I) independent:
 *     X_mid = X - u h grad F(X) + sqrt(2 u h) Z1
 *     X'    = X - h grad F(X_mid) + sqrt(2 u h) Z1 + sqrt(2 (1-u) h) Z2
 * The full step's Brownian increment contains the midpoint's: one path.
 * Cost per step: two drift evaluations, 2d Gaussians, O(d) arithmetic.
 * GPL-3.0-or-later. */
#include <gsl/gsl_randist.h>
#include <math.h>

#include "sampler.h"

static size_t rlmc_work(const lb_sampler *s) { return 3 * s->dyn.d; }

static long rlmc_step(const lb_sampler *s, double h, double *x, double *work,
                      gsl_rng *r) {
  const lb_dynamics *dy = &s->dyn;
  size_t d = dy->d;
  double *g = work, *mid = work + d, *w1 = work + 2 * d;
  double u = gsl_rng_uniform(r);
  double s1 = sqrt(2.0 * u * h), s2 = sqrt(2.0 * (1.0 - u) * h);
  lb_dynamics_drift(dy, x, g); /* g = -grad F(X) */
  for (size_t i = 0; i < d; i++) {
    w1[i] = s1 * gsl_ran_gaussian_ziggurat(r, 1.0);
    mid[i] = x[i] + u * h * g[i] + w1[i];
  }
  lb_dynamics_drift(dy, mid, g);
  for (size_t i = 0; i < d; i++)
    x[i] += h * g[i] + w1[i] + s2 * gsl_ran_gaussian_ziggurat(r, 1.0);
  return 2;
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
    .gauss_law = rlmc_gauss_law};
