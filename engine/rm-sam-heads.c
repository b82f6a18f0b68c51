/* SPDX-License-Identifier: GPL-3.0-or-later
 * Everything after the two encoders: the MPG pseudo-mask (spec §4), the text projections, the
 * FPN neck (§2.5), the prompt encoder (§5.1), the decoder's text fusion "BC" (§2.6) and the SAM2
 * mask decoder (§5.2), and the final upsampling. rm_forward() runs the whole model.
 */
#include "rm-forward.h"

#include "rm-device.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#define SAM_LN2D_EPS   1e-6f
#define TWO_WAY_LN_EPS 1e-5f

static const int nchw_to_nhwc[] = { 0, 2, 3, 1 };
static const int swap01[] = { 1, 0, 2 };
static const int swap12[] = { 0, 2, 1 };

/* (B, C, H, W) -> (B, H*W, C) */
static RmTensor *
nchw_to_tokens (RmCtx *ctx, const RmTensor *x)
{
  RmTensor *t = rm_permute (ctx, x, nchw_to_nhwc);
  return rm_reshape (ctx, t, 3, (int64_t[]){ x->shape[0], x->shape[2] * x->shape[3], x->shape[1] });
}

/* (B, H*W, C) -> (B, C, H, W) */
static RmTensor *
tokens_to_nchw (RmCtx *ctx, const RmTensor *t, int64_t h, int64_t w)
{
  RmTensor *x = rm_permute (ctx, t, swap12);
  return rm_reshape (ctx, x, 4, (int64_t[]){ t->shape[0], t->shape[2], h, w });
}

/* Pseudo-mask prior: CLS attends to the visual tokens, gates them, and a linear probe scores
 * every patch; returns the g x g probabilities (B, 1, g, g). */
static RmTensor *
mask_prompt_generator (RmForward *fw, const RmTensor *cls, const RmTensor *visual)
{
  RmCtx *ctx = fw->ctx;
  const RmModelConfig *cfg = &fw->core->cfg;
  int64_t b = cls->shape[0], d = cls->shape[2], n = visual->shape[1];
  int64_t g = (int64_t) cfg->beit_image_size / cfg->beit_patch_size;
  RmTensor *m = rm_fw_mha (fw, cls, visual, visual, "vmtoken.multihead_attn", cfg->mpg_heads);
  RmTensor *c2 = rm_mul (ctx, cls, m); /* product, no residual */
  rm_fw_tap (fw, "mpg.vmtoken_out", rm_reshape (ctx, c2, 3, (int64_t[]){ 1, b, d }));
  RmTensor *t = rm_fw_linear (fw, c2, "mask_linear");
  rm_fw_tap (fw, "mpg.mask_linear_out", t);
  RmTensor *logits = rm_fw_linear (fw, rm_mul (ctx, visual, t), "mask_product");
  rm_fw_tap (fw, "mpg.mask_product_logits", rm_reshape (ctx, logits, 4, (int64_t[]){ b, g, g, 1 }));
  RM_CHECK (n == g * g, "%lld visual tokens for a %lld grid", (long long) n, (long long) g);
  RmTensor *prior = rm_reshape (ctx, rm_sigmoid (ctx, logits), 4, (int64_t[]){ b, 1, g, g });
  rm_fw_tap (fw, "mpg.mask_prompt_lowres", prior);
  return prior;
}

/* FPN neck: lateral 1x1 convs (convs.0 for the lowest resolution), top-down (nearest x2) only
 * into level 2; level 3 is dropped afterwards (scalp = 1) but feeds level 2. */
