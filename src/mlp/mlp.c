/* mlp.c -- the network: architecture, embedding, forward and backward
 * passes (dgemm through OpenBLAS's cblas), Adam and the EMA.
 * GPL-3.0-or-later.  Layout and cost in mlp.h. */
#include "mlp.h"

#include <cblas.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "vmath.h"

/* ---- architecture ------------------------------------------------------ */

int lb_mlp_arch_init(lb_mlp_arch *a, size_t dim, size_t width, size_t depth,
                     lb_err *e) {
  memset(a, 0, sizeof *a);
  if (dim < 1 || dim > 1024)
    return lb_fail(e, LB_EINPUT, "dim %zu: must be in [1, 1024]", dim);
  if (width < 1 || width > 4096)
    return lb_fail(e, LB_EINPUT, "--width %zu: must be in [1, 4096]", width);
  if (depth < 1 || depth > LB_MLP_MAXDEPTH)
    return lb_fail(e, LB_EINPUT, "--depth %zu: must be in [1, %d]", depth,
                   LB_MLP_MAXDEPTH);
  a->dim = dim, a->width = width, a->depth = depth, a->emb = LB_MLP_EMB;
  a->nlayers = depth + 1;
  size_t off = 0;
  for (size_t l = 0; l < a->nlayers; l++) {
    a->in[l] = l == 0 ? dim + LB_MLP_EMB : width;
    a->out[l] = l == depth ? dim : width;
    a->woff[l] = off;
    off += a->in[l] * a->out[l];
    a->boff[l] = off;
    off += a->out[l];
  }
  a->nparams = off;
  return LB_OK;
}

void lb_mlp_embed(double s, double *out, size_t stride) {
  const int half = LB_MLP_EMB / 2;
  for (int k = 0; k < half; k++) {
    double f = exp(-log(10000.0) * (double)k / (double)half);
    out[(size_t)k * stride] = sin(s * f);
    out[(size_t)(k + half) * stride] = cos(s * f);
  }
}

void lb_mlp_init_params(const lb_mlp_arch *a, gsl_rng *r, double *theta) {
  for (size_t l = 0; l < a->nlayers; l++) {
    double bound = 1.0 / sqrt((double)a->in[l]);
    size_t n = a->in[l] * a->out[l] + a->out[l]; /* W_l then b_l */
    for (size_t k = 0; k < n; k++)
      theta[a->woff[l] + k] = bound * (2.0 * gsl_rng_uniform(r) - 1.0);
  }
}

/* ---- SiLU ----------------------------------------------------------------- */

/* sigmoid(z) = 1 / (1 + e^-z) from e = exp(-|z|) in (0, 1] (lb_exp of
 * vmath.h: at most 1 ulp, no overflow for any z, a vector loop): q = 1 /
 * (1 + e) is sigmoid(|z|), and sigmoid(z) = q for z >= 0, e q = sigmoid(z)
 * for z < 0.  Relative error a few ulps; below z = -708 lb_exp flushes e
 * to 0 and sigmoid to 0 (true value < 3.3e-308).  NaN gives NaN.  Cost
 * one exp, one divide. */
static inline LB_ALWAYS_INLINE double sigm(double z) {
  double e = lb_exp(-fabs(z));
  double q = 1.0 / (1.0 + e);
  return z >= 0 ? q : e * q;
}

double lb_mlp_sigmoid(double z) { return sigm(z); }

/* Fused bias and SiLU over a rows x n block (leading dimension n), in
 * place: u = Z + b[j] (b NULL: no bias), Z = silu(u) = u sigmoid(u); with
 * D non-NULL also D = silu'(u) = s (1 + u (1 - s)), s = sigmoid(u), the
 * factor the backward pass needs (so it keeps neither Z nor s).  One pass
 * over the block instead of bias fill, SiLU and derivative passes.  The
 * build uses -std=c11, hence -ffp-contract=off: no clone fuses a multiply
 * and an add, so every clone gives the same bits. */
LB_VECTOR_CLONES static void bias_silu(size_t rows, size_t n, const double *b,
                                       double *Z, double *D) {
  for (size_t j = 0; j < rows; j++) {
    double bj = b ? b[j] : 0.0, *z = Z + j * n;
    if (D) {
      double *dj = D + j * n;
#pragma omp simd
      for (size_t r = 0; r < n; r++) {
        double u = z[r] + bj, s = sigm(u);
        z[r] = u * s;
        dj[r] = s * (1.0 + u * (1.0 - s));
      }
    } else {
#pragma omp simd
      for (size_t r = 0; r < n; r++) {
        double u = z[r] + bj;
        z[r] = u * sigm(u);
      }
    }
  }
}

/* dh *= D elementwise (dZ = dH silu'(Z)). */
LB_VECTOR_CLONES static void mul_into(size_t n, const double *D, double *dh) {
#pragma omp simd
  for (size_t k = 0; k < n; k++) dh[k] *= D[k];
}

/* sum of v[0..n) with 8 interleaved partial sums, combined in a fixed
 * order: the result does not depend on the ISA, and the 8 chains keep the
 * adder busy (a single chain waits 4 cycles per add). */
