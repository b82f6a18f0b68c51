/* SPDX-License-Identifier: GPL-3.0-or-later
 * Model configuration: config.json parsing, validation, and the derived Hiera block layout.
 *
 * The JSON keys are those of the golden sets' `config.set` (manifest.json), so a golden set's
 * configuration and a model directory's config.json are read by the same code.
 */
#include "rm-config.h"
#include "rm-error.h"

#include <json-glib/json-glib.h>
#include <string.h>

void
rm_model_config_init_large (RmModelConfig *cfg)
{
  static const int stages[] = { 2, 6, 36, 4 };
  static const int windows[] = { 8, 4, 16, 8 };
  static const int globals[] = { 23, 33, 43 };
  memset (cfg, 0, sizeof *cfg);
  cfg->sam_image_size = 1024;
  cfg->sam_dim = 256;
  cfg->dec_mlp_dim = 2048;
  cfg->dec_heads = 8;
  cfg->iou_hidden = 256;
  cfg->dec_fusion_heads = 8;
  cfg->mask_in_chans = 16;
  cfg->hiera_embed_dim = 144;
  cfg->hiera_num_heads = 2;
  memcpy (cfg->hiera_stages, stages, sizeof stages);
  memcpy (cfg->hiera_window_spec, windows, sizeof windows);
  memcpy (cfg->hiera_global_att_blocks, globals, sizeof globals);
  cfg->hiera_n_global_att_blocks = 3;
  cfg->hiera_pos_bkg[0] = cfg->hiera_pos_bkg[1] = 7;
  cfg->bhfm_heads = 4;
  cfg->bhfm_text_alpha = 0.2f;
  cfg->mlp_adapter_scale = 0.5f;
  cfg->beit_image_size = 224;
  cfg->beit_patch_size = 16;
  cfg->beit_dim = 1024;
  cfg->beit_heads = 16;
  cfg->beit_ffn_dim = 4096;
  cfg->beit_layers = 24;
  cfg->beit_vocab_size = 64010;
  cfg->beit_max_text_positions = 1024;
  cfg->mpg_heads = 8;
}

int
rm_hiera_n_blocks (const RmModelConfig *cfg)
{
  int n = 0;
  for (int s = 0; s < RM_MAX_HIERA_STAGES; s++)
    n += cfg->hiera_stages[s];
  return n;
}

int
rm_hiera_stage_end (const RmModelConfig *cfg, int stage)
{
  int end = -1;
  for (int s = 0; s <= stage; s++)
    end += cfg->hiera_stages[s];
  return end;
}

static bool
is_global_block (const RmModelConfig *cfg, int i)
{
  for (int g = 0; g < cfg->hiera_n_global_att_blocks; g++)
    if (cfg->hiera_global_att_blocks[g] == i)
      return true;
  return false;
}

/* Mirrors the construction loop of Hiera.__init__ (spec §2.2): the first block of a new stage
 * doubles width and heads and pools, and it still uses the previous stage's window size. */
void
rm_hiera_block_info (const RmModelConfig *cfg, int i, RmHieraBlockInfo *out)
{
  int dim = cfg->hiera_embed_dim, heads = cfg->hiera_num_heads, cur_stage = 1;
  for (int b = 0; b <= i; b++)
    {
      int dim_out = dim;
      int window = cfg->hiera_window_spec[cur_stage - 1];
      bool pool = false;
      if (b - 1 >= 0 && b - 1 == rm_hiera_stage_end (cfg, cur_stage - 1) && cur_stage < 4)
        {
          dim_out = 2 * dim;
          heads *= 2;
          cur_stage++;
          pool = true;
        }
      if (is_global_block (cfg, b))
        window = 0;
      if (b == i)
        {
          *out = (RmHieraBlockInfo){ .dim_in = dim,
                                     .dim_out = dim_out,
                                     .heads = heads,
                                     .window = window,
                                     .pool = pool,
                                     .stage = cur_stage - 1 };
          return;
        }
      dim = dim_out;
    }
}

