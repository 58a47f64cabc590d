/* mpisched.c -- one sweep over the ranks of an MPI job.  GPL-3.0-or-later.
 *
 * Rank 0 keeps the queue of cells still to compute, sorted by estimated
 * cost (largest first, so the last cells to finish are short ones and
 * the tail is short), and hands them out one at a time on request
 * (dynamic self-scheduling).  Every rank computes: on rank 0 a second
 * thread does the computing while the main thread only answers requests
 * (MPI_THREAD_FUNNELED: only the main thread calls MPI).  A worker claims
 * its cell and writes it exactly as a serial run would (cellstore.h), so
 * ranks, shards and serial runs can share one cells directory; rank 0
 * assembles OUT at the end (runner.c), in grid order.
 *
 * Messages (all tiny): worker -> 0, tag REQ: int[3] {cell, outcome, rc}
 * (cell -1 on the first request; outcome LB_W_*), then on LB_W_ERR the
 * message (tag ERR).  0 -> worker, tag CELL: the next cell, -1 stop, or -2
 * "nothing free now, ask again in half a second" (cells claimed by other
 * processes).  0 -> worker, tag DONE: the final status.  Waiting is done by
 * polling (MPI_Test/MPI_Iprobe + a 1-2 ms sleep), never in a blocking call:
 * Open MPI busy-waits there, and an idle rank must not take a core from
 * the ranks still computing.
 *
 * Scheduling cost on rank 0 per cell: one receive, one send and a
 * progress line, some tens of microseconds (README, "Scale-out").
 *
 * Built without MPI (no Open MPI found by the Makefile) only the stubs at
 * the end exist and `langbench run` is always single-process.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "experiment.h"
#include "runner.h"

#ifdef LB_HAVE_MPI
#include <mpi.h>
#include <pthread.h>

enum { TAG_REQ = 1, TAG_ERR = 2, TAG_CELL = 3, TAG_DONE = 4 };
enum { CELL_STOP = -1, CELL_WAIT = -2 };

int lb_mpi_launched(void) {
  const char *f = getenv("LANGBENCH_MPI");
  if (f && *f) return strcmp(f, "0") != 0;
  return getenv("OMPI_COMM_WORLD_SIZE") || getenv("PMIX_RANK") ||
         getenv("PMI_RANK");
}

static int mpi_started;

int lb_mpi_start(int *argc, char ***argv, int *rank) {
  int prov = 0;
  *rank = 0;
  if (MPI_Init_thread(argc, argv, MPI_THREAD_FUNNELED, &prov) != MPI_SUCCESS)
    return -1;
  mpi_started = 1;
  MPI_Comm_rank(MPI_COMM_WORLD, rank);
  if (prov < MPI_THREAD_FUNNELED) {
    if (*rank == 0)
      fprintf(stderr, "langbench run: the MPI library does not provide "
                      "MPI_THREAD_FUNNELED\n");
    MPI_Finalize();
    mpi_started = 0;
    return -1;
  }
  return 0;
}

void lb_mpi_stop(void) {
  if (mpi_started) MPI_Finalize();
  mpi_started = 0;
}

static void nap(double seconds) {
  struct timespec ts = {(time_t)seconds,
                        (long)((seconds - (double)(time_t)seconds) * 1e9)};
  nanosleep(&ts, NULL);
}

/* Complete a request by polling (see the header comment). */
static void wait_polling(MPI_Request *rq) {
  int flag = 0;
  for (;;) {
    MPI_Test(rq, &flag, MPI_STATUS_IGNORE);
    if (flag) return;
    nap(0.002);
  }
}

/* ---- rank 0: the queue ------------------------------------------------------ */

typedef struct {
  pthread_mutex_t mu;
  lb_runctx *r;
  size_t *queue, nq, next; /* by decreasing cost */
  size_t *deferred, nd;    /* claimed by other processes: retried later */
  double deferred_at;
  int warned;
  int failed, rc;
  char msg[LB_ERRLEN + 32];
} sched;

/* Next cell for a worker (under s->mu). */
static int sched_next(sched *s) {
  if (s->failed) return CELL_STOP;
  if (s->next < s->nq) return (int)s->queue[s->next++];
  if (s->nd) {
    if (lb_run_clock() - s->deferred_at < 0.5) return CELL_WAIT;
    return (int)s->deferred[--s->nd];
  }
  return CELL_STOP;
}

