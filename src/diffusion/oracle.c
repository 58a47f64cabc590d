/* oracle.c -- exact eps*(x, s) for Gaussian-mixture data (oracle.h).
 * GPL-3.0-or-later. */
#include "oracle.h"

#include <gsl/gsl_eigen.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
  size_t d, m;
  double *logw; /* [m] */
  double *mu;   /* [m*d] */
  double *lam;  /* [m*d] eigenvalues of S_k */
  double *U;    /* [m*d*d] eigenvectors (columns), NULL when all diagonal */
  unsigned char *full;
} oracle_state;

static void oracle_free(void *vs) {
  oracle_state *s = vs;
  if (!s) return;
  free(s->logw);
  free(s->mu);
  free(s->lam);
  free(s->U);
  free(s->full);
  free(s);
}

/* Per-noise-level constants of every component: 1 / c_ki (the
 * eigenvalues of C_k^-1) and log w_k - log det C_k / 2 - d log(2 pi) / 2;
 * recomputed only when the level changes between rows. */
typedef struct {
  double ab;
  double *inv; /* [m*d] */
  double *lc;  /* [m] */
} level;

static void level_set(const oracle_state *o, double ab, level *lv) {
  const size_t d = o->d;
  lv->ab = ab;
  for (size_t k = 0; k < o->m; k++) {
    double logdet = 0.0;
    for (size_t i = 0; i < d; i++) {
      double c = ab * o->lam[k * d + i] + (1.0 - ab);
      lv->inv[k * d + i] = 1.0 / c;
      logdet += log(c);
    }
    lv->lc[k] = o->logw[k] - 0.5 * logdet - 0.5 * (double)d * log(2.0 * M_PI);
  }
}

/* Component k: its log weight + log density at x and, in z, C_k^-1 (x -
 * m_k).  y is scratch of d doubles. */
static double comp(const oracle_state *o, const level *lv, size_t k,
                   const double *x, double *y, double *z) {
  const size_t d = o->d;
  const double sa = sqrt(lv->ab);
  const double *mu = o->mu + k * d, *inv = lv->inv + k * d;
  double q = 0.0;
  if (!o->full[k]) {
    for (size_t i = 0; i < d; i++) {
      double r = x[i] - sa * mu[i];
      z[i] = r * inv[i];
      q += r * z[i];
    }
  } else {
    const double *U = o->U + k * d * d;
    for (size_t j = 0; j < d; j++) { /* y = U' (x - m) / c */
      double v = 0.0;
      for (size_t i = 0; i < d; i++) v += U[i * d + j] * (x[i] - sa * mu[i]);
      q += v * v * inv[j];
      y[j] = v * inv[j];
    }
    for (size_t i = 0; i < d; i++) { /* z = U y */
      double v = 0.0;
      for (size_t j = 0; j < d; j++) v += U[i * d + j] * y[j];
      z[i] = v;
    }
  }
  return lv->lc[k] - 0.5 * q;
}

/* eps*(x, s) for one row; work: 2d doubles. */
static void eval_row(const oracle_state *o, const level *lv, const double *x,
                     double *eps, double *work) {
  const size_t d = o->d;
  double *y = work, *z = work + d;
  double mx = -HUGE_VAL, sum = 0.0;
  for (size_t i = 0; i < d; i++) eps[i] = 0.0;
  for (size_t k = 0; k < o->m; k++) {
    double l = comp(o, lv, k, x, y, z), wk;
    if (l > mx) {
      double r = exp(mx - l);
      for (size_t i = 0; i < d; i++) eps[i] *= r;
      sum = sum * r + 1.0;
      mx = l;
      wk = 1.0;
    } else {
      wk = exp(l - mx);
      sum += wk;
    }
    if (wk != 0.0)
      for (size_t i = 0; i < d; i++) eps[i] += wk * z[i];
  }
  double f = sqrt(1.0 - lv->ab) / sum;
  for (size_t i = 0; i < d; i++) eps[i] *= f;
}

static void oracle_eval(const lb_model *m, size_t B, size_t ld,
                        const double *x, const double *s, double *eps,
                        double *work) {
  const oracle_state *o = m->state;
  const size_t d = o->d;
  double *xr = work, *er = work + d, *w = work + 2 * d;
  level lv = {NAN, work + 4 * d, work + 4 * d + o->m * d};
  for (size_t r = 0; r < B; r++) {
    if (r == 0 || s[r] != s[r - 1])
      level_set(o, lb_schedule_abar_at(&m->sched, s[r]), &lv);
    for (size_t i = 0; i < d; i++) xr[i] = x[i * ld + r];
    eval_row(o, &lv, xr, er, w);
    for (size_t i = 0; i < d; i++) eps[i * ld + r] = er[i];
  }
}

