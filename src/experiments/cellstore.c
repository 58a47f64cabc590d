/* cellstore.c -- cell files, claims and their staleness, validation of
 * cell files.  Rules in cellstore.h.  GPL-3.0-or-later.
 *
 * A claim is made by writing our claim text into a private file and
 * link(2)ing it to H.claim: link fails with EEXIST when the claim exists,
 * is atomic on local and NFS (v3+) filesystems, and the claim appears with
 * its content already written, so nobody ever reads a half-written claim.
 */
#include "cellstore.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <hdf5.h>

#include "io.h"

void lb_store_init(lb_store *s, const char *out) {
  memset(s, 0, sizeof *s);
  snprintf(s->dir, sizeof s->dir, "%s.cells", out);
  char h[256] = "";
  if (gethostname(h, sizeof h - 1) != 0 || !h[0]) snprintf(h, sizeof h, "localhost");
  size_t k = 0;
  for (const char *p = h; *p && k + 1 < sizeof s->host; p++) {
    char ch = *p;
    int ok = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
             (ch >= '0' && ch <= '9') || ch == '.' || ch == '-' || ch == '_';
    s->host[k++] = ok ? ch : '_';
  }
  s->host[k] = '\0';
  s->pid = (long)getpid();
  s->timeout = 600;
  const char *t = getenv("LANGBENCH_CLAIM_TIMEOUT");
  if (t && atof(t) > 0) s->timeout = atof(t);
}

void lb_store_path(const lb_store *s, const lb_cell *c, char *buf, size_t len) {
  snprintf(buf, len, "%s/%s.h5", s->dir, c->hash);
}

static void claim_path(const lb_store *s, const lb_cell *c, char *buf, size_t len) {
  snprintf(buf, len, "%s/%s.claim", s->dir, c->hash);
}

/* ---- validation ------------------------------------------------------------ */

typedef struct {
  int bad;
  char *why;
  size_t len;
} visit_ctx;

/* Read every dataset fully (catches truncated or undecodable chunks). */
static herr_t read_dataset(hid_t obj, const char *name, const H5O_info_t *info,
                           void *data) {
  visit_ctx *v = data;
  if (info->type != H5O_TYPE_DATASET) return 0;
  hid_t ds = H5Dopen2(obj, name, H5P_DEFAULT);
  if (ds < 0) goto bad;
  hid_t t = H5Dget_type(ds), sp = H5Dget_space(ds);
  hssize_t n = H5Sget_simple_extent_npoints(sp);
  size_t sz = H5Tget_size(t);
  herr_t st = -1;
  if (n >= 0 && sz > 0) {
    void *buf = malloc((size_t)n * sz + 1);
    st = buf ? (n ? H5Dread(ds, t, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf) : 0) : -1;
    free(buf);
  }
  H5Tclose(t);
  H5Sclose(sp);
  H5Dclose(ds);
  if (st >= 0) return 0;
bad:
  v->bad = 1;
  snprintf(v->why, v->len, "dataset '%s' does not read back", name);
  return 1;
}

lb_cell_state lb_store_check(const lb_store *s, const lb_cell *c, int full,
                             char *why, size_t len) {
  char path[4400];
  lb_store_path(s, c, path, sizeof path);
  struct stat st;
  if (stat(path, &st) != 0) return LB_CELL_MISSING;
  if (H5Fis_hdf5(path) <= 0) {
    snprintf(why, len, "not an HDF5 file (%lld bytes)", (long long)st.st_size);
    return LB_CELL_BAD;
  }
  hid_t f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
  if (f < 0) {
    snprintf(why, len, "cannot be opened (truncated?)");
    return LB_CELL_BAD;
  }
  lb_cell_state r = lb_store_check_file(f, c, full, why, len);
  H5Fclose(f);
  return r;
}

