/* test_figdata.c -- `langbench export --figure-data DIR`: the inputs of
 * figures 3 and 4 (ring8 samples and density grid, double-well trajectories
 * and fractions) from a tiny experiment: headers, row counts, the choice of
 * cells and step sizes, the density grid's mass, and the left-well
 * fractions against a direct count in the HDF5 trajectories.  About a
 * second each.  (No .timeout: with it, Criterion 2.4's runner itself
 * leaks 48 bytes at exit under LeakSanitizer in the full suite.)
 * GPL-3.0-or-later. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "figdata.h"
#include "io.h"
#include "target.h"
#include "testutil.h"

#define FD_CHAINS 3200 /* more than LB_FIG_RING8_POINTS: the cap is used */
#define FD_DW "double_well:dim=1,a=1,tilt=0.3"

/* ring8 at four step sizes, a double well at one; rlmc is not drawn in
 * figure 3; two seeds (the first is used); steps 20, records every 5. */
static const char *fd_cfg =
    "name = \"figtiny\";\n"
    "targets = (\"gmm:preset=ring8\",\n"
    "           { spec = \"" FD_DW "\"; step_sizes = [0.02]; });\n"
    "samplers = (\"lmc\", \"rlmc\", \"plmc:K=4\");\n"
    "step_sizes = [0.2, 0.1, 0.05, 0.025];\n"
    "steps = 20;\n"
    "chains = 3200;\n"
    "seeds = [1, 2];\n"
    "init = \"target\";\n"
    "record = { schedule = \"every\"; every = 5; };\n"
    "metrics = \"mean_err\";\n"
    "trajectory_chains = 3200;\n";

/* the double well alone, with only a few chains recorded */
static const char *fd_cfg_partial =
    "name = \"figpartial\";\n"
    "targets = [\"" FD_DW "\"];\n"
    "samplers = (\"lmc\");\n"
    "step_sizes = [0.02];\n"
    "steps = 10;\n"
    "chains = 200;\n"
    "seeds = [1];\n"
    "init = \"target\";\n"
    "record = { schedule = \"every\"; every = 5; };\n"
    "metrics = \"mean_err\";\n"
    "trajectory_chains = 16;\n";

static void fd_write(const char *path, const char *text) {
  FILE *f = fopen(path, "w");
  cr_assert_not_null(f);
  fputs(text, f);
  fclose(f);
}

static int fd_exists(const char *path) {
  struct stat sb;
  return stat(path, &sb) == 0;
}

/* A CSV read whole: the header and the rows' fields (no quoting). */
#define FD_MAXF 12
typedef struct {
  char header[256];
  size_t n;
  char (*f)[FD_MAXF][48];
  int nf;
} fd_csv;

static void fd_read(const char *path, fd_csv *c) {
  FILE *f = fopen(path, "r");
  cr_assert_not_null(f, "cannot open %s", path);
  memset(c, 0, sizeof *c);
  cr_assert_not_null(fgets(c->header, sizeof c->header, f));
  c->header[strcspn(c->header, "\n")] = '\0';
  c->nf = 1;
  for (char *p = c->header; *p; p++) c->nf += *p == ',';
  size_t cap = 0;
  char line[1024];
  while (fgets(line, sizeof line, f)) {
    line[strcspn(line, "\n")] = '\0';
    if (c->n == cap) {
      cap = cap ? 2 * cap : 1024;
      c->f = realloc(c->f, cap * sizeof *c->f);
      cr_assert_not_null(c->f);
    }
    int k = 0;
    char *s = line;
    for (;;) {
      char *comma = strchr(s, ',');
      if (comma) *comma = '\0';
      /* per-row checks only report failures: Criterion sends every
       * passing assertion to its runner, and there are ~10^5 fields */
      if (k >= FD_MAXF || strlen(s) >= 48)
        cr_assert_fail("%s: row %zu: too many or too long fields", path, c->n + 1);
      memcpy(c->f[c->n][k++], s, strlen(s) + 1);
      if (!comma) break;
      s = comma + 1;
    }
    if (k != c->nf)
      cr_assert_fail("%s: row %zu has %d fields, header %d", path, c->n + 1, k,
                     c->nf);
    c->n++;
  }
  fclose(f);
}

