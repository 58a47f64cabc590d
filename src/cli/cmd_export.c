/* cmd_export.c -- `langbench export FILE.h5`: tidy CSV of every cell's
 * metrics, and a CSV of rate fits.  GPL-3.0-or-later.
 *
 * Rate fits: for each (target, sampler, K, option, gamma, metric), the
 * least-squares slope of log(estimate) against log(step) and against
 * log(nfe_mean), over the cells' final records (every step size and seed).
 * Points that the estimator cannot tell from exact sampling are left out:
 * estimate <= 0, not finite, or estimate <= floor + 2 stderr.  The slope's
 * standard error comes from the residuals (NaN with fewer than 3 points).
 *
 * --figure-data DIR also writes the inputs of figures 3 and 4 (figdata.h).
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "commands.h"
#include "experiment.h"
#include "figdata.h"
#include "io.h"

typedef lb_metric_row metric_row;

typedef struct {
  char group[1024]; /* target,sampler,K,option,gamma,metric */
  double step, nfe, est, se, floor_;
} fit_point;

typedef struct {
  FILE *csv;
  fit_point *pts;
  size_t npts, cap;
  int bad;
  char err[LB_ERRLEN];
} export_ctx;

static herr_t visit_cell(hid_t cells, const char *name, const H5L_info_t *info,
                         void *data) {
  (void)info;
  export_ctx *x = data;
  hid_t g = H5Gopen2(cells, name, H5P_DEFAULT);
  if (g < 0) return 0;
  lb_cell_info c;
  int bad = lb_cell_info_read(g, &c);
  metric_row *rows = NULL;
  size_t n = 0;
  if (bad || lb_cell_read_metrics(g, &rows, &n) != 0) {
    snprintf(x->err, sizeof x->err, "cell /cells/%s is incomplete", name);
    x->bad = 1;
    H5Gclose(g);
    return -1;
  }
  /* SPEC commas would split CSV fields: the CSV writes them as ';' */
  for (char *p = c.target; *p; p++)
    if (*p == ',') *p = ';';
  for (size_t i = 0; i < n; i++) {
    metric_row *r = &rows[i];
    fprintf(x->csv, "%s,%s,%s,%s,%s,%.17g,%ld,%ld,%lld,%.17g,%.17g,%s,"
                    "%.17g,%.17g,%.17g\n",
            c.target, c.family, c.K, c.option, c.gamma, c.step, c.seed, c.steps,
            (long long)r->record_step, r->time, r->nfe_mean, r->metric,
            r->estimate, r->stderr_, r->floor_);
    if (r->record_step == c.steps) {
      if (x->npts == x->cap) {
        x->cap = x->cap ? 2 * x->cap : 256;
        x->pts = realloc(x->pts, x->cap * sizeof *x->pts);
      }
      fit_point *p = &x->pts[x->npts++];
      snprintf(p->group, sizeof p->group, "%s,%s,%s,%s,%s,%s", c.target,
               c.family, c.K, c.option, c.gamma, r->metric);
      p->step = c.step;
      p->nfe = r->nfe_mean;
      p->est = r->estimate;
      p->se = r->stderr_;
      p->floor_ = r->floor_;
    }
  }
  free(rows);
  H5Gclose(g);
  return 0;
}

static int cmp_group(const void *a, const void *b) {
  return strcmp(((const fit_point *)a)->group, ((const fit_point *)b)->group);
}

static void write_rates(FILE *f, fit_point *p, size_t n) {
  fprintf(f, "target,sampler,K,option,gamma,metric,against,slope,"
             "slope_stderr,intercept,points\n");
  if (n) qsort(p, n, sizeof *p, cmp_group); /* p is NULL when n is 0 */
  double *xs = malloc((n ? n : 1) * sizeof *xs), *xn = malloc((n ? n : 1) * sizeof *xn),
         *ys = malloc((n ? n : 1) * sizeof *ys);
  for (size_t i = 0; i < n;) {
    size_t j = i, m = 0;
    for (; j < n && strcmp(p[j].group, p[i].group) == 0; j++) {
      double fl = isfinite(p[j].floor_) ? p[j].floor_ : 0.0;
      double se = isfinite(p[j].se) ? p[j].se : 0.0;
      if (!(p[j].est > 0) || !isfinite(p[j].est) || p[j].est <= fl + 2 * se)
        continue;
      xs[m] = log(p[j].step);
      xn[m] = log(p[j].nfe);
      ys[m] = log(p[j].est);
      m++;
    }
    double b, se, a;
    lb_fit_slope(xs, ys, m, &b, &se, &a);
    fprintf(f, "%s,step,%.6g,%.6g,%.6g,%zu\n", p[i].group, b, se, a, m);
    lb_fit_slope(xn, ys, m, &b, &se, &a);
    fprintf(f, "%s,nfe,%.6g,%.6g,%.6g,%zu\n", p[i].group, b, se, a, m);
    i = j;
  }
  free(xs);
  free(xn);
  free(ys);
}

static FILE *open_part(const char *path, char *part, size_t len) {
  snprintf(part, len, "%s.part", path);
  return fopen(part, "w");
}

