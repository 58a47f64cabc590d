/* figdata.c -- figure inputs (ring8 samples and density grid, double-well
 * trajectories and fractions) from an experiment file.  The formats and
 * the choice of cells are described in figdata.h and plots/README.md.
 * GPL-3.0-or-later.
 */
#include "figdata.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "experiment.h"
#include "io.h"
#include "target.h"

/* The parameters of one cell, from its attributes. */
typedef struct {
  char name[64]; /* the group name under /cells */
  lb_cell_info info;
  long traj_chains;
} fd_cell;

typedef struct {
  fd_cell *c;
  size_t n, cap;
} fd_list;

/* ---- reading the cells' parameters ---------------------------------------- */

static herr_t collect(hid_t cells, const char *name, const H5L_info_t *info,
                      void *data) {
  (void)info;
  fd_list *l = data;
  hid_t g = H5Gopen2(cells, name, H5P_DEFAULT);
  if (g < 0) return 0;
  fd_cell c;
  memset(&c, 0, sizeof c);
  snprintf(c.name, sizeof c.name, "%s", name);
  int bad = lb_cell_info_read(g, &c.info);
  /* chains kept in /trajectory: its second dimension */
  c.traj_chains = 0;
  if (!bad && H5Lexists(g, "trajectory", H5P_DEFAULT) > 0) {
    hid_t ds = H5Dopen2(g, "trajectory", H5P_DEFAULT);
    hid_t sp = ds >= 0 ? H5Dget_space(ds) : -1;
    hsize_t d[3] = {0, 0, 0};
    if (sp >= 0 && H5Sget_simple_extent_ndims(sp) == 3) {
      H5Sget_simple_extent_dims(sp, d, NULL);
      c.traj_chains = d[0] >= 2 ? (long)d[1] : 0; /* a curve needs 2 records */
    }
    if (sp >= 0) H5Sclose(sp);
    if (ds >= 0) H5Dclose(ds);
  }
  H5Gclose(g);
  if (bad) return 0; /* not a cell of this format: ignored */
  if (l->n == l->cap) {
    l->cap = l->cap ? 2 * l->cap : 64;
    l->c = realloc(l->c, l->cap * sizeof *l->c);
    if (!l->c) abort();
  }
  l->c[l->n++] = c;
  return 0;
}

/* ---- ordering: the series order of the figures (plots/README.md) ---------- */

static int famrank(const char *s) {
  static const char *order[] = {"lmc", "ulmc", "rlmc", "urlmc", "plmc", "uplmc"};
  for (int i = 0; i < 6; i++)
    if (strcmp(s, order[i]) == 0) return i;
  return 9;
}

static double knum(const char *k) {
  if (!*k) return -1;
  if (strcmp(k, "inf") == 0) return INFINITY;
  return atof(k);
}

static double optnum(const char *s) { return *s ? atof(s) : -1; }

static int cmp_num(double a, double b) { return (a > b) - (a < b); }

/* same (sampler, K, option, gamma) */
static int cmp_config(const fd_cell *a, const fd_cell *b) {
  int r = famrank(a->info.family) - famrank(b->info.family);
  if (r) return r;
  if ((r = strcmp(a->info.family, b->info.family))) return r;
  if ((r = cmp_num(knum(a->info.K), knum(b->info.K)))) return r;
  if ((r = strcmp(a->info.K, b->info.K))) return r;
  if ((r = cmp_num(optnum(a->info.option), optnum(b->info.option)))) return r;
  if ((r = strcmp(a->info.option, b->info.option))) return r;
  if ((r = cmp_num(optnum(a->info.gamma), optnum(b->info.gamma)))) return r;
  return strcmp(a->info.gamma, b->info.gamma);
}

/* target, configuration, step descending, seed ascending */
static int cmp_cell(const void *pa, const void *pb) {
  const fd_cell *a = pa, *b = pb;
  int r = strcmp(a->info.target, b->info.target);
  if (r) return r;
  if ((r = cmp_config(a, b))) return r;
  if ((r = cmp_num(b->info.step, a->info.step))) return r;
  return (a->info.seed > b->info.seed) - (a->info.seed < b->info.seed);
}

static int same_series(const fd_cell *a, const fd_cell *b) {
  return strcmp(a->info.target, b->info.target) == 0 && cmp_config(a, b) == 0 &&
         a->info.step == b->info.step;
}

/* ---- small helpers ---------------------------------------------------------- */

