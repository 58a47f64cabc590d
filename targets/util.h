/* util.h -- small helpers the target families share: parameter checks.
 *
 * GPL-3.0-or-later.
 */
#ifndef LB_TARGETS_UTIL_H
#define LB_TARGETS_UTIL_H

#include <stddef.h>

#include "lb.h"

/* Largest dimension a target accepts: every target stores its exact
 * covariance as a dense dim x dim matrix (8 * 4096^2 bytes = 128 MiB). */
#define LB_TG_MAXDIM 4096

/* Dimension parameter `key` in [1, LB_TG_MAXDIM], default `def`. */
int lb_tg_dim(lb_spec *s, const char *key, long def, size_t *out, lb_err *e);

/* A finite number > 0 (default `def` when the key is absent); otherwise
 * LB_EINPUT with a message naming key=value. */
int lb_tg_positive(lb_spec *s, const char *key, double def, double *out,
                   lb_err *e);

/* A finite number (default `def`). */
int lb_tg_finite(lb_spec *s, const char *key, double def, double *out,
                 lb_err *e);

#endif
