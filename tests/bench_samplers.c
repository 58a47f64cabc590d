/* bench_samplers.c -- throughput of each sampler (make bench).
 * GPL-3.0-or-later.
 *
 * Everything is measured in this one run and reported as ratios:
 *   chain-steps per second on one thread, on ring8, gmm:dim=10,modes=8
 *     and double_well:dim=10 (issue 9 targets on ring8: LMC >= 4e7,
 *     PLMC K=16 and K=inf >= 1.5e7, RLMC >= 2e7)
 *   block size 64 against block size 1 (the unbatched path)
 *   PLMC K=1024 vs K=4 per coarse step   (target <= 1.2)
 *   2 threads vs 1, 10^5 chains          (target >= 1.8)
 *   underdamped on ring8: ULMC, urlmc, uplmc chain-steps/s next to the
 *     overdamped ones, uplmc K=1024 vs K=4 per coarse step (<= 1.2,
 *     issue 10)
 * Timing: every cell (a sampler on a target with its chain count and
 * block size) first runs once untimed (page faults, caches, clock ramp,
 * and the length of a batch: runs back to back lasting at least CELL_S
 * seconds), then REPS batches, keeping the best batch's mean time per
 * run.  The cells of one target are timed interleaved, batch k of every
 * cell before batch k + 1 of any, so that a change in the machine's load
 * during the run moves them all alike and the ratios between them hold.
 * One-thread figures are CPU time of the process (on a shared machine
 * wall time mostly measures the other jobs); the thread ratio is wall
 * time, meaningful only on an idle machine (the load average is printed
 * next to it).  LB_BENCH_CELL_S overrides CELL_S (e.g. 0.05 for a quick
 * look; the README's numbers use the default). */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench.h"
#include "sampler.h"
#include "simulate.h"
#include "target.h"

static int use_wall; /* 1: wall time (thread scaling), 0: CPU time */

#define CELL_S 0.2 /* least time of one timed batch, seconds */
#define REPS 5     /* batches per cell; the best one is kept */

static double cell_s(void) {
  const char *v = getenv("LB_BENCH_CELL_S");
  double x = v ? atof(v) : 0.0;
  return x > 0 ? x : CELL_S;
}

typedef struct {
  lb_target *t;
  lb_sampler *s;
  lb_init in;
  lb_sim sim;
  long per_batch; /* runs per timed batch, from the warm-up */
  double best;    /* best batch: seconds per run */
  double nfe;     /* NFE per chain and step (last run) */
} cell;

static int cell_open(cell *c, const char *tspec, const char *sspec, double h,
                     long chains, long steps, int threads, long block) {
  lb_err e;
  memset(c, 0, sizeof *c);
  if (lb_target_alloc(tspec, &c->t, &e) ||
      lb_sampler_alloc(sspec, c->t, &c->s, &e) ||
      lb_init_parse(&c->in, NULL, c->t, &e)) {
    fprintf(stderr, "bench: %s\n", e.msg);
    return -1;
  }
  c->sim = (lb_sim){.target = c->t, .sampler = c->s, .init = &c->in,
                    .step = h, .steps = steps, .chains = chains, .seed = 1,
                    .threads = threads, .block = block};
  c->best = 1e300;
  return 0;
}

/* One batch (warm: the untimed run that sets the batch length). */
static void cell_batch(cell *c, int warm) {
  double (*clk)(void) = use_wall ? bench_now : bench_cpu_now;
  double min_s = cell_s(), t0 = clk(), dt;
  long runs = 0;
  lb_err e;
  do {
    lb_run run = {0};
    lb_simulate(&c->sim, &run, NULL, &e);
    double nfe = 0;
    for (long k = 0; k < c->sim.chains; k++) nfe += (double)run.nfe[k];
    c->nfe = nfe / (double)c->sim.chains / (double)c->sim.steps;
    lb_run_clear(&run);
    runs++;
    dt = clk() - t0;
  } while (!warm && (runs < c->per_batch || dt < min_s));
  if (warm) {
    c->per_batch = dt > 0 ? (long)ceil(min_s / dt) : 1;
    if (c->per_batch < 1) c->per_batch = 1;
  } else if (dt / (double)runs < c->best) {
    c->best = dt / (double)runs;
  }
}

/* Seconds per chain-step. */
static double cell_per(const cell *c) {
  return c->best / (double)c->sim.chains / (double)c->sim.steps;
}

static void cell_close(cell *c) {
  lb_init_clear(&c->in);
  lb_sampler_free(c->s);
  lb_target_free(c->t);
}

/* The cells in[0..n) interleaved: warm-ups, then REPS rounds of batches. */
static void time_cells(cell *cs, int n) {
  for (int i = 0; i < n; i++) cell_batch(&cs[i], 1);
  for (int rep = 0; rep < REPS; rep++)
    for (int i = 0; i < n; i++) cell_batch(&cs[i], 0);
}

