/* bench.c -- driver of `make bench`.  GPL-3.0-or-later. */
#include "bench.h"
#include "mlp.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

double bench_now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

double bench_cpu_now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* `bench [samplers|metrics|mlp|diffusion]`: one part only (default: all). */
int main(int argc, char **argv) {
  lb_mlp_blas_pin_kernel(argv);
  int all = argc < 2;
  printf("langbench bench: one run, ratios are within this run\n\n");
  if (all || strcmp(argv[1], "samplers") == 0) bench_samplers();
  if (all || strcmp(argv[1], "metrics") == 0) bench_metrics();
  if (all || strcmp(argv[1], "mlp") == 0) bench_mlp();
  if (all || strcmp(argv[1], "diffusion") == 0) bench_diffusion();
  return 0;
}
