/* assign.c -- exact linear assignment (Jonker-Volgenant) and the `w2`
 * metric: exact empirical W2 between the sample and an exact target sample
 * of the same size.
 *
 * GPL-3.0-or-later.
 *
 * R. Jonker, A. Volgenant, "A shortest augmenting path algorithm for dense
 * and sparse linear assignment problems", Computing 38 (1987) 325-340.
 * Phases: column reduction; reduction transfer; augmenting row reduction
 * (two passes, each capped at 8n row scans so floating-point ties cannot
 * cycle -- every phase keeps the reduced costs of assigned pairs minimal
 * in their rows, so stopping early is safe); then, for each row still
 * free, a Dijkstra shortest augmenting path on the reduced costs and a
 * dual update.  Costs are read through cost(i, j): either a dense matrix
 * or |x_i - y_j|^2 computed on the fly, so a problem needs O(n) memory
 * beyond the points.  Worst case O(n^3); on random Euclidean instances
 * most rows are settled by the reductions.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "metrics.h"

/* The solver keeps the columns in a permutation ("positions"): the
 * Dijkstra phase moves columns between its ready / current-minimum / todo
 * segments by swapping positions, and every per-column datum (its points,
 * price, distance, predecessor, assigned row) lives at the column's
 * position, so the O(n) relaxation loops read memory sequentially.  The
 * permutation carries over from one augmentation to the next, which is
 * harmless: the order of the todo list is arbitrary. */
typedef struct {
  const double *c; /* dense [n x n] costs (by column id), or NULL */
  const double *x; /* rows' points [n x d] */
  size_t n, d;
  size_t *C;    /* column id at each position */
  double *Y;    /* column points at each position [n x d] */
  double *V;    /* prices */
  double *D;    /* Dijkstra distances */
  size_t *P;    /* predecessor rows */
  long *CS;     /* assigned row, -1 */
  long *rowpos; /* position of each row's column, -1 */
} lap;

static inline double cst(const lap *L, size_t i, size_t k) {
  if (L->c) return L->c[i * L->n + L->C[k]];
  const double *a = L->x + i * L->d, *b = L->Y + k * L->d;
  double r = 0;
  for (size_t l = 0; l < L->d; l++) {
    double t = a[l] - b[l];
    r += t * t;
  }
  return r;
}

static void swap_pos(lap *L, size_t a, size_t b) {
  if (a == b) return;
#define SWAP(T, arr)   \
  do {                 \
    T t_ = L->arr[a];  \
    L->arr[a] = L->arr[b]; \
    L->arr[b] = t_;    \
  } while (0)
  SWAP(size_t, C);
  SWAP(double, V);
  SWAP(double, D);
  SWAP(size_t, P);
  SWAP(long, CS);
#undef SWAP
  if (!L->c)
    for (size_t l = 0; l < L->d; l++) {
      double t = L->Y[a * L->d + l];
      L->Y[a * L->d + l] = L->Y[b * L->d + l];
      L->Y[b * L->d + l] = t;
    }
  if (L->CS[a] >= 0) L->rowpos[L->CS[a]] = (long)a;
  if (L->CS[b] >= 0) L->rowpos[L->CS[b]] = (long)b;
}

/* out[k] = c(i, k) - (V ? V[k] : 0) for every position k. */
static void row(const lap *L, size_t i, const double *V, double *out) {
  const size_t n = L->n;
  if (!L->c && L->d == 2) {
    const double x0 = L->x[2 * i], x1 = L->x[2 * i + 1], *Y = L->Y;
    for (size_t k = 0; k < n; k++) {
      double a = x0 - Y[2 * k], b = x1 - Y[2 * k + 1];
      out[k] = a * a + b * b;
    }
  } else {
    for (size_t k = 0; k < n; k++) out[k] = cst(L, i, k);
  }
  if (V)
    for (size_t k = 0; k < n; k++) out[k] -= V[k];
}

/* Relax the distances of positions [from, n) through row i (offset h);
 * stop at the first position whose distance drops to the current minimum
 * mn and return it (n when none).  The common case d = 2 is unrolled. */