/* One cell alone: seconds per chain-step, *nfe_per_step. */
static double time_run(const char *tspec, const char *sspec, double h,
                       long chains, long steps, int threads, long block,
                       double *nfe_per_step) {
  cell c;
  if (cell_open(&c, tspec, sspec, h, chains, steps, threads, block)) return -1;
  time_cells(&c, 1);
  *nfe_per_step = c.nfe;
  double per = cell_per(&c);
  cell_close(&c);
  return per;
}

#define NS 9
static const char *specs[NS] = {
    "lmc",         "rlmc",       "plmc:K=4",
    "plmc:K=16",   "plmc:K=1024", "plmc:K=inf",
    "plmc:K=4,option=2", "plmc:K=1024,option=2", "plmc:K=64,impl=fine"};

static void one_target(const char *tspec, double h, long chains,
                       long steps) {
  double per[NS], nfe[NS], p1[NS];
  cell cs[NS + 6];
  printf("samplers on %s, step %g, %ld chains x %ld steps, 1 thread, "
         "block 64, best of %d interleaved batches >= %.2g s (CPU time)\n",
         tspec, h, chains, steps, REPS, cell_s());
  printf("  %-22s %10s %14s %8s %12s\n", "sampler", "ns/step",
         "chain-steps/s", "NFE/step", "block1/64");
  int nc = 0, bad = 0;
  for (int i = 0; i < NS; i++) /* block 64 */
    bad |= cell_open(&cs[nc++], tspec, specs[i], h, chains,
                     i == NS - 1 ? steps / 8 : steps, 1, 64);
  for (int i = 0; i < 6; i++) /* block 1, a quarter of the chains */
    bad |= cell_open(&cs[nc++], tspec, specs[i], h, chains / 4, steps, 1, 1);
  if (bad) return;
  time_cells(cs, nc);
  for (int i = 0; i < NS; i++) {
    per[i] = cell_per(&cs[i]);
    nfe[i] = cs[i].nfe;
    p1[i] = i < 6 ? cell_per(&cs[NS + i]) : 0.0;
    printf("  %-22s %10.1f %14.3g %8.3f", specs[i], per[i] * 1e9,
           1.0 / per[i], nfe[i]);
    if (i < 6)
      printf(" %12.2f\n", p1[i] / per[i]);
    else
      printf(" %12s\n", "-");
  }
  for (int i = 0; i < nc; i++) cell_close(&cs[i]);
  printf("  ratios: PLMC K=1024 / K=4 per coarse step %.3f (<= 1.2); "
         "option 2: %.3f;\n          PLMC K=16 / LMC %.2f, K=inf / LMC "
         "%.2f, RLMC / LMC %.2f; fine K=64 / fast K=1024 %.1f\n\n",
         per[4] / per[2], per[7] / per[6], per[3] / per[0], per[5] / per[0],
         per[1] / per[0], per[8] / per[4]);
}

/* Underdamped samplers on ring8 (issue 10), next to their overdamped
 * counterparts timed in the same way right after them (ULMC / LMC, urlmc
 * / RLMC, uplmc / PLMC at the same K).  The K ratio takes uplmc K=4 and
 * K=1024 in UD_PAIRS alternating rounds of time_run (each a warm-up and
 * best of REPS batches), so that a change of load hits both alike; the
 * ratio of the best times is printed with the range over the rounds. */
#define UD_PAIRS 3
static void underdamped(void) {
  const char *ud[] = {"ulmc",        "urlmc",      "uplmc:K=4",
                      "uplmc:K=1024", "uplmc:K=inf", "uplmc:K=4,option=2"};
  const char *od[] = {"lmc",        "rlmc",       "plmc:K=4",
                      "plmc:K=1024", "plmc:K=inf", "plmc:K=4,option=2"};
  enum { NU = sizeof ud / sizeof ud[0] };
  double per[NU], pod[NU], nfe[NU], n2;
  long chains = 20000, steps = 50;
  const char *tg = "gmm:preset=ring8";
  printf("underdamped samplers on %s, step 0.05, %ld chains x %ld steps, "
         "1 thread, block 64, best of %d batches >= %.2g s (CPU time)\n",
         tg, chains, steps, REPS, cell_s());
  printf("  %-22s %10s %14s %8s   %-18s %10s %8s\n", "sampler", "ns/step",
         "chain-steps/s", "NFE/step", "overdamped", "ns/step", "ud/od");
  for (int i = 0; i < NU; i++) {
    per[i] = time_run(tg, ud[i], 0.05, chains, steps, 1, 64, &nfe[i]);
    pod[i] = time_run(tg, od[i], 0.05, chains, steps, 1, 64, &n2);
    printf("  %-22s %10.1f %14.3g %8.3f   %-18s %10.1f %8.2f\n", ud[i],
           per[i] * 1e9, 1.0 / per[i], nfe[i], od[i], pod[i] * 1e9,
           per[i] / pod[i]);
  }
  double b4 = per[2], b1024 = per[3], lo = per[3] / per[2], hi = lo;
  for (int k = 1; k < UD_PAIRS; k++) {
    double a = time_run(tg, ud[2], 0.05, chains, steps, 1, 64, &n2);
    double b = time_run(tg, ud[3], 0.05, chains, steps, 1, 64, &n2);
    if (a < b4) b4 = a;
    if (b < b1024) b1024 = b;
    if (b / a < lo) lo = b / a;
    if (b / a > hi) hi = b / a;
  }
  printf("  ratios: uplmc K=1024 / K=4 per coarse step %.3f (<= 1.2; best "
         "of %d alternating rounds,\n          per round %.3f-%.3f); "
         "urlmc / ULMC %.2f, uplmc K=4 / ULMC %.2f, K=inf / ULMC %.2f\n\n",
         b1024 / b4, UD_PAIRS, lo, hi, per[1] / per[0], per[2] / per[0],
         per[4] / per[0]);
}

