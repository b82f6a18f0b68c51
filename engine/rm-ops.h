/* SPDX-License-Identifier: GPL-3.0-or-later
 * The op layer. Model code calls these and never loops over tensor memory itself.
 *
 * Each op checks shapes (RM_CHECK), allocates its output in ctx's arena, calls the kernel of
 * ctx->backend, and, when ctx->tape is non-NULL, records itself (inputs, output, scalars)
 * so that a backward pass can be run later. With ctx->tape == NULL nothing is recorded.
 *
 * All tensors are fp32 and must be contiguous unless stated. Layout names: NCHW = (B,C,H,W),
 * NHWC = (B,H,W,C) (channels-last, as Hiera uses).
 */
#pragma once

#include "rm-backend.h" /* RmConvDims */
#include "rm-tensor.h"

/* ---- creation / layout ---------------------------------------------------------------- */

/* Same data, new shape (numel must match; source must be contiguous). No copy. */
RmTensor *rm_reshape (RmCtx *ctx, const RmTensor *x, int ndim, const int64_t *shape);
/* Materialised permutation: out.shape[i] = x.shape[perm[i]]. */
RmTensor *rm_permute (RmCtx *ctx, const RmTensor *x, const int *perm);
/* Contiguous copy of x (x may be strided). */
RmTensor *rm_copy (RmCtx *ctx, const RmTensor *x);
/* Concatenation of two tensors along dim (all other dims equal). */
RmTensor *rm_concat (RmCtx *ctx, const RmTensor *a, const RmTensor *b, int dim);
/* x[..., start:start+len, ...] along dim, materialised. */
RmTensor *rm_slice (RmCtx *ctx, const RmTensor *x, int dim, int64_t start, int64_t len);
/* Rows [start, start+len) along dim 0 of a contiguous x: a view sharing x's memory (no copy).
 * Its gradient lands in the matching rows of x's (e.g. W_q of a packed in_proj weight). */
RmTensor *rm_rows (RmCtx *ctx, const RmTensor *x, int64_t start, int64_t len);
/* Rows of table (V, D) picked by ids (n) -> (n, D). Ids out of range are a programming error. */
RmTensor *rm_embedding (RmCtx *ctx, const RmTensor *table, const int64_t *ids, int64_t n);

/* ---- element-wise (numpy broadcasting of b against a; output has a's shape) ----------- */

/* For the op layer and the backward pass: the layout rm_add/sub/mul hand to the kernel (b's
 * strides in a's dims, 0 where it broadcasts, contiguous runs merged); returns the rank. */
int rm_broadcast_layout (const RmTensor *a, const RmTensor *b, int64_t *shape, int64_t *bs);

RmTensor *rm_add (RmCtx *ctx, const RmTensor *a, const RmTensor *b);
RmTensor *rm_sub (RmCtx *ctx, const RmTensor *a, const RmTensor *b);
RmTensor *rm_mul (RmCtx *ctx, const RmTensor *a, const RmTensor *b);
/* alpha*a + beta*b (same shapes). */
RmTensor *rm_axpby (RmCtx *ctx, float alpha, const RmTensor *a, float beta, const RmTensor *b);
RmTensor *rm_scale (RmCtx *ctx, const RmTensor *x, float s);
/* s - x (e.g. 1 - z). */
RmTensor *rm_rsub_scalar (RmCtx *ctx, float s, const RmTensor *x);
RmTensor *rm_gelu (RmCtx *ctx, const RmTensor *x); /* exact erf form */
RmTensor *rm_relu (RmCtx *ctx, const RmTensor *x);
RmTensor *rm_sigmoid (RmCtx *ctx, const RmTensor *x);

/* ---- normalisation -------------------------------------------------------------------- */

/* LayerNorm over the last dim (biased variance, torch semantics); w, b of that size. */
RmTensor *rm_layernorm (RmCtx *ctx, const RmTensor *x, const RmTensor *w, const RmTensor *b,
                        float eps);
/* LayerNorm2d of SAM: NCHW, normalised over C for each pixel; w, b of size C. */
RmTensor *rm_layernorm_nchw (RmCtx *ctx, const RmTensor *x, const RmTensor *w, const RmTensor *b,
                             float eps);

