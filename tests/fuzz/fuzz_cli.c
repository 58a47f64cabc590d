/* fuzz_cli.c -- the command line of every subcommand, through the main
 * dispatcher of src/cli/main.c (included here with main renamed).
 *
 * GPL-3.0-or-later.
 *
 * The input is the argument list, one argument per line (or NUL byte),
 * starting with the subcommand.  The commands run in process with a
 * fresh working directory under the harness's temporary directory that
 * holds small fixtures they can name: run.h5 (a 4-chain run file on a 3-D
 * Gaussian: 3-D, so that no default metric needs the slow grid KDE),
 * exp.cfg (a one-cell experiment), exp.h5 (its output), mix.cfg (a
 * mixture file) and model.h5 (a tiny trained model).  Arguments
 * containing '/' or ".." are skipped, so no command can write outside
 * that directory; so are inputs with numbers above 64, and `train` or
 * `diffuse` without --steps/--samples (their defaults, 6000 optimiser
 * steps and 10000 samples, are long runs, not parser bugs).  After each command: status 0,
 * 1 or 2, no NAME.part file left, no HDF5 object left open.
 */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "commands.h"
#include "fuzz.h"

#define main lb_fuzz_main_
#define LB_NO_BLAS_PIN /* no restart of the fuzzer (mlp.c) */
#include "../../src/cli/main.c"
#undef main

typedef struct {
  const char *name;
  char *data;
  size_t size;
} fixture;

static fixture fx[] = {
    {"run.h5", NULL, 0}, {"exp.cfg", NULL, 0}, {"exp.h5", NULL, 0},
    {"mix.cfg", NULL, 0}, {"model.h5", NULL, 0}, {NULL, NULL, 0}};

static const char exp_cfg[] =
    "name = \"fz\";\n"
    "targets = (\"gaussian:dim=3\");\n"
    "samplers = (\"plmc:K=2\");\n"
    "step_sizes = [0.1];\n"
    "steps = 4;\n"
    "chains = 4;\n"
    "seeds = [1];\n"
    "record = { schedule = \"every\"; every = 2; };\n"
    "metrics = \"mean_err\";\n";

static const char mix_cfg[] =
    "components = ( { weight = 1; mean = [0, 0]; sd = 1; },\n"
    "               { weight = 2; mean = [3, 0]; var = [1, 2]; } );\n";

static char *slurp(const char *path, size_t *n) {
  FILE *f = fopen(path, "rb");
  if (!f) abort();
  fseek(f, 0, SEEK_END);
  long len = ftell(f);
  fseek(f, 0, SEEK_SET);
  char *buf = malloc((size_t)len + 1);
  if (!buf || fread(buf, 1, (size_t)len, f) != (size_t)len) abort();
  fclose(f);
  *n = (size_t)len;
  return buf;
}

static int quiet_call(int argc, char **argv) {
  fflush(stdout);
  fflush(stderr);
  return lb_fuzz_main_(argc, argv);
}

/* Build the fixtures once with the commands themselves. */
static void make_fixtures(const char *wd) {
  if (chdir(wd) != 0) abort();
  lb_fuzz_write("w/exp.cfg", exp_cfg, sizeof exp_cfg - 1);
  lb_fuzz_write("w/mix.cfg", mix_cfg, sizeof mix_cfg - 1);
  char *s_argv[] = {"langbench", "sample", "--target", "gaussian:dim=3",
                    "--sampler", "plmc:K=2", "--step", "0.1", "--steps", "4",
                    "--chains", "4", "--record-every", "2", "--threads", "1",
                    "--out", "run.h5", NULL};
  char *r_argv[] = {"langbench", "run", "exp.cfg", "--out", "exp.h5",
                    "--threads", "1", NULL};
  char *t_argv[] = {"langbench", "train", "--data", "moons", "--out",
                    "model.h5", "--steps", "2", "--batch", "8", "--width", "4",
                    "--depth", "1", "--quiet", NULL};
  if (quiet_call(18, s_argv) != 0 || quiet_call(7, r_argv) != 0 ||
      quiet_call(15, t_argv) != 0)
    abort();
  for (fixture *f = fx; f->name; f++) f->data = slurp(f->name, &f->size);
}

static int has_part(const char *wd) {
  DIR *dp = opendir(wd);
  if (!dp) abort();
  struct dirent *de;
  int found = 0;
  while ((de = readdir(dp))) {
    size_t l = strlen(de->d_name);
    if (l >= 5 && strcmp(de->d_name + l - 5, ".part") == 0) found = 1;
  }
  closedir(dp);
  return found;
}

LB_FUZZ_TARGET(cli) {
  const char *dir = lb_fuzz_dir();
  static char wd[600], home[4096];
  if (!wd[0]) {
    if (!getcwd(home, sizeof home)) abort();
    snprintf(wd, sizeof wd, "%s/w", dir);
    lb_fuzz_clean(dir, NULL);
    if (mkdir(wd, 0700) != 0) abort();
    make_fixtures(wd);
    if (chdir(home) != 0) abort();
  }
  if (size > 4096) return 0;
  /* split into arguments */
  char *text = malloc(size + 1);
  if (!text) abort();
  memcpy(text, data, size);
  text[size] = '\0';
  char *argv[66];
  int argc = 0;
  argv[argc++] = "langbench";
  int ok = 1;
  for (size_t i = 0, start = 0; i <= size && ok; i++) {
    if (i < size && text[i] != '\n' && text[i] != '\0') continue;
    text[i] = '\0';
    char *a = text + start;
    start = i + 1;
    if (argc >= 64 || strchr(a, '/') || strstr(a, "..") ||
        !lb_fuzz_small_numbers(a, 64))
      ok = 0;
    else
      argv[argc++] = a;
  }
  argv[argc] = NULL;
  if (ok && argc > 1 && (!strcmp(argv[1], "train") || !strcmp(argv[1], "diffuse"))) {
    int bounded = 0;
    for (int i = 2; i < argc; i++)
      if (!strncmp(argv[i], "--steps", 7) || !strncmp(argv[i], "--samples", 9) ||
          !strncmp(argv[i], "--show", 6) || !strcmp(argv[i], "--help") ||
          !strcmp(argv[i], "-h"))
        bounded = 1;
    ok = bounded;
  }
  if (ok) {
    lb_fuzz_clean(wd, NULL);
    if (chdir(wd) != 0) abort();
    for (fixture *f = fx; f->name; f++) {
      FILE *o = fopen(f->name, "wb");
      if (!o || fwrite(f->data, 1, f->size, o) != f->size || fclose(o)) abort();
    }
    int rc = quiet_call(argc, argv);
    if (rc < 0 || rc > 2) abort();
    lb_fuzz_check_h5_handles();
    if (has_part(wd)) abort();
    if (chdir(home) != 0) abort();
  }
  free(text);
  return 0;
}
