/* test_experiment.c -- sweeps: grid expansion, stable cell keys, config
 * errors, resume after kill -9, export and the slope fit.
 * GPL-3.0-or-later. */
#include <criterion/criterion.h>
#include <criterion/parameterized.h>
#include <fcntl.h>
#include <gsl/gsl_randist.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "experiment.h"
#include "io.h"
#include "rng.h"
#include "testutil.h"

static void write_file(const char *path, const char *text) {
  FILE *f = fopen(path, "w");
  cr_assert_not_null(f);
  fputs(text, f);
  fclose(f);
}

static const char *tiny_cfg =
    "name = \"tiny\";\n"
    "targets = [\"gaussian:dim=2,var=1\", \"double_well:dim=1,tilt=0.3\"];\n"
    "samplers = (\"lmc\", { name = \"plmc\"; K = (4, \"inf\"); });\n"
    "step_sizes = [0.2, 0.1];\n"
    "horizon = 2.0;\n"
    "chains = 3000;\n"
    "seeds = [1, 2];\n"
    "init = \"target\";\n"
    "record = { schedule = \"geometric\"; count = 4; };\n"
    "metrics = \"mean_err,w2_marg\";\n"
    "trajectory_chains = 4;\n";

/* ---- grid and keys ---------------------------------------------------------- */

Test(experiment, grid_expansion_and_keys) {
  char p[512];
  snprintf(p, sizeof p, "%s/tiny.cfg", lb_test_tmpdir());
  write_file(p, tiny_cfg);
  lb_experiment x;
  lb_err e;
  cr_assert_eq(lb_experiment_load(p, &x, &e), LB_OK, "%s", e.msg);
  /* 2 targets x (1 + 2) samplers x 2 steps x 2 seeds */
  cr_assert_eq(x.ncells, 24);
  cr_expect_str_eq(x.cells[0].target, "gaussian:dim=2,var=1");
  cr_expect_str_eq(x.cells[0].sampler, "lmc");
  cr_expect_str_eq(x.cells[4].sampler, "plmc:K=4");
  cr_expect_str_eq(x.cells[8].sampler, "plmc:K=inf");
  cr_expect_eq(x.cells[0].steps, 10); /* horizon 2 / step 0.2 */
  cr_expect_eq(x.cells[2].steps, 20);
  cr_expect_eq(x.cells[1].seed, 2);
  for (size_t i = 0; i < x.ncells; i++)
    for (size_t j = i + 1; j < x.ncells; j++)
      cr_expect_str_neq(x.cells[i].hash, x.cells[j].hash);
  /* geometric schedule: 0, then round(10^(k/3)) for k = 0..2, then 10 */
  int64_t *r;
  size_t n = lb_experiment_records(&x, 10, &r);
  int64_t want[] = {0, 1, 2, 5, 10};
  cr_assert_eq(n, 5);
  cr_expect_arr_eq(r, want, sizeof want);
  free(r);
  lb_experiment_free(&x);
}

/* overrides replace the steps of one (target, sampler) pair only, over
 * the target's own steps and the global ones; the cells of the other
 * pairs, and the keys of every cell, are as without them. */
