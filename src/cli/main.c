/* main.c -- `langbench`: dispatch to the subcommands.  GPL-3.0-or-later. */
#include <gsl/gsl_errno.h>
#include <stdio.h>
#include <string.h>

#include "commands.h"
#include "io.h"
#include "lb.h"
#include "mlp.h"

typedef struct {
  const char *name;
  int (*fn)(int, char **);
  const char *summary;
} command;

/* The command table: one line per subcommand. */
static const command commands[] = {
    {"list", lb_cmd_list, "list targets|samplers|metrics with parameters"},
    {"sample", lb_cmd_sample, "run chains of a sampler on a target into HDF5"},
    {"run", lb_cmd_run, "run a parameter sweep (resumable) into HDF5"},
    {"export", lb_cmd_export, "tidy CSV and rate fits of an experiment"},
    {"metrics", lb_cmd_metrics, "distances to the target, error bars, noise floors"},
    {"diffuse", lb_cmd_diffuse, "reverse-diffusion samples of a model into HDF5"},
    {"train", lb_cmd_train, "train a noise-prediction MLP (DDPM) into HDF5"},
    {"exact", lb_cmd_exact, "exact laws of linear samplers on Gaussian targets"},
    {NULL, NULL, NULL},
};

static void usage(FILE *f) {
  fprintf(f,
          "usage: langbench COMMAND [ARGS]   (langbench COMMAND --help)\n"
          "Benchmark harness for Langevin samplers (LMC, randomized and "
          "Poisson midpoint).\n\ncommands:\n");
  for (const command *c = commands; c->name; c++)
    fprintf(f, "  %-8s %s\n", c->name, c->summary);
}

int main(int argc, char **argv) {
#ifndef LB_NO_BLAS_PIN /* the CLI fuzz harness includes this file */
  lb_mlp_blas_pin_kernel(argv);
#endif
  gsl_set_error_handler_off();
  lb_io_quiet();
  if (argc < 2) {
    usage(stderr);
    return LB_EINPUT;
  }
  if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
    usage(stdout);
    return 0;
  }
  if (strcmp(argv[1], "--version") == 0) {
    printf("langbench %s\n", LB_VERSION);
    return 0;
  }
  for (const command *c = commands; c->name; c++)
    if (strcmp(argv[1], c->name) == 0) return c->fn(argc - 1, argv + 1);
  fprintf(stderr, "langbench: unknown command '%s' (see langbench --help)\n",
          argv[1]);
  return LB_EINPUT;
}
