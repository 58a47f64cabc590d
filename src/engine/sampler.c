/* sampler.c -- sampler registry and construction.  GPL-3.0-or-later. */
#include "sampler.h"

#include <stdlib.h>
#include <string.h>

extern const lb_sampler_type lb_sampler_lmc;
extern const lb_sampler_type lb_sampler_rlmc;
extern const lb_sampler_type lb_sampler_plmc;
extern const lb_sampler_type lb_sampler_ulmc;
extern const lb_sampler_type lb_sampler_urlmc;
extern const lb_sampler_type lb_sampler_uplmc;

/* The registry: one line per sampler. */
const lb_sampler_type *const lb_sampler_types[] = {
    &lb_sampler_lmc,
    &lb_sampler_rlmc,
    &lb_sampler_plmc,
    &lb_sampler_ulmc,
    &lb_sampler_urlmc,
    &lb_sampler_uplmc,
    NULL,
};

const lb_sampler_type *lb_sampler_type_find(const char *name) {
  for (size_t i = 0; lb_sampler_types[i]; i++)
    if (strcmp(lb_sampler_types[i]->name, name) == 0) return lb_sampler_types[i];
  return NULL;
}

double lb_sampler_expected_nfe(const lb_sampler *s, double h) {
  return s->type->expected_nfe ? s->type->expected_nfe(s, h) : 1.0;
}

double lb_nfe_two(const lb_sampler *s, double h) {
  (void)s;
  (void)h;
  return 2.0;
}

int lb_sampler_alloc(const char *text, const lb_target *t, lb_sampler **out,
                     lb_err *e) {
  lb_spec s;
  int rc = lb_spec_parse(&s, text, "--sampler", e);
  if (rc) return rc;
  const lb_sampler_type *type = lb_sampler_type_find(s.name);
  if (!type)
    return lb_fail(e, LB_EINPUT,
                   "--sampler: unknown sampler '%s' (see 'langbench list "
                   "samplers')", s.name);
  lb_sampler *sm = lb_xcalloc(1, sizeof *sm);
  sm->type = type;
  snprintf(sm->spec, sizeof sm->spec, "%s", text);
  double gamma = 0.0;
  if (type->dynamics->second_order)
    rc = lb_spec_double(&s, "gamma", 2.0, 1e-300, 1e300, &gamma, e);
  lb_dynamics_setup(&sm->dyn, type->dynamics, t, gamma);
  if (!rc && type->init) rc = type->init(sm, &s, e);
  if (!rc) rc = lb_spec_check_used(&s, "--sampler", e);
  if (rc) {
    lb_sampler_free(sm);
    return rc;
  }
  *out = sm;
  return LB_OK;
}

void lb_sampler_free(lb_sampler *s) {
  if (!s) return;
  if (s->state && s->type->free) s->type->free(s->state);
  free(s);
}
