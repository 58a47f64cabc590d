/* dynamics.c -- instances of the general process (S).  GPL-3.0-or-later.
 *
 * Overdamped Langevin dX = -grad F(X) dt + sqrt(2) dB:
 *   A_tau = I,  G_tau = tau I,  Gamma_tau = sqrt(2 tau) I,  G'(0) = I.
 * The scaling relations hold trivially.  Each operator costs O(d) per row,
 * in unit-stride loops over the rows of a block.
 */
#include "dynamics.h"

#include <math.h>

#include "vmath.h"

void lb_dynamics_setup(lb_dynamics *dy, const lb_dynamics_type *type,
                       const lb_target *t, double gamma) {
  dy->type = type;
  dy->target = t;
  dy->d = t->dim;
  dy->n = type->second_order ? 2 * t->dim : t->dim;
  dy->gamma = gamma;
}

LB_VECTOR_CLONES
void lb_dynamics_drift(const lb_dynamics *dy, size_t B, size_t ld,
                       const double *y, const double *t, double *b) {
  lb_target_grad_block(dy->target, B, ld, y, t, b);
  for (size_t i = 0; i < dy->d; i++) {
    double *bi = b + i * ld;
#pragma omp simd
    for (size_t r = 0; r < B; r++) bi[r] = -bi[r];
  }
}

/* ---- overdamped ----------------------------------------------------- */

static void od_apply_A(const lb_dynamics *dy, size_t B, size_t ld,
                       const double *tau, const double *t, double *y) {
  (void)dy;
  (void)B;
  (void)ld;
  (void)tau;
  (void)t;
  (void)y; /* identity */
}

LB_VECTOR_CLONES
static void od_add_G(const lb_dynamics *dy, size_t B, size_t ld,
                     const double *tau, const double *t, double c,
                     const double *b, double *y) {
  (void)t;
  double k[LB_BLOCK_MAX];
#pragma omp simd
  for (size_t r = 0; r < B; r++) k[r] = c * tau[r];
  for (size_t i = 0; i < dy->d; i++) {
    const double *bi = b + i * ld;
    double *yi = y + i * ld;
#pragma omp simd
    for (size_t r = 0; r < B; r++) yi[r] += k[r] * bi[r];
  }
}

LB_VECTOR_CLONES
static void od_add_Gdot(const lb_dynamics *dy, size_t B, size_t ld, double c,
                        const double *b, double *y) {
  for (size_t i = 0; i < dy->d; i++) {
    const double *bi = b + i * ld;
    double *yi = y + i * ld;
#pragma omp simd
    for (size_t r = 0; r < B; r++) yi[r] += c * bi[r];
  }
}

/* sqrt(2 tau) of every row: lb_sqrt_fma (vmath.h; libm's sqrt keeps the
 * loop scalar for errno), so that one value and a vector of them agree. */
LB_VECTOR_CLONES
static void noise_scales(size_t B, const double *restrict tau,
                         double *restrict s) {
#pragma omp simd
  for (size_t r = 0; r < B; r++) s[r] = lb_sqrt_fma(2.0 * tau[r]);
}

LB_VECTOR_CLONES
static void od_add_noise(const lb_dynamics *dy, size_t B, size_t ld,
                         const double *tau, const double *t, const double *z,
                         double *y) {
  (void)t;
  double s[LB_BLOCK_MAX];
  noise_scales(B, tau, s);
  for (size_t i = 0; i < dy->d; i++) {
    const double *zi = z + i * ld;
    double *yi = y + i * ld;
#pragma omp simd
    for (size_t r = 0; r < B; r++) yi[r] += s[r] * zi[r];
  }
}

/* y = (y + h b) + sqrt(2h) z: od_add_G then od_add_noise, fused. */
LB_VECTOR_CLONES
void lb_od_em_update(size_t d, size_t B, size_t ld, double h,
                     const double *b, const double *z, double *y) {
  double s0 = lb_sqrt_fma(2.0 * h);
  for (size_t i = 0; i < d; i++) {
    const double *restrict bi = b + i * ld, *restrict zi = z + i * ld;
    double *restrict yi = y + i * ld;
#pragma omp simd
    for (size_t r = 0; r < B; r++) yi[r] = (yi[r] + h * bi[r]) + s0 * zi[r];
  }
}

const lb_dynamics_type lb_dynamics_overdamped = {
    "overdamped", 0, 1, od_apply_A, od_add_G, od_add_Gdot, od_add_noise};
