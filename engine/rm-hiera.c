/* SPDX-License-Identifier: GPL-3.0-or-later
 * SAM2's Hiera trunk with RS2-SAM2's BHFM (bidirectional text/image fusion) in every block
 * (spec §2.3-2.4), and the FPN neck (§2.5). Tensors are channels-last (B, H, W, C) inside the
 * trunk, as in the official code.
 */
#include "rm-autograd.h"
#include "rm-forward.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#define HIERA_LN_EPS 1e-6f

static const int nhwc_to_nchw[] = { 0, 3, 1, 2 };
static const int swap01[] = { 1, 0, 2 };

/* The Space_Adapter: image <- text, then text <- (updated) image, both global over the map and
 * with residual additions; the text leaves as a fixed convex mix (spec §2.4 step 6). */
static RmTensor *
bhfm (RmForward *fw, int block, const RmTensor *a, RmTensor **text)
{
  RmCtx *ctx = fw->ctx;
  const RmModelConfig *cfg = &fw->core->cfg;
  char p[128];
  snprintf (p, sizeof p, "visual_model.image_encoder.trunk.blocks.%d.Space_Adapter", block);
  int64_t b = a->shape[0], h = a->shape[1], w = a->shape[2];

  RmTensor *u = rm_gelu (ctx, rm_fw_linear (fw, a, "%s.D_fc1", p));
  int64_t hidden = u->shape[3];
  u = rm_reshape (ctx, u, 3, (int64_t[]){ b, h * w, hidden });
  RmTensor *t = rm_fw_linear (fw, *text, "%s.text_in_linear", p);

  char mha[160];
  snprintf (mha, sizeof mha, "%s.vlfusion_module.multihead_attn", p);
  u = rm_add (ctx, u, rm_fw_mha (fw, u, t, t, mha, cfg->bhfm_heads));
  snprintf (mha, sizeof mha, "%s.lvfusion_module.multihead_attn", p);
  RmTensor *t2 = rm_add (ctx, t, rm_fw_mha (fw, t, u, u, mha, cfg->bhfm_heads));
  *text = rm_axpby (ctx, 1.0f - cfg->bhfm_text_alpha, *text, cfg->bhfm_text_alpha,
                    rm_fw_linear (fw, t2, "%s.text_out_linear", p));

  u = rm_reshape (ctx, u, 4, (int64_t[]){ b, h, w, hidden });
  return rm_add (ctx, a, rm_fw_linear (fw, u, "%s.D_fc2", p));
}

/* Multi-scale attention, windowed (or global when info->window == 0), with q max-pooled inside
 * each window in pooling blocks; returns the un-partitioned map (B, H', W', C_out). */
static RmTensor *
block_attention (RmForward *fw, int block, const RmHieraBlockInfo *info, const RmTensor *xn,
                 int64_t out_h, int64_t out_w)
{
  RmCtx *ctx = fw->ctx;
  int64_t c = info->dim_out;
  int win = info->window;
  const RmTensor *x = win > 0 ? rm_window_partition (ctx, xn, win) : xn;

  RmTensor *qkv =
      rm_fw_linear (fw, x, "visual_model.image_encoder.trunk.blocks.%d.attn.qkv", block);
  int64_t n = qkv->shape[0], wh = qkv->shape[1], ww = qkv->shape[2];
  RmTensor *q = rm_slice (ctx, qkv, 3, 0, c);
  RmTensor *k = rm_reshape (ctx, rm_slice (ctx, qkv, 3, c, c), 3, (int64_t[]){ n, wh * ww, c });
  RmTensor *v = rm_reshape (ctx, rm_slice (ctx, qkv, 3, 2 * c, c), 3, (int64_t[]){ n, wh * ww, c });
  if (info->pool)
    q = rm_maxpool2x2_nhwc (ctx, q);
  int64_t qh = q->shape[1], qw = q->shape[2];
  q = rm_reshape (ctx, q, 3, (int64_t[]){ n, qh * qw, c });

  float scale = 1.0f / sqrtf ((float) (c / info->heads));
  RmTensor *a = rm_attention (ctx, q, k, v, info->heads, scale, NULL);
  a = rm_reshape (ctx, a, 4, (int64_t[]){ n, qh, qw, c });
  a = rm_fw_linear (fw, a, "visual_model.image_encoder.trunk.blocks.%d.attn.proj", block);
  if (win == 0)
    return a;
  /* Pooling blocks un-partition with half the window, over the pooled map. */
  int ws = info->pool ? win / 2 : win;
  int64_t hp = (out_h + ws - 1) / ws * ws, wp = (out_w + ws - 1) / ws * ws;
  return rm_window_unpartition (ctx, a, ws, hp, wp, out_h, out_w);
}

