/* SPDX-License-Identifier: GPL-3.0-or-later
 * What the model's modules share inside the engine: the configuration and the weight table.
 * Not part of the public API (refmask-engine.h).
 */
#pragma once

#include "rm-ops.h"
#include <glib.h>

#define RM_MAX_HIERA_STAGES 4
#define RM_MAX_HIERA_BLOCKS 64

/* Every size of an RS2-SAM2 model; read from config.json (rm-config.c). The released model is
 * hiera-L at 1024, BEiT-3-large at 224, SAM width 256. */
typedef struct RmModelConfig
{
  /* SAM2 branch */
  int sam_image_size;   /* S: input side, multiple of 32 */
  int sam_dim;          /* Ds: neck d_model, prompt/decoder width, BHFM text width */
  int dec_mlp_dim;      /* two-way transformer MLP width (2048 released) */
  int dec_heads;        /* two-way transformer heads (8 released) */
  int iou_hidden;       /* IoU head hidden width (256 released) */
  int dec_fusion_heads; /* BC vlfusion heads (8, a literal in the official code) */
  int mask_in_chans;    /* prompt encoder mask channels (16) */
  /* Hiera trunk */
  int hiera_embed_dim;
  int hiera_num_heads;
  int hiera_stages[RM_MAX_HIERA_STAGES];
  int hiera_global_att_blocks[RM_MAX_HIERA_BLOCKS];
  int hiera_n_global_att_blocks;
  int hiera_window_spec[RM_MAX_HIERA_STAGES];
  int hiera_pos_bkg[2];    /* window_pos_embed_bkg_spatial_size */
  int bhfm_heads;          /* 4 (official literal) */
  float bhfm_text_alpha;   /* 0.2: T_new = (1-a) T + a out */
  float mlp_adapter_scale; /* 0.5 */
  /* BEiT-3 */
  int beit_image_size; /* 224 */
  int beit_patch_size; /* 16 */
  int beit_dim;        /* D */
  int beit_heads;
  int beit_ffn_dim;
  int beit_layers;
  int beit_vocab_size;
  int beit_max_text_positions; /* rows of embed_positions.B */
  int mpg_heads;               /* vmtoken heads (8) */
} RmModelConfig;

/* Derived per-block layout of the Hiera trunk (spec §2.2). */
typedef struct RmHieraBlockInfo
{
  int dim_in, dim_out, heads, window; /* window 0 = global */
  bool pool;                          /* q-pool + projected shortcut (first block of stage>0) */
  int stage;                          /* stage the block belongs to */
} RmHieraBlockInfo;

int rm_hiera_n_blocks (const RmModelConfig *cfg);
void rm_hiera_block_info (const RmModelConfig *cfg, int i, RmHieraBlockInfo *out);
/* Index of the last block of each stage. */
int rm_hiera_stage_end (const RmModelConfig *cfg, int stage);

/* The released configuration (spec §2.1, §3.1). */
void rm_model_config_init_large (RmModelConfig *cfg);

/* Weight table: tensors by official state-dict key. Lookup of a key the loader did not
 * validate is a programming error (aborts with the key). */
typedef struct RmWeights RmWeights;
const RmTensor *rm_weights_get (const RmWeights *w, const char *key);
/* printf-style key. */
const RmTensor *rm_weights_getf (const RmWeights *w, const char *fmt, ...)
    __attribute__ ((format (printf, 2, 3)));
