/* schedule.c -- DDPM beta schedules.  GPL-3.0-or-later. */
#include "schedule.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

int lb_schedule_init(lb_schedule *s, const char *name, int N, lb_err *e) {
  if (N < 2 || N > LB_SCHED_MAXN)
    return lb_fail(e, LB_EINPUT, "schedule: N=%d must lie in [2, %d]", N,
                   LB_SCHED_MAXN);
  int paper = strcmp(name, "paper") == 0;
  if (!paper && strcmp(name, "linear") != 0)
    return lb_fail(e, LB_EINPUT,
                   "schedule: '%s' is not a schedule (paper, linear)", name);
  snprintf(s->name, sizeof s->name, "%s", name);
  s->N = N;
  s->beta[0] = 0.0;
  s->abar[0] = 1.0;
  double lo = paper ? sqrt(0.0015) : 1e-4, hi = paper ? sqrt(0.0195) : 0.02;
  for (int i = 1; i <= N; i++) {
    double b = lo + (hi - lo) * (double)(i - 1) / (double)(N - 1);
    s->beta[i] = paper ? b * b : b;
    s->abar[i] = s->abar[i - 1] * (1.0 - s->beta[i]);
  }
  return LB_OK;
}