static void
fpn_neck (RmForward *fw, RmTensor *stages[4], RmTensor *levels[3])
{
  RmCtx *ctx = fw->ctx;
  RmTensor *out[4];
  for (int i = 3; i >= 0; i--)
    {
      const char *p = "visual_model.image_encoder.neck.convs";
      RmTensor *lateral =
          rm_conv2d (ctx, stages[i], rm_fw_weight (fw, "%s.%d.conv.weight", p, 3 - i),
                     rm_fw_weight (fw, "%s.%d.conv.bias", p, 3 - i), 1, 0);
      out[i] = i == 2 ? rm_add (ctx, lateral, rm_upsample_nearest2x (ctx, out[3])) : lateral;
    }
  rm_fw_tap (fw, "neck.fpn0", out[0]);
  rm_fw_tap (fw, "neck.fpn1", out[1]);
  rm_fw_tap (fw, "neck.fpn2", out[2]);
  rm_fw_tap (fw, "neck.fpn3", out[3]);
  memcpy (levels, out, 3 * sizeof *levels);
}

static RmTensor *
conv_by_key (RmForward *fw, const RmTensor *x, const char *prefix, int stride)
{
  return rm_conv2d (fw->ctx, x, rm_fw_weight (fw, "%s.weight", prefix),
                    rm_fw_weight (fw, "%s.bias", prefix), stride, 0);
}

static RmTensor *
layernorm2d_by_key (RmForward *fw, const RmTensor *x, const char *prefix)
{
  return rm_layernorm_nchw (fw->ctx, x, rm_fw_weight (fw, "%s.weight", prefix),
                            rm_fw_weight (fw, "%s.bias", prefix), SAM_LN2D_EPS);
}

/* The prior, as a probability map, through SAM's mask-downscaling convolutions. */
static RmTensor *
dense_prompt (RmForward *fw, const RmTensor *mask_prompt)
{
  RmCtx *ctx = fw->ctx;
  const char *p = "visual_model.sam_prompt_encoder.mask_downscaling";
  char k[96];
  snprintf (k, sizeof k, "%s.0", p);
  RmTensor *x = conv_by_key (fw, mask_prompt, k, 2);
  snprintf (k, sizeof k, "%s.1", p);
  x = rm_gelu (ctx, layernorm2d_by_key (fw, x, k));
  snprintf (k, sizeof k, "%s.3", p);
  x = conv_by_key (fw, x, k, 2);
  snprintf (k, sizeof k, "%s.4", p);
  x = rm_gelu (ctx, layernorm2d_by_key (fw, x, k));
  snprintf (k, sizeof k, "%s.6", p);
  return conv_by_key (fw, x, k, 1);
}

static RmTensor *
two_way_norm (RmForward *fw, const RmTensor *x, const char *prefix)
{
  return rm_layernorm (fw->ctx, x, rm_fw_weight (fw, "%s.weight", prefix),
                       rm_fw_weight (fw, "%s.bias", prefix), TWO_WAY_LN_EPS);
}

