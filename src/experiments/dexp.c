/* dexp.c -- diffusion experiments: sweeps of (model, sampler, NFE, seed)
 * cells through the runner's resumable cell mechanism.
 *
 * GPL-3.0-or-later.
 *
 * A diffusion experiment file has `kind = "diffusion"` (README,
 * Diffusion experiments):
 *
 *   name     = "diffusion_nfe";
 *   kind     = "diffusion";
 *   models   = ( { model = "oracle"; target = "gmm:preset=ring8"; },
 *                 { model = "targets/models/moons.h5"; data = "moons";
 *                   samples = 4000; }, ... );   # samples: per entry
 *   samplers = ( "ddpm:variant=v2", "pmm:option=2", ...,      # no K: --nfe
 *                { sampler = "ddpm:variant=v1c"; nfe = [10, 1000]; } );
 *                                      # a sampler's own NFE list
 *   nfe      = [10, 20, 40, 80, 1000];
 *   samples  = 10000;
 *   seeds    = [1];
 *   metrics  = "modes,mmd";            # `langbench metrics` list (optional)
 *
 * The grid is models x samplers x nfe x seeds; a cell whose NFE the
 * sampler cannot take (pmm below 2) is left out.  Each cell is written as
 * OUT.cells/<hash>.h5 (.part, then renamed; reruns skip finished cells),
 * holding the run schema of `diffuse`, its attributes, and /metrics (one
 * row per metric at record_step = steps, nfe_mean the measured NFE).
 * Besides the configured metrics every cell gets
 *   var_rel        mean over coordinates (and modes, for mixtures: points
 *                  assigned by the target's mode_of) of sample variance /
 *                  data variance - 1; SE by the delta method; floor: the
 *                  same statistic on an exact data sample of the same size;
 *   var_rel_exact  (gaussian data) the exact value from diffusion.md
 *                  section 5, no Monte Carlo;
 * and a model entry with `data` (a generator without an exact law, e.g.
 * moons) instead of `target` gets the reference-sample measures mmd_q and
 * moons_far (below) and no configured metrics.
 * The cell attributes follow lb_cell_info (target = the data law,
 * sampler_family = MODEL/SAMPLER: the model file's base name or "oracle",
 * the resolved sampler without K, ';' for ','; K and
 * option for pmm, step = 0), so `langbench export` lists the cells in its
 * tidy CSV with nfe_mean as the NFE axis.  This file is separate from
 * runner.c on purpose (the Langevin runner is being extended for MPI).
 */
#include <errno.h>
#include <libconfig.h>
#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "dexp.h"
#include "diffuse.h"
#include "experiment.h"
#include "io.h"
#include "metrics.h"
#include "mlp.h"
#include "model.h"
#include "oracle.h"
#include "rng.h"

#define MAXM 16
#define MAXS 64
#define MAXN 64

typedef struct {
  char model[LB_SPEC_MAXLEN], target[LB_SPEC_MAXLEN], data[LB_SPEC_MAXLEN];
  char created[64]; /* a model file's `created` attribute (cell key) */
  long samples;     /* per-entry override of `samples` (0: none) */
} dmodel;

typedef struct {
  char path[1024], name[128], metrics[1024], *text;
  dmodel models[MAXM];
  char samplers[MAXS][LB_SPEC_MAXLEN];
  long snfe[MAXS][MAXN]; /* a sampler's own NFE list (snn > 0) */
  int snn[MAXS];
  long nfe[MAXN], seeds[MAXN];
  int nm, ns, nn, nseeds;
  long samples;
} dexp;

static int fail_at(const dexp *x, const config_setting_t *s, lb_err *e,
                   const char *msg) {
  return lb_fail(e, LB_EINPUT, "%s:%d: %s", x->path,
                 s ? config_setting_source_line(s) : 0, msg);
}

int lb_dexp_detect(const char *path) {
  config_t cfg;
  config_init(&cfg);
  int is = 0;
  if (config_read_file(&cfg, path) == CONFIG_TRUE) {
    const char *k;
    if (config_lookup_string(&cfg, "kind", &k) == CONFIG_TRUE &&
        strcmp(k, "diffusion") == 0)
      is = 1;
  }
  config_destroy(&cfg);
  return is;
}

