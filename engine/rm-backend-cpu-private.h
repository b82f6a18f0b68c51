/* SPDX-License-Identifier: GPL-3.0-or-later
 * What the CPU backend's forward kernels (rm-backend-cpu.c) and its backward kernels
 * (rm-backend-cpu-grad.c) share. Internal to the backends: the CUDA backend (kernels/) builds
 * its resize tables with rm_cpu_taps_build too, so that both use the same weights.
 */
#pragma once

#include "rm-backend.h"
#include "rm-tensor.h"

#include <stdlib.h>

/* Smallest number of elements worth handing to another thread. */
#define RM_GRAIN 16384

static inline int64_t
rm_min64 (int64_t a, int64_t b)
{
  return a < b ? a : b;
}

static inline int64_t
rm_max64 (int64_t a, int64_t b)
{
  return a > b ? a : b;
}

/* Rows per parallel item so that an item holds about RM_GRAIN elements. */
static inline int64_t
rm_row_grain (int64_t row_len)
{
  return rm_max64 (1, RM_GRAIN / rm_max64 (1, row_len));
}

/* 64-byte aligned scratch with one spare line, so vector loops may read a little past the end. */
static inline void *
rm_scratch_alloc (size_t bytes)
{
  void *p = aligned_alloc (64, (bytes + 63) / 64 * 64 + 64);
  RM_CHECK (p != NULL, "out of memory (%zu bytes of scratch)", bytes);
  return p;
}

/* im2col of one image for a band of output pixels, as a parallel range over the rows
 * (c, ki, kj) of col (ck x np). Shared by conv2d's forward and its weight gradient. */
typedef struct
{
  float *col;
  const float *x; /* one image (cin, h, w) */
  const RmConvDims *d;
  int64_t p0, np; /* band of output pixels */
} RmIm2colArgs;

void rm_cpu_im2col_range (void *p, int64_t begin, int64_t end, int worker);

/* C (m, n) = (or += when accumulate) A (m, k) B (k, n), single-threaded, for blocks inside a
 * parallel section. A is read at any strides (element (i, p) at a[i*rsa + p*csa]); B and C by
 * rows (leading dimensions ldb, ldc). */
void rm_cpu_tile_gemm (int64_t m, int64_t n, int64_t k, const float *a, int64_t rsa, int64_t csa,
                       const float *b, int64_t ldb, float *c, int64_t ldc, bool accumulate);

/* The 1-D resampling tables of the resize kernels: output o reads inputs index[o*taps + j] with
 * weights weight[o*taps + j] for j < count[o]. */
typedef struct
{
  int64_t n_out;
  int taps;
  int64_t *first;
  int64_t *count;
  int64_t *index;
  float *weight;
} RmCpuTaps;

typedef enum
{
  RM_CPU_TAPS_LINEAR,    /* bilinear, align_corners=False (upsample_bilinear2d) */
  RM_CPU_TAPS_LINEAR_AA, /* PyTorch's antialiased bilinear */
  RM_CPU_TAPS_CUBIC,     /* bicubic A = -0.75, taps clamped to the border */
} RmCpuTapsKind;

void rm_cpu_taps_build (RmCpuTaps *t, RmCpuTapsKind kind, int64_t n_in, int64_t n_out);
void rm_cpu_taps_free (RmCpuTaps *t);

/* C = alpha op(A) op(B) + beta C (+ bias per column), row-major (rm-backend-cpu.c). The work is
 * cut into bands by the shape alone, so the bits do not depend on the number of threads. */
typedef struct
{
  bool trans_a, trans_b;
  int64_t m, n, k, lda, ldb, ldc;
  float alpha, beta;
  const float *a, *b, *bias;
  float *c;
  int64_t band_rows, band_cols; /* set by rm_cpu_gemm_bands */
} RmCpuGemm;

void rm_cpu_gemm_bands (RmThreadPool *pool, RmCpuGemm *g);

/* ---- backward kernels (rm-backend-cpu-grad.c); see the RmBackend entries -------------- */

void rm_cpu_gemm (RmThreadPool *pool, bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k,
                  float alpha, const float *a, int64_t lda, const float *b, int64_t ldb, float beta,
                  float *c, int64_t ldc);
void rm_cpu_axpy (RmThreadPool *pool, float *dst, float alpha, const float *src, int64_t n);
void rm_cpu_add_strided (RmThreadPool *pool, int ndim, const int64_t *shape, float *dst,
                         const int64_t *dst_stride, const float *src, const int64_t *src_stride);
void rm_cpu_scatter_add_rows (RmThreadPool *pool, float *dtable, const float *src, int64_t dim,
                              const int64_t *ids, int64_t n);
void rm_cpu_mul_acc (RmThreadPool *pool, float *dst, const float *a, const float *b, int ndim,
                     const int64_t *shape, const int64_t *b_stride);
void rm_cpu_reduce_broadcast (RmThreadPool *pool, float *dst, float alpha, const float *src,
                              const float *other, int ndim, const int64_t *shape,
                              const int64_t *b_stride);
void rm_cpu_unary_backward (RmThreadPool *pool, RmUnaryOp op, float *dx, const float *dy,
                            const float *x, const float *y, int64_t n);
void rm_cpu_layernorm_backward (RmThreadPool *pool, float *dx, float *dw, float *db,
                                const float *dy, const float *x, const float *w, int64_t rows,
                                int64_t dim, float eps);
void rm_cpu_layernorm_nchw_backward (RmThreadPool *pool, float *dx, float *dw, float *db,
                                     const float *dy, const float *x, const float *w, int64_t batch,
                                     int64_t channels, int64_t pixels, float eps);
void rm_cpu_attention_backward (RmThreadPool *pool, float *dq, float *dk, float *dv,
                                const float *dout, const float *q, const float *k, const float *v,
                                const float *out, const RmAttnDims *d, const uint8_t *key_pad);
void rm_cpu_conv2d_backward (RmThreadPool *pool, float *dx, float *dw, float *db, const float *dy,
                             const float *x, const float *w, const RmConvDims *d);
void rm_cpu_conv_transpose2x2_backward (RmThreadPool *pool, float *dx, float *dw, float *db,
                                        const float *dy, const float *x, const float *w,
                                        int64_t batch, int64_t cin, int64_t h, int64_t width,
                                        int64_t cout);
void rm_cpu_maxpool2x2_nhwc_backward (RmThreadPool *pool, float *dx, const float *dy,
                                      const float *x, int64_t batch, int64_t h, int64_t width,
                                      int64_t c);
void rm_cpu_upsample_nearest2x_backward (RmThreadPool *pool, float *dx, const float *dy,
                                         int64_t planes, int64_t h, int64_t width);
void rm_cpu_resize_bilinear_backward (RmThreadPool *pool, float *dx, const float *dy,
                                      int64_t planes, int64_t h, int64_t width, int64_t oh,
                                      int64_t ow, bool antialias);
void rm_cpu_resize_bicubic_backward (RmThreadPool *pool, float *dx, const float *dy, int64_t planes,
                                     int64_t h, int64_t width, int64_t oh, int64_t ow);
void rm_cpu_window_partition_backward (RmThreadPool *pool, float *dx, const float *dy,
                                       int64_t batch, int64_t h, int64_t width, int64_t c,
                                       int64_t win);
void rm_cpu_window_unpartition_backward (RmThreadPool *pool, float *dx, const float *dy,
                                         int64_t batch, int64_t hp, int64_t wp, int64_t h,
                                         int64_t width, int64_t c, int64_t win);
