/* cmd_diffuse.c -- `langbench diffuse`: samples of a diffusion model
 * (trained or the exact oracle) with a reverse sampler, written as an
 * HDF5 run file.  The work is in src/diffusion/.  GPL-3.0-or-later. */
#include <limits.h>
#include <omp.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "commands.h"
#include "diffuse.h"
#include "io.h"
#include "model.h"
#include "target.h"

static const char *const CMD = "diffuse";

static const char *usage =
    "usage: langbench diffuse --model MODEL --sampler SPEC [--nfe N]\n"
    "                         --out FILE.h5 [--target SPEC] [--samples n]\n"
    "                         [--seed S] [--threads T] [--record-every R]\n"
    "                         [--record-chains M] [--schedule paper|linear]\n"
    "Reverse-diffusion samples of MODEL (a trained model file, or `oracle`:\n"
    "the exact noise predictor of --target, a gmm or gaussian data law).\n"
    "Samplers (README, Diffusion):\n"
    "  ddpm[:variant=v1|v1a|v1b|v1c|v1d|v2|v3]   respaced to N steps (v2)\n"
    "  ddim[:eta=E]                              E in [0,1] (0)\n"
    "  dpmsolver[:order=1|2|3,skip=logsnr|time_uniform|time_quadratic]\n"
    "  dpmsolver++[:order=..,skip=..]            multistep (2, logsnr)\n"
    "  pmm[:K=K,option=1|2,variant=..]           on the 1000-step chain;\n"
    "                                            --nfe N picks the K whose\n"
    "                                            expected NFE is nearest\n"
    "  --nfe N            network calls per sample (steps; pmm: see above)\n"
    "  --target SPEC      the data law (needed by oracle; stored as the\n"
    "                     run's target so `langbench metrics` compares\n"
    "                     against it)\n"
    "  --samples n        samples (default 10000)\n"
    "  --seed S           seed (default 1); output independent of --threads\n"
    "  --threads T        OpenMP threads (default: all cores)\n"
    "  --record-every R   trajectory every R sampler steps (default 0: off)\n"
    "  --record-chains M  samples in /trajectory (default min(n, 64))\n"
    "  --schedule NAME    the oracle's beta schedule (default paper)\n";

int lb_cmd_diffuse(int argc, char **argv) {
  const char *model = NULL, *sampler = NULL, *nfe = NULL, *out = NULL,
             *target = NULL, *samples = NULL, *seed = NULL, *threads = NULL,
             *rec_every = NULL, *rec_chains = NULL, *schedule = NULL;
  const lb_opt opts[] = {{"model", 1, &model},
                         {"sampler", 1, &sampler},
                         {"nfe", 1, &nfe},
                         {"out", 1, &out},
                         {"target", 1, &target},
                         {"samples", 1, &samples},
                         {"seed", 1, &seed},
                         {"threads", 1, &threads},
                         {"record-every", 1, &rec_every},
                         {"record-chains", 1, &rec_chains},
                         {"schedule", 1, &schedule},
                         {NULL, 0, NULL}};
  int help;
  if (lb_cli_parse(CMD, argc, argv, opts, NULL, 0, NULL, &help))
    return LB_EINPUT;
  if (help) {
    fputs(usage, stdout);
    return 0;
  }
  if (!model) return lb_usage_error(CMD, "missing --model");
  if (!sampler) return lb_usage_error(CMD, "missing --sampler");
  if (!out) return lb_usage_error(CMD, "missing --out");
  long nnfe = 0, nsamples = 10000, nseed = 1, nthreads = omp_get_num_procs(),
       every = 0;
  if (lb_cli_long(CMD, "--nfe", nfe, 1, 1000000, &nnfe) ||
      lb_cli_long(CMD, "--samples", samples, 1, 1L << 40, &nsamples) ||
      lb_cli_long(CMD, "--seed", seed, 0, LONG_MAX, &nseed) ||
      lb_cli_long(CMD, "--threads", threads, 1, 4096, &nthreads) ||
      lb_cli_long(CMD, "--record-every", rec_every, 0, LONG_MAX, &every))
    return LB_EINPUT;
  long rchains = nsamples < 64 ? nsamples : 64;
  if (lb_cli_long(CMD, "--record-chains", rec_chains, 0,
                  nsamples < LB_DIFFUSE_BLOCK ? nsamples : LB_DIFFUSE_BLOCK,
                  &rchains))
    return LB_EINPUT;

  lb_err e = {{0}};
  lb_target *t = NULL;
  lb_model *m = NULL;
  lb_dsampler *s = NULL;
  lb_run run = {0};
  lb_out o = {0};
  o.file = -1;
  int rc = target ? lb_target_alloc(target, &t, &e) : LB_OK;
  if (!rc) rc = lb_model_open(model, t, schedule, &m, &e);
  if (!rc && t && t->dim != m->dim)
    rc = lb_fail(&e, LB_EINPUT,
                 "--model %s has dimension %zu but --target %s has %zu", model,
                 m->dim, target, t->dim);
  if (!rc) rc = lb_dsampler_alloc(sampler, &m->sched, nnfe, &s, &e);
  if (!rc) rc = lb_out_open(&o, out, &e);
  if (!rc) {
    lb_diffuse_cfg cfg = {m, s, nsamples, (uint64_t)nseed, (int)nthreads,
                          every, rchains};
    double t0 = omp_get_wtime();
    rc = lb_diffuse(&cfg, &run, &e);
    run.wall_seconds = omp_get_wtime() - t0;
    snprintf(run.target, sizeof run.target, "%s", target ? target : "");
    snprintf(run.sampler, sizeof run.sampler, "%s", s->desc);
    snprintf(run.init, sizeof run.init, "gaussian:var=1");
    lb_iso_now(run.created, sizeof run.created);
    lb_cli_join(argc, argv, run.command, sizeof run.command);
    if (!rc) rc = lb_run_write(o.file, &run, &e);
    if (!rc) rc = lb_diffuse_write_attrs(o.file, m, s, &run, &e);
    if (!rc) rc = lb_out_commit(&o, &e);
  }
  if (rc) {
    lb_out_abort(&o);
    fprintf(stderr, "langbench %s: %s\n", CMD, e.msg);
  } else {
    double tot = 0;
    for (long c = 0; c < nsamples; c++) tot += (double)run.nfe[c];
    printf("wrote %s: %s with %s, %ld samples, %.3f NFE/sample (expected "
           "%.3f), %.2f s\n",
           out, s->desc, m->desc, nsamples, tot / (double)nsamples,
           lb_dsampler_expected_nfe(s), run.wall_seconds);
  }
  lb_run_clear(&run);
  lb_dsampler_free(s);
  lb_model_free(m);
  lb_target_free(t);
  return rc;
}
