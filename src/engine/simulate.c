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

static void alloc_run(lb_run *out, const lb_sim *sim, size_t n, size_t d,
                      size_t records, long rc_chains, const int64_t *rsteps) {
  out->step = sim->step;
  out->steps = sim->steps;
  out->chains = sim->chains;
  out->seed = (long)sim->seed;
  out->dim = (long)d;
  out->threads = sim->threads;
  out->record_every = sim->record_at ? 0 : sim->record_every;
  out->records = records;
  out->record_chains = (size_t)rc_chains;
  size_t cd = (size_t)sim->chains * d;
  out->samples = lb_xcalloc(cd, sizeof(double));
  out->velocities = n > d ? lb_xcalloc(cd, sizeof(double)) : NULL;
  out->nfe = lb_xcalloc((size_t)sim->chains, sizeof(int64_t));
  out->diverged = lb_xcalloc((size_t)sim->chains, sizeof(int8_t));
  out->trajectory = lb_xcalloc(records * (size_t)rc_chains * d, sizeof(double));
  out->trajectory_step = lb_xcalloc(records, sizeof(int64_t));
  out->trajectory_nfe = lb_xcalloc(records, sizeof(int64_t));
  if (records) memcpy(out->trajectory_step, rsteps, records * sizeof(int64_t));
}

/* Per-thread state of one sampler. */
typedef struct {
  const lb_sampler *s;
  double *y, *work;
} chain_ws;

static void ws_alloc(chain_ws *w, const lb_sampler *s) {
  w->s = s;
  w->y = lb_xcalloc(s->dyn.n, sizeof(double));
  w->work = lb_xcalloc(s->type->work_size(s), sizeof(double));
}

static void ws_free(chain_ws *w) {
  free(w->y);
  free(w->work);
}

/* Store the final state of chain c and its flags. */
static void finish_chain(lb_run *out, long c, const double *y, size_t d,
                         long nfe, int div) {
  memcpy(out->samples + (size_t)c * d, y, d * sizeof *y);
  if (out->velocities)
    memcpy(out->velocities + (size_t)c * d, y + d, d * sizeof *y);
  out->nfe[c] = nfe;
  out->diverged[c] = (int8_t)div;
}

static void record(lb_run *out, size_t rec, long c, const double *y,
                   size_t d, long nfe) {
  if (c < (long)out->record_chains)
    memcpy(out->trajectory + (rec * out->record_chains + (size_t)c) * d, y,
           d * sizeof *y);
#pragma omp atomic
  out->trajectory_nfe[rec] += nfe;
}

/* Fill the records after a divergence with NaN. */
static void nan_rest(lb_run *out, size_t rec, long c, size_t d) {
  for (; rec < out->records && c < (long)out->record_chains; rec++)
    for (size_t i = 0; i < d; i++)
      out->trajectory[(rec * out->record_chains + (size_t)c) * d + i] = NAN;
}

