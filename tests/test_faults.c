/* test_faults.c -- faults and fuzz regressions.
 *
 * GPL-3.0-or-later.
 *
 * 1. Replays, through the fuzz harnesses compiled into this suite (gcc,
 *    no libFuzzer), every regression input under tests/fuzz/regress/NAME/
 *    (one per crash the fuzzers found, each fixed) and every seed under
 *    tests/fuzz/corpus/NAME/.  A harness aborts on any violated invariant,
 *    so a replay that returns is a pass.
 * 2. Fault cases: the disk fills while a run file or a cell is written
 *    (RLIMIT_FSIZE), the output directory is read-only, an experiment's
 *    cells directory holds a truncated, foreign or newer cell file, and
 *    `metrics` gets a run file of a newer format_version.
 */
#include <criterion/criterion.h>
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fuzz/fuzz.h"
#include "testutil.h"

/* ---- fuzz regressions and seeds -------------------------------------------- */

typedef int (*harness_fn)(const uint8_t *, size_t);

static size_t replay_dir(const char *dir, harness_fn fn) {
  DIR *dp = opendir(dir);
  if (!dp) return 0;
  struct dirent *de;
  size_t n = 0;
  char path[1024];
  /* the harnesses' output (messages, tables) is noise here */
  fflush(stdout);
  fflush(stderr);
  int out = dup(1), err = dup(2), null = open("/dev/null", O_WRONLY);
  dup2(null, 1);
  dup2(null, 2);
  while ((de = readdir(dp))) {
    if (de->d_name[0] == '.') continue;
    snprintf(path, sizeof path, "%s/%s", dir, de->d_name);
    FILE *f = fopen(path, "rb");
    cr_assert(f, "cannot read %s", path);
    fseek(f, 0, SEEK_END);
    long len = ftell(f);
    fseek(f, 0, SEEK_SET);
    uint8_t *buf = malloc((size_t)len + 1);
    size_t got = fread(buf, 1, (size_t)len, f);
    fclose(f);
    fn(buf, got);
    free(buf);
    n++;
  }
  closedir(dp);
  fflush(stdout);
  fflush(stderr);
  dup2(out, 1);
  dup2(err, 2);
  close(out);
  close(err);
  close(null);
  return n;
}

/* Absolute paths: the command-line harness changes the working directory. */
static void replay(const char *name, harness_fn fn) {
  char cwd[512], dir[700];
  cr_assert(getcwd(cwd, sizeof cwd));
  snprintf(dir, sizeof dir, "%s/tests/fuzz/corpus/%s", cwd, name);
  size_t seeds = replay_dir(dir, fn);
  cr_assert_gt(seeds, 0, "no seeds in %s (run from the source tree)", dir);
  snprintf(dir, sizeof dir, "%s/tests/fuzz/regress/%s", cwd, name);
  replay_dir(dir, fn);
  cr_assert_eq(chdir(cwd), 0);
  lb_fuzz_cleanup();
}

Test(fuzz_replay, spec) { replay("spec", lb_fuzz_spec); }
Test(fuzz_replay, experiment) { replay("experiment", lb_fuzz_experiment); }
Test(fuzz_replay, gmm) { replay("gmm", lb_fuzz_gmm); }
Test(fuzz_replay, h5) { replay("h5", lb_fuzz_h5); }
Test(fuzz_replay, cli) { replay("cli", lb_fuzz_cli); }

/* ---- running the command under a fault ------------------------------------- */

#include <errno.h>
#include <hdf5.h>
#include <sched.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <sys/wait.h>

#include "io.h"

enum { RO_NONE, RO_BIND, RO_NOBODY, RO_CHMOD };

typedef struct {
  long fsize;         /* RLIMIT_FSIZE in bytes (0: none) */
  const char *ro_dir; /* made read-only for the command */
  int ro_how;
} fault;

static const char *bin(void) {
  const char *b = getenv("LANGBENCH_BIN");
  return b ? b : "bin/langbench";
}

