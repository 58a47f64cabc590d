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
} lb_sim;

/* Record steps: 0, R, 2R, ... and always the last step. */
size_t lb_sim_records(long steps, long record_every);

/* Fills the datasets of `out` (samples, velocities, nfe, diverged,
 * trajectory, trajectory_step, trajectory_nfe), status and the numeric
 * attributes.  In coupled mode `fine_out` receives the fine sampler's run
 * (its trajectory recorded at the same physical times); otherwise it may
 * be NULL. */
int lb_simulate(const lb_sim *sim, lb_run *out, lb_run *fine_out, lb_err *e);

#endif