Test(experiment, step_overrides) {
  static const char *cfg =
      "name = \"ov\";\n"
      "targets = (\"gaussian:dim=2,var=1\",\n"
      "           { spec = \"double_well:dim=1,tilt=0.3\"; step_sizes = [0.02]; });\n"
      "samplers = (\"lmc\", { name = \"plmc\"; K = (4, \"inf\"); });\n"
      "step_sizes = [0.2, 0.1];\n"
      "overrides = ({ target = \"gaussian:dim=2,var=1\"; sampler = \"plmc:K=inf\";\n"
      "               step_sizes = [0.4, 0.3, 0.2]; },\n"
      "             { target = \"double_well:dim=1,tilt=0.3\"; sampler = \"lmc\";\n"
      "               step_sizes = [0.05, 0.04]; });\n"
      "horizon = 2.0;\n"
      "chains = 3000;\n"
      "seeds = [1];\n"
      "init = \"target\";\n"
      "record = { schedule = \"last\"; };\n"
      "metrics = \"mean_err\";\n";
  char p[512];
  snprintf(p, sizeof p, "%s/ov.cfg", lb_test_tmpdir());
  write_file(p, cfg);
  lb_experiment x;
  lb_err e;
  cr_assert_eq(lb_experiment_load(p, &x, &e), LB_OK, "%s", e.msg);
  /* gaussian: lmc 2, plmc:K=4 2, plmc:K=inf 3; double well: lmc 2,
   * plmc:K=4 1, plmc:K=inf 1 */
  static const char *const sam[] = {"lmc", "lmc", "plmc:K=4", "plmc:K=4",
                                    "plmc:K=inf", "plmc:K=inf", "plmc:K=inf",
                                    "lmc", "lmc", "plmc:K=4", "plmc:K=inf"};
  static const double stp[] = {0.2, 0.1, 0.2, 0.1, 0.4, 0.3, 0.2,
                               0.05, 0.04, 0.02, 0.02};
  cr_assert_eq(x.ncells, 11);
  for (size_t i = 0; i < x.ncells; i++) {
    cr_expect_str_eq(x.cells[i].sampler, sam[i], "cell %zu", i);
    cr_expect_eq(x.cells[i].step, stp[i], "cell %zu: step %g", i,
                 x.cells[i].step);
    cr_expect_str_eq(x.cells[i].target,
                     i < 7 ? "gaussian:dim=2,var=1" : "double_well:dim=1,tilt=0.3");
    cr_expect_eq(x.cells[i].steps, lround(2.0 / stp[i]));
  }
  /* the key of a cell does not say where its step came from */
  cr_expect_str_eq(x.cells[6].key,
                   "v1|target=gaussian:dim=2,var=1|sampler=plmc:K=inf|init=target|"
                   "step=0.20000000000000001|steps=10|chains=3000|seed=1|"
                   "record=last|metrics=mean_err|"
                   "trajectory_chains=16|coupled=0");
  lb_experiment_free(&x);
}

/* The cell key must not change between versions, or resuming would rerun
 * completed cells: FNV-1a 64 with its published test vectors, and one
 * full key. */
Test(experiment, hash_is_stable) {
  char h[17];
  lb_hash_hex("", h);
  cr_expect_str_eq(h, "cbf29ce484222325");
  lb_hash_hex("a", h);
  cr_expect_str_eq(h, "af63dc4c8601ec8c");
  lb_hash_hex("foobar", h);
  cr_expect_str_eq(h, "85944171f73967e8");
  char p[512];
  snprintf(p, sizeof p, "%s/tiny.cfg", lb_test_tmpdir());
  write_file(p, tiny_cfg);
  lb_experiment x;
  lb_err e;
  cr_assert_eq(lb_experiment_load(p, &x, &e), LB_OK, "%s", e.msg);
  cr_expect_str_eq(x.cells[0].key,
                   "v1|target=gaussian:dim=2,var=1|sampler=lmc|init=target|"
                   "step=0.20000000000000001|steps=10|chains=3000|seed=1|"
                   "record=geometric:4|metrics=mean_err,w2_marg|"
                   "trajectory_chains=4|coupled=0");
  lb_experiment_free(&x);
}

/* ---- config errors ---------------------------------------------------------------
 * Exit 2 before any work, with FILE:LINE in the message. */
typedef struct {
  char text[600];
  char expect[64]; /* the message must contain this */
} cfg_case;

