/* SPDX-License-Identifier: GPL-3.0-or-later
 * The op layer: shape checks, output allocation, the backend call and the tape record.
 */
#include "rm-ops.h"

#include "rm-backend.h"
#include "rm-tape.h"

#include <string.h>

/* "[2, 3]" of a tensor, for check messages (the buffer lives until the end of the
 * enclosing block, which includes the failing check). */
#define RM_SHAPE(t) rm_shape_str ((t), (char[96]){ 0 }, 96)

/* Appends a record when a tape is on; NULL (and no cost beyond the tests) otherwise. Inside an
 * unrecorded checkpointed region the operands are only looked at (rm_watch_trainable). */
#define RM_RECORD(ctx, op, out, ...)                                                           \
  ((ctx)->tape != NULL ? rm_tape_append ((ctx)->tape, (op), (out),                             \
                                         (int) (sizeof ((const RmTensor *[]){ __VA_ARGS__ }) / \
                                                sizeof (const RmTensor *)),                    \
                                         (const RmTensor *const[]){ __VA_ARGS__ })             \
   : (ctx)->watch_trainable                                                                    \
       ? rm_watch_trainable (                                                                  \
             (ctx),                                                                            \
             (int) (sizeof ((const RmTensor *[]){ __VA_ARGS__ }) / sizeof (const RmTensor *)), \
             (const RmTensor *const[]){ __VA_ARGS__ })                                         \
       : NULL)

/* Notes a trainable operand of an op run inside an unrecorded checkpointed region; records
 * nothing (returns NULL like RM_RECORD without a tape). */
static RmTapeNode *
rm_watch_trainable (RmCtx *ctx, int n, const RmTensor *const *t)
{
  for (int i = 0; i < n; i++)
    if (t[i] != NULL && t[i]->requires_grad)
      ctx->saw_trainable = true;
  return NULL;
}

/* Every operand must live where the context computes (its backend's device): a host tensor
 * reaching a device context (a weight not uploaded, an input not copied) or a device tensor
 * reaching a host one is a programming error, caught before the kernel dereferences it. NULL
 * operands (optional biases) pass. */
#define RM_OPERANDS(ctx, op, ...)                                                       \
  rm_check_operands (                                                                   \
      (ctx), (op), __FILE__, __LINE__,                                                  \
      (int) (sizeof ((const RmTensor *[]){ __VA_ARGS__ }) / sizeof (const RmTensor *)), \
      (const RmTensor *const[]){ __VA_ARGS__ })

static void
rm_check_operands (const RmCtx *ctx, const char *op, const char *file, int line, int n,
                   const RmTensor *const *t)
{
  const RmDevice device = ctx->backend->device;
  for (int i = 0; i < n; i++)
    if (t[i] != NULL && t[i]->device != device)
      rm_check_failed (file, line, "operand->device == ctx->backend->device",
                       "%s: operand %d %s is on %s, the context computes on %s", op, i + 1,
                       RM_SHAPE (t[i]), rm_device_name (t[i]->device), rm_device_name (device));
}

static void
rm_check_contiguous (const RmTensor *t, const char *what, const char *op)
{
  RM_CHECK (rm_tensor_is_contiguous (t), "%s: %s %s must be contiguous", op, what, RM_SHAPE (t));
}

static int
rm_norm_dim (const RmTensor *x, int dim, const char *op)
{
  int d = dim < 0 ? dim + x->ndim : dim;
  RM_CHECK (d >= 0 && d < x->ndim, "%s: dim %d out of range for %s", op, dim, RM_SHAPE (x));
  return d;
}

/* Allocates an output with x's shape. */
static RmTensor *
rm_new_like (RmCtx *ctx, const RmTensor *x)
{
  return rm_new (ctx, x->ndim, x->shape);
}

/* A vector of n elements (a bias or a norm's weight), or NULL when allowed. */
static void
rm_check_vector (const RmTensor *v, int64_t n, const char *what, const char *op)
{
  RM_CHECK (v != NULL, "%s: %s missing", op, what);
  RM_CHECK (rm_tensor_numel (v) == n && rm_tensor_is_contiguous (v),
            "%s: %s %s must be %lld contiguous values", op, what, RM_SHAPE (v), (long long) n);
}

/* ---- creation / layout ------------------------------------------------------------------ */

