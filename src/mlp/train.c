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
 * draws every minibatch in row order (data point, step, noise), one
 * minibatch after the other, one thread at a time.  The minibatch is
 * split into fixed chunks of LB_MLP_CHUNK rows, each chunk's gradient
 * goes into its own buffer, and the buffers are summed in chunk order:
 * the result is bit-identical for any number of threads, and for any
 * assignment of the work to them.  OpenBLAS itself runs single-threaded.
 *
 * Threads: a pool of T - 1 POSIX threads for the whole run, and dynamic
 * task claiming instead of a static split and barriers (details above
 * step_ctx).  Each step is two phases of tasks (the chunk gradients; then
 * the next step's minibatch draw and the chunk sum, Adam and EMA over
 * blocks of parameters); every thread claims tasks until none remain, and
 * thread 0 waits only for tasks still running, never for a thread to
 * arrive.  A descheduled partner (a shared host, another process on the
 * core) therefore costs at most the one task it holds (a chunk gradient:
 * about 1 ms at width 128 with OpenBLAS's SkylakeX kernel on an idle
 * core, 2-3 times that with its Prescott fallback), and an absent one
 * nothing: thread 0 does the work alone.  The barrier pool
 * this replaces made thread 0 wait for its partner's fixed share twice a
 * step, and gave 2 threads / 1 thread = 0.76 in one of two idle runs on
 * this 2-vCPU guest.  Not OpenMP: libgomp's default barrier spins, and on
 * a shared machine a spinning thread holds the core its descheduled
 * partner needs; here an idle thread spins at most WAIT_SPIN_NS (30 us),
 * then sleeps on a (Linux) futex.  Measurements: README, "Noise-prediction
 * MLP".
 *
 * Cost per step: about 6 nparams B flops in dgemm, plus B (d + 1) random
 * draws and B width depth exponentials.
 */
#include <gsl/gsl_randist.h>
#include <limits.h>
#include <math.h>
#include <linux/futex.h>
#include <omp.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
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

/* A step is two phases, each a list of tasks: the gradients of the
 * minibatch chunks (chunk k into its own cgrad + k P), then the update
 * over blocks of UPDATE_BLOCK parameters (per block the chunk gradients
 * summed in chunk order, Adam, EMA; elementwise).  Phase g (g = 1, 2, ...
 * counted over the run: odd g the gradients of step (g - 1) / 2, even g
 * its update) is published by thread 0 as the word claim = g << 32 | 0;
 * any thread takes task i by a compare-and-swap of g << 32 | i to g << 32
 * | (i + 1), so a thread that read the word of an earlier phase fails its
 * swap and can never run a task of another phase.  Every thread, thread 0
 * included, claims tasks until none remain; thread 0 then waits for the
 * tasks still running (the counter `done`), not for the other threads: a
 * descheduled or absent worker costs at most the task it holds.  Each task
 * writes only its own outputs and reads nothing another task of its phase
 * writes, so the bits do not depend on who ran what.  Idle threads spin
 * for WAIT_SPIN_NS, then sleep on a futex (the machine may be shared: a
 * spinning thread holds the core a descheduled partner needs).
 *
 * The update phase of step t has one more task, its first: the draw of
 * step t + 1's minibatch (into the other of two buffers), so that the
 * serial draw overlaps the update; the stream is used by one task at a
 * time, in step order, whichever thread runs it.
 *
 * Memory order: thread 0 writes a phase's step, lr and decay before its
 * release store of claim, and a worker's successful swap (acquire) sees
 * them and every output of the phases before.  A worker's fetch-add of
 * done (release) publishes its task's outputs to thread 0's acquire load,
 * and thread 0 publishes the next phase only after every task of this one
 * is done.  The phase number wraps after 2^32 phases (2^31 steps); a stale
 * swap could only succeed if a thread slept through all of them. */
#define UPDATE_BLOCK 4096
#define WAIT_SPIN_NS 30000

