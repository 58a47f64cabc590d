/* test_blocks.c -- a run does not depend on how its chains are blocked
 * or threaded.  GPL-3.0-or-later.
 *
 * Every chain owns its streams (rng.h) and every block kernel computes a
 * row as it would alone (block.h), so the samples, NFE, divergence flags
 * and trajectories must agree bit for bit between block sizes 1, 61 (not
 * a multiple of the vector width, and a short last block) and 64, and
 * between 1 and 2 threads.  This holds for every sampler, in the coupled
 * mode, and when some chains diverge mid-block.
 */
#include <criterion/criterion.h>
#include <criterion/parameterized.h>
#include <string.h>

#include "sampler.h"
#include "simulate.h"
#include "testutil.h"

typedef struct {
  char target[48];
  char sampler[48];
  double step;
  long steps;
  int coupled; /* 1: coupled with lmc at step/K */
} blk_case;

static void run(const blk_case *c, long block, int threads, lb_run *out,
                lb_run *fout) {
  lb_err e;
  lb_target *t;
  lb_sampler *s, *f = NULL;
  lb_init in;
  cr_assert_eq(lb_target_alloc(c->target, &t, &e), LB_OK, "%s", e.msg);
  cr_assert_eq(lb_sampler_alloc(c->sampler, t, &s, &e), LB_OK, "%s", e.msg);
  if (c->coupled) cr_assert_eq(lb_sampler_alloc("lmc", t, &f, &e), LB_OK);
  cr_assert_eq(lb_init_parse(&in, NULL, t, &e), LB_OK);
  lb_sim sim = {.target = t, .sampler = s, .init = &in, .step = c->step,
                .steps = c->steps, .chains = 150, .seed = 11,
                .threads = threads, .record_every = 3, .record_chains = 70,
                .fine = f, .block = block};
  cr_assert_eq(lb_simulate(&sim, out, fout, &e), LB_OK, "%s", e.msg);
  lb_init_clear(&in);
  lb_sampler_free(f);
  lb_sampler_free(s);
  lb_target_free(t);
}

static int same_run(const lb_run *a, const lb_run *b) {
  size_t cd = (size_t)a->chains * (size_t)a->dim;
  size_t tr = a->records * a->record_chains * (size_t)a->dim;
  return a->records == b->records &&
         memcmp(a->samples, b->samples, cd * sizeof(double)) == 0 &&
         memcmp(a->nfe, b->nfe, (size_t)a->chains * sizeof(int64_t)) == 0 &&
         memcmp(a->diverged, b->diverged, (size_t)a->chains) == 0 &&
         memcmp(a->trajectory, b->trajectory, tr * sizeof(double)) == 0 &&
         memcmp(a->trajectory_nfe, b->trajectory_nfe,
                a->records * sizeof(int64_t)) == 0 &&
         strcmp(a->status, b->status) == 0;
}

ParameterizedTestParameters(blocks, invariance) {
  static blk_case cases[] = {
      {"gmm:preset=ring8", "lmc", 0.05, 12, 0},
      {"gmm:preset=ring8", "rlmc", 0.05, 12, 0},
      {"gmm:preset=ring8", "plmc:K=16", 0.05, 12, 0},
      {"gmm:preset=ring8", "plmc:K=inf", 0.05, 12, 0},
      {"gmm:preset=ring8", "plmc:K=4,option=2", 0.05, 12, 0},
      {"gmm:preset=ring8", "plmc:K=8,impl=fine", 0.05, 12, 0},
      {"gmm:dim=10,modes=8", "plmc:K=16", 0.05, 12, 0},
      {"double_well:dim=10", "rlmc", 0.02, 12, 0},
      {"gmm:file=tests/data/gmm_full.cfg", "lmc", 0.05, 12, 0},
      {"gmm:preset=ring8", "ulmc", 0.1, 12, 0},
      {"double_well:dim=3", "urlmc:gamma=5", 0.05, 12, 0},
      {"double_well:dim=2", "plmc:K=4", 0.02, 12, 1},
      {"gmm:preset=ring8", "plmc:K=8,option=2", 0.05, 12, 1},
      /* h = 4 on N(0, I): PLMC grows like a random product and about
       * 2/3 of the chains overflow by step 460, each at its own step */
      {"gaussian:dim=2", "plmc:K=inf", 4.0, 460, 0},
      /* h = 2.5: |x| grows like 1.5^t and overflows near step 1750, at a
       * step that depends on the start */
      {"gaussian:dim=2", "lmc", 2.5, 1800, 0},
  };
  return cr_make_param_array(blk_case, cases, sizeof cases / sizeof cases[0]);
}

ParameterizedTest(blk_case *c, blocks, invariance) {
  const long blocks[] = {64, 1, 61, 64};
  const int threads[] = {1, 1, 2, 2};
  lb_run ref = {0}, fref = {0};
  run(c, blocks[0], threads[0], &ref, &fref);
  for (int k = 1; k < 4; k++) {
    lb_run a = {0}, fa = {0};
    run(c, blocks[k], threads[k], &a, &fa);
    cr_expect(same_run(&ref, &a), "%s on %s: block %ld, %d threads differs "
              "from block 64, 1 thread", c->sampler, c->target, blocks[k],
              threads[k]);
    if (c->coupled)
      cr_expect(same_run(&fref, &fa), "%s on %s (coupled lmc): block %ld, "
                "%d threads differs", c->sampler, c->target, blocks[k],
                threads[k]);
    lb_run_clear(&a);
    if (c->coupled) lb_run_clear(&fa);
  }
  if (c->step > 1.0) {
    long nd = 0;
    for (long j = 0; j < ref.chains; j++) nd += ref.diverged[j];
    cr_expect(nd > 0, "%s: no chain diverged", c->sampler);
    if (strncmp(c->sampler, "plmc", 4) == 0)
      cr_expect(nd < ref.chains, "%s: all %ld chains diverged (the case "
                "needs some, not all)", c->sampler, nd);
  }
  lb_run_clear(&ref);
  if (c->coupled) lb_run_clear(&fref);
}
