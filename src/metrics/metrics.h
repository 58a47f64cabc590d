/* metrics.h -- distribution-distance metrics with error bars and noise
 * floors, and the exact laws of linear samplers on Gaussian targets.
 *
 * GPL-3.0-or-later.
 *
 * A metric family is an lb_metric_type (a table of functions, like the
 * targets) defined in one file under src/metrics/ and listed once in the
 * registry in src/metrics/registry.c.  An lb_metric is one configured
 * instance bound to a target.  lb_metric_eval() turns a sample [n x d]
 * into three numbers:
 *
 *   estimate  the metric between the sample and the target;
 *   se        its standard error;
 *   floor     the same estimator applied to two independent exact target
 *             samples of the same size n: the value a perfect sampler
 *             would get (the estimator's own bias and noise), so a reader
 *             sees at once whether a difference is real.
 *
 * There are two kinds of families, and the kind fixes the SE method:
 *
 *  - reference-free (prepare/value): the sample is compared with exact
 *    quantities of the target (moments, marginal quantile functions,
 *    density, mode weights).  SE: seeded bootstrap over chains, `boot`
 *    replicates (resampling counts w_i, sum n; value() takes the counts so
 *    sorting/binning is done once).  Floor: the estimator on one exact
 *    sample of size n.
 *  - two-sample (compare): the sample is compared with an exact target
 *    sample Y1 of the same size.  SE: batch means -- the estimator on
 *    `batches` disjoint slices (chains b*n/B .. (b+1)*n/B - 1 of the
 *    sample paired with the same slice of Y1), SE = sd(batch values) /
 *    sqrt(B).  This is the subsampling estimate for sqrt(n)-consistent
 *    statistics, it includes the reference sample's noise and costs less
 *    than one full evaluation for the super-linear estimators.  Floor:
 *    compare(Y2, Y1) with an independent exact sample Y2.
 *
 * The families, their SE method and their documented bias (what the floor
 * measures, and what it does not):
 *
 *   mean_err  bootstrap  |mean - mu|; noise adds in quadrature:
 *                        E est^2 = truth^2 + tr(Cov)/n, floor ~ sqrt(tr S/n)
 *   cov_err   bootstrap  |Cov - Sigma|_F; noise adds in quadrature
 *   w2_marg   bootstrap  exact W2 to the marginal quantile function; to
 *                        first order est^2 = truth^2 + floor^2
 *   modes     bootstrap  TV of mode weights; multinomial noise, ~ floor
 *   kl (grid) bootstrap  KL of the KDE-smoothed laws: <= KL, relative bias
 *                        O(h^2) (Gaussians: N(m, S+h^2) vs N(mu, Sigma+h^2)),
 *                        plus KDE noise ~ floor
 *   tv        bootstrap  TV of the smoothed laws (<= TV) plus noise ~ floor
 *   w2        batch      empirical OT plug-in bias, ~ floor (n^-1/d rates)
 *   sw2       batch      est^2 = truth^2 + floor^2 to first order
 *   sinkhorn  batch      S_eps of the empirical laws: |S_eps - W2^2| <=
 *                        eps log n (entropic bias) plus sampling noise
 *   mmd       batch      unbiased (floor ~ 0 +- noise)
 *   weak      direct     |mean f - E f| for a test function f with an exact
 *                        E f (weak.c); SE sd(f)/sqrt(n); floor sqrt(2/pi)
 *                        SE, the mean |error| of an exact sample
 *   kl (knn)  batch      asymptotically unbiased; the finite-n bias depends
 *                        on the laws and is NOT shown by the floor (which is
 *                        ~0 under the null): e.g. -22% for N(0.3, 1.44 I) vs
 *                        N(0, I) in d = 4 at n = 4000, -10% at n = 256000
 *
 * Randomness: every draw comes from an lb_rng Philox stream keyed by
 * (--seed, stream), the stream being a hash of the metric's label and of
 * the sample set (final samples or trajectory record), at or above 2^63 so
 * it never meets a chain's stream.  Substreams LB_MSUB_* separate the
 * reference samples, bootstrap, projections and subsampling.  Hence a
 * metric's numbers do not depend on which other metrics are requested.
 */
#ifndef LB_METRICS_H
#define LB_METRICS_H

#include <gsl/gsl_rng.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "lb.h"
#include "sampler.h"
#include "target.h"

