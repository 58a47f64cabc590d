/* gauss.c -- KL and W2 between Gaussian laws in closed form.
 *
 * GPL-3.0-or-later.
 *
 *   KL(N(m1,C1) || N(m2,C2)) = 1/2 [ tr(C2^-1 C1) + (m2-m1)' C2^-1 (m2-m1)
 *                                    - d + log det C2 - log det C1 ]
 *   W2^2 = |m1 - m2|^2 + tr C1 + tr C2 - 2 tr (C2^1/2 C1 C2^1/2)^1/2
 * (the Bures metric; C2^1/2 and the inner square root's trace from
 * symmetric eigendecompositions, GSL gsl_eigen_symmv / gsl_eigen_symm,
 * negative rounding eigenvalues clamped to 0).  Cost O(d^3).
 */
#include <gsl/gsl_eigen.h>
#include <gsl/gsl_errno.h>
#include <gsl/gsl_linalg.h>
#include <math.h>
#include <string.h>

#include "metrics.h"

/* Cholesky of a copy of c; returns log det or NAN if not positive
 * definite. */
static double chol_logdet(gsl_matrix *a) {
  gsl_error_handler_t *old = gsl_set_error_handler_off();
  int st = gsl_linalg_cholesky_decomp1(a);
  gsl_set_error_handler(old);
  if (st) return NAN;
  double s = 0;
  for (size_t i = 0; i < a->size1; i++) {
    double v = gsl_matrix_get(a, i, i);
    if (!(v > 0)) return NAN;
    s += 2 * log(v);
  }
  return s;
}

double lb_gauss_kl(const double *m1, const double *c1, const double *m2,
                   const double *c2, size_t d) {
  gsl_matrix_const_view v1 = gsl_matrix_const_view_array(c1, d, d);
  gsl_matrix_const_view v2 = gsl_matrix_const_view_array(c2, d, d);
  gsl_matrix *a1 = gsl_matrix_alloc(d, d), *a2 = gsl_matrix_alloc(d, d);
  gsl_matrix_memcpy(a1, &v1.matrix);
  gsl_matrix_memcpy(a2, &v2.matrix);
  double ld1 = chol_logdet(a1), ld2 = chol_logdet(a2);
  double r;
  if (isnan(ld2)) {
    r = NAN;
  } else if (isnan(ld1)) {
    r = HUGE_VAL;
  } else {
    gsl_vector *col = gsl_vector_alloc(d);
    double tr = 0, quad = 0;
    for (size_t j = 0; j < d; j++) { /* column j of C2^-1 C1 */
      for (size_t i = 0; i < d; i++) gsl_vector_set(col, i, c1[i * d + j]);
      gsl_linalg_cholesky_svx(a2, col);
      tr += gsl_vector_get(col, j);
    }
    for (size_t i = 0; i < d; i++) gsl_vector_set(col, i, m2[i] - m1[i]);
    gsl_linalg_cholesky_svx(a2, col);
    for (size_t i = 0; i < d; i++) quad += (m2[i] - m1[i]) * gsl_vector_get(col, i);
    r = 0.5 * (tr + quad - (double)d + ld2 - ld1);
    if (r < 0) r = 0;
    gsl_vector_free(col);
  }
  gsl_matrix_free(a1);
  gsl_matrix_free(a2);
  return r;
}

double lb_gauss_w2(const double *m1, const double *c1, const double *m2,
                   const double *c2, size_t d) {
  double s = 0, tr = 0;
  for (size_t i = 0; i < d; i++) {
    s += (m1[i] - m2[i]) * (m1[i] - m2[i]);
    tr += c1[i * d + i] + c2[i * d + i];
  }
  /* R = C2^1/2 = V diag(sqrt(l)) V'. */
  gsl_matrix *a = gsl_matrix_alloc(d, d), *vec = gsl_matrix_alloc(d, d);
  gsl_matrix *r = gsl_matrix_calloc(d, d), *t = gsl_matrix_calloc(d, d);
  gsl_vector *ev = gsl_vector_alloc(d);
  memcpy(a->data, c2, d * d * sizeof(double));
  gsl_eigen_symmv_workspace *wv = gsl_eigen_symmv_alloc(d);
  gsl_eigen_symmv(a, ev, vec, wv);
  gsl_eigen_symmv_free(wv);
  for (size_t i = 0; i < d; i++)
    for (size_t j = 0; j < d; j++) {
      double acc = 0;
      for (size_t k = 0; k < d; k++) {
        double l = gsl_vector_get(ev, k);
        acc += gsl_matrix_get(vec, i, k) * sqrt(l > 0 ? l : 0) *
               gsl_matrix_get(vec, j, k);
      }
      gsl_matrix_set(r, i, j, acc);
    }
  /* M = R C1 R. */
  for (size_t i = 0; i < d; i++)
    for (size_t j = 0; j < d; j++) {
      double acc = 0;
      for (size_t k = 0; k < d; k++) acc += gsl_matrix_get(r, i, k) * c1[k * d + j];
      gsl_matrix_set(t, i, j, acc);
    }
  for (size_t i = 0; i < d; i++)
    for (size_t j = 0; j < d; j++) {
      double acc = 0;
      for (size_t k = 0; k < d; k++)
        acc += gsl_matrix_get(t, i, k) * gsl_matrix_get(r, k, j);
      gsl_matrix_set(a, i, j, acc);
    }
  /* symmetrise against rounding */
  for (size_t i = 0; i < d; i++)
    for (size_t j = 0; j < i; j++) {
      double v = 0.5 * (gsl_matrix_get(a, i, j) + gsl_matrix_get(a, j, i));
      gsl_matrix_set(a, i, j, v);
      gsl_matrix_set(a, j, i, v);
    }
  gsl_eigen_symm_workspace *w = gsl_eigen_symm_alloc(d);
  gsl_eigen_symm(a, ev, w);
  gsl_eigen_symm_free(w);
  double root = 0;
  for (size_t k = 0; k < d; k++) {
    double l = gsl_vector_get(ev, k);
    root += sqrt(l > 0 ? l : 0);
  }
  gsl_matrix_free(a);
  gsl_matrix_free(vec);
  gsl_matrix_free(r);
  gsl_matrix_free(t);
  gsl_vector_free(ev);
  double w2 = s + tr - 2 * root;
  return sqrt(w2 > 0 ? w2 : 0);
}
