/* SPDX-License-Identifier: GPL-3.0-or-later
 * Engine-internal: tensors between the host and a context's device, for any device backend, and
 * the emulated device that lets the tests run the model's device path without a GPU.
 *
 * A device context (rm_ctx_is_device) keeps its tensors' data where the CPU may not read it;
 * the op layer refuses any operand that is not on the context's device. Code around the ops
 * (inputs built on the host, outputs read by the host, golden taps) goes through these copies.
 */
#pragma once

#include "rm-tensor.h"

#include <glib.h>

/* The host tensor t on ctx's device: a contiguous copy there (rm_new), or t itself on a host
 * context. NULL with RM_ERROR_SHAPE when t is not contiguous, RM_ERROR_DEVICE when the copy
 * fails or the device has no memory left for it (never unwinds to a jump point: the weight
 * upload relies on that). */
RmTensor *rm_upload (RmCtx *ctx, const RmTensor *t, GError **error);
/* Sets error to RM_ERROR_DEVICE "out of GPU memory ...", naming the size of ctx's device
 * allocation that failed (rm_ctx_take_device_failure, which must have one) and what the
 * context already holds there. */
void rm_device_set_oom_error (RmCtx *ctx, GError **error);
/* Runs fn (user, error) with ctx's running out of device memory unwinding to here (longjmp from
 * rm_arena_alloc) instead of aborting: then the jump point is cleared, error is set as by
 * rm_device_set_oom_error, the context's device memory is given back (rm_ctx_trim) and a kernel
 * failure the backend still remembers is forgotten, and FALSE is returned. On a host context fn
 * simply runs. Unwinding out of fn is safe only if everything fn allocates lives in ctx's arenas
 * or in frames that outlive this call, and fn takes no lock below this frame: the caller states
 * why its fn keeps that. */
bool rm_device_run_guarded (RmCtx *ctx, bool (*fn) (void *user, GError **error), void *user,
                            GError **error);
/* t readable by the host: a copy in ctx->arena (rm_new_host) when t lives on ctx's device, t
 * itself when it is on the host already. Waits for the kernels that compute t. NULL with
 * RM_ERROR_SHAPE when t is a non-contiguous device tensor, RM_ERROR_DEVICE when a kernel or the
 * copy failed. */
RmTensor *rm_download (RmCtx *ctx, const RmTensor *t, GError **error);
/* The copy of rm_download for a tensor on the device of `backend`, into host memory of any
 * context ctx (rm_tensor_to_host: a host context). */
RmTensor *rm_download_with (RmCtx *ctx, const RmBackend *backend, const RmTensor *t,
                            GError **error);

/* For tests only: a device context without a device. Its tensors are tagged
 * RM_DEVICE_EMULATED and their data lives in a data arena of its own (host memory); its backend
 * is the CPU's kernels under another device tag, forward-only like the CUDA backend (the backward
 * entries are NULL), with memcpy for uploads and downloads. Everything the model does on a CUDA
 * context happens on it — weight upload, marks over both arenas, copies in and out, the op
 * layer's device check — except that the kernels are the CPU's, so results are bit-identical to a
 * CPU context's. */
RmCtx *rm_ctx_new_emulated_device (void);
/* The emulated device's memory is one pool for all its contexts, as a GPU's is. A budget (bytes,
 * 0 for none, the default) makes its allocator fail past it, as cudaMalloc does when the GPU is
 * full: the tests run the device out of memory with it. */
void rm_emulated_device_set_budget (size_t bytes);
/* Bytes allocated on the emulated device now, and at most since the last set_budget. */
size_t rm_emulated_device_bytes_in_use (void);
size_t rm_emulated_device_peak_bytes (void);
const RmBackend *rm_backend_emulated_device (void);