static size_t relax(lap *L, size_t i, double h, double mn, size_t from) {
  const size_t n = L->n;
  double *D = L->D;
  const double *V = L->V;
  size_t *P = L->P;
  if (!L->c && L->d == 2) {
    const double x0 = L->x[2 * i], x1 = L->x[2 * i + 1], *Y = L->Y;
    for (size_t k = from; k < n; k++) {
      double a = x0 - Y[2 * k], b = x1 - Y[2 * k + 1];
      double v2 = a * a + b * b - V[k] - h;
      if (v2 < D[k]) {
        D[k] = v2;
        P[k] = i;
        if (v2 == mn) return k;
      }
    }
    return n;
  }
  for (size_t k = from; k < n; k++) {
    double v2 = cst(L, i, k) - V[k] - h;
    if (v2 < D[k]) {
      D[k] = v2;
      P[k] = i;
      if (v2 == mn) return k;
    }
  }
  return n;
}

static double lapjv(lap *L, long *col) {
  const size_t n = L->n;
  if (n == 0) return 0;
  double *V = L->V, *D = L->D;
  size_t *P = L->P;
  long *CS = L->CS, *rowpos = L->rowpos;
  size_t *freer = lb_xcalloc(n, sizeof(size_t));
  size_t *matches = lb_xcalloc(n, sizeof(size_t));
  size_t *imin = lb_xcalloc(n, sizeof(size_t));

  /* Column reduction: V_k = min_i c_ik (positions = columns here). */
  double *buf = lb_xcalloc(n, sizeof(double));
  for (size_t k = 0; k < n; k++) V[k] = HUGE_VAL;
  for (size_t i = 0; i < n; i++) {
    row(L, i, NULL, buf);
    for (size_t k = 0; k < n; k++)
      if (buf[k] < V[k]) {
        V[k] = buf[k];
        imin[k] = i;
      }
  }
  for (size_t i = 0; i < n; i++) rowpos[i] = -1;
  for (size_t kk = n; kk-- > 0;) {
    size_t i = imin[kk];
    if (++matches[i] == 1) {
      rowpos[i] = (long)kk;
      CS[kk] = (long)i;
    } else if (V[kk] < V[rowpos[i]]) {
      long k1 = rowpos[i];
      rowpos[i] = (long)kk;
      CS[kk] = (long)i;
      CS[k1] = -1;
    } else {
      CS[kk] = -1;
    }
  }

  /* Reduction transfer. */
  size_t numfree = 0;
  for (size_t i = 0; i < n; i++) {
    if (matches[i] == 0) {
      freer[numfree++] = i;
    } else if (matches[i] == 1) {
      size_t k1 = (size_t)rowpos[i];
      double mn = HUGE_VAL;
      row(L, i, V, buf);
      for (size_t k = 0; k < n; k++)
        if (k != k1 && buf[k] < mn) mn = buf[k];
      if (mn < HUGE_VAL) V[k1] -= mn;
    }
  }

  /* Augmenting row reduction, two passes. */
  for (int pass = 0; pass < 2 && numfree > 0; pass++) {
    size_t k = 0, prvnumfree = numfree, scans = 0;
    numfree = 0;
    while (k < prvnumfree) {
      if (++scans > 8 * n + 8) { /* keep the rest for augmentation */
        while (k < prvnumfree) freer[numfree++] = freer[k++];
        break;
      }
      size_t i = freer[k++];
      row(L, i, V, buf);
      double umin = buf[0], usubmin = HUGE_VAL;
      size_t j1 = 0, j2 = 0;
      for (size_t j = 1; j < n; j++) {
        double h = buf[j];
        if (h < usubmin) {
          if (h >= umin) {
            usubmin = h;
            j2 = j;
          } else {
            usubmin = umin;
            umin = h;
            j2 = j1;
            j1 = j;
          }
        }
      }
      long i0 = CS[j1];
      if (umin < usubmin) {
        V[j1] -= usubmin - umin;
      } else if (i0 >= 0) {
        j1 = j2;
        i0 = CS[j2];
      }
      rowpos[i] = (long)j1;
      CS[j1] = (long)i;
      if (i0 >= 0) {
        rowpos[i0] = -1;
        if (umin < usubmin)
          freer[--k] = (size_t)i0;
        else
          freer[numfree++] = (size_t)i0;
      }
    }
  }

  /* Augmentation: Dijkstra from each free row.  Positions [0, low) are
   * ready, [low, up) hold the current minimum, [up, n) are to do. */
  for (size_t f = 0; f < numfree; f++) {
    size_t freerow = freer[f];
    row(L, freerow, V, D);
    for (size_t k = 0; k < n; k++) P[k] = freerow;
    size_t low = 0, up = 0, last = 0, end = 0;
    double mn = 0;
    int found = 0;
    do {
      if (up == low) {
        last = low;
        mn = D[up++];
        for (size_t k = up; k < n; k++) {
          double h = D[k];
          if (h <= mn) {
            if (h < mn) {
              up = low;
              mn = h;
            }
            swap_pos(L, k, up++);
          }
        }
        for (size_t k = low; k < up; k++)
          if (CS[k] < 0) {
            end = k;
            found = 1;
            break;
          }
      }
      if (!found) {
        size_t k1 = low++;
        size_t i = (size_t)CS[k1];
        double h = cst(L, i, k1) - V[k1] - mn;
        for (size_t k = up; (k = relax(L, i, h, mn, k)) < n; k++) {
          if (CS[k] < 0) {
            end = k;
            found = 1;
            break;
          }
          swap_pos(L, k, up++);
        }
      }
    } while (!found);
    /* Prices of the columns made ready before the last minimum level. */
    for (size_t k = 0; k < last; k++) V[k] += D[k] - mn;
    /* Augment along the alternating path. */
    for (size_t k = end;;) {
      size_t i = P[k];
      CS[k] = (long)i;
      long prev = rowpos[i];
      rowpos[i] = (long)k;
      if (i == freerow) break;
      k = (size_t)prev;
    }
  }

  double total = 0;
  for (size_t i = 0; i < n; i++) {
    size_t k = (size_t)rowpos[i];
    total += cst(L, i, k);
    col[i] = (long)L->C[k];
  }
  free(freer);
  free(matches);
  free(imin);
  free(buf);
  return total;
}

