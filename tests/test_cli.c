/* test_cli.c -- `langbench sample` end to end: the run file schema, HDF5
 * round trip, bit-identical output for any --threads, and bad input.
 * GPL-3.0-or-later. */
#include <criterion/criterion.h>
#include <criterion/parameterized.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "io.h"
#include "testutil.h"

static void path(char *buf, size_t len, const char *name) {
  snprintf(buf, len, "%s/%s", lb_test_tmpdir(), name);
}

static int exists(const char *p) { return access(p, F_OK) == 0; }

/* ---- schema and round trip ------------------------------------------------ */

Test(run_file, roundtrip_every_field) {
  lb_run w = {0}, r;
  snprintf(w.target, sizeof w.target, "gaussian:dim=2");
  snprintf(w.sampler, sizeof w.sampler, "plmc:K=4");
  snprintf(w.init, sizeof w.init, "point:x=1");
  snprintf(w.created, sizeof w.created, "2026-01-01T00:00:00Z");
  snprintf(w.command, sizeof w.command, "langbench sample ...");
  snprintf(w.status, sizeof w.status, "ok");
  w.step = 0.125;
  w.wall_seconds = 1.5;
  w.steps = 10, w.chains = 3, w.seed = 42, w.dim = 2, w.threads = 2;
  w.record_every = 5;
  w.records = 3, w.record_chains = 2;
  w.samples = malloc(6 * sizeof(double));
  w.velocities = malloc(6 * sizeof(double));
  w.nfe = malloc(3 * sizeof(int64_t));
  w.diverged = malloc(3);
  w.trajectory = malloc(12 * sizeof(double));
  w.trajectory_step = malloc(3 * sizeof(int64_t));
  for (int i = 0; i < 6; i++) w.samples[i] = i * 0.5, w.velocities[i] = -i;
  for (int i = 0; i < 3; i++) w.nfe[i] = 10 + i, w.diverged[i] = (int8_t)(i == 1);
  for (int i = 0; i < 12; i++) w.trajectory[i] = i / 3.0;
  for (int i = 0; i < 3; i++) w.trajectory_step[i] = 5 * i;

  char p[512];
  path(p, sizeof p, "roundtrip.h5");
  lb_out o;
  lb_err e;
  cr_assert_eq(lb_out_open(&o, p, &e), LB_OK, "%s", e.msg);
  cr_assert_eq(lb_run_write(o.file, &w, &e), LB_OK);
  cr_assert_eq(lb_out_commit(&o, &e), LB_OK);
  cr_assert_eq(lb_run_load(p, &r, &e), LB_OK, "%s", e.msg);

  cr_expect_str_eq(r.target, w.target);
  cr_expect_str_eq(r.sampler, w.sampler);
  cr_expect_str_eq(r.init, w.init);
  cr_expect_str_eq(r.created, w.created);
  cr_expect_str_eq(r.command, w.command);
  cr_expect_str_eq(r.status, w.status);
  cr_expect_str_eq(r.langbench_version, LB_VERSION);
  cr_expect_eq(r.step, w.step);
  cr_expect_eq(r.wall_seconds, w.wall_seconds);
  cr_expect_eq(r.steps, 10);
  cr_expect_eq(r.chains, 3);
  cr_expect_eq(r.seed, 42);
  cr_expect_eq(r.dim, 2);
  cr_expect_eq(r.threads, 2);
  cr_expect_eq(r.record_every, 5);
  cr_expect_eq(r.records, 3);
  cr_expect_eq(r.record_chains, 2);
  cr_expect_arr_eq(r.samples, w.samples, 6 * sizeof(double));
  cr_assert_not_null(r.velocities);
  cr_expect_arr_eq(r.velocities, w.velocities, 6 * sizeof(double));
  cr_expect_arr_eq(r.nfe, w.nfe, 3 * sizeof(int64_t));
  cr_expect_arr_eq(r.diverged, w.diverged, 3);
  cr_expect_arr_eq(r.trajectory, w.trajectory, 12 * sizeof(double));
  cr_expect_arr_eq(r.trajectory_step, w.trajectory_step, 3 * sizeof(int64_t));
  lb_run_clear(&r);
  lb_run_clear(&w);
}

/* ---- determinism across thread counts ---------------------------------------- */

static void sample_to(const char *sampler, int threads, const char *out) {
  char args[1024];
  snprintf(args, sizeof args,
           "sample --target gmm:preset=ring8 --sampler %s --step 0.05 "
           "--steps 40 --chains 3000 --seed 11 --threads %d "
           "--record-every 7 --record-chains 20 --out '%s'",
           sampler, threads, out);
  char err[512];
  cr_assert_eq(lb_test_cli(args, err, sizeof err), 0, "%s", err);
}

typedef struct {
  char spec[32];
} sampler_name;

ParameterizedTestParameters(run_file, threads_bit_identical) {
  static sampler_name s[] = {{"lmc"}, {"rlmc"}, {"plmc:K=16"}, {"plmc:K=inf"},
                             {"plmc:K=8,option=2"}};
  return cr_make_param_array(sampler_name, s, sizeof s / sizeof s[0]);
}

