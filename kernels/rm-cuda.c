/* SPDX-License-Identifier: GPL-3.0-or-later
 * rm-cuda.h with the CUDA backend: device contexts (arena chunks from cudaMalloc) and tensor
 * copies between host and device, with GErrors where rm-backend-cuda.cu only reports.
 */
#include "rm-cuda.h"

#include "rm-backend-cuda.h"
#include "rm-error.h"

#include <cuda_runtime_api.h>
#include <stdlib.h>

int
rm_cuda_device_count (void)
{
  int n = 0;
  if (cudaGetDeviceCount (&n) != cudaSuccess)
    {
      (void) cudaGetLastError ();
      return 0;
    }
  return n;
}

/* The device arena's chunks. The device is set again because the context may be used from
 * another thread than the one that created it. */
static void *
rm_cuda_arena_alloc (size_t bytes, void *user)
{
  void *p = NULL;
  if (cudaSetDevice (GPOINTER_TO_INT (user)) != cudaSuccess ||
      cudaMalloc (&p, bytes) != cudaSuccess)
    {
      g_warning ("cudaMalloc of %zu bytes failed: %s", bytes,
                 cudaGetErrorString (cudaGetLastError ()));
      return NULL;
    }
  return p;
}

static void
rm_cuda_arena_free (void *block, size_t bytes, void *user)
{
  /* cudaFree waits for the kernels still using the block. */
  cudaError_t e = cudaFree (block);
  if (e != cudaSuccess)
    g_warning ("cudaFree of %zu bytes failed: %s", bytes, cudaGetErrorString (e));
}

RmCtx *
rm_ctx_new_cuda (int device, GError **error)
{
  int n = 0;
  cudaError_t e = cudaGetDeviceCount (&n);
  if (e != cudaSuccess || n == 0)
    {
      g_set_error (error, RM_ERROR, RM_ERROR_UNSUPPORTED, "no CUDA device found (%s)",
                   e != cudaSuccess ? cudaGetErrorString (e) : "the driver reports 0 devices");
      (void) cudaGetLastError ();
      return NULL;
    }
  if (device < 0 || device >= n)
    {
      g_set_error (error, RM_ERROR, RM_ERROR_INPUT, "CUDA device %d out of range (%d found)",
                   device, n);
      return NULL;
    }
  if (!rm_cuda_backend_init (device))
    {
      g_set_error (error, RM_ERROR, RM_ERROR_DEVICE, "cannot use CUDA device %d: %s", device,
                   rm_cuda_backend_error ());
      rm_cuda_backend_clear_error ();
      return NULL;
    }

  RmCtx *ctx = calloc (1, sizeof *ctx);
  RM_CHECK (ctx != NULL, "out of memory");
  const RmArenaAllocator allocator = { rm_cuda_arena_alloc, rm_cuda_arena_free,
                                       GINT_TO_POINTER (device) };
  ctx->arena = rm_arena_new (0);
  ctx->data_arena = rm_arena_new_with_allocator (0, &allocator);
  ctx->backend = rm_backend_cuda ();
  ctx->n_threads = 1;
  return ctx;
}

/* The checks both copies share; false with a GError for a non-contiguous source. */
static gboolean
rm_cuda_check_copy (const RmTensor *src, RmDevice from, const char *what, GError **error)
{
  RM_CHECK (src->device == from, "%s: the source is on the wrong device", what);
  if (rm_tensor_is_contiguous (src))
    return TRUE;
  char shape[96];
  g_set_error (error, RM_ERROR, RM_ERROR_SHAPE, "%s: tensor %s is not contiguous", what,
               rm_shape_str (src, shape, sizeof shape));
  return FALSE;
}

/* Queues the copy on the backend's stream (so it follows the kernels queued before it);
 * device-to-host waits for it (host-to-device from pageable memory returns once the source is
 * staged). Any failure since the last check becomes the GError. */
static gboolean
rm_cuda_copy (void *dst, const void *src, size_t bytes, enum cudaMemcpyKind kind, GError **error)
{
  cudaError_t e = cudaMemcpyAsync (dst, src, bytes, kind, rm_cuda_backend_stream ());
  gboolean ok = e == cudaSuccess && (kind != cudaMemcpyDeviceToHost || rm_cuda_backend_sync ()) &&
                rm_cuda_backend_error () == NULL;
  if (!ok)
    {
      const char *why = rm_cuda_backend_error ();
      g_set_error (error, RM_ERROR, RM_ERROR_DEVICE, "CUDA copy of %zu bytes failed: %s", bytes,
                   why != NULL ? why : cudaGetErrorString (e));
      rm_cuda_backend_clear_error ();
      (void) cudaGetLastError ();
    }
  return ok;
}

RmTensor *
rm_tensor_to_device (RmCtx *ctx, const RmTensor *src, GError **error)
{
  RM_CHECK (ctx->backend->device == RM_DEVICE_CUDA, "rm_tensor_to_device: not a CUDA context");
  if (!rm_cuda_check_copy (src, RM_DEVICE_CPU, "rm_tensor_to_device", error))
    return NULL;
  RmTensor *dst = rm_new (ctx, src->ndim, src->shape);
  const size_t bytes = (size_t) rm_tensor_numel (src) * sizeof (float);
  if (bytes > 0 && !rm_cuda_copy (dst->data, src->data, bytes, cudaMemcpyHostToDevice, error))
    return NULL;
  return dst;
}

RmTensor *
rm_tensor_to_host (RmCtx *ctx, const RmTensor *src, GError **error)
{
  RM_CHECK (ctx->backend->device == RM_DEVICE_CPU && ctx->data_arena == NULL,
            "rm_tensor_to_host: not a host context");
  if (!rm_cuda_check_copy (src, RM_DEVICE_CUDA, "rm_tensor_to_host", error))
    return NULL;
  RmTensor *dst = rm_new (ctx, src->ndim, src->shape);
  const size_t bytes = (size_t) rm_tensor_numel (src) * sizeof (float);
  if (!rm_cuda_copy (dst->data, src->data, bytes, cudaMemcpyDeviceToHost, error))
    return NULL;
  return dst;
}