int lb_simulate(const lb_sim *sim, lb_run *out, lb_run *fine_out, lb_err *e) {
  const lb_sampler *sm = sim->sampler;
  size_t d = sim->target->dim, n = sm->dyn.n;
  long chains = sim->chains;

  /* the record schedule */
  int64_t *rsteps = NULL;
  size_t records = 0;
  if (sim->record_at) {
    records = sim->n_record_at;
    rsteps = lb_xcalloc(records, sizeof *rsteps);
    memcpy(rsteps, sim->record_at, records * sizeof *rsteps);
  } else if (sim->record_every > 0) {
    records = lb_sim_records(sim->steps, sim->record_every);
    rsteps = lb_xcalloc(records, sizeof *rsteps);
    for (size_t k = 0; k < records; k++) {
      long s = (long)k * sim->record_every;
      rsteps[k] = s > sim->steps ? sim->steps : s;
    }
  }
  long rc_chains = records ? sim->record_chains : 0;
  if (rc_chains > chains) rc_chains = chains;
  alloc_run(out, sim, n, d, records, rc_chains, rsteps);

  long K = 1;
  if (sim->fine) {
    K = sm->type->fine_steps ? sm->type->fine_steps(sm) : 1;
    if (K < 1 || !sm->type->step_coupled || !sim->fine->type->step_coupled) {
      free(rsteps);
      return lb_fail(e, LB_EINPUT,
                     "coupled mode needs samplers with coupled stepping and a "
                     "finite K");
    }
    alloc_run(fine_out, sim, sim->fine->dyn.n, d, records, rc_chains, rsteps);
    fine_out->step = sim->step / (double)K;
    fine_out->steps = sim->steps * K;
    for (size_t k = 0; k < records; k++) fine_out->trajectory_step[k] *= K;
  }
  free(rsteps);

  long ndiv = 0;
#pragma omp parallel num_threads(sim->threads) reduction(+ : ndiv)
  {
    gsl_rng *r = lb_rng_alloc(), *rz = lb_rng_alloc(), *rf = lb_rng_alloc();
    chain_ws w, wf = {0};
    ws_alloc(&w, sm);
    if (sim->fine) ws_alloc(&wf, sim->fine);
#pragma omp for schedule(dynamic, 16)
    for (long c = 0; c < chains; c++) {
      lb_rng_seed(r, sim->seed, (uint64_t)c, 0);
      memset(w.y, 0, n * sizeof *w.y);
      lb_init_draw(sim->init, r, w.y);
      if (n > d) lb_init_draw_velocity(sim->init, r, w.y + d);
      if (sim->fine) memcpy(wf.y, w.y, sim->fine->dyn.n * sizeof *wf.y);
      lb_rng_seed(r, sim->seed, (uint64_t)c, 1);
      lb_rng_seed(rz, sim->seed, (uint64_t)c, 2);
      lb_rng_seed(rf, sim->seed, (uint64_t)c, 2);
      long nfe = 0, nfe_f = 0;
      int div = 0, div_f = 0;
      size_t rec = 0;
      for (long t = 0;; t++) {
        if (rec < records && out->trajectory_step[rec] == t) {
          record(out, rec, c, w.y, d, nfe);
          if (sim->fine) record(fine_out, rec, c, wf.y, d, nfe_f);
          rec++;
        }
        if (t == sim->steps) break;
        if (sim->fine) {
          if (!div)
            nfe += sm->type->step_coupled(sm, sim->step, w.y, w.work, r, rz);
          if (!div_f)
            for (long k = 0; k < K; k++)
              nfe_f += sim->fine->type->step_coupled(
                  sim->fine, sim->step / (double)K, wf.y, wf.work, r, rf);
          div = div || !lb_all_finite(w.y, n);
          div_f = div_f || !lb_all_finite(wf.y, sim->fine->dyn.n);
          if (div && div_f) break;
        } else {
          nfe += sm->type->step(sm, sim->step, w.y, w.work, r);
          if (!lb_all_finite(w.y, n)) {
            div = 1;
            break;
          }
        }
      }
      if (div) nan_rest(out, rec, c, d);
      finish_chain(out, c, w.y, d, nfe, div);
      if (sim->fine) {
        if (div_f) nan_rest(fine_out, rec, c, d);
        finish_chain(fine_out, c, wf.y, d, nfe_f, div_f);
      }
      ndiv += div;
    }
    ws_free(&w);
    if (sim->fine) ws_free(&wf);
    gsl_rng_free(rf);
    gsl_rng_free(rz);
    gsl_rng_free(r);
  }
  snprintf(out->status, sizeof out->status, "%s", ndiv ? "diverged" : "ok");
  if (fine_out && sim->fine) {
    long nd = 0;
    for (long c = 0; c < chains; c++) nd += fine_out->diverged[c];
    snprintf(fine_out->status, sizeof fine_out->status, "%s",
             nd ? "diverged" : "ok");
  }
  return LB_OK;
}
