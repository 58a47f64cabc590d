/* registry.c -- the metric registry, metric lists, and the evaluation
 * driver that adds standard errors and noise floors to every family.
 *
 * GPL-3.0-or-later.
 */
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include <gsl/gsl_randist.h>

#include "metrics.h"
#include "rng.h"

extern const lb_metric_type lb_metric_mean_err;
extern const lb_metric_type lb_metric_cov_err;
extern const lb_metric_type lb_metric_w2_marg;
extern const lb_metric_type lb_metric_w2;
extern const lb_metric_type lb_metric_sw2;
extern const lb_metric_type lb_metric_sinkhorn;
extern const lb_metric_type lb_metric_kl;
extern const lb_metric_type lb_metric_tv;
extern const lb_metric_type lb_metric_mmd;
extern const lb_metric_type lb_metric_modes;
extern const lb_metric_type lb_metric_weak;

/* The registry: one line per family, in the order of `list metrics`. */
const lb_metric_type *const lb_metric_types[] = {
    &lb_metric_mean_err, &lb_metric_cov_err, &lb_metric_w2_marg,
    &lb_metric_w2,       &lb_metric_sw2,     &lb_metric_sinkhorn,
    &lb_metric_kl,       &lb_metric_tv,      &lb_metric_mmd,
    &lb_metric_modes,    &lb_metric_weak,    NULL,
};

const char *const lb_metric_default_list =
    "mean_err,cov_err,w2_marg,sw2,kl,tv,mmd,modes";

const lb_metric_type *lb_metric_type_find(const char *name) {
  for (size_t i = 0; lb_metric_types[i]; i++)
    if (strcmp(lb_metric_types[i]->name, name) == 0) return lb_metric_types[i];
  return NULL;
}

/* ------------------------------------------------------------------ */
/* Construction                                                        */

int lb_metric_alloc(const char *text, const lb_target *t, lb_metric **out,
                    lb_err *e) {
  char buf[LB_SPEC_MAXLEN];
  if (strlen(text) >= sizeof buf)
    return lb_fail(e, LB_EINPUT, "--metrics: specification too long: '%s'",
                   text);
  strcpy(buf, text);
  for (char *p = buf; *p; p++)
    if (*p == ';') *p = ',';
  lb_spec s;
  int rc = lb_spec_parse(&s, buf, "--metrics", e);
  if (rc) return rc;
  const lb_metric_type *type = lb_metric_type_find(s.name);
  if (!type)
    return lb_fail(e, LB_EINPUT,
                   "--metrics: unknown metric '%s' (see 'langbench list "
                   "metrics')",
                   s.name);
  if (type->max_dim && t->dim > type->max_dim)
    return lb_fail(e, LB_EINPUT,
                   "--metrics: '%s' needs dimension <= %zu, the target has "
                   "dimension %zu",
                   s.name, type->max_dim, t->dim);
  lb_metric *m = lb_xcalloc(1, sizeof *m);
  m->type = type;
  m->target = t;
  m->dim = t->dim;
  snprintf(m->label, sizeof m->label, "%s", text);
  for (char *p = m->label; *p; p++)
    if (*p == ',') *p = ';';
  rc = type->init(m, &s, e);
  /* Parameters of the driver, after init has set the defaults. */
  long v;
  if (!rc && m->se_method == LB_SE_BOOTSTRAP) {
    rc = lb_spec_long(&s, "boot", m->reps, 2, 100000, &v, e);
    m->reps = v;
  } else if (!rc && m->se_method == LB_SE_BATCH) {
    rc = lb_spec_long(&s, "batches", m->reps, 2, 1000, &v, e);
    m->reps = v;
  }
  if (!rc) {
    rc = lb_spec_long(&s, "max", (long)m->max_n, 0, 1L << 40, &v, e);
    m->max_n = (size_t)v;
    if (!rc && m->max_n == 1)
      rc = lb_fail(e, LB_EINPUT, "--metrics: %s: max must be 0 or >= 2",
                   text);
  }
  if (!rc) rc = lb_spec_check_used(&s, "--metrics", e);
  if (rc) {
    free(m);
    if (e && strncmp(e->msg, "--metrics", 9) != 0) { /* name the option */
      char tmp[LB_ERRLEN];
      snprintf(tmp, sizeof tmp, "%s", e->msg);
      lb_fail(e, rc, "--metrics: %.*s", LB_ERRLEN - 16, tmp);
    }
    return rc;
  }
  *out = m;
  return LB_OK;
}

