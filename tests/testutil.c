/* testutil.c -- helpers shared by the Criterion tests.  GPL-3.0-or-later. */
#include "testutil.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static char tmpdir[256];

static void cleanup(void) {
  if (tmpdir[0]) {
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
    if (system(cmd) != 0) { /* best effort */
    }
  }
}

const char *lb_test_tmpdir(void) {
  if (!tmpdir[0]) {
    snprintf(tmpdir, sizeof tmpdir, "/tmp/langbench-test-XXXXXX");
    if (!mkdtemp(tmpdir)) {
      perror("mkdtemp");
      abort();
    }
    atexit(cleanup);
  }
  return tmpdir;
}

int lb_test_cli(const char *args, char *err, size_t errlen) {
  const char *bin = getenv("LANGBENCH_BIN");
  if (!bin) bin = "bin/langbench";
  char errfile[300], cmd[8192];
  snprintf(errfile, sizeof errfile, "%s/stderr.txt", lb_test_tmpdir());
  snprintf(cmd, sizeof cmd, "%s %s >/dev/null 2>'%s'", bin, args, errfile);
  int st = system(cmd);
  if (err && errlen) {
    err[0] = '\0';
    FILE *f = fopen(errfile, "r");
    if (f) {
      if (!fgets(err, (int)errlen, f)) err[0] = '\0';
      fclose(f);
    }
  }
  return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

void lb_test_mean_se(const double *x, size_t n, size_t stride, double *mean,
                     double *se) {
  double m = 0, s2 = 0;
  for (size_t i = 0; i < n; i++) m += x[i * stride];
  m /= (double)n;
  for (size_t i = 0; i < n; i++) s2 += (x[i * stride] - m) * (x[i * stride] - m);
  s2 /= (double)(n - 1);
  *mean = m;
  *se = sqrt(s2 / (double)n);
}

void lb_test_var_se(const double *x, size_t n, size_t stride, double *var,
                    double *se) {
  double m = 0, m2 = 0, m4 = 0;
  for (size_t i = 0; i < n; i++) m += x[i * stride];
  m /= (double)n;
  for (size_t i = 0; i < n; i++) {
    double c = x[i * stride] - m, c2 = c * c;
    m2 += c2;
    m4 += c2 * c2;
  }
  m2 /= (double)n;
  m4 /= (double)n;
  *var = m2 * (double)n / (double)(n - 1);
  *se = sqrt((m4 - m2 * m2) / (double)n);
}

/* ---- progress ------------------------------------------------------------
 * The suite runs for minutes; Criterion prints nothing until the end.  These
 * report hooks (run in the runner process) print a line at the start, then
 * one whenever 10 s have passed since the last line or a test took more
 * than 10 s, so a long silent phase is never mistaken for a hang. */
#include <criterion/criterion.h>
#include <criterion/hooks.h>
#include <criterion/stats.h>
#include <time.h>

static size_t progress_done;
static double progress_t0, progress_last;

static double progress_now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

ReportHook(PRE_ALL)(struct criterion_test_set *set) {
  (void)set;
  progress_t0 = progress_last = progress_now();
  fprintf(stderr, "langbench tests: running (a line every 10 s)\n");
}

ReportHook(POST_TEST)(struct criterion_test_stats *st) {
  progress_done++;
  double now = progress_now();
  if (now - progress_last >= 10.0 || st->elapsed_time > 10.0f) {
    fprintf(stderr, "  %4.0f s: %3zu tests done, last %s::%s (%.1f s)\n",
            now - progress_t0, progress_done, st->test->category,
            st->test->name, (double)st->elapsed_time);
    progress_last = now;
  }
}

int lb_test_same_run(const lb_run *a, const lb_run *b) {
  size_t cd = (size_t)a->chains * (size_t)a->dim;
  size_t tr = a->records * a->record_chains * (size_t)a->dim;
  int vel = (!a->velocities && !b->velocities) ||
            (a->velocities && b->velocities &&
             memcmp(a->velocities, b->velocities, cd * sizeof(double)) == 0);
  return a->chains == b->chains && a->records == b->records && vel &&
         memcmp(a->samples, b->samples, cd * sizeof(double)) == 0 &&
         memcmp(a->nfe, b->nfe, (size_t)a->chains * sizeof(int64_t)) == 0 &&
         memcmp(a->diverged, b->diverged, (size_t)a->chains) == 0 &&
         memcmp(a->trajectory, b->trajectory, tr * sizeof(double)) == 0 &&
         memcmp(a->trajectory_nfe, b->trajectory_nfe,
                a->records * sizeof(int64_t)) == 0 &&
         strcmp(a->status, b->status) == 0;
}
