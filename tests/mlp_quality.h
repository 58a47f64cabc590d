/* mlp_quality.h -- shared by tests/test_mlp.c and tests/bench_mlp.c: a
 * minimal 1000-step ancestral DDPM sampler over an lb_model, and the
 * sample-quality measures that resolve the moons data set.
 * GPL-3.0-or-later.
 *
 * The sampler is diffusion.md section 2's V2 (Ho et al. with the
 * posterior variance) on the full chain:
 *     x_{s-1} = a x_s + c eps_theta(x_s, s) + sigma z,
 *     sigma^2 = beta_s (1 - abar_{s-1}) / (1 - abar_s),
 *     a = sqrt(abar_{s-1} / abar_s),
 *     c = sqrt(1 - abar_{s-1} - sigma^2) - sqrt(abar_{s-1} (1 - abar_s) / abar_s),
 * from x_N ~ N(0, I); sigma = 0 on the last step (abar_0 = 1).  It is
 * here only until src/diffusion/ provides the full sampler set.
 *
 * Measures, each reported with its data-vs-data floor (two independent
 * data samples of the same size):
 *   mmd_q    unbiased MMD^2 with a Gaussian kernel of a QUARTER of the
 *            median inter-point distance of the reference data (the
 *            median heuristic itself is nearly blind on moons);
 *   far      fraction of samples farther than 0.5 from the noiseless
 *            moons curve (2.5 standard deviations of the data's noise;
 *            lb_moons_far_fraction, src/mlp/data.c);
 *   hist_kl  KL(data || model) of 2-D histograms on a 48 x 32 grid over
 *            [-3.6, 3.6] x [-2, 2.8] with half a count added to every bin.
 * Static functions: each including file uses what it needs.
 */
#ifndef LB_MLP_QUALITY_H
#define LB_MLP_QUALITY_H

#include <gsl/gsl_randist.h>
#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

#include "metrics.h"
#include "mlp.h"
#include "model.h"
#include "rng.h"

/* n samples into out[r * dim + i]; rows in blocks of 512, block b draws
 * its noise from stream (seed, b): the result does not depend on threads. */
static void q_ddpm_sample(const lb_model *m, size_t n, uint64_t seed,
                          int threads, double *out) {
  const size_t BL = 512, d = m->dim;
  const lb_schedule *sc = &m->sched;
  size_t nb = (n + BL - 1) / BL;
#pragma omp parallel for num_threads(threads) schedule(dynamic)
  for (size_t b = 0; b < nb; b++) {
    size_t B = b + 1 < nb ? BL : n - b * BL;
    double *x = malloc(d * B * sizeof *x), *eps = malloc(d * B * sizeof *eps);
    double *s = malloc(B * sizeof *s);
    double *work = malloc(m->type->work_size(m, B) * sizeof *work);
    gsl_rng *r = lb_rng_alloc();
    lb_rng_seed(r, seed, b, 0);
    for (size_t k = 0; k < d * B; k++) x[k] = gsl_ran_gaussian_ziggurat(r, 1.0);
    for (int t = sc->N; t >= 1; t--) {
      for (size_t k = 0; k < B; k++) s[k] = t;
      m->type->eval(m, B, B, x, s, eps, work);
      double as = sc->abar[t], ap = sc->abar[t - 1];
      double s2 = t > 1 ? sc->beta[t] * (1 - ap) / (1 - as) : 0.0;
      double a = sqrt(ap / as);
      double c = sqrt(fmax(1 - ap - s2, 0.0)) - sqrt(ap * (1 - as) / as);
      double sg = sqrt(s2);
      for (size_t k = 0; k < d * B; k++) {
        x[k] = a * x[k] + c * eps[k];
        if (t > 1) x[k] += sg * gsl_ran_gaussian_ziggurat(r, 1.0);
      }
    }
    for (size_t k = 0; k < B; k++)
      for (size_t i = 0; i < d; i++) out[(b * BL + k) * d + i] = x[i * B + k];
    gsl_rng_free(r);
    free(x), free(eps), free(s), free(work);
  }
}

/* ---- moons measures -------------------------------------------------------- */


#define QH_NX 48
#define QH_NY 32
static void q_hist(const double *x, size_t n, double *h) {
  for (int k = 0; k < QH_NX * QH_NY; k++) h[k] = 0.5; /* half a count */
  for (size_t i = 0; i < n; i++) {
    int a = (int)floor((x[2 * i] + 3.6) / 7.2 * QH_NX);
    int b = (int)floor((x[2 * i + 1] + 2.0) / 4.8 * QH_NY);
    a = a < 0 ? 0 : a >= QH_NX ? QH_NX - 1 : a; /* edges collect the tails */
    b = b < 0 ? 0 : b >= QH_NY ? QH_NY - 1 : b;
    h[a * QH_NY + b] += 1.0;
  }
  double tot = 0;
  for (int k = 0; k < QH_NX * QH_NY; k++) tot += h[k];
  for (int k = 0; k < QH_NX * QH_NY; k++) h[k] /= tot;
}

/* KL(data || model) of the smoothed histograms. */
static double q_hist_kl(const double *model, size_t n, const double *data,
                        size_t m) {
  static double hp[QH_NX * QH_NY], hq[QH_NX * QH_NY];
  q_hist(data, m, hp);
  q_hist(model, n, hq);
  double kl = 0;
  for (int k = 0; k < QH_NX * QH_NY; k++) kl += hp[k] * log(hp[k] / hq[k]);
  return kl;
}

typedef struct {
  double mmd_q, far, hist_kl;
} q_measures;

/* The three measures of x [n x 2] against the reference data y [m x 2]. */
static q_measures q_measure(const double *x, size_t n, const double *y,
                            size_t m) {
  q_measures q;
  double sigma = lb_median_distance(y, m, 2) / 4.0;
  q.mmd_q = lb_mmd2_unbiased(x, n, y, m, 2, sigma);
  q.far = lb_moons_far_fraction(x, n);
  q.hist_kl = q_hist_kl(x, n, y, m);
  return q;
}

#endif