ParameterizedTestParameters(experiment, config_errors) {
  static cfg_case c[] = {
      {"name = \"x\";\ntargets = [\"gaussian\";\n", ":2:"}, /* syntax */
      {"name = \"x\";\ntargets = [\"gaussian\"];\nsamplers = [\"lmc\"];\n"
       "step_sizes = [0.1];\nsteps = 5;\nchains = 10;\nseeds = [1];\n"
       "colour = 3;\n", ":8: unknown key 'colour'"},
      {"name = \"x\";\ntargets = [\"gaussian\"];\nsamplers = [\"lcm\"];\n"
       "step_sizes = [0.1];\nsteps = 5;\nchains = 10;\nseeds = [1];\n",
       ":3:"},
      {"name = \"x\";\ntargets = [\"gaussian\"];\nsamplers = [\"lmc\"];\n"
       "step_sizes = [\"big\"];\nsteps = 5;\nchains = 10;\nseeds = [1];\n",
       ":4:"},
      {"name = \"x\";\ntargets = [\"gaussian\"];\nsamplers = [\"lmc\"];\n"
       "step_sizes = [];\nsteps = 5;\nchains = 10;\nseeds = [1];\n",
       ":4: 'step_sizes' is empty"},
      {"name = \"x\";\ntargets = [\"gaussian\"];\n"
       "samplers = ({ name = \"plmc\"; K = (4, 0); });\n"
       "step_sizes = [0.1];\nsteps = 5;\nchains = 10;\nseeds = [1];\n",
       ":3:"},
      {"name = \"x\";\ntargets = [\"gaussian\"];\nsamplers = [\"lmc\"];\n"
       "step_sizes = [0.1];\nsteps = 5;\nchains = \"many\";\nseeds = [1];\n",
       ":6:"},
      {"name = \"x\";\ntargets = [\"gaussian\"];\nsamplers = [\"lmc\"];\n"
       "step_sizes = [0.1];\nsteps = 5;\nhorizon = 2.0;\nchains = 10;\n"
       "seeds = [1];\n", "one of 'horizon' and 'steps'"},
      {"name = \"x\";\ntargets = [\"nosuch\"];\nsamplers = [\"lmc\"];\n"
       "step_sizes = [0.1];\nsteps = 5;\nchains = 10;\nseeds = [1];\n",
       ":2:"},
      {"name = \"x\";\ntargets = [\"gaussian\"];\nsamplers = [\"lmc\"];\n"
       "step_sizes = [0.1];\nsteps = 5;\nchains = 10;\nseeds = [1];\n"
       "metrics = \"w2,nosuch\";\n", ":8:"},
      {"name = \"x\";\ntargets = [\"gaussian\"];\nsamplers = [\"rlmc\"];\n"
       "step_sizes = [0.1];\nsteps = 5;\nchains = 10;\nseeds = [1];\n"
       "coupled = true;\n", "coupled"},
      /* overrides: a target or sampler not in the grid, a key, a pair
       * given twice, a bad step */
      {"name = \"x\";\ntargets = [\"gaussian\"];\nsamplers = [\"lmc\"];\n"
       "step_sizes = [0.1];\nsteps = 5;\nchains = 10;\nseeds = [1];\n"
       "overrides = ({ target = \"gaussian:dim=2\"; sampler = \"lmc\";\n"
       "               step_sizes = [0.2]; });\n",
       ":8: override: target 'gaussian:dim=2' is not in 'targets'"},
      {"name = \"x\";\ntargets = [\"gaussian\"];\n"
       "samplers = ({ name = \"plmc\"; K = (4, 16); });\n"
       "step_sizes = [0.1];\nsteps = 5;\nchains = 10;\nseeds = [1];\n"
       "overrides = (\n{ target = \"gaussian\"; sampler = \"plmc\"; "
       "step_sizes = [0.2]; });\n",
       ":9: override: sampler 'plmc' is not in 'samplers'"},
      {"name = \"x\";\ntargets = [\"gaussian\"];\nsamplers = [\"lmc\"];\n"
       "step_sizes = [0.1];\nsteps = 5;\nchains = 10;\nseeds = [1];\n"
       "overrides = ({ target = \"gaussian\"; sampler = \"lmc\";\n"
       "  step_size = [0.2]; });\n",
       ":9: unknown key 'step_size' in override"},
      {"name = \"x\";\ntargets = [\"gaussian\"];\nsamplers = [\"lmc\"];\n"
       "step_sizes = [0.1];\nsteps = 5;\nchains = 10;\nseeds = [1];\n"
       "overrides = ({ target = \"gaussian\"; sampler = \"lmc\"; "
       "step_sizes = [0.2]; },\n"
       "  { target = \"gaussian\"; sampler = \"lmc\"; step_sizes = [0.3]; });\n",
       ":9: override: a second override"},
      {"name = \"x\";\ntargets = [\"gaussian\"];\nsamplers = [\"lmc\"];\n"
       "step_sizes = [0.1];\nsteps = 5;\nchains = 10;\nseeds = [1];\n"
       "overrides = ({ target = \"gaussian\"; sampler = \"lmc\";\n"
       "  step_sizes = [0.2, -0.1]; });\n",
       ":9: step size -0.1 must be positive"},
      {"name = \"x\";\ntargets = [\"gaussian\"];\nsamplers = [\"lmc\"];\n"
       "step_sizes = [0.1];\nsteps = 5;\nchains = 10;\nseeds = [1];\n"
       "overrides = ({ target = \"gaussian\"; step_sizes = [0.2]; });\n",
       ":8: an override needs target, sampler and step_sizes"},
  };
  return cr_make_param_array(cfg_case, c, sizeof c / sizeof c[0]);
}

