/* mlp.c -- the network: architecture, embedding, forward and backward
 * passes (dgemm through OpenBLAS's cblas), Adam and the EMA.
 * GPL-3.0-or-later.  Layout and cost in mlp.h. */
#include "mlp.h"

#include <cblas.h>
#include <math.h>
#include <string.h>

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

/* exp(u), u clamped to [-700, 700], in a form the compiler vectorises (no
 * libm call): u = k ln2 + r with k = nearest integer to u / ln2 (the
 * 1.5 2^52 shift trick), ln2 split in two so that k ln2_hi is exact, |r| <=
 * ln2 / 2; exp(r) by its Taylor polynomial of degree 12 (truncation
 * |r|^13 / 13! < 2e-16), times 2^k built from the exponent bits.  Relative
 * error a few ulps (tested against exp).  The clamp only matters where the
 * sigmoid is 0 or 1 to within 1e-304. */
static inline double silu_exp(double u) {
  u = u < -700.0 ? -700.0 : u > 700.0 ? 700.0 : u;
  const double shift = 0x1.8p52;
  double t = u * 0x1.71547652b82fep0 + shift;
  double k = t - shift;
  double r = (u - k * 0x1.62e42fefa3800p-1) - k * 0x1.ef35793c76730p-45;
  double p = 1.0 / 479001600.0;
  p = p * r + 1.0 / 39916800.0;
  p = p * r + 1.0 / 3628800.0;
  p = p * r + 1.0 / 362880.0;
  p = p * r + 1.0 / 40320.0;
  p = p * r + 1.0 / 5040.0;
  p = p * r + 1.0 / 720.0;
  p = p * r + 1.0 / 120.0;
  p = p * r + 1.0 / 24.0;
  p = p * r + 1.0 / 6.0;
  p = p * r + 0.5;
  p = p * r + 1.0;
  p = p * r + 1.0;
  union { double d; uint64_t i; } c = {t}, sc;
  sc.i = (c.i - 0x4338000000000000ULL + 1023ULL) << 52;
  return p * sc.d;
}

double lb_mlp_exp(double u) { return silu_exp(u); }

/* Clones for AVX-512, AVX2 and the baseline, chosen at load time.  The
 * build uses -std=c11, hence -ffp-contract=off: no clone fuses a multiply
 * and an add, so every clone gives the same bits. */
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__) && \
    !defined(__SANITIZE_ADDRESS__)
#define LB_CLONES __attribute__((target_clones("avx512f", "avx2", "default")))
#else
#define LB_CLONES
#endif

/* s = sigmoid(z), h = z s (s may be NULL: h only). */
LB_CLONES static void silu_fwd(size_t n, const double *z, double *s,
                               double *h) {
  if (s) {
#pragma omp simd
    for (size_t k = 0; k < n; k++) {
      s[k] = 1.0 / (1.0 + silu_exp(-z[k]));
      h[k] = z[k] * s[k];
    }
  } else {
#pragma omp simd
    for (size_t k = 0; k < n; k++) {
      double sk = 1.0 / (1.0 + silu_exp(-z[k]));
      h[k] = z[k] * sk;
    }
  }
}

/* dh *= silu'(z) = s (1 + z (1 - s)). */
LB_CLONES static void silu_back(size_t n, const double *z, const double *s,
                                double *dh) {
#pragma omp simd
  for (size_t k = 0; k < n; k++) dh[k] *= s[k] * (1.0 + z[k] * (1.0 - s[k]));
}

/* OpenBLAS runs its dgemm on one thread: the callers parallelise over
 * chunks of rows themselves (and call from several threads at once). */
void lb_mlp_blas_serial(void) { openblas_set_num_threads(1); }

/* ---- forward ------------------------------------------------------------ */

/* Z = W H + b 1^T for layer l: H is in x B (leading dimension ldh), Z is
 * out x B (leading dimension ldz).  One dgemm after broadcasting b. */
static void affine(const lb_mlp_arch *a, const double *theta, size_t l,
                   size_t B, const double *H, size_t ldh, double *Z,
                   size_t ldz) {
  size_t in = a->in[l], out = a->out[l];
  const double *W = theta + a->woff[l], *b = theta + a->boff[l];
  for (size_t j = 0; j < out; j++)
    for (size_t r = 0; r < B; r++) Z[j * ldz + r] = b[j];
  cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)out, (int)B,
              (int)in, 1.0, W, (int)in, H, (int)ldh, 1.0, Z, (int)ldz);
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
  const double *H = H0;
  for (size_t l = 0; l < a->depth; l++) {
    double *Z = (l & 1) ? Q : P;
    affine(a, theta, l, B, H, B, Z, B);
    silu_fwd(w * B, Z, NULL, Z);
    H = Z;
  }
  affine(a, theta, a->depth, B, H, B, y, ldy);
}

