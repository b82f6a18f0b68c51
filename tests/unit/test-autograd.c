/* SPDX-License-Identifier: GPL-3.0-or-later
 * rm_backward against central finite differences, op by op, on small random tensors.
 *
 * For an op (or a short composition) y = f(x1, x2, ...) and a fixed random R, the scalar
 * L = sum R * y is accumulated in double from the fp32 outputs. The analytic gradient comes from
 * rm_backward seeded with R; the numeric one from (L(x + h) - L(x - h)) / (h+ + h-) where h+ and
 * h- are the steps actually taken after rounding x +- h to float ("double-checked float").
 *
 * Tolerance: |analytic - numeric| <= ATOL_REL * max |numeric| of that input + RTOL * |numeric|.
 * With h = 1e-2 and inputs of size ~1 the truncation error of a central difference is
 * h^2 f''' / 6 ~ 2e-5 of the scale, and the fp32 rounding of L (sums of a few hundred products,
 * ~1e-7 each) divided by 2h adds ~1e-5..1e-4 of it: measured worst 4e-4 of the scale (a LayerNorm
 * + MLP + attention block), so ATOL_REL = 1.5e-3 and RTOL = 1e-3 keep a margin of ~4 while a 1%
 * error of a gradient (e.g. a wrong scale on one attention input) is caught, let alone a wrong
 * term (a missed broadcast, a transposed operand, a mask leak, a gradient routed to the wrong
 * pooling element), which is off by O(1) of the scale. Piecewise ops (ReLU, max pooling)
 * get inputs at least 2h away from their kinks; pooling ties are checked exactly instead.
 *
 * Every RmOpKind must be covered: the tapes of all checks are scanned and the last test fails
 * when a kind was never differentiated.
 */
#include "rm-autograd.h"
#include "rm-backend.h"
#include "rm-error.h"
#include "rm-ops.h"
#include "rm-tape.h"
#include "test-blas-kernels.h"

#include <glib.h>
#include <math.h>
#include <string.h>

#define H        1e-2
#define ATOL_REL 1.5e-3
#define RTOL     1e-3
/* Elements of one input checked numerically at most (a deterministic spread). */
#define MAX_FD_CHECKS 96

static bool covered[RM_OP_N_KINDS];

/* ---- random numbers --------------------------------------------------------------------- */

static uint64_t rng_state = 1;

static void
rng_seed (uint64_t seed)
{
  rng_state = seed * 0x9E3779B97F4A7C15ull + 1;
}

static float
rng_float (void) /* [-1, 1) */
{
  rng_state ^= rng_state >> 12;
  rng_state ^= rng_state << 25;
  rng_state ^= rng_state >> 27;
  return (float) ((double) ((rng_state * 0x2545F4914F6CDD1Dull) >> 40) / (double) (1 << 23) - 1.0);
}

/* ---- leaves (outside any arena) ----------------------------------------------------------- */

static GPtrArray *leaves;

static RmTensor *
leaf (int ndim, const int64_t *shape, float scale, bool requires_grad)
{
  int64_t n = 1;
  for (int i = 0; i < ndim; i++)
    n *= shape[i];
  RmTensor *t = g_malloc0 (sizeof (RmTensor) + (size_t) (n > 0 ? n : 1) * sizeof (float));
  rm_tensor_init (t, (float *) (t + 1), ndim, shape);
  for (int64_t i = 0; i < n; i++)
    t->data[i] = scale * rng_float ();
  t->requires_grad = requires_grad;
  g_ptr_array_add (leaves, t);
  return t;
}

#define LEAF(scale, ...)                                                \
  leaf ((int) (sizeof ((int64_t[]){ __VA_ARGS__ }) / sizeof (int64_t)), \
        (const int64_t[]){ __VA_ARGS__ }, (scale), true)
#define CONST(scale, ...)                                               \
  leaf ((int) (sizeof ((int64_t[]){ __VA_ARGS__ }) / sizeof (int64_t)), \
        (const int64_t[]){ __VA_ARGS__ }, (scale), false)

/* Moves every value at least `gap` away from 0 (for ReLU's kink). */
static void
away_from_zero (RmTensor *t, float gap)
{
  for (int64_t i = 0; i < rm_tensor_numel (t); i++)
    t->data[i] = t->data[i] < 0 ? t->data[i] - gap : t->data[i] + gap;
}

/* Distinct values on a grid of `step` in a random order (max pooling without near-ties). */
static void
distinct_values (RmTensor *t, float step)
{
  int64_t n = rm_tensor_numel (t);
  for (int64_t i = 0; i < n; i++)
    t->data[i] = step * (float) (i - n / 2);
  for (int64_t i = n - 1; i > 0; i--)
    {
      int64_t j = (int64_t) ((rng_float () + 1.0f) * 0.5f * (float) (i + 1));
      j = j > i ? i : j;
      float tmp = t->data[i];
      t->data[i] = t->data[j];
      t->data[j] = tmp;
    }
}

/* Memory offset of the logical element i of a (possibly strided) tensor. */
static int64_t
offset_of (const RmTensor *t, int64_t i)
{
  int64_t off = 0;
  for (int d = t->ndim - 1; d >= 0; d--)
    {
      off += (i % t->shape[d]) * t->stride[d];
      i /= t->shape[d];
    }
  return off;
}

