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
 * Every operator acts on a block of B chains in the block layout
 * (block.h): y[i*ld + r] is component i of row r (i < n), b[i*ld + r]
 * drift component i (i < d), and each row has its own duration tau[r]
 * (the Poisson midpoint method's segments differ from chain to chain)
 * starting at its own time t[r].  A time-homogeneous dynamics (every
 * family with the scaling relations) ignores t, and its callers may pass
 * t = NULL; a time-dependent one (the DDPM reverse chain, whose
 * coefficients change along the chain) sets scaling = 0 and needs t, so
 * only the samplers that pass t (Euler-Maruyama, the Poisson midpoint
 * method's fine form) run on it.
 * The noise operator takes its standard normals z (n x ld, same layout)
 * from the sampler, which draws them from each row's own stream; the
 * dynamics itself holds no randomness.  Operators must treat rows
 * independently (block.h, bit-identity).
 *
 * Overdamped Langevin is the first instance; underdamped Langevin and the
 * DDPM reverse chain plug in as further instances without a second copy of
 * any sampler.
 */
#ifndef LB_DYNAMICS_H
#define LB_DYNAMICS_H

#include <stddef.h>

#include "block.h"
#include "target.h"

typedef struct lb_dynamics lb_dynamics;

typedef struct {
  const char *name;
  int second_order; /* 1: state is (x, v), n = 2d */
  int scaling;      /* 1: the scaling relations hold */
  /* y <- A_tau y (over [t, t + tau] for each row) */
  void (*apply_A)(const lb_dynamics *dy, size_t B, size_t ld,
                  const double *tau, const double *t, double *y);
  /* y += c * G_tau b */
  void (*add_G)(const lb_dynamics *dy, size_t B, size_t ld, const double *tau,
                const double *t, double c, const double *b, double *y);
  /* y += c * G'(0) b, where G'(0) = lim_{h->0} G_h / h (the K = infinity
   * limit of K G_{alpha/K} = alpha G'(0)). */
  void (*add_Gdot)(const lb_dynamics *dy, size_t B, size_t ld, double c,
                   const double *b, double *y);
  /* y += Gamma_tau z for given standard normals z (n per row). */
  void (*add_noise)(const lb_dynamics *dy, size_t B, size_t ld,
                    const double *tau, const double *t, const double *z,
                    double *y);
} lb_dynamics_type;

struct lb_dynamics {
  const lb_dynamics_type *type;
  const lb_target *target;
  size_t d;     /* position dimension */
  size_t n;     /* state dimension */
  double gamma; /* friction (underdamped) */
};

/* b = -grad F(position part of y) for a block; row r at time t[r].  The
 * position part is components 0..d-1, i.e. y itself in the block layout. */
void lb_dynamics_drift(const lb_dynamics *dy, size_t B, size_t ld,
                       const double *y, const double *t, double *b);

extern const lb_dynamics_type lb_dynamics_overdamped;
/* Its Euler-Maruyama update y <- y + h b + sqrt(2h) z for every row of a
 * block (the same h), in one pass: the same IEEE operations as add_G
 * (c = 1) then add_noise, so the same bits (lmc.c's fast path). */
void lb_od_em_update(size_t d, size_t B, size_t ld, double h,
                     const double *b, const double *z, double *y);

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
/* The same coefficients for n durations tau[r] at once, one vector pass
 * per piece, with the bits of lb_ud_coefs and of the block operators (the
 * operators run these on their duration arrays; a sampler that knows its
 * durations ahead, the Poisson midpoint method's list form, calls them
 * directly): A (om = 1 - E, scratch for the noise), G (GU; GV = K) and
 * the noise's Cholesky factor (from om and E).  Any n; a multiple of 8
 * runs whole vectors only. */
void lb_ud_fill_A(size_t n, double gamma, const double *restrict tau,
                  double *restrict om, double *restrict E, double *restrict K);
void lb_ud_fill_G(size_t n, double gamma, const double *restrict tau,
                  const double *restrict K, double *restrict GU);
void lb_ud_fill_N(size_t n, double gamma, const double *restrict tau,
                  const double *restrict om, const double *restrict E,
                  double *restrict L11, double *restrict L21,
                  double *restrict L22);

void lb_dynamics_setup(lb_dynamics *dy, const lb_dynamics_type *type,
                       const lb_target *t, double gamma);

#endif
