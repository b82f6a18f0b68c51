/* SPDX-License-Identifier: GPL-3.0-or-later
 * Tensors, arenas and the per-request compute context of the Refmask engine.
 *
 * Every tensor lives in an arena owned by an RmCtx; a request allocates freely and the
 * whole arena is reset (or freed) when the request ends, so there is no allocation in
 * inner loops and no per-tensor free. Weights are tensors too, pointing into a mapped
 * safetensors file (they are never freed through an arena).
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define RM_MAX_DIMS 6

typedef enum
{
  RM_DEVICE_CPU = 0,
  RM_DEVICE_CUDA = 1
} RmDevice;

typedef struct RmTapeNode RmTapeNode;
typedef struct RmTape RmTape;
typedef struct RmBackend RmBackend;
typedef struct RmThreadPool RmThreadPool;

/* An n-dimensional fp32 tensor. Strides are in elements; the ops produce contiguous
 * (row-major) tensors, views share memory with their source. */
typedef struct RmTensor
{
  float *data;
  int ndim;
  int64_t shape[RM_MAX_DIMS];
  int64_t stride[RM_MAX_DIMS];
  RmDevice device;
  RmTapeNode *node;   /* set by the op that produced it while a tape records; else NULL */
  bool requires_grad; /* leaf parameters that want a gradient (training only) */
} RmTensor;

/* A bump allocator made of large chunks; alignment 64 bytes. */
typedef struct RmArena RmArena;

RmArena *rm_arena_new (size_t chunk_bytes);

/* Where an arena's chunks come from. By default anonymous mmap (host memory); a device
 * context plugs in its own (cudaMalloc). The chunk bookkeeping then stays in host memory, so
 * the blocks handed out may be memory the CPU cannot touch. alloc returns NULL on failure. */
typedef struct
{
  void *(*alloc) (size_t bytes, void *user);
  void (*free) (void *block, size_t bytes, void *user);
  void *user;
} RmArenaAllocator;

RmArena *rm_arena_new_with_allocator (size_t chunk_bytes, const RmArenaAllocator *allocator);
void rm_arena_free (RmArena *arena);
void *rm_arena_alloc (RmArena *arena, size_t bytes);
void rm_arena_reset (RmArena *arena);

/* Scoped use: everything allocated after a mark is given back by rm_arena_release (tensors
 * allocated before it stay valid). Lets a long forward reuse one block's memory for the next. */
typedef struct
{
  struct RmChunk *cur;
  size_t cur_used;
  struct RmChunk *big;
  size_t in_use;
} RmArenaMark;

RmArenaMark rm_arena_mark (const RmArena *arena);
void rm_arena_release (RmArena *arena, RmArenaMark mark);
size_t rm_arena_bytes_in_use (const RmArena *arena);
size_t rm_arena_peak_bytes (const RmArena *arena);

/* The compute context: one per request (thread). Not shared between threads. */
typedef struct RmCtx
{
  RmArena *arena;      /* host memory: tensor structs, scratch, and tensor data unless... */
  RmArena *data_arena; /* ...this is set (a device context): the data of rm_new's tensors */
  const RmBackend *backend;
  RmThreadPool *pool; /* may be NULL: single-threaded */
  int n_threads;
  RmTape *tape;   /* NULL when gradients are off: ops then record nothing */
  uint64_t flops; /* multiply-adds x 2 of the GEMM-class ops run so far (for benchmarks) */
} RmCtx;

RmCtx *rm_ctx_new (int n_threads);
void rm_ctx_free (RmCtx *ctx);
/* rm_arena_reset of both arenas: ends a request. */
void rm_ctx_reset (RmCtx *ctx);

/* Shape helpers. */
int64_t rm_tensor_numel (const RmTensor *t);
bool rm_tensor_is_contiguous (const RmTensor *t);
bool rm_tensor_same_shape (const RmTensor *a, const RmTensor *b);
void rm_tensor_set_contiguous_strides (RmTensor *t);
/* Formats "[2, 64, 64, 16]" into buf. */
const char *rm_shape_str (const RmTensor *t, char *buf, size_t len);

/* Allocation in the context's arena (data uninitialised unless named _zeros). */
RmTensor *rm_new (RmCtx *ctx, int ndim, const int64_t *shape);
RmTensor *rm_new_1d (RmCtx *ctx, int64_t d0);
RmTensor *rm_new_2d (RmCtx *ctx, int64_t d0, int64_t d1);
RmTensor *rm_new_3d (RmCtx *ctx, int64_t d0, int64_t d1, int64_t d2);
RmTensor *rm_new_4d (RmCtx *ctx, int64_t d0, int64_t d1, int64_t d2, int64_t d3);
RmTensor *rm_zeros (RmCtx *ctx, int ndim, const int64_t *shape);
/* Wraps external memory (weights, caller buffers) without copying. */
RmTensor *rm_wrap (RmCtx *ctx, float *data, int ndim, const int64_t *shape);
/* Fills an RmTensor struct that lives elsewhere (e.g. in a weights table). */
void rm_tensor_init (RmTensor *t, float *data, int ndim, const int64_t *shape);

/* Fatal checks for programming errors (shape mismatches between ops): report file and
 * line, then abort. Bad *input* is never handled with these; it gets a GError. */
#define RM_CHECK(cond, ...)                                       \
  do                                                              \
    {                                                             \
      if (!(cond))                                                \
        rm_check_failed (__FILE__, __LINE__, #cond, __VA_ARGS__); \
    }                                                             \
  while (0)

void rm_check_failed (const char *file, int line, const char *cond, const char *fmt, ...)
    __attribute__ ((noreturn, format (printf, 4, 5)));