typedef struct {
  double estimate;
  double se;    /* standard error of estimate */
  double floor; /* the estimator on exact samples of the same size */
  size_t n;     /* sample points used (after exclusions and subsampling) */
} lb_metric_result;

enum { LB_SE_BOOTSTRAP = 1, LB_SE_BATCH = 2, LB_SE_DIRECT = 3 };

/* Substreams of a metric's stream. */
enum {
  LB_MSUB_REF = 1,     /* Y1: reference sample of the estimate */
  LB_MSUB_FLOOR = 2,   /* Y2: the second exact sample of the floor */
  LB_MSUB_BOOT = 3,    /* bootstrap resampling counts */
  LB_MSUB_PROJ = 4,    /* projections etc. of the full estimate and floor */
  LB_MSUB_SUB = 5,     /* subsampling above max */
  LB_MSUB_BATCH = 256  /* + b: projections of batch b */
};
/* + b: the resampling counts of bootstrap replicate b (each replicate has
 * its own substream, so replicates run in parallel and the numbers do not
 * depend on the thread count). */
#define LB_MSUB_BOOTREP (1ULL << 32)
/* Chains per block of the bootstrap count generator (a power of two). */
#define LB_BOOT_BLOCK 4096 /* = 2^12, see lb_boot_counts */

#define LB_METRIC_NPAR 8

typedef struct lb_metric lb_metric;

typedef struct {
  const char *name;
  const char *help; /* parameters and defaults, for `list metrics` */
  size_t max_dim;   /* 0: any dimension; else the largest it supports */

  /* Read parameters (mark keys used), set m->se_method and the defaults
   * of m->reps and m->max_n.  LB_EINPUT when it cannot apply to m->target. */
  int (*init)(lb_metric *m, lb_spec *spec, lb_err *e);

  /* Reference-free families.  prepare() returns a workspace built from the
   * sample x [n x d]; value() evaluates the estimator with resampling
   * counts w (NULL: every chain once); release() frees the workspace. */
  void *(*prepare)(const lb_metric *m, const double *x, size_t n);
  double (*value)(const lb_metric *m, void *ws, const unsigned *w);
  void (*release)(void *ws);

  /* Two-sample families.  reference() (optional) is called once with the
   * full reference sample before any compare(), to fix data-dependent
   * settings such as a kernel bandwidth.  compare() returns the estimator
   * between x and y, both [n x d]; nbatch is 1 for the estimate and the
   * floor and B for a batch (a family that averages over random
   * directions uses 1/nbatch of them); r draws its random directions. */
  void (*reference)(lb_metric *m, const double *y, size_t n);
  double (*compare)(const lb_metric *m, const double *x, const double *y,
                    size_t n, size_t nbatch, gsl_rng *r);
  /* Optional: compare(x, y) and compare(x2, y) at once, with r in the
   * same state for both (the estimate and the floor share the reference
   * y and the random directions, so a family can reuse work on y). */
  void (*compare_pair)(const lb_metric *m, const double *x, const double *x2,
                       const double *y, size_t n, gsl_rng *r, double *v,
                       double *v2);

  /* Direct families (weak.c): estimate, SE and floor from the sample in
   * one pass, no reference sample or resampling (se_method
   * LB_SE_DIRECT). */
  void (*direct)(const lb_metric *m, const double *x, size_t n,
                 lb_metric_result *out);
} lb_metric_type;

struct lb_metric {
  const lb_metric_type *type;
  const lb_target *target;
  size_t dim;
  char label[LB_SPEC_MAXLEN]; /* the spec with ';' between parameters */
  int se_method;              /* LB_SE_BOOTSTRAP or LB_SE_BATCH */
  long reps;                  /* bootstrap replicates or batches */
  size_t max_n;               /* subsample above this many points; 0: never */
  double par[LB_METRIC_NPAR]; /* family parameters (named in its file) */
  long ipar[LB_METRIC_NPAR];
  FILE *msg;      /* one-line notes (subsampling, duplicates); NULL: silent */
  unsigned noted; /* notes already printed (each is printed once) */
  /* A family's cache of sample-independent constants (w2_marg: the
   * quantile-interval constants of the last sample size), kept between
   * evaluations; freed by lb_metric_free with cache_free. */
  void *cache;
  void (*cache_free)(void *cache);
};

