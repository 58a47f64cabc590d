/* chain.c -- the DDPM reverse chain as a dynamics of the engine (chain.h).
 * GPL-3.0-or-later. */
#include "chain.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "reverse.h"
#include "vmath.h"

/* ---- the model as the drift ---------------------------------------- */

/* g = -eps(x, N - t) for a block, so that the drift -g is the model's
 * noise prediction at the chain's step s = N - t. */
static void chain_grad_block(const void *state, size_t B, size_t ld,
                             const double *x, const double *t, double *g) {
  const lb_chain *ch = state;
  const lb_model *m = ch->model;
  size_t nw = m->type->work_size(m, B) + B;
  double stack[4096];
  double *w = nw <= 4096 ? stack : lb_xcalloc(nw, sizeof(double));
  double *sv = w;
  for (size_t r = 0; r < B; r++) sv[r] = (double)ch->N - t[r];
  m->type->eval(m, B, ld, x, sv, g, w + B);
  for (size_t i = 0; i < m->dim; i++)
    for (size_t r = 0; r < B; r++) g[i * ld + r] = -g[i * ld + r];
  if (w != stack) free(w);
}

static const lb_target_type chain_drift_type = {
    .name = "ddpm-chain-drift",
    .help = "the noise-prediction model as the drift of the DDPM chain",
    .grad_block = chain_grad_block};

/* ---- coefficients -------------------------------------------------- */

void lb_chain_table(const lb_schedule *sch, int variant, double eta,
                    double *tab) {
  tab[0] = tab[1] = tab[2] = 0.0;
  for (long s = 1; s <= sch->N; s++)
    lb_ddpm_coefs(sch, variant, eta, s, s - 1, &tab[3 * s], &tab[3 * s + 1],
                  &tab[3 * s + 2]);
}

/* k[r] = coefficient `which` (0: a, 1: c, 2: sigma) of row r's step over
 * [t[r], t[r] + tau[r]], i.e. from s = N - t to p = s - tau; computed once
 * for each run of rows with the same (t, tau). */
static void coefs(const lb_dynamics *dy, size_t B, const double *tau,
                  const double *t, int which, double *k) {
  const lb_chain *ch = dy->target->state;
  if (!t) {
    fprintf(stderr, "langbench: internal error: the DDPM chain needs a time\n");
    abort();
  }
  for (size_t r = 0; r < B; r++) {
    if (r > 0 && tau[r] == tau[r - 1] && t[r] == t[r - 1]) {
      k[r] = k[r - 1];
      continue;
    }
    long s = lround((double)ch->N - t[r]), p = s - lround(tau[r]);
    if (!(s <= ch->N && p >= 0 && p < s)) {
      fprintf(stderr,
              "langbench: internal error: DDPM step from %ld to %ld (N %ld)\n",
              s, p, ch->N);
      abort();
    }
    if (p == s - 1 && ch->tab) {
      k[r] = ch->tab[3 * s + which];
    } else {
      double v[3];
      lb_ddpm_coefs(&ch->model->sched, ch->variant, ch->eta, s, p, &v[0],
                    &v[1], &v[2]);
      k[r] = v[which];
    }
  }
}

/* ---- operators of (S): A = a, G = c, Gamma = sigma ------------------ */

LB_VECTOR_CLONES
static void scale_rows(size_t n, size_t B, size_t ld, const double *k,
                       double *y) {
  for (size_t i = 0; i < n; i++) {
    double *yi = y + i * ld;
    for (size_t r = 0; r < B; r++) yi[r] *= k[r];
  }
}

LB_VECTOR_CLONES
static void axpy_rows(size_t n, size_t B, size_t ld, const double *k,
                      const double *x, double *y) {
  for (size_t i = 0; i < n; i++) {
    const double *xi = x + i * ld;
    double *yi = y + i * ld;
    for (size_t r = 0; r < B; r++) yi[r] += k[r] * xi[r];
  }
}

static void ch_apply_A(const lb_dynamics *dy, size_t B, size_t ld,
                       const double *tau, const double *t, double *y) {
  double k[LB_BLOCK_MAX];
  coefs(dy, B, tau, t, 0, k);
  scale_rows(dy->n, B, ld, k, y);
}

static void ch_add_G(const lb_dynamics *dy, size_t B, size_t ld,
                     const double *tau, const double *t, double c,
                     const double *b, double *y) {
  double k[LB_BLOCK_MAX];
  coefs(dy, B, tau, t, 1, k);
  for (size_t r = 0; r < B; r++) k[r] *= c;
  axpy_rows(dy->d, B, ld, k, b, y);
}

static void ch_add_noise(const lb_dynamics *dy, size_t B, size_t ld,
                         const double *tau, const double *t, const double *z,
                         double *y) {
  double k[LB_BLOCK_MAX];
  coefs(dy, B, tau, t, 2, k);
  axpy_rows(dy->n, B, ld, k, z, y);
}

/* No G'(0): the K = infinity limit needs the scaling relations. */
const lb_dynamics_type lb_dynamics_ddpm = {
    "ddpm", 0, 0, ch_apply_A, ch_add_G, NULL, ch_add_noise};

/* ---- samplers on the chain ----------------------------------------- */

static const lb_sampler_type chain_ancestral = {
    .name = "ancestral",
    .help = "one ancestral step of the DDPM chain (Euler-Maruyama of (S))",
    .dynamics = &lb_dynamics_ddpm,
    .work_size = lb_em_work,
    .step = lb_em_step};

static const lb_sampler_type chain_pmm = {
    .name = "pmm",
    .help = "the Poisson midpoint method on the DDPM chain (fine form)",
    .dynamics = &lb_dynamics_ddpm,
    .init = lb_pmm_init,
    .free = free,
    .work_size = lb_pmm_work,
    .step = lb_pmm_step};

void lb_chain_init(lb_chain *ch, const lb_model *m, int variant, double eta,
                   const double *tab) {
  memset(ch, 0, sizeof *ch);
  ch->model = m;
  ch->variant = variant;
  ch->eta = eta;
  ch->N = m->sched.N;
  ch->tab = tab;
  ch->drift.type = &chain_drift_type;
  ch->drift.state = ch;
  ch->drift.dim = m->dim;
  snprintf(ch->drift.spec, sizeof ch->drift.spec, "%s", m->desc);
}

int lb_chain_sampler(const lb_chain *ch, const char *text, lb_sampler **out,
                     lb_err *e) {
  lb_spec sp;
  int rc = lb_spec_parse(&sp, text, "--sampler", e);
  if (rc) return rc;
  const lb_sampler_type *T = strcmp(sp.name, "pmm") == 0 ? &chain_pmm
                             : strcmp(sp.name, "ancestral") == 0
                                 ? &chain_ancestral
                                 : NULL;
  if (!T)
    return lb_fail(e, LB_EINPUT, "--sampler: %s does not run on the DDPM chain",
                   sp.name);
  lb_sampler *sm = lb_xcalloc(1, sizeof *sm);
  sm->type = T;
  snprintf(sm->spec, sizeof sm->spec, "%s", text);
  lb_dynamics_setup(&sm->dyn, T->dynamics, &ch->drift, 0.0);
  if (T->init) rc = T->init(sm, &sp, e);
  if (!rc) rc = lb_spec_check_used(&sp, "--sampler", e);
  if (rc) {
    lb_sampler_free(sm);
    return rc;
  }
  *out = sm;
  return LB_OK;
}
