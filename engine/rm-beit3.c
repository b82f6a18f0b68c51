/* SPDX-License-Identifier: GPL-3.0-or-later
 * BEiT-3 union encoder as torchscale 0.2.0 computes it (spec §3): multiway (A = vision tokens
 * 0..196, B = text tokens), pre-LN with sub-LN, joint attention with text padding masked, final
 * multiway LayerNorm.
 */
#include "rm-forward.h"

#include "rm-device.h"

#include <math.h>
#include <stdio.h>

#define BEIT_LN_EPS 1e-5f

/* Applies the A module to tokens [0, split) and the B module to the rest; the weights are
 * `<prefix><head><A|B><tail>.weight` and `.bias`. */
typedef enum
{
  MULTIWAY_LINEAR,
  MULTIWAY_LAYERNORM
} MultiwayKind;

static RmTensor *
multiway (RmForward *fw, const RmTensor *x, int64_t split, MultiwayKind kind, const char *prefix,
          const char *head, const char *tail)
{
  RmCtx *ctx = fw->ctx;
  int64_t n = x->shape[1];
  const RmTensor *parts[2] = { rm_slice (ctx, x, 1, 0, split),
                               rm_slice (ctx, x, 1, split, n - split) };
  RmTensor *out[2];
  static const char *const experts[] = { "A", "B" };
  for (int e = 0; e < 2; e++)
    {
      g_autofree char *base = g_strconcat (prefix, head, experts[e], tail, NULL);
      const RmTensor *w = rm_fw_weight (fw, "%s.weight", base);
      const RmTensor *b = rm_fw_weight (fw, "%s.bias", base);
      out[e] = kind == MULTIWAY_LINEAR ? rm_linear (ctx, parts[e], w, b)
                                       : rm_layernorm (ctx, parts[e], w, b, BEIT_LN_EPS);
    }
  return rm_concat (ctx, out[0], out[1], 1);
}

static RmTensor *
embed_tokens (RmForward *fw, const RmForwardInput *in, int64_t *n_vision_out)
{
  RmCtx *ctx = fw->ctx;
  const RmModelConfig *cfg = &fw->core->cfg;
  int64_t b = in->batch, l = in->text_len, d = cfg->beit_dim;

  RmTensor *patches = rm_conv2d (
      ctx, in->beit_image, rm_fw_weight (fw, "mm_extractor.beit3.vision_embed.proj.weight"),
      rm_fw_weight (fw, "mm_extractor.beit3.vision_embed.proj.bias"), cfg->beit_patch_size, 0);
  int64_t grid = patches->shape[2];
  static const int to_nhwc[] = { 0, 2, 3, 1 };
  patches =
      rm_reshape (ctx, rm_permute (ctx, patches, to_nhwc), 3, (int64_t[]){ b, grid * grid, d });
  RmTensor *cls = rm_add (ctx, rm_zeros (ctx, 3, (int64_t[]){ b, 1, d }),
                          rm_fw_weight (fw, "mm_extractor.beit3.vision_embed.cls_token"));
  RmTensor *vision = rm_concat (ctx, cls, patches, 1);
  rm_fw_tap (fw, "beit.vision_embed_out", vision);

  RmTensor *text = rm_reshape (
      ctx,
      rm_embedding (ctx, rm_fw_weight (fw, "mm_extractor.beit3.text_embed.weight"), in->ids, b * l),
      3, (int64_t[]){ b, l, d });
  rm_fw_tap (fw, "beit.text_embed_out", text);

  /* Positions start at row 2 of both tables (fairseq's padding offset). */
  int64_t n_vision = vision->shape[1];
  const RmTensor *pos_a = rm_fw_weight (fw, "mm_extractor.beit3.encoder.embed_positions.A.weight");
  const RmTensor *pos_b = rm_fw_weight (fw, "mm_extractor.beit3.encoder.embed_positions.B.weight");
  vision = rm_add (ctx, vision, rm_fw_rows (fw, pos_a, 2, n_vision));
  text = rm_add (ctx, text, rm_fw_rows (fw, pos_b, 2, l));
  RmTensor *x = rm_concat (ctx, vision, text, 1);

  /* Padded text tokens are zeroed once, at the input. The mask is built on the host, then
   * moved to the context's device. */
  RmTensor *keep = rm_new_host (ctx, 3, (int64_t[]){ b, n_vision + l, 1 });
  for (int64_t i = 0; i < b; i++)
    for (int64_t j = 0; j < n_vision + l; j++)
      keep->data[i * (n_vision + l) + j] = j < n_vision || !in->pad[i * l + (j - n_vision)];
  RmTensor *keep_dev = rm_upload (ctx, keep, &fw->error);
  if (keep_dev == NULL)
    return NULL;
  x = rm_mul (ctx, x, keep_dev);
  rm_fw_tap (fw, "beit.layers_in", x);
  *n_vision_out = n_vision;
  return x;
}

