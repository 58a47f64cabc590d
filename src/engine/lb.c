/* lb.c -- error reporting, SPEC parsing, strict number parsing.
 * GPL-3.0-or-later. */
#include "lb.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

int lb_fail(lb_err *e, int code, const char *fmt, ...) {
  if (e) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(e->msg, sizeof e->msg, fmt, ap);
    va_end(ap);
  }
  return code;
}

/* ---- numbers ------------------------------------------------------ */

int lb_parse_double(const char *text, double *out) {
  char *end;
  if (!text || !*text) return -1;
  errno = 0;
  double v = strtod(text, &end);
  if (*end != '\0' || errno == ERANGE) return -1;
  if (isnan(v)) return -1;
  *out = v;
  return 0;
}

int lb_parse_long(const char *text, long *out) {
  char *end;
  if (!text || !*text) return -1;
  errno = 0;
  long v = strtol(text, &end, 10);
  if (*end != '\0' || errno == ERANGE) return -1;
  *out = v;
  return 0;
}

int lb_parse_doubles(const char *text, double *out, int max) {
  char buf[LB_SPEC_MAXLEN];
  int n = 0;
  snprintf(buf, sizeof buf, "%s", text);
  for (char *save = NULL, *tok = strtok_r(buf, "; ", &save); tok;
       tok = strtok_r(NULL, "; ", &save)) {
    if (n >= max || lb_parse_double(tok, &out[n]) != 0) return -1;
    n++;
  }
  return n;
}

/* ---- SPEC --------------------------------------------------------- */

int lb_spec_parse(lb_spec *s, const char *text, const char *what, lb_err *e) {
  memset(s, 0, sizeof *s);
  if (!text || !*text)
    return lb_fail(e, LB_EINPUT, "%s: empty specification", what);
  if (strlen(text) >= sizeof s->text)
    return lb_fail(e, LB_EINPUT, "%s: specification too long", what);
  strcpy(s->text, text);

  const char *colon = strchr(text, ':');
  size_t nlen = colon ? (size_t)(colon - text) : strlen(text);
  if (nlen == 0 || nlen >= sizeof s->name)
    return lb_fail(e, LB_EINPUT, "%s: bad name in '%s'", what, text);
  memcpy(s->name, text, nlen);
  s->name[nlen] = '\0';
  if (!colon) return LB_OK;

  char buf[LB_SPEC_MAXLEN];
  strcpy(buf, colon + 1);
  for (char *save = NULL, *tok = strtok_r(buf, ",", &save); tok;
       tok = strtok_r(NULL, ",", &save)) {
    char *eq = strchr(tok, '=');
    if (!eq || eq == tok || eq[1] == '\0')
      return lb_fail(e, LB_EINPUT, "%s: expected key=value, got '%s' in '%s'",
                     what, tok, text);
    if (s->nkv >= LB_SPEC_MAXKV)
      return lb_fail(e, LB_EINPUT, "%s: too many parameters in '%s'", what,
                     text);
    *eq = '\0';
    if (strlen(tok) >= sizeof s->kv[0].key)
      return lb_fail(e, LB_EINPUT, "%s: key too long in '%s'", what, text);
    for (int i = 0; i < s->nkv; i++)
      if (strcmp(s->kv[i].key, tok) == 0)
        return lb_fail(e, LB_EINPUT, "%s: key '%s' given twice in '%s'", what,
                       tok, text);
    strcpy(s->kv[s->nkv].key, tok);
    strcpy(s->kv[s->nkv].value, eq + 1);
    s->nkv++;
  }
  return LB_OK;
}

static lb_kv *find(lb_spec *s, const char *key) {
  for (int i = 0; i < s->nkv; i++)
    if (strcmp(s->kv[i].key, key) == 0) return &s->kv[i];
  return NULL;
}

int lb_spec_has(const lb_spec *s, const char *key) {
  for (int i = 0; i < s->nkv; i++)
    if (strcmp(s->kv[i].key, key) == 0) return 1;
  return 0;
}

const char *lb_spec_str(lb_spec *s, const char *key) {
  lb_kv *kv = find(s, key);
  if (!kv) return NULL;
  kv->used = 1;
  return kv->value;
}

int lb_spec_double(lb_spec *s, const char *key, double def, double lo,
                   double hi, double *out, lb_err *e) {
  lb_kv *kv = find(s, key);
  if (!kv) {
    *out = def;
    return LB_OK;
  }
  kv->used = 1;
  double v;
  if (lb_parse_double(kv->value, &v) != 0)
    return lb_fail(e, LB_EINPUT, "%s: %s=%s is not a number", s->text, key,
                   kv->value);
  if (!(v >= lo && v <= hi))
    return lb_fail(e, LB_EINPUT, "%s: %s=%s is outside [%g, %g]", s->text, key,
                   kv->value, lo, hi);
  *out = v;
  return LB_OK;
}

int lb_spec_long(lb_spec *s, const char *key, long def, long lo, long hi,
                 long *out, lb_err *e) {
  lb_kv *kv = find(s, key);
  if (!kv) {
    *out = def;
    return LB_OK;
  }
  kv->used = 1;
  long v;
  if (lb_parse_long(kv->value, &v) != 0)
    return lb_fail(e, LB_EINPUT, "%s: %s=%s is not an integer", s->text, key,
                   kv->value);
  if (v < lo || v > hi)
    return lb_fail(e, LB_EINPUT, "%s: %s=%s is outside [%ld, %ld]", s->text,
                   key, kv->value, lo, hi);
  *out = v;
  return LB_OK;
}

int lb_spec_check_used(const lb_spec *s, const char *what, lb_err *e) {
  for (int i = 0; i < s->nkv; i++)
    if (!s->kv[i].used)
      return lb_fail(e, LB_EINPUT, "%s: unknown key '%s' for '%s'", what,
                     s->kv[i].key, s->name);
  return LB_OK;
}

/* ---- memory / checks ---------------------------------------------- */

void *lb_xcalloc(size_t n, size_t size) {
  void *p = calloc(n ? n : 1, size ? size : 1);
  if (!p) {
    fprintf(stderr, "langbench: out of memory\n");
    exit(LB_ERUNTIME);
  }
  return p;
}

int lb_all_finite(const double *x, size_t n) {
  for (size_t i = 0; i < n; i++)
    if (!isfinite(x[i])) return 0;
  return 1;
}

void lb_iso_now(char *buf, size_t len) {
  time_t now = time(NULL);
  struct tm tm;
  gmtime_r(&now, &tm);
  strftime(buf, len, "%Y-%m-%dT%H:%M:%SZ", &tm);
}
