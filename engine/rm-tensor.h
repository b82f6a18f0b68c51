/* SPDX-License-Identifier: GPL-3.0-or-later
 * Tensors, arenas and the per-request compute context of the Refmask engine.
 *
 * Every tensor lives in an arena owned by an RmCtx; a request allocates freely and the
 * whole arena is reset (or freed) when the request ends, so there is no allocation in
 * inner loops and no per-tensor free. Weights are tensors too, pointing into a mapped
 * safetensors file (they are never freed through an arena).
 */
#pragma once

#include <setjmp.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define RM_MAX_DIMS 6

/* Where a tensor's data lives. RM_DEVICE_EMULATED is host memory that the engine treats as a
 * device's (rm_ctx_new_emulated_device in rm-device.h): it lets the tests run every host/device
 * copy and check of the model path without a GPU. */
typedef enum
{
  RM_DEVICE_CPU = 0,
  RM_DEVICE_CUDA = 1,
  RM_DEVICE_EMULATED = 2
} RmDevice;

/* "cpu", "cuda", "emulated device". */
const char *rm_device_name (RmDevice device);

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
/* A failed chunk allocation (the allocator returned NULL: device memory exhausted) unwinds
 * with longjmp to the arena's jump point when one is set (rm_arena_set_jump), and is a fatal
 * RM_CHECK otherwise: callers of rm_arena_alloc never see NULL. */
void *rm_arena_alloc (RmArena *arena, size_t bytes);
/* The same, but NULL when the chunk allocation fails, whatever the jump point. */
void *rm_arena_try_alloc (RmArena *arena, size_t bytes);
/* The size of the chunk whose allocation failed last (0: none since the last take); reading it
 * clears it. */
size_t rm_arena_take_failed_bytes (RmArena *arena);
/* Where a failed chunk allocation unwinds to, NULL for none. The jump may only come from the
 * thread that set it (checked). */
void rm_arena_set_jump (RmArena *arena, jmp_buf *jump);
void rm_arena_reset (RmArena *arena);
/* rm_arena_reset, and the chunks kept for reuse are given back too (device memory after a
 * failed request, for other sessions and processes). */
void rm_arena_trim (RmArena *arena);

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
  RmArena *keep_arena; /* the data arena's kind of memory: rm_fw_keep_and_release's stash */
  const RmBackend *backend;
  RmThreadPool *pool; /* may be NULL: single-threaded */
  int n_threads;
  RmTape *tape; /* NULL when gradients are off: ops then record nothing */
  /* While a checkpointed region runs unrecorded (rm_checkpoint_begin, rm-autograd.h): every op
   * then sets saw_trainable when one of its operands has requires_grad, so that the region's
   * record knows whether the backward has to re-run it even when its inputs need no gradient. */
  bool watch_trainable, saw_trainable;
  uint64_t flops; /* multiply-adds x 2 of the GEMM-class ops run so far (for benchmarks) */
} RmCtx;

RmCtx *rm_ctx_new (int n_threads);
/* A context whose rm_new data comes from `allocator` (device memory) and whose ops run on
 * `backend`; tensor structs and host scratch stay in host memory (ctx->arena). For the device
 * constructors (rm_ctx_new_cuda, rm_ctx_new_emulated_device). Single-threaded (no pool). */
RmCtx *rm_ctx_new_device (const RmBackend *backend, const RmArenaAllocator *allocator);
void rm_ctx_free (RmCtx *ctx);
/* rm_arena_reset of every arena: ends a request. */
void rm_ctx_reset (RmCtx *ctx);
/* rm_arena_trim of every arena: ends a request and frees what it mapped. */
void rm_ctx_trim (RmCtx *ctx);
/* Sets (jump) or clears (NULL) the jump point of a device context's data and keep arenas, so
 * that running out of device memory in a forward unwinds to it instead of aborting. The caller
 * of setjmp owns the invariant that makes this safe: rm_device_run_guarded (rm-device.h) is
 * that caller, and its callers state why (segment_each_guarded in rm-model.c).
 * A device context has no thread pool, so its allocations all happen on the calling thread. */
void rm_ctx_set_device_jump (RmCtx *ctx, jmp_buf *jump);
/* The size of the device chunk whose allocation failed last in ctx (data or keep arena), 0 for
 * none; reading it clears it. */
size_t rm_ctx_take_device_failure (RmCtx *ctx);
/* Bytes held by a device context's data and keep arenas (0 on a host context). */
size_t rm_ctx_device_bytes_in_use (const RmCtx *ctx);
/* True when rm_new's data is not in host memory: the CPU cannot read it directly. */
bool rm_ctx_is_device (const RmCtx *ctx);

/* Scoped use of a context: marks the host arena and, on a device context, the data arena, so
 * that a release gives back the device memory of a block's activations as well as their
 * structs (marking ctx->arena alone would let the device peak grow with the depth). */
typedef struct
{
  RmArenaMark host, data;
} RmCtxMark;

RmCtxMark rm_ctx_mark (const RmCtx *ctx);
void rm_ctx_release (RmCtx *ctx, RmCtxMark mark);
/* The sum of the high-water marks of the host and (device context) data arenas. */
size_t rm_ctx_peak_bytes (const RmCtx *ctx);

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
/* rm_new, but NULL when the context's device is out of memory (never unwinds): for callers
 * that report a GError themselves (rm_upload, and so the weight upload). */
RmTensor *rm_try_new (RmCtx *ctx, int ndim, const int64_t *shape);
/* A host tensor in ctx->arena, whatever the context's device: host-side inputs and outputs of a
 * device context (masks built on the host, copies back for post-processing). */
RmTensor *rm_new_host (RmCtx *ctx, int ndim, const int64_t *shape);
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
