/* test_faults.c -- faults and fuzz regressions.
 *
 * GPL-3.0-or-later.
 *
 * 1. Replays, through the fuzz harnesses compiled into this suite (gcc,
 *    no libFuzzer), every regression input under tests/fuzz/regress/NAME/
 *    (one per crash the fuzzers found, each fixed) and every seed under
 *    tests/fuzz/corpus/NAME/.  A harness aborts on any violated invariant,
 *    so a replay that returns is a pass.
 * 2. Fault cases: the disk fills while a run file or a cell is written
 *    (RLIMIT_FSIZE), the output directory is read-only, an experiment's
 *    cells directory holds a truncated, foreign or newer cell file, and
 *    `metrics` gets a run file of a newer format_version.
 */
#include <criterion/criterion.h>
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fuzz/fuzz.h"
#include "testutil.h"

/* ---- fuzz regressions and seeds -------------------------------------------- */

typedef int (*harness_fn)(const uint8_t *, size_t);

static size_t replay_dir(const char *dir, harness_fn fn) {
  DIR *dp = opendir(dir);
  if (!dp) return 0;
  struct dirent *de;
  size_t n = 0;
  char path[1024];
  /* the harnesses' output (messages, tables) is noise here */
  fflush(stdout);
  fflush(stderr);
  int out = dup(1), err = dup(2), null = open("/dev/null", O_WRONLY);
  dup2(null, 1);
  dup2(null, 2);
  while ((de = readdir(dp))) {
    if (de->d_name[0] == '.') continue;
    snprintf(path, sizeof path, "%s/%s", dir, de->d_name);
    FILE *f = fopen(path, "rb");
    cr_assert(f, "cannot read %s", path);
    fseek(f, 0, SEEK_END);
    long len = ftell(f);
    fseek(f, 0, SEEK_SET);
    uint8_t *buf = malloc((size_t)len + 1);
    size_t got = fread(buf, 1, (size_t)len, f);
    fclose(f);
    fn(buf, got);
    free(buf);
    n++;
  }
  closedir(dp);
  fflush(stdout);
  fflush(stderr);
  dup2(out, 1);
  dup2(err, 2);
  close(out);
  close(err);
  close(null);
  return n;
}

/* Absolute paths: the command-line harness changes the working directory. */
static void replay(const char *name, harness_fn fn) {
  char cwd[512], dir[700];
  cr_assert(getcwd(cwd, sizeof cwd));
  snprintf(dir, sizeof dir, "%s/tests/fuzz/corpus/%s", cwd, name);
  size_t seeds = replay_dir(dir, fn);
  cr_assert_gt(seeds, 0, "no seeds in %s (run from the source tree)", dir);
  snprintf(dir, sizeof dir, "%s/tests/fuzz/regress/%s", cwd, name);
  replay_dir(dir, fn);
}

Test(fuzz_replay, spec) { replay("spec", lb_fuzz_spec); }
Test(fuzz_replay, experiment) { replay("experiment", lb_fuzz_experiment); }
Test(fuzz_replay, gmm) { replay("gmm", lb_fuzz_gmm); }
Test(fuzz_replay, h5) { replay("h5", lb_fuzz_h5); }
Test(fuzz_replay, cli) { replay("cli", lb_fuzz_cli); }