RmTensor *
rm_reshape (RmCtx *ctx, const RmTensor *x, int ndim, const int64_t *shape)
{
  RM_OPERANDS (ctx, "reshape", x);
  rm_check_contiguous (x, "input", "reshape");
  RmTensor *out = rm_wrap (ctx, x->data, ndim, shape);
  RM_CHECK (rm_tensor_numel (out) == rm_tensor_numel (x), "reshape: %s to %s changes numel",
            RM_SHAPE (x), RM_SHAPE (out));
  out->device = x->device;
  RM_RECORD (ctx, RM_OP_RESHAPE, out, x);
  return out;
}

RmTensor *
rm_permute (RmCtx *ctx, const RmTensor *x, const int *perm)
{
  RM_OPERANDS (ctx, "permute", x);
  int64_t shape[RM_MAX_DIMS], src_stride[RM_MAX_DIMS];
  bool seen[RM_MAX_DIMS] = { false };
  for (int i = 0; i < x->ndim; i++)
    {
      RM_CHECK (perm[i] >= 0 && perm[i] < x->ndim && !seen[perm[i]],
                "permute: bad permutation of %s at position %d", RM_SHAPE (x), i);
      seen[perm[i]] = true;
      shape[i] = x->shape[perm[i]];
      src_stride[i] = x->stride[perm[i]];
    }
  RmTensor *out = rm_new (ctx, x->ndim, shape);
  ctx->backend->copy_strided (ctx->pool, out->ndim, out->shape, out->data, out->stride, x->data,
                              src_stride);
  RmTapeNode *node = RM_RECORD (ctx, RM_OP_PERMUTE, out, x);
  if (node != NULL)
    for (int i = 0; i < x->ndim; i++)
      node->i[i] = perm[i];
  return out;
}

RmTensor *
rm_copy (RmCtx *ctx, const RmTensor *x)
{
  RM_OPERANDS (ctx, "copy", x);
  RmTensor *out = rm_new_like (ctx, x);
  ctx->backend->copy_strided (ctx->pool, x->ndim, x->shape, out->data, out->stride, x->data,
                              x->stride);
  RM_RECORD (ctx, RM_OP_COPY, out, x);
  return out;
}

RmTensor *
rm_concat (RmCtx *ctx, const RmTensor *a, const RmTensor *b, int dim)
{
  RM_OPERANDS (ctx, "concat", a, b);
  RM_CHECK (a->ndim == b->ndim, "concat: %s and %s differ in rank", RM_SHAPE (a), RM_SHAPE (b));
  const int d = rm_norm_dim (a, dim, "concat");
  int64_t shape[RM_MAX_DIMS];
  for (int i = 0; i < a->ndim; i++)
    {
      RM_CHECK (i == d || a->shape[i] == b->shape[i], "concat: %s and %s differ in dim %d",
                RM_SHAPE (a), RM_SHAPE (b), i);
      shape[i] = i == d ? a->shape[i] + b->shape[i] : a->shape[i];
    }
  RmTensor *out = rm_new (ctx, a->ndim, shape);
  ctx->backend->copy_strided (ctx->pool, a->ndim, a->shape, out->data, out->stride, a->data,
                              a->stride);
  ctx->backend->copy_strided (ctx->pool, b->ndim, b->shape,
                              out->data + a->shape[d] * out->stride[d], out->stride, b->data,
                              b->stride);
  RmTapeNode *node = RM_RECORD (ctx, RM_OP_CONCAT, out, a, b);
  if (node != NULL)
    node->i[0] = d;
  return out;
}

RmTensor *
rm_slice (RmCtx *ctx, const RmTensor *x, int dim, int64_t start, int64_t len)
{
  RM_OPERANDS (ctx, "slice", x);
  const int d = rm_norm_dim (x, dim, "slice");
  RM_CHECK (start >= 0 && len >= 0 && start + len <= x->shape[d],
            "slice: [%lld, %lld) out of range of dim %d of %s", (long long) start,
            (long long) (start + len), d, RM_SHAPE (x));
  int64_t shape[RM_MAX_DIMS];
  memcpy (shape, x->shape, sizeof shape);
  shape[d] = len;
  RmTensor *out = rm_new (ctx, x->ndim, shape);
  ctx->backend->copy_strided (ctx->pool, out->ndim, out->shape, out->data, out->stride,
                              x->data + start * x->stride[d], x->stride);
  RmTapeNode *node = RM_RECORD (ctx, RM_OP_SLICE, out, x);
  if (node != NULL)
    {
      node->i[0] = d;
      node->i[1] = start;
      node->i[2] = len;
    }
  return out;
}