ParameterizedTest(sampler_name *sn, run_file, threads_bit_identical) {
  const char *const *sampler = (const char *const[]){sn->spec};
  char p1[512], p2[512];
  path(p1, sizeof p1, "t1.h5");
  path(p2, sizeof p2, "t2.h5");
  sample_to(*sampler, 1, p1);
  sample_to(*sampler, 2, p2);
  lb_run a, b;
  lb_err e;
  cr_assert_eq(lb_run_load(p1, &a, &e), LB_OK, "%s", e.msg);
  cr_assert_eq(lb_run_load(p2, &b, &e), LB_OK, "%s", e.msg);
  cr_expect_eq(a.threads, 1);
  cr_expect_eq(b.threads, 2);
  /* everything but threads, timing, created and command must agree */
  cr_expect_str_eq(a.target, b.target);
  cr_expect_str_eq(a.sampler, b.sampler);
  cr_expect_str_eq(a.init, b.init);
  cr_expect_str_eq(a.status, b.status);
  cr_expect_eq(a.step, b.step);
  cr_expect_eq(a.steps, b.steps);
  cr_expect_eq(a.seed, b.seed);
  cr_expect_eq(a.records, b.records);
  size_t cd = (size_t)(a.chains * a.dim);
  cr_expect_arr_eq(a.samples, b.samples, cd * sizeof(double));
  cr_expect_arr_eq(a.nfe, b.nfe, (size_t)a.chains * sizeof(int64_t));
  cr_expect_arr_eq(a.diverged, b.diverged, (size_t)a.chains);
  cr_expect_arr_eq(a.trajectory, b.trajectory,
                   a.records * a.record_chains * (size_t)a.dim * sizeof(double));
  cr_expect_arr_eq(a.trajectory_step, b.trajectory_step,
                   a.records * sizeof(int64_t));
  /* the schema of a real run: 40 steps recorded every 7 -> 0,7,...,35,40 */
  cr_expect_eq(a.records, 7);
  cr_expect_eq(a.trajectory_step[6], 40);
  cr_expect_eq(a.record_chains, 20);
  cr_expect_null(a.velocities);
  lb_run_clear(&a);
  lb_run_clear(&b);
}

/* ---- bad input ---------------------------------------------------------------
 * Exit status 2, one line on stderr naming the offending argument, and no
 * file (nor NAME.part) under the requested name. */
typedef struct { /* arrays, not pointers: Criterion re-executes */
  char args[160]; /* %s is replaced by the output path */
  char names[24]; /* a word the message must contain */
} bad_case;

ParameterizedTestParameters(bad_input, sample) {
  static bad_case c[] = {
      {"--target nope --sampler lmc --step 0.1 --steps 5 --out %s", "nope"},
      {"--target gaussian --sampler nope --step 0.1 --steps 5 --out %s", "nope"},
      {"--target gaussian:foo=1 --sampler lmc --step 0.1 --steps 5 --out %s", "foo"},
      {"--target gaussian --sampler plmc:Q=3 --step 0.1 --steps 5 --out %s", "Q"},
      {"--target gaussian --sampler lmc --step 0 --steps 5 --out %s", "--step"},
      {"--target gaussian --sampler lmc --step -1 --steps 5 --out %s", "--step"},
      {"--target gaussian --sampler lmc --step abc --steps 5 --out %s", "--step"},
      {"--target gaussian --sampler plmc:K=0 --step 0.1 --steps 5 --out %s", "K"},
      {"--target gaussian --sampler plmc:K=x --step 0.1 --steps 5 --out %s", "K"},
      {"--target gaussian --sampler plmc:K=4,option=3 --step 0.1 --steps 5 --out %s", "option"},
      {"--target gaussian --sampler lmc --step 0.1 --steps 5 --chains 0 --out %s", "--chains"},
      {"--target gaussian:dim=0 --sampler lmc --step 0.1 --steps 5 --out %s", "dim"},
      {"--target gaussian:var=-1 --sampler lmc --step 0.1 --steps 5 --out %s", "var"},
      {"--target gaussian --sampler lmc --step 0.1 --steps -3 --out %s", "--steps"},
      {"--target gaussian --sampler lmc --step 0.1 --steps 5 --init cauchy --out %s", "--init"},
      {"--target gaussian --sampler lmc --step 0.1 --steps 5 --bogus 1 --out %s", "--bogus"},
      {"--target gaussian --sampler lmc --step 0.1 --steps 5", "--out"},
  };
  return cr_make_param_array(bad_case, c, sizeof c / sizeof c[0]);
}

ParameterizedTest(bad_case *c, bad_input, sample) {
  char out[512], args[2048], full[2200], err[512];
  path(out, sizeof out, "bad.h5");
  snprintf(args, sizeof args, c->args, out);
  snprintf(full, sizeof full, "sample %s", args);
  cr_expect_eq(lb_test_cli(full, err, sizeof err), 2, "%s -> %s", full, err);
  cr_expect(strstr(err, c->names) != NULL, "message '%s' lacks '%s'", err,
            c->names);
  cr_expect(!exists(out), "%s left behind", out);
  char part[600];
  snprintf(part, sizeof part, "%s.part", out);
  cr_expect(!exists(part), "%s left behind", part);
}

Test(bad_input, unwritable_out) {
  char err[512];
  int st = lb_test_cli("sample --target gaussian --sampler lmc --step 0.1 "
                       "--steps 5 --out /nonexistent-dir/x.h5",
                       err, sizeof err);
  cr_expect_eq(st, 2, "%s", err);
  cr_expect(strstr(err, "--out") != NULL, "%s", err);
}

Test(bad_input, unknown_command_and_list) {
  char err[512];
  cr_expect_eq(lb_test_cli("frobnicate", err, sizeof err), 2);
  cr_expect_eq(lb_test_cli("list nothing", err, sizeof err), 2);
  cr_expect_eq(lb_test_cli("list targets", err, sizeof err), 0);
  cr_expect_eq(lb_test_cli("list samplers", err, sizeof err), 0);
  cr_expect_eq(lb_test_cli("sample --help", err, sizeof err), 0);
  cr_expect_eq(lb_test_cli("--version", err, sizeof err), 0);
}
