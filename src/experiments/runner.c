/* runner.c -- run an experiment's cells and assemble the experiment file.
 * GPL-3.0-or-later.
 *
 * Crash safety: a cell is written to OUT.cells/<hash>.h5.part-HOST-PID by
 * the holder of its claim (cellstore.h) and renamed when complete; the
 * experiment file is assembled from the completed cells, in grid order,
 * into OUT.part and renamed.  HDF5 files being written when a process dies
 * can be unreadable, so nothing that is already complete is ever opened
 * for writing again.  Rerunning skips every cell whose file is complete
 * and readable (others are set aside and recomputed), and because a cell
 * is a pure function of its key, the rerun's data equal an uninterrupted
 * run's bit for bit, whichever processes (shards, MPI ranks: mpisched.c)
 * computed which cells.
 *
 * Each cell file holds the run schema (io.h) for the sampler, /metrics
 * (one row per record and metric, plus "diverged": the fraction of chains
 * no longer finite, which the other metrics leave out), the cell's parameters as attributes,
 * and in coupled mode /fine (the fine LMC run, ULMC for underdamped
 * samplers, on the same Brownian path).
 */
#include <errno.h>
#include <ftw.h>
#include <gsl/gsl_randist.h>
#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "experiment.h"
#include "io.h"
#include "metrics.h"
#include "rng.h"
#include "runner.h"
#include "simulate.h"

/* ---- the metrics table ----------------------------------------------------- */

typedef lb_metric_row metric_row;

static hid_t metric_row_type(void) {
  hid_t s = H5Tcopy(H5T_C_S1);
  H5Tset_size(s, 32);
  hid_t t = H5Tcreate(H5T_COMPOUND, sizeof(metric_row));
  H5Tinsert(t, "record_step", HOFFSET(metric_row, record_step), H5T_NATIVE_INT64);
  H5Tinsert(t, "time", HOFFSET(metric_row, time), H5T_NATIVE_DOUBLE);
  H5Tinsert(t, "nfe_mean", HOFFSET(metric_row, nfe_mean), H5T_NATIVE_DOUBLE);
  H5Tinsert(t, "metric", HOFFSET(metric_row, metric), s);
  H5Tinsert(t, "estimate", HOFFSET(metric_row, estimate), H5T_NATIVE_DOUBLE);
  H5Tinsert(t, "stderr", HOFFSET(metric_row, stderr_), H5T_NATIVE_DOUBLE);
  H5Tinsert(t, "floor", HOFFSET(metric_row, floor_), H5T_NATIVE_DOUBLE);
  H5Tinsert(t, "n", HOFFSET(metric_row, n), H5T_NATIVE_INT64);
  H5Tclose(s);
  return t;
}

static int write_rows(hid_t loc, const metric_row *rows, size_t n) {
  hid_t t = metric_row_type();
  hsize_t dims[1] = {n};
  hid_t sp = H5Screate_simple(1, dims, NULL);
  hid_t ds = H5Dcreate2(loc, "metrics", t, sp, H5P_DEFAULT, H5P_DEFAULT,
                        H5P_DEFAULT);
  herr_t st = ds < 0 ? -1
              : n   ? H5Dwrite(ds, t, H5S_ALL, H5S_ALL, H5P_DEFAULT, rows)
                    : 0;
  if (ds >= 0) H5Dclose(ds);
  H5Sclose(sp);
  H5Tclose(t);
  return st < 0 ? -1 : 0;
}

int lb_cell_write_metrics(hid_t loc, const lb_metric_row *rows, size_t n) {
  return write_rows(loc, rows, n);
}

int lb_cell_read_metrics(hid_t loc, lb_metric_row **out, size_t *n) {
  *out = NULL;
  *n = 0;
  if (H5Lexists(loc, "metrics", H5P_DEFAULT) <= 0) return -1;
  hid_t ds = H5Dopen2(loc, "metrics", H5P_DEFAULT);
  if (ds < 0) return -1;
  hid_t sp = H5Dget_space(ds);
  hsize_t dims[1] = {0};
  /* a damaged header may claim any rank or size: check before reading */
  if (sp < 0 || H5Sget_simple_extent_ndims(sp) != 1 ||
      H5Sget_simple_extent_dims(sp, dims, NULL) != 1 ||
      lb_dataset_plausible(ds, dims[0]) != 0) {
    if (sp >= 0) H5Sclose(sp);
    H5Dclose(ds);
    return -1;
  }
  hid_t t = metric_row_type();
  metric_row *rows = lb_xcalloc(dims[0], sizeof *rows);
  herr_t st = dims[0] ? H5Dread(ds, t, H5S_ALL, H5S_ALL, H5P_DEFAULT, rows) : 0;
  H5Tclose(t);
  H5Sclose(sp);
  H5Dclose(ds);
  if (st < 0) {
    free(rows);
    return -1;
  }
  /* a name that fills all 32 bytes arrives without its NUL */
  for (hsize_t i = 0; i < dims[0]; i++) rows[i].metric[sizeof rows[i].metric - 1] = '\0';
  *out = rows;
  *n = dims[0];
  return 0;
}