static int longs(const dexp *x, config_setting_t *s, long *out, int max,
                 int *n, lb_err *e, const char *what) {
  if (!s || !config_setting_is_aggregate(s) || config_setting_length(s) < 1 ||
      config_setting_length(s) > max) {
    char m[128];
    snprintf(m, sizeof m, "'%s' must be a non-empty list of integers", what);
    return fail_at(x, s, e, m);
  }
  *n = config_setting_length(s);
  for (int i = 0; i < *n; i++) {
    config_setting_t *v = config_setting_get_elem(s, (unsigned)i);
    int t = config_setting_type(v);
    if (t != CONFIG_TYPE_INT && t != CONFIG_TYPE_INT64) {
      char m[128];
      snprintf(m, sizeof m, "'%s' entries must be integers", what);
      return fail_at(x, v, e, m);
    }
    out[i] = (long)config_setting_get_int64(v);
  }
  return LB_OK;
}

static int load(const char *path, dexp *x, lb_err *e) {
  memset(x, 0, sizeof *x);
  snprintf(x->path, sizeof x->path, "%s", path);
  FILE *f = fopen(path, "rb");
  if (!f) return lb_fail(e, LB_EINPUT, "%s: cannot read the file", path);
  fseek(f, 0, SEEK_END);
  long len = ftell(f);
  fseek(f, 0, SEEK_SET);
  x->text = lb_xcalloc((size_t)len + 1, 1);
  if (fread(x->text, 1, (size_t)len, f) != (size_t)len) len = 0;
  fclose(f);
  config_t cfg;
  config_init(&cfg);
  int rc = LB_OK;
  if (config_read_string(&cfg, x->text) != CONFIG_TRUE) {
    rc = lb_fail(e, LB_EINPUT, "%s:%d: %s", path, config_error_line(&cfg),
                 config_error_text(&cfg));
    goto out;
  }
  config_setting_t *root = config_root_setting(&cfg);
  const char *known[] = {"name", "kind", "description", "models", "samplers",
                         "nfe", "samples", "seeds", "metrics", NULL};
  for (int i = 0; i < config_setting_length(root); i++) {
    config_setting_t *s = config_setting_get_elem(root, (unsigned)i);
    int ok = 0;
    for (int k = 0; known[k]; k++) ok |= strcmp(known[k], config_setting_name(s)) == 0;
    if (!ok) {
      char m[160];
      snprintf(m, sizeof m, "unknown key '%s'", config_setting_name(s));
      rc = fail_at(x, s, e, m);
      goto out;
    }
  }
  const char *str;
  if (config_lookup_string(&cfg, "name", &str) != CONFIG_TRUE) {
    rc = fail_at(x, NULL, e, "missing 'name' (a string)");
    goto out;
  }
  snprintf(x->name, sizeof x->name, "%s", str);
  if (config_lookup_string(&cfg, "metrics", &str) == CONFIG_TRUE)
    snprintf(x->metrics, sizeof x->metrics, "%s", str);
  config_setting_t *s = config_lookup(&cfg, "samples");
  if (!s || (config_setting_type(s) != CONFIG_TYPE_INT &&
             config_setting_type(s) != CONFIG_TYPE_INT64) ||
      config_setting_get_int64(s) < 2) {
    rc = fail_at(x, s, e, "'samples' must be an integer >= 2");
    goto out;
  }
  x->samples = (long)config_setting_get_int64(s);
  if ((rc = longs(x, config_lookup(&cfg, "nfe"), x->nfe, MAXN, &x->nn, e, "nfe")) ||
      (rc = longs(x, config_lookup(&cfg, "seeds"), x->seeds, MAXN, &x->nseeds, e,
                  "seeds")))
    goto out;
  s = config_lookup(&cfg, "models");
  if (!s || !config_setting_is_list(s) || config_setting_length(s) < 1 ||
      config_setting_length(s) > MAXM) {
    rc = fail_at(x, s, e, "'models' must be a list of { model = ...; target = ...; }");
    goto out;
  }
  x->nm = config_setting_length(s);
  for (int i = 0; i < x->nm; i++) {
    config_setting_t *g = config_setting_get_elem(s, (unsigned)i);
    const char *mo, *ta = "", *da = "";
    if (!config_setting_is_group(g) ||
        config_setting_lookup_string(g, "model", &mo) != CONFIG_TRUE) {
      rc = fail_at(x, g, e, "a model entry needs model = \"oracle\" or a file");
      goto out;
    }
    config_setting_lookup_string(g, "target", &ta);
    config_setting_lookup_string(g, "data", &da);
    if (ta[0] && da[0]) {
      rc = fail_at(x, g, e, "a model entry takes target (an exact law) or data "
                            "(a data generator), not both");
      goto out;
    }
    snprintf(x->models[i].model, LB_SPEC_MAXLEN, "%s", mo);
    snprintf(x->models[i].target, LB_SPEC_MAXLEN, "%s", ta);
    snprintf(x->models[i].data, LB_SPEC_MAXLEN, "%s", da);
    config_setting_t *ns = config_setting_get_member(g, "samples");
    if (ns) {
      if ((config_setting_type(ns) != CONFIG_TYPE_INT &&
           config_setting_type(ns) != CONFIG_TYPE_INT64) ||
          config_setting_get_int64(ns) < 2) {
        rc = fail_at(x, ns, e, "a model entry's 'samples' must be an integer >= 2");
        goto out;
      }
      x->models[i].samples = (long)config_setting_get_int64(ns);
    }
    if (strcmp(mo, "oracle") != 0) { /* a retrained file gets new cells */
      H5E_BEGIN_TRY {
        hid_t mf = H5Fopen(mo, H5F_ACC_RDONLY, H5P_DEFAULT);
        if (mf >= 0) {
          if (lb_attr_get_str(mf, "created", x->models[i].created,
                              sizeof x->models[i].created) != 0)
            x->models[i].created[0] = 0;
          H5Fclose(mf);
        }
      } H5E_END_TRY;
    }
  }
  s = config_lookup(&cfg, "samplers");
  if (!s || !config_setting_is_aggregate(s) || config_setting_length(s) < 1 ||
      config_setting_length(s) > MAXS) {
    rc = fail_at(x, s, e, "'samplers' must be a list of sampler SPECs");
    goto out;
  }
  x->ns = config_setting_length(s);
  for (int i = 0; i < x->ns; i++) {
    config_setting_t *v = config_setting_get_elem(s, (unsigned)i);
    const char *sv = NULL;
    if (config_setting_type(v) == CONFIG_TYPE_STRING) {
      sv = config_setting_get_string(v);
    } else if (config_setting_is_group(v) &&
               config_setting_lookup_string(v, "sampler", &sv) == CONFIG_TRUE) {
      /* { sampler = "..."; nfe = [...]; }: its own NFE list */
      if ((rc = longs(x, config_setting_get_member(v, "nfe"), x->snfe[i], MAXN,
                      &x->snn[i], e, "nfe")))
        goto out;
    } else {
      rc = fail_at(x, v, e,
                   "sampler entries must be strings or { sampler = \"...\"; "
                   "nfe = [...]; }");
      goto out;
    }
    snprintf(x->samplers[i], LB_SPEC_MAXLEN, "%s", sv);
  }
  /* validate every model, sampler and metric once */
  for (int i = 0; i < x->nm && !rc; i++) {
    lb_target *t = NULL;
    lb_model *m = NULL;
    lb_err e2;
    rc = x->models[i].target[0] ? lb_target_alloc(x->models[i].target, &t, &e2)
                                : LB_OK;
    if (!rc) rc = lb_model_open(x->models[i].model, t, NULL, &m, &e2);
    if (!rc && x->models[i].data[0]) {
      lb_data *dd = NULL;
      rc = lb_data_alloc(x->models[i].data, "data", &dd, &e2);
      if (!rc && lb_data_dim(dd) != m->dim)
        rc = lb_fail(&e2, LB_EINPUT, "data %s has dimension %zu, the model %zu",
                     x->models[i].data, lb_data_dim(dd), m->dim);
      lb_data_free(dd);
    }
    for (int j = 0; j < x->ns && !rc; j++) {
      lb_dsampler *ds = NULL;
      rc = lb_dsampler_alloc(x->samplers[j], &m->sched, x->nfe[0] < 2 ? 2 : x->nfe[0],
                             &ds, &e2);
      lb_dsampler_free(ds);
    }
    if (!rc && x->metrics[0] && t) {
      lb_metric **ms = NULL;
      size_t nm = 0;
      rc = lb_metric_list_parse(x->metrics, t, &ms, &nm, &e2);
      for (size_t k = 0; k < nm; k++) lb_metric_free(ms[k]);
      free(ms);
    }
    if (rc) {
      s = config_lookup(&cfg, "models");
      rc = fail_at(x, config_setting_get_elem(s, (unsigned)i), e, e2.msg);
    }
    lb_model_free(m);
    lb_target_free(t);
  }
out:
  config_destroy(&cfg);
  if (rc) {
    free(x->text);
    x->text = NULL;
  }
  return rc;
}