typedef struct {
  const lb_mlp_arch *a;
  size_t P, d, B, nch, nblk, wsz;
  double *theta, *m, *v, *g, *ema, *cgrad, *closs, *work;
  double *cx[2], *ctg[2], *cem[2]; /* the minibatch of step t in [t & 1] */
  double scale;
  /* the minibatch draws (one task at a time) */
  lb_data *data;
  gsl_rng *r;
  const lb_schedule *sc;
  const double *table; /* the step embeddings */
  double *x0;
  long steps;
  /* the live phase's step, learning rate and EMA decay (thread 0 writes
   * them before publishing the phase) */
  long t;
  double lr, decay;
  _Alignas(64) _Atomic uint64_t claim; /* phase << 32 | next task */
  _Alignas(64) _Atomic uint32_t phase; /* futex word of idle workers */
  _Atomic uint32_t sleepers;           /* workers asleep on phase */
  _Atomic int stop;
  _Alignas(64) _Atomic uint32_t done;  /* tasks finished, over the run */
  _Atomic uint32_t waiting;            /* thread 0 asleep on done */
} step_ctx;

static void futex_wait(_Atomic uint32_t *w, uint32_t val) {
  syscall(SYS_futex, (uint32_t *)w, FUTEX_WAIT_PRIVATE, val, NULL, NULL, 0);
}

static void futex_wake(_Atomic uint32_t *w) {
  syscall(SYS_futex, (uint32_t *)w, FUTEX_WAKE_PRIVATE, INT_MAX, NULL, NULL,
          0);
}

static void cpu_relax(void) {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#endif
}

static double now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return 1e9 * (double)ts.tv_sec + (double)ts.tv_nsec;
}

/* Tasks of a phase: the gradient chunks; the draw of the next minibatch
 * (task 0; none after the last step) and the update blocks. */
static uint32_t ntasks(const step_ctx *c, uint32_t phase) {
  return (phase & 1) ? (uint32_t)c->nch : 1 + (uint32_t)c->nblk;
}

/* The minibatch of step t, drawn in row order (data point, step, noise)
 * from the one stream, whichever thread runs the task: into the chunk
 * buffers [t & 1], while the update of step t - 1 runs. */
static void draw_batch(step_ctx *c, long t) {
  size_t B = c->B, d = c->d, nch = c->nch, CH = LB_MLP_CHUNK;
  size_t N = (size_t)c->sc->N, par = (size_t)(t & 1);
  lb_data_draw(c->data, c->r, B, c->x0);
  for (size_t b = 0; b < B; b++) {
    size_t k = b / CH, rr = b % CH, nb = k + 1 < nch ? CH : B - k * CH;
    size_t s = 1 + gsl_rng_uniform_int(c->r, N);
    double sa = sqrt(c->sc->abar[s]), sb = sqrt(1.0 - c->sc->abar[s]);
    double *X = c->cx[par] + k * CH * d, *T = c->ctg[par] + k * CH * d;
    double *E = c->cem[par] + k * CH * LB_MLP_EMB;
    for (size_t i = 0; i < d; i++) {
      double z = gsl_ran_gaussian_ziggurat(c->r, 1.0);
      X[i * nb + rr] = sa * c->x0[b * d + i] + sb * z;
      T[i * nb + rr] = z;
    }
    for (size_t j = 0; j < LB_MLP_EMB; j++)
      E[j * nb + rr] = c->table[s * LB_MLP_EMB + j];
  }
}

