/* rng.c -- Philox4x64-10 as a gsl_rng_type; vectorised per-row
 * Philox4x32-10 streams with Box-Muller normals.  GPL-3.0-or-later. */
#include "rng.h"

#include <Random123/philox.h>
#include <stdio.h>
#include <stdlib.h>

#include "lb.h"

typedef struct {
  philox4x64_key_t key;
  philox4x64_ctr_t ctr; /* v[0] block index, v[1] substream */
  philox4x64_ctr_t out; /* current block */
  unsigned idx;         /* next unused 32-bit half-word in out, 0..8 */
} philox_state;

static void refill(philox_state *s) {
  s->out = philox4x64(s->ctr, s->key);
  s->ctr.v[0]++;
  s->idx = 0;
}

/* 32-bit outputs: the 4 words of a block give 8 half-words. */
static unsigned long get32(void *vs) {
  philox_state *s = vs;
  if (s->idx >= 8) refill(s);
  uint64_t w = s->out.v[s->idx >> 1];
  unsigned long r = (s->idx & 1) ? (unsigned long)(w >> 32)
                                 : (unsigned long)(w & 0xffffffffu);
  s->idx++;
  return r;
}

/* Doubles in [0,1) with 53 random bits from one full word. */
static double get_double(void *vs) {
  philox_state *s = vs;
  s->idx += s->idx & 1; /* skip a half-used word */
  if (s->idx >= 8) refill(s);
  uint64_t w = s->out.v[s->idx >> 1];
  s->idx += 2;
  return (double)(w >> 11) * 0x1.0p-53;
}

static void set_seed(void *vs, unsigned long seed) {
  philox_state *s = vs;
  s->key.v[0] = seed;
  s->key.v[1] = 0;
  s->ctr.v[0] = s->ctr.v[1] = s->ctr.v[2] = s->ctr.v[3] = 0;
  s->idx = 8;
}

static const gsl_rng_type philox_type = {
    "lb_philox4x64", 0xffffffffUL, 0, sizeof(philox_state),
    set_seed,        get32,        get_double};

const gsl_rng_type *lb_rng_philox = &philox_type;

gsl_rng *lb_rng_alloc(void) {
  gsl_rng *r = gsl_rng_alloc(lb_rng_philox);
  if (!r) {
    fprintf(stderr, "langbench: out of memory\n");
    exit(1);
  }
  return r;
}

void lb_rng_seed(gsl_rng *r, uint64_t seed, uint64_t stream,
                 uint64_t substream) {
  philox_state *s = r->state;
  s->key.v[0] = seed;
  s->key.v[1] = stream;
  s->ctr.v[0] = 0;
  s->ctr.v[1] = substream;
  s->ctr.v[2] = s->ctr.v[3] = 0;
  s->idx = 8;
}

/* ---- per-row streams ---------------------------------------------------
 * Philox4x32-10 (Salmon et al. 2011; the constants of Random123's
 * philox.h), written out lane by lane so that a loop over rows vectorises
 * (32x32->64 multiplies are vpmuludq): row j's stream is the sequence of
 * blocks philox(key = seed, ctr = (pos, chain, substream)), pos = 0, 1, ...
 * (ctr words: pos low, pos high, chain low, chain high << 8 | substream;
 * distinct for chains < 2^56 and substreams < 256).  Each draw consumes
 * whole blocks: a uniform one block (52 bits), a pair of Gaussians one
 * block (Box-Muller: a 52-bit u1 in (0, 1] from words 0-1, a 32-bit angle
 * from word 2, lb_log / lb_sqrt / lb_sincos2pi of vmath.h, branch-free; an
 * odd count drops the pair's second value).  The tail beyond 8.49 sd
 * (u1 >= 2^-52) is cut: mass 2e-17. */

#include <math.h>
#include <string.h>

#include "block.h"
#include "vmath.h"

struct lb_streams {
  size_t rows;
  uint32_t *k0, *k1, *c2, *c3; /* key and the fixed counter words */
  uint64_t *pos;               /* next block */
};

