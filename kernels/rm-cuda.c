/* SPDX-License-Identifier: GPL-3.0-or-later
 * rm-cuda.h with the CUDA backend: device contexts (arena chunks from cudaMalloc) and tensor
 * copies between host and device. The copies are the engine's generic ones (rm-device.c) over
 * the backend's upload / download entries, which turn the backend's remembered failure into a
 * GError.
 */
#include "rm-cuda.h"

#include "rm-backend-cuda.h"
#include "rm-device.h"
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
 * another thread than the one that created it. A failure is NULL, which the arena turns into
 * RM_ERROR_DEVICE ("out of GPU memory") for the request, so it is only logged for debugging
 * here; cudaGetLastError clears it, or the next kernel launch's check would report it again. */
static void *
rm_cuda_arena_alloc (size_t bytes, void *user)
{
  void *p = NULL;
  if (cudaSetDevice (GPOINTER_TO_INT (user)) != cudaSuccess ||
      cudaMalloc (&p, bytes) != cudaSuccess)
    {
      g_debug ("cudaMalloc of %zu bytes failed: %s", bytes,
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

  const RmArenaAllocator allocator = { rm_cuda_arena_alloc, rm_cuda_arena_free,
                                       GINT_TO_POINTER (device) };
  return rm_ctx_new_device (rm_backend_cuda (), &allocator);
}

RmTensor *
rm_tensor_to_device (RmCtx *ctx, const RmTensor *src, GError **error)
{
  RM_CHECK (ctx->backend->device == RM_DEVICE_CUDA, "rm_tensor_to_device: not a CUDA context");
  return rm_upload (ctx, src, error);
}

RmTensor *
rm_tensor_to_host (RmCtx *ctx, const RmTensor *src, GError **error)
{
  RM_CHECK (!rm_ctx_is_device (ctx), "rm_tensor_to_host: not a host context");
  RM_CHECK (src->device == RM_DEVICE_CUDA, "rm_tensor_to_host: the source is on %s",
            rm_device_name (src->device));
  return rm_download_with (ctx, rm_backend_cuda (), src, error);
}