ParameterizedTest(cfg_case *c, experiment, config_errors) {
  char p[512], out[512], args[1200], err[512];
  snprintf(p, sizeof p, "%s/bad.cfg", lb_test_tmpdir());
  snprintf(out, sizeof out, "%s/bad.h5", lb_test_tmpdir());
  write_file(p, c->text);
  snprintf(args, sizeof args, "run '%s' --out '%s'", p, out);
  cr_expect_eq(lb_test_cli(args, err, sizeof err), 2, "%s", err);
  cr_expect(strstr(err, c->expect) != NULL, "message '%s' lacks '%s'", err,
            c->expect);
  cr_expect(strstr(err, "bad.cfg") != NULL, "message '%s' lacks the file", err);
  cr_expect(access(out, F_OK) != 0, "output left behind");
  char cells[600];
  snprintf(cells, sizeof cells, "%s.cells", out);
  cr_expect(access(cells, F_OK) != 0, "cells directory created before work");
}

/* ---- resume after kill -9 ------------------------------------------------------ */

/* Compare every dataset of every cell of two experiment files (not the
 * timing attributes). */
static void expect_same_cells(const char *a, const char *b) {
  lb_experiment x;
  lb_err e;
  char p[512];
  snprintf(p, sizeof p, "%s/tiny.cfg", lb_test_tmpdir());
  cr_assert_eq(lb_experiment_load(p, &x, &e), LB_OK, "%s", e.msg);
  hid_t fa = H5Fopen(a, H5F_ACC_RDONLY, H5P_DEFAULT);
  hid_t fb = H5Fopen(b, H5F_ACC_RDONLY, H5P_DEFAULT);
  cr_assert(fa >= 0 && fb >= 0);
  long done = 0;
  cr_assert_eq(lb_attr_get_long(fb, "cells_done", &done), 0);
  cr_expect_eq(done, (long)x.ncells);
  for (size_t i = 0; i < x.ncells; i++) {
    char name[64];
    snprintf(name, sizeof name, "cells/%s", x.cells[i].hash);
    hid_t ga = H5Gopen2(fa, name, H5P_DEFAULT);
    hid_t gb = H5Gopen2(fb, name, H5P_DEFAULT);
    cr_assert(ga >= 0 && gb >= 0, "cell %s missing", name);
    lb_run ra, rb;
    cr_assert_eq(lb_run_read(ga, &ra, &e), LB_OK, "%s", e.msg);
    cr_assert_eq(lb_run_read(gb, &rb, &e), LB_OK, "%s", e.msg);
    size_t cd = (size_t)(ra.chains * ra.dim);
    cr_expect_arr_eq(ra.samples, rb.samples, cd * sizeof(double));
    cr_expect_arr_eq(ra.nfe, rb.nfe, (size_t)ra.chains * sizeof(int64_t));
    cr_expect_eq(ra.records, rb.records);
    cr_expect_arr_eq(ra.trajectory, rb.trajectory,
                     ra.records * ra.record_chains * (size_t)ra.dim *
                         sizeof(double));
    lb_metric_row *ma, *mb;
    size_t na, nb;
    cr_assert_eq(lb_cell_read_metrics(ga, &ma, &na), 0);
    cr_assert_eq(lb_cell_read_metrics(gb, &mb, &nb), 0);
    cr_expect_eq(na, nb);
    cr_expect_gt(na, 0);
    cr_expect_arr_eq(ma, mb, na * sizeof *ma);
    free(ma);
    free(mb);
    lb_run_clear(&ra);
    lb_run_clear(&rb);
    H5Gclose(ga);
    H5Gclose(gb);
  }
  H5Fclose(fa);
  H5Fclose(fb);
  lb_experiment_free(&x);
}

