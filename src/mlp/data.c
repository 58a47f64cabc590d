/* data.c -- training data: the standard 2-D toy sets as seeded generators,
 * or any target SPEC drawn with its exact sampler.  GPL-3.0-or-later.
 *
 * The toy sets follow the definitions common in the normalising-flow and
 * diffusion literature (FFJORD's toy_data, scikit-learn's make_moons /
 * make_circles / make_swiss_roll), written here as i.i.d. draws (the
 * originals place points on a grid of angles; here angles are uniform).
 * U is Unif(0,1), Z is N(0,1), all independent, drawn in the order given:
 *
 *   moons        arc k ~ Unif{0,1}, t = pi U; outer (cos t, sin t), inner
 *                (1 - cos t, 1/2 - sin t); + 0.1 Z per coordinate; then
 *                x -> 2 x + (-1, -0.2).
 *   8gaussians   k ~ Unif{0..7}, centre 4 (cos(k pi/4), sin(k pi/4));
 *                x = (centre + 0.5 Z) / sqrt 2 (radius 2.83, std 0.354).
 *   swissroll    t = 1.5 pi (1 + 2U); x = ((t cos t, t sin t) + Z) / 5.
 *   checkerboard x1 = 4U - 2, x2 = U - 2 Unif{0,1} + (floor(x1) mod 2);
 *                x = 2 (x1, x2): 8 squares of side 2 in [-4, 4]^2.
 *   rings        k ~ Unif{1..4}, radius 3k/4, angle 2 pi U; + 0.08 Z.
 *   pinwheel     k ~ Unif{0..4}; f = (1 + 0.3 Z, 0.1 Z); angle a = 2 pi
 *                k / 5 + 0.25 exp(f_1); x = 2 R(a) f (R: rotation).
 *   2spirals     n = sqrt(U) 3 pi; p = (-n cos n + U/2, n sin n + U/2),
 *                sign ~ Unif{+1,-1}; x = sign p / 3 + 0.1 Z.
 *   circles      k ~ Unif{0,1}, radius 1 (outer) or 1/2, angle 2 pi U;
 *                + 0.08 Z; then x -> 3 x.
 *
 * Cost: a few uniforms and Gaussians per point.
 */
#include <gsl/gsl_randist.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "mlp.h"
#include "target.h"

const char *const lb_data_toy_names[] = {
    "moons", "8gaussians", "swissroll", "checkerboard", "rings",
    "pinwheel", "2spirals", "circles", NULL};

struct lb_data {
  int toy;       /* index into lb_data_toy_names, or -1 for a target */
  lb_target *t;  /* when toy < 0 */
  size_t dim;
  char spec[LB_SPEC_MAXLEN];
};

int lb_data_alloc(const char *spec, const char *what, lb_data **out,
                  lb_err *e) {
  *out = NULL;
  lb_spec sp;
  int rc = lb_spec_parse(&sp, spec ? spec : "", what, e);
  if (rc) return rc;
  lb_data *d = lb_xcalloc(1, sizeof *d);
  snprintf(d->spec, sizeof d->spec, "%s", spec);
  d->toy = -1;
  for (int k = 0; lb_data_toy_names[k]; k++)
    if (strcmp(sp.name, lb_data_toy_names[k]) == 0) d->toy = k;
  if (d->toy >= 0) {
    rc = lb_spec_check_used(&sp, what, e);
    d->dim = 2;
  } else if (!lb_target_type_find(sp.name)) {
    rc = lb_fail(e, LB_EINPUT,
                 "%s %s: neither a toy data set (moons, 8gaussians, "
                 "swissroll, checkerboard, rings, pinwheel, 2spirals, "
                 "circles) nor a target (langbench list targets)",
                 what, spec);
  } else {
    rc = lb_target_alloc(spec, &d->t, e);
    if (!rc) d->dim = d->t->dim;
  }
  if (rc) {
    lb_data_free(d);
    return rc;
  }
  *out = d;
  return LB_OK;
}

void lb_data_free(lb_data *d) {
  if (!d) return;
  lb_target_free(d->t);
  free(d);
}

size_t lb_data_dim(const lb_data *d) { return d->dim; }
const char *lb_data_spec(const lb_data *d) { return d->spec; }

