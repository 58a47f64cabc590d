/* ulmc.c -- ULMC: the frozen-gradient exact OU integrator for underdamped
 * Langevin (Cheng, Chatterji, Bartlett & Jordan 2018), i.e. the general
 * process (S) with the underdamped coefficients of dynamics_underdamped.c:
 *     Y' = A_h Y + G_h b(U) + Gamma_h Z,   Y = (U, V).
 * Cost per step: one drift evaluation, 2d Gaussians, O(d) arithmetic and
 * a few exp/expm1 calls.  GPL-3.0-or-later. */

#include "sampler.h"

/* The step is Euler-Maruyama for the general process (lb_em_step, lmc.c)
 * on the underdamped dynamics; only the exact law is ULMC's own. */

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
    .work_size = lb_em_work,
    .step = lb_em_step,
    .step_coupled = lb_em_step,
    .gauss_law2 = ulmc_gauss_law2};