void lb_metric_free(lb_metric *m) {
  if (m && m->cache && m->cache_free) m->cache_free(m->cache);
  free(m);
}

static int push(const char *spec, const lb_target *t, lb_metric ***ms,
                size_t *count, lb_err *e) {
  lb_metric *m;
  int rc = lb_metric_alloc(spec, t, &m, e);
  if (rc) return rc;
  lb_metric **grown = realloc(*ms, (*count + 1) * sizeof *grown);
  if (!grown) {
    free(m);
    return lb_fail(e, LB_ERUNTIME, "out of memory");
  }
  grown[(*count)++] = m;
  *ms = grown;
  return LB_OK;
}

/* A token is a parameter when it has '=' and no ':' before it. */
static int is_param(const char *tok) {
  const char *eq = strchr(tok, '=');
  const char *colon = strchr(tok, ':');
  return eq && (!colon || eq < colon);
}

int lb_metric_list_parse(const char *list, const lb_target *t,
                         lb_metric ***ms, size_t *count, lb_err *e) {
  char buf[4096], spec[LB_SPEC_MAXLEN];
  if (!list || !*list)
    return lb_fail(e, LB_EINPUT, "--metrics: empty list");
  if (strlen(list) >= sizeof buf)
    return lb_fail(e, LB_EINPUT, "--metrics: list too long");
  strcpy(buf, list);
  spec[0] = '\0';
  const char *p = buf;
  for (;;) {
    const char *end = strchr(p, ',');
    size_t len = end ? (size_t)(end - p) : strlen(p);
    char tok[LB_SPEC_MAXLEN];
    if (len == 0)
      return lb_fail(e, LB_EINPUT, "--metrics: empty entry in '%s'", list);
    if (len >= sizeof tok)
      return lb_fail(e, LB_EINPUT, "--metrics: entry too long in '%s'", list);
    memcpy(tok, p, len);
    tok[len] = '\0';
    if (is_param(tok)) {
      if (!spec[0])
        return lb_fail(e, LB_EINPUT,
                       "--metrics: parameter '%s' does not follow a metric "
                       "name",
                       tok);
      if (strlen(spec) + len + 2 >= sizeof spec)
        return lb_fail(e, LB_EINPUT, "--metrics: entry too long in '%s'",
                       list);
      strcat(spec, strchr(spec, ':') ? "," : ":");
      strcat(spec, tok);
    } else {
      if (spec[0]) {
        int rc = push(spec, t, ms, count, e);
        if (rc) return rc;
      }
      strcpy(spec, tok);
    }
    if (!end) break;
    p = end + 1;
  }
  return push(spec, t, ms, count, e);
}

/* ------------------------------------------------------------------ */
/* Notes                                                               */

void lb_metric_note(lb_metric *m, unsigned key, const char *fmt, ...) {
  if (!m->msg || (m->noted & key)) return;
  m->noted |= key;
  va_list ap;
  fprintf(m->msg, "langbench metrics: %s: ", m->label);
  va_start(ap, fmt);
  vfprintf(m->msg, fmt, ap);
  va_end(ap);
  fputc('\n', m->msg);
}

/* ------------------------------------------------------------------ */
/* Evaluation                                                          */

/* FNV-1a, 64 bits. */
static uint64_t hash_str(const char *s) {
  uint64_t h = 1469598103934665603ULL;
  for (; *s; s++) {
    h ^= (unsigned char)*s;
    h *= 1099511628211ULL;
  }
  return h;
}

/* Stream: top bit set (chains use streams 0..chains-1), 39 bits of the
 * label's hash, 24 bits of the sample set. */
