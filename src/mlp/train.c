/* train.c -- denoising score matching for the noise-prediction MLP
 * (diffusion.md section 1).  GPL-3.0-or-later.
 *
 * One step: draw a minibatch of B data points x0, steps s ~ Unif{1..N}
 * and noise eps ~ N(0, I); form x_s = sqrt(abar_s) x0 + sqrt(1 - abar_s)
 * eps; the loss is the mean over rows and coordinates of
 * (eps_theta(x_s, s) - eps)^2.  Then Adam at the scheduled learning rate
 * (linear warm-up over a fraction of the steps, cosine decay to 0) and the
 * EMA update ema = d ema + (1 - d) theta with d = min(E, (1+t)/(10+t)) at
 * step t = 0, 1, ... (warm-up as TensorFlow's ExponentialMovingAverage
 * with num_updates), started from the initial weights.
 *
 * Randomness: stream (seed, 1) initialises the weights, stream (seed, 0)
 * draws every minibatch in row order (data point, step, noise), all on
 * the calling thread.  Threads split the minibatch into fixed chunks of
 * LB_MLP_CHUNK rows, each chunk's gradient goes into its own buffer, and
 * the buffers are summed in chunk order: the result is bit-identical for
 * any number of threads.  OpenBLAS itself runs single-threaded.
 *
 * Cost per step: about 6 nparams B flops in dgemm, plus B (d + 1) random
 * draws and B width depth exponentials.
 */
#include <gsl/gsl_randist.h>
#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "mlp.h"
#include "rng.h"

void lb_mlp_file_clear(lb_mlp_file *f) {
  free(f->ema);
  free(f->loss);
  memset(f, 0, sizeof *f);
}

/* Learning rate at step t = 0..T-1. */
static double lr_at(const lb_train_opts *o, long t) {
  long T = o->steps, w = (long)(o->warmup * (double)T);
  if (t < w) return o->lr * (double)(t + 1) / (double)w;
  double u = T - w > 1 ? (double)(t - w) / (double)(T - w) : 0.0;
  return o->lr * 0.5 * (1.0 + cos(M_PI * u));
}

static void progress(const lb_train_opts *o, long t, double loss,
                     double elapsed, int final) {
  double frac = (double)t / (double)o->steps;
  double eta = t > 0 ? elapsed * (1.0 - frac) / frac : 0.0;
  if (o->progress == 2) {
    char bar[31];
    int n = (int)(30 * frac);
    for (int k = 0; k < 30; k++) bar[k] = k < n ? '=' : ' ';
    bar[30] = '\0';
    fprintf(stderr, "\rtrain [%s] %3.0f%% step %ld/%ld loss %.4f ETA %.0f s  ",
            bar, 100 * frac, t, o->steps, loss, final ? 0.0 : eta);
    if (final) fputc('\n', stderr);
  } else if (o->progress == 1) {
    fprintf(stderr, "train: step %ld/%ld loss %.4f elapsed %.1f s ETA %.0f s\n",
            t, o->steps, loss, elapsed, eta);
  }
}

