/* test_mlp.c -- the noise-prediction MLP: backpropagation against finite
 * differences, Adam and EMA against hand-computed values, training, the
 * model file and its error handling.  GPL-3.0-or-later. */
#include <criterion/criterion.h>
#include <hdf5.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "io.h"
#include "mlp.h"
#include "mlp_quality.h"
#include "rng.h"
#include "target.h"
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

/* ---- toy data ------------------------------------------------------------ */

/* Mean of f over n draws of `spec` against the exact value, within
 * LB_TEST_NSE standard errors. */
static void expect_mean(const char *spec, double (*f)(const double *),
                        double exact) {
  lb_data *d;
  lb_err e;
  cr_assert_eq(lb_data_alloc(spec, "--data", &d, &e), LB_OK, "%s", e.msg);
  size_t n = 40000, dim = lb_data_dim(d);
  double *x = malloc(n * dim * sizeof(double)), *v = malloc(n * sizeof(double));
  gsl_rng *r = lb_rng_alloc();
  lb_rng_seed(r, 5, 0, 0);
  lb_data_draw(d, r, n, x);
  for (size_t i = 0; i < n; i++) v[i] = f(x + i * dim);
  double m, se;
  lb_test_mean_se(v, n, 1, &m, &se);
  cr_expect(fabs(m - exact) <= LB_TEST_NSE * se, "%s: %.5f vs exact %.5f (se %.5f)",
            spec, m, exact, se);
  free(x), free(v);
  gsl_rng_free(r);
  lb_data_free(d);
}

static double fx0(const double *x) { return x[0]; }
static double fx1(const double *x) { return x[1]; }
static double fr2(const double *x) { return x[0] * x[0] + x[1] * x[1]; }
static double fx0sq(const double *x) { return x[0] * x[0]; }

/* Exact moments of the documented generators (data.c):
 *   moons: arcs' means (0, 2/pi) and (1, 1/2 - 2/pi), so E x = (1/2, 1/4)
 *          before x -> 2x + (-1, -0.2): (0, 0.3).
 *   8gaussians: E|x|^2 = 16/2 + 2 (0.5^2 / 2) = 8.25.
 *   rings: E|x|^2 = 0.5625 (1 + 4 + 9 + 16)/4 + 2 (0.08^2) = 4.23155.
 *   circles: E|x|^2 = 9 ((1 + 1/4)/2 + 2 (0.08^2)) = 5.7402.
 *   checkerboard: x1 = 2 Unif(-2, 2): E x1^2 = 16/3.
 *   swissroll: E|x|^2 = (E t^2 + 2) / 25 with t ~ Unif(1.5 pi, 4.5 pi),
 *          E t^2 = (4.5^3 - 1.5^3) pi^2 / 9. */
Test(mlp_data, toy_moments) {
  expect_mean("moons", fx0, 0.0);
  expect_mean("moons", fx1, 0.3);
  expect_mean("8gaussians", fr2, 8.25);
  expect_mean("8gaussians", fx0, 0.0);
  expect_mean("rings", fr2, 0.5625 * 7.5 + 2 * 0.0064);
  expect_mean("circles", fr2, 9 * (0.625 + 2 * 0.0064));
  expect_mean("checkerboard", fx0sq, 16.0 / 3.0);
  double et2 = (pow(4.5, 3) - pow(1.5, 3)) * M_PI * M_PI / 9.0;
  expect_mean("swissroll", fr2, (et2 + 2.0) / 25.0);
}

/* A target SPEC is drawn with its exact sampler: ring8's mean. */
Test(mlp_data, target_spec) {
  lb_target *t;
  lb_err e;
  cr_assert_eq(lb_target_alloc("gmm:preset=ring8", &t, &e), LB_OK);
  expect_mean("gmm:preset=ring8", fx0, t->mean[0]);
  expect_mean("gmm:preset=ring8", fx1, t->mean[1]);
  lb_target_free(t);
}