/* SAM's TwoWayTransformer (depth 2): tokens attend to the image and the image to the tokens. */
static void
two_way_transformer (RmForward *fw, RmTensor **queries_io, RmTensor **keys_io,
                     const RmTensor *key_pe)
{
  RmCtx *ctx = fw->ctx;
  int heads = fw->core->cfg.dec_heads;
  const char *t = "visual_model.sam_mask_decoder.transformer";
  const RmTensor *query_pe = *queries_io;
  RmTensor *queries = *queries_io, *keys = *keys_io;
  char p[160];
  for (int l = 0; l < 2; l++)
    {
      snprintf (p, sizeof p, "%s.layers.%d.self_attn", t, l);
      if (l == 0) /* skip_first_layer_pe: no PE and no residual */
        queries = rm_fw_sam_attention (fw, queries, queries, queries, p, heads);
      else
        {
          RmTensor *q = rm_add (ctx, queries, query_pe);
          queries = rm_add (ctx, queries, rm_fw_sam_attention (fw, q, q, queries, p, heads));
        }
      snprintf (p, sizeof p, "%s.layers.%d.norm1", t, l);
      queries = two_way_norm (fw, queries, p);

      RmTensor *q = rm_add (ctx, queries, query_pe), *k = rm_add (ctx, keys, key_pe);
      snprintf (p, sizeof p, "%s.layers.%d.cross_attn_token_to_image", t, l);
      queries = rm_add (ctx, queries, rm_fw_sam_attention (fw, q, k, keys, p, heads));
      snprintf (p, sizeof p, "%s.layers.%d.norm2", t, l);
      queries = two_way_norm (fw, queries, p);

      snprintf (p, sizeof p, "%s.layers.%d.mlp", t, l);
      queries = rm_add (ctx, queries, rm_fw_sam_mlp (fw, queries, p, 2));
      snprintf (p, sizeof p, "%s.layers.%d.norm3", t, l);
      queries = two_way_norm (fw, queries, p);

      q = rm_add (ctx, queries, query_pe);
      k = rm_add (ctx, keys, key_pe);
      snprintf (p, sizeof p, "%s.layers.%d.cross_attn_image_to_token", t, l);
      keys = rm_add (ctx, keys, rm_fw_sam_attention (fw, k, q, queries, p, heads));
      snprintf (p, sizeof p, "%s.layers.%d.norm4", t, l);
      keys = two_way_norm (fw, keys, p);
    }
  RmTensor *q = rm_add (ctx, queries, query_pe), *k = rm_add (ctx, keys, key_pe);
  snprintf (p, sizeof p, "%s.final_attn_token_to_image", t);
  queries = rm_add (ctx, queries, rm_fw_sam_attention (fw, q, k, keys, p, heads));
  snprintf (p, sizeof p, "%s.norm_final_attn", t);
  *queries_io = two_way_norm (fw, queries, p);
  *keys_io = keys;
}

/* BC fusion, then SAM2's predict_masks with high-resolution skips; returns all 4 mask logits
 * (B, 4, 4e, 4e). */
