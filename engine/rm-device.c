/* SPDX-License-Identifier: GPL-3.0-or-later
 * Host <-> device copies through a backend's upload / download entries, and the emulated
 * device (see rm-device.h).
 */
#include "rm-device.h"

#include "rm-backend.h"
#include "rm-error.h"

#include <stddef.h>
#include <stdlib.h>
#include <string.h>

/* Copies n floats between host memory and the memory of `backend`: host src to device dst
 * (to_device) or device src to host dst (waiting for the kernels queued before). false with
 * RM_ERROR_DEVICE, and the backend's remembered failure cleared, when the copy or an earlier
 * kernel failed. */
static bool
rm_device_transfer (const RmBackend *backend, bool to_device, float *dst, const float *src,
                    int64_t n, GError **error)
{
  const size_t bytes = (size_t) n * sizeof (float);
  if (bytes == 0)
    return true;
  if ((to_device ? backend->upload : backend->download) (dst, src, bytes))
    return true;
  const char *why = backend->error != NULL ? backend->error () : NULL;
  g_set_error (error, RM_ERROR, RM_ERROR_DEVICE, "%s copy of %zu bytes %s the device failed: %s",
               backend->name, bytes, to_device ? "to" : "from",
               why != NULL ? why : "no reason given");
  if (backend->clear_error != NULL)
    backend->clear_error ();
  return false;
}

static bool
rm_check_transferable (const RmTensor *t, const char *what, GError **error)
{
  if (rm_tensor_is_contiguous (t))
    return true;
  char shape[96];
  g_set_error (error, RM_ERROR, RM_ERROR_SHAPE, "%s: tensor %s is not contiguous", what,
               rm_shape_str (t, shape, sizeof shape));
  return false;
}

RmTensor *
rm_upload (RmCtx *ctx, const RmTensor *t, GError **error)
{
  RM_CHECK (t->device == RM_DEVICE_CPU, "upload: the source is already on %s",
            rm_device_name (t->device));
  if (!rm_ctx_is_device (ctx))
    return (RmTensor *) t;
  if (!rm_check_transferable (t, "upload", error))
    return NULL;
  RmTensor *out = rm_try_new (ctx, t->ndim, t->shape);
  if (out == NULL)
    {
      rm_device_set_oom_error (ctx, error);
      return NULL;
    }
  if (!rm_device_transfer (ctx->backend, true, out->data, t->data, rm_tensor_numel (t), error))
    return NULL;
  return out;
}

void
rm_device_set_oom_error (RmCtx *ctx, GError **error)
{
  const size_t needed = rm_ctx_take_device_failure (ctx);
  RM_CHECK (needed > 0, "no device allocation failed in this context");
  g_set_error (error, RM_ERROR, RM_ERROR_DEVICE,
               "out of GPU memory (%s): needed %zu bytes more, with %zu bytes already held by "
               "this context",
               rm_device_name (ctx->backend->device), needed, rm_ctx_device_bytes_in_use (ctx));
}

bool
rm_device_run_guarded (RmCtx *ctx, bool (*fn) (void *user, GError **error), void *user,
                       GError **error)
{
  if (!rm_ctx_is_device (ctx))
    return fn (user, error);
  jmp_buf out_of_memory;
  if (setjmp (out_of_memory) != 0)
    {
      rm_ctx_set_device_jump (ctx, NULL);
      rm_device_set_oom_error (ctx, error);
      /* Give the device memory back, so that the next (smaller) request, other sessions and
       * other processes find it (freeing waits for the kernels queued before the jump). */
      rm_ctx_trim (ctx);
      /* A kernel failure of this request, still remembered by the backend, is this request's:
       * the next one must not report it. */
      if (ctx->backend->clear_error != NULL)
        ctx->backend->clear_error ();
      return false;
    }
  rm_ctx_set_device_jump (ctx, &out_of_memory);
  const bool ok = fn (user, error);
  rm_ctx_set_device_jump (ctx, NULL);
  return ok;
}

RmTensor *
rm_download (RmCtx *ctx, const RmTensor *t, GError **error)
{
  if (t->device == RM_DEVICE_CPU)
    return (RmTensor *) t;
  RM_CHECK (t->device == ctx->backend->device, "download: a tensor on %s in a context on %s",
            rm_device_name (t->device), rm_device_name (ctx->backend->device));
  return rm_download_with (ctx, ctx->backend, t, error);
}

RmTensor *
rm_download_with (RmCtx *ctx, const RmBackend *backend, const RmTensor *t, GError **error)
{
  if (!rm_check_transferable (t, "download", error))
    return NULL;
  RmTensor *out = rm_new_host (ctx, t->ndim, t->shape);
  if (!rm_device_transfer (backend, false, out->data, t->data, rm_tensor_numel (t), error))
    return NULL;
  return out;
}

const RmBackend *
rm_backend_emulated_device (void)
{
  static RmBackend backend;
  static gsize ready;
  if (g_once_init_enter (&ready))
    {
      backend = *rm_backend_cpu ();
      backend.name = "cpu (emulated device)";
      backend.device = RM_DEVICE_EMULATED;
      /* Forward-only, as the CUDA backend: every entry from gemm on is a backward kernel, so a
       * training run on this context is refused the same way. */
      const size_t from = offsetof (RmBackend, gemm);
      memset ((char *) &backend + from, 0, sizeof backend - from);
      g_once_init_leave (&ready, 1);
    }
  return &backend;
}

/* The emulated device's memory, shared by all its contexts as a GPU's is: host memory from
 * the C heap, counted against an optional budget so that the tests can run it out. */
static GMutex emulated_lock;
static size_t emulated_budget; /* 0: no limit */
static size_t emulated_in_use;
static size_t emulated_peak;

static void *
emulated_alloc (size_t bytes, void *user)
{
  (void) user;
  g_mutex_lock (&emulated_lock);
  const bool fits =
      emulated_budget == 0 || bytes <= emulated_budget - MIN (emulated_budget, emulated_in_use);
  if (fits)
    {
      emulated_in_use += bytes;
      emulated_peak = MAX (emulated_peak, emulated_in_use);
    }
  g_mutex_unlock (&emulated_lock);
  if (!fits)
    return NULL;
  /* The arena's alignment; sizes are multiples of it. */
  void *p = aligned_alloc (64, bytes);
  RM_CHECK (p != NULL, "out of host memory for the emulated device (%zu bytes)", bytes);
  return p;
}

static void
emulated_free (void *block, size_t bytes, void *user)
{
  (void) user;
  free (block);
  g_mutex_lock (&emulated_lock);
  emulated_in_use -= bytes;
  g_mutex_unlock (&emulated_lock);
}

void
rm_emulated_device_set_budget (size_t bytes)
{
  g_mutex_lock (&emulated_lock);
  emulated_budget = bytes;
  emulated_peak = emulated_in_use;
  g_mutex_unlock (&emulated_lock);
}

/* One of the counters, read under their lock. */
static size_t
emulated_read (const size_t *counter)
{
  g_mutex_lock (&emulated_lock);
  const size_t n = *counter;
  g_mutex_unlock (&emulated_lock);
  return n;
}

size_t
rm_emulated_device_bytes_in_use (void)
{
  return emulated_read (&emulated_in_use);
}

size_t
rm_emulated_device_peak_bytes (void)
{
  return emulated_read (&emulated_peak);
}

RmCtx *
rm_ctx_new_emulated_device (void)
{
  const RmArenaAllocator allocator = { emulated_alloc, emulated_free, NULL };
  return rm_ctx_new_device (rm_backend_emulated_device (), &allocator);
}
