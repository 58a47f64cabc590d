/* sampler.h -- the sampler interface.
 *
 * GPL-3.0-or-later.
 *
 * A sampler family is an lb_sampler_type defined in one file under
 * src/engine/samplers/ and listed once in the registry in src/engine/sampler.c.  An
 * lb_sampler is one configured instance bound to a target: it advances a
 * block of chains (block.h) by one (coarse) step of size h and reports the
 * drift evaluations (NFE) each chain spent, exactly.
 *
 * Samplers are written against the general process of dynamics.h; the
 * registry entry binds a family to a dynamics (e.g. "plmc" = the Poisson
 * midpoint method on overdamped Langevin).
 */
#ifndef LB_SAMPLER_H
#define LB_SAMPLER_H

#include <stddef.h>

#include "dynamics.h"
#include "lb.h"
#include "target.h"

typedef struct lb_sampler lb_sampler;

/* Exact one-step law on a centred Gaussian target with diagonal precision:
 * coordinate i moves as X_i' = a_i X_i + n_i, with random coefficients a_i
 * (shared randomness across coordinates, e.g. the midpoint times) and noise
 * n_i, independent across coordinates and of mean zero given a.  For
 * precisions li, lj and step h this returns
 *   out[0] = E[a_i], out[1] = E[a_i a_j], out[2] = E[n_i^2].
 * Then  m' = E[a] m  and  S'_ij = E[a_i a_j] S_ij + [i = j] E[n_i^2]
 * propagate the exact mean and second moments of the iterates. */
typedef void (*lb_gauss_law_fn)(const lb_sampler *s, double h, double li,
                                double lj, double out[3]);

/* The same for second-order (underdamped) states: the pair y_i = (u_i,
 * v_i) of coordinate i moves as y_i' = A_i y_i + n_i with a random 2x2
 * A_i (randomness shared across coordinates) and noise n_i of mean zero
 * given A, independent across coordinates.  Returns, row-major,
 *   ea[4]   = E[A_i],
 *   eaa[16] = E[A_i (x) A_j], eaa[(2p+q)*4 + 2r+s] = E[A_i,pq A_j,rs],
 *   en[4]   = E[n_i n_i^T]   (for precision li).
 * The recursion is in udlaw.h. */
typedef void (*lb_gauss_law2_fn)(const lb_sampler *s, double h, double li,
                                 double lj, double ea[4], double eaa[16],
                                 double en[4]);

typedef struct {
  const char *name; /* registry name, e.g. "plmc" */
  const char *help; /* parameters and defaults, for `list samplers` */
  const lb_dynamics_type *dynamics;
  /* Parse parameters (mark keys used), allocate s->state. */
  int (*init)(lb_sampler *s, lb_spec *spec, lb_err *e);
  void (*free)(void *state);
  /* Scratch doubles a block of leading dimension ld needs. */
  size_t (*work_size)(const lb_sampler *s, size_t ld);
  /* Advance the blk->B rows of y (n x ld, block layout) by one step of
   * size h starting at time t; nfe[r] = the drift evaluations row r spent
   * in this step.  All randomness of row r comes from its streams: the
   * Brownian increments from blk->rz, everything else from blk->r (the
   * same streams unless coupled).  Rows never interact. */
  void (*step)(const lb_sampler *s, const lb_block *blk, double h, double t,
               double *y, long *nfe, double *work);
  lb_gauss_law_fn gauss_law; /* NULL when not available */
  /* Coupled stepping (optional; may be the same function as step): every
   * Gaussian of the Brownian path comes from blk->rz, n per fine step of
   * size h/K, in order, and all other randomness from blk->r.  LMC at step
   * h/K reading the same rz then follows the same Brownian path. */
  void (*step_coupled)(const lb_sampler *s, const lb_block *blk, double h,
                       double t, double *y, long *nfe, double *work);
  /* Fine steps per coarse step (K; 0 for K = infinity), NULL means 1. */
  long (*fine_steps)(const lb_sampler *s);
  lb_gauss_law2_fn gauss_law2; /* second-order states; NULL if none */
  /* Expected drift evaluations per step of size h (NULL: exactly 1). */
  double (*expected_nfe)(const lb_sampler *s, double h);
} lb_sampler_type;

struct lb_sampler {
  const lb_sampler_type *type;
  lb_dynamics dyn;
  void *state;
  char spec[LB_SPEC_MAXLEN];
};

extern const lb_sampler_type *const lb_sampler_types[];

/* Euler-Maruyama for the general process (S) on any dynamics, one drift
 * evaluation per step (lmc.c): the step of lmc (overdamped) and of ulmc
 * (underdamped), which differ only in their dynamics and exact laws. */
size_t lb_em_work(const lb_sampler *s, size_t ld);
void lb_em_step(const lb_sampler *s, const lb_block *blk, double h, double t,
                double *y, long *nfe, double *work);
/* The Poisson midpoint method on any dynamics (pmm.c): the functions of
 * plmc and uplmc, for a binding outside the registry (the DDPM reverse
 * chain, src/diffusion/chain.c, which runs the fine form). */
int lb_pmm_init(lb_sampler *s, lb_spec *spec, lb_err *e);
size_t lb_pmm_work(const lb_sampler *s, size_t ld);
void lb_pmm_step(const lb_sampler *s, const lb_block *blk, double h, double t,
                 double *y, long *nfe, double *work);
const lb_sampler_type *lb_sampler_type_find(const char *name);
/* E[NFE] per step of size h, from the algorithm (what `exact` reports and
 * the tests check the counted NFE against). */
double lb_sampler_expected_nfe(const lb_sampler *s, double h);
/* For families that spend exactly two evaluations per step. */
double lb_nfe_two(const lb_sampler *s, double h);

/* Parse SPEC, bind to target t, reject unknown keys. */
int lb_sampler_alloc(const char *spec, const lb_target *t, lb_sampler **out,
                     lb_err *e);
void lb_sampler_free(lb_sampler *s);

#endif