Test(mlp_data, every_toy_set_and_bad_specs) {
  lb_err e;
  lb_data *d;
  gsl_rng *r = lb_rng_alloc();
  for (int k = 0; lb_data_toy_names[k]; k++) {
    cr_assert_eq(lb_data_alloc(lb_data_toy_names[k], "--data", &d, &e), LB_OK);
    double x[2000], y[2000];
    lb_rng_seed(r, 3, 0, 0);
    lb_data_draw(d, r, 1000, x);
    lb_rng_seed(r, 3, 0, 0);
    lb_data_draw(d, r, 1000, y);
    cr_expect(lb_all_finite(x, 2000), "%s", lb_data_toy_names[k]);
    cr_expect_arr_eq(x, y, sizeof x, "%s: same seed, same draws",
                     lb_data_toy_names[k]);
    lb_data_free(d);
  }
  gsl_rng_free(r);
  cr_expect_eq(lb_data_alloc("nosuch", "--data", &d, &e), LB_EINPUT);
  cr_expect(strstr(e.msg, "--data") && strstr(e.msg, "nosuch"), "%s", e.msg);
  cr_expect_eq(lb_data_alloc("moons:noise=1", "--data", &d, &e), LB_EINPUT);
  cr_expect(strstr(e.msg, "noise") != NULL, "%s", e.msg);
}

/* ---- training ---------------------------------------------------------- */

static lb_train_opts tiny(const char *data, long steps, int threads) {
  lb_train_opts o = {.data = data, .schedule = "paper", .steps = steps,
                     .batch = 300, .width = 16, .depth = 2, .lr = 3e-3,
                     .warmup = 0.02, .ema = 0.99, .seed = 7,
                     .threads = threads, .progress = 0};
  return o;
}

/* The loss falls on a fixed seed: the per-step loss has relative standard
 * deviation about sqrt(2 / (B d)) ~ 4% at B = 300, d = 2, so a fall from
 * the first window to the last of a factor 0.7 is far outside noise; an
 * untrained network predicting ~0 has loss ~1 (the noise's variance). */
Test(mlp_train, loss_falls) {
  lb_train_opts o = tiny("8gaussians", 400, 1);
  lb_mlp_file f;
  lb_err e;
  cr_assert_eq(lb_mlp_train(&o, &f, &e), LB_OK, "%s", e.msg);
  cr_assert_eq(f.loss_every, 2);
  cr_assert_eq(f.nloss, 200);
  double first = (f.loss[0] + f.loss[1]) / 2;
  double last = (f.loss[198] + f.loss[199]) / 2;
  cr_expect(first > 0.8, "first %.4f", first);
  cr_expect(last < 0.7 * first, "first %.4f last %.4f", first, last);
  lb_mlp_file_clear(&f);
}

/* Same seed -> same bits, for 1, 2, 3 and 7 threads (the chunked
 * reduction; at width 96 the 12 866 parameters make 4 update blocks of
 * 4096, so 2 and 3 threads split both the 6 chunks and the blocks, and 7
 * threads on this 2-core machine are more threads than chunks, some of
 * them descheduled while they hold a task or after reading a phase that
 * is over: the tasks go to whoever claims them first); another seed ->
 * other weights. */
Test(mlp_train, deterministic_any_threads) {
  lb_mlp_file a, b, b3, b7, c;
  lb_err e;
  lb_train_opts o = tiny("moons", 30, 1);
  o.batch = 700; /* 6 chunks, the last one partial */
  o.width = 96;
  cr_assert_eq(lb_mlp_train(&o, &a, &e), LB_OK, "%s", e.msg);
  cr_assert_eq(a.arch.nparams, 12866);
  o.threads = 2;
  cr_assert_eq(lb_mlp_train(&o, &b, &e), LB_OK, "%s", e.msg);
  o.threads = 3;
  cr_assert_eq(lb_mlp_train(&o, &b3, &e), LB_OK, "%s", e.msg);
  o.threads = 7;
  cr_assert_eq(lb_mlp_train(&o, &b7, &e), LB_OK, "%s", e.msg);
  o.seed = 8;
  cr_assert_eq(lb_mlp_train(&o, &c, &e), LB_OK, "%s", e.msg);
  size_t n = a.arch.nparams;
  cr_expect_arr_eq(a.ema, b.ema, n * sizeof(double));
  cr_expect_arr_eq(a.loss, b.loss, a.nloss * sizeof(double));
  cr_expect_arr_eq(a.ema, b3.ema, n * sizeof(double));
  cr_expect_arr_eq(a.loss, b3.loss, a.nloss * sizeof(double));
  cr_expect_arr_eq(a.ema, b7.ema, n * sizeof(double));
  cr_expect_arr_eq(a.loss, b7.loss, a.nloss * sizeof(double));
  cr_expect(memcmp(a.ema, c.ema, n * sizeof(double)) != 0);
  lb_mlp_file_clear(&a), lb_mlp_file_clear(&b), lb_mlp_file_clear(&b3);
  lb_mlp_file_clear(&b7), lb_mlp_file_clear(&c);
}

