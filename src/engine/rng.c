/* rng.c -- Philox4x64-10 as a gsl_rng_type.  GPL-3.0-or-later. */
#include "rng.h"

#include <Random123/philox.h>
#include <stdio.h>
#include <stdlib.h>

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
