/* dynamics.c -- instances of the general process (S).  GPL-3.0-or-later.
 *
 * Overdamped Langevin dX = -grad F(X) dt + sqrt(2) dB:
 *   A_tau = I,  G_tau = tau I,  Gamma_tau = sqrt(2 tau) I,  G'(0) = I.
 * The scaling relations hold trivially.  Each operator costs O(d).
 */
#include "dynamics.h"

#include <gsl/gsl_randist.h>
#include <math.h>

void lb_dynamics_setup(lb_dynamics *dy, const lb_dynamics_type *type,
                       const lb_target *t, double gamma) {
  dy->type = type;
  dy->target = t;
  dy->d = t->dim;
  dy->n = type->second_order ? 2 * t->dim : t->dim;
  dy->gamma = gamma;
}

/* ---- overdamped ----------------------------------------------------- */

static void od_apply_A(const lb_dynamics *dy, double tau, double *y) {
  (void)dy;
  (void)tau;
  (void)y; /* identity */
}

static void od_add_G(const lb_dynamics *dy, double tau, double c,
                     const double *b, double *y) {
  double k = c * tau;
  for (size_t i = 0; i < dy->d; i++) y[i] += k * b[i];
}

static void od_add_Gdot(const lb_dynamics *dy, double c, const double *b,
                        double *y) {
  for (size_t i = 0; i < dy->d; i++) y[i] += c * b[i];
}

static void od_add_noise(const lb_dynamics *dy, double tau, double *y,
                         gsl_rng *r) {
  double s = sqrt(2.0 * tau);
  for (size_t i = 0; i < dy->d; i++) y[i] += s * gsl_ran_gaussian_ziggurat(r, 1.0);
}

static void od_add_noise_z(const lb_dynamics *dy, double tau, const double *z,
                           double *y) {
  double s = sqrt(2.0 * tau);
  for (size_t i = 0; i < dy->d; i++) y[i] += s * z[i];
}

const lb_dynamics_type lb_dynamics_overdamped = {
    "overdamped", 0, 1, od_apply_A, od_add_G, od_add_Gdot, od_add_noise,
    od_add_noise_z};
