/* io.c -- read and write the HDF5 run file (schema in io.h and README).
 * GPL-3.0-or-later.
 *
 * Strings are stored as fixed-length, NUL-terminated C strings (h5py reads
 * them as bytes).  /trajectory is chunked (chunks under 1 MiB) and
 * deflated; everything else is contiguous.  Files are created as PATH.part
 * and renamed after H5Fclose, so a crash never leaves a truncated file
 * under the requested name.
 */
#include "io.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/statvfs.h>
#include <unistd.h>

/* H5dont_atexit: libhdf5 1.10 crashes in its exit handler (H5F__close_cb
 * from H5_term_library) when a file whose H5Fclose failed -- e.g. on a
 * full disk, EFBIG -- is still registered.  Every file is closed
 * explicitly, so the exit handler has nothing to flush; it must be
 * refused before the library initialises, i.e. first. */
void lb_io_quiet(void) {
  H5dont_atexit();
  H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
}

void lb_run_clear(lb_run *r) {
  free(r->samples);
  free(r->velocities);
  free(r->nfe);
  free(r->diverged);
  free(r->trajectory);
  free(r->trajectory_step);
  free(r->trajectory_nfe);
  memset(r, 0, sizeof *r);
}

/* ---- attributes ----------------------------------------------------- */

static int put_attr(hid_t loc, const char *name, hid_t type, const void *v) {
  hid_t sp = H5Screate(H5S_SCALAR);
  if (H5Aexists(loc, name) > 0) H5Adelete(loc, name);
  hid_t a = H5Acreate2(loc, name, type, sp, H5P_DEFAULT, H5P_DEFAULT);
  herr_t st = a < 0 ? -1 : H5Awrite(a, type, v);
  if (a >= 0) H5Aclose(a);
  H5Sclose(sp);
  return st < 0 ? -1 : 0;
}

int lb_attr_str(hid_t loc, const char *name, const char *value) {
  hid_t t = H5Tcopy(H5T_C_S1);
  H5Tset_size(t, strlen(value) + 1);
  H5Tset_strpad(t, H5T_STR_NULLTERM);
  int rc = put_attr(loc, name, t, value);
  H5Tclose(t);
  return rc;
}

int lb_attr_double(hid_t loc, const char *name, double value) {
  return put_attr(loc, name, H5T_NATIVE_DOUBLE, &value);
}

int lb_attr_long(hid_t loc, const char *name, long value) {
  int64_t v = value;
  return put_attr(loc, name, H5T_STD_I64LE, &v);
}

static hid_t open_attr(hid_t loc, const char *name) {
  if (H5Aexists(loc, name) <= 0) return -1;
  return H5Aopen(loc, name, H5P_DEFAULT);
}

int lb_attr_get_str(hid_t loc, const char *name, char *buf, size_t len) {
  hid_t a = open_attr(loc, name);
  if (a < 0) return -1;
  hid_t ft = H5Aget_type(a);
  int rc = -1;
  if (H5Tget_class(ft) == H5T_STRING && !H5Tis_variable_str(ft)) {
    size_t n = H5Tget_size(ft);
    char *tmp = lb_xcalloc(n + 1, 1);
    hid_t mt = H5Tcopy(H5T_C_S1);
    H5Tset_size(mt, n);
    if (H5Aread(a, mt, tmp) >= 0) {
      snprintf(buf, len, "%s", tmp);
      rc = 0;
    }
    H5Tclose(mt);
    free(tmp);
  } else if (H5Tget_class(ft) == H5T_STRING) { /* variable length */
    char *p = NULL;
    hid_t mt = H5Tcopy(H5T_C_S1);
    H5Tset_size(mt, H5T_VARIABLE);
    if (H5Aread(a, mt, &p) >= 0 && p) {
      snprintf(buf, len, "%s", p);
      H5free_memory(p);
      rc = 0;
    }
    H5Tclose(mt);
  }
  H5Tclose(ft);
  H5Aclose(a);
  return rc;
}

int lb_attr_get_double(hid_t loc, const char *name, double *value) {
  hid_t a = open_attr(loc, name);
  if (a < 0) return -1;
  herr_t st = H5Aread(a, H5T_NATIVE_DOUBLE, value);
  H5Aclose(a);
  return st < 0 ? -1 : 0;
}

int lb_attr_get_long(hid_t loc, const char *name, long *value) {
  hid_t a = open_attr(loc, name);
  if (a < 0) return -1;
  int64_t v;
  herr_t st = H5Aread(a, H5T_NATIVE_INT64, &v);
  H5Aclose(a);
  if (st < 0) return -1;
  *value = (long)v;
  return 0;
}

/* ---- datasets --------------------------------------------------------- */

