/* bench_mlp.c -- the noise-prediction MLP (make bench, issue 11).
 * GPL-3.0-or-later.
 *
 *   training throughput (samples/s: forward, backward, Adam, EMA) at
 *     batch 256 and 1024 on 1 and 2 threads, best of 2 runs of 40 steps;
 *   network evaluations per second on a block of 10 000 rows (the
 *     sampling workload), 1 and 2 threads, best of 3;
 *   wall time of each shipped default model (train_seconds recorded by
 *     `make models` in targets/models/NAME.h5);
 *   mode weights (chi^2) of the shipped 8gaussians and ring8 models;
 *   sample quality of the shipped moons model with the minimal 1000-step
 *     DDPM sampler of mlp_quality.h, against the data-vs-data floor and
 *     an undertrained model (300 steps at batch 256).
 * PyTorch 1.13 on this machine (issue 11): 55 000-80 000 samples/s on one
 * thread at batch 1024, 260 000 rows/s in sampling. */
#include <stdio.h>
#include <stdlib.h>

#include "bench.h"
#include "io.h"
#include "mlp.h"
#include "mlp_quality.h"
#include "target.h"

static double train_rate(long batch, int threads) {
  double best = 0;
  for (int rep = 0; rep < 2; rep++) {
    lb_train_opts o = {.data = "moons", .schedule = "paper", .steps = 40,
                       .batch = batch, .width = 128, .depth = 3, .lr = 1e-3,
                       .warmup = 0.0, .ema = 0.999, .seed = 1,
                       .threads = threads, .progress = 0};
    lb_mlp_file f;
    lb_err e;
    if (lb_mlp_train(&o, &f, &e)) {
      fprintf(stderr, "bench: %s\n", e.msg);
      return 0;
    }
    double rate = (double)o.steps * (double)batch / f.train_seconds;
    if (rate > best) best = rate;
    lb_mlp_file_clear(&f);
  }
  return best;
}

/* rows/s of eval on n rows split over `threads` blocks, best of 3. */
static double eval_rate(const lb_model *m, size_t n, int threads) {
  size_t d = m->dim, per = (n + (size_t)threads - 1) / (size_t)threads;
  double *x = malloc(d * n * sizeof *x), *eps = malloc(d * n * sizeof *eps);
  double *s = malloc(n * sizeof *s);
  for (size_t k = 0; k < d * n; k++) x[k] = (double)(k % 17) / 8.0 - 1.0;
  for (size_t k = 0; k < n; k++) s[k] = (double)(1 + k % 1000);
  double best = 1e300;
  for (int rep = 0; rep < 3; rep++) {
    double t0 = bench_now();
#pragma omp parallel num_threads(threads)
    {
      size_t t = (size_t)omp_get_thread_num(), r0 = t * per;
      size_t nb = r0 < n ? (n - r0 < per ? n - r0 : per) : 0;
      double *xs = malloc(d * nb * sizeof *xs), *es = malloc(d * nb * sizeof *es);
      double *w = malloc(m->type->work_size(m, nb) * sizeof *w);
      for (size_t i = 0; i < d; i++)
        for (size_t r = 0; r < nb; r++) xs[i * nb + r] = x[i * n + r0 + r];
#pragma omp barrier
      if (nb) m->type->eval(m, nb, nb, xs, s + r0, es, w);
      free(xs), free(es), free(w);
    }
    double dt = bench_now() - t0;
    if (dt < best) best = dt;
  }
  free(x), free(eps), free(s);
  return (double)n / best;
}