lb_cell_state lb_store_check_file(hid_t f, const lb_cell *c, int full,
                                  char *why, size_t len) {
  char key[sizeof c->key], fmt[64] = "";
  long ver = -1;
  lb_cell_state r = LB_CELL_OK;
  /* a Langevin cell (compute == NULL) is a run file with /metrics */
  if (!c->compute && (lb_attr_get_str(f, "format", fmt, sizeof fmt) != 0 ||
                      strcmp(fmt, LB_RUN_FORMAT) != 0)) {
    snprintf(why, len, "not a langbench cell (format attribute)");
    r = LB_CELL_BAD;
  } else if (!c->compute && (lb_attr_get_long(f, "format_version", &ver) != 0 ||
                             ver != LB_RUN_FORMAT_VERSION)) {
    snprintf(why, len, "format_version %ld, this langbench reads %d", ver,
             LB_RUN_FORMAT_VERSION);
    r = LB_CELL_BAD;
  } else if (!c->compute && H5Lexists(f, "metrics", H5P_DEFAULT) <= 0) {
    snprintf(why, len, "no /metrics");
    r = LB_CELL_BAD;
  } else if (lb_attr_get_str(f, "cell_key", key, sizeof key) != 0) {
    snprintf(why, len, "no readable cell_key attribute");
    r = LB_CELL_BAD;
  } else if (strcmp(key, c->key) != 0) {
    snprintf(why, len, "holds another cell (cell_key differs)");
    r = LB_CELL_BAD;
  } else if (full) {
    visit_ctx v = {0, why, len};
    if (H5Ovisit2(f, H5_INDEX_NAME, H5_ITER_INC, read_dataset, &v,
                  H5O_INFO_BASIC) < 0 || v.bad) {
      if (!v.bad) snprintf(why, len, "its objects cannot be listed");
      r = LB_CELL_BAD;
    }
  }
  return r;
}

void lb_store_set_aside(const lb_store *s, const lb_cell *c) {
  char path[4400], bad[4500];
  lb_store_path(s, c, path, sizeof path);
  snprintf(bad, sizeof bad, "%s.bad", path);
  if (rename(path, bad) != 0) unlink(path);
}

/* ---- claims ---------------------------------------------------------------- */

#define MAX_HELD 8
static pthread_mutex_t held_mu = PTHREAD_MUTEX_INITIALIZER;
static char held[MAX_HELD][4400];

static void hold(const char *path, int on) {
  pthread_mutex_lock(&held_mu);
  for (int i = 0; i < MAX_HELD; i++) {
    if (on && !held[i][0]) {
      snprintf(held[i], sizeof held[i], "%s", path);
      break;
    }
    if (!on && strcmp(held[i], path) == 0) {
      held[i][0] = '\0';
      break;
    }
  }
  pthread_mutex_unlock(&held_mu);
}

static void claim_text(const lb_store *s, char *buf, size_t len) {
  snprintf(buf, len, "pid=%ld host=%s time=%lld\n", s->pid, s->host,
           (long long)time(NULL));
}

static int read_text(const char *path, char *buf, size_t len) {
  FILE *f = fopen(path, "r");
  if (!f) return -1;
  size_t n = fread(buf, 1, len - 1, f);
  buf[n] = '\0';
  fclose(f);
  return 0;
}

/* Is the claim whose text is `text` and mtime `mtime` stale? */
static int stale(const lb_store *s, const char *text, time_t mtime) {
  long pid = 0;
  char host[256] = "";
  int parsed = sscanf(text, "pid=%ld host=%255s", &pid, host) == 2;
  if ((double)(time(NULL) - mtime) > s->timeout) return 1;
  if (!parsed) return 0; /* unknown writer: only the timeout frees it */
  if (strcmp(host, s->host) != 0) return 0;
  if (pid == s->pid) return 1; /* an earlier process with our pid */
  return kill((pid_t)pid, 0) != 0 && errno == ESRCH;
}

/* The .part file a claim's holder writes (to remove it after a takeover). */
static void holder_part(const lb_store *s, const lb_cell *c, const char *text,
                        char *buf, size_t len) {
  long pid = 0;
  char host[256] = "";
  buf[0] = '\0';
  if (sscanf(text, "pid=%ld host=%255s", &pid, host) == 2)
    snprintf(buf, len, "%s/%s.h5.part-%s-%ld", s->dir, c->hash, host, pid);
}

