/* test_plots.c -- every figure script in plots/ against the tiny synthetic
 * data set of scripts/synthetic-figure-data.sh: gnuplot must exit 0 without
 * a warning and write a PNG and a PDF of at least PLOTS_MIN_BYTES each; and
 * scripts/figures.sh must draw every figure, skip those without inputs and
 * fail cleanly on a malformed CSV.  No experiment runs here.
 *
 * Runs from the repository root (as `make test` does); needs sh, awk and
 * gnuplot with the cairo terminals (Debian gnuplot-nox).
 * GPL-3.0-or-later. */
#include <criterion/criterion.h>
#include <fcntl.h>
#include <ftw.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

/* A broken script still tends to write axes and a legend; a figure with its
 * data is well above this (the smallest synthetic one is ~15 kB as PDF). */
#define PLOTS_MIN_BYTES 5000

static char plots_dir[64];   /* temporary directory of the current test */
static char plots_data[80];  /* synthetic inputs, inside plots_dir */

/* ---- helpers -------------------------------------------------------------- */

/* Run argv with stdout and stderr appended to the file log; returns the exit
 * status, or -1 if the program could not be run or was killed. */
static int plots_run(char *const argv[], const char *log) {
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, 1, log, O_WRONLY | O_CREAT | O_APPEND, 0644);
  posix_spawn_file_actions_adddup2(&fa, 1, 2);
  pid_t pid;
  int rc = posix_spawnp(&pid, argv[0], &fa, NULL, argv, environ);
  posix_spawn_file_actions_destroy(&fa);
  if (rc != 0) return -1;
  int st;
  if (waitpid(pid, &st, 0) < 0 || !WIFEXITED(st)) return -1;
  return WEXITSTATUS(st);
}

static long plots_size(const char *p) {
  struct stat sb;
  return stat(p, &sb) == 0 ? (long)sb.st_size : -1;
}

/* The whole log as a string (caller frees), "" when there is none. */
static char *plots_slurp(const char *p) {
  FILE *f = fopen(p, "rb");
  if (!f) return strdup("");
  fseek(f, 0, SEEK_END);
  long n = ftell(f);
  fseek(f, 0, SEEK_SET);
  char *s = calloc((size_t)n + 1, 1);
  if (s && fread(s, 1, (size_t)n, f) != (size_t)n) s[0] = '\0';
  fclose(f);
  return s;
}

static int plots_rm(const char *p, const struct stat *sb, int flag, struct FTW *ftw) {
  (void)sb, (void)flag, (void)ftw;
  return remove(p);
}

static void plots_setup(void) {
  cr_assert_eq(access("plots/fig1_bias.gp", R_OK), 0,
               "run the tests from the repository root (plots/ not found)");
  snprintf(plots_dir, sizeof plots_dir, "/tmp/langbench-plots-XXXXXX");
  cr_assert_not_null(mkdtemp(plots_dir));
  snprintf(plots_data, sizeof plots_data, "%s/data", plots_dir);
  char log[320];
  snprintf(log, sizeof log, "%s/synthetic.log", plots_dir);
  char *argv[] = {"sh", "scripts/synthetic-figure-data.sh", plots_data, NULL};
  cr_assert_eq(plots_run(argv, log), 0, "synthetic-figure-data.sh failed: %s",
               plots_slurp(log));
  /* as scripts/figures.sh does: the figures never depend on the caller's
   * locale (in the C locale gnuplot warns on `set encoding utf8`) */
  setenv("LC_ALL", "C.UTF-8", 1);
  char *gp[] = {"gnuplot", "-e", "set terminal pngcairo; set terminal pdfcairo", NULL};
  snprintf(log, sizeof log, "%s/gnuplot.log", plots_dir);
  cr_assert_eq(plots_run(gp, log), 0,
               "gnuplot with the pngcairo and pdfcairo terminals is needed "
               "(Debian gnuplot-nox; `make deps`): %s", plots_slurp(log));
}

