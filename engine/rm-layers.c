/* SPDX-License-Identifier: GPL-3.0-or-later
 * Layers shared by the modules: weight lookup, linear, the two multi-head attention flavours of
 * the official code, SAM's MLP, and the activation tap.
 */
#include "rm-forward.h"

#include "rm-backend.h"
#include "rm-device.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

void
rm_fw_tap (RmForward *fw, const char *name, const RmTensor *t)
{
  if (fw->tap == NULL)
    return;
  /* Taps read the data on the host: a device tensor is copied back first (into host scratch of
   * the context, given back with the block that computed it). */
  g_autoptr (GError) error = NULL;
  const RmTensor *host = rm_download (fw->ctx, t, &error);
  if (host == NULL)
    {
      /* The forward's outputs fail the same way when they are copied back: the tap is only
       * skipped, and the request still reports the error. */
      g_warning ("tap %s: %s", name, error->message);
      return;
    }
  fw->tap (fw->tap_user, name, host);
}

void
rm_fw_tap_permuted (RmForward *fw, const char *name, const RmTensor *t, const int *perm)
{
  if (fw->tap != NULL)
    rm_fw_tap (fw, name, rm_permute (fw->ctx, t, perm));
}

G_GNUC_PRINTF (2, 0) static const RmTensor *weight_v (RmForward *fw, const char *fmt, va_list ap)
{
  char key[256];
  vsnprintf (key, sizeof key, fmt, ap);
  return rm_weights_get (fw->core->weights, key);
}

const RmTensor *
rm_fw_weight (RmForward *fw, const char *fmt, ...)
{
  va_list ap;
  va_start (ap, fmt);
  const RmTensor *t = weight_v (fw, fmt, ap);
  va_end (ap);
  return t;
}

RmTensor *
rm_fw_rows (RmForward *fw, const RmTensor *w, int64_t start, int64_t len)
{
  /* A recorded view: with a tape on, the rows' gradient reaches the packed parameter. */
  return rm_rows (fw->ctx, w, start, len);
}

RmTensor *
rm_fw_linear (RmForward *fw, const RmTensor *x, const char *fmt, ...)
{
  char prefix[224];
  va_list ap;
  va_start (ap, fmt);
  vsnprintf (prefix, sizeof prefix, fmt, ap);
  va_end (ap);
  const RmTensor *w = rm_fw_weight (fw, "%s.weight", prefix);
  const RmTensor *b = rm_fw_weight (fw, "%s.bias", prefix);
  return rm_linear (fw->ctx, x, w, b);
}

RmTensor *
rm_fw_mha (RmForward *fw, const RmTensor *q, const RmTensor *k, const RmTensor *v,
           const char *prefix, int heads)
{
  RmCtx *ctx = fw->ctx;
  const RmTensor *w = rm_fw_weight (fw, "%s.in_proj_weight", prefix);
  const RmTensor *b = rm_fw_weight (fw, "%s.in_proj_bias", prefix);
  int64_t e = w->shape[1];
  /* in_proj rows are [W_q; W_k; W_v]. */
  RmTensor *qp = rm_linear (ctx, q, rm_fw_rows (fw, w, 0, e), rm_fw_rows (fw, b, 0, e));
  RmTensor *kp = rm_linear (ctx, k, rm_fw_rows (fw, w, e, e), rm_fw_rows (fw, b, e, e));
  RmTensor *vp = rm_linear (ctx, v, rm_fw_rows (fw, w, 2 * e, e), rm_fw_rows (fw, b, 2 * e, e));
  float scale = 1.0f / sqrtf ((float) (e / heads));
  RmTensor *o = rm_attention (ctx, qp, kp, vp, heads, scale, NULL);
  return rm_fw_linear (fw, o, "%s.out_proj", prefix);
}

RmTensor *
rm_fw_sam_attention (RmForward *fw, const RmTensor *q, const RmTensor *k, const RmTensor *v,
                     const char *prefix, int heads)
{
  RmTensor *qp = rm_fw_linear (fw, q, "%s.q_proj", prefix);
  RmTensor *kp = rm_fw_linear (fw, k, "%s.k_proj", prefix);
  RmTensor *vp = rm_fw_linear (fw, v, "%s.v_proj", prefix);
  int64_t inner = qp->shape[qp->ndim - 1];
  float scale = 1.0f / sqrtf ((float) (inner / heads));
  RmTensor *o = rm_attention (fw->ctx, qp, kp, vp, heads, scale, NULL);
  return rm_fw_linear (fw, o, "%s.out_proj", prefix);
}

RmTensor *
rm_fw_sam_mlp (RmForward *fw, const RmTensor *x, const char *prefix, int n_layers)
{
  RmTensor *h = (RmTensor *) x;
  for (int i = 0; i < n_layers; i++)
    {
      h = rm_fw_linear (fw, h, "%s.layers.%d", prefix, i);
      if (i < n_layers - 1)
        h = rm_relu (fw->ctx, h);
    }
  return h;
}

bool
rm_fw_should_stop (RmForward *fw)
{
  if (!fw->aborted && fw->abort != NULL && fw->abort (fw->abort_user))
    fw->aborted = true;
  return fw->aborted;
}

/* dst <- src, n contiguous floats in the memory of ctx's backend (host or device). */
static void
copy_data (RmCtx *ctx, float *dst, const float *src, int64_t n)
{
  static const int64_t unit[1] = { 1 };
  ctx->backend->copy_strided (ctx->pool, 1, &n, dst, unit, src, unit);
}

void
rm_fw_keep_and_release (RmForward *fw, RmCtxMark mark, RmTensor **tensors, int n)
{
  RmCtx *ctx = fw->ctx;
  if (ctx->tape != NULL)
    return; /* the backward pass needs everything */
  /* The kept tensors wait in keep_arena (memory of the same kind as the data: a device
   * context's stay on the device) while both arenas are given back to the mark, then move to
   * fresh memory at the mark. */
  float *saved[8];
  RmTensor desc[8];
  RM_CHECK (n <= 8, "keep_and_release: %d tensors", n);
  for (int i = 0; i < n; i++)
    {
      RM_CHECK (rm_tensor_is_contiguous (tensors[i]), "keep_and_release: tensor %d is a view", i);
      desc[i] = *tensors[i];
      int64_t numel = rm_tensor_numel (tensors[i]);
      saved[i] = rm_arena_alloc (ctx->keep_arena, (size_t) numel * sizeof (float));
      copy_data (ctx, saved[i], tensors[i]->data, numel);
    }
  rm_ctx_release (ctx, mark);
  for (int i = 0; i < n; i++)
    {
      tensors[i] = rm_new (ctx, desc[i].ndim, desc[i].shape);
      copy_data (ctx, tensors[i]->data, saved[i], rm_tensor_numel (tensors[i]));
    }
  rm_arena_reset (ctx->keep_arena);
}