lb_streams *lb_streams_alloc(size_t rows) {
  lb_streams *s = lb_xcalloc(1, sizeof *s);
  size_t n = rows ? rows : 1;
  s->rows = rows;
  s->k0 = lb_xcalloc(n, sizeof(uint32_t));
  s->k1 = lb_xcalloc(n, sizeof(uint32_t));
  s->c2 = lb_xcalloc(n, sizeof(uint32_t));
  s->c3 = lb_xcalloc(n, sizeof(uint32_t));
  s->pos = lb_xcalloc(n, sizeof(uint64_t));
  return s;
}

void lb_streams_free(lb_streams *s) {
  if (!s) return;
  free(s->k0);
  free(s->k1);
  free(s->c2);
  free(s->c3);
  free(s->pos);
  free(s);
}

void lb_streams_seed(lb_streams *s, size_t row, uint64_t seed, uint64_t chain,
                     uint64_t substream) {
  s->k0[row] = (uint32_t)seed;
  s->k1[row] = (uint32_t)(seed >> 32);
  s->c2[row] = (uint32_t)chain;
  s->c3[row] = (uint32_t)((chain >> 32) << 8) | (uint32_t)(substream & 0xff);
  s->pos[row] = 0;
}

/* Philox4x32-10 of (c0..c3) under (k0, k1), in place; the rounds are
 * written out (a loop inside the vectorised row loop would keep it
 * scalar). */
#define PHILOX_ROUND                                         \
  do {                                                       \
    uint64_t p0 = (uint64_t)0xD2511F53u * a;                 \
    uint64_t p1 = (uint64_t)0xCD9E8D57u * c;                 \
    uint32_t na = (uint32_t)(p1 >> 32) ^ b ^ k0;             \
    uint32_t nc = (uint32_t)(p0 >> 32) ^ d ^ k1;             \
    b = (uint32_t)p1;                                        \
    d = (uint32_t)p0;                                        \
    a = na;                                                  \
    c = nc;                                                  \
    k0 += 0x9E3779B9u;                                       \
    k1 += 0xBB67AE85u;                                       \
  } while (0)

static inline __attribute__((always_inline)) void philox(uint32_t *c0, uint32_t *c1, uint32_t *c2,
                          uint32_t *c3, uint32_t k0, uint32_t k1) {
  uint32_t a = *c0, b = *c1, c = *c2, d = *c3;
  PHILOX_ROUND; PHILOX_ROUND; PHILOX_ROUND; PHILOX_ROUND; PHILOX_ROUND;
  PHILOX_ROUND; PHILOX_ROUND; PHILOX_ROUND; PHILOX_ROUND; PHILOX_ROUND;
  *c0 = a, *c1 = b, *c2 = c, *c3 = d;
}

void lb_philox4x32_10(const uint32_t ctr[4], const uint32_t key[2],
                      uint32_t out[4]) {
  uint32_t a = ctr[0], b = ctr[1], c = ctr[2], d = ctr[3];
  philox(&a, &b, &c, &d, key[0], key[1]);
  out[0] = a, out[1] = b, out[2] = c, out[3] = d;
}

/* The next block of row `row`. */
static void block_of(lb_streams *s, size_t row, uint32_t w[4]) {
  uint64_t p = s->pos[row]++;
  uint32_t a = (uint32_t)p, b = (uint32_t)(p >> 32), c = s->c2[row],
           d = s->c3[row];
  philox(&a, &b, &c, &d, s->k0[row], s->k1[row]);
  w[0] = a, w[1] = b, w[2] = c, w[3] = d;
}

/* [0, 1) with 52 random bits (words 0-1 of the block), built from the
 * bit pattern so that the vector lanes below give the same values. */
static inline __attribute__((always_inline)) double u52(uint32_t a,
                                                        uint32_t b) {
  uint64_t m52 = ((uint64_t)a << 20) | (uint64_t)(b >> 12);
  return lb_from_bits(0x3ff0000000000000ULL | m52) - 1.0;
}

double lb_streams_uniform(lb_streams *s, size_t row) {
  uint32_t w[4];
  block_of(s, row, w);
  return u52(w[0], w[1]);
}