RmTensor *
rm_rows (RmCtx *ctx, const RmTensor *x, int64_t start, int64_t len)
{
  RM_OPERANDS (ctx, "rows", x);
  rm_check_contiguous (x, "input", "rows");
  RM_CHECK (x->ndim >= 1 && start >= 0 && len >= 0 && start + len <= x->shape[0],
            "rows: [%lld, %lld) out of range of %s", (long long) start, (long long) (start + len),
            RM_SHAPE (x));
  int64_t shape[RM_MAX_DIMS], row = 1;
  memcpy (shape, x->shape, sizeof shape);
  shape[0] = len;
  for (int i = 1; i < x->ndim; i++)
    row *= x->shape[i];
  RmTensor *out = rm_wrap (ctx, x->data + start * row, x->ndim, shape);
  out->device = x->device;
  RmTapeNode *node = RM_RECORD (ctx, RM_OP_ROWS, out, x);
  if (node != NULL)
    {
      node->i[0] = start;
      node->i[1] = len;
    }
  return out;
}

RmTensor *
rm_embedding (RmCtx *ctx, const RmTensor *table, const int64_t *ids, int64_t n)
{
  RM_OPERANDS (ctx, "embedding", table);
  RM_CHECK (table->ndim == 2, "embedding: table %s must be (V, D)", RM_SHAPE (table));
  rm_check_contiguous (table, "table", "embedding");
  for (int64_t i = 0; i < n; i++)
    RM_CHECK (ids[i] >= 0 && ids[i] < table->shape[0],
              "embedding: id %lld at %lld out of [0, %lld)", (long long) ids[i], (long long) i,
              (long long) table->shape[0]);
  RmTensor *out = rm_new_2d (ctx, n, table->shape[1]);
  ctx->backend->gather_rows (ctx->pool, out->data, table->data, table->shape[1], ids, n);
  RmTapeNode *node = RM_RECORD (ctx, RM_OP_EMBEDDING, out, table);
  if (node != NULL)
    rm_tape_node_save_ids (node, ids, n);
  return out;
}

/* ---- element-wise ----------------------------------------------------------------------- */

/* b's strides in a's dims (0 where it broadcasts), then dims merged where both sides run on
 * contiguously, so that the kernel's rows are as long as possible. Returns the merged rank. */
int
rm_broadcast_layout (const RmTensor *a, const RmTensor *b, int64_t *shape, int64_t *bs)
{
  int nd = 0;
  const int lead = a->ndim - b->ndim;
  for (int i = 0; i < a->ndim; i++)
    {
      int64_t bdim = i < lead ? 1 : b->shape[i - lead];
      if (a->shape[i] == 1)
        continue;
      int64_t stride = bdim == 1 ? 0 : b->stride[i - lead];
      if (nd > 0 && bs[nd - 1] == stride * a->shape[i])
        {
          shape[nd - 1] *= a->shape[i];
          bs[nd - 1] = stride;
          continue;
        }
      shape[nd] = a->shape[i];
      bs[nd] = stride;
      nd++;
    }
  if (nd == 0)
    {
      shape[0] = 1;
      bs[0] = 0;
      nd = 1;
    }
  return nd;
}

static RmTensor *
rm_binary (RmCtx *ctx, RmBinaryOp op, RmOpKind kind, const RmTensor *a, const RmTensor *b)
{
  RM_OPERANDS (ctx, rm_op_kind_name (kind), a, b);
  const char *name = rm_op_kind_name (kind);
  rm_check_contiguous (a, "a", name);
  rm_check_contiguous (b, "b", name);
  RM_CHECK (b->ndim <= a->ndim, "%s: b %s has more dims than a %s", name, RM_SHAPE (b),
            RM_SHAPE (a));

  const int lead = a->ndim - b->ndim;
  for (int i = 0; i < a->ndim; i++)
    {
      int64_t bdim = i < lead ? 1 : b->shape[i - lead];
      RM_CHECK (bdim == a->shape[i] || bdim == 1, "%s: %s does not broadcast to %s", name,
                RM_SHAPE (b), RM_SHAPE (a));
    }
  int64_t shape[RM_MAX_DIMS], bs[RM_MAX_DIMS];
  const int nd = rm_broadcast_layout (a, b, shape, bs);

  RmTensor *out = rm_new_like (ctx, a);
  if (rm_tensor_numel (a) > 0)
    ctx->backend->binary (ctx->pool, op, out->data, a->data, b->data, nd, shape, bs);
  RM_RECORD (ctx, kind, out, a, b);
  return out;
}

