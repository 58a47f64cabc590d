/* cmd_list.c -- `langbench list targets|samplers|metrics`.
 * GPL-3.0-or-later. */
#include <stdio.h>
#include <string.h>

#include "commands.h"
#include "sampler.h"
#include "target.h"

static void print_help(const char *name, const char *help) {
  printf("%s\n", name);
  const char *p = help;
  while (*p) { /* indent each line of the help text */
    const char *nl = strchr(p, '\n');
    size_t len = nl ? (size_t)(nl - p) : strlen(p);
    printf("    %.*s\n", (int)len, p);
    p += len + (nl != NULL);
  }
}

int lb_cmd_list(int argc, char **argv) {
  if (argc == 2 && strcmp(argv[1], "--help") == 0) {
    printf("usage: langbench list targets|samplers|metrics\n"
           "Names, parameters and defaults of each family (SPEC syntax:\n"
           "name[:key=value[,key=value]...]).\n");
    return 0;
  }
  if (argc != 2)
    return lb_usage_error("list", "expected one of targets, samplers, metrics");
  if (strcmp(argv[1], "targets") == 0) {
    for (size_t i = 0; lb_target_types[i]; i++)
      print_help(lb_target_types[i]->name, lb_target_types[i]->help);
  } else if (strcmp(argv[1], "samplers") == 0) {
    for (size_t i = 0; lb_sampler_types[i]; i++)
      print_help(lb_sampler_types[i]->name, lb_sampler_types[i]->help);
  } else if (strcmp(argv[1], "metrics") == 0) {
    lb_list_metrics();
  } else {
    return lb_usage_error("list", "unknown list '%s' (targets, samplers, "
                          "metrics)", argv[1]);
  }
  return 0;
}