/* ---- Philox on lanes ----------------------------------------------------
 * philox_lanes: for lanes j < cnt, the block pos[j] + off of the lane's
 * stream, as what the draws use of it: hi52[j] = the 52 bits of u52
 * (words 0-1) and w2[j] = word 2.  GCC 12 vectorises the 32x32->64-bit
 * multiplies of the C rounds with 64x64 multiplies (vpmullq, 3 uops) and
 * lane shuffles, so on x86-64 the rounds are also written with
 * intrinsics, one 32-bit word per 64-bit lane so that a multiply is one
 * vpmuludq (AVX-512: 8 lanes; AVX2: 4), picked at run time; the upper
 * halves of the lanes carry garbage until the final masks (vpmuludq reads
 * only the lower ones).  Integer arithmetic: every path gives the same
 * words, checked against lb_philox4x32_10 in tests/test_blocks.c. */

static void philox_lanes_c(size_t j0, size_t cnt, const uint32_t *k0,
                           const uint32_t *k1, const uint32_t *c2,
                           const uint32_t *c3, const uint64_t *pos,
                           uint64_t off, uint64_t *hi52, uint64_t *w2) {
  for (size_t j = j0; j < cnt; j++) {
    uint64_t p = pos[j] + off;
    uint32_t a = (uint32_t)p, b = (uint32_t)(p >> 32), c = c2[j], d = c3[j];
    philox(&a, &b, &c, &d, k0[j], k1[j]);
    hi52[j] = ((uint64_t)a << 20) | (uint64_t)(b >> 12);
    w2[j] = c;
  }
}

#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#define LB_PHILOX_X86 1
#include <immintrin.h>

#define PHILOX_ROUND_V(MUL, SRL, XOR, ADD, SET)                   \
  do {                                                            \
    __typeof__(a) p0 = MUL(a, SET(0xD2511F53)), p1 = MUL(c, SET(0xCD9E8D57)); \
    __typeof__(a) na = XOR(XOR(SRL(p1, 32), b), k0);              \
    __typeof__(a) nc = XOR(XOR(SRL(p0, 32), d), k1);              \
    b = p1;                                                       \
    d = p0;                                                       \
    a = na;                                                       \
    c = nc;                                                       \
    k0 = ADD(k0, SET(0x9E3779B9));                                \
    k1 = ADD(k1, SET(0xBB67AE85));                                \
  } while (0)

__attribute__((target("avx512f"))) static size_t
philox_lanes_avx512(size_t cnt, const uint32_t *k0p, const uint32_t *k1p,
                    const uint32_t *c2p, const uint32_t *c3p,
                    const uint64_t *pos, uint64_t off, uint64_t *hi52,
                    uint64_t *w2) {
  const __m512i lo32 = _mm512_set1_epi64(0xffffffff), vo = _mm512_set1_epi64((long long)off);
  size_t j = 0;
  for (; j + 8 <= cnt; j += 8) {
    __m512i p = _mm512_add_epi64(_mm512_loadu_si512(pos + j), vo);
    __m512i a = p, b = _mm512_srli_epi64(p, 32);
    __m512i c = _mm512_cvtepu32_epi64(_mm256_loadu_si256((const void *)(c2p + j)));
    __m512i d = _mm512_cvtepu32_epi64(_mm256_loadu_si256((const void *)(c3p + j)));
    __m512i k0 = _mm512_cvtepu32_epi64(_mm256_loadu_si256((const void *)(k0p + j)));
    __m512i k1 = _mm512_cvtepu32_epi64(_mm256_loadu_si256((const void *)(k1p + j)));
#define S512(x) _mm512_set1_epi64(x)
    for (int r = 0; r < 10; r++)
      PHILOX_ROUND_V(_mm512_mul_epu32, _mm512_srli_epi64, _mm512_xor_si512,
                     _mm512_add_epi64, S512);
#undef S512
    a = _mm512_and_si512(a, lo32);
    b = _mm512_and_si512(b, lo32);
    _mm512_storeu_si512(hi52 + j, _mm512_or_si512(_mm512_slli_epi64(a, 20),
                                                  _mm512_srli_epi64(b, 12)));
    _mm512_storeu_si512(w2 + j, _mm512_and_si512(c, lo32));
  }
  _mm256_zeroupper(); /* clean upper state for SSE code, at any -O */
  return j;
}

