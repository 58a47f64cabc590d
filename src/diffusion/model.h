/* model.h -- a noise-prediction model eps(x, s) of the DDPM chain: a
 * trained MLP (src/mlp/) or the exact oracle of a mixture's noised law.
 *
 * GPL-3.0-or-later.
 *
 * A model is evaluated on a block of B rows at once, each row at its own
 * step s (a double: integer steps on the 1000-step chain, any real value
 * in [0, N] for solvers that need one), in the engine's block layout:
 * coordinate-major, x[i * ld + r] is coordinate i of row r (ld >= B), so
 * loops over rows vectorise and dgemm sees well-shaped blocks.  eval must
 * be safe to call from several threads at once, each with its own work
 * buffer of work_size(m, B) doubles.
 */
#ifndef LB_MODEL_H
#define LB_MODEL_H

#include <stddef.h>

#include "lb.h"
#include "schedule.h"
#include "target.h"

typedef struct lb_model lb_model;

typedef struct {
  const char *name; /* "mlp", "oracle" */
  /* eps[i*ld + r] = eps(x[., r], s[r]) for r < B. */
  void (*eval)(const lb_model *m, size_t B, size_t ld, const double *x,
               const double *s, double *eps, double *work);
  size_t (*work_size)(const lb_model *m, size_t B);
  void (*free)(void *state);
} lb_model_type;

struct lb_model {
  const lb_model_type *type;
  void *state;
  size_t dim;
  lb_schedule sched;
  char desc[LB_SPEC_MAXLEN]; /* file path, or "oracle:<target spec>" */
};

void lb_model_free(lb_model *m);

/* MODEL is `oracle` (needs the data law t: gmm or gaussian) or a trained
 * model file.  `schedule` names the oracle's schedule (NULL: paper; a
 * model file carries its own).  When t is given, a model of another
 * dimension is an error.  LB_EINPUT with a one-line message. */
int lb_model_open(const char *text, const lb_target *t,
                  const char *schedule, lb_model **out, lb_err *e);

#endif
