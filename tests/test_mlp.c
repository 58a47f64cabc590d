/* test_mlp.c -- the noise-prediction MLP: backpropagation against finite
 * differences, Adam and EMA against hand-computed values, training, the
 * model file and its error handling.  GPL-3.0-or-later. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mlp.h"
#include "rng.h"
#include "testutil.h"

/* ---- a small problem: random weights, inputs, steps and targets -------- */

typedef struct {
  lb_mlp_arch a;
  size_t B;
  double *theta, *x, *emb, *tgt, *work, *grad;
} problem;

static void problem_init(problem *p, size_t dim, size_t width, size_t depth,
                         size_t B, uint64_t seed) {
  lb_err e;
  cr_assert_eq(lb_mlp_arch_init(&p->a, dim, width, depth, &e), LB_OK, "%s",
               e.msg);
  p->B = B;
  gsl_rng *r = lb_rng_alloc();
  lb_rng_seed(r, seed, 0, 0);
  p->theta = malloc(p->a.nparams * sizeof(double));
  p->grad = malloc(p->a.nparams * sizeof(double));
  lb_mlp_init_params(&p->a, r, p->theta);
  /* scale the weights up so that the SiLU nonlinearity is exercised well
   * away from its linear regime around 0 */
  for (size_t k = 0; k < p->a.nparams; k++) p->theta[k] *= 2.0;
  p->x = malloc(dim * B * sizeof(double));
  p->tgt = malloc(dim * B * sizeof(double));
  p->emb = malloc(LB_MLP_EMB * B * sizeof(double));
  for (size_t k = 0; k < dim * B; k++) {
    p->x[k] = 3.0 * (gsl_rng_uniform(r) - 0.5);
    p->tgt[k] = gsl_rng_uniform(r) - 0.5;
  }
  for (size_t b = 0; b < B; b++)
    lb_mlp_embed((double)(1 + gsl_rng_uniform_int(r, 1000)), p->emb + b, B);
  p->work = malloc(lb_mlp_train_work(&p->a, B) * sizeof(double));
  gsl_rng_free(r);
}

static void problem_free(problem *p) {
  free(p->theta), free(p->grad), free(p->x), free(p->tgt), free(p->emb);
  free(p->work);
}

/* The loss through the forward-only path (not lb_mlp_loss_grad), so the
 * finite differences check the backward pass against an independent
 * implementation of the forward pass. */
static double loss_fwd(problem *p, const double *theta) {
  size_t d = p->a.dim, B = p->B;
  double *y = malloc(d * B * sizeof(double));
  double *w = malloc(lb_mlp_forward_work(&p->a, B) * sizeof(double));
  lb_mlp_forward(&p->a, theta, B, p->x, B, p->emb, y, B, w);
  double L = 0;
  for (size_t k = 0; k < d * B; k++) L += (y[k] - p->tgt[k]) * (y[k] - p->tgt[k]);
  free(y), free(w);
  return L;
}

/* ---- backpropagation ---------------------------------------------------- */

static const size_t shapes[][3] = {{2, 5, 1}, {3, 7, 2}, {2, 16, 3}, {1, 4, 4}};

Test(mlp_grad, loss_matches_forward) {
  for (size_t c = 0; c < sizeof shapes / sizeof *shapes; c++) {
    problem p;
    problem_init(&p, shapes[c][0], shapes[c][1], shapes[c][2], 9, 10 + c);
    double L1 = lb_mlp_loss_grad(&p.a, p.theta, p.B, p.x, p.emb, p.tgt,
                                 p.grad, p.work);
    double L2 = loss_fwd(&p, p.theta);
    cr_expect(fabs(L1 - L2) <= 1e-12 * fabs(L2), "shape %zu: %.17g vs %.17g",
              c, L1, L2);
    problem_free(&p);
  }
}

/* Every coordinate: central difference with h = 1e-5 has truncation error
 * O(h^2) ~ 1e-10 and rounding error ~ 1e-16 L / h ~ 1e-11 L; a wrong
 * derivative is off by O(|g|).  Tolerance 1e-6 (|g| + L / 100). */
Test(mlp_grad, finite_differences_coordinatewise) {
  for (size_t c = 0; c < sizeof shapes / sizeof *shapes; c++) {
    problem p;
    problem_init(&p, shapes[c][0], shapes[c][1], shapes[c][2], 7, 20 + c);
    double L = lb_mlp_loss_grad(&p.a, p.theta, p.B, p.x, p.emb, p.tgt,
                                p.grad, p.work);
    double *th = malloc(p.a.nparams * sizeof(double));
    memcpy(th, p.theta, p.a.nparams * sizeof(double));
    size_t bad = 0;
    for (size_t k = 0; k < p.a.nparams; k++) {
      double h = 1e-5, t0 = th[k];
      th[k] = t0 + h;
      double Lp = loss_fwd(&p, th);
      th[k] = t0 - h;
      double Lm = loss_fwd(&p, th);
      th[k] = t0;
      double fd = (Lp - Lm) / (2 * h);
      if (fabs(fd - p.grad[k]) > 1e-6 * (fabs(p.grad[k]) + L / 100)) {
        if (bad++ < 5)
          cr_log_error("shape %zu param %zu: backprop %.12g fd %.12g", c, k,
                       p.grad[k], fd);
      }
    }
    cr_expect_eq(bad, 0, "shape %zu (%zu params): %zu coordinates off", c,
                 p.a.nparams, bad);
    free(th);
    problem_free(&p);
  }
}