static double load1(void) {
  double la[3] = {0};
  if (getloadavg(la, 3) < 1) la[0] = -1;
  return la[0];
}

/* The mixture gradient alone: ns per row of lb_target_grad_block on
 * blocks of 64 rows, the AVX-512 kernel against the portable one
 * (LB_GMM_NO_AVX512 when the target is made), interleaved, best of 20
 * batches of 2000 calls each. */
static void grad_kernels(const char *tspec) {
  lb_target *tv = NULL, *tp = NULL;
  lb_err e;
  if (lb_target_alloc(tspec, &tv, &e)) return;
  setenv("LB_GMM_NO_AVX512", "1", 1);
  if (lb_target_alloc(tspec, &tp, &e)) {
    unsetenv("LB_GMM_NO_AVX512");
    lb_target_free(tv);
    return;
  }
  unsetenv("LB_GMM_NO_AVX512");
  size_t d = tv->dim, B = 64;
  double *x = calloc(d * B, sizeof *x), *g = calloc(d * B, sizeof *g),
         *t = calloc(B, sizeof *t);
  uint64_t st = 1;
  for (size_t k = 0; k < d * B; k++) {
    st = st * 6364136223846793005ULL + 1442695040888963407ULL;
    x[k] = 10.0 * ((double)(st >> 11) * 0x1.0p-53 - 0.5);
  }
  double best[2] = {1e300, 1e300};
  for (int rep = 0; rep < 20; rep++)
    for (int k = 0; k < 2; k++) {
      double t0 = bench_cpu_now();
      for (int it = 0; it < 2000; it++)
        lb_target_grad_block(k ? tp : tv, B, B, x, t, g);
      double dt = (bench_cpu_now() - t0) / 2000.0 / (double)B;
      if (dt < best[k]) best[k] = dt;
    }
  printf("mixture gradient on %s: %.2f ns per row (AVX-512 kernel where the "
         "CPU has it), %.2f ns portable kernel: %.2fx\n",
         tspec, 1e9 * best[0], 1e9 * best[1], best[1] / best[0]);
  free(x);
  free(g);
  free(t);
  lb_target_free(tv);
  lb_target_free(tp);
}

void bench_samplers(void) {
  printf("load average at the start: %.2f\n", load1());
  printf("block 1/64: time per chain-step with blocks of one chain (every "
         "drift call on one row) over blocks of 64\n\n");
  grad_kernels("gmm:preset=ring8");
  grad_kernels("gmm:dim=10,modes=8");
  printf("\n");
  one_target("gmm:preset=ring8", 0.05, 20000, 50);
  one_target("gmm:dim=10,modes=8", 0.05, 5000, 40);
  one_target("double_well:dim=10", 0.01, 5000, 40);
  underdamped();
  printf("load average after the one-thread cells: %.2f\n\n", load1());

  const char *thr[] = {"lmc", "plmc:K=16"};
  for (int i = 0; i < 2; i++) {
    double n1, n2;
    use_wall = 1;
    double t1 = time_run("gmm:preset=ring8", thr[i], 0.05, 100000, 10, 1, 64,
                         &n1);
    double t2 = time_run("gmm:preset=ring8", thr[i], 0.05, 100000, 10, 2, 64,
                         &n2);
    use_wall = 0;
    printf("2 threads vs 1, 1e5 chains, %-10s on ring8: %.3f (>= 1.8; wall "
           "time, load average %.1f)  [%.3g chain-steps/s on 2 threads]\n",
           thr[i], t1 / t2, load1(), 1.0 / t2);
  }
  printf("\n");
}
