/* mlp.h -- the tiny noise-prediction network eps_theta(x, s) of the DDPM
 * chain (issue 11): architecture, forward and backward passes, Adam, EMA,
 * the training loop and the HDF5 model file.
 *
 * GPL-3.0-or-later.
 *
 * Architecture ("mlp-silu-sinemb"): the step index s is embedded as
 *     emb(s) = [sin(s f_0) .. sin(s f_15), cos(s f_0) .. cos(s f_15)],
 *     f_k = 10000^(-k/16)        (transformer-style, 32 dimensions),
 * CONCATENATED with x (input dimension dim + 32), then `depth` hidden
 * layers of `width` units with SiLU(z) = z sigmoid(z), then a linear
 * output layer of `dim` units: depth + 1 affine layers in all.
 * Concatenation (rather than adding a projected embedding to every layer)
 * keeps the network a plain MLP; the first layer's weights on the 32
 * embedding inputs play the role of the projection.
 *
 * Parameters live in ONE contiguous buffer theta[nparams]; the named views
 * are, for layer l = 0..depth, W_l (out_l x in_l, row-major) at woff[l]
 * followed by b_l (out_l) at boff[l].  The model file stores each view as
 * its own dataset (weights/layer<l>/W, weights/layer<l>/b).
 *
 * Activations are coordinate-major, as the engine's blocks (model.h):
 * A[j * B + r] is unit j of row r, so every layer is one dgemm
 *     Z (out x B) = W (out x in) * H (in x B) + b 1^T
 * and the backward pass is two more:
 *     dW = dZ H^T,  dH = W^T dZ,  db = dZ 1.
 * Cost per row: about 2 nparams flops forward, 4 nparams backward.
 */
#ifndef LB_MLP_H
#define LB_MLP_H

#include <gsl/gsl_rng.h>
#include <stddef.h>
#include <stdint.h>

#include "lb.h"
#include "model.h"
#include "schedule.h"

#define LB_MLP_ARCH "mlp-silu-sinemb"
#define LB_MLP_EMB 32
#define LB_MLP_MAXDEPTH 16

/* ---- architecture ------------------------------------------------------ */

typedef struct {
  size_t dim, width, depth, emb; /* emb = LB_MLP_EMB */
  size_t nlayers;                /* depth + 1 */
  size_t in[LB_MLP_MAXDEPTH + 1], out[LB_MLP_MAXDEPTH + 1];
  size_t woff[LB_MLP_MAXDEPTH + 1], boff[LB_MLP_MAXDEPTH + 1];
  size_t nparams;
} lb_mlp_arch;

/* LB_EINPUT naming width/depth/dim when out of range (dim in [1, 1024],
 * width in [1, 4096], depth in [1, LB_MLP_MAXDEPTH]). */
int lb_mlp_arch_init(lb_mlp_arch *a, size_t dim, size_t width, size_t depth,
                     lb_err *e);

/* The 32-d embedding of step s into out[k * stride], k < LB_MLP_EMB. */
void lb_mlp_embed(double s, double *out, size_t stride);

/* PyTorch's default initialisation: every W_l and b_l entry uniform on
 * [-1/sqrt(in_l), 1/sqrt(in_l)], drawn in buffer order from r. */
void lb_mlp_init_params(const lb_mlp_arch *a, gsl_rng *r, double *theta);

/* The sigmoid used by SiLU, 1 / (1 + exp(-z)) through vmath.h's lb_exp
 * (exposed for the tests). */
double lb_mlp_sigmoid(double z);

/* Make OpenBLAS single-threaded (called before any dgemm here). */
void lb_mlp_blas_serial(void);
/* On a CPU that OpenBLAS does not recognise, restart the program (argv,
 * from main) with the kernels of a known CPU of the same vector width
 * (mlp.c); returns when nothing is to be done. */
void lb_mlp_blas_pin_kernel(char **argv);

/* ---- forward / backward ----------------------------------------------- */

/* Doubles of work for lb_mlp_forward on B rows. */
size_t lb_mlp_forward_work(const lb_mlp_arch *a, size_t B);
/* y[i*ldy + r] = eps_theta(x[., r], emb[., r]) for r < B, where x is
 * coordinate-major with leading dimension ldx and emb (LB_MLP_EMB x B,
 * leading dimension B) holds the embedded steps. */
void lb_mlp_forward(const lb_mlp_arch *a, const double *theta, size_t B,
                    const double *x, size_t ldx, const double *emb, double *y,
                    size_t ldy, double *work);

/* The first layer's step part c(s) = b_0 + W_0[:, dim:] emb(s) (width
 * values into c): it depends on the step only, so an evaluation that
 * meets a step many times (every row of an ancestral sampling step, or a
 * table over the integer steps of a fixed network) computes it once. */
void lb_mlp_step_part(const lb_mlp_arch *a, const double *theta, double s,
                      double *c);
/* Doubles of work for lb_mlp_forward_c0 on B rows. */
size_t lb_mlp_forward_c0_work(const lb_mlp_arch *a, size_t B);
/* The forward pass given the step parts: on entry Z0[j * B + r] =
 * c(s_r)_j (width x B; overwritten), x coordinate-major (leading dimension
 * ldx); y as lb_mlp_forward.  Mathematically lb_mlp_forward; the first
 * layer then costs 2 dim width flops per row instead of 2 (dim + 32)
 * width. */
void lb_mlp_forward_c0(const lb_mlp_arch *a, const double *theta, size_t B,
                       const double *x, size_t ldx, double *Z0, double *y,
                       size_t ldy, double *work);