/* Along random unit directions u: g . u against the central difference of
 * L(theta + t u), t = 1e-5. */
Test(mlp_grad, finite_differences_random_directions) {
  gsl_rng *r = lb_rng_alloc();
  lb_rng_seed(r, 99, 0, 0);
  for (size_t c = 0; c < sizeof shapes / sizeof *shapes; c++) {
    problem p;
    problem_init(&p, shapes[c][0], shapes[c][1], shapes[c][2], 11, 30 + c);
    double L = lb_mlp_loss_grad(&p.a, p.theta, p.B, p.x, p.emb, p.tgt,
                                p.grad, p.work);
    size_t n = p.a.nparams;
    double *u = malloc(n * sizeof(double)), *th = malloc(n * sizeof(double));
    for (int dir = 0; dir < 5; dir++) {
      double nu = 0, gu = 0, gn = 0;
      for (size_t k = 0; k < n; k++) {
        u[k] = gsl_rng_uniform(r) - 0.5;
        nu += u[k] * u[k];
      }
      nu = sqrt(nu);
      for (size_t k = 0; k < n; k++) {
        u[k] /= nu;
        gu += p.grad[k] * u[k];
        gn += p.grad[k] * p.grad[k];
      }
      double h = 1e-5;
      for (size_t k = 0; k < n; k++) th[k] = p.theta[k] + h * u[k];
      double Lp = loss_fwd(&p, th);
      for (size_t k = 0; k < n; k++) th[k] = p.theta[k] - h * u[k];
      double Lm = loss_fwd(&p, th);
      double fd = (Lp - Lm) / (2 * h);
      cr_expect(fabs(fd - gu) <= 1e-6 * (sqrt(gn) + L / 100),
                "shape %zu dir %d: g.u %.12g fd %.12g", c, dir, gu, fd);
    }
    free(u), free(th);
    problem_free(&p);
  }
  gsl_rng_free(r);
}

/* Splitting a batch into chunks and summing the chunk gradients gives the
 * whole batch's gradient (the loss is a sum over rows). */
Test(mlp_grad, chunks_add_up) {
  problem p;
  problem_init(&p, 2, 8, 2, 10, 40);
  lb_mlp_loss_grad(&p.a, p.theta, p.B, p.x, p.emb, p.tgt, p.grad, p.work);
  size_t n = p.a.nparams, d = p.a.dim;
  double *g1 = calloc(n, sizeof(double)), *sum = calloc(n, sizeof(double));
  size_t cuts[] = {0, 3, 4, 10};
  for (int c = 0; c < 3; c++) {
    size_t b0 = cuts[c], nb = cuts[c + 1] - cuts[c];
    double *x = malloc(d * nb * sizeof(double)), *t = malloc(d * nb * sizeof(double));
    double *em = malloc(LB_MLP_EMB * nb * sizeof(double));
    for (size_t i = 0; i < d; i++)
      for (size_t r = 0; r < nb; r++) {
        x[i * nb + r] = p.x[i * p.B + b0 + r];
        t[i * nb + r] = p.tgt[i * p.B + b0 + r];
      }
    for (size_t i = 0; i < LB_MLP_EMB; i++)
      for (size_t r = 0; r < nb; r++) em[i * nb + r] = p.emb[i * p.B + b0 + r];
    lb_mlp_loss_grad(&p.a, p.theta, nb, x, em, t, g1, p.work);
    for (size_t k = 0; k < n; k++) sum[k] += g1[k];
    free(x), free(t), free(em);
  }
  for (size_t k = 0; k < n; k++)
    cr_expect(fabs(sum[k] - p.grad[k]) <= 1e-12 * (1 + fabs(p.grad[k])),
              "param %zu: %.17g vs %.17g", k, sum[k], p.grad[k]);
  free(g1), free(sum);
  problem_free(&p);
}

Test(mlp_arch, shapes_and_views) {
  lb_mlp_arch a;
  lb_err e;
  cr_assert_eq(lb_mlp_arch_init(&a, 2, 128, 3, &e), LB_OK);
  cr_expect_eq(a.nlayers, 4);
  cr_expect_eq(a.in[0], 34);
  cr_expect_eq(a.out[3], 2);
  /* (34*128 + 128) + 2 (128*128 + 128) + (128*2 + 2) */
  cr_expect_eq(a.nparams, 4480 + 2 * 16512 + 258);
  cr_expect_eq(a.boff[0], 34 * 128);
  cr_expect_eq(a.woff[1], 34 * 128 + 128);
  cr_expect_eq(lb_mlp_arch_init(&a, 2, 0, 3, &e), LB_EINPUT);
  cr_expect(strstr(e.msg, "--width") != NULL, "%s", e.msg);
  cr_expect_eq(lb_mlp_arch_init(&a, 2, 8, 0, &e), LB_EINPUT);
  cr_expect(strstr(e.msg, "--depth") != NULL, "%s", e.msg);
}

