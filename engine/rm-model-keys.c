/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "rm-model-keys.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

typedef struct
{
  RmKeyFunc fn;
  void *user;
  char prefix[160];
} KeyEmitter;

static void
emit (KeyEmitter *e, const char *name, int ndim, ...)
{
  int64_t shape[RM_MAX_DIMS];
  va_list ap;
  va_start (ap, ndim);
  for (int i = 0; i < ndim; i++)
    shape[i] = va_arg (ap, int);
  va_end (ap);
  g_autofree char *key = g_strconcat (e->prefix, name, NULL);
  e->fn (e->user, key, ndim, shape);
}

static void set_prefix (KeyEmitter *e, const char *fmt, ...)
    __attribute__ ((format (printf, 2, 3)));

static void
set_prefix (KeyEmitter *e, const char *fmt, ...)
{
  va_list ap;
  va_start (ap, fmt);
  vsnprintf (e->prefix, sizeof e->prefix, fmt, ap);
  va_end (ap);
}

/* nn.Linear(in -> out) as `<name>.weight` (out, in) and `<name>.bias` (out). */
static void
emit_linear (KeyEmitter *e, const char *name, int in, int out)
{
  {
    g_autofree char *buf = g_strdup_printf ("%s.weight", name);
    emit (e, buf, 2, out, in);
  }
  {
    g_autofree char *buf = g_strdup_printf ("%s.bias", name);
    emit (e, buf, 1, out);
  }
}

static void
emit_norm (KeyEmitter *e, const char *name, int dim)
{
  {
    g_autofree char *buf = g_strdup_printf ("%s.weight", name);
    emit (e, buf, 1, dim);
  }
  {
    g_autofree char *buf = g_strdup_printf ("%s.bias", name);
    emit (e, buf, 1, dim);
  }
}

/* nn.MultiheadAttention packed projections. */
static void
emit_mha (KeyEmitter *e, const char *name, int dim)
{
  {
    g_autofree char *buf = g_strdup_printf ("%s.in_proj_weight", name);
    emit (e, buf, 2, 3 * dim, dim);
  }
  {
    g_autofree char *buf = g_strdup_printf ("%s.in_proj_bias", name);
    emit (e, buf, 1, 3 * dim);
  }
  {
    g_autofree char *buf = g_strdup_printf ("%s.out_proj", name);
    emit_linear (e, buf, dim, dim);
  }
}

static void
emit_conv (KeyEmitter *e, const char *name, int in, int out, int k)
{
  {
    g_autofree char *buf = g_strdup_printf ("%s.weight", name);
    emit (e, buf, 4, out, in, k, k);
  }
  {
    g_autofree char *buf = g_strdup_printf ("%s.bias", name);
    emit (e, buf, 1, out);
  }
}

/* A SAM MLP: layers.0 .. layers.{n-1}. */
static void
emit_sam_mlp (KeyEmitter *e, const char *name, int in, int hidden, int out, int n_layers)
{
  for (int i = 0; i < n_layers; i++)
    {
      {
        g_autofree char *buf = g_strdup_printf ("%s.layers.%d", name, i);
        emit_linear (e, buf, i == 0 ? in : hidden, i == n_layers - 1 ? out : hidden);
      }
    }
}

static void
emit_hiera (KeyEmitter *e, const RmModelConfig *cfg)
{
  int c0 = cfg->hiera_embed_dim, ds = cfg->sam_dim;
  set_prefix (e, "visual_model.image_encoder.trunk.");
  emit (e, "pos_embed", 4, 1, c0, cfg->hiera_pos_bkg[0], cfg->hiera_pos_bkg[1]);
  emit (e, "pos_embed_window", 4, 1, c0, cfg->hiera_window_spec[0], cfg->hiera_window_spec[0]);
  emit_conv (e, "patch_embed.proj", 3, c0, 7);
  int n = rm_hiera_n_blocks (cfg);
  for (int i = 0; i < n; i++)
    {
      RmHieraBlockInfo b;
      rm_hiera_block_info (cfg, i, &b);
      int h = b.dim_out / 4;
      set_prefix (e, "visual_model.image_encoder.trunk.blocks.%d.", i);
      emit_norm (e, "norm1", b.dim_in);
      emit_linear (e, "attn.qkv", b.dim_in, 3 * b.dim_out);
      emit_linear (e, "attn.proj", b.dim_out, b.dim_out);
      if (b.dim_in != b.dim_out)
        emit_linear (e, "proj", b.dim_in, b.dim_out);
      emit_linear (e, "MLP_Adapter.D_fc1", b.dim_out, h);
      emit_linear (e, "MLP_Adapter.D_fc2", h, b.dim_out);
      emit_linear (e, "Space_Adapter.D_fc1", b.dim_out, h);
      emit_linear (e, "Space_Adapter.D_fc2", h, b.dim_out);
      emit_mha (e, "Space_Adapter.vlfusion_module.multihead_attn", h);
      emit_mha (e, "Space_Adapter.lvfusion_module.multihead_attn", h);
      emit_linear (e, "Space_Adapter.text_in_linear", ds, h);
      emit_linear (e, "Space_Adapter.text_out_linear", h, ds);
      emit_norm (e, "norm2", b.dim_out);
      emit_linear (e, "mlp.layers.0", b.dim_out, 4 * b.dim_out);
      emit_linear (e, "mlp.layers.1", 4 * b.dim_out, b.dim_out);
    }
  /* convs.0 is for the lowest resolution (the last stage). */
  set_prefix (e, "visual_model.image_encoder.neck.");
  for (int k = 0; k < 4; k++)
    {
      RmHieraBlockInfo b;
      rm_hiera_block_info (cfg, rm_hiera_stage_end (cfg, 3 - k), &b);
      {
        g_autofree char *name = g_strdup_printf ("convs.%d.conv", k);
        emit_conv (e, name, b.dim_out, ds, 1);
      }
    }
}

