/* fuzz_spec.c -- SPEC strings: targets, samplers, initial laws, metric
 * lists, and the SPEC / number parsers underneath them.
 *
 * GPL-3.0-or-later.
 *
 * Input: byte 0 picks what the rest is (mod 6), byte 1 the target that a
 * sampler, init or metric list is bound to; the rest is the text.  What
 * parses is then used a little, as the commands would use it: a target is
 * evaluated at a point and its ground truth checked (weights sum to 1,
 * mode_of in range), a sampler/init pair runs 2 chains for 3 steps, a
 * metric list is evaluated on 8 exact draws (but for the grid KDE, below).  Inputs asking for more than
 * small sizes (numbers above 256) are only parsed, not used.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "lb.h"
#include "metrics.h"
#include "rng.h"
#include "sampler.h"
#include "simulate.h"
#include "target.h"

static const char *const bases[] = {
    "gaussian:dim=2",      "gaussian:dim=3,kappa=10", "gmm:preset=ring8",
    "gmm:preset=twomodes", "gmm:dim=3,modes=4",       "double_well:dim=2",
};
#define NBASES (sizeof bases / sizeof bases[0])

static const lb_target *base(uint8_t b, lb_target **keep) {
  lb_err e;
  if (lb_target_alloc(bases[b % NBASES], keep, &e) != LB_OK) abort();
  return *keep;
}

LB_FUZZ_TARGET(spec) {
  lb_fuzz_dir();
  if (size < 2) return 0;
  int kind = data[0] % 6;
  uint8_t b = data[1];
  char *text = lb_fuzz_str(data + 2, size - 2);
  int use = lb_fuzz_small_numbers(text, 256);
  lb_err e;
  lb_target *t = NULL, *bt = NULL;
  switch (kind) {
    case 0: /* --target */
      if (lb_target_alloc(text, &t, &e) == LB_OK) lb_fuzz_use_target(t, use);
      break;
    case 1: /* --sampler, run briefly */
    case 2: { /* --init */
      const lb_target *tg = base(b, &bt);
      lb_sampler *s = NULL;
      lb_init in = {0};
      const char *sspec = kind == 1 ? text : (b & 0x80 ? "ulmc" : "plmc:K=3");
      const char *ispec = kind == 2 ? text : NULL;
      int rc = lb_sampler_alloc(sspec, tg, &s, &e);
      if (!rc) rc = lb_init_parse(&in, ispec, tg, &e);
      if (!rc && in.has_v && !s->dyn.type->second_order) rc = LB_EINPUT;
      if (!rc && use) {
        lb_sim sim = {.target = tg, .sampler = s, .init = &in, .step = 0.1,
                      .steps = 3, .chains = 2, .seed = 1, .threads = 1,
                      .record_every = 1, .record_chains = 2};
        lb_run run = {0};
        lb_simulate(&sim, &run, NULL, &e);
        lb_run_clear(&run);
      }
      lb_init_clear(&in);
      lb_sampler_free(s);
      break;
    }
    case 3: { /* --metrics */
      const lb_target *tg = base(b, &bt);
      lb_metric **ms = NULL;
      size_t nm = 0;
      int rc = lb_metric_list_parse(text, tg, &ms, &nm, &e);
      if (!rc && use) {
        size_t n = 8, d = tg->dim;
        double *x = lb_xcalloc(n * d, sizeof *x);
        gsl_rng *r = lb_rng_alloc();
        lb_rng_seed(r, 2, 0, 0);
        for (size_t i = 0; i < n; i++) tg->type->sample(tg->state, r, x + i * d);
        gsl_rng_free(r);
        for (size_t k = 0; k < nm; k++) {
          /* the grid KDE (kl and tv in d <= 2) costs 65536 nodes x 100
           * bootstrap replicates even for 8 points: ~20 s per call under
           * the sanitizers, so it is parsed here but not evaluated */
          const char *fam = ms[k]->type->name;
          if (d <= 2 && (!strcmp(fam, "kl") || !strcmp(fam, "tv"))) continue;
          ms[k]->msg = NULL;
          lb_metric_result res;
          lb_metric_eval(ms[k], x, n, 1, 0, &res, &e);
        }
        free(x);
      }
      for (size_t k = 0; k < nm; k++) lb_metric_free(ms[k]);
      free(ms);
      break;
    }
    case 4: { /* the SPEC parser and its lookups */
      lb_spec s;
      if (lb_spec_parse(&s, text, "--fuzz", &e) == LB_OK) {
        double v;
        long l;
        for (int i = 0; i < s.nkv; i++) {
          lb_spec_double(&s, s.kv[i].key, 0, -1e300, 1e300, &v, &e);
          lb_spec_long(&s, s.kv[i].key, 0, -100, 100, &l, &e);
          (void)lb_spec_str(&s, s.kv[i].key);
        }
        lb_spec_check_used(&s, "--fuzz", &e);
      }
      break;
    }
    default: { /* numbers */
      double v, buf[64];
      long l;
      lb_parse_double(text, &v);
      lb_parse_long(text, &l);
      lb_parse_doubles(text, buf, 64);
      break;
    }
  }
  lb_target_free(t);
  lb_target_free(bt);
  free(text);
  return 0;
}
