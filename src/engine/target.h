/* target.h -- the target interface: a density pi(x) ~ exp(-F(x)) on R^d
 * with its exact ground truth.
 *
 * GPL-3.0-or-later.
 *
 * A target family is an lb_target_type (a table of functions, modelled on
 * gsl_rng_type) defined in one file under targets/ and listed once in the
 * registry in src/engine/target.c.  An lb_target is one instance: the type, its
 * opaque state, and the ground truth every family must fill in at init:
 * dimension, mean, covariance, log normalising constant and mode weights.
 *
 * Adding a family: write targets/NAME.c defining `const lb_target_type
 * lb_target_NAME`, add one line to the registry, and the conformance tests
 * (tests/test_targets.c) cover it once a spec is added to their list.
 */
#ifndef LB_TARGET_H
#define LB_TARGET_H

#include <gsl/gsl_rng.h>
#include <stddef.h>

#include "lb.h"

typedef struct lb_target lb_target;

typedef struct {
  const char *name; /* SPEC name, e.g. "gaussian" */
  const char *help; /* one line per parameter with its default, for `list` */

  /* Read parameters from `spec` (mark keys used; the caller rejects unused
   * keys), allocate t->state and fill every ground-truth field of *t
   * (dim, mean, cov, log_z, n_modes, mode_weight).  Returns LB_OK or
   * LB_EINPUT with a message naming the parameter. */
  int (*init)(lb_target *t, lb_spec *spec, lb_err *e);
  void (*free)(void *state);

  /* Potential F(x) with pi(x) = exp(-F(x)) / Z, Z = exp(log_z). */
  double (*potential)(const void *state, const double *x);
  /* g = grad F(x). */
  void (*grad)(const void *state, const double *x, double *g);
  /* One exact draw from pi, using only r. */
  void (*sample)(const void *state, gsl_rng *r, double *x);
  /* Marginal CDF of coordinate i at value v (exact or quadrature). */
  double (*marginal_cdf)(const void *state, size_t i, double v);
  /* Index of the mode x belongs to, in [0, n_modes).  Mixtures: the
   * component with the largest posterior probability; double wells: the
   * sign pattern of the coordinates (see the family's file). */
  size_t (*mode_of)(const void *state, const double *x);

  /* Optional, the fast path: grad F for a block of B rows in the block
   * layout (block.h): g[i*ld + r] = d F / d x_i at x[., r], for r < B
   * (B <= LB_BLOCK_MAX, ld >= B).  t[r] is row r's time (a time-dependent
   * drift reads it; analytic targets ignore it).  Must be reentrant, and
   * compute each row exactly as it would alone (block.h, bit-identity).
   * NULL: lb_target_grad_block calls grad row by row. */
  void (*grad_block)(const void *state, size_t B, size_t ld, const double *x,
                     const double *t, double *g);

  /* ---- weak-error support (optional; src/metrics/weak.c) ---- */
  /* The characteristic function of the marginal of coordinate i at
   * frequency w: *c = E[cos(w x_i)], *s = E[sin(w x_i)], closed form or by
   * quadrature.  Returns a bound on the absolute error of both.  NULL: the
   * weak metrics offer no cos / sin test functions for this family. */
  double (*marginal_cf)(const void *state, size_t i, double w, double *c,
                        double *s);
  /* E|x|^4 (the fourth moment of the norm), closed form or by quadrature;
   * the absolute error bound into *err.  NULL: no f=rad weak metric. */
  double (*moment4)(const void *state, double *err);
} lb_target_type;

struct lb_target {
  const lb_target_type *type;
  void *state;
  char spec[LB_SPEC_MAXLEN]; /* the SPEC it was built from */
  size_t dim;
  double *mean;        /* [dim] exact mean */
  double *cov;         /* [dim*dim] exact covariance, row-major */
  double log_z;        /* log of  integral exp(-F) */
  size_t n_modes;      /* >= 1 */
  double *mode_weight; /* [n_modes] exact probabilities, sum 1 */
};

/* Registry. */
extern const lb_target_type *const lb_target_types[];
const lb_target_type *lb_target_type_find(const char *name);

/* Parse SPEC, look the family up, init, reject unknown keys.  On success
 * returns LB_OK and a target to release with lb_target_free. */
int lb_target_alloc(const char *spec, lb_target **out, lb_err *e);
void lb_target_free(lb_target *t);

/* Allocate the ground-truth arrays of t (called by families' init once
 * t->dim and t->n_modes are known); zero-filled. */
void lb_target_alloc_truth(lb_target *t);

/* grad F on a block (target.h, grad_block); families without a block
 * gradient are served row by row through `grad` (the generic adapter). */
void lb_target_grad_block(const lb_target *t, size_t B, size_t ld,
                          const double *x, const double *tm, double *g);

/* Normalised log density log pi(x) = -F(x) - log_z. */
double lb_target_logpdf(const lb_target *t, const double *x);

/* ------------------------------------------------------------------ */
/* Initial laws (--init): `gaussian:var=V[,mean=M]`, `point:x=X` where X
 * is one number (every coordinate) or dim numbers separated by ';', and
 * `target` (an exact draw from the target: a chain started in equilibrium,
 * so that any later error is discretisation bias).
 * Default (NULL or empty): standard normal.
 * Velocities (underdamped samplers) start from their stationary law
 * N(0, I) unless the spec adds `vvar=W` (N(0, W I), W >= 0) or `v=X` (a
 * point: one number or dim numbers separated by ';'), to any of the
 * three kinds, e.g. `point:x=1,v=0`.  Overdamped samplers reject both
 * keys (the commands check has_v). */
typedef struct {
  int kind; /* 0 gaussian, 1 point, 2 target */
  const lb_target *target;
  double var;
  double mean;
  double *point; /* [dim] for kind 1 */
  size_t dim;
  char spec[LB_SPEC_MAXLEN];
  int has_v;      /* the spec set v= or vvar= */
  double vvar;    /* velocity variance (when vpoint is NULL) */
  double *vpoint; /* [dim] fixed initial velocity, or NULL */
} lb_init;

int lb_init_parse(lb_init *in, const char *spec, const lb_target *t,
                  lb_err *e);
void lb_init_draw(const lb_init *in, gsl_rng *r, double *x);
/* The initial velocity (dim entries), drawn after the position. */
void lb_init_draw_velocity(const lb_init *in, gsl_rng *r, double *v);
void lb_init_clear(lb_init *in);

#endif
