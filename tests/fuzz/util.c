/* util.c -- helpers of the fuzz harnesses (fuzz.h).  GPL-3.0-or-later. */
#include <ctype.h>
#include <dirent.h>
#include <ftw.h>
#include <gsl/gsl_errno.h>
#include <hdf5.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fuzz.h"
#include "io.h"
#include "rng.h"
#include "target.h"

static char dir[256];

static int rm_entry(const char *path, const struct stat *sb, int flag,
                    struct FTW *ftw) {
  (void)sb;
  (void)flag;
  (void)ftw;
  return remove(path);
}

static void remove_dir(void) {
  if (dir[0]) nftw(dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

void lb_fuzz_cleanup(void) {
  remove_dir();
  dir[0] = '\0';
}

const char *lb_fuzz_dir(void) {
  if (dir[0]) return dir;
  gsl_set_error_handler_off();
  lb_io_quiet();
  setenv("OMP_NUM_THREADS", "1", 1);
  const char *tmp = getenv("TMPDIR");
  snprintf(dir, sizeof dir, "%s/langbench-fuzz-XXXXXX",
           tmp && *tmp ? tmp : "/tmp");
  if (!mkdtemp(dir)) {
    perror("langbench fuzz: mkdtemp");
    abort();
  }
  atexit(remove_dir);
  return dir;
}

const char *lb_fuzz_write(const char *name, const void *data, size_t size) {
  static char path[512];
  snprintf(path, sizeof path, "%s/%s", lb_fuzz_dir(), name);
  FILE *f = fopen(path, "wb");
  if (!f || (size && fwrite(data, 1, size, f) != size)) abort();
  if (fclose(f) != 0) abort();
  return path;
}

char *lb_fuzz_str(const uint8_t *data, size_t size) {
  char *s = malloc(size + 1);
  if (!s) abort();
  if (size) memcpy(s, data, size);
  s[size] = '\0';
  return s;
}

int lb_fuzz_small_numbers(const char *text, double max) {
  for (const char *p = text; *p; p++) {
    if (!isdigit((unsigned char)*p)) continue;
    if (p > text && (isdigit((unsigned char)p[-1]) || p[-1] == '.')) continue;
    double v = strtod(p, NULL);
    if (!(fabs(v) <= max)) return 0;
  }
  return 1;
}

void lb_fuzz_clean(const char *d, const char *const *keep) {
  DIR *dp = opendir(d);
  if (!dp) return;
  struct dirent *de;
  char path[1024];
  while ((de = readdir(dp))) {
    if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, "..")) continue;
    int kept = 0;
    for (const char *const *k = keep; k && *k; k++)
      if (strcmp(*k, de->d_name) == 0) kept = 1;
    if (kept) continue;
    snprintf(path, sizeof path, "%s/%s", d, de->d_name);
    nftw(path, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
  }
  closedir(dp);
}

void lb_fuzz_check_h5_handles(void) {
  ssize_t n = H5Fget_obj_count(H5F_OBJ_ALL, H5F_OBJ_ALL);
  if (n != 0) {
    fprintf(stderr, "langbench fuzz: %zd HDF5 objects left open\n", n);
    abort();
  }
}

/* Ground-truth invariants, then (when use) two draws and evaluations. */
void lb_fuzz_use_target(const lb_target *t, int use) {
  if (t->dim < 1 || t->n_modes < 1 || !t->mean || !t->cov || !t->mode_weight)
    abort();
  double w = 0;
  for (size_t k = 0; k < t->n_modes; k++) {
    if (!(t->mode_weight[k] >= 0)) abort();
    w += t->mode_weight[k];
  }
  if (!(fabs(w - 1) < 1e-9)) abort();
  if (!use) return;
  gsl_rng *r = lb_rng_alloc();
  lb_rng_seed(r, 1, 0, 0);
  double *x = lb_xcalloc(t->dim, sizeof *x), *g = lb_xcalloc(t->dim, sizeof *g);
  for (int k = 0; k < 2; k++) {
    t->type->sample(t->state, r, x);
    (void)t->type->potential(t->state, x);
    t->type->grad(t->state, x, g);
    (void)t->type->marginal_cdf(t->state, 0, x[0]);
    if (t->type->mode_of(t->state, x) >= t->n_modes) abort();
  }
  free(x);
  free(g);
  gsl_rng_free(r);
}

