/* vmath.h -- elementary functions written for vector loops.
 *
 * GPL-3.0-or-later.
 *
 * Plain C on doubles (multiplies, adds, integer adds and shifts on the
 * bit patterns, selects), so a loop calling them vectorises under
 * `#pragma omp simd` on any ISA, and every lane, vector or scalar, SSE2,
 * AVX2 or AVX-512, gives the same bits: block kernels stay bit-identical
 * for any block size and any machine (block.h).  The compiler never fuses
 * a multiply and an add (ISO C mode compiles with -ffp-contract=off), no
 * -ffast-math; the *_fma kernels call C11 fma() explicitly, which is one
 * rounding everywhere (an instruction where the ISA has FMA, a libm call
 * elsewhere), so they too give the same bits on every path.
 *
 * LB_VECTOR_CLONES on a kernel compiles it for AVX-512 (x86-64-v4), AVX2
 * with FMA (x86-64-v3) and the baseline, picked at load time (GCC
 * target_clones).  The sanitizer build (make asan) keeps them, so it
 * checks the kernels the normal build runs (compiled for the baseline
 * only, each fma() of the *_fma kernels below is a libm call: PLMC K=16
 * fine took twice as long under ASan).  -DLB_NO_VECTOR_CLONES compiles
 * each kernel once, for the baseline ISA (or what -march says).
 */
#ifndef LB_VMATH_H
#define LB_VMATH_H

#include <math.h>
#include <stdint.h>
#include <string.h>

#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__) && \
    !defined(LB_NO_VECTOR_CLONES)
#define LB_VECTOR_CLONES \
  __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#else
#define LB_VECTOR_CLONES
#endif

#define LB_ALWAYS_INLINE __attribute__((always_inline))

static inline LB_ALWAYS_INLINE uint64_t lb_bits(double x) {
  uint64_t u;
  memcpy(&u, &x, sizeof u);
  return u;
}

