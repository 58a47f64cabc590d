/* udlaw.h -- exact moment recursions of underdamped samplers on diagonal
 * Gaussian targets (the 2x2-block counterpart of lb_exact_coefs/step).
 * GPL-3.0-or-later.
 *
 * State layout as in the engine: y = (u_0..u_{d-1}, v_0..v_{d-1}), the
 * mean m has 2d entries and the raw second moments S = E[y y^T] are a
 * 2d x 2d row-major matrix, all centred at the target mean.  With the
 * per-coordinate laws of sampler.h (lb_gauss_law2_fn):
 *   m_i'  = E[A_i] m_i
 *   S_ij' = E[A_i S_ij A_j^T] + [i = j] E[n_i n_i^T]
 * where vec(A_i S A_j^T) uses E[A_i (x) A_j].  Exact also for random
 * coefficients because the step's randomness is independent of y. */
#ifndef LB_UDLAW_H
#define LB_UDLAW_H

#include <stddef.h>

#include "sampler.h"

/* Per-coordinate coefficients: ea[4d], eaa[16 d d], en[4d].  Returns 1
 * when the coefficients are deterministic (E[A_i (x) A_j] = E[A_i] (x)
 * E[A_j] to 1e-12), i.e. the iterate law stays Gaussian. */
int lb_law2_coefs(lb_gauss_law2_fn law, const lb_sampler *s, double h,
                  const double *prec, size_t d, double *ea, double *eaa,
                  double *en);
/* One step of the recursion, in place. */
void lb_law2_step(size_t d, const double *ea, const double *eaa,
                  const double *en, double *m, double *S);

/* Gauss-Legendre rule with n nodes on [0, 1] (n <= 64). */
void lb_gl01(int n, double *x, double *w);

/* Accumulate w * (P (x) Q) into eaa (P, Q 2x2 row-major). */
void lb_kron2_add(double w, const double P[4], const double Q[4],
                  double eaa[16]);

/* The exact law of the Poisson midpoint method on underdamped Langevin
 * (friction gamma, K fine steps, K = 0 for infinity, option 1 or 2) for a
 * coarse step alpha: pmm.c's gauss_law2 on the underdamped dynamics.
 * Derivation in udlaw.c. */
void lb_pmm_ud_law(double gamma, long K, int option, double alpha, double li,
                   double lj, double ea[4], double eaa[16], double en[4]);

#endif
