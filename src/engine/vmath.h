/* vmath.h -- elementary functions written for vector loops.
 *
 * GPL-3.0-or-later.
 *
 * Plain C on doubles (multiplies, adds, integer adds and shifts on the
 * bit patterns, selects), so a loop calling them vectorises under
 * `#pragma omp simd` on any ISA, and every lane, vector or scalar, SSE2,
 * AVX2 or AVX-512, gives the same bits: block kernels stay bit-identical
 * for any block size and any machine (block.h).  No FMA is assumed (ISO C
 * mode compiles with -ffp-contract=off), no -ffast-math.
 *
 * LB_VECTOR_CLONES on a kernel compiles it for AVX-512 (x86-64-v4), AVX2
 * and the baseline, picked at load time (GCC target_clones; off under the
 * sanitizers).
 */
#ifndef LB_VMATH_H
#define LB_VMATH_H

#include <stdint.h>
#include <string.h>

#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__) && \
    !defined(__SANITIZE_ADDRESS__) && !defined(__SANITIZE_UNDEFINED__)
#define LB_VECTOR_CLONES \
  __attribute__((target_clones("arch=x86-64-v4", "avx2", "default")))
#else
#define LB_VECTOR_CLONES
#endif

static inline uint64_t lb_bits(double x) {
  uint64_t u;
  memcpy(&u, &x, sizeof u);
  return u;
}

static inline double lb_from_bits(uint64_t u) {
  double x;
  memcpy(&x, &u, sizeof x);
  return x;
}

/* exp(x) for x <= 709.
 * Method: x = n ln2 + r, n = round(x / ln2) by the 1.5 * 2^52 shifter (its
 * low bits are n, so 2^n is built by integer ops), r = x - n ln2hi -
 * n ln2lo (Cody-Waite; ln2hi has 32 trailing zero bits, so n ln2hi and
 * the first subtraction are exact), |r| <= ln2/2; exp(r) = 1 + r + r^2
 * q(r) with q of degree 9, the Chebyshev fit of (e^r - 1 - r)/r^2 on
 * [-ln2/2, ln2/2] (fit error 1e-19 relative, mpmath); result p 2^n.
 * Accuracy: at most 1 ulp, measured against 40-digit exp on 10^5 points
 * of [-708, 0] and [-2, 0] (worst 0.98 ulp); tests/test_targets.c checks
 * 2 ulp against expl on 10^6 points.  Below -708 the result is flushed to
 * +0 (true value < 3.3e-308: the mixture weights that use it are then
 * negligible by 300 orders of magnitude); NaN gives NaN.  Cost: about 30
 * flops, no branch, no table. */
static inline double lb_exp(double x) {
  const double shift = 0x1.8p52, log2e = 0x1.71547652b82fep0;
  const double ln2hi = 0x1.62e42fee00000p-1, ln2lo = 0x1.a39ef35793c76p-33;
  double kd = x * log2e + shift;
  uint64_t u = lb_bits(kd);
  kd -= shift;
  double r = x - kd * ln2hi;
  r = r - kd * ln2lo;
  double q = 2.5100375832561234e-08;
  q = q * r + 2.7620075879983367e-07;
  q = q * r + 2.7557268480310024e-06;
  q = q * r + 2.4801521322368692e-05;
  q = q * r + 0.00019841269863040545;
  q = q * r + 0.0013888888917196719;
  q = q * r + 0.008333333333330065;
  q = q * r + 0.041666666666624164;
  q = q * r + 0.16666666666666669;
  q = q * r + 0.5000000000000001;
  double p = 1.0 + (r + (r * r) * q);
  double scale = lb_from_bits((u + 1023u) << 52);
  double y = p * scale;
  return x < -708.0 ? 0.0 : y;
}

#endif
