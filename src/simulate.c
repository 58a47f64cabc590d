/* simulate.c -- the chain loop.  GPL-3.0-or-later. */
#include "simulate.h"

#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

#include "rng.h"

size_t lb_sim_records(long steps, long every) {
  if (every <= 0) return 0;
  return (size_t)(steps / every) + 1 + (steps % every != 0);
}

static long record_step(long k, long steps, long every) {
  long s = k * every;
  return s > steps ? steps : s;
}

int lb_simulate(const lb_sim *sim, lb_run *out, lb_err *e) {
  const lb_sampler *sm = sim->sampler;
  size_t d = sim->target->dim, n = sm->dyn.n;
  long chains = sim->chains;
  long rc_chains = sim->record_every > 0 ? sim->record_chains : 0;
  if (rc_chains > chains) rc_chains = chains;
  size_t records = rc_chains > 0 ? lb_sim_records(sim->steps, sim->record_every) : 0;
  if (records == 0) rc_chains = 0;

  out->step = sim->step;
  out->steps = sim->steps;
  out->chains = chains;
  out->seed = (long)sim->seed;
  out->dim = (long)d;
  out->threads = sim->threads;
  out->record_every = sim->record_every;
  out->records = records;
  out->record_chains = (size_t)rc_chains;
  out->samples = lb_xcalloc((size_t)chains * d, sizeof(double));
  out->velocities =
      n > d ? lb_xcalloc((size_t)chains * d, sizeof(double)) : NULL;
  out->nfe = lb_xcalloc((size_t)chains, sizeof(int64_t));
  out->diverged = lb_xcalloc((size_t)chains, sizeof(int8_t));
  out->trajectory = lb_xcalloc(records * (size_t)rc_chains * d, sizeof(double));
  out->trajectory_step = lb_xcalloc(records, sizeof(int64_t));
  for (size_t k = 0; k < records; k++)
    out->trajectory_step[k] = record_step((long)k, sim->steps, sim->record_every);

  size_t wsize = sm->type->work_size(sm);
  long ndiv = 0;
#pragma omp parallel num_threads(sim->threads) reduction(+ : ndiv)
  {
    gsl_rng *r = lb_rng_alloc();
    double *y = lb_xcalloc(n, sizeof(double));
    double *work = lb_xcalloc(wsize, sizeof(double));
#pragma omp for schedule(dynamic, 16)
    for (long c = 0; c < chains; c++) {
      lb_rng_seed(r, sim->seed, (uint64_t)c, 0);
      memset(y, 0, n * sizeof *y);
      lb_init_draw(sim->init, r, y); /* velocity part starts at 0 */
      lb_rng_seed(r, sim->seed, (uint64_t)c, 1);
      long nfe = 0;
      int div = 0;
      size_t rec = 0;
      double *traj = c < rc_chains ? out->trajectory + (size_t)c * d : NULL;
      size_t rstride = (size_t)rc_chains * d;
      for (long t = 0;; t++) {
        if (traj && rec < records && out->trajectory_step[rec] == t) {
          memcpy(traj + rec * rstride, y, d * sizeof *y);
          rec++;
        }
        if (t == sim->steps) break;
        nfe += sm->type->step(sm, sim->step, y, work, r);
        if (!lb_all_finite(y, n)) {
          div = 1;
          break;
        }
      }
      for (; traj && rec < records; rec++) /* after divergence */
        for (size_t i = 0; i < d; i++) traj[rec * rstride + i] = NAN;
      memcpy(out->samples + (size_t)c * d, y, d * sizeof *y);
      if (out->velocities)
        memcpy(out->velocities + (size_t)c * d, y + d, d * sizeof *y);
      out->nfe[c] = nfe;
      out->diverged[c] = (int8_t)div;
      ndiv += div;
    }
    free(work);
    free(y);
    gsl_rng_free(r);
  }
  snprintf(out->status, sizeof out->status, "%s", ndiv ? "diverged" : "ok");
  (void)e;
  return LB_OK;
}