RmTensor *
rm_add (RmCtx *ctx, const RmTensor *a, const RmTensor *b)
{
  return rm_binary (ctx, RM_BINARY_ADD, RM_OP_ADD, a, b);
}

RmTensor *
rm_sub (RmCtx *ctx, const RmTensor *a, const RmTensor *b)
{
  return rm_binary (ctx, RM_BINARY_SUB, RM_OP_SUB, a, b);
}

RmTensor *
rm_mul (RmCtx *ctx, const RmTensor *a, const RmTensor *b)
{
  return rm_binary (ctx, RM_BINARY_MUL, RM_OP_MUL, a, b);
}

RmTensor *
rm_axpby (RmCtx *ctx, float alpha, const RmTensor *a, float beta, const RmTensor *b)
{
  RM_OPERANDS (ctx, "axpby", a, b);
  rm_check_contiguous (a, "a", "axpby");
  rm_check_contiguous (b, "b", "axpby");
  RM_CHECK (rm_tensor_same_shape (a, b), "axpby: %s and %s differ", RM_SHAPE (a), RM_SHAPE (b));
  RmTensor *out = rm_new_like (ctx, a);
  ctx->backend->axpby (ctx->pool, out->data, alpha, a->data, beta, b->data, rm_tensor_numel (a));
  RmTapeNode *node = RM_RECORD (ctx, RM_OP_AXPBY, out, a, b);
  if (node != NULL)
    {
      node->f[0] = alpha;
      node->f[1] = beta;
    }
  return out;
}

static RmTensor *
rm_unary (RmCtx *ctx, RmUnaryOp op, RmOpKind kind, const RmTensor *x, float s)
{
  RM_OPERANDS (ctx, rm_op_kind_name (kind), x);
  rm_check_contiguous (x, "input", rm_op_kind_name (kind));
  RmTensor *out = rm_new_like (ctx, x);
  ctx->backend->unary (ctx->pool, op, out->data, x->data, rm_tensor_numel (x), s);
  RmTapeNode *node = RM_RECORD (ctx, kind, out, x);
  if (node != NULL)
    node->f[0] = s;
  return out;
}

RmTensor *
rm_scale (RmCtx *ctx, const RmTensor *x, float s)
{
  return rm_unary (ctx, RM_UNARY_SCALE, RM_OP_SCALE, x, s);
}

RmTensor *
rm_rsub_scalar (RmCtx *ctx, float s, const RmTensor *x)
{
  return rm_unary (ctx, RM_UNARY_RSUB, RM_OP_RSUB_SCALAR, x, s);
}

RmTensor *
rm_gelu (RmCtx *ctx, const RmTensor *x)
{
  return rm_unary (ctx, RM_UNARY_GELU, RM_OP_GELU, x, 0.0f);
}

RmTensor *
rm_relu (RmCtx *ctx, const RmTensor *x)
{
  return rm_unary (ctx, RM_UNARY_RELU, RM_OP_RELU, x, 0.0f);
}

RmTensor *
rm_sigmoid (RmCtx *ctx, const RmTensor *x)
{
  return rm_unary (ctx, RM_UNARY_SIGMOID, RM_OP_SIGMOID, x, 0.0f);
}

/* ---- normalisation ---------------------------------------------------------------------- */

RmTensor *
rm_layernorm (RmCtx *ctx, const RmTensor *x, const RmTensor *w, const RmTensor *b, float eps)
{
  RM_OPERANDS (ctx, "layernorm", x, w, b);
  rm_check_contiguous (x, "input", "layernorm");
  RM_CHECK (x->ndim >= 1, "layernorm: scalar input");
  const int64_t dim = x->shape[x->ndim - 1];
  rm_check_vector (w, dim, "weight", "layernorm");
  rm_check_vector (b, dim, "bias", "layernorm");
  RmTensor *out = rm_new_like (ctx, x);
  if (dim > 0)
    ctx->backend->layernorm (ctx->pool, out->data, x->data, w->data, b->data,
                             rm_tensor_numel (x) / dim, dim, eps);
  RmTapeNode *node = RM_RECORD (ctx, RM_OP_LAYERNORM, out, x, w, b);
  if (node != NULL)
    node->f[0] = eps;
  return out;
}