/* A worker's outcome for cell i (under s->mu). */
static void sched_report(sched *s, int i, int outcome, int rc, int rank,
                         const char *msg) {
  if (outcome == LB_W_DONE || outcome == LB_W_OTHER) {
    lb_run_progress(s->r, (size_t)i, outcome == LB_W_DONE);
  } else if (outcome == LB_W_BUSY) {
    s->deferred[s->nd++] = (size_t)i;
    s->deferred_at = lb_run_clock();
    if (!s->warned++)
      fprintf(stderr, "waiting for cells claimed by other processes\n");
  } else if (!s->failed) {
    s->failed = 1;
    s->rc = rc ? rc : LB_ERUNTIME;
    snprintf(s->msg, sizeof s->msg, "rank %d: %s", rank, msg);
  }
}

static void *local_worker(void *arg) {
  sched *s = arg;
  for (;;) {
    pthread_mutex_lock(&s->mu);
    int i = sched_next(s);
    pthread_mutex_unlock(&s->mu);
    if (i == CELL_STOP) break;
    if (i == CELL_WAIT) {
      nap(0.5);
      continue;
    }
    lb_err e = {{0}};
    int w = lb_run_work_one(s->r, (size_t)i, &e);
    pthread_mutex_lock(&s->mu);
    sched_report(s, i, w, s->r->rc, 0, e.msg);
    pthread_mutex_unlock(&s->mu);
  }
  return NULL;
}

