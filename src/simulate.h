/* simulate.h -- run independent chains of a sampler on a target.
 * GPL-3.0-or-later.
 *
 * Chain c draws its initial point from stream (seed, c, substream 0) and
 * its dynamics noise from (seed, c, substream 1) of the Philox generator,
 * so the result is a pure function of the configuration and the seed:
 * bit-identical for any number of threads.
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
  long record_every;  /* 0: no trajectory */
  long record_chains; /* chains 0..record_chains-1 are recorded */
} lb_sim;

/* Record steps: 0, R, 2R, ... and always the last step. */
size_t lb_sim_records(long steps, long record_every);

/* Fills the datasets of `out` (samples, velocities, nfe, diverged,
 * trajectory, trajectory_step), status and the numeric attributes. */
int lb_simulate(const lb_sim *sim, lb_run *out, lb_err *e);

#endif