static void fd_run(const char *cfgtext, const char *stem, char *h5, size_t len) {
  const char *dir = lb_test_tmpdir();
  char cfg[512], args[1400], err[512];
  snprintf(cfg, sizeof cfg, "%s/%s.cfg", dir, stem);
  snprintf(h5, len, "%s/%s.h5", dir, stem);
  fd_write(cfg, cfgtext);
  snprintf(args, sizeof args, "run '%s' --out '%s' --threads 2", cfg, h5);
  cr_assert_eq(lb_test_cli(args, err, sizeof err), 0, "%s", err);
}

Test(figdata, ring8_and_double_well) {
  const char *dir = lb_test_tmpdir();
  char h5[512], fig[512], args[1400], err[512], p[700];
  fd_run(fd_cfg, "figtiny", h5, sizeof h5);
  snprintf(fig, sizeof fig, "%s/fig", dir);
  snprintf(args, sizeof args, "export '%s' --figure-data '%s'", h5, fig);
  cr_assert_eq(lb_test_cli(args, err, sizeof err), 0, "%s", err);

  /* ---- ring8 samples: lmc and plmc (not rlmc), seed 1, the largest,
   * middle and smallest steps, the first 3000 chains of each cell */
  fd_csv c;
  snprintf(p, sizeof p, "%s/ring8_samples.csv", fig);
  fd_read(p, &c);
  cr_expect_str_eq(c.header, "sampler,K,option,gamma,step,x,y");
  cr_expect_eq(c.n, 2 * 3 * (size_t)LB_FIG_RING8_POINTS);
  size_t per[2][3] = {{0}};
  double xmin = INFINITY, xmax = -INFINITY;
  for (size_t i = 0; i < c.n; i++) {
    int s = strcmp(c.f[i][0], "lmc") == 0 ? 0 : strcmp(c.f[i][0], "plmc") == 0 ? 1 : -1;
    if (s < 0) cr_assert_fail("unexpected sampler %s", c.f[i][0]);
    const char *K = s ? "4" : "", *opt = s ? "1" : "";
    if (strcmp(c.f[i][1], K) || strcmp(c.f[i][2], opt) || strcmp(c.f[i][3], ""))
      cr_assert_fail("row %zu: %s with K '%s', option '%s', gamma '%s'", i + 1,
                     c.f[i][0], c.f[i][1], c.f[i][2], c.f[i][3]);
    double st = atof(c.f[i][4]);
    int k = st == 0.2 ? 0 : st == 0.05 ? 1 : st == 0.025 ? 2 : -1;
    if (k < 0) cr_assert_fail("unexpected step %s", c.f[i][4]);
    per[s][k]++;
    double x = atof(c.f[i][5]);
    xmin = fmin(xmin, x);
    xmax = fmax(xmax, x);
  }
  for (int s = 0; s < 2; s++)
    for (int k = 0; k < 3; k++) cr_expect_eq(per[s][k], (size_t)LB_FIG_RING8_POINTS);
  free(c.f);

  /* ---- ring8 density: a G x G grid, x-major, covering the samples'
   * bulk, holding (nearly) all of the target's mass */
  snprintf(p, sizeof p, "%s/ring8_density.csv", fig);
  fd_read(p, &c);
  cr_expect_str_eq(c.header, "x,y,density");
  const size_t G = LB_FIG_GRID;
  cr_assert_eq(c.n, G * G);
  size_t samex = 0;
  for (size_t j = 1; j < G; j++) samex += strcmp(c.f[j][0], c.f[0][0]) == 0;
  cr_expect_eq(samex, G - 1, "the first G rows share x");
  cr_expect_str_neq(c.f[G][0], c.f[0][0]);
  double gx0 = atof(c.f[0][0]), gx1 = atof(c.f[c.n - 1][0]);
  double gy0 = atof(c.f[0][1]), gy1 = atof(c.f[G - 1][1]);
  cr_expect_lt(gx0, xmin + 0.5);
  cr_expect_gt(gx1, xmax - 0.5);
  double h = (gx1 - gx0) / (double)(G - 1), hy = (gy1 - gy0) / (double)(G - 1);
  cr_expect_float_eq(h, hy, 1e-4, "the grid is square");
  double mass = 0;
  size_t bad = 0;
  for (size_t i = 0; i < c.n; i++) {
    double d = atof(c.f[i][2]);
    bad += !(isfinite(d) && d >= 0);
    mass += d * h * hy;
  }
  cr_expect_eq(bad, 0, "negative or non-finite densities");
  cr_expect(mass > 0.97 && mass < 1.01, "grid mass %g", mass);
  free(c.f);

  /* ---- double-well trajectories: every sampler, seed 1, 5 chains, the
   * 5 records of 20 steps every 5 */
  snprintf(p, sizeof p, "%s/double_well_trajectories.csv", fig);
  fd_read(p, &c);
  cr_expect_str_eq(c.header, "sampler,K,option,gamma,step,chain,time,x1");
  cr_expect_eq(c.n, 3 * (size_t)LB_FIG_DW_CHAINS * 5);
  free(c.f);

  /* ---- double-well fractions against a direct count in the file */
  snprintf(p, sizeof p, "%s/double_well_fractions.csv", fig);
  fd_read(p, &c);
  cr_expect_str_eq(c.header, "sampler,K,option,gamma,step,time,frac_left,"
                             "frac_left_stderr,exact_left");
  cr_assert_eq(c.n, 3 * 5);
  lb_target *t = NULL;
  lb_err e;
  cr_assert_eq(lb_target_alloc(FD_DW, &t, &e), LB_OK, "%s", e.msg);
  double exact = t->type->marginal_cdf(t->state, 0, 0.0);
  lb_target_free(t);

  lb_io_quiet();
  hid_t f = H5Fopen(h5, H5F_ACC_RDONLY, H5P_DEFAULT);
  cr_assert_geq(f, 0);
  hid_t cells = H5Gopen2(f, "cells", H5P_DEFAULT);
  cr_assert_geq(cells, 0);
  H5G_info_t gi;
  cr_assert_geq(H5Gget_info(cells, &gi), 0);
  size_t checked = 0;
  for (hsize_t i = 0; i < gi.nlinks; i++) {
    char name[64], target[LB_SPEC_MAXLEN], fam[32], K[32], opt[32];
    long seed;
    H5Lget_name_by_idx(cells, ".", H5_INDEX_NAME, H5_ITER_INC, i, name,
                       sizeof name, H5P_DEFAULT);
    hid_t g = H5Gopen2(cells, name, H5P_DEFAULT);
    lb_attr_get_str(g, "target", target, sizeof target);
    lb_attr_get_str(g, "sampler_family", fam, sizeof fam);
    lb_attr_get_str(g, "K", K, sizeof K);
    lb_attr_get_str(g, "option", opt, sizeof opt);
    lb_attr_get_long(g, "seed", &seed);
    if (strcmp(target, FD_DW) != 0 || seed != 1) {
      H5Gclose(g);
      continue;
    }
    lb_run r;
    cr_assert_eq(lb_run_read(g, &r, &e), LB_OK, "%s", e.msg);
    H5Gclose(g);
    cr_assert_eq(r.record_chains, (size_t)FD_CHAINS);
    cr_assert_eq(r.records, 5);
    for (size_t k = 0; k < r.records; k++) {
      size_t fin = 0, left = 0;
      for (size_t ch = 0; ch < r.record_chains; ch++) {
        double x = r.trajectory[k * r.record_chains + ch];
        if (!isfinite(x)) continue;
        fin++;
        left += x < 0;
      }
      double want = (double)left / (double)fin;
      double time = (double)r.trajectory_step[k] * r.step;
      int found = 0;
      for (size_t j = 0; j < c.n; j++) {
        if (strcmp(c.f[j][0], fam) || strcmp(c.f[j][1], K) ||
            strcmp(c.f[j][2], opt) || fabs(atof(c.f[j][5]) - time) > 1e-9)
          continue;
        found++;
        cr_expect_float_eq(atof(c.f[j][6]), want, 1e-9, "%s %s t=%g", fam, K, time);
        cr_expect_float_eq(atof(c.f[j][7]), sqrt(want * (1 - want) / (double)fin),
                           1e-5, "stderr");
        cr_expect_float_eq(atof(c.f[j][8]), exact, 1e-9, "exact_left");
        checked++;
      }
      cr_expect_eq(found, 1, "%s K=%s t=%g: %d rows", fam, K, time, found);
    }
    lb_run_clear(&r);
  }
  H5Gclose(cells);
  H5Fclose(f);
  cr_expect_eq(checked, c.n);
  /* started at exact draws: the fraction is near the exact weight */
  size_t far = 0;
  for (size_t j = 0; j < c.n; j++)
    far += fabs(atof(c.f[j][6]) - exact) > 5 * atof(c.f[j][7]) + 1e-3;
  cr_expect_eq(far, 0, "fractions more than 5 s.e. from the exact weight");
  free(c.f);
}