Test(experiment, resume_after_kill_is_bit_identical, .timeout = 300) {
  const char *dir = lb_test_tmpdir();
  char cfg[512], ref[512], out[512], args[1400], err[512];
  snprintf(cfg, sizeof cfg, "%s/tiny.cfg", dir);
  snprintf(ref, sizeof ref, "%s/ref.h5", dir);
  snprintf(out, sizeof out, "%s/killed.h5", dir);
  write_file(cfg, tiny_cfg);
  snprintf(args, sizeof args, "run '%s' --out '%s' --threads 2", cfg, ref);
  struct timespec a, b;
  clock_gettime(CLOCK_MONOTONIC, &a);
  cr_assert_eq(lb_test_cli(args, err, sizeof err), 0, "%s", err);
  clock_gettime(CLOCK_MONOTONIC, &b);
  double full = (double)(b.tv_sec - a.tv_sec) + 1e-9 * (double)(b.tv_nsec - a.tv_nsec);

  /* kill -9 at seeded random moments within the run, then resume */
  const char *bin = getenv("LANGBENCH_BIN");
  if (!bin) bin = "bin/langbench";
  gsl_rng *r = lb_rng_alloc();
  lb_rng_seed(r, 2024, 0, 0);
  for (int k = 0; k < 4; k++) {
    double delay = full * (0.1 + 0.3 * gsl_rng_uniform(r));
    pid_t pid = fork();
    if (pid == 0) {
      int fd = open("/dev/null", O_WRONLY);
      dup2(fd, 1);
      dup2(fd, 2);
      execl(bin, bin, "run", cfg, "--out", out, "--threads", "1", (char *)NULL);
      _exit(127);
    }
    struct timespec ts = {(time_t)delay, (long)((delay - (double)(time_t)delay) * 1e9)};
    nanosleep(&ts, NULL);
    kill(pid, SIGKILL);
    int st;
    waitpid(pid, &st, 0);
  }
  gsl_rng_free(r);
  snprintf(args, sizeof args, "run '%s' --out '%s' --threads 1", cfg, out);
  cr_assert_eq(lb_test_cli(args, err, sizeof err), 0, "%s", err);
  expect_same_cells(ref, out);

  /* --fresh reruns everything and still agrees */
  snprintf(args, sizeof args, "run '%s' --out '%s' --fresh", cfg, out);
  cr_assert_eq(lb_test_cli(args, err, sizeof err), 0, "%s", err);
  expect_same_cells(ref, out);

  /* export: the exact header, one row per cell, record and metric */
  char csv[600];
  snprintf(csv, sizeof csv, "%s/tiny.csv", dir);
  snprintf(args, sizeof args, "export '%s' --out '%s'", out, csv);
  cr_assert_eq(lb_test_cli(args, err, sizeof err), 0, "%s", err);
  FILE *f = fopen(csv, "r");
  cr_assert_not_null(f);
  char line[2048];
  cr_assert_not_null(fgets(line, sizeof line, f));
  cr_expect_str_eq(line,
                   "target,sampler,K,option,gamma,step,seed,steps,record_step,"
                   "time,nfe_mean,metric,estimate,stderr,floor\n");
  size_t rows = 0;
  while (fgets(line, sizeof line, f)) {
    int commas = 0;
    for (char *c = line; *c; c++) commas += *c == ',';
    cr_expect_eq(commas, 14, "row with %d commas: %s", commas, line);
    rows++;
  }
  fclose(f);
  /* 24 cells; records: steps 10 -> {0,1,2,5,10}, steps 20 -> {0,1,3,7,20}
   * (5 each); 2 metrics plus the diverged fraction */
  cr_expect_eq(rows, 24 * 5 * 3);
  char rates[600];
  snprintf(rates, sizeof rates, "%s/tiny_rates.csv", dir);
  f = fopen(rates, "r");
  cr_assert_not_null(f);
  cr_assert_not_null(fgets(line, sizeof line, f));
  cr_expect_str_eq(line,
                   "target,sampler,K,option,gamma,metric,against,slope,"
                   "slope_stderr,intercept,points\n");
  fclose(f);
}

/* ---- the slope fit ---------------------------------------------------------------- */

