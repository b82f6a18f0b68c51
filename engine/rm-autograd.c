/* SPDX-License-Identifier: GPL-3.0-or-later
 * The backward driver: which ops need a gradient, the walk in reverse, and the backward of
 * every RmOpKind expressed with the backend's backward kernels.
 */
#include "rm-autograd.h"
#include "rm-ops.h"

#include "rm-backend.h"
#include "rm-error.h"

#include <inttypes.h>
#include <string.h>

/* Gradient buffers set aside for a checkpointed region's inputs before its scope (see
 * backward_checkpoint); a stack when regions are re-run inside re-runs. */
typedef struct Reserve
{
  const struct Reserve *prev;
  int n;
  const RmTensor *t[RM_TAPE_MAX_INPUTS];
  float *buf[RM_TAPE_MAX_INPUTS];
} Reserve;

struct RmGrad
{
  RmCtx *ctx;
  size_t n_nodes, cap_nodes; /* records indexed (the tape's, plus a region being re-run) */
  float **gout;              /* per node: gradient of its output (NULL: not reached) */
  bool *needs;               /* per node: some input needs a gradient */
  GHashTable *outs;          /* output tensor -> node index + 1 */
  GHashTable *leaves;        /* leaf tensor -> gradient */
  GPtrArray *leaf_order;
  const Reserve *reserve;
};

/* ---- bookkeeping ------------------------------------------------------------------------ */

static int64_t
node_index (const RmGrad *g, const RmTensor *t)
{
  return (int64_t) GPOINTER_TO_SIZE (g_hash_table_lookup (g->outs, t)) - 1;
}

static bool
needs_grad (const RmGrad *g, const RmTensor *t)
{
  if (t == NULL)
    return false;
  int64_t i = node_index (g, t);
  return i >= 0 ? g->needs[i] : t->requires_grad;
}

static float *
zeros_for (RmGrad *g, const RmTensor *t)
{
  int64_t n = rm_tensor_numel (t);
  float *buf = rm_arena_alloc (g->ctx->arena, (size_t) n * sizeof (float));
  g->ctx->backend->fill (g->ctx->pool, buf, n, 0.0f);
  return buf;
}

/* A zeroed buffer for the gradient of recorded tensor t: the one reserved for it when t is an
 * input of the checkpointed region being walked, else a new one. */
static float *
first_grad_buffer (RmGrad *g, const RmTensor *t)
{
  for (const Reserve *r = g->reserve; r != NULL; r = r->prev)
    for (int k = 0; k < r->n; k++)
      if (r->t[k] == t)
        return r->buf[k];
  return zeros_for (g, t);
}

/* The gradient buffer of t (allocated, zeroed, on first use), or NULL when t needs none. */
static float *
grad_of (RmGrad *g, const RmTensor *t)
{
  if (!needs_grad (g, t))
    return NULL;
  int64_t i = node_index (g, t);
  if (i >= 0)
    {
      if (g->gout[i] == NULL)
        g->gout[i] = first_grad_buffer (g, t);
      return g->gout[i];
    }
  float *buf = g_hash_table_lookup (g->leaves, t);
  if (buf == NULL)
    {
      /* Parameters' gradients are owned by g, zeroed by calloc: a large one (an embedding table)
       * gets fresh zero pages from the kernel and only the rows a batch touches are ever
       * written. */
      buf = g_malloc0 ((gsize) MAX (1, rm_tensor_numel (t)) * sizeof (float));
      g_hash_table_insert (g->leaves, (gpointer) t, buf);
      g_ptr_array_add (g->leaf_order, (gpointer) t);
    }
  return buf;
}

static void
contiguous_strides (const RmTensor *t, int64_t *stride)
{
  int64_t s = 1;
  for (int i = t->ndim - 1; i >= 0; i--)
    {
      stride[i] = s;
      s *= t->shape[i];
    }
}

/* ---- the backward of one op --------------------------------------------------------------- */

