/* cmd_sample.c -- `langbench sample`: chains of one sampler on one target,
 * written as an HDF5 run file.  GPL-3.0-or-later. */
#include <limits.h>
#include <omp.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "commands.h"
#include "io.h"
#include "simulate.h"

static const char *usage =
    "usage: langbench sample --target SPEC --sampler SPEC --step H --steps T\n"
    "                        --out FILE.h5 [--chains N] [--seed S]\n"
    "                        [--threads P] [--init SPEC] [--record-every R]\n"
    "                        [--record-chains M]\n"
    "Run N independent chains for T (coarse) steps of size H and write the\n"
    "run file (schema in the README).\n"
    "  --chains N         number of chains (default 1000)\n"
    "  --seed S           seed of the Philox streams (default 1)\n"
    "  --threads P        OpenMP threads (default: all cores); the output\n"
    "                     does not depend on P\n"
    "  --init SPEC        gaussian:var=V[,mean=M] | point:x=X[;X2...] |\n"
    "                     target (exact draws: start in equilibrium)\n"
    "                     (default gaussian:var=1)\n"
    "  --record-every R   record the trajectory every R steps and at the\n"
    "                     last step (default ceil(T/100); 0 disables)\n"
    "  --record-chains M  chains recorded in /trajectory (default min(N,64))\n";

int lb_cmd_sample(int argc, char **argv) {
  const char *target = NULL, *sampler = NULL, *step = NULL, *steps = NULL,
             *chains = NULL, *seed = NULL, *out = NULL, *threads = NULL,
             *init = NULL, *rec_every = NULL, *rec_chains = NULL;
  const lb_opt opts[] = {{"target", 1, &target},
                         {"sampler", 1, &sampler},
                         {"step", 1, &step},
                         {"steps", 1, &steps},
                         {"chains", 1, &chains},
                         {"seed", 1, &seed},
                         {"out", 1, &out},
                         {"threads", 1, &threads},
                         {"init", 1, &init},
                         {"record-every", 1, &rec_every},
                         {"record-chains", 1, &rec_chains},
                         {NULL, 0, NULL}};
  int help;
  if (lb_cli_parse("sample", argc, argv, opts, NULL, 0, NULL, &help))
    return LB_EINPUT;
  if (help) {
    fputs(usage, stdout);
    return 0;
  }
  const char *need[] = {target, sampler, step, steps, out};
  const char *needn[] = {"--target", "--sampler", "--step", "--steps", "--out"};
  for (int i = 0; i < 5; i++)
    if (!need[i]) return lb_usage_error("sample", "missing %s", needn[i]);

  lb_sim sim = {0};
  long nchains = 1000, nseed = 1, nthreads = omp_get_num_procs(), nsteps = 0;
  if (lb_cli_double("sample", "--step", step, 0.0, 1e300, &sim.step) ||
      lb_cli_long("sample", "--steps", steps, 0, LONG_MAX / 2, &nsteps) ||
      lb_cli_long("sample", "--chains", chains, 1, 1L << 40, &nchains) ||
      lb_cli_long("sample", "--seed", seed, 0, LONG_MAX, &nseed) ||
      lb_cli_long("sample", "--threads", threads, 1, 4096, &nthreads))
    return LB_EINPUT;
  long every = nsteps > 0 ? (nsteps + 99) / 100 : 1, rchains = nchains < 64 ? nchains : 64;
  if (lb_cli_long("sample", "--record-every", rec_every, 0, LONG_MAX, &every) ||
      lb_cli_long("sample", "--record-chains", rec_chains, 0, nchains, &rchains))
    return LB_EINPUT;

  lb_err e = {{0}};
  lb_target *t = NULL;
  lb_sampler *s = NULL;
  lb_init in = {0};
  lb_run run = {0};
  lb_out o = {0};
  o.file = -1;
  int rc = lb_target_alloc(target, &t, &e);
  if (!rc) rc = lb_sampler_alloc(sampler, t, &s, &e);
  if (!rc) rc = lb_init_parse(&in, init, t, &e);
  if (!rc && in.has_v && !s->dyn.type->second_order)
    rc = lb_fail(&e, LB_EINPUT,
                 "--init %s: v= and vvar= need an underdamped sampler", init);
  if (!rc) rc = lb_out_open(&o, out, &e);
  if (!rc) {
    sim.target = t;
    sim.sampler = s;
    sim.init = &in;
    sim.steps = nsteps;
    sim.chains = nchains;
    sim.seed = (uint64_t)nseed;
    sim.threads = (int)nthreads;
    sim.record_every = every;
    sim.record_chains = rchains;
    double t0 = omp_get_wtime();
    rc = lb_simulate(&sim, &run, NULL, &e);
    run.wall_seconds = omp_get_wtime() - t0;
    snprintf(run.target, sizeof run.target, "%s", target);
    snprintf(run.sampler, sizeof run.sampler, "%s", sampler);
    snprintf(run.init, sizeof run.init, "%s", in.spec);
    lb_iso_now(run.created, sizeof run.created);
    lb_cli_join(argc, argv, run.command, sizeof run.command);
    if (!rc) rc = lb_run_write(o.file, &run, &e);
    if (!rc) rc = lb_out_commit(&o, &e);
  }
  if (rc) {
    lb_out_abort(&o);
    fprintf(stderr, "langbench sample: %s\n", e.msg);
  } else {
    long ndiv = 0;
    double nfe = 0;
    for (long c = 0; c < nchains; c++) {
      ndiv += run.diverged[c];
      nfe += (double)run.nfe[c];
    }
    printf("wrote %s: %s on %s, %ld chains x %ld steps, %.3f NFE/step, "
           "%ld diverged, %.2f s\n",
           out, sampler, target, nchains, nsteps,
           nsteps ? nfe / (double)nchains / (double)nsteps : 0.0, ndiv,
           run.wall_seconds);
  }
  lb_run_clear(&run);
  lb_init_clear(&in);
  lb_sampler_free(s);
  lb_target_free(t);
  return rc;
}