static int put_data(hid_t loc, const char *name, hid_t ftype, hid_t mtype,
                    int rank, const hsize_t *dims, const hsize_t *chunk,
                    const void *data) {
  hid_t sp = H5Screate_simple(rank, dims, NULL);
  hid_t pl = H5Pcreate(H5P_DATASET_CREATE);
  if (chunk) {
    H5Pset_chunk(pl, rank, chunk);
    H5Pset_shuffle(pl);
    H5Pset_deflate(pl, 4);
  }
  hid_t ds = H5Dcreate2(loc, name, ftype, sp, H5P_DEFAULT, pl, H5P_DEFAULT);
  herr_t st = -1;
  if (ds >= 0) {
    hsize_t total = 1;
    for (int i = 0; i < rank; i++) total *= dims[i];
    st = total ? H5Dwrite(ds, mtype, H5S_ALL, H5S_ALL, H5P_DEFAULT, data) : 0;
    H5Dclose(ds);
  }
  H5Pclose(pl);
  H5Sclose(sp);
  return st < 0 ? -1 : 0;
}

int lb_run_write(hid_t loc, const lb_run *r, lb_err *e) {
  int bad = 0;
  bad |= lb_attr_str(loc, "format", LB_RUN_FORMAT);
  bad |= lb_attr_long(loc, "format_version", LB_RUN_FORMAT_VERSION);
  bad |= lb_attr_str(loc, "langbench_version", LB_VERSION);
  bad |= lb_attr_str(loc, "target", r->target);
  bad |= lb_attr_str(loc, "sampler", r->sampler);
  bad |= lb_attr_str(loc, "init", r->init);
  bad |= lb_attr_double(loc, "step", r->step);
  bad |= lb_attr_long(loc, "steps", r->steps);
  bad |= lb_attr_long(loc, "chains", r->chains);
  bad |= lb_attr_long(loc, "seed", r->seed);
  bad |= lb_attr_long(loc, "dim", r->dim);
  bad |= lb_attr_long(loc, "threads", r->threads);
  bad |= lb_attr_long(loc, "record_every", r->record_every);
  bad |= lb_attr_str(loc, "created", r->created);
  bad |= lb_attr_str(loc, "command", r->command);
  bad |= lb_attr_str(loc, "status", r->status);
  bad |= lb_attr_double(loc, "wall_seconds", r->wall_seconds);

  hsize_t cd[2] = {(hsize_t)r->chains, (hsize_t)r->dim};
  bad |= put_data(loc, "samples", H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, 2, cd,
                  NULL, r->samples);
  if (r->velocities)
    bad |= put_data(loc, "velocities", H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, 2,
                    cd, NULL, r->velocities);
  bad |= put_data(loc, "nfe", H5T_STD_I64LE, H5T_NATIVE_INT64, 1, cd, NULL,
                  r->nfe);
  bad |= put_data(loc, "diverged", H5T_STD_I8LE, H5T_NATIVE_INT8, 1, cd, NULL,
                  r->diverged);

  hsize_t td[3] = {r->records, r->record_chains, (hsize_t)r->dim};
  /* Chunks under 1 MiB (2^17 doubles): whole records where they fit. */
  hsize_t ch[3] = {1, td[1], td[2]};
  int chunked = td[0] > 0 && td[1] > 0;
  if (chunked) {
    if (td[1] * td[2] > 131072) {
      ch[1] = 131072 / td[2] ? 131072 / td[2] : 1;
    } else {
      ch[0] = 131072 / (td[1] * td[2]);
      if (ch[0] > td[0]) ch[0] = td[0];
    }
  }
  bad |= put_data(loc, "trajectory", H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, 3, td,
                  chunked ? ch : NULL, r->trajectory);
  hsize_t sd[1] = {r->records};
  bad |= put_data(loc, "trajectory_step", H5T_STD_I64LE, H5T_NATIVE_INT64, 1,
                  sd, NULL, r->trajectory_step);
  if (r->trajectory_nfe)
    bad |= put_data(loc, "trajectory_nfe", H5T_STD_I64LE, H5T_NATIVE_INT64, 1,
                    sd, NULL, r->trajectory_nfe);
  if (bad) return lb_fail(e, LB_ERUNTIME, "HDF5 write failed");
  return LB_OK;
}

int lb_dataset_plausible(hid_t ds, uint64_t count) {
  if (count == 0) return 0;
  hid_t ft = H5Dget_type(ds);
  size_t esize = ft >= 0 ? H5Tget_size(ft) : 0;
  if (ft >= 0) H5Tclose(ft);
  if (esize == 0 || count > SIZE_MAX / 2 / esize) return -1;
  hsize_t stored = H5Dget_storage_size(ds);
  if (stored == 0 || (double)count * (double)esize > 1100.0 * (double)stored)
    return -1;
  return 0;
}

