/* test_scaleout.c -- one sweep over many processes: shards + --assemble,
 * claims (live, dead, timed out), concurrent runs over the same cells,
 * truncated cell files, mpirun (3 ranks, and a rank killed with -9); each
 * result compared with the serial run, every dataset and attribute except
 * the documented execution fields.  GPL-3.0-or-later. */
#include <criterion/criterion.h>
#include <fcntl.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <hdf5.h>

#include "experiment.h"
#include "io.h"
#include "testutil.h"

/* 2 targets x 2 samplers x 1 step x 3 seeds = 12 small cells. */
static const char *small_cfg =
    "name = \"small\";\n"
    "targets = [\"gaussian:dim=2,var=1\", \"double_well:dim=1,tilt=0.3\"];\n"
    "samplers = (\"lmc\", { name = \"plmc\"; K = 4; });\n"
    "step_sizes = [0.2];\n"
    "horizon = 2.0;\n"
    "chains = 400;\n"
    "seeds = [1, 2, 3];\n"
    "init = \"target\";\n"
    "record = { schedule = \"geometric\"; count = 4; };\n"
    "metrics = \"mean_err,w2_marg\";\n"
    "trajectory_chains = 4;\n";

/* The attributes that record how and when a cell was computed (README,
 * "Scale-out"): everything else must agree bit for bit. */
static const char *const exec_fields[] = {"created", "wall_seconds", "threads",
                                          "host", NULL};

static const char *bin(void) {
  const char *b = getenv("LANGBENCH_BIN");
  return b ? b : "bin/langbench";
}

static void write_file(const char *path, const char *text) {
  FILE *f = fopen(path, "w");
  cr_assert_not_null(f);
  fputs(text, f);
  fclose(f);
}