RmTensor *
rm_layernorm_nchw (RmCtx *ctx, const RmTensor *x, const RmTensor *w, const RmTensor *b, float eps)
{
  RM_OPERANDS (ctx, "layernorm_nchw", x, w, b);
  rm_check_contiguous (x, "input", "layernorm_nchw");
  RM_CHECK (x->ndim == 4, "layernorm_nchw: input %s must be NCHW", RM_SHAPE (x));
  rm_check_vector (w, x->shape[1], "weight", "layernorm_nchw");
  rm_check_vector (b, x->shape[1], "bias", "layernorm_nchw");
  RmTensor *out = rm_new_like (ctx, x);
  if (x->shape[1] > 0)
    ctx->backend->layernorm_nchw (ctx->pool, out->data, x->data, w->data, b->data, x->shape[0],
                                  x->shape[1], x->shape[2] * x->shape[3], eps);
  RmTapeNode *node = RM_RECORD (ctx, RM_OP_LAYERNORM_NCHW, out, x, w, b);
  if (node != NULL)
    node->f[0] = eps;
  return out;
}

/* ---- matrix products -------------------------------------------------------------------- */

RmTensor *
rm_linear (RmCtx *ctx, const RmTensor *x, const RmTensor *w, const RmTensor *b)
{
  RM_OPERANDS (ctx, "linear", x, w, b);
  rm_check_contiguous (x, "input", "linear");
  rm_check_contiguous (w, "weight", "linear");
  RM_CHECK (x->ndim >= 1 && w->ndim == 2 && w->shape[1] == x->shape[x->ndim - 1],
            "linear: input %s does not match weight %s", RM_SHAPE (x), RM_SHAPE (w));
  const int64_t n_in = w->shape[1], n_out = w->shape[0];
  if (b != NULL)
    rm_check_vector (b, n_out, "bias", "linear");
  int64_t shape[RM_MAX_DIMS];
  memcpy (shape, x->shape, sizeof shape);
  shape[x->ndim - 1] = n_out;
  RmTensor *out = rm_new (ctx, x->ndim, shape);
  const int64_t m = rm_tensor_numel (out) / (n_out > 0 ? n_out : 1);
  ctx->backend->linear (ctx->pool, out->data, x->data, w->data, b != NULL ? b->data : NULL, m, n_in,
                        n_out);
  ctx->flops += (uint64_t) (2 * m * n_in * n_out);
  RM_RECORD (ctx, RM_OP_LINEAR, out, x, w, b);
  return out;
}

RmTensor *
rm_matmul (RmCtx *ctx, const RmTensor *a, const RmTensor *b, bool trans_b)
{
  RM_OPERANDS (ctx, "matmul", a, b);
  rm_check_contiguous (a, "a", "matmul");
  rm_check_contiguous (b, "b", "matmul");
  const int nd = a->ndim;
  RM_CHECK (nd >= 2 && b->ndim == nd, "matmul: %s and %s need equal ranks >= 2", RM_SHAPE (a),
            RM_SHAPE (b));
  int64_t batch = 1;
  for (int i = 0; i < nd - 2; i++)
    {
      RM_CHECK (a->shape[i] == b->shape[i], "matmul: leading dims of %s and %s differ",
                RM_SHAPE (a), RM_SHAPE (b));
      batch *= a->shape[i];
    }
  const int64_t m = a->shape[nd - 2], k = a->shape[nd - 1];
  const int64_t n = trans_b ? b->shape[nd - 2] : b->shape[nd - 1];
  RM_CHECK ((trans_b ? b->shape[nd - 1] : b->shape[nd - 2]) == k,
            "matmul: %s x %s%s: inner sizes differ", RM_SHAPE (a), RM_SHAPE (b),
            trans_b ? "^T" : "");
  int64_t shape[RM_MAX_DIMS];
  memcpy (shape, a->shape, sizeof shape);
  shape[nd - 1] = n;
  RmTensor *out = rm_new (ctx, nd, shape);
  ctx->backend->matmul (ctx->pool, out->data, a->data, b->data, batch, m, n, k, trans_b);
  ctx->flops += (uint64_t) (2 * batch * m * n * k);
  RmTapeNode *node = RM_RECORD (ctx, RM_OP_MATMUL, out, a, b);
  if (node != NULL)
    node->i[0] = trans_b;
  return out;
}

