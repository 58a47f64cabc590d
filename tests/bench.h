/* bench.h -- `make bench`: each part prints its measurements and the
 * ratios the issues ask for, all from one run.  GPL-3.0-or-later. */
#ifndef LB_BENCH_H
#define LB_BENCH_H

double bench_now(void);     /* monotonic seconds */
double bench_cpu_now(void); /* CPU seconds of the process (all threads) */
void bench_samplers(void);
void bench_metrics(void);
void bench_mlp(void);
void bench_diffusion(void);

#endif
