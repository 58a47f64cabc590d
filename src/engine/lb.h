/* lb.h -- langbench: common definitions, error reporting and SPEC parsing.
 *
 * Copyright (C) 2026 the langbench authors.  GPL-3.0-or-later.
 *
 * A SPEC is `name[:key=value[,key=value]...]` (product.md).  Parsing keeps
 * the pairs and marks each one as it is read, so that an unread (unknown)
 * key is reported as an error instead of being ignored.
 */
#ifndef LB_H
#define LB_H

#include <stddef.h>
#include <stdint.h>

#define LB_VERSION "0.3.2"

/* Status codes (also the process exit status of the commands). */
enum {
  LB_OK = 0,
  LB_ERUNTIME = 1, /* runtime failure: I/O, allocation */
  LB_EINPUT = 2    /* bad usage or bad input */
};

/* Error messages: one line, written into a caller-owned buffer. */
#define LB_ERRLEN 512
typedef struct {
  char msg[LB_ERRLEN];
} lb_err;

/* Formats into e->msg and returns `code` (so `return lb_fail(e, ...)`). */
int lb_fail(lb_err *e, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* ------------------------------------------------------------------ */
/* SPEC strings                                                        */

#define LB_SPEC_MAXKV 16
#define LB_SPEC_MAXLEN 256

typedef struct {
  char key[64];
  char value[LB_SPEC_MAXLEN];
  int used;
} lb_kv;

typedef struct {
  char text[LB_SPEC_MAXLEN]; /* the original text, for messages */
  char name[64];
  int nkv;
  lb_kv kv[LB_SPEC_MAXKV];
} lb_spec;

/* `what` names the argument in messages, e.g. "--target". */
int lb_spec_parse(lb_spec *s, const char *text, const char *what, lb_err *e);

/* Lookups mark the key as used.  Return LB_OK with *out = default when the
 * key is absent; LB_EINPUT with a message naming the key when the value is
 * not a number or lies outside [lo, hi]. */
int lb_spec_double(lb_spec *s, const char *key, double def, double lo,
                   double hi, double *out, lb_err *e);
int lb_spec_long(lb_spec *s, const char *key, long def, long lo, long hi,
                 long *out, lb_err *e);
/* String value or NULL when absent. */
const char *lb_spec_str(lb_spec *s, const char *key);
int lb_spec_has(const lb_spec *s, const char *key);
/* LB_EINPUT naming the first key nobody read. */
int lb_spec_check_used(const lb_spec *s, const char *what, lb_err *e);

/* Strict number parsing for command-line values. */
int lb_parse_double(const char *text, double *out);
int lb_parse_long(const char *text, long *out);

/* A list of doubles separated by ';' or spaces, e.g. "x=1;2;3". Returns the
 * count, or -1 when an entry is not a number or there are more than max. */
int lb_parse_doubles(const char *text, double *out, int max);

/* ------------------------------------------------------------------ */
/* Small numerical helpers                                             */

/* Current UTC time as ISO 8601 (for the `created` attribute). */
void lb_iso_now(char *buf, size_t len);

void *lb_xcalloc(size_t n, size_t size); /* aborts on out-of-memory */
int lb_all_finite(const double *x, size_t n);

#endif
