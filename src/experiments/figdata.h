/* figdata.h -- figure inputs from an experiment file (`langbench export
 * FILE.h5 --figure-data DIR`).  GPL-3.0-or-later.
 *
 * Writes into DIR whichever of these the experiment supports (formats:
 * plots/README.md, "Figure 3" and "Figure 4"):
 *
 *   ring8_samples.csv   sampler,K,option,gamma,step,x,y
 *       from the cells whose target is gmm:preset=ring8 and whose sampler
 *       family is lmc or plmc: the final positions (/samples) of the first
 *       LB_FIG_RING8_POINTS finite chains of each cell, at up to three step
 *       sizes (the largest, the middle and the smallest of those cells).
 *   ring8_density.csv   x,y,density
 *       the target's density on a LB_FIG_GRID x LB_FIG_GRID grid (rows
 *       ordered by x then y) over a square box covering the samples (their
 *       0.1% to 99.9% quantiles in each coordinate, widened by 10%).
 *   double_well_trajectories.csv   sampler,K,option,gamma,step,chain,time,x1
 *       the first LB_FIG_DW_CHAINS recorded chains' x1 at every record.
 *   double_well_fractions.csv
 *       sampler,K,option,gamma,step,time,frac_left,frac_left_stderr,exact_left
 *       at every record: the fraction of the finite recorded chains with
 *       x1 < 0 (the left well), its binomial standard error
 *       sqrt(f (1 - f) / n), and the exact weight P(x1 < 0) of the target
 *       (its marginal CDF at 0).
 *       Both from the cells whose target family is double_well and whose
 *       /trajectory holds every chain (trajectory_chains = chains in the
 *       experiment file), so that the fraction is over all chains.
 *
 * Where several seeds share a configuration (sampler, K, option, gamma,
 * step), the smallest seed is used; where several ring8 or double-well
 * target SPECs qualify, the first in byte order is used (a note on stderr
 * names the others).  Each file is written as NAME.part and renamed.
 */
#ifndef LB_FIGDATA_H
#define LB_FIGDATA_H

#include <hdf5.h>
#include <stdio.h>

#include "lb.h"

#define LB_FIG_RING8_POINTS 3000
#define LB_FIG_GRID 101
#define LB_FIG_DW_CHAINS 5

/* Write the figure inputs of the open experiment file `file` into `dir`
 * (created if missing).  The paths written are printed on `out`, one per
 * line; notes (skipped cells, nothing to write) go to stderr.  Returns
 * LB_OK, LB_EINPUT (dir cannot be created, cells unreadable) or
 * LB_ERUNTIME (a write failed), with a message in e. */
int lb_figure_data(hid_t file, const char *dir, FILE *out, lb_err *e);

#endif
