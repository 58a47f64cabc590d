/* simulate.h -- run independent chains of a sampler on a target.
 * GPL-3.0-or-later.
 *
 * Chain c draws its initial point from stream (seed, c, substream 0) and
 * its dynamics noise from (seed, c, substream 1) of the Philox generator,
 * so the result is a pure function of the configuration and the seed:
 * bit-identical for any number of threads and any block size.  Chains are
 * stepped in blocks of consecutive chains (block.h), one block per thread
 * at a time; a chain that diverges is frozen at its non-finite state
 * while the rest of its block goes on.
 *
 * Coupled mode (sim.fine != NULL): every chain is also run with the
 * sampler `fine` at step step/K for K steps per coarse step, and both read
 * their Brownian increments from substream 2 (sampler.h, step_coupled), so
 * the two share one Brownian path; the coarse sampler's other randomness
 * (midpoint indices) comes from substream 1.
 */
#ifndef LB_SIMULATE_H
#define LB_SIMULATE_H

#include "io.h"
#include "sampler.h"
#include "target.h"

typedef struct {
  const lb_target *target;
  const lb_sampler *sampler;
  const lb_init *init;
  double step;
  long steps, chains;
  uint64_t seed;
  int threads;
  long record_every;  /* 0: no trajectory (unless record_at is set) */
  long record_chains; /* chains 0..record_chains-1 are recorded */
  /* Optional explicit record steps (ascending, within [0, steps]); when
   * set they replace record_every. */
  const int64_t *record_at;
  size_t n_record_at;
  const lb_sampler *fine; /* coupled mode: e.g. LMC at step/K */
  long block; /* chains per block (block.h); 0: LB_BLOCK_DEFAULT.  The
                 output does not depend on it. */
  const struct lb_accum *accum; /* time averages (below); NULL: none */
  /* Substream of the sampler's own randomness (PLMC's midpoint times;
   * in coupled mode everything but the Brownian path); 0 means 1.  A
   * second coupled run with another value differs from the first only in
   * those draws (the law_w2 noise floor, runner.c). */
  uint64_t ctl_substream;
  /* Coupled mode only: step the coarse sampler exactly as when coupled
   * but leave the fine chains where they start (their output is then
   * meaningless; the law_w2 floor's second run needs only the coarse). */
  int fine_idle;
} lb_sim;

/* Accumulation along the chains, for time averages over ALL steps (not
 * only the recorded ones).  For every chain c and every t in [from,
 * steps] the simulator calls add(a, X_t, sums + c * nf) with X_t the
 * chain's state after t steps (its first dim coordinates), so a chain's
 * row ends up holding the sums of nf functions of its states over
 * steps - from + 1 states; in coupled mode the fine chain's states at the
 * same physical times (every K fine steps) go to fine_sums the same way.
 * The caller zeroes the sums; a diverged chain's row is meaningless (its
 * diverged flag is set).  add must be reentrant (threads call it for
 * different chains).  Cost: one row gather and one add per chain-step. */
typedef struct lb_accum {
  long from;
  size_t nf;
  void (*add)(const struct lb_accum *a, const double *x, double *sums);
  const void *ctx;   /* the caller's, for add */
  double *sums;      /* [chains x nf] */
  double *fine_sums; /* [chains x nf] in coupled mode, else NULL */
} lb_accum;

/* Record steps: 0, R, 2R, ... and always the last step. */
size_t lb_sim_records(long steps, long record_every);

/* Fills the datasets of `out` (samples, velocities, nfe, diverged,
 * trajectory, trajectory_step, trajectory_nfe), status and the numeric
 * attributes.  In coupled mode `fine_out` receives the fine sampler's run
 * (its trajectory recorded at the same physical times); otherwise it may
 * be NULL. */
int lb_simulate(const lb_sim *sim, lb_run *out, lb_run *fine_out, lb_err *e);

#endif