static void
emit_sam_heads (KeyEmitter *e, const RmModelConfig *cfg)
{
  int ds = cfg->sam_dim, mc = cfg->mask_in_chans;
  set_prefix (e, "visual_model.");
  emit (e, "no_mem_embed", 3, 1, 1, ds);
  set_prefix (e, "visual_model.sam_prompt_encoder.");
  emit (e, "pe_layer.positional_encoding_gaussian_matrix", 2, 2, ds / 2);
  emit_conv (e, "mask_downscaling.0", 1, mc / 4, 2);
  emit_norm (e, "mask_downscaling.1", mc / 4);
  emit_conv (e, "mask_downscaling.3", mc / 4, mc, 2);
  emit_norm (e, "mask_downscaling.4", mc);
  emit_conv (e, "mask_downscaling.6", mc, ds, 1);

  set_prefix (e, "visual_model.sam_mask_decoder.");
  emit_mha (e, "vlfusion_module.multihead_attn", ds);
  emit (e, "obj_score_token.weight", 2, 1, ds);
  emit (e, "iou_token.weight", 2, 1, ds);
  emit (e, "mask_tokens.weight", 2, 4, ds);
  static const char *const attns[] = { "self_attn", "cross_attn_token_to_image",
                                       "cross_attn_image_to_token" };
  for (int l = 0; l < 2; l++)
    {
      for (int a = 0; a < 3; a++)
        {
          int inner = a == 0 ? ds : ds / 2;
          static const char *const projs[] = { "q_proj", "k_proj", "v_proj" };
          for (int p = 0; p < 3; p++)
            {
              {
                g_autofree char *name =
                    g_strdup_printf ("transformer.layers.%d.%s.%s", l, attns[a], projs[p]);
                emit_linear (e, name, ds, inner);
              }
            }
          {
            g_autofree char *name =
                g_strdup_printf ("transformer.layers.%d.%s.out_proj", l, attns[a]);
            emit_linear (e, name, inner, ds);
          }
        }
      for (int n = 1; n <= 4; n++)
        {
          {
            g_autofree char *name = g_strdup_printf ("transformer.layers.%d.norm%d", l, n);
            emit_norm (e, name, ds);
          }
        }
      {
        g_autofree char *name = g_strdup_printf ("transformer.layers.%d.mlp", l);
        emit_sam_mlp (e, name, ds, cfg->dec_mlp_dim, ds, 2);
      }
    }
  emit_linear (e, "transformer.final_attn_token_to_image.q_proj", ds, ds / 2);
  emit_linear (e, "transformer.final_attn_token_to_image.k_proj", ds, ds / 2);
  emit_linear (e, "transformer.final_attn_token_to_image.v_proj", ds, ds / 2);
  emit_linear (e, "transformer.final_attn_token_to_image.out_proj", ds / 2, ds);
  emit_norm (e, "transformer.norm_final_attn", ds);
  /* ConvTranspose2d weights are stored (C_in, C_out, kH, kW). */
  emit (e, "output_upscaling.0.weight", 4, ds, ds / 4, 2, 2);
  emit (e, "output_upscaling.0.bias", 1, ds / 4);
  emit_norm (e, "output_upscaling.1", ds / 4);
  emit (e, "output_upscaling.3.weight", 4, ds / 4, ds / 8, 2, 2);
  emit (e, "output_upscaling.3.bias", 1, ds / 8);
  emit_conv (e, "conv_s0", ds, ds / 8, 1);
  emit_conv (e, "conv_s1", ds, ds / 4, 1);
  for (int t = 0; t < 4; t++)
    {
      {
        g_autofree char *name = g_strdup_printf ("output_hypernetworks_mlps.%d", t);
        emit_sam_mlp (e, name, ds, ds, ds / 8, 3);
      }
    }
  emit_sam_mlp (e, "iou_prediction_head", ds, cfg->iou_hidden, 4, 3);
  emit_sam_mlp (e, "pred_obj_score_head", ds, ds, 1, 3);
}