static void quality_row(const char *name, const double *x, size_t n,
                        size_t reps, const double *ref, size_t m) {
  double v[3][16] = {{0}};
  for (size_t k = 0; k < reps; k++) {
    q_measures q = q_measure(x + 2 * k * n, n, ref, m);
    v[0][k] = q.mmd_q, v[1][k] = q.far, v[2][k] = q.hist_kl;
  }
  printf("  %-26s", name);
  for (int j = 0; j < 3; j++) {
    double mean = 0, s2 = 0;
    for (size_t k = 0; k < reps; k++) mean += v[j][k];
    mean /= (double)reps;
    for (size_t k = 0; k < reps; k++) s2 += (v[j][k] - mean) * (v[j][k] - mean);
    double se = sqrt(s2 / (double)(reps - 1) / (double)reps);
    printf("  %9.5f +- %7.5f", mean, se);
  }
  printf("\n");
}

/* Mode weights of a model's samples: Pearson's chi^2 against the exact
 * weights (chi^2 with modes - 1 degrees of freedom when the model is
 * right: mean df, sd sqrt(2 df)), and the mean squared distance to the
 * assigned centre.  8gaussians: centres 2 sqrt 2 (cos(k pi/4), sin(k
 * pi/4)), exact E|x - c|^2 = 2 (0.5^2 / 2) = 0.25; ring8: the target's
 * mode_of and exact weights. */
static void modes_row(const char *name, const lb_model *m, int is_ring8,
                      size_t n) {
  lb_err e;
  lb_target *t = NULL;
  if (is_ring8 && lb_target_alloc("gmm:preset=ring8", &t, &e)) return;
  size_t K = is_ring8 ? t->n_modes : 8;
  double *x = malloc(2 * n * sizeof *x), cnt[64] = {0}, d2 = 0, d4 = 0;
  q_ddpm_sample(m, n, 9, 2, x);
  for (size_t i = 0; i < n; i++) {
    size_t k;
    if (is_ring8) {
      k = t->type->mode_of(t->state, x + 2 * i);
    } else {
      double a = atan2(x[2 * i + 1], x[2 * i]) / (M_PI / 4);
      k = (size_t)(((long)floor(a + 0.5) % 8 + 8) % 8);
      double cx = 2 * M_SQRT2 * cos((double)k * M_PI / 4);
      double cy = 2 * M_SQRT2 * sin((double)k * M_PI / 4);
      double r2 = (x[2 * i] - cx) * (x[2 * i] - cx) +
                  (x[2 * i + 1] - cy) * (x[2 * i + 1] - cy);
      d2 += r2;
      d4 += r2 * r2;
    }
    cnt[k] += 1;
  }
  double chi2 = 0;
  for (size_t k = 0; k < K; k++) {
    double ex = (double)n * (is_ring8 ? t->mode_weight[k] : 1.0 / 8);
    chi2 += (cnt[k] - ex) * (cnt[k] - ex) / ex;
  }
  printf("  %-11s %zu samples: mode chi^2 %.1f (df %zu, sd %.1f)", name, n,
         chi2, K - 1, sqrt(2.0 * (double)(K - 1)));
  if (!is_ring8) {
    double mean = d2 / (double)n, var = d4 / (double)n - mean * mean;
    printf(", E|x - centre|^2 %.4f +- %.4f (exact 0.25)", mean,
           sqrt(var / (double)n));
  }
  printf("\n");
  free(x);
  lb_target_free(t);
}

