/* mlpfile.c -- the HDF5 model file (format "langbench-mlp",
 * format_version 1) and the lb_model wrapper around its EMA network.
 * GPL-3.0-or-later.
 *
 * Schema (README, "Model file"):
 *   /          attrs: format, format_version, langbench_version,
 *              architecture ("mlp-silu-sinemb"), dim, width, depth,
 *              emb_dim, nparams, schedule, N, data, seed, steps, batch,
 *              lr, lr_schedule, warmup, ema_decay, threads,
 *              train_seconds, created, command, loss_every
 *   /weights   float64 [nparams]: the EMA weights as one buffer; one
 *              int64[3] attribute per view, "layer<l>.W" = (offset, out,
 *              in) and "layer<l>.b" = (offset, out, 1): in numpy,
 *              W = w[o:o+r*c].reshape(r, c)
 *   /loss      float64 [nloss]: mean training loss over each window of
 *              loss_every steps
 * Datasets are written without modification times, so two trainings with
 * the same settings differ only in train_seconds, created and command.
 */
#include <hdf5.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "io.h"
#include "mlp.h"

/* ---- writing -------------------------------------------------------------- */

static int put_vec(hid_t loc, const char *name, const double *x, size_t n,
                   hid_t *out) {
  hsize_t dims[1] = {n};
  hid_t sp = H5Screate_simple(1, dims, NULL);
  hid_t pl = H5Pcreate(H5P_DATASET_CREATE);
  H5Pset_obj_track_times(pl, 0);
  hid_t ds = H5Dcreate2(loc, name, H5T_IEEE_F64LE, sp, H5P_DEFAULT, pl,
                        H5P_DEFAULT);
  herr_t st = ds < 0 ? -1 : H5Dwrite(ds, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL,
                                     H5P_DEFAULT, x);
  H5Pclose(pl);
  H5Sclose(sp);
  if (st < 0 || !out) {
    if (ds >= 0) H5Dclose(ds);
  } else {
    *out = ds;
  }
  return st < 0 ? -1 : 0;
}

static int put_view(hid_t ds, const char *name, size_t off, size_t r,
                    size_t c) {
  int64_t v[3] = {(int64_t)off, (int64_t)r, (int64_t)c};
  hsize_t dims[1] = {3};
  hid_t sp = H5Screate_simple(1, dims, NULL);
  hid_t at = H5Acreate2(ds, name, H5T_STD_I64LE, sp, H5P_DEFAULT, H5P_DEFAULT);
  herr_t st = at < 0 ? -1 : H5Awrite(at, H5T_NATIVE_INT64, v);
  if (at >= 0) H5Aclose(at);
  H5Sclose(sp);
  return st < 0 ? -1 : 0;
}