/* ---- the check ----------------------------------------------------------------------------- */

typedef RmTensor *(*BuildFn) (RmCtx *ctx, RmTensor *const *in, const void *user);

static double
eval_loss (RmCtx *ctx, BuildFn build, RmTensor *const *in, const void *user, const float *r)
{
  RmTensor *y = build (ctx, in, user);
  double l = 0;
  for (int64_t i = 0; i < rm_tensor_numel (y); i++)
    l += (double) r[i] * (double) y->data[i];
  rm_ctx_reset (ctx);
  return l;
}

static void
gradcheck_tol (const char *what, int n_in, RmTensor *const *in, BuildFn build, const void *user,
               double atol_rel)
{
  RmCtx *ctx = rm_ctx_new (2);
  ctx->tape = rm_tape_new ();
  RmTensor *y = build (ctx, in, user);
  const int64_t ny = rm_tensor_numel (y);
  float *r = g_new (float, ny > 0 ? ny : 1);
  for (int64_t i = 0; i < ny; i++)
    r[i] = rng_float ();
  for (size_t i = 0; i < rm_tape_len (ctx->tape); i++)
    covered[rm_tape_node (ctx->tape, i)->op] = true;

  g_autoptr (GError) error = NULL;
  const RmTensor *seeds[1] = { y };
  const float *seed_grads[1] = { r };
  RmGrad *g = rm_backward (ctx, 1, seeds, seed_grads, &error);
  g_assert_no_error (error);

  RmCtx *fd = rm_ctx_new (1);
  for (int k = 0; k < n_in; k++)
    {
      RmTensor *x = in[k];
      const float *an = rm_grad_get (g, x);
      if (!x->requires_grad)
        {
          g_assert_null (an);
          continue;
        }
      g_assert_nonnull (an);
      const int64_t n = rm_tensor_numel (x);
      const int64_t step = n > MAX_FD_CHECKS ? (n + MAX_FD_CHECKS - 1) / MAX_FD_CHECKS : 1;
      double *num = g_new0 (double, n);
      double scale = 0;
      for (int64_t i = 0; i < n; i += step)
        {
          float *p = x->data + offset_of (x, i);
          const float v = *p;
          const float vp = (float) (v + H), vm = (float) (v - H);
          *p = vp;
          double lp = eval_loss (fd, build, in, user, r);
          *p = vm;
          double lm = eval_loss (fd, build, in, user, r);
          *p = v;
          num[i] = (lp - lm) / ((double) vp - (double) vm);
          scale = fmax (scale, fabs (num[i]));
        }
      for (int64_t i = 0; i < n; i += step)
        {
          double err = fabs ((double) an[i] - num[i]);
          double tol = atol_rel * scale + RTOL * fabs (num[i]) + 1e-6;
          if (!(err <= tol))
            {
              g_test_fail_printf ("%s: input %d element %" G_GINT64_FORMAT ": analytic %.7g, "
                                  "numeric %.7g (err %.3g, tol %.3g)",
                                  what, k, (gint64) i, (double) an[i], num[i], err, tol);
              break;
            }
        }
      g_free (num);
    }
  rm_grad_free (g);
  rm_ctx_free (fd);
  rm_tape_free (ctx->tape);
  ctx->tape = NULL;
  rm_ctx_free (ctx);
  g_free (r);
}

static void
gradcheck (const char *what, int n_in, RmTensor *const *in, BuildFn build, const void *user)
{
  gradcheck_tol (what, n_in, in, build, user, ATOL_REL);
}

#define CHECK(what, build, user, ...)                                       \
  do                                                                        \
    {                                                                       \
      RmTensor *const ins_[] = { __VA_ARGS__ };                             \
      gradcheck ((what), (int) G_N_ELEMENTS (ins_), ins_, (build), (user)); \
    }                                                                       \
  while (0)

/* ---- views and layout -------------------------------------------------------------------- */

static RmTensor *
build_reshape_permute (RmCtx *ctx, RmTensor *const *in, const void *user)
{
  RmTensor *x = rm_reshape (ctx, in[0], 4, (const int64_t[]){ 2, 3, 4, 5 });
  return rm_permute (ctx, x, (const int[]){ 2, 0, 3, 1 });
}

static RmTensor *
build_copy_strided (RmCtx *ctx, RmTensor *const *in, const void *user)
{
  return rm_copy (ctx, in[0]);
}

static RmTensor *
build_concat_slice (RmCtx *ctx, RmTensor *const *in, const void *user)
{
  RmTensor *c = rm_concat (ctx, in[0], in[1], 1); /* (2, 3+4, 5) */
  RmTensor *s = rm_slice (ctx, c, 1, 2, 4);       /* straddles the seam */
  return rm_concat (ctx, s, rm_slice (ctx, rm_slice (ctx, c, 2, 1, 3), 1, 3, 4), 2);
}