static void plots_teardown(void) {
  if (plots_dir[0]) nftw(plots_dir, plots_rm, 16, FTW_DEPTH | FTW_PHYS);
}

/* Assert that stem.png and stem.pdf exist and are big enough. */
static void plots_expect_figure(const char *stem) {
  char p[400];
  for (int k = 0; k < 2; k++) {
    snprintf(p, sizeof p, "%s.%s", stem, k ? "pdf" : "png");
    long n = plots_size(p);
    cr_expect_geq(n, PLOTS_MIN_BYTES, "%s: %ld bytes, expected at least %d", p, n,
                  PLOTS_MIN_BYTES);
  }
}

/* gnuplot -e VARS plots/SCRIPT with out='DIR/NAME'; then the checks. */
static void plots_draw(const char *script, const char *vars, const char *name) {
  char e[2048], log[300], stem[256], path[256];
  snprintf(stem, sizeof stem, "%s/%s", plots_dir, name);
  snprintf(log, sizeof log, "%s.log", stem);
  snprintf(e, sizeof e, "%s; out='%s'", vars, stem);
  snprintf(path, sizeof path, "plots/%s", script);
  char *argv[] = {"gnuplot", "-e", e, path, NULL};
  int rc = plots_run(argv, log);
  char *out = plots_slurp(log);
  cr_expect_eq(rc, 0, "gnuplot %s exited with %d:\n%s", script, rc, out);
  cr_expect_null(strcasestr(out, "warning"), "gnuplot %s warned:\n%s", script, out);
  cr_expect_null(strcasestr(out, "error"), "gnuplot %s reported an error:\n%s", script, out);
  free(out);
  plots_expect_figure(stem);
}

/* ---- one test per figure script ------------------------------------------- */

TestSuite(plots, .init = plots_setup, .fini = plots_teardown);

Test(plots, fig1_bias_every_default_and_chosen_metric) {
  char v[1024];
  snprintf(v, sizeof v, "in='%s/bias_gaussian.csv'; rates='%s/bias_gaussian_rates.csv'",
           plots_data, plots_data);
  plots_draw("fig1_bias.gp", v, "fig1_gaussian");
  snprintf(v, sizeof v,
           "in='%s/bias_mixtures.csv'; rates='%s/bias_mixtures_rates.csv'; "
           "target='ring8'; metric='w2_marg'",
           plots_data, plots_data);
  plots_draw("fig1_bias.gp", v, "fig1_ring8_w2marg");
  /* without rate fits: the legend loses its slopes, nothing else */
  snprintf(v, sizeof v, "in='%s/bias_mixtures.csv'; target='double_well'; metric='modes'",
           plots_data);
  plots_draw("fig1_bias.gp", v, "fig1_double_well_norates");
}

Test(plots, fig2_speedup) {
  char v[1024];
  snprintf(v, sizeof v,
           "in='%s/speedup.csv'; rates='%s/speedup_rates.csv'; target='double_well'",
           plots_data, plots_data);
  plots_draw("fig2_speedup.gp", v, "fig2");
}

Test(plots, fig3_ring8) {
  char v[1024];
  snprintf(v, sizeof v, "samples='%s/ring8_samples.csv'; density='%s/ring8_density.csv'",
           plots_data, plots_data);
  plots_draw("fig3_ring8.gp", v, "fig3");
}

Test(plots, fig4_double_well) {
  char v[1024];
  snprintf(v, sizeof v,
           "traj='%s/double_well_trajectories.csv'; frac='%s/double_well_fractions.csv'",
           plots_data, plots_data);
  plots_draw("fig4_double_well.gp", v, "fig4");
}

Test(plots, fig5_plmc_vs_lmc) {
  char v[1024];
  snprintf(v, sizeof v,
           "in='%s/plmc_vs_fine_lmc.csv'; rates='%s/plmc_vs_fine_lmc_rates.csv'",
           plots_data, plots_data);
  plots_draw("fig5_plmc_vs_lmc.gp", v, "fig5");
}