/* ---- model file ------------------------------------------------------------ */

static void mpath(char *buf, size_t len, const char *name) {
  snprintf(buf, len, "%s/%s", lb_test_tmpdir(), name);
}

static void model_free(lb_model *m) {
  if (m->type->free) m->type->free(m->state);
  free(m);
}

/* Train a tiny model and write it to NAME in the temporary directory. */
static void write_tiny(const char *name, lb_mlp_file *f) {
  lb_train_opts o = tiny("moons", 20, 1);
  lb_err e;
  cr_assert_eq(lb_mlp_train(&o, f, &e), LB_OK, "%s", e.msg);
  snprintf(f->created, sizeof f->created, "2026-01-01T00:00:00Z");
  snprintf(f->command, sizeof f->command, "langbench train ...");
  char p[512];
  mpath(p, sizeof p, name);
  cr_assert_eq(lb_mlp_file_write(p, f, &e), LB_OK, "%s", e.msg);
}

Test(mlp_file, roundtrip) {
  lb_mlp_file w, r;
  write_tiny("rt.h5", &w);
  char p[512];
  mpath(p, sizeof p, "rt.h5");
  lb_err e;
  cr_assert_eq(lb_mlp_file_read(p, &r, &e), LB_OK, "%s", e.msg);
  cr_expect_eq(r.arch.dim, 2);
  cr_expect_eq(r.arch.width, 16);
  cr_expect_eq(r.arch.depth, 2);
  cr_expect_eq(r.arch.nparams, w.arch.nparams);
  cr_expect_str_eq(r.sched.name, "paper");
  cr_expect_eq(r.sched.N, 1000);
  cr_expect_arr_eq(r.sched.abar, w.sched.abar, 1001 * sizeof(double));
  cr_expect_str_eq(r.data, "moons");
  cr_expect_str_eq(r.lr_schedule, "cosine");
  cr_expect_str_eq(r.langbench_version, LB_VERSION);
  cr_expect_str_eq(r.created, w.created);
  cr_expect_str_eq(r.command, w.command);
  cr_expect_eq(r.seed, 7);
  cr_expect_eq(r.steps, 20);
  cr_expect_eq(r.batch, 300);
  cr_expect_eq(r.threads, 1);
  cr_expect_eq(r.loss_every, w.loss_every);
  cr_expect_eq(r.lr, w.lr);
  cr_expect_eq(r.warmup, w.warmup);
  cr_expect_eq(r.ema_decay, w.ema_decay);
  cr_expect_eq(r.train_seconds, w.train_seconds);
  cr_assert_eq(r.nloss, w.nloss);
  cr_expect_arr_eq(r.loss, w.loss, w.nloss * sizeof(double));
  cr_expect_arr_eq(r.ema, w.ema, w.arch.nparams * sizeof(double));
  lb_mlp_file_clear(&r);
  lb_mlp_file_clear(&w);
}

/* The lb_model of a file evaluates the EMA network: against
 * lb_mlp_forward on the same weights, in a block with ld > B, more rows
 * than one evaluation chunk, integer and fractional steps. */
Test(mlp_file, model_eval) {
  lb_mlp_file w;
  write_tiny("ev.h5", &w);
  char p[512];
  mpath(p, sizeof p, "ev.h5");
  lb_model *m;
  lb_err e;
  cr_assert_eq(lb_mlp_model_load(p, &m, &e), LB_OK, "%s", e.msg);
  cr_expect_str_eq(m->type->name, "mlp");
  cr_expect_eq(m->dim, 2);
  cr_expect_eq(m->sched.N, 1000);
  size_t B = 600, ld = 613;
  double *x = calloc(2 * ld, sizeof(double)), *s = malloc(B * sizeof(double));
  double *eps = calloc(2 * ld, sizeof(double));
  double *work = malloc(m->type->work_size(m, B) * sizeof(double));
  gsl_rng *r = lb_rng_alloc();
  lb_rng_seed(r, 1, 0, 0);
  for (size_t b = 0; b < B; b++) {
    x[b] = 4 * gsl_rng_uniform(r) - 2;
    x[ld + b] = 4 * gsl_rng_uniform(r) - 2;
    s[b] = b % 3 ? (double)(b % 1000) : 0.5 + (double)b;
  }
  m->type->eval(m, B, ld, x, s, eps, work);
  double xr[2], em[LB_MLP_EMB], y[2];
  double *fw = malloc(lb_mlp_forward_work(&w.arch, 1) * sizeof(double));
  for (size_t b = 0; b < B; b++) {
    xr[0] = x[b], xr[1] = x[ld + b];
    lb_mlp_embed(s[b], em, 1);
    lb_mlp_forward(&w.arch, w.ema, 1, xr, 1, em, y, 1, fw);
    for (int i = 0; i < 2; i++)
      cr_expect(fabs(eps[i * ld + b] - y[i]) <= 1e-13 * (1 + fabs(y[i])),
                "row %zu coord %d: %.17g vs %.17g", b, i, eps[i * ld + b], y[i]);
  }
  gsl_rng_free(r);
  free(x), free(s), free(eps), free(work), free(fw);
  model_free(m);
  lb_mlp_file_clear(&w);
}