static RmTensor *
build_rows (RmCtx *ctx, RmTensor *const *in, const void *user)
{
  /* A packed (3E, E) weight taken as three views, the MHA in_proj way. */
  RmTensor *q = rm_linear (ctx, in[1], rm_rows (ctx, in[0], 0, 4), NULL);
  RmTensor *v = rm_linear (ctx, in[1], rm_rows (ctx, in[0], 8, 4), NULL);
  RmTensor *pos = rm_rows (ctx, in[2], 1, 3); /* BEiT position rows, broadcast over the batch */
  return rm_add (ctx, rm_mul (ctx, q, v), pos);
}

static RmTensor *
build_embedding (RmCtx *ctx, RmTensor *const *in, const void *user)
{
  static const int64_t ids[] = { 3, 0, 3, 5, 1, 3, 6 };
  return rm_embedding (ctx, in[0], ids, G_N_ELEMENTS (ids));
}

static void
test_views (void)
{
  RmTensor *x = LEAF (1.0f, 120);
  CHECK ("reshape+permute", build_reshape_permute, NULL, x);

  /* A strided leaf: the transpose of a (4, 6) buffer as a (6, 4) view. */
  RmTensor *buf = LEAF (1.0f, 4, 6);
  RmTensor *view = g_memdup2 (buf, sizeof *buf);
  g_ptr_array_add (leaves, view);
  view->shape[0] = 6;
  view->shape[1] = 4;
  view->stride[0] = 1;
  view->stride[1] = 6;
  buf->requires_grad = false;
  CHECK ("copy of a strided view", build_copy_strided, NULL, view);

  RmTensor *a = LEAF (1.0f, 2, 3, 5), *b = LEAF (1.0f, 2, 4, 5);
  CHECK ("concat+slice", build_concat_slice, NULL, a, b);

  RmTensor *w = LEAF (1.0f, 12, 4), *in = LEAF (1.0f, 2, 3, 4), *pos = LEAF (1.0f, 5, 4);
  CHECK ("rows", build_rows, NULL, w, in, pos);

  RmTensor *table = LEAF (1.0f, 8, 5);
  CHECK ("embedding (repeated ids)", build_embedding, NULL, table);
}

/* ---- element-wise ----------------------------------------------------------------------- */

typedef struct
{
  RmOpKind op;
} BinaryUser;

static RmTensor *
build_binary (RmCtx *ctx, RmTensor *const *in, const void *user)
{
  switch (((const BinaryUser *) user)->op)
    {
    case RM_OP_ADD:
      return rm_add (ctx, in[0], in[1]);
    case RM_OP_SUB:
      return rm_sub (ctx, in[0], in[1]);
    default:
      return rm_mul (ctx, in[0], in[1]);
    }
}

static RmTensor *
build_scalars (RmCtx *ctx, RmTensor *const *in, const void *user)
{
  RmTensor *a = rm_scale (ctx, in[0], -1.7f);
  RmTensor *b = rm_rsub_scalar (ctx, 0.3f, in[1]);
  return rm_axpby (ctx, 0.8f, a, 0.2f, b);
}

static RmTensor *
build_unary (RmCtx *ctx, RmTensor *const *in, const void *user)
{
  switch (((const BinaryUser *) user)->op)
    {
    case RM_OP_GELU:
      return rm_gelu (ctx, in[0]);
    case RM_OP_RELU:
      return rm_relu (ctx, in[0]);
    default:
      return rm_sigmoid (ctx, in[0]);
    }
}

static RmTensor *
build_sums (RmCtx *ctx, RmTensor *const *in, const void *user)
{
  RmTensor *s = rm_sum_all (ctx, in[0]), *m = rm_mean_all (ctx, in[1]);
  return rm_mul (ctx, rm_reshape (ctx, s, 1, (const int64_t[]){ 1 }),
                 rm_reshape (ctx, m, 1, (const int64_t[]){ 1 }));
}

static void
test_elementwise (void)
{
  /* b against a: same shape, trailing vector, middle broadcast, leading 1, scalar, and a
   * b with more ones than a has dims to merge. */
  static const int64_t bshapes[][4] = {
    { 2, 3, 4, 5 }, { 5, 0, 0, 0 }, { 2, 1, 4, 1 }, { 1, 3, 1, 5 }, { 1, 0, 0, 0 }, { 3, 4, 1, 0 },
  };
  static const int bnd[] = { 4, 1, 4, 4, 1, 3 };
  static const RmOpKind ops[] = { RM_OP_ADD, RM_OP_SUB, RM_OP_MUL };
  for (size_t o = 0; o < G_N_ELEMENTS (ops); o++)
    for (size_t s = 0; s < G_N_ELEMENTS (bnd); s++)
      {
        BinaryUser u = { ops[o] };
        RmTensor *a = LEAF (1.0f, 2, 3, 4, 5);
        RmTensor *b = leaf (bnd[s], bshapes[s], 1.0f, true);
        g_autofree char *what = g_strdup_printf ("%s broadcast %zu", rm_op_kind_name (ops[o]), s);
        CHECK (what, build_binary, &u, a, b);
      }
  /* A frozen operand: no gradient for it, the other still gets one. */
  BinaryUser mul = { RM_OP_MUL };
  CHECK ("mul with a constant", build_binary, &mul, LEAF (1.0f, 3, 7), CONST (1.0f, 7));

  CHECK ("scale/rsub/axpby", build_scalars, NULL, LEAF (1.0f, 4, 6), LEAF (1.0f, 4, 6));

  static const RmOpKind unary[] = { RM_OP_GELU, RM_OP_RELU, RM_OP_SIGMOID };
  for (size_t o = 0; o < G_N_ELEMENTS (unary); o++)
    {
      BinaryUser u = { unary[o] };
      RmTensor *x = LEAF (3.0f, 5, 9);
      if (unary[o] == RM_OP_RELU)
        away_from_zero (x, 3 * (float) H);
      CHECK (rm_op_kind_name (unary[o]), build_unary, &u, x);
    }
  CHECK ("sum_all/mean_all", build_sums, NULL, LEAF (1.0f, 3, 5), LEAF (1.0f, 2, 7));
}

