/* bench_samplers.c -- cost per step of each sampler (make bench).
 * GPL-3.0-or-later.
 *
 * Everything is measured in this one run and reported as ratios:
 *   PLMC K=1024 vs K=4 per coarse step   (target <= 1.2: cost independent of K)
 *   PLMC vs LMC per step                 (target <= 2.5: about two NFE)
 *   2 threads vs 1, 10^5 chains on ring8 (target >= 1.7)
 * plus absolute chain-steps per second.  Each timing is the best of 3. */
#include <stdio.h>

#include "bench.h"
#include "sampler.h"
#include "simulate.h"

static double time_run(const char *sspec, long chains, long steps,
                       int threads, double *nfe_per_step) {
  lb_err e;
  lb_target *t;
  lb_sampler *s;
  lb_init in;
  if (lb_target_alloc("gmm:preset=ring8", &t, &e) ||
      lb_sampler_alloc(sspec, t, &s, &e) || lb_init_parse(&in, NULL, t, &e)) {
    fprintf(stderr, "bench: %s\n", e.msg);
    return -1;
  }
  lb_sim sim = {.target = t, .sampler = s, .init = &in, .step = 0.05,
                .steps = steps, .chains = chains, .seed = 1,
                .threads = threads};
  double best = 1e300;
  for (int rep = 0; rep < 3; rep++) {
    lb_run run = {0};
    double t0 = bench_now();
    lb_simulate(&sim, &run, NULL, &e);
    double dt = bench_now() - t0;
    if (dt < best) best = dt;
    double nfe = 0;
    for (long c = 0; c < chains; c++) nfe += (double)run.nfe[c];
    *nfe_per_step = nfe / (double)chains / (double)steps;
    lb_run_clear(&run);
  }
  lb_init_clear(&in);
  lb_sampler_free(s);
  lb_target_free(t);
  return best / (double)chains / (double)steps; /* seconds per chain-step */
}

void bench_samplers(void) {
  const char *specs[] = {"lmc", "rlmc", "plmc:K=4", "plmc:K=1024",
                         "plmc:K=inf", "plmc:K=4,option=2",
                         "plmc:K=1024,option=2", "plmc:K=64,impl=fine"};
  double per[8], nfe[8];
  long chains = 20000, steps = 100;
  printf("samplers on gmm:preset=ring8 (d=2), %ld chains x %ld steps, 1 "
         "thread, best of 3\n", chains, steps);
  printf("  %-22s %12s %14s %8s\n", "sampler", "ns/step", "chain-steps/s",
         "NFE/step");
  for (int i = 0; i < 8; i++) {
    per[i] = time_run(specs[i], chains, steps, 1, &nfe[i]);
    printf("  %-22s %12.1f %14.3g %8.3f\n", specs[i], per[i] * 1e9,
           1.0 / per[i], nfe[i]);
  }
  printf("\nratios (targets from issue 2):\n");
  printf("  PLMC K=1024 / K=4 per coarse step      %.3f  (<= 1.2)\n",
         per[3] / per[2]);
  printf("  PLMC opt2 K=1024 / K=4 per coarse step %.3f  (<= 1.2)\n",
         per[6] / per[5]);
  printf("  PLMC K=4 / LMC per step                %.3f  (<= 2.5)\n",
         per[2] / per[0]);
  printf("  PLMC K=inf / LMC per step              %.3f\n", per[4] / per[0]);
  printf("  RLMC / LMC per step                    %.3f\n", per[1] / per[0]);
  printf("  PLMC K=64 fine form / fast form K=1024 %.3f  (the O(K) form)\n",
         per[7] / per[3]);

  double n1, n2;
  double t1 = time_run("plmc:K=16", 100000, 20, 1, &n1);
  double t2 = time_run("plmc:K=16", 100000, 20, 2, &n2);
  printf("  2 threads vs 1, 1e5 chains plmc:K=16   %.3f  (>= 1.7)  "
         "[%.3g chain-steps/s on 2 threads]\n\n", t1 / t2, 1.0 / t2);
}