static RmTensor *
mask_decoder (RmForward *fw, const RmTensor *image_embed, const RmTensor *dense,
              const RmTensor *sparse, const RmTensor *text0, const RmTensor *feat_s0,
              const RmTensor *feat_s1)
{
  RmCtx *ctx = fw->ctx;
  const RmModelConfig *cfg = &fw->core->cfg;
  const char *d = "visual_model.sam_mask_decoder";
  int64_t b = image_embed->shape[0], ds = image_embed->shape[1];
  int64_t e_h = image_embed->shape[2], e_w = image_embed->shape[3];

  RmTensor *src = nchw_to_tokens (ctx, image_embed);
  RmTensor *pe = nchw_to_tokens (ctx, &fw->core->dense_pe);
  char p[128];
  snprintf (p, sizeof p, "%s.vlfusion_module.multihead_attn", d);
  RmTensor *fused = rm_fw_mha (fw, rm_add (ctx, src, pe), text0, text0, p, cfg->dec_fusion_heads);
  src = rm_mul (ctx, src, fused); /* the product replaces f2 (no residual) */
  rm_fw_tap_permuted (fw, "dec.vlfusion_out", src, swap01);
  src = rm_add (ctx, src, nchw_to_tokens (ctx, dense));

  /* Tokens: [obj_score, iou, mask0..3, sparse text prompt]. */
  RmTensor *fixed = rm_concat (ctx, rm_fw_weight (fw, "%s.obj_score_token.weight", d),
                               rm_fw_weight (fw, "%s.iou_token.weight", d), 0);
  fixed = rm_concat (ctx, fixed, rm_fw_weight (fw, "%s.mask_tokens.weight", d), 0);
  RmTensor *tokens = rm_add (ctx, rm_zeros (ctx, 3, (int64_t[]){ b, fixed->shape[0], ds }), fixed);
  tokens = rm_concat (ctx, tokens, sparse, 1);

  RmTensor *hs = tokens, *keys = src;
  two_way_transformer (fw, &hs, &keys, pe);
  rm_fw_tap (fw, "dec.transformer_hs", hs);
  rm_fw_tap (fw, "dec.transformer_src", keys);

  RmTensor *x = tokens_to_nchw (ctx, keys, e_h, e_w);
  x = rm_conv_transpose2x2 (ctx, x, rm_fw_weight (fw, "%s.output_upscaling.0.weight", d),
                            rm_fw_weight (fw, "%s.output_upscaling.0.bias", d));
  snprintf (p, sizeof p, "%s.output_upscaling.1", d);
  x = rm_gelu (ctx, layernorm2d_by_key (fw, rm_add (ctx, x, feat_s1), p));
  x = rm_conv_transpose2x2 (ctx, x, rm_fw_weight (fw, "%s.output_upscaling.3.weight", d),
                            rm_fw_weight (fw, "%s.output_upscaling.3.bias", d));
  x = rm_gelu (ctx, rm_add (ctx, x, feat_s0));
  rm_fw_tap (fw, "dec.upscaled_embedding", x);

  RmTensor *hyper = NULL;
  for (int t = 0; t < 4; t++)
    {
      snprintf (p, sizeof p, "%s.output_hypernetworks_mlps.%d", d, t);
      RmTensor *h = rm_fw_sam_mlp (fw, rm_slice (ctx, hs, 1, 2 + t, 1), p, 3);
      hyper = hyper == NULL ? h : rm_concat (ctx, hyper, h, 1);
    }
  rm_fw_tap (fw, "dec.hyper_in", hyper);
  int64_t c8 = x->shape[1], up_h = x->shape[2], up_w = x->shape[3];
  RmTensor *masks =
      rm_matmul (ctx, hyper, rm_reshape (ctx, x, 3, (int64_t[]){ b, c8, up_h * up_w }), false);
  masks = rm_reshape (ctx, masks, 4, (int64_t[]){ b, 4, up_h, up_w });
  rm_fw_tap (fw, "dec.masks_all", masks);

  if (fw->tap != NULL) /* computed by the official decoder, unused downstream */
    {
      snprintf (p, sizeof p, "%s.iou_prediction_head", d);
      RmTensor *iou = rm_sigmoid (ctx, rm_fw_sam_mlp (fw, rm_slice (ctx, hs, 1, 1, 1), p, 3));
      rm_fw_tap (fw, "dec.iou_pred_all", rm_reshape (ctx, iou, 2, (int64_t[]){ b, 4 }));
      rm_fw_tap (fw, "dec.iou_predictions",
                 rm_reshape (ctx, rm_slice (ctx, iou, 2, 0, 1), 2, (int64_t[]){ b, 1 }));
      snprintf (p, sizeof p, "%s.pred_obj_score_head", d);
      RmTensor *obj = rm_fw_sam_mlp (fw, rm_slice (ctx, hs, 1, 0, 1), p, 3);
      rm_fw_tap (fw, "dec.object_score_logits", rm_reshape (ctx, obj, 2, (int64_t[]){ b, 1 }));
    }
  return masks;
}

