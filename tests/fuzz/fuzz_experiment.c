/* fuzz_experiment.c -- experiment files (libconfig) through the loader of
 * `langbench run`: lb_experiment_load validates the whole file, builds
 * every target, sampler, init and metric list and expands the grid; then
 * the record schedule of every cell is computed and checked (ascending,
 * first 0, last the cell's steps).  GPL-3.0-or-later. */
#include <stdlib.h>

#include "experiment.h"
#include "fuzz.h"

LB_FUZZ_TARGET(experiment) {
  lb_fuzz_dir();
  const char *path = lb_fuzz_write("experiment.cfg", data, size);
  char *text = lb_fuzz_str(data, size);
  int small = lb_fuzz_small_numbers(text, 1e5);
  free(text);
  lb_experiment x;
  lb_err e;
  if (lb_experiment_load(path, &x, &e) != LB_OK) return 0;
  if (x.ncells == 0 || !x.cells) abort();
  for (size_t i = 0; small && i < x.ncells && i < 64; i++) {
    int64_t *rec = NULL;
    size_t n = lb_experiment_records(&x, x.cells[i].steps, &rec);
    if (n < 2 || rec[0] != 0 || rec[n - 1] != x.cells[i].steps) abort();
    for (size_t k = 1; k < n; k++)
      if (rec[k] <= rec[k - 1]) abort();
    free(rec);
  }
  lb_experiment_free(&x);
  return 0;
}