RmTensor *
rm_attention (RmCtx *ctx, const RmTensor *q, const RmTensor *k, const RmTensor *v, int n_heads,
              float scale, const uint8_t *key_pad)
{
  RM_OPERANDS (ctx, "attention", q, k, v);
  rm_check_contiguous (q, "q", "attention");
  rm_check_contiguous (k, "k", "attention");
  rm_check_contiguous (v, "v", "attention");
  RM_CHECK (q->ndim == 3 && k->ndim == 3 && v->ndim == 3,
            "attention: q %s, k %s, v %s must be (B, N, C)", RM_SHAPE (q), RM_SHAPE (k),
            RM_SHAPE (v));
  RM_CHECK (n_heads > 0 && q->shape[2] % n_heads == 0 && v->shape[2] % n_heads == 0,
            "attention: %d heads do not divide q %s / v %s", n_heads, RM_SHAPE (q), RM_SHAPE (v));
  RM_CHECK (k->shape[0] == q->shape[0] && v->shape[0] == q->shape[0] &&
                k->shape[2] == q->shape[2] && v->shape[1] == k->shape[1],
            "attention: q %s, k %s, v %s do not match", RM_SHAPE (q), RM_SHAPE (k), RM_SHAPE (v));
  RmAttnDims d = {
    .batch = q->shape[0],
    .nq = q->shape[1],
    .nk = k->shape[1],
    .heads = n_heads,
    .dh = q->shape[2] / n_heads,
    .dv = v->shape[2] / n_heads,
    .scale = scale,
  };
  RmTensor *out = rm_new_3d (ctx, d.batch, d.nq, v->shape[2]);
  ctx->backend->attention (ctx->pool, out->data, q->data, k->data, v->data, &d, key_pad);
  ctx->flops += (uint64_t) (2 * d.batch * d.heads * d.nq * d.nk * (d.dh + d.dv));
  RmTapeNode *node = RM_RECORD (ctx, RM_OP_ATTENTION, out, q, k, v);
  if (node != NULL)
    {
      node->f[0] = scale;
      node->i[0] = n_heads;
      rm_tape_node_save_mask (node, key_pad, d.batch * d.nk);
    }
  return out;
}

/* ---- convolution / pooling / resampling ------------------------------------------------- */

static void
rm_check_4d (const RmTensor *x, const char *layout, const char *op)
{
  rm_check_contiguous (x, "input", op);
  RM_CHECK (x->ndim == 4, "%s: input %s must be %s", op, RM_SHAPE (x), layout);
}

RmConvDims
rm_conv2d_dims (const RmTensor *x, const RmTensor *w, int stride, int pad)
{
  RmConvDims d = {
    .batch = x->shape[0],
    .cin = x->shape[1],
    .h = x->shape[2],
    .w = x->shape[3],
    .cout = w->shape[0],
    .kh = w->shape[2],
    .kw = w->shape[3],
    .stride = stride,
    .pad = pad,
  };
  d.oh = (d.h + 2 * pad - d.kh) / stride + 1;
  d.ow = (d.w + 2 * pad - d.kw) / stride + 1;
  return d;
}

RmTensor *
rm_conv2d (RmCtx *ctx, const RmTensor *x, const RmTensor *w, const RmTensor *b, int stride, int pad)
{
  RM_OPERANDS (ctx, "conv2d", x, w, b);
  rm_check_4d (x, "NCHW", "conv2d");
  rm_check_contiguous (w, "weight", "conv2d");
  RM_CHECK (w->ndim == 4 && w->shape[1] == x->shape[1], "conv2d: weight %s does not match input %s",
            RM_SHAPE (w), RM_SHAPE (x));
  RM_CHECK (stride >= 1 && pad >= 0, "conv2d: stride %d, pad %d", stride, pad);
  if (b != NULL)
    rm_check_vector (b, w->shape[0], "bias", "conv2d");
  RM_CHECK (x->shape[2] + 2 * pad >= w->shape[2] && x->shape[3] + 2 * pad >= w->shape[3],
            "conv2d: kernel %s larger than padded input %s", RM_SHAPE (w), RM_SHAPE (x));
  const RmConvDims d = rm_conv2d_dims (x, w, stride, pad);
  RmTensor *out = rm_new_4d (ctx, d.batch, d.cout, d.oh, d.ow);
  if (rm_tensor_numel (out) > 0)
    ctx->backend->conv2d (ctx->pool, out->data, x->data, w->data, b != NULL ? b->data : NULL, &d);
  ctx->flops += (uint64_t) (2 * d.batch * d.oh * d.ow * d.cout * d.cin * d.kh * d.kw);
  RmTapeNode *node = RM_RECORD (ctx, RM_OP_CONV2D, out, x, w, b);
  if (node != NULL)
    {
      node->i[0] = stride;
      node->i[1] = pad;
    }
  return out;
}