int lb_mlp_file_write(const char *path, const lb_mlp_file *f, lb_err *e) {
  lb_out o;
  int rc = lb_out_open(&o, path, e);
  if (rc) return rc;
  hid_t F = o.file;
  const lb_mlp_arch *a = &f->arch;
  int bad = 0;
  bad |= lb_attr_str(F, "format", LB_MLP_FORMAT);
  bad |= lb_attr_long(F, "format_version", LB_MLP_FORMAT_VERSION);
  bad |= lb_attr_str(F, "langbench_version", LB_VERSION);
  bad |= lb_attr_str(F, "architecture", LB_MLP_ARCH);
  bad |= lb_attr_long(F, "dim", (long)a->dim);
  bad |= lb_attr_long(F, "width", (long)a->width);
  bad |= lb_attr_long(F, "depth", (long)a->depth);
  bad |= lb_attr_long(F, "emb_dim", (long)a->emb);
  bad |= lb_attr_long(F, "nparams", (long)a->nparams);
  bad |= lb_attr_str(F, "schedule", f->sched.name);
  bad |= lb_attr_long(F, "N", f->sched.N);
  bad |= lb_attr_str(F, "data", f->data);
  bad |= lb_attr_long(F, "seed", f->seed);
  bad |= lb_attr_long(F, "steps", f->steps);
  bad |= lb_attr_long(F, "batch", f->batch);
  bad |= lb_attr_double(F, "lr", f->lr);
  bad |= lb_attr_str(F, "lr_schedule", f->lr_schedule);
  bad |= lb_attr_double(F, "warmup", f->warmup);
  bad |= lb_attr_double(F, "ema_decay", f->ema_decay);
  bad |= lb_attr_long(F, "threads", f->threads);
  bad |= lb_attr_double(F, "train_seconds", f->train_seconds);
  bad |= lb_attr_str(F, "created", f->created);
  bad |= lb_attr_str(F, "command", f->command);
  bad |= lb_attr_long(F, "loss_every", f->loss_every);
  hid_t ds = -1;
  bad |= put_vec(F, "weights", f->ema, a->nparams, &ds);
  if (ds >= 0) {
    for (size_t l = 0; l < a->nlayers; l++) {
      char nm[32];
      snprintf(nm, sizeof nm, "layer%zu.W", l);
      bad |= put_view(ds, nm, a->woff[l], a->out[l], a->in[l]);
      snprintf(nm, sizeof nm, "layer%zu.b", l);
      bad |= put_view(ds, nm, a->boff[l], a->out[l], 1);
    }
    H5Dclose(ds);
  }
  bad |= put_vec(F, "loss", f->loss, f->nloss, NULL);
  if (bad) {
    lb_out_abort(&o);
    return lb_fail(e, LB_ERUNTIME, "writing '%s' failed", o.part);
  }
  return lb_out_commit(&o, e);
}

/* ---- reading ------------------------------------------------------------ */

/* A 1-D float64 dataset of exactly n values into x. */
static int get_vec(hid_t loc, const char *name, double *x, size_t n,
                   size_t *have) {
  *have = 0;
  if (H5Lexists(loc, name, H5P_DEFAULT) <= 0) return -1;
  hid_t ds = H5Dopen2(loc, name, H5P_DEFAULT);
  if (ds < 0) return -1;
  hid_t sp = H5Dget_space(ds);
  hsize_t dims[2] = {0, 0};
  int rank = H5Sget_simple_extent_ndims(sp);
  if (rank == 1) H5Sget_simple_extent_dims(sp, dims, NULL);
  H5Sclose(sp);
  *have = rank == 1 ? (size_t)dims[0] : 0;
  int rc = -1;
  if (rank == 1 && *have == n && x)
    rc = H5Dread(ds, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, x) < 0
             ? -2 : 0;
  H5Dclose(ds);
  return rc;
}

static int check_view(hid_t ds, const char *name, size_t off, size_t r,
                      size_t c) {
  if (H5Aexists(ds, name) <= 0) return -1;
  hid_t at = H5Aopen(ds, name, H5P_DEFAULT);
  if (at < 0) return -1;
  hid_t sp = H5Aget_space(at);
  int64_t v[3] = {-1, -1, -1};
  int ok = H5Sget_simple_extent_npoints(sp) == 3 &&
           H5Aread(at, H5T_NATIVE_INT64, v) >= 0;
  H5Sclose(sp);
  H5Aclose(at);
  return ok && v[0] == (int64_t)off && v[1] == (int64_t)r &&
                 v[2] == (int64_t)c ? 0 : -1;
}

