/* cmd_metrics.c -- `langbench metrics RUN.h5`: distances between a run's
 * samples and its target, with standard errors and noise floors; and the
 * metric part of `langbench list`.
 *
 * GPL-3.0-or-later.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "commands.h"
#include "io.h"
#include "lb.h"
#include "metrics.h"
#include "target.h"

static const char *const CMD = "metrics";

static void usage(FILE *f) {
  fprintf(
      f,
      "usage: langbench metrics RUN.h5 [--metrics LIST] [--format "
      "table|csv|json]\n"
      "                         [--seed S] [--step-index all|last|K]\n"
      "\n"
      "Distances between the samples of a run file and the run's target "
      "(rebuilt from the\nfile's `target` attribute), each with a standard "
      "error and a noise floor: the same\nestimator on two independent "
      "exact target samples of the same size.\n"
      "\n"
      "  --metrics LIST   metrics separated by ','; parameters follow a "
      "metric as\n"
      "                   NAME:key=value, and a further key=value entry "
      "belongs to the\n"
      "                   metric before it, e.g.\n"
      "                     --metrics w2,sw2:proj=200,batches=20,"
      "sinkhorn:eps=0.01\n"
      "                   (';' also separates parameters: sw2:proj=200;"
      "batches=20).\n"
      "                   Default: %s\n"
      "                   (tv only in d <= 2).  See 'langbench list "
      "metrics'.\n"
      "  --format F       table (default), csv or json.  csv has exactly "
      "the header\n"
      "                   metric,estimate,stderr,floor,n  (with record_step "
      "first for\n"
      "                   --step-index all or K); the metric column is the "
      "spec with ';'\n"
      "                   between parameters.\n"
      "  --seed S         seed of the reference samples, bootstrap and "
      "projections\n"
      "                   (default 1; streams never meet the run's own).\n"
      "  --step-index I   last (default): the final /samples, diverged "
      "chains excluded;\n"
      "                   all: every /trajectory record; K: record K "
      "(0-based).\n"
      "\n"
      "Exit status: 0 ok, 1 runtime failure, 2 bad usage or input.\n",
      lb_metric_default_list);
}

void lb_list_metrics(void) {
  for (size_t i = 0; lb_metric_types[i]; i++) {
    const lb_metric_type *t = lb_metric_types[i];
    printf("%s%s\n", t->name, t->max_dim ? "   (d <= 2)" : "");
    for (const char *p = t->help; *p;) {
      size_t len = strcspn(p, "\n");
      printf("    %.*s\n", (int)len, p);
      p += len;
      if (*p == '\n') p++;
    }
  }
  printf("--metrics NAME[:key=value[,key=value]...][,NAME...]: a key=value "
         "entry belongs to\nthe metric before it.  Each metric reports "
         "estimate, stderr and floor (the same\nestimator on two exact "
         "target samples of the same size).\n");
}

/* ---- output -------------------------------------------------------- */

static void json_str(FILE *f, const char *s) {
  fputc('"', f);
  for (; *s; s++) {
    unsigned char c = (unsigned char)*s;
    if (c == '"' || c == '\\')
      fprintf(f, "\\%c", c);
    else if (c < 0x20)
      fprintf(f, "\\u%04x", c);
    else
      fputc(c, f);
  }
  fputc('"', f);
}

static void json_num(FILE *f, double v) {
  if (isfinite(v))
    fprintf(f, "%.10g", v);
  else
    fputs("null", f);
}

enum { FMT_TABLE, FMT_CSV, FMT_JSON };

typedef struct {
  double *x;
  size_t n;
  long step; /* record step, or the run's steps for the final samples */
  uint64_t set;
} sample_set;

/* Rows of x [n x d] that are finite and not flagged, copied. */
static double *finite_rows(const double *x, size_t n, size_t d,
                           const int8_t *flag, size_t *kept,
                           size_t *flagged) {
  double *out = lb_xcalloc(n * d, sizeof(double));
  size_t k = 0, fl = 0;
  for (size_t i = 0; i < n; i++) {
    if ((flag && flag[i]) || !lb_all_finite(x + i * d, d)) {
      fl++;
      continue;
    }
    memcpy(out + k * d, x + i * d, d * sizeof(double));
    k++;
  }
  *kept = k;
  *flagged = fl;
  return out;
}

