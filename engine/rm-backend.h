/* SPDX-License-Identifier: GPL-3.0-or-later
 * The kernel interface under the op layer: plain functions on raw float buffers and sizes.
 *
 * rm-ops.c checks shapes, allocates outputs and records the tape; a backend only computes.
 * Every buffer is contiguous row-major unless a stride array says otherwise, and all of them
 * live on the backend's device. Kernels know nothing of contexts or arenas: the only
 * runtime state they get is the thread pool (which a device backend may ignore).
 */
#pragma once

#include "rm-tensor.h"
#include "rm-threadpool.h"

#include <stdbool.h>
#include <stdint.h>

typedef enum
{
  RM_BINARY_ADD,
  RM_BINARY_SUB,
  RM_BINARY_MUL
} RmBinaryOp;

typedef enum
{
  RM_UNARY_SCALE, /* s * x */
  RM_UNARY_RSUB,  /* s - x */
  RM_UNARY_GELU,  /* exact erf form */
  RM_UNARY_RELU,
  RM_UNARY_SIGMOID,
} RmUnaryOp;

/* Sizes of a 2-D convolution: input (batch, cin, h, w), weight (cout, cin, kh, kw), output
 * (batch, cout, oh, ow). */
typedef struct
{
  int64_t batch, cin, h, w, cout, kh, kw, stride, pad, oh, ow;
} RmConvDims;

/* Sizes of multi-head attention: q (batch, nq, heads*dh), k (batch, nk, heads*dh),
 * v (batch, nk, heads*dv), output (batch, nq, heads*dv). */
typedef struct
{
  int64_t batch, nq, nk, heads, dh, dv;
  float scale;
} RmAttnDims;

struct RmBackend
{
  const char *name;
  RmDevice device;

  void (*fill) (RmThreadPool *pool, float *dst, int64_t n, float value);
  /* dst[sum i_d * dst_stride[d]] = src[sum i_d * src_stride[d]] over the box shape. */
  void (*copy_strided) (RmThreadPool *pool, int ndim, const int64_t *shape, float *dst,
                        const int64_t *dst_stride, const float *src, const int64_t *src_stride);
  /* dst (n, dim) = rows ids[] of table (?, dim). */
  void (*gather_rows) (RmThreadPool *pool, float *dst, const float *table, int64_t dim,
                       const int64_t *ids, int64_t n);

  /* dst = a op b over shape (a, dst contiguous); b is read at strides b_stride (0 where it
   * broadcasts). */
  void (*binary) (RmThreadPool *pool, RmBinaryOp op, float *dst, const float *a, const float *b,
                  int ndim, const int64_t *shape, const int64_t *b_stride);
  /* dst = alpha*a + beta*b. */
  void (*axpby) (RmThreadPool *pool, float *dst, float alpha, const float *a, float beta,
                 const float *b, int64_t n);
  void (*unary) (RmThreadPool *pool, RmUnaryOp op, float *dst, const float *x, int64_t n, float s);

  /* Over the last dim of (rows, dim). */
  void (*layernorm) (RmThreadPool *pool, float *dst, const float *x, const float *w, const float *b,
                     int64_t rows, int64_t dim, float eps);
  /* Over channels of (batch, channels, pixels). */
  void (*layernorm_nchw) (RmThreadPool *pool, float *dst, const float *x, const float *w,
                          const float *b, int64_t batch, int64_t channels, int64_t pixels,
                          float eps);

  /* dst (m, n_out) = x (m, n_in) w^T (w: (n_out, n_in)) + b (n_out, or NULL). */
  void (*linear) (RmThreadPool *pool, float *dst, const float *x, const float *w, const float *b,
                  int64_t m, int64_t n_in, int64_t n_out);
  /* dst (batch, m, n) = a (batch, m, k) b (batch, k, n), or b^T with b (batch, n, k). */
  void (*matmul) (RmThreadPool *pool, float *dst, const float *a, const float *b, int64_t batch,
                  int64_t m, int64_t n, int64_t k, bool trans_b);
  /* key_pad (batch, nk), non-zero = masked, or NULL. */
  void (*attention) (RmThreadPool *pool, float *dst, const float *q, const float *k, const float *v,
                     const RmAttnDims *d, const uint8_t *key_pad);