static int read_file(hid_t F, lb_mlp_file *f, lb_err *e) {
  char fmt[64] = "";
  long ver = 0, dim = 0, width = 0, depth = 0, emb = 0, N = 0, np = 0;
  if (lb_attr_get_str(F, "format", fmt, sizeof fmt) ||
      strcmp(fmt, LB_MLP_FORMAT) != 0)
    return lb_fail(e, LB_EINPUT, "not a langbench model file (format '%s', "
                   "expected '%s')", fmt, LB_MLP_FORMAT);
  if (lb_attr_get_long(F, "format_version", &ver))
    return lb_fail(e, LB_EINPUT, "missing attribute format_version");
  if (ver > LB_MLP_FORMAT_VERSION || ver < 1)
    return lb_fail(e, LB_EINPUT, "format_version %ld is newer than this "
                   "langbench (%s) reads (%d)", ver, LB_VERSION,
                   LB_MLP_FORMAT_VERSION);
  char arch[64] = "";
  if (lb_attr_get_str(F, "architecture", arch, sizeof arch) ||
      strcmp(arch, LB_MLP_ARCH) != 0)
    return lb_fail(e, LB_EINPUT, "unknown architecture '%s' (this langbench "
                   "knows '%s')", arch, LB_MLP_ARCH);
  const char *miss = NULL;
  if (lb_attr_get_long(F, "dim", &dim)) miss = "dim";
  else if (lb_attr_get_long(F, "width", &width)) miss = "width";
  else if (lb_attr_get_long(F, "depth", &depth)) miss = "depth";
  else if (lb_attr_get_long(F, "emb_dim", &emb)) miss = "emb_dim";
  else if (lb_attr_get_long(F, "nparams", &np)) miss = "nparams";
  else if (lb_attr_get_long(F, "N", &N)) miss = "N";
  else if (lb_attr_get_str(F, "schedule", f->sched.name, sizeof f->sched.name))
    miss = "schedule";
  if (miss) return lb_fail(e, LB_EINPUT, "missing attribute %s", miss);
  if (emb != LB_MLP_EMB)
    return lb_fail(e, LB_EINPUT, "emb_dim %ld: this architecture has %d",
                   emb, LB_MLP_EMB);
  if (dim < 1 || width < 1 || depth < 1)
    return lb_fail(e, LB_EINPUT, "dim %ld, width %ld, depth %ld: must be "
                   ">= 1", dim, width, depth);
  lb_err e2;
  if (lb_mlp_arch_init(&f->arch, (size_t)dim, (size_t)width, (size_t)depth,
                       &e2))
    return lb_fail(e, LB_EINPUT, "%s", e2.msg);
  char sname[32];
  snprintf(sname, sizeof sname, "%s", f->sched.name);
  if (lb_schedule_init(&f->sched, sname, (int)(N > 0 && N < 1 << 30 ? N : 0),
                       &e2))
    return lb_fail(e, LB_EINPUT, "%s", e2.msg);
  const lb_mlp_arch *a = &f->arch;
  if ((size_t)np != a->nparams)
    return lb_fail(e, LB_EINPUT, "nparams %ld: the architecture (dim %ld, "
                   "width %ld, depth %ld) has %zu", np, dim, width, depth,
                   a->nparams);
  f->ema = malloc(a->nparams * sizeof *f->ema);
  size_t have;
  int st = get_vec(F, "weights", f->ema, a->nparams, &have);
  if (st == -2) return lb_fail(e, LB_EINPUT, "cannot read /weights (truncated?)");
  if (st)
    return lb_fail(e, LB_EINPUT, "/weights has %zu values, the architecture "
                   "needs %zu", have, a->nparams);
  if (!lb_all_finite(f->ema, a->nparams))
    return lb_fail(e, LB_EINPUT, "/weights has non-finite values");
  hid_t ds = H5Dopen2(F, "weights", H5P_DEFAULT);
  for (size_t l = 0; l < a->nlayers && !st; l++) {
    char nm[32];
    snprintf(nm, sizeof nm, "layer%zu.W", l);
    if (check_view(ds, nm, a->woff[l], a->out[l], a->in[l])) st = -1;
    if (!st) {
      snprintf(nm, sizeof nm, "layer%zu.b", l);
      if (check_view(ds, nm, a->boff[l], a->out[l], 1)) st = -1;
    }
    if (st) {
      H5Dclose(ds);
      return lb_fail(e, LB_EINPUT, "/weights view %s is missing or does not "
                     "match the architecture", nm);
    }
  }
  H5Dclose(ds);
  /* provenance: optional for evaluation, read when present */
  lb_attr_get_str(F, "data", f->data, sizeof f->data);
  lb_attr_get_str(F, "lr_schedule", f->lr_schedule, sizeof f->lr_schedule);
  lb_attr_get_str(F, "langbench_version", f->langbench_version,
                  sizeof f->langbench_version);
  lb_attr_get_str(F, "created", f->created, sizeof f->created);
  lb_attr_get_str(F, "command", f->command, sizeof f->command);
  lb_attr_get_long(F, "seed", &f->seed);
  lb_attr_get_long(F, "steps", &f->steps);
  lb_attr_get_long(F, "batch", &f->batch);
  lb_attr_get_long(F, "threads", &f->threads);
  lb_attr_get_long(F, "loss_every", &f->loss_every);
  lb_attr_get_double(F, "lr", &f->lr);
  lb_attr_get_double(F, "warmup", &f->warmup);
  lb_attr_get_double(F, "ema_decay", &f->ema_decay);
  lb_attr_get_double(F, "train_seconds", &f->train_seconds);
  get_vec(F, "loss", NULL, 0, &have);
  if (have) {
    f->loss = malloc(have * sizeof *f->loss);
    if (get_vec(F, "loss", f->loss, have, &have))
      return lb_fail(e, LB_EINPUT, "cannot read /loss (truncated?)");
    f->nloss = have;
  }
  return LB_OK;
}

