/* diffuse.h -- draw samples with a reverse sampler and a model into the
 * run schema (io.h).  GPL-3.0-or-later.
 *
 * Sample c starts from x_N ~ N(0, I) read from the engine's Philox
 * stream (seed, c, substream 0) (lb_streams, rng.h), reads its Gaussians
 * from substream 1 and its midpoints (pmm) from substream 2, so the
 * output is a pure function of (model, sampler, seed), independent of
 * --threads.  Samples are processed in
 * fixed blocks of LB_DIFFUSE_BLOCK rows (one model call per block and
 * step); the block partition does not depend on the threads either.
 */
#ifndef LB_DIFFUSE_H
#define LB_DIFFUSE_H

#include "io.h"
#include "reverse.h"

#define LB_DIFFUSE_BLOCK 256

typedef struct {
  const lb_model *model;
  const lb_dsampler *sampler;
  long samples;
  uint64_t seed;
  int threads;
  long record_every;  /* sampler steps between records; 0: none */
  long record_chains; /* <= LB_DIFFUSE_BLOCK */
} lb_diffuse_cfg;

/* Fills samples, nfe, diverged, trajectory (steps of the sampler's own
 * loop; coarse steps for pmm) and the numeric attributes of out. */
int lb_diffuse(const lb_diffuse_cfg *c, lb_run *out, lb_err *e);

/* Root attributes of a diffusion run besides the run schema's: model,
 * schedule, sampler_resolved, nfe_mean (written after lb_run_write). */
int lb_diffuse_write_attrs(hid_t loc, const lb_model *m,
                           const lb_dsampler *s, const lb_run *r, lb_err *e);

#endif