/* ---- var_rel -------------------------------------------------------- */

/* Mean over coordinates (and modes) of var / v - 1, with its delta-method
 * standard error.  Mixtures: per mode, v = the component's variance. */
static void var_rel(const lb_target *t, const double *x, size_t n,
                    const double *compvar, lb_metric_result *out) {
  const size_t d = t->dim, M = t->n_modes;
  double *s1 = lb_xcalloc(M * d, sizeof(double)), *s2 = lb_xcalloc(M * d, sizeof(double)),
         *s4 = lb_xcalloc(M * d, sizeof(double)), *cnt = lb_xcalloc(M, sizeof(double));
  size_t *lab = lb_xcalloc(n, sizeof(size_t));
  for (size_t r = 0; r < n; r++) {
    size_t k = M > 1 ? t->type->mode_of(t->state, x + r * d) : 0;
    lab[r] = k;
    cnt[k]++;
    for (size_t i = 0; i < d; i++) s1[k * d + i] += x[r * d + i];
  }
  for (size_t k = 0; k < M * d; k++) s1[k] /= cnt[k / d] > 0 ? cnt[k / d] : 1;
  for (size_t r = 0; r < n; r++)
    for (size_t i = 0; i < d; i++) {
      double c = x[r * d + i] - s1[lab[r] * d + i];
      s2[lab[r] * d + i] += c * c;
      s4[lab[r] * d + i] += c * c * c * c;
    }
  double est = 0, var = 0;
  size_t used = 0;
  for (size_t k = 0; k < M; k++) {
    if (cnt[k] < 2) continue;
    for (size_t i = 0; i < d; i++) {
      double m2 = s2[k * d + i] / cnt[k], m4 = s4[k * d + i] / cnt[k];
      double v = compvar[k * d + i];
      est += (m2 * cnt[k] / (cnt[k] - 1)) / v - 1;
      var += (m4 - m2 * m2) / cnt[k] / (v * v);
      used++;
    }
  }
  out->estimate = used ? est / (double)used : NAN;
  out->se = used ? sqrt(var) / (double)used : NAN;
  out->n = n;
  free(s1);
  free(s2);
  free(s4);
  free(cnt);
  free(lab);
}