/* Run a shell command line; stderr (all of it) into err. */
static int sh(const char *cmd, char *err, size_t len) {
  char ef[400], full[8192];
  snprintf(ef, sizeof ef, "%s/sh-stderr.txt", lb_test_tmpdir());
  snprintf(full, sizeof full, "%s 2>'%s' >/dev/null", cmd, ef);
  int st = system(full);
  err[0] = '\0';
  FILE *f = fopen(ef, "r");
  if (f) {
    size_t n = fread(err, 1, len - 1, f);
    err[n] = '\0';
    fclose(f);
  }
  return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static int run(const char *args, char *err, size_t len) {
  char cmd[4096];
  snprintf(cmd, sizeof cmd, "'%s' %s", bin(), args);
  return sh(cmd, err, len);
}

/* ---- comparing two HDF5 files ------------------------------------------------ */

typedef struct {
  hid_t other;
  char why[512];
  size_t objects;
} cmp_ctx;

static int excluded(const char *name) {
  for (const char *const *p = exec_fields; *p; p++)
    if (strcmp(*p, name) == 0) return 1;
  return 0;
}

/* Bytes of an attribute or dataset in its file type. */
static void *read_all(hid_t obj, int is_attr, hid_t *type, hssize_t *n) {
  *type = is_attr ? H5Aget_type(obj) : H5Dget_type(obj);
  hid_t sp = is_attr ? H5Aget_space(obj) : H5Dget_space(obj);
  *n = H5Sget_simple_extent_npoints(sp);
  H5Sclose(sp);
  size_t sz = H5Tget_size(*type) * (size_t)*n;
  unsigned char *buf = calloc(sz + 1, 1);
  herr_t st = !*n ? 0
              : is_attr ? H5Aread(obj, *type, buf)
                        : H5Dread(obj, *type, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf);
  if (st < 0) {
    free(buf);
    return NULL;
  }
  return buf;
}

/* 0 when obj a and b hold the same bytes in the same type and shape. */
static int same_data(hid_t a, hid_t b, int is_attr) {
  hid_t ta, tb;
  hssize_t na, nb;
  void *da = read_all(a, is_attr, &ta, &na), *db = read_all(b, is_attr, &tb, &nb);
  int r = !da || !db || na != nb || H5Tequal(ta, tb) <= 0 ||
          memcmp(da, db, H5Tget_size(ta) * (size_t)na) != 0;
  free(da);
  free(db);
  H5Tclose(ta);
  H5Tclose(tb);
  return r;
}

static int same_attrs(hid_t a, hid_t b, const char *where, cmp_ctx *c) {
  H5O_info_t ia, ib;
  H5Oget_info2(a, &ia, H5O_INFO_NUM_ATTRS);
  H5Oget_info2(b, &ib, H5O_INFO_NUM_ATTRS);
  if (ia.num_attrs != ib.num_attrs) {
    snprintf(c->why, sizeof c->why, "%s: %llu against %llu attributes", where,
             (unsigned long long)ia.num_attrs, (unsigned long long)ib.num_attrs);
    return 1;
  }
  for (hsize_t k = 0; k < ia.num_attrs; k++) {
    char name[256];
    H5Aget_name_by_idx(a, ".", H5_INDEX_NAME, H5_ITER_INC, k, name, sizeof name,
                       H5P_DEFAULT);
    if (excluded(name)) continue;
    if (H5Aexists(b, name) <= 0) {
      snprintf(c->why, sizeof c->why, "%s: attribute %s missing", where, name);
      return 1;
    }
    hid_t aa = H5Aopen(a, name, H5P_DEFAULT), ab = H5Aopen(b, name, H5P_DEFAULT);
    int d = same_data(aa, ab, 1);
    H5Aclose(aa);
    H5Aclose(ab);
    if (d) {
      snprintf(c->why, sizeof c->why, "%s: attribute %s differs", where, name);
      return 1;
    }
  }
  return 0;
}

static herr_t visit(hid_t obj, const char *name, const H5O_info_t *info,
                    void *data) {
  cmp_ctx *c = data;
  c->objects++;
  if (strcmp(name, ".") != 0 && H5Lexists(c->other, name, H5P_DEFAULT) <= 0) {
    snprintf(c->why, sizeof c->why, "%s missing", name);
    return 1;
  }
  hid_t a = H5Oopen(obj, name, H5P_DEFAULT), b = H5Oopen(c->other, name, H5P_DEFAULT);
  H5O_info_t ib;
  H5Oget_info2(b, &ib, H5O_INFO_BASIC);
  int bad = ib.type != info->type;
  if (bad) snprintf(c->why, sizeof c->why, "%s: object types differ", name);
  if (!bad) bad = same_attrs(a, b, name, c);
  if (!bad && info->type == H5O_TYPE_DATASET && same_data(a, b, 0)) {
    snprintf(c->why, sizeof c->why, "dataset %s differs", name);
    bad = 1;
  }
  H5Oclose(a);
  H5Oclose(b);
  return bad ? 1 : 0;
}

static herr_t counter(hid_t o, const char *n, const H5O_info_t *i, void *d) {
  (void)o;
  (void)n;
  (void)i;
  ((cmp_ctx *)d)->objects++;
  return 0;
}

/* Every object, dataset and attribute (except exec_fields) agree. */
static void expect_same_file(const char *pa, const char *pb) {
  hid_t a = H5Fopen(pa, H5F_ACC_RDONLY, H5P_DEFAULT);
  hid_t b = H5Fopen(pb, H5F_ACC_RDONLY, H5P_DEFAULT);
  cr_assert(a >= 0 && b >= 0, "cannot open %s or %s", pa, pb);
  cmp_ctx c = {b, "", 0}, cb = {a, "", 0};
  herr_t st = H5Ovisit2(a, H5_INDEX_NAME, H5_ITER_INC, visit, &c, H5O_INFO_BASIC);
  cr_expect(st == 0 && !c.why[0], "%s vs %s: %s", pa, pb, c.why);
  H5Ovisit2(b, H5_INDEX_NAME, H5_ITER_INC, counter, &cb, H5O_INFO_BASIC);
  cr_expect_eq(c.objects, cb.objects, "%s has %zu objects, %s %zu", pa, c.objects,
               pb, cb.objects);
  cr_expect_geq(c.objects, 2 + 12 * 8, "too few objects: %zu", c.objects);
  H5Fclose(a);
  H5Fclose(b);
}

/* The comparer can fail: a file assembled from one cell short differs. */
static void expect_differs(const char *pa, const char *pb) {
  hid_t a = H5Fopen(pa, H5F_ACC_RDONLY, H5P_DEFAULT);
  hid_t b = H5Fopen(pb, H5F_ACC_RDONLY, H5P_DEFAULT);
  cr_assert(a >= 0 && b >= 0);
  cmp_ctx c = {b, "", 0};
  herr_t st = H5Ovisit2(a, H5_INDEX_NAME, H5_ITER_INC, visit, &c, H5O_INFO_BASIC);
  cr_expect(st != 0 || c.why[0], "%s and %s should differ", pa, pb);
  H5Fclose(a);
  H5Fclose(b);
}

/* ---- fixtures ----------------------------------------------------------------- */

static char cfg[512], ref[512];

/* small.cfg and its serial run ref.h5 (1 thread). */
static void setup_ref(void) {
  const char *d = lb_test_tmpdir();
  snprintf(cfg, sizeof cfg, "%s/small.cfg", d);
  snprintf(ref, sizeof ref, "%s/ref.h5", d);
  write_file(cfg, small_cfg);
  char args[2048], err[8192];
  snprintf(args, sizeof args, "run '%s' --out '%s' --threads 1", cfg, ref);
  cr_assert_eq(run(args, err, sizeof err), 0, "%s", err);
}

static void out_path(char *buf, size_t len, const char *name) {
  snprintf(buf, len, "%s/%s", lb_test_tmpdir(), name);
}

static size_t count_suffix(const char *dir, const char *suffix) {
  char cmd[1200], line[64];
  snprintf(cmd, sizeof cmd, "ls -a '%s' | grep -c -- '%s$'", dir, suffix);
  FILE *p = popen(cmd, "r");
  size_t n = 0;
  if (p && fgets(line, sizeof line, p)) n = (size_t)atol(line);
  if (p) pclose(p);
  return n;
}

/* ---- shards and --assemble ------------------------------------------------------ */

Test(scaleout, shard_partition_is_balanced) {
  const char *d = lb_test_tmpdir();
  snprintf(cfg, sizeof cfg, "%s/small.cfg", d);
  write_file(cfg, small_cfg);
  lb_experiment x;
  lb_err e;
  cr_assert_eq(lb_experiment_load(cfg, &x, &e), LB_OK, "%s", e.msg);
  for (long n = 1; n <= 5; n++) {
    long of[12], count[5] = {0};
    double cost[5] = {0}, maxc = 0;
    lb_experiment_shards(&x, n, of);
    for (size_t i = 0; i < x.ncells; i++) {
      cr_assert(of[i] >= 0 && of[i] < n);
      count[of[i]]++;
      cost[of[i]] += x.cells[i].cost;
      if (x.cells[i].cost > maxc) maxc = x.cells[i].cost;
    }
    double lo = cost[0], hi = cost[0];
    for (long k = 0; k < n; k++) {
      cr_expect(count[k] >= 12 / n && count[k] <= 12 / n + 1, "shard %ld of %ld: %ld", k,
                n, count[k]);
      lo = cost[k] < lo ? cost[k] : lo;
      hi = cost[k] > hi ? cost[k] : hi;
    }
    /* boustrophedon dealing: shard totals within one largest cell */
    cr_expect_leq(hi - lo, maxc, "n=%ld: totals %g..%g", n, lo, hi);
  }
  lb_experiment_free(&x);
}

Test(scaleout, shards_then_assemble_bit_identical, .timeout = 120) {
  setup_ref();
  char out[512], args[2048], err[8192];
  out_path(out, sizeof out, "sharded.h5");
  /* shard 1 missing: --assemble writes what exists, lists the rest, exit 1 */
  for (int i = 0; i < 3; i += 2) {
    snprintf(args, sizeof args, "run '%s' --out '%s' --shard %d/3 --threads 2", cfg,
             out, i);
    cr_assert_eq(run(args, err, sizeof err), 0, "%s", err);
    cr_expect(strstr(err, "assemble with --assemble"), "%s", err);
  }
  cr_expect(access(out, F_OK) != 0, "a shard run wrote OUT");
  snprintf(args, sizeof args, "run '%s' --out '%s' --assemble", cfg, out);
  cr_assert_eq(run(args, err, sizeof err), 1, "%s", err);
  cr_expect(strstr(err, "missing cell "), "%s", err);
  cr_expect(strstr(err, "4 of 12 cells missing"), "%s", err);
  long done = -1;
  hid_t f = H5Fopen(out, H5F_ACC_RDONLY, H5P_DEFAULT);
  cr_assert(f >= 0);
  lb_attr_get_long(f, "cells_done", &done);
  H5Fclose(f);
  cr_expect_eq(done, 8);
  expect_differs(ref, out);
  snprintf(args, sizeof args, "run '%s' --out '%s' --shard 1/3 --threads 1", cfg, out);
  cr_assert_eq(run(args, err, sizeof err), 0, "%s", err);
  snprintf(args, sizeof args, "run '%s' --out '%s' --assemble", cfg, out);
  cr_assert_eq(run(args, err, sizeof err), 0, "%s", err);
  expect_same_file(ref, out);
  /* the comparer sees one changed number */
  char cmd[2048], alt[600];
  snprintf(alt, sizeof alt, "%s.alt.h5", out);
  snprintf(cmd, sizeof cmd, "cp '%s' '%s'", out, alt);
  cr_assert_eq(system(cmd), 0);
  lb_experiment x;
  lb_err e;
  cr_assert_eq(lb_experiment_load(cfg, &x, &e), LB_OK, "%s", e.msg);
  f = H5Fopen(alt, H5F_ACC_RDWR, H5P_DEFAULT);
  char name[64];
  snprintf(name, sizeof name, "cells/%s/samples", x.cells[3].hash);
  hid_t ds = H5Dopen2(f, name, H5P_DEFAULT);
  cr_assert(ds >= 0);
  double v[400 * 2];
  H5Dread(ds, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, v);
  v[17] = nextafter(v[17], 1e300);
  H5Dwrite(ds, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, v);
  H5Dclose(ds);
  H5Fclose(f);
  expect_differs(ref, alt);
  lb_experiment_free(&x);
  /* a shard that is already complete computes nothing */
  snprintf(args, sizeof args, "run '%s' --out '%s' --shard 0/3", cfg, out);
  cr_assert_eq(run(args, err, sizeof err), 0, "%s", err);
  cr_expect(strstr(err, "(0 run now)"), "%s", err);
}

Test(scaleout, bad_shard_options) {
  const char *d = lb_test_tmpdir();
  snprintf(cfg, sizeof cfg, "%s/small.cfg", d);
  write_file(cfg, small_cfg);
  const char *bad[] = {"--shard 3/3", "--shard 1", "--shard -1/2", "--shard 0/0",
                       "--shard 0/2 --assemble", "--shard 0/2 --fresh",
                       "--assemble --fresh", "--shard a/b"};
  char out[512], args[2048], err[8192];
  out_path(out, sizeof out, "bad.h5");
  for (size_t k = 0; k < sizeof bad / sizeof *bad; k++) {
    snprintf(args, sizeof args, "run '%s' --out '%s' %s", cfg, out, bad[k]);
    cr_expect_eq(run(args, err, sizeof err), 2, "%s: %s", bad[k], err);
    cr_expect(strstr(err, "--shard") || strstr(err, "--fresh"), "%s: %s", bad[k], err);
    cr_expect(access(out, F_OK) != 0);
  }
}

/* ---- unreadable cell files ----------------------------------------------------- */

Test(scaleout, truncated_cell_is_recomputed, .timeout = 120) {
  setup_ref();
  char out[512], args[2048], err[8192], cells[600], cmd[2048];
  out_path(out, sizeof out, "trunc.h5");
  snprintf(cells, sizeof cells, "%s.cells", out);
  snprintf(cmd, sizeof cmd, "cp -r '%s.cells' '%s'", ref, cells);
  cr_assert_eq(system(cmd), 0);
  lb_experiment x;
  lb_err e;
  cr_assert_eq(lb_experiment_load(cfg, &x, &e), LB_OK, "%s", e.msg);
  /* cell 0 cut to half its size, cell 5 empty, cell 7 garbage */
  char p[800];
  struct stat st;
  snprintf(p, sizeof p, "%s/%s.h5", cells, x.cells[0].hash);
  cr_assert_eq(stat(p, &st), 0);
  cr_assert_eq(truncate(p, st.st_size / 2), 0);
  snprintf(p, sizeof p, "%s/%s.h5", cells, x.cells[5].hash);
  cr_assert_eq(truncate(p, 0), 0);
  snprintf(p, sizeof p, "%s/%s.h5", cells, x.cells[7].hash);
  write_file(p, "not an HDF5 file\n");
  snprintf(args, sizeof args, "run '%s' --out '%s' --assemble", cfg, out);
  cr_assert_eq(run(args, err, sizeof err), 1, "%s", err);
  cr_expect(strstr(err, x.cells[0].hash) && strstr(err, "unreadable"), "%s", err);
  cr_expect(strstr(err, "3 of 12 cells missing"), "%s", err);
  snprintf(args, sizeof args, "run '%s' --out '%s' --threads 1", cfg, out);
  cr_assert_eq(run(args, err, sizeof err), 0, "%s", err);
  cr_expect(strstr(err, "resuming: 9 of 12"), "%s", err);
  cr_expect(strstr(err, "recomputing"), "%s", err);
  cr_expect(strstr(err, "(3 run now)"), "%s", err);
  cr_expect_eq(count_suffix(cells, ".h5.bad"), 3);
  expect_same_file(ref, out);
  lb_experiment_free(&x);
}

/* ---- claims ---------------------------------------------------------------------- */

static void write_claim(const char *cells, const char *hash, long pid,
                        const char *host) {
  char p[800], text[512];
  snprintf(p, sizeof p, "%s/%s.claim", cells, hash);
  snprintf(text, sizeof text, "pid=%ld host=%s time=%lld\n", pid, host,
           (long long)time(NULL));
  write_file(p, text);
}

static void hostname(char *buf, size_t len) {
  cr_assert_eq(gethostname(buf, len), 0);
}

/* A claim of a live process on this host is respected until the process
 * dies; a dead pid's claim and an untouched claim from another host
 * (after LANGBENCH_CLAIM_TIMEOUT) are taken over. */
Test(scaleout, claims_live_dead_and_timed_out, .timeout = 120) {
  setup_ref();
  char out[512], cells[600], host[256];
  out_path(out, sizeof out, "claims.h5");
  snprintf(cells, sizeof cells, "%s.cells", out);
  mkdir(cells, 0777);
  hostname(host, sizeof host);
  lb_experiment x;
  lb_err e;
  cr_assert_eq(lb_experiment_load(cfg, &x, &e), LB_OK, "%s", e.msg);
  /* cell 1: a dead process (a reaped child) */
  pid_t dead = fork();
  if (dead == 0) _exit(0);
  waitpid(dead, NULL, 0);
  write_claim(cells, x.cells[1].hash, (long)dead, host);
  /* cell 2: another host, claim untouched for 1000 s (timeout 2 s) */
  write_claim(cells, x.cells[2].hash, 1, "elsewhere");
  char p[800];
  snprintf(p, sizeof p, "%s/%s.claim", cells, x.cells[2].hash);
  struct timespec old[2] = {{time(NULL) - 1000, 0}, {time(NULL) - 1000, 0}};
  cr_assert_eq(utimensat(AT_FDCWD, p, old, 0), 0);
  /* cell 3: a live process on this host, touching its claim as a real
   * holder's heartbeat does */
  char c3claim[800];
  snprintf(c3claim, sizeof c3claim, "%s/%s.claim", cells, x.cells[3].hash);
  pid_t live = fork();
  if (live == 0) {
    for (;;) {
      utimensat(AT_FDCWD, c3claim, NULL, 0);
      usleep(200000);
    }
  }
  write_claim(cells, x.cells[3].hash, (long)live, host);
  pid_t pid = fork();
  if (pid == 0) {
    int fd = open("/dev/null", O_WRONLY);
    dup2(fd, 1);
    dup2(fd, 2);
    setenv("LANGBENCH_CLAIM_TIMEOUT", "2", 1);
    execl(bin(), bin(), "run", cfg, "--out", out, "--threads", "1", (char *)NULL);
    _exit(127);
  }
  /* wait until every other cell is done; the run must still be waiting */
  char c3[800];
  snprintf(c3, sizeof c3, "%s/%s.h5", cells, x.cells[3].hash);
  for (int k = 0; k < 600 && count_suffix(cells, ".h5") < 11; k++) usleep(50000);
  cr_expect_eq(count_suffix(cells, ".h5"), 11);
  usleep(1200000);
  int st;
  pid_t early = waitpid(pid, &st, WNOHANG);
  cr_expect_eq(early, 0, "the run ignored a live claim");
  cr_expect(access(c3, F_OK) != 0, "cell with a live claim computed");
  kill(live, SIGKILL);
  waitpid(live, NULL, 0);
  if (!early) cr_assert_eq(waitpid(pid, &st, 0), pid);
  cr_expect(WIFEXITED(st) && WEXITSTATUS(st) == 0);
  expect_same_file(ref, out);
  cr_expect_eq(count_suffix(cells, ".claim"), 0);
  cr_expect_eq(count_suffix(cells, ".stale-[^ ]*"), 0);
  lb_experiment_free(&x);
}

/* Two runs over the same cells at the same time (the same shard twice,
 * and a full run): no corrupt cell, nothing computed twice, same file. */
Test(scaleout, concurrent_runs_same_cells, .timeout = 120) {
  setup_ref();
  char out[512], cells[600], args[2048], err[8192], cmd[8192];
  out_path(out, sizeof out, "conc.h5");
  snprintf(cells, sizeof cells, "%s.cells", out);
  const char *d = lb_test_tmpdir();
  snprintf(cmd, sizeof cmd,
           "'%s' run '%s' --out '%s' --shard 0/1 --threads 1 2>'%s/e1' & "
           "'%s' run '%s' --out '%s' --shard 0/1 --threads 1 2>'%s/e2' & "
           "'%s' run '%s' --out '%s' --threads 1 2>'%s/e3' & "
           "wait %%1 && wait %%2 && wait %%3",
           bin(), cfg, out, d, bin(), cfg, out, d, bin(), cfg, out, d);
  cr_assert_eq(sh(cmd, err, sizeof err), 0, "%s", err);
  /* every cell computed exactly once over the three processes */
  long total = 0;
  for (int k = 1; k <= 3; k++) {
    char ef[600], text[8192];
    snprintf(ef, sizeof ef, "%s/e%d", d, k);
    FILE *f = fopen(ef, "r");
    cr_assert_not_null(f);
    size_t n = fread(text, 1, sizeof text - 1, f);
    text[n] = '\0';
    fclose(f);
    const char *q = strstr(text, " run now)");
    cr_assert_not_null(q, "process %d: %s", k, text);
    while (q > text && q[-1] != '(') q--;
    total += atol(q);
  }
  cr_expect_eq(total, 12, "cells computed %ld times in all", total);
  snprintf(args, sizeof args, "run '%s' --out '%s' --assemble", cfg, out);
  cr_assert_eq(run(args, err, sizeof err), 0, "%s", err);
  expect_same_file(ref, out);
  cr_expect_eq(count_suffix(cells, ".claim"), 0);
  cr_expect_eq(count_suffix(cells, "part-[^ ]*"), 0);
}

/* ---- mpirun ------------------------------------------------------------------------ */

/* Open MPI leaks by design (its MCA components are unloaded before LSan
 * can name them): leak checks are off inside mpirun runs under `make
 * asan`.  The same runner code is leak-checked by the serial and shard
 * tests above, and mpisched.c was checked once with slow unwinding
 * (every leak inside libmpi/libopen-pal/libopen-rte/libhwloc/libevent). */
#define MPIRUN                                                          \
  "ASAN_OPTIONS=detect_leaks=0 mpirun --allow-run-as-root --oversubscribe " \
  "--bind-to none -np 3 "

Test(scaleout, mpirun_three_ranks_bit_identical, .timeout = 120) {
  setup_ref();
  char out[512], cmd[4096], err[16384];
  out_path(out, sizeof out, "mpi.h5");
  snprintf(cmd, sizeof cmd, MPIRUN "'%s' run '%s' --out '%s' --threads 2", bin(),
           cfg, out);
  cr_assert_eq(sh(cmd, err, sizeof err), 0, "%s", err);
  cr_expect(strstr(err, "mpi: 3 ranks x 2 threads, 12 cells to compute"), "%s", err);
  cr_expect(strstr(err, "cell 12/12 done"), "%s", err);
  expect_same_file(ref, out);
  /* rerun: nothing left to do */
  cr_assert_eq(sh(cmd, err, sizeof err), 0, "%s", err);
  cr_expect(strstr(err, "(0 run now)"), "%s", err);
  expect_same_file(ref, out);
}

/* kill -9 one rank while it holds a claim (mid-cell), rerun: same file. */
Test(scaleout, mpirun_rank_killed_then_rerun, .timeout = 120) {
  setup_ref();
  char out[512], cells[600], cmd[4096], err[16384];
  out_path(out, sizeof out, "mpikill.h5");
  snprintf(cells, sizeof cells, "%s.cells", out);
  snprintf(cmd, sizeof cmd, "exec env " MPIRUN "'%s' run '%s' --out '%s' --threads 1 "
           ">/dev/null 2>&1", bin(), cfg, out);
  pid_t mp = fork();
  if (mp == 0) {
    execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
    _exit(127);
  }
  /* the first claim that appears: its holder is a rank in mid-cell */
  long victim = 0;
  for (int k = 0; k < 6000 && !victim; k++) {
    char ls[1200], line[600];
    snprintf(ls, sizeof ls, "cat '%s'/*.claim 2>/dev/null | head -1", cells);
    FILE *p = popen(ls, "r");
    if (p && fgets(line, sizeof line, p)) sscanf(line, "pid=%ld", &victim);
    if (p) pclose(p);
    if (!victim) usleep(5000);
  }
  cr_assert_gt(victim, 0, "no rank was seen holding a claim");
  kill((pid_t)victim, SIGKILL);
  int st;
  cr_assert_eq(waitpid(mp, &st, 0), mp);
  size_t before = count_suffix(cells, ".h5");
  cr_expect_lt(before, 12, "the run completed although a rank was killed");
  snprintf(cmd, sizeof cmd, MPIRUN "'%s' run '%s' --out '%s' --threads 1", bin(),
           cfg, out);
  cr_assert_eq(sh(cmd, err, sizeof err), 0, "%s", err);
  expect_same_file(ref, out);
  cr_expect_eq(count_suffix(cells, ".claim"), 0);
  cr_expect_eq(count_suffix(cells, "part-[^ ]*"), 0);
}
