/* knn.c -- kd-tree k-nearest-neighbour search and the Wang-Kulkarni-Verdu
 * (2009) divergence estimator.
 *
 * GPL-3.0-or-later.
 *
 * Q. Wang, S. R. Kulkarni, S. Verdu, "Divergence estimation for
 * multidimensional densities via k-nearest-neighbor distances", IEEE
 * Trans. Inf. Theory 55(5), 2009:
 *   D(P||Q) ~ (d/n) sum_i log(nu_k(i) / rho_k(i)) + log(m / (n - 1)).
 *
 * The tree: points copied contiguously in tree order, leaves of at most 32
 * points, splits at the median of the coordinate of widest spread.  A
 * query descends to the nearer child first and visits the farther one only
 * if the incremental distance to its cell (Arya & Mount 1993: the squared
 * distance to the cell is updated one coordinate at a time) is below the
 * current k-th best.  Build O(n log n), query about O(log n) in low
 * dimension, growing quickly with d (d = 10, n = 10^5: a few thousand
 * distances per query).  The estimator queries in tree order.  Zero distances are counted, not kept, so a
 * point's duplicates (and itself) never become its neighbours.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "metrics.h"

enum { LEAF = 32 };

typedef struct {
  size_t lo, hi;  /* points [lo, hi) */
  long left;      /* child indices, -1 for a leaf */
  long right;
  size_t dim;
  double split;
} kd_node;

struct lb_kdtree {
  size_t n, d;
  double *pts; /* [n x d] in tree order */
  kd_node *node;
  size_t nnode, cap;
};

/* Quickselect on the index array by coordinate `dim` (Hoare partition
 * around the median of three moved to the front, which keeps both parts
 * non-empty). */
static void select_kth(const double *p, size_t d, size_t *idx, size_t lo,
                       size_t hi, size_t k, size_t dim) {
#define VAL(i) p[idx[i] * d + dim]
  while (hi - lo > 1) {
    size_t mid = lo + (hi - lo) / 2, last = hi - 1, med;
    double a = VAL(lo), b = VAL(mid), c = VAL(last);
    if (a < b)
      med = b < c ? mid : (a < c ? last : lo);
    else
      med = a < c ? lo : (b < c ? last : mid);
    size_t tmp = idx[lo];
    idx[lo] = idx[med];
    idx[med] = tmp;
    double pivot = VAL(lo);
    long i = (long)lo - 1, j = (long)hi;
    for (;;) {
      do i++;
      while (VAL((size_t)i) < pivot);
      do j--;
      while (VAL((size_t)j) > pivot);
      if (i >= j) break;
      tmp = idx[i];
      idx[i] = idx[j];
      idx[j] = tmp;
    }
    /* [lo, j] <= pivot <= [j+1, hi), lo <= j < hi - 1 */
    if (k <= (size_t)j)
      hi = (size_t)j + 1;
    else
      lo = (size_t)j + 1;
  }
#undef VAL
}

static long build(lb_kdtree *t, const double *p, size_t *idx, size_t lo,
                  size_t hi) {
  if (t->nnode == t->cap) {
    t->cap = t->cap ? 2 * t->cap : 64;
    kd_node *grown = realloc(t->node, t->cap * sizeof *grown);
    if (!grown) abort();
    t->node = grown;
  }
  long me = (long)t->nnode++;
  kd_node *nd = &t->node[me];
  nd->lo = lo;
  nd->hi = hi;
  nd->left = nd->right = -1;
  if (hi - lo <= LEAF) return me;
  const size_t d = t->d;
  size_t best = 0;
  double spread = -1;
  for (size_t k = 0; k < d; k++) {
    double mn = HUGE_VAL, mx = -HUGE_VAL;
    for (size_t i = lo; i < hi; i++) {
      double v = p[idx[i] * d + k];
      if (v < mn) mn = v;
      if (v > mx) mx = v;
    }
    if (mx - mn > spread) {
      spread = mx - mn;
      best = k;
    }
  }
  if (spread <= 0) return me; /* all points equal: one leaf */
  size_t mid = lo + (hi - lo) / 2;
  select_kth(p, d, idx, lo, hi, mid, best);
  double split = p[idx[mid] * d + best];
  t->node[me].dim = best;
  t->node[me].split = split;
  long l = build(t, p, idx, lo, mid);
  long r = build(t, p, idx, mid, hi);
  t->node[me].left = l;
  t->node[me].right = r;
  return me;
}

lb_kdtree *lb_kdtree_build(const double *pts, size_t n, size_t d) {
  lb_kdtree *t = lb_xcalloc(1, sizeof *t);
  t->n = n;
  t->d = d;
  size_t *idx = lb_xcalloc(n, sizeof *idx);
  for (size_t i = 0; i < n; i++) idx[i] = i;
  if (n > 0) build(t, pts, idx, 0, n);
  t->pts = lb_xcalloc(n * d, sizeof(double));
  for (size_t i = 0; i < n; i++)
    memcpy(t->pts + i * d, pts + idx[i] * d, d * sizeof(double));
  free(idx);
  return t;
}

