/* udlaw.c -- exact moment recursions for underdamped samplers on diagonal
 * Gaussian targets, and the exact law of the Poisson midpoint method on
 * underdamped Langevin.  GPL-3.0-or-later.
 */
#include "udlaw.h"

#include <gsl/gsl_integration.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "dynamics.h"

/* ---- recursion ---------------------------------------------------------- */

int lb_law2_coefs(lb_gauss_law2_fn law, const lb_sampler *s, double h,
                  const double *prec, size_t d, double *ea, double *eaa,
                  double *en) {
  int det = 1;
  double tmp[16], dum[4], dum2[4];
  for (size_t i = 0; i < d; i++) law(s, h, prec[i], prec[i], ea + 4 * i, tmp, en + 4 * i);
  for (size_t i = 0; i < d; i++)
    for (size_t j = 0; j < d; j++) {
      double *o = eaa + 16 * (i * d + j);
      law(s, h, prec[i], prec[j], dum, o, dum2);
      for (int p = 0; p < 2; p++)
        for (int q = 0; q < 2; q++)
          for (int r = 0; r < 2; r++)
            for (int t = 0; t < 2; t++) {
              double prod = ea[4 * i + 2 * p + q] * ea[4 * j + 2 * r + t];
              double v = o[(2 * p + q) * 4 + 2 * r + t];
              double sc = fabs(prod) > fabs(v) ? fabs(prod) : fabs(v);
              if (fabs(v - prod) > 1e-12 * sc + 1e-300) det = 0;
            }
    }
  return det;
}

void lb_law2_step(size_t d, const double *ea, const double *eaa,
                  const double *en, double *m, double *S) {
  size_t n = 2 * d;
  for (size_t i = 0; i < d; i++) {
    const double *a = ea + 4 * i;
    double u = m[i], v = m[d + i];
    m[i] = a[0] * u + a[1] * v;
    m[d + i] = a[2] * u + a[3] * v;
  }
  for (size_t i = 0; i < d; i++)
    for (size_t j = 0; j < d; j++) {
      const double *k = eaa + 16 * (i * d + j);
      double old[4], nw[4];
      for (int q = 0; q < 2; q++)
        for (int t = 0; t < 2; t++) old[2 * q + t] = S[(q * d + i) * n + t * d + j];
      for (int p = 0; p < 2; p++)
        for (int r = 0; r < 2; r++) {
          double acc = 0.0;
          for (int q = 0; q < 2; q++)
            for (int t = 0; t < 2; t++)
              acc += k[(2 * p + q) * 4 + 2 * r + t] * old[2 * q + t];
          if (i == j) acc += en[4 * i + 2 * p + r];
          nw[2 * p + r] = acc;
        }
      for (int p = 0; p < 2; p++)
        for (int r = 0; r < 2; r++) S[(p * d + i) * n + r * d + j] = nw[2 * p + r];
    }
}

/* ---- small helpers ------------------------------------------------------ */

void lb_gl01(int n, double *x, double *w) {
  gsl_integration_glfixed_table *t = gsl_integration_glfixed_table_alloc((size_t)n);
  for (int i = 0; i < n; i++) gsl_integration_glfixed_point(0.0, 1.0, (size_t)i, x + i, w + i, t);
  gsl_integration_glfixed_table_free(t);
}

void lb_kron2_add(double w, const double P[4], const double Q[4],
                  double eaa[16]) {
  for (int p = 0; p < 2; p++)
    for (int q = 0; q < 2; q++)
      for (int r = 0; r < 2; r++)
        for (int s = 0; s < 2; s++)
          eaa[(2 * p + q) * 4 + 2 * r + s] += w * P[2 * p + q] * Q[2 * r + s];
}