/* ---- bad model files: exit status 2 and one line naming the file --------- */

typedef enum { BAD_TEXT, BAD_TRUNC, BAD_SHAPE, BAD_VIEW, BAD_ARCH, BAD_NEWER,
               BAD_FORMAT, BAD_MISSING, BAD_NAN } badkind;

static void set_attr_str(hid_t f, const char *name, const char *v) {
  H5Adelete(f, name);
  hid_t t = H5Tcopy(H5T_C_S1);
  H5Tset_size(t, strlen(v) + 1);
  hid_t sp = H5Screate(H5S_SCALAR);
  hid_t a = H5Acreate2(f, name, t, sp, H5P_DEFAULT, H5P_DEFAULT);
  H5Awrite(a, t, v);
  H5Aclose(a), H5Sclose(sp), H5Tclose(t);
}

static void make_bad(const char *p, badkind k) {
  lb_mlp_file w;
  char name[64];
  snprintf(name, sizeof name, "bad%d.h5", (int)k);
  write_tiny(name, &w);
  if (k == BAD_TEXT) {
    FILE *fp = fopen(p, "w");
    fputs("not a model\n", fp);
    fclose(fp);
  } else if (k == BAD_TRUNC) {
    FILE *fp = fopen(p, "rb");
    fseek(fp, 0, SEEK_END);
    long n = ftell(fp);
    char *buf = malloc((size_t)n);
    fseek(fp, 0, SEEK_SET);
    cr_assert_eq(fread(buf, 1, (size_t)n, fp), (size_t)n);
    fclose(fp);
    fp = fopen(p, "wb");
    fwrite(buf, 1, (size_t)n / 2, fp);
    fclose(fp);
    free(buf);
  } else {
    hid_t f = H5Fopen(p, H5F_ACC_RDWR, H5P_DEFAULT);
    cr_assert(f >= 0);
    if (k == BAD_SHAPE) { /* /weights one value short */
      H5Ldelete(f, "weights", H5P_DEFAULT);
      hsize_t n = w.arch.nparams - 1;
      hid_t sp = H5Screate_simple(1, &n, NULL);
      hid_t ds = H5Dcreate2(f, "weights", H5T_IEEE_F64LE, sp, H5P_DEFAULT,
                            H5P_DEFAULT, H5P_DEFAULT);
      H5Dwrite(ds, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, w.ema);
      H5Dclose(ds), H5Sclose(sp);
    } else if (k == BAD_VIEW) { /* a view that disagrees with width */
      hid_t ds = H5Dopen2(f, "weights", H5P_DEFAULT);
      hid_t a = H5Aopen(ds, "layer1.W", H5P_DEFAULT);
      int64_t v[3] = {0, 8, 32};
      H5Awrite(a, H5T_NATIVE_INT64, v);
      H5Aclose(a), H5Dclose(ds);
    } else if (k == BAD_ARCH) {
      set_attr_str(f, "architecture", "transformer");
    } else if (k == BAD_NEWER) {
      hid_t a = H5Aopen(f, "format_version", H5P_DEFAULT);
      int64_t v = LB_MLP_FORMAT_VERSION + 1;
      H5Awrite(a, H5T_NATIVE_INT64, &v);
      H5Aclose(a);
    } else if (k == BAD_FORMAT) {
      set_attr_str(f, "format", "langbench-run");
    } else if (k == BAD_MISSING) {
      H5Adelete(f, "width");
    } else if (k == BAD_NAN) {
      w.ema[3] = NAN;
      hid_t ds = H5Dopen2(f, "weights", H5P_DEFAULT);
      H5Dwrite(ds, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, w.ema);
      H5Dclose(ds);
    }
    H5Fclose(f);
  }
  lb_mlp_file_clear(&w);
}

