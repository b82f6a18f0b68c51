/* SPDX-License-Identifier: GPL-3.0-or-later
 * Arenas, the compute context, tensor allocation and shape helpers.
 */
#include "rm-tensor.h"

#include "rm-backend.h"
#include "rm-tape.h"
#include "rm-threadpool.h"

#include <cblas.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#define RM_ALIGN               64
#define RM_DEFAULT_CHUNK_BYTES ((size_t) 64 << 20)

/* ---- arena ------------------------------------------------------------------------------ */

typedef struct RmChunk
{
  struct RmChunk *next;
  size_t size; /* usable bytes after the header */
  size_t used;
  char *data; /* the usable bytes: right after the header, or the allocator's block */
  void *map;  /* the mapping holding the chunk, and its length (NULL with an allocator) */
  size_t map_len;
} RmChunk;

/* Chunks are mapped on 2 MiB boundaries and marked for transparent huge pages: a fresh
 * 150 MB activation then faults in 75 pages instead of 37,000. */
#define RM_HUGE_PAGE ((size_t) 2 << 20)

/* The header is padded to the alignment so that chunk data starts aligned. */
#define RM_CHUNK_HEADER (((sizeof (RmChunk) + RM_ALIGN - 1) / RM_ALIGN) * RM_ALIGN)

struct RmArena
{
  size_t chunk_bytes;
  RmChunk *first; /* regular chunks, kept across resets */
  RmChunk *cur;
  RmChunk *big; /* blocks larger than a chunk, one chunk each, freed on reset */
  size_t in_use;
  size_t peak;
  RmArenaAllocator allocator; /* alloc NULL: mmap */
  size_t failed_bytes;        /* the chunk that could not be had last (rm_arena_take_...) */
  jmp_buf *jump;              /* where such a failure unwinds to, and from which thread */
  pthread_t jump_thread;
};

/* A chunk of `size` usable bytes, or NULL (recorded in failed_bytes) when its memory cannot be
 * had. */