static size_t oracle_work(const lb_model *m, size_t B) {
  const oracle_state *o = m->state;
  (void)B;
  return 4 * m->dim + o->m * (m->dim + 1);
}

static const lb_model_type oracle_type = {"oracle", oracle_eval, oracle_work,
                                          oracle_free};

double lb_oracle_logp(const lb_model *m, const double *x, double s) {
  const oracle_state *o = m->state;
  double *y = lb_xcalloc(2 * o->d + o->m * (o->d + 1), sizeof(double));
  level lv = {0, y + 2 * o->d, y + 2 * o->d + o->m * o->d};
  level_set(o, lb_schedule_abar_at(&m->sched, s), &lv);
  double mx = -HUGE_VAL, sum = 0.0;
  for (size_t k = 0; k < o->m; k++) {
    double l = comp(o, &lv, k, x, y, y + o->d);
    if (l > mx) {
      sum = sum * exp(mx - l) + 1.0;
      mx = l;
    } else {
      sum += exp(l - mx);
    }
  }
  free(y);
  return mx + log(sum);
}

int lb_oracle_alloc(const lb_target *t, const lb_schedule *sch,
                    lb_model **out, lb_err *e) {
  const size_t d = t->dim;
  size_t m = 1;
  double *w = NULL, *mu = NULL, *cov = NULL;
  if (strcmp(t->type->name, "gaussian") == 0) {
    w = lb_xcalloc(1, sizeof(double));
    mu = lb_xcalloc(d, sizeof(double));
    cov = lb_xcalloc(d * d, sizeof(double));
    w[0] = 1.0;
    memcpy(mu, t->mean, d * sizeof(double));
    memcpy(cov, t->cov, d * d * sizeof(double));
  } else if (strcmp(t->type->name, "gmm") == 0) {
    int rc = lb_gmm_components(t, &m, &w, &mu, &cov, e);
    if (rc) return rc;
  } else {
    return lb_fail(e, LB_EINPUT,
                   "--model oracle: needs a gmm or gaussian --target, not "
                   "'%s'",
                   t->spec);
  }
  oracle_state *o = lb_xcalloc(1, sizeof *o);
  o->d = d;
  o->m = m;
  o->logw = lb_xcalloc(m, sizeof(double));
  o->mu = mu;
  o->lam = lb_xcalloc(m * d, sizeof(double));
  o->full = lb_xcalloc(m, 1);
  for (size_t k = 0; k < m; k++) {
    o->logw[k] = log(w[k]);
    const double *C = cov + k * d * d;
    for (size_t i = 0; i < d && !o->full[k]; i++)
      for (size_t j = 0; j < d; j++)
        if (i != j && C[i * d + j] != 0.0) o->full[k] = 1;
    if (o->full[k] && !o->U) o->U = lb_xcalloc(m * d * d, sizeof(double));
  }
  gsl_eigen_symmv_workspace *ws = o->U ? gsl_eigen_symmv_alloc(d) : NULL;
  for (size_t k = 0; k < m; k++) {
    const double *C = cov + k * d * d;
    if (!o->full[k]) {
      for (size_t i = 0; i < d; i++) o->lam[k * d + i] = C[i * d + i];
      continue;
    }
    double *A = lb_xcalloc(d * d, sizeof(double));
    memcpy(A, C, d * d * sizeof(double));
    gsl_matrix_view Av = gsl_matrix_view_array(A, d, d);
    gsl_vector_view lv = gsl_vector_view_array(o->lam + k * d, d);
    gsl_matrix_view Uv = gsl_matrix_view_array(o->U + k * d * d, d, d);
    gsl_eigen_symmv(&Av.matrix, &lv.vector, &Uv.matrix, ws);
    free(A);
  }
  if (ws) gsl_eigen_symmv_free(ws);
  free(w);
  free(cov);

  lb_model *md = lb_xcalloc(1, sizeof *md);
  md->type = &oracle_type;
  md->state = o;
  md->dim = d;
  md->sched = *sch;
  snprintf(md->desc, sizeof md->desc, "oracle:%.*s",
           (int)(sizeof md->desc - 8), t->spec);
  *out = md;
  return LB_OK;
}
