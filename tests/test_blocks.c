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
  int coupled; /* 1: coupled with lmc (ulmc) at step/K */
} blk_case;

static void run(const blk_case *c, long block, int threads, lb_run *out,
                lb_run *fout) {
  lb_err e;
  lb_target *t;
  lb_sampler *s, *f = NULL;
  lb_init in;
  cr_assert_eq(lb_target_alloc(c->target, &t, &e), LB_OK, "%s", e.msg);
  cr_assert_eq(lb_sampler_alloc(c->sampler, t, &s, &e), LB_OK, "%s", e.msg);
  /* the fine chain: LMC, or ULMC for the underdamped samplers */
  if (c->coupled)
    cr_assert_eq(lb_sampler_alloc(c->sampler[0] == 'u' ? "ulmc" : "lmc", t,
                                  &f, &e), LB_OK, "%s", e.msg);
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
      {"gmm:preset=ring8", "uplmc:K=16", 0.1, 12, 0},
      {"gmm:preset=ring8", "uplmc:K=inf", 0.1, 12, 0},
      {"double_well:dim=2", "uplmc:K=4", 0.05, 12, 1},
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
    cr_expect(lb_test_same_run(&ref, &a), "%s on %s: block %ld, %d threads differs "
              "from block 64, 1 thread", c->sampler, c->target, blocks[k],
              threads[k]);
    if (c->coupled)
      cr_expect(lb_test_same_run(&fref, &fa), "%s on %s (coupled lmc): block %ld, "
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

/* The midpoint rounds of plmc and uplmc compact their list with AVX-512
 * (vcompress) or a portable loop (pmm.c, list_compact); LB_PMM_NO_AVX512
 * selects the portable one.  Both must give the same runs: K = inf, a
 * power of two, K = 3 (a divide in the skips), a 10-D mixture, the
 * underdamped list form, at block sizes 64 (the list overflows mid-rounds)
 * and 61 (tails of every length).  On a machine without AVX-512 both runs
 * use the portable loop. */
Test(blocks, pmm_vector_compaction_matches_portable) {
  static const blk_case cases[] = {
      {"gmm:preset=ring8", "plmc:K=inf", 0.05, 15, 0},
      {"gmm:preset=ring8", "plmc:K=16", 0.05, 15, 0},
      {"double_well:dim=2", "plmc:K=3", 0.05, 15, 0},
      {"gmm:dim=10,modes=8", "plmc:K=inf", 0.05, 15, 0},
      {"gmm:preset=ring8", "uplmc:K=1024", 0.1, 15, 0},
      {"double_well:dim=3", "uplmc:K=inf,gamma=5", 0.05, 15, 0},
  };
  for (size_t q = 0; q < sizeof cases / sizeof *cases; q++)
    for (long block = 61; block <= 64; block += 3) {
      lb_run v = {0}, pv = {0}, fv = {0}, fp = {0};
      run(&cases[q], block, 1, &v, &fv);
      setenv("LB_PMM_NO_AVX512", "1", 1);
      run(&cases[q], block, 1, &pv, &fp);
      unsetenv("LB_PMM_NO_AVX512");
      cr_expect(lb_test_same_run(&v, &pv), "%s on %s, block %ld: the AVX-512 "
                "compaction differs from the portable one", cases[q].sampler,
                cases[q].target, block);
      lb_run_clear(&v);
      lb_run_clear(&pv);
    }
}

/* ---- the vector exp (vmath.h) ------------------------------------------
 * Against expl (long double, 64-bit mantissa: its own error is below
 * 2^-11 ulp of a double) on 10^6 points of [-708, 0] and [-3, 3], plus the
 * edge cases; the bound is 2 ulp (the measured worst is below 1). */
#include <float.h>
#include <math.h>

#include "vmath.h"

Test(vmath, exp_within_2ulp) {
  uint64_t st = 12345;
  double worst = 0.0, wx = 0.0;
  for (long k = 0; k < 1000000; k++) {
    st = st * 6364136223846793005ULL + 1442695040888963407ULL;
    double u = (double)(st >> 11) * 0x1.0p-53;
    double x = k % 2 ? -708.0 * u : 6.0 * u - 3.0;
    double y = lb_exp(x);
    long double t = expl((long double)x);
    int e;
    frexpl(t, &e);
    long double ulp = ldexpl(1.0L, e - 53);
    double err = (double)(fabsl((long double)y - t) / ulp);
    if (err > worst) {
      worst = err;
      wx = x;
    }
  }
  cr_expect(worst <= 2.0, "lb_exp: %.3f ulp at x = %.17g", worst, wx);
  cr_expect_eq(lb_exp(0.0), 1.0);
  cr_expect_eq(lb_exp(-HUGE_VAL), 0.0);
  cr_expect_eq(lb_exp(-800.0), 0.0);
  cr_expect(isnan(lb_exp(NAN)));
  cr_expect(fabs(lb_exp(709.0) / exp(709.0) - 1.0) < 4 * DBL_EPSILON);
}

/* The fused kernels (vmath.h, *_fma) against long double references on
 * 10^6 points each: exp on [-708, 0] and [-3, 3] (2 ulp, as lb_exp), log
 * on (0, 1] (2 ulp), sqrt on [0, 80] (2 ulp), sin and cos of 2 pi u
 * (2 ulp of 1, their error is absolute near the zeros); edge cases. */
static double ulps(double y, long double t) {
  if (t == 0.0L) return y == 0.0 ? 0.0 : HUGE_VAL;
  int e;
  frexpl(t, &e);
  return (double)(fabsl((long double)y - t) / ldexpl(1.0L, e - 53));
}

Test(vmath, fma_kernels_within_2ulp) {
  uint64_t st = 777;
  double wexp = 0, wlog = 0, wsq = 0, wsc = 0;
  for (long k = 0; k < 1000000; k++) {
    st = st * 6364136223846793005ULL + 1442695040888963407ULL;
    double u = (double)(st >> 11) * 0x1.0p-53;
    double x = k % 2 ? -708.0 * u : 6.0 * u - 3.0;
    wexp = fmax(wexp, ulps(lb_exp_fma(x), expl((long double)x)));
    double v = 1.0 - u; /* (0, 1] */
    if (k % 3 == 0) v = ldexp(v, -(int)(k % 1000)); /* small arguments */
    wlog = fmax(wlog, ulps(lb_log_fma(v), logl((long double)v)));
    double q = 80.0 * u;
    wsq = fmax(wsq, ulps(lb_sqrt_fma(q), sqrtl((long double)q)));
    double sn, cs;
    lb_sincos2pi_fma(u, &sn, &cs);
    long double a = 2.0L * 3.14159265358979323846264338327950288L * (long double)u;
    double es = (double)(fabsl((long double)sn - sinl(a)) / 0x1p-53L);
    double ec = (double)(fabsl((long double)cs - cosl(a)) / 0x1p-53L);
    wsc = fmax(wsc, fmax(es, ec));
  }
  cr_expect(wexp <= 2.0, "lb_exp_fma: %.3f ulp", wexp);
  cr_expect(wlog <= 2.0, "lb_log_fma: %.3f ulp", wlog);
  cr_expect(wsq <= 2.0, "lb_sqrt_fma: %.3f ulp", wsq);
  cr_expect(wsc <= 2.0, "lb_sincos2pi_fma: %.3f ulp of 1", wsc);
  cr_expect_eq(lb_exp_fma(0.0), 1.0);
  cr_expect_eq(lb_exp_fma(-HUGE_VAL), 0.0);
  cr_expect_eq(lb_exp_fma(-800.0), 0.0);
  cr_expect(isnan(lb_exp_fma(NAN)));
  cr_expect_eq(lb_log_fma(1.0), 0.0);
  cr_expect_eq(lb_sqrt_fma(0.0), 0.0);
  cr_expect_eq(lb_sqrt_fma(4.0), 2.0);
}

/* ---- the noise (rng.h) ------------------------------------------------
 * Philox4x32-10 against Random123's reference on random counters and
 * keys; the Box-Muller normals of lb_streams_gauss against N(0, 1):
 * mean, variance, fourth moment, tail and sign frequencies, and the
 * correlation of the two values of a pair, within LB_TEST_NSE standard
 * errors of 2 x 10^6 draws; and a stream depends only on its own draws. */
#include <Random123/philox.h>

#include "rng.h"

Test(noise, philox_matches_random123) {
  uint64_t st = 99;
  for (int k = 0; k < 1000; k++) {
    uint32_t c[4], key[2], out[4];
    for (int i = 0; i < 6; i++) {
      st = st * 6364136223846793005ULL + 1442695040888963407ULL;
      if (i < 4)
        c[i] = (uint32_t)(st >> 32);
      else
        key[i - 4] = (uint32_t)(st >> 32);
    }
    lb_philox4x32_10(c, key, out);
    philox4x32_ctr_t rc = {{c[0], c[1], c[2], c[3]}};
    philox4x32_key_t rk = {{key[0], key[1]}};
    philox4x32_ctr_t ro = philox4x32(rc, rk);
    for (int i = 0; i < 4; i++)
      cr_assert_eq(out[i], ro.v[i], "counter %d word %d", k, i);
  }
}

Test(noise, box_muller_is_standard_normal) {
  const size_t rows = 64, n = 2, per = 15625; /* 64 x 2 x 15625 = 2e6 */
  lb_streams *s = lb_streams_alloc(rows);
  for (size_t j = 0; j < rows; j++) lb_streams_seed(s, j, 3, j, 1);
  double z[2 * 64];
  double m1 = 0, m2 = 0, m4 = 0, tail = 0, pos = 0, cross = 0;
  for (size_t k = 0; k < per; k++) {
    lb_streams_gauss(s, n, rows, NULL, 64, z);
    for (size_t j = 0; j < rows; j++) {
      for (size_t i = 0; i < n; i++) {
        double x = z[i * 64 + j];
        m1 += x;
        m2 += x * x;
        m4 += x * x * x * x;
        tail += fabs(x) > 2.5;
        pos += x > 0;
      }
      cross += z[j] * z[64 + j];
    }
  }
  double N = (double)(rows * n * per), P = (double)(rows * per);
  m1 /= N, m2 /= N, m4 /= N, tail /= N, pos /= N, cross /= P;
  double ptail = erfc(2.5 / sqrt(2.0));
  cr_expect(fabs(m1) < LB_TEST_NSE * sqrt(1.0 / N), "mean %g", m1);
  cr_expect(fabs(m2 - 1.0) < LB_TEST_NSE * sqrt(2.0 / N), "var %g", m2);
  cr_expect(fabs(m4 - 3.0) < LB_TEST_NSE * sqrt(96.0 / N), "m4 %g", m4);
  cr_expect(fabs(tail - ptail) < LB_TEST_NSE * sqrt(ptail * (1 - ptail) / N),
            "P(|z| > 2.5) %g, exact %g", tail, ptail);
  cr_expect(fabs(pos - 0.5) < LB_TEST_NSE * sqrt(0.25 / N), "P(z > 0) %g",
            pos);
  cr_expect(fabs(cross) < LB_TEST_NSE * sqrt(1.0 / P), "pair corr %g", cross);
  lb_streams_free(s);
}

/* The vector Philox lanes (AVX-512, AVX2 or C, rng.c) give the words of
 * lb_philox4x32_10: uniforms of 61 rows in one call against the one-row
 * draw, which rebuilds the counter (pos, chain, substream) by hand. */
Test(noise, philox_lanes_match_the_scalar_function) {
  const size_t rows = 61;
  lb_streams *s = lb_streams_alloc(rows);
  uint64_t seed = 0x9876543210abcdefULL;
  for (size_t j = 0; j < rows; j++) lb_streams_seed(s, j, seed, 1000 * j + 7, 3);
  double u[61];
  for (uint32_t pos = 0; pos < 20; pos++) {
    lb_streams_uniform_block(s, rows, NULL, u);
    for (size_t j = 0; j < rows; j++) {
      uint64_t chain = 1000 * j + 7;
      uint32_t c[4] = {pos, 0, (uint32_t)chain, (uint32_t)((chain >> 32) << 8) | 3};
      uint32_t key[2] = {(uint32_t)seed, (uint32_t)(seed >> 32)}, w[4];
      lb_philox4x32_10(c, key, w);
      uint64_t m52 = ((uint64_t)w[0] << 20) | (w[1] >> 12);
      cr_assert_eq(u[j], (double)m52 * 0x1p-52, "row %zu, block %u", j, pos);
    }
  }
  lb_streams_free(s);
}

Test(noise, a_row_reads_only_its_own_stream) {
  /* row 5 drawn alone (as row 0 of a compact call) and inside a block of
   * 37 rows, after the same own history, gives the same values */
  lb_streams *a = lb_streams_alloc(37), *b = lb_streams_alloc(1);
  for (size_t j = 0; j < 37; j++) lb_streams_seed(a, j, 8, 100 + j, 2);
  lb_streams_seed(b, 0, 8, 105, 2);
  double za[3 * 40], zb[3 * 8];
  for (int k = 0; k < 5; k++) {
    double ua = lb_streams_uniform(a, 5), ub = lb_streams_uniform(b, 0);
    cr_expect_eq(ua, ub);
    lb_streams_gauss(a, 3, 37, NULL, 40, za);
    size_t row = 0;
    lb_streams_gauss(b, 3, 1, &row, 8, zb);
    for (int i = 0; i < 3; i++) cr_expect_eq(za[i * 40 + 5], zb[i * 8]);
  }
  lb_streams_free(a);
  lb_streams_free(b);
}

/* lb_floor_pos is floor on x >= 0: at the integers, halves and their
 * neighbours, around 2^52 and on random magnitudes from 2^-30 to 2^70. */
Test(vmath, floor_pos_is_floor) {
  const double sp[] = {0.0, 0x1p-1074, 0.5, 1.0, 1.5, 2.5, 3.0,
                       0x1.fffffffffffffp-1, 0x1.fffffffffffffp+1,
                       0x1p52 - 0.5, 0x1p52, 0x1p52 + 1.0, 0x1p53 + 2.0,
                       1e300, HUGE_VAL};
  for (size_t k = 0; k < sizeof sp / sizeof *sp; k++) {
    cr_expect_eq(lb_floor_pos(sp[k]), floor(sp[k]), "x = %a", sp[k]);
    double up = nextafter(sp[k], HUGE_VAL);
    cr_expect_eq(lb_floor_pos(up), floor(up), "x = %a", up);
  }
  uint64_t st = 99;
  long bad = 0;
  for (long k = 0; k < 2000000; k++) {
    st = st * 6364136223846793005ULL + 1442695040888963407ULL;
    double x = ldexp((double)(st >> 11) * 0x1.0p-53, (int)(k % 100) - 30);
    bad += lb_floor_pos(x) != floor(x);
  }
  cr_expect_eq(bad, 0);
}

/* The draws at an offset (PLMC's fast form) are the values the streams
 * give at that point: uniforms, and Gaussians of odd and even n, for
 * contiguous and listed rows; the streams do not move until skipped. */
Test(noise, draws_at_an_offset_match_the_sequence) {
  const size_t rows = 13, n = 3, ld = 16;
  lb_streams *a = lb_streams_alloc(rows), *b = lb_streams_alloc(rows);
  for (size_t j = 0; j < rows; j++) {
    lb_streams_seed(a, j, 42, 500 + j, 1);
    lb_streams_seed(b, j, 42, 500 + j, 1);
  }
  uint64_t gb = lb_streams_gauss_blocks(n);
  cr_assert_eq(gb, 2);
  /* sequence on a: u, z(n), u, z(n), ...; read from b at offsets */
  double ua[16], za[3 * 16], ub[16], zb[3 * 16];
  size_t list[5] = {12, 0, 7, 3, 9};
  uint64_t offs[13];
  for (uint64_t k = 0; k < 4; k++) {
    lb_streams_uniform_block(a, rows, NULL, ua);
    lb_streams_gauss(a, n, rows, NULL, ld, za);
    lb_streams_uniform_at(b, rows, NULL, k * (1 + gb), ub);
    for (size_t j = 0; j < rows; j++) offs[j] = k * (1 + gb) + 1;
    lb_streams_gauss_at(b, n, rows, NULL, offs, ld, zb);
    for (size_t j = 0; j < rows; j++) {
      cr_expect_eq(ua[j], ub[j], "round %lu row %zu", (unsigned long)k, j);
      for (size_t i = 0; i < n; i++)
        cr_expect_eq(za[i * ld + j], zb[i * ld + j]);
    }
    lb_streams_uniform_at(b, 5, list, k * (1 + gb), ub);
    lb_streams_gauss_at(b, n, 5, list, offs, ld, zb);
    for (size_t j = 0; j < 5; j++) {
      cr_expect_eq(ua[list[j]], ub[j]);
      for (size_t i = 0; i < n; i++)
        cr_expect_eq(za[i * ld + list[j]], zb[i * ld + j]);
    }
  }
  /* after skipping 4 rounds, b's next draws are a's */
  uint64_t four[13];
  for (size_t j = 0; j < rows; j++) four[j] = 4 * (1 + gb) - 1;
  lb_streams_skip(b, rows, four, 1);
  lb_streams_uniform_block(a, rows, NULL, ua);
  lb_streams_uniform_block(b, rows, NULL, ub);
  for (size_t j = 0; j < rows; j++) cr_expect_eq(ua[j], ub[j]);
  lb_streams_free(a);
  lb_streams_free(b);
}
