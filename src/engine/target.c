/* target.c -- target registry, construction from a SPEC, initial laws.
 * GPL-3.0-or-later. */
#include "target.h"

#include <gsl/gsl_randist.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

extern const lb_target_type lb_target_gaussian;
extern const lb_target_type lb_target_gmm;
extern const lb_target_type lb_target_double_well;

/* The registry: one line per family. */
const lb_target_type *const lb_target_types[] = {
    &lb_target_gaussian,
    &lb_target_gmm,
    &lb_target_double_well,
    NULL,
};

const lb_target_type *lb_target_type_find(const char *name) {
  for (size_t i = 0; lb_target_types[i]; i++)
    if (strcmp(lb_target_types[i]->name, name) == 0) return lb_target_types[i];
  return NULL;
}

void lb_target_alloc_truth(lb_target *t) {
  free(t->mean);
  free(t->cov);
  free(t->mode_weight);
  t->mean = lb_xcalloc(t->dim, sizeof(double));
  t->cov = lb_xcalloc(t->dim * t->dim, sizeof(double));
  if (t->n_modes == 0) t->n_modes = 1;
  t->mode_weight = lb_xcalloc(t->n_modes, sizeof(double));
}

int lb_target_alloc(const char *text, lb_target **out, lb_err *e) {
  lb_spec s;
  int rc = lb_spec_parse(&s, text, "--target", e);
  if (rc) return rc;
  const lb_target_type *type = lb_target_type_find(s.name);
  if (!type)
    return lb_fail(e, LB_EINPUT,
                   "--target: unknown target '%s' (see 'langbench list targets')",
                   s.name);
  lb_target *t = lb_xcalloc(1, sizeof *t);
  t->type = type;
  snprintf(t->spec, sizeof t->spec, "%s", text);
  rc = type->init(t, &s, e);
  if (rc == LB_OK) rc = lb_spec_check_used(&s, "--target", e);
  if (rc == LB_OK && t->dim < 1)
    rc = lb_fail(e, LB_EINPUT, "--target: '%s' has dimension 0", text);
  if (rc) {
    lb_target_free(t);
    return rc;
  }
  *out = t;
  return LB_OK;
}

void lb_target_free(lb_target *t) {
  if (!t) return;
  if (t->state && t->type->free) t->type->free(t->state);
  free(t->mean);
  free(t->cov);
  free(t->mode_weight);
  free(t);
}

void lb_target_grad_block(const lb_target *t, size_t B, size_t ld,
                          const double *x, const double *tm, double *g) {
  const lb_target_type *T = t->type;
  if (T->grad_block) {
    T->grad_block(t->state, B, ld, x, tm, g);
    return;
  }
  size_t d = t->dim;
  double stack[2 * 256];
  double *xr = d <= 256 ? stack : lb_xcalloc(2 * d, sizeof(double));
  double *gr = xr + d;
  for (size_t r = 0; r < B; r++) {
    for (size_t i = 0; i < d; i++) xr[i] = x[i * ld + r];
    T->grad(t->state, xr, gr);
    for (size_t i = 0; i < d; i++) g[i * ld + r] = gr[i];
  }
  if (xr != stack) free(xr);
}

double lb_target_logpdf(const lb_target *t, const double *x) {
  return -t->type->potential(t->state, x) - t->log_z;
}

/* ---- initial laws ------------------------------------------------- */

int lb_init_parse(lb_init *in, const char *text, const lb_target *t,
                  lb_err *e) {
  size_t dim = t->dim;
  memset(in, 0, sizeof *in);
  in->dim = dim;
  in->target = t;
  in->var = 1.0;
  if (!text || !*text) text = "gaussian:var=1";
  snprintf(in->spec, sizeof in->spec, "%s", text);
  lb_spec s;
  int rc = lb_spec_parse(&s, text, "--init", e);
  if (rc) return rc;
  if (strcmp(s.name, "gaussian") == 0) {
    in->kind = 0;
    rc = lb_spec_double(&s, "var", 1.0, 0.0, HUGE_VAL, &in->var, e);
    if (!rc) rc = lb_spec_double(&s, "mean", 0.0, -HUGE_VAL, HUGE_VAL, &in->mean, e);
  } else if (strcmp(s.name, "target") == 0) {
    in->kind = 2;
  } else if (strcmp(s.name, "point") == 0) {
    in->kind = 1;
    in->point = lb_xcalloc(dim, sizeof(double));
    const char *x = lb_spec_str(&s, "x");
    if (!x) return lb_fail(e, LB_EINPUT, "--init: point needs x=X");
    double buf[4096];
    int n = lb_parse_doubles(x, buf, 4096);
    if (n == 1) {
      for (size_t i = 0; i < dim; i++) in->point[i] = buf[0];
    } else if (n > 0 && (size_t)n == dim) {
      memcpy(in->point, buf, dim * sizeof(double));
    } else {
      return lb_fail(e, LB_EINPUT,
                     "--init: x=%s must be one number or %zu numbers "
                     "separated by ';'", x, dim);
    }
  } else {
    return lb_fail(e, LB_EINPUT,
                   "--init: unknown initial law '%s' (gaussian, point or "
                   "target)",
                   s.name);
  }
  if (rc) return rc;
  /* velocities */
  in->vvar = 1.0;
  const char *vx = lb_spec_str(&s, "v");
  if (vx && lb_spec_has(&s, "vvar"))
    return lb_fail(e, LB_EINPUT, "--init: give v= or vvar=, not both");
  in->has_v = vx || lb_spec_has(&s, "vvar");
  rc = lb_spec_double(&s, "vvar", 1.0, 0.0, HUGE_VAL, &in->vvar, e);
  if (rc) return rc;
  if (vx) {
    in->vpoint = lb_xcalloc(dim, sizeof(double));
    double buf[4096];
    int n = lb_parse_doubles(vx, buf, 4096);
    if (n == 1) {
      for (size_t i = 0; i < dim; i++) in->vpoint[i] = buf[0];
    } else if (n > 0 && (size_t)n == dim) {
      memcpy(in->vpoint, buf, dim * sizeof(double));
    } else {
      return lb_fail(e, LB_EINPUT,
                     "--init: v=%s must be one number or %zu numbers "
                     "separated by ';'", vx, dim);
    }
  }
  return lb_spec_check_used(&s, "--init", e);
}

void lb_init_draw(const lb_init *in, gsl_rng *r, double *x) {
  if (in->kind == 1) {
    memcpy(x, in->point, in->dim * sizeof(double));
    return;
  }
  if (in->kind == 2) {
    in->target->type->sample(in->target->state, r, x);
    return;
  }
  double sd = sqrt(in->var);
  for (size_t i = 0; i < in->dim; i++)
    x[i] = in->mean + sd * gsl_ran_gaussian_ziggurat(r, 1.0);
}

void lb_init_draw_velocity(const lb_init *in, gsl_rng *r, double *v) {
  if (in->vpoint) {
    memcpy(v, in->vpoint, in->dim * sizeof(double));
    return;
  }
  double sd = sqrt(in->vvar);
  for (size_t i = 0; i < in->dim; i++)
    v[i] = sd * gsl_ran_gaussian_ziggurat(r, 1.0);
}

void lb_init_clear(lb_init *in) {
  free(in->point);
  in->point = NULL;
  free(in->vpoint);
  in->vpoint = NULL;
}
