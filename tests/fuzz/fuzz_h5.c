/* fuzz_h5.c -- run and experiment HDF5 files through the readers of
 * `metrics` and `export`: the input is written to a file in the harness's
 * directory and given, in process, to lb_cmd_metrics (--step-index all, so
 * every record is read) and to lb_cmd_export (with --figure-data, so the
 * figure inputs' reader runs too); their outputs go to the same directory.
 * After each command: the status is 0, 1 or 2, no NAME.part file is left,
 * and no HDF5 object is left open.
 *
 * libhdf5 itself is not instrumented: a corrupt file can make it fail in
 * ways the harness can only observe as a crash (README, Fuzzing).
 *
 * GPL-3.0-or-later. */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "commands.h"
#include "fuzz.h"

static void check_status(int rc) {
  if (rc < 0 || rc > 2) abort();
}

static void check_no_part(const char *dir) {
  DIR *dp = opendir(dir);
  if (!dp) abort();
  struct dirent *de;
  while ((de = readdir(dp))) {
    size_t l = strlen(de->d_name);
    if (l >= 5 && strcmp(de->d_name + l - 5, ".part") == 0) abort();
  }
  closedir(dp);
}

LB_FUZZ_TARGET(h5) {
  const char *dir = lb_fuzz_dir();
  static const char *const keep[] = {NULL};
  lb_fuzz_clean(dir, keep);
  char in[512], csv[600], fig[600];
  snprintf(in, sizeof in, "%s", lb_fuzz_write("in.h5", data, size));
  snprintf(csv, sizeof csv, "%s/out.csv", dir);
  snprintf(fig, sizeof fig, "%s/fig", dir);

  char *m_argv[] = {"metrics", in, "--metrics", "mean_err,w2_marg,modes",
                    "--step-index", "all", "--format", "csv", NULL};
  check_status(lb_cmd_metrics(8, m_argv));
  lb_fuzz_check_h5_handles();
  check_no_part(dir);

  char *x_argv[] = {"export", in, "--out", csv, "--figure-data", fig, NULL};
  check_status(lb_cmd_export(6, x_argv));
  lb_fuzz_check_h5_handles();
  check_no_part(dir);
  return 0;
}
