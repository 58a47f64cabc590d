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
 * Threads: a pool of T - 1 POSIX threads for the whole run, two blocking
 * barriers per step (gradients of the chunks; then the chunk sum, Adam
 * and EMA over blocks of the parameters).  Not OpenMP: libgomp's default
 * barrier spins, and on a shared machine a spinning thread holds the core
 * its descheduled partner needs; measured at a load average of 8 on 2
 * cores, 2 threads at batch 256 trained at 6-11 000 samples/s with
 * OpenMP's default wait policy and 94-139 000 with OMP_WAIT_POLICY=passive,
 * which a library cannot set for its caller.  A blocking barrier costs a
 * futex wake (microseconds) on a quiet machine.
 *
 * Cost per step: about 6 nparams B flops in dgemm, plus B (d + 1) random
 * draws and B width depth exponentials.
 */
#include <gsl/gsl_randist.h>
#include <math.h>
#include <omp.h>
#include <pthread.h>
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

/* ---- the step's parallel work ------------------------------------------ */

typedef struct {
  const lb_mlp_arch *a;
  size_t P, d, B, nch, wsz;
  int nth;
  double *theta, *m, *v, *g, *ema, *cgrad, *closs, *cx, *ctg, *cem, *work;
  /* the step's learning rate and EMA decay, set by thread 0 before the
   * step's first barrier into slot t & 1: the other threads may still be
   * finishing step t - 1's update, which reads slot (t - 1) & 1 */
  double lr[2], decay[2], scale;
  int stop;
  pthread_barrier_t bar;
} step_ctx;

/* Thread `id`'s share of the gradients: chunks id, id + nth, ... */
static void grad_part(step_ctx *c, int id) {
  size_t CH = LB_MLP_CHUNK, P = c->P, d = c->d;
  double *w = c->work + (size_t)id * c->wsz;
  for (size_t k = (size_t)id; k < c->nch; k += (size_t)c->nth) {
    size_t nb = k + 1 < c->nch ? CH : c->B - k * CH;
    c->closs[k] = lb_mlp_loss_grad(c->a, c->theta, nb, c->cx + k * CH * d,
                                   c->cem + k * CH * LB_MLP_EMB,
                                   c->ctg + k * CH * d, c->cgrad + k * P, w);
  }
}

/* Thread `id`'s share of the update: blocks id, id + nth, ... of 4096
 * parameters; per block the chunk gradients summed in chunk order, then
 * Adam and EMA, elementwise (any split gives the same bits). */
static void update_part(step_ctx *c, int id, long t) {
  const size_t blk = 4096;
  double lr = c->lr[t & 1], decay = c->decay[t & 1];
  size_t P = c->P;
  for (size_t k0 = (size_t)id * blk; k0 < P; k0 += (size_t)c->nth * blk) {
    size_t k1 = k0 + blk < P ? k0 + blk : P;
    for (size_t k = k0; k < k1; k++) {
      double sum = c->cgrad[k];
      for (size_t ch = 1; ch < c->nch; ch++) sum += c->cgrad[ch * P + k];
      c->g[k] = sum * c->scale;
    }
    lb_adam_step(k1 - k0, c->theta + k0, c->m + k0, c->v + k0, c->g + k0,
                 lr, 0.9, 0.999, 1e-8, t + 1);
    lb_ema_update(k1 - k0, c->ema + k0, c->theta + k0, decay);
  }
}

typedef struct {
  step_ctx *c;
  int id;
} worker_arg;

/* Threads 1..nth-1: wait for a step, do their shares, until stop. */
static void *worker(void *p) {
  worker_arg *wa = p;
  step_ctx *c = wa->c;
  for (long t = 0;; t++) {
    pthread_barrier_wait(&c->bar); /* step ready (or stop) */
    if (c->stop) break;
    grad_part(c, wa->id);
    pthread_barrier_wait(&c->bar); /* all gradients done */
    update_part(c, wa->id, t);
  }
  return NULL;
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

  step_ctx cx_ = {.a = a, .P = P, .d = d, .B = B, .nch = nch, .wsz = wsz,
                  .nth = nth, .theta = theta, .m = m, .v = v, .g = g,
                  .ema = ema, .cgrad = cgrad, .closs = closs, .cx = cx,
                  .ctg = ctg, .cem = cem, .work = work, .scale = scale};
  pthread_t *tid = malloc((size_t)nth * sizeof *tid);
  worker_arg *wa = malloc((size_t)nth * sizeof *wa);
  if (nth > 1) {
    pthread_barrier_init(&cx_.bar, NULL, (unsigned)nth);
    for (int k = 1; k < nth; k++) {
      wa[k] = (worker_arg){&cx_, k};
      if (pthread_create(&tid[k], NULL, worker, &wa[k])) {
        /* the barrier counts on every thread: no way back */
        fprintf(stderr, "langbench: cannot create training thread %d of %d\n",
                k + 1, nth);
        exit(LB_ERUNTIME);
      }
    }
  }

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
    /* the step on the pool: gradients per chunk, then the update */
    cx_.lr[t & 1] = lr_at(o, t);
    /* EMA with warm-up: decay min(E, (1 + t) / (10 + t)), so that short
     * runs do not keep the random initialisation */
    cx_.decay[t & 1] = fmin(o->ema, (1.0 + (double)t) / (10.0 + (double)t));
    if (nth > 1) pthread_barrier_wait(&cx_.bar);
    grad_part(&cx_, 0);
    if (nth > 1) pthread_barrier_wait(&cx_.bar);
    double loss = 0;
    for (size_t c = 0; c < nch; c++) loss += closs[c];
    loss *= scale;
    update_part(&cx_, 0, t);
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
  if (nth > 1) {
    cx_.stop = 1;
    pthread_barrier_wait(&cx_.bar);
    for (int k = 1; k < nth; k++) pthread_join(tid[k], NULL);
    pthread_barrier_destroy(&cx_.bar);
  }
  free(tid), free(wa);

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