__attribute__((target("avx2"))) static size_t
philox_lanes_avx2(size_t cnt, const uint32_t *k0p, const uint32_t *k1p,
                  const uint32_t *c2p, const uint32_t *c3p,
                  const uint64_t *pos, uint64_t off, uint64_t *hi52,
                  uint64_t *w2) {
  const __m256i lo32 = _mm256_set1_epi64x(0xffffffff), vo = _mm256_set1_epi64x((long long)off);
  size_t j = 0;
  for (; j + 4 <= cnt; j += 4) {
    __m256i p = _mm256_add_epi64(_mm256_loadu_si256((const void *)(pos + j)), vo);
    __m256i a = p, b = _mm256_srli_epi64(p, 32);
    __m256i c = _mm256_cvtepu32_epi64(_mm_loadu_si128((const void *)(c2p + j)));
    __m256i d = _mm256_cvtepu32_epi64(_mm_loadu_si128((const void *)(c3p + j)));
    __m256i k0 = _mm256_cvtepu32_epi64(_mm_loadu_si128((const void *)(k0p + j)));
    __m256i k1 = _mm256_cvtepu32_epi64(_mm_loadu_si128((const void *)(k1p + j)));
#define S256(x) _mm256_set1_epi64x(x)
    for (int r = 0; r < 10; r++)
      PHILOX_ROUND_V(_mm256_mul_epu32, _mm256_srli_epi64, _mm256_xor_si256,
                     _mm256_add_epi64, S256);
#undef S256
    a = _mm256_and_si256(a, lo32);
    b = _mm256_and_si256(b, lo32);
    _mm256_storeu_si256((void *)(hi52 + j),
                        _mm256_or_si256(_mm256_slli_epi64(a, 20),
                                        _mm256_srli_epi64(b, 12)));
    _mm256_storeu_si256((void *)(w2 + j), _mm256_and_si256(c, lo32));
  }
  _mm256_zeroupper(); /* clean upper state for SSE code, at any -O */
  return j;
}
#endif

/* The vector kernels on whole vectors, then the last cnt % V lanes as
 * one more vector through zero-padded copies (the counts of PLMC's
 * midpoint rounds are arbitrary). */
static void philox_lanes(size_t cnt, const uint32_t *k0, const uint32_t *k1,
                         const uint32_t *c2, const uint32_t *c3,
                         const uint64_t *pos, uint64_t off, uint64_t *hi52,
                         uint64_t *w2) {
  size_t j = 0;
#ifdef LB_PHILOX_X86
  int v512 = __builtin_cpu_supports("avx512f");
  int v256 = !v512 && __builtin_cpu_supports("avx2");
  if (v512)
    j = philox_lanes_avx512(cnt, k0, k1, c2, c3, pos, off, hi52, w2);
  else if (v256)
    j = philox_lanes_avx2(cnt, k0, k1, c2, c3, pos, off, hi52, w2);
  size_t rem = cnt - j;
  if ((v512 || v256) && rem > 0) { /* rem < 8 (4): one padded vector */
    uint32_t pk0[8] = {0}, pk1[8] = {0}, pc2[8] = {0}, pc3[8] = {0};
    uint64_t pp[8] = {0}, ph[8], pw[8];
    memcpy(pk0, k0 + j, rem * sizeof *pk0);
    memcpy(pk1, k1 + j, rem * sizeof *pk1);
    memcpy(pc2, c2 + j, rem * sizeof *pc2);
    memcpy(pc3, c3 + j, rem * sizeof *pc3);
    memcpy(pp, pos + j, rem * sizeof *pp);
    if (v512)
      philox_lanes_avx512(8, pk0, pk1, pc2, pc3, pp, off, ph, pw);
    else
      philox_lanes_avx2(4, pk0, pk1, pc2, pc3, pp, off, ph, pw);
    memcpy(hi52 + j, ph, rem * sizeof *ph);
    memcpy(w2 + j, pw, rem * sizeof *pw);
    j = cnt;
  }
#endif
  philox_lanes_c(j, cnt, k0, k1, c2, c3, pos, off, hi52, w2);
}

/* u[j] = u52 of the lane's block (the same value as lb_streams_uniform). */
LB_VECTOR_CLONES
static void uniform_of(size_t cnt, const uint64_t *restrict hi52,
                       double *restrict u) {
#pragma omp simd
  for (size_t j = 0; j < cnt; j++)
    u[j] = lb_from_bits(0x3ff0000000000000ULL | hi52[j]) - 1.0;
}