/* Component variances of the data law (diagonal): gaussian / gmm. */
static double *component_vars(const lb_target *t) {
  const size_t d = t->dim, M = t->n_modes;
  double *cv = lb_xcalloc(M * d, sizeof(double));
  if (strcmp(t->type->name, "gmm") == 0) {
    size_t m;
    double *w, *mu, *cov;
    lb_err e;
    if (lb_gmm_components(t, &m, &w, &mu, &cov, &e) == 0) {
      for (size_t k = 0; k < m && k < M; k++)
        for (size_t i = 0; i < d; i++) cv[k * d + i] = cov[k * d * d + i * d + i];
      free(w);
      free(mu);
      free(cov);
      return cv;
    }
  }
  for (size_t k = 0; k < M; k++)
    for (size_t i = 0; i < d; i++) cv[k * d + i] = t->cov[i * d + i];
  return cv;
}

static void add(lb_metric_row **rows, size_t *n, long steps, double nfe,
                const char *name, const lb_metric_result *r);

static long dsamples(const dexp *x, int model) {
  return x->models[model].samples ? x->models[model].samples : x->samples;
}

/* ---- reference-sample measures (data generators without an exact law) --
 * For a model entry with `data` (e.g. moons), every cell gets, against a
 * reference sample y of the generator (size = samples) and with the floor
 * of an independent data sample z of the same size in its place:
 *   mmd_q      unbiased MMD^2 with a Gaussian kernel of a quarter of the
 *              median distance of y (the median heuristic is nearly blind
 *              on moons); estimate and SE from 5 batches of the sample,
 *              each against all of y;
 *   moons_far  (data = moons) the fraction of points farther than 0.5 (2.5
 *              noise sd) from the noiseless arcs (data.c: the upper half
 *              circle of centre (-1, -0.2) and the lower one of centre
 *              (1, 0.8), radius 2); binomial SE.
 * The same measures as the shipped model's quality table (README);
 * moons_far is lb_moons_far_fraction (src/mlp/data.c). */