int lb_mlp_file_read(const char *path, lb_mlp_file *f, lb_err *e) {
  memset(f, 0, sizeof *f);
  if (access(path, R_OK) != 0)
    return lb_fail(e, LB_EINPUT, "cannot read model file '%s'", path);
  if (H5Fis_hdf5(path) <= 0)
    return lb_fail(e, LB_EINPUT, "'%s' is not an HDF5 file", path);
  hid_t F = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
  if (F < 0)
    return lb_fail(e, LB_EINPUT, "cannot open '%s' (truncated?)", path);
  int rc = read_file(F, f, e);
  H5Fclose(F);
  if (rc) {
    char tmp[LB_ERRLEN];
    snprintf(tmp, sizeof tmp, "%s", e->msg);
    lb_fail(e, rc, "model file '%s': %s", path, tmp);
    lb_mlp_file_clear(f);
  }
  return rc;
}

/* ---- the EMA network as an lb_model ---------------------------------------- */

/* Rows are evaluated in chunks of EVAL_CHUNK so that the activations of a
 * chunk (width x EVAL_CHUNK doubles, twice) stay in cache.
 *
 * The network is fixed, so the first layer's step part c(s) = b_0 + W_0
 * emb(s) (lb_mlp_step_part) is tabulated at load for every integer step
 * 0..N: a row's first layer is then its table row plus the dim x width
 * product with x (2 dim width flops instead of 2 (dim + 32) width; 12% of
 * the network's flops at dim 2, width 128, depth 3).  When every row of a
 * chunk has the same step (ancestral sampling) the table row is
 * broadcast; fractional steps get c(s) computed for the row. */
#define EVAL_CHUNK 256

typedef struct {
  lb_mlp_arch arch;
  double *theta;
  double *table; /* [(N+1) * width]: c(s) of the integer steps */
  int N;
} mlp_state;

static size_t mlp_work_size(const lb_model *m, size_t B) {
  const mlp_state *st = m->state;
  size_t c = B < EVAL_CHUNK ? B : EVAL_CHUNK;
  if (c == 0) c = 1;
  return st->arch.width * c + lb_mlp_forward_c0_work(&st->arch, c);
}