static void uniform_lanes(size_t cnt, const uint32_t *k0, const uint32_t *k1,
                          const uint32_t *c2, const uint32_t *c3,
                          const uint64_t *pos, double *u) {
  uint64_t hi52[LB_BLOCK_MAX], w2[LB_BLOCK_MAX];
  philox_lanes(cnt, k0, k1, c2, c3, pos, 0, hi52, w2);
  uniform_of(cnt, hi52, u);
}

/* Lemire's multiply-and-reject on 64-bit draws: exactly uniform. */
unsigned long lb_streams_uniform_int(lb_streams *s, size_t row,
                                     unsigned long n) {
  for (;;) {
    uint32_t w[4];
    block_of(s, row, w);
    uint64_t x = ((uint64_t)w[0] << 32) | w[1];
    unsigned __int128 m = (unsigned __int128)x * (uint64_t)n;
    uint64_t lo = (uint64_t)m;
    if (lo >= (uint64_t)n || lo >= (uint64_t)(-(uint64_t)n) % (uint64_t)n)
      return (unsigned long)(m >> 64);
  }
}

/* u in (0, 1] with 53 bits. */
static double uniform_pos(lb_streams *s, size_t row) {
  return 1.0 - lb_streams_uniform(s, row);
}

double lb_streams_exponential(lb_streams *s, size_t row) {
  return -log(uniform_pos(s, row));
}

/* Inversion, as GSL's gsl_ran_geometric: 1 + floor(log u / log(1 - p)). */
unsigned long lb_streams_geometric(lb_streams *s, size_t row, double p) {
  double u = uniform_pos(s, row);
  if (p >= 1.0) return 1;
  return (unsigned long)(floor(log(u) / log1p(-p)) + 1.0);
}

/* One Box-Muller pair for each of cnt lanes: block pos[j] + off of the
 * lane's stream into (z0[j], z1[j]): u1 = 1 - u52 in (0, 1] (as 2 - v,
 * v = u52 + 1 in [1, 2): exact), u2 = word 2 / 2^32 in [0, 1), radius
 * sqrt(-2 log u1), angle 2 pi u2 (the fma kernels of vmath.h). */
LB_VECTOR_CLONES
static void box_muller(size_t cnt, const uint64_t *restrict hi52,
                       const uint64_t *restrict w2, double *restrict z0,
                       double *restrict z1) {
#pragma omp simd
  for (size_t j = 0; j < cnt; j++) {
    double u1 = 2.0 - lb_from_bits(0x3ff0000000000000ULL | hi52[j]);
    double u2 = lb_from_bits(0x3ff0000000000000ULL | (w2[j] << 20)) - 1.0;
    double rad = lb_sqrt_fma(-2.0 * lb_log_fma(u1)), sn, cs;
    lb_sincos2pi_fma(u2, &sn, &cs);
    z0[j] = rad * cs;
    z1[j] = rad * sn;
  }
}

static void gauss_pairs(size_t cnt, const uint32_t *k0, const uint32_t *k1,
                        const uint32_t *c2, const uint32_t *c3,
                        const uint64_t *pos, uint64_t off, double *z0,
                        double *z1) {
  uint64_t hi52[LB_BLOCK_MAX], w2[LB_BLOCK_MAX];
  philox_lanes(cnt, k0, k1, c2, c3, pos, off, hi52, w2);
  box_muller(cnt, hi52, w2, z0, z1);
}

/* The stream state of a run of rows, as lanes. */
typedef struct {
  uint32_t k0[LB_BLOCK_MAX], k1[LB_BLOCK_MAX], c2[LB_BLOCK_MAX],
      c3[LB_BLOCK_MAX];
  uint64_t pos[LB_BLOCK_MAX];
} lanes;

/* The stream state of rows[j0 .. j0+m) into lane arrays, lane j at block
 * pos + offs[j0 + j] (offs NULL: pos + off); the streams do not move. */