void bench_mlp(void) {
  lb_io_quiet();
  printf("noise-prediction MLP (width 128, depth 3, 2-d data, 37 762 "
         "parameters)\n");
  printf("  training samples/s          1 thread     2 threads   2/1\n");
  long batches[2] = {256, 1024};
  for (int b = 0; b < 2; b++) {
    double r1 = train_rate(batches[b], 1), r2 = train_rate(batches[b], 2);
    printf("    batch %-5ld             %10.4g   %10.4g   %.2f\n", batches[b],
           r1, r2, r2 / r1);
  }
  printf("    (PyTorch 1.13, 1 thread, batch 1024: 55 000-80 000)\n");

  lb_model *m = NULL;
  lb_err e;
  if (lb_mlp_model_load("targets/models/moons.h5", &m, &e)) {
    printf("  %s: skipping evaluation and quality (run make models)\n\n",
           e.msg);
    return;
  }
  double e1 = eval_rate(m, 10000, 1), e2 = eval_rate(m, 10000, 2);
  printf("  evaluations/s, block of 10 000 rows: %.4g (1 thread), %.4g (2 "
         "threads), 2/1 %.2f\n", e1, e2, e2 / e1);
  printf("    (PyTorch 1.13: about 260 000 rows/s; ratio 1 thread %.2f)\n",
         e1 / 2.6e5);

  const char *names[] = {"moons", "8gaussians", "ring8"};
  printf("  wall time of the default models (make models, 2 threads):\n");
  for (int k = 0; k < 3; k++) {
    char p[256];
    snprintf(p, sizeof p, "targets/models/%s.h5", names[k]);
    lb_mlp_file f;
    if (lb_mlp_file_read(p, &f, &e) == 0) {
      printf("    %-12s %6.1f s  (%ld steps x %ld, final loss %.4f)\n",
             names[k], f.train_seconds, f.steps, f.batch,
             f.nloss ? f.loss[f.nloss - 1] : 0.0);
      lb_mlp_file_clear(&f);
    } else {
      printf("    %s\n", e.msg);
    }
  }

  /* mode weights of the two mixture models */
  const char *mix[2] = {"8gaussians", "ring8"};
  printf("  mixture models, 1000-step DDPM (V2):\n");
  for (int k = 0; k < 2; k++) {
    char p[256];
    snprintf(p, sizeof p, "targets/models/%s.h5", mix[k]);
    lb_model *mm;
    if (lb_mlp_model_load(p, &mm, &e) == 0) {
      modes_row(mix[k], mm, k == 1, 2000);
      lb_model_free(mm);
    }
  }

  /* quality on moons: 5 replicates of n = 1000 against one reference
   * sample of 5000 data points */
  size_t n = 1000, reps = 5, mref = 5000;
  double *x = malloc(2 * n * reps * sizeof *x), *ref = malloc(2 * mref * sizeof *ref);
  lb_data *d;
  lb_data_alloc("moons", "--data", &d, &e);
  gsl_rng *r = lb_rng_alloc();
  lb_rng_seed(r, 1000, 0, 0);
  lb_data_draw(d, r, mref, ref);
  printf("  moons quality, 1000-step DDPM (V2), %zu x %zu samples vs %zu "
         "data:\n", reps, n, mref);
  printf("  %-26s  %20s  %20s  %20s\n", "", "MMD^2 (median/4)",
         "far from arcs", "hist KL");
  lb_rng_seed(r, 1001, 0, 0);
  lb_data_draw(d, r, n * reps, x);
  quality_row("data (floor)", x, n, reps, ref, mref);
  double t0 = bench_now();
  q_ddpm_sample(m, n * reps, 7, 2, x);
  double dt = bench_now() - t0;
  quality_row("shipped moons model", x, n, reps, ref, mref);
  lb_train_opts o = {.data = "moons", .schedule = "paper", .steps = 300,
                     .batch = 256, .width = 128, .depth = 3, .lr = 3e-3,
                     .warmup = 0.02, .ema = 0.99, .seed = 1, .threads = 2,
                     .progress = 0};
  lb_mlp_file f;
  lb_model *poor = NULL;
  if (lb_mlp_train(&o, &f, &e) == 0 &&
      lb_mlp_model_from(&f.arch, &f.sched, f.ema, "poor", &poor, &e) == 0) {
    q_ddpm_sample(poor, n * reps, 7, 2, x);
    quality_row("300-step model (poor)", x, n, reps, ref, mref);
    poor->type->free(poor->state);
    free(poor);
    lb_mlp_file_clear(&f);
  }
  printf("  (sampling %zu x 1000 steps on 2 threads: %.1f s)\n\n", n * reps, dt);
  gsl_rng_free(r);
  lb_data_free(d);
  free(x), free(ref);
  m->type->free(m->state);
  free(m);
}