int lb_store_claim(lb_store *s, const lb_cell *c) {
  char cp[4400], tmp[4700], text[512];
  claim_path(s, c, cp, sizeof cp);
  snprintf(tmp, sizeof tmp, "%s.new-%s-%ld", cp, s->host, s->pid);
  claim_text(s, text, sizeof text);
  for (int attempt = 0; attempt < 2; attempt++) {
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0666);
    if (fd < 0) return -1;
    ssize_t w = write(fd, text, strlen(text));
    close(fd);
    if (w != (ssize_t)strlen(text)) {
      unlink(tmp);
      return -1;
    }
    int rc = link(tmp, cp);
    int err = errno;
    unlink(tmp);
    if (rc == 0) {
      hold(cp, 1);
      return 1;
    }
    if (err != EEXIST) return -1;
    if (attempt) return 0;
    /* held: take it over if stale */
    char old[512];
    struct stat st;
    if (stat(cp, &st) != 0) continue; /* released meanwhile: retry */
    if (read_text(cp, old, sizeof old) != 0) continue;
    if (!stale(s, old, st.st_mtime)) return 0;
    /* Move the stale claim aside, then check that what we moved is the
     * claim we judged (another process may have taken over first and
     * made a fresh claim: give that one back). */
    char aside[4800], got[512];
    snprintf(aside, sizeof aside, "%s.stale-%s-%ld", cp, s->host, s->pid);
    if (rename(cp, aside) != 0) continue;
    if (read_text(aside, got, sizeof got) == 0 && strcmp(got, old) != 0) {
      if (link(aside, cp) != 0) { /* someone claimed meanwhile: theirs wins */
      }
      unlink(aside);
      return 0;
    }
    unlink(aside);
    char part[4800];
    holder_part(s, c, old, part, sizeof part);
    if (part[0]) unlink(part);
  }
  return 0;
}

void lb_store_release(lb_store *s, const lb_cell *c) {
  char cp[4400], text[512], mine[512];
  claim_path(s, c, cp, sizeof cp);
  hold(cp, 0);
  /* ours if pid and host match (the time field differs on heartbeat) */
  if (read_text(cp, text, sizeof text) != 0) return;
  snprintf(mine, sizeof mine, "pid=%ld host=%s ", s->pid, s->host);
  if (strncmp(text, mine, strlen(mine)) == 0) unlink(cp);
}

/* ---- heartbeat ------------------------------------------------------------- */

static pthread_t hb_thread;
static pthread_mutex_t hb_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t hb_cv = PTHREAD_COND_INITIALIZER;
static int hb_running, hb_stop;
static double hb_period;

static void *heartbeat(void *arg) {
  (void)arg;
  pthread_mutex_lock(&hb_mu);
  while (!hb_stop) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    double p = hb_period;
    ts.tv_sec += (time_t)p;
    ts.tv_nsec += (long)((p - (double)(time_t)p) * 1e9);
    if (ts.tv_nsec >= 1000000000L) {
      ts.tv_sec++;
      ts.tv_nsec -= 1000000000L;
    }
    pthread_cond_timedwait(&hb_cv, &hb_mu, &ts);
    if (hb_stop) break;
    pthread_mutex_lock(&held_mu);
    for (int i = 0; i < MAX_HELD; i++)
      if (held[i][0]) utimensat(AT_FDCWD, held[i], NULL, 0);
    pthread_mutex_unlock(&held_mu);
  }
  pthread_mutex_unlock(&hb_mu);
  return NULL;
}

void lb_store_heartbeat_start(lb_store *s) {
  pthread_mutex_lock(&hb_mu);
  if (!hb_running) {
    hb_stop = 0;
    hb_period = s->timeout / 10.0;
    if (pthread_create(&hb_thread, NULL, heartbeat, NULL) == 0) hb_running = 1;
  }
  pthread_mutex_unlock(&hb_mu);
}

void lb_store_heartbeat_stop(void) {
  pthread_mutex_lock(&hb_mu);
  int run = hb_running;
  hb_stop = 1;
  pthread_cond_broadcast(&hb_cv);
  pthread_mutex_unlock(&hb_mu);
  if (run) pthread_join(hb_thread, NULL);
  hb_running = 0;
}