Test(figdata, partial_trajectories_and_bad_dir) {
  const char *dir = lb_test_tmpdir();
  char h5[512], fig[512], args[1400], err[512], p[700];
  fd_run(fd_cfg_partial, "figpartial", h5, sizeof h5);
  /* no ring8 and a /trajectory of 16 of 200 chains: nothing to write */
  snprintf(fig, sizeof fig, "%s/fig", dir);
  snprintf(args, sizeof args, "export '%s' --figure-data '%s'", h5, fig);
  cr_assert_eq(lb_test_cli(args, err, sizeof err), 0, "%s", err);
  cr_expect(strstr(err, "trajectory_chains = chains") != NULL, "stderr: %s", err);
  const char *names[] = {"ring8_samples.csv", "ring8_density.csv",
                         "double_well_trajectories.csv",
                         "double_well_fractions.csv"};
  for (int i = 0; i < 4; i++) {
    snprintf(p, sizeof p, "%s/%s", fig, names[i]);
    cr_expect(!fd_exists(p), "%s written", p);
  }
  /* DIR is a file: a usage error */
  snprintf(p, sizeof p, "%s/afile", dir);
  fd_write(p, "x\n");
  snprintf(args, sizeof args, "export '%s' --figure-data '%s'", h5, p);
  cr_expect_eq(lb_test_cli(args, err, sizeof err), 2, "%s", err);
  cr_expect(strstr(err, "--figure-data") != NULL, "stderr: %s", err);
}

