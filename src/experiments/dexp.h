/* dexp.h -- diffusion experiments (`kind = "diffusion"` files run by
 * `langbench run`; format in dexp.c and the README).  GPL-3.0-or-later. */
#ifndef LB_DEXP_H
#define LB_DEXP_H

#include "lb.h"

/* 1 when the libconfig file at path says kind = "diffusion". */
int lb_dexp_detect(const char *path);

/* Run (or with dry, list) the cells; out NULL: results/NAME.h5. */
int lb_dexp_run(const char *path, const char *out, int threads, int fresh,
                int dry, lb_err *e);

#endif
