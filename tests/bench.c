/* bench.c -- driver of `make bench`.  GPL-3.0-or-later. */
#include "bench.h"

#include <stdio.h>
#include <time.h>

double bench_now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

int main(void) {
  printf("langbench bench: one run, ratios are within this run\n\n");
  bench_samplers();
  bench_metrics();
  return 0;
}
