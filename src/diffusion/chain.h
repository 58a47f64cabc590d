/* chain.h -- the DDPM reverse chain as an instance of the engine's general
 * process (S) (dynamics.h; algorithms.md sections 1 and 3, diffusion.md
 * sections 2 and 4).
 *
 * GPL-3.0-or-later.
 *
 * One step of the chain from s to p < s is
 *     X_p = a(s, p) X_s + c(s, p) eps(X_s, s) + sigma(s, p) Z,
 * i.e. (S) with A = a, G = c, Gamma = sigma and the drift b = eps, the
 * model's noise prediction (a model wrapped as the engine's drift: the
 * chain's `drift` target, whose "gradient" is -eps).  The coefficients are
 * those of the variant (lb_ddpm_coefs: V1 and its sub-variants, V2, V3,
 * DDIM's eta).  Clock: the engine's time runs forward, t = N - s, so a
 * step of duration tau from time t is the chain's step from s = N - t to
 * p = s - tau: tau = 1 is one fine step of the N-step chain, tau > 1 a
 * respaced step (beta' from the abar ratio).  The coefficients change
 * along the chain and do not satisfy the scaling relations (scaling = 0),
 * so the engine runs it with its Euler-Maruyama step (lb_em_step: exactly
 * one ancestral DDPM/DDIM step) and with the Poisson midpoint method's
 * fine form (pmm.c, hfine=1: L = min(K, s) fine steps per coarse step;
 * option 2 with offset0=0: midpoint offsets 1..L-1, weight L-1).
 *
 * Cost: an operator call costs O(d B) plus, for each run of rows with
 * the same (t, tau), one coefficient (a table look-up for tau = 1 when a
 * table is given, otherwise a few libm calls).
 */
#ifndef LB_CHAIN_H
#define LB_CHAIN_H

#include "dynamics.h"
#include "model.h"
#include "sampler.h"

typedef struct {
  lb_target drift; /* the model as the drift (S) sees: grad F = -eps */
  const lb_model *model;
  int variant;
  double eta;        /* DDIM's eta, < 0: none (lb_ddpm_coefs) */
  long N;            /* chain length */
  const double *tab; /* fine-step coefficients (lb_chain_table) or NULL */
} lb_chain;

extern const lb_dynamics_type lb_dynamics_ddpm;

/* Fine-step coefficients of the chain from s to s-1, s = 1..N: tab[3 s +
 * 0..2] = (a, c, sigma); 3 (N + 1) doubles. */
void lb_chain_table(const lb_schedule *sch, int variant, double eta,
                    double *tab);

/* ch is used in place (its drift points at it): do not copy it after. */
void lb_chain_init(lb_chain *ch, const lb_model *m, int variant, double eta,
                   const double *tab);

/* An engine sampler on the chain: spec `ancestral` (Euler-Maruyama of
 * (S): one respaced DDPM/DDIM step per call, duration = the step's
 * length) or `pmm:K=...,option=...,...` (pmm.c's parameters; the fine
 * form).  Free with lb_sampler_free. */
int lb_chain_sampler(const lb_chain *ch, const char *spec, lb_sampler **out,
                     lb_err *e);

#endif