/* Read a whole dataset of the expected rank and shape (dims[i] = 0 means
 * "any"; the shape found is returned in dims). */
static int get_data(hid_t loc, const char *name, hid_t mtype, size_t esize,
                    int rank, hsize_t *dims, void **out, lb_err *e) {
  if (H5Lexists(loc, name, H5P_DEFAULT) <= 0)
    return lb_fail(e, LB_EINPUT, "missing dataset /%s", name);
  hid_t ds = H5Dopen2(loc, name, H5P_DEFAULT);
  if (ds < 0) return lb_fail(e, LB_EINPUT, "cannot open dataset /%s", name);
  hid_t sp = H5Dget_space(ds);
  hsize_t got[8];
  int rk = H5Sget_simple_extent_ndims(sp);
  int rc = LB_OK;
  if (rk != rank) {
    rc = lb_fail(e, LB_EINPUT, "dataset /%s has rank %d, expected %d", name,
                 rk, rank);
  } else {
    H5Sget_simple_extent_dims(sp, got, NULL);
    uint64_t total = 1;
    for (int i = 0; i < rank; i++) {
      if (dims[i] && got[i] != dims[i])
        rc = lb_fail(e, LB_EINPUT, "dataset /%s has the wrong shape", name);
      dims[i] = got[i];
      total = got[i] && total > UINT64_MAX / got[i] ? UINT64_MAX : total * got[i];
    }
    if (!rc && lb_dataset_plausible(ds, total) != 0)
      rc = lb_fail(e, LB_EINPUT, "dataset /%s is truncated or corrupt", name);
    if (!rc) {
      *out = lb_xcalloc(total, esize);
      if (total && H5Dread(ds, mtype, H5S_ALL, H5S_ALL, H5P_DEFAULT, *out) < 0)
        rc = lb_fail(e, LB_EINPUT, "cannot read dataset /%s", name);
    }
  }
  H5Sclose(sp);
  H5Dclose(ds);
  return rc;
}

int lb_run_read(hid_t loc, lb_run *r, lb_err *e) {
  memset(r, 0, sizeof *r);
  char fmt[64] = "";
  if (lb_attr_get_str(loc, "format", fmt, sizeof fmt) != 0 ||
      strcmp(fmt, LB_RUN_FORMAT) != 0)
    return lb_fail(e, LB_EINPUT, "not a langbench run (format attribute)");
  long ver = 0;
  lb_attr_get_long(loc, "format_version", &ver);
  if (ver != LB_RUN_FORMAT_VERSION)
    return lb_fail(e, LB_EINPUT, "unsupported format_version %ld", ver);
  int bad = 0;
  bad |= lb_attr_get_str(loc, "langbench_version", r->langbench_version,
                         sizeof r->langbench_version);
  bad |= lb_attr_get_str(loc, "target", r->target, sizeof r->target);
  bad |= lb_attr_get_str(loc, "sampler", r->sampler, sizeof r->sampler);
  bad |= lb_attr_get_str(loc, "init", r->init, sizeof r->init);
  bad |= lb_attr_get_str(loc, "created", r->created, sizeof r->created);
  bad |= lb_attr_get_str(loc, "command", r->command, sizeof r->command);
  bad |= lb_attr_get_str(loc, "status", r->status, sizeof r->status);
  bad |= lb_attr_get_double(loc, "step", &r->step);
  bad |= lb_attr_get_double(loc, "wall_seconds", &r->wall_seconds);
  bad |= lb_attr_get_long(loc, "steps", &r->steps);
  bad |= lb_attr_get_long(loc, "chains", &r->chains);
  bad |= lb_attr_get_long(loc, "seed", &r->seed);
  bad |= lb_attr_get_long(loc, "dim", &r->dim);
  bad |= lb_attr_get_long(loc, "threads", &r->threads);
  bad |= lb_attr_get_long(loc, "record_every", &r->record_every);
  if (bad) return lb_fail(e, LB_EINPUT, "run file lacks a required attribute");
  if (r->chains < 1 || r->dim < 1)
    return lb_fail(e, LB_EINPUT, "run file has chains or dim < 1");

  hsize_t cd[2] = {(hsize_t)r->chains, (hsize_t)r->dim};
  int rc = get_data(loc, "samples", H5T_NATIVE_DOUBLE, sizeof(double), 2, cd,
                    (void **)&r->samples, e);
  if (!rc && H5Lexists(loc, "velocities", H5P_DEFAULT) > 0)
    rc = get_data(loc, "velocities", H5T_NATIVE_DOUBLE, sizeof(double), 2, cd,
                  (void **)&r->velocities, e);
  hsize_t nd[1] = {(hsize_t)r->chains};
  if (!rc)
    rc = get_data(loc, "nfe", H5T_NATIVE_INT64, sizeof(int64_t), 1, nd,
                  (void **)&r->nfe, e);
  if (!rc)
    rc = get_data(loc, "diverged", H5T_NATIVE_INT8, sizeof(int8_t), 1, nd,
                  (void **)&r->diverged, e);
  hsize_t td[3] = {0, 0, (hsize_t)r->dim};
  if (!rc)
    rc = get_data(loc, "trajectory", H5T_NATIVE_DOUBLE, sizeof(double), 3, td,
                  (void **)&r->trajectory, e);
  r->records = td[0];
  r->record_chains = td[1];
  hsize_t sd[1] = {r->records};
  if (!rc)
    rc = get_data(loc, "trajectory_step", H5T_NATIVE_INT64, sizeof(int64_t), 1,
                  sd, (void **)&r->trajectory_step, e);
  if (!rc && H5Lexists(loc, "trajectory_nfe", H5P_DEFAULT) > 0)
    rc = get_data(loc, "trajectory_nfe", H5T_NATIVE_INT64, sizeof(int64_t), 1,
                  sd, (void **)&r->trajectory_nfe, e);
  if (rc) lb_run_clear(r);
  return rc;
}