/* ---- matrix products ------------------------------------------------------------------ */

/* y = x W^T + b. x (..., in), W (out, in), b (out) or NULL -> (..., out). */
RmTensor *rm_linear (RmCtx *ctx, const RmTensor *x, const RmTensor *w, const RmTensor *b);
/* Batched matmul over equal leading dims: a (..., M, K) x b (..., K, N) -> (..., M, N).
 * trans_b: b is given as (..., N, K). */
RmTensor *rm_matmul (RmCtx *ctx, const RmTensor *a, const RmTensor *b, bool trans_b);

/* Fused, tiled multi-head attention softmax(q k^T * scale + mask) v, never materialising
 * more than a bounded block of scores.
 * q (B, Nq, H*Dh), k (B, Nk, H*Dh), v (B, Nk, H*Dv) -> (B, Nq, H*Dv); head h uses channels
 * h*Dh..(h+1)*Dh-1. key_pad (B, Nk) bytes, non-zero = key masked out (-inf), or NULL.
 * A query whose keys are all masked gets zeros. */
RmTensor *rm_attention (RmCtx *ctx, const RmTensor *q, const RmTensor *k, const RmTensor *v,
                        int n_heads, float scale, const uint8_t *key_pad);

/* ---- convolution / pooling / resampling ----------------------------------------------- */

/* Conv2d, NCHW input, weight (O, I, kh, kw), bias (O) or NULL, square stride and padding. */
RmTensor *rm_conv2d (RmCtx *ctx, const RmTensor *x, const RmTensor *w, const RmTensor *b,
                     int stride, int pad);
/* The sizes the conv2d kernels take, output included, for input x and weight w (checked by
 * rm_conv2d); its backward derives them again from the recorded tensors. */
RmConvDims rm_conv2d_dims (const RmTensor *x, const RmTensor *w, int stride, int pad);
/* ConvTranspose2d with kernel 2, stride 2 (the only one SAM uses): NCHW input,
 * weight (I, O, 2, 2) as PyTorch stores it, bias (O) or NULL -> (B, O, 2H, 2W). */
RmTensor *rm_conv_transpose2x2 (RmCtx *ctx, const RmTensor *x, const RmTensor *w,
                                const RmTensor *b);
/* MaxPool2d(k=2, s=2, floor) on NHWC. */
RmTensor *rm_maxpool2x2_nhwc (RmCtx *ctx, const RmTensor *x);
/* Nearest-neighbour upsampling by 2 on NCHW. */
RmTensor *rm_upsample_nearest2x (RmCtx *ctx, const RmTensor *x);
/* Bilinear, align_corners=False, NCHW -> (B, C, oh, ow). With antialias, PyTorch's
 * antialiased kernel (equal to plain bilinear when upsampling, up to 1 ulp; spec B.2). */
RmTensor *rm_resize_bilinear (RmCtx *ctx, const RmTensor *x, int64_t oh, int64_t ow,
                              bool antialias);
/* Bicubic (A = -0.75), align_corners=False, borders clamped, no antialias; NCHW. */
RmTensor *rm_resize_bicubic (RmCtx *ctx, const RmTensor *x, int64_t oh, int64_t ow);

/* ---- Hiera windows -------------------------------------------------------------------- */

/* NHWC (B, H, W, C) -> (B*nWh*nWw, w, w, C), zero-padding H and W at bottom/right up to
 * multiples of w. Windows row-major per image. */
RmTensor *rm_window_partition (RmCtx *ctx, const RmTensor *x, int w);
/* Inverse: windows (B*nW, w, w, C) of a padded (Hp, Wp) map -> (B, H, W, C) cropped. */
RmTensor *rm_window_unpartition (RmCtx *ctx, const RmTensor *x, int w, int64_t hp, int64_t wp,
                                 int64_t h, int64_t wdt);

/* ---- reductions used by losses -------------------------------------------------------- */

RmTensor *rm_sum_all (RmCtx *ctx, const RmTensor *x);  /* -> shape [] (ndim 0, one value) */
RmTensor *rm_mean_all (RmCtx *ctx, const RmTensor *x); /* -> shape [] */