/* Child side of a read-only directory: a read-only bind mount in a
 * private mount namespace (holds for root too; vanishes with the child),
 * or, failing that, the uid of nobody on a mode-0555 directory. */
static int make_ro(const char *dir, int how) {
  if (how == RO_BIND) {
    if (unshare(CLONE_NEWNS) != 0) return -1;
    if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) != 0) return -1;
    if (mount(dir, dir, NULL, MS_BIND, NULL) != 0) return -1;
    return mount(NULL, dir, NULL, MS_REMOUNT | MS_BIND | MS_RDONLY, NULL);
  }
  if (how == RO_NOBODY) return setgid(65534) == 0 && setuid(65534) == 0 ? 0 : -1;
  return 0; /* RO_CHMOD: the parent set the mode */
}

/* Run langbench with argv (NULL-terminated, argv[0] ignored) under f;
 * returns the exit status (-1: killed by a signal, 99: the fault could not
 * be set up) and the last line of stderr in err. */
static int run_fault(const fault *f, char *const argv[], char *err, size_t len) {
  char errfile[512];
  snprintf(errfile, sizeof errfile, "%s/fault-stderr.txt", lb_test_tmpdir());
  fflush(stdout);
  fflush(stderr);
  pid_t pid = fork();
  if (pid == 0) {
    int fd = open(errfile, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    int null = open("/dev/null", O_WRONLY);
    dup2(null, 1);
    dup2(fd, 2);
    if (f->ro_dir && make_ro(f->ro_dir, f->ro_how) != 0) _exit(99);
    if (f->fsize > 0) {
      /* write(2) beyond the limit then fails with EFBIG instead of
       * killing the process: the disk is full, as far as it can tell */
      signal(SIGXFSZ, SIG_IGN);
      struct rlimit rl = {(rlim_t)f->fsize, (rlim_t)f->fsize};
      if (setrlimit(RLIMIT_FSIZE, &rl) != 0) _exit(99);
    }
    setenv("OMP_NUM_THREADS", "1", 1);
    execv(bin(), argv);
    _exit(98);
  }
  int st;
  waitpid(pid, &st, 0);
  err[0] = '\0';
  FILE *ef = fopen(errfile, "r");
  if (ef) { /* the last line: progress lines come before the error */
    char line[1024];
    while (fgets(line, sizeof line, ef))
      if (line[0] && line[0] != '\n') {
        size_t l = strlen(line); /* truncated to len - 1 */
        if (l > len - 1) l = len - 1;
        memcpy(err, line, l);
        err[l] = '\0';
      }
    fclose(ef);
  }
  return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static void tmp(char *buf, size_t len, const char *name) {
  snprintf(buf, len, "%s/%s", lb_test_tmpdir(), name);
}

static int exists(const char *p) { return access(p, F_OK) == 0; }

/* Entries of dir whose name ends with suffix. */
static size_t count_suffix(const char *dir, const char *suffix) {
  DIR *dp = opendir(dir);
  if (!dp) return 0;
  size_t n = 0, ls = strlen(suffix);
  struct dirent *de;
  while ((de = readdir(dp))) {
    size_t l = strlen(de->d_name);
    if (l >= ls && strcmp(de->d_name + l - ls, suffix) == 0) n++;
  }
  closedir(dp);
  return n;
}

static void write_text(const char *path, const char *text) {
  FILE *f = fopen(path, "w");
  cr_assert(f, "cannot write %s", path);
  fputs(text, f);
  fclose(f);
}

/* An experiment of two cells whose cell files are ~0.5 MB each (3000
 * chains x 4 dims x 5 records kept in /trajectory). */
static const char big_exp[] =
    "name = \"df\";\n"
    "targets = (\"gaussian:dim=4\");\n"
    "samplers = (\"lmc\", \"plmc:K=2\");\n"
    "step_sizes = [0.1];\n"
    "steps = 20;\n"
    "chains = 3000;\n"
    "seeds = [1];\n"
    "record = { schedule = \"every\"; every = 5; };\n"
    "metrics = \"mean_err\";\n"
    "trajectory_chains = 3000;\n";

/* ---- the disk fills ------------------------------------------------------- */

Test(faults, disk_full_while_writing_a_run_file) {
  char out[512], part[600], err[512];
  tmp(out, sizeof out, "full.h5");
  snprintf(part, sizeof part, "%s.part", out);
  /* 20000 chains x 10 dims: a 1.6 MB /samples against a 64 KiB limit */
  char *argv[] = {"langbench", "sample", "--target", "gaussian:dim=10",
                  "--sampler", "lmc", "--step", "0.1", "--steps", "5",
                  "--chains", "20000", "--threads", "1", "--out", out, NULL};
  fault f = {.fsize = 65536};
  int rc = run_fault(&f, argv, err, sizeof err);
  cr_expect_eq(rc, 1, "exit status %d (stderr: %s)", rc, err);
  cr_expect(strstr(err, "langbench sample:") != NULL, "message: '%s'", err);
  cr_expect(!exists(out), "a file exists under the requested name");
  cr_expect(!exists(part), "the .part file was left behind");
  /* the same command without the limit succeeds: the limit was the cause */
  fault none = {0};
  cr_expect_eq(run_fault(&none, argv, err, sizeof err), 0, "%s", err);
  cr_expect(exists(out));
}

/* Every cell file in dir must be a complete, readable run file. */
static size_t check_cells(const char *dir) {
  DIR *dp = opendir(dir);
  cr_assert(dp, "no cells directory %s", dir);
  struct dirent *de;
  size_t n = 0;
  char path[1024];
  while ((de = readdir(dp))) {
    size_t l = strlen(de->d_name);
    if (l < 3 || strcmp(de->d_name + l - 3, ".h5") != 0) continue;
    snprintf(path, sizeof path, "%s/%s", dir, de->d_name);
    lb_run r;
    lb_err e;
    lb_io_quiet();
    cr_expect_eq(lb_run_load(path, &r, &e), LB_OK, "corrupt cell: %s", e.msg);
    lb_run_clear(&r);
    n++;
  }
  closedir(dp);
  return n;
}

static void disk_full_run(long limit, size_t *cells_left) {
  char cfg[512], out[512], cells[600], err[512];
  tmp(cfg, sizeof cfg, "df.cfg");
  write_text(cfg, big_exp);
  snprintf(out, sizeof out, "%s/df-%ld.h5", lb_test_tmpdir(), limit);
  snprintf(cells, sizeof cells, "%s.cells", out);
  char *argv[] = {"langbench", "run", cfg, "--out", out, "--threads", "1", NULL};
  fault f = {.fsize = limit};
  int rc = run_fault(&f, argv, err, sizeof err);
  cr_expect_eq(rc, 1, "exit status %d (stderr: %s)", rc, err);
  cr_expect(strstr(err, "langbench run:") != NULL, "message: '%s'", err);
  cr_expect(!exists(out), "an experiment file exists under the requested name");
  char part[700];
  snprintf(part, sizeof part, "%s.part", out);
  cr_expect(!exists(part), "the experiment's .part file was left behind");
  cr_expect_eq(count_suffix(cells, ".part"), 0, "a cell .part file was left");
  *cells_left = check_cells(cells);
  /* resuming without the limit completes the experiment */
  fault none = {0};
  cr_expect_eq(run_fault(&none, argv, err, sizeof err), 0, "%s", err);
  cr_expect(exists(out));
  cr_expect_eq(check_cells(cells), 2);
}

Test(faults, disk_full_while_writing_a_cell) {
  size_t left;
  disk_full_run(65536, &left); /* below one cell */
  cr_expect_eq(left, 0, "%zu cells written under a 64 KiB limit", left);
}

Test(faults, disk_full_while_assembling_the_experiment) {
  size_t left;
  /* room for each cell (~0.5 MB) but not for the two-cell experiment */
  disk_full_run(700000, &left);
  cr_expect_eq(left, 2, "%zu complete cells kept", left);
}

/* ---- the output directory is read-only ------------------------------------- */

/* How to make a directory read-only for the command: permission bits do
 * not stop root (CI runs the suite as root), so as root a read-only bind
 * mount in a private mount namespace, else the uid of nobody; as another
 * user, mode 0555.  Probed once in a child; RO_NONE when nothing works. */
static int ro_probe(const char *dir, int how) {
  pid_t pid = fork();
  if (pid == 0) {
    if (make_ro(dir, how) != 0) _exit(1);
    char p[600];
    snprintf(p, sizeof p, "%s/probe", dir);
    int fd = open(p, O_WRONLY | O_CREAT, 0644);
    if (fd >= 0) _exit(2); /* still writable */
    if (access(bin(), X_OK) != 0) _exit(3);
    _exit(0);
  }
  int st;
  waitpid(pid, &st, 0);
  return WIFEXITED(st) && WEXITSTATUS(st) == 0;
}

static int ro_setup(char *dir, size_t len) {
  snprintf(dir, len, "%s/ro", lb_test_tmpdir());
  mkdir(dir, 0755);
  if (getuid() != 0) {
    chmod(dir, 0555);
    return ro_probe(dir, RO_CHMOD) ? RO_CHMOD : RO_NONE;
  }
  if (ro_probe(dir, RO_BIND)) return RO_BIND;
  /* nobody must reach the directory and the command's inputs */
  chmod(lb_test_tmpdir(), 0755);
  chmod(dir, 0555);
  return ro_probe(dir, RO_NOBODY) ? RO_NOBODY : RO_NONE;
}

static size_t count_entries(const char *dir) {
  DIR *dp = opendir(dir);
  if (!dp) return 0;
  size_t n = 0;
  struct dirent *de;
  while ((de = readdir(dp)))
    if (strcmp(de->d_name, ".") && strcmp(de->d_name, "..")) n++;
  closedir(dp);
  return n;
}

/* Each command that writes, with its output in the read-only directory:
 * exit 2, a one-line message naming --out (or its directory), nothing
 * written there. */
Test(faults, read_only_output_directory) {
  char ro[512], err[512], cfg[512], exp[512], runf[512];
  int how = ro_setup(ro, sizeof ro);
  if (how == RO_NONE)
    cr_skip_test("no way to make a directory read-only here (not root "
                 "with mount or setuid, and not an ordinary user)");
  /* inputs, written normally */
  tmp(cfg, sizeof cfg, "ro.cfg");
  write_text(cfg, "name = \"ro\"; targets = (\"gaussian:dim=1\"); "
                  "samplers = (\"lmc\"); step_sizes = [0.1]; steps = 2; "
                  "chains = 4; seeds = [1]; metrics = \"mean_err\";\n");
  tmp(exp, sizeof exp, "ro-in.h5");
  tmp(runf, sizeof runf, "ro-run.h5");
  fault none = {0};
  char *mk_exp[] = {"langbench", "run", cfg, "--out", exp, "--threads", "1", NULL};
  cr_assert_eq(run_fault(&none, mk_exp, err, sizeof err), 0, "%s", err);
  chmod(exp, 0644);

  char o_run[600], o_exp[600], o_csv[600], o_dif[600];
  snprintf(o_run, sizeof o_run, "%s/run.h5", ro);
  snprintf(o_exp, sizeof o_exp, "%s/exp.h5", ro);
  snprintf(o_csv, sizeof o_csv, "%s/exp.csv", ro);
  snprintf(o_dif, sizeof o_dif, "%s/diffuse.h5", ro);
  char *cmds[][16] = {
      {"langbench", "sample", "--target", "gaussian:dim=1", "--sampler", "lmc",
       "--step", "0.1", "--steps", "2", "--chains", "4", "--out", o_run, NULL},
      {"langbench", "run", cfg, "--out", o_exp, "--threads", "1", NULL},
      {"langbench", "export", exp, "--out", o_csv, NULL},
      {"langbench", "diffuse", "--model", "oracle", "--target", "gaussian:dim=1",
       "--sampler", "ddim", "--nfe", "2", "--samples", "4", "--out", o_dif, NULL},
  };
  fault f = {.ro_dir = ro, .ro_how = how};
  for (size_t i = 0; i < sizeof cmds / sizeof cmds[0]; i++) {
    int rc = run_fault(&f, cmds[i], err, sizeof err);
    cr_expect_eq(rc, 2, "%s: exit status %d (stderr: %s)", cmds[i][1], rc, err);
    cr_expect(strstr(err, "--out") != NULL, "%s: message '%s' does not name --out",
              cmds[i][1], err);
    cr_expect(strchr(err, '\n') == strrchr(err, '\n'), "one line");
  }
  cr_expect_eq(count_entries(ro), 0, "%zu entries written into the read-only directory",
               count_entries(ro));
}

/* ---- newer format versions -------------------------------------------------- */

static void set_version(const char *path, long v) {
  lb_io_quiet();
  hid_t f = H5Fopen(path, H5F_ACC_RDWR, H5P_DEFAULT);
  cr_assert(f >= 0, "cannot open %s", path);
  cr_assert_eq(lb_attr_long(f, "format_version", v), 0);
  H5Fclose(f);
}

Test(faults, metrics_refuses_a_newer_run_file) {
  char runf[512], err[512];
  tmp(runf, sizeof runf, "newer-run.h5");
  fault none = {0};
  char *mk[] = {"langbench", "sample", "--target", "gaussian:dim=1", "--sampler",
                "lmc", "--step", "0.1", "--steps", "2", "--chains", "8",
                "--threads", "1", "--out", runf, NULL};
  cr_assert_eq(run_fault(&none, mk, err, sizeof err), 0, "%s", err);
  char *m[] = {"langbench", "metrics", runf, "--metrics", "mean_err", NULL};
  cr_assert_eq(run_fault(&none, m, err, sizeof err), 0, "%s", err);
  set_version(runf, LB_RUN_FORMAT_VERSION + 1);
  int rc = run_fault(&none, m, err, sizeof err);
  cr_expect_eq(rc, 2, "exit status %d (stderr: %s)", rc, err);
  cr_expect(strstr(err, "format_version") != NULL, "message: %s", err);
  cr_expect(strstr(err, runf) != NULL, "message does not name the file: %s", err);
}

Test(faults, export_refuses_a_newer_experiment_file) {
  char cfg[512], exp[512], csv[512], err[512];
  tmp(cfg, sizeof cfg, "newer.cfg");
  write_text(cfg, "name = \"nv\"; targets = (\"gaussian:dim=1\"); "
                  "samplers = (\"lmc\"); step_sizes = [0.1]; steps = 2; "
                  "chains = 4; seeds = [1]; metrics = \"mean_err\";\n");
  tmp(exp, sizeof exp, "newer-exp.h5");
  tmp(csv, sizeof csv, "newer-exp.csv");
  fault none = {0};
  char *mk[] = {"langbench", "run", cfg, "--out", exp, "--threads", "1", NULL};
  cr_assert_eq(run_fault(&none, mk, err, sizeof err), 0, "%s", err);
  set_version(exp, 2);
  char *x[] = {"langbench", "export", exp, "--out", csv, NULL};
  int rc = run_fault(&none, x, err, sizeof err);
  cr_expect_eq(rc, 2, "exit status %d (stderr: %s)", rc, err);
  cr_expect(strstr(err, "format_version") != NULL, "message: %s", err);
  cr_expect(!exists(csv), "a CSV was written from a file it cannot read");
}

/* ---- damaged cells directory ----------------------------------------------- */

enum { DAMAGE_TRUNCATED, DAMAGE_FOREIGN, DAMAGE_NEWER };

/* Run a two-cell experiment, damage one cell file, rerun: the damage is
 * reported naming the cell, the file is set aside as .bad (never read),
 * the cell is recomputed, and the experiment and its export are whole. */
static void damaged_cell(int kind, const char *tag) {
  char cfg[512], out[512], cells[600], err[512], csv[600];
  tmp(cfg, sizeof cfg, "dmg.cfg");
  write_text(cfg, "name = \"dmg\"; targets = (\"gaussian:dim=2\"); "
                  "samplers = (\"lmc\", \"plmc:K=2\"); step_sizes = [0.1]; "
                  "steps = 4; chains = 16; seeds = [1]; metrics = \"mean_err\";\n");
  snprintf(out, sizeof out, "%s/dmg-%s.h5", lb_test_tmpdir(), tag);
  snprintf(cells, sizeof cells, "%s.cells", out);
  snprintf(csv, sizeof csv, "%s/dmg-%s.csv", lb_test_tmpdir(), tag);
  fault none = {0};
  char *argv[] = {"langbench", "run", cfg, "--out", out, "--threads", "1", NULL};
  cr_assert_eq(run_fault(&none, argv, err, sizeof err), 0, "%s", err);
  cr_assert_eq(check_cells(cells), 2);

  /* the first cell file */
  DIR *dp = opendir(cells);
  struct dirent *de;
  char victim[1024] = "", hash[64] = "";
  while ((de = readdir(dp)))
    if (strlen(de->d_name) == 19 && strcmp(de->d_name + 16, ".h5") == 0) {
      snprintf(victim, sizeof victim, "%s/%s", cells, de->d_name);
      memcpy(hash, de->d_name, 16); /* the 16 hex digits */
      hash[16] = '\0';
      break;
    }
  closedir(dp);
  cr_assert(victim[0]);
  struct stat sb;
  stat(victim, &sb);
  lb_io_quiet();
  if (kind == DAMAGE_TRUNCATED) {
    cr_assert_eq(truncate(victim, sb.st_size / 2), 0);
  } else if (kind == DAMAGE_FOREIGN) {
    unlink(victim);
    hid_t f = H5Fcreate(victim, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    hsize_t d[1] = {4};
    hid_t sp = H5Screate_simple(1, d, NULL);
    hid_t ds = H5Dcreate2(f, "metrics", H5T_NATIVE_DOUBLE, sp, H5P_DEFAULT,
                          H5P_DEFAULT, H5P_DEFAULT);
    double v[4] = {1, 2, 3, 4};
    H5Dwrite(ds, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, v);
    H5Dclose(ds);
    H5Sclose(sp);
    H5Fclose(f);
  } else {
    set_version(victim, LB_RUN_FORMAT_VERSION + 1);
  }
  unlink(out);

  char errfile[512];
  int rc = run_fault(&none, argv, err, sizeof err);
  cr_expect_eq(rc, 0, "rerun: exit status %d (%s)", rc, err);
  /* the report: one stderr line names the cell and the set-aside file */
  snprintf(errfile, sizeof errfile, "%s/fault-stderr.txt", lb_test_tmpdir());
  FILE *ef = fopen(errfile, "r");
  char line[1024];
  int reported = 0;
  while (ef && fgets(line, sizeof line, ef))
    if (strstr(line, hash) && strstr(line, ".bad") && strstr(line, "recomputing"))
      reported = 1;
  if (ef) fclose(ef);
  cr_expect(reported, "no line naming cell %s as set aside", hash);
  char bad[1100];
  snprintf(bad, sizeof bad, "%s.bad", victim);
  cr_expect(exists(bad), "the damaged file was not kept as %s", bad);
  cr_expect_eq(check_cells(cells), 2, "the cell was not recomputed");
  char *x[] = {"langbench", "export", out, "--out", csv, NULL};
  rc = run_fault(&none, x, err, sizeof err);
  cr_expect_eq(rc, 0, "export: %d (%s)", rc, err);
}

Test(faults, truncated_cell_file) { damaged_cell(DAMAGE_TRUNCATED, "trunc"); }
Test(faults, foreign_hdf5_cell_file) { damaged_cell(DAMAGE_FOREIGN, "foreign"); }
Test(faults, newer_format_cell_file) { damaged_cell(DAMAGE_NEWER, "newer"); }
