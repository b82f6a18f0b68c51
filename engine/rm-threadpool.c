/* SPDX-License-Identifier: GPL-3.0-or-later
 * Fork-join pool: one job at a time, handed out as chunks through an atomic counter.
 */
#include "rm-threadpool.h"

#include "rm-tensor.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>

/* Chunks per thread: a few more than one evens out threads slowed by other processes. */
#define RM_CHUNKS_PER_THREAD 4

typedef struct
{
  RmRangeFn fn;
  void *arg;
  int64_t n, grain, n_grains;
  int64_t n_chunks; /* <= n_grains */
  atomic_int_fast64_t next;
} RmJob;

typedef struct
{
  RmThreadPool *pool;
  int index;
  pthread_t thread;
} RmWorker;

struct RmThreadPool
{
  int n_threads;
  RmWorker *workers; /* n_threads - 1 */
  pthread_mutex_t lock;
  pthread_cond_t work_cv; /* a new job (generation) or stop */
  pthread_cond_t done_cv; /* the last worker finished the job */
  uint64_t generation;
  int active; /* workers still inside the current job */
  bool stop;
  RmJob *job;
};

/* Set while a thread runs a range: nested parallel sections then run serially. */
static _Thread_local bool rm_in_parallel;

static void
rm_job_run (RmJob *job, int worker)
{
  rm_in_parallel = true;
  for (;;)
    {
      int64_t c = atomic_fetch_add (&job->next, 1);
      if (c >= job->n_chunks)
        break;
      /* Whole grains: a range starts at a multiple of the grain, whatever the thread count,
       * so a kernel's vector loop and scalar tail fall on the same items as on one thread. */
      int64_t begin = job->grain * (job->n_grains * c / job->n_chunks);
      int64_t end = job->grain * (job->n_grains * (c + 1) / job->n_chunks);
      job->fn (job->arg, begin, end < job->n ? end : job->n, worker);
    }
  rm_in_parallel = false;
}

static void *
rm_worker_main (void *data)
{
  RmWorker *self = data;
  RmThreadPool *pool = self->pool;
  uint64_t seen = 0;

  pthread_mutex_lock (&pool->lock);
  for (;;)
    {
      while (!pool->stop && pool->generation == seen)
        pthread_cond_wait (&pool->work_cv, &pool->lock);
      if (pool->stop)
        break;
      seen = pool->generation;
      RmJob *job = pool->job;
      pthread_mutex_unlock (&pool->lock);

      rm_job_run (job, self->index);

      pthread_mutex_lock (&pool->lock);
      if (--pool->active == 0)
        pthread_cond_signal (&pool->done_cv);
    }
  pthread_mutex_unlock (&pool->lock);
  return NULL;
}

RmThreadPool *
rm_threadpool_new (int n_threads)
{
  if (n_threads <= 1)
    return NULL;
  RmThreadPool *pool = calloc (1, sizeof *pool);
  RM_CHECK (pool != NULL, "out of memory");
  pool->n_threads = n_threads;
  pool->workers = calloc ((size_t) n_threads - 1, sizeof *pool->workers);
  RM_CHECK (pool->workers != NULL, "out of memory");
  pthread_mutex_init (&pool->lock, NULL);
  pthread_cond_init (&pool->work_cv, NULL);
  pthread_cond_init (&pool->done_cv, NULL);
  for (int i = 0; i < n_threads - 1; i++)
    {
      pool->workers[i].pool = pool;
      pool->workers[i].index = i + 1;
      int rc = pthread_create (&pool->workers[i].thread, NULL, rm_worker_main, &pool->workers[i]);
      RM_CHECK (rc == 0, "pthread_create failed (%d)", rc);
    }
  return pool;
}

void
rm_threadpool_free (RmThreadPool *pool)
{
  if (pool == NULL)
    return;
  pthread_mutex_lock (&pool->lock);
  pool->stop = true;
  pthread_cond_broadcast (&pool->work_cv);
  pthread_mutex_unlock (&pool->lock);
  for (int i = 0; i < pool->n_threads - 1; i++)
    pthread_join (pool->workers[i].thread, NULL);
  pthread_cond_destroy (&pool->done_cv);
  pthread_cond_destroy (&pool->work_cv);
  pthread_mutex_destroy (&pool->lock);
  free (pool->workers);
  free (pool);
}

int
rm_threadpool_size (const RmThreadPool *pool)
{
  return pool != NULL ? pool->n_threads : 1;
}

void
rm_parallel_for_grain (RmThreadPool *pool, int64_t n, int64_t grain, RmRangeFn fn, void *arg)
{
  if (n <= 0)
    return;
  if (grain < 1)
    grain = 1;
  const int64_t n_grains = (n + grain - 1) / grain;
  int64_t n_chunks = n_grains;
  if (pool != NULL && n_chunks > (int64_t) pool->n_threads * RM_CHUNKS_PER_THREAD)
    n_chunks = (int64_t) pool->n_threads * RM_CHUNKS_PER_THREAD;
  if (pool == NULL || n_chunks <= 1 || rm_in_parallel)
    {
      fn (arg, 0, n, 0);
      return;
    }

  RmJob job = {
    .fn = fn, .arg = arg, .n = n, .grain = grain, .n_grains = n_grains, .n_chunks = n_chunks
  };
  atomic_init (&job.next, 0);

  pthread_mutex_lock (&pool->lock);
  pool->job = &job;
  pool->active = pool->n_threads - 1;
  pool->generation++;
  pthread_cond_broadcast (&pool->work_cv);
  pthread_mutex_unlock (&pool->lock);

  rm_job_run (&job, 0);

  /* Every worker acknowledges the job, even one that found no chunk left, so that none
   * still holds a pointer to this stack frame when we return. */
  pthread_mutex_lock (&pool->lock);
  while (pool->active > 0)
    pthread_cond_wait (&pool->done_cv, &pool->lock);
  pool->job = NULL;
  pthread_mutex_unlock (&pool->lock);
}

void
rm_parallel_for (RmThreadPool *pool, int64_t n, RmRangeFn fn, void *arg)
{
  rm_parallel_for_grain (pool, n, 1, fn, arg);
}