bool
rm_forward (RmForward *fw, const RmForwardInput *in, RmForwardOutput *out)
{
  RmCtx *ctx = fw->ctx;
  const RmModelConfig *cfg = &fw->core->cfg;
  int64_t s = cfg->sam_image_size;
  fw->aborted = false;

  gint64 t0 = g_get_monotonic_time ();
  RmTensor *enc = rm_beit3_forward (fw, in);
  if (enc == NULL)
    return false;
  int64_t n_vision = enc->shape[1] - in->text_len;
  RmTensor *cls = rm_slice (ctx, enc, 1, 0, 1);
  RmTensor *visual = rm_slice (ctx, enc, 1, 1, n_vision - 1);
  RmTensor *text = rm_slice (ctx, enc, 1, n_vision, in->text_len);

  RmTensor *prior = mask_prompt_generator (fw, cls, visual);
  /* The prompt encoder's mask input is 4x the embedding grid. */
  int64_t mask_side = 4 * (s / 16);
  RmTensor *mask_prompt = rm_resize_bilinear (ctx, prior, mask_side, mask_side, true);
  rm_fw_tap (fw, "mpg.mask_prompt", mask_prompt);
  RmTensor *sparse = rm_fw_linear (fw, rm_relu (ctx, rm_fw_linear (fw, cls, "text_hidden_fcs.0.0")),
                                   "text_hidden_fcs.0.2");
  rm_fw_tap (fw, "evf.text_hidden_fcs_out", sparse);
  RmTensor *text0 = rm_fw_linear (fw, text, "text_feat_linear");
  rm_fw_tap (fw, "evf.text_feat_linear_out", text0);
  out->text_weight = rm_fw_linear (fw, rm_slice (ctx, text0, 1, 0, 1), "text2one_linear");
  rm_fw_tap (fw, "evf.text2one_out", out->text_weight);
  gint64 t1 = g_get_monotonic_time ();

  RmTensor *stages[4];
  if (!rm_hiera_forward (fw, in->sam_image, text0, stages))
    return false;
  gint64 t2 = g_get_monotonic_time ();

  RmTensor *levels[3];
  fpn_neck (fw, stages, levels);
  RmTensor *feat_s0 = conv_by_key (fw, levels[0], "visual_model.sam_mask_decoder.conv_s0", 1);
  RmTensor *feat_s1 = conv_by_key (fw, levels[1], "visual_model.sam_mask_decoder.conv_s1", 1);
  rm_fw_tap (fw, "sam.high_res_s0", feat_s0);
  rm_fw_tap (fw, "sam.high_res_s1", feat_s1);
  const RmTensor *no_mem = rm_fw_weight (fw, "visual_model.no_mem_embed");
  int64_t ds = cfg->sam_dim;
  RmTensor *image_embed =
      rm_add (ctx, levels[2], rm_reshape (ctx, no_mem, 4, (int64_t[]){ 1, ds, 1, 1 }));
  rm_fw_tap (fw, "sam.image_embed", image_embed);

  rm_fw_tap (fw, "prompt.sparse", sparse);
  RmTensor *dense = dense_prompt (fw, mask_prompt);
  rm_fw_tap (fw, "prompt.dense", dense);
  rm_fw_tap (fw, "prompt.dense_pe", &fw->core->dense_pe);

  RmTensor *masks = mask_decoder (fw, image_embed, dense, sparse, text0, feat_s0, feat_s1);
  out->low_res_masks = rm_slice (ctx, masks, 1, 0, 1);
  rm_fw_tap (fw, "dec.low_res_masks", out->low_res_masks);
  out->pred_masks = rm_resize_bilinear (ctx, out->low_res_masks, s, s, false);
  rm_fw_tap (fw, "out.pred_masks", out->pred_masks);
  out->prior = prior;
  gint64 t3 = g_get_monotonic_time ();
  fw->ms_beit = (double) (t1 - t0) / 1000.0;
  fw->ms_hiera = (double) (t2 - t1) / 1000.0;
  fw->ms_heads = (double) (t3 - t2) / 1000.0;
  return true;
}

/* ---- what depends only on the weights ------------------------------------------------- */

/* SAM's PositionEmbeddingRandom on the embedding grid: coordinates ((j+0.5)/w, (i+0.5)/h) mapped
 * to [-1, 1], projected by the 2 x (Ds/2) Gaussian matrix, times 2 pi, [sin | cos]. */
