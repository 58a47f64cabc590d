/* ulmc.c -- ULMC: the frozen-gradient exact OU integrator for underdamped
 * Langevin (Cheng, Chatterji, Bartlett & Jordan 2018), i.e. the general
 * process (S) with the underdamped coefficients of dynamics_underdamped.c:
 *     Y' = A_h Y + G_h b(U) + Gamma_h Z,   Y = (U, V).
 * Cost per step: one drift evaluation, 2d Gaussians, O(d) arithmetic and
 * a few exp/expm1 calls.  GPL-3.0-or-later. */

#include "sampler.h"

/* work: b (d x ld), z (n x ld), tau and t (ld each) */
static size_t ulmc_work(const lb_sampler *s, size_t ld) {
  return (s->dyn.d + s->dyn.n + 2) * ld;
}

/* The 2d normals of a row come from blk->rz (coupled mode: the shared
 * path), in the pair order of the dynamics' add_noise. */
static void ulmc_step(const lb_sampler *s, const lb_block *blk, double h,
                      double t, double *y, long *nfe, double *work) {
  const lb_dynamics *dy = &s->dyn;
  size_t B = blk->B, ld = blk->ld;
  double *b = work, *z = b + dy->d * ld, *tau = z + dy->n * ld,
         *tm = tau + ld;
  for (size_t r = 0; r < B; r++) {
    tau[r] = h;
    tm[r] = t;
    nfe[r] = 1;
  }
  lb_dynamics_drift(dy, B, ld, y, tm, b);
  lb_streams_gauss(blk->rz, dy->n, B, NULL, ld, z);
  dy->type->apply_A(dy, B, ld, tau, y);
  dy->type->add_G(dy, B, ld, tau, 1.0, b, y);
  dy->type->add_noise(dy, B, ld, tau, z, y);
}

/* Gaussian target, precision l: b = -l u, so per coordinate
 *   A = [[1 - l G_U, K], [-l G_V, E]]  (deterministic),
 *   E[n n^T] = [[var_U, cov_UV], [cov_UV, var_V]]. */
static void ulmc_gauss_law2(const lb_sampler *s, double h, double li,
                            double lj, double ea[4], double eaa[16],
                            double en[4]) {
  lb_ud_coef c;
  lb_ud_coefs(s->dyn.gamma, h, &c);
  double Aj[4] = {1.0 - lj * c.GU, c.K, -lj * c.GV, c.E};
  ea[0] = 1.0 - li * c.GU;
  ea[1] = c.K;
  ea[2] = -li * c.GV;
  ea[3] = c.E;
  for (int p = 0; p < 4; p++)
    for (int q = 0; q < 4; q++) eaa[p * 4 + q] = ea[p] * Aj[q];
  en[0] = c.vU;
  en[1] = en[2] = c.cUV;
  en[3] = c.vV;
}

const lb_sampler_type lb_sampler_ulmc = {
    .name = "ulmc",
    .help = "ulmc: underdamped Langevin, exact OU integrator with the "
            "gradient frozen over\n"
            "  the step (Cheng et al. 2018).  1 drift evaluation per step.\n"
            "  gamma=2     friction (> 0)",
    .dynamics = &lb_dynamics_underdamped,
    .work_size = ulmc_work,
    .step = ulmc_step,
    .step_coupled = ulmc_step,
    .gauss_law2 = ulmc_gauss_law2};