/* ---- normalisation and products ---------------------------------------------------------- */

static RmTensor *
build_layernorm (RmCtx *ctx, RmTensor *const *in, const void *user)
{
  return rm_layernorm (ctx, in[0], in[1], in[2], 1e-5f);
}

static RmTensor *
build_layernorm_nchw (RmCtx *ctx, RmTensor *const *in, const void *user)
{
  return rm_layernorm_nchw (ctx, in[0], in[1], in[2], 1e-6f);
}

static RmTensor *
build_linear (RmCtx *ctx, RmTensor *const *in, const void *user)
{
  return rm_linear (ctx, in[0], in[1], in[2]);
}

static RmTensor *
build_linear_nobias (RmCtx *ctx, RmTensor *const *in, const void *user)
{
  return rm_linear (ctx, in[0], in[1], NULL);
}

static RmTensor *
build_matmul (RmCtx *ctx, RmTensor *const *in, const void *user)
{
  return rm_matmul (ctx, in[0], in[1], *(const bool *) user);
}

static void
test_norms_products (void)
{
  RmTensor *x = LEAF (2.0f, 2, 3, 7), *w = LEAF (1.0f, 7), *b = LEAF (1.0f, 7);
  CHECK ("layernorm", build_layernorm, NULL, x, w, b);
  RmTensor *x4 = LEAF (2.0f, 2, 5, 3, 4), *w4 = LEAF (1.0f, 5), *b4 = LEAF (1.0f, 5);
  CHECK ("layernorm_nchw", build_layernorm_nchw, NULL, x4, w4, b4);

  CHECK ("linear", build_linear, NULL, LEAF (1.0f, 2, 3, 6), LEAF (1.0f, 5, 6), LEAF (1.0f, 5));
  /* A frozen weight: the input's gradient flows through it, the weight gets none. */
  CHECK ("linear, frozen weight", build_linear_nobias, NULL, LEAF (1.0f, 4, 6), CONST (1.0f, 3, 6));

  bool tb = false;
  CHECK ("matmul", build_matmul, &tb, LEAF (1.0f, 2, 3, 4), LEAF (1.0f, 2, 4, 5));
  tb = true;
  CHECK ("matmul b^T", build_matmul, &tb, LEAF (1.0f, 2, 3, 4), LEAF (1.0f, 2, 5, 4));
}

typedef struct
{
  int heads;
  float scale;
  const uint8_t *pad;
} AttnUser;

static RmTensor *
build_attention (RmCtx *ctx, RmTensor *const *in, const void *user)
{
  const AttnUser *u = user;
  return rm_attention (ctx, in[0], in[1], in[2], u->heads, u->scale, u->pad);
}

static void
test_attention (void)
{
  /* Two heads, dh != dv, Nq != Nk, masked keys (batch 1 has every key but one masked). */
  uint8_t pad[2 * 9] = { 0, 1, 0, 0, 1, 0, 0, 0, 1, /* */ 1, 1, 1, 1, 0, 1, 1, 1, 1 };
  AttnUser u = { 2, 0.7f, pad };
  CHECK ("attention, masked keys", build_attention, &u, LEAF (1.0f, 2, 5, 6), LEAF (1.0f, 2, 9, 6),
         LEAF (1.0f, 2, 9, 4));
  /* Every key masked: output 0, no gradient anywhere (and no NaN). */
  uint8_t all[1 * 4] = { 1, 1, 1, 1 };
  AttnUser v = { 1, 1.0f, all };
  CHECK ("attention, all keys masked", build_attention, &v, LEAF (1.0f, 1, 3, 2),
         LEAF (1.0f, 1, 4, 2), LEAF (1.0f, 1, 4, 2));
  /* More queries and keys than one block of the backward (64 / 256): sampled elements. */
  /* With 300 keys each key's gradient is ~1/300 of the loss's scale while L's fp32 rounding is
   * not: measured numeric noise up to 1e-3 of the k gradient's scale, hence 4e-3 here. */
  AttnUser w = { 1, 0.5f, NULL };
  RmTensor *const big[] = { LEAF (1.0f, 1, 70, 3), LEAF (1.0f, 1, 300, 3), LEAF (1.0f, 1, 300, 2) };
  gradcheck_tol ("attention, several blocks", 3, big, build_attention, &w, 4e-3);
  /* A frozen q: k and v still get their gradient. */
  RmTensor *q = CONST (1.0f, 1, 4, 4);
  AttnUser z = { 2, 0.5f, NULL };
  CHECK ("attention, frozen q", build_attention, &z, q, LEAF (1.0f, 1, 6, 4), LEAF (1.0f, 1, 6, 4));
}