Test(mlp_arch, embedding) {
  double v[LB_MLP_EMB];
  lb_mlp_embed(0.0, v, 1);
  for (int k = 0; k < 16; k++) {
    cr_expect_eq(v[k], 0.0);
    cr_expect_eq(v[16 + k], 1.0);
  }
  lb_mlp_embed(7.0, v, 1);
  cr_expect_eq(v[0], sin(7.0)); /* f_0 = 1 */
  cr_expect_eq(v[16], cos(7.0));
  double f15 = exp(-log(10000.0) * 15.0 / 16.0);
  cr_expect(fabs(v[15] - sin(7.0 * f15)) < 1e-15);
}

/* ---- Adam and EMA -------------------------------------------------------- */

/* Two Adam steps on theta = (1, -2, 0.5) with lr 0.01, b1 0.9, b2 0.999,
 * eps 1e-8, gradients g1 = (0.5, -1, 0) then g2 = (-0.25, -1, 2).  Hand
 * computation, coordinate 0:
 *   step 1: m = 0.05, v = 0.00025, mhat = 0.5, vhat = 0.25,
 *           theta = 1 - 0.01 * 0.5 / (0.5 + 1e-8)
 *   step 2: m = 0.9*0.05 + 0.1*(-0.25) = 0.02,
 *           v = 0.999*0.00025 + 0.001*0.0625 = 0.00031225,
 *           mhat = 0.02 / 0.19, vhat = 0.00031225 / 0.001999. */
Test(mlp_opt, adam_two_steps) {
  double th[3] = {1, -2, 0.5}, m[3] = {0}, v[3] = {0};
  double g1[3] = {0.5, -1, 0}, g2[3] = {-0.25, -1, 2};
  lb_adam_step(3, th, m, v, g1, 0.01, 0.9, 0.999, 1e-8, 1);
  double e0 = 1 - 0.01 * 0.5 / (0.5 + 1e-8);
  double e1 = -2 + 0.01 * 1.0 / (1.0 + 1e-8);
  cr_expect(fabs(th[0] - e0) < 1e-15, "%.17g vs %.17g", th[0], e0);
  cr_expect(fabs(th[1] - e1) < 1e-15, "%.17g vs %.17g", th[1], e1);
  cr_expect_eq(th[2], 0.5); /* zero gradient: no move */
  /* 1 - 0.9 is not exact in binary: relative tolerance of a few ulps */
  cr_expect(fabs(m[0] - 0.05) < 1e-15 * 0.05 && fabs(v[0] - 0.00025) < 1e-15 * 0.00025,
            "%.17g %.17g", m[0], v[0]);
  lb_adam_step(3, th, m, v, g2, 0.01, 0.9, 0.999, 1e-8, 2);
  cr_expect(fabs(m[0] - 0.02) < 1e-14 * 0.02, "%.17g", m[0]);
  cr_expect(fabs(v[0] - 0.00031225) < 1e-14 * 0.00031225, "%.17g", v[0]);
  double f0 = e0 - 0.01 * (0.02 / 0.19) / (sqrt(0.00031225 / 0.001999) + 1e-8);
  cr_expect(fabs(th[0] - f0) < 1e-15, "%.17g vs %.17g", th[0], f0);
  /* coordinate 1: constant gradient -1: mhat = -1, vhat = 1 */
  double f1 = e1 + 0.01 * 1.0 / (1.0 + 1e-8);
  cr_expect(fabs(th[1] - f1) < 1e-15, "%.17g vs %.17g", th[1], f1);
  /* coordinate 2: m = 0.2, v = 0.004, mhat = 0.2/0.19, vhat = 0.004/0.001999 */
  double f2 = 0.5 - 0.01 * (0.2 / 0.19) / (sqrt(0.004 / 0.001999) + 1e-8);
  cr_expect(fabs(th[2] - f2) < 1e-15, "%.17g vs %.17g", th[2], f2);
}

Test(mlp_opt, ema_update) {
  double ema[2] = {1, 2}, th[2] = {3, -2};
  lb_ema_update(2, ema, th, 0.9);
  cr_expect(fabs(ema[0] - 1.2) < 1e-15 && fabs(ema[1] - 1.6) < 1e-15,
            "%.17g %.17g", ema[0], ema[1]);
  /* n updates towards a constant: ema_n = th + decay^n (ema_0 - th) */
  for (int k = 1; k < 50; k++) lb_ema_update(2, ema, th, 0.9);
  double p = pow(0.9, 50);
  cr_expect(fabs(ema[0] - (3 + p * (1 - 3))) < 1e-13, "%.17g", ema[0]);
  cr_expect(fabs(ema[1] - (-2 + p * (2 + 2))) < 1e-13, "%.17g", ema[1]);
}