static int is_ring8(const char *target) {
  lb_spec s;
  lb_err e;
  if (lb_spec_parse(&s, target, "target", &e) != LB_OK) return 0;
  const char *p = lb_spec_str(&s, "preset");
  return strcmp(s.name, "gmm") == 0 && p && strcmp(p, "ring8") == 0;
}

static int is_double_well(const char *target) {
  lb_spec s;
  lb_err e;
  return lb_spec_parse(&s, target, "target", &e) == LB_OK &&
         strcmp(s.name, "double_well") == 0;
}

typedef struct {
  FILE *f;
  char path[4200], part[4300];
} fd_out;

static int out_open(fd_out *o, const char *dir, const char *name, lb_err *e) {
  snprintf(o->path, sizeof o->path, "%s/%s", dir, name);
  snprintf(o->part, sizeof o->part, "%s.part", o->path);
  o->f = fopen(o->part, "w");
  if (!o->f)
    return lb_fail(e, LB_ERUNTIME, "--figure-data: cannot write '%s'", o->part);
  return LB_OK;
}

static int out_commit(fd_out *o, FILE *log, lb_err *e) {
  int bad = ferror(o->f);
  bad |= fclose(o->f) != 0;
  o->f = NULL;
  if (bad || rename(o->part, o->path) != 0) {
    unlink(o->part);
    return lb_fail(e, LB_ERUNTIME, "--figure-data: writing '%s' failed", o->path);
  }
  if (log) fprintf(log, "%s\n", o->path);
  return LB_OK;
}

static void out_abort(fd_out *o) {
  if (o->f) fclose(o->f);
  o->f = NULL;
  unlink(o->part);
}

static int read_cell(hid_t cells, const fd_cell *c, lb_run *r, lb_err *e) {
  hid_t g = H5Gopen2(cells, c->name, H5P_DEFAULT);
  if (g < 0) return lb_fail(e, LB_EINPUT, "cannot open /cells/%s", c->name);
  lb_err e2;
  int rc = lb_run_read(g, r, &e2);
  H5Gclose(g);
  if (rc) return lb_fail(e, rc, "/cells/%s: %s", c->name, e2.msg);
  return LB_OK;
}

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

/* The q-quantile of sorted v[0..n-1] (nearest rank). */
static double quantile(const double *v, size_t n, double q) {
  size_t i = (size_t)floor(q * (double)(n - 1) + 0.5);
  return v[i < n ? i : n - 1];
}

/* The first target SPEC (byte order) among the cells that pass `keep`,
 * with a note naming any others. */
static const char *first_target(const fd_list *l, int (*keep)(const fd_cell *),
                                const char *what) {
  const char *t = NULL;
  for (size_t i = 0; i < l->n; i++)
    if (keep(&l->c[i]) && (!t || strcmp(l->c[i].info.target, t) < 0)) t = l->c[i].info.target;
  if (!t) return NULL;
  for (size_t i = 0; i < l->n; i++)
    if (keep(&l->c[i]) && strcmp(l->c[i].info.target, t) != 0) {
      fprintf(stderr, "langbench export: --figure-data: %s from %s only; "
                      "%s skipped\n", what, t, l->c[i].info.target);
      break;
    }
  return t;
}

/* ---- figure 3: ring8 ------------------------------------------------------ */

static int keep_ring8(const fd_cell *c) {
  return is_ring8(c->info.target) &&
         (strcmp(c->info.family, "lmc") == 0 || strcmp(c->info.family, "plmc") == 0);
}