static bool
read_int (JsonObject *obj, const char *key, int *dst, bool required, GError **error)
{
  if (!json_object_has_member (obj, key))
    {
      if (required)
        g_set_error (error, RM_ERROR, RM_ERROR_FORMAT, "config: missing key '%s'", key);
      return !required;
    }
  JsonNode *node = json_object_get_member (obj, key);
  if (!JSON_NODE_HOLDS_VALUE (node) || json_node_get_value_type (node) != G_TYPE_INT64)
    {
      g_set_error (error, RM_ERROR, RM_ERROR_FORMAT, "config: '%s' must be an integer", key);
      return false;
    }
  gint64 v = json_node_get_int (node);
  if (v < 0 || v > 1 << 20)
    {
      g_set_error (error, RM_ERROR, RM_ERROR_FORMAT,
                   "config: '%s' = %" G_GINT64_FORMAT " is out of range", key, v);
      return false;
    }
  *dst = (int) v;
  return true;
}

static bool
read_int_array (JsonObject *obj, const char *key, int *dst, int max_len, int *len_out,
                int exact_len, GError **error)
{
  if (!json_object_has_member (obj, key))
    return true; /* keep the default */
  JsonNode *node = json_object_get_member (obj, key);
  if (!JSON_NODE_HOLDS_ARRAY (node))
    {
      g_set_error (error, RM_ERROR, RM_ERROR_FORMAT, "config: '%s' must be an array", key);
      return false;
    }
  JsonArray *arr = json_node_get_array (node);
  guint n = json_array_get_length (arr);
  if (n > (guint) max_len || (exact_len > 0 && n != (guint) exact_len))
    {
      g_set_error (error, RM_ERROR, RM_ERROR_FORMAT, "config: '%s' has %u entries", key, n);
      return false;
    }
  for (guint i = 0; i < n; i++)
    {
      JsonNode *e = json_array_get_element (arr, i);
      if (!JSON_NODE_HOLDS_VALUE (e) || json_node_get_value_type (e) != G_TYPE_INT64 ||
          json_node_get_int (e) < 0 || json_node_get_int (e) > 1 << 20)
        {
          g_set_error (error, RM_ERROR, RM_ERROR_FORMAT,
                       "config: '%s'[%u] must be a non-negative integer", key, i);
          return false;
        }
      dst[i] = (int) json_node_get_int (e);
    }
  if (len_out != NULL)
    *len_out = (int) n;
  return true;
}

bool
rm_model_config_validate (const RmModelConfig *cfg, GError **error)
{
#define REQUIRE(cond, ...)                                                        \
  do                                                                              \
    {                                                                             \
      if (!(cond))                                                                \
        {                                                                         \
          g_set_error (error, RM_ERROR, RM_ERROR_FORMAT, "config: " __VA_ARGS__); \
          return false;                                                           \
        }                                                                         \
    }                                                                             \
  while (0)
  REQUIRE (cfg->sam_image_size >= 32 && cfg->sam_image_size % 32 == 0,
           "sam_image_size %d must be a positive multiple of 32", cfg->sam_image_size);
  REQUIRE (cfg->sam_dim >= 8 && cfg->sam_dim % 8 == 0, "sam_dim %d must be a multiple of 8",
           cfg->sam_dim);
  REQUIRE (cfg->dec_heads > 0 && (cfg->sam_dim / 2) % cfg->dec_heads == 0,
           "sam_dec_heads %d must divide sam_dim/2", cfg->dec_heads);
  REQUIRE (cfg->dec_fusion_heads > 0 && cfg->sam_dim % cfg->dec_fusion_heads == 0,
           "decoder fusion heads %d must divide sam_dim", cfg->dec_fusion_heads);
  REQUIRE (cfg->dec_mlp_dim > 0 && cfg->iou_hidden > 0 && cfg->mask_in_chans >= 4,
           "decoder sizes must be positive");
  REQUIRE (cfg->hiera_embed_dim > 0 && cfg->hiera_num_heads > 0, "hiera sizes must be positive");
  int n_blocks = rm_hiera_n_blocks (cfg);
  for (int s = 0; s < RM_MAX_HIERA_STAGES; s++)
    REQUIRE (cfg->hiera_stages[s] > 0, "hiera_stages[%d] must be positive", s);
  REQUIRE (n_blocks <= RM_MAX_HIERA_BLOCKS, "%d Hiera blocks is more than %d", n_blocks,
           RM_MAX_HIERA_BLOCKS);
  int grid = cfg->sam_image_size / 4;
  REQUIRE (cfg->hiera_window_spec[0] > 0 && grid % cfg->hiera_window_spec[0] == 0,
           "the patch grid %d must be a multiple of window_spec[0] = %d (the window position "
           "table is tiled)",
           grid, cfg->hiera_window_spec[0]);
  for (int i = 0; i < n_blocks; i++)
    {
      RmHieraBlockInfo info;
      rm_hiera_block_info (cfg, i, &info);
      REQUIRE (info.dim_out % info.heads == 0, "block %d: width %d not divisible by %d heads", i,
               info.dim_out, info.heads);
      REQUIRE (info.dim_out / 4 >= cfg->bhfm_heads && (info.dim_out / 4) % cfg->bhfm_heads == 0,
               "block %d: BHFM width %d not divisible by %d heads", i, info.dim_out / 4,
               cfg->bhfm_heads);
      REQUIRE (!info.pool || info.window % 2 == 0, "block %d pools with odd window %d", i,
               info.window);
    }
  for (int g = 0; g < cfg->hiera_n_global_att_blocks; g++)
    REQUIRE (cfg->hiera_global_att_blocks[g] < n_blocks, "global block %d does not exist",
             cfg->hiera_global_att_blocks[g]);
  REQUIRE (cfg->hiera_pos_bkg[0] > 0 && cfg->hiera_pos_bkg[1] > 0, "pos-embed size must be > 0");
  REQUIRE (cfg->beit_patch_size > 0 && cfg->beit_image_size % cfg->beit_patch_size == 0,
           "beit_image_size %d must be a multiple of beit_patch_size %d", cfg->beit_image_size,
           cfg->beit_patch_size);
  REQUIRE (cfg->beit_heads > 0 && cfg->beit_dim % cfg->beit_heads == 0,
           "beit_heads %d must divide beit_dim %d", cfg->beit_heads, cfg->beit_dim);
  REQUIRE (cfg->mpg_heads > 0 && cfg->beit_dim % cfg->mpg_heads == 0,
           "mpg heads %d must divide beit_dim %d", cfg->mpg_heads, cfg->beit_dim);
  REQUIRE (cfg->beit_layers > 0 && cfg->beit_ffn_dim > 0, "BEiT-3 sizes must be positive");
  REQUIRE (cfg->beit_vocab_size > 4, "beit_vocab_size must be > 4");
  REQUIRE (cfg->beit_max_text_positions > 4, "beit_max_source_positions must be > 4");
#undef REQUIRE
  return true;
}