int lb_cmd_metrics(int argc, char **argv) {
  const char *file = NULL, *format = NULL, *stepidx = NULL, *seedtext = NULL,
             *list = NULL;
  const lb_opt opts[] = {{"metrics", 1, &list},
                         {"format", 1, &format},
                         {"seed", 1, &seedtext},
                         {"step-index", 1, &stepidx},
                         {NULL, 0, NULL}};
  int npos = 0, help = 0;
  if (lb_cli_parse(CMD, argc, argv, opts, &file, 1, &npos, &help))
    return LB_EINPUT;
  if (help) {
    usage(stdout);
    return 0;
  }
  if (!format) format = "table";
  if (!stepidx) stepidx = "last";
  if (!seedtext) seedtext = "1";
  if (npos == 0) return lb_usage_error(CMD, "missing RUN.h5 (see --help)");
  int fmt;
  if (strcmp(format, "table") == 0)
    fmt = FMT_TABLE;
  else if (strcmp(format, "csv") == 0)
    fmt = FMT_CSV;
  else if (strcmp(format, "json") == 0)
    fmt = FMT_JSON;
  else {
    return lb_usage_error(CMD, "--format %s: expected table, csv or json",
                          format);
  }
  long seed;
  if (lb_parse_long(seedtext, &seed) != 0 || seed < 0) {
    return lb_usage_error(CMD, "--seed %s: expected an integer >= 0",
                          seedtext);
  }
  int all = 0;
  long record = -1; /* -1: final samples */
  if (strcmp(stepidx, "all") == 0) {
    all = 1;
  } else if (strcmp(stepidx, "last") != 0) {
    if (lb_parse_long(stepidx, &record) != 0 || record < 0) {
      return lb_usage_error(CMD,
                            "--step-index %s: expected all, last or a "
                            "record index >= 0",
                            stepidx);
    }
  }

  lb_run run;
  memset(&run, 0, sizeof run);
  lb_err err = {{0}};
  int rc = lb_run_load(file, &run, &err);
  if (rc) {
    lb_run_clear(&run);
    fprintf(stderr, "langbench %s: %s\n", CMD, err.msg);
    return rc;
  }
  lb_target *t = NULL;
  lb_metric **ms = NULL;
  size_t nm = 0;
  sample_set *sets = NULL;
  size_t nsets = 0;
  rc = lb_target_alloc(run.target, &t, &err);
  if (rc) {
    rc = lb_usage_error(CMD, "%s: target '%s': %s", file, run.target, err.msg);
    goto done;
  }
  const size_t d = t->dim;
  if ((long)d != run.dim) {
    rc = lb_usage_error(CMD, "%s: dim=%ld but target '%s' has dimension %zu",
                        file, run.dim, run.target, d);
    goto done;
  }

  /* Metrics. */
  if (!list) {
    char def[512] = "";
    char buf[512];
    snprintf(buf, sizeof buf, "%s", lb_metric_default_list);
    for (char *save = NULL, *tok = strtok_r(buf, ",", &save); tok;
         tok = strtok_r(NULL, ",", &save)) {
      const lb_metric_type *mt = lb_metric_type_find(tok);
      if (!mt || (mt->max_dim && d > mt->max_dim)) continue;
      if (def[0]) strcat(def, ",");
      strcat(def, tok);
    }
    rc = lb_metric_list_parse(def, t, &ms, &nm, &err);
  } else {
    rc = lb_metric_list_parse(list, t, &ms, &nm, &err);
  }
  if (rc) {
    rc = lb_usage_error(CMD, "%s", err.msg);
    goto done;
  }
  for (size_t k = 0; k < nm; k++) ms[k]->msg = stderr;

  /* Sample sets. */
  if (all || record >= 0) {
    if (run.records == 0 || !run.trajectory) {
      rc = lb_usage_error(CMD,
                          "%s has no /trajectory records (sample with "
                          "--record-every)",
                          file);
      goto done;
    }
    if (record >= 0 && (size_t)record >= run.records) {
      rc = lb_usage_error(CMD, "--step-index %ld: %s has %zu records", record,
                          file, run.records);
      goto done;
    }
    size_t r0 = all ? 0 : (size_t)record, r1 = all ? run.records : r0 + 1;
    sets = lb_xcalloc(r1 - r0, sizeof *sets);
    size_t bad = 0;
    for (size_t r = r0; r < r1; r++) {
      size_t kept, fl;
      sample_set *s = &sets[nsets++];
      s->x = finite_rows(run.trajectory + r * run.record_chains * d,
                         run.record_chains, d, NULL, &kept, &fl);
      s->n = kept;
      s->step = (long)run.trajectory_step[r];
      s->set = r + 1;
      bad += fl;
    }
    if (bad)
      fprintf(stderr,
              "langbench %s: excluding %zu non-finite trajectory entries "
              "(diverged chains)\n",
              CMD, bad);
  } else {
    size_t kept, fl;
    sets = lb_xcalloc(1, sizeof *sets);
    sets[0].x = finite_rows(run.samples, (size_t)run.chains, d, run.diverged,
                            &kept, &fl);
    sets[0].n = kept;
    sets[0].step = run.steps;
    sets[0].set = 0;
    nsets = 1;
    if (fl)
      fprintf(stderr,
              "langbench %s: excluding %zu diverged chains of %ld from "
              "/samples\n",
              CMD, fl, run.chains);
  }

  /* Header. */
  const int with_step = all || record >= 0;
  size_t width = 6;
  for (size_t k = 0; k < nm; k++)
    if (strlen(ms[k]->label) > width) width = strlen(ms[k]->label);
  if (fmt == FMT_CSV) {
    printf("%smetric,estimate,stderr,floor,n\n", with_step ? "record_step," : "");
  } else if (fmt == FMT_TABLE) {
    printf("# %s: target %s, sampler %s, step %g, steps %ld, chains %ld\n",
           file, run.target, run.sampler, run.step, run.steps, run.chains);
    if (with_step) printf("%-11s ", "record_step");
    printf("%-*s %14s %14s %14s %10s\n", (int)width, "metric", "estimate",
           "stderr", "floor", "n");
  } else {
    printf("{\n  \"file\": ");
    json_str(stdout, file);
    printf(",\n  \"target\": ");
    json_str(stdout, run.target);
    printf(",\n  \"sampler\": ");
    json_str(stdout, run.sampler);
    printf(",\n  \"seed\": %ld,\n  \"results\": [", seed);
  }

  int firstjson = 1;
  for (size_t si = 0; si < nsets; si++) {
    for (size_t k = 0; k < nm; k++) {
      lb_metric_result res;
      rc = lb_metric_eval(ms[k], sets[si].x, sets[si].n, (uint64_t)seed,
                          sets[si].set, &res, &err);
      if (rc) {
        fprintf(stderr, "langbench %s: %s: %s\n", CMD, ms[k]->label, err.msg);
        goto done;
      }
      if (fmt == FMT_CSV) {
        if (with_step) printf("%ld,", sets[si].step);
        printf("%s,%.10g,%.10g,%.10g,%zu\n", ms[k]->label, res.estimate,
               res.se, res.floor, res.n);
      } else if (fmt == FMT_TABLE) {
        if (with_step) printf("%-11ld ", sets[si].step);
        printf("%-*s %14.6g %14.6g %14.6g %10zu\n", (int)width, ms[k]->label,
               res.estimate, res.se, res.floor, res.n);
      } else {
        printf("%s\n    {\"metric\": ", firstjson ? "" : ",");
        firstjson = 0;
        json_str(stdout, ms[k]->label);
        if (with_step) printf(", \"record_step\": %ld", sets[si].step);
        printf(", \"estimate\": ");
        json_num(stdout, res.estimate);
        printf(", \"stderr\": ");
        json_num(stdout, res.se);
        printf(", \"floor\": ");
        json_num(stdout, res.floor);
        printf(", \"n\": %zu, \"se_method\": \"%s\", \"reps\": %ld}", res.n,
               ms[k]->se_method == LB_SE_BOOTSTRAP ? "bootstrap" : "batch",
               ms[k]->reps);
      }
      fflush(stdout);
    }
  }
  if (fmt == FMT_JSON) printf("\n  ]\n}\n");
  rc = LB_OK;

done:
  for (size_t k = 0; k < nm; k++) lb_metric_free(ms[k]);
  free(ms);
  for (size_t s = 0; s < nsets; s++) free(sets[s].x);
  free(sets);
  lb_target_free(t);
  lb_run_clear(&run);
  return rc;
}
