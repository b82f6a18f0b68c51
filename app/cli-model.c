/* SPDX-License-Identifier: GPL-3.0-or-later
 * refmask model-init: makes a model directory (config.json, model.safetensors, tokenizer) from a
 * config and either existing weights (checked against the config) or a seeded random init.
 */
#include "cli.h"
#include "rm-config.h"
#include "rm-error.h"
#include "rm-weights.h"

#include <glib/gstdio.h>
#include <stdio.h>

static gboolean
copy_file (const char *from, const char *to, GError **error)
{
  g_autofree char *data = NULL;
  gsize len = 0;
  if (!g_file_get_contents (from, &data, &len, error))
    return FALSE;
  return g_file_set_contents (to, data, (gssize) len, error);
}

static gboolean
create_model_dir (const char *config, const char *tokenizer, const char *out, const char *weights,
                  uint64_t seed, float std, GError **error)
{
  RmModelConfig cfg;
  if (!rm_model_config_load (&cfg, config, error))
    return FALSE;
  if (g_file_test (out, G_FILE_TEST_EXISTS))
    {
      g_set_error (error, RM_ERROR, RM_ERROR_IO, "%s exists; not overwriting it", out);
      return FALSE;
    }
  g_autoptr (RmWeights) w =
      weights ? rm_weights_load (weights, &cfg, error) : rm_weights_new_random (&cfg, seed, std);
  if (w == NULL)
    return FALSE;
  if (g_mkdir_with_parents (out, 0755) != 0)
    {
      g_set_error (error, RM_ERROR, RM_ERROR_IO, "cannot create %s", out);
      return FALSE;
    }
  g_autofree char *json = rm_model_config_to_json (&cfg);
  g_autofree char *config_out = g_build_filename (out, "config.json", NULL);
  g_autofree char *weights_out = g_build_filename (out, "model.safetensors", NULL);
  g_autofree char *spm_out = g_build_filename (out, "sentencepiece.bpe.model", NULL);
  return g_file_set_contents (config_out, json, -1, error) &&
         copy_file (tokenizer, spm_out, error) && rm_weights_save (w, &cfg, weights_out, error);
}

int
rm_cli_model_init (int argc, char **argv)
{
  g_autofree char *config = NULL, *tokenizer = NULL, *out = NULL, *weights = NULL;
  gint64 seed = 1;
  double std = 0.02;
  GOptionEntry entries[] = {
    { "config", 'c', 0, G_OPTION_ARG_FILENAME, &config, "config.json to use (required)", "FILE" },
    { "tokenizer", 0, 0, G_OPTION_ARG_FILENAME, &tokenizer, "sentencepiece model (required)",
      "FILE" },
    { "out", 'o', 0, G_OPTION_ARG_FILENAME, &out, "Model directory to create (required)", "DIR" },
    { "weights", 'w', 0, G_OPTION_ARG_FILENAME, &weights, "Existing weights (safetensors)",
      "FILE" },
    { "seed", 0, 0, G_OPTION_ARG_INT64, &seed, "Seed of the random init (default 1)", "N" },
    { "std", 0, 0, G_OPTION_ARG_DOUBLE, &std, "Std of the random init (default 0.02)", "S" },
    { NULL },
  };
  g_autoptr (GOptionContext) octx = g_option_context_new ("— create a model directory");
  g_option_context_add_main_entries (octx, entries, NULL);
  g_autoptr (GError) error = NULL;
  if (!g_option_context_parse (octx, &argc, &argv, &error) || argc != 1 || config == NULL ||
      tokenizer == NULL || out == NULL)
    {
      fprintf (stderr, "refmask model-init: %s\n",
               error ? error->message : "--config, --tokenizer and --out are required");
      return 2;
    }
  if (!create_model_dir (config, tokenizer, out, weights, (uint64_t) seed, (float) std, &error))
    {
      fprintf (stderr, "refmask model-init: %s\n", error->message);
      return 1;
    }
  printf ("created %s\n", out);
  return 0;
}