static void gather_at(const lb_streams *s, const size_t *rows, size_t j0,
                      size_t m, const uint64_t *offs, uint64_t off,
                      lanes *L) {
  for (size_t j = 0; j < m; j++) {
    size_t r = rows ? rows[j0 + j] : j0 + j;
    L->k0[j] = s->k0[r];
    L->k1[j] = s->k1[r];
    L->c2[j] = s->c2[r];
    L->c3[j] = s->c3[r];
    L->pos[j] = s->pos[r] + (offs ? offs[j0 + j] : off);
  }
}

void lb_streams_uniform_at(const lb_streams *s, size_t cnt, const size_t *rows,
                           uint64_t off, double *u) {
  lanes L;
  for (size_t j0 = 0; j0 < cnt; j0 += LB_BLOCK_MAX) {
    size_t m = cnt - j0 < LB_BLOCK_MAX ? cnt - j0 : LB_BLOCK_MAX;
    if (!rows) { /* contiguous rows: read the state in place */
      uint64_t hi52[LB_BLOCK_MAX], w2[LB_BLOCK_MAX];
      philox_lanes(m, s->k0 + j0, s->k1 + j0, s->c2 + j0, s->c3 + j0,
                   s->pos + j0, off, hi52, w2);
      uniform_of(m, hi52, u + j0);
      continue;
    }
    gather_at(s, rows, j0, m, NULL, off, &L);
    uniform_lanes(m, L.k0, L.k1, L.c2, L.c3, L.pos, u + j0);
  }
}

void lb_streams_gauss_at(const lb_streams *s, size_t n, size_t cnt,
                         const size_t *rows, const uint64_t *offs, size_t ld,
                         double *z) {
  lanes L;
  double spare[LB_BLOCK_MAX];
  uint64_t npairs = lb_streams_gauss_blocks(n);
  for (size_t j0 = 0; j0 < cnt; j0 += LB_BLOCK_MAX) {
    size_t m = cnt - j0 < LB_BLOCK_MAX ? cnt - j0 : LB_BLOCK_MAX;
    const uint32_t *k0 = L.k0, *k1 = L.k1, *c2 = L.c2, *c3 = L.c3;
    if (rows) {
      gather_at(s, rows, j0, m, offs, 0, &L);
    } else { /* contiguous rows: the keys in place, only the positions */
      k0 = s->k0 + j0, k1 = s->k1 + j0, c2 = s->c2 + j0, c3 = s->c3 + j0;
      if (offs)
        for (size_t j = 0; j < m; j++) L.pos[j] = s->pos[j0 + j] + offs[j0 + j];
      else
        memcpy(L.pos, s->pos + j0, m * sizeof *L.pos);
    }
    for (uint64_t q = 0; q < npairs; q++) {
      double *za = z + 2 * q * ld + j0;
      double *zb = 2 * q + 1 < n ? z + (2 * q + 1) * ld + j0 : spare;
      gauss_pairs(m, k0, k1, c2, c3, L.pos, q, za, zb);
    }
  }
}

void lb_streams_skip(lb_streams *s, size_t cnt, const uint64_t *blocks,
                     uint64_t plus) {
  for (size_t j = 0; j < cnt; j++) s->pos[j] += blocks[j] + plus;
}

uint64_t lb_streams_gauss_blocks(size_t n) { return (n + 1) / 2; }

/* Rows rows[j] (NULL: row j), j < cnt, move on by `blocks`. */
static void advance(lb_streams *s, size_t cnt, const size_t *rows,
                    uint64_t blocks) {
  if (rows)
    for (size_t j = 0; j < cnt; j++) s->pos[rows[j]] += blocks;
  else
    for (size_t j = 0; j < cnt; j++) s->pos[j] += blocks;
}

/* The sequential draws: the draws at offset 0, then the rows move on. */
void lb_streams_uniform_block(lb_streams *s, size_t cnt, const size_t *rows,
                              double *u) {
  lb_streams_uniform_at(s, cnt, rows, 0, u);
  advance(s, cnt, rows, 1);
}

void lb_streams_gauss(lb_streams *s, size_t n, size_t cnt, const size_t *rows,
                      size_t ld, double *z) {
  lb_streams_gauss_at(s, n, cnt, rows, NULL, ld, z);
  advance(s, cnt, rows, lb_streams_gauss_blocks(n));
}