  void (*conv2d) (RmThreadPool *pool, float *dst, const float *x, const float *w, const float *b,
                  const RmConvDims *d);
  /* x (batch, cin, h, w), w (cin, cout, 2, 2), b (cout) or NULL -> (batch, cout, 2h, 2w). */
  void (*conv_transpose2x2) (RmThreadPool *pool, float *dst, const float *x, const float *w,
                             const float *b, int64_t batch, int64_t cin, int64_t h, int64_t width,
                             int64_t cout);
  /* NHWC (batch, h, w, c) -> (batch, h/2, w/2, c). */
  void (*maxpool2x2_nhwc) (RmThreadPool *pool, float *dst, const float *x, int64_t batch, int64_t h,
                           int64_t width, int64_t c);
  /* planes of (h, w) -> (2h, 2w). */
  void (*upsample_nearest2x) (RmThreadPool *pool, float *dst, const float *x, int64_t planes,
                              int64_t h, int64_t width);
  void (*resize_bilinear) (RmThreadPool *pool, float *dst, const float *x, int64_t planes,
                           int64_t h, int64_t width, int64_t oh, int64_t ow, bool antialias);
  void (*resize_bicubic) (RmThreadPool *pool, float *dst, const float *x, int64_t planes, int64_t h,
                          int64_t width, int64_t oh, int64_t ow);

  /* NHWC (batch, h, w, c) -> windows (batch*nwh*nww, win, win, c), zero padded. */
  void (*window_partition) (RmThreadPool *pool, float *dst, const float *x, int64_t batch,
                            int64_t h, int64_t width, int64_t c, int64_t win);
  /* windows of a (hp, wp) map -> (batch, h, w, c). */
  void (*window_unpartition) (RmThreadPool *pool, float *dst, const float *x, int64_t batch,
                              int64_t hp, int64_t wp, int64_t h, int64_t width, int64_t c,
                              int64_t win);

  /* *dst = (sum of x[0..n)) / divisor. */
  void (*sum) (RmThreadPool *pool, float *dst, const float *x, int64_t n, double divisor);

  /* ---- data between the host and the backend's memory (rm-device.c) ---------------------
   * The CPU's are memcpy. A device backend orders them after the kernels queued before them;
   * download returns once the host copy is complete. Both return false when the copy, or
   * anything since the last clear_error, failed; `error` then says what ("file:line: call:
   * message"). error and clear_error are NULL for a backend that cannot fail. */
  bool (*upload) (void *dst, const void *src, size_t bytes);
  bool (*download) (void *dst, const void *src, size_t bytes);
  const char *(*error) (void);
  void (*clear_error) (void);

  /* ---- backward (rm-backend-cpu-grad.c) ------------------------------------------------
   * Every kernel here ADDS its result into the gradient buffers it is given (dx += ...), so
   * that a tensor used several times sums its gradients; an optional gradient output may be
   * NULL (not wanted). Gradients are contiguous in the logical shape of their tensor. */