static RmTensor *
hiera_block (RmForward *fw, int i, RmTensor *x, RmTensor **text)
{
  RmCtx *ctx = fw->ctx;
  const RmModelConfig *cfg = &fw->core->cfg;
  RmHieraBlockInfo info;
  rm_hiera_block_info (cfg, i, &info);
  char p[96];
  snprintf (p, sizeof p, "visual_model.image_encoder.trunk.blocks.%d", i);
  RmCtxMark block_start = rm_ctx_mark (ctx);

  RmTensor *xn = rm_layernorm (ctx, x, rm_fw_weight (fw, "%s.norm1.weight", p),
                               rm_fw_weight (fw, "%s.norm1.bias", p), HIERA_LN_EPS);
  RmTensor *shortcut = x;
  if (info.dim_in != info.dim_out)
    {
      /* The projected shortcut comes from the normalised input (spec §10.2 item 5). */
      shortcut = rm_fw_linear (fw, xn, "%s.proj", p);
      if (info.pool)
        shortcut = rm_maxpool2x2_nhwc (ctx, shortcut);
    }
  RmTensor *a = block_attention (fw, i, &info, xn, shortcut->shape[1], shortcut->shape[2]);
  a = bhfm (fw, i, a, text);

  char name[64];
  snprintf (name, sizeof name, "hiera.block%d.bhfm_out", i);
  rm_fw_tap (fw, name, a);
  snprintf (name, sizeof name, "hiera.block%d.text_out", i);
  rm_fw_tap_permuted (fw, name, *text, swap01);

  x = rm_add (ctx, shortcut, a);
  /* The attention half's temporaries are not needed by the MLP half. */
  RmTensor *keep[] = { x, *text };
  rm_fw_keep_and_release (fw, block_start, keep, 2);
  x = keep[0], *text = keep[1];
  RmTensor *xn2 = rm_layernorm (ctx, x, rm_fw_weight (fw, "%s.norm2.weight", p),
                                rm_fw_weight (fw, "%s.norm2.bias", p), HIERA_LN_EPS);
  RmTensor *mlp = rm_fw_linear (fw, rm_gelu (ctx, rm_fw_linear (fw, xn2, "%s.mlp.layers.0", p)),
                                "%s.mlp.layers.1", p);
  RmTensor *adapter =
      rm_fw_linear (fw, rm_gelu (ctx, rm_fw_linear (fw, xn2, "%s.MLP_Adapter.D_fc1", p)),
                    "%s.MLP_Adapter.D_fc2", p);
  x = rm_axpby (ctx, 1.0f, rm_add (ctx, x, mlp), cfg->mlp_adapter_scale, adapter);
  snprintf (name, sizeof name, "hiera.block%d.out", i);
  rm_fw_tap (fw, name, x);
  /* Only the block's outputs stay (not the attention half's residual): all a checkpointed block
   * keeps, and the next block's input at inference. */
  keep[0] = x, keep[1] = *text;
  rm_fw_keep_and_release (fw, block_start, keep, 2);
  *text = keep[1];
  return keep[0];
}

/* How the backward re-runs a checkpointed block: the same function, without taps or callbacks
 * (the values were reported when the forward ran). */
typedef struct
{
  const RmModelCore *core;
  int block;
} BlockReplay;

static void
block_replay (const void *user, RmCtx *ctx, const RmTensor *const *in, RmTensor **out)
{
  const BlockReplay *r = user;
  RmForward fw = { .ctx = ctx, .core = r->core };
  RmTensor *text = (RmTensor *) in[1];
  out[0] = hiera_block (&fw, r->block, (RmTensor *) in[0], &text);
  out[1] = text;
}

/* Block i on (*x, *text); with fw->recompute, as a checkpointed region (rm-autograd.h): a
 * training forward then keeps only the block's inputs and outputs. */
static void
run_block (RmForward *fw, int i, RmTensor **x, RmTensor **text)
{
  if (!fw->recompute)
    {
      *x = hiera_block (fw, i, *x, text);
      return;
    }
  const RmTensor *in[2] = { *x, *text };
  RmCheckpointScope scope = rm_checkpoint_begin (fw->ctx);
  *x = hiera_block (fw, i, *x, text);
  const BlockReplay replay = { .core = fw->core, .block = i };
  rm_checkpoint_end (fw->ctx, scope, 2, in, 2, (RmTensor *const[]){ *x, *text }, block_replay,
                     &replay, sizeof replay);
}

bool
rm_hiera_forward (RmForward *fw, const RmTensor *image, const RmTensor *text0, RmTensor *stages[4])
{
  RmCtx *ctx = fw->ctx;
  const RmModelConfig *cfg = &fw->core->cfg;
  static const int to_nhwc[] = { 0, 2, 3, 1 };
  RmTensor *x = rm_conv2d (
      ctx, image, rm_fw_weight (fw, "visual_model.image_encoder.trunk.patch_embed.proj.weight"),
      rm_fw_weight (fw, "visual_model.image_encoder.trunk.patch_embed.proj.bias"), 4, 3);
  x = rm_permute (ctx, x, to_nhwc);
  rm_fw_tap (fw, "hiera.patch_embed_out", x);
  rm_fw_tap (fw, "hiera.pos_embed", &fw->core->hiera_pos);
  x = rm_add (ctx, x, &fw->core->hiera_pos);

  RmTensor *text = (RmTensor *) text0;
  int n_blocks = rm_hiera_n_blocks (cfg), stage = 0;
  for (int i = 0; i < n_blocks; i++)
    {
      if (rm_fw_should_stop (fw))
        return false;
      run_block (fw, i, &x, &text);
      if (i == rm_hiera_stage_end (cfg, stage))
        stages[stage++] = rm_permute (ctx, x, nhwc_to_nchw);
      if (fw->stage != NULL)
        fw->stage (fw->stage_user, "Hiera", (double) (i + 1) / n_blocks);
    }
  return true;
}
