/* SPDX-License-Identifier: GPL-3.0-or-later
 * The configuration layer against the official model: the key/shape list the engine derives
 * from a config must be exactly the released checkpoint's (spec/rs2sam2-large-keys.tsv), and the
 * derived Hiera block layout must be the one of spec §2.2.
 */
#include "rm-config.h"
#include "rm-model-keys.h"

#include <glib.h>
#include <stdio.h>
#include <string.h>

static char *
shared_path (const char *rel)
{
  const char *dir = g_getenv ("REFMASK_SHARED_DIR");
  return g_build_filename (dir ? dir : "../shared", rel, NULL);
}

typedef struct
{
  GHashTable *reference; /* key -> "(a, b, c)" */
  int n_generated, n_mismatch, n_missing;
} KeyCheck;

static void
check_key (void *user, const char *key, int ndim, const int64_t *shape)
{
  KeyCheck *kc = user;
  GString *s = g_string_new ("(");
  for (int i = 0; i < ndim; i++)
    g_string_append_printf (s, "%s%" G_GINT64_FORMAT, i ? ", " : "", shape[i]);
  if (ndim == 1)
    g_string_append_c (s, ',');
  g_string_append_c (s, ')');
  const char *want = g_hash_table_lookup (kc->reference, key);
  kc->n_generated++;
  if (want == NULL)
    {
      g_test_message ("generated but not in the checkpoint: %s", key);
      kc->n_missing++;
    }
  else if (strcmp (want, s->str) != 0)
    {
      g_test_message ("%s: generated %s, checkpoint %s", key, s->str, want);
      kc->n_mismatch++;
    }
  else
    g_hash_table_remove (kc->reference, key);
  g_string_free (s, TRUE);
}

static void
test_large_keys_match_checkpoint (void)
{
  g_autofree char *path = shared_path ("spec/rs2sam2-large-keys.tsv");
  g_autofree char *text = NULL;
  if (!g_file_get_contents (path, &text, NULL, NULL))
    {
      g_test_skip ("spec/rs2sam2-large-keys.tsv not found (set REFMASK_SHARED_DIR)");
      return;
    }
  KeyCheck kc = { .reference = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free) };
  g_auto (GStrv) lines = g_strsplit (text, "\n", -1);
  int n_lines = 0;
  for (char **l = lines; *l; l++)
    {
      g_auto (GStrv) f = g_strsplit (*l, "\t", 3);
      if (g_strv_length (f) < 2)
        continue;
      g_hash_table_insert (kc.reference, g_strdup (f[0]), g_strdup (f[1]));
      n_lines++;
    }
  g_assert_cmpint (n_lines, ==, 2853);
  RmModelConfig cfg;
  rm_model_config_init_large (&cfg);
  rm_model_foreach_key (&cfg, check_key, &kc);
  g_assert_cmpint (kc.n_missing, ==, 0);
  g_assert_cmpint (kc.n_mismatch, ==, 0);
  /* What is left must be the official modules RS2-SAM2 never computes with. */
  GHashTableIter it;
  gpointer key;
  g_hash_table_iter_init (&it, kc.reference);
  int n_unused = 0;
  while (g_hash_table_iter_next (&it, &key, NULL))
    {
      if (!rm_model_key_is_unused (key))
        g_test_message ("checkpoint key neither used nor known-unused: %s", (char *) key);
      g_assert_true (rm_model_key_is_unused (key));
      n_unused++;
    }
  g_assert_cmpint (kc.n_generated + n_unused, ==, 2853);
  g_hash_table_unref (kc.reference);
}

