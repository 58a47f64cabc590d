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
#include <stdint.h>

extern const gsl_rng_type *lb_rng_philox;

/* A gsl_rng of type lb_rng_philox (abort on allocation failure). */
gsl_rng *lb_rng_alloc(void);
/* Restart r at the beginning of stream (seed, stream, substream). */
void lb_rng_seed(gsl_rng *r, uint64_t seed, uint64_t stream, uint64_t substream);

#endif