/* Answer requests until every other rank has been told to stop. */
static void serve(sched *s, int size) {
  int stopped = 0;
  while (stopped < size - 1) {
    int flag = 0;
    MPI_Status st;
    MPI_Iprobe(MPI_ANY_SOURCE, TAG_REQ, MPI_COMM_WORLD, &flag, &st);
    if (!flag) {
      nap(0.001);
      continue;
    }
    int src = st.MPI_SOURCE, m[3];
    char em[LB_ERRLEN] = "";
    MPI_Recv(m, 3, MPI_INT, src, TAG_REQ, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
    if (m[1] == LB_W_ERR)
      MPI_Recv(em, LB_ERRLEN, MPI_CHAR, src, TAG_ERR, MPI_COMM_WORLD,
               MPI_STATUS_IGNORE);
    em[LB_ERRLEN - 1] = '\0';
    pthread_mutex_lock(&s->mu);
    if (m[0] >= 0) sched_report(s, m[0], m[1], m[2], src, em);
    int next = sched_next(s);
    pthread_mutex_unlock(&s->mu);
    MPI_Send(&next, 1, MPI_INT, src, TAG_CELL, MPI_COMM_WORLD);
    if (next == CELL_STOP) stopped++;
  }
}

static int master(const lb_experiment *x, const char *out, const lb_run_opts *o,
                  int size, lb_err *e) {
  lb_runctx r;
  int rc = lb_run_prepare(&r, x, out, o, 1, e);
  sched s;
  memset(&s, 0, sizeof s);
  pthread_mutex_init(&s.mu, NULL);
  s.r = &r;
  size_t n = x->ncells ? x->ncells : 1;
  s.queue = lb_xcalloc(n, sizeof *s.queue);
  s.deferred = lb_xcalloc(n, sizeof *s.deferred);
  if (rc) {
    s.failed = 1; /* every request is answered "stop" */
    s.rc = rc;
    snprintf(s.msg, sizeof s.msg, "%s", e->msg);
  } else {
    size_t *order = lb_experiment_by_cost(x);
    s.nq = lb_run_scan(&r, order, x->ncells, s.queue);
    free(order);
    if (r.done)
      fprintf(stderr, "resuming: %zu of %zu cells already complete\n", r.done,
              x->ncells);
    fprintf(stderr, "mpi: %d ranks x %d threads, %zu cells to compute\n", size,
            o->threads, s.nq);
    lb_store_heartbeat_start(&r.st);
  }
  pthread_t th;
  int local = !rc && pthread_create(&th, NULL, local_worker, &s) == 0;
  if (!rc && !local) { /* compute nothing here; the others still can */
    fprintf(stderr, "mpi: rank 0 computes no cells (no thread)\n");
  }
  serve(&s, size);
  if (local) pthread_join(th, NULL);
  /* with rank 0's thread gone, deferred cells have no taker: finish them */
  if (!s.failed && s.nd) {
    lb_err le = {{0}};
    for (size_t k = 0; k < s.nd && !s.failed; k++) {
      int w;
      while ((w = lb_run_work_one(&r, s.deferred[k], &le)) == LB_W_BUSY) nap(0.5);
      sched_report(&s, (int)s.deferred[k], w, r.rc, 0, le.msg);
    }
  }
  if (s.failed) {
    rc = s.rc;
    lb_fail(e, rc, "%s", s.msg);
  } else {
    rc = lb_run_finish(&r, out, e);
  }
  lb_store_heartbeat_stop();
  free(s.queue);
  free(s.deferred);
  pthread_mutex_destroy(&s.mu);
  return rc;
}

/* ---- ranks 1.. ------------------------------------------------------------------ */

static void worker(const lb_experiment *x, const char *out, const lb_run_opts *o) {
  lb_runctx r;
  memset(&r, 0, sizeof r);
  r.x = x;
  r.threads = o->threads;
  lb_store_init(&r.st, out);
  lb_store_heartbeat_start(&r.st);
  lb_err e = {{0}};
  int m[3] = {-1, 0, 0};
  for (;;) {
    MPI_Send(m, 3, MPI_INT, 0, TAG_REQ, MPI_COMM_WORLD);
    if (m[1] == LB_W_ERR)
      MPI_Send(e.msg, LB_ERRLEN, MPI_CHAR, 0, TAG_ERR, MPI_COMM_WORLD);
    int next;
    MPI_Request rq;
    MPI_Irecv(&next, 1, MPI_INT, 0, TAG_CELL, MPI_COMM_WORLD, &rq);
    wait_polling(&rq);
    if (next == CELL_STOP) break;
    m[0] = -1;
    m[1] = 0;
    if (next == CELL_WAIT) {
      nap(0.5);
      continue;
    }
    int w = lb_run_work_one(&r, (size_t)next, &e);
    m[0] = next;
    m[1] = w;
    m[2] = r.rc;
  }
  lb_store_heartbeat_stop();
}

/* 64-bit FNV-1a over every cell hash: all ranks must see the same grid. */
static unsigned long long grid_print(const lb_experiment *x) {
  unsigned long long h = 14695981039346656037ULL;
  for (size_t i = 0; i < x->ncells; i++)
    for (const char *p = x->cells[i].hash; *p; p++) {
      h ^= (unsigned char)*p;
      h *= 1099511628211ULL;
    }
  return h;
}

int lb_mpi_run(const lb_experiment *x, const char *out, const lb_run_opts *o,
               lb_err *e) {
  int rank, size;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  MPI_Comm_size(MPI_COMM_WORLD, &size);
  unsigned long long fp = grid_print(x), lo, hi;
  MPI_Allreduce(&fp, &lo, 1, MPI_UNSIGNED_LONG_LONG, MPI_MIN, MPI_COMM_WORLD);
  MPI_Allreduce(&fp, &hi, 1, MPI_UNSIGNED_LONG_LONG, MPI_MAX, MPI_COMM_WORLD);
  if (lo != hi)
    return lb_fail(e, LB_EINPUT, "the ranks read different experiments from '%s'",
                   x->path);
  int rc;
  if (rank == 0) {
    rc = master(x, out, o, size, e);
    for (int k = 1; k < size; k++)
      MPI_Send(&rc, 1, MPI_INT, k, TAG_DONE, MPI_COMM_WORLD);
  } else {
    worker(x, out, o);
    MPI_Request rq;
    MPI_Irecv(&rc, 1, MPI_INT, 0, TAG_DONE, MPI_COMM_WORLD, &rq);
    wait_polling(&rq);
    if (rc) lb_fail(e, rc, "see rank 0");
  }
  return rc;
}

#else /* no MPI in this build */

int lb_mpi_launched(void) { return 0; }
int lb_mpi_start(int *argc, char ***argv, int *rank) {
  (void)argc;
  (void)argv;
  *rank = 0;
  return -1;
}
void lb_mpi_stop(void) {}
int lb_mpi_run(const lb_experiment *x, const char *out, const lb_run_opts *o,
               lb_err *e) {
  (void)x;
  (void)out;
  (void)o;
  return lb_fail(e, LB_ERUNTIME, "this langbench was built without MPI");
}

#endif