/* init() of the reference-free families without parameters of their own:
 * bootstrap SE with 200 replicates, no subsampling (moments.c). */
int lb_metric_init_bootstrap(lb_metric *m, lb_spec *spec, lb_err *e);

/* Registry. */
extern const lb_metric_type *const lb_metric_types[];
const lb_metric_type *lb_metric_type_find(const char *name);

/* One metric from `name[:key=value[,key=value]...]` (';' is accepted in
 * place of ',' between parameters).  LB_EINPUT for an unknown metric or
 * key, a bad value, or a metric that cannot apply to t (e.g. tv in d > 2). */
int lb_metric_alloc(const char *spec, const lb_target *t, lb_metric **out,
                    lb_err *e);
void lb_metric_free(lb_metric *m);

/* A list as given to --metrics: metrics separated by ','; a token of the
 * form key=value belongs to the metric before it, so
 *   "w2,sw2:proj=200,batches=20,sinkhorn:eps=0.05"
 * is w2; sw2 with proj=200 and batches=20; sinkhorn with eps=0.05.
 * Appends to *ms (realloc'd), updating *count. */
int lb_metric_list_parse(const char *list, const lb_target *t,
                         lb_metric ***ms, size_t *count, lb_err *e);

/* The default list for a target: every metric that applies to its
 * dimension except the expensive ones (w2, sinkhorn). */
extern const char *const lb_metric_default_list;

/* Evaluate m on x [n x d] (rows finite).  `set` numbers the sample set
 * (0: final samples, k + 1: trajectory record k) and enters the stream.
 * n < 2 gives NaN numbers.  Returns LB_OK (runtime failures abort). */
int lb_metric_eval(lb_metric *m, const double *x, size_t n, uint64_t seed,
                   uint64_t set, lb_metric_result *out, lb_err *e);

/* Bootstrap resampling counts w[n] ~ Multinomial(n; 1/n, ..., 1/n) drawn
 * from r (registry.c); pb and nb are scratch of ceil(n / LB_BOOT_BLOCK). */
void lb_boot_counts(gsl_rng *r, size_t n, unsigned *w, double *pb,
                    unsigned *nb);

/* Weak metrics (weak.c): whether m is one, its test function at x [d],
 * the exact target expectation, and the result from per-point values
 * v[n] (f at the points, or per-chain time averages of f): estimate
 * |mean v - E f|, se sd(v)/sqrt(n), floor sqrt(2/pi) se. */
int lb_metric_is_weak(const lb_metric *m);
double lb_weak_f(const lb_metric *m, const double *x);
double lb_weak_exact(const lb_metric *m);
void lb_weak_result(const lb_metric *m, const double *v, size_t n,
                    lb_metric_result *out);
/* Mean and standard error sd/sqrt(n) of v[n] (NaN se for n < 2). */
void lb_mean_se(const double *v, size_t n, double *mean, double *se);