static double rowsum(const double *v, size_t n) {
  double acc[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  size_t r = 0;
  for (; r + 8 <= n; r += 8)
    for (int k = 0; k < 8; k++) acc[k] += v[r + k];
  double s = ((acc[0] + acc[1]) + (acc[2] + acc[3])) +
             ((acc[4] + acc[5]) + (acc[6] + acc[7]));
  for (; r < n; r++) s += v[r];
  return s;
}

/* OpenBLAS runs its dgemm on one thread: the callers parallelise over
 * chunks of rows themselves (and call from several threads at once). */
void lb_mlp_blas_serial(void) { openblas_set_num_threads(1); }

/* OpenBLAS 0.3.21 picks its kernels from the CPU model when it loads and
 * falls back to its generic Prescott kernels on a model it does not know
 * (this project's host from 2026-12: Intel family 6, model 207): 2.8x
 * the CPU time in training, and other last bits than the kernels the
 * shipped models were trained with (SkylakeX, on an AVX-512 host).  The
 * choice can only be made before OpenBLAS loads (OPENBLAS_CORETYPE), so
 * on such a host the program starts itself again once with the kernels
 * that a known CPU of the same vector width gets: SkylakeX with
 * AVX-512 (F, BW, DQ, VL), Haswell with AVX2 and FMA.  Nothing happens
 * when OPENBLAS_CORETYPE is set or OpenBLAS knows the CPU. */
void lb_mlp_blas_pin_kernel(char **argv) {
#if defined(__x86_64__) && defined(__GNUC__)
  if (getenv("OPENBLAS_CORETYPE")) return;
  const char *core = openblas_get_corename();
  if (!core || strcmp(core, "Prescott") != 0) return;
  const char *want = NULL;
  if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
      __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512vl"))
    want = "SkylakeX";
  else if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"))
    want = "Haswell";
  if (!want) return;
  setenv("OPENBLAS_CORETYPE", want, 1);
  execv("/proc/self/exe", argv);
  /* exec failed: go on with the kernels OpenBLAS chose */
#else
  (void)argv;
#endif
}

/* ---- forward ------------------------------------------------------------ */

/* Z = W_l H for layer l (no bias): H is in x B (leading dimension ldh), Z
 * out x B (leading dimension ldz); one row-major dgemm, the batch as the
 * long dimension, beta = 0. */
static void layer_gemm(const lb_mlp_arch *a, const double *theta, size_t l,
                       size_t B, const double *H, size_t ldh, double *Z,
                       size_t ldz) {
  cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)a->out[l],
              (int)B, (int)a->in[l], 1.0, theta + a->woff[l], (int)a->in[l],
              H, (int)ldh, 0.0, Z, (int)ldz);
}

/* Hidden layers 1..depth-1 and the output layer from H = the first hidden
 * layer's activations (width x B, in P); Q is another width x B buffer. */
static void forward_tail(const lb_mlp_arch *a, const double *theta, size_t B,
                         double *P, double *Q, double *y, size_t ldy) {
  size_t w = a->width, L = a->depth;
  double *H = P, *Z = Q;
  for (size_t l = 1; l < L; l++) {
    layer_gemm(a, theta, l, B, H, B, Z, B);
    bias_silu(w, B, theta + a->boff[l], Z, NULL);
    double *t = H;
    H = Z, Z = t;
  }
  layer_gemm(a, theta, L, B, H, B, y, ldy);
  const double *b = theta + a->boff[L];
  for (size_t i = 0; i < a->dim; i++)
    for (size_t r = 0; r < B; r++) y[i * ldy + r] += b[i];
}

size_t lb_mlp_forward_work(const lb_mlp_arch *a, size_t B) {
  return (a->dim + LB_MLP_EMB + 2 * a->width) * B;
}

void lb_mlp_forward(const lb_mlp_arch *a, const double *theta, size_t B,
                    const double *x, size_t ldx, const double *emb, double *y,
                    size_t ldy, double *work) {
  size_t d = a->dim, w = a->width;
  double *H0 = work, *P = H0 + (d + LB_MLP_EMB) * B, *Q = P + w * B;
  for (size_t i = 0; i < d; i++) memcpy(H0 + i * B, x + i * ldx, B * sizeof *x);
  memcpy(H0 + d * B, emb, LB_MLP_EMB * B * sizeof *emb);
  layer_gemm(a, theta, 0, B, H0, B, P, B);
  bias_silu(w, B, theta + a->boff[0], P, NULL);
  forward_tail(a, theta, B, P, Q, y, ldy);
}

void lb_mlp_step_part(const lb_mlp_arch *a, const double *theta, double s,
                      double *c) {
  double emb[LB_MLP_EMB];
  lb_mlp_embed(s, emb, 1);
  size_t in = a->in[0], d = a->dim;
  const double *W = theta + a->woff[0], *b = theta + a->boff[0];
  for (size_t j = 0; j < a->width; j++) {
    double t = 0;
    for (size_t k = 0; k < LB_MLP_EMB; k++) t += W[j * in + d + k] * emb[k];
    c[j] = b[j] + t;
  }
}

