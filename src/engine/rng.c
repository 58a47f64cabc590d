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

/* ---- per-row streams ------------------------------------------------- */

#include <gsl/gsl_randist.h>

struct lb_streams {
  size_t rows;
  gsl_rng **r;
};

lb_streams *lb_streams_alloc(size_t rows) {
  lb_streams *s = calloc(1, sizeof *s);
  if (s) s->r = calloc(rows ? rows : 1, sizeof *s->r);
  if (!s || !s->r) {
    fprintf(stderr, "langbench: out of memory\n");
    exit(1);
  }
  s->rows = rows;
  for (size_t j = 0; j < rows; j++) s->r[j] = lb_rng_alloc();
  return s;
}

void lb_streams_free(lb_streams *s) {
  if (!s) return;
  for (size_t j = 0; j < s->rows; j++) gsl_rng_free(s->r[j]);
  free(s->r);
  free(s);
}

void lb_streams_seed(lb_streams *s, size_t row, uint64_t seed, uint64_t chain,
                     uint64_t substream) {
  lb_rng_seed(s->r[row], seed, chain, substream);
}

double lb_streams_uniform(lb_streams *s, size_t row) {
  return gsl_rng_uniform(s->r[row]);
}

unsigned long lb_streams_uniform_int(lb_streams *s, size_t row,
                                     unsigned long n) {
  return gsl_rng_uniform_int(s->r[row], n);
}

double lb_streams_exponential(lb_streams *s, size_t row) {
  return gsl_ran_exponential(s->r[row], 1.0);
}

unsigned long lb_streams_geometric(lb_streams *s, size_t row, double p) {
  return gsl_ran_geometric(s->r[row], p);
}

void lb_streams_gauss(lb_streams *s, size_t n, size_t cnt, const size_t *rows,
                      size_t ld, double *z) {
  for (size_t j = 0; j < cnt; j++) {
    gsl_rng *r = s->r[rows ? rows[j] : j];
    for (size_t i = 0; i < n; i++) z[i * ld + j] = gsl_ran_gaussian_ziggurat(r, 1.0);
  }
}
