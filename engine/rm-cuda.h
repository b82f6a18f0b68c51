/* SPDX-License-Identifier: GPL-3.0-or-later
 * The engine's door to the GPU: a compute context whose tensors live in device memory and run
 * on the CUDA backend, and copies of tensors between it and the host.
 *
 * Implemented in kernels/rm-cuda.c when the CUDA backend is built; otherwise by the stubs of
 * rm-cuda-none.c, which fail with RM_ERROR_UNSUPPORTED. The CUDA backend is forward-only (its
 * backward kernels are NULL: rm_backward refuses such a context) and works on one stream of
 * one device per process, so a CUDA context is for one thread at a time.
 *
 * What a CUDA context does not do yet: the model forward (weights, image and text inputs)
 * still takes host tensors. Weights need an upload cache (one device copy per RmWeights),
 * the model's rm_arena_mark/release scopes cover ctx->arena only (not ctx->data_arena), and
 * a few host-side steps read tensor data directly (pre/post-processing, the decoder's
 * selection of the best mask). See kernels/README.md.
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

/* A device copy, in the CUDA context ctx, of the contiguous host tensor src. */
RmTensor *rm_tensor_to_device (RmCtx *ctx, const RmTensor *src, GError **error);
/* A host copy, in the host context ctx, of the contiguous device tensor src. Waits for the
 * kernels queued before it; RM_ERROR_DEVICE when one of them (or the copy) failed. */
RmTensor *rm_tensor_to_host (RmCtx *ctx, const RmTensor *src, GError **error);

G_END_DECLS