/* Print a note once per (metric, key bit) on m->msg. */
void lb_metric_note(lb_metric *m, unsigned key, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* ------------------------------------------------------------------ */
/* Building blocks, public for the tests and the benchmarks.           */

/* Sort doubles ascending (NaN-free input): for n >= 512 an LSD radix
 * sort of order-preserving 64-bit keys on their high 32 bits, then the
 * runs sharing those bits sorted on the rest; qsort below. */
void lb_sort_doubles(double *x, size_t n);

/* Exact linear assignment (Jonker & Volgenant 1987, "A shortest augmenting
 * path algorithm for dense and sparse linear assignment problems":
 * column reduction, reduction transfer, two passes of augmenting row
 * reduction, then Dijkstra augmentation), cost c(i,j) = |x_i - y_j|^2
 * computed on the fly row by row: O(n^2 d) memory-free row scans, O(n^3)
 * worst case, far less on Euclidean instances.  Writes the column of each
 * row into col[n] and returns the optimal total cost. */
double lb_assign_sqeuclid(const double *x, const double *y, size_t n,
                          size_t d, long *col);
/* Generic dense version on a cost matrix c [n x n] (row-major). */
double lb_assign_dense(const double *c, size_t n, long *col);
/* Empirical W2 between equal-size samples: sqrt(min mean cost). */
double lb_w2_empirical(const double *x, const double *y, size_t n, size_t d);

/* Debiased Sinkhorn divergence (Feydy et al. 2019)
 *   S_eps = OT_eps(a,b) - OT_eps(a,a)/2 - OT_eps(b,b)/2
 * between uniform empirical measures, squared-Euclidean cost, entropic
 * regulariser eps KL(pi | a x b), log-domain iterations with eps-scaling
 * (from the squared diameter down by `scaling` per step), then Sinkhorn
 * iterations at eps until the potentials move less than tol*eps or maxit.
 * |S_eps - W2^2| <= eps log n for n-point measures. */
double lb_sinkhorn_div(const double *x, size_t n, const double *y, size_t m,
                       size_t d, double eps, double scaling, double tol,
                       long maxit);

/* Unbiased MMD^2 with k(x,y) = exp(-|x-y|^2 / (2 sigma^2)). */
double lb_mmd2_unbiased(const double *x, size_t n, const double *y, size_t m,
                        size_t d, double sigma);
/* Median of the pairwise distances among the first min(n, 1000) rows. */
double lb_median_distance(const double *y, size_t n, size_t d);

/* Wang-Kulkarni-Verdu (2009) k-NN estimate of KL(P||Q) from x ~ P [n x d]
 * and y ~ Q [m x d]:  (d/n) sum_i log(nu_k(i)/rho_k(i)) + log(m/(n-1)),
 * rho_k(i) the distance from x_i to its k-th nearest neighbour among the
 * other x, nu_k(i) to its k-th nearest among y, both by kd-tree.  Points
 * at distance zero (duplicates) are skipped when counting neighbours;
 * *dups (may be NULL) receives the number of x with such a duplicate.
 * +inf when some x has fewer than k neighbours at positive distance.
 * Queries are shared among OpenMP threads; the result does not depend on
 * their number. */
double lb_knn_kl(const double *x, size_t n, const double *y, size_t m,
                 size_t d, int k, size_t *dups);

/* kd-tree, exposed for the tests. */
typedef struct lb_kdtree lb_kdtree;
lb_kdtree *lb_kdtree_build(const double *pts, size_t n, size_t d);
void lb_kdtree_free(lb_kdtree *t);
/* The k smallest positive distances from q (ascending, in dist[k]); the
 * number of points at distance 0 into *zeros.  Returns how many were
 * found (< k when the tree has fewer points at positive distance). */
int lb_kdtree_knn(const lb_kdtree *t, const double *q, int k, double *dist,
                  size_t *zeros);

/* Exact 1-D W2^2 between the empirical law of x [n] (sorted ascending)
 * and the law with CDF `cdf` (coordinate i of target t): see w2_marg.c. */
double lb_w2_marginal(const lb_target *t, size_t i, const double *sorted,
                      size_t n);

/* Gaussian closed forms.  N(m1, C1) vs N(m2, C2), covariances d x d
 * row-major.  KL: +inf when C1 is singular; C2 must be positive definite.
 * W2: Bures formula via the eigendecomposition of C2^1/2 C1 C2^1/2. */
double lb_gauss_kl(const double *m1, const double *c1, const double *m2,
                   const double *c2, size_t d);
double lb_gauss_w2(const double *m1, const double *c1, const double *m2,
                   const double *c2, size_t d);

/* ------------------------------------------------------------------ */
/* Exact laws of linear samplers on a Gaussian target (langbench exact). */

/* The one-step coefficients of `law` (sampler.h) on the centred diagonal
 * Gaussian target with precisions prec[d] at step h: ea[i] = E[a_i],
 * eaa[i*d+j] = E[a_i a_j], en2[i] = E[n_i^2].  Returns 1 when the
 * coefficients are deterministic (E[a_i a_j] = E[a_i] E[a_j] to rounding),
 * i.e. when the iterate law is exactly Gaussian from a Gaussian or point
 * start.  s may be NULL for a law that does not read it. */
int lb_exact_coefs(lb_gauss_law_fn law, const lb_sampler *s, double h,
                   const double *prec, size_t d, double *ea, double *eaa,
                   double *en2);
/* One step of the exact moment recursion, in place: m' = E[a] m (centred
 * mean), S'_ij = E[a_i a_j] S_ij + [i=j] E[n_i^2] (second moments). */
void lb_exact_step(size_t d, const double *ea, const double *eaa,
                   const double *en2, double *m, double *S);

#endif
