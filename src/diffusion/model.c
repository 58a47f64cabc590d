/* model.c -- model construction from a --model argument.
 * GPL-3.0-or-later. */
#include "model.h"

#include <stdlib.h>
#include <string.h>

#include "mlp.h"
#include "oracle.h"

void lb_model_free(lb_model *m) {
  if (!m) return;
  if (m->type && m->type->free) m->type->free(m->state);
  free(m);
}

int lb_model_open(const char *text, const lb_target *t, const char *schedule,
                  lb_model **out, lb_err *e) {
  if (!text || !*text) return lb_fail(e, LB_EINPUT, "--model: empty");
  if (strcmp(text, "oracle") == 0) {
    if (!t)
      return lb_fail(e, LB_EINPUT, "--model oracle needs --target SPEC");
    lb_schedule *sch = lb_xcalloc(1, sizeof *sch);
    int rc = lb_schedule_init(sch, schedule ? schedule : "paper", 1000, e);
    if (!rc) rc = lb_oracle_alloc(t, sch, out, e);
    free(sch);
    return rc;
  }
  lb_err me = {{0}};
  int rc = lb_mlp_model_load(text, out, &me);
  if (rc) return lb_fail(e, rc, "--model: %s", me.msg);
  if (t && (*out)->dim != t->dim) {
    size_t d = (*out)->dim;
    lb_model_free(*out);
    *out = NULL;
    return lb_fail(e, LB_EINPUT,
                   "--model %s has dimension %zu but the data law %s has %zu",
                   text, d, t->spec, t->dim);
  }
  return LB_OK;
}
