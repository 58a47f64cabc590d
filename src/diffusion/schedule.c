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

/* ---- continuous view ---------------------------------------------- */

static double node_la(const lb_schedule *s, int i) {
  return 0.5 * log(s->abar[i]);
}

double lb_schedule_log_alpha(const lb_schedule *s, double t) {
  double u = t * (double)s->N;
  if (u <= 0) return 0.0;
  if (u >= (double)s->N) return node_la(s, s->N);
  int i = (int)floor(u);
  double f = u - (double)i;
  if (f == 0.0) return node_la(s, i);
  return (1.0 - f) * node_la(s, i) + f * node_la(s, i + 1);
}

double lb_schedule_abar_at(const lb_schedule *s, double step) {
  if (step <= 0) return 1.0;
  if (step >= (double)s->N) return s->abar[s->N];
  double fl = floor(step);
  if (fl == step) return s->abar[(int)fl];
  return exp(2.0 * lb_schedule_log_alpha(s, step / (double)s->N));
}

double lb_schedule_log_sigma(const lb_schedule *s, double t) {
  return 0.5 * log(-expm1(2.0 * lb_schedule_log_alpha(s, t)));
}

double lb_schedule_lambda(const lb_schedule *s, double t) {
  return lb_schedule_log_alpha(s, t) - lb_schedule_log_sigma(s, t);
}

double lb_schedule_inverse_lambda(const lb_schedule *s, double l) {
  /* log alpha = -log(1 + exp(-2 l)) / 2, computed without overflow. */
  double la = l > 0 ? -0.5 * log1p(exp(-2.0 * l))
                    : l - 0.5 * log1p(exp(2.0 * l));
  if (la >= 0) return 0.0;
  if (la <= node_la(s, s->N)) return 1.0;
  int lo = 0, hi = s->N; /* node_la decreases: la(lo) > la >= la(hi) */
  while (hi - lo > 1) {
    int mid = (lo + hi) / 2;
    if (node_la(s, mid) > la)
      lo = mid;
    else
      hi = mid;
  }
  double a = node_la(s, lo), b = node_la(s, hi);
  double f = (a - la) / (a - b);
  return ((double)lo + f) / (double)s->N;
}