RmTensor *
rm_conv_transpose2x2 (RmCtx *ctx, const RmTensor *x, const RmTensor *w, const RmTensor *b)
{
  RM_OPERANDS (ctx, "conv_transpose2x2", x, w, b);
  rm_check_4d (x, "NCHW", "conv_transpose2x2");
  rm_check_contiguous (w, "weight", "conv_transpose2x2");
  RM_CHECK (w->ndim == 4 && w->shape[0] == x->shape[1] && w->shape[2] == 2 && w->shape[3] == 2,
            "conv_transpose2x2: weight %s must be (%lld, O, 2, 2)", RM_SHAPE (w),
            (long long) x->shape[1]);
  const int64_t cout = w->shape[1];
  if (b != NULL)
    rm_check_vector (b, cout, "bias", "conv_transpose2x2");
  RmTensor *out = rm_new_4d (ctx, x->shape[0], cout, 2 * x->shape[2], 2 * x->shape[3]);
  ctx->backend->conv_transpose2x2 (ctx->pool, out->data, x->data, w->data,
                                   b != NULL ? b->data : NULL, x->shape[0], x->shape[1],
                                   x->shape[2], x->shape[3], cout);
  ctx->flops += (uint64_t) (2 * rm_tensor_numel (x) * cout * 4);
  RM_RECORD (ctx, RM_OP_CONV_TRANSPOSE2X2, out, x, w, b);
  return out;
}

RmTensor *
rm_maxpool2x2_nhwc (RmCtx *ctx, const RmTensor *x)
{
  RM_OPERANDS (ctx, "maxpool2x2_nhwc", x);
  rm_check_4d (x, "NHWC", "maxpool2x2_nhwc");
  RmTensor *out = rm_new_4d (ctx, x->shape[0], x->shape[1] / 2, x->shape[2] / 2, x->shape[3]);
  ctx->backend->maxpool2x2_nhwc (ctx->pool, out->data, x->data, x->shape[0], x->shape[1],
                                 x->shape[2], x->shape[3]);
  RM_RECORD (ctx, RM_OP_MAXPOOL2X2_NHWC, out, x);
  return out;
}

RmTensor *
rm_upsample_nearest2x (RmCtx *ctx, const RmTensor *x)
{
  RM_OPERANDS (ctx, "upsample_nearest2x", x);
  rm_check_4d (x, "NCHW", "upsample_nearest2x");
  RmTensor *out = rm_new_4d (ctx, x->shape[0], x->shape[1], 2 * x->shape[2], 2 * x->shape[3]);
  ctx->backend->upsample_nearest2x (ctx->pool, out->data, x->data, x->shape[0] * x->shape[1],
                                    x->shape[2], x->shape[3]);
  RM_RECORD (ctx, RM_OP_UPSAMPLE_NEAREST2X, out, x);
  return out;
}

/* Shared by both resizes: checks, output, record. */
static RmTensor *
rm_resize (RmCtx *ctx, RmOpKind kind, const RmTensor *x, int64_t oh, int64_t ow, bool antialias)
{
  RM_OPERANDS (ctx, rm_op_kind_name (kind), x);
  const char *name = rm_op_kind_name (kind);
  rm_check_4d (x, "NCHW", name);
  RM_CHECK (oh > 0 && ow > 0 && x->shape[2] > 0 && x->shape[3] > 0, "%s: %s to (%lld, %lld)", name,
            RM_SHAPE (x), (long long) oh, (long long) ow);
  RmTensor *out = rm_new_4d (ctx, x->shape[0], x->shape[1], oh, ow);
  const int64_t planes = x->shape[0] * x->shape[1];
  if (kind == RM_OP_RESIZE_BICUBIC)
    ctx->backend->resize_bicubic (ctx->pool, out->data, x->data, planes, x->shape[2], x->shape[3],
                                  oh, ow);
  else
    ctx->backend->resize_bilinear (ctx->pool, out->data, x->data, planes, x->shape[2], x->shape[3],
                                   oh, ow, antialias);
  RmTapeNode *node = RM_RECORD (ctx, kind, out, x);
  if (node != NULL)
    {
      node->i[0] = oh;
      node->i[1] = ow;
      node->i[2] = antialias;
    }
  return out;
}

