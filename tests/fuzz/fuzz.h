/* fuzz.h -- shared by the libFuzzer harnesses under tests/fuzz/.
 *
 * GPL-3.0-or-later.
 *
 * Each harness fuzz_NAME.c defines its entry point with LB_FUZZ_TARGET(NAME):
 * a function lb_fuzz_NAME(data, size).  Built by `make fuzz` with clang and
 * -DLB_FUZZ_LIBFUZZER it also becomes LLVMFuzzerTestOneInput; built into the
 * Criterion suite (tests/test_faults.c) it replays the regression inputs in
 * tests/fuzz/regress/NAME/ and the seeds in tests/fuzz/corpus/NAME/.
 *
 * Harnesses never write outside their own temporary directory: every file
 * they create lives under lb_fuzz_dir(), and the command-line harness runs
 * the commands with that directory as the working directory.
 */
#ifndef LB_FUZZ_H
#define LB_FUZZ_H

#include <stddef.h>
#include <stdint.h>

#ifdef LB_FUZZ_LIBFUZZER
#define LB_FUZZ_MAIN(name)                                            \
  int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n) {            \
    return lb_fuzz_##name(d, n);                                      \
  }
#else
#define LB_FUZZ_MAIN(name)
/* Check the ground truth of t (weights >= 0 summing to 1, arrays set) and,
 * when use, draw twice and evaluate F, grad F, the marginal CDF and
 * mode_of (in range); abort on a violation. */
struct lb_target;
void lb_fuzz_use_target(const struct lb_target *t, int use);

#endif

#define LB_FUZZ_TARGET(name)                                          \
  int lb_fuzz_##name(const uint8_t *data, size_t size);               \
  LB_FUZZ_MAIN(name)                                                  \
  int lb_fuzz_##name(const uint8_t *data, size_t size)

/* The harnesses, for the replay tests. */
int lb_fuzz_spec(const uint8_t *data, size_t size);
int lb_fuzz_experiment(const uint8_t *data, size_t size);
int lb_fuzz_gmm(const uint8_t *data, size_t size);
int lb_fuzz_h5(const uint8_t *data, size_t size);
int lb_fuzz_cli(const uint8_t *data, size_t size);
int lb_fuzz_model(const uint8_t *data, size_t size);

/* One-time set-up: HDF5 and GSL error printing off, OMP_NUM_THREADS=1, a
 * private temporary directory (removed at exit).  Returns its path. */
const char *lb_fuzz_dir(void);

/* Remove that directory now (the replay tests: Criterion's workers need
 * not run atexit handlers). */
void lb_fuzz_cleanup(void);

/* Write data to DIR/name; returns the full path (static buffer). */
const char *lb_fuzz_write(const char *name, const void *data, size_t size);

/* The input as a NUL-terminated string (malloc'd; bytes after an embedded
 * NUL are dropped). */
char *lb_fuzz_str(const uint8_t *data, size_t size);

/* 1 when every number written in text (a run of digits, read with strtod
 * from its first digit, so 1e9 and 0x100 count) is at most max in
 * absolute value.  Harnesses skip inputs that would merely ask for a lot
 * of work (a million chains) -- valid requests, not parser bugs. */
int lb_fuzz_small_numbers(const char *text, double max);

/* Remove every entry of the directory dir except the names in keep
 * (NULL-terminated). */
void lb_fuzz_clean(const char *dir, const char *const *keep);

/* Abort when an HDF5 object (file, group, dataset...) is still open: a
 * handle leaked by an error path. */
void lb_fuzz_check_h5_handles(void);

/* Check the ground truth of t (weights >= 0 summing to 1, arrays set) and,
 * when use, draw twice and evaluate F, grad F, the marginal CDF and
 * mode_of (in range); abort on a violation. */
struct lb_target;
void lb_fuzz_use_target(const struct lb_target *t, int use);

#endif
