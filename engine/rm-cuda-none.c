/* SPDX-License-Identifier: GPL-3.0-or-later
 * rm-cuda.h in a build without the CUDA backend: every entry fails cleanly.
 */
#include "rm-cuda.h"

#include "rm-error.h"

static void
rm_cuda_unsupported (GError **error)
{
  g_set_error_literal (error, RM_ERROR, RM_ERROR_UNSUPPORTED, "this build has no CUDA backend");
}

int
rm_cuda_device_count (void)
{
  return 0;
}

RmCtx *
rm_ctx_new_cuda (int device, GError **error)
{
  rm_cuda_unsupported (error);
  return NULL;
}

RmTensor *
rm_tensor_to_device (RmCtx *ctx, const RmTensor *src, GError **error)
{
  rm_cuda_unsupported (error);
  return NULL;
}

RmTensor *
rm_tensor_to_host (RmCtx *ctx, const RmTensor *src, GError **error)
{
  rm_cuda_unsupported (error);
  return NULL;
}