RmTensor *
rm_resize_bilinear (RmCtx *ctx, const RmTensor *x, int64_t oh, int64_t ow, bool antialias)
{
  return rm_resize (ctx, RM_OP_RESIZE_BILINEAR, x, oh, ow, antialias);
}

RmTensor *
rm_resize_bicubic (RmCtx *ctx, const RmTensor *x, int64_t oh, int64_t ow)
{
  return rm_resize (ctx, RM_OP_RESIZE_BICUBIC, x, oh, ow, false);
}

/* ---- Hiera windows ---------------------------------------------------------------------- */

RmTensor *
rm_window_partition (RmCtx *ctx, const RmTensor *x, int w)
{
  RM_OPERANDS (ctx, "window_partition", x);
  rm_check_4d (x, "NHWC", "window_partition");
  RM_CHECK (w > 0, "window_partition: window %d", w);
  const int64_t nwh = (x->shape[1] + w - 1) / w, nww = (x->shape[2] + w - 1) / w;
  RmTensor *out = rm_new_4d (ctx, x->shape[0] * nwh * nww, w, w, x->shape[3]);
  ctx->backend->window_partition (ctx->pool, out->data, x->data, x->shape[0], x->shape[1],
                                  x->shape[2], x->shape[3], w);
  RmTapeNode *node = RM_RECORD (ctx, RM_OP_WINDOW_PARTITION, out, x);
  if (node != NULL)
    node->i[0] = w;
  return out;
}

RmTensor *
rm_window_unpartition (RmCtx *ctx, const RmTensor *x, int w, int64_t hp, int64_t wp, int64_t h,
                       int64_t wdt)
{
  RM_OPERANDS (ctx, "window_unpartition", x);
  rm_check_4d (x, "(B*nW, w, w, C)", "window_unpartition");
  RM_CHECK (w > 0 && x->shape[1] == w && x->shape[2] == w && hp % w == 0 && wp % w == 0 &&
                h <= hp && wdt <= wp && h >= 0 && wdt >= 0,
            "window_unpartition: windows %s of %d on (%lld, %lld) -> (%lld, %lld)", RM_SHAPE (x), w,
            (long long) hp, (long long) wp, (long long) h, (long long) wdt);
  const int64_t nw = (hp / w) * (wp / w);
  RM_CHECK (nw > 0 && x->shape[0] % nw == 0,
            "window_unpartition: %lld windows are not a multiple of %lld per image",
            (long long) x->shape[0], (long long) nw);
  const int64_t batch = x->shape[0] / nw;
  RmTensor *out = rm_new_4d (ctx, batch, h, wdt, x->shape[3]);
  ctx->backend->window_unpartition (ctx->pool, out->data, x->data, batch, hp, wp, h, wdt,
                                    x->shape[3], w);
  RmTapeNode *node = RM_RECORD (ctx, RM_OP_WINDOW_UNPARTITION, out, x);
  if (node != NULL)
    {
      node->i[0] = w;
      node->i[1] = hp;
      node->i[2] = wp;
      node->i[3] = h;
      node->i[4] = wdt;
    }
  return out;
}

/* ---- reductions ------------------------------------------------------------------------- */

static RmTensor *
rm_reduce_all (RmCtx *ctx, RmOpKind kind, const RmTensor *x)
{
  RM_OPERANDS (ctx, rm_op_kind_name (kind), x);
  rm_check_contiguous (x, "input", rm_op_kind_name (kind));
  RmTensor *out = rm_new (ctx, 0, NULL);
  const int64_t n = rm_tensor_numel (x);
  ctx->backend->sum (ctx->pool, out->data, x->data, n, kind == RM_OP_MEAN_ALL ? (double) n : 1.0);
  RM_RECORD (ctx, kind, out, x);
  return out;
}

RmTensor *
rm_sum_all (RmCtx *ctx, const RmTensor *x)
{
  return rm_reduce_all (ctx, RM_OP_SUM_ALL, x);
}

RmTensor *
rm_mean_all (RmCtx *ctx, const RmTensor *x)
{
  return rm_reduce_all (ctx, RM_OP_MEAN_ALL, x);
}