size_t lb_mlp_forward_c0_work(const lb_mlp_arch *a, size_t B) {
  return a->width * B;
}

void lb_mlp_forward_c0(const lb_mlp_arch *a, const double *theta, size_t B,
                       const double *x, size_t ldx, double *Z0, double *y,
                       size_t ldy, double *work) {
  size_t d = a->dim, w = a->width, in = a->in[0];
  const double *W = theta + a->woff[0];
  if (d <= 8) {
    /* a K = d product is not worth a dgemm call: rank-d update by hand */
    for (size_t j = 0; j < w; j++) {
      double *z = Z0 + j * B;
      for (size_t i = 0; i < d; i++) {
        double wji = W[j * in + i];
        const double *xi = x + i * ldx;
#pragma omp simd
        for (size_t r = 0; r < B; r++) z[r] += wji * xi[r];
      }
    }
  } else {
    cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)w, (int)B,
                (int)d, 1.0, W, (int)in, x, (int)ldx, 1.0, Z0, (int)B);
  }
  bias_silu(w, B, NULL, Z0, NULL);
  forward_tail(a, theta, B, Z0, work, y, ldy);
}

/* ---- loss and backward -------------------------------------------------- */

/* Work: H0 [(d+emb) x B], then per hidden layer H_l = silu(Z_l) and D_l =
 * silu'(Z_l) (each w x B), the output Y (d x B), and two w x B buffers for
 * the back-propagated dH / dZ. */
size_t lb_mlp_train_work(const lb_mlp_arch *a, size_t B) {
  return ((a->dim + LB_MLP_EMB) + 2 * a->depth * a->width + a->dim +
          2 * a->width) * B;
}

double lb_mlp_loss_grad(const lb_mlp_arch *a, const double *theta, size_t B,
                        const double *x, const double *emb,
                        const double *target, double *grad, double *work) {
  size_t d = a->dim, w = a->width, L = a->depth;
  double *H0 = work, *Hs = H0 + (d + LB_MLP_EMB) * B, *Ds = Hs + L * w * B;
  double *Y = Ds + L * w * B, *dA = Y + d * B, *dB = dA + w * B;
  memcpy(H0, x, d * B * sizeof *x);
  memcpy(H0 + d * B, emb, LB_MLP_EMB * B * sizeof *emb);

  /* forward, keeping H and silu'(Z) of every hidden layer */
  const double *H = H0;
  for (size_t l = 0; l < L; l++) {
    double *Hn = Hs + l * w * B;
    layer_gemm(a, theta, l, B, H, B, Hn, B);
    bias_silu(w, B, theta + a->boff[l], Hn, Ds + l * w * B);
    H = Hn;
  }
  layer_gemm(a, theta, L, B, H, B, Y, B);

  /* loss; dY = 2 (Y + b - target), kept in Y */
  const double *bL = theta + a->boff[L];
  double loss = 0;
  for (size_t i = 0; i < d; i++)
    for (size_t r = 0; r < B; r++) {
      size_t k = i * B + r;
      double res = (Y[k] + bL[i]) - target[k];
      loss += res * res;
      Y[k] = 2.0 * res;
    }

  /* backward, layer by layer: dW = dZ H^T, db = dZ 1, dH = W^T dZ, and
   * dZ = dH * silu'(Z). */
  const double *dZ = Y;
  for (size_t l = L + 1; l-- > 0;) {
    size_t in = a->in[l], out = a->out[l];
    const double *Hin = l == 0 ? H0 : Hs + (l - 1) * w * B;
    double *gW = grad + a->woff[l], *gb = grad + a->boff[l];
    cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)out, (int)in,
                (int)B, 1.0, dZ, (int)B, Hin, (int)B, 0.0, gW, (int)in);
    for (size_t j = 0; j < out; j++) gb[j] = rowsum(dZ + j * B, B);
    if (l == 0) break;
    double *dH = (dZ == dA) ? dB : dA;
    cblas_dgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)in, (int)B,
                (int)out, 1.0, theta + a->woff[l], (int)in, dZ, (int)B, 0.0,
                dH, (int)B);
    mul_into(w * B, Ds + (l - 1) * w * B, dH);
    dZ = dH;
  }
  return loss;
}

/* ---- optimiser ---------------------------------------------------------- */

LB_VECTOR_CLONES void lb_adam_step(size_t n, double *theta, double *m, double *v,
                  const double *g, double lr, double b1, double b2,
                  double eps, long t) {
  double c1 = 1.0 - pow(b1, (double)t), c2 = 1.0 - pow(b2, (double)t);
#pragma omp simd
  for (size_t k = 0; k < n; k++) {
    m[k] = b1 * m[k] + (1.0 - b1) * g[k];
    v[k] = b2 * v[k] + (1.0 - b2) * g[k] * g[k];
    theta[k] -= lr * (m[k] / c1) / (sqrt(v[k] / c2) + eps);
  }
}

LB_VECTOR_CLONES void lb_ema_update(size_t n, double *ema, const double *theta, double decay) {
#pragma omp simd
  for (size_t k = 0; k < n; k++)
    ema[k] = decay * ema[k] + (1.0 - decay) * theta[k];
}
