/* SPDX-License-Identifier: GPL-3.0-or-later
 * A small fork-join thread pool for the element-wise kernels of the CPU backend.
 *
 * The calling thread takes part in the work, so a pool of n threads starts n - 1 workers.
 * Idle workers sleep on a condition variable (no spinning): the machine is shared with
 * OpenBLAS, which runs the GEMMs on its own threads between our parallel sections.
 */
#pragma once

#include <stdint.h>

typedef struct RmThreadPool RmThreadPool;

/* Runs items [begin, end). worker (0 .. n_threads-1) identifies the executing thread, so a
 * kernel may index per-thread scratch with it; a worker may get several ranges. */
typedef void (*RmRangeFn) (void *arg, int64_t begin, int64_t end, int worker);

/* n_threads <= 1 returns NULL, which every function here accepts as "run on the caller". */
RmThreadPool *rm_threadpool_new (int n_threads);
void rm_threadpool_free (RmThreadPool *pool);
/* Threads taking part in a parallel section, the caller included (1 for NULL). */
int rm_threadpool_size (const RmThreadPool *pool);

/* Splits [0, n) into ranges of whole grains (each range starts at a multiple of grain; only the
 * last may end short) and runs fn on them in parallel, returning when all are done. Called from
 * inside a range (nested), it runs serially. */
void rm_parallel_for_grain (RmThreadPool *pool, int64_t n, int64_t grain, RmRangeFn fn, void *arg);
/* rm_parallel_for_grain with grain 1: for items that are each a sizeable piece of work. */
void rm_parallel_for (RmThreadPool *pool, int64_t n, RmRangeFn fn, void *arg);