/* ---- convolution, pooling, resampling, windows ------------------------------------------- */

typedef struct
{
  int stride, pad;
} ConvUser;

static RmTensor *
build_conv (RmCtx *ctx, RmTensor *const *in, const void *user)
{
  const ConvUser *u = user;
  return rm_conv2d (ctx, in[0], in[1], in[2], u->stride, u->pad);
}

static RmTensor *
build_conv_t (RmCtx *ctx, RmTensor *const *in, const void *user)
{
  return rm_conv_transpose2x2 (ctx, in[0], in[1], in[2]);
}

static RmTensor *
build_maxpool (RmCtx *ctx, RmTensor *const *in, const void *user)
{
  return rm_maxpool2x2_nhwc (ctx, in[0]);
}

static RmTensor *
build_nearest (RmCtx *ctx, RmTensor *const *in, const void *user)
{
  return rm_upsample_nearest2x (ctx, in[0]);
}

typedef struct
{
  int64_t oh, ow;
  bool antialias, cubic;
} ResizeUser;

static RmTensor *
build_resize (RmCtx *ctx, RmTensor *const *in, const void *user)
{
  const ResizeUser *u = user;
  return u->cubic ? rm_resize_bicubic (ctx, in[0], u->oh, u->ow)
                  : rm_resize_bilinear (ctx, in[0], u->oh, u->ow, u->antialias);
}

typedef struct
{
  int win, ws;
} WindowUser;

static RmTensor *
build_windows (RmCtx *ctx, RmTensor *const *in, const void *user)
{
  /* Partition with padding, something per window, then back with another window size over the
   * same (cropped) map, as Hiera's pooling blocks do. */
  const WindowUser *u = user;
  const RmTensor *x = in[0];
  RmTensor *w = rm_window_partition (ctx, x, u->win);
  w = rm_mul (ctx, w, w);
  const int64_t h = x->shape[1], wd = x->shape[2];
  const int64_t hp = (h + u->win - 1) / u->win * u->win, wp = (wd + u->win - 1) / u->win * u->win;
  RmTensor *back = rm_window_unpartition (ctx, w, u->win, hp, wp, h, wd);
  RmTensor *w2 = rm_window_partition (ctx, back, u->ws);
  const int64_t hp2 = (h + u->ws - 1) / u->ws * u->ws, wp2 = (wd + u->ws - 1) / u->ws * u->ws;
  return rm_window_unpartition (ctx, w2, u->ws, hp2, wp2, h - 1, wd - 2);
}

static void
test_spatial (void)
{
  ConvUser c1 = { 2, 1 }, c2 = { 1, 0 }, c3 = { 4, 0 };
  CHECK ("conv2d 3x3 s2 p1", build_conv, &c1, LEAF (1.0f, 2, 3, 7, 6), LEAF (1.0f, 4, 3, 3, 3),
         LEAF (1.0f, 4));
  CHECK ("conv2d 1x1", build_conv, &c2, LEAF (1.0f, 2, 5, 3, 4), LEAF (1.0f, 3, 5, 1, 1),
         LEAF (1.0f, 3));
  CHECK ("conv2d patch 4x4 s4, frozen input", build_conv, &c3, CONST (1.0f, 1, 2, 8, 8),
         LEAF (1.0f, 3, 2, 4, 4), LEAF (1.0f, 3));
  CHECK ("conv_transpose2x2", build_conv_t, NULL, LEAF (1.0f, 2, 3, 3, 2), LEAF (1.0f, 3, 4, 2, 2),
         LEAF (1.0f, 4));

  RmTensor *p = LEAF (1.0f, 2, 5, 7, 3); /* odd sizes: the last row and column are dropped */
  distinct_values (p, 5 * (float) H);
  CHECK ("maxpool2x2_nhwc", build_maxpool, NULL, p);
  CHECK ("upsample_nearest2x", build_nearest, NULL, LEAF (1.0f, 2, 2, 3, 4));

  const ResizeUser rs[] = {
    { 9, 7, false, false },  /* bilinear up */
    { 3, 4, false, false },  /* bilinear down */
    { 11, 13, true, false }, /* antialias up (plain bilinear) */
    { 3, 2, true, false },   /* antialias down (wide triangle) */
    { 5, 6, true, false },   /* antialias, width unchanged: one axis skipped */
    { 8, 9, false, true },   /* bicubic up, clamped border taps */
    { 4, 3, false, true },   /* bicubic down */
  };
  for (size_t i = 0; i < G_N_ELEMENTS (rs); i++)
    {
      g_autofree char *what = g_strdup_printf ("resize %zu", i);
      CHECK (what, build_resize, &rs[i], LEAF (1.0f, 2, 1, 5, 6));
    }

  WindowUser w = { 4, 2 };
  CHECK ("windows with padding", build_windows, &w, LEAF (1.0f, 2, 6, 7, 3));
}

/* Ties in a pooling window: the first maximum in row-major order takes the gradient (PyTorch's
 * max_pool2d index), the others none. Checked exactly, not numerically. */