static void mmd_batches(const double *x, size_t n, const double *y, size_t m,
                        size_t d, double sigma, lb_metric_result *out) {
  enum { NB = 5 };
  double v[NB];
  size_t nb = n / NB;
  for (int b = 0; b < NB; b++)
    v[b] = nb >= 2 ? lb_mmd2_unbiased(x + (size_t)b * nb * d, nb, y, m, d, sigma)
                   : NAN;
  lb_mean_se(v, NB, &out->estimate, &out->se);
  out->n = nb * NB;
}

static void ref_measures(const char *data, const double *x, size_t n,
                         size_t d, uint64_t seed, double nfe, long steps,
                         lb_metric_row **rows, size_t *nrows) {
  lb_data *dd = NULL;
  lb_err e;
  if (lb_data_alloc(data, "data", &dd, &e)) return; /* checked at load */
  size_t m = n;
  double *y = lb_xcalloc(m * d, sizeof(double)),
         *z = lb_xcalloc(n * d, sizeof(double));
  gsl_rng *r = lb_rng_alloc();
  lb_rng_seed(r, seed, 0, 78);
  lb_data_draw(dd, r, m, y);
  lb_rng_seed(r, seed, 0, 79);
  lb_data_draw(dd, r, n, z);
  gsl_rng_free(r);
  double sigma = lb_median_distance(y, m, d) / 4.0;
  lb_metric_result res = {0}, fl = {0};
  mmd_batches(x, n, y, m, d, sigma, &res);
  mmd_batches(z, n, y, m, d, sigma, &fl);
  res.floor = fl.estimate;
  add(rows, nrows, steps, nfe, "mmd_q", &res);
  if (strcmp(data, "moons") == 0 && d == 2) {
    double p = lb_moons_far_fraction(x, n);
    lb_metric_result fr = {p, sqrt(p * (1 - p) / (double)n), lb_moons_far_fraction(z, n), n};
    add(rows, nrows, steps, nfe, "moons_far", &fr);
  }
  free(y);
  free(z);
  lb_data_free(dd);
}

/* ---- one cell -------------------------------------------------------- */

typedef struct {
  int model, sampler;
  long nfe, seed;
  char key[2048], hash[17];
} dcell;