static void
backward_node (RmGrad *g, const RmTapeNode *node, const float *dy)
{
  RmCtx *ctx = g->ctx;
  const RmBackend *be = ctx->backend;
  RmThreadPool *pool = ctx->pool;
  const RmTensor *out = node->out;
  const RmTensor *x = node->in[0];
  const int64_t n_out = rm_tensor_numel (out);
  float *dx;

  switch (node->op)
    {
    case RM_OP_RESHAPE:
    case RM_OP_COPY: /* gradients are kept in logical layout: a copy is the identity */
      if ((dx = grad_of (g, x)) != NULL)
        be->axpy (pool, dx, 1.0f, dy, n_out);
      break;

    case RM_OP_ROWS:
      if ((dx = grad_of (g, x)) != NULL)
        {
          int64_t row = 1;
          for (int i = 1; i < x->ndim; i++)
            row *= x->shape[i];
          be->axpy (pool, dx + node->i[0] * row, 1.0f, dy, n_out);
        }
      break;

    case RM_OP_PERMUTE:
      if ((dx = grad_of (g, x)) != NULL)
        {
          int64_t xs[RM_MAX_DIMS], ds[RM_MAX_DIMS], os[RM_MAX_DIMS];
          contiguous_strides (x, xs);
          contiguous_strides (out, os);
          for (int i = 0; i < out->ndim; i++)
            ds[i] = xs[node->i[i]];
          be->add_strided (pool, out->ndim, out->shape, dx, ds, dy, os);
        }
      break;

    case RM_OP_CONCAT:
      {
        const int d = (int) node->i[0];
        int64_t os[RM_MAX_DIMS], ps[RM_MAX_DIMS];
        contiguous_strides (out, os);
        for (int k = 0; k < 2; k++)
          {
            const RmTensor *part = node->in[k];
            float *dp = grad_of (g, part);
            if (dp == NULL)
              continue;
            contiguous_strides (part, ps);
            const float *src = dy + (k == 0 ? 0 : node->in[0]->shape[d] * os[d]);
            be->add_strided (pool, part->ndim, part->shape, dp, ps, src, os);
          }
        break;
      }

    case RM_OP_SLICE:
      if ((dx = grad_of (g, x)) != NULL)
        {
          int64_t xs[RM_MAX_DIMS], os[RM_MAX_DIMS];
          contiguous_strides (x, xs);
          contiguous_strides (out, os);
          be->add_strided (pool, out->ndim, out->shape, dx + node->i[1] * xs[node->i[0]], xs, dy,
                           os);
        }
      break;

    case RM_OP_EMBEDDING:
      if ((dx = grad_of (g, x)) != NULL)
        be->scatter_add_rows (pool, dx, dy, x->shape[1], node->ids, node->n_ids);
      break;

    case RM_OP_ADD:
    case RM_OP_SUB:
    case RM_OP_MUL:
      {
        const RmTensor *a = node->in[0], *b = node->in[1];
        int64_t shape[RM_MAX_DIMS], bs[RM_MAX_DIMS];
        const int nd = rm_broadcast_layout (a, b, shape, bs);
        float *da = grad_of (g, a), *db = grad_of (g, b);
        if (n_out == 0)
          break;
        if (node->op == RM_OP_MUL)
          {
            if (da != NULL)
              be->mul_acc (pool, da, dy, b->data, nd, shape, bs);
            if (db != NULL)
              be->reduce_broadcast (pool, db, 1.0f, dy, a->data, nd, shape, bs);
          }
        else
          {
            if (da != NULL)
              be->axpy (pool, da, 1.0f, dy, n_out);
            if (db != NULL)
              be->reduce_broadcast (pool, db, node->op == RM_OP_SUB ? -1.0f : 1.0f, dy, NULL, nd,
                                    shape, bs);
          }
        break;
      }

    case RM_OP_AXPBY:
      for (int k = 0; k < 2; k++)
        if ((dx = grad_of (g, node->in[k])) != NULL)
          be->axpy (pool, dx, node->f[k], dy, n_out);
      break;

    case RM_OP_SCALE:
      if ((dx = grad_of (g, x)) != NULL)
        be->axpy (pool, dx, node->f[0], dy, n_out);
      break;

    case RM_OP_RSUB_SCALAR:
      if ((dx = grad_of (g, x)) != NULL)
        be->axpy (pool, dx, -1.0f, dy, n_out);
      break;

    case RM_OP_GELU:
    case RM_OP_RELU:
    case RM_OP_SIGMOID:
      if ((dx = grad_of (g, x)) != NULL)
        {
          RmUnaryOp op = node->op == RM_OP_GELU   ? RM_UNARY_GELU
                         : node->op == RM_OP_RELU ? RM_UNARY_RELU
                                                  : RM_UNARY_SIGMOID;
          be->unary_backward (pool, op, dx, dy, x->data, out->data, n_out);
        }
      break;

    case RM_OP_LAYERNORM:
      {
        const int64_t dim = x->shape[x->ndim - 1];
        float *dw = grad_of (g, node->in[1]), *db = grad_of (g, node->in[2]);
        dx = grad_of (g, x);
        if (dim > 0 && (dx != NULL || dw != NULL || db != NULL))
          be->layernorm_backward (pool, dx, dw, db, dy, x->data, node->in[1]->data, n_out / dim,
                                  dim, node->f[0]);
        break;
      }

    case RM_OP_LAYERNORM_NCHW:
      {
        float *dw = grad_of (g, node->in[1]), *db = grad_of (g, node->in[2]);
        dx = grad_of (g, x);
        if (dx != NULL || dw != NULL || db != NULL)
          be->layernorm_nchw_backward (pool, dx, dw, db, dy, x->data, node->in[1]->data,
                                       x->shape[0], x->shape[1], x->shape[2] * x->shape[3],
                                       node->f[0]);
        break;
      }

    case RM_OP_LINEAR:
      {
        const RmTensor *w = node->in[1], *b = node->in[2];
        const int64_t n_in = w->shape[1], n_o = w->shape[0];
        const int64_t m = n_o > 0 ? n_out / n_o : 0;
        float *dw = grad_of (g, w), *db = grad_of (g, b);
        dx = grad_of (g, x);
        if (m == 0 || n_o == 0)
          break;
        if (dx != NULL) /* dX (m, in) += dY (m, out) W (out, in) */
          be->gemm (pool, false, false, m, n_in, n_o, 1.0f, dy, n_o, w->data, n_in, 1.0f, dx, n_in);
        if (dw != NULL) /* dW (out, in) += dY^T X */
          be->gemm (pool, true, false, n_o, n_in, m, 1.0f, dy, n_o, x->data, n_in, 1.0f, dw, n_in);
        if (db != NULL)
          be->reduce_broadcast (pool, db, 1.0f, dy, NULL, 2, (const int64_t[]){ m, n_o },
                                (const int64_t[]){ 0, 1 });
        break;
      }

    case RM_OP_MATMUL:
      {
        const RmTensor *a = node->in[0], *b = node->in[1];
        const bool tb = node->i[0] != 0;
        const int nd = a->ndim;
        const int64_t m = a->shape[nd - 2], k = a->shape[nd - 1];
        const int64_t n = out->shape[nd - 1];
        const int64_t batch = m > 0 && n > 0 ? n_out / (m * n) : 0;
        float *da = grad_of (g, a), *db = grad_of (g, b);
        for (int64_t i = 0; i < batch; i++)
          {
            const float *gy = dy + i * m * n, *ai = a->data + i * m * k, *bi = b->data + i * k * n;
            if (da != NULL) /* dA (m, k) += dY op(B)^T */
              be->gemm (pool, false, !tb, m, k, n, 1.0f, gy, n, bi, tb ? k : n, 1.0f,
                        da + i * m * k, k);
            if (db != NULL && !tb) /* dB (k, n) += A^T dY */
              be->gemm (pool, true, false, k, n, m, 1.0f, ai, k, gy, n, 1.0f, db + i * k * n, n);
            if (db != NULL && tb) /* dB (n, k) += dY^T A */
              be->gemm (pool, true, false, n, k, m, 1.0f, gy, n, ai, k, 1.0f, db + i * k * n, k);
          }
        break;
      }

    case RM_OP_ATTENTION:
      {
        const RmTensor *q = node->in[0], *k = node->in[1], *v = node->in[2];
        const int heads = (int) node->i[0];
        RmAttnDims d = {
          .batch = q->shape[0],
          .nq = q->shape[1],
          .nk = k->shape[1],
          .heads = heads,
          .dh = q->shape[2] / heads,
          .dv = v->shape[2] / heads,
          .scale = node->f[0],
        };
        float *dq = grad_of (g, q), *dk = grad_of (g, k), *dvv = grad_of (g, v);
        if (dq != NULL || dk != NULL || dvv != NULL)
          be->attention_backward (pool, dq, dk, dvv, dy, q->data, k->data, v->data, out->data, &d,
                                  node->mask);
        break;
      }

    case RM_OP_CONV2D:
      {
        const RmTensor *w = node->in[1];
        const RmConvDims d = rm_conv2d_dims (x, w, (int) node->i[0], (int) node->i[1]);
        float *dw = grad_of (g, w), *db = grad_of (g, node->in[2]);
        dx = grad_of (g, x);
        if (dx != NULL || dw != NULL || db != NULL)
          be->conv2d_backward (pool, dx, dw, db, dy, x->data, w->data, &d);
        break;
      }

    case RM_OP_CONV_TRANSPOSE2X2:
      {
        const RmTensor *w = node->in[1];
        float *dw = grad_of (g, w), *db = grad_of (g, node->in[2]);
        dx = grad_of (g, x);
        if (dx != NULL || dw != NULL || db != NULL)
          be->conv_transpose2x2_backward (pool, dx, dw, db, dy, x->data, w->data, x->shape[0],
                                          x->shape[1], x->shape[2], x->shape[3], w->shape[1]);
        break;
      }

    case RM_OP_MAXPOOL2X2_NHWC:
      if ((dx = grad_of (g, x)) != NULL)
        be->maxpool2x2_nhwc_backward (pool, dx, dy, x->data, x->shape[0], x->shape[1], x->shape[2],
                                      x->shape[3]);
      break;

    case RM_OP_UPSAMPLE_NEAREST2X:
      if ((dx = grad_of (g, x)) != NULL)
        be->upsample_nearest2x_backward (pool, dx, dy, x->shape[0] * x->shape[1], x->shape[2],
                                         x->shape[3]);
      break;

    case RM_OP_RESIZE_BILINEAR:
    case RM_OP_RESIZE_BICUBIC:
      if ((dx = grad_of (g, x)) != NULL)
        {
          const int64_t planes = x->shape[0] * x->shape[1];
          if (node->op == RM_OP_RESIZE_BICUBIC)
            be->resize_bicubic_backward (pool, dx, dy, planes, x->shape[2], x->shape[3], node->i[0],
                                         node->i[1]);
          else
            be->resize_bilinear_backward (pool, dx, dy, planes, x->shape[2], x->shape[3],
                                          node->i[0], node->i[1], node->i[2] != 0);
        }
      break;

    case RM_OP_WINDOW_PARTITION:
      if ((dx = grad_of (g, x)) != NULL)
        be->window_partition_backward (pool, dx, dy, x->shape[0], x->shape[1], x->shape[2],
                                       x->shape[3], node->i[0]);
      break;

    case RM_OP_WINDOW_UNPARTITION:
      if ((dx = grad_of (g, x)) != NULL)
        be->window_unpartition_backward (pool, dx, dy, out->shape[0], node->i[1], node->i[2],
                                         node->i[3], node->i[4], x->shape[3], node->i[0]);
      break;

    case RM_OP_SUM_ALL:
    case RM_OP_MEAN_ALL:
      if ((dx = grad_of (g, x)) != NULL)
        {
          const int64_t n = rm_tensor_numel (x);
          if (n == 0)
            break;
          float v = node->op == RM_OP_MEAN_ALL ? (float) ((double) dy[0] / (double) n) : dy[0];
          float *tmp = rm_arena_alloc (ctx->arena, (size_t) n * sizeof (float));
          be->fill (pool, tmp, n, v);
          be->axpy (pool, dx, 1.0f, tmp, n);
        }
      break;

    case RM_OP_N_KINDS:
    default:
      RM_CHECK (false, "backward: unknown op %d", (int) node->op);
    }
}

