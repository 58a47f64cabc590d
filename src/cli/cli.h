/* cli.h -- option parsing shared by the subcommands.  GPL-3.0-or-later.
 *
 * Options are `--name value` or `--name=value`; flags (has_arg 0) take no
 * value and set *value to "1".  `--help` sets *help.  Anything unknown is
 * reported on stderr in one line naming it, with LB_EINPUT.
 */
#ifndef LB_CLI_H
#define LB_CLI_H

typedef struct {
  const char *name; /* without the leading dashes */
  int has_arg;
  const char **value; /* where to store the text (NULL: not given) */
} lb_opt;

int lb_cli_parse(const char *cmd, int argc, char **argv, const lb_opt *opts,
                 const char **positional, int max_positional, int *npositional,
                 int *help);

/* Typed value checks: print "langbench CMD: --opt X: reason" and return 2
 * on failure; leave *out untouched when text is NULL. */
int lb_cli_long(const char *cmd, const char *opt, const char *text, long lo,
                long hi, long *out);
int lb_cli_double(const char *cmd, const char *opt, const char *text,
                  double lo_excl, double hi, double *out);

/* The command line as one string, for the `command` attribute. */
void lb_cli_join(int argc, char **argv, char *buf, size_t len);

#endif