RmTensor *
rm_beit3_forward (RmForward *fw, const RmForwardInput *in)
{
  RmCtx *ctx = fw->ctx;
  const RmModelConfig *cfg = &fw->core->cfg;
  int64_t n_vision;
  RmTensor *x = embed_tokens (fw, in, &n_vision);
  if (x == NULL)
    return NULL;
  int64_t b = in->batch, n = x->shape[1], l = in->text_len;

  uint8_t *key_pad = rm_arena_alloc (ctx->arena, (size_t) (b * n));
  for (int64_t i = 0; i < b; i++)
    for (int64_t j = 0; j < n; j++)
      key_pad[i * n + j] = j >= n_vision && in->pad[i * l + (j - n_vision)];

  int heads = cfg->beit_heads;
  float q_scale = 1.0f / sqrtf ((float) (cfg->beit_dim / heads));
  char key[160];
  for (int layer = 0; layer < cfg->beit_layers; layer++)
    {
      if (rm_fw_should_stop (fw))
        return NULL;
      RmCtxMark layer_start = rm_ctx_mark (ctx);
      snprintf (key, sizeof key, "mm_extractor.beit3.encoder.layers.%d.", layer);
#define LAYER_KEY(head, tail) key, head, tail
      RmTensor *h =
          multiway (fw, x, n_vision, MULTIWAY_LAYERNORM, LAYER_KEY ("self_attn_layer_norm.", ""));
      /* torchscale scales q right after its projection. */
      RmTensor *q = rm_scale (
          ctx, multiway (fw, h, n_vision, MULTIWAY_LINEAR, LAYER_KEY ("self_attn.q_proj.", "")),
          q_scale);
      RmTensor *k =
          multiway (fw, h, n_vision, MULTIWAY_LINEAR, LAYER_KEY ("self_attn.k_proj.", ""));
      RmTensor *v =
          multiway (fw, h, n_vision, MULTIWAY_LINEAR, LAYER_KEY ("self_attn.v_proj.", ""));
      RmTensor *a = rm_attention (ctx, q, k, v, heads, 1.0f, key_pad);
      a = multiway (fw, a, n_vision, MULTIWAY_LAYERNORM,
                    LAYER_KEY ("self_attn.inner_attn_ln.", ""));
      a = multiway (fw, a, n_vision, MULTIWAY_LINEAR, LAYER_KEY ("self_attn.out_proj.", ""));
      x = rm_add (ctx, x, a);

      h = multiway (fw, x, n_vision, MULTIWAY_LAYERNORM, LAYER_KEY ("final_layer_norm.", ""));
      h = rm_gelu (ctx, multiway (fw, h, n_vision, MULTIWAY_LINEAR, LAYER_KEY ("ffn.", ".fc1")));
      h = multiway (fw, h, n_vision, MULTIWAY_LAYERNORM, LAYER_KEY ("ffn.", ".ffn_layernorm"));
      h = multiway (fw, h, n_vision, MULTIWAY_LINEAR, LAYER_KEY ("ffn.", ".fc2"));
      x = rm_add (ctx, x, h);
#undef LAYER_KEY
      char name[64];
      snprintf (name, sizeof name, "beit.layer%d_out", layer);
      rm_fw_tap (fw, name, x);
      rm_fw_keep_and_release (fw, layer_start, &x, 1);
      if (fw->stage != NULL)
        fw->stage (fw->stage_user, "BEiT-3", (double) (layer + 1) / cfg->beit_layers);
    }
  x = multiway (fw, x, n_vision, MULTIWAY_LAYERNORM, "mm_extractor.beit3.encoder.", "layer_norm.",
                "");
  if (fw->tap != NULL)
    {
      rm_fw_tap (fw, "beit.out_cls", rm_slice (ctx, x, 1, 0, 1));
      rm_fw_tap (fw, "beit.out_visual", rm_slice (ctx, x, 1, 1, n_vision - 1));
      rm_fw_tap (fw, "beit.out_text", rm_slice (ctx, x, 1, n_vision, l));
      rm_fw_tap (fw, "beit.encoder_out", x);
    }
  return x;
}