/* ---- the driver ------------------------------------------------------------------------- */

/* Indexes the tape's records [from, to): which need a gradient (an input does, or a checkpointed
 * region reads a trainable tensor), and which tensor each produced. */
static void
index_nodes (RmGrad *g, size_t from, size_t to)
{
  if (to > g->cap_nodes)
    {
      g->cap_nodes = MAX (to, 2 * g->cap_nodes);
      g->gout = g_renew (float *, g->gout, g->cap_nodes);
      g->needs = g_renew (bool, g->needs, g->cap_nodes);
    }
  for (size_t i = from; i < to; i++)
    {
      const RmTapeNode *node = rm_tape_node (g->ctx->tape, i);
      bool need = node->op == RM_OP_CHECKPOINT && node->checkpoint->reads_trainable;
      for (int k = 0; k < node->n_inputs; k++)
        need = need || needs_grad (g, node->in[k]);
      g->gout[i] = NULL;
      g->needs[i] = need;
      g_hash_table_insert (g->outs, node->out, GSIZE_TO_POINTER (i + 1));
    }
  g->n_nodes = to;
}

static void backward_checkpoint (RmGrad *g, size_t first);

/* The backward of the records from..to (to <= from), in reverse. */
static void
walk (RmGrad *g, int64_t from, int64_t to)
{
  for (int64_t i = from; i >= to; i--)
    {
      const RmTapeNode *node = rm_tape_node (g->ctx->tape, (size_t) i);
      if (!g->needs[i])
        continue;
      if (node->op == RM_OP_CHECKPOINT)
        {
          /* A region is re-run once, at its first record: by then every op that used one of its
           * outputs (they all come later on the tape) has added its gradient. */
          if (node->i[0] == 0)
            backward_checkpoint (g, (size_t) i);
        }
      else if (g->gout[i] != NULL)
        backward_node (g, node, g->gout[i]);
    }
}