/* ---- the whole pipeline on real output -------------------------------------------
 * A small experiment's own export, under the names scripts/figures.sh
 * looks for, must give non-empty PNG and PDF files for figures 1-4 (the
 * `make figures` path without the full experiments). */
static off_t fsize(const char *p) {
  struct stat st;
  return stat(p, &st) == 0 ? st.st_size : -1;
}

Test(figdata, small_experiment_draws_figures_1_to_4) {
  const char *dir = lb_test_tmpdir();
  char h5[512], data[600], out[600], args[4096], err[512], p[900];
  fd_run(fd_cfg, "figpipe", h5, sizeof h5);
  snprintf(data, sizeof data, "%s/pipe-data", dir);
  snprintf(out, sizeof out, "%s/pipe-figs", dir);
  mkdir(data, 0777);
  snprintf(args, sizeof args, "export '%s' --out '%s/bias_mixtures.csv' --figure-data '%s'",
           h5, data, data);
  cr_assert_eq(lb_test_cli(args, err, sizeof err), 0, "%s", err);
  snprintf(args, sizeof args,
           "cp '%s/bias_mixtures.csv' '%s/speedup.csv' && "
           "cp '%s/bias_mixtures_rates.csv' '%s/speedup_rates.csv' && "
           "sh scripts/figures.sh '%s' '%s' >/dev/null 2>&1",
           data, data, data, data, data, out);
  cr_assert_eq(system(args), 0, "figures.sh failed");
  const char *stems[] = {"fig1_bias_gmm_preset_ring8", "fig2_speedup_gmm_preset_ring8",
                         "fig3_ring8", "fig4_double_well"};
  for (int i = 0; i < 4; i++)
    for (int k = 0; k < 2; k++) {
      snprintf(p, sizeof p, "%s/%s.%s", out, stems[i], k ? "pdf" : "png");
      cr_expect_gt(fsize(p), 5000, "%s missing or too small", p);
    }
}
