/* experiment.c -- experiment files: parsing, validation, grid expansion,
 * cell keys.  The format is documented in experiment.h and the README.
 * GPL-3.0-or-later. */
#include "experiment.h"

#include <libconfig.h>
#include <stdarg.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "metrics.h"
#include "sampler.h"
#include "target.h"

void lb_hash_hex(const char *s, char out[17]) {
  uint64_t h = 14695981039346656037ULL; /* FNV-1a 64 */
  for (; *s; s++) {
    h ^= (unsigned char)*s;
    h *= 1099511628211ULL;
  }
  snprintf(out, 17, "%016llx", (unsigned long long)h);
}

/* ---- reading settings with line numbers --------------------------------- */

typedef struct {
  const char *path;
  lb_err *e;
} ctx;

static int cfail(ctx *c, const config_setting_t *s, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int cfail(ctx *c, const config_setting_t *s, const char *fmt, ...) {
  char msg[LB_ERRLEN];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  if (!s) return lb_fail(c->e, LB_EINPUT, "%s: %s", c->path, msg);
  return lb_fail(c->e, LB_EINPUT, "%s:%d: %s", c->path,
                 config_setting_source_line(s), msg);
}

static int is_number(const config_setting_t *s) {
  int t = config_setting_type(s);
  return t == CONFIG_TYPE_INT || t == CONFIG_TYPE_INT64 ||
         t == CONFIG_TYPE_FLOAT;
}

static double number(const config_setting_t *s) {
  return config_setting_type(s) == CONFIG_TYPE_FLOAT
             ? config_setting_get_float(s)
             : (double)config_setting_get_int64(s);
}

static int is_integer(const config_setting_t *s) {
  int t = config_setting_type(s);
  return t == CONFIG_TYPE_INT || t == CONFIG_TYPE_INT64;
}

static int is_seq(const config_setting_t *s) {
  int t = config_setting_type(s);
  return t == CONFIG_TYPE_ARRAY || t == CONFIG_TYPE_LIST;
}

/* A scalar as text (integers exactly, floats with %.17g). */
static int scalar_text(ctx *c, const config_setting_t *s, char *buf,
                       size_t len) {
  switch (config_setting_type(s)) {
    case CONFIG_TYPE_INT:
    case CONFIG_TYPE_INT64:
      snprintf(buf, len, "%lld", (long long)config_setting_get_int64(s));
      return 0;
    case CONFIG_TYPE_FLOAT:
      snprintf(buf, len, "%.17g", config_setting_get_float(s));
      return 0;
    case CONFIG_TYPE_STRING:
      snprintf(buf, len, "%s", config_setting_get_string(s));
      return 0;
    case CONFIG_TYPE_BOOL:
      snprintf(buf, len, "%d", config_setting_get_bool(s));
      return 0;
    default:
      return cfail(c, s, "'%s' must be a number or a string",
                   config_setting_name(s) ? config_setting_name(s) : "value");
  }
}

/* ---- samplers ------------------------------------------------------------ */

typedef struct {
  char spec[LB_SPEC_MAXLEN];
  int line;
} sampler_entry;

/* Expand one group { name = "plmc"; K = (4, 16); option = 1; } into
 * specs appended to *out. */
static int expand_group(ctx *c, const config_setting_t *g, sampler_entry **out,
                        size_t *n) {
  const config_setting_t *nm = config_setting_get_member(g, "name");
  if (!nm || config_setting_type(nm) != CONFIG_TYPE_STRING)
    return cfail(c, g, "sampler group needs name = \"...\"");
  int np = config_setting_length(g);
  const config_setting_t *par[LB_SPEC_MAXKV];
  size_t len[LB_SPEC_MAXKV], npar = 0, total = 1;
  for (int i = 0; i < np; i++) {
    const config_setting_t *p = config_setting_get_elem(g, (unsigned)i);
    if (p == nm) continue;
    if (npar >= LB_SPEC_MAXKV) return cfail(c, p, "too many parameters");
    len[npar] = is_seq(p) ? (size_t)config_setting_length(p) : 1;
    if (len[npar] == 0)
      return cfail(c, p, "empty list for sampler parameter '%s'",
                   config_setting_name(p));
    total *= len[npar];
    par[npar++] = p;
  }
  for (size_t k = 0; k < total; k++) {
    char spec[LB_SPEC_MAXLEN];
    size_t used = (size_t)snprintf(spec, sizeof spec, "%s",
                                   config_setting_get_string(nm));
    size_t rest = k;
    for (size_t i = 0; i < npar; i++) {
      const config_setting_t *v =
          is_seq(par[i])
              ? config_setting_get_elem(par[i], (unsigned)(rest % len[i]))
              : par[i];
      rest /= len[i];
      char val[128];
      if (scalar_text(c, v, val, sizeof val)) return LB_EINPUT;
      used += (size_t)snprintf(spec + used, used < sizeof spec ? sizeof spec - used : 0,
                               "%c%s=%s", i ? ',' : ':',
                               config_setting_name(par[i]), val);
    }
    if (used >= sizeof spec) return cfail(c, g, "sampler specification too long");
    *out = realloc(*out, (*n + 1) * sizeof **out);
    snprintf((*out)[*n].spec, sizeof (*out)[*n].spec, "%s", spec);
    (*out)[*n].line = config_setting_source_line(g);
    (*n)++;
  }
  return LB_OK;
}

/* ---- the file ------------------------------------------------------------- */

static const char *const known_keys[] = {
    "name",   "description", "targets", "samplers", "step_sizes",
    "horizon", "steps",      "chains",  "seeds",    "init",
    "record", "metrics",     "trajectory_chains", "coupled",
    "time_average", "overrides", NULL};

static char *slurp(const char *path) {
  FILE *f = fopen(path, "rb");
  if (!f) return NULL;
  fseek(f, 0, SEEK_END);
  long n = ftell(f);
  fseek(f, 0, SEEK_SET);
  char *buf = n >= 0 ? malloc((size_t)n + 1) : NULL;
  if (buf && fread(buf, 1, (size_t)n, f) != (size_t)n) {
    free(buf);
    buf = NULL;
  }
  if (buf) buf[n] = '\0';
  fclose(f);
  return buf;
}

static int number_list(ctx *c, const config_setting_t *s, const char *what,
                       int integers, double **out, size_t *n) {
  if (!s) return cfail(c, NULL, "missing '%s'", what);
  if (!is_seq(s)) return cfail(c, s, "'%s' must be a list", what);
  *n = (size_t)config_setting_length(s);
  if (*n == 0) return cfail(c, s, "'%s' is empty", what);
  *out = calloc(*n, sizeof **out);
  for (size_t i = 0; i < *n; i++) {
    const config_setting_t *v = config_setting_get_elem(s, (unsigned)i);
    if (integers ? !is_integer(v) : !is_number(v))
      return cfail(c, v, "'%s' entries must be %s", what,
                   integers ? "integers" : "numbers");
    (*out)[i] = number(v);
  }
  return LB_OK;
}

/* overrides = ({ target = "SPEC"; sampler = "SPEC"; step_sizes = [...]; }, ...):
 * the step sizes of one (target, sampler) pair, replacing the target's
 * own and the global ones for that pair only.  target is matched against
 * the spec strings of 'targets' as written, sampler against the resolved
 * sampler specs (a group { name = "plmc"; K = (16, "inf"); } gives
 * "plmc:K=16" and "plmc:K=inf").  Fills ostep[i * nsa + j] (NULL: no
 * override) and nostep. */
static int parse_overrides(ctx *c, const config_setting_t *ov,
                           const char **targets, size_t nt,
                           const sampler_entry *samplers, size_t nsa,
                           double **ostep, size_t *nostep) {
  if (!ov) return LB_OK;
  if (!is_seq(ov) || config_setting_length(ov) == 0)
    return cfail(c, ov, "'overrides' must be a non-empty list of groups "
                        "{ target = ...; sampler = ...; step_sizes = [...]; }");
  for (int k = 0; k < config_setting_length(ov); k++) {
    const config_setting_t *g = config_setting_get_elem(ov, (unsigned)k);
    if (config_setting_type(g) != CONFIG_TYPE_GROUP)
      return cfail(c, g, "an override is a group { target = ...; sampler = "
                         "...; step_sizes = [...]; }");
    const char *tn = NULL, *sn = NULL;
    const config_setting_t *sz = NULL;
    for (int m = 0; m < config_setting_length(g); m++) {
      const config_setting_t *v = config_setting_get_elem(g, (unsigned)m);
      const char *nm = config_setting_name(v);
      int str = config_setting_type(v) == CONFIG_TYPE_STRING;
      if (strcmp(nm, "target") == 0 && str)
        tn = config_setting_get_string(v);
      else if (strcmp(nm, "sampler") == 0 && str)
        sn = config_setting_get_string(v);
      else if (strcmp(nm, "step_sizes") == 0)
        sz = v;
      else if (strcmp(nm, "target") == 0 || strcmp(nm, "sampler") == 0)
        return cfail(c, v, "override: '%s' must be a SPEC string", nm);
      else
        return cfail(c, v, "unknown key '%s' in override (target, sampler, "
                           "step_sizes)", nm);
    }
    if (!tn || !sn || !sz)
      return cfail(c, g, "an override needs target, sampler and step_sizes");
    size_t ti = nt, sj = nsa;
    for (size_t i = 0; i < nt; i++)
      if (strcmp(targets[i], tn) == 0) ti = i;
    for (size_t j = 0; j < nsa; j++)
      if (strcmp(samplers[j].spec, sn) == 0) sj = j;
    if (ti == nt)
      return cfail(c, g, "override: target '%s' is not in 'targets'", tn);
    if (sj == nsa)
      return cfail(c, g, "override: sampler '%s' is not in 'samplers' "
                         "(give the resolved SPEC, e.g. plmc:K=16)", sn);
    size_t at = ti * nsa + sj;
    if (ostep[at])
      return cfail(c, g, "override: a second override for target '%s' and "
                         "sampler '%s'", tn, sn);
    int rc = number_list(c, sz, "step_sizes", 0, &ostep[at], &nostep[at]);
    for (size_t a = 0; !rc && a < nostep[at]; a++)
      if (!(ostep[at][a] > 0))
        rc = cfail(c, sz, "step size %g must be positive", ostep[at][a]);
    if (rc) return rc;
  }
  return LB_OK;
}

static int parse(ctx *c, config_t *cfg, lb_experiment *x) {
  config_setting_t *root = config_root_setting(cfg);
  int rc = LB_OK;
  for (int i = 0; i < config_setting_length(root); i++) {
    const config_setting_t *s = config_setting_get_elem(root, (unsigned)i);
    int ok = 0;
    for (const char *const *k = known_keys; *k; k++)
      if (strcmp(*k, config_setting_name(s)) == 0) ok = 1;
    if (!ok) return cfail(c, s, "unknown key '%s'", config_setting_name(s));
  }
  const config_setting_t *s;
  /* scalars */
  s = config_setting_get_member(root, "name");
  if (!s) return cfail(c, s, "missing 'name'");
  if (config_setting_type(s) != CONFIG_TYPE_STRING)
    return cfail(c, s, "'name' must be a string");
  snprintf(x->name, sizeof x->name, "%s", config_setting_get_string(s));
  s = config_setting_get_member(root, "description");
  if (s && config_setting_type(s) != CONFIG_TYPE_STRING)
    return cfail(c, s, "'description' must be a string");
  s = config_setting_get_member(root, "init");
  if (s && config_setting_type(s) != CONFIG_TYPE_STRING)
    return cfail(c, s, "'init' must be a string");
  snprintf(x->init, sizeof x->init, "%s",
           s ? config_setting_get_string(s) : "gaussian:var=1");
  s = config_setting_get_member(root, "metrics");
  if (s && config_setting_type(s) != CONFIG_TYPE_STRING)
    return cfail(c, s, "'metrics' must be a string such as \"mean_err,w2_marg\"");
  snprintf(x->metrics, sizeof x->metrics, "%s",
           s ? config_setting_get_string(s) : "mean_err,cov_err,w2_marg");
  s = config_setting_get_member(root, "chains");
  if (!s) return cfail(c, s, "missing 'chains'");
  if (!is_integer(s) || config_setting_get_int64(s) < 2)
    return cfail(c, s, "'chains' must be an integer >= 2");
  x->chains = (long)config_setting_get_int64(s);
  s = config_setting_get_member(root, "trajectory_chains");
  x->trajectory_chains = x->chains < 16 ? x->chains : 16;
  if (s) {
    if (!is_integer(s) || config_setting_get_int64(s) < 0 ||
        config_setting_get_int64(s) > x->chains)
      return cfail(c, s, "'trajectory_chains' must be an integer in [0, chains]");
    x->trajectory_chains = (long)config_setting_get_int64(s);
  }
  s = config_setting_get_member(root, "coupled");
  if (s && config_setting_type(s) != CONFIG_TYPE_BOOL)
    return cfail(c, s, "'coupled' must be true or false");
  x->coupled = s ? config_setting_get_bool(s) : 0;

  /* record schedule */
  snprintf(x->schedule, sizeof x->schedule, "geometric");
  x->record_count = 12;
  s = config_setting_get_member(root, "record");
  if (s) {
    if (config_setting_type(s) != CONFIG_TYPE_GROUP)
      return cfail(c, s, "'record' must be a group { schedule = ...; }");
    for (int i = 0; i < config_setting_length(s); i++) {
      const config_setting_t *m = config_setting_get_elem(s, (unsigned)i);
      const char *nm = config_setting_name(m);
      if (strcmp(nm, "schedule") == 0) {
        const char *v = config_setting_get_string(m);
        if (!v || (strcmp(v, "geometric") && strcmp(v, "every") && strcmp(v, "last")))
          return cfail(c, m, "schedule must be \"geometric\", \"every\" or \"last\"");
        snprintf(x->schedule, sizeof x->schedule, "%s", v);
      } else if (strcmp(nm, "count") == 0) {
        if (!is_integer(m) || config_setting_get_int64(m) < 2)
          return cfail(c, m, "count must be an integer >= 2");
        x->record_count = (long)config_setting_get_int64(m);
      } else if (strcmp(nm, "every") == 0) {
        if (!is_integer(m) || config_setting_get_int64(m) < 1)
          return cfail(c, m, "every must be an integer >= 1");
        x->record_every = (long)config_setting_get_int64(m);
      } else {
        return cfail(c, m, "unknown key '%s' in record", nm);
      }
    }
    if (strcmp(x->schedule, "every") == 0 && x->record_every < 1)
      return cfail(c, s, "schedule \"every\" needs every = N");
  }

  /* horizon or steps */
  const config_setting_t *hz = config_setting_get_member(root, "horizon");
  const config_setting_t *st = config_setting_get_member(root, "steps");
  if (!!hz == !!st)
    return cfail(c, hz ? hz : st, "give exactly one of 'horizon' and 'steps'");
  if (hz && (!is_number(hz) || !(number(hz) > 0)))
    return cfail(c, hz, "'horizon' must be a positive number");
  if (st && (!is_integer(st) || config_setting_get_int64(st) < 1))
    return cfail(c, st, "'steps' must be an integer >= 1");

  /* time averages of the weak metrics: from = T0 in time units; the
   * burn-in rule without `from` is half the horizon (or of steps) */
  s = config_setting_get_member(root, "time_average");
  x->time_average = 0;
  x->ta_from = -1;
  if (s) {
    if (config_setting_type(s) != CONFIG_TYPE_GROUP)
      return cfail(c, s, "'time_average' must be a group { from = T0; }");
    for (int i = 0; i < config_setting_length(s); i++) {
      const config_setting_t *m = config_setting_get_elem(s, (unsigned)i);
      if (strcmp(config_setting_name(m), "from") != 0)
        return cfail(c, m, "unknown key '%s' in time_average (from)",
                     config_setting_name(m));
      if (!is_number(m) || !(number(m) >= 0))
        return cfail(c, m, "time_average: 'from' must be a number >= 0");
      if (hz && !(number(m) < number(hz)))
        return cfail(c, m, "time_average: 'from' must be below the horizon");
      x->ta_from = number(m);
    }
    if (!strstr(x->metrics, "weak"))
      return cfail(c, s, "time_average needs weak metrics in 'metrics' "
                         "(e.g. \"weak:f=x2\")");
    x->time_average = 1;
  }

  /* lists */
  const char **targets = NULL;
  double *steps = NULL, *seeds = NULL;
  double **tsteps = NULL; /* per target: its own step sizes, or NULL */
  size_t *ntsteps = NULL;
  sampler_entry *samplers = NULL;
  double **ostep = NULL; /* [target * nsa + sampler]: an override, or NULL */
  size_t *nostep = NULL;
  size_t nt = 0, nst = 0, nse = 0, nsa = 0;
  lb_target **tg = NULL;
  const config_setting_t *ts = config_setting_get_member(root, "targets");
  if (!ts || !is_seq(ts)) {
    rc = cfail(c, ts, "'targets' must be a list of SPECs or groups");
  } else if ((nt = (size_t)config_setting_length(ts)) == 0) {
    rc = cfail(c, ts, "'targets' is empty");
  } else {
    targets = calloc(nt, sizeof *targets);
    tsteps = calloc(nt, sizeof *tsteps);
    ntsteps = calloc(nt, sizeof *ntsteps);
  }
  for (size_t i = 0; !rc && i < nt; i++) {
    const config_setting_t *v = config_setting_get_elem(ts, (unsigned)i);
    if (config_setting_type(v) == CONFIG_TYPE_STRING) {
      targets[i] = config_setting_get_string(v);
    } else if (config_setting_type(v) == CONFIG_TYPE_GROUP) {
      /* { spec = "..."; step_sizes = [...]; } */
      for (int k = 0; !rc && k < config_setting_length(v); k++) {
        const config_setting_t *m = config_setting_get_elem(v, (unsigned)k);
        const char *nm = config_setting_name(m);
        if (strcmp(nm, "spec") == 0 && config_setting_type(m) == CONFIG_TYPE_STRING)
          targets[i] = config_setting_get_string(m);
        else if (strcmp(nm, "step_sizes") == 0)
          rc = number_list(c, m, "step_sizes", 0, &tsteps[i], &ntsteps[i]);
        else
          rc = cfail(c, m, "unknown key '%s' in target group (spec, step_sizes)", nm);
      }
      if (!rc && !targets[i]) rc = cfail(c, v, "target group needs spec = \"...\"");
    } else {
      rc = cfail(c, v, "a target is a SPEC string or a group");
    }
  }
  if (!rc) {
    const config_setting_t *sz = config_setting_get_member(root, "step_sizes");
    int all_own = 1;
    for (size_t i = 0; i < nt; i++) all_own &= tsteps[i] != NULL;
    if (sz || !all_own)
      rc = number_list(c, sz, "step_sizes", 0, &steps, &nst);
  }
  if (!rc)
    rc = number_list(c, config_setting_get_member(root, "seeds"), "seeds", 1,
                     &seeds, &nse);
  const config_setting_t *ss = config_setting_get_member(root, "samplers");
  if (!rc && (!ss || !is_seq(ss)))
    rc = cfail(c, ss, "'samplers' must be a list of SPECs or groups");
  if (!rc && config_setting_length(ss) == 0) rc = cfail(c, ss, "'samplers' is empty");
  for (int i = 0; !rc && i < config_setting_length(ss); i++) {
    const config_setting_t *v = config_setting_get_elem(ss, (unsigned)i);
    if (config_setting_type(v) == CONFIG_TYPE_STRING) {
      samplers = realloc(samplers, (nsa + 1) * sizeof *samplers);
      snprintf(samplers[nsa].spec, sizeof samplers[nsa].spec, "%s",
               config_setting_get_string(v));
      samplers[nsa++].line = config_setting_source_line(v);
    } else if (config_setting_type(v) == CONFIG_TYPE_GROUP) {
      rc = expand_group(c, v, &samplers, &nsa);
    } else {
      rc = cfail(c, v, "a sampler is a SPEC string or a group");
    }
  }
  if (!rc) {
    ostep = calloc(nt * nsa > 0 ? nt * nsa : 1, sizeof *ostep);
    nostep = calloc(nt * nsa > 0 ? nt * nsa : 1, sizeof *nostep);
    rc = parse_overrides(c, config_setting_get_member(root, "overrides"),
                         targets, nt, samplers, nsa, ostep, nostep);
  }
  for (size_t i = 0; !rc && i < nst; i++)
    if (!(steps[i] > 0))
      rc = cfail(c, config_setting_get_member(root, "step_sizes"),
                 "step size %g must be positive", steps[i]);
  for (size_t i = 0; !rc && i < nt; i++)
    for (size_t k = 0; !rc && k < ntsteps[i]; k++)
      if (!(tsteps[i][k] > 0))
        rc = cfail(c, config_setting_get_elem(ts, (unsigned)i),
                   "step size %g must be positive", tsteps[i][k]);
  for (size_t i = 0; !rc && i < nse; i++)
    if (seeds[i] < 0)
      rc = cfail(c, config_setting_get_member(root, "seeds"),
                 "seeds must be non-negative");

  /* build every target, sampler and metric once: errors before any work */
  tg = calloc(nt ? nt : 1, sizeof *tg);
  long *fineK = calloc(nsa ? nsa : 1, sizeof *fineK);
  for (size_t i = 0; !rc && i < nt; i++) {
    const config_setting_t *v = config_setting_get_elem(ts, (unsigned)i);
    if (lb_target_alloc(targets[i], &tg[i], c->e) != LB_OK) {
      char m[LB_ERRLEN];
      snprintf(m, sizeof m, "%s", c->e->msg);
      rc = cfail(c, v, "%s", m);
      break;
    }
    lb_init in;
    if (lb_init_parse(&in, x->init, tg[i], c->e) != LB_OK) {
      char m[LB_ERRLEN];
      snprintf(m, sizeof m, "%s", c->e->msg);
      rc = cfail(c, config_setting_get_member(root, "init"), "%s", m);
    }
    lb_init_clear(&in);
    lb_metric **ms = NULL;
    size_t nm = 0;
    if (!rc && lb_metric_list_parse(x->metrics, tg[i], &ms, &nm, c->e) != LB_OK) {
      char m[LB_ERRLEN];
      snprintf(m, sizeof m, "%s", c->e->msg);
      rc = cfail(c, config_setting_get_member(root, "metrics"), "%s", m);
    }
    for (size_t k = 0; k < nm; k++) lb_metric_free(ms[k]);
    free(ms);
    for (size_t j = 0; !rc && j < nsa; j++) {
      lb_sampler *sm;
      if (lb_sampler_alloc(samplers[j].spec, tg[i], &sm, c->e) != LB_OK) {
        char m[LB_ERRLEN];
        snprintf(m, sizeof m, "%s", c->e->msg);
        rc = lb_fail(c->e, LB_EINPUT, "%s:%d: %s", c->path, samplers[j].line, m);
        break;
      }
      if (sm->type->fine_steps) fineK[j] = sm->type->fine_steps(sm);
      if (x->coupled &&
          (!sm->type->step_coupled || !sm->type->fine_steps ||
           sm->type->fine_steps(sm) < 1))
        rc = lb_fail(c->e, LB_EINPUT,
                     "%s:%d: coupled = true needs samplers with a finite K "
                     "and coupled stepping, not '%s'",
                     c->path, samplers[j].line, samplers[j].spec);
      lb_sampler_free(sm);
    }
  }

  /* expand the grid */
  if (!rc) {
    x->ncells = 0;
    /* the steps of (target i, sampler j): its override, else the
     * target's own, else the global ones */
#define STEPS_OF(i, j) \
  (ostep[(i) * nsa + (j)] ? ostep[(i) * nsa + (j)] : tsteps[i] ? tsteps[i] : steps)
#define NSTEPS_OF(i, j) \
  (ostep[(i) * nsa + (j)] ? nostep[(i) * nsa + (j)] : tsteps[i] ? ntsteps[i] : nst)
    for (size_t i = 0; i < nt; i++)
      for (size_t j = 0; j < nsa; j++) x->ncells += NSTEPS_OF(i, j) * nse;
    x->cells = calloc(x->ncells, sizeof *x->cells);
    size_t k = 0;
    for (size_t i = 0; i < nt; i++)
      for (size_t j = 0; j < nsa; j++)
        for (size_t a = 0; a < NSTEPS_OF(i, j); a++)
          for (size_t b = 0; b < nse; b++) {
            double step = STEPS_OF(i, j)[a];
            lb_cell *cl = &x->cells[k++];
            snprintf(cl->target, sizeof cl->target, "%s", targets[i]);
            snprintf(cl->sampler, sizeof cl->sampler, "%s", samplers[j].spec);
            cl->step = step;
            cl->seed = (long)seeds[b];
            cl->steps = st ? (long)config_setting_get_int64(st)
                           : lround(number(hz) / step);
            if (cl->steps < 1) cl->steps = 1;
            char sched[64];
            if (strcmp(x->schedule, "every") == 0)
              snprintf(sched, sizeof sched, "every:%ld", x->record_every);
            else if (strcmp(x->schedule, "geometric") == 0)
              snprintf(sched, sizeof sched, "geometric:%ld", x->record_count);
            else
              snprintf(sched, sizeof sched, "last");
            snprintf(cl->key, sizeof cl->key,
                     "v1|target=%s|sampler=%s|init=%s|step=%.17g|steps=%ld|"
                     "chains=%ld|seed=%ld|record=%s|metrics=%s|"
                     "trajectory_chains=%ld|coupled=%d",
                     cl->target, cl->sampler, x->init, cl->step, cl->steps,
                     x->chains, cl->seed, sched, x->metrics,
                     x->trajectory_chains, x->coupled);
            if (x->time_average) { /* absent: keys as before */
              size_t kl = strlen(cl->key);
              double from = x->ta_from >= 0 ? x->ta_from
                                            : 0.5 * (double)cl->steps * step;
              snprintf(cl->key + kl, sizeof cl->key - kl,
                       "|time_average=%.17g", from);
            }
            lb_hash_hex(cl->key, cl->hash);
            int64_t *rec;
            size_t nrec = lb_experiment_records(x, cl->steps, &rec);
            free(rec);
            double per = (double)x->chains * (double)tg[i]->dim;
            cl->cost = per * (double)cl->steps *
                           (x->coupled ? 1.0 + (double)fineK[j] : 1.0) +
                       per * (double)nrec;
          }
  }
#undef STEPS_OF
#undef NSTEPS_OF
  for (size_t i = 0; i < nt; i++) {
    if (tg) lb_target_free(tg[i]);
    if (tsteps) free(tsteps[i]);
  }
  for (size_t i = 0; ostep && i < nt * nsa; i++) free(ostep[i]);
  free(ostep);
  free(nostep);
  free(tg);
  free(fineK);
  free(tsteps);
  free(ntsteps);
  free(targets);
  free(steps);
  free(seeds);
  free(samplers);
  return rc;
}

int lb_experiment_load(const char *path, lb_experiment *x, lb_err *e) {
  memset(x, 0, sizeof *x);
  snprintf(x->path, sizeof x->path, "%s", path);
  x->text = slurp(path);
  if (!x->text) return lb_fail(e, LB_EINPUT, "%s: cannot read the file", path);
  config_t cfg;
  config_init(&cfg);
  ctx c = {path, e};
  int rc;
  if (config_read_string(&cfg, x->text) != CONFIG_TRUE) {
    rc = lb_fail(e, LB_EINPUT, "%s:%d: %s", path, config_error_line(&cfg),
                 config_error_text(&cfg));
  } else {
    rc = parse(&c, &cfg, x);
  }
  config_destroy(&cfg);
  if (rc) lb_experiment_free(x);
  return rc;
}

void lb_experiment_free(lb_experiment *x) {
  free(x->text);
  free(x->cells);
  memset(x, 0, sizeof *x);
}

size_t lb_experiment_records(const lb_experiment *x, long steps,
                             int64_t **out) {
  size_t cap = 2 + (size_t)(x->record_count > 0 ? x->record_count : 0) +
               (x->record_every > 0 ? (size_t)(steps / x->record_every) : 0);
  int64_t *r = calloc(cap + 1, sizeof *r);
  size_t n = 0;
  r[n++] = 0;
  if (strcmp(x->schedule, "every") == 0) {
    for (long s = x->record_every; s < steps; s += x->record_every) r[n++] = s;
  } else if (strcmp(x->schedule, "geometric") == 0) {
    /* count points geometrically spaced in [1, steps], deduplicated */
    for (long k = 0; k < x->record_count - 1; k++) {
      double v = pow((double)steps, (double)k / (double)(x->record_count - 1));
      long s = lround(v);
      if (s > r[n - 1] && s < steps) r[n++] = s;
    }
  }
  if (steps > 0) r[n++] = steps;
  *out = r;
  return n;
}

void lb_fit_slope(const double *x, const double *y, size_t n, double *slope,
                  double *se, double *intercept) {
  double mx = 0, my = 0, sxx = 0, sxy = 0, rss = 0;
  *slope = *se = *intercept = NAN;
  if (n < 2) return;
  for (size_t i = 0; i < n; i++) mx += x[i], my += y[i];
  mx /= (double)n;
  my /= (double)n;
  for (size_t i = 0; i < n; i++) {
    sxx += (x[i] - mx) * (x[i] - mx);
    sxy += (x[i] - mx) * (y[i] - my);
  }
  if (sxx <= 0) return;
  *slope = sxy / sxx;
  *intercept = my - *slope * mx;
  for (size_t i = 0; i < n; i++) {
    double r = y[i] - *intercept - *slope * x[i];
    rss += r * r;
  }
  if (n > 2) *se = sqrt(rss / (double)(n - 2) / sxx);
}

/* ---- cost order and shards ---------------------------------------------------- */

static const lb_experiment *by_cost_x;

static int cost_cmp(const void *a, const void *b) {
  size_t i = *(const size_t *)a, j = *(const size_t *)b;
  double ci = by_cost_x->cells[i].cost, cj = by_cost_x->cells[j].cost;
  if (ci != cj) return ci > cj ? -1 : 1;
  return i < j ? -1 : i > j;
}

size_t *lb_experiment_by_cost(const lb_experiment *x) {
  size_t *idx = lb_xcalloc(x->ncells ? x->ncells : 1, sizeof *idx);
  for (size_t i = 0; i < x->ncells; i++) idx[i] = i;
  by_cost_x = x; /* qsort has no context argument; callers are serial */
  qsort(idx, x->ncells, sizeof *idx, cost_cmp);
  by_cost_x = NULL;
  return idx;
}

void lb_experiment_shards(const lb_experiment *x, long n, long *shard_of) {
  size_t *idx = lb_experiment_by_cost(x);
  for (size_t p = 0; p < x->ncells; p++) {
    long round = (long)(p / (size_t)n), k = (long)(p % (size_t)n);
    shard_of[idx[p]] = round % 2 == 0 ? k : n - 1 - k;
  }
  free(idx);
}