/* ---- coupled metrics -------------------------------------------------------
 * path_rmse = sqrt(mean_c |X_c - Y_c|^2) over chain pairs (standard error by
 * the delta method); law_w2 = mean over coordinates of the 1-D W2 between
 * the two empirical marginals (exact for 1-D empirical laws: sorted
 * matching), standard error from 50 seeded bootstrap resamples of the
 * pairs.  Noise floor of law_w2: the same estimator between the coarse
 * run and a second coupled run of the same sampler on the same Brownian
 * path that differs only in the sampler's own draws (midpoint times:
 * lb_sim.ctl_substream = 3): the two laws are equal, so what it measures
 * is the estimator's noise for samples coupled this way (two independent
 * exact samples, the natural floor of uncoupled metrics, measure noise
 * that coupled samples share and cancel: it lies 3-10x above every law_w2
 * measured in plmc_vs_fine_lmc).  The second run doubles the coarse
 * sampler's cost (its fine chains stay idle: lb_sim.fine_idle).
 * path_rmse has no floor (NaN): exact samplers coupled on one path
 * coincide. */

static double marg_w2_two(const double *x, const double *y, const size_t *idx,
                          size_t n, size_t d, double *bx, double *by) {
  double total = 0;
  for (size_t i = 0; i < d; i++) {
    for (size_t k = 0; k < n; k++) {
      bx[k] = x[idx[k] * d + i];
      by[k] = y[idx[k] * d + i];
    }
    lb_sort_doubles(bx, n);
    lb_sort_doubles(by, n);
    double s = 0;
    for (size_t k = 0; k < n; k++) s += (bx[k] - by[k]) * (bx[k] - by[k]);
    total += sqrt(s / (double)n);
  }
  return total / (double)d;
}

static void coupled_metrics(const double *x, const double *y, size_t n,
                            size_t d, uint64_t seed, uint64_t set,
                            lb_metric_result *law, lb_metric_result *path) {
  double m = 0, m2 = 0;
  for (size_t c = 0; c < n; c++) {
    double s = 0;
    for (size_t i = 0; i < d; i++)
      s += (x[c * d + i] - y[c * d + i]) * (x[c * d + i] - y[c * d + i]);
    m += s;
    m2 += s * s;
  }
  m /= (double)n;
  double var = (m2 / (double)n - m * m) * (double)n / (double)(n - 1);
  path->estimate = sqrt(m);
  path->se = m > 0 ? sqrt(var / (double)n) / (2.0 * sqrt(m)) : 0.0;
  path->floor = NAN;
  path->n = n;

  size_t *idx = lb_xcalloc(n, sizeof *idx);
  double *bx = lb_xcalloc(n, sizeof *bx), *by = lb_xcalloc(n, sizeof *by);
  for (size_t k = 0; k < n; k++) idx[k] = k;
  law->estimate = marg_w2_two(x, y, idx, n, d, bx, by);
  gsl_rng *r = lb_rng_alloc();
  lb_rng_seed(r, seed, (1ULL << 62) + set, 0);
  double bm = 0, bm2 = 0;
  const int B = 50;
  for (int b = 0; b < B; b++) {
    for (size_t k = 0; k < n; k++) idx[k] = gsl_rng_uniform_int(r, n);
    double v = marg_w2_two(x, y, idx, n, d, bx, by);
    bm += v;
    bm2 += v * v;
  }
  bm /= B;
  law->se = sqrt(fmax(0.0, (bm2 / B - bm * bm) * B / (B - 1.0)));
  law->n = n;
  law->floor = NAN;
  gsl_rng_free(r);
  free(idx);
  free(bx);
  free(by);
}

/* ---- one cell ------------------------------------------------------------ */

/* Finite rows of record k of a full trajectory into buf; returns count. */
static size_t finite_rows(const lb_run *run, size_t k, double *buf) {
  size_t d = (size_t)run->dim, m = 0;
  const double *rec = run->trajectory + k * run->record_chains * d;
  for (size_t c = 0; c < run->record_chains; c++)
    if (lb_all_finite(rec + c * d, d)) memcpy(buf + (m++) * d, rec + c * d, d * sizeof *buf);
  return m;
}

/* Keep only the first M chains of the trajectory (in place). */
static void trim_trajectory(lb_run *run, size_t M) {
  size_t d = (size_t)run->dim;
  if (M >= run->record_chains) return;
  for (size_t k = 0; k < run->records; k++)
    memmove(run->trajectory + k * M * d,
            run->trajectory + k * run->record_chains * d, M * d * sizeof(double));
  run->record_chains = M;
}

static void add_row(metric_row **rows, size_t *n, size_t *cap, int64_t step,
                    double time, double nfe, const char *name,
                    const lb_metric_result *r) {
  if (*n == *cap) {
    *cap = *cap ? 2 * *cap : 64;
    *rows = realloc(*rows, *cap * sizeof **rows);
  }
  metric_row *w = &(*rows)[(*n)++];
  memset(w, 0, sizeof *w);
  w->record_step = step;
  w->time = time;
  w->nfe_mean = nfe;
  snprintf(w->metric, sizeof w->metric, "%s", name);
  w->estimate = r->estimate;
  w->stderr_ = r->se;
  w->floor_ = r->floor;
  w->n = (int64_t)r->n;
}