bool
rm_model_config_from_json_object (RmModelConfig *cfg, JsonObject *obj, GError **error)
{
  rm_model_config_init_large (cfg);
  int n = 0;
  /* Sizes every config must state; the rest default to the released model. */
  if (!read_int (obj, "sam_image_size", &cfg->sam_image_size, true, error) ||
      !read_int (obj, "sam_dim", &cfg->sam_dim, true, error) ||
      !read_int (obj, "hiera_embed_dim", &cfg->hiera_embed_dim, true, error) ||
      !read_int (obj, "beit_dim", &cfg->beit_dim, true, error) ||
      !read_int (obj, "beit_layers", &cfg->beit_layers, true, error) ||
      !read_int (obj, "beit_heads", &cfg->beit_heads, true, error) ||
      !read_int (obj, "beit_ffn_dim", &cfg->beit_ffn_dim, true, error) ||
      !read_int (obj, "beit_vocab_size", &cfg->beit_vocab_size, true, error) ||
      !read_int (obj, "sam_dec_mlp_dim", &cfg->dec_mlp_dim, false, error) ||
      !read_int (obj, "sam_dec_heads", &cfg->dec_heads, false, error) ||
      !read_int (obj, "sam_iou_hidden", &cfg->iou_hidden, false, error) ||
      !read_int (obj, "hiera_num_heads", &cfg->hiera_num_heads, false, error) ||
      !read_int (obj, "beit_image_size", &cfg->beit_image_size, false, error) ||
      !read_int (obj, "beit_patch_size", &cfg->beit_patch_size, false, error) ||
      !read_int (obj, "beit_max_source_positions", &cfg->beit_max_text_positions, false, error) ||
      !read_int_array (obj, "hiera_stages", cfg->hiera_stages, 4, NULL, 4, error) ||
      !read_int_array (obj, "hiera_window_spec", cfg->hiera_window_spec, 4, NULL, 4, error) ||
      !read_int_array (obj, "hiera_window_pos_embed_bkg_spatial_size", cfg->hiera_pos_bkg, 2, NULL,
                       2, error))
    return false;
  if (json_object_has_member (obj, "hiera_global_att_blocks"))
    {
      if (!read_int_array (obj, "hiera_global_att_blocks", cfg->hiera_global_att_blocks,
                           RM_MAX_HIERA_BLOCKS, &n, 0, error))
        return false;
      cfg->hiera_n_global_att_blocks = n;
    }
  return rm_model_config_validate (cfg, error);
}