/* One toy point into p[0], p[1]. */
static void toy_draw(int toy, gsl_rng *r, double *p) {
  const double pi = M_PI;
  double u, t, k;
  switch (toy) {
    case 0: /* moons */
      k = (double)gsl_rng_uniform_int(r, 2);
      t = pi * gsl_rng_uniform(r);
      p[0] = k ? 1.0 - cos(t) : cos(t);
      p[1] = k ? 0.5 - sin(t) : sin(t);
      p[0] += 0.1 * gsl_ran_gaussian_ziggurat(r, 1.0);
      p[1] += 0.1 * gsl_ran_gaussian_ziggurat(r, 1.0);
      p[0] = 2.0 * p[0] - 1.0;
      p[1] = 2.0 * p[1] - 0.2;
      break;
    case 1: /* 8gaussians */
      k = (double)gsl_rng_uniform_int(r, 8);
      p[0] = (4.0 * cos(k * pi / 4) + 0.5 * gsl_ran_gaussian_ziggurat(r, 1.0)) / M_SQRT2;
      p[1] = (4.0 * sin(k * pi / 4) + 0.5 * gsl_ran_gaussian_ziggurat(r, 1.0)) / M_SQRT2;
      break;
    case 2: /* swissroll */
      t = 1.5 * pi * (1.0 + 2.0 * gsl_rng_uniform(r));
      p[0] = (t * cos(t) + gsl_ran_gaussian_ziggurat(r, 1.0)) / 5.0;
      p[1] = (t * sin(t) + gsl_ran_gaussian_ziggurat(r, 1.0)) / 5.0;
      break;
    case 3: { /* checkerboard */
      double x1 = 4.0 * gsl_rng_uniform(r) - 2.0;
      double x2 = gsl_rng_uniform(r) - 2.0 * (double)gsl_rng_uniform_int(r, 2);
      double f = floor(x1);
      x2 += f - 2.0 * floor(f / 2.0); /* floor(x1) mod 2, in {0, 1} */
      p[0] = 2.0 * x1;
      p[1] = 2.0 * x2;
      break;
    }
    case 4: /* rings */
      k = (double)(1 + gsl_rng_uniform_int(r, 4));
      t = 2.0 * pi * gsl_rng_uniform(r);
      p[0] = 0.75 * k * cos(t) + 0.08 * gsl_ran_gaussian_ziggurat(r, 1.0);
      p[1] = 0.75 * k * sin(t) + 0.08 * gsl_ran_gaussian_ziggurat(r, 1.0);
      break;
    case 5: { /* pinwheel */
      k = (double)gsl_rng_uniform_int(r, 5);
      double f1 = 1.0 + 0.3 * gsl_ran_gaussian_ziggurat(r, 1.0);
      double f2 = 0.1 * gsl_ran_gaussian_ziggurat(r, 1.0);
      double a = 2.0 * pi * k / 5.0 + 0.25 * exp(f1);
      p[0] = 2.0 * (cos(a) * f1 - sin(a) * f2);
      p[1] = 2.0 * (sin(a) * f1 + cos(a) * f2);
      break;
    }
    case 6: { /* 2spirals */
      double n = sqrt(gsl_rng_uniform(r)) * 3.0 * pi;
      double px = -cos(n) * n + 0.5 * gsl_rng_uniform(r);
      double py = sin(n) * n + 0.5 * gsl_rng_uniform(r);
      double sg = gsl_rng_uniform_int(r, 2) ? -1.0 : 1.0;
      p[0] = sg * px / 3.0 + 0.1 * gsl_ran_gaussian_ziggurat(r, 1.0);
      p[1] = sg * py / 3.0 + 0.1 * gsl_ran_gaussian_ziggurat(r, 1.0);
      break;
    }
    default: /* circles */
      u = gsl_rng_uniform_int(r, 2) ? 0.5 : 1.0;
      t = 2.0 * pi * gsl_rng_uniform(r);
      p[0] = 3.0 * (u * cos(t) + 0.08 * gsl_ran_gaussian_ziggurat(r, 1.0));
      p[1] = 3.0 * (u * sin(t) + 0.08 * gsl_ran_gaussian_ziggurat(r, 1.0));
      break;
  }
}

void lb_data_draw(const lb_data *d, gsl_rng *r, size_t n, double *x) {
  for (size_t i = 0; i < n; i++) {
    if (d->toy >= 0)
      toy_draw(d->toy, r, x + 2 * i);
    else
      d->t->type->sample(d->t->state, r, x + i * d->dim);
  }
}

/* ---- moons: distance to the noiseless arcs ---------------------------- */

/* Distance from p to the half circle of centre (cx, cy), radius 2, on the
 * side sign * (y - cy) >= 0 (beyond it, to the nearer end point). */
static double arc_dist(const double *p, double cx, double cy, double sign) {
  double dx = p[0] - cx, dy = p[1] - cy;
  if (sign * dy >= 0) return fabs(hypot(dx, dy) - 2.0);
  double d1 = hypot(dx - 2.0, dy), d2 = hypot(dx + 2.0, dy);
  return d1 < d2 ? d1 : d2;
}

double lb_moons_far_fraction(const double *x, size_t n) {
  size_t far = 0;
  for (size_t i = 0; i < n; i++) {
    double a = arc_dist(x + 2 * i, -1.0, -0.2, 1.0);
    double b = arc_dist(x + 2 * i, 1.0, 0.8, -1.0);
    far += (a < b ? a : b) > 0.5;
  }
  return n ? (double)far / (double)n : NAN;
}