static void cell_params(hid_t loc, const lb_cell *cl, const lb_sampler *s,
                        const lb_experiment *x) {
  (void)x;
  lb_attr_str(loc, "sampler_family", s->type->name);
  /* K, option, gamma as text ("" when the sampler has no such parameter) */
  lb_spec sp;
  lb_err e;
  const char *K = "", *opt = "", *gamma = "";
  if (lb_spec_parse(&sp, cl->sampler, "sampler", &e) == LB_OK) {
    if (lb_spec_str(&sp, "K")) K = lb_spec_str(&sp, "K");
    if (lb_spec_str(&sp, "option")) opt = lb_spec_str(&sp, "option");
    if (lb_spec_str(&sp, "gamma")) gamma = lb_spec_str(&sp, "gamma");
  }
  char kbuf[LB_SPEC_MAXLEN + 8] = "", obuf[32] = "";
  if (!*K && lb_spec_str(&sp, "Kalpha")) { /* K ~ C/alpha */
    snprintf(kbuf, sizeof kbuf, "%s/alpha", lb_spec_str(&sp, "Kalpha"));
    K = kbuf;
  } else if (s->type->fine_steps && !*K) { /* defaults made explicit */
    long k = s->type->fine_steps(s);
    snprintf(kbuf, sizeof kbuf, k ? "%ld" : "inf", k);
    K = kbuf;
  }
  if (s->type->fine_steps && !*opt && strcmp(K, "inf") != 0) {
    snprintf(obuf, sizeof obuf, "1");
    opt = obuf;
  }
  lb_attr_str(loc, "K", K);
  lb_attr_str(loc, "option", opt);
  lb_attr_str(loc, "gamma", gamma);
}

int lb_cell_info_read(hid_t g, lb_cell_info *c) {
  memset(c, 0, sizeof *c);
  int bad = lb_attr_get_str(g, "target", c->target, sizeof c->target) |
            lb_attr_get_str(g, "sampler_family", c->family, sizeof c->family) |
            lb_attr_get_str(g, "K", c->K, sizeof c->K) |
            lb_attr_get_str(g, "option", c->option, sizeof c->option) |
            lb_attr_get_str(g, "gamma", c->gamma, sizeof c->gamma) |
            lb_attr_get_double(g, "step", &c->step) |
            lb_attr_get_long(g, "seed", &c->seed) |
            lb_attr_get_long(g, "steps", &c->steps) |
            lb_attr_get_long(g, "chains", &c->chains);
  return bad ? -1 : 0;
}

/* ---- time averages and coupled differences of weak metrics ------------------
 * With `time_average` set, every chain accumulates f(X_t) of each weak
 * metric for t = from .. steps, from = ceil(T0 / step) (lb_accum in
 * simulate.h): one row "avg:<metric>" per weak metric at the last record,
 * from the per-chain averages (lb_weak_result: SE from their across-chain
 * spread; chains are independent).  In coupled mode each record also gets
 * "diff:<metric>", |mean_c (f(X_c) - f(Y_c))| over the coupled pairs with
 * SE sd/sqrt(pairs), and with time averages "avgdiff:<metric>", the same
 * for the paired per-chain time averages. */

typedef struct {
  lb_metric *const *weak;
} weak_ctx;

static void weak_add(const lb_accum *a, const double *xs, double *sums) {
  const weak_ctx *w = a->ctx;
  for (size_t j = 0; j < a->nf; j++) sums[j] += lb_weak_f(w->weak[j], xs);
}

static void diff_row(metric_row **rows, size_t *n, size_t *cap, int64_t step,
                     double time, double nfe, const char *prefix,
                     const char *label, const double *v, size_t m) {
  lb_metric_result r;
  double mean, se;
  lb_mean_se(v, m, &mean, &se);
  r.estimate = fabs(mean);
  r.se = se;
  r.floor = sqrt(2.0 / M_PI) * se;
  r.n = m;
  char name[LB_SPEC_MAXLEN + 16];
  snprintf(name, sizeof name, "%s%s", prefix, label);
  add_row(rows, n, cap, step, time, nfe, name, &r);
}

