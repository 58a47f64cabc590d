/* simulate.c -- the chain loop.  GPL-3.0-or-later. */
#include "simulate.h"

#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

#include "rng.h"
#include "vmath.h"

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

/* Per-thread state of one sampler on one block. */
typedef struct {
  const lb_sampler *s;
  double *y, *work, *frozen; /* n x ld each; frozen: state at divergence */
  long *nfe_step;
  int64_t *nfe;
  int *div;
} block_ws;

static void ws_alloc(block_ws *w, const lb_sampler *s, size_t ld) {
  w->s = s;
  w->y = lb_xcalloc(s->dyn.n * ld, sizeof(double));
  w->frozen = lb_xcalloc(s->dyn.n * ld, sizeof(double));
  w->work = lb_xcalloc(s->type->work_size(s, ld), sizeof(double));
  w->nfe_step = lb_xcalloc(ld, sizeof(long));
  w->nfe = lb_xcalloc(ld, sizeof(int64_t));
  w->div = lb_xcalloc(ld, sizeof(int));
}

static void ws_free(block_ws *w) {
  free(w->y);
  free(w->frozen);
  free(w->work);
  free(w->nfe_step);
  free(w->nfe);
  free(w->div);
}

/* Row r of a block state (n x ld) into a contiguous buffer. */
static void row_get(const double *y, size_t n, size_t ld, size_t r,
                    double *out) {
  for (size_t i = 0; i < n; i++) out[i] = y[i * ld + r];
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

/* ok[r] = 1 when row r of y (n x ld) is finite: v - v is 0 exactly for
 * finite v and NaN otherwise; unit-stride over the rows. */
LB_VECTOR_CLONES
static void finite_rows(size_t n, size_t B, size_t ld, const double *y,
                        unsigned char *ok) {
  for (size_t r = 0; r < B; r++) ok[r] = 1;
  for (size_t i = 0; i < n; i++) {
    const double *yi = y + i * ld;
#pragma omp simd
    for (size_t r = 0; r < B; r++) ok[r] &= (unsigned char)(yi[r] - yi[r] == 0.0);
  }
}

/* The common case of a step, vectorised: when every row was live and is
 * still finite, nfe += nfe_step on all rows and return 1; else change
 * nothing and return 0. */
LB_VECTOR_CLONES
static int count_step(size_t B, const unsigned char *ok, const int *div,
                      const long *nfe_step, int64_t *nfe) {
  int bad = 0;
#pragma omp simd reduction(| : bad)
  for (size_t r = 0; r < B; r++) bad |= div[r] | !ok[r];
  if (bad) return 0;
#pragma omp simd
  for (size_t r = 0; r < B; r++) nfe[r] += nfe_step[r];
  return 1;
}

/* One step of every row of w; rows that were live count their NFE, rows
 * that become non-finite are frozen (their state kept as it was at the
 * divergence, as if they had stopped).  Returns 1 when a row diverged in
 * this step. */
static int block_step(block_ws *w, const lb_block *blk, double h, double t,
                       int coupled) {
  const lb_sampler *s = w->s;
  size_t n = s->dyn.n, ld = blk->ld;
  if (coupled)
    s->type->step_coupled(s, blk, h, t, w->y, w->nfe_step, w->work);
  else
    s->type->step(s, blk, h, t, w->y, w->nfe_step, w->work);
  unsigned char ok[LB_BLOCK_MAX];
  finite_rows(n, blk->B, ld, w->y, ok);
  if (count_step(blk->B, ok, w->div, w->nfe_step, w->nfe)) return 0;
  int news = 0;
  for (size_t r = 0; r < blk->B; r++) {
    if (w->div[r]) continue;
    w->nfe[r] += w->nfe_step[r];
    if (!ok[r]) {
      w->div[r] = 1;
      news = 1;
      for (size_t i = 0; i < n; i++) w->frozen[i * ld + r] = w->y[i * ld + r];
    }
  }
  return news;
}

/* The state of row r: frozen when diverged. */
static void row_state(const block_ws *w, size_t ld, size_t r, double *out) {
  row_get(w->div[r] ? w->frozen : w->y, w->s->dyn.n, ld, r, out);
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
    if (K < 1 || !sm->type->step_coupled || !sim->fine->type->step_coupled ||
        sim->fine->dyn.type != sm->dyn.type) {
      free(rsteps);
      return lb_fail(e, LB_EINPUT,
                     "coupled mode needs samplers with coupled stepping, one "
                     "dynamics and a finite K");
    }
    alloc_run(fine_out, sim, sim->fine->dyn.n, d, records, rc_chains, rsteps);
    fine_out->step = sim->step / (double)K;
    fine_out->steps = sim->steps * K;
    for (size_t k = 0; k < records; k++) fine_out->trajectory_step[k] *= K;
  }
  free(rsteps);

  size_t Bs = sim->block ? (size_t)sim->block : LB_BLOCK_DEFAULT;
  if (Bs > LB_BLOCK_MAX) Bs = LB_BLOCK_MAX;
  size_t ld = lb_block_ld(Bs);
  long nblocks = (chains + (long)Bs - 1) / (long)Bs;
  size_t nmax = sim->fine && sim->fine->dyn.n > n ? sim->fine->dyn.n : n;
  const lb_accum *acc = sim->accum;
  long ndiv = 0;
#pragma omp parallel num_threads(sim->threads) reduction(+ : ndiv)
  {
    gsl_rng *r0 = lb_rng_alloc();
    lb_streams *r = lb_streams_alloc(ld), *rz = NULL, *rf = NULL;
    block_ws w, wf = {0};
    double *row = lb_xcalloc(nmax, sizeof(double));
    int *going = lb_xcalloc(ld, sizeof(int));
    ws_alloc(&w, sm, ld);
    if (sim->fine) {
      ws_alloc(&wf, sim->fine, ld);
      rz = lb_streams_alloc(ld);
      rf = lb_streams_alloc(ld);
    }
    lb_block blk = {0, ld, r, sim->fine ? rz : r};
    lb_block blkf = {0, ld, r, rf};
#pragma omp for schedule(dynamic, 1)
    for (long bi = 0; bi < nblocks; bi++) {
      long c0 = bi * (long)Bs;
      size_t B = (size_t)(chains - c0 < (long)Bs ? chains - c0 : (long)Bs);
      blk.B = blkf.B = B;
      memset(w.y, 0, n * ld * sizeof *w.y);
      for (size_t j = 0; j < B; j++) {
        uint64_t c = (uint64_t)c0 + j;
        lb_rng_seed(r0, sim->seed, c, 0);
        memset(row, 0, n * sizeof *row);
        lb_init_draw(sim->init, r0, row);
        if (n > d) lb_init_draw_velocity(sim->init, r0, row + d);
        for (size_t i = 0; i < n; i++) w.y[i * ld + j] = row[i];
        lb_streams_seed(r, j, sim->seed, c,
                        sim->ctl_substream ? sim->ctl_substream : 1);
        if (sim->fine) {
          lb_streams_seed(rz, j, sim->seed, c, 2);
          lb_streams_seed(rf, j, sim->seed, c, 2);
        }
        w.nfe[j] = 0;
        w.div[j] = 0;
        going[j] = 1;
      }
      if (sim->fine) {
        size_t nf = sim->fine->dyn.n;
        memset(wf.y, 0, nf * ld * sizeof *wf.y);
        for (size_t i = 0; i < nf && i < n; i++)
          memcpy(wf.y + i * ld, w.y + i * ld, B * sizeof *wf.y);
        for (size_t j = 0; j < B; j++) {
          wf.nfe[j] = 0;
          wf.div[j] = 0;
        }
      }
      size_t rec = 0, ngoing = B;
      for (long t = 0;; t++) {
        if (rec < records && out->trajectory_step[rec] == t) {
          for (size_t j = 0; j < B; j++) {
            if (!going[j]) continue;
            row_state(&w, ld, j, row);
            record(out, rec, c0 + (long)j, row, d, (long)w.nfe[j]);
            if (sim->fine) {
              row_state(&wf, ld, j, row);
              record(fine_out, rec, c0 + (long)j, row, d, (long)wf.nfe[j]);
            }
          }
          rec++;
        }
        if (acc && t >= acc->from) /* time averages: every step */
          for (size_t j = 0; j < B; j++) {
            if (!going[j]) continue;
            size_t c = (size_t)c0 + j;
            row_state(&w, ld, j, row);
            acc->add(acc, row, acc->sums + c * acc->nf);
            if (sim->fine) {
              row_state(&wf, ld, j, row);
              acc->add(acc, row, acc->fine_sums + c * acc->nf);
            }
          }
        if (t == sim->steps || ngoing == 0) break;
        double tt = (double)t * sim->step;
        int news; /* a row diverged in this step */
        if (sim->fine) {
          news = block_step(&w, &blk, sim->step, tt, 1);
          double hf = sim->step / (double)K;
          for (long k = 0; k < K && !sim->fine_idle; k++)
            news |= block_step(&wf, &blkf, hf, tt + (double)k * hf, 1);
        } else {
          news = block_step(&w, &blk, sim->step, tt, 0);
        }
        /* rows that stop here: coupled rows when both have diverged (the
         * flags change only in block_step) */
        for (size_t j = 0; j < B && news; j++) {
          if (!going[j]) continue;
          int stop = sim->fine ? (w.div[j] && wf.div[j]) : w.div[j];
          if (!stop) continue;
          going[j] = 0;
          ngoing--;
          long c = c0 + (long)j;
          nan_rest(out, rec, c, d);
          row_state(&w, ld, j, row);
          finish_chain(out, c, row, d, (long)w.nfe[j], 1);
          if (sim->fine) {
            nan_rest(fine_out, rec, c, d);
            row_state(&wf, ld, j, row);
            finish_chain(fine_out, c, row, d, (long)wf.nfe[j], 1);
          }
          ndiv++;
        }
      }
      for (size_t j = 0; j < B; j++) {
        if (!going[j]) continue;
        long c = c0 + (long)j;
        if (w.div[j]) nan_rest(out, rec, c, d);
        row_state(&w, ld, j, row);
        finish_chain(out, c, row, d, (long)w.nfe[j], w.div[j]);
        if (sim->fine) {
          if (wf.div[j]) nan_rest(fine_out, rec, c, d);
          row_state(&wf, ld, j, row);
          finish_chain(fine_out, c, row, d, (long)wf.nfe[j], wf.div[j]);
        }
        ndiv += w.div[j];
      }
    }
    ws_free(&w);
    if (sim->fine) ws_free(&wf);
    lb_streams_free(rf);
    lb_streams_free(rz);
    lb_streams_free(r);
    free(row);
    free(going);
    gsl_rng_free(r0);
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
