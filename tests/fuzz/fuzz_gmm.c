/* fuzz_gmm.c -- Gaussian-mixture files (gmm:file=PATH, the libconfig
 * format of targets/presets/) through lb_target_alloc, then the target's
 * ground truth checked and its functions evaluated (fuzz.h,
 * lb_fuzz_use_target).  GPL-3.0-or-later. */
#include <stdio.h>
#include <stdlib.h>

#include "fuzz.h"
#include "target.h"

LB_FUZZ_TARGET(gmm) {
  lb_fuzz_dir();
  const char *path = lb_fuzz_write("mixture.cfg", data, size);
  char spec[600];
  snprintf(spec, sizeof spec, "gmm:file=%s", path);
  char *text = lb_fuzz_str(data, size);
  int small = lb_fuzz_small_numbers(text, 4096);
  free(text);
  lb_target *t = NULL;
  lb_err e;
  if (lb_target_alloc(spec, &t, &e) == LB_OK) {
    lb_fuzz_use_target(t, small);
    lb_target_free(t);
  }
  return 0;
}