/* The Langevin cell: simulate, metrics of every record, write into file. */
static int langevin_cell(const lb_experiment *x, const lb_cell *cl, hid_t file,
                         int threads, lb_err *e) {
  lb_target *t = NULL;
  lb_sampler *s = NULL, *fine = NULL;
  lb_init in = {0};
  lb_metric **ms = NULL;
  size_t nm = 0;
  int rc = lb_target_alloc(cl->target, &t, e);
  if (!rc) rc = lb_sampler_alloc(cl->sampler, t, &s, e);
  if (!rc && x->coupled) { /* the base chain at step/K: LMC, or ULMC */
    char fs[64] = "lmc";
    if (s->dyn.type->second_order)
      snprintf(fs, sizeof fs, "ulmc:gamma=%.17g", s->dyn.gamma);
    rc = lb_sampler_alloc(fs, t, &fine, e);
  }
  if (!rc) rc = lb_init_parse(&in, x->init, t, e);
  if (!rc) rc = lb_metric_list_parse(x->metrics, t, &ms, &nm, e);
  int64_t *rec = NULL;
  size_t nrec = rc ? 0 : lb_experiment_records(x, cl->steps, &rec);
  lb_run run = {0}, frun = {0}, run2 = {0};
  metric_row *rows = NULL;
  size_t nrows = 0, cap = 0;
  /* the weak metrics, for time averages and coupled differences */
  lb_metric **wk = lb_xcalloc(nm ? nm : 1, sizeof *wk);
  size_t nwk = 0;
  for (size_t j = 0; j < nm; j++)
    if (lb_metric_is_weak(ms[j])) wk[nwk++] = ms[j];
  weak_ctx wctx = {wk};
  lb_accum acc = {0};
  if (!rc && x->time_average && nwk) {
    double f = x->ta_from >= 0 ? ceil(x->ta_from / cl->step - 1e-9)
                               : floor((double)cl->steps / 2);
    acc.from = f < 0 ? 0 : (f > (double)cl->steps ? cl->steps : (long)f);
    acc.nf = nwk;
    acc.add = weak_add;
    acc.ctx = &wctx;
    acc.sums = lb_xcalloc((size_t)x->chains * nwk, sizeof(double));
    if (x->coupled)
      acc.fine_sums = lb_xcalloc((size_t)x->chains * nwk, sizeof(double));
  }
  if (!rc) {
    lb_sim sim = {.target = t, .sampler = s, .init = &in, .step = cl->step,
                  .steps = cl->steps, .chains = x->chains,
                  .seed = (uint64_t)cl->seed, .threads = threads,
                  .record_chains = x->chains, .record_at = rec,
                  .n_record_at = nrec, .fine = fine,
                  .accum = acc.nf ? &acc : NULL};
    double t0 = omp_get_wtime();
    rc = lb_simulate(&sim, &run, x->coupled ? &frun : NULL, e);
    run.wall_seconds = omp_get_wtime() - t0;
    if (!rc && x->coupled) { /* the law_w2 floor's second coarse run */
      lb_sim sim2 = sim;
      sim2.accum = NULL;
      sim2.ctl_substream = 3;
      sim2.fine_idle = 1;
      lb_run frun2 = {0};
      rc = lb_simulate(&sim2, &run2, &frun2, e);
      lb_run_clear(&frun2);
    }
  }
  if (!rc) {
    size_t d = t->dim, R = run.records;
    /* Metrics of every record, records spread over threads.  Each thread
     * builds its own metric objects (some keep per-sample settings); a
     * metric's randomness depends only on (seed, record), so the numbers
     * do not depend on the thread count. */
    lb_metric_result *res = lb_xcalloc(R * (nm ? nm : 1), sizeof *res);
    size_t *nfin = lb_xcalloc(R, sizeof *nfin);
    /* Fewer records than threads: one record at a time, and the metrics'
     * own parallel loops (bootstrap replicates, projections) get the
     * threads instead. */
    int outer = R >= (size_t)threads ? threads : 1, saved = omp_get_max_threads();
    (void)outer; /* unused where OpenMP is off (the clang fuzz build) */
    omp_set_num_threads(threads);
#pragma omp parallel num_threads(outer)
    {
      lb_metric **tm = NULL;
      size_t tn = 0;
      lb_err te;
      lb_metric_list_parse(x->metrics, t, &tm, &tn, &te);
      double *tb = lb_xcalloc((size_t)x->chains * d, sizeof *tb);
#pragma omp for schedule(dynamic, 1)
      for (size_t k = 0; k < R; k++) {
        nfin[k] = finite_rows(&run, k, tb);
        for (size_t j = 0; j < tn; j++)
          lb_metric_eval(tm[j], tb, nfin[k], (uint64_t)cl->seed, k + 1,
                         &res[k * nm + j], &te);
      }
      free(tb);
      for (size_t j = 0; j < tn; j++) lb_metric_free(tm[j]);
      free(tm);
    }
    omp_set_num_threads(saved);
    for (size_t k = 0; k < R; k++) {
      size_t n = nfin[k];
      double time = (double)run.trajectory_step[k] * cl->step;
      double nfe = (double)run.trajectory_nfe[k] / (double)x->chains;
      /* fraction of chains that have left the finite range */
      double q = 1.0 - (double)n / (double)x->chains;
      lb_metric_result dv = {q, sqrt(q * (1 - q) / (double)x->chains), 0.0,
                             (size_t)x->chains};
      add_row(&rows, &nrows, &cap, run.trajectory_step[k], time, nfe,
              "diverged", &dv);
      for (size_t j = 0; j < nm; j++)
        add_row(&rows, &nrows, &cap, run.trajectory_step[k], time, nfe,
                ms[j]->label, &res[k * nm + j]);
      if (x->coupled) {
        /* pairs where both chains are finite */
        double *fx = lb_xcalloc((size_t)x->chains * d, sizeof *fx);
        double *fy = lb_xcalloc((size_t)x->chains * d, sizeof *fy);
        size_t np = 0;
        for (long c = 0; c < x->chains; c++) {
          const double *a = run.trajectory + (k * run.record_chains + (size_t)c) * d;
          const double *b = frun.trajectory + (k * frun.record_chains + (size_t)c) * d;
          if (lb_all_finite(a, d) && lb_all_finite(b, d)) {
            memcpy(fx + np * d, a, d * sizeof *a);
            memcpy(fy + np * d, b, d * sizeof *b);
            np++;
          }
        }
        if (np >= 2 && nwk) {
          double *wd = lb_xcalloc(np, sizeof *wd);
          for (size_t j = 0; j < nwk; j++) {
            for (size_t c = 0; c < np; c++)
              wd[c] = lb_weak_f(wk[j], fx + c * d) - lb_weak_f(wk[j], fy + c * d);
            diff_row(&rows, &nrows, &cap, run.trajectory_step[k], time, nfe,
                     "diff:", wk[j]->label, wd, np);
          }
          free(wd);
        }
        lb_metric_result law, pth;
        if (np >= 2) {
          coupled_metrics(fx, fy, np, d, (uint64_t)cl->seed, k + 1, &law, &pth);
          /* floor: the coarse run against its second coupled run */
          size_t n2 = 0;
          for (long c = 0; c < x->chains; c++) {
            const double *a = run.trajectory + (k * run.record_chains + (size_t)c) * d;
            const double *b = run2.trajectory + (k * run2.record_chains + (size_t)c) * d;
            if (lb_all_finite(a, d) && lb_all_finite(b, d)) {
              memcpy(fx + n2 * d, a, d * sizeof *a);
              memcpy(fy + n2 * d, b, d * sizeof *b);
              n2++;
            }
          }
          if (n2 >= 2) {
            size_t *idx = lb_xcalloc(n2, sizeof *idx);
            double *bx = lb_xcalloc(n2, sizeof *bx), *by = lb_xcalloc(n2, sizeof *by);
            for (size_t u = 0; u < n2; u++) idx[u] = u;
            law.floor = marg_w2_two(fx, fy, idx, n2, d, bx, by);
            free(idx);
            free(bx);
            free(by);
          }
          add_row(&rows, &nrows, &cap, run.trajectory_step[k], time, nfe,
                  "law_w2", &law);
          add_row(&rows, &nrows, &cap, run.trajectory_step[k], time, nfe,
                  "path_rmse", &pth);
        }
        free(fx);
        free(fy);
      }
    }
    if (acc.nf && R > 0) {
      const double cnt = (double)(cl->steps - acc.from + 1);
      const double time = (double)cl->steps * cl->step;
      const double nfe = (double)run.trajectory_nfe[R - 1] / (double)x->chains;
      double *v = lb_xcalloc((size_t)x->chains, sizeof *v);
      for (size_t j = 0; j < nwk; j++) {
        size_t m = 0;
        for (long c = 0; c < x->chains; c++) {
          double a = acc.sums[(size_t)c * nwk + j] / cnt;
          /* diverged chains, and chains still finite at the horizon but
           * so large that f overflowed on the way, are left out */
          if (!run.diverged[c] && isfinite(a)) v[m++] = a;
        }
        lb_metric_result r;
        lb_weak_result(wk[j], v, m, &r);
        char name[LB_SPEC_MAXLEN + 16];
        snprintf(name, sizeof name, "avg:%s", wk[j]->label);
        add_row(&rows, &nrows, &cap, cl->steps, time, nfe, name, &r);
        if (x->coupled) {
          m = 0;
          for (long c = 0; c < x->chains; c++)
            if (!run.diverged[c] && !frun.diverged[c]) {
              double a = (acc.sums[(size_t)c * nwk + j] -
                          acc.fine_sums[(size_t)c * nwk + j]) / cnt;
              if (isfinite(a)) v[m++] = a;
            }
          if (m >= 2)
            diff_row(&rows, &nrows, &cap, cl->steps, time, nfe, "avgdiff:",
                     wk[j]->label, v, m);
        }
      }
      free(v);
    }
    free(res);
    free(nfin);
    trim_trajectory(&run, (size_t)x->trajectory_chains);
    if (x->coupled) trim_trajectory(&frun, (size_t)x->trajectory_chains);
    snprintf(run.target, sizeof run.target, "%s", cl->target);
    snprintf(run.sampler, sizeof run.sampler, "%s", cl->sampler);
    snprintf(run.init, sizeof run.init, "%s", in.spec);
    lb_iso_now(run.created, sizeof run.created);
    snprintf(run.command, sizeof run.command, "langbench run %s", x->path);
    if (x->coupled) {
      snprintf(frun.target, sizeof frun.target, "%s", cl->target);
      snprintf(frun.sampler, sizeof frun.sampler, "%s", fine->spec);
      snprintf(frun.init, sizeof frun.init, "%s", in.spec);
      snprintf(frun.created, sizeof frun.created, "%s", run.created);
      snprintf(frun.command, sizeof frun.command, "%s", run.command);
      frun.wall_seconds = run.wall_seconds;
    }
    rc = lb_run_write(file, &run, e);
    cell_params(file, cl, s, x);
    if (!rc && write_rows(file, rows, nrows) != 0)
      rc = lb_fail(e, LB_ERUNTIME, "writing /metrics of cell %s failed", cl->hash);
    if (!rc && x->coupled) {
      hid_t g = H5Gcreate2(file, "fine", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
      rc = lb_run_write(g, &frun, e);
      H5Gclose(g);
    }
  }
  free(acc.sums);
  free(acc.fine_sums);
  free(wk);
  free(rows);
  free(rec);
  lb_run_clear(&run);
  lb_run_clear(&frun);
  lb_run_clear(&run2);
  for (size_t j = 0; j < nm; j++) lb_metric_free(ms[j]);
  free(ms);
  lb_init_clear(&in);
  lb_sampler_free(fine);
  lb_sampler_free(s);
  lb_target_free(t);
  return rc;
}

/* ---- one cell into its own file --------------------------------------------- */

double lb_run_clock(void) { return omp_get_wtime(); }

/* Compute cell c into H.h5.part-HOST-PID and rename it to H.h5.  The
 * runner writes the attributes every cell kind has (cell_key, cell_hash,
 * experiment, host); the cell's function writes the rest. */
static int compute_cell(lb_runctx *r, const lb_cell *c, lb_err *e) {
  lb_out o;
  memset(&o, 0, sizeof o);
  lb_store_path(&r->st, c, o.path, sizeof o.path);
  if (snprintf(o.part, sizeof o.part, "%s.part-%s-%ld", o.path, r->st.host,
               r->st.pid) >= (int)sizeof o.part)
    return lb_fail(e, LB_EINPUT, "--out: file name too long");
  o.file = H5Fcreate(o.part, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
  if (o.file < 0)
    return lb_fail(e, LB_ERUNTIME, "cannot create '%s'", o.part);
  char host[320];
  snprintf(host, sizeof host, "%s pid %ld", r->st.host, r->st.pid);
  int bad = lb_attr_str(o.file, "cell_key", c->key) |
            lb_attr_str(o.file, "cell_hash", c->hash) |
            lb_attr_str(o.file, "experiment", r->x->name) |
            lb_attr_str(o.file, "host", host);
  int rc = bad ? lb_fail(e, LB_ERUNTIME, "writing '%s' failed", o.part)
               : (c->compute ? c->compute : langevin_cell)(r->x, c, o.file,
                                                             r->threads, e);
  if (!rc) return lb_out_commit(&o, e);
  lb_out_abort(&o);
  return rc;
}

int lb_run_work_one(lb_runctx *r, size_t i, lb_err *e) {
  const lb_cell *c = &r->x->cells[i];
  int got = lb_store_claim(&r->st, c);
  if (got < 0) {
    r->rc = lb_fail(e, LB_ERUNTIME, "cannot write a claim file in '%s'", r->st.dir);
    return LB_W_ERR;
  }
  if (got == 0) return LB_W_BUSY;
  char why[256];
  lb_cell_state s = lb_store_check(&r->st, c, 1, why, sizeof why);
  if (s == LB_CELL_OK) {
    lb_store_release(&r->st, c);
    return LB_W_OTHER;
  }
  if (s == LB_CELL_BAD) {
    fprintf(stderr, "cell %s: file unreadable (%s): moved to %s.h5.bad, "
                    "recomputing\n", c->hash, why, c->hash);
    lb_store_set_aside(&r->st, c);
  }
  int rc = compute_cell(r, c, e);
  lb_store_release(&r->st, c);
  if (rc) r->rc = rc;
  return rc ? LB_W_ERR : LB_W_DONE;
}

/* ---- assembly ------------------------------------------------------------ */

/* Assemble OUT from the cells in grid order, so the file does not depend on
 * which process computed which cell or when.  Cells without a readable
 * file are listed in missing[] (*nmissing); with commit_partial the file
 * is written anyway, otherwise only when nothing is missing.  Cost: one
 * open, one attribute read and one H5Ocopy per cell, O(cells) memory. */
static int assemble(lb_runctx *r, const char *out, int commit_partial,
                    size_t *done, size_t *missing, size_t *nmissing,
                    int report, lb_err *e) {
  const lb_experiment *x = r->x;
  /* room for the copies first (lb_out_room: libhdf5 crashes when a write
   * fails inside H5Ocopy); 64 KiB per cell covers the links and headers */
  char path[4400], why[256];
  double bytes = 1 << 20;
  struct stat sb;
  for (size_t i = 0; i < x->ncells; i++) {
    lb_store_path(&r->st, &x->cells[i], path, sizeof path);
    if (stat(path, &sb) == 0) bytes += (double)sb.st_size + 65536.0;
  }
  if (lb_out_room(out, (uint64_t)bytes, e) != LB_OK) return LB_ERUNTIME;
  lb_out o;
  int rc = lb_out_open(&o, out, e);
  if (rc) return rc;
  int bad = 0;
  bad |= lb_attr_str(o.file, "format", LB_EXP_FORMAT);
  bad |= lb_attr_long(o.file, "format_version", 1);
  bad |= lb_attr_str(o.file, "langbench_version", LB_VERSION);
  bad |= lb_attr_str(o.file, "name", x->name);
  bad |= lb_attr_str(o.file, "config", x->text);
  bad |= lb_attr_str(o.file, "config_path", x->path);
  char created[64];
  lb_iso_now(created, sizeof created);
  bad |= lb_attr_str(o.file, "created", created);
  /* /cells holds one link per cell: dense link storage (fractal heap and
   * v2 B-tree, HDF5 >= 1.8) keeps each insertion O(log cells). */
  hid_t gcpl = H5Pcreate(H5P_GROUP_CREATE);
  H5Pset_link_phase_change(gcpl, 8, 6);
  hid_t g = H5Gcreate2(o.file, "cells", H5P_DEFAULT, gcpl, H5P_DEFAULT);
  H5Pclose(gcpl);
  *done = *nmissing = 0;
  for (size_t i = 0; i < x->ncells && !bad; i++) {
    const lb_cell *c = &x->cells[i];
    if (H5Lexists(g, c->hash, H5P_DEFAULT) > 0) continue; /* dup */
    lb_store_path(&r->st, c, path, sizeof path);
    lb_cell_state s = LB_CELL_MISSING;
    if (stat(path, &sb) == 0) {
      hid_t src = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
      s = src < 0 ? LB_CELL_BAD : lb_store_check_file(src, c, 0, why, sizeof why);
      if (src < 0) snprintf(why, sizeof why, "cannot be opened (truncated?)");
      if (s == LB_CELL_OK &&
          H5Ocopy(src, ".", g, c->hash, H5P_DEFAULT, H5P_DEFAULT) < 0) {
        if (H5Lexists(g, c->hash, H5P_DEFAULT) > 0) H5Ldelete(g, c->hash, H5P_DEFAULT);
        s = LB_CELL_BAD;
        snprintf(why, sizeof why, "copying it failed");
      }
      if (src >= 0) H5Fclose(src);
      if (s == LB_CELL_OK) {
        (*done)++;
        continue;
      }
    }
    missing[(*nmissing)++] = i;
    if (report && s == LB_CELL_BAD)
      fprintf(stderr, "cell %s: file unreadable (%s)\n", c->hash, why);
  }
  H5Gclose(g);
  bad |= lb_attr_long(o.file, "cells_total", (long)x->ncells);
  bad |= lb_attr_long(o.file, "cells_done", (long)*done);
  if (bad) {
    lb_out_abort(&o);
    return lb_fail(e, LB_ERUNTIME, "writing '%s' failed", out);
  }
  if (*nmissing && !commit_partial) {
    lb_out_abort(&o);
    return LB_OK;
  }
  return lb_out_commit(&o, e);
}

/* ---- the run ------------------------------------------------------------- */

static void progress(size_t done, size_t total, double elapsed, size_t ran,
                     const lb_cell *cl, int tty) {
  double eta = ran ? elapsed / (double)ran * (double)(total - done) : 0.0;
  if (tty) {
    int w = 30, fill = total ? (int)(w * done / total) : w;
    fprintf(stderr, "\r[%.*s%*s] %zu/%zu cells, ETA %.0f s ", fill,
            "##############################", w - fill, "", done, total, eta);
    if (done == total) fputc('\n', stderr);
  } else if (cl) {
    fprintf(stderr, "cell %zu/%zu done: %s %s step=%g seed=%ld (ETA %.0f s)\n",
            done, total, cl->target, cl->sampler, cl->step, cl->seed, eta);
  }
}

void lb_run_progress(lb_runctx *r, size_t i, int ran_here) {
  r->done++;
  if (ran_here) r->ran++;
  progress(r->done, r->total, lb_run_clock() - r->t0, r->ran, &r->x->cells[i],
           r->tty);
}

/* Remove the cells directory and its files (no shell: any path works). */
static int rm_entry(const char *path, const struct stat *sb, int flag,
                    struct FTW *ftw) {
  (void)sb;
  (void)flag;
  (void)ftw;
  return remove(path);
}

static int rm_rf_cells(const char *dir) {
  if (access(dir, F_OK) != 0) return 0;
  return nftw(dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

int lb_run_prepare(lb_runctx *r, const lb_experiment *x, const char *out,
                   const lb_run_opts *o, int probe_out, lb_err *e) {
  memset(r, 0, sizeof *r);
  r->x = x;
  r->threads = o->threads;
  r->tty = isatty(2);
  lb_store_init(&r->st, out);
  if (o->fresh) {
    if (rm_rf_cells(r->st.dir) != 0)
      return lb_fail(e, LB_ERUNTIME, "cannot remove '%s'", r->st.dir);
    unlink(out);
  }
  if (!o->assemble && mkdir(r->st.dir, 0777) != 0 && errno != EEXIST)
    return lb_fail(e, LB_EINPUT, "--out: cannot create directory '%s'", r->st.dir);
  if (probe_out) { /* check that OUT itself can be written before any work */
    lb_out probe;
    int rc = lb_out_open(&probe, out, e);
    if (rc) return rc;
    lb_out_abort(&probe);
  }
  r->t0 = lb_run_clock();
  return LB_OK;
}

size_t lb_run_scan(lb_runctx *r, const size_t *set, size_t n, size_t *pending) {
  size_t np = 0;
  char why[256];
  r->total = n;
  for (size_t k = 0; k < n; k++) {
    if (lb_store_check(&r->st, &r->x->cells[set[k]], 1, why, sizeof why) == LB_CELL_OK)
      r->done++;
    else
      pending[np++] = set[k];
  }
  return np;
}

static void nap(double seconds) {
  struct timespec ts = {(time_t)seconds,
                        (long)((seconds - (double)(time_t)seconds) * 1e9)};
  nanosleep(&ts, NULL);
}

/* Work through list[] in order; cells claimed by live processes are
 * retried every half second until complete or free. */
static int run_list(lb_runctx *r, size_t *list, size_t n, lb_err *e) {
  size_t nd = 0;
  int waited = 0;
  while (n) {
    for (size_t k = 0; k < n; k++) {
      int w = lb_run_work_one(r, list[k], e);
      if (w == LB_W_ERR) return r->rc;
      if (w == LB_W_BUSY) list[nd++] = list[k];
      else lb_run_progress(r, list[k], w == LB_W_DONE);
    }
    n = nd;
    nd = 0;
    if (n && !waited++)
      fprintf(stderr, "waiting for %zu cells claimed by other processes\n", n);
    if (n) nap(0.5);
  }
  return LB_OK;
}

int lb_run_finish(lb_runctx *r, const char *out, lb_err *e) {
  size_t *missing = lb_xcalloc(r->x->ncells ? r->x->ncells : 1, sizeof *missing);
  size_t assembled = 0, nmissing = 0;
  int rc = LB_OK;
  for (int round = 0; !rc; round++) {
    rc = assemble(r, out, 0, &assembled, missing, &nmissing, 1, e);
    if (rc || !nmissing) break;
    if (round == 2) {
      rc = lb_fail(e, LB_ERUNTIME, "%zu cells still unreadable after recomputing "
                   "them twice (first: %s)", nmissing, r->x->cells[missing[0]].hash);
      break;
    }
    fprintf(stderr, "recomputing %zu cells found unreadable at assembly\n", nmissing);
    r->total += nmissing;
    rc = run_list(r, missing, nmissing, e);
  }
  if (!rc)
    fprintf(stderr, "wrote %s: %zu cells (%zu run now), %.1f s\n", out,
            assembled, r->ran, lb_run_clock() - r->t0);
  free(missing);
  return rc;
}

/* --assemble: write OUT from whatever cells exist, list the others. */
static int assemble_only(lb_runctx *r, const char *out, lb_err *e) {
  const lb_experiment *x = r->x;
  size_t *missing = lb_xcalloc(x->ncells ? x->ncells : 1, sizeof *missing);
  size_t assembled = 0, nmissing = 0;
  int rc = assemble(r, out, 1, &assembled, missing, &nmissing, 1, e);
  if (!rc) {
    for (size_t k = 0; k < nmissing; k++) {
      const lb_cell *c = &x->cells[missing[k]];
      fprintf(stderr, "missing cell %s: %s %s step=%g seed=%ld\n", c->hash,
              c->target, c->sampler, c->step, c->seed);
    }
    fprintf(stderr, "wrote %s: %zu of %zu cells\n", out, assembled, x->ncells);
    if (nmissing)
      rc = lb_fail(e, LB_ERUNTIME, "%zu of %zu cells missing (listed above); "
                   "run them, then --assemble again", nmissing, x->ncells);
  }
  free(missing);
  return rc;
}

int lb_experiment_run_opts(const lb_experiment *x, const char *out,
                           const lb_run_opts *o, lb_err *e) {
  if (o->mpi) return lb_mpi_run(x, out, o, e);
  lb_runctx r;
  int shard = o->nshards > 0;
  int rc = lb_run_prepare(&r, x, out, o, !shard, e);
  if (rc) return rc;
  if (o->assemble) return assemble_only(&r, out, e);
  size_t *set = lb_xcalloc(x->ncells ? x->ncells : 1, sizeof *set);
  size_t n = 0;
  if (shard) {
    long *of = lb_xcalloc(x->ncells ? x->ncells : 1, sizeof *of);
    lb_experiment_shards(x, o->nshards, of);
    for (size_t i = 0; i < x->ncells; i++)
      if (of[i] == o->shard) set[n++] = i;
    free(of);
  } else {
    for (size_t i = 0; i < x->ncells; i++) set[n++] = i;
  }
  size_t *pending = lb_xcalloc(n ? n : 1, sizeof *pending);
  size_t np = lb_run_scan(&r, set, n, pending);
  if (r.done)
    fprintf(stderr, "resuming: %zu of %zu cells already complete\n", r.done, n);
  lb_store_heartbeat_start(&r.st);
  rc = run_list(&r, pending, np, e);
  if (!rc && shard)
    fprintf(stderr, "shard %ld/%ld: %zu cells complete (%zu run now), %.1f s; "
                    "assemble with --assemble\n", o->shard, o->nshards, r.done,
            r.ran, lb_run_clock() - r.t0);
  else if (!rc)
    rc = lb_run_finish(&r, out, e);
  lb_store_heartbeat_stop();
  free(pending);
  free(set);
  return rc;
}

int lb_experiment_run(const lb_experiment *x, const char *out, int threads,
                      int fresh, lb_err *e) {
  lb_run_opts o = {.threads = threads, .fresh = fresh};
  return lb_experiment_run_opts(x, out, &o, e);
}