static int commit(FILE *f, const char *part, const char *path) {
  int bad = ferror(f);
  bad |= fclose(f) != 0;
  if (bad || rename(part, path) != 0) {
    unlink(part);
    return -1;
  }
  return 0;
}

int lb_cmd_export(int argc, char **argv) {
  const char *out = NULL, *figdir = NULL;
  const lb_opt opts[] = {
      {"out", 1, &out}, {"figure-data", 1, &figdir}, {NULL, 0, NULL}};
  const char *pos[1];
  int npos, help;
  if (lb_cli_parse("export", argc, argv, opts, pos, 1, &npos, &help))
    return LB_EINPUT;
  if (help) {
    printf("usage: langbench export FILE.h5 [--out FILE.csv] "
           "[--figure-data DIR]\n"
           "Tidy CSV (one row per cell, recorded step and metric) and the\n"
           "rate fits in FILE_rates.csv (slope of log error against log step\n"
           "and log NFE).  Default --out: FILE.h5 with .csv for .h5.\n"
           "  --figure-data DIR  also write into DIR the inputs of figures 3\n"
           "                     and 4 that the experiment supports:\n"
           "                       ring8_samples.csv, ring8_density.csv\n"
           "                         (ring8 cells of lmc and plmc)\n"
           "                       double_well_trajectories.csv,\n"
           "                       double_well_fractions.csv (double-well\n"
           "                         cells with trajectory_chains = chains)\n"
           "                     formats in plots/README.md\n");
    return 0;
  }
  if (npos != 1) return lb_usage_error("export", "expected one FILE.h5");
  if (figdir && !*figdir)
    return lb_usage_error("export", "--figure-data: empty directory name");
  const char *in = pos[0];
  if (access(in, R_OK) != 0 || H5Fis_hdf5(in) <= 0)
    return lb_usage_error("export", "%s: not a readable HDF5 file", in);
  hid_t f = H5Fopen(in, H5F_ACC_RDONLY, H5P_DEFAULT);
  char fmt[64] = "";
  if (f < 0 || lb_attr_get_str(f, "format", fmt, sizeof fmt) != 0 ||
      strcmp(fmt, LB_EXP_FORMAT) != 0) {
    if (f >= 0) H5Fclose(f);
    return lb_usage_error("export", "%s: not a langbench experiment file", in);
  }
  long ver = 0;
  if (lb_attr_get_long(f, "format_version", &ver) != 0 || ver != 1) {
    H5Fclose(f);
    return lb_usage_error("export", "%s: unsupported format_version %ld", in, ver);
  }
  char csv[4096], rates[4200], part1[4300], part2[4300];
  if (out) {
    snprintf(csv, sizeof csv, "%s", out);
  } else {
    snprintf(csv, sizeof csv, "%s", in);
    size_t l = strlen(csv);
    if (l > 3 && strcmp(csv + l - 3, ".h5") == 0) csv[l - 3] = '\0';
    strncat(csv, ".csv", sizeof csv - strlen(csv) - 1);
  }
  snprintf(rates, sizeof rates, "%s", csv);
  size_t l = strlen(rates);
  if (l > 4 && strcmp(rates + l - 4, ".csv") == 0) rates[l - 4] = '\0';
  strncat(rates, "_rates.csv", sizeof rates - strlen(rates) - 1);

  export_ctx x = {0};
  x.csv = open_part(csv, part1, sizeof part1);
  if (!x.csv) {
    H5Fclose(f);
    return lb_usage_error("export", "--out: cannot write '%s'", part1);
  }
  fprintf(x.csv, "target,sampler,K,option,gamma,step,seed,steps,record_step,"
                 "time,nfe_mean,metric,estimate,stderr,floor\n");
  hid_t cells = H5Gopen2(f, "cells", H5P_DEFAULT);
  if (cells >= 0) {
    hsize_t idx = 0;
    H5Literate(cells, H5_INDEX_NAME, H5_ITER_INC, &idx, visit_cell, &x);
    H5Gclose(cells);
  }
  int rc = 0;
  if (x.bad) {
    fclose(x.csv);
    unlink(part1);
    fprintf(stderr, "langbench export: %s\n", x.err);
    rc = LB_EINPUT;
  } else if (commit(x.csv, part1, csv) != 0) {
    fprintf(stderr, "langbench export: writing '%s' failed\n", csv);
    rc = LB_ERUNTIME;
  } else {
    FILE *r = open_part(rates, part2, sizeof part2);
    if (!r) {
      fprintf(stderr, "langbench export: cannot write '%s'\n", part2);
      rc = LB_ERUNTIME;
    } else {
      write_rates(r, x.pts, x.npts);
      if (commit(r, part2, rates) != 0) rc = LB_ERUNTIME;
      else printf("%s\n%s\n", csv, rates);
    }
  }
  if (!rc && figdir) {
    lb_err e;
    rc = lb_figure_data(f, figdir, stdout, &e);
    if (rc) fprintf(stderr, "langbench export: %s\n", e.msg);
  }
  H5Fclose(f);
  free(x.pts);
  return rc;
}