int lb_mlp_train(const lb_train_opts *o, lb_mlp_file *out, lb_err *e) {
  memset(out, 0, sizeof *out);
  if (o->steps < 1 || o->batch < 1)
    return lb_fail(e, LB_EINPUT, "--steps and --batch must be >= 1");
  lb_data *data = NULL;
  int rc = lb_data_alloc(o->data, "--data", &data, e);
  if (rc) return rc;
  lb_mlp_arch *a = &out->arch;
  rc = lb_mlp_arch_init(a, lb_data_dim(data), o->width, o->depth, e);
  if (!rc) rc = lb_schedule_init(&out->sched, o->schedule, 1000, e);
  if (rc) {
    lb_data_free(data);
    return rc;
  }
  lb_mlp_blas_serial();
  const lb_schedule *sc = &out->sched;
  size_t P = a->nparams, d = a->dim, B = (size_t)o->batch, N = (size_t)sc->N;
  size_t CH = LB_MLP_CHUNK, nch = (B + CH - 1) / CH;
  int nth = o->threads > 0 ? o->threads : 1;

  double *theta = malloc(P * sizeof *theta), *m = calloc(P, sizeof *m);
  double *v = calloc(P, sizeof *v), *g = malloc(P * sizeof *g);
  double *ema = malloc(P * sizeof *ema);
  double *cgrad = malloc(nch * P * sizeof *cgrad);
  double *closs = malloc(nch * sizeof *closs);
  /* per-chunk inputs, coordinate-major with leading dimension = chunk rows */
  double *cx = malloc(nch * CH * d * sizeof *cx);
  double *ctg = malloc(nch * CH * d * sizeof *ctg);
  double *cem = malloc(nch * CH * LB_MLP_EMB * sizeof *cem);
  size_t wsz = lb_mlp_train_work(a, CH);
  double *work = malloc((size_t)nth * wsz * sizeof *work);
  double *x0 = malloc(B * d * sizeof *x0);
  double *table = malloc((N + 1) * LB_MLP_EMB * sizeof *table);
  for (size_t s = 0; s <= N; s++) lb_mlp_embed((double)s, table + s * LB_MLP_EMB, 1);

  gsl_rng *r = lb_rng_alloc();
  lb_rng_seed(r, o->seed, 1, 0);
  lb_mlp_init_params(a, r, theta);
  memcpy(ema, theta, P * sizeof *ema);
  lb_rng_seed(r, o->seed, 0, 0);

  out->loss_every = o->steps >= 200 ? o->steps / 200 : 1;
  out->nloss = (size_t)((o->steps + out->loss_every - 1) / out->loss_every);
  out->loss = calloc(out->nloss, sizeof *out->loss);
  double t0 = omp_get_wtime(), last = -1, window = 0, shown = 0;
  const double scale = 1.0 / ((double)B * (double)d);

  for (long t = 0; t < o->steps; t++) {
    /* the minibatch, drawn in row order on this thread */
    lb_data_draw(data, r, B, x0);
    for (size_t b = 0; b < B; b++) {
      size_t c = b / CH, rr = b % CH, nb = c + 1 < nch ? CH : B - c * CH;
      size_t s = 1 + gsl_rng_uniform_int(r, N);
      double sa = sqrt(sc->abar[s]), sb = sqrt(1.0 - sc->abar[s]);
      double *X = cx + c * CH * d, *T = ctg + c * CH * d;
      double *E = cem + c * CH * LB_MLP_EMB;
      for (size_t i = 0; i < d; i++) {
        double z = gsl_ran_gaussian_ziggurat(r, 1.0);
        X[i * nb + rr] = sa * x0[b * d + i] + sb * z;
        T[i * nb + rr] = z;
      }
      for (size_t k = 0; k < LB_MLP_EMB; k++)
        E[k * nb + rr] = table[s * LB_MLP_EMB + k];
    }
    /* gradients per chunk, in parallel */
#pragma omp parallel for num_threads(nth) schedule(static)
    for (size_t c = 0; c < nch; c++) {
      size_t nb = c + 1 < nch ? CH : B - c * CH;
      double *w = work + (size_t)omp_get_thread_num() * wsz;
      closs[c] = lb_mlp_loss_grad(a, theta, nb, cx + c * CH * d,
                                  cem + c * CH * LB_MLP_EMB, ctg + c * CH * d,
                                  cgrad + c * P, w);
    }
    double loss = 0;
    for (size_t c = 0; c < nch; c++) loss += closs[c];
    loss *= scale;
    double lr = lr_at(o, t);
    /* EMA with warm-up: decay min(E, (1 + t) / (10 + t)), so that short
     * runs do not keep the random initialisation */
    double decay = fmin(o->ema, (1.0 + (double)t) / (10.0 + (double)t));
    /* sum the chunks in order, then Adam and EMA, elementwise */
    const size_t blk = 4096;
#pragma omp parallel for num_threads(nth) schedule(static)
    for (size_t k0 = 0; k0 < P; k0 += blk) {
      size_t k1 = k0 + blk < P ? k0 + blk : P;
      for (size_t k = k0; k < k1; k++) {
        double sum = cgrad[k];
        for (size_t c = 1; c < nch; c++) sum += cgrad[c * P + k];
        g[k] = sum * scale;
      }
      lb_adam_step(k1 - k0, theta + k0, m + k0, v + k0, g + k0, lr, 0.9,
                   0.999, 1e-8, t + 1);
      lb_ema_update(k1 - k0, ema + k0, theta + k0, decay);
    }
    if (!isfinite(loss)) {
      rc = lb_fail(e, LB_ERUNTIME,
                   "training diverged at step %ld (loss %g): lower --lr", t,
                   loss);
      break;
    }
    window += loss;
    shown = t == 0 ? loss : 0.98 * shown + 0.02 * loss; /* displayed */
    if ((t + 1) % out->loss_every == 0 || t + 1 == o->steps) {
      long k = t / out->loss_every, n = t + 1 - k * out->loss_every;
      out->loss[k] = window / (double)n;
      window = 0;
    }
    double now = omp_get_wtime();
    if (o->progress == 2 && (now - last > 0.2 || t + 1 == o->steps)) {
      progress(o, t + 1, shown, now - t0, t + 1 == o->steps);
      last = now;
    } else if (o->progress == 1 &&
               ((t + 1) % (o->steps >= 10 ? o->steps / 10 : 1) == 0 ||
                t + 1 == o->steps)) {
      progress(o, t + 1, shown, now - t0, 0);
    }
  }
  out->train_seconds = omp_get_wtime() - t0;

  gsl_rng_free(r);
  free(theta), free(m), free(v), free(g), free(cgrad), free(closs);
  free(cx), free(ctg), free(cem), free(work), free(x0), free(table);
  if (rc) {
    free(ema);
    lb_data_free(data);
    lb_mlp_file_clear(out);
    return rc;
  }
  out->ema = ema;
  snprintf(out->data, sizeof out->data, "%s", lb_data_spec(data));
  snprintf(out->lr_schedule, sizeof out->lr_schedule, "cosine");
  snprintf(out->langbench_version, sizeof out->langbench_version, "%s",
           LB_VERSION);
  out->steps = o->steps, out->batch = o->batch, out->seed = (long)o->seed;
  out->threads = nth;
  out->lr = o->lr, out->warmup = o->warmup, out->ema_decay = o->ema;
  lb_data_free(data);
  return LB_OK;
}
