/* commands.h -- the subcommands of `langbench`.  Each takes the arguments
 * after its own name (argv[0] is the subcommand) and returns the exit
 * status: 0 ok, 1 runtime failure, 2 bad usage or input (after printing
 * one line on stderr naming the offending argument).  GPL-3.0-or-later. */
#ifndef LB_COMMANDS_H
#define LB_COMMANDS_H

int lb_cmd_sample(int argc, char **argv);
int lb_cmd_list(int argc, char **argv);
int lb_cmd_metrics(int argc, char **argv);
int lb_cmd_exact(int argc, char **argv);
int lb_cmd_run(int argc, char **argv);
int lb_cmd_export(int argc, char **argv);
int lb_cmd_diffuse(int argc, char **argv);
int lb_cmd_train(int argc, char **argv);

/* Shared by commands: print "langbench CMD: MSG" and return 2. */
int lb_usage_error(const char *cmd, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Helpers of `list`: each family's name and help text, for metrics too. */
void lb_list_metrics(void);

#endif