Test(mlp_file, bad_files_exit_2) {
  lb_io_quiet();
  static const struct {
    badkind k;
    const char *word;
  } cases[] = {{BAD_TEXT, "not an HDF5"},     {BAD_TRUNC, "bad1.h5"},
               {BAD_SHAPE, "/weights has"},   {BAD_VIEW, "layer1.W"},
               {BAD_ARCH, "transformer"},     {BAD_NEWER, "newer"},
               {BAD_FORMAT, "langbench-run"}, {BAD_MISSING, "width"},
               {BAD_NAN, "non-finite"}};
  for (size_t c = 0; c < sizeof cases / sizeof *cases; c++) {
    char name[64], p[512], args[700], err[1024];
    snprintf(name, sizeof name, "bad%d.h5", (int)cases[c].k);
    mpath(p, sizeof p, name);
    make_bad(p, cases[c].k);
    lb_model *m = NULL;
    lb_err e;
    cr_expect_eq(lb_mlp_model_load(p, &m, &e), LB_EINPUT, "case %zu", c);
    cr_expect_null(m);
    cr_expect(strchr(e.msg, '\n') == NULL, "one line: %s", e.msg);
    cr_expect(strstr(e.msg, name) && strstr(e.msg, cases[c].word),
              "case %zu: %s", c, e.msg);
    snprintf(args, sizeof args, "train --show '%s'", p);
    cr_expect_eq(lb_test_cli(args, err, sizeof err), 2, "case %zu", c);
    cr_expect(strstr(err, name) != NULL, "case %zu: %s", c, err);
  }
}

/* ---- the train command ------------------------------------------------------ */

Test(mlp_cli, train_and_bad_input) {
  char p[512], args[1200], err[1024];
  mpath(p, sizeof p, "cli.h5");
  snprintf(args, sizeof args, "train --data gmm:preset=ring8 --out '%s' "
           "--steps 5 --batch 64 --width 8 --depth 1 --threads 2", p);
  cr_assert_eq(lb_test_cli(args, err, sizeof err), 0, "%s", err);
  lb_model *m;
  lb_err e;
  cr_assert_eq(lb_mlp_model_load(p, &m, &e), LB_OK, "%s", e.msg);
  cr_expect_str_eq(m->desc, p);
  model_free(m);
  snprintf(args, sizeof args, "train --show '%s'", p);
  cr_expect_eq(lb_test_cli(args, err, sizeof err), 0, "%s", err);

  static const struct {
    const char *opts, *word;
  } bad[] = {{"--data nosuch", "--data"},
             {"--data moons:noise=1", "noise"},
             {"--data moons --width 0", "--width"},
             {"--data moons --depth 99", "--depth"},
             {"--data moons --lr -1", "--lr"},
             {"--data moons --schedule cosine", "--schedule"},
             {"--data moons --steps x", "--steps"},
             {"--data gaussian:dim=0", "dim"}};
  mpath(p, sizeof p, "never.h5");
  for (size_t c = 0; c < sizeof bad / sizeof *bad; c++) {
    snprintf(args, sizeof args, "train %s --steps 3 --out '%s'", bad[c].opts, p);
    if (strstr(bad[c].opts, "--steps")) 
      snprintf(args, sizeof args, "train %s --out '%s'", bad[c].opts, p);
    cr_expect_eq(lb_test_cli(args, err, sizeof err), 2, "%s", bad[c].opts);
    cr_expect(strstr(err, bad[c].word) != NULL, "%s: %s", bad[c].opts, err);
    cr_expect(access(p, F_OK) != 0, "no output under the requested name");
  }
  cr_expect_eq(lb_test_cli("train --data moons --out /nonexistent/dir/x.h5",
                           err, sizeof err), 2);
  cr_expect(strstr(err, "--out") != NULL, "%s", err);
}

/* The SiLU's sigmoid (lb_exp of vmath.h on -|z|) against libm: relative
 * error at most 1e-15 (about 4.5 ulps: lb_exp's 1 ulp, the divide and the
 * product) over [-700, 700]; exact 1/2 at 0; no overflow or NaN beyond. */
