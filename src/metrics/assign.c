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

typedef struct {
  const double *c; /* dense [n x n], or NULL */
  const double *x, *y;
  size_t n, d;
} cost_src;

static inline double cost(const cost_src *s, size_t i, size_t j) {
  if (s->c) return s->c[i * s->n + j];
  const double *a = s->x + i * s->d, *b = s->y + j * s->d;
  double r = 0;
  for (size_t k = 0; k < s->d; k++) {
    double t = a[k] - b[k];
    r += t * t;
  }
  return r;
}

static double lapjv(const cost_src *s, long *rowsol) {
  const size_t n = s->n;
  if (n == 0) return 0;
  long *colsol = lb_xcalloc(n, sizeof(long));
  double *v = lb_xcalloc(n, sizeof(double));
  double *dist = lb_xcalloc(n, sizeof(double));
  size_t *freer = lb_xcalloc(n, sizeof(size_t));
  size_t *collist = lb_xcalloc(n, sizeof(size_t));
  size_t *matches = lb_xcalloc(n, sizeof(size_t));
  size_t *pred = lb_xcalloc(n, sizeof(size_t));
  size_t *imin = lb_xcalloc(n, sizeof(size_t));

  /* Column reduction: v_j = min_i c_ij, scanned row by row. */
  for (size_t j = 0; j < n; j++) v[j] = HUGE_VAL;
  for (size_t i = 0; i < n; i++)
    for (size_t j = 0; j < n; j++) {
      double c = cost(s, i, j);
      if (c < v[j]) {
        v[j] = c;
        imin[j] = i;
      }
    }
  for (size_t i = 0; i < n; i++) rowsol[i] = -1;
  for (size_t jj = n; jj-- > 0;) {
    size_t i = imin[jj];
    if (++matches[i] == 1) {
      rowsol[i] = (long)jj;
      colsol[jj] = (long)i;
    } else if (v[jj] < v[rowsol[i]]) {
      long j1 = rowsol[i];
      rowsol[i] = (long)jj;
      colsol[jj] = (long)i;
      colsol[j1] = -1;
    } else {
      colsol[jj] = -1;
    }
  }

  /* Reduction transfer. */
  size_t numfree = 0;
  for (size_t i = 0; i < n; i++) {
    if (matches[i] == 0) {
      freer[numfree++] = i;
    } else if (matches[i] == 1) {
      size_t j1 = (size_t)rowsol[i];
      double mn = HUGE_VAL;
      for (size_t j = 0; j < n; j++)
        if (j != j1) {
          double h = cost(s, i, j) - v[j];
          if (h < mn) mn = h;
        }
      if (mn < HUGE_VAL) v[j1] -= mn;
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
      double umin = cost(s, i, 0) - v[0], usubmin = HUGE_VAL;
      size_t j1 = 0, j2 = 0;
      for (size_t j = 1; j < n; j++) {
        double h = cost(s, i, j) - v[j];
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
      long i0 = colsol[j1];
      if (umin < usubmin) {
        v[j1] -= usubmin - umin;
      } else if (i0 >= 0) {
        j1 = j2;
        i0 = colsol[j2];
      }
      rowsol[i] = (long)j1;
      colsol[j1] = (long)i;
      if (i0 >= 0) {
        rowsol[i0] = -1;
        if (umin < usubmin)
          freer[--k] = (size_t)i0;
        else
          freer[numfree++] = (size_t)i0;
      }
    }
  }

  /* Augmentation: Dijkstra from each free row. */
  for (size_t f = 0; f < numfree; f++) {
    size_t freerow = freer[f];
    for (size_t j = 0; j < n; j++) {
      dist[j] = cost(s, freerow, j) - v[j];
      pred[j] = freerow;
      collist[j] = j;
    }
    size_t low = 0, up = 0, last = 0, endofpath = 0;
    double mn = 0;
    int found = 0;
    do {
      if (up == low) {
        last = low;
        mn = dist[collist[up++]];
        for (size_t k = up; k < n; k++) {
          size_t j = collist[k];
          double h = dist[j];
          if (h <= mn) {
            if (h < mn) {
              up = low;
              mn = h;
            }
            collist[k] = collist[up];
            collist[up++] = j;
          }
        }
        for (size_t k = low; k < up; k++)
          if (colsol[collist[k]] < 0) {
            endofpath = collist[k];
            found = 1;
            break;
          }
      }
      if (!found) {
        size_t j1 = collist[low++];
        size_t i = (size_t)colsol[j1];
        double h = cost(s, i, j1) - v[j1] - mn;
        for (size_t k = up; k < n; k++) {
          size_t j = collist[k];
          double v2 = cost(s, i, j) - v[j] - h;
          if (v2 < dist[j]) {
            pred[j] = i;
            if (v2 == mn) {
              if (colsol[j] < 0) {
                endofpath = j;
                found = 1;
                break;
              }
              collist[k] = collist[up];
              collist[up++] = j;
            }
            dist[j] = v2;
          }
        }
      }
    } while (!found);
    /* Prices of the columns scanned before the last minimum level. */
    for (size_t k = 0; k < last; k++) {
      size_t j1 = collist[k];
      v[j1] += dist[j1] - mn;
    }
    /* Augment along the alternating path. */
    for (;;) {
      size_t i = pred[endofpath];
      colsol[endofpath] = (long)i;
      long j1 = (long)endofpath;
      long next = rowsol[i];
      rowsol[i] = j1;
      if (i == freerow) break;
      endofpath = (size_t)next;
    }
  }

  double total = 0;
  for (size_t i = 0; i < n; i++) total += cost(s, i, (size_t)rowsol[i]);
  free(colsol);
  free(v);
  free(dist);
  free(freer);
  free(collist);
  free(matches);
  free(pred);
  free(imin);
  return total;
}

double lb_assign_dense(const double *c, size_t n, long *col) {
  cost_src s = {c, NULL, NULL, n, 0};
  return lapjv(&s, col);
}

double lb_assign_sqeuclid(const double *x, const double *y, size_t n,
                          size_t d, long *col) {
  cost_src s = {NULL, x, y, n, d};
  return lapjv(&s, col);
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
    .help = "Exact empirical W2 (squared-Euclidean cost, square root "
            "reported) between the sample and\nan exact target sample of "
            "the same size, by Jonker-Volgenant assignment, O(n^3).\n"
            "SE: batch means.  Parameters: batches=10, max=5000 (larger "
            "samples are subsampled).",
    .max_dim = 0,
    .init = w2_init,
    .compare = w2_compare,
};
