/* util.c -- parameter checks shared by the target families.
 * GPL-3.0-or-later. */
#include "util.h"

#include <math.h>

/* The value text of key, for messages ("(default)" when absent). */
static const char *text_of(lb_spec *s, const char *key) {
  const char *v = lb_spec_str(s, key);
  return v ? v : "(default)";
}

int lb_tg_dim(lb_spec *s, const char *key, long def, size_t *out, lb_err *e) {
  long v;
  int rc = lb_spec_long(s, key, def, 1, LB_TG_MAXDIM, &v, e);
  if (rc) return rc;
  *out = (size_t)v;
  return LB_OK;
}

int lb_tg_finite(lb_spec *s, const char *key, double def, double *out,
                 lb_err *e) {
  double v = def;
  int rc = lb_spec_double(s, key, def, -HUGE_VAL, HUGE_VAL, &v, e);
  if (rc) return rc;
  if (!isfinite(v))
    return lb_fail(e, LB_EINPUT, "%s: %s=%s must be a finite number", s->text,
                   key, text_of(s, key));
  *out = v;
  return LB_OK;
}

int lb_tg_positive(lb_spec *s, const char *key, double def, double *out,
                   lb_err *e) {
  double v = def;
  int rc = lb_tg_finite(s, key, def, &v, e);
  if (rc) return rc;
  if (!(v > 0))
    return lb_fail(e, LB_EINPUT, "%s: %s=%s must be > 0", s->text, key,
                   text_of(s, key));
  *out = v;
  return LB_OK;
}