static inline LB_ALWAYS_INLINE double lb_from_bits(uint64_t u) {
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
/* The shared part of lb_exp and lb_expm1: with x = n ln2 + r as below,
 * returns e^r - 1 = r + r^2 q(r) and sets *scale = 2^n. */
static inline LB_ALWAYS_INLINE double lb_exp_reduced(double x,
                                                     double *scale) {
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
  *scale = lb_from_bits((u + 1023u) << 52);
  return r + (r * r) * q;
}

static inline LB_ALWAYS_INLINE double lb_exp(double x) {
  double scale, p = 1.0 + lb_exp_reduced(x, &scale);
  double y = p * scale;
  return x < -708.0 ? 0.0 : y;
}

/* exp(x) as lb_exp (same reduction, polynomial and flush below -708),
 * with the reduction and Horner steps as fused multiply-adds (C11 fma:
 * one rounding each, the same bits scalar or vector; one instruction
 * where the ISA has FMA, i.e. in the AVX2 and AVX-512 clones of
 * LB_VECTOR_CLONES, a libm call elsewhere).  About 1 ulp like lb_exp
 * (worst 1.05 ulp on 3 x 10^6 points of [-708, 0] and [-3, 3], lb_exp
 * 1.04 on the same; tests/test_blocks.c checks 2 ulp), branch-free, but
 * not bit-identical to lb_exp: for
 * block kernels that have no earlier results to reproduce (the mixture
 * weights of targets/gmm.c).  About 16 instructions. */
static inline LB_ALWAYS_INLINE double lb_exp_fma(double x) {
  const double shift = 0x1.8p52, log2e = 0x1.71547652b82fep0;
  const double ln2hi = 0x1.62e42fee00000p-1, ln2lo = 0x1.a39ef35793c76p-33;
  double kd = fma(x, log2e, shift);
  uint64_t u = lb_bits(kd);
  kd -= shift;
  double r = fma(-kd, ln2hi, x);
  r = fma(-kd, ln2lo, r);
  double q = 2.5100375832561234e-08;
  q = fma(q, r, 2.7620075879983367e-07);
  q = fma(q, r, 2.7557268480310024e-06);
  q = fma(q, r, 2.4801521322368692e-05);
  q = fma(q, r, 0.00019841269863040545);
  q = fma(q, r, 0.0013888888917196719);
  q = fma(q, r, 0.008333333333330065);
  q = fma(q, r, 0.041666666666624164);
  q = fma(q, r, 0.16666666666666669);
  q = fma(q, r, 0.5000000000000001);
  double p = 1.0 + fma(r * r, q, r);
  double scale = lb_from_bits((u + 1023u) << 52);
  /* the flush as a bit mask: a select of a product would keep AVX2 loops
   * scalar (GCC does not speculate a trapping multiply) */
  uint64_t keep = -(uint64_t)!(x < -708.0);
  return lb_from_bits(lb_bits(p * scale) & keep);
}

/* log(x) for normal x > 0 (the Box-Muller radius needs x in (0, 1]).
 * Method (fdlibm's reduction with a Taylor tail): x = 2^e m, m in
 * [sqrt(1/2), sqrt(2)) from the bit pattern; s = (m - 1)/(m + 1) (m - 1 is
 * exact), log m = 2 atanh s = 2s + 2s s^2 (1/3 + s^2/5 + ... + s^18/21)
 * (|s| <= 0.1716: truncation below 1e-18 relative); log x = e ln2hi +
 * (log m + e ln2lo).  Error about 2 ulp (one divide, a few rounded
 * products); cost one divide and ~30 flops.  Subnormals, 0, negatives,
 * inf and NaN are outside its domain. */
static inline LB_ALWAYS_INLINE double lb_log(double x) {
  const double ln2hi = 0x1.62e42fee00000p-1, ln2lo = 0x1.a39ef35793c76p-33;
  uint64_t b = lb_bits(x);
  double m = lb_from_bits((b & 0x000fffffffffffffULL) | 0x3ff0000000000000ULL);
  double e = lb_from_bits(0x4330000000000000ULL | (b >> 52)) - 0x1p52 - 1023.0;
  int big = m > 0x1.6a09e667f3bcdp0; /* sqrt 2 */
  m = big ? 0.5 * m : m;
  e = big ? e + 1.0 : e;
  double f = m - 1.0, s = f / (2.0 + f), s2 = s * s;
  double p = 1.0 / 21;
  p = p * s2 + 1.0 / 19;
  p = p * s2 + 1.0 / 17;
  p = p * s2 + 1.0 / 15;
  p = p * s2 + 1.0 / 13;
  p = p * s2 + 1.0 / 11;
  p = p * s2 + 1.0 / 9;
  p = p * s2 + 1.0 / 7;
  p = p * s2 + 1.0 / 5;
  p = p * s2 + 1.0 / 3;
  double t = 2.0 * s, lm = t + t * s2 * p;
  return e * ln2hi + (lm + e * ln2lo);
}

/* sqrt(x) for x >= 0 finite, without libm (whose errno path keeps loops
 * scalar): y ~ 1/sqrt(x) from the bit pattern (relative error < 3.5%),
 * four Newton steps y <- y (3/2 - x y^2 / 2) (error 3.5e-2 -> 2e-21 before
 * rounding), sqrt x = x y; about 2 ulp; sqrt(0) = 0. */
static inline LB_ALWAYS_INLINE double lb_sqrt(double x) {
  double y = lb_from_bits(0x5fe6eb50c7b537a9ULL - (lb_bits(x) >> 1));
  double hx = 0.5 * x;
  y = y * (1.5 - hx * y * y);
  y = y * (1.5 - hx * y * y);
  y = y * (1.5 - hx * y * y);
  y = y * (1.5 - hx * y * y);
  return x > 0.0 ? x * y : 0.0;
}

/* sin and cos of 2 pi u for u in [0, 1].  The reduction is exact in u:
 * q = round(4u), f = u - q/4 in [-1/8, 1/8] (exact), a = 2 pi f in
 * [-pi/4, pi/4]; Taylor polynomials to a^17 (sin) and a^18 (cos), whose
 * truncation is below 1e-19; then the quadrant rotation by q.  Error
 * about 1 ulp of 1 (the rounding of 2 pi and of the products); ~40 flops,
 * no table, no branch. */
static inline LB_ALWAYS_INLINE void lb_sincos2pi(double u, double *sn,
                                               double *cs) {
  const double shift = 0x1.8p52, twopi = 0x1.921fb54442d18p2;
  double q = (4.0 * u + shift) - shift;
  double a = (u - 0.25 * q) * twopi, a2 = a * a;
  double ps = -1.0 / 355687428096000.0; /* -1/17! */
  ps = ps * a2 + 1.0 / 1307674368000.0;
  ps = ps * a2 - 1.0 / 6227020800.0;
  ps = ps * a2 + 1.0 / 39916800.0;
  ps = ps * a2 - 1.0 / 362880.0;
  ps = ps * a2 + 1.0 / 5040.0;
  ps = ps * a2 - 1.0 / 120.0;
  ps = ps * a2 + 1.0 / 6.0;
  double s = a - a * a2 * ps;
  double pc = 1.0 / 6402373705728000.0; /* 1/18! */
  pc = pc * a2 - 1.0 / 20922789888000.0;
  pc = pc * a2 + 1.0 / 87178291200.0;
  pc = pc * a2 - 1.0 / 479001600.0;
  pc = pc * a2 + 1.0 / 3628800.0;
  pc = pc * a2 - 1.0 / 40320.0;
  pc = pc * a2 + 1.0 / 720.0;
  pc = pc * a2 - 1.0 / 24.0;
  pc = pc * a2 + 0.5;
  double c = 1.0 - a2 * pc;
  int swap = q == 1.0 || q == 3.0;
  double s1 = swap ? c : s, c1 = swap ? s : c;
  *sn = (q == 2.0 || q == 3.0) ? -s1 : s1;
  *cs = (q == 1.0 || q == 2.0) ? -c1 : c1;
}

/* expm1(x) = e^x - 1 for x <= 709, accurate also where e^x - 1 cancels.
 * Method: the reduction of lb_exp, x = n ln2 + r, |r| <= ln2/2, and its
 * polynomial without the leading 1: p = r + r^2 q(r) = e^r - 1 (no
 * cancellation: the Chebyshev fit of (e^r - 1 - r)/r^2); then e^x - 1 =
 * 2^n p + (2^n - 1), where 2^n - 1 is exact for |n| <= 53.  n = 0 (|x| <=
 * ln2/2) gives p itself (r = x exactly), so the relative error there is
 * that of p, about 1 ulp; for n != 0, |e^x - 1| >= 0.29 and both terms
 * are at most 2.5 times the result, about 2 ulp (tested against expm1l in
 * tests/test_underdamped.c).  Below -40 the result is -1 (e^-40 < 2^-57);
 * NaN gives NaN.  Cost: about 30 flops, no branch, no table; 1 + p is
 * bit-for-bit lb_exp's polynomial, so a loop calling both shares it. */
static inline LB_ALWAYS_INLINE double lb_expm1(double x) {
  double scale, p = lb_exp_reduced(x, &scale);
  double y = scale * p + (scale - 1.0);
  return x < -40.0 ? -1.0 : y;
}

/* ---- fused forms for the noise (rng.c, from version 0.3.0) -------------
 * The same methods as lb_log, lb_sqrt and lb_sincos2pi, with fused
 * multiply-adds and with every select done on bit patterns (a select of
 * a computed double keeps AVX2 loops scalar, see lb_exp_fma).  Worst
 * errors measured on 3 x 10^6 points: log 2.0 ulp, sqrt 0.5 ulp, sin and
 * cos 1.4 ulp of 1 (tests/test_blocks.c checks 2); not bit-identical to
 * the originals. */

static inline LB_ALWAYS_INLINE double lb_select(uint64_t mask, double a,
                                                double b) {
  return lb_from_bits((lb_bits(a) & mask) | (lb_bits(b) & ~mask));
}

/* log(x) for normal x > 0: lb_log's reduction (m in [sqrt(1/2), sqrt(2))
 * by halving m on the bit pattern) and series, Horner by fma. */
static inline LB_ALWAYS_INLINE double lb_log_fma(double x) {
  const double ln2hi = 0x1.62e42fee00000p-1, ln2lo = 0x1.a39ef35793c76p-33;
  uint64_t b = lb_bits(x);
  uint64_t mb = (b & 0x000fffffffffffffULL) | 0x3ff0000000000000ULL;
  uint64_t big = -(uint64_t)(lb_from_bits(mb) > 0x1.6a09e667f3bcdp0);
  mb -= big & (1ULL << 52); /* m / 2, exactly */
  double e = lb_from_bits(0x4330000000000000ULL | ((b >> 52) + (big & 1))) -
             (0x1p52 + 1023.0);
  double f = lb_from_bits(mb) - 1.0, s = f / (2.0 + f), s2 = s * s;
  double p = 1.0 / 21;
  p = fma(p, s2, 1.0 / 19);
  p = fma(p, s2, 1.0 / 17);
  p = fma(p, s2, 1.0 / 15);
  p = fma(p, s2, 1.0 / 13);
  p = fma(p, s2, 1.0 / 11);
  p = fma(p, s2, 1.0 / 9);
  p = fma(p, s2, 1.0 / 7);
  p = fma(p, s2, 1.0 / 5);
  p = fma(p, s2, 1.0 / 3);
  double t = 2.0 * s, lm = fma(t * s2, p, t);
  return e * ln2hi + fma(e, ln2lo, lm);
}

/* floor(x) for x >= 0 (exactly floor's value): x + 2^52 - 2^52 rounds x
 * to an integer (exact below 2^52), one less if that went up; x itself
 * from 2^52 on (an integer already).  libm's floor keeps a loop scalar
 * under -std=c11 (GCC 12 vectorises it only without trapping math). */
static inline LB_ALWAYS_INLINE double lb_floor_pos(double x) {
  double t = (x + 0x1p52) - 0x1p52;
  t = t > x ? t - 1.0 : t;
  return x < 0x1p52 ? t : x;
}

/* sqrt(x) for x >= 0 finite: lb_sqrt's start and three of its Newton
 * steps for y ~ 1/sqrt(x) (relative error 4e-11), then one Newton step on
 * s = x y itself with the exact residual x - s^2 (fma): s + (y/2)(x - s^2),
 * error below 1 ulp (measured 0.5); sqrt(0) = 0. */
static inline LB_ALWAYS_INLINE double lb_sqrt_fma(double x) {
  double y = lb_from_bits(0x5fe6eb50c7b537a9ULL - (lb_bits(x) >> 1));
  double hx = 0.5 * x;
  y = y * fma(-hx * y, y, 1.5);
  y = y * fma(-hx * y, y, 1.5);
  y = y * fma(-hx * y, y, 1.5);
  double s = x * y;
  s = fma(0.5 * y, fma(-s, s, x), s);
  return lb_from_bits(lb_bits(s) & -(uint64_t)(x > 0.0));
}

/* sin and cos of 2 pi u for u in [0, 1]: lb_sincos2pi's reduction and
 * polynomials by fma; the quadrant q = round(4u) mod 4 from the low bits
 * of the shifted 4u, the rotation by integer selects and sign flips. */
static inline LB_ALWAYS_INLINE void lb_sincos2pi_fma(double u, double *sn,
                                                   double *cs) {
  const double shift = 0x1.8p52, twopi = 0x1.921fb54442d18p2;
  double qs = 4.0 * u + shift;
  uint64_t qi = lb_bits(qs) & 3;
  double q = qs - shift;
  double a = fma(-0.25, q, u) * twopi, a2 = a * a;
  double ps = -1.0 / 355687428096000.0; /* -1/17! */
  ps = fma(ps, a2, 1.0 / 1307674368000.0);
  ps = fma(ps, a2, -1.0 / 6227020800.0);
  ps = fma(ps, a2, 1.0 / 39916800.0);
  ps = fma(ps, a2, -1.0 / 362880.0);
  ps = fma(ps, a2, 1.0 / 5040.0);
  ps = fma(ps, a2, -1.0 / 120.0);
  ps = fma(ps, a2, 1.0 / 6.0);
  double s = fma(-a * a2, ps, a);
  double pc = 1.0 / 6402373705728000.0; /* 1/18! */
  pc = fma(pc, a2, -1.0 / 20922789888000.0);
  pc = fma(pc, a2, 1.0 / 87178291200.0);
  pc = fma(pc, a2, -1.0 / 479001600.0);
  pc = fma(pc, a2, 1.0 / 3628800.0);
  pc = fma(pc, a2, -1.0 / 40320.0);
  pc = fma(pc, a2, 1.0 / 720.0);
  pc = fma(pc, a2, -1.0 / 24.0);
  pc = fma(pc, a2, 0.5);
  double c = fma(-a2, pc, 1.0);
  uint64_t swap = -(qi & 1);
  double s1 = lb_select(swap, c, s), c1 = lb_select(swap, s, c);
  *sn = lb_from_bits(lb_bits(s1) ^ ((qi >> 1) << 63));
  *cs = lb_from_bits(lb_bits(c1) ^ (((qi ^ (qi >> 1)) & 1) << 63));
}

#endif
