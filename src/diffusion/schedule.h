/* schedule.h -- the discrete DDPM forward process (diffusion.md section 1).
 *
 * GPL-3.0-or-later.
 *
 * Steps s = 1..N, betas beta_s, alpha_s = 1 - beta_s,
 * abar_s = prod_{j<=s} alpha_j, abar_0 = 1;
 *     x_s = sqrt(abar_s) x_0 + sqrt(1 - abar_s) eps.
 * Arrays are indexed by s = 0..N (entry 0: beta = 0, abar = 1).
 */
#ifndef LB_SCHEDULE_H
#define LB_SCHEDULE_H

#include <stddef.h>

#include "lb.h"

#define LB_SCHED_MAXN 4000

typedef struct {
  char name[32]; /* "paper" or "linear" */
  int N;         /* number of steps, 1000 by default */
  double beta[LB_SCHED_MAXN + 1];
  double abar[LB_SCHED_MAXN + 1];
} lb_schedule;

/* `paper`: beta = linspace(sqrt(0.0015), sqrt(0.0195), N)^2 (the
 * latent-diffusion configurations the paper used); `linear`: beta =
 * linspace(1e-4, 0.02, N) (Ho et al. 2020).  LB_EINPUT naming the
 * schedule when the name is unknown or N is out of [2, LB_SCHED_MAXN]. */
int lb_schedule_init(lb_schedule *s, const char *name, int N, lb_err *e);

/* ---- continuous view (diffusion.md section 3) ----------------------
 * As DPM-Solver's NoiseScheduleVP('discrete'): t_i = i/N, log alpha(t_i)
 * = log(abar_i)/2, piecewise linear in t between the nodes i = 0..N
 * (node 0: log alpha = 0); sigma(t) = sqrt(1 - alpha(t)^2); lambda(t) =
 * log alpha(t) - log sigma(t) (half the log-SNR), strictly decreasing.
 * A model's step argument s is N t (integer s: the chain's own abar_s). */
double lb_schedule_log_alpha(const lb_schedule *s, double t);
/* abar at a real step s in [0, N]: exactly abar[s] at integers. */
double lb_schedule_abar_at(const lb_schedule *s, double step);
/* log sigma(t) = log(1 - alpha^2)/2, via log(-expm1(2 log alpha)). */
double lb_schedule_log_sigma(const lb_schedule *s, double t);
double lb_schedule_lambda(const lb_schedule *s, double t);
/* The t in [0, 1] with lambda(t) = l (bisection on the nodes, then the
 * linear piece solved exactly for log alpha). */
double lb_schedule_inverse_lambda(const lb_schedule *s, double l);

#endif