static void
emit_beit3 (KeyEmitter *e, const RmModelConfig *cfg)
{
  int d = cfg->beit_dim, grid = cfg->beit_image_size / cfg->beit_patch_size;
  set_prefix (e, "mm_extractor.beit3.");
  emit (e, "text_embed.weight", 2, cfg->beit_vocab_size, d);
  emit (e, "vision_embed.cls_token", 3, 1, 1, d);
  emit_conv (e, "vision_embed.proj", 3, d, cfg->beit_patch_size);
  /* Vision positions: CLS + patches, offset by the two rows fairseq reserves. */
  emit (e, "encoder.embed_positions.A.weight", 2, grid * grid + 1 + 2, d);
  emit (e, "encoder.embed_positions.B.weight", 2, cfg->beit_max_text_positions, d);
  static const char *const ways[] = { "A", "B" };
  for (int l = 0; l < cfg->beit_layers; l++)
    for (int w = 0; w < 2; w++)
      {
        set_prefix (e, "mm_extractor.beit3.encoder.layers.%d.", l);
        static const char *const projs[] = { "q_proj", "k_proj", "v_proj", "out_proj" };
        for (int p = 0; p < 4; p++)
          {
            {
              g_autofree char *name = g_strdup_printf ("self_attn.%s.%s", projs[p], ways[w]);
              emit_linear (e, name, d, d);
            }
          }
        {
          g_autofree char *name = g_strdup_printf ("self_attn.inner_attn_ln.%s", ways[w]);
          emit_norm (e, name, d);
        }
        {
          g_autofree char *name = g_strdup_printf ("self_attn_layer_norm.%s", ways[w]);
          emit_norm (e, name, d);
        }
        {
          g_autofree char *name = g_strdup_printf ("ffn.%s.fc1", ways[w]);
          emit_linear (e, name, d, cfg->beit_ffn_dim);
        }
        {
          g_autofree char *name = g_strdup_printf ("ffn.%s.fc2", ways[w]);
          emit_linear (e, name, cfg->beit_ffn_dim, d);
        }
        {
          g_autofree char *name = g_strdup_printf ("ffn.%s.ffn_layernorm", ways[w]);
          emit_norm (e, name, cfg->beit_ffn_dim);
        }
        {
          g_autofree char *name = g_strdup_printf ("final_layer_norm.%s", ways[w]);
          emit_norm (e, name, d);
        }
      }
  set_prefix (e, "mm_extractor.beit3.");
  emit_norm (e, "encoder.layer_norm.A", d);
  emit_norm (e, "encoder.layer_norm.B", d);
}

static void
emit_evf_heads (KeyEmitter *e, const RmModelConfig *cfg)
{
  int d = cfg->beit_dim, ds = cfg->sam_dim;
  set_prefix (e, "%s", "");
  emit_linear (e, "text_hidden_fcs.0.0", d, d);
  emit_linear (e, "text_hidden_fcs.0.2", d, ds);
  emit_linear (e, "text_feat_linear", d, ds);
  emit_linear (e, "text2one_linear", ds, 1);
  emit_mha (e, "vmtoken.multihead_attn", d);
  emit_linear (e, "mask_linear", d, d);
  emit_linear (e, "mask_product", d, 1);
}

void
rm_model_foreach_key (const RmModelConfig *cfg, RmKeyFunc fn, void *user)
{
  KeyEmitter e = { .fn = fn, .user = user };
  emit_beit3 (&e, cfg);
  emit_evf_heads (&e, cfg);
  emit_hiera (&e, cfg);
  emit_sam_heads (&e, cfg);
}

bool
rm_model_key_is_unused (const char *key)
{
  static const char *const prefixes[] = {
    "visual_model.memory_attention.",
    "visual_model.memory_encoder.",
    "visual_model.obj_ptr_proj.",
    "visual_model.mask_downsample.",
    "visual_model.maskmem_tpos_enc",
    "visual_model.no_mem_pos_enc",
    "visual_model.no_obj_ptr",
    "visual_model.sam_prompt_encoder.point_embeddings.",
    "visual_model.sam_prompt_encoder.not_a_point_embed.",
    "visual_model.sam_prompt_encoder.no_mask_embed.",
    "mm_extractor.beit3.vision_embed.mask_token",
    "meo_linear.",
  };
  for (size_t i = 0; i < G_N_ELEMENTS (prefixes); i++)
    if (g_str_has_prefix (key, prefixes[i]))
      return true;
  return false;
}