/* Task i of `phase` with thread `id`'s work buffer. */
static void run_task(step_ctx *c, uint32_t phase, size_t i, int id) {
  size_t P = c->P;
  if (phase & 1) {
    size_t CH = LB_MLP_CHUNK, d = c->d, par = (size_t)(c->t & 1);
    size_t nb = i + 1 < c->nch ? CH : c->B - i * CH;
    c->closs[i] = lb_mlp_loss_grad(
        c->a, c->theta, nb, c->cx[par] + i * CH * d,
        c->cem[par] + i * CH * LB_MLP_EMB, c->ctg[par] + i * CH * d,
        c->cgrad + i * P, c->work + (size_t)id * c->wsz);
  } else if (i == 0) {
    if (c->t + 1 < c->steps) draw_batch(c, c->t + 1);
  } else {
    i--;
    size_t k0 = i * UPDATE_BLOCK;
    size_t k1 = k0 + UPDATE_BLOCK < P ? k0 + UPDATE_BLOCK : P;
    for (size_t k = k0; k < k1; k++) {
      double sum = c->cgrad[k];
      for (size_t ch = 1; ch < c->nch; ch++) sum += c->cgrad[ch * P + k];
      c->g[k] = sum * c->scale;
    }
    lb_adam_step(k1 - k0, c->theta + k0, c->m + k0, c->v + k0, c->g + k0,
                 c->lr, 0.9, 0.999, 1e-8, c->t + 1);
    lb_ema_update(k1 - k0, c->ema + k0, c->theta + k0, c->decay);
  }
}

/* Claim and run tasks of the phase in word w (as last loaded) until none
 * remain; the number run. */
static uint32_t claim_tasks(step_ctx *c, uint64_t w, int id) {
  uint32_t ph = (uint32_t)(w >> 32), n = ntasks(c, ph), ran = 0;
  while ((uint32_t)w < n && (uint32_t)(w >> 32) == ph) {
    if (atomic_compare_exchange_weak_explicit(&c->claim, &w, w + 1,
                                              memory_order_acquire,
                                              memory_order_acquire)) {
      run_task(c, ph, (uint32_t)w, id);
      ran++;
      if (id != 0) {
        atomic_fetch_add_explicit(&c->done, 1, memory_order_seq_cst);
        if (atomic_load_explicit(&c->waiting, memory_order_seq_cst))
          futex_wake(&c->done);
      }
      w = atomic_load_explicit(&c->claim, memory_order_acquire);
    }
  }
  return ran;
}

/* Thread 0: publish `phase` from task `first` on (UINT32_MAX: none, the
 * stop) and wake idle workers. */
static void publish(step_ctx *c, uint32_t phase, uint32_t first) {
  atomic_store_explicit(&c->claim, (uint64_t)phase << 32 | first,
                        memory_order_release);
  atomic_store_explicit(&c->phase, phase, memory_order_seq_cst);
  if (atomic_load_explicit(&c->sleepers, memory_order_seq_cst))
    futex_wake(&c->phase);
}

/* Thread 0: wait until done == target (the phase's tasks run elsewhere). */
static void wait_done(step_ctx *c, uint32_t target) {
  if (atomic_load_explicit(&c->done, memory_order_acquire) == target) return;
  double t0 = now_ns();
  while (now_ns() - t0 < WAIT_SPIN_NS) {
    for (int k = 0; k < 32; k++) cpu_relax();
    if (atomic_load_explicit(&c->done, memory_order_acquire) == target) return;
  }
  atomic_store_explicit(&c->waiting, 1, memory_order_seq_cst);
  uint32_t v;
  while ((v = atomic_load_explicit(&c->done, memory_order_seq_cst)) != target)
    futex_wait(&c->done, v);
  atomic_store_explicit(&c->waiting, 0, memory_order_relaxed);
}

typedef struct {
  step_ctx *c;
  int id;
} worker_arg;

/* Threads 1..nth-1: claim tasks of the live phase; when there are none,
 * spin briefly, then sleep until thread 0 publishes another. */