static bool
is_region_input (const RmCheckpoint *cp, const RmTensor *t)
{
  for (int k = 0; k < cp->n_in; k++)
    if (cp->in[k] == t)
      return true;
  return false;
}

/* The region whose records start at `first`: re-run with recording on, after the end of the tape
 * and in a scope of the arena; its records walked from the gradients of its outputs; then
 * forgotten and their memory given back. Gradients reach the region's inputs and parameters
 * through the same buffers and in the same order as if the region had been recorded in the
 * forward. */
static void
backward_checkpoint (RmGrad *g, size_t first)
{
  RmCtx *ctx = g->ctx;
  RmTape *tape = ctx->tape;
  const RmCheckpoint *cp = rm_tape_node (tape, first)->checkpoint;
  bool reached = false;
  for (int k = 0; k < cp->n_out; k++)
    reached = reached || g->gout[first + k] != NULL;
  if (!reached)
    return;

  /* The inputs' gradients must outlive the scope. A buffer is set aside for each input that may
   * get one and has none yet; it is only taken if the walk reaches the input (one it does not
   * reach keeps no gradient, as in a recorded forward). */
  Reserve r = { .prev = g->reserve };
  for (int k = 0; k < cp->n_in; k++)
    {
      const RmTensor *t = cp->in[k];
      int64_t i = node_index (g, t);
      bool dup = false;
      for (int j = 0; j < r.n; j++)
        dup = dup || r.t[j] == t;
      if (i >= 0 && g->needs[i] && g->gout[i] == NULL && !dup)
        {
          r.t[r.n] = t;
          r.buf[r.n++] = zeros_for (g, t);
        }
    }
  g->reserve = &r;

  const size_t start = rm_tape_len (tape);
  const RmCtxMark mark = rm_ctx_mark (ctx);
  RmTensor *out[RM_TAPE_MAX_INPUTS];
  cp->fn (cp->user, ctx, cp->in, out);
  const size_t end = rm_tape_len (tape);
  index_nodes (g, start, end);
  for (size_t j = start; j < end; j++)
    {
      const RmTapeNode *node = rm_tape_node (tape, j);
      for (int k = 0; k < node->n_inputs; k++)
        {
          int64_t i = node_index (g, node->in[k]);
          RM_CHECK (i < 0 || i >= (int64_t) start || is_region_input (cp, node->in[k]),
                    "checkpoint: the region read recorded tensor %" PRId64
                    " (%s) that is not one of its inputs",
                    i, rm_op_kind_name (rm_tape_node (tape, (size_t) i)->op));
        }
    }
  for (int k = 0; k < cp->n_out; k++)
    {
      const int64_t i = node_index (g, out[k]);
      RM_CHECK (i >= (int64_t) start &&
                    rm_tensor_same_shape (out[k], rm_tape_node (tape, first + k)->out),
                "checkpoint: the re-run did not recompute output %d", k);
      /* The re-run's output stands for the recorded one: its gradient is what the ops after the
       * region have summed so far (ops of the region that read it add theirs in the walk). */
      g->gout[i] = g->gout[first + k];
    }
  walk (g, (int64_t) end - 1, (int64_t) start);

  for (size_t j = start; j < end; j++)
    g_hash_table_remove (g->outs, rm_tape_node (tape, j)->out);
  g->n_nodes = start;
  rm_tape_truncate (tape, start);
  rm_ctx_release (ctx, mark);
  g->reserve = r.prev;
}

