/* lmc.c -- Euler-Maruyama for the general process (S):
 *     Y' = A_h Y + G_h b(Y) + Gamma_h Z.
 * On overdamped Langevin this is LMC: X' = X - h grad F(X) + sqrt(2h) Z.
 * Cost per step: one drift evaluation, O(n) arithmetic, n Gaussians.
 * GPL-3.0-or-later. */
#include "sampler.h"

static size_t lmc_work(const lb_sampler *s) { return s->dyn.n; }

static long lmc_step(const lb_sampler *s, double h, double *y, double *work,
                     gsl_rng *r) {
  const lb_dynamics *dy = &s->dyn;
  double *b = work;
  lb_dynamics_drift(dy, y, b);
  dy->type->apply_A(dy, h, y);
  dy->type->add_G(dy, h, 1.0, b, y);
  dy->type->add_noise(dy, h, y, r);
  return 1;
}

/* Gaussian target, precision l: a = 1 - h l (deterministic), n ~ N(0, 2h). */
static void lmc_gauss_law(const lb_sampler *s, double h, double li, double lj,
                          double out[3]) {
  (void)s;
  out[0] = 1.0 - h * li;
  out[1] = (1.0 - h * li) * (1.0 - h * lj);
  out[2] = 2.0 * h;
}

/* Coupled: the noise of the step comes from r_noise. */
static long lmc_step_coupled(const lb_sampler *s, double h, double *y,
                             double *work, gsl_rng *r_ctl, gsl_rng *r_noise) {
  (void)r_ctl;
  return lmc_step(s, h, y, work, r_noise);
}

const lb_sampler_type lb_sampler_lmc = {
    .name = "lmc",
    .help = "lmc: Euler-Maruyama (LMC). No parameters. 1 drift evaluation "
            "per step.",
    .dynamics = &lb_dynamics_overdamped,
    .work_size = lmc_work,
    .step = lmc_step,
    .gauss_law = lmc_gauss_law,
    .step_coupled = lmc_step_coupled};