bool
rm_model_config_load (RmModelConfig *cfg, const char *path, GError **error)
{
  g_autoptr (JsonParser) parser = json_parser_new ();
  g_autoptr (GError) local = NULL;
  if (!json_parser_load_from_file (parser, path, &local))
    {
      g_set_error (error, RM_ERROR, RM_ERROR_FORMAT, "%s: %s", path, local->message);
      return false;
    }
  JsonNode *root = json_parser_get_root (parser);
  if (root == NULL || !JSON_NODE_HOLDS_OBJECT (root))
    {
      g_set_error (error, RM_ERROR, RM_ERROR_FORMAT, "%s: not a JSON object", path);
      return false;
    }
  JsonObject *obj = json_node_get_object (root);
  /* A golden set's manifest.json holds the configuration under config.set. */
  if (json_object_has_member (obj, "config") &&
      JSON_NODE_HOLDS_OBJECT (json_object_get_member (obj, "config")))
    {
      JsonObject *c = json_object_get_object_member (obj, "config");
      if (json_object_has_member (c, "set") &&
          JSON_NODE_HOLDS_OBJECT (json_object_get_member (c, "set")))
        obj = json_object_get_object_member (c, "set");
    }
  if (!rm_model_config_from_json_object (cfg, obj, &local))
    {
      g_set_error (error, RM_ERROR, RM_ERROR_FORMAT, "%s: %s", path, local->message);
      return false;
    }
  return true;
}

char *
rm_model_config_to_json (const RmModelConfig *cfg)
{
  GString *s = g_string_new ("{\n");
  g_string_append_printf (s, "  \"sam_image_size\": %d,\n  \"sam_dim\": %d,\n", cfg->sam_image_size,
                          cfg->sam_dim);
  g_string_append_printf (s,
                          "  \"sam_dec_mlp_dim\": %d,\n  \"sam_dec_heads\": %d,\n"
                          "  \"sam_iou_hidden\": %d,\n",
                          cfg->dec_mlp_dim, cfg->dec_heads, cfg->iou_hidden);
  g_string_append_printf (s, "  \"hiera_embed_dim\": %d,\n  \"hiera_num_heads\": %d,\n",
                          cfg->hiera_embed_dim, cfg->hiera_num_heads);
  g_string_append_printf (s, "  \"hiera_stages\": [%d, %d, %d, %d],\n", cfg->hiera_stages[0],
                          cfg->hiera_stages[1], cfg->hiera_stages[2], cfg->hiera_stages[3]);
  g_string_append (s, "  \"hiera_global_att_blocks\": [");
  for (int i = 0; i < cfg->hiera_n_global_att_blocks; i++)
    g_string_append_printf (s, "%s%d", i ? ", " : "", cfg->hiera_global_att_blocks[i]);
  g_string_append_printf (s, "],\n  \"hiera_window_spec\": [%d, %d, %d, %d],\n",
                          cfg->hiera_window_spec[0], cfg->hiera_window_spec[1],
                          cfg->hiera_window_spec[2], cfg->hiera_window_spec[3]);
  g_string_append_printf (s, "  \"hiera_window_pos_embed_bkg_spatial_size\": [%d, %d],\n",
                          cfg->hiera_pos_bkg[0], cfg->hiera_pos_bkg[1]);
  g_string_append_printf (s,
                          "  \"beit_image_size\": %d,\n  \"beit_patch_size\": %d,\n"
                          "  \"beit_dim\": %d,\n  \"beit_heads\": %d,\n"
                          "  \"beit_ffn_dim\": %d,\n  \"beit_layers\": %d,\n"
                          "  \"beit_vocab_size\": %d,\n  \"beit_max_source_positions\": %d\n}\n",
                          cfg->beit_image_size, cfg->beit_patch_size, cfg->beit_dim,
                          cfg->beit_heads, cfg->beit_ffn_dim, cfg->beit_layers,
                          cfg->beit_vocab_size, cfg->beit_max_text_positions);
  return g_string_free (s, FALSE);
}