static uint64_t metric_stream(const lb_metric *m, uint64_t set) {
  return (1ULL << 63) | ((hash_str(m->label) & 0x7fffffffffULL) << 24) |
         (set & 0xffffffULL);
}

static double *exact_sample(const lb_target *t, size_t n, gsl_rng *r) {
  double *y = lb_xcalloc(n * t->dim, sizeof(double));
  for (size_t i = 0; i < n; i++) t->type->sample(t->state, r, y + i * t->dim);
  return y;
}

/* Standard deviation (n - 1) of v[n]; NaN for n < 2, inf if any is. */
static double sd(const double *v, size_t n) {
  if (n < 2) return NAN;
  double mean = 0; /* of v - v[0], so equal values give exactly 0 */
  for (size_t i = 0; i < n; i++) {
    if (isnan(v[i])) return NAN;
    if (!isfinite(v[i])) return INFINITY;
    mean += v[i] - v[0];
  }
  mean /= (double)n;
  double ss = 0;
  for (size_t i = 0; i < n; i++)
    ss += (v[i] - v[0] - mean) * (v[i] - v[0] - mean);
  return sqrt(ss / (double)(n - 1));
}

/* splitmix64 (Steele, Lea & Flood 2014): the within-block indices of the
 * bootstrap counts, seeded from the replicate's Philox stream.  Not a
 * stream of the run: only the resampling of one replicate. */