RmCheckpointScope
rm_checkpoint_begin (RmCtx *ctx)
{
  RmCheckpointScope scope = { .tape = ctx->tape };
  if (scope.tape != NULL)
    {
      ctx->tape = NULL;
      ctx->watch_trainable = true;
      ctx->saw_trainable = false;
    }
  return scope;
}

void
rm_checkpoint_end (RmCtx *ctx, RmCheckpointScope scope, int n_in, const RmTensor *const *in,
                   int n_out, RmTensor *const *out, RmCheckpointFunc fn, const void *user,
                   size_t user_size)
{
  if (scope.tape == NULL)
    return;
  RM_CHECK (ctx->tape == NULL && ctx->watch_trainable, "checkpoint: end without its begin");
  RM_CHECK (n_in >= 0 && n_in <= RM_TAPE_MAX_INPUTS && n_out >= 1 && n_out <= RM_TAPE_MAX_INPUTS,
            "checkpoint: %d inputs, %d outputs", n_in, n_out);
  RmCheckpoint region = {
    .fn = fn, .n_in = n_in, .n_out = n_out, .reads_trainable = ctx->saw_trainable
  };
  for (int k = 0; k < n_in; k++)
    region.in[k] = in[k];
  for (int k = 0; k < n_out; k++)
    {
      /* An output that is an input, or recorded, or given twice, would have two records. */
      bool fresh =
          out[k]->node == NULL && !out[k]->requires_grad && !is_region_input (&region, out[k]);
      for (int j = 0; j < k; j++)
        fresh = fresh && out[j] != out[k];
      RM_CHECK (fresh, "checkpoint: output %d is not a tensor computed by the region", k);
    }
  ctx->tape = scope.tape;
  ctx->watch_trainable = false;
  ctx->saw_trainable = false;
  rm_tape_append_checkpoint (ctx->tape, &region, user, user_size, out);
}

