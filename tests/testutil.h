/* testutil.h -- helpers shared by the Criterion tests.  GPL-3.0-or-later.
 *
 * Statistical checks compare a sample statistic with an exact value within
 * LB_TEST_NSE standard errors, the standard error being computed from the
 * same sample.  Seeds are fixed, so every run sees the same numbers. */
#ifndef LB_TESTUTIL_H
#define LB_TESTUTIL_H

#include <stddef.h>

#include "io.h"

#define LB_TEST_NSE 5.0

/* Criterion 2.4 runs each test in a re-executed process: parameters of
 * ParameterizedTest must not contain pointers (use char arrays or indices
 * into a static table). */

/* Run `$LANGBENCH_BIN ARGS` through /bin/sh; returns the exit status and
 * the first line of stderr in err (may be NULL). */
int lb_test_cli(const char *args, char *err, size_t errlen);

/* A fresh temporary directory (removed at exit of the test process). */
const char *lb_test_tmpdir(void);

/* Mean, and standard error of the mean, of x[0], x[stride], ... */
void lb_test_mean_se(const double *x, size_t n, size_t stride, double *mean,
                     double *se);
/* Sample variance and its standard error sqrt((m4 - s^4) / n). */
void lb_test_var_se(const double *x, size_t n, size_t stride, double *var,
                    double *se);

/* 1 when two runs (io.h) hold the same bits: samples, velocities (both
 * absent, or equal), NFE, divergence flags, trajectories, the recorded
 * NFE and the status. */
int lb_test_same_run(const lb_run *a, const lb_run *b);

#endif