static void
test_large_block_layout (void)
{
  RmModelConfig cfg;
  rm_model_config_init_large (&cfg);
  g_assert_true (rm_model_config_validate (&cfg, NULL));
  g_assert_cmpint (rm_hiera_n_blocks (&cfg), ==, 48);
  /* Spec §2.2 table: (dim_in, dim_out, heads, window, pool). */
  static const int expect[][6] = {
    { 0, 144, 144, 2, 8, 0 },     { 1, 144, 144, 2, 8, 0 },     { 2, 144, 288, 4, 8, 1 },
    { 3, 288, 288, 4, 4, 0 },     { 7, 288, 288, 4, 4, 0 },     { 8, 288, 576, 8, 4, 1 },
    { 9, 576, 576, 8, 16, 0 },    { 23, 576, 576, 8, 0, 0 },    { 33, 576, 576, 8, 0, 0 },
    { 43, 576, 576, 8, 0, 0 },    { 44, 576, 1152, 16, 16, 1 }, { 45, 1152, 1152, 16, 8, 0 },
    { 47, 1152, 1152, 16, 8, 0 },
  };
  for (size_t i = 0; i < G_N_ELEMENTS (expect); i++)
    {
      RmHieraBlockInfo b;
      rm_hiera_block_info (&cfg, expect[i][0], &b);
      g_assert_cmpint (b.dim_in, ==, expect[i][1]);
      g_assert_cmpint (b.dim_out, ==, expect[i][2]);
      g_assert_cmpint (b.heads, ==, expect[i][3]);
      g_assert_cmpint (b.window, ==, expect[i][4]);
      g_assert_cmpint (b.pool, ==, expect[i][5]);
    }
  g_assert_cmpint (rm_hiera_stage_end (&cfg, 0), ==, 1);
  g_assert_cmpint (rm_hiera_stage_end (&cfg, 1), ==, 7);
  g_assert_cmpint (rm_hiera_stage_end (&cfg, 2), ==, 43);
  g_assert_cmpint (rm_hiera_stage_end (&cfg, 3), ==, 47);
}

static void
expect_config_error (const char *json, const char *fragment)
{
  g_autoptr (JsonParser) p = json_parser_new ();
  g_assert_true (json_parser_load_from_data (p, json, -1, NULL));
  RmModelConfig cfg;
  g_autoptr (GError) error = NULL;
  g_assert_false (rm_model_config_from_json_object (
      &cfg, json_node_get_object (json_parser_get_root (p)), &error));
  g_assert_nonnull (error);
  if (strstr (error->message, fragment) == NULL)
    g_error ("error '%s' does not mention '%s'", error->message, fragment);
}

#define BASE                                                                         \
  "\"sam_dim\": 32, \"hiera_embed_dim\": 16, \"beit_dim\": 64, \"beit_layers\": 2, " \
  "\"beit_heads\": 4, \"beit_ffn_dim\": 256, \"beit_vocab_size\": 1010"

static void
test_config_rejects_bad_values (void)
{
  expect_config_error ("{" BASE "}", "sam_image_size");
  expect_config_error ("{\"sam_image_size\": 250, " BASE "}", "multiple of 32");
  expect_config_error ("{\"sam_image_size\": \"256\", " BASE "}", "integer");
  expect_config_error ("{\"sam_image_size\": -256, " BASE "}", "out of range");
  expect_config_error ("{\"sam_image_size\": 256, " BASE ", \"hiera_stages\": [1, 2]}", "entries");
  expect_config_error ("{\"sam_image_size\": 256, " BASE ", \"hiera_global_att_blocks\": [99]}",
                       "does not exist");
  expect_config_error ("{\"sam_image_size\": 288, " BASE ", \"hiera_window_spec\": [16, 4, 16, 8]}",
                       "window_spec[0]");
}

static void
test_config_roundtrip (void)
{
  RmModelConfig cfg, back;
  rm_model_config_init_large (&cfg);
  g_autofree char *json = rm_model_config_to_json (&cfg);
  g_autoptr (JsonParser) p = json_parser_new ();
  g_assert_true (json_parser_load_from_data (p, json, -1, NULL));
  g_assert_true (rm_model_config_from_json_object (
      &back, json_node_get_object (json_parser_get_root (p)), NULL));
  g_assert_cmpmem (&cfg, sizeof cfg, &back, sizeof back);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/model-config/large-keys-match-checkpoint", test_large_keys_match_checkpoint);
  g_test_add_func ("/model-config/large-block-layout", test_large_block_layout);
  g_test_add_func ("/model-config/rejects-bad-values", test_config_rejects_bad_values);
  g_test_add_func ("/model-config/roundtrip", test_config_roundtrip);
  return g_test_run ();
}