static void add(lb_metric_row **rows, size_t *n, long steps, double nfe,
                const char *name, const lb_metric_result *r) {
  *rows = realloc(*rows, (*n + 1) * sizeof **rows);
  lb_metric_row *w = &(*rows)[(*n)++];
  memset(w, 0, sizeof *w);
  w->record_step = steps;
  w->time = 0;
  w->nfe_mean = nfe;
  snprintf(w->metric, sizeof w->metric, "%s", name);
  w->estimate = r->estimate;
  w->stderr_ = r->se;
  w->floor_ = r->floor;
  w->n = (int64_t)r->n;
}

static int run_cell(const dexp *x, const dcell *c, const char *path,
                    int threads, lb_err *e) {
  const dmodel *dm = &x->models[c->model];
  lb_target *t = NULL;
  lb_model *m = NULL;
  lb_dsampler *s = NULL;
  lb_metric **ms = NULL;
  size_t nm = 0;
  int rc = dm->target[0] ? lb_target_alloc(dm->target, &t, e) : LB_OK;
  if (!rc) rc = lb_model_open(dm->model, t, NULL, &m, e);
  if (!rc) rc = lb_dsampler_alloc(x->samplers[c->sampler], &m->sched, c->nfe, &s, e);
  if (!rc && t && x->metrics[0]) rc = lb_metric_list_parse(x->metrics, t, &ms, &nm, e);
  lb_run run = {0};
  lb_metric_row *rows = NULL;
  size_t nrows = 0;
  if (!rc) {
    lb_diffuse_cfg cfg = {m, s, dsamples(x, c->model), (uint64_t)c->seed,
                          threads, 0, 0};
    double t0 = omp_get_wtime();
    rc = lb_diffuse(&cfg, &run, e);
    run.wall_seconds = omp_get_wtime() - t0;
  }
  if (!rc) {
    double nfe = 0;
    for (long k = 0; k < run.chains; k++) nfe += (double)run.nfe[k];
    nfe /= (double)run.chains;
    const size_t d = m->dim, n = (size_t)run.chains;
    if (t) {
      /* finite rows only */
      double *buf = lb_xcalloc(n * d, sizeof(double));
      size_t nf = 0;
      for (size_t r = 0; r < n; r++)
        if (lb_all_finite(run.samples + r * d, d))
          memcpy(buf + d * nf++, run.samples + r * d, d * sizeof(double));
      for (size_t j = 0; j < nm; j++) {
        lb_metric_result res;
        lb_metric_eval(ms[j], buf, nf, (uint64_t)c->seed, 0, &res, e);
        add(&rows, &nrows, run.steps, nfe, ms[j]->label, &res);
      }
      double *cv = component_vars(t);
      lb_metric_result vr, fl;
      var_rel(t, buf, nf, cv, &vr);
      /* floor: exact data draws of the same size */
      gsl_rng *r = lb_rng_alloc();
      lb_rng_seed(r, (uint64_t)c->seed, 0, 77);
      for (size_t q = 0; q < nf; q++) t->type->sample(t->state, r, buf + q * d);
      gsl_rng_free(r);
      var_rel(t, buf, nf, cv, &fl);
      vr.floor = fl.estimate;
      add(&rows, &nrows, run.steps, nfe, "var_rel", &vr);
      if (strcmp(t->type->name, "gaussian") == 0 && m->type->name[0] == 'o') {
        double ex = 0;
        for (size_t i = 0; i < d; i++) {
          double v = t->cov[i * d + i];
          ex += lb_dsampler_exact_var(s, &m->sched, v, NULL) / v - 1;
        }
        lb_metric_result xr = {ex / (double)d, 0, 0, 0};
        add(&rows, &nrows, run.steps, nfe, "var_rel_exact", &xr);
      }
      free(cv);
      free(buf);
    } else if (dm->data[0]) {
      double *buf = lb_xcalloc(n * d, sizeof(double));
      size_t nf = 0;
      for (size_t r = 0; r < n; r++)
        if (lb_all_finite(run.samples + r * d, d))
          memcpy(buf + d * nf++, run.samples + r * d, d * sizeof(double));
      ref_measures(dm->data, buf, nf, d, (uint64_t)c->seed, nfe, run.steps,
                   &rows, &nrows);
      free(buf);
    }
    snprintf(run.target, sizeof run.target, "%s",
             dm->target[0] ? dm->target : dm->data);
    snprintf(run.sampler, sizeof run.sampler, "%s", s->desc);
    snprintf(run.init, sizeof run.init, "gaussian:var=1");
    lb_iso_now(run.created, sizeof run.created);
    snprintf(run.command, sizeof run.command, "langbench run %s", x->path);
    lb_out o;
    rc = lb_out_open(&o, path, e);
    if (!rc) {
      rc = lb_run_write(o.file, &run, e);
      if (!rc) rc = lb_diffuse_write_attrs(o.file, m, s, &run, e);
      /* lb_cell_info attributes */
      char fam[2 * LB_SPEC_MAXLEN], K[32] = "", opt[32] = "", mname[128];
      const char *base = strrchr(dm->model, '/');
      snprintf(mname, sizeof mname, "%s", base ? base + 1 : dm->model);
      if (s->kind == LB_DS_PMM) {
        snprintf(fam, sizeof fam, "%s/pmm:option=%d,variant=%s", mname,
                 s->option, strstr(s->desc, "variant=") + 8);
        snprintf(K, sizeof K, "%ld", s->K);
        snprintf(opt, sizeof opt, "%d", s->option);
      } else {
        snprintf(fam, sizeof fam, "%s/%s", mname, s->desc);
      }
      for (char *q = fam; *q; q++) /* a CSV field of `export` */
        if (*q == ',') *q = ';';
      int bad = lb_attr_str(o.file, "cell_key", c->key) |
                lb_attr_str(o.file, "cell_hash", c->hash) |
                lb_attr_str(o.file, "experiment", x->name) |
                lb_attr_str(o.file, "sampler_family", fam) |
                lb_attr_str(o.file, "K", K) | lb_attr_str(o.file, "option", opt) |
                lb_attr_str(o.file, "gamma", "") |
                lb_attr_long(o.file, "nfe_requested", c->nfe);
      if (!rc && bad) rc = lb_fail(e, LB_ERUNTIME, "writing cell %s failed", c->hash);
      if (!rc && lb_cell_write_metrics(o.file, rows, nrows) != 0)
        rc = lb_fail(e, LB_ERUNTIME, "writing /metrics of cell %s failed", c->hash);
      if (!rc)
        rc = lb_out_commit(&o, e);
      else
        lb_out_abort(&o);
    }
  }
  free(rows);
  lb_run_clear(&run);
  for (size_t j = 0; j < nm; j++) lb_metric_free(ms[j]);
  free(ms);
  lb_dsampler_free(s);
  lb_model_free(m);
  lb_target_free(t);
  return rc;
}

