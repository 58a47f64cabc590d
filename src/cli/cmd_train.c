/* cmd_train.c -- `langbench train`: fit the noise-prediction MLP to a data
 * law by denoising score matching and write the model file (src/mlp/).
 * GPL-3.0-or-later. */
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "commands.h"
#include "mlp.h"

static const char *usage =
    "usage: langbench train --data DATA --out FILE.h5 [--steps N]\n"
    "                       [--batch B] [--width W] [--depth L] [--lr R]\n"
    "                       [--warmup F] [--ema E] [--seed S]\n"
    "                       [--schedule paper|linear] [--threads T] [--quiet]\n"
    "       langbench train --show FILE.h5\n"
    "Train eps_theta(x, s) for the 1000-step DDPM forward process (Adam,\n"
    "EMA of the weights, cosine learning-rate decay); schema in the README.\n"
    "  --data DATA      a toy set (moons, 8gaussians, swissroll, checkerboard,\n"
    "                   rings, pinwheel, 2spirals, circles) or a target SPEC\n"
    "                   (e.g. gmm:preset=ring8), drawn exactly\n"
    "  --steps N        optimiser steps (default 6000)\n"
    "  --batch B        minibatch size (default 1024)\n"
    "  --width W        hidden units per layer (default 128)\n"
    "  --depth L        hidden layers (default 3)\n"
    "  --lr R           peak learning rate (default 3e-3)\n"
    "  --warmup F       fraction of steps of linear warm-up (default 0.02)\n"
    "  --ema E          EMA decay of the sampling weights (default 0.999)\n"
    "  --seed S         seed of the Philox streams (default 1)\n"
    "  --schedule NAME  DDPM betas: paper (default) or linear\n"
    "  --threads T      training threads (default 1); the result does not\n"
    "                   depend on T\n"
    "  --quiet          no progress output\n"
    "  --show FILE.h5   validate a model file and print its summary\n";

/* --show: read and validate (exit 2 with one line on a bad file). */
static int show(const char *path) {
  lb_err e = {{0}};
  lb_mlp_file f;
  int rc = lb_mlp_file_read(path, &f, &e);
  if (rc) {
    fprintf(stderr, "langbench train: --show: %s\n", e.msg);
    return rc;
  }
  printf("%s: %s %zu -> %zu x %zu -> %zu (%zu parameters), schedule %s "
         "N=%d\n  data %s, seed %ld, %ld steps x %ld, lr %g (%s, warmup "
         "%g), ema %g\n  final loss %.4f, trained in %.1f s on %ld "
         "thread(s), langbench %s, %s\n",
         path, LB_MLP_ARCH, f.arch.dim, f.arch.width, f.arch.depth,
         f.arch.dim, f.arch.nparams, f.sched.name, f.sched.N, f.data, f.seed,
         f.steps, f.batch, f.lr, f.lr_schedule, f.warmup, f.ema_decay,
         f.nloss ? f.loss[f.nloss - 1] : 0.0, f.train_seconds, f.threads,
         f.langbench_version, f.created);
  lb_mlp_file_clear(&f);
  return 0;
}

int lb_cmd_train(int argc, char **argv) {
  const char *data = NULL, *out = NULL, *steps = NULL, *batch = NULL,
             *width = NULL, *depth = NULL, *lr = NULL, *warmup = NULL,
             *ema = NULL, *seed = NULL, *sched = NULL, *threads = NULL,
             *quiet = NULL, *showf = NULL;
  const lb_opt opts[] = {{"data", 1, &data},       {"out", 1, &out},
                         {"steps", 1, &steps},     {"batch", 1, &batch},
                         {"width", 1, &width},     {"depth", 1, &depth},
                         {"lr", 1, &lr},           {"warmup", 1, &warmup},
                         {"ema", 1, &ema},         {"seed", 1, &seed},
                         {"schedule", 1, &sched},  {"threads", 1, &threads},
                         {"quiet", 0, &quiet},     {"show", 1, &showf},
                         {NULL, 0, NULL}};
  int help;
  if (lb_cli_parse("train", argc, argv, opts, NULL, 0, NULL, &help))
    return LB_EINPUT;
  if (help) {
    fputs(usage, stdout);
    return 0;
  }
  if (showf) return show(showf);
  if (!data) return lb_usage_error("train", "missing --data");
  if (!out) return lb_usage_error("train", "missing --out");
  long nsteps = 6000, nbatch = 1024, nwidth = 128, ndepth = 3, nseed = 1,
       nthreads = 1;
  lb_train_opts o = {.data = data, .schedule = sched ? sched : "paper",
                     .lr = 3e-3, .warmup = 0.02, .ema = 0.999};
  if (lb_cli_long("train", "--steps", steps, 1, LONG_MAX / 2, &nsteps) ||
      lb_cli_long("train", "--batch", batch, 1, 1L << 20, &nbatch) ||
      lb_cli_long("train", "--width", width, 1, 4096, &nwidth) ||
      lb_cli_long("train", "--depth", depth, 1, LB_MLP_MAXDEPTH, &ndepth) ||
      lb_cli_long("train", "--seed", seed, 0, LONG_MAX, &nseed) ||
      lb_cli_long("train", "--threads", threads, 1, 4096, &nthreads) ||
      lb_cli_double("train", "--lr", lr, 0.0, 1.0, &o.lr) ||
      lb_cli_double("train", "--warmup", warmup, -1e-300, 0.5, &o.warmup) ||
      lb_cli_double("train", "--ema", ema, -1e-300, 0.999999, &o.ema))
    return LB_EINPUT;
  if (strcmp(o.schedule, "paper") != 0 && strcmp(o.schedule, "linear") != 0)
    return lb_usage_error("train", "--schedule %s: must be paper or linear",
                          o.schedule);
  o.steps = nsteps, o.batch = nbatch, o.width = (size_t)nwidth;
  o.depth = (size_t)ndepth, o.seed = (uint64_t)nseed;
  o.threads = (int)nthreads;
  o.progress = quiet ? 0 : isatty(2) ? 2 : 1;

  /* fail on an unwritable --out before training, not after */
  char part[4200];
  snprintf(part, sizeof part, "%s.part", out);
  FILE *pf = fopen(part, "w");
  if (!pf) return lb_usage_error("train", "--out: cannot create '%s'", part);
  fclose(pf);
  unlink(part);

  lb_err e = {{0}};
  lb_mlp_file f;
  int rc = lb_mlp_train(&o, &f, &e);
  if (!rc) {
    lb_iso_now(f.created, sizeof f.created);
    lb_cli_join(argc, argv, f.command, sizeof f.command);
    rc = lb_mlp_file_write(out, &f, &e);
  }
  if (rc) {
    fprintf(stderr, "langbench train: %s\n", e.msg);
  } else {
    printf("wrote %s: %s, %zu x %zu MLP (%zu parameters), %ld steps x %ld, "
           "final loss %.4f, %.1f s\n",
           out, data, f.arch.width, f.arch.depth, f.arch.nparams, nsteps,
           nbatch, f.nloss ? f.loss[f.nloss - 1] : 0.0, f.train_seconds);
  }
  lb_mlp_file_clear(&f);
  return rc;
}