static void *worker(void *p) {
  worker_arg *wa = p;
  step_ctx *c = wa->c;
  for (;;) {
    if (atomic_load_explicit(&c->stop, memory_order_acquire)) break;
    uint64_t w = atomic_load_explicit(&c->claim, memory_order_acquire);
    claim_tasks(c, w, wa->id);
    uint32_t ph = (uint32_t)(w >> 32);
    /* nothing left in phase ph: wait for the next one */
    double t0 = now_ns();
    int asleep = 0;
    while (atomic_load_explicit(&c->phase, memory_order_seq_cst) == ph &&
           (uint32_t)(atomic_load_explicit(&c->claim, memory_order_acquire) >>
                      32) == ph) {
      if (!asleep && now_ns() - t0 < WAIT_SPIN_NS) {
        for (int k = 0; k < 32; k++) cpu_relax();
        continue;
      }
      if (!asleep) {
        atomic_fetch_add_explicit(&c->sleepers, 1, memory_order_seq_cst);
        asleep = 1;
        continue; /* check the phase again before sleeping */
      }
      futex_wait(&c->phase, ph);
    }
    if (asleep) atomic_fetch_sub_explicit(&c->sleepers, 1, memory_order_relaxed);
  }
  return NULL;
}

/* Thread 0: run `phase` to completion with whichever workers come. */
static void run_phase(step_ctx *c, uint32_t phase, uint32_t *target) {
  publish(c, phase, 0);
  uint32_t n = ntasks(c, phase);
  uint32_t mine = claim_tasks(
      c, atomic_load_explicit(&c->claim, memory_order_acquire), 0);
  *target += n - mine;
  wait_done(c, *target);
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
  double *cx[2], *ctg[2], *cem[2];
  for (int k = 0; k < 2; k++) {
    cx[k] = malloc(nch * CH * d * sizeof *cx[k]);
    ctg[k] = malloc(nch * CH * d * sizeof *ctg[k]);
    cem[k] = malloc(nch * CH * LB_MLP_EMB * sizeof *cem[k]);
  }
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

  step_ctx cx_ = {.a = a, .P = P, .d = d, .B = B, .nch = nch,
                  .nblk = (P + UPDATE_BLOCK - 1) / UPDATE_BLOCK, .wsz = wsz,
                  .theta = theta, .m = m, .v = v, .g = g, .ema = ema,
                  .cgrad = cgrad, .closs = closs, .work = work,
                  .cx = {cx[0], cx[1]}, .ctg = {ctg[0], ctg[1]},
                  .cem = {cem[0], cem[1]}, .scale = scale, .data = data,
                  .r = r, .sc = sc, .table = table, .x0 = x0,
                  .steps = o->steps, .claim = UINT32_MAX /* phase 0: none */};
  pthread_t *tid = malloc((size_t)nth * sizeof *tid);
  worker_arg *wa = malloc((size_t)nth * sizeof *wa);
  int started = 1; /* threads running, this one included */
  for (int k = 1; k < nth; k++) {
    wa[k] = (worker_arg){&cx_, k};
    /* a thread that cannot be created is a thread less, nothing more: no
     * phase waits for a given thread */
    if (pthread_create(&tid[k], NULL, worker, &wa[k])) break;
    started++;
  }

  uint32_t phase = 0, target = 0;
  draw_batch(&cx_, 0); /* step 0's minibatch */
  for (long t = 0; t < o->steps; t++) {
    /* the step on the pool: gradients per chunk, then the update and
     * step t + 1's minibatch */
    cx_.t = t;
    cx_.lr = lr_at(o, t);
    /* EMA with warm-up: decay min(E, (1 + t) / (10 + t)), so that short
     * runs do not keep the random initialisation */
    cx_.decay = fmin(o->ema, (1.0 + (double)t) / (10.0 + (double)t));
    run_phase(&cx_, ++phase, &target);
    double loss = 0;
    for (size_t k = 0; k < nch; k++) loss += closs[k];
    loss *= scale;
    run_phase(&cx_, ++phase, &target);
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
  atomic_store_explicit(&cx_.stop, 1, memory_order_release);
  publish(&cx_, ++phase, UINT32_MAX);
  for (int k = 1; k < started; k++) pthread_join(tid[k], NULL);
  free(tid), free(wa);

  gsl_rng_free(r);
  free(theta), free(m), free(v), free(g), free(cgrad), free(closs);
  for (int k = 0; k < 2; k++) free(cx[k]), free(ctg[k]), free(cem[k]);
  free(work), free(x0), free(table);
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