/* ---- the sweep -------------------------------------------------------- */

static size_t expand(const dexp *x, dcell **out) {
  size_t n = 0, cap = (size_t)(x->nm * x->ns * MAXN * x->nseeds);
  dcell *c = lb_xcalloc(cap, sizeof *c);
  for (int a = 0; a < x->nm; a++)
    for (int b = 0; b < x->ns; b++) {
      const long *nf = x->snn[b] ? x->snfe[b] : x->nfe;
      const int nn = x->snn[b] ? x->snn[b] : x->nn;
      for (int k = 0; k < nn; k++)
        for (int q = 0; q < x->nseeds; q++) {
          int pmm = strncmp(x->samplers[b], "pmm", 3) == 0;
          if (nf[k] < (pmm ? 2 : 1)) continue;
          dcell *w = &c[n++];
          w->model = a;
          w->sampler = b;
          w->nfe = nf[k];
          w->seed = x->seeds[q];
          snprintf(w->key, sizeof w->key,
                   "diffusion|model=%s|created=%s|target=%s|data=%s|sampler=%s|"
                   "nfe=%ld|seed=%ld|samples=%ld|metrics=%s|chain=engine",
                   x->models[a].model, x->models[a].created,
                   x->models[a].target, x->models[a].data, x->samplers[b],
                   w->nfe, w->seed, dsamples(x, a), x->metrics);
          lb_hash_hex(w->key, w->hash);
        }
    }
  *out = c;
  return n;
}

