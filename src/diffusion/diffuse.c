/* diffuse.c -- the sampling loop of `langbench diffuse` (diffuse.h).
 * GPL-3.0-or-later. */
#include "diffuse.h"

#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

#include "block.h"
#include "rng.h"

typedef struct {
  lb_run *out;
  size_t rec;   /* next record */
  size_t row0;  /* first sample of the block */
  const long *nfe;
  size_t d;
} rec_ctx;

static void on_step(void *vc, long k, size_t B, size_t ld, const double *x) {
  rec_ctx *c = vc;
  lb_run *out = c->out;
  if (c->rec >= out->records || out->trajectory_step[c->rec] != k) return;
  for (size_t r = 0; r < B && c->row0 + r < out->record_chains; r++)
    for (size_t i = 0; i < c->d; i++)
      out->trajectory[(c->rec * out->record_chains + c->row0 + r) * c->d + i] =
          x[i * ld + r];
  int64_t tot = 0;
  for (size_t r = 0; r < B; r++) tot += c->nfe[r];
#pragma omp atomic
  out->trajectory_nfe[c->rec] += tot;
  c->rec++;
}

int lb_diffuse(const lb_diffuse_cfg *c, lb_run *out, lb_err *e) {
  const lb_model *m = c->model;
  const size_t d = m->dim;
  const long n = c->samples, steps = lb_dsampler_steps(c->sampler);
  if (c->record_chains > LB_DIFFUSE_BLOCK)
    return lb_fail(e, LB_EINPUT, "--record-chains: at most %d",
                   LB_DIFFUSE_BLOCK);
  memset(out, 0, sizeof *out);
  out->steps = steps;
  out->chains = n;
  out->seed = (long)c->seed;
  out->dim = (long)d;
  out->threads = c->threads;
  out->record_every = c->record_every;
  out->samples = lb_xcalloc((size_t)n * d, sizeof(double));
  out->nfe = lb_xcalloc((size_t)n, sizeof(int64_t));
  out->diverged = lb_xcalloc((size_t)n, sizeof(int8_t));
  size_t records = 0;
  if (c->record_every > 0) {
    records = (size_t)(steps / c->record_every) + 1 +
              (steps % c->record_every != 0);
    out->record_chains = (size_t)(c->record_chains < n ? c->record_chains : n);
  }
  out->records = records;
  out->trajectory =
      lb_xcalloc(records * out->record_chains * d, sizeof(double));
  out->trajectory_step = lb_xcalloc(records, sizeof(int64_t));
  out->trajectory_nfe = lb_xcalloc(records, sizeof(int64_t));
  for (size_t k = 0; k < records; k++) {
    long s = (long)k * c->record_every;
    out->trajectory_step[k] = s < steps ? s : steps;
  }

  const long nblocks = (n + LB_DIFFUSE_BLOCK - 1) / LB_DIFFUSE_BLOCK;
  long ndiv = 0;
#pragma omp parallel num_threads(c->threads) reduction(+ : ndiv)
  {
    lb_streams *r0 = lb_streams_alloc(LB_DIFFUSE_BLOCK),
               *rn = lb_streams_alloc(LB_DIFFUSE_BLOCK),
               *rc = lb_streams_alloc(LB_DIFFUSE_BLOCK);
    const size_t ldmax = lb_block_ld(LB_DIFFUSE_BLOCK);
    double *x = lb_xcalloc(d * ldmax, sizeof(double));
    long nfe[LB_DIFFUSE_BLOCK];
#pragma omp for schedule(dynamic, 1)
    for (long b = 0; b < nblocks; b++) {
      size_t row0 = (size_t)b * LB_DIFFUSE_BLOCK;
      size_t B = (size_t)n - row0 < LB_DIFFUSE_BLOCK ? (size_t)n - row0
                                                     : LB_DIFFUSE_BLOCK;
      size_t ld = lb_block_ld(B);
      for (size_t r = 0; r < B; r++) {
        uint64_t cidx = (uint64_t)(row0 + r);
        lb_streams_seed(r0, r, c->seed, cidx, 0);
        lb_streams_seed(rn, r, c->seed, cidx, 1);
        lb_streams_seed(rc, r, c->seed, cidx, 2);
        nfe[r] = 0;
      }
      lb_streams_gauss(r0, d, B, NULL, ld, x); /* x_N ~ N(0, I) */
      rec_ctx ctx = {out, 0, row0, nfe, d};
      if (records) on_step(&ctx, 0, B, ld, x);
      lb_dsampler_run(c->sampler, m, B, ld, x, rn, rc, nfe,
                      records ? on_step : NULL, &ctx);
      for (size_t r = 0; r < B; r++) {
        int div = 0;
        for (size_t i = 0; i < d; i++) {
          out->samples[(row0 + r) * d + i] = x[i * ld + r];
          if (!isfinite(x[i * ld + r])) div = 1;
        }
        out->nfe[row0 + r] = nfe[r];
        out->diverged[row0 + r] = (int8_t)div;
        ndiv += div;
      }
    }
    free(x);
    lb_streams_free(r0);
    lb_streams_free(rn);
    lb_streams_free(rc);
  }
  snprintf(out->status, sizeof out->status, "%s", ndiv ? "diverged" : "ok");
  return LB_OK;
}

int lb_diffuse_write_attrs(hid_t loc, const lb_model *m,
                           const lb_dsampler *s, const lb_run *r, lb_err *e) {
  double tot = 0;
  for (long c = 0; c < r->chains; c++) tot += (double)r->nfe[c];
  if (lb_attr_str(loc, "model", m->desc) ||
      lb_attr_str(loc, "model_type", m->type->name) ||
      lb_attr_str(loc, "schedule", m->sched.name) ||
      lb_attr_long(loc, "schedule_steps", m->sched.N) ||
      lb_attr_str(loc, "sampler_resolved", s->desc) ||
      lb_attr_double(loc, "nfe_expected", lb_dsampler_expected_nfe(s)) ||
      lb_attr_double(loc, "nfe_mean", r->chains ? tot / (double)r->chains : 0))
    return lb_fail(e, LB_ERUNTIME, "cannot write the diffusion attributes");
  return LB_OK;
}