/* ---- the Poisson midpoint method on underdamped Langevin ------------------
 * One coordinate of precision l (centred), b(y) = -l u.  Let t_k be the
 * corrected times in the coarse step alpha (fine indices i_k h, or alpha
 * s_k for K = inf), W_tau the OU noise of the coarse step's Brownian path
 * up to time tau (Cov W_tau = Sigma_tau, Cov(W_t, W_s) = A_{t-s} Sigma_s
 * for s <= t).  The fast form (pmm.c) reads
 *   Yhat_k = A_{t_k} Y + G_{t_k} b0 + W_{t_k},   b0 = -l U,
 *   b(Yhat_k) - b0 = -l (r_k^T Y + (W_{t_k})_U),  r_k = (-l G_U(t_k), K(t_k)),
 *   Y' = A_alpha Y + G_alpha b0 + W_alpha + sum_k w_k (b(Yhat_k) - b0),
 * with w(t) = K A_{alpha - t - h} G_h (finite K) or alpha A_{alpha - t} e_v
 * (K = inf).  So Y' = C Y + n with
 *   C = D + sum_k F(t_k),  D = A_alpha - l G_alpha e_u^T,
 *   F(t) = -l w(t) r(t)^T,
 *   n = W_alpha - l sum_k w_k (W_{t_k})_U,
 *   E[n n^T | times] = Sigma_alpha - l sum_k (x_k w_k^T + w_k x_k^T)
 *                      + l^2 sum_{k,m} w_k w_m^T c(t_k, t_m),
 *   x_k = Cov(W_alpha, (W_{t_k})_U) = A_{alpha - t_k} Sigma_{t_k} e_u,
 *   c(s, t) = Cov((W_s)_U, (W_t)_U) = Sigma_m[0][0] + K(|t-s|) Sigma_m[1][0],
 *   m = min(s, t).
 * Over the times: E sum_k f(t_k) = (1/K) sum_{i=1}^{K-1} f(i h) for both
 * options (index 0 is never corrected) and int_0^1 f(alpha s) ds for K =
 * inf (Poisson process of rate 1); E sum_{k != m} g(t_k, t_m) is (1/K^2)
 * sum_{i != i'} g for option 1 (independent indicators), 0 for option 2
 * (one index), and the double integral for K = inf (Campbell's formula).
 * Hence, for coordinates i, j sharing the times,
 *   E[C_i (x) C_j] = D_i (x) D_j + D_i (x) E sum F_j + E sum F_i (x) D_j
 *                    + E sum_k F_i (x) F_j (t_k) + E sum_{k != m} F_i(t_k) (x) F_j(t_m).
 * Cost O(K^2) for finite K (the noise double sum), a fixed 8x16-point
 * Gauss-Legendre rule per dimension for K = inf. */

typedef struct {
  double gamma, alpha, h;
  long K;
} pud;

static void mat_A(const lb_ud_coef *c, double A[4]) {
  A[0] = 1.0;
  A[1] = c->K;
  A[2] = 0.0;
  A[3] = c->E;
}

/* w(t), r(t) for precision l, and x(t) = A_{alpha-t} Sigma_t e_u. */
static void pud_terms(const pud *p, double t, double l, double w[2],
                      double r[2], double x[2], lb_ud_coef *ct) {
  lb_ud_coef cr, ch;
  lb_ud_coefs(p->gamma, t, ct);
  if (p->K) {
    lb_ud_coefs(p->gamma, p->alpha - t - p->h, &cr);
    lb_ud_coefs(p->gamma, p->h, &ch);
    double gu = (double)p->K * ch.GU, gv = (double)p->K * ch.GV;
    w[0] = gu + cr.K * gv;
    w[1] = cr.E * gv;
  } else {
    lb_ud_coefs(p->gamma, p->alpha - t, &cr);
    w[0] = p->alpha * cr.K;
    w[1] = p->alpha * cr.E;
  }
  r[0] = -l * ct->GU;
  r[1] = ct->K;
  lb_ud_coefs(p->gamma, p->alpha - t, &cr);
  x[0] = ct->vU + cr.K * ct->cUV;
  x[1] = cr.E * ct->cUV;
}

static void outer(double s, const double a[2], const double b[2], double M[4]) {
  M[0] = s * a[0] * b[0];
  M[1] = s * a[0] * b[1];
  M[2] = s * a[1] * b[0];
  M[3] = s * a[1] * b[1];
}

/* c(s, t) for s <= t given the coefficients at s. */
static double ccov(const pud *p, const lb_ud_coef *cs, double gap) {
  lb_ud_coef cg;
  lb_ud_coefs(p->gamma, gap, &cg);
  return cs->vU + cg.K * cs->cUV;
}