static void
test_pool_ties (void)
{
  RmCtx *ctx = rm_ctx_new (1);
  ctx->tape = rm_tape_new ();
  RmTensor *x = LEAF (1.0f, 1, 4, 4, 2);
  /* channel 0: all four equal; channel 1: tie between (0,1) and (1,1) */
  for (int64_t i = 0; i < 4 * 4; i++)
    {
      x->data[2 * i] = 0.5f;
      x->data[2 * i + 1] = -1.0f;
    }
  for (int oy = 0; oy < 2; oy++)
    for (int ox = 0; ox < 2; ox++)
      {
        x->data[((2 * oy) * 4 + 2 * ox + 1) * 2 + 1] = 2.0f;
        x->data[((2 * oy + 1) * 4 + 2 * ox + 1) * 2 + 1] = 2.0f;
      }
  RmTensor *y = rm_maxpool2x2_nhwc (ctx, x);
  float ones[8] = { 1, 1, 1, 1, 1, 1, 1, 1 };
  const RmTensor *seeds[] = { y };
  const float *grads[] = { ones };
  RmGrad *g = rm_backward (ctx, 1, seeds, grads, NULL);
  const float *dx = rm_grad_get (g, x);
  for (int yy = 0; yy < 4; yy++)
    for (int xx = 0; xx < 4; xx++)
      {
        const bool first = yy % 2 == 0 && xx % 2 == 0;
        const bool first_of_tie = yy % 2 == 0 && xx % 2 == 1;
        g_assert_cmpfloat (dx[(yy * 4 + xx) * 2], ==, first ? 1.0f : 0.0f);
        g_assert_cmpfloat (dx[(yy * 4 + xx) * 2 + 1], ==, first_of_tie ? 1.0f : 0.0f);
      }
  rm_grad_free (g);
  rm_tape_free (ctx->tape);
  ctx->tape = NULL;
  rm_ctx_free (ctx);
}

/* ---- the driver: reuse, frozen paths, unreached leaves, errors, determinism ---------------- */

static RmTensor *
build_block (RmCtx *ctx, RmTensor *const *in, const void *user)
{
  /* x -> LN -> linear (trainable) -> GELU -> linear (frozen) -> + x (x used twice) -> attention
   * with itself -> mean. in: x, ln w, ln b, w1, b1, w2 (frozen), unused (trainable, unreached). */
  RmTensor *h = rm_layernorm (ctx, in[0], in[1], in[2], 1e-6f);
  h = rm_gelu (ctx, rm_linear (ctx, h, in[3], in[4]));
  h = rm_add (ctx, rm_linear (ctx, h, in[5], NULL), in[0]);
  (void) rm_linear (ctx, h, in[6], NULL); /* computed, but not part of the loss */
  RmTensor *a = rm_attention (ctx, h, h, h, 2, 0.5f, NULL);
  return rm_mean_all (ctx, rm_mul (ctx, a, a));
}

static void
count_leaf (void *user, const RmTensor *t, const float *grad)
{
  g_assert_true (t->requires_grad && grad != NULL);
  (*(int *) user)++;
}

static void
test_block (void)
{
  RmTensor *x = LEAF (1.0f, 2, 5, 6), *lw = LEAF (1.0f, 6), *lb = LEAF (1.0f, 6);
  RmTensor *w1 = LEAF (0.5f, 8, 6), *b1 = LEAF (0.5f, 8), *w2 = CONST (0.5f, 6, 8);
  RmTensor *unused = LEAF (1.0f, 3, 6);
  RmTensor *const in[] = { x, lw, lb, w1, b1, w2, unused };
  unused->requires_grad = false; /* checked separately below: gradcheck wants a grad for leaves */
  gradcheck ("block", G_N_ELEMENTS (in), in, build_block, NULL);

  /* The unreached trainable leaf and the frozen one get no gradient; an intermediate does. */
  unused->requires_grad = true;
  RmCtx *ctx = rm_ctx_new (1);
  ctx->tape = rm_tape_new ();
  RmTensor *y = build_block (ctx, in, NULL);
  float one = 1.0f;
  const RmTensor *seeds[] = { y };
  const float *grads[] = { &one };
  RmGrad *g = rm_backward (ctx, 1, seeds, grads, NULL);
  g_assert_null (rm_grad_get (g, unused));
  g_assert_null (rm_grad_get (g, w2));
  g_assert_nonnull (rm_grad_get (g, w1));
  g_assert_nonnull (rm_grad_get (g, rm_tape_node (ctx->tape, 0)->out));
  g_assert_cmpfloat (rm_grad_get (g, y)[0], ==, 1.0f);
  int n_leaves = 0;
  rm_grad_foreach_leaf (g, count_leaf, &n_leaves);
  g_assert_cmpint (n_leaves, ==, 5); /* x, LN w and b, w1, b1 */
  rm_grad_free (g);

  /* Errors: a seed that is not on the tape, and no tape. */
  g_autoptr (GError) error = NULL;
  RmTensor *stray = CONST (1.0f, 1);
  const RmTensor *bad[] = { stray };
  g_assert_null (rm_backward (ctx, 1, bad, grads, &error));
  g_assert_error (error, RM_ERROR, RM_ERROR_INPUT);
  rm_tape_free (ctx->tape);
  ctx->tape = NULL;
  g_clear_error (&error);
  g_assert_null (rm_backward (ctx, 1, seeds, grads, &error));
  g_assert_nonnull (error);
  rm_ctx_free (ctx);
}