int lb_dexp_run(const char *path, const char *out, int threads, int fresh,
                int dry, lb_err *e) {
  dexp x;
  int rc = load(path, &x, e);
  if (rc) return rc;
  dcell *cells = NULL;
  size_t nc = expand(&x, &cells);
  char def[300];
  if (!out) {
    snprintf(def, sizeof def, "results/%s.h5", x.name);
    out = def;
  }
  if (dry) {
    printf("%zu cells\n", nc);
    for (size_t i = 0; i < nc; i++)
      printf("%s %s %s %s nfe=%ld seed=%ld\n", cells[i].hash,
             x.models[cells[i].model].model, x.models[cells[i].model].target,
             x.samplers[cells[i].sampler], cells[i].nfe, cells[i].seed);
    free(cells);
    free(x.text);
    return LB_OK;
  }
  char dir[4200], cpath[4400];
  snprintf(dir, sizeof dir, "%s.cells", out);
  if (fresh) {
    for (size_t i = 0; i < nc; i++) {
      snprintf(cpath, sizeof cpath, "%s/%s.h5", dir, cells[i].hash);
      unlink(cpath);
    }
    unlink(out);
  }
  if (mkdir(dir, 0777) != 0 && errno != EEXIST) {
    free(cells);
    free(x.text);
    return lb_fail(e, LB_EINPUT, "--out %s: cannot create '%s'", out, dir);
  }
  double t0 = omp_get_wtime();
  for (size_t i = 0; i < nc && !rc; i++) {
    snprintf(cpath, sizeof cpath, "%s/%s.h5", dir, cells[i].hash);
    if (access(cpath, R_OK) == 0) continue;
    rc = run_cell(&x, &cells[i], cpath, threads, e);
    fprintf(stderr, "cell %zu/%zu done: %s %s nfe=%ld seed=%ld (%.0f s)\n",
            i + 1, nc, x.models[cells[i].model].target,
            x.samplers[cells[i].sampler], cells[i].nfe, cells[i].seed,
            omp_get_wtime() - t0);
  }
  /* assemble OUT from the cells (.part, rename) */
  if (!rc) {
    lb_out o;
    rc = lb_out_open(&o, out, e);
    if (!rc) {
      int bad = lb_attr_str(o.file, "format", LB_EXP_FORMAT) |
                lb_attr_long(o.file, "format_version", 1) |
                lb_attr_str(o.file, "langbench_version", LB_VERSION) |
                lb_attr_str(o.file, "name", x.name) |
                lb_attr_str(o.file, "kind", "diffusion") |
                lb_attr_str(o.file, "config", x.text) |
                lb_attr_str(o.file, "config_path", x.path);
      hid_t g = H5Gcreate2(o.file, "cells", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
      long done = 0;
      for (size_t i = 0; i < nc && !bad; i++) {
        snprintf(cpath, sizeof cpath, "%s/%s.h5", dir, cells[i].hash);
        if (H5Lexists(g, cells[i].hash, H5P_DEFAULT) > 0) continue;
        hid_t src = H5Fopen(cpath, H5F_ACC_RDONLY, H5P_DEFAULT);
        if (src < 0) continue;
        bad |= H5Ocopy(src, ".", g, cells[i].hash, H5P_DEFAULT, H5P_DEFAULT) < 0;
        H5Fclose(src);
        done++;
      }
      H5Gclose(g);
      bad |= lb_attr_long(o.file, "cells_total", (long)nc) |
             lb_attr_long(o.file, "cells_done", done);
      if (bad) {
        lb_out_abort(&o);
        rc = lb_fail(e, LB_ERUNTIME, "writing '%s' failed", out);
      } else {
        rc = lb_out_commit(&o, e);
      }
      if (!rc)
        fprintf(stderr, "wrote %s: %ld/%zu cells (%.0f s)\n", out, done, nc,
                omp_get_wtime() - t0);
    }
  }
  free(cells);
  free(x.text);
  return rc;
}
