/* cli.c -- option parsing shared by the subcommands.  GPL-3.0-or-later. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "commands.h"
#include "lb.h"

int lb_cli_parse(const char *cmd, int argc, char **argv, const lb_opt *opts,
                 const char **positional, int max_positional, int *npositional,
                 int *help) {
  int npos = 0;
  *help = 0;
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
      *help = 1;
      continue;
    }
    if (strncmp(a, "--", 2) != 0) {
      if (npos >= max_positional)
        return lb_usage_error(cmd, "unexpected argument '%s'", a);
      positional[npos++] = a;
      continue;
    }
    const char *name = a + 2, *eq = strchr(name, '=');
    size_t len = eq ? (size_t)(eq - name) : strlen(name);
    const lb_opt *o = NULL;
    for (const lb_opt *p = opts; p->name; p++)
      if (strlen(p->name) == len && strncmp(p->name, name, len) == 0) o = p;
    if (!o) return lb_usage_error(cmd, "unknown option '%s'", a);
    if (!o->has_arg) {
      if (eq) return lb_usage_error(cmd, "option --%s takes no value", o->name);
      *o->value = "1";
    } else if (eq) {
      *o->value = eq + 1;
    } else {
      if (i + 1 >= argc)
        return lb_usage_error(cmd, "option --%s needs a value", o->name);
      *o->value = argv[++i];
    }
  }
  if (npositional) *npositional = npos;
  return 0;
}

int lb_cli_long(const char *cmd, const char *opt, const char *text, long lo,
                long hi, long *out) {
  if (!text) return 0;
  long v;
  if (lb_parse_long(text, &v) != 0)
    return lb_usage_error(cmd, "%s %s: not an integer", opt, text);
  if (v < lo || v > hi)
    return lb_usage_error(cmd, "%s %s: must be in [%ld, %ld]", opt, text, lo,
                          hi);
  *out = v;
  return 0;
}

int lb_cli_double(const char *cmd, const char *opt, const char *text,
                  double lo_excl, double hi, double *out) {
  if (!text) return 0;
  double v;
  if (lb_parse_double(text, &v) != 0)
    return lb_usage_error(cmd, "%s %s: not a number", opt, text);
  if (!(v > lo_excl && v <= hi))
    return lb_usage_error(cmd, "%s %s: must be > %g and <= %g", opt, text,
                          lo_excl, hi);
  *out = v;
  return 0;
}

void lb_cli_join(int argc, char **argv, char *buf, size_t len) {
  size_t k = 0;
  buf[0] = '\0';
  for (int i = 0; i < argc && k + 1 < len; i++) {
    int w = snprintf(buf + k, len - k, "%s%s", i ? " " : "", argv[i]);
    if (w < 0) break;
    k += (size_t)w;
  }
}

int lb_usage_error(const char *cmd, const char *fmt, ...) {
  va_list ap;
  fprintf(stderr, "langbench %s: ", cmd);
  va_start(ap, fmt);
  vfprintf(stderr, fmt, ap);
  va_end(ap);
  fputc('\n', stderr);
  return LB_EINPUT;
}