/* Gradients do not depend on the number of threads (fixed reduction order), on sizes that take
 * the K-split GEMM, chunked bias/LayerNorm reductions and several attention blocks. */
static void
grads_with_threads (int threads, RmTensor *const *in, float **out, int n_out)
{
  RmCtx *ctx = rm_ctx_new (threads);
  ctx->tape = rm_tape_new ();
  RmTensor *h = rm_layernorm (ctx, in[0], in[1], in[2], 1e-6f);
  h = rm_linear (ctx, h, in[3], in[4]);
  RmTensor *a = rm_attention (ctx, h, h, h, 2, 0.3f, NULL);
  RmTensor *y = rm_add (ctx, a, in[5]);
  float *r = g_new (float, rm_tensor_numel (y));
  uint64_t s = rng_state;
  for (int64_t i = 0; i < rm_tensor_numel (y); i++)
    r[i] = rng_float ();
  rng_state = s;
  const RmTensor *seeds[] = { y };
  const float *grads[] = { r };
  RmGrad *g = rm_backward (ctx, 1, seeds, grads, NULL);
  for (int k = 0; k < n_out; k++)
    out[k] = g_memdup2 (rm_grad_get (g, in[k]), (gsize) rm_tensor_numel (in[k]) * sizeof (float));
  rm_grad_free (g);
  g_free (r);
  rm_tape_free (ctx->tape);
  ctx->tape = NULL;
  rm_ctx_free (ctx);
}

static void
test_thread_invariance (void)
{
  RmTensor *const in[] = { LEAF (1.0f, 1, 4500, 8), LEAF (1.0f, 8), LEAF (1.0f, 8),
                           LEAF (0.5f, 8, 8),       LEAF (1.0f, 8), LEAF (1.0f, 8) };
  float *g1[6], *g3[6];
  grads_with_threads (1, in, g1, 6);
  grads_with_threads (3, in, g3, 6);
  for (int k = 0; k < 6; k++)
    {
      g_assert_cmpmem (g1[k], rm_tensor_numel (in[k]) * 4, g3[k], rm_tensor_numel (in[k]) * 4);
      g_free (g1[k]);
      g_free (g3[k]);
    }
}

/* The same with each of OpenBLAS's kernel families this CPU can run: with the Haswell and Zen
 * kernels the bits of a GEMM depend on the size of the call, which once made them depend on the
 * thread count. */
static void
test_thread_invariance_blas_kernels (void)
{
  rm_test_rerun_with_blas_kernels ("/autograd/thread-invariance");
}

/* ---- checkpointed regions (rm_checkpoint_begin/_end) ------------------------------------- */

/* A region with two inputs and two outputs: out0 = x + attention(linear(LN(x)), t, t) reads
 * both inputs and p[0..3] (LN w, b, linear w, b); out1 = linear(t, p[4]) reads only t. */
typedef struct
{
  RmTensor *const *p;
} Region;

static void
region_run (const void *user, RmCtx *ctx, const RmTensor *const *in, RmTensor **out)
{
  RmTensor *const *p = ((const Region *) user)->p;
  RmTensor *h = rm_linear (ctx, rm_layernorm (ctx, in[0], p[0], p[1], 1e-6f), p[2], p[3]);
  out[0] = rm_add (ctx, in[0], rm_attention (ctx, h, in[1], in[1], 2, 0.4f, NULL));
  out[1] = rm_linear (ctx, in[1], p[4], NULL);
}

typedef struct
{
  bool checkpoint;
  bool use_out1; /* the loss reads the second output */
} RegionUse;

/* in: x0, t, the region's five parameters, v. The region's x input is computed on the tape
 * (x0 * 1.5), t is a leaf; loss = mean(out0 * v) (+ mean(out1 * out1)). */
static RmTensor *
build_region (RmCtx *ctx, RmTensor *const *in, const void *user)
{
  const RegionUse *use = user;
  const RmTensor *rin[2] = { rm_scale (ctx, in[0], 1.5f), in[1] };
  const Region region = { in + 2 };
  RmTensor *out[2];
  RmCheckpointScope scope = { NULL };
  if (use->checkpoint)
    scope = rm_checkpoint_begin (ctx);
  region_run (&region, ctx, rin, out);
  if (use->checkpoint)
    rm_checkpoint_end (ctx, scope, 2, rin, 2, out, region_run, &region, sizeof region);
  RmTensor *y = rm_mean_all (ctx, rm_mul (ctx, out[0], in[7]));
  return use->use_out1 ? rm_add (ctx, y, rm_mean_all (ctx, rm_mul (ctx, out[1], out[1]))) : y;
}

typedef struct
{
  GPtrArray *leaves, *grads;
  bool out0_reached;
} RegionGrads;

static void
keep_leaf_grad (void *user, const RmTensor *leaf, const float *grad)
{
  RegionGrads *r = user;
  g_ptr_array_add (r->leaves, (gpointer) leaf);
  g_ptr_array_add (r->grads, g_memdup2 (grad, (gsize) rm_tensor_numel (leaf) * sizeof (float)));
}

