/* block.h -- blocks of chains: the layout every block operator shares.
 *
 * GPL-3.0-or-later.
 *
 * A block holds B chains ("rows") of an n-component state side by side,
 * coordinate-major: x[i * ld + r] is coordinate i of row r, r < B <= ld.
 * Loops over rows are then unit-stride and vectorise; the diffusion model
 * (src/diffusion/model.h) uses the same layout.  The engine keeps ld a
 * multiple of LB_BLOCK_ALIGN and B <= LB_BLOCK_MAX, so kernels may keep
 * per-row scratch of LB_BLOCK_MAX doubles on the stack.
 *
 * Bit-identity: every kernel computes each row with the same IEEE
 * operations whatever the row's position (no reductions across rows, no
 * libm calls whose vector and scalar forms could differ, no FMA
 * contraction: -std=c11 sets -ffp-contract=off), so a run is identical for
 * any block size, and the vector and scalar remainders of a loop agree.
 */
#ifndef LB_BLOCK_H
#define LB_BLOCK_H

#include <math.h>
#include <stddef.h>

#include "rng.h"

#define LB_BLOCK_MAX 256  /* largest block */
#define LB_BLOCK_ALIGN 8  /* ld is a multiple of this (one AVX-512 vector) */
#define LB_BLOCK_DEFAULT 64

/* The leading dimension for B rows. */
static inline size_t lb_block_ld(size_t B) {
  return (B + LB_BLOCK_ALIGN - 1) / LB_BLOCK_ALIGN * LB_BLOCK_ALIGN;
}

/* What a sampler's step sees of its block besides the state. */
typedef struct {
  size_t B;      /* rows in use */
  size_t ld;     /* leading dimension of every block array */
  lb_streams *r; /* per-row randomness (coupled mode: the control draws) */
  lb_streams *rz; /* per-row Brownian increments; == r unless coupled */
} lb_block;

/* dst[i*ldd + j] = src[i*lds + idx[j]] for i < n, j < cnt. */
static inline void lb_block_gather(size_t n, const double *src, size_t lds,
                                   const size_t *idx, size_t cnt, double *dst,
                                   size_t ldd) {
  for (size_t i = 0; i < n; i++)
    for (size_t j = 0; j < cnt; j++) dst[i * ldd + j] = src[i * lds + idx[j]];
}

/* dst[i*ldd + idx[j]] = src[i*lds + j]. */
static inline void lb_block_scatter(size_t n, const double *src, size_t lds,
                                    const size_t *idx, size_t cnt, double *dst,
                                    size_t ldd) {
  for (size_t i = 0; i < n; i++)
    for (size_t j = 0; j < cnt; j++) dst[i * ldd + idx[j]] = src[i * lds + j];
}

/* 1 when coordinates 0..n-1 of row r are all finite. */
static inline int lb_block_row_finite(size_t n, const double *x, size_t ld,
                                      size_t r) {
  for (size_t i = 0; i < n; i++)
    if (!isfinite(x[i * ld + r])) return 0;
  return 1;
}

#endif
