/* fuzz_model.c -- model HDF5 files (langbench-mlp, written by `train`)
 * through the readers of `diffuse` and `train --show`: the input is
 * written to a file, opened with lb_model_open (as `diffuse --model`
 * does) and, when it loads, evaluated on a block of 3 rows at steps 0,
 * 500.5 and 999 (any output value is accepted: a valid file may hold
 * any finite weights); then `train --show` and a 2-sample `diffuse` run
 * on it in process.  After each: status 0, 1 or
 * 2, no NAME.part file, no HDF5 object left open.  GPL-3.0-or-later. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "commands.h"
#include "fuzz.h"
#include "model.h"

LB_FUZZ_TARGET(model) {
  const char *dir = lb_fuzz_dir();
  lb_fuzz_clean(dir, NULL);
  char in[512], out[600];
  snprintf(in, sizeof in, "%s", lb_fuzz_write("model.h5", data, size));
  snprintf(out, sizeof out, "%s/out.h5", dir);
  lb_model *m = NULL;
  lb_err e;
  if (lb_model_open(in, NULL, NULL, &m, &e) == LB_OK) {
    size_t B = 3, d = m->dim;
    double *x = lb_xcalloc(d * B, sizeof *x), *eps = lb_xcalloc(d * B, sizeof *eps);
    double *work = lb_xcalloc(m->type->work_size(m, B) + 1, sizeof *work);
    double s[3] = {0, 500.5, 999};
    for (size_t i = 0; i < d * B; i++) x[i] = (double)(i % 7) - 3.0;
    m->type->eval(m, B, B, x, s, eps, work);
    free(x);
    free(eps);
    free(work);
    lb_model_free(m);
  }
  lb_fuzz_check_h5_handles();

  char *t_argv[] = {"train", "--show", in, NULL};
  int rc = lb_cmd_train(3, t_argv);
  if (rc < 0 || rc > 2) abort();
  lb_fuzz_check_h5_handles();

  char *d_argv[] = {"diffuse", "--model", in, "--sampler", "ddim", "--nfe", "2",
                    "--samples", "2", "--threads", "1", "--out", out, NULL};
  rc = lb_cmd_diffuse(13, d_argv);
  if (rc < 0 || rc > 2) abort();
  lb_fuzz_check_h5_handles();
  char part[700];
  snprintf(part, sizeof part, "%s.part", out);
  FILE *f = fopen(part, "rb");
  if (f) abort();
  return 0;
}