static RmChunk *
rm_chunk_new (RmArena *arena, size_t size)
{
  RM_CHECK (size <= SIZE_MAX / 2, "arena block too large (%zu bytes)", size);
  if (arena->allocator.alloc != NULL)
    {
      /* The header stays on the host: the block may be device memory. */
      RmChunk *c = calloc (1, sizeof *c);
      RM_CHECK (c != NULL, "out of memory");
      c->data = arena->allocator.alloc (size, arena->allocator.user);
      if (c->data == NULL)
        {
          free (c);
          arena->failed_bytes = size;
          return NULL;
        }
      c->size = size;
      return c;
    }
  const size_t len = RM_CHUNK_HEADER + size;
  const bool huge = len >= RM_HUGE_PAGE;
  const size_t map_len = huge ? len + RM_HUGE_PAGE : len;
  void *map = mmap (NULL, map_len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (map == MAP_FAILED)
    {
      arena->failed_bytes = size;
      return NULL;
    }
  uintptr_t start = (uintptr_t) map;
  if (huge)
    {
      start = (start + RM_HUGE_PAGE - 1) & ~(uintptr_t) (RM_HUGE_PAGE - 1);
#ifdef MADV_HUGEPAGE
      madvise ((void *) start, len, MADV_HUGEPAGE); /* a hint: failure is harmless */
#endif
    }
  RmChunk *c = (RmChunk *) start;
  c->next = NULL;
  c->size = size;
  c->used = 0;
  c->data = (char *) c + RM_CHUNK_HEADER;
  c->map = map;
  c->map_len = map_len;
  return c;
}

static void
rm_chunk_list_free (const RmArena *arena, RmChunk *c)
{
  while (c != NULL)
    {
      RmChunk *next = c->next;
      if (arena->allocator.alloc != NULL)
        {
          arena->allocator.free (c->data, c->size, arena->allocator.user);
          free (c);
        }
      else
        munmap (c->map, c->map_len);
      c = next;
    }
}

RmArena *
rm_arena_new (size_t chunk_bytes)
{
  RmArena *arena = calloc (1, sizeof *arena);
  RM_CHECK (arena != NULL, "out of memory");
  if (chunk_bytes == 0)
    chunk_bytes = RM_DEFAULT_CHUNK_BYTES;
  arena->chunk_bytes = (chunk_bytes + RM_ALIGN - 1) / RM_ALIGN * RM_ALIGN;
  return arena;
}

RmArena *
rm_arena_new_with_allocator (size_t chunk_bytes, const RmArenaAllocator *allocator)
{
  RmArena *arena = rm_arena_new (chunk_bytes);
  if (allocator != NULL)
    {
      RM_CHECK (allocator->alloc != NULL && allocator->free != NULL,
                "arena allocator needs both alloc and free");
      arena->allocator = *allocator;
    }
  return arena;
}

void
rm_arena_free (RmArena *arena)
{
  if (arena == NULL)
    return;
  rm_chunk_list_free (arena, arena->first);
  rm_chunk_list_free (arena, arena->big);
  free (arena);
}

void *
rm_arena_try_alloc (RmArena *arena, size_t bytes)
{
  RM_CHECK (bytes <= SIZE_MAX - RM_ALIGN, "arena allocation too large (%zu bytes)", bytes);
  /* Zero-byte requests still get a distinct aligned block. */
  size_t size = bytes == 0 ? RM_ALIGN : (bytes + RM_ALIGN - 1) / RM_ALIGN * RM_ALIGN;
  RmChunk *c;

  if (size > arena->chunk_bytes)
    {
      c = rm_chunk_new (arena, size);
      if (c == NULL)
        return NULL;
      c->next = arena->big;
      arena->big = c;
    }
  else
    {
      /* Reuse chunks kept from before a reset before allocating new ones. */
      c = arena->cur;
      while (c != NULL && c->size - c->used < size)
        c = c->next;
      if (c == NULL)
        {
          c = rm_chunk_new (arena, arena->chunk_bytes);
          if (c == NULL)
            return NULL;
          if (arena->cur == NULL)
            arena->first = c;
          else
            {
              RmChunk *last = arena->cur;
              while (last->next != NULL)
                last = last->next;
              last->next = c;
            }
        }
      arena->cur = c;
    }

  void *p = c->data + c->used;
  c->used += size;
  arena->in_use += size;
  if (arena->in_use > arena->peak)
    arena->peak = arena->in_use;
  return p;
}

void *
rm_arena_alloc (RmArena *arena, size_t bytes)
{
  void *p = rm_arena_try_alloc (arena, bytes);
  if (p == NULL && arena->jump != NULL)
    {
      /* longjmp into another thread's stack would be undefined: the jump point is only valid
       * on the thread that set it. */
      RM_CHECK (pthread_equal (pthread_self (), arena->jump_thread),
                "arena out of memory on a thread other than its jump point's");
      longjmp (*arena->jump, 1);
    }
  RM_CHECK (p != NULL, "out of memory: no arena chunk of %zu bytes", arena->failed_bytes);
  return p;
}

size_t
rm_arena_take_failed_bytes (RmArena *arena)
{
  const size_t bytes = arena->failed_bytes;
  arena->failed_bytes = 0;
  return bytes;
}

void
rm_arena_set_jump (RmArena *arena, jmp_buf *jump)
{
  arena->jump = jump;
  arena->jump_thread = pthread_self ();
}

void
rm_arena_reset (RmArena *arena)
{
  for (RmChunk *c = arena->first; c != NULL; c = c->next)
    c->used = 0;
  rm_chunk_list_free (arena, arena->big);
  arena->big = NULL;
  arena->cur = arena->first;
  arena->in_use = 0;
}

void
rm_arena_trim (RmArena *arena)
{
  rm_arena_reset (arena);
  rm_chunk_list_free (arena, arena->first);
  arena->first = arena->cur = NULL;
}

RmArenaMark
rm_arena_mark (const RmArena *arena)
{
  return (RmArenaMark){ .cur = arena->cur,
                        .cur_used = arena->cur ? arena->cur->used : 0,
                        .big = arena->big,
                        .in_use = arena->in_use };
}

void
rm_arena_release (RmArena *arena, RmArenaMark mark)
{
  /* Big blocks are a stack: free those pushed since the mark. */
  while (arena->big != NULL && arena->big != mark.big)
    {
      RmChunk *next = arena->big->next;
      arena->big->next = NULL;
      rm_chunk_list_free (arena, arena->big);
      arena->big = next;
    }
  RmChunk *from = mark.cur != NULL ? mark.cur : arena->first;
  if (from != NULL)
    {
      from->used = mark.cur != NULL ? mark.cur_used : 0;
      for (RmChunk *c = from->next; c != NULL; c = c->next)
        c->used = 0;
    }
  arena->cur = from;
  arena->in_use = mark.in_use;
}

size_t
rm_arena_bytes_in_use (const RmArena *arena)
{
  return arena->in_use;
}

size_t
rm_arena_peak_bytes (const RmArena *arena)
{
  return arena->peak;
}

/* ---- context ---------------------------------------------------------------------------- */

RmCtx *
rm_ctx_new (int n_threads)
{
  if (n_threads <= 0)
    {
      long n = sysconf (_SC_NPROCESSORS_ONLN);
      n_threads = n > 0 ? (int) n : 1;
    }
  RmCtx *ctx = calloc (1, sizeof *ctx);
  RM_CHECK (ctx != NULL, "out of memory");
  ctx->arena = rm_arena_new (0);
  ctx->keep_arena = rm_arena_new (0); /* maps nothing until a forward keeps a tensor */
  ctx->backend = rm_backend_cpu ();
  ctx->pool = rm_threadpool_new (n_threads);
  ctx->n_threads = n_threads;
  /* One threading policy: every parallel loop, GEMMs included, runs on this pool; OpenBLAS is
   * called single-threaded from the pool's workers, so its threads never spin for work while
   * ours compute. */
  openblas_set_num_threads (1);
  return ctx;
}

RmCtx *
rm_ctx_new_device (const RmBackend *backend, const RmArenaAllocator *allocator)
{
  RmCtx *ctx = calloc (1, sizeof *ctx);
  RM_CHECK (ctx != NULL, "out of memory");
  ctx->arena = rm_arena_new (0);
  ctx->data_arena = rm_arena_new_with_allocator (0, allocator);
  ctx->keep_arena = rm_arena_new_with_allocator (0, allocator);
  ctx->backend = backend;
  ctx->n_threads = 1;
  return ctx;
}

void
rm_ctx_free (RmCtx *ctx)
{
  if (ctx == NULL)
    return;
  rm_threadpool_free (ctx->pool);
  rm_arena_free (ctx->keep_arena);
  rm_arena_free (ctx->data_arena);
  rm_arena_free (ctx->arena);
  free (ctx);
}

void
rm_ctx_reset (RmCtx *ctx)
{
  rm_arena_reset (ctx->arena);
  if (ctx->data_arena != NULL)
    rm_arena_reset (ctx->data_arena);
  rm_arena_reset (ctx->keep_arena);
}

void
rm_ctx_trim (RmCtx *ctx)
{
  rm_arena_trim (ctx->arena);
  if (ctx->data_arena != NULL)
    rm_arena_trim (ctx->data_arena);
  rm_arena_trim (ctx->keep_arena);
}

void
rm_ctx_set_device_jump (RmCtx *ctx, jmp_buf *jump)
{
  RM_CHECK (ctx->data_arena != NULL && ctx->pool == NULL,
            "a device jump point needs a single-threaded device context");
  rm_arena_set_jump (ctx->data_arena, jump);
  rm_arena_set_jump (ctx->keep_arena, jump);
}

size_t
rm_ctx_take_device_failure (RmCtx *ctx)
{
  if (ctx->data_arena == NULL)
    return 0;
  /* Both are taken so that neither leaves a stale record for the next failure. */
  const size_t data = rm_arena_take_failed_bytes (ctx->data_arena);
  const size_t keep = rm_arena_take_failed_bytes (ctx->keep_arena);
  return data != 0 ? data : keep;
}

size_t
rm_ctx_device_bytes_in_use (const RmCtx *ctx)
{
  if (ctx->data_arena == NULL)
    return 0;
  return rm_arena_bytes_in_use (ctx->data_arena) + rm_arena_bytes_in_use (ctx->keep_arena);
}

bool
rm_ctx_is_device (const RmCtx *ctx)
{
  return ctx->data_arena != NULL;
}

RmCtxMark
rm_ctx_mark (const RmCtx *ctx)
{
  RmCtxMark mark = { .host = rm_arena_mark (ctx->arena) };
  if (ctx->data_arena != NULL)
    mark.data = rm_arena_mark (ctx->data_arena);
  return mark;
}

void
rm_ctx_release (RmCtx *ctx, RmCtxMark mark)
{
  rm_arena_release (ctx->arena, mark.host);
  if (ctx->data_arena != NULL)
    rm_arena_release (ctx->data_arena, mark.data);
}

size_t
rm_ctx_peak_bytes (const RmCtx *ctx)
{
  return rm_arena_peak_bytes (ctx->arena) +
         (ctx->data_arena != NULL ? rm_arena_peak_bytes (ctx->data_arena) : 0);
}

const char *
rm_device_name (RmDevice device)
{
  switch (device)
    {
    case RM_DEVICE_CPU:
      return "cpu";
    case RM_DEVICE_CUDA:
      return "cuda";
    case RM_DEVICE_EMULATED:
      return "emulated device";
    }
  return "unknown device";
}

/* ---- shapes ----------------------------------------------------------------------------- */

int64_t
rm_tensor_numel (const RmTensor *t)
{
  int64_t n = 1;
  for (int i = 0; i < t->ndim; i++)
    n *= t->shape[i];
  return n;
}

bool
rm_tensor_is_contiguous (const RmTensor *t)
{
  int64_t expect = 1;
  for (int i = t->ndim - 1; i >= 0; i--)
    {
      /* The stride of a size-1 dim never matters. */
      if (t->shape[i] != 1 && t->stride[i] != expect)
        return false;
      expect *= t->shape[i];
    }
  return true;
}

bool
rm_tensor_same_shape (const RmTensor *a, const RmTensor *b)
{
  if (a->ndim != b->ndim)
    return false;
  for (int i = 0; i < a->ndim; i++)
    if (a->shape[i] != b->shape[i])
      return false;
  return true;
}

void
rm_tensor_set_contiguous_strides (RmTensor *t)
{
  int64_t s = 1;
  for (int i = t->ndim - 1; i >= 0; i--)
    {
      t->stride[i] = s;
      s *= t->shape[i];
    }
}

const char *
rm_shape_str (const RmTensor *t, char *buf, size_t len)
{
  size_t pos = 0;
  if (len == 0)
    return buf;
  buf[0] = '\0';
  pos += (size_t) snprintf (buf, len, "[");
  for (int i = 0; i < t->ndim && pos < len; i++)
    pos +=
        (size_t) snprintf (buf + pos, len - pos, "%s%lld", i ? ", " : "", (long long) t->shape[i]);
  if (pos < len)
    snprintf (buf + pos, len - pos, "]");
  return buf;
}

/* ---- allocation ------------------------------------------------------------------------- */

void
rm_tensor_init (RmTensor *t, float *data, int ndim, const int64_t *shape)
{
  RM_CHECK (ndim >= 0 && ndim <= RM_MAX_DIMS, "bad ndim %d", ndim);
  memset (t, 0, sizeof *t);
  t->data = data;
  t->ndim = ndim;
  for (int i = 0; i < ndim; i++)
    {
      RM_CHECK (shape[i] >= 0, "negative size %lld in dim %d", (long long) shape[i], i);
      t->shape[i] = shape[i];
    }
  rm_tensor_set_contiguous_strides (t);
  t->device = RM_DEVICE_CPU;
}

RmTensor *
rm_wrap (RmCtx *ctx, float *data, int ndim, const int64_t *shape)
{
  RmTensor *t = rm_arena_alloc (ctx->arena, sizeof *t);
  rm_tensor_init (t, data, ndim, shape);
  return t;
}

/* A tensor struct in ctx->arena with its data in `arena`, tagged `device`; with `soft`, NULL
 * when the data's memory cannot be had (rm_arena_try_alloc). */
static RmTensor *
rm_new_in (RmCtx *ctx, RmArena *arena, RmDevice device, bool soft, int ndim, const int64_t *shape)
{
  RmTensor *t = rm_wrap (ctx, NULL, ndim, shape);
  int64_t n = rm_tensor_numel (t);
  RM_CHECK (n <= (int64_t) (SIZE_MAX / sizeof (float)) / 2, "tensor too large");
  const size_t bytes = (size_t) n * sizeof (float);
  t->data = soft ? rm_arena_try_alloc (arena, bytes) : rm_arena_alloc (arena, bytes);
  t->device = device;
  return t->data != NULL ? t : NULL;
}

static RmArena *
rm_data_arena (RmCtx *ctx)
{
  return ctx->data_arena != NULL ? ctx->data_arena : ctx->arena;
}

RmTensor *
rm_new (RmCtx *ctx, int ndim, const int64_t *shape)
{
  return rm_new_in (ctx, rm_data_arena (ctx), ctx->backend->device, false, ndim, shape);
}

RmTensor *
rm_try_new (RmCtx *ctx, int ndim, const int64_t *shape)
{
  return rm_new_in (ctx, rm_data_arena (ctx), ctx->backend->device, true, ndim, shape);
}

RmTensor *
rm_new_1d (RmCtx *ctx, int64_t d0)
{
  return rm_new (ctx, 1, (int64_t[]){ d0 });
}

RmTensor *
rm_new_2d (RmCtx *ctx, int64_t d0, int64_t d1)
{
  return rm_new (ctx, 2, (int64_t[]){ d0, d1 });
}

RmTensor *
rm_new_3d (RmCtx *ctx, int64_t d0, int64_t d1, int64_t d2)
{
  return rm_new (ctx, 3, (int64_t[]){ d0, d1, d2 });
}

RmTensor *
rm_new_4d (RmCtx *ctx, int64_t d0, int64_t d1, int64_t d2, int64_t d3)
{
  return rm_new (ctx, 4, (int64_t[]){ d0, d1, d2, d3 });
}

RmTensor *
rm_new_host (RmCtx *ctx, int ndim, const int64_t *shape)
{
  return rm_new_in (ctx, ctx->arena, RM_DEVICE_CPU, false, ndim, shape);
}

RmTensor *
rm_zeros (RmCtx *ctx, int ndim, const int64_t *shape)
{
  RmTensor *t = rm_new (ctx, ndim, shape);
  ctx->backend->fill (ctx->pool, t->data, rm_tensor_numel (t), 0.0f);
  return t;
}

/* ---- checks ----------------------------------------------------------------------------- */

void
rm_check_failed (const char *file, int line, const char *cond, const char *fmt, ...)
{
  va_list ap;
  fprintf (stderr, "%s:%d: check failed: %s: ", file, line, cond);
  va_start (ap, fmt);
  vfprintf (stderr, fmt, ap);
  va_end (ap);
  fputc ('\n', stderr);
  fflush (stderr);
  abort ();
}