RmGrad *
rm_backward (RmCtx *ctx, int n_seeds, const RmTensor *const *seeds, const float *const *seed_grads,
             GError **error)
{
  if (ctx->tape == NULL)
    {
      g_set_error (error, RM_ERROR, RM_ERROR_INPUT, "backward: the context records no tape");
      return NULL;
    }
  const RmBackend *be = ctx->backend;
  RM_CHECK (be->attention_backward != NULL, "backend %s has no backward kernels", be->name);
  const RmTape *tape = ctx->tape;
  RmGrad *g = g_new0 (RmGrad, 1);
  g->ctx = ctx;
  g->outs = g_hash_table_new (g_direct_hash, g_direct_equal);
  g->leaves = g_hash_table_new (g_direct_hash, g_direct_equal);
  g->leaf_order = g_ptr_array_new ();
  /* Forward sweep: which ops lead from a requires_grad leaf. */
  index_nodes (g, 0, rm_tape_len (tape));

  int64_t last = -1;
  for (int s = 0; s < n_seeds; s++)
    {
      const RmTensor *t = seeds[s];
      int64_t i = t != NULL ? node_index (g, t) : -1;
      if (t == NULL || (i < 0 && !t->requires_grad))
        {
          g_set_error (error, RM_ERROR, RM_ERROR_INPUT,
                       "backward: seed %d is neither recorded on the tape nor a parameter", s);
          rm_grad_free (g);
          return NULL;
        }
      /* A seed that does not depend on any parameter has nothing to propagate (its own
       * gradient is still kept). */
      float *buf;
      if (i >= 0)
        {
          if (g->gout[i] == NULL)
            g->gout[i] = zeros_for (g, t);
          buf = g->gout[i];
          last = MAX (last, i);
        }
      else
        buf = grad_of (g, t);
      be->axpy (ctx->pool, buf, 1.0f, seed_grads[s], rm_tensor_numel (t));
    }

  walk (g, last, 0);
  return g;
}

const float *
rm_grad_get (const RmGrad *g, const RmTensor *t)
{
  if (g == NULL || t == NULL)
    return NULL;
  int64_t i = node_index (g, t);
  if (i >= 0)
    return g->gout[i];
  return g_hash_table_lookup (g->leaves, t);
}

void
rm_grad_foreach_leaf (const RmGrad *g, RmGradLeafFunc fn, void *user)
{
  for (guint i = 0; i < g->leaf_order->len; i++)
    {
      const RmTensor *t = g_ptr_array_index (g->leaf_order, i);
      fn (user, t, g_hash_table_lookup (g->leaves, t));
    }
}

void
rm_grad_free (RmGrad *g)
{
  if (g == NULL)
    return;
  g_free (g->gout);
  g_free (g->needs);
  g_hash_table_unref (g->outs);
  for (guint i = 0; i < g->leaf_order->len; i++)
    g_free (g_hash_table_lookup (g->leaves, g_ptr_array_index (g->leaf_order, i)));
  g_hash_table_unref (g->leaves);
  g_ptr_array_unref (g->leaf_order);
  g_free (g);
}