static int ring8(hid_t cells, const fd_list *l, const char *dir, FILE *log,
                 int *wrote, lb_err *e) {
  const char *tgt = first_target(l, keep_ring8, "ring8 samples");
  if (!tgt) return LB_OK;
  /* the distinct step sizes, descending, then largest / middle / smallest */
  double *steps = lb_xcalloc(l->n, sizeof *steps);
  size_t ns = 0;
  for (size_t i = 0; i < l->n; i++) {
    const fd_cell *c = &l->c[i];
    if (!keep_ring8(c) || strcmp(c->info.target, tgt) != 0) continue;
    size_t j = 0;
    while (j < ns && steps[j] != c->info.step) j++;
    if (j == ns) steps[ns++] = c->info.step;
  }
  qsort(steps, ns, sizeof *steps, cmp_double);
  double pick[3];
  size_t np = 0;
  size_t idx[3] = {ns - 1, (ns - 1) / 2, 0};
  for (int k = 0; k < 3; k++) {
    double s = steps[idx[k]];
    if (np == 0 || pick[np - 1] != s) pick[np++] = s;
  }
  free(steps);

  fd_out so = {0}, dout = {0};
  int rc = out_open(&so, dir, "ring8_samples.csv", e);
  if (rc) return rc;
  fprintf(so.f, "sampler,K,option,gamma,step,x,y\n");
  /* the written points, kept for the grid's box */
  size_t cap = 0, npts = 0;
  double *px = NULL, *py = NULL;
  const fd_cell *prev = NULL;
  for (size_t i = 0; i < l->n && !rc; i++) {
    const fd_cell *c = &l->c[i];
    if (!keep_ring8(c) || strcmp(c->info.target, tgt) != 0) continue;
    if (prev && same_series(prev, c)) continue; /* a larger seed */
    prev = c;
    int wanted = 0;
    for (size_t k = 0; k < np; k++) wanted |= c->info.step == pick[k];
    if (!wanted) continue;
    lb_run r;
    rc = read_cell(cells, c, &r, e);
    if (rc) break;
    if (r.dim != 2) {
      lb_run_clear(&r);
      rc = lb_fail(e, LB_EINPUT, "/cells/%s: ring8 cell of dimension %ld",
                   c->name, r.dim);
      break;
    }
    size_t m = 0;
    for (long ch = 0; ch < r.chains && m < LB_FIG_RING8_POINTS; ch++) {
      const double *x = r.samples + 2 * ch;
      if (!lb_all_finite(x, 2)) continue;
      fprintf(so.f, "%s,%s,%s,%s,%.10g,%.6g,%.6g\n", c->info.family, c->info.K, c->info.option,
              c->info.gamma, c->info.step, x[0], x[1]);
      if (npts == cap) {
        cap = cap ? 2 * cap : 4096;
        px = realloc(px, cap * sizeof *px);
        py = realloc(py, cap * sizeof *py);
        if (!px || !py) abort();
      }
      px[npts] = x[0];
      py[npts++] = x[1];
      m++;
    }
    lb_run_clear(&r);
  }
  if (!rc && npts == 0)
    rc = lb_fail(e, LB_EINPUT, "--figure-data: the ring8 cells have no finite samples");
  if (rc) {
    out_abort(&so);
    free(px);
    free(py);
    return rc;
  }
  rc = out_commit(&so, log, e);

  /* the density grid over a square box covering the samples */
  lb_target *t = NULL;
  if (!rc) rc = lb_target_alloc(tgt, &t, e);
  if (!rc) rc = out_open(&dout, dir, "ring8_density.csv", e);
  if (!rc) {
    qsort(px, npts, sizeof *px, cmp_double);
    qsort(py, npts, sizeof *py, cmp_double);
    double x0 = quantile(px, npts, 0.001), x1 = quantile(px, npts, 0.999);
    double y0 = quantile(py, npts, 0.001), y1 = quantile(py, npts, 0.999);
    double w = fmax(x1 - x0, y1 - y0) * 1.1;
    if (!(w > 0)) w = 1.0;
    double cx = 0.5 * (x0 + x1), cy = 0.5 * (y0 + y1);
    fprintf(dout.f, "x,y,density\n");
    const int G = LB_FIG_GRID;
    for (int i = 0; i < G; i++) {
      for (int j = 0; j < G; j++) {
        double x[2] = {cx - w / 2 + w * i / (G - 1), cy - w / 2 + w * j / (G - 1)};
        fprintf(dout.f, "%.6g,%.6g,%.6g\n", x[0], x[1],
                exp(lb_target_logpdf(t, x)));
      }
    }
    rc = out_commit(&dout, log, e);
  }
  lb_target_free(t);
  free(px);
  free(py);
  if (!rc) *wrote = 1;
  return rc;
}

/* ---- figure 4: double well ------------------------------------------------ */

static int keep_dw(const fd_cell *c) {
  return is_double_well(c->info.target) && c->traj_chains > 0 &&
         c->traj_chains == c->info.chains;
}