static void
compute_dense_pe (const RmTensor *gauss, int64_t h, int64_t w, float *out)
{
  int64_t half = gauss->shape[1];
  const float two_pi = (float) (2.0 * M_PI);
  for (int64_t i = 0; i < h; i++)
    for (int64_t j = 0; j < w; j++)
      {
        float x = 2.0f * (((float) j + 0.5f) / (float) w) - 1.0f;
        float y = 2.0f * (((float) i + 0.5f) / (float) h) - 1.0f;
        for (int64_t c = 0; c < half; c++)
          {
            float v = two_pi * (x * gauss->data[c] + y * gauss->data[half + c]);
            out[(c * h + i) * w + j] = sinf (v);
            out[((half + c) * h + i) * w + j] = cosf (v);
          }
      }
}

void
rm_model_core_init (RmModelCore *core, const RmModelConfig *cfg, RmWeights *weights)
{
  memset (core, 0, sizeof *core);
  core->cfg = *cfg;
  core->weights = weights;
  RmCtx *ctx = rm_ctx_new (1);
  RmForward fw = { .ctx = ctx, .core = core };

  /* Hiera position embedding: bicubic resize of the background table to the patch grid plus the
   * window table tiled over it (spec §2.3). */
  int64_t grid = cfg->sam_image_size / 4, c0 = cfg->hiera_embed_dim,
          win = cfg->hiera_window_spec[0];
  const RmTensor *bkg = rm_fw_weight (&fw, "visual_model.image_encoder.trunk.pos_embed");
  const RmTensor *window = rm_fw_weight (&fw, "visual_model.image_encoder.trunk.pos_embed_window");
  RmTensor *pos = rm_resize_bicubic (ctx, bkg, grid, grid);
  pos = rm_reshape (ctx, pos, 6, (int64_t[]){ 1, c0, grid / win, win, grid / win, win });
  pos = rm_add (ctx, pos, rm_reshape (ctx, window, 6, (int64_t[]){ 1, c0, 1, win, 1, win }));
  pos = rm_reshape (ctx, pos, 4, (int64_t[]){ 1, c0, grid, grid });
  pos = rm_permute (ctx, pos, nchw_to_nhwc);
  size_t bytes = (size_t) rm_tensor_numel (pos) * sizeof (float);
  core->hiera_pos_data = g_malloc (bytes);
  memcpy (core->hiera_pos_data, pos->data, bytes);
  rm_tensor_init (&core->hiera_pos, core->hiera_pos_data, 4, pos->shape);

  int64_t e = cfg->sam_image_size / 16, ds = cfg->sam_dim;
  core->dense_pe_data = g_new (float, ds *e *e);
  compute_dense_pe (
      rm_fw_weight (&fw,
                    "visual_model.sam_prompt_encoder.pe_layer.positional_encoding_gaussian_matrix"),
      e, e, core->dense_pe_data);
  rm_tensor_init (&core->dense_pe, core->dense_pe_data, 4, (int64_t[]){ 1, ds, e, e });
  rm_ctx_free (ctx);
}

bool
rm_model_core_to_device (const RmModelCore *host, RmCtx *device_ctx, RmModelCore *out,
                         GError **error)
{
  memset (out, 0, sizeof *out);
  out->cfg = host->cfg;
  out->device_ctx = device_ctx;
  out->weights = rm_weights_to_device (host->weights, device_ctx, error);
  const RmTensor *pos = out->weights ? rm_upload (device_ctx, &host->hiera_pos, error) : NULL;
  const RmTensor *pe = pos ? rm_upload (device_ctx, &host->dense_pe, error) : NULL;
  if (pe == NULL)
    {
      rm_model_core_clear (out);
      return false;
    }
  out->hiera_pos = *pos;
  out->dense_pe = *pe;
  return true;
}

void
rm_model_core_clear (RmModelCore *core)
{
  g_clear_pointer (&core->hiera_pos_data, g_free);
  g_clear_pointer (&core->dense_pe_data, g_free);
  g_clear_pointer (&core->weights, rm_weights_free);
  /* after the weights: the context's data arena holds a device copy's data */
  g_clear_pointer (&core->device_ctx, rm_ctx_free);
}