static double solve(const double *c, const double *x, const double *y,
                    size_t n, size_t d, long *col) {
  lap L = {c, x, n, d, NULL, NULL, NULL, NULL, NULL, NULL, NULL};
  L.C = lb_xcalloc(n, sizeof(size_t));
  L.V = lb_xcalloc(n, sizeof(double));
  L.D = lb_xcalloc(n, sizeof(double));
  L.P = lb_xcalloc(n, sizeof(size_t));
  L.CS = lb_xcalloc(n, sizeof(long));
  L.rowpos = lb_xcalloc(n, sizeof(long));
  if (!c) {
    L.Y = lb_xcalloc(n * d, sizeof(double));
    memcpy(L.Y, y, n * d * sizeof(double));
  }
  for (size_t k = 0; k < n; k++) L.C[k] = k;
  double total = lapjv(&L, col);
  free(L.C);
  free(L.Y);
  free(L.V);
  free(L.D);
  free(L.P);
  free(L.CS);
  free(L.rowpos);
  return total;
}

double lb_assign_dense(const double *c, size_t n, long *col) {
  return solve(c, NULL, NULL, n, 0, col);
}

double lb_assign_sqeuclid(const double *x, const double *y, size_t n,
                          size_t d, long *col) {
  return solve(NULL, x, y, n, d, col);
}

double lb_w2_empirical(const double *x, const double *y, size_t n, size_t d) {
  if (n == 0) return NAN;
  long *col = lb_xcalloc(n, sizeof(long));
  double c = lb_assign_sqeuclid(x, y, n, d, col);
  free(col);
  return sqrt(c / (double)n);
}

/* ---- the metric ---------------------------------------------------- */

static int w2_init(lb_metric *m, lb_spec *spec, lb_err *e) {
  (void)spec;
  (void)e;
  m->se_method = LB_SE_BATCH;
  m->reps = 10;
  m->max_n = 5000;
  return LB_OK;
}

static double w2_compare(const lb_metric *m, const double *x, const double *y,
                         size_t n, size_t nbatch, gsl_rng *r) {
  (void)nbatch;
  (void)r;
  return lb_w2_empirical(x, y, n, m->dim);
}

const lb_metric_type lb_metric_w2 = {
    .name = "w2",
    .help = "exact empirical W2 between the sample and an exact target "
            "sample of the same\n"
            "size (Jonker-Volgenant assignment, O(n^3), squared-Euclidean "
            "cost, root reported).\n"
            "SE: batch means\n"
            "batches=10 batches of the batch-means SE\n"
            "max=5000   subsample larger samples to this size (a note on "
            "stderr)",
    .max_dim = 0,
    .init = w2_init,
    .compare = w2_compare,
};