/* ---- scripts/figures.sh ---------------------------------------------------- */

Test(plots, figures_sh_draws_every_figure) {
  char out[300], log[320];
  snprintf(out, sizeof out, "%s/figures", plots_dir);
  snprintf(log, sizeof log, "%s/figures.log", plots_dir);
  char *argv[] = {"sh", "scripts/figures.sh", plots_data, out, NULL};
  int rc = plots_run(argv, log);
  char *text = plots_slurp(log);
  cr_assert_eq(rc, 0, "figures.sh exited with %d:\n%s", rc, text);
  free(text);
  static const char *const names[] = {
      "fig1_bias_gaussian",      "fig1_bias_ring8",         "fig1_bias_twomodes",
      "fig1_bias_double_well",   "fig2_speedup_twomodes",   "fig2_speedup_double_well",
      "fig3_ring8",              "fig4_double_well",        "fig5_plmc_vs_lmc_double_well"};
  char stem[400];
  for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
    snprintf(stem, sizeof stem, "%s/%s", out, names[i]);
    plots_expect_figure(stem);
  }
}

Test(plots, figures_sh_skips_figures_without_inputs) {
  char empty[300], out[300], log[320];
  snprintf(empty, sizeof empty, "%s/empty", plots_dir);
  snprintf(out, sizeof out, "%s/figures", plots_dir);
  snprintf(log, sizeof log, "%s/figures.log", plots_dir);
  cr_assert_eq(mkdir(empty, 0755), 0);
  char *argv[] = {"sh", "scripts/figures.sh", empty, out, NULL};
  int rc = plots_run(argv, log);
  char *text = plots_slurp(log);
  cr_expect_eq(rc, 0, "figures.sh exited with %d:\n%s", rc, text);
  for (int k = 1; k <= 5; k++) {
    char what[32];
    snprintf(what, sizeof what, "skipped fig%d", k);
    cr_expect_not_null(strstr(text, what), "no \"%s\" in:\n%s", what, text);
  }
  free(text);
  char p[400];
  snprintf(p, sizeof p, "%s/fig3_ring8.png", out);
  cr_expect_eq(access(p, F_OK), -1, "%s written without inputs", p);
}

Test(plots, figures_sh_fails_cleanly_on_a_bad_csv) {
  /* a results file whose header lacks the estimate column */
  char bad[300], out[300], log[320], p[400];
  snprintf(bad, sizeof bad, "%s/bad", plots_dir);
  snprintf(out, sizeof out, "%s/figures", plots_dir);
  snprintf(log, sizeof log, "%s/figures.log", plots_dir);
  cr_assert_eq(mkdir(bad, 0755), 0);
  snprintf(p, sizeof p, "%s/speedup.csv", bad);
  FILE *f = fopen(p, "w");
  cr_assert_not_null(f);
  fputs("target,sampler,K,option,gamma,step,seed,steps,record_step,time,nfe_mean,metric,"
        "stderr,floor\n"
        "twomodes,lmc,,,,0.1,1,10,10,1,10,kl,0.01,0.001\n",
        f);
  fclose(f);
  char *argv[] = {"sh", "scripts/figures.sh", bad, out, "fig2", NULL};
  int rc = plots_run(argv, log);
  char *text = plots_slurp(log);
  cr_expect_eq(rc, 1, "figures.sh exited with %d on a bad CSV:\n%s", rc, text);
  cr_expect_not_null(strstr(text, "no column \"estimate\""), "message lacks the column:\n%s",
                     text);
  free(text);
  snprintf(p, sizeof p, "%s/fig2_speedup_twomodes.png", out);
  cr_expect_eq(access(p, F_OK), -1, "%s left behind by a failed run", p);
  /* no temporary files either */
  char cmd[400];
  snprintf(cmd, sizeof cmd, "ls -A '%s' | grep -q tmp", out);
  cr_expect_neq(system(cmd), 0, "temporary files left in %s", out);
}
