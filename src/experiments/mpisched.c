/* mpisched.c -- one sweep over the ranks of an MPI job.  GPL-3.0-or-later.
 *
 * (Built without MPI when the Makefile finds no Open MPI: then only the
 * stubs below exist and `langbench run` is always single-process.)
 */
#include <stdlib.h>
#include <string.h>

#include "experiment.h"
#include "runner.h"

#ifndef LB_HAVE_MPI

int lb_mpi_launched(void) { return 0; }
int lb_mpi_start(int *argc, char ***argv, int *rank) {
  (void)argc;
  (void)argv;
  *rank = 0;
  return -1;
}
void lb_mpi_stop(void) {}

#endif
