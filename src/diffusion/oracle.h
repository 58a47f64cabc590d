/* oracle.h -- the exact noise predictor of a Gaussian mixture's noised law
 * (diffusion.md section 1), as an lb_model.
 *
 * GPL-3.0-or-later.
 *
 * If x_0 ~ sum_k w_k N(mu_k, S_k), then x_s ~ p_s = sum_k w_k N(m_k, C_k)
 * with m_k = sqrt(abar_s) mu_k, C_k = abar_s S_k + (1 - abar_s) I, and
 *     eps*(x, s) = -sqrt(1 - abar_s) grad log p_s(x)
 *                = sqrt(1 - abar_s) sum_k r_k(x) C_k^-1 (x - m_k),
 * r_k the responsibilities (softmax of log w_k - log det C_k / 2 -
 * (x - m_k)' C_k^-1 (x - m_k) / 2, a streaming log-sum-exp as in gmm.c).
 * Each S_k = U_k diag(l_k) U_k' is diagonalised once (GSL symmv; diagonal
 * components skip it), so C_k^-1 = U_k diag(1 / (abar l_k + 1 - abar)) U_k'
 * at any noise level: cost per row O(M d) for diagonal components, O(M d^2)
 * for full ones.  Real steps s use abar(s) of the continuous view
 * (schedule.h), so DPM-Solver's intermediate times are exact too.
 */
#ifndef LB_ORACLE_H
#define LB_ORACLE_H

#include "model.h"
#include "target.h"

/* For a gmm or gaussian target.  LB_EINPUT naming the target otherwise. */
int lb_oracle_alloc(const lb_target *t, const lb_schedule *sch,
                    lb_model **out, lb_err *e);
/* log p_s(x) of the noised law at real step s (for tests). */
double lb_oracle_logp(const lb_model *m, const double *x, double s);

/* Defined in targets/gmm.c: copies of a gmm target's components (weights
 * [m], means [m*d], full covariances [m*d*d]). */
int lb_gmm_components(const lb_target *t, size_t *m, double **w, double **mu,
                      double **cov, lb_err *e);

#endif