  /* C (m, n) = alpha op(A) op(B) + beta C, row-major, op = transpose when trans_*. */
  void (*gemm) (RmThreadPool *pool, bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k,
                float alpha, const float *a, int64_t lda, const float *b, int64_t ldb, float beta,
                float *c, int64_t ldc);
  /* dst += alpha * src. */
  void (*axpy) (RmThreadPool *pool, float *dst, float alpha, const float *src, int64_t n);
  /* dst[sum i_d * dst_stride[d]] += src[sum i_d * src_stride[d]] over the box shape (no two
   * positions of the box may share a dst element). */
  void (*add_strided) (RmThreadPool *pool, int ndim, const int64_t *shape, float *dst,
                       const int64_t *dst_stride, const float *src, const int64_t *src_stride);
  /* Rows ids[i] of dtable (?, dim) += row i of src (n, dim); ids may repeat. */
  void (*scatter_add_rows) (RmThreadPool *pool, float *dtable, const float *src, int64_t dim,
                            const int64_t *ids, int64_t n);
  /* dst += a * b over shape, b read at b_stride (0 where it broadcasts), as `binary`. */
  void (*mul_acc) (RmThreadPool *pool, float *dst, const float *a, const float *b, int ndim,
                   const int64_t *shape, const int64_t *b_stride);
  /* The gradient of a broadcast operand: dst[sum i_d * b_stride[d]] += alpha * src[i]
   * (* other[i] when other is non-NULL) over shape (src and other contiguous). */
  void (*reduce_broadcast) (RmThreadPool *pool, float *dst, float alpha, const float *src,
                            const float *other, int ndim, const int64_t *shape,
                            const int64_t *b_stride);
  /* dx += dy * f'(x) of GELU (from x), RELU and SIGMOID (from the output y). */
  void (*unary_backward) (RmThreadPool *pool, RmUnaryOp op, float *dx, const float *dy,
                          const float *x, const float *y, int64_t n);
  void (*layernorm_backward) (RmThreadPool *pool, float *dx, float *dw, float *db, const float *dy,
                              const float *x, const float *w, int64_t rows, int64_t dim, float eps);
  void (*layernorm_nchw_backward) (RmThreadPool *pool, float *dx, float *dw, float *db,
                                   const float *dy, const float *x, const float *w, int64_t batch,
                                   int64_t channels, int64_t pixels, float eps);
  /* out: the forward's output (for rowsum(dout * out)). */
  void (*attention_backward) (RmThreadPool *pool, float *dq, float *dk, float *dv,
                              const float *dout, const float *q, const float *k, const float *v,
                              const float *out, const RmAttnDims *d, const uint8_t *key_pad);
  void (*conv2d_backward) (RmThreadPool *pool, float *dx, float *dw, float *db, const float *dy,
                           const float *x, const float *w, const RmConvDims *d);
  void (*conv_transpose2x2_backward) (RmThreadPool *pool, float *dx, float *dw, float *db,
                                      const float *dy, const float *x, const float *w,
                                      int64_t batch, int64_t cin, int64_t h, int64_t width,
                                      int64_t cout);
  /* The gradient goes to the first maximum of each 2x2 window in row-major order (a NaN wins),
   * as PyTorch's max_pool2d indices. */
  void (*maxpool2x2_nhwc_backward) (RmThreadPool *pool, float *dx, const float *dy, const float *x,
                                    int64_t batch, int64_t h, int64_t width, int64_t c);
  void (*upsample_nearest2x_backward) (RmThreadPool *pool, float *dx, const float *dy,
                                       int64_t planes, int64_t h, int64_t width);
  void (*resize_bilinear_backward) (RmThreadPool *pool, float *dx, const float *dy, int64_t planes,
                                    int64_t h, int64_t width, int64_t oh, int64_t ow,
                                    bool antialias);
  void (*resize_bicubic_backward) (RmThreadPool *pool, float *dx, const float *dy, int64_t planes,
                                   int64_t h, int64_t width, int64_t oh, int64_t ow);
  /* dx (batch, h, w, c) += the valid part of the windows dy. */
  void (*window_partition_backward) (RmThreadPool *pool, float *dx, const float *dy, int64_t batch,
                                     int64_t h, int64_t width, int64_t c, int64_t win);
  /* dx windows of a (hp, wp) map += dy (batch, h, w, c) (padding positions get nothing). */
  void (*window_unpartition_backward) (RmThreadPool *pool, float *dx, const float *dy,
                                       int64_t batch, int64_t hp, int64_t wp, int64_t h,
                                       int64_t width, int64_t c, int64_t win);
};

const RmBackend *rm_backend_cpu (void);

/* The CPU backend's exp, vectorised and bit-identical to glibc's expf for every finite x
 * (the softmax and sigmoid kernels use it). Exported for the tests. */
void rm_cpu_expf (float *dst, const float *x, int64_t n);
