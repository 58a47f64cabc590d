/* dynamics.h -- the general linear-drift process (algorithms.md, section 1)
 *
 *     Y_{t+1} = A_h Y_t + G_h b(Y_t, t h) + Gamma_h Z_t            (S)
 *
 * GPL-3.0-or-later.
 *
 * The state Y has n = d (overdamped: position) or n = 2d (underdamped:
 * position then velocity) components; the drift b has d components and
 * is -grad F of the target at the position part.  A dynamics supplies the
 * three operators for any duration tau.  Families that satisfy the
 * scaling relations (A_h^n = A_{nh}, ...) set `scaling = 1`, which lets
 * the Poisson midpoint method use its K-independent construction.
 *
 * Overdamped Langevin is the first instance; underdamped Langevin and the
 * DDPM reverse chain plug in as further instances without a second copy of
 * any sampler.
 */
#ifndef LB_DYNAMICS_H
#define LB_DYNAMICS_H

#include <gsl/gsl_rng.h>
#include <stddef.h>

#include "target.h"

typedef struct lb_dynamics lb_dynamics;

typedef struct {
  const char *name;
  int second_order; /* 1: state is (x, v), n = 2d */
  int scaling;      /* 1: the scaling relations hold */
  /* y <- A_tau y   (y has n components) */
  void (*apply_A)(const lb_dynamics *dy, double tau, double *y);
  /* y += c * G_tau b   (b has d components) */
  void (*add_G)(const lb_dynamics *dy, double tau, double c, const double *b,
                double *y);
  /* y += c * G'(0) b, where G'(0) = lim_{h->0} G_h / h (the K = infinity
   * limit of K G_{alpha/K} = alpha G'(0)). */
  void (*add_Gdot)(const lb_dynamics *dy, double c, const double *b,
                   double *y);
  /* y += Gamma_tau z, z ~ N(0, I_n) drawn from r. */
  void (*add_noise)(const lb_dynamics *dy, double tau, double *y, gsl_rng *r);
  /* y += Gamma_tau z for a given z (n components): used when several
   * samplers must share one Brownian path. */
  void (*add_noise_z)(const lb_dynamics *dy, double tau, const double *z,
                      double *y);
} lb_dynamics_type;

struct lb_dynamics {
  const lb_dynamics_type *type;
  const lb_target *target;
  size_t d;     /* position dimension */
  size_t n;     /* state dimension */
  double gamma; /* friction (underdamped) */
};

/* b = -grad F(position part of y). */
static inline void lb_dynamics_drift(const lb_dynamics *dy, const double *y,
                                     double *b) {
  dy->target->type->grad(dy->target->state, y, b);
  for (size_t i = 0; i < dy->d; i++) b[i] = -b[i];
}

extern const lb_dynamics_type lb_dynamics_overdamped;

/* Underdamped Langevin (dynamics_underdamped.c): state (u, v), n = 2d,
 * friction dy->gamma.  The per-coordinate coefficients of (S) for a
 * duration tau, exposed for the exact laws and the tests:
 *   A = [[1, K], [0, E]], G = (GU, GV), noise covariance [[vU, cUV],
 *   [cUV, vV]] = [[L11, 0], [L21, L22]] [[L11, L21], [0, L22]]. */
extern const lb_dynamics_type lb_dynamics_underdamped;
typedef struct {
  double K, E, GU, GV, vU, cUV, vV, L11, L21, L22;
} lb_ud_coef;
void lb_ud_coefs(double gamma, double tau, lb_ud_coef *c);

void lb_dynamics_setup(lb_dynamics *dy, const lb_dynamics_type *type,
                       const lb_target *t, double gamma);

#endif