Test(experiment, slope_fit_exact_and_noisy) {
  double x[20], y[20], b, se, a;
  for (int i = 0; i < 20; i++) {
    x[i] = log(0.01 * (i + 1));
    y[i] = 0.3 + 1.5 * x[i];
  }
  lb_fit_slope(x, y, 20, &b, &se, &a);
  cr_expect_float_eq(b, 1.5, 1e-12);
  cr_expect_float_eq(a, 0.3, 1e-12);
  cr_expect_lt(se, 1e-10);
  /* noisy data with known slope: repeated fits scatter around 1.5 with
   * the spread the reported SE predicts (z-scores with mean ~0, sd ~1) */
  gsl_rng *r = lb_rng_alloc();
  lb_rng_seed(r, 5, 0, 0);
  double zs = 0, zz = 0;
  const int R = 400;
  for (int k = 0; k < R; k++) {
    for (int i = 0; i < 20; i++)
      y[i] = 0.3 + 1.5 * x[i] + gsl_ran_gaussian(r, 0.2);
    lb_fit_slope(x, y, 20, &b, &se, &a);
    double z = (b - 1.5) / se;
    zs += z;
    zz += z * z;
  }
  gsl_rng_free(r);
  double mz = zs / R, sz = sqrt(zz / R - mz * mz);
  /* mean of R z-scores has SE ~ 1/sqrt(R); t(18) sd = sqrt(18/16) */
  cr_expect(fabs(mz) < 5.0 / sqrt(R), "mean z %g", mz);
  cr_expect(fabs(sz - sqrt(18.0 / 16.0)) < 5.0 * sqrt(18.0 / 16.0) / sqrt(2.0 * R),
            "sd z %g", sz);
  double nx[2] = {0, 1}, ny[2] = {0, 1};
  lb_fit_slope(nx, ny, 2, &b, &se, &a);
  cr_expect(isnan(se), "two points have no residual SE");
}

/* ---- coupled mode end to end ----------------------------------------------------
 * Every record of a coupled cell has law_w2 (with its coupled noise floor)
 * and path_rmse rows; /fine holds the LMC run at
 * step/K for K times as many steps. */
Test(experiment, coupled_cells_have_law_and_path_rows) {
  const char *dir = lb_test_tmpdir();
  char cfg[512], out[512], args[1400], err[512];
  snprintf(cfg, sizeof cfg, "%s/coupled.cfg", dir);
  snprintf(out, sizeof out, "%s/coupled.h5", dir);
  write_file(cfg,
             "name = \"coupled\";\n"
             "targets = [\"double_well:dim=2,a=1\"];\n"
             "samplers = ({ name = \"plmc\"; K = 4; });\n"
             "step_sizes = [0.02];\n"
             "horizon = 0.4;\n"
             "chains = 500;\n"
             "seeds = [3];\n"
             "init = \"target\";\n"
             "record = { schedule = \"every\"; every = 5; };\n"
             "metrics = \"mean_err\";\n"
             "coupled = true;\n");
  snprintf(args, sizeof args, "run '%s' --out '%s'", cfg, out);
  cr_assert_eq(lb_test_cli(args, err, sizeof err), 0, "%s", err);
  lb_experiment x;
  lb_err e;
  cr_assert_eq(lb_experiment_load(cfg, &x, &e), LB_OK, "%s", e.msg);
  cr_assert_eq(x.ncells, 1);
  hid_t f = H5Fopen(out, H5F_ACC_RDONLY, H5P_DEFAULT);
  char name[64];
  snprintf(name, sizeof name, "cells/%s", x.cells[0].hash);
  hid_t g = H5Gopen2(f, name, H5P_DEFAULT);
  cr_assert(g >= 0);
  lb_metric_row *rows;
  size_t n, law = 0, path = 0;
  cr_assert_eq(lb_cell_read_metrics(g, &rows, &n), 0);
  for (size_t i = 0; i < n; i++) {
    if (strcmp(rows[i].metric, "law_w2") == 0) {
      law++;
      /* floor: the PLMC run against a second coupled run that differs
       * only in its midpoint draws: 0 at the common start, then > 0 */
      if (rows[i].record_step > 0) cr_expect_gt(rows[i].floor_, 0.0);
      else cr_expect_eq(rows[i].floor_, 0.0);
      cr_expect(rows[i].estimate >= 0 && isfinite(rows[i].estimate));
    }
    if (strcmp(rows[i].metric, "path_rmse") == 0) {
      path++;
      if (rows[i].record_step > 0) cr_expect_gt(rows[i].estimate, 0.0);
      else cr_expect_eq(rows[i].estimate, 0.0); /* same start */
    }
  }
  cr_expect_eq(law, 5); /* steps 20: records 0, 5, 10, 15, 20 */
  cr_expect_eq(path, 5);
  free(rows);
  hid_t fg = H5Gopen2(g, "fine", H5P_DEFAULT);
  lb_run fine;
  cr_assert_eq(lb_run_read(fg, &fine, &e), LB_OK, "%s", e.msg);
  cr_expect_eq(fine.steps, 80);
  cr_expect_float_eq(fine.step, 0.005, 1e-15);
  lb_run_clear(&fine);
  H5Gclose(fg);
  H5Gclose(g);
  H5Fclose(f);
  lb_experiment_free(&x);
}