static inline uint64_t splitmix64(uint64_t *s) {
  uint64_t z = (*s += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

/* Multinomial(n; 1/n, ..., 1/n) resampling counts in O(n) with local
 * memory traffic: the chains are cut into blocks of LB_BOOT_BLOCK = 2^12
 * (the counts of a block stay in L1); the block totals are one
 * multinomial draw over the blocks (sequential binomials, gsl, from r),
 * and each block's total is spread over its chains by uniform draws: five
 * 12-bit indices per 64-bit splitmix64 output for a full block, Lemire's
 * rejection method on 32-bit halves for the last, shorter one.  The law
 * is exactly that of n draws with replacement.  pb, nb: scratch of
 * ceil(n / LB_BOOT_BLOCK). */
void lb_boot_counts(gsl_rng *r, size_t n, unsigned *w, double *pb,
                    unsigned *nb) {
  enum { SHIFT = 12 };
  const size_t S = LB_BOOT_BLOCK, K = (n + S - 1) / S;
  for (size_t k = 0; k < K; k++)
    pb[k] = (double)(k + 1 < K ? S : n - (K - 1) * S);
  gsl_ran_multinomial(r, K, (unsigned)n, pb, nb);
  uint64_t st = ((uint64_t)gsl_rng_get(r) << 32) | gsl_rng_get(r);
  memset(w, 0, n * sizeof *w);
  for (size_t k = 0; k < K; k++) {
    unsigned *wk = w + k * S;
    const size_t len = k + 1 < K ? S : n - (K - 1) * S;
    unsigned j = 0;
    if (len == S) {
      for (; j + 5 <= nb[k]; j += 5) {
        uint64_t u = splitmix64(&st);
        wk[u & (S - 1)]++;
        wk[(u >> 12) & (S - 1)]++;
        wk[(u >> 24) & (S - 1)]++;
        wk[(u >> 36) & (S - 1)]++;
        wk[(u >> 48) & (S - 1)]++;
      }
      for (; j < nb[k]; j++) wk[splitmix64(&st) >> (64 - SHIFT)]++;
    } else {
      const uint32_t L = (uint32_t)len, thr = (uint32_t)(-L) % L;
      for (; j < nb[k]; j++) {
        uint64_t mlt;
        do mlt = (splitmix64(&st) >> 32) * L;
        while ((uint32_t)mlt < thr);
        wk[mlt >> 32]++;
      }
    }
  }
}

int lb_metric_eval(lb_metric *m, const double *x, size_t n, uint64_t seed,
                   uint64_t set, lb_metric_result *out, lb_err *e) {
  (void)e;
  const size_t d = m->dim;
  const lb_target *t = m->target;
  out->estimate = out->se = out->floor = NAN;
  out->n = n;
  if (n < 2) return LB_OK;

  const uint64_t stream = metric_stream(m, set);
  gsl_rng *r = lb_rng_alloc();
  double *sub = NULL;
  if (m->max_n && n > m->max_n) {
    /* Uniform subset without replacement: partial Fisher-Yates. */
    size_t *idx = lb_xcalloc(n, sizeof *idx);
    for (size_t i = 0; i < n; i++) idx[i] = i;
    lb_rng_seed(r, seed, stream, LB_MSUB_SUB);
    sub = lb_xcalloc(m->max_n * d, sizeof(double));
    for (size_t i = 0; i < m->max_n; i++) {
      size_t j = i + (size_t)gsl_rng_uniform_int(r, n - i);
      size_t tmp = idx[i];
      idx[i] = idx[j];
      idx[j] = tmp;
      memcpy(sub + i * d, x + idx[i] * d, d * sizeof(double));
    }
    free(idx);
    lb_metric_note(m, 1u, "using a random subset of %zu of %zu points (max=%zu)",
                   m->max_n, n, m->max_n);
    x = sub;
    n = m->max_n;
  }
  out->n = n;

  if (m->se_method == LB_SE_DIRECT) {
    m->type->direct(m, x, n, out);
    free(sub);
    gsl_rng_free(r);
    return LB_OK;
  }

  lb_rng_seed(r, seed, stream, LB_MSUB_FLOOR);
  double *y2 = exact_sample(t, n, r);
  double *v = lb_xcalloc((size_t)m->reps, sizeof(double));

  if (m->se_method == LB_SE_BOOTSTRAP) {
    void *ws = m->type->prepare(m, x, n);
    out->estimate = m->type->value(m, ws, NULL);
    const long B = m->reps;
#pragma omp parallel
    {
      gsl_rng *rb = lb_rng_alloc();
      unsigned *w = lb_xcalloc(n, sizeof *w);
      size_t nblk = (n + LB_BOOT_BLOCK - 1) / LB_BOOT_BLOCK;
      double *pb = lb_xcalloc(nblk, sizeof *pb);
      unsigned *nb = lb_xcalloc(nblk, sizeof *nb);
#pragma omp for schedule(dynamic, 1)
      for (long b = 0; b < B; b++) {
        lb_rng_seed(rb, seed, stream, LB_MSUB_BOOTREP + (uint64_t)b);
        lb_boot_counts(rb, n, w, pb, nb);
        v[b] = m->type->value(m, ws, w);
      }
      free(nb);
      free(pb);
      free(w);
      gsl_rng_free(rb);
    }
    out->se = sd(v, (size_t)B);
    m->type->release(ws);
    ws = m->type->prepare(m, y2, n);
    out->floor = m->type->value(m, ws, NULL);
    m->type->release(ws);
  } else {
    lb_rng_seed(r, seed, stream, LB_MSUB_REF);
    double *y1 = exact_sample(t, n, r);
    if (m->type->reference) m->type->reference(m, y1, n);
    lb_rng_seed(r, seed, stream, LB_MSUB_PROJ);
    if (m->type->compare_pair) {
      m->type->compare_pair(m, x, y2, y1, n, r, &out->estimate, &out->floor);
    } else {
      out->estimate = m->type->compare(m, x, y1, n, 1, r);
      lb_rng_seed(r, seed, stream, LB_MSUB_PROJ);
      out->floor = m->type->compare(m, y2, y1, n, 1, r);
    }
    size_t B = (size_t)m->reps, nb = n / B;
    if (nb >= 2) {
      for (size_t b = 0; b < B; b++) {
        lb_rng_seed(r, seed, stream, LB_MSUB_BATCH + b);
        v[b] = m->type->compare(m, x + b * nb * d, y1 + b * nb * d, nb, B, r);
      }
      out->se = sd(v, B) / sqrt((double)B);
    } else {
      lb_metric_note(m, 2u,
                     "%zu points are too few for %zu batches: no standard "
                     "error",
                     n, B);
    }
    free(y1);
  }
  free(v);
  free(y2);
  free(sub);
  gsl_rng_free(r);
  return LB_OK;
}