/* ---- loss and backward -------------------------------------------------- */

/* Work: H0 [(d+emb) x B], then per hidden layer Z_l, S_l = sigmoid(Z_l),
 * H_{l+1} = Z_l S_l (each w x B), the output Y (d x B), and two w x B
 * buffers for the back-propagated dH / dZ. */
size_t lb_mlp_train_work(const lb_mlp_arch *a, size_t B) {
  return ((a->dim + LB_MLP_EMB) + 3 * a->depth * a->width + a->dim +
          2 * a->width) * B;
}

double lb_mlp_loss_grad(const lb_mlp_arch *a, const double *theta, size_t B,
                        const double *x, const double *emb,
                        const double *target, double *grad, double *work) {
  size_t d = a->dim, w = a->width, L = a->depth;
  double *H0 = work, *Zs = H0 + (d + LB_MLP_EMB) * B;
  double *Ss = Zs + L * w * B, *Hs = Ss + L * w * B;
  double *Y = Hs + L * w * B, *dA = Y + d * B, *dB = dA + w * B;
  memcpy(H0, x, d * B * sizeof *x);
  memcpy(H0 + d * B, emb, LB_MLP_EMB * B * sizeof *emb);

  /* forward, keeping Z, sigmoid(Z) and H of every hidden layer */
  const double *H = H0;
  for (size_t l = 0; l < L; l++) {
    double *Z = Zs + l * w * B, *S = Ss + l * w * B, *Hn = Hs + l * w * B;
    affine(a, theta, l, B, H, B, Z, B);
    silu_fwd(w * B, Z, S, Hn);
    H = Hn;
  }
  affine(a, theta, L, B, H, B, Y, B);

  /* loss; dY = 2 (Y - target), kept in Y */
  double loss = 0;
  for (size_t k = 0; k < d * B; k++) {
    double r = Y[k] - target[k];
    loss += r * r;
    Y[k] = 2.0 * r;
  }

  /* backward, layer by layer: dW = dZ H^T, db = dZ 1, dH = W^T dZ, and
   * dZ = dH * silu'(Z) with silu'(z) = s (1 + z (1 - s)), s = sigmoid(z). */
  const double *dZ = Y;
  for (size_t l = L + 1; l-- > 0;) {
    size_t in = a->in[l], out = a->out[l];
    const double *Hin = l == 0 ? H0 : Hs + (l - 1) * w * B;
    double *gW = grad + a->woff[l], *gb = grad + a->boff[l];
    cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)out, (int)in,
                (int)B, 1.0, dZ, (int)B, Hin, (int)B, 0.0, gW, (int)in);
    for (size_t j = 0; j < out; j++) {
      double s = 0;
      for (size_t r = 0; r < B; r++) s += dZ[j * B + r];
      gb[j] = s;
    }
    if (l == 0) break;
    double *dH = (dZ == dA) ? dB : dA;
    cblas_dgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)in, (int)B,
                (int)out, 1.0, theta + a->woff[l], (int)in, dZ, (int)B, 0.0,
                dH, (int)B);
    const double *Z = Zs + (l - 1) * w * B, *S = Ss + (l - 1) * w * B;
    silu_back(w * B, Z, S, dH);
    dZ = dH;
  }
  return loss;
}

/* ---- optimiser ---------------------------------------------------------- */

void lb_adam_step(size_t n, double *theta, double *m, double *v,
                  const double *g, double lr, double b1, double b2,
                  double eps, long t) {
  double c1 = 1.0 - pow(b1, (double)t), c2 = 1.0 - pow(b2, (double)t);
  for (size_t k = 0; k < n; k++) {
    m[k] = b1 * m[k] + (1.0 - b1) * g[k];
    v[k] = b2 * v[k] + (1.0 - b2) * g[k] * g[k];
    theta[k] -= lr * (m[k] / c1) / (sqrt(v[k] / c2) + eps);
  }
}

void lb_ema_update(size_t n, double *ema, const double *theta, double decay) {
  for (size_t k = 0; k < n; k++)
    ema[k] = decay * ema[k] + (1.0 - decay) * theta[k];
}
