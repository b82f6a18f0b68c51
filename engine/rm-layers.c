/* SPDX-License-Identifier: GPL-3.0-or-later
 * Layers shared by the modules: weight lookup, linear, the two multi-head attention flavours of
 * the official code, SAM's MLP, and the activation tap.
 */
#include "rm-forward.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

void
rm_fw_tap (RmForward *fw, const char *name, const RmTensor *t)
{
  if (fw->tap != NULL)
    fw->tap (fw->tap_user, name, t);
}

void
rm_fw_tap_permuted (RmForward *fw, const char *name, const RmTensor *t, const int *perm)
{
  if (fw->tap != NULL)
    fw->tap (fw->tap_user, name, rm_permute (fw->ctx, t, perm));
}

static const RmTensor *
weight_v (RmForward *fw, const char *fmt, va_list ap)
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

void
rm_fw_keep_and_release (RmForward *fw, RmArenaMark mark, RmTensor **tensors, int n)
{
  RmCtx *ctx = fw->ctx;
  if (ctx->tape != NULL)
    return; /* the backward pass needs everything */
  float *saved[8];
  RmTensor desc[8];
  RM_CHECK (n <= 8, "keep_and_release: %d tensors", n);
  for (int i = 0; i < n; i++)
    {
      desc[i] = *tensors[i];
      saved[i] =
          g_memdup2 (tensors[i]->data, (size_t) rm_tensor_numel (tensors[i]) * sizeof (float));
    }
  rm_arena_release (ctx->arena, mark);
  for (int i = 0; i < n; i++)
    {
      tensors[i] = rm_new (ctx, desc[i].ndim, desc[i].shape);
      memcpy (tensors[i]->data, saved[i], (size_t) rm_tensor_numel (tensors[i]) * sizeof (float));
      g_free (saved[i]);
    }
}
