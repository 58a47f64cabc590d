/* lmc.c -- Euler-Maruyama for the general process (S):
 *     Y' = A_h Y + G_h b(Y) + Gamma_h Z.
 * On overdamped Langevin this is LMC: X' = X - h grad F(X) + sqrt(2h) Z.
 * Cost per step and chain: one drift evaluation (one block call for the
 * whole block), O(n) arithmetic, n Gaussians.
 * GPL-3.0-or-later. */
#include "sampler.h"

/* work: b (d x ld), z (n x ld), the per-row tau and t (ld each) */
size_t lb_em_work(const lb_sampler *s, size_t ld) {
  return (s->dyn.d + s->dyn.n + 2) * ld;
}

/* The n normals of a row come from blk->rz (coupled mode: the shared
 * path), in the order of the dynamics' add_noise. */
void lb_em_step(const lb_sampler *s, const lb_block *blk, double h, double t,
                double *y, long *nfe, double *work) {
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
  if (dy->type == &lb_dynamics_overdamped) { /* the three in one pass */
    lb_od_em_update(dy->d, B, ld, h, b, z, y);
    return;
  }
  dy->type->apply_A(dy, B, ld, tau, tm, y);
  dy->type->add_G(dy, B, ld, tau, tm, 1.0, b, y);
  dy->type->add_noise(dy, B, ld, tau, tm, z, y);
}

/* Gaussian target, precision l: a = 1 - h l (deterministic), n ~ N(0, 2h). */
static void lmc_gauss_law(const lb_sampler *s, double h, double li, double lj,
                          double out[3]) {
  (void)s;
  out[0] = 1.0 - h * li;
  out[1] = (1.0 - h * li) * (1.0 - h * lj);
  out[2] = 2.0 * h;
}

/* Coupled: the step's noise already comes from blk->rz. */
const lb_sampler_type lb_sampler_lmc = {
    .name = "lmc",
    .help = "lmc: Euler-Maruyama (LMC). No parameters. 1 drift evaluation "
            "per step.",
    .dynamics = &lb_dynamics_overdamped,
    .work_size = lb_em_work,
    .step = lb_em_step,
    .gauss_law = lmc_gauss_law,
    .step_coupled = lb_em_step};