static void
region_grads (RmTensor *const *in, const RegionUse *use, RegionGrads *r)
{
  RmCtx *ctx = rm_ctx_new (2);
  ctx->tape = rm_tape_new ();
  RmTensor *y = build_region (ctx, in, use);
  float one = 1.0f;
  const RmTensor *seeds[] = { y };
  const float *grads[] = { &one };
  RmGrad *g = rm_backward (ctx, 1, seeds, grads, NULL);
  r->leaves = g_ptr_array_new ();
  r->grads = g_ptr_array_new_with_free_func (g_free);
  rm_grad_foreach_leaf (g, keep_leaf_grad, r);
  /* the mul reading out0 is the tape's last-but-one record */
  const RmTapeNode *mul =
      rm_tape_node (ctx->tape, rm_tape_len (ctx->tape) - (use->use_out1 ? 5 : 2));
  g_assert_cmpint (mul->op, ==, RM_OP_MUL);
  r->out0_reached = rm_grad_get (g, mul->in[0]) != NULL;
  rm_grad_free (g);
  rm_tape_free (ctx->tape);
  ctx->tape = NULL;
  rm_ctx_free (ctx);
}

/* Recorded and checkpointed, the same leaves get the same gradients to the bit. */
static void
check_region_same (RmTensor *const *in, bool use_out1, int want_leaves, bool want_out0)
{
  RegionUse plain_use = { false, use_out1 }, cp_use = { true, use_out1 };
  RegionGrads plain, cp;
  region_grads (in, &plain_use, &plain);
  region_grads (in, &cp_use, &cp);
  g_assert_cmpint (plain.leaves->len, ==, want_leaves);
  g_assert_cmpint (cp.leaves->len, ==, plain.leaves->len);
  g_assert_cmpint (cp.out0_reached, ==, want_out0);
  g_assert_cmpint (plain.out0_reached, ==, want_out0);
  for (guint i = 0; i < plain.leaves->len; i++)
    {
      const RmTensor *t = g_ptr_array_index (plain.leaves, i);
      g_assert_true (g_ptr_array_index (cp.leaves, i) == t);
      g_assert_cmpmem (g_ptr_array_index (cp.grads, i), rm_tensor_numel (t) * 4,
                       g_ptr_array_index (plain.grads, i), rm_tensor_numel (t) * 4);
    }
  for (int k = 0; k < 2; k++)
    {
      RegionGrads *r = k ? &cp : &plain;
      g_ptr_array_unref (r->leaves);
      g_ptr_array_unref (r->grads);
    }
}

static void
test_checkpoint (void)
{
  RmTensor *in[] = { LEAF (1.0f, 2, 5, 8), LEAF (1.0f, 2, 3, 8), LEAF (1.0f, 8),
                     LEAF (1.0f, 8),       LEAF (0.5f, 8, 8),    LEAF (0.5f, 8),
                     LEAF (0.5f, 6, 8),    LEAF (1.0f, 2, 5, 8) };
  /* Against finite differences, both outputs used (covers RM_OP_CHECKPOINT). */
  const RegionUse both = { true, true };
  gradcheck ("checkpoint", G_N_ELEMENTS (in), in, build_region, &both);

  /* Bit-identical to the recorded region: all 8 leaves reached. */
  check_region_same (in, true, 8, true);
  /* The second output unused: its weight p[4] gets no gradient, as when recorded. */
  check_region_same (in, false, 7, true);
  /* Nothing before the region trainable, but a weight inside it is: the region is re-run (its
   * record knows it reads a trainable tensor) and only that weight and v get gradients. */
  for (int k = 0; k < 8; k++)
    in[k]->requires_grad = k == 4 || k == 7;
  check_region_same (in, false, 2, true);
  /* Nothing in or before the region trainable: its outputs need no gradient at all. */
  in[4]->requires_grad = false;
  check_region_same (in, false, 1, false);
}

static void
test_coverage (void)
{
  for (int k = 0; k < RM_OP_N_KINDS; k++)
    if (!covered[k])
      g_test_fail_printf ("op kind %s has no gradient check", rm_op_kind_name ((RmOpKind) k));
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  rng_seed (20250611);
  leaves = g_ptr_array_new_with_free_func (g_free);
  g_test_add_func ("/autograd/views", test_views);
  g_test_add_func ("/autograd/elementwise", test_elementwise);
  g_test_add_func ("/autograd/norms-products", test_norms_products);
  g_test_add_func ("/autograd/attention", test_attention);
  g_test_add_func ("/autograd/spatial", test_spatial);
  g_test_add_func ("/autograd/pool-ties", test_pool_ties);
  g_test_add_func ("/autograd/block", test_block);
  g_test_add_func ("/autograd/thread-invariance", test_thread_invariance);
  g_test_add_func ("/autograd/blas-kernels", test_thread_invariance_blas_kernels);
  g_test_add_func ("/autograd/checkpoint", test_checkpoint);
  g_test_add_func ("/autograd/coverage", test_coverage);
  int rc = g_test_run ();
  g_ptr_array_unref (leaves);
  return rc;
}
