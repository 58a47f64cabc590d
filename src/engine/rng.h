/* rng.h -- counter-based noise streams: Random123 Philox4x64-10 wrapped as
 * a gsl_rng_type, so GSL's distributions draw from it.
 *
 * GPL-3.0-or-later.
 *
 * Philox (Salmon et al., SC'11) maps (key, counter) to 256 random bits.  The
 * key is (seed, stream): chain c of a run with seed S reads stream c, so a
 * chain's noise depends only on (S, c), never on which thread runs it or
 * in which order.  The counter's second word selects a substream for
 * purposes that must not disturb the main stream.  Cost: one Philox
 * evaluation (10 rounds of 64x64->128 multiplies) per 4 outputs.
 */
#ifndef LB_RNG_H
#define LB_RNG_H

#include <gsl/gsl_rng.h>
#include <stddef.h>
#include <stdint.h>

extern const gsl_rng_type *lb_rng_philox;

/* A gsl_rng of type lb_rng_philox (abort on allocation failure). */
gsl_rng *lb_rng_alloc(void);
/* Restart r at the beginning of stream (seed, stream, substream). */
void lb_rng_seed(gsl_rng *r, uint64_t seed, uint64_t stream, uint64_t substream);

/* Philox4x32-10 of one counter under one key (the stream generator of
 * lb_streams; exposed for the known-answer test against Random123). */
void lb_philox4x32_10(const uint32_t ctr[4], const uint32_t key[2],
                      uint32_t out[4]);

/* ------------------------------------------------------------------ */
/* Per-row streams of a block of chains (block.h), Philox4x32-10 keyed by
 * the seed with counter (draw index, chain, substream), vectorised across
 * rows (rng.c).  Row j of a block reads
 * its own stream, seeded with (seed, chain, substream) of the chain it
 * holds, so what a chain draws depends only on (seed, chain, substream)
 * and the order of its own draws: never on the block size, on the other
 * rows or on the thread.  Every draw names its row; the Gaussian fill
 * serves many rows in one call (the vectorisable part). */
typedef struct lb_streams lb_streams;

lb_streams *lb_streams_alloc(size_t rows);
void lb_streams_free(lb_streams *s);
void lb_streams_seed(lb_streams *s, size_t row, uint64_t seed, uint64_t chain,
                     uint64_t substream);
double lb_streams_uniform(lb_streams *s, size_t row); /* [0, 1) */
/* u[j] = the next uniform of row rows[j] (NULL: row j), j < cnt: the same
 * value lb_streams_uniform would give, for many rows at once. */
void lb_streams_uniform_block(lb_streams *s, size_t cnt, const size_t *rows,
                              double *u);
/* Uniform on {0, ..., n-1}, n >= 1. */
unsigned long lb_streams_uniform_int(lb_streams *s, size_t row,
                                     unsigned long n);
double lb_streams_exponential(lb_streams *s, size_t row); /* mean 1 */
/* Geometric(p) on {1, 2, ...}: trials up to the first success. */
unsigned long lb_streams_geometric(lb_streams *s, size_t row, double p);
/* z[i*ld + j] ~ N(0, 1) for i < n, j < cnt, drawn from the stream of row
 * rows[j] (rows NULL: row j), coordinate i = 0, 1, ... in order. */
void lb_streams_gauss(lb_streams *s, size_t n, size_t cnt, const size_t *rows,
                      size_t ld, double *z);

/* Draws at a distance from a row's position, for a sampler that knows
 * the layout of its draws ahead (PLMC's fast form): each uniform takes
 * one block of the stream, each n-vector of Gaussians
 * lb_streams_gauss_blocks(n) blocks, so the k-th draw of a sequence sits
 * at a known offset.  These read the streams without moving them;
 * lb_streams_skip moves a row on afterwards.  The values are those that
 * lb_streams_uniform_block / lb_streams_gauss would give at that point
 * of the stream. */
/* u[j] = the uniform at block pos + off of row rows[j] (NULL: row j). */
void lb_streams_uniform_at(const lb_streams *s, size_t cnt, const size_t *rows,
                           uint64_t off, double *u);
/* z[i*ld + j] (i < n): the n Gaussians from block pos + offs[j] on of row
 * rows[j] (rows NULL: row j; offs NULL: offset 0). */
void lb_streams_gauss_at(const lb_streams *s, size_t n, size_t cnt,
                         const size_t *rows, const uint64_t *offs, size_t ld,
                         double *z);
/* Rows 0..cnt move on by blocks[j] + plus blocks. */
void lb_streams_skip(lb_streams *s, size_t cnt, const uint64_t *blocks,
                     uint64_t plus);
uint64_t lb_streams_gauss_blocks(size_t n);

#endif
