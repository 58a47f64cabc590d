/* reverse.h -- reverse samplers of the DDPM chain (diffusion.md 2-4).
 *
 * GPL-3.0-or-later.
 *
 * SPEC (--sampler of `langbench diffuse`):
 *   ddpm[:variant=v1|v1a|v1b|v1c|v1d|v2|v3]     ancestral, respaced to
 *                                               S = --nfe steps (default v2)
 *   ddim[:eta=E]                                E in [0, 1], default 0
 *   dpmsolver[:order=1|2|3,skip=logsnr|time_uniform|time_quadratic]
 *   dpmsolver++[:order=...,skip=...]            multistep; defaults 2, logsnr
 *   pmm[:K=K,option=1|2,variant=...]            Poisson midpoint method on
 *                                               the full N-step chain
 * NFE: S for ddpm, ddim, dpmsolver(++); for pmm, per coarse step of L
 * fine steps, 1 when L = 1, otherwise 2 (option 2) or 1 + Binomial(L-1,
 * 1/L) (option 1, expected 2 - 1/L).  `nfe` (> 0) chooses S, or for pmm
 * the K whose expected NFE is closest (ties: the smaller K); pmm takes K
 * or nfe, not both.
 */
#ifndef LB_REVERSE_H
#define LB_REVERSE_H

#include <stddef.h>

#include "model.h"
#include "rng.h"

enum { LB_DS_DDPM, LB_DS_DDIM, LB_DS_DPM, LB_DS_DPMPP, LB_DS_PMM };
/* Coefficient variants: V1 with sigma^2 = beta' / (1 + i beta'), i =
 * variant - LB_V1_BASE in {-1, 0, 1, 2} (v1 = v1a, v1b, v1c, v1d); V2; V3. */
enum { LB_V1A = 0, LB_V1B, LB_V1C, LB_V1D, LB_V2, LB_V3 };
enum { LB_SKIP_LOGSNR, LB_SKIP_UNIFORM, LB_SKIP_QUADRATIC };

typedef struct {
  int kind, variant, order, skip, option;
  double eta;
  long K;        /* pmm */
  long S;        /* steps (ddpm, ddim, dpmsolver); coarse steps for pmm */
  int N;         /* chain length */
  long *kept;    /* ancestral: S+1 steps, descending, kept[S] = 0 */
  double *tgrid; /* dpmsolver: S+1 times from 1 to 1/N */
  double *tab;   /* pmm: the chain's fine-step coefficients (chain.h) */
  char desc[LB_SPEC_MAXLEN]; /* resolved SPEC, e.g. pmm:K=25,option=2,variant=v2 */
} lb_dsampler;

int lb_dsampler_alloc(const char *spec, const lb_schedule *sch, long nfe,
                      lb_dsampler **out, lb_err *e);
void lb_dsampler_free(lb_dsampler *s);
/* Expected NFE per sample (exact for all but pmm option 1). */
double lb_dsampler_expected_nfe(const lb_dsampler *s);
/* Steps of the sampler's own loop (coarse steps for pmm). */
long lb_dsampler_steps(const lb_dsampler *s);

/* One reverse step s -> p of the ancestral chain, variant v (ddim: V2
 * with sigma scaled by eta, eta < 0 meaning none): x_p = a x_s + c eps +
 * sigma z.  `last` (p = 0) sets sigma = 0. */
void lb_ddpm_coefs(const lb_schedule *sch, int variant, double eta, long s,
                   long p, double *a, double *c, double *sigma);

/* Called after each of the sampler's steps k = 1..steps with the block. */
typedef void (*lb_dsampler_rec)(void *ctx, long k, size_t B, size_t ld,
                                const double *x);

/* Run the sampler on a block of B rows in the block layout x[i*ld + r]
 * (block.h: B <= LB_BLOCK_MAX, ld = lb_block_ld(B)), starting from x =
 * x_N.  Row r reads its Gaussians from rnoise (n per fine step, in order:
 * the same sequence for ddpm and pmm on the same chain; also drawn,
 * unused, where sigma = 0) and its midpoints from rctl.  nfe[r] += model
 * evaluations of row r.  Model calls are block calls: the whole block at
 * one step, or the rows whose midpoint is at one offset. */
void lb_dsampler_run(const lb_dsampler *s, const lb_model *m, size_t B,
                     size_t ld, double *x, lb_streams *rnoise,
                     lb_streams *rctl, long *nfe, lb_dsampler_rec rec,
                     void *ctx);

/* Exact output variance on data N(0, v I) with the oracle (diffusion.md
 * section 5), per coordinate: *var = Var(X_0).  gaussian_out = 1 when the
 * output law is Gaussian (deterministic coefficients: all but pmm with
 * L >= 2 steps). */
double lb_dsampler_exact_var(const lb_dsampler *s, const lb_schedule *sch,
                             double v, int *gaussian_out);

#endif