/* Doubles of work for lb_mlp_loss_grad on B rows. */
size_t lb_mlp_train_work(const lb_mlp_arch *a, size_t B);
/* Sum of squared errors  L = sum_{r<B, i<dim} (eps_theta(x_r, s_r)_i -
 * target[i*B + r])^2  and its gradient with respect to theta written into
 * grad[nparams] (overwritten, not accumulated).  x, emb, target are
 * coordinate-major with leading dimension B. */
double lb_mlp_loss_grad(const lb_mlp_arch *a, const double *theta, size_t B,
                        const double *x, const double *emb,
                        const double *target, double *grad, double *work);

/* ---- optimiser ---------------------------------------------------------- */

/* Adam (Kingma & Ba 2015), step number t >= 1:
 *   m = b1 m + (1-b1) g,  v = b2 v + (1-b2) g^2,
 *   theta -= lr (m / (1-b1^t)) / (sqrt(v / (1-b2^t)) + eps).
 * Elementwise, so any split of [0, n) over threads gives the same bits. */
void lb_adam_step(size_t n, double *theta, double *m, double *v,
                  const double *g, double lr, double b1, double b2,
                  double eps, long t);
/* ema = decay ema + (1 - decay) theta. */
void lb_ema_update(size_t n, double *ema, const double *theta, double decay);

/* ---- toy data and target data ------------------------------------------- */

/* A data law to train on: a 2-D toy set (moons, 8gaussians, swissroll,
 * checkerboard, rings, pinwheel, 2spirals, circles; parameters in data.c
 * and the README) or any target SPEC (lb_target_alloc, drawn with its
 * exact sampler). */
typedef struct lb_data lb_data;

/* LB_EINPUT naming `what` (e.g. "--data") when spec is neither. */
int lb_data_alloc(const char *spec, const char *what, lb_data **out,
                  lb_err *e);
void lb_data_free(lb_data *d);
size_t lb_data_dim(const lb_data *d);
/* The fraction of the n 2-D points x (row-major pairs) farther than 0.5
 * (2.5 noise sd) from the noiseless moons arcs (after data.c's x -> 2x +
 * (-1, -0.2): the upper half circle of centre (-1, -0.2) and the lower
 * one of centre (1, 0.8), radius 2); NAN for n = 0.  The moons quality
 * measure of the experiments and the model tests. */
double lb_moons_far_fraction(const double *x, size_t n);
const char *lb_data_spec(const lb_data *d);
/* n independent draws into x[r * dim + i] (row-major), using only r. */
void lb_data_draw(const lb_data *d, gsl_rng *r, size_t n, double *x);
/* The toy set names, NULL-terminated. */
extern const char *const lb_data_toy_names[];

/* ---- training ---------------------------------------------------------- */

typedef struct {
  const char *data;     /* DATA spec */
  const char *schedule; /* "paper" | "linear" */
  long steps, batch;
  size_t width, depth;
  double lr;       /* peak learning rate */
  double warmup;   /* fraction of steps of linear warm-up */
  double ema;      /* EMA decay E (warm-up: min(E, (1+t)/(10+t)) at step t) */
  uint64_t seed;
  int threads;
  int progress;    /* 0 silent, 1 plain lines, 2 TTY bar (on stderr) */
} lb_train_opts;

/* A trained network and its provenance: what the model file holds. */
typedef struct {
  lb_mlp_arch arch;
  lb_schedule sched;
  char data[LB_SPEC_MAXLEN];
  char lr_schedule[64];
  char langbench_version[32];
  char created[64];
  char command[2048];
  long steps, batch, seed, threads;
  double lr, warmup, ema_decay, train_seconds;
  double *ema;       /* [nparams] EMA weights: the ones used for sampling */
  size_t nloss;
  long loss_every;   /* loss[k] = mean loss over steps [k*every, (k+1)*every) */
  double *loss;      /* [nloss] */
} lb_mlp_file;

void lb_mlp_file_clear(lb_mlp_file *f);

/* Train per o; fills *out (architecture, schedule, EMA weights, loss
 * curve, provenance except `command`/`created`).  Deterministic: the
 * minibatch is split into fixed chunks of LB_MLP_CHUNK rows whose
 * gradients are summed in chunk order, so the result does not depend on
 * o->threads. */
#define LB_MLP_CHUNK 128
int lb_mlp_train(const lb_train_opts *o, lb_mlp_file *out, lb_err *e);

/* ---- model file (HDF5, format "langbench-mlp") ----------------------------- */

#define LB_MLP_FORMAT "langbench-mlp"
#define LB_MLP_FORMAT_VERSION 1

/* Writes PATH.part, renames to PATH on success. */
int lb_mlp_file_write(const char *path, const lb_mlp_file *f, lb_err *e);
/* Reads and validates (format, version, architecture, shapes, finite
 * weights); LB_EINPUT with a one-line message naming the file. */
int lb_mlp_file_read(const char *path, lb_mlp_file *f, lb_err *e);

/* The EMA network of a model file as an lb_model (model.h): eval is
 * thread-safe with per-thread work buffers of work_size(m, B) doubles. */
int lb_mlp_model_load(const char *path, lb_model **out, lb_err *e);
/* The same from weights in memory (copied). */
int lb_mlp_model_from(const lb_mlp_arch *a, const lb_schedule *s,
                      const double *theta, const char *desc, lb_model **out,
                      lb_err *e);

#endif
