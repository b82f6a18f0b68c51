/* SPDX-License-Identifier: GPL-3.0-or-later
 * The engine's door to the GPU: a compute context whose tensors live in device memory and run
 * on the CUDA backend, and copies of tensors between it and the host.
 *
 * Implemented in kernels/rm-cuda.c when the CUDA backend is built; otherwise by the stubs of
 * rm-cuda-none.c, which fail with RM_ERROR_UNSUPPORTED. The CUDA backend is forward-only (its
 * backward kernels are NULL: rm_backward refuses such a context) and works on one stream of
 * one device per process, so a CUDA context is for one thread at a time.
 *
 * The model runs on such a context through the same code as on the CPU (rm_session_new_on_device,
 * or rm_forward with a core from rm_model_core_to_device): weights uploaded once per model,
 * inputs copied in and outputs copied back with rm_upload / rm_download (rm-device.h), scoped
 * releases over both arenas (rm_ctx_mark). That path is tested without a GPU on an emulated
 * device (tests/unit/test-device-model.c) and against the CPU on a GPU by test-cuda-ops.
 */
#pragma once

#include "rm-tensor.h"

#include <glib.h>

G_BEGIN_DECLS

/* CUDA devices usable by this build at run time: 0 without a driver, a GPU or a CUDA build. */
int rm_cuda_device_count (void);

/* A context on GPU `device`: rm_new's tensor data is cudaMalloc'ed (ctx->data_arena), the
 * tensor structs stay on the host (ctx->arena), ops run on rm_backend_cuda(). NULL with
 * RM_ERROR_UNSUPPORTED when the build or the machine has no CUDA device, RM_ERROR_INPUT when
 * `device` is out of range. */
RmCtx *rm_ctx_new_cuda (int device, GError **error);

/* A device copy, in the CUDA context ctx, of the contiguous host tensor src (rm_upload). */
RmTensor *rm_tensor_to_device (RmCtx *ctx, const RmTensor *src, GError **error);
/* A host copy, in the host context ctx, of the contiguous device tensor src. Waits for the
 * kernels queued before it; RM_ERROR_DEVICE when one of them (or the copy) failed. */
RmTensor *rm_tensor_to_host (RmCtx *ctx, const RmTensor *src, GError **error);

G_END_DECLS