Test(mlp_arch, sigmoid_against_libm) {
  double worst = 0;
  for (long i = -700000; i <= 700000; i++) {
    double z = (double)i * 1e-3 + 3e-7 * (double)(i % 11);
    double ref = 1.0 / (1.0 + exp(-z));
    double r = fabs(lb_mlp_sigmoid(z) / ref - 1.0);
    if (r > worst) worst = r;
  }
  cr_expect(worst <= 1e-15, "max relative error %.3g", worst);
  cr_expect_eq(lb_mlp_sigmoid(0.0), 0.5);
  cr_expect_eq(lb_mlp_sigmoid(800.0), 1.0);
  cr_expect_eq(lb_mlp_sigmoid(-800.0), 0.0);
  cr_expect(isnan(lb_mlp_sigmoid(NAN)));
}

/* ---- sample quality of the shipped moons model ---------------------------- */

/* The shipped moons model against the data law and against a poorly
 * trained model (150 steps at batch 256), 1000 samples each by the
 * 1000-step DDPM sampler of mlp_quality.h.  The fraction of samples far
 * from the arcs is a binomial proportion: its standard error is
 * sqrt(p (1 - p) / n).  Checks, at LB_TEST_NSE standard errors of the
 * difference: the model's fraction is not above the data's (the floor,
 * about 1.5%), and the poor model's is above the model's.  The histogram
 * KL and quarter-bandwidth MMD have no closed-form standard error here:
 * the test only asks that they order the two models; their values and
 * floors are in the README (make bench). */
Test(mlp_quality, moons_model_vs_data_and_poor_model, .timeout = 120) {
  lb_model *good;
  lb_err e;
  cr_assert_eq(lb_mlp_model_load("targets/models/moons.h5", &good, &e), LB_OK,
               "%s", e.msg);
  lb_train_opts o = {.data = "moons", .schedule = "paper", .steps = 150,
                     .batch = 256, .width = 128, .depth = 3, .lr = 3e-3,
                     .warmup = 0.02, .ema = 0.999, .seed = 3, .threads = 2,
                     .progress = 0};
  lb_mlp_file f;
  cr_assert_eq(lb_mlp_train(&o, &f, &e), LB_OK, "%s", e.msg);
  lb_model *poor;
  cr_assert_eq(lb_mlp_model_from(&f.arch, &f.sched, f.ema, "poor", &poor, &e),
               LB_OK);
  size_t n = 1000, m = 4000;
  double *xg = malloc(2 * n * sizeof(double)), *xp = malloc(2 * n * sizeof(double));
  double *xd = malloc(2 * n * sizeof(double)), *ref = malloc(2 * m * sizeof(double));
  q_ddpm_sample(good, n, 21, 2, xg);
  q_ddpm_sample(poor, n, 21, 2, xp);
  lb_data *d;
  cr_assert_eq(lb_data_alloc("moons", "--data", &d, &e), LB_OK);
  gsl_rng *r = lb_rng_alloc();
  lb_rng_seed(r, 22, 0, 0);
  lb_data_draw(d, r, n, xd);
  lb_rng_seed(r, 23, 0, 0);
  lb_data_draw(d, r, m, ref);
  q_measures qg = q_measure(xg, n, ref, m), qp = q_measure(xp, n, ref, m);
  q_measures qd = q_measure(xd, n, ref, m);
  cr_log_info("moons far/hist_kl/mmd_q: data %.4f %.4f %.5f, model %.4f %.4f "
              "%.5f, poor %.4f %.4f %.5f", qd.far, qd.hist_kl, qd.mmd_q,
              qg.far, qg.hist_kl, qg.mmd_q, qp.far, qp.hist_kl, qp.mmd_q);
  double sg = qg.far * (1 - qg.far) / n, sp = qp.far * (1 - qp.far) / n;
  double sd = qd.far * (1 - qd.far) / n;
  cr_expect(qg.far <= qd.far + LB_TEST_NSE * sqrt(sg + sd),
            "model far %.4f vs data %.4f", qg.far, qd.far);
  cr_expect(qp.far > qg.far + LB_TEST_NSE * sqrt(sg + sp),
            "poor far %.4f vs model %.4f", qp.far, qg.far);
  cr_expect(qp.hist_kl > qg.hist_kl, "hist KL poor %.4f model %.4f",
            qp.hist_kl, qg.hist_kl);
  cr_expect(qp.mmd_q > qg.mmd_q, "MMD poor %.5f model %.5f", qp.mmd_q,
            qg.mmd_q);
  gsl_rng_free(r);
  lb_data_free(d);
  free(xg), free(xp), free(xd), free(ref);
  model_free(good);
  model_free(poor);
  lb_mlp_file_clear(&f);
}