void lb_kdtree_free(lb_kdtree *t) {
  if (!t) return;
  free(t->pts);
  free(t->node);
  free(t);
}

typedef struct {
  const double *q;
  int k, found;
  double *best; /* ascending squared distances, [k] */
  size_t zeros;
  double *off;  /* [d] per-coordinate offsets to the current cell */
} query;

static void visit_leaf(const lb_kdtree *t, const kd_node *nd, query *s) {
  const size_t d = t->d;
  double worst = s->found < s->k ? HUGE_VAL : s->best[s->k - 1];
  for (size_t i = nd->lo; i < nd->hi; i++) {
    const double *p = t->pts + i * d;
    double r = 0;
    for (size_t k = 0; k < d; k++) { /* no early exit: vectorises */
      double v = p[k] - s->q[k];
      r += v * v;
    }
    if (r == 0) {
      s->zeros++;
      continue;
    }
    if (r >= worst) continue;
    int pos = s->found < s->k ? s->found++ : s->k - 1;
    while (pos > 0 && s->best[pos - 1] > r) {
      s->best[pos] = s->best[pos - 1];
      pos--;
    }
    s->best[pos] = r;
    worst = s->found < s->k ? HUGE_VAL : s->best[s->k - 1];
  }
}

static void search(const lb_kdtree *t, long ni, double rd, query *s) {
  const kd_node *nd = &t->node[ni];
  if (nd->left < 0) {
    visit_leaf(t, nd, s);
    return;
  }
  double diff = s->q[nd->dim] - nd->split;
  long near = diff < 0 ? nd->left : nd->right;
  long far = diff < 0 ? nd->right : nd->left;
  search(t, near, rd, s);
  double old = s->off[nd->dim];
  double rd2 = rd - old * old + diff * diff;
  double worst = s->found < s->k ? HUGE_VAL : s->best[s->k - 1];
  /* <= so that points lying on the splitting plane at distance 0 are
   * still seen and counted as zeros. */
  if (rd2 <= worst) {
    s->off[nd->dim] = diff;
    search(t, far, rd2, s);
    s->off[nd->dim] = old;
  }
}

static int knn_sq(const lb_kdtree *t, const double *q, int k, double *best,
                  size_t *zeros, double *off) {
  query s = {q, k, 0, best, 0, off};
  memset(off, 0, t->d * sizeof(double));
  if (t->n > 0) search(t, 0, 0.0, &s);
  if (zeros) *zeros = s.zeros;
  return s.found;
}

int lb_kdtree_knn(const lb_kdtree *t, const double *q, int k, double *dist,
                  size_t *zeros) {
  double *off = lb_xcalloc(t->d, sizeof(double));
  int found = knn_sq(t, q, k, dist, zeros, off);
  for (int i = 0; i < found; i++) dist[i] = sqrt(dist[i]);
  free(off);
  return found;
}

double lb_knn_kl(const double *x, size_t n, const double *y, size_t m,
                 size_t d, int k, size_t *dups) {
  if (n < 2 || m < 1 || k < 1) return NAN;
  lb_kdtree *tx = lb_kdtree_build(x, n, d), *ty = lb_kdtree_build(y, m, d);
  double *term = lb_xcalloc(n, sizeof(double));
  size_t ndup = 0;
  int infinite = 0;
  /* Queries in the x tree's order (consecutive queries are neighbours, so
   * the nodes they visit stay in cache), shared among the OpenMP threads;
   * each point's term is stored and summed afterwards in a fixed order,
   * so the result does not depend on the number of threads. */
#pragma omp parallel reduction(+ : ndup) reduction(| : infinite)
  {
    double *best = lb_xcalloc((size_t)k, sizeof(double));
    double *off = lb_xcalloc(d, sizeof(double));
#pragma omp for schedule(dynamic, 256)
    for (size_t i = 0; i < n; i++) {
      size_t z;
      const double *q = tx->pts + i * d;
      if (knn_sq(tx, q, k, best, &z, off) < k) {
        infinite = 1;
        continue;
      }
      if (z > 1) ndup++;
      double rho2 = best[k - 1];
      if (knn_sq(ty, q, k, best, &z, off) < k) { /* y has < k distinct */
        infinite = 1;
        continue;
      }
      term[i] = 0.5 * log(best[k - 1] / rho2);
    }
    free(best);
    free(off);
  }
  double sum = 0;
  for (size_t i = 0; i < n; i++) sum += term[i];
  free(term);
  lb_kdtree_free(tx);
  lb_kdtree_free(ty);
  if (dups) *dups = ndup;
  if (infinite) return HUGE_VAL;
  return (double)d * sum / (double)n + log((double)m / (double)(n - 1));
}