void lb_pmm_ud_law(double gamma, long K, int option, double alpha, double li,
                   double lj, double ea[4], double eaa[16], double en[4]) {
  pud p = {gamma, alpha, K ? alpha / (double)K : 0.0, K};
  lb_ud_coef ca;
  lb_ud_coefs(gamma, alpha, &ca);
  double Di[4], Dj[4];
  mat_A(&ca, Di);
  mat_A(&ca, Dj);
  Di[0] -= li * ca.GU;
  Di[2] -= li * ca.GV;
  Dj[0] -= lj * ca.GU;
  Dj[2] -= lj * ca.GV;
  double SFi[4] = {0}, SFj[4] = {0}, diag[16] = {0}; /* E sums */
  double nx[4] = {0}, nd[4] = {0}, no[4] = {0};    /* noise sums */

  /* nodes (in units of alpha) and weights of the single-time expectation */
  int nn;
  double *ts, *wt;
  if (K) {
    nn = (int)(K - 1);
    ts = malloc((size_t)(nn > 0 ? nn : 1) * sizeof *ts);
    wt = malloc((size_t)(nn > 0 ? nn : 1) * sizeof *wt);
    for (int i = 0; i < nn; i++) {
      ts[i] = (double)(i + 1) / (double)K;
      wt[i] = 1.0 / (double)K;
    }
  } else {
    enum { P = 8, G = 16 };
    double gx[G], gw[G];
    lb_gl01(G, gx, gw);
    nn = P * G;
    ts = malloc((size_t)nn * sizeof *ts);
    wt = malloc((size_t)nn * sizeof *wt);
    for (int a = 0; a < P; a++)
      for (int g = 0; g < G; g++) {
        ts[a * G + g] = (a + gx[g]) / P;
        wt[a * G + g] = gw[g] / P;
      }
  }
  double (*W)[2] = malloc((size_t)(nn > 0 ? nn : 1) * sizeof *W);
  lb_ud_coef *C = malloc((size_t)(nn > 0 ? nn : 1) * sizeof *C);
  for (int k = 0; k < nn; k++) {
    double w[2], ri[2], rj[2], x[2], Fi[4], Fj[4], M[4];
    pud_terms(&p, ts[k] * alpha, li, w, ri, x, &C[k]);
    rj[0] = -lj * C[k].GU;
    rj[1] = C[k].K;
    W[k][0] = w[0];
    W[k][1] = w[1];
    outer(-li, w, ri, Fi);
    outer(-lj, w, rj, Fj);
    for (int e = 0; e < 4; e++) {
      SFi[e] += wt[k] * Fi[e];
      SFj[e] += wt[k] * Fj[e];
    }
    lb_kron2_add(wt[k], Fi, Fj, diag);
    outer(1.0, x, w, M);
    for (int e = 0; e < 4; e++) nx[e] += wt[k] * M[e];
    outer(C[k].vU, w, w, M); /* c(t, t) = var_U(t) */
    for (int e = 0; e < 4; e++) nd[e] += wt[k] * M[e];
  }
  /* off-diagonal pairs */
  double offF[16] = {0};
  if (K && option == 1) {
    lb_kron2_add(1.0, SFi, SFj, offF);
    for (int e = 0; e < 16; e++) offF[e] -= diag[e] / (double)K;
    /* sum_{i != i'} w_i w_i'^T c / K^2 = 2 sym sum_{i < i'}; the gaps
     * are multiples of h: tabulate K(j h) */
    double *Kg = malloc((size_t)(nn + 1) * sizeof *Kg);
    for (int j = 0; j <= nn; j++) Kg[j] = -expm1(-gamma * (double)j * p.h) / gamma;
    for (int a = 0; a < nn; a++)
      for (int b = a + 1; b < nn; b++) {
        double c = C[a].vU + Kg[b - a] * C[a].cUV;
        double s = c / ((double)K * (double)K);
        no[0] += 2 * s * W[a][0] * W[b][0];
        no[1] += s * (W[a][0] * W[b][1] + W[b][0] * W[a][1]);
        no[3] += 2 * s * W[a][1] * W[b][1];
      }
    free(Kg);
    no[2] = no[1];
  } else if (!K) {
    lb_kron2_add(1.0, SFi, SFj, offF);
    /* int int over s < t, both orders: inner rule on [0, t] */
    enum { G2 = 16 };
    double gx[G2], gw[G2];
    lb_gl01(G2, gx, gw);
    for (int b = 0; b < nn; b++) {
      double tb = ts[b];
      for (int g = 0; g < G2; g++) {
        double sa = tb * gx[g], wa = tb * gw[g] * wt[b];
        double w[2], r[2], x[2];
        lb_ud_coef cs;
        pud_terms(&p, sa * alpha, li, w, r, x, &cs);
        double c = ccov(&p, &cs, (tb - sa) * alpha);
        no[0] += 2 * wa * c * w[0] * W[b][0];
        no[1] += wa * c * (w[0] * W[b][1] + W[b][0] * w[1]);
        no[3] += 2 * wa * c * w[1] * W[b][1];
      }
    }
    no[2] = no[1];
  }
  for (int e = 0; e < 4; e++) ea[e] = Di[e] + SFi[e];
  memset(eaa, 0, 16 * sizeof *eaa);
  lb_kron2_add(1.0, Di, Dj, eaa);
  lb_kron2_add(1.0, Di, SFj, eaa);
  lb_kron2_add(1.0, SFi, Dj, eaa);
  for (int e = 0; e < 16; e++) eaa[e] += diag[e] + offF[e];
  en[0] = ca.vU;
  en[1] = en[2] = ca.cUV;
  en[3] = ca.vV;
  for (int a = 0; a < 2; a++)
    for (int b = 0; b < 2; b++)
      en[2 * a + b] += -li * (nx[2 * a + b] + nx[2 * b + a]) +
                       li * li * (nd[2 * a + b] + no[2 * a + b]);
  free(ts);
  free(wt);
  free(W);
  free(C);
}