static int double_well(hid_t cells, const fd_list *l, const char *dir,
                       FILE *log, int *wrote, lb_err *e) {
  const char *tgt = first_target(l, keep_dw, "double-well curves");
  if (!tgt) {
    for (size_t i = 0; i < l->n; i++)
      if (is_double_well(l->c[i].info.target)) {
        fprintf(stderr, "langbench export: --figure-data: no double-well "
                        "curves: the cells' /trajectory does not hold every "
                        "chain (set trajectory_chains = chains)\n");
        break;
      }
    return LB_OK;
  }
  lb_target *t = NULL;
  int rc = lb_target_alloc(tgt, &t, e);
  if (rc) return rc;
  double exact = t->type->marginal_cdf(t->state, 0, 0.0);
  lb_target_free(t);

  fd_out to = {0}, fo = {0};
  rc = out_open(&to, dir, "double_well_trajectories.csv", e);
  if (!rc) rc = out_open(&fo, dir, "double_well_fractions.csv", e);
  if (rc) {
    out_abort(&to);
    return rc;
  }
  fprintf(to.f, "sampler,K,option,gamma,step,chain,time,x1\n");
  fprintf(fo.f, "sampler,K,option,gamma,step,time,frac_left,frac_left_stderr,"
                "exact_left\n");
  const fd_cell *prev = NULL;
  for (size_t i = 0; i < l->n && !rc; i++) {
    const fd_cell *c = &l->c[i];
    if (!keep_dw(c) || strcmp(c->info.target, tgt) != 0) continue;
    if (prev && same_series(prev, c)) continue;
    prev = c;
    lb_run r;
    rc = read_cell(cells, c, &r, e);
    if (rc) break;
    size_t d = (size_t)r.dim, rcn = r.record_chains;
    size_t show = rcn < LB_FIG_DW_CHAINS ? rcn : LB_FIG_DW_CHAINS;
    for (size_t ch = 0; ch < show; ch++)
      for (size_t k = 0; k < r.records; k++) {
        double x1 = r.trajectory[(k * rcn + ch) * d];
        if (!isfinite(x1)) continue;
        fprintf(to.f, "%s,%s,%s,%s,%.10g,%zu,%.10g,%.6g\n", c->info.family, c->info.K,
                c->info.option, c->info.gamma, c->info.step, ch, (double)r.trajectory_step[k] * c->info.step,
                x1);
      }
    for (size_t k = 0; k < r.records; k++) {
      size_t fin = 0, left = 0;
      for (size_t ch = 0; ch < rcn; ch++) {
        const double *x = r.trajectory + (k * rcn + ch) * d;
        if (!lb_all_finite(x, d)) continue;
        fin++;
        left += x[0] < 0;
      }
      double f = fin ? (double)left / (double)fin : NAN;
      double se = fin ? sqrt(f * (1 - f) / (double)fin) : NAN;
      fprintf(fo.f, "%s,%s,%s,%s,%.10g,%.10g,%.10g,%.6g,%.10g\n", c->info.family, c->info.K,
              c->info.option, c->info.gamma, c->info.step, (double)r.trajectory_step[k] * c->info.step,
              f, se, exact);
    }
    lb_run_clear(&r);
  }
  if (rc) {
    out_abort(&to);
    out_abort(&fo);
    return rc;
  }
  rc = out_commit(&to, log, e);
  if (rc) {
    out_abort(&fo);
    return rc;
  }
  rc = out_commit(&fo, log, e);
  if (!rc) *wrote = 1;
  return rc;
}

/* ---- entry point ------------------------------------------------------------ */

int lb_figure_data(hid_t file, const char *dir, FILE *out, lb_err *e) {
  struct stat sb;
  if (stat(dir, &sb) != 0) {
    if (mkdir(dir, 0777) != 0 && errno != EEXIST)
      return lb_fail(e, LB_EINPUT, "--figure-data: cannot create directory '%s'", dir);
  } else if (!S_ISDIR(sb.st_mode)) {
    return lb_fail(e, LB_EINPUT, "--figure-data: '%s' is not a directory", dir);
  }
  fd_list l = {0};
  hid_t cells = H5Gopen2(file, "cells", H5P_DEFAULT);
  if (cells < 0) return lb_fail(e, LB_EINPUT, "--figure-data: no /cells group");
  hsize_t idx = 0;
  H5Literate(cells, H5_INDEX_NAME, H5_ITER_INC, &idx, collect, &l);
  if (l.n) qsort(l.c, l.n, sizeof *l.c, cmp_cell);
  int any = 0;
  int rc = ring8(cells, &l, dir, out, &any, e);
  if (!rc) rc = double_well(cells, &l, dir, out, &any, e);
  H5Gclose(cells);
  free(l.c);
  if (!rc && !any)
    fprintf(stderr, "langbench export: --figure-data: no ring8 (lmc, plmc) "
                    "or full-trajectory double-well cells: nothing written\n");
  return rc;
}