/* ---- whole files -------------------------------------------------------- */

int lb_out_open(lb_out *o, const char *path, lb_err *e) {
  memset(o, 0, sizeof *o);
  o->file = -1;
  if (!path || !*path) return lb_fail(e, LB_EINPUT, "--out: empty file name");
  if (strlen(path) >= sizeof o->path)
    return lb_fail(e, LB_EINPUT, "--out: file name too long");
  snprintf(o->path, sizeof o->path, "%s", path);
  snprintf(o->part, sizeof o->part, "%s.part", path);
  o->file = H5Fcreate(o->part, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
  if (o->file < 0)
    return lb_fail(e, LB_EINPUT, "--out: cannot create '%s'", o->part);
  return LB_OK;
}

int lb_out_commit(lb_out *o, lb_err *e) {
  herr_t st = H5Fclose(o->file);
  o->file = -1;
  if (st < 0) {
    unlink(o->part);
    return lb_fail(e, LB_ERUNTIME, "closing '%s' failed", o->part);
  }
  if (rename(o->part, o->path) != 0) {
    unlink(o->part);
    return lb_fail(e, LB_ERUNTIME, "cannot rename '%s' to '%s'", o->part,
                   o->path);
  }
  return LB_OK;
}

void lb_out_abort(lb_out *o) {
  if (o->file >= 0) H5Fclose(o->file);
  o->file = -1;
  if (o->part[0]) unlink(o->part);
}

int lb_out_room(const char *path, uint64_t bytes, lb_err *e) {
  char dir[4096];
  snprintf(dir, sizeof dir, "%s", path);
  char *slash = strrchr(dir, '/');
  if (slash)
    slash[slash == dir ? 1 : 0] = '\0';
  else
    snprintf(dir, sizeof dir, ".");
  struct statvfs vf;
  if (statvfs(dir, &vf) == 0) {
    double avail = (double)vf.f_bavail * (double)vf.f_frsize;
    if ((double)bytes > avail)
      return lb_fail(e, LB_ERUNTIME,
                     "no room for '%s': about %.0f bytes needed, %.0f free",
                     path, (double)bytes, avail);
  }
  struct rlimit rl;
  if (getrlimit(RLIMIT_FSIZE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY &&
      (double)bytes > (double)rl.rlim_cur)
    return lb_fail(e, LB_ERUNTIME,
                   "no room for '%s': about %.0f bytes needed, the file size "
                   "limit is %.0f", path, (double)bytes, (double)rl.rlim_cur);
  return LB_OK;
}

int lb_run_load(const char *path, lb_run *r, lb_err *e) {
  memset(r, 0, sizeof *r);
  if (access(path, R_OK) != 0)
    return lb_fail(e, LB_EINPUT, "cannot read '%s'", path);
  if (H5Fis_hdf5(path) <= 0)
    return lb_fail(e, LB_EINPUT, "'%s' is not an HDF5 file", path);
  hid_t f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
  if (f < 0) return lb_fail(e, LB_EINPUT, "cannot open '%s'", path);
  int rc = lb_run_read(f, r, e);
  H5Fclose(f);
  if (rc) {
    char tmp[LB_ERRLEN];
    snprintf(tmp, sizeof tmp, "%s", e->msg);
    lb_fail(e, rc, "%s: %s", path, tmp);
  }
  return rc;
}
