/* SPDX-License-Identifier: GPL-3.0-or-later
 * The CUDA backend: the forward kernels of RmBackend on device pointers.
 *
 * GEMMs run on cuBLAS, convolutions on cuDNN, both in plain fp32 (no TF32); everything else
 * is our own kernels, which follow rm-backend-cpu.c formula for formula. The backward entries
 * are NULL: the backend is forward-only for now (rm_backward refuses it).
 *
 * Buffers are device pointers, except two small index arrays that may be host or device
 * memory: `ids` of gather_rows and `key_pad` of attention (the op layer checks and records them
 * on the host). Kernels are queued on one stream of one device and return at once; the
 * thread-pool argument is ignored. A failing CUDA, cuBLAS or cuDNN call is reported on stderr
 * with its file and line, remembered (rm_cuda_backend_error) and makes the kernel return; the
 * kernels that follow do nothing until the error is cleared.
 */
#pragma once

#include "rm-backend.h"

#include <cuda_runtime_api.h>
#include <stdbool.h>

#ifdef __cplusplus
extern "C"
{
#endif

  const RmBackend *rm_backend_cuda (void);

  /* Binds the backend to `device` and creates its stream and cuBLAS / cuDNN handles (the first
   * kernel does it for the current device otherwise). Again with the same device: nothing; with
   * another: false. false also when there is no usable device (see rm_cuda_backend_error). */
  bool rm_cuda_backend_init (int device);
  /* The stream every kernel is queued on (NULL before a successful init). */
  cudaStream_t rm_cuda_backend_stream (void);
  /* Waits for the stream; false when it, or anything since the last clear, failed. */
  bool rm_cuda_backend_sync (void);
  /* "file:line: call: message" of the first failure since the last clear, or NULL. */
  const char *rm_cuda_backend_error (void);
  void rm_cuda_backend_clear_error (void);

#ifdef __cplusplus
}
#endif