/* c(s) for one step: the table row, or computed into tmp. */
static const double *step_part(const mlp_state *st, double sv, double *tmp) {
  if (sv >= 0 && sv <= st->N && sv == floor(sv))
    return st->table + (size_t)sv * st->arch.width;
  lb_mlp_step_part(&st->arch, st->theta, sv, tmp);
  return tmp;
}

static void mlp_eval(const lb_model *m, size_t B, size_t ld, const double *x,
                     const double *s, double *eps, double *work) {
  const mlp_state *st = m->state;
  size_t w = st->arch.width;
  for (size_t r0 = 0; r0 < B; r0 += EVAL_CHUNK) {
    size_t nb = B - r0 < EVAL_CHUNK ? B - r0 : EVAL_CHUNK;
    /* Z0, then lb_mlp_forward_c0's work fw (w x nb), which also holds
     * the step parts of fractional steps until the forward pass starts */
    double *Z0 = work, *fw = Z0 + w * nb, *tmp = fw;
    size_t same = 1;
    while (same < nb && s[r0 + same] == s[r0]) same++;
    if (same == nb) {
      const double *c = step_part(st, s[r0], tmp);
      for (size_t j = 0; j < w; j++)
        for (size_t r = 0; r < nb; r++) Z0[j * nb + r] = c[j];
    } else {
      /* each row's step part (fractional steps: computed into fw),
       * transposed into Z0 in 8 x 8 tiles so that reads and writes both
       * stay within a few cache lines */
      const double *crow[EVAL_CHUNK];
      for (size_t r = 0; r < nb; r++)
        crow[r] = step_part(st, s[r0 + r], tmp + w * r);
      for (size_t rb = 0; rb < nb; rb += 8) {
        size_t re = rb + 8 < nb ? rb + 8 : nb;
        for (size_t jb = 0; jb < w; jb += 8) {
          size_t je = jb + 8 < w ? jb + 8 : w;
          for (size_t j = jb; j < je; j++)
            for (size_t r = rb; r < re; r++) Z0[j * nb + r] = crow[r][j];
        }
      }
    }
    lb_mlp_forward_c0(&st->arch, st->theta, nb, x + r0, ld, Z0, eps + r0, ld,
                      fw);
  }
}

static void mlp_free(void *state) {
  mlp_state *st = state;
  if (!st) return;
  free(st->theta);
  free(st->table);
  free(st);
}

static const lb_model_type mlp_type = {"mlp", mlp_eval, mlp_work_size,
                                       mlp_free};

int lb_mlp_model_from(const lb_mlp_arch *a, const lb_schedule *s,
                      const double *theta, const char *desc, lb_model **out,
                      lb_err *e) {
  (void)e;
  /* eval calls dgemm from the caller's threads: keep OpenBLAS serial */
  lb_mlp_blas_serial();
  mlp_state *st = lb_xcalloc(1, sizeof *st);
  st->arch = *a;
  st->N = s->N;
  st->theta = malloc(a->nparams * sizeof *st->theta);
  memcpy(st->theta, theta, a->nparams * sizeof *st->theta);
  st->table = malloc(((size_t)s->N + 1) * a->width * sizeof *st->table);
  for (int k = 0; k <= s->N; k++)
    lb_mlp_step_part(a, st->theta, (double)k,
                     st->table + (size_t)k * a->width);
  lb_model *m = lb_xcalloc(1, sizeof *m);
  m->type = &mlp_type;
  m->state = st;
  m->dim = a->dim;
  m->sched = *s;
  snprintf(m->desc, sizeof m->desc, "%s", desc);
  *out = m;
  return LB_OK;
}

int lb_mlp_model_load(const char *path, lb_model **out, lb_err *e) {
  *out = NULL;
  lb_mlp_file f;
  int rc = lb_mlp_file_read(path, &f, e);
  if (rc) return rc;
  rc = lb_mlp_model_from(&f.arch, &f.sched, f.ema, path, out, e);
  lb_mlp_file_clear(&f);
  return rc;
}
